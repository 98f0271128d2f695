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
