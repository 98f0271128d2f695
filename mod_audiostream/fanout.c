/* Fan-out schedule; see fanout.h. */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "mp3_frame.h"

int fanout_init(struct fanout *f, struct ring *ring, const struct fanout_ops *ops,
                const struct fanout_settings *set)
{
    memset(f, 0, sizeof(*f));
    f->ring = ring;
    f->ops = ops;
    f->set = *set;
    f->cache_cap = set->queue_cap > MP3_FRAME_MAX_LEN ? set->queue_cap : MP3_FRAME_MAX_LEN;
    f->cache = malloc(f->cache_cap);
    f->cached_from = f->cached_to = UINT64_MAX;
    f->due_from = FANOUT_DUE;
    return f->cache ? 0 : -1;
}

void fanout_free(struct fanout *f)
{
    free(f->cache);
    f->cache = NULL;
}

unsigned fanout_interval(const struct fanout *f)
{
    /* listeners / (interval * frame duration) <= writes per second, so
     * interval >= listeners / (writes per second * frame duration) */
    const uint64_t need = (uint64_t)f->nlisteners * 1000000u;
    const uint64_t per_tick = (uint64_t)f->set.writes_per_second * f->set.frame_us;
    uint64_t ticks = per_tick ? (need + per_tick - 1) / per_tick : 1;
    uint64_t longest = f->set.frame_us ? f->set.max_interval_us / f->set.frame_us : 1;
    if (longest > FANOUT_BUCKETS - 1) longest = FANOUT_BUCKETS - 1;
    if (ticks > longest) ticks = longest;
    return ticks ? (unsigned)ticks : 1;
}

static void bucket_insert(struct fanout *f, struct fanout_listener *l, unsigned b)
{
    f->count[b]++;
    l->bucket = (uint8_t)b;
    l->prev = NULL;
    l->next = f->bucket[b];
    if (l->next) l->next->prev = l;
    f->bucket[b] = l;
    l->scheduled = 1;
}

/* The list a listener is in. A tick takes a whole bucket over as the due
 * list without a pass over its listeners, who keep that bucket's number. */
static unsigned list_of(const struct fanout *f, const struct fanout_listener *l)
{
    return l->bucket == f->due_from ? FANOUT_DUE : l->bucket;
}

static void bucket_remove(struct fanout *f, struct fanout_listener *l)
{
    if (!l->scheduled) return;
    const unsigned b = list_of(f, l);
    f->count[b]--;
    if (l->prev) l->prev->next = l->next;
    else f->bucket[b] = l->next;
    if (l->next) l->next->prev = l->prev;
    l->prev = l->next = NULL;
    l->scheduled = 0;
}

/* Whole frames from pos on, at most max bytes, from the cache when the
 * last read started there and fits, else from the ring (refilling the
 * cache). Returns the bytes at f->cache and sets *to past them. */
static size_t frames_from(struct fanout *f, uint64_t pos, size_t max, uint64_t *to)
{
    /* the cache is good when a fresh read would return the same: it
     * reaches this tick's end, or no further frame would fit in max */
    const uint64_t len = f->cached_to - f->cached_from;
    if (pos == f->cached_from && len <= max
        && (f->cached_to == f->end || len + MP3_FRAME_MAX_LEN > max)) {
        *to = f->cached_to;
        return (size_t)len;
    }
    uint64_t lost = 0, at = pos;
    const size_t n = ring_read(f->ring, &at, f->cache, max < f->cache_cap ? max : f->cache_cap,
                               &lost);
    if (lost) f->skips++;
    f->cached_from = at - n;
    f->cached_to = *to = at;
    return n;
}

/* Hands a listener everything it has not had, as far as its queue allows,
 * or, when it has fallen further behind than lag_max, skips it to live or
 * drops it. Returns 0 when it was dropped: it is no longer in the fan-out. */
static int serve(struct fanout *f, struct fanout_listener *l)
{
    const uint64_t end = f->end;
    const size_t queued = f->ops->queued(l);
    if (end - l->pos + queued > f->set.lag_max) {
        if (f->set.drop_slow) {
            f->drops++;
            f->nlisteners--;
            f->ops->drop(l);
            return 0;
        }
        l->pos = end;       /* the ring's end is always a frame boundary */
        f->skips++;
        return 1;
    }
    size_t room = f->set.queue_cap > queued ? f->set.queue_cap - queued : 0;
    while (room > 0 && l->pos < end) {
        uint64_t to;
        const size_t n = frames_from(f, l->pos, room, &to);
        if (n == 0) break;
        f->ops->append(l, f->cache, n);
        l->pos = to;
        room -= n;
    }
    return 1;
}

/* The bucket of the next `interval` ticks with the fewest listeners. */
static unsigned least_loaded(const struct fanout *f, unsigned interval)
{
    unsigned best = (f->tick + 1) % FANOUT_BUCKETS;
    for (unsigned i = 2; i <= interval; ++i) {
        const unsigned b = (f->tick + i) % FANOUT_BUCKETS;
        if (f->count[b] < f->count[best]) best = b;
    }
    return best;
}

/* Where a listener goes next: `interval` ticks on, unless that tick already
 * has its share; then the least loaded tick before it (served a little
 * early, never late). This keeps every tick's work even as the audience and
 * the interval change, instead of letting groups of listeners merge. */
static unsigned next_bucket(const struct fanout *f, unsigned interval)
{
    const unsigned b = (f->tick + interval) % FANOUT_BUCKETS;
    const uint32_t share = (f->nlisteners + interval - 1) / interval;
    return f->count[b] < share ? b : least_loaded(f, interval);
}

void fanout_join(struct fanout *f, struct fanout_listener *l)
{
    f->end = ring_end(f->ring);
    l->pos = ring_frame_back(f->ring, f->set.burst);
    f->nlisteners++;
    if (serve(f, l)) bucket_insert(f, l, least_loaded(f, fanout_interval(f)));
}

void fanout_leave(struct fanout *f, struct fanout_listener *l)
{
    if (!l->scheduled) return;
    bucket_remove(f, l);
    f->nlisteners--;
}

size_t fanout_continue(struct fanout *f)
{
    f->end = ring_end(f->ring);
    const unsigned interval = fanout_interval(f);
    for (unsigned n = 0; f->bucket[FANOUT_DUE] && (f->set.batch == 0 || n < f->set.batch); ++n) {
        struct fanout_listener *const l = f->bucket[FANOUT_DUE];
        bucket_remove(f, l);
        if (serve(f, l)) bucket_insert(f, l, next_bucket(f, interval));
    }
    return f->count[FANOUT_DUE];
}

size_t fanout_tick(struct fanout *f)
{
    f->tick++;
    const unsigned b = f->tick % FANOUT_BUCKETS;
    /* listeners still due from the last tick (the server fell behind) stay
     * due, ahead of this tick's, under the due list's own number: their
     * bucket takes new listeners again from this tick on */
    struct fanout_listener *tail = NULL;
    for (struct fanout_listener *l = f->bucket[FANOUT_DUE]; l; l = l->next) {
        l->bucket = FANOUT_DUE;
        tail = l;
    }
    /* no listener is put in bucket b during its own tick (next_bucket looks
     * 1 to FANOUT_BUCKETS - 1 ticks ahead), so the due list can stand for it */
    if (tail) {
        tail->next = f->bucket[b];
        if (tail->next) tail->next->prev = tail;
    }
    else f->bucket[FANOUT_DUE] = f->bucket[b];
    f->count[FANOUT_DUE] += f->count[b];
    f->bucket[b] = NULL;
    f->count[b] = 0;
    f->due_from = b;
    return fanout_continue(f);
}
