/* Bounded ring of whole MP3 frames; see ring.h. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

static uint64_t frame_pos(const struct ring *rg, uint64_t i)
{
    return i < rg->nframes ? rg->frame_start[i % rg->frame_cap] : rg->end;
}

/* smallest frame index in [first, nframes) starting at or after pos, or
 * nframes when none does: frame starts increase, so bisect */
static uint64_t index_at_or_after(const struct ring *rg, uint64_t first, uint64_t pos)
{
    uint64_t lo = first, hi = rg->nframes;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (rg->frame_start[mid % rg->frame_cap] < pos) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* index of the oldest frame still held: frames older than frame_cap have no
 * index entry, and frames starting before end - cap have been overwritten */
static uint64_t first_frame(const struct ring *rg)
{
    const uint64_t i = rg->nframes > rg->frame_cap ? rg->nframes - rg->frame_cap : 0;
    const uint64_t oldest_byte = rg->end > rg->cap ? rg->end - rg->cap : 0;
    return index_at_or_after(rg, i, oldest_byte);
}

int ring_init(struct ring *rg, size_t cap_bytes, size_t cap_frames)
{
    memset(rg, 0, sizeof(*rg));
    if (cap_bytes == 0 || cap_frames == 0) return -1;
    rg->data = malloc(cap_bytes);
    rg->frame_start = malloc(cap_frames * sizeof(*rg->frame_start));
    if (!rg->data || !rg->frame_start || pthread_mutex_init(&rg->lock, NULL) != 0) {
        free(rg->data);
        free(rg->frame_start);
        rg->data = NULL;
        rg->frame_start = NULL;
        return -1;
    }
    rg->cap = cap_bytes;
    rg->frame_cap = cap_frames;
    return 0;
}

void ring_free(struct ring *rg)
{
    if (!rg->data) return;
    pthread_mutex_destroy(&rg->lock);
    free(rg->data);
    free(rg->frame_start);
    rg->data = NULL;
    rg->frame_start = NULL;
}

/* copies len bytes at absolute position pos, wrapping around the buffer */
static void copy_out(const struct ring *rg, uint64_t pos, unsigned char *dst, size_t len)
{
    const size_t off = (size_t)(pos % rg->cap);
    const size_t first = len < rg->cap - off ? len : rg->cap - off;
    memcpy(dst, rg->data + off, first);
    memcpy(dst + first, rg->data, len - first);
}

int ring_append_frame(struct ring *rg, const void *frame, size_t len)
{
    if (len == 0 || len > rg->cap) return -1;
    pthread_mutex_lock(&rg->lock);
    const size_t off = (size_t)(rg->end % rg->cap);
    const size_t first = len < rg->cap - off ? len : rg->cap - off;
    memcpy(rg->data + off, frame, first);
    memcpy(rg->data, (const unsigned char *)frame + first, len - first);
    rg->frame_start[rg->nframes % rg->frame_cap] = rg->end;
    rg->nframes++;
    rg->end += len;
    pthread_mutex_unlock(&rg->lock);
    return 0;
}

uint64_t ring_end(struct ring *rg)
{
    pthread_mutex_lock(&rg->lock);
    const uint64_t end = rg->end;
    pthread_mutex_unlock(&rg->lock);
    return end;
}

uint64_t ring_frame_back(struct ring *rg, uint64_t back_bytes)
{
    pthread_mutex_lock(&rg->lock);
    const uint64_t first = first_frame(rg);
    const uint64_t target = rg->end > back_bytes ? rg->end - back_bytes : 0;
    uint64_t i = index_at_or_after(rg, first, target + 1);
    if (i > first) --i;                 /* newest frame starting <= target */
    const uint64_t start = frame_pos(rg, i);
    pthread_mutex_unlock(&rg->lock);
    return start;
}

size_t ring_read(struct ring *rg, uint64_t *pos, void *dst, size_t max, uint64_t *lost)
{
    pthread_mutex_lock(&rg->lock);
    const uint64_t first = first_frame(rg);
    const uint64_t oldest = frame_pos(rg, first);
    if (*pos < oldest || *pos > rg->end) {
        if (*pos < oldest) *lost += oldest - *pos;
        *pos = oldest;
    }
    uint64_t stop = rg->end;
    if (stop - *pos > max)              /* last frame boundary within max */
        stop = frame_pos(rg, index_at_or_after(rg, first, *pos + max + 1) - 1);
    const size_t n = (size_t)(stop - *pos);
    copy_out(rg, *pos, dst, n);
    *pos = stop;
    pthread_mutex_unlock(&rg->lock);
    return n;
}
