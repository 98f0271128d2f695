/* ALSA capture of interleaved signed 16-bit PCM, opened in blocking mode. */
#ifndef ALSA_CAPTURE_H
#define ALSA_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct alsa_capture;

/* Opens device for capture at exactly rate and channels. period_frames is a
 * hint for the device's period. Returns NULL with a message in err, which
 * carries ALSA's own explanation when it gave one. */
struct alsa_capture *alsa_capture_open(const char *device, unsigned rate, unsigned channels,
                                       unsigned period_frames, char *err, size_t errlen);
void alsa_capture_close(struct alsa_capture *cap);

/* Frames per period the device settled on. */
unsigned alsa_capture_period(const struct alsa_capture *cap);
/* Frames the device buffers before it overruns. */
unsigned alsa_capture_buffer(const struct alsa_capture *cap);

enum { ALSA_CAPTURE_TIMEOUT = 0, ALSA_CAPTURE_ERROR = -1 };

/* Waits up to timeout_ms for a period of audio, then reads what the device
 * holds, at most frames frames, into pcm. Returns the frames read,
 * ALSA_CAPTURE_TIMEOUT when nothing came in time (a stalled device, or a
 * stop to look at), or ALSA_CAPTURE_ERROR with a message in err when the
 * device is gone. An overrun is recovered here and
 * counted in *overruns. */
long alsa_capture_read(struct alsa_capture *cap, int16_t *pcm, unsigned long frames,
                       int timeout_ms, unsigned long *overruns, char *err, size_t errlen);

#endif
