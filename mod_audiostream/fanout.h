/* Fan-out of one stream's encoded frames to its listeners, on the event
 * loop. Each listener keeps its own position in the stream's ring; at every
 * tick (new frames captured) one bucket of listeners is served, so that each
 * listener is written once every `interval` ticks. The interval is one frame
 * while the audience is small (lowest latency) and lengthens as it grows, so
 * that the stream never costs more than its budget of writes per second.
 * Knows nothing of lighttpd: the glue queues bytes through fanout_ops. */
#ifndef FANOUT_H
#define FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define FANOUT_BUCKETS   16   /* the longest interval is FANOUT_BUCKETS - 1 ticks */
#define FANOUT_DUE       FANOUT_BUCKETS  /* the list of listeners still due this tick */

struct fanout_listener {
    struct fanout_listener *prev, *next;   /* in its bucket */
    uint64_t pos;                          /* next ring position it gets */
    uint8_t bucket;
    uint8_t scheduled;
};

struct fanout_ops {
    /* bytes the server still holds for this listener, not yet sent */
    size_t (*queued)(struct fanout_listener *l);
    /* queues len bytes (whole frames) for this listener */
    void (*append)(struct fanout_listener *l, const unsigned char *data, size_t len);
    /* the listener fell too far behind and is out of the fan-out: the
     * server is to disconnect it */
    void (*drop)(struct fanout_listener *l);
};

struct fanout_settings {
    unsigned writes_per_second;  /* the stream's budget of writes */
    unsigned frame_us;           /* duration of one MP3 frame */
    unsigned max_interval_us;    /* never leave a listener longer than this */
    size_t lag_max;              /* bytes behind live before it skips to live */
    int drop_slow;               /* past lag_max: drop instead of skipping */
    size_t burst;                /* bytes of recent audio a new listener gets */
    size_t queue_cap;            /* bytes the server may hold for one listener */
    unsigned batch;              /* listeners served per call, 0 = all: the server
                                  * writes one batch before the next is queued */
};

struct fanout {
    struct ring *ring;
    const struct fanout_ops *ops;
    struct fanout_settings set;
    struct fanout_listener *bucket[FANOUT_BUCKETS + 1];  /* + FANOUT_DUE */
    uint32_t count[FANOUT_BUCKETS + 1];  /* listeners in each bucket */
    unsigned due_from;           /* the bucket the due list was taken from */
    uint32_t nlisteners;
    uint32_t tick;
    uint64_t skips;              /* listeners skipped forward to live */
    uint64_t drops;              /* listeners dropped for falling behind */
    uint64_t end;                /* the ring's end when this tick began */
    /* the last bytes read from the ring, [cached_from, cached_to): the
     * listeners of one turn stand at the same position, so one read under
     * the ring's lock serves them all */
    unsigned char *cache;
    size_t cache_cap;
    uint64_t cached_from, cached_to;
};

int fanout_init(struct fanout *f, struct ring *ring, const struct fanout_ops *ops,
                const struct fanout_settings *set);
void fanout_free(struct fanout *f);

/* Ticks between two writes to one listener, for the current audience. */
unsigned fanout_interval(const struct fanout *f);

/* A new listener starts `burst` bytes back from live (at least the newest
 * whole frame) on a frame boundary, handed out at once so that it goes out
 * with the response headers. */
void fanout_join(struct fanout *f, struct fanout_listener *l);
void fanout_leave(struct fanout *f, struct fanout_listener *l);

/* New frames are in the ring: the listeners whose turn it is become due,
 * and the first batch of them is served. Returns how many are still due. */
size_t fanout_tick(struct fanout *f);
/* Serves the next batch of due listeners (with the newest frames); call it
 * again once the server has written the last batch. Returns how many are
 * still due. */
size_t fanout_continue(struct fanout *f);

#endif
