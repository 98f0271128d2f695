/* A live stream: its own LAME encoder, ring of whole MP3 frames and
 * eventfd, fed by a capture thread that reads PCM from an ALSA device.
 * Streams that name the same device may share one capture (a sound card can
 * usually be opened once): one thread and one open of the device, whose PCM
 * is encoded once per stream, never per listener. The thread never waits for
 * the loop nor for a listener; the loop reads the ring and the stream's
 * state through the calls below.
 *
 * All the calls that create, share, start, stop or free streams are made by
 * one thread (the event loop's), and only in the process that started the
 * capture. */
#ifndef STREAM_H
#define STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "stream_config.h"

struct stream;

/* Sets up the encoder, the ring, the eventfd and a capture of its own;
 * starts nothing. The stream keeps a copy of cfg. Returns NULL with a
 * message in err. */
struct stream *stream_new(const struct stream_config *cfg, char *err, size_t errlen);
/* Stops the capture it is on (for every stream sharing it), leaves it and
 * frees everything; the capture goes with its last stream. Any order. */
void stream_free(struct stream *s);

/* Whether the streams of first and c would share a capture: 1 when they name
 * the same device, 0 when not, -1 with a message in err when they name the
 * same device at different rates (a device opens at one rate). A pure check
 * on the settings, for refusing such a configuration early. */
int stream_same_capture(const struct stream_config *first, const struct stream_config *c,
                        char *err, size_t errlen);

/* Moves s, which must be alone on its capture, onto first's, before either
 * is started. The device then opens with the most channels any of its
 * streams wants; a mono stream on a stereo device is downmixed by its
 * encoder. Returns -1 with a message in err when they name different
 * devices or rates, or a capture has started. */
int stream_share_capture(struct stream *s, struct stream *first, char *err, size_t errlen);

/* Starts the capture s is on, for all its streams, unless it runs: on the
 * other streams of a started capture it does nothing and returns 0. */
int stream_start(struct stream *s, char *err, size_t errlen);
/* Asks the capture thread s is on to end and joins it (within ~0.25 s):
 * every stream sharing it stops. Does nothing when it is not running. */
void stream_stop(struct stream *s);

/* A reload (lighttpd's SIGUSR1, in the same process: its cleanup, then a
 * new generation of the module) need not reopen the sound card, drop the
 * audio of the interval, nor make listeners wait for a ring to fill:
 * stream_park lets the event loop go while the capture goes on (frames stop
 * waking it); the next generation's stream_adopt_parked takes the parked
 * streams it can go on with and frees the others. Streams still parked at
 * the exit are stopped and freed then. The module is linked to stay loaded
 * (-z nodelete), so that the thread's code outlives lighttpd's dlclose. */
void stream_park(struct stream *s);
/* Sets out[i] to a parked stream that goes on as cfgs[i] (the same path,
 * device, rate, channels, encoding, queue-ms and outage-ms), or NULL. A
 * capture goes on as a whole: only when each of its streams goes on and no
 * other of cfgs names its device. Every capture not taken is stopped and
 * freed before this returns, so its device is free for a new stream. */
void stream_adopt_parked(const struct stream_config *const *cfgs, size_t n, struct stream **out);

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
/* The settings it was made with (an adopted stream's: those of the
 * generation that made it, the same in what the stream itself uses). */
const struct stream_config *stream_settings(const struct stream *s);
/* True while the device is open and delivering audio (the same for every
 * stream sharing the capture). */
int stream_is_live(const struct stream *s);
/* True once the device was lost (an error, or no audio for a second) and
 * the stream's outage-ms has passed without it coming back: its listeners,
 * fed silence till then, are to be closed. The thread wakes the loop when it
 * turns true; it turns false when the device opens again. */
int stream_outage_over(const struct stream *s);
/* For a listener that finds the device not live: how many tries at the
 * device have ended without audio or with its loss (it grows when one more
 * has, and the thread wakes the loop of every stream on the capture then,
 * and when the device goes live); and the ms until the next try begins (0
 * while one is under way or the device is live). */
unsigned stream_tries_ended(const struct stream *s);
unsigned stream_next_try_ms(const struct stream *s);
/* Overruns of the device: counted once per capture, seen by each stream. */
unsigned long stream_overruns(const struct stream *s);

/* Takes the oldest message the capture thread left for the log (device
 * opened, lost, retried). Returns 0 when there is none. A shared capture
 * leaves its messages with its first stream only, naming the others. */
int stream_take_message(struct stream *s, char *buf, size_t len);

#endif
