/* A live stream: a capture thread that reads PCM from ALSA, encodes it once
 * with LAME and appends whole MP3 frames to a ring, then wakes the event loop
 * through an eventfd. The thread never waits for the loop nor for a listener;
 * the loop reads the ring and the stream's state through the calls below. */
#ifndef STREAM_H
#define STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "stream_config.h"

struct stream;

/* Sets up the encoder, the ring and the eventfd; starts nothing. cfg must
 * outlive the stream. Returns NULL with a message in err. */
struct stream *stream_new(const struct stream_config *cfg, char *err, size_t errlen);
/* Joins the capture thread if it runs, then frees everything. */
void stream_free(struct stream *s);

/* Starts the capture thread. Only the process that starts it may stop it. */
int stream_start(struct stream *s, char *err, size_t errlen);
/* Asks the capture thread to end and joins it (within ~0.25 s). */
void stream_stop(struct stream *s);

/* Whether new frames wake the event loop (messages always do). Off while a
 * stream has no listener, so an idle stream costs the loop nothing. */
void stream_wake_on_frames(struct stream *s, int on);

/* Readable when frames or messages are ready; stream_drain_wake resets it. */
int stream_wake_fd(const struct stream *s);
void stream_drain_wake(struct stream *s);
/* Makes the wake fd readable again, from the loop: to come back to work
 * left for after the loop's other business. */
void stream_wake_again(struct stream *s);

struct ring *stream_ring(struct stream *s);
const struct stream_config *stream_settings(const struct stream *s);
/* True while the device is open and delivering audio. */
int stream_is_live(const struct stream *s);
unsigned long stream_overruns(const struct stream *s);

/* Takes the oldest message the capture thread left for the log (device
 * opened, lost, retried). Returns 0 when there is none. */
int stream_take_message(struct stream *s, char *buf, size_t len);

#endif
