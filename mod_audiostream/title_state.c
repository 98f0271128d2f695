#include "title_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "# mod_audiostream titles 1\n"
#define FIELDS 4

/* appends s percent-encoded where it would break the line format */
static size_t put_field(char *buf, size_t cap, size_t at, const char *s)
{
    for (; *s; ++s) {
        const unsigned char c = (unsigned char)*s;
        char esc[4];
        const char *out = (const char *)s;
        size_t n = 1;
        if (c == '%' || c == '\t' || c == '\r' || c == '\n') {
            (void)snprintf(esc, sizeof(esc), "%%%02X", c);
            out = esc;
            n = 3;
        }
        for (size_t i = 0; i < n; ++i, ++at)
            if (at + 1 < cap) buf[at] = out[i];
    }
    return at;
}

static size_t put_text(char *buf, size_t cap, size_t at, const char *s)
{
    for (; *s; ++s, ++at)
        if (at + 1 < cap) buf[at] = *s;
    return at;
}

size_t title_state_render(char *buf, size_t cap, const struct title_state_entry *e, size_t n)
{
    size_t at = put_text(buf, cap, 0, HEADER);
    for (size_t i = 0; i < n; ++i) {
        char nth[16];
        (void)snprintf(nth, sizeof(nth), "%u", e[i].nth);
        at = put_field(buf, cap, at, e[i].path);
        at = put_text(buf, cap, at, "\t");
        at = put_text(buf, cap, at, nth);
        at = put_text(buf, cap, at, "\t");
        at = put_field(buf, cap, at, e[i].config_title);
        at = put_text(buf, cap, at, "\t");
        at = put_field(buf, cap, at, e[i].title);
        at = put_text(buf, cap, at, "\n");
    }
    if (cap) buf[at < cap ? at : cap - 1] = '\0';
    return at;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* decodes s[0..len) into out (room for len + 1); -1 on a bad escape */
static int decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] != '%') {
            if (s[i] == '\0') return -1;
            out[o++] = s[i];
            continue;
        }
        const int hi = i + 2 < len ? hex(s[i + 1]) : -1, lo = hi >= 0 ? hex(s[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) return -1;   /* a NUL is no text of ours */
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return 0;
}

/* one line (without its LF) into fields; 0 when it is one of ours */
static int parse_line(const char *line, size_t len, char *scratch, struct title_state_entry *e)
{
    const char *field[FIELDS];
    size_t flen[FIELDS], nf = 0, start = 0;
    for (size_t i = 0; i <= len; ++i) {
        if (i < len && line[i] != '\t') continue;
        if (nf == FIELDS) return -1;
        field[nf] = line + start;
        flen[nf++] = i - start;
        start = i + 1;
    }
    if (nf != FIELDS || flen[0] == 0 || flen[1] == 0 || flen[1] > 9) return -1;
    unsigned nth = 0;
    for (size_t i = 0; i < flen[1]; ++i) {
        if (field[1][i] < '0' || field[1][i] > '9') return -1;
        nth = nth * 10 + (unsigned)(field[1][i] - '0');
    }
    char *out[FIELDS] = { scratch, NULL, NULL, NULL };
    out[2] = out[0] + flen[0] + 1;
    out[3] = out[2] + flen[2] + 1;
    if (nth == 0 || decode(field[0], flen[0], out[0]) || decode(field[2], flen[2], out[2])
        || decode(field[3], flen[3], out[3]))
        return -1;
    *e = (struct title_state_entry){ out[0], nth, out[2], out[3] };
    return 0;
}

int title_state_parse(const char *text, size_t len,
                      void (*fn)(void *ctx, const struct title_state_entry *e), void *ctx)
{
    const size_t hlen = strlen(HEADER);
    if (len < hlen || memcmp(text, HEADER, hlen) != 0) return -1;
    char *scratch = malloc(len + FIELDS);
    if (!scratch) return -1;
    int taken = 0;
    for (size_t at = hlen; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        const size_t end = nl ? (size_t)(nl - text) : len;
        struct title_state_entry e;
        if (nl && parse_line(text + at, end - at, scratch, &e) == 0) {   /* a cut last line: no */
            fn(ctx, &e);
            ++taken;
        }
        at = end + 1;
    }
    free(scratch);
    return taken;
}
