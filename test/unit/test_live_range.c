/* Unit tests of the byte ranges of a live stream (mod_audiostream/live_range.c):
 * which Range values are a resume, and the Content-Range of one. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "live_range.h"

static int resume(const char *value, uint64_t *first)
{
    *first = 0;
    return live_range_resume(value, strlen(value), first);
}

static void test_resumes(void)
{
    const struct { const char *value; uint64_t first; } cases[] = {
        { "bytes=160000-", 160000 },         /* Chromium after 10 s at 128 kbit/s */
        { "bytes=1-", 1 },
        { "BYTES=42-", 42 },                  /* the unit is case-insensitive */
        { " bytes=42- ", 42 },                /* white space around the value */
        { "\tbytes=42-\t", 42 },
        { "bytes=0000042-", 42 },
        { "bytes=18446743073709551615-", UINT64_MAX - LIVE_RANGE_SPAN },   /* the last */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
        uint64_t first;
        const int is_resume = resume(cases[i].value, &first);
        assert(is_resume == 1);
        assert(first == cases[i].first);
    }
}

static void test_not_resumes(void)
{
    const char *const cases[] = {
        "bytes=0-",                           /* ffmpeg, Liquidsoap, Firefox: from the start */
        "bytes=00-",
        "bytes=0-1",                          /* Safari's probe */
        "bytes=100-199",                      /* a closed range */
        "bytes=-500",                         /* the last 500 bytes */
        "bytes=100-,200-",                    /* several ranges */
        "bytes=100-, 200-300",
        "bytes=100",                          /* no dash */
        "bytes= 100-",                        /* white space inside */
        "bytes=100 -",
        "bytes=-",
        "bytes=",
        "bytes 100-",
        "items=100-",                         /* another unit */
        "bytes=+100-",
        "bytes=1e3-",
        "bytes=18446743073709551616-",        /* N + the span would pass 2^64 - 1 */
        "bytes=99999999999999999999999-",
        "",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
        uint64_t first;
        const int is_resume = resume(cases[i], &first);
        assert(is_resume == 0);
        assert(first == 0);
    }
    /* the length given is what counts, not a NUL */
    uint64_t first = 0;
    assert(live_range_resume("bytes=100-5", strlen("bytes=100-"), &first) == 1 && first == 100);
}

static void test_content_range(void)
{
    char buf[LIVE_RANGE_VALUE_MAX];
    const char *want = "bytes 160000-1000000159999/*";
    assert(live_range_content_range(buf, sizeof(buf), 160000) == (int)strlen(want));
    assert(strcmp(buf, want) == 0);
    want = "bytes 18446743073709551615-18446744073709551614/*";
    assert(live_range_content_range(buf, sizeof(buf), UINT64_MAX - LIVE_RANGE_SPAN)
           == (int)strlen(want));
    assert(strcmp(buf, want) == 0);
    assert(live_range_content_range(buf, sizeof(buf), UINT64_MAX - LIVE_RANGE_SPAN + 1) == -1);
    assert(live_range_content_range(buf, 10, 160000) == -1);   /* does not fit */
}

int main(void)
{
    test_resumes();
    test_not_resumes();
    test_content_range();
    return 0;
}
