/* Unit tests of Icecast's metadata update request (mod_audiostream/admin_query.c):
 * a table of queries with the exact mount, title or refusal each gets, the
 * title's limit, and the reply's bytes. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "admin_query.h"

static char err[256];

static int parse(const char *q, size_t len, struct admin_update *u)
{
    memset(u, 0x55, sizeof(*u));    /* nothing left from the last case */
    err[0] = '\0';
    return admin_parse_updinfo(q, len, u, err, sizeof(err));
}

static void expect_ok(const char *q, const char *mount, const char *title)
{
    struct admin_update u;
    const int rc = parse(q, strlen(q), &u);
    if (rc != 0) fprintf(stderr, "%s: %d %s\n", q, rc, err);
    assert(rc == 0);
    assert(strcmp(u.mount, mount) == 0);
    assert(u.title_len == strlen(title) && memcmp(u.title, title, u.title_len + 1) == 0);
}

static void expect_refused(const char *q, size_t len, const char *why)
{
    struct admin_update u;
    const int rc = parse(q, len, &u);
    if (rc != 400 || strcmp(err, why) != 0) fprintf(stderr, "%s: %d %s\n", q, rc, err);
    assert(rc == 400 && strcmp(err, why) == 0);
}

static void test_good_queries(void)
{
    static const struct { const char *q, *mount, *title; } cases[] = {
        { "mount=/live.mp3&mode=updinfo&song=Artist%20-%20Title", "/live.mp3", "Artist - Title" },
        /* any order; "+" is a space; the mount is decoded too */
        { "mode=updinfo&song=Artist+-+Title&mount=%2Flive.mp3", "/live.mp3", "Artist - Title" },
        /* unknown parameters ignored, even repeated; empty pieces skipped */
        { "pass=x&mode=updinfo&&mount=/m&song=s&pass=y&x&", "/m", "s" },
        /* names are taken as they stand, as Icecast does: "so%6Eg" is not song */
        { "mode=updinfo&mount=/m&song=s&so%6Eg=t&SONG=u", "/m", "s" },
        { "mode=updinfo&mount=/m&artist=The%20Band&title=A+Song", "/m", "The Band - A Song" },
        { "mode=updinfo&mount=/m&song=S&artist=A&title=T", "/m", "S" },  /* song wins */
        { "mode=updinfo&mount=/m&song=", "/m", "" },
        { "mode=updinfo&mount=/m&song", "/m", "" },
        { "mode=updinfo&mount=/m&song=a=b%3Dc", "/m", "a=b=c" },
        { "mode=updinfo&mount=/m&song=%26%2b%25%23", "/m", "&+%#" },
        /* UTF-8, said or not, any spelling; escapes in either case */
        { "mode=updinfo&mount=/m&song=caf%C3%A9", "/m", "caf\xC3\xA9" },
        { "mode=updinfo&mount=/m&song=caf%c3%a9&charset=utf-8", "/m", "caf\xC3\xA9" },
        { "mode=updinfo&mount=/m&song=caf%C3%A9&charset=UTF8", "/m", "caf\xC3\xA9" },
        { "mode=updinfo&mount=/m&song=%F0%9F%8E%B5&charset=Utf-8", "/m", "\xF0\x9F\x8E\xB5" },
        { "mode=updinfo&mount=/m&song=caf\xC3\xA9", "/m", "caf\xC3\xA9" },  /* sent raw */
        /* Latin-1, any spelling, converted */
        { "mode=updinfo&mount=/m&song=caf%E9&charset=ISO-8859-1", "/m", "caf\xC3\xA9" },
        { "charset=latin1&mode=updinfo&mount=/m&song=%E9", "/m", "\xC3\xA9" },
        { "charset=iso8859-1&mode=updinfo&mount=/m&song=%E9", "/m", "\xC3\xA9" },
        { "charset=ISO_8859-1&mode=updinfo&mount=/m&song=%E9", "/m", "\xC3\xA9" },
        { "charset=Latin-1&mode=updinfo&mount=/m&song=%E9", "/m", "\xC3\xA9" },
        { "charset=latin1&mode=updinfo&mount=/m&song=%7E%A0%BF%C0%FF", "/m",
          "\x7E\xC2\xA0\xC2\xBF\xC3\x80\xC3\xBF" },
        { "charset=latin1&mode=updinfo&mount=/m&artist=Bj%F6rk&title=J%F3ga", "/m",
          "Bj\xC3\xB6rk - J\xC3\xB3ga" },
        /* Latin-1 bytes that happen to be valid UTF-8 are still converted */
        { "charset=latin1&mode=updinfo&mount=/m&song=%C3%A9", "/m", "\xC3\x83\xC2\xA9" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i)
        expect_ok(cases[i].q, cases[i].mount, cases[i].title);
}

#define NOT_UTF8(p) \
    "parameter \"" p "\" is not valid UTF-8 (if it is Latin-1, add charset=ISO-8859-1)"

static void test_bad_queries(void)
{
    static const struct { const char *q, *why; } cases[] = {
        { "", "parameter \"mode\" missing" },
        { "mount=/m&song=s", "parameter \"mode\" missing" },
        { "modes=updinfo&mount=/m&song=s", "parameter \"mode\" missing" },
        { "mode=stats&mount=/m&song=s", "parameter \"mode\" must be \"updinfo\"" },
        { "mode=UPDINFO&mount=/m&song=s", "parameter \"mode\" must be \"updinfo\"" },
        { "mode=updinfo&mode=updinfo&mount=/m&song=s", "parameter \"mode\" given twice" },
        { "mode=updinfo&mount=/m&song=a&song=b", "parameter \"song\" given twice" },
        { "mode=updinfo&mount=/m&song=a&song", "parameter \"song\" given twice" },
        { "mode=updinfo&mount=/m&charset=latin1&song=s&charset=latin1",
          "parameter \"charset\" given twice" },
        { "mode=updinfo&song=s", "parameter \"mount\" missing" },
        { "mode=updinfo&mount=live.mp3&song=s", "parameter \"mount\" must start with \"/\"" },
        { "mode=updinfo&mount=&song=s", "parameter \"mount\" must start with \"/\"" },
        { "mode=updinfo&mount=/a%0Ab&song=s",
          "parameter \"mount\" has a control character (U+000A)" },
        { "mode=updinfo&mount=/a%7F&song=s",
          "parameter \"mount\" has a control character (U+007F)" },
        { "mode=updinfo&mount=/a%C2%9B&song=s",
          "parameter \"mount\" has a control character (U+009B)" },
        { "mode=updinfo&mount=/a%00&song=s", "parameter \"mount\" has a NUL byte (%00)" },
        { "mode=updinfo&mount=/m&song=a%00b", "parameter \"song\" has a NUL byte (%00)" },
        { "mode=updinfo&mount=/m&artist=a&title=%00", "parameter \"title\" has a NUL byte (%00)" },
        { "mode=updinfo&mount=/m&song=100%", "parameter \"song\" has a bad %-escape" },
        { "mode=updinfo&mount=/m&song=%4", "parameter \"song\" has a bad %-escape" },
        { "mode=updinfo&mount=/m&song=%G1", "parameter \"song\" has a bad %-escape" },
        { "mode=updinfo&mount=/m&song=%%41", "parameter \"song\" has a bad %-escape" },
        { "mode=upd%info&mount=/m&song=s", "parameter \"mode\" has a bad %-escape" },
        { "mode=updinfo&mount=/m%2&song=s", "parameter \"mount\" has a bad %-escape" },
        { "mode=updinfo&mount=/m&charset=%zz&song=s", "parameter \"charset\" has a bad %-escape" },
        { "mode=updinfo&mount=/m&charset=KOI8-R&song=s",
          "parameter \"charset\": \"KOI8-R\" not supported (use UTF-8 or ISO-8859-1)" },
        { "mode=updinfo&mount=/m&charset=&song=s",
          "parameter \"charset\": \"\" not supported (use UTF-8 or ISO-8859-1)" },
        /* a name that could mislead the reader of a log is not repeated */
        { "mode=updinfo&mount=/m&charset=a%0Ab&song=s",
          "parameter \"charset\": not supported (use UTF-8 or ISO-8859-1)" },
        { "mode=updinfo&mount=/m&charset=latin+1&song=s",
          "parameter \"charset\": not supported (use UTF-8 or ISO-8859-1)" },
        { "mode=updinfo&mount=/m&song=caf%E9", NOT_UTF8("song") },
        { "mode=updinfo&mount=/m&song=caf%E9&charset=UTF-8", NOT_UTF8("song") },
        { "mode=updinfo&mount=/m&song=%C3", NOT_UTF8("song") },
        { "mode=updinfo&mount=/m&song=%C0%AF", NOT_UTF8("song") },         /* overlong */
        { "mode=updinfo&mount=/m&song=%ED%A0%80", NOT_UTF8("song") },      /* surrogate */
        { "mode=updinfo&mount=/m&song=%F4%90%80%80", NOT_UTF8("song") },   /* past U+10FFFF */
        { "mode=updinfo&mount=/m&song=%F0%9F%8E", NOT_UTF8("song") },      /* cut */
        { "mode=updinfo&mount=/m&artist=%E9&title=t", NOT_UTF8("artist") },
        { "mode=updinfo&mount=/m&artist=a&title=%E9", NOT_UTF8("title") },
        { "mode=updinfo&mount=/m", "parameter \"song\" missing (or \"artist\" and \"title\")" },
        { "mode=updinfo&mount=/m&artist=a",
          "parameter \"title\" missing (\"artist\" needs it when there is no \"song\")" },
        { "mode=updinfo&mount=/m&title=t",
          "parameter \"artist\" missing (\"title\" needs it when there is no \"song\")" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i)
        expect_refused(cases[i].q, strlen(cases[i].q), cases[i].why);
    /* a NUL byte in the query itself, where a C string would have ended */
    static const char nul[] = "mode=updinfo&mount=/m&song=a\0b";
    expect_refused(nul, sizeof(nul) - 1, "query has a NUL byte");
}

#define CONTROL(p, cp) "parameter \"" p "\" has a control character (U+" cp ")"

/* Control characters (C0, DEL, C1: utf8.h) are refused in a title, in
 * UTF-8 and, once converted, in Latin-1 (whose 0x80-0x9F are U+0080-009F);
 * the refusal names the parameter and the first one's code point. */
static void test_control_characters(void)
{
    static const struct { const char *q, *why; } refused[] = {
        { "mode=updinfo&mount=/m&song=a%C2%9Bb", CONTROL("song", "009B") },     /* CSI */
        { "mode=updinfo&mount=/m&song=a%9Bb&charset=ISO-8859-1", CONTROL("song", "009B") },
        { "mode=updinfo&mount=/m&song=a\xC2\x9B" "b", CONTROL("song", "009B") }, /* sent raw */
        { "mode=updinfo&mount=/m&song=a%01b", CONTROL("song", "0001") },
        { "mode=updinfo&mount=/m&song=%09", CONTROL("song", "0009") },
        { "mode=updinfo&mount=/m&song=a%0D%0Ab", CONTROL("song", "000D") },
        { "mode=updinfo&mount=/m&song=%1F", CONTROL("song", "001F") },
        { "mode=updinfo&mount=/m&song=a%1B%5B31m", CONTROL("song", "001B") },  /* ESC [ */
        /* the boundaries: U+007F, U+0080 and U+009F are controls; NEL too */
        { "mode=updinfo&mount=/m&song=a%7F", CONTROL("song", "007F") },
        { "mode=updinfo&mount=/m&song=a%C2%80", CONTROL("song", "0080") },
        { "mode=updinfo&mount=/m&song=a%C2%85b", CONTROL("song", "0085") },
        { "mode=updinfo&mount=/m&song=a%C2%9F", CONTROL("song", "009F") },
        { "charset=latin1&mode=updinfo&mount=/m&song=a%7F", CONTROL("song", "007F") },
        { "charset=latin1&mode=updinfo&mount=/m&song=a%80", CONTROL("song", "0080") },
        { "charset=latin1&mode=updinfo&mount=/m&song=a%85b", CONTROL("song", "0085") },
        { "charset=latin1&mode=updinfo&mount=/m&song=a%9F", CONTROL("song", "009F") },
        { "charset=latin1&mode=updinfo&mount=/m&song=%E9%0A", CONTROL("song", "000A") },
        /* the first one is named */
        { "mode=updinfo&mount=/m&song=%C2%9B%01", CONTROL("song", "009B") },
        /* artist and title are checked each, by name */
        { "mode=updinfo&mount=/m&artist=a%C2%9B&title=t", CONTROL("artist", "009B") },
        { "mode=updinfo&mount=/m&artist=a&title=t%C2%9D", CONTROL("title", "009D") },
        { "charset=latin1&mode=updinfo&mount=/m&artist=a&title=%9D", CONTROL("title", "009D") },
        { "mode=updinfo&mount=/a%C2%85&song=s", CONTROL("mount", "0085") },
        { "mode=updinfo&mount=/a%01&song=s", CONTROL("mount", "0001") },
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); ++i)
        expect_refused(refused[i].q, strlen(refused[i].q), refused[i].why);
    /* U+00A0 (no-break space, C2 A0) and the rest of Latin-1 are text; so is "+" */
    expect_ok("mode=updinfo&mount=/m&song=a%C2%A0b", "/m", "a\xC2\xA0" "b");
    expect_ok("charset=latin1&mode=updinfo&mount=/m&song=a%A0b", "/m", "a\xC2\xA0" "b");
    expect_ok("mode=updinfo&mount=/m&song=%7E%C2%A0%C2%BF%C3%85+x", "/m",
              "~\xC2\xA0\xC2\xBF\xC3\x85 x");
    expect_ok("mode=updinfo&mount=/m%C2%A0&song=s", "/m\xC2\xA0", "s");
}

/* q = prefix followed by n copies of unit */
static size_t repeat(char *q, size_t cap, const char *prefix, const char *unit, size_t n,
                     const char *suffix)
{
    size_t len = (size_t)snprintf(q, cap, "%s", prefix);
    for (size_t i = 0; i < n; ++i) len += (size_t)snprintf(q + len, cap - len, "%s", unit);
    len += (size_t)snprintf(q + len, cap - len, "%s", suffix);
    assert(len < cap);
    return len;
}

static void expect_title_len(const char *q, size_t len, size_t title_len)
{
    struct admin_update u;
    const int rc = parse(q, len, &u);
    if (rc != 0) fprintf(stderr, "%d %s\n", rc, err);
    assert(rc == 0 && u.title_len == title_len && strlen(u.title) == title_len);
}

/* a title is at most TITLE_MAX bytes once in UTF-8; longer is refused, never cut */
static void test_title_limit(void)
{
    static char q[3 * ADMIN_QUERY_MAX];
    const char *song_too_long = "parameter \"song\": title longer than 1024 bytes";
    const char *pair_too_long = "parameters \"artist\" and \"title\": title longer than 1024 bytes";
    size_t len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&song=", "a", 1024, "");
    expect_title_len(q, len, 1024);
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&song=", "a", 1025, "");
    expect_refused(q, len, song_too_long);
    /* é is two bytes in UTF-8: 512 fit, 513 do not, nor 1023 bytes and one é */
    len = repeat(q, sizeof(q), "charset=latin1&mode=updinfo&mount=/m&song=", "%E9", 512, "");
    expect_title_len(q, len, 1024);
    struct admin_update u;
    assert(parse(q, len, &u) == 0);
    for (size_t i = 0; i < 1024; i += 2) assert(memcmp(u.title + i, "\xC3\xA9", 2) == 0);
    len = repeat(q, sizeof(q), "charset=latin1&mode=updinfo&mount=/m&song=", "%E9", 513, "");
    expect_refused(q, len, song_too_long);
    len = repeat(q, sizeof(q), "charset=latin1&mode=updinfo&mount=/m&song=", "a", 1023, "%E9");
    expect_refused(q, len, song_too_long);
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&song=", "%C3%A9", 512, "");
    expect_title_len(q, len, 1024);
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&song=", "%C3%A9", 512, "a");
    expect_refused(q, len, song_too_long);
    /* artist, " - " and title: 510 + 3 + 511 */
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&title=", "t", 511, "&artist=");
    len = repeat(q + len, sizeof(q) - len, "", "a", 510, "") + len;
    expect_title_len(q, len, 1024);
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&title=", "t", 512, "&artist=");
    len = repeat(q + len, sizeof(q) - len, "", "a", 510, "") + len;
    expect_refused(q, len, pair_too_long);
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&title=t&artist=", "a", 1022, "");
    expect_refused(q, len, pair_too_long);      /* no room left for " - " */
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&title=t&artist=", "a", 1025, "");
    expect_refused(q, len, pair_too_long);
}

static void test_other_limits(void)
{
    static char q[3 * ADMIN_QUERY_MAX];
    /* the mount: 255 bytes */
    size_t len = repeat(q, sizeof(q), "mode=updinfo&song=s&mount=/", "m", 254, "");
    struct admin_update u;
    assert(parse(q, len, &u) == 0 && strlen(u.mount) == 255 && u.mount[254] == 'm');
    len = repeat(q, sizeof(q), "mode=updinfo&song=s&mount=/", "m", 255, "");
    expect_refused(q, len, "parameter \"mount\" longer than 255 bytes");
    /* the query: 8192 bytes, whatever fills them */
    len = repeat(q, sizeof(q), "mode=updinfo&mount=/m&song=s&pad=", "x",
                 ADMIN_QUERY_MAX - strlen("mode=updinfo&mount=/m&song=s&pad="), "");
    assert(len == ADMIN_QUERY_MAX);
    expect_title_len(q, len, 1);
    q[len++] = 'x';
    expect_refused(q, len, "query longer than 8192 bytes");
    /* only len bytes are read: what follows them is not part of the query */
    static const char longer[] = "mode=updinfo&mount=/m&song=abc&song=d";
    expect_title_len(longer, strlen("mode=updinfo&mount=/m&song=ab"), 2);
    static const char cut[] = "mode=updinfo&mount=/m&song=%41";
    expect_refused(cut, sizeof(cut) - 2, "parameter \"song\" has a bad %-escape");
    expect_refused(NULL, 0, "parameter \"mode\" missing");
    /* a short err buffer gets the start of the reason, terminated */
    char small[10];
    assert(admin_parse_updinfo("", 0, &u, small, sizeof(small)) == 400);
    assert(strcmp(small, "parameter") == 0);
}

#define REPLY_HEAD "<?xml version=\"1.0\"?>\n<iceresponse><message>"

static void test_response(void)
{
    char out[512];
    const char *ok =
        REPLY_HEAD "Metadata update successful</message><return>1</return></iceresponse>\n";
    assert(admin_response(out, sizeof(out), 1, ADMIN_UPDATED) == strlen(ok));
    assert(strcmp(out, ok) == 0);
    const char *no = REPLY_HEAD "a &lt;b&gt; &amp; \"c\" 'd' &#13;\n\t? \xC3\xA9"
                     "</message><return>0</return></iceresponse>\n";
    const char *message = "a <b> & \"c\" 'd' \r\n\t\x01 \xC3\xA9";
    assert(admin_response(out, sizeof(out), 0, message) == strlen(no));
    assert(strcmp(out, no) == 0);
    /* like snprintf: cut to fit, terminated, the whole length returned */
    char small[11];
    memset(small, 'z', sizeof(small));
    assert(admin_response(small, sizeof(small), 1, ADMIN_UPDATED) == strlen(ok));
    assert(strcmp(small, "<?xml vers") == 0);
    assert(admin_response(NULL, 0, 1, ADMIN_UPDATED) == strlen(ok));
}

int main(void)
{
    test_good_queries();
    test_bad_queries();
    test_control_characters();
    test_title_limit();
    test_other_limits();
    test_response();
    printf("test_admin_query: ok\n");
    return 0;
}
