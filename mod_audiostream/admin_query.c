/* Icecast's /admin/metadata?mode=updinfo request; see admin_query.h. */
#include "admin_query.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

enum param { P_MODE, P_MOUNT, P_CHARSET, P_SONG, P_ARTIST, P_TITLE, P_COUNT };

static const char *const param_name[P_COUNT] = {
    "mode", "mount", "charset", "song", "artist", "title" };

/* a parameter's value as it stands in the query, still encoded */
struct raw {
    const char *p;
    size_t n;
    int given;
};

/* one buffer for a decoded value: a value is never longer than the query */
typedef char value_buf[ADMIN_QUERY_MAX + 1];

static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, errlen, fmt, ap);   /* a message cut short is still one */
    va_end(ap);
    return 400;
}

static int find_param(const char *name, size_t n)
{
    for (int i = 0; i < P_COUNT; ++i)
        if (strlen(param_name[i]) == n && memcmp(param_name[i], name, n) == 0) return i;
    return -1;
}

/* Splits the query at "&" and keeps the known parameters. Names are
 * compared as they stand, as Icecast does; a name without "=" has an empty
 * value. */
static int split(const char *q, size_t len, struct raw raw[P_COUNT], char *err, size_t errlen)
{
    for (size_t i = 0; i <= len;) {
        const char *amp = memchr(q + i, '&', len - i);
        const size_t end = amp ? (size_t)(amp - q) : len;
        const char *eq = memchr(q + i, '=', end - i);
        const size_t name_end = eq ? (size_t)(eq - q) : end;
        const int p = find_param(q + i, name_end - i);
        if (p >= 0) {
            if (raw[p].given)
                return refuse(err, errlen, "parameter \"%s\" given twice", param_name[p]);
            raw[p].given = 1;
            raw[p].p = eq ? eq + 1 : q + end;
            raw[p].n = end - (eq ? name_end + 1 : end);
        }
        i = end + 1;
    }
    return 0;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes "+" and %XX into out (NUL-terminated; r->n + 1 bytes suffice). */
static int decode(const struct raw *r, enum param p, char *out, size_t *n, char *err,
                  size_t errlen)
{
    size_t o = 0;
    out[0] = '\0';     /* defined even when refused */
    *n = 0;
    for (size_t i = 0; i < r->n; ++i) {
        char c = r->p[i];
        if (c == '+') c = ' ';
        else if (c == '%') {
            if (i + 2 >= r->n || hex(r->p[i + 1]) < 0 || hex(r->p[i + 2]) < 0)
                return refuse(err, errlen, "parameter \"%s\" has a bad %%-escape", param_name[p]);
            c = (char)(hex(r->p[i + 1]) * 16 + hex(r->p[i + 2]));
            i += 2;
            if (c == '\0')
                return refuse(err, errlen, "parameter \"%s\" has a NUL byte (%%00)", param_name[p]);
        }
        out[o++] = c;
    }
    out[o] = '\0';
    *n = o;
    return 0;
}

/* a control character (C0, DEL or C1: utf8.h) in s[0..n), named by its
 * code point: only the number is echoed, never the character */
static int control(enum param p, const char *s, size_t n, char *err, size_t errlen)
{
    return refuse(err, errlen, "parameter \"%s\" has a control character (U+%04lX)",
                  param_name[p], (unsigned long)utf8_first_control(s, n));
}

static int check_mode(const struct raw *r, char *buf, char *err, size_t errlen)
{
    size_t n;
    if (!r->given) return refuse(err, errlen, "parameter \"mode\" missing");
    if (decode(r, P_MODE, buf, &n, err, errlen)) return 400;
    if (strcmp(buf, "updinfo") != 0)
        return refuse(err, errlen, "parameter \"mode\" must be \"updinfo\"");
    return 0;
}

static int take_mount(const struct raw *r, struct admin_update *u, char *buf, char *err,
                      size_t errlen)
{
    size_t n;
    if (!r->given) return refuse(err, errlen, "parameter \"mount\" missing");
    if (decode(r, P_MOUNT, buf, &n, err, errlen)) return 400;
    if (buf[0] != '/') return refuse(err, errlen, "parameter \"mount\" must start with \"/\"");
    if (n > ADMIN_MOUNT_MAX)
        return refuse(err, errlen, "parameter \"mount\" longer than %d bytes", ADMIN_MOUNT_MAX);
    if (utf8_has_control(buf, n)) return control(P_MOUNT, buf, n, err, errlen);
    memcpy(u->mount, buf, n + 1);
    return 0;
}

static int is_one_of(const char *s, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        if (strcasecmp(s, names[i]) == 0) return 1;
    return 0;
}

/* UTF-8 unless told otherwise; Latin-1, the one other charset that
 * playout software sends, is converted */
static int take_charset(const struct raw *r, int *latin1, char *buf, char *err, size_t errlen)
{
    static const char *const utf8[] = { "UTF-8", "UTF8" };
    static const char *const iso[] = {
        "ISO-8859-1", "ISO8859-1", "ISO_8859-1", "latin1", "latin-1" };
    size_t n;
    *latin1 = 0;
    if (!r->given) return 0;
    if (decode(r, P_CHARSET, buf, &n, err, errlen)) return 400;
    if (is_one_of(buf, utf8, sizeof(utf8) / sizeof(*utf8))) return 0;
    *latin1 = is_one_of(buf, iso, sizeof(iso) / sizeof(*iso));
    if (*latin1) return 0;
    int printable = n <= 32;      /* the name is echoed only when harmless */
    for (size_t i = 0; i < n; ++i) printable &= buf[i] > 0x20 && buf[i] < 0x7F;
    return refuse(err, errlen,
                  "parameter \"charset\": %s%s%snot supported (use UTF-8 or ISO-8859-1)",
                  printable ? "\"" : "", printable ? buf : "", printable ? "\" " : "");
}

/* appends s to the title, from Latin-1 when latin1; -1 past TITLE_MAX,
 * as a title is refused, never cut */
static int append(struct admin_update *u, const char *s, size_t n, int latin1)
{
    for (size_t i = 0; i < n; ++i) {
        const unsigned char c = (unsigned char)s[i];
        const size_t need = latin1 && c >= 0x80 ? 2 : 1;
        if (u->title_len + need > TITLE_MAX) return -1;
        if (need == 2) {
            u->title[u->title_len++] = (char)(0xC0 | c >> 6);
            u->title[u->title_len++] = (char)(0x80 | (c & 0x3F));
        } else u->title[u->title_len++] = (char)c;
    }
    u->title[u->title_len] = '\0';
    return 0;
}

static int too_long(enum param p, char *err, size_t errlen)
{
    if (p == P_SONG)
        return refuse(err, errlen, "parameter \"song\": title longer than %d bytes", TITLE_MAX);
    return refuse(err, errlen, "parameters \"artist\" and \"title\": title longer than %d bytes",
                  TITLE_MAX);
}

/* decodes song, artist or title and appends it to the title; controls are
 * looked for in what was appended, in UTF-8, so that Latin-1's 0x80-0x9F
 * (U+0080-009F, C1) are refused as the same characters in UTF-8 are */
static int take_text(const struct raw raw[P_COUNT], enum param p, int latin1,
                     struct admin_update *u, char *buf, char *err, size_t errlen)
{
    size_t n;
    if (decode(&raw[p], p, buf, &n, err, errlen)) return 400;
    if (!latin1 && !utf8_valid(buf, n))
        return refuse(err, errlen, "parameter \"%s\" is not valid UTF-8 "
                      "(if it is Latin-1, add charset=ISO-8859-1)", param_name[p]);
    const size_t start = u->title_len;
    if (append(u, buf, n, latin1) != 0) return too_long(p, err, errlen);
    if (utf8_has_control(u->title + start, u->title_len - start))
        return control(p, u->title + start, u->title_len - start, err, errlen);
    return 0;
}

/* song, or else "artist - title" as Icecast's MP3 mounts join them */
static int take_title(const struct raw raw[P_COUNT], int latin1, struct admin_update *u,
                      char *buf, char *err, size_t errlen)
{
    u->title_len = 0;
    u->title[0] = '\0';
    if (raw[P_SONG].given) return take_text(raw, P_SONG, latin1, u, buf, err, errlen);
    if (!raw[P_ARTIST].given && !raw[P_TITLE].given)
        return refuse(err, errlen, "parameter \"song\" missing (or \"artist\" and \"title\")");
    if (!raw[P_ARTIST].given || !raw[P_TITLE].given)
        return refuse(err, errlen,
                      "parameter \"%s\" missing (\"%s\" needs it when there is no \"song\")",
                      param_name[raw[P_ARTIST].given ? P_TITLE : P_ARTIST],
                      param_name[raw[P_ARTIST].given ? P_ARTIST : P_TITLE]);
    int rc = take_text(raw, P_ARTIST, latin1, u, buf, err, errlen);
    if (rc == 0 && append(u, " - ", 3, 0) != 0) rc = too_long(P_ARTIST, err, errlen);
    if (rc == 0) rc = take_text(raw, P_TITLE, latin1, u, buf, err, errlen);
    return rc;
}

int admin_parse_updinfo(const char *query, size_t len, struct admin_update *u, char *err,
                        size_t errlen)
{
    struct raw raw[P_COUNT];
    value_buf buf;
    int latin1 = 0;
    memset(raw, 0, sizeof(raw));
    if (len > ADMIN_QUERY_MAX)
        return refuse(err, errlen, "query longer than %d bytes", ADMIN_QUERY_MAX);
    if (len == 0) query = "";           /* the server may hand over NULL */
    if (memchr(query, '\0', len)) return refuse(err, errlen, "query has a NUL byte");
    int rc = split(query, len, raw, err, errlen);
    if (rc == 0) rc = check_mode(&raw[P_MODE], buf, err, errlen);
    if (rc == 0) rc = take_mount(&raw[P_MOUNT], u, buf, err, errlen);
    if (rc == 0) rc = take_charset(&raw[P_CHARSET], &latin1, buf, err, errlen);
    if (rc == 0) rc = take_title(raw, latin1, u, buf, err, errlen);
    return rc;
}

/* copies what fits of s[0..n) at out + *o, and counts it all */
static void emit(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o < outlen) memcpy(out + *o, s, n < outlen - *o ? n : outlen - *o);
    *o += n;
}

/* text escaped as libxml2 writes it: & < > and CR as references; the
 * other control characters, which XML 1.0 cannot hold, as "?" */
static void emit_text(char *out, size_t outlen, size_t *o, const char *s)
{
    for (; *s; ++s) {
        const unsigned char c = (unsigned char)*s;
        if (c == '&') emit(out, outlen, o, "&amp;", 5);
        else if (c == '<') emit(out, outlen, o, "&lt;", 4);
        else if (c == '>') emit(out, outlen, o, "&gt;", 4);
        else if (c == '\r') emit(out, outlen, o, "&#13;", 5);
        else if (c < 0x20 && c != '\t' && c != '\n') emit(out, outlen, o, "?", 1);
        else emit(out, outlen, o, s, 1);
    }
}

size_t admin_response(char *out, size_t outlen, int ok, const char *message)
{
    static const char head[] = "<?xml version=\"1.0\"?>\n<iceresponse><message>";
    static const char tail_ok[] = "</message><return>1</return></iceresponse>\n";
    static const char tail_fail[] = "</message><return>0</return></iceresponse>\n";
    size_t o = 0;
    emit(out, outlen, &o, head, sizeof(head) - 1);
    emit_text(out, outlen, &o, message);
    emit(out, outlen, &o, ok ? tail_ok : tail_fail, sizeof(tail_ok) - 1);
    if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
    return o;
}
