/* Unit tests of ICY metadata (mod_audiostream/icy.c): exact block bytes,
 * and the framed stream read back as a player reads it. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icy.h"
#include "title.h"

/* The block must be L, then text, then NULs up to 16 * L bytes. */
static void assert_block(const struct icy_title *t, unsigned L, const char *text, size_t text_len)
{
    assert(t->block[0] == L && t->block_len == 1 + 16 * (size_t)L);
    assert(text_len < 16 * (size_t)L);       /* at least one NUL */
    assert(memcmp(t->block + 1, text, text_len) == 0);
    for (size_t i = 1 + text_len; i < t->block_len; ++i) assert(t->block[i] == 0);
}

#define ASSERT_BLOCK(t, L, lit) assert_block((t), (L), (lit), sizeof(lit) - 1)

static void set_str(struct icy_title *t, const char *s)
{
    icy_title_set(t, s, strlen(s));
}

static void test_empty_title(void)
{
    struct icy_title t;
    icy_title_init(&t);
    static const unsigned char want[] = "\x01StreamTitle='';";  /* + its NUL: 17 bytes */
    assert(t.seq == 1 && t.block_len == sizeof(want) && memcmp(t.block, want, sizeof(want)) == 0);
    set_str(&t, "");                    /* the same block: no change */
    assert(t.seq == 1);
}

static void test_normal_title(void)
{
    struct icy_title t;
    icy_title_init(&t);
    set_str(&t, "Artist - Title");
    assert(t.seq == 2);
    ASSERT_BLOCK(&t, 2, "StreamTitle='Artist - Title';");     /* 29 bytes + 3 NULs */
    set_str(&t, "Artist - Title");
    assert(t.seq == 2);
    set_str(&t, "X");                   /* exactly 16 bytes: a second unit for the NUL */
    assert(t.seq == 3);
    ASSERT_BLOCK(&t, 2, "StreamTitle='X';");
    set_str(&t, "");
    assert(t.seq == 4);
    ASSERT_BLOCK(&t, 1, "StreamTitle='';");
}

static void test_quotes(void)
{
    struct icy_title t;
    icy_title_init(&t);
    set_str(&t, "Rock 'n' Roll");
    ASSERT_BLOCK(&t, 2, "StreamTitle='Rock 'n' Roll';");
    set_str(&t, "a';b");
    ASSERT_BLOCK(&t, 2, "StreamTitle='a\xE2\x80\x99;b';");
    set_str(&t, "';';");
    ASSERT_BLOCK(&t, 2, "StreamTitle='\xE2\x80\x99;\xE2\x80\x99;';");
    set_str(&t, "Don't");               /* ' before anything but ; stays */
    ASSERT_BLOCK(&t, 2, "StreamTitle='Don't';");
    set_str(&t, "end'");                /* ''; still ends at the last '; */
    ASSERT_BLOCK(&t, 2, "StreamTitle='end'';");
    set_str(&t, ";x");                  /* =';x would end at once in ffmpeg */
    ASSERT_BLOCK(&t, 2, "StreamTitle=' ;x';");
}

static void test_control_chars(void)
{
    struct icy_title t;
    icy_title_init(&t);
    static const char in[] = "a\tb\r\nc\x7f\0d\x1f";
    icy_title_set(&t, in, sizeof(in) - 1);
    ASSERT_BLOCK(&t, 2, "StreamTitle='a b  c  d ';");
    static const char quote_nul_semi[] = "x'\0;";    /* the NUL becomes a space: no '; */
    icy_title_set(&t, quote_nul_semi, sizeof(quote_nul_semi) - 1);
    ASSERT_BLOCK(&t, 2, "StreamTitle='x' ;';");
}

/* C1 (U+0080-009F, C2 80..9F) are controls too (utf8.h): each becomes one
 * space, as C0 and DEL do, should a title with one get this far; U+00A0 and
 * other C2/C3 characters stay */
static void test_c1_controls(void)
{
    struct icy_title t;
    icy_title_init(&t);
    set_str(&t, "a\xC2\x9B" "31mb\xC2\x80\xC2\x85\xC2\x9F" "c");
    ASSERT_BLOCK(&t, 2, "StreamTitle='a 31mb   c';");
    set_str(&t, "\x7F\xC2\xA0\xC2\xBF\xC3\x85\xC3\x9B");
    ASSERT_BLOCK(&t, 2, "StreamTitle=' \xC2\xA0\xC2\xBF\xC3\x85\xC3\x9B';");
    set_str(&t, "x'\xC2\x85;");                    /* the C1 NEL is no way to make '; */
    ASSERT_BLOCK(&t, 2, "StreamTitle='x' ;';");
    static const char cut_c2[] = "ab\xC2";          /* a C2 at the end is not a control */
    icy_title_set(&t, cut_c2, sizeof(cut_c2) - 1);
    ASSERT_BLOCK(&t, 2, "StreamTitle='ab\xC2';");
}

/* title of `pad` 'a's followed by tail; the block's text must be the first keep bytes */
static void check_cut(size_t pad, const char *tail, size_t keep)
{
    static char in[TITLE_MAX + 8];
    static char want[TITLE_MAX + 32];
    const size_t tail_len = strlen(tail);
    memset(in, 'a', pad);
    /* a title is counted bytes, not a string: no NUL to copy */
    memcpy(in + pad, tail, tail_len);   // NOLINT(bugprone-not-null-terminated-result): above
    struct icy_title t;
    icy_title_init(&t);
    icy_title_set(&t, in, pad + tail_len);
    const size_t n = (size_t)snprintf(want, sizeof(want), "StreamTitle='%.*s';", (int)keep, in);
    assert_block(&t, (unsigned)(n / 16 + 1), want, n);
}

static void test_cut_at_title_max(void)
{
    check_cut(TITLE_MAX, "", TITLE_MAX);                      /* not over: all kept */
    check_cut(TITLE_MAX, "b", TITLE_MAX);                     /* one byte over */
    check_cut(TITLE_MAX - 1, "\xC3\xA9", TITLE_MAX - 1);      /* é across the cut */
    check_cut(TITLE_MAX - 2, "\xC3\xA9" "b", TITLE_MAX);      /* é ends at the cut */
    check_cut(TITLE_MAX - 2, "\xF0\x9F\x98\x80", TITLE_MAX - 2);  /* 4 bytes, 2 over */
    check_cut(TITLE_MAX - 3, "\xF0\x9F\x98\x80", TITLE_MAX - 3);  /* 1 over */
    check_cut(TITLE_MAX - 1, "\xE2\x80\x99", TITLE_MAX - 1);  /* 3 bytes, 2 over */
    /* not UTF-8 (a run of continuation bytes): no more than 3 bytes go */
    check_cut(TITLE_MAX - 4, "\x80\x80\x80\x80\x80\x80", TITLE_MAX - 3);
}

/* TITLE_MAX bytes of '; pairs: every pair grows to 4 bytes, the most a
 * title can grow, and still fits */
static void test_worst_case_fits(void)
{
    static char in[TITLE_MAX];
    static char want[ICY_META_MAX];
    /* a title is counted bytes, not a string: no NUL to copy */
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): see above
    for (size_t i = 0; i < TITLE_MAX; i += 2) memcpy(in + i, "';", 2);
    size_t n = (size_t)snprintf(want, sizeof(want), "StreamTitle='");
    for (size_t i = 0; i < TITLE_MAX; i += 2)
        n += (size_t)snprintf(want + n, sizeof(want) - n, "\xE2\x80\x99;");
    n += (size_t)snprintf(want + n, sizeof(want) - n, "';");
    assert(n == 13 + 2 * TITLE_MAX + 2);
    struct icy_title t;
    icy_title_init(&t);
    icy_title_set(&t, in, sizeof(in));
    assert_block(&t, 129, want, n);             /* 2063 bytes + 1 NUL = 129 units */
    assert(t.block_len == 2065 && t.block_len <= ICY_BLOCK_MAX);
    /* a leading ; takes a space: still no more than twice the title */
    in[0] = ';';
    icy_title_set(&t, in, sizeof(in));
    assert(t.block[0] == 129 && t.block_len <= ICY_BLOCK_MAX);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* The StreamTitle value as ffmpeg's http.c reads it: from =' to the first
 * '; after it; its end is stored at *end. */
static const char *ffmpeg_value(const char *text, const char **end)
{
    const char *val = strstr(text, "='");
    assert(val);
    *end = strstr(val, "';");
    assert(*end);
    return val + 2;
}

/* Random titles of quotes, semicolons, controls and UTF-8: the value a
 * player reads runs to the block's own closing '; and nothing follows but
 * NULs, so no title can end early or add a key */
static void test_parsers_read_the_whole_title(void)
{
    static const char *const pieces[] = { "'", ";", "';", "a", "\n", "\x01", "\x7f", "=",
                                          "\xE2\x80\x99", "\xC3\xA9", " ", "\xC2\x85",
                                          "\xC2" };
    static char in[TITLE_MAX + 64];
    struct icy_title t;
    icy_title_init(&t);
    for (int round = 0; round < 2000; ++round) {
        size_t len = 0;
        const uint32_t pieces_wanted = rnd(40) == 0 ? 600 : rnd(20);
        for (uint32_t i = 0; i < pieces_wanted && len + 3 <= sizeof(in); ++i) {
            const char *p = pieces[rnd(sizeof(pieces) / sizeof(*pieces))];
            // NOLINTNEXTLINE(bugprone-not-null-terminated-result): counted bytes, no NUL
            memcpy(in + len, p, strlen(p));
            len += strlen(p);
        }
        icy_title_set(&t, in, len);
        assert(t.block_len <= ICY_BLOCK_MAX && t.block_len == 1 + 16 * (size_t)t.block[0]);
        const char *text = (const char *)t.block + 1;
        const size_t text_len = strlen(text);   /* up to the first NUL */
        assert(text_len < t.block_len - 1);
        for (size_t i = text_len; i < t.block_len - 1; ++i) assert(text[i] == 0);
        const char *end;
        ffmpeg_value(text, &end);
        assert(end == text + text_len - 2);
    }
}

static void test_framer_bounds(void)
{
    struct icy_framer fr;
    assert(icy_framer_init(&fr, 0) == -1);
    assert(icy_framer_init(&fr, ICY_METAINT_MAX + 1) == -1);
    assert(icy_framer_init(&fr, 1) == 0 && fr.left == 1 && fr.seq_sent == 0);
    assert(icy_framer_init(&fr, ICY_METAINT_MAX) == 0 && fr.left == ICY_METAINT_MAX);
}

/* What a listener is sent, one emit after the other. */
struct sink {
    unsigned char *buf;
    size_t len, cap;
    size_t pieces[16];          /* the first pieces' sizes */
    size_t npieces;
};

static void sink_emit(void *ctx, const unsigned char *p, size_t n)
{
    struct sink *s = ctx;
    assert(n > 0);
    assert(s->len + n <= s->cap);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    if (s->npieces < sizeof(s->pieces) / sizeof(*s->pieces)) s->pieces[s->npieces] = n;
    s->npieces++;
}

static void test_metaint_1(void)
{
    unsigned char buf[128];
    struct sink s = { .buf = buf, .cap = sizeof(buf) };
    struct icy_title t;
    struct icy_framer fr;
    icy_title_init(&t);
    set_str(&t, "X");
    assert(icy_framer_init(&fr, 1) == 0);
    icy_frame(&fr, &t, (const unsigned char *)"abc", 3, sink_emit, &s);
    static const unsigned char want[] =
        "a\x02StreamTitle='X';\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" "b\0c";   /* + its NUL */
    assert(s.len == sizeof(want) && memcmp(buf, want, sizeof(want)) == 0);
    const size_t pieces[] = { 1, 33, 1, 1, 1, 1 };
    assert(s.npieces == 6 && memcmp(s.pieces, pieces, sizeof(pieces)) == 0);
}

/* a change between calls goes out at the next boundary, and a boundary at
 * the very end of a call is served in that call */
static void test_change_lands_at_next_boundary(void)
{
    unsigned char buf[256];
    struct sink s = { .buf = buf, .cap = sizeof(buf) };
    struct icy_title t;
    struct icy_framer fr;
    icy_title_init(&t);
    assert(icy_framer_init(&fr, 4) == 0);
    icy_frame(&fr, &t, (const unsigned char *)"012345", 6, sink_emit, &s);
    set_str(&t, "B");
    icy_frame(&fr, &t, (const unsigned char *)"6789ab", 6, sink_emit, &s);
    icy_frame(&fr, &t, (const unsigned char *)"", 0, sink_emit, &s);     /* nothing */
    static const unsigned char want[] =
        "0123" "\x01StreamTitle='';\0" "45"
        "67" "\x02StreamTitle='B';\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
        "89ab";                         /* + its NUL: the unchanged byte */
    assert(s.len == sizeof(want) && memcmp(buf, want, s.len) == 0);
    const size_t pieces[] = { 4, 17, 2, 2, 33, 4, 1 };
    assert(s.npieces == 7 && memcmp(s.pieces, pieces, sizeof(pieces)) == 0);
    assert(fr.left == 4 && fr.seq_sent == t.seq);
}

static void test_meta_bytes(void)
{
    struct icy_title t;
    struct icy_framer fr;
    icy_title_init(&t);
    assert(icy_framer_init(&fr, 4) == 0);
    assert(icy_meta_bytes(&fr, &t, 0) == 0 && icy_meta_bytes(&fr, &t, 3) == 0);
    assert(icy_meta_bytes(&fr, &t, 4) == 17);          /* the empty title's block */
    assert(icy_meta_bytes(&fr, &t, 11) == 18 && icy_meta_bytes(&fr, &t, 12) == 19);
    fr.seq_sent = t.seq;
    fr.left = 1;
    assert(icy_meta_bytes(&fr, &t, 1) == 1 && icy_meta_bytes(&fr, &t, 9) == 3);
}

/* Reads a framed stream as a player does: metaint audio bytes, a length
 * byte, 16 * L bytes. Puts the audio in audio and, for every block, the
 * boundary's number and the title ffmpeg would show. */
struct heard {
    uint64_t boundary;
    char title[64];
};

static size_t play(const unsigned char *in, size_t len, uint32_t metaint, unsigned char *audio,
                   size_t *audio_len, struct heard *heard)
{
    size_t pos = 0, nheard = 0;
    uint64_t boundary = 0;
    *audio_len = 0;
    while (pos < len) {
        const size_t n = len - pos < metaint ? len - pos : metaint;
        memcpy(audio + *audio_len, in + pos, n);
        *audio_len += n;
        pos += n;
        if (n < metaint) break;         /* the stream ends between boundaries */
        assert(pos < len);              /* a boundary is always followed by its byte */
        boundary++;
        const size_t meta = 16 * (size_t)in[pos++];
        assert(pos + meta <= len);
        if (meta > 0) {
            const char *end;
            const char *val = ffmpeg_value((const char *)in + pos, &end);
            assert(end >= val && (size_t)(end - val) < sizeof(heard->title));
            heard[nheard].boundary = boundary;
            memcpy(heard[nheard].title, val, (size_t)(end - val));
            heard[nheard].title[end - val] = 0;
            nheard++;
        }
        pos += meta;
    }
    assert(pos == len);
    return nheard;
}

/* A long run cut at random sizes, with the title changed (or set again
 * unchanged) between some calls: the audio comes out byte for byte and a
 * block comes exactly at the first boundary after each change. */
static void run_random(uint32_t metaint, unsigned calls)
{
    static const char *const titles[] = { "", "A - One", "B - Two", "Rock 'n' Roll" };
    const size_t audio_cap = (size_t)calls * 3 * metaint;
    unsigned char *audio = malloc(audio_cap), *heard_audio = malloc(audio_cap);
    const size_t out_cap = audio_cap * 2 + audio_cap / metaint * 64 + 64;
    struct sink s = { .buf = malloc(out_cap), .cap = out_cap };
    const size_t boundaries_cap = audio_cap / metaint + 1;
    struct heard *want = calloc(boundaries_cap, sizeof(*want));
    struct heard *heard = calloc(boundaries_cap, sizeof(*heard));
    assert(audio && heard_audio && s.buf && want && heard);
    for (size_t i = 0; i < audio_cap; ++i) audio[i] = (unsigned char)rnd(256);

    struct icy_title t;
    struct icy_framer fr;
    icy_title_init(&t);
    assert(icy_framer_init(&fr, metaint) == 0);
    /* the model: a title set to what it already is is no change */
    size_t total = 0, nwant = 0, current = 0;
    uint64_t seq = 1, seq_sent = 0;
    for (unsigned c = 0; c < calls; ++c) {
        if (rnd(4) == 0) {
            const size_t next = rnd(sizeof(titles) / sizeof(*titles));
            if (next != current) seq++;
            current = next;
            set_str(&t, titles[current]);
            assert(t.seq == seq);
        }
        const size_t n = rnd(4) == 0 ? rnd(3) : rnd(3 * metaint + 1);
        const size_t before = s.len, predicted = icy_meta_bytes(&fr, &t, n);
        for (size_t b = total / metaint + 1; b <= (total + n) / metaint; ++b) {
            if (seq_sent == seq) continue;
            want[nwant].boundary = b;
            /* the titles above fit */
            (void)snprintf(want[nwant++].title, sizeof(want->title), "%s", titles[current]);
            seq_sent = seq;
        }
        icy_frame(&fr, &t, audio + total, n, sink_emit, &s);
        assert(s.len - before == n + predicted);
        total += n;
    }
    size_t heard_len;
    const size_t nheard = play(s.buf, s.len, metaint, heard_audio, &heard_len, heard);
    assert(heard_len == total && memcmp(heard_audio, audio, total) == 0);
    assert(nheard == nwant);
    for (size_t i = 0; i < nwant; ++i)
        assert(heard[i].boundary == want[i].boundary && strcmp(heard[i].title, want[i].title) == 0);
    assert(nwant >= 2);                 /* the run did change titles */
    free(audio);
    free(heard_audio);
    free(s.buf);
    free(want);
    free(heard);
}

static void test_random_runs(void)
{
    run_random(1, 3000);
    run_random(7, 3000);
    run_random(1000, 1000);
    run_random(ICY_METAINT_DEFAULT, 200);
}

int main(void)
{
    test_empty_title();
    test_normal_title();
    test_quotes();
    test_control_chars();
    test_c1_controls();
    test_cut_at_title_max();
    test_worst_case_fits();
    test_parsers_read_the_whole_title();
    test_framer_bounds();
    test_metaint_1();
    test_change_lands_at_next_boundary();
    test_meta_bytes();
    test_random_runs();
    printf("test_icy: ok\n");
    return 0;
}
