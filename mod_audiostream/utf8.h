/* UTF-8 checks shared by the config, the admin URL, ICY metadata, the
 * status JSON and the playlists: one definition of well-formed (RFC 3629),
 * and one of a control character. */
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

/* Control characters: C0 (U+0000-001F), DEL (U+007F) and C1 (U+0080-009F,
 * in UTF-8 the two bytes C2 80 to C2 9F). None may stand in text that goes
 * into a response header, an ICY block or a playlist: C0 and DEL can end a
 * header or a line early (response splitting, a second playlist entry),
 * and C1 holds terminal escapes (U+009B is CSI, U+009D OSC) that players
 * printing titles to a terminal obey, and NEL (U+0085), a line break to
 * some readers. U+00A0 (no-break space, C2 A0) and beyond are text. */

/* Bytes of the control character at p[0..n), 1 or 2, or 0 when p does not
 * start with one (a C2 with no second byte in reach is not one). n >= 1. */
size_t utf8_control_len(const unsigned char *p, size_t n);

/* The code point of the first control character in s[0..n), or -1 when
 * there is none. Bytes that are not UTF-8 are passed over. */
long utf8_first_control(const char *s, size_t n);

/* Whether s[0..n) holds a control character. */
int utf8_has_control(const char *s, size_t n);

#endif
