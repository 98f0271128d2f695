/* UTF-8 checks; see utf8.h. */
#include "utf8.h"

long utf8_sequence(const unsigned char *s, size_t n)
{
    const unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;     /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;           /* overlong */
        if (c == 0xED) hi = 0x9F;           /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;           /* overlong */
        if (c == 0xF4) hi = 0x8F;           /* past U+10FFFF */
    } else return -1;
    size_t i = 1;
    for (; i < need && i < n; ++i) {
        if (s[i] < lo || s[i] > hi) break;
        lo = 0x80;
        hi = 0xBF;
    }
    return i == need ? (long)need : -(long)i;
}

int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        const long k = utf8_sequence(p, n);
        if (k < 0) return 0;
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

size_t utf8_control_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x20 || p[0] == 0x7F) return 1;
    if (p[0] == 0xC2 && n >= 2 && p[1] >= 0x80 && p[1] <= 0x9F) return 2;
    return 0;
}

long utf8_first_control(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; ++i) {
        const size_t k = utf8_control_len(p + i, n - i);
        if (k == 1) return p[i];
        if (k == 2) return p[i + 1];    /* C2 80..9F is U+0080..009F */
    }
    return -1;
}

int utf8_has_control(const char *s, size_t n)
{
    return utf8_first_control(s, n) >= 0;
}
