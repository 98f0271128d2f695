/* MPEG audio Layer III frame headers: enough to cut an encoder's output
 * into whole frames and to check that a byte stream is frame-aligned. */
#ifndef MP3_FRAME_H
#define MP3_FRAME_H

#include <stddef.h>

#define MP3_FRAME_HEADER_LEN 4
#define MP3_FRAME_MAX_LEN    1441 /* 320 kbit/s at 32 kHz, or 160 at 8 kHz, padded */

struct mp3_frame_info {
    unsigned int length;      /* bytes, header included */
    unsigned int bitrate;     /* kbit/s */
    unsigned int sample_rate; /* Hz */
    unsigned int channels;    /* 1 or 2 */
    unsigned int samples;     /* PCM samples per channel in this frame */
};

/* Parses the 4-byte header at h. Returns 0 and fills fi when h starts a
 * Layer III frame header, -1 otherwise (free-format bitrate counts as invalid:
 * it can't be cut without scanning for the next header). */
int mp3_frame_parse(const unsigned char *h, size_t avail, struct mp3_frame_info *fi);

/* Offset of the first valid frame header in buf[0..len), or len when none. */
size_t mp3_frame_sync(const unsigned char *buf, size_t len);

/* Length of the longest run of whole frames at the start of buf (which must
 * start on a frame header); stops at the first invalid header or at a
 * frame that does not fit. */
size_t mp3_frame_whole_prefix(const unsigned char *buf, size_t len);

#endif
