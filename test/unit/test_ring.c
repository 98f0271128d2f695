/* Unit tests of the ring of encoded frames (mod_audiostream/ring.c),
 * in the style of lighttpd's src/t/ tests: plain asserts on the pure code. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "ring.h"

/* a frame of len bytes whose every byte is its sequence number */
static void append(struct ring *rg, unsigned char seq, size_t len)
{
    unsigned char f[256];
    memset(f, seq, len);
    assert(ring_append_frame(rg, f, len) == 0);
}

static void test_read_whole_frames(void)
{
    struct ring rg;
    assert(ring_init(&rg, 1000, 64) == 0);
    uint64_t pos = ring_end(&rg), lost = 0;
    unsigned char out[1000];
    assert(ring_read(&rg, &pos, out, sizeof(out), &lost) == 0);
    append(&rg, 1, 100);
    append(&rg, 2, 100);
    append(&rg, 3, 100);
    /* max cuts at the last frame boundary within it */
    assert(ring_read(&rg, &pos, out, 250, &lost) == 200);
    assert(out[0] == 1 && out[99] == 1 && out[100] == 2 && out[199] == 2);
    assert(pos == 200 && lost == 0);
    assert(ring_read(&rg, &pos, out, sizeof(out), &lost) == 100);
    assert(out[0] == 3 && pos == 300);
    /* a frame larger than max is not cut */
    append(&rg, 4, 100);
    assert(ring_read(&rg, &pos, out, 50, &lost) == 0 && pos == 300);
    ring_free(&rg);
}

static void test_wrap_and_lapped_reader(void)
{
    struct ring rg;
    assert(ring_init(&rg, 1000, 64) == 0);
    uint64_t pos = 0, lost = 0;
    unsigned char out[1000];
    for (unsigned char i = 0; i < 25; ++i) append(&rg, i, 100); /* 2500 bytes into 1000 */
    /* the reader at 0 was lapped: it resumes at the oldest frame held */
    const size_t n = ring_read(&rg, &pos, out, sizeof(out), &lost);
    assert(n == 1000 && lost == 1500 && pos == 2500);
    assert(out[0] == 15 && out[999] == 24);
    for (size_t i = 0; i < n; ++i) assert(out[i] == 15 + i / 100); /* wrapped copy intact */
    ring_free(&rg);
}

static void test_unequal_frames_and_frame_index_cap(void)
{
    struct ring rg;
    assert(ring_init(&rg, 10000, 4) == 0);  /* index holds 4 frames only */
    for (unsigned char i = 0; i < 10; ++i) append(&rg, i, 50 + i);
    uint64_t pos = 0, lost = 0;
    unsigned char out[10000];
    /* bytes are there, but only the 4 newest frames are known: start there */
    const size_t n = ring_read(&rg, &pos, out, sizeof(out), &lost);
    assert(n == 56 + 57 + 58 + 59);
    assert(out[0] == 6 && out[n - 1] == 9);
    ring_free(&rg);
}

static void test_frame_positions(void)
{
    struct ring rg;
    assert(ring_init(&rg, 1000, 64) == 0);
    assert(ring_frame_back(&rg, 500) == 0);              /* empty: the end */
    for (unsigned char i = 0; i < 5; ++i) append(&rg, i, 100);
    assert(ring_end(&rg) == 500);
    assert(ring_frame_back(&rg, 250) == 200);            /* covers at least 250 bytes */
    assert(ring_frame_back(&rg, 300) == 200);
    assert(ring_frame_back(&rg, 0) == 400);              /* the newest frame */
    assert(ring_frame_back(&rg, 5000) == 0);             /* clamped to the oldest */
    ring_free(&rg);
}

static void test_bad_sizes(void)
{
    struct ring rg;
    assert(ring_init(&rg, 0, 4) == -1);
    assert(ring_init(&rg, 100, 4) == 0);
    unsigned char big[200] = { 0 };
    assert(ring_append_frame(&rg, big, 0) == -1);
    assert(ring_append_frame(&rg, big, sizeof(big)) == -1);
    ring_free(&rg);
}

int main(void)
{
    test_read_whole_frames();
    test_wrap_and_lapped_reader();
    test_unequal_frames_and_frame_index_cap();
    test_frame_positions();
    test_bad_sizes();
    printf("test_ring: ok\n");
    return 0;
}
