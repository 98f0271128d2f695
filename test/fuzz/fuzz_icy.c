/* libFuzzer target: ICY metadata (icy.c). The first byte picks metaint,
 * the next 64 bytes a title, the rest is audio cut in pieces by its own
 * bytes. Reading the framed stream back as a client does must give the
 * audio unchanged and blocks of the right shape. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icy.h"

struct sink { unsigned char *p; size_t len, cap; };

static void emit(void *ctx, const unsigned char *p, size_t n)
{
    struct sink *s = ctx;
    assert(n > 0);
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->p = realloc(s->p, s->cap);
        assert(s->p);
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

/* parses the stream back; returns the audio bytes found */
static size_t deframe(const struct sink *s, uint32_t metaint, const unsigned char *audio)
{
    size_t at = 0, got = 0;
    while (at < s->len) {
        size_t n = s->len - at < metaint ? s->len - at : metaint;
        assert(memcmp(s->p + at, audio + got, n) == 0);
        at += n;
        got += n;
        if (at == s->len) break;
        const size_t meta = (size_t)s->p[at] * 16;
        assert(at + 1 + meta <= s->len);
        if (meta) {
            assert(memcmp(s->p + at + 1, "StreamTitle='", 13) == 0);
            assert(s->p[at + meta] == '\0');          /* NUL-padded */
        }
        at += 1 + meta;
    }
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint32_t metaint = 1u + data[0] * 7u;
    const size_t tlen = size - 1 < 64 ? size - 1 : 64;
    struct icy_title t;
    struct icy_framer fr;
    icy_title_init(&t);
    icy_title_set(&t, (const char *)data + 1, tlen);
    assert(t.block_len == 1 + 16u * t.block[0] && t.block_len <= ICY_BLOCK_MAX);
    assert(icy_framer_init(&fr, metaint) == 0);
    const unsigned char *audio = data + 1 + tlen;
    const size_t alen = size - 1 - tlen;
    struct sink s = { NULL, 0, 0 };
    for (size_t at = 0; at < alen; ) {
        size_t piece = 1 + audio[at] % 97;
        if (piece > alen - at) piece = alen - at;
        const size_t before = s.len, extra = icy_meta_bytes(&fr, &t, piece);
        icy_frame(&fr, &t, audio + at, piece, emit, &s);
        assert(s.len - before == piece + extra);
        at += piece;
    }
    assert(deframe(&s, metaint, audio) == alen);
    free(s.p);
    return 0;
}
