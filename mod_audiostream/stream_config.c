/* Stream settings: one table of keys, defaults in one place; see stream_config.h. */
#include "stream_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*uint_check)(unsigned long long v);

struct setting {
    const char *key;
    enum stream_config_type type;
    size_t offset;          /* of a char * or an unsigned in struct stream_config */
    uint_check valid;       /* integers only */
    const char *allowed;    /* said when the value is refused */
};

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

static const struct setting settings[] = {
    { "device", STREAM_CONFIG_STRING, offsetof(struct stream_config, device), NULL,
      "a non-empty ALSA PCM name" },
    { "rate", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, rate), valid_rate,
      "32000, 44100 or 48000 (Hz)" },
    { "channels", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, channels), valid_channels,
      "1 or 2" },
    { "bitrate", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, bitrate), valid_bitrate,
      "an MPEG-1 Layer III bitrate: 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256 or 320 (kbit/s)" },
    { "quality", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, quality), valid_quality,
      "0 (best) to 9 (fastest)" },
    { "bit-reservoir", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, bit_reservoir),
      valid_flag, "0 (off: lowest latency) or 1 (on: LAME's bit reservoir, ~50 ms more latency)" },
    { "writes-per-second", STREAM_CONFIG_INTEGER, offsetof(struct stream_config, writes_per_second),
      valid_writes_per_second, "100 to 10000000 (socket writes a second for all its listeners)" },
};

int stream_config_init(struct stream_config *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (path[0] != '/') {
        snprintf(err, errlen, "stream path \"%s\" must start with \"/\"", path);
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
    if (!c->path || !c->device) {
        stream_config_free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void stream_config_free(struct stream_config *c)
{
    free(c->path);
    free(c->device);
    c->path = c->device = NULL;
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
        snprintf(err, errlen, "\"%s\" => %lld is not valid: use %s", s->key, num, s->allowed);
    else if (type == STREAM_CONFIG_STRING)
        snprintf(err, errlen, "\"%s\" => \"%s\" is not valid: use %s", s->key, str, s->allowed);
    else
        snprintf(err, errlen, "\"%s\" must be %s", s->key,
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

static int unknown_key(const char *key, char *err, size_t errlen)
{
    int n = snprintf(err, errlen, "unknown key \"%s\" (known:", key);
    for (size_t i = 0; i < sizeof(settings) / sizeof(*settings) && n > 0 && (size_t)n < errlen; ++i)
        n += snprintf(err + n, errlen - (size_t)n, " %s", settings[i].key);
    if (n > 0 && (size_t)n < errlen) snprintf(err + n, errlen - (size_t)n, ")");
    return -1;
}

int stream_config_set(struct stream_config *c, const char *key, enum stream_config_type type,
                      const char *str, long long num, char *err, size_t errlen)
{
    const struct setting *s = NULL;
    for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); ++i)
        if (strcmp(settings[i].key, key) == 0) s = &settings[i];
    if (!s) return unknown_key(key, err, errlen);
    char *field = (char *)c + s->offset;
    if (s->type == STREAM_CONFIG_STRING) {
        if (type != STREAM_CONFIG_STRING || str[0] == '\0')
            return refuse(s, type, str, num, err, errlen);
        if (set_string((char **)(void *)field, str) == 0) return 0;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    unsigned long long v;
    if (type == STREAM_CONFIG_OTHER || to_integer(type, str, num, &v) != 0 || !s->valid(v))
        return refuse(s, type, str, num, err, errlen);
    *(unsigned *)(void *)field = (unsigned)v;
    return 0;
}
