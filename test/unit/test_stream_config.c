/* Unit tests of the stream settings' validation (mod_audiostream/stream_config.c). */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "stream_config.h"

static char err[512];

static int set_int(struct stream_config *c, const char *key, long long v)
{
    err[0] = '\0';
    return stream_config_set(c, key, STREAM_CONFIG_INTEGER, "", v, err, sizeof(err));
}

static int set_str(struct stream_config *c, const char *key, const char *v)
{
    err[0] = '\0';
    return stream_config_set(c, key, STREAM_CONFIG_STRING, v, 0, err, sizeof(err));
}

static void test_defaults(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    assert(strcmp(c.path, "/live.mp3") == 0 && strcmp(c.device, "default") == 0);
    assert(c.rate == 44100 && c.channels == 2 && c.bitrate == 128 && c.quality == 5);
    assert(c.bit_reservoir == 0 && c.writes_per_second == 40000);
    stream_config_free(&c);
}

static void test_valid_values(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "/radio/", err, sizeof(err)) == 0);
    assert(set_str(&c, "device", "hw:1,0") == 0 && strcmp(c.device, "hw:1,0") == 0);
    assert(set_int(&c, "rate", 48000) == 0 && c.rate == 48000);
    assert(set_int(&c, "rate", 32000) == 0 && c.rate == 32000);
    assert(set_int(&c, "channels", 1) == 0 && c.channels == 1);
    assert(set_int(&c, "bitrate", 320) == 0 && c.bitrate == 320);
    assert(set_int(&c, "bitrate", 32) == 0 && c.bitrate == 32);
    assert(set_int(&c, "quality", 0) == 0 && c.quality == 0);
    assert(set_int(&c, "quality", 9) == 0 && c.quality == 9);
    assert(set_str(&c, "bitrate", "192") == 0 && c.bitrate == 192); /* digits as a string */
    assert(set_int(&c, "bit-reservoir", 1) == 0 && c.bit_reservoir == 1);
    assert(set_int(&c, "writes-per-second", 100) == 0 && c.writes_per_second == 100);
    stream_config_free(&c);
}

/* every refusal names the key and the value it was given */
static void expect_refused(int rc, const char *key, const char *value)
{
    assert(rc == -1);
    assert(strstr(err, key) != NULL);
    assert(value == NULL || strstr(err, value) != NULL);
}

static void test_invalid_values(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    expect_refused(set_int(&c, "rate", 22050), "\"rate\"", "22050");
    expect_refused(set_int(&c, "channels", 3), "\"channels\"", "3");
    expect_refused(set_int(&c, "channels", 0), "\"channels\"", "0");
    expect_refused(set_int(&c, "bitrate", 100), "\"bitrate\"", "100");
    expect_refused(set_int(&c, "bitrate", -128), "\"bitrate\"", "-128");
    expect_refused(set_int(&c, "quality", 10), "\"quality\"", "10");
    expect_refused(set_int(&c, "bit-reservoir", 2), "\"bit-reservoir\"", "2");
    expect_refused(set_int(&c, "writes-per-second", 99), "\"writes-per-second\"", "99");
    expect_refused(set_str(&c, "device", ""), "\"device\"", "\"\"");
    expect_refused(set_str(&c, "rate", "fast"), "\"rate\"", "fast");
    expect_refused(set_str(&c, "rate", "44100x"), "\"rate\"", "44100x");
    expect_refused(set_int(&c, "device", 5), "\"device\"", "5");
    expect_refused(set_int(&c, "devise", 5), "\"devise\"", NULL);
    assert(strstr(err, "unknown key") && strstr(err, "device"));  /* lists the known keys */
    expect_refused(stream_config_set(&c, "rate", STREAM_CONFIG_OTHER, "", 0, err, sizeof(err)),
                   "\"rate\"", "integer");
    /* nothing refused was applied */
    assert(c.rate == 44100 && c.channels == 2 && c.bitrate == 128 && c.quality == 5);
    assert(strcmp(c.device, "default") == 0);
    stream_config_free(&c);
}

static void test_bad_path(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "live.mp3", err, sizeof(err)) == -1);
    assert(strstr(err, "\"live.mp3\"") && strstr(err, "must start with"));
    assert(stream_config_init(&c, "", err, sizeof(err)) == -1);
    stream_config_free(&c);
}

int main(void)
{
    test_defaults();
    test_valid_values();
    test_invalid_values();
    test_bad_path();
    printf("test_stream_config: ok\n");
    return 0;
}
