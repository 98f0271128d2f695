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
    assert(c.burst_ms == 2000 && c.queue_ms == 5000 && strcmp(c.slow_listener, "skip") == 0);
    assert(c.max_listeners == 0 && c.public_ == 0 && c.metaint == 16000);
    assert(c.outage_ms == 10000);
    assert(c.device_wait_ms == 3000);
    assert(!*c.name && !*c.description && !*c.genre && !*c.url && !*c.title);
    assert(strcmp(c.cors_origin, "*") == 0);
    assert(stream_config_check(&c, err, sizeof(err)) == 0);
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

static void test_listener_keys(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    assert(set_int(&c, "burst-ms", 0) == 0 && c.burst_ms == 0);
    assert(set_int(&c, "queue-ms", 60000) == 0 && c.queue_ms == 60000);
    assert(set_str(&c, "slow-listener", "drop") == 0 && strcmp(c.slow_listener, "drop") == 0);
    assert(set_int(&c, "max-listeners", 100) == 0 && c.max_listeners == 100);
    assert(set_int(&c, "outage-ms", 0) == 0 && c.outage_ms == 0);
    assert(set_int(&c, "outage-ms", 3600000) == 0 && c.outage_ms == 3600000);
    assert(set_int(&c, "device-wait-ms", 0) == 0 && c.device_wait_ms == 0);
    assert(set_int(&c, "device-wait-ms", 60000) == 0 && c.device_wait_ms == 60000);
    assert(set_str(&c, "name", "Radio \xC3\xA9t\xC3\xA9") == 0);        /* UTF-8 */
    assert(set_str(&c, "name", "") == 0 && !*c.name);               /* "" is "not sent" */
    assert(set_str(&c, "url", "https://radio.example/") == 0);
    assert(set_int(&c, "public", 1) == 0 && c.public_ == 1);
    assert(set_int(&c, "metaint", 8192) == 0 && c.metaint == 8192);
    assert(set_str(&c, "title", "Artist - It's \"live\"") == 0);
    assert(set_str(&c, "cors-origin", "") == 0 && !*c.cors_origin);
    assert(set_str(&c, "cors-origin", "https://player.example:8443") == 0);
    expect_refused(set_int(&c, "burst-ms", 60001), "\"burst-ms\"", "60001");
    expect_refused(set_int(&c, "queue-ms", 499), "\"queue-ms\"", "499");
    expect_refused(set_str(&c, "slow-listener", "kick"), "\"slow-listener\"", "kick");
    expect_refused(set_int(&c, "max-listeners", -1), "\"max-listeners\"", "-1");
    expect_refused(set_int(&c, "outage-ms", 3600001), "\"outage-ms\"", "3600001");
    expect_refused(set_int(&c, "device-wait-ms", 60001), "\"device-wait-ms\"", "60001");
    expect_refused(set_str(&c, "name", "Evil\r\nSet-Cookie: x=1"), "\"name\"", NULL);
    expect_refused(set_str(&c, "genre", "Latin-1 \xE9"), "\"genre\"", NULL);
    expect_refused(set_int(&c, "public", 2), "\"public\"", "2");
    expect_refused(set_int(&c, "metaint", 0), "\"metaint\"", "0");
    expect_refused(set_int(&c, "metaint", 65537), "\"metaint\"", "65537");
    expect_refused(set_str(&c, "cors-origin", "https://a.example, https://b.example"),
                   "\"cors-origin\"", NULL);
    expect_refused(set_str(&c, "cors-origin", "radio.example"), "\"cors-origin\"", NULL);
    char long_title[1026];
    memset(long_title, 'a', sizeof(long_title) - 1);
    long_title[1025] = '\0';
    expect_refused(set_str(&c, "title", long_title), "\"title\"", NULL);
    long_title[1024] = '\0';
    assert(set_str(&c, "title", long_title) == 0 && strlen(c.title) == 1024);
    /* between keys: a burst longer than the queue would start a listener
     * further behind than it may fall; the default burst is lowered to fit */
    struct stream_config d;
    assert(stream_config_init(&d, "/short.mp3", err, sizeof(err)) == 0);
    assert(set_int(&d, "queue-ms", 1000) == 0 && stream_config_check(&d, err, sizeof(err)) == 0);
    assert(d.burst_ms == 1000);
    stream_config_free(&d);
    assert(set_int(&c, "queue-ms", 2000) == 0 && set_int(&c, "burst-ms", 3000) == 0);
    assert(stream_config_check(&c, err, sizeof(err)) == -1);
    assert(strstr(err, "\"burst-ms\" => 3000") && strstr(err, "\"queue-ms\" => 2000"));
    assert(set_int(&c, "burst-ms", 2000) == 0 && stream_config_check(&c, err, sizeof(err)) == 0);
    stream_config_free(&c);
}

/* Control characters (utf8.h: C0, DEL and C1) are refused in every text
 * key and in the device, naming the key; the boundaries U+001F/U+0020,
 * U+007F, U+0080/U+009F and U+00A0 (no-break space) */
static void test_control_characters(void)
{
    static const char *const text_keys[] = { "name", "description", "genre", "url", "title" };
    /* (no literal is split in two here: a letter after \x is never a hex digit) */
    static const char *const controls[] = {
        "a\x01z", "\x1f", "a\x7f", "a\xC2\x80", "a\xC2\x85z", "a\xC2\x9B[31m",
        "a\xC2\x9F", "\xC2\x9Dx;y\x07" };
    static const char *const text[] = {
        "a b", "~", "a\xC2\xA0z", "\xC2\xBF\xC3\x85\xC3\x9B", "\xE2\x80\xA8" };
    struct stream_config c;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    for (size_t k = 0; k < sizeof(text_keys) / sizeof(*text_keys); ++k) {
        char key[32];
        (void)snprintf(key, sizeof(key), "\"%s\"", text_keys[k]);
        for (size_t i = 0; i < sizeof(controls) / sizeof(*controls); ++i)
            expect_refused(set_str(&c, text_keys[k], controls[i]), key, NULL);
        for (size_t i = 0; i < sizeof(text) / sizeof(*text); ++i)
            assert(set_str(&c, text_keys[k], text[i]) == 0);
    }
    assert(strcmp(c.title, "\xE2\x80\xA8") == 0);   /* the last accepted, none refused */
    for (size_t i = 0; i < sizeof(controls) / sizeof(*controls); ++i)
        expect_refused(set_str(&c, "device", controls[i]), "\"device\"", NULL);
    assert(set_str(&c, "device", "plughw:CARD=USB\xC2\xA0z") == 0);
    assert(strcmp(c.device, "plughw:CARD=USB\xC2\xA0z") == 0);
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

/* admin-users: a list of names; none listed lets any authenticated user */
static void test_admin_users(void)
{
    struct stream_config c;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    assert(c.admin_users_n == 0 && stream_config_admin_allows(&c, "anyone"));
    const char *const two[] = { "dj1", "dj2" };
    assert(stream_config_set_list(&c, "admin-users", two, 2, err, sizeof(err)) == 0);
    assert(stream_config_admin_allows(&c, "dj1") && stream_config_admin_allows(&c, "dj2"));
    assert(!stream_config_admin_allows(&c, "dj3") && !stream_config_admin_allows(&c, "DJ1"));
    assert(!stream_config_admin_allows(&c, ""));
    const char *const bad[] = { "dj1", "" };
    assert(stream_config_set_list(&c, "admin-users", bad, 2, err, sizeof(err)) == -1);
    assert(strstr(err, "\"admin-users\" entry 2 \"\"") != NULL);
    assert(stream_config_admin_allows(&c, "dj2"));          /* a refused list changes nothing */
    const char *const ctl[] = { "dj\xc2\x9b" };
    assert(stream_config_set_list(&c, "admin-users", ctl, 1, err, sizeof(err)) == -1);
    assert(set_str(&c, "admin-users", "dj1") == -1 && strstr(err, "must be a list") != NULL);
    assert(stream_config_set_list(&c, "device", two, 2, err, sizeof(err)) == -1);
    assert(strstr(err, "\"device\" must be a string") != NULL);
    assert(stream_config_set_list(&c, "devise", two, 2, err, sizeof(err)) == -1);
    assert(strstr(err, "unknown key \"devise\"") != NULL && strstr(err, "admin-users)") != NULL);
    stream_config_free(&c);
    assert(c.admin_users == NULL && c.admin_users_n == 0);
}

/* a copy owns its strings: it outlives the original, every value kept */
static void test_copy(void)
{
    struct stream_config c, d;
    assert(stream_config_init(&c, "/live.mp3", err, sizeof(err)) == 0);
    assert(set_str(&c, "device", "hw:1") == 0 && set_str(&c, "title", "On air") == 0);
    assert(stream_config_set(&c, "bitrate", STREAM_CONFIG_INTEGER, "", 64, err, sizeof(err)) == 0);
    const char *const two[] = { "dj1", "dj2" };
    assert(stream_config_set_list(&c, "admin-users", two, 2, err, sizeof(err)) == 0);
    assert(stream_config_copy(&d, &c) == 0);
    assert(d.path != c.path && d.device != c.device && d.admin_users != c.admin_users);
    stream_config_free(&c);
    assert(strcmp(d.path, "/live.mp3") == 0 && strcmp(d.device, "hw:1") == 0);
    assert(strcmp(d.title, "On air") == 0 && strcmp(d.slow_listener, "skip") == 0);
    assert(d.bitrate == 64 && d.burst_ms == 2000 && d.admin_users_n == 2);
    assert(stream_config_admin_allows(&d, "dj2") && !stream_config_admin_allows(&d, "dj3"));
    stream_config_free(&d);
}

int main(void)
{
    test_defaults();
    test_valid_values();
    test_invalid_values();
    test_bad_path();
    test_listener_keys();
    test_control_characters();
    test_admin_users();
    test_copy();
    printf("test_stream_config: ok\n");
    return 0;
}
