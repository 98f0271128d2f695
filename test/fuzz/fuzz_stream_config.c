/* libFuzzer target: the stream settings' validation (stream_config.c).
 * Input: "key\0value" pairs, each value tried as a string and, when it is
 * digits, as an integer. Whatever is accepted must hold the rules; nothing
 * may crash or leak. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream_config.h"
#include "title.h"
#include "utf8.h"

static void check(const struct stream_config *c)
{
    assert(c->device && c->device[0] != '\0');
    assert(c->channels == 1 || c->channels == 2);
    assert(c->quality <= 9 && c->burst_ms <= 60000 && c->queue_ms >= 500);
    assert(strlen(c->title) <= TITLE_MAX && utf8_valid(c->title, strlen(c->title)));
    for (const char *p = c->name; *p; ++p) assert((unsigned char)*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct stream_config c;
    if (stream_config_init(&c, "/live.mp3", err, sizeof(err)) != 0) return 0;
    char *buf = malloc(size + 2);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    for (size_t at = 0; at < size; ) {
        const char *key = buf + at;
        const char *value = key + strlen(key) + 1;
        if (value > buf + size) value = buf + size;
        stream_config_set(&c, key, STREAM_CONFIG_STRING, value, 0, err, sizeof(err));
        stream_config_set(&c, key, STREAM_CONFIG_INTEGER, "", strtoll(value, NULL, 10), err,
                          sizeof(err));
        at = (size_t)(value - buf) + strlen(value) + 1;
    }
    check(&c);
    stream_config_check(&c, err, sizeof(err));
    stream_config_free(&c);
    free(buf);
    return 0;
}
