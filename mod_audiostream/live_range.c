#include "live_range.h"

#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* the decimal number at s[*i..len), which must not reach max */
static int parse_position(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
    const size_t start = *i;
    uint64_t v = 0;
    for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; ++*i) {
        const unsigned d = (unsigned)(s[*i] - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (*i == start) return -1;
    *out = v;
    return 0;
}

/* white space only around the value: none inside a range (RFC 9110 14.1.1) */
int live_range_resume(const char *value, size_t len, uint64_t *first)
{
    size_t i = 0;
    while (i < len && is_ows(value[i])) ++i;
    /* the range unit is case-insensitive (RFC 9110 14.1) */
    if (i + 6 > len || strncasecmp(value + i, "bytes=", 6) != 0) return 0;
    i += 6;
    uint64_t n;
    /* N + the span - 1 must be a position too */
    if (parse_position(value, len, &i, UINT64_MAX - LIVE_RANGE_SPAN, &n) != 0) return 0;
    if (i >= len || value[i] != '-') return 0;
    ++i;
    while (i < len && is_ows(value[i])) ++i;
    if (i != len || n == 0) return 0;   /* a last position, more ranges, or the start */
    *first = n;
    return 1;
}

int live_range_content_range(char *buf, size_t cap, uint64_t first)
{
    if (first > UINT64_MAX - LIVE_RANGE_SPAN) return -1;
    const int n = snprintf(buf, cap, "bytes %" PRIu64 "-%" PRIu64 "/*", first,
                           first + LIVE_RANGE_SPAN - 1);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
