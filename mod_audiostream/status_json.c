/* Icecast 2.4's status-json.xsl document; see status_json.h. */
#include "status_json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* a growing output buffer; after a failed allocation it stays failed, so the
 * writers need not check each step */
struct out {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom) return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        while (o->len + n + 1 > cap) cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_cstr(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* JSON string escaping for any bytes: tab, LF and CR as xml2json.xslt
 * writes them, the other control characters (C0, DEL and C1, utf8.h) as
 * \u00XX, so the document carries no terminal escape, and ill-formed UTF-8
 * as U+FFFD, so that the document always parses */
static void put_string(struct out *o, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    const size_t n = strlen(str);
    put(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        const long k = utf8_sequence(s + i, n - i);
        char esc[8];
        if (k < 0) put(o, "\xEF\xBF\xBD", 3);
        else if (s[i] == '"' || s[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)s[i];
            put(o, esc, 2);
        } else if (s[i] == '\t') put(o, "\\t", 2);
        else if (s[i] == '\n') put(o, "\\n", 2);
        else if (s[i] == '\r') put(o, "\\r", 2);
        else if (utf8_control_len(s + i, n - i) > 0) {
            /* one byte (C0, DEL), or C2 and the code point's byte (C1) */
            (void)snprintf(esc, sizeof(esc), "\\u%04X", k == 1 ? s[i] : s[i + 1]);
            put(o, esc, 6);         /* 6 bytes of 8 */
        } else put(o, str + i, (size_t)k);
        i += (size_t)(k < 0 ? -k : k);
    }
    put(o, "\"", 1);
}

/* "key":"value", -- every member is followed by another (at worst the
 * closing "dummy":null), so each carries its comma */
static void member_string(struct out *o, const char *key, const char *value)
{
    if (!value) return;
    put(o, "\"", 1);
    put_cstr(o, key);
    put(o, "\":", 2);
    put_string(o, value);
    put(o, ",", 1);
}

static void member_number(struct out *o, const char *key, uint64_t value)
{
    char num[24];
    (void)snprintf(num, sizeof(num), "%" PRIu64, value);   /* at most 20 digits */
    put(o, "\"", 1);
    put_cstr(o, key);
    put(o, "\":", 2);
    put_cstr(o, num);
    put(o, ",", 1);
}

static const char *const wday_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Icecast's two date formats, in local time: "%a, %d %b %Y %H:%M:%S %z"
 * and "%Y-%m-%dT%H:%M:%S%z". The names are spelt here, not by strftime, so
 * that no locale can change them. Both stay empty if t has no local time. */
static void format_dates(time_t t, char rfc[64], char iso[64])
{
    struct tm tm;
    if (!localtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11)
        return;
    /* "+hhmm" fits in 8; so does every field's widest value in 64: none is cut */
    char zone[8] = "";
    if (strftime(zone, sizeof(zone), "%z", &tm) == 0) zone[0] = '\0';
    (void)snprintf(rfc, 64, "%s, %02d %s %d %02d:%02d:%02d %s", wday_names[tm.tm_wday],
                   tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, zone);
    (void)snprintf(iso, 64, "%d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/* key and key_iso8601, as Icecast pairs them */
static void member_dates(struct out *o, const char *key, time_t t)
{
    char rfc[64] = "", iso[64] = "", iso_key[64];
    format_dates(t, rfc, iso);
    (void)snprintf(iso_key, sizeof(iso_key), "%s_iso8601", key);   /* keys are ours, short */
    member_string(o, key, rfc);
    member_string(o, iso_key, iso);
}

/* what a libshout source sends as its ice-audio-info header, and Icecast
 * shows as it came */
static void member_audio_info(struct out *o, const struct status_source *s)
{
    const struct { const char *name; unsigned value; } part[] = {
        { "bitrate", s->bitrate_kbps },
        { "channels", s->channels },
        { "samplerate", s->samplerate },
    };
    char info[96] = "";     /* room for three 10-digit values */
    int n = 0;
    for (size_t i = 0; i < sizeof(part) / sizeof(*part); ++i)
        if (part[i].value)
            n += snprintf(info + n, sizeof(info) - (size_t)n, ";%s=%u", part[i].name,
                          part[i].value);
    if (n > 0) member_string(o, "audio_info", info + 1);
}

/* ours, as one member that sorts where Icecast would put it: right after
 * audio_info. Its keys are in strcmp order too. */
static void member_audiostream(struct out *o, const struct status_source *s)
{
    put_cstr(o, "\"audiostream\":{");
    member_number(o, "bytes_sent", s->bytes_sent);
    member_string(o, "device", s->device);
    member_string(o, "device_state", s->device_state);
    member_number(o, "drops", s->drops);
    member_number(o, "overruns", s->overruns);
    member_number(o, "skips", s->skips);
    if (!o->oom) o->p[o->len - 1] = '}';   /* the last member's comma */
    put(o, ",", 1);
}

/* One source object, its members in strcmp order as Icecast's stats tree
 * keeps them. "artist" is never there: Icecast's MP3 mounts have none. */
static void put_source(struct out *o, const struct status_source *s)
{
    put(o, "{", 1);
    member_audio_info(o, s);
    member_audiostream(o, s);
    if (s->bitrate_kbps) member_number(o, "bitrate", s->bitrate_kbps);
    if (s->channels) member_number(o, "channels", s->channels);
    member_string(o, "genre", s->genre);
    member_number(o, "listener_peak", s->listener_peak);
    member_number(o, "listeners", s->listeners);
    member_string(o, "listenurl", s->listenurl);
    if (s->samplerate) member_number(o, "samplerate", s->samplerate);
    member_string(o, "server_description", s->description);
    member_string(o, "server_name", s->name);
    member_string(o, "server_type", s->server_type);
    member_string(o, "server_url", s->url);
    member_dates(o, "stream_start", s->stream_start);
    member_string(o, "title", s->title);
    put_cstr(o, "\"dummy\":null}");
}

static int by_mount(const void *a, const void *b)
{
    const struct status_source *x = *(const struct status_source *const *)a;
    const struct status_source *y = *(const struct status_source *const *)b;
    const int c = strcmp(x->mount ? x->mount : "", y->mount ? y->mount : "");
    return c ? c : (x > y) - (x < y);  /* same mount: keep the given order */
}

/* No source: no member, and the server object ends with "dummy":null
 * all the same (Icecast's last global stat is one of those it hides).
 * One source: an object; several: an array of them. */
static int put_sources(struct out *o, const struct status_source *src, size_t n)
{
    if (n == 0) {
        put_cstr(o, "\"dummy\":null");
        return 0;
    }
    /* an array of pointers: sizeof(*sorted) is a pointer's size, as meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression): see above
    const struct status_source **sorted = malloc(n * sizeof(*sorted));
    if (!sorted) return -1;
    for (size_t i = 0; i < n; ++i) sorted[i] = &src[i];
    qsort(sorted, n, sizeof(*sorted), by_mount);   // NOLINT(bugprone-sizeof-expression): as above
    put_cstr(o, n > 1 ? "\"source\":[" : "\"source\":");
    for (size_t i = 0; i < n; ++i) {
        if (i) put(o, ",", 1);
        put_source(o, sorted[i]);
    }
    if (n > 1) put(o, "]", 1);
    free(sorted);
    return 0;
}

char *status_json_render(const struct status_server *srv, const struct status_source *src,
                         size_t n, size_t *len)
{
    struct out o = { NULL, 0, 0, 0 };
    put_cstr(&o, "{\"icestats\":{");
    member_string(&o, "admin", srv->admin);
    member_string(&o, "host", srv->host);
    member_string(&o, "location", srv->location);
    member_string(&o, "server_id", srv->server_id);
    member_dates(&o, "server_start", srv->server_start);
    if (put_sources(&o, src, n) != 0) o.oom = 1;
    put_cstr(&o, "}}");
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
