/* A bounded ring of encoded audio, written one whole MP3 frame at a time by
 * the capture thread and read on the event loop. Positions are absolute byte
 * counts since the stream began, so a reader keeps one uint64_t and can tell
 * when the writer has lapped it. The oldest audio is overwritten: the writer
 * never waits for a reader. */
#ifndef RING_H
#define RING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
    pthread_mutex_t lock;   /* held only to copy bytes in or out */
    unsigned char *data;
    size_t cap;             /* bytes */
    uint64_t end;           /* position one past the newest byte */
    uint64_t *frame_start;  /* start positions of the newest frames */
    size_t frame_cap;
    uint64_t nframes;       /* frames ever written */
};

int ring_init(struct ring *rg, size_t cap_bytes, size_t cap_frames);
void ring_free(struct ring *rg);

/* Appends one whole frame, dropping the oldest frames to make room.
 * Returns -1 if len is 0 or larger than the ring. */
int ring_append_frame(struct ring *rg, const void *frame, size_t len);

/* Position one past the newest byte (always a frame boundary). */
uint64_t ring_end(struct ring *rg);

/* Start of the newest frame that begins at or before end - back_bytes,
 * clamped to the oldest frame held: where a reader starts to get the latest
 * back_bytes of audio from a frame boundary. */
uint64_t ring_frame_back(struct ring *rg, uint64_t back_bytes);

/* Copies whole frames from *pos on into dst, at most max bytes (at least one
 * frame is copied when max >= MP3_FRAME_MAX_LEN and audio is there), and
 * advances *pos. If the writer has lapped *pos, *pos first jumps forward to
 * the oldest frame held and *lost gets the bytes skipped. *pos must be a
 * frame boundary. Returns the bytes copied. */
size_t ring_read(struct ring *rg, uint64_t *pos, void *dst, size_t max, uint64_t *lost);

#endif
