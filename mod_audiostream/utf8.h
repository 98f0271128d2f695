/* UTF-8 checks shared by the config, the admin URL, the status JSON and
 * the playlists: one definition of well-formed (RFC 3629). */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at s (no overlong forms, no
 * surrogates, nothing past U+10FFFF), or minus the length of its longest
 * valid prefix (at least 1) when it is ill-formed, so that a caller can
 * replace that prefix with one U+FFFD as Unicode recommends. n >= 1. */
long utf8_sequence(const unsigned char *s, size_t n);

/* Whether s[0..n) is well-formed UTF-8. */
int utf8_valid(const char *s, size_t n);

#endif
