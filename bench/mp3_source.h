/* A live stream that costs nothing to produce, for the benchmarks: the audio
 * frames of a CBR MP3 file, looped and handed out at the pace of
 * CLOCK_MONOTONIC, as an encoder fed from a sound card would produce them. */
#ifndef MP3_SOURCE_H
#define MP3_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mp3_source {
    /* What the caller sends after each mp3_source_tick(): */
    unsigned char *tick_buf; /* headroom bytes for the caller, then the tick's frames */
    size_t headroom;         /* so a header and the frames go out in one write() */
    size_t tick_len;         /* bytes of frames after the headroom */

    /* The rest is mp3_source.c's own. */
    unsigned char *frames;   /* the file's audio frames only, back to back */
    size_t *frame_start;     /* frame_start[i]: offset of frame i; [frame_count]: end */
    size_t frame_count, max_frame_len;
    unsigned sample_rate, samples_per_frame;
    struct timespec start;   /* play time of frame 0 */
    uint64_t next_frame;     /* next frame to send, counted from start */
};

/* Loads path's Layer III frames, leaving out ID3 tags, a Xing/Info/VBRI
 * frame and junk, and starts the clock. Returns 0, or -1 if the file is
 * unreadable or holds no frames. */
int mp3_source_load(struct mp3_source *src, const char *path, size_t headroom);

/* Puts the frames whose play time has come into tick_buf after the headroom
 * and returns their byte count, also left in tick_len; 0 when none is due
 * yet. A tick holds at most 1 s of audio and two frames, which is under
 * 64 KiB at any Layer III bitrate (fcgi_stream puts a tick in one FastCGI
 * record): a caller that falls further behind skips audio, as a live source
 * would, instead of bursting. */
size_t mp3_source_tick(struct mp3_source *src);

#endif
