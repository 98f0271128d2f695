/* Unit tests of the /status-json.xsl document (mod_audiostream/status_json.c):
 * whole documents compared byte for byte with what Icecast 2.4.4 writes. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status_json.h"

static void use_tz(const char *tz)
{
    assert(setenv("TZ", tz, 1) == 0);
    tzset();
}

static void expect(const struct status_server *srv, const struct status_source *src, size_t n,
                   const char *want)
{
    size_t len = 0;
    char *got = status_json_render(srv, src, n, &len);
    assert(got);
    if (strcmp(got, want) != 0) fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
    assert(strcmp(got, want) == 0 && len == strlen(want));
    free(got);
}

static const struct status_server server = {
    .admin = "icemaster@localhost", .host = "localhost", .location = "Earth",
    .server_id = "Icecast 2.4.4", .server_start = 1700000000,
};

#define SERVER_UTC "{\"icestats\":{\"admin\":\"icemaster@localhost\",\"host\":\"localhost\"," \
    "\"location\":\"Earth\",\"server_id\":\"Icecast 2.4.4\"," \
    "\"server_start\":\"Tue, 14 Nov 2023 22:13:20 +0000\"," \
    "\"server_start_iso8601\":\"2023-11-14T22:13:20+0000\","

static struct status_source studio(void)
{
    struct status_source s = {
        .mount = "/live.mp3", .listenurl = "http://127.0.0.1:8000/live.mp3",
        .name = "Studio A", .description = "Live from the studio", .genre = "talk",
        .url = "http://example.org/", .title = "Artist - Title", .server_type = "audio/mpeg",
        .bitrate_kbps = 128, .samplerate = 44100, .channels = 2,
        .listeners = 3, .listener_peak = 7, .stream_start = 1764150486,
        .bytes_sent = 123456789012ULL, .skips = 1, .drops = 2, .overruns = 3,
        .device = "hw:0", .device_state = "live",
    };
    return s;
}

#define STUDIO_UTC "{\"audio_info\":\"bitrate=128;channels=2;samplerate=44100\"," \
    "\"audiostream\":{\"bytes_sent\":123456789012,\"device\":\"hw:0\",\"device_state\":\"live\"," \
    "\"drops\":2,\"overruns\":3,\"skips\":1}," \
    "\"bitrate\":128,\"channels\":2,\"genre\":\"talk\",\"listener_peak\":7,\"listeners\":3," \
    "\"listenurl\":\"http://127.0.0.1:8000/live.mp3\",\"samplerate\":44100," \
    "\"server_description\":\"Live from the studio\",\"server_name\":\"Studio A\"," \
    "\"server_type\":\"audio/mpeg\",\"server_url\":\"http://example.org/\"," \
    "\"stream_start\":\"Wed, 26 Nov 2025 09:48:06 +0000\"," \
    "\"stream_start_iso8601\":\"2025-11-26T09:48:06+0000\"," \
    "\"title\":\"Artist - Title\",\"dummy\":null}"

/* a second stream, mono, no URL, no title yet, its device unplugged */
static struct status_source backup(void)
{
    struct status_source s = {
        .mount = "/backup.mp3", .listenurl = "http://127.0.0.1:8000/backup.mp3",
        .name = STATUS_DEFAULT_NAME, .description = STATUS_DEFAULT_DESCRIPTION,
        .genre = STATUS_DEFAULT_GENRE, .server_type = "audio/mpeg",
        .bitrate_kbps = 64, .samplerate = 48000, .channels = 1,
        .stream_start = 1751371200, .device = "hw:1", .device_state = "absent",
    };
    return s;
}

#define BACKUP_UTC "{\"audio_info\":\"bitrate=64;channels=1;samplerate=48000\"," \
    "\"audiostream\":{\"bytes_sent\":0,\"device\":\"hw:1\",\"device_state\":\"absent\"," \
    "\"drops\":0,\"overruns\":0,\"skips\":0}," \
    "\"bitrate\":64,\"channels\":1,\"genre\":\"various\",\"listener_peak\":0,\"listeners\":0," \
    "\"listenurl\":\"http://127.0.0.1:8000/backup.mp3\",\"samplerate\":48000," \
    "\"server_description\":\"Unspecified description\",\"server_name\":\"Unspecified name\"," \
    "\"server_type\":\"audio/mpeg\"," \
    "\"stream_start\":\"Tue, 01 Jul 2025 12:00:00 +0000\"," \
    "\"stream_start_iso8601\":\"2025-07-01T12:00:00+0000\",\"dummy\":null}"

/* no source: no "source" member, and the server object ends with dummy */
static void test_no_source(void)
{
    use_tz("UTC");
    expect(&server, NULL, 0, SERVER_UTC "\"dummy\":null}}");
}

static void test_one_source_is_an_object(void)
{
    use_tz("UTC");
    const struct status_source s = studio();
    expect(&server, &s, 1, SERVER_UTC "\"source\":" STUDIO_UTC "}}");
}

/* several: an array, ordered by mount whatever the order given */
static void test_two_sources_are_an_array(void)
{
    use_tz("UTC");
    const struct status_source s[2] = { studio(), backup() };
    expect(&server, s, 2, SERVER_UTC "\"source\":[" BACKUP_UTC "," STUDIO_UTC "]}}");
    const struct status_source r[2] = { backup(), studio() };
    expect(&server, r, 2, SERVER_UTC "\"source\":[" BACKUP_UTC "," STUDIO_UTC "]}}");
}

/* what is unknown is left out: no audio_info, bitrate, channels,
 * samplerate; NULL strings have no member, here or in ours */
static void test_unknowns_left_out(void)
{
    use_tz("UTC");
    const struct status_server bare = { .server_start = 1700000000 };
    const struct status_source s = { .mount = "/m", .stream_start = 1700000000 };
    expect(&bare, &s, 1, "{\"icestats\":"
           "{\"server_start\":\"Tue, 14 Nov 2023 22:13:20 +0000\","
           "\"server_start_iso8601\":\"2023-11-14T22:13:20+0000\",\"source\":"
           "{\"audiostream\":{\"bytes_sent\":0,\"drops\":0,\"overruns\":0,\"skips\":0},"
           "\"listener_peak\":0,\"listeners\":0,"
           "\"stream_start\":\"Tue, 14 Nov 2023 22:13:20 +0000\","
           "\"stream_start_iso8601\":\"2023-11-14T22:13:20+0000\",\"dummy\":null}}}");
}

static void expect_dates(const char *tz, time_t t, const char *rfc, const char *iso)
{
    use_tz(tz);
    const struct status_server srv = { .server_start = t };
    char want[256];
    const int n = snprintf(want, sizeof(want), "{\"icestats\":{\"server_start\":\"%s\","
                           "\"server_start_iso8601\":\"%s\",\"dummy\":null}}", rfc, iso);
    assert(n > 0 && (size_t)n < sizeof(want));      /* a cut want would test nothing */
    expect(&srv, NULL, 0, want);
}

/* local time with its numeric zone, as Icecast's strftime "%z" */
static void test_dates_follow_the_time_zone(void)
{
    expect_dates("UTC", 1700000000, "Tue, 14 Nov 2023 22:13:20 +0000", "2023-11-14T22:13:20+0000");
    expect_dates("XST-5:30", 1700000000, "Wed, 15 Nov 2023 03:43:20 +0530",
                 "2023-11-15T03:43:20+0530");
    expect_dates("NST3:30", 1700000000, "Tue, 14 Nov 2023 18:43:20 -0330",
                 "2023-11-14T18:43:20-0330");
    /* the same zone in winter and in summer time */
    expect_dates("CET-1CEST,M3.5.0,M10.5.0/3", 1700000000, "Tue, 14 Nov 2023 23:13:20 +0100",
                 "2023-11-14T23:13:20+0100");
    expect_dates("CET-1CEST,M3.5.0,M10.5.0/3", 1751371200, "Tue, 01 Jul 2025 14:00:00 +0200",
                 "2025-07-01T14:00:00+0200");
    use_tz("UTC");
}

static void expect_string(const char *in, const char *want_json)
{
    use_tz("UTC");
    const struct status_server srv = { .admin = in, .server_start = 0 };
    char want[512];
    const int n = snprintf(want, sizeof(want), "{\"icestats\":{\"admin\":%s,"
                           "\"server_start\":\"Thu, 01 Jan 1970 00:00:00 +0000\","
                           "\"server_start_iso8601\":\"1970-01-01T00:00:00+0000\","
                           "\"dummy\":null}}", want_json);
    assert(n > 0 && (size_t)n < sizeof(want));      /* a cut want would test nothing */
    expect(&srv, NULL, 0, want);
}

static void test_escaping(void)
{
    expect_string("", "\"\"");
    expect_string("say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"");
    expect_string("a\tb\nc\rd", "\"a\\tb\\nc\\rd\"");
    /* every control of utf8.h's definition: C0, DEL and C1 */
    expect_string("\x01\x1f\x7f", "\"\\u0001\\u001F\\u007F\"");
    expect_string("a\xC2\x80\xC2\x85\xC2\x9B[31m\xC2\x9F" "b",
                  "\"a\\u0080\\u0085\\u009B[31m\\u009Fb\"");
    expect_string("\x7e\xC2\xA0\xC3\x85", "\"\x7e\xC2\xA0\xC3\x85\"");   /* text */
    /* well-formed UTF-8 passes: é, U+FFFF, 🎵 */
    expect_string("caf\xC3\xA9 \xEF\xBF\xBF \xF0\x9F\x8E\xB5",
                  "\"caf\xC3\xA9 \xEF\xBF\xBF \xF0\x9F\x8E\xB5\"");
#define FFFD "\xEF\xBF\xBD"
    expect_string("\x80", "\"" FFFD "\"");                               /* lone continuation */
    expect_string("caf\xE9", "\"caf" FFFD "\"");                         /* Latin-1 */
    expect_string("\xC3", "\"" FFFD "\"");                               /* cut at the end */
    expect_string("\xE2\x82" "A", "\"" FFFD "A\"");                      /* cut: one U+FFFD */
    expect_string("\xF0\x9F\x8E", "\"" FFFD "\"");
    expect_string("\xC0\xAF", "\"" FFFD FFFD "\"");                      /* overlong "/" */
    expect_string("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");             /* overlong "/" */
    expect_string("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");             /* a surrogate */
    expect_string("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");    /* past U+10FFFF */
    expect_string("\xF5\xFE\xFF", "\"" FFFD FFFD FFFD "\"");
    expect_string("\xC3\"", "\"" FFFD "\\\"\"");   /* the quote after a cut is still escaped */
#undef FFFD
}

/* a long title grows the buffer more than once, and comes out whole */
static void test_long_strings(void)
{
    use_tz("UTC");
    static char title[5000], want[20000];
    memset(title, '"', sizeof(title) - 1);
    struct status_source s = { .mount = "/m", .title = title, .stream_start = 0 };
    size_t len = 0;
    char *got = status_json_render(&server, &s, 1, &len);
    assert(got && len == strlen(got));
    char *t = strstr(got, "\"title\":\"");
    assert(t);
    t += strlen("\"title\":\"");
    size_t n = 0;
    for (size_t i = 0; i < sizeof(title) - 1; ++i) {
        want[n++] = '\\';
        want[n++] = '"';
    }
    memcpy(want + n, "\",\"dummy\":null}}}", 18);
    assert(strcmp(t, want) == 0);
    free(got);
}

int main(void)
{
    test_no_source();
    test_one_source_is_an_object();
    test_two_sources_are_an_array();
    test_unknowns_left_out();
    test_dates_follow_the_time_zone();
    test_escaping();
    test_long_strings();
    printf("test_status_json: ok\n");
    return 0;
}
