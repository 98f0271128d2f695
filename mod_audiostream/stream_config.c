/* Stream settings: one table of keys, defaults in one place; see stream_config.h. */
#include "stream_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icy.h"
#include "title.h"
#include "utf8.h"

typedef int (*uint_check)(unsigned long long v);
typedef int (*str_check)(const char *s);

struct setting {
    const char *key;
    enum stream_config_type type;
    size_t offset;          /* of a char * or an unsigned in struct stream_config */
    uint_check valid;       /* integers */
    str_check valid_str;    /* strings */
    const char *allowed;    /* said when the value is refused */
};

/* text that goes into a response header, a log line or ICY metadata: no
 * control character (C0, DEL or C1, utf8.h) can end the header early,
 * start another (response splitting) or reach a terminal as an escape */
static int no_controls(const char *s)
{
    return !utf8_has_control(s, strlen(s));
}

static int valid_device(const char *s)
{
    return s[0] != '\0' && no_controls(s);
}

/* names, the title and the like: they go into response headers and ICY
 * metadata, and TITLE_MAX is long for any of them */
static int valid_text(const char *s)
{
    const size_t n = strlen(s);
    return n <= TITLE_MAX && no_controls(s) && utf8_valid(s, n);
}

static int valid_slow_listener(const char *s)
{
    return strcmp(s, "skip") == 0 || strcmp(s, "drop") == 0;
}

/* "*", or one origin as browsers send it: scheme://host[:port] */
static int valid_origin(const char *s)
{
    if (s[0] == '\0' || strcmp(s, "*") == 0) return 1;
    const char *host = strncmp(s, "http://", 7) == 0 ? s + 7
                     : strncmp(s, "https://", 8) == 0 ? s + 8 : NULL;
    if (!host || !*host || strlen(s) > 256) return 0;
    for (const char *p = host; *p; ++p)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:", *p))
            return 0;
    return 1;
}

static int valid_rate(unsigned long long v)
{
    return v == 32000 || v == 44100 || v == 48000;
}

static int valid_channels(unsigned long long v)
{
    return v == 1 || v == 2;
}

static int valid_bitrate(unsigned long long v)
{
    static const unsigned short mpeg1_layer3[] =
        { 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 };
    for (size_t i = 0; i < sizeof(mpeg1_layer3) / sizeof(*mpeg1_layer3); ++i)
        if (v == mpeg1_layer3[i]) return 1;
    return 0;
}

static int valid_quality(unsigned long long v)
{
    return v <= 9;
}

static int valid_flag(unsigned long long v)
{
    return v <= 1;
}

static int valid_writes_per_second(unsigned long long v)
{
    return v >= 100 && v <= 10000000;
}

static int valid_burst_ms(unsigned long long v)
{
    return v <= 60000;
}

static int valid_queue_ms(unsigned long long v)
{
    return v >= 500 && v <= 60000;
}

static int valid_max_listeners(unsigned long long v)
{
    return v <= 1000000;
}

static int valid_outage_ms(unsigned long long v)
{
    return v <= 3600000;
}

static int valid_device_wait_ms(unsigned long long v)
{
    return v <= 60000;
}

static int valid_metaint(unsigned long long v)
{
    return v >= ICY_METAINT_MIN && v <= ICY_METAINT_MAX;
}

#define INT(key, field, check, allowed) \
    { key, STREAM_CONFIG_INTEGER, offsetof(struct stream_config, field), check, NULL, allowed }
#define STR(key, field, check, allowed) \
    { key, STREAM_CONFIG_STRING, offsetof(struct stream_config, field), NULL, check, allowed }

#define TEXT_ALLOWED "UTF-8 text without control characters, at most 1024 bytes"

static const struct setting settings[] = {
    STR("device", device, valid_device, "a non-empty ALSA PCM name"),
    INT("rate", rate, valid_rate, "32000, 44100 or 48000 (Hz)"),
    INT("channels", channels, valid_channels, "1 or 2"),
    INT("bitrate", bitrate, valid_bitrate,
        "an MPEG-1 Layer III bitrate: 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256 or 320 (kbit/s)"),
    INT("quality", quality, valid_quality, "0 (best) to 9 (fastest)"),
    INT("bit-reservoir", bit_reservoir, valid_flag,
        "0 (off: lowest latency) or 1 (on: LAME's bit reservoir, ~50 ms more latency)"),
    INT("writes-per-second", writes_per_second, valid_writes_per_second,
        "100 to 10000000 (socket writes a second for all its listeners)"),
    INT("burst-ms", burst_ms, valid_burst_ms, "0 (off) to 60000 (ms of audio a new listener gets at once)"),
    INT("queue-ms", queue_ms, valid_queue_ms, "500 to 60000 (ms a listener may fall behind live)"),
    STR("slow-listener", slow_listener, valid_slow_listener,
        "\"skip\" (to live) or \"drop\" (disconnect)"),
    INT("max-listeners", max_listeners, valid_max_listeners, "0 (no limit) to 1000000"),
    INT("outage-ms", outage_ms, valid_outage_ms,
        "0 (close listeners at once) to 3600000 (ms listeners get silence while the device is lost)"),
    INT("device-wait-ms", device_wait_ms, valid_device_wait_ms,
        "0 (503 at once) to 60000 (ms a new listener waits for a device that is not live)"),
    STR("name", name, valid_text, TEXT_ALLOWED),
    STR("description", description, valid_text, TEXT_ALLOWED),
    STR("genre", genre, valid_text, TEXT_ALLOWED),
    STR("url", url, valid_text, TEXT_ALLOWED),
    INT("public", public_, valid_flag, "0 or 1"),
    INT("metaint", metaint, valid_metaint, "1 to 65536 (audio bytes between ICY metadata blocks)"),
    STR("title", title, valid_text, TEXT_ALLOWED),
    STR("cors-origin", cors_origin, valid_origin,
        "\"*\", \"\" (no CORS) or one origin such as \"https://radio.example\""),
};

#define NSETTINGS (sizeof(settings) / sizeof(*settings))


static char **string_field(struct stream_config *c, size_t i)
{
    return (char **)(void *)((char *)c + settings[i].offset);
}

static const char *string_value(const struct stream_config *c, size_t i)
{
    return *(char *const *)(const void *)((const char *)c + settings[i].offset);
}

static int strings_allocated(const struct stream_config *c)
{
    for (size_t i = 0; i < NSETTINGS; ++i)
        if (settings[i].type == STREAM_CONFIG_STRING
            && !string_value(c, i))
            return 0;
    return 1;
}

int stream_config_init(struct stream_config *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (path[0] != '/') {
        (void)snprintf(err, errlen, "stream path \"%s\" must start with \"/\"", path);
        return -1;
    }
    c->path = strdup(path);
    c->device = strdup("default");
    c->rate = 44100;
    c->channels = 2;
    c->bitrate = 128;
    c->quality = 5;
    c->bit_reservoir = 0;
    c->writes_per_second = 40000;
    c->burst_ms = 2000;
    c->queue_ms = 5000;
    c->slow_listener = strdup("skip");
    c->max_listeners = 0;
    c->outage_ms = 10000;
    c->device_wait_ms = 3000;
    c->name = strdup("");
    c->description = strdup("");
    c->genre = strdup("");
    c->url = strdup("");
    c->public_ = 0;
    c->metaint = ICY_METAINT_DEFAULT;
    c->title = strdup("");
    c->cors_origin = strdup("*");
    if (!c->path || !strings_allocated(c)) {
        stream_config_free(c);
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void stream_config_free(struct stream_config *c)
{
    for (size_t i = 0; i < NSETTINGS; ++i) {
        if (settings[i].type != STREAM_CONFIG_STRING) continue;
        char ** const field = string_field(c, i);
        free(*field);
        *field = NULL;
    }
    free(c->path);
    c->path = NULL;
    for (size_t i = 0; i < c->admin_users_n; ++i) free(c->admin_users[i]);
    free(c->admin_users);
    c->admin_users = NULL;
    c->admin_users_n = 0;
}

int stream_config_copy(struct stream_config *dst, const struct stream_config *src)
{
    *dst = *src;
    /* nothing of src's is freed if a copy fails */
    dst->path = NULL;
    for (size_t i = 0; i < NSETTINGS; ++i)
        if (settings[i].type == STREAM_CONFIG_STRING) *string_field(dst, i) = NULL;
    dst->admin_users = NULL;
    dst->admin_users_n = 0;
    int ok = (dst->path = strdup(src->path)) != NULL;
    for (size_t i = 0; ok && i < NSETTINGS; ++i)
        if (settings[i].type == STREAM_CONFIG_STRING)
            ok = (*string_field(dst, i) = strdup(string_value(src, i))) != NULL;
    if (ok && src->admin_users_n)
        ok = stream_config_set_list(dst, "admin-users", (const char *const *)src->admin_users,
                                    src->admin_users_n, NULL, 0) == 0;
    if (ok) return 0;
    stream_config_free(dst);
    return -1;
}

int stream_config_check(struct stream_config *c, char *err, size_t errlen)
{
    if (!c->burst_ms_set && c->burst_ms > c->queue_ms) c->burst_ms = c->queue_ms;
    if (c->burst_ms > c->queue_ms) {
        (void)snprintf(err, errlen,
                       "\"burst-ms\" => %u is more than \"queue-ms\" => %u: a listener "
                       "would start further behind live than it may fall",
                       c->burst_ms, c->queue_ms);
        return -1;
    }
    return 0;
}

/* integers may also be written as a string of decimal digits, as lighttpd
 * itself accepts for its numeric options */
static int to_integer(enum stream_config_type type, const char *str, long long num,
                      unsigned long long *out)
{
    if (type == STREAM_CONFIG_INTEGER) {
        if (num < 0) return -1;
        *out = (unsigned long long)num;
        return 0;
    }
    if (type != STREAM_CONFIG_STRING || str[0] < '0' || str[0] > '9') return -1;
    char *end;
    errno = 0;
    *out = strtoull(str, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

static int refuse(const struct setting *s, enum stream_config_type type, const char *str,
                  long long num, char *err, size_t errlen)
{
    if (type == STREAM_CONFIG_INTEGER)
        (void)snprintf(err, errlen, "\"%s\" => %lld is not valid: use %s", s->key, num,
                       s->allowed);
    else if (type == STREAM_CONFIG_STRING)
        (void)snprintf(err, errlen, "\"%s\" => \"%s\" is not valid: use %s", s->key, str,
                       s->allowed);
    else
        (void)snprintf(err, errlen, "\"%s\" must be %s", s->key,
                       s->type == STREAM_CONFIG_STRING ? "a string" : "an integer");
    return -1;
}

static int set_string(char **field, const char *str)
{
    char *copy = strdup(str);
    if (!copy) return -1;
    free(*field);
    *field = copy;
    return 0;
}

#define LIST_KEY "admin-users"      /* the one key whose value is a list */
#define USER_MAX 256
#define USERS_ALLOWED "a list of user names as mod_auth knows them, e.g. ( \"dj1\", \"dj2\" )"

static int unknown_key(const char *key, char *err, size_t errlen)
{
    int n = snprintf(err, errlen, "unknown key \"%s\" (known:", key);
    for (size_t i = 0; i < NSETTINGS && n > 0 && (size_t)n < errlen; ++i)
        n += snprintf(err + n, errlen - (size_t)n, " %s", settings[i].key);
    if (n > 0 && (size_t)n < errlen)
        (void)snprintf(err + n, errlen - (size_t)n, " " LIST_KEY ")");
    return -1;
}

/* a user name: text as the other keys take it, not empty, not long */
static int valid_user(const char *s)
{
    return s[0] != '\0' && strlen(s) <= USER_MAX && valid_text(s);
}

int stream_config_set_list(struct stream_config *c, const char *key, const char *const *items,
                           size_t n, char *err, size_t errlen)
{
    if (strcmp(key, LIST_KEY) != 0) {
        if (stream_config_set(c, key, STREAM_CONFIG_OTHER, "", 0, err, errlen) == 0) return 0;
        return -1;  /* its own message: unknown, or not a list */
    }
    for (size_t i = 0; i < n; ++i) {
        if (valid_user(items[i])) continue;
        (void)snprintf(err, errlen, "\"" LIST_KEY "\" entry %zu \"%s\" is not valid: use %s",
                       i + 1, items[i], USERS_ALLOWED);
        return -1;
    }
    char **users = calloc(n ? n : 1, sizeof(*users));
    size_t done = 0;
    while (users && done < n && (users[done] = strdup(items[done])) != NULL) ++done;
    if (!users || done < n) {
        while (users && done > 0) free(users[--done]);
        free(users);
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->admin_users_n; ++i) free(c->admin_users[i]);
    free(c->admin_users);
    c->admin_users = users;
    c->admin_users_n = n;
    return 0;
}

int stream_config_admin_allows(const struct stream_config *c, const char *user)
{
    if (c->admin_users_n == 0) return 1;
    for (size_t i = 0; i < c->admin_users_n; ++i)
        if (strcmp(c->admin_users[i], user) == 0) return 1;
    return 0;
}

int stream_config_set(struct stream_config *c, const char *key, enum stream_config_type type,
                      const char *str, long long num, char *err, size_t errlen)
{
    const struct setting *s = NULL;
    for (size_t i = 0; i < NSETTINGS; ++i)
        if (strcmp(settings[i].key, key) == 0) s = &settings[i];
    if (!s && strcmp(key, LIST_KEY) == 0) {
        (void)snprintf(err, errlen, "\"" LIST_KEY "\" must be %s", USERS_ALLOWED);
        return -1;
    }
    if (!s) return unknown_key(key, err, errlen);
    char *field = (char *)c + s->offset;
    if (s->type == STREAM_CONFIG_STRING) {
        if (type != STREAM_CONFIG_STRING || !s->valid_str(str))
            return refuse(s, type, str, num, err, errlen);
        if (set_string((char **)(void *)field, str) == 0) return 0;
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    unsigned long long v;
    if (type == STREAM_CONFIG_OTHER || to_integer(type, str, num, &v) != 0 || !s->valid(v))
        return refuse(s, type, str, num, err, errlen);
    *(unsigned *)(void *)field = (unsigned)v;
    if (s->offset == offsetof(struct stream_config, burst_ms)) c->burst_ms_set = 1;
    return 0;
}
