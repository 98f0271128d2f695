/* Streams on their own, without lighttpd: capture threads on the paced
 * test-tone device, encoders and rings, read the way the event loop reads
 * them. Run under ThreadSanitizer it checks the thread boundary.
 *   ALSA_CONFIG_PATH=...:asound.conf test_stream DEVICE [SECONDS]
 * DEVICE must deliver 44.1 kHz stereo. The shared-capture tests add a PCM of
 * their own to ALSA_CONFIG_PATH, EXCLUSIVE below (type testtone, exclusive 1:
 * a second open fails as on a busy card, which proves the device is opened
 * once), and FAILING (lost after a second, and absent while a file is), so
 * the testtone type must be defined there. */
#undef NDEBUG
#include <assert.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alsa_capture.h"
#include "mp3_frame.h"
#include "stream.h"

#define EXCLUSIVE "test_stream_exclusive"
#define FAILING "test_stream_failing"     /* lost 1 s after each start; present_path to open */
static char present_path[64];
#define MAX_READERS 2

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* one stream read as the loop reads it, and what its frames must say */
struct reader {
    struct stream *s;
    unsigned bitrate, channels;
    uint64_t pos, lost, bytes;
    double first, last;
    int messages;
    char message[512];          /* the first one */
};

static void reader_init(struct reader *r, struct stream *s)
{
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->bitrate = stream_settings(s)->bitrate;
    r->channels = stream_settings(s)->channels;
    r->pos = ring_end(stream_ring(s));
    stream_wake_on_frames(s, 1);
}

/* whole frames only, each with the stream's bitrate, channels and rate */
static void check_frames(const struct reader *r, const unsigned char *buf, size_t n)
{
    assert(mp3_frame_whole_prefix(buf, n) == n);
    struct mp3_frame_info fi;
    for (size_t off = 0; off < n; off += fi.length) {
        assert(mp3_frame_parse(buf + off, n - off, &fi) == 0);
        assert(fi.bitrate == r->bitrate && fi.channels == r->channels);
        assert(fi.sample_rate == stream_settings(r->s)->rate);
    }
}

static void reader_messages(struct reader *r)
{
    char msg[512];
    while (stream_take_message(r->s, msg, sizeof(msg))) {
        printf("message (%s): %s\n", stream_settings(r->s)->path, msg);
        assert(strstr(msg, "retrying") == NULL);    /* opened at the first try */
        if (r->messages++ == 0)   /* as big as msg: never cut */
            (void)snprintf(r->message, sizeof(r->message), "%s", msg);
    }
}

static void reader_wake(struct reader *r, double t)
{
    static unsigned char batch[16384];
    stream_drain_wake(r->s);
    reader_messages(r);
    size_t n;
    while ((n = ring_read(stream_ring(r->s), &r->pos, batch, sizeof(batch), &r->lost)) > 0) {
        check_frames(r, batch, n);
        /* LAME's look-ahead fills during the first frames: count from 0.5 s on */
        if (r->first == 0) r->first = t + 0.5;
        else if (t > r->first) r->bytes += n;
        r->last = t;
    }
}

/* polls the streams' wake fds for secs, as the event loop would */
static void read_streams(struct reader *r, int n, double secs)
{
    struct pollfd pfd[MAX_READERS];
    const double end = now() + secs;
    double t;
    while ((t = now()) < end) {
        for (int i = 0; i < n; ++i)
            pfd[i] = (struct pollfd){ .fd = stream_wake_fd(r[i].s), .events = POLLIN };
        assert(poll(pfd, (nfds_t)n, 1000) >= 1);
        for (int i = 0; i < n; ++i)
            if (pfd[i].revents & POLLIN) reader_wake(&r[i], t);
    }
}

/* the steady rate of one stream, checked against its bitrate */
static void reader_rate(const struct reader *r)
{
    const double rate = (double)r->bytes / (r->last - r->first),
                 want = (double)r->bitrate * 1000 / 8;
    printf("test_stream: %s %.0f bytes/s over %.1f s, lost %llu, overruns %lu\n",
           stream_settings(r->s)->path, rate, r->last - r->first,
           (unsigned long long)r->lost, stream_overruns(r->s));
    assert(r->lost == 0 && stream_overruns(r->s) == 0);
    assert(rate > want * 0.97 && rate < want * 1.03);
}

static void config(struct stream_config *c, const char *path, const char *device,
                   unsigned channels, unsigned bitrate)
{
    char err[512];
    assert(stream_config_init(c, path, err, sizeof(err)) == 0);
    assert(stream_config_set(c, "device", STREAM_CONFIG_STRING, device, 0, err, sizeof(err)) == 0);
    assert(stream_config_set(c, "channels", STREAM_CONFIG_INTEGER, "", channels, err, sizeof(err)) == 0);
    assert(stream_config_set(c, "bitrate", STREAM_CONFIG_INTEGER, "", bitrate, err, sizeof(err)) == 0);
}

static struct stream *new_stream(const struct stream_config *c)
{
    char err[512];
    struct stream *s = stream_new(c, err, sizeof(err));
    assert(s != NULL);
    return s;
}

/* stops through s, which must stop every stream of its capture promptly */
static void stop(struct stream *s, struct stream *other)
{
    const double t0 = now();
    stream_stop(s);
    const double stop_ms = (now() - t0) * 1000;
    printf("test_stream: stop %.0f ms\n", stop_ms);
    assert(stop_ms < 500);
    assert(!stream_is_live(s) && (!other || !stream_is_live(other)));
    stream_stop(s);                           /* again: nothing to do */
}

/* one stream on DEVICE: real-time pace, whole frames, a prompt stop */
static void test_one(const char *device, double secs)
{
    char err[512];
    struct stream_config cfg;
    config(&cfg, "/t", device, 2, 128);
    struct reader r;
    reader_init(&r, new_stream(&cfg));
    assert(stream_start(r.s, err, sizeof(err)) == 0);
    read_streams(&r, 1, secs + 1);
    assert(stream_is_live(r.s));
    reader_rate(&r);
    stop(r.s, NULL);
    assert(r.messages >= 1);                  /* "capturing ..." */
    stream_free(r.s);
    stream_config_free(&cfg);
}

/* is the exclusive device open? (the busy open proves the knob works) */
static int device_busy(void)
{
    char err[512];
    struct alsa_capture *ac = alsa_capture_open(EXCLUSIVE, 44100, 2, 1152, err, sizeof(err));
    if (ac) alsa_capture_close(ac);
    else assert(strstr(err, "busy") != NULL);
    return ac == NULL;
}

/* A mono 48 kbit/s and a stereo 128 kbit/s stream of one device: one open
 * of it, in stereo; each stream its own frames at its own rate. The mono
 * stream comes first, so its encoder is remade to take stereo in. */
static void test_shared(double secs)
{
    char err[512];
    struct stream_config low_cfg, live_cfg;
    config(&low_cfg, "/low.mp3", EXCLUSIVE, 1, 48);
    config(&live_cfg, "/live.mp3", EXCLUSIVE, 2, 128);
    assert(stream_same_capture(&low_cfg, &live_cfg, err, sizeof(err)) == 1);
    struct reader r[2];
    reader_init(&r[0], new_stream(&low_cfg));
    reader_init(&r[1], new_stream(&live_cfg));
    assert(stream_share_capture(r[1].s, r[0].s, err, sizeof(err)) == 0);
    assert(stream_share_capture(r[1].s, r[0].s, err, sizeof(err)) == 0);   /* already */
    assert(!device_busy());
    assert(stream_start(r[1].s, err, sizeof(err)) == 0);  /* any of them starts both */
    assert(stream_start(r[0].s, err, sizeof(err)) == 0);  /* running: nothing to do */
    read_streams(r, 2, secs + 1);
    assert(stream_is_live(r[0].s) && stream_is_live(r[1].s));
    assert(device_busy());                    /* held by the capture ... */
    reader_rate(&r[0]);
    reader_rate(&r[1]);
    /* ... opened once: the first stream logs it, naming the other */
    assert(r[0].messages == 1 && r[1].messages == 0);
    assert(strcmp(r[0].message, "device \"" EXCLUSIVE "\" (shared with \"/live.mp3\"): "
                  "capturing 44100 Hz, 2 channel(s), period 1152 frames") == 0);
    stop(r[1].s, r[0].s);
    assert(!device_busy());
    stream_free(r[0].s);                      /* the first before the other */
    stream_free(r[1].s);
    stream_config_free(&low_cfg);
    stream_config_free(&live_cfg);
}

/* until the capture's first stream says it captures */
static void wait_live(struct stream *s)
{
    struct reader r;
    reader_init(&r, s);
    stream_wake_on_frames(s, 0);              /* messages wake it all the same */
    const double end = now() + 3;
    while (!r.messages && now() < end) {
        struct pollfd pfd = { .fd = stream_wake_fd(s), .events = POLLIN };
        if (poll(&pfd, 1, 500) == 1) {
            stream_drain_wake(s);
            reader_messages(&r);
        }
    }
    assert(r.messages == 1 && strstr(r.message, "capturing") && stream_is_live(s));
}

/* Freeing the first stream while the capture runs stops it and leaves the
 * other on it; that one starts it again and now gets the messages. */
static void test_free_order(void)
{
    char err[512];
    struct stream_config a_cfg, b_cfg;
    config(&a_cfg, "/a", EXCLUSIVE, 2, 128);
    config(&b_cfg, "/b", EXCLUSIVE, 1, 48);
    struct stream *a = new_stream(&a_cfg), *b = new_stream(&b_cfg);
    assert(stream_share_capture(b, a, err, sizeof(err)) == 0);
    assert(stream_start(a, err, sizeof(err)) == 0);
    wait_live(a);
    stream_free(a);
    assert(!stream_is_live(b) && !device_busy());
    assert(stream_start(b, err, sizeof(err)) == 0);
    wait_live(b);
    stream_free(b);
    assert(!device_busy());
    stream_config_free(&a_cfg);
    stream_config_free(&b_cfg);
}

/* A reload's two generations: streams parked go on capturing (the
 * generation's configs freed meanwhile: they keep copies); the next takes a
 * capture on whole, its streams in any order, and frees one that it cannot
 * take whole (a stream gone, one more on its device, another bitrate), so
 * that the device is free again when adopt returns. */
static void test_park_adopt(void)
{
    char err[512];
    struct stream_config a_cfg, b_cfg, c_cfg, a64_cfg;
    config(&a_cfg, "/a", EXCLUSIVE, 2, 128);
    config(&b_cfg, "/b", EXCLUSIVE, 1, 48);
    struct stream *a = new_stream(&a_cfg), *b = new_stream(&b_cfg), *out[2];
    assert(stream_share_capture(b, a, err, sizeof(err)) == 0);
    assert(stream_start(a, err, sizeof(err)) == 0);
    wait_live(a);
    stream_park(a);
    stream_park(b);
    stream_config_free(&a_cfg);
    stream_config_free(&b_cfg);
    const uint64_t end = ring_end(stream_ring(a));
    (void)usleep(300 * 1000);
    assert(ring_end(stream_ring(a)) > end && stream_is_live(a));   /* it goes on, parked */
    config(&a_cfg, "/a", EXCLUSIVE, 2, 128);
    config(&b_cfg, "/b", EXCLUSIVE, 1, 48);
    const struct stream_config *both[2] = { &b_cfg, &a_cfg };
    stream_adopt_parked(both, 2, out);
    assert(out[0] == b && out[1] == a && stream_is_live(a) && device_busy());
    assert(strcmp(stream_settings(a)->path, "/a") == 0);

    /* the same, without /b: nothing is taken, and the device is closed */
    stream_park(a);
    stream_park(b);
    stream_adopt_parked(both + 1, 1, out);
    assert(out[0] == NULL && !device_busy());

    /* alone on its device: one more stream there, or another bitrate */
    config(&c_cfg, "/c", EXCLUSIVE, 2, 128);
    config(&a64_cfg, "/a", EXCLUSIVE, 2, 64);
    const struct stream_config *more[2] = { &a_cfg, &c_cfg }, *other[1] = { &a64_cfg };
    const struct stream_config *const *next[2] = { more, other };
    for (int i = 0; i < 2; ++i) {
        a = new_stream(&a_cfg);
        assert(stream_start(a, err, sizeof(err)) == 0);
        wait_live(a);
        stream_park(a);
        stream_adopt_parked(next[i], 2 - (size_t)i, out);
        assert(out[0] == NULL && (i == 1 || out[1] == NULL) && !device_busy());
    }
    stream_config_free(&a_cfg);
    stream_config_free(&b_cfg);
    stream_config_free(&c_cfg);
    stream_config_free(&a64_cfg);
}

/* what cannot share: another rate, another device, a capture that has
 * other streams or runs */
static void test_refusals(void)
{
    char err[512];
    struct stream_config live_cfg, low_cfg, other_cfg, late_cfg, third_cfg;
    config(&live_cfg, "/live.mp3", "hw:1", 2, 128);
    config(&low_cfg, "/low.mp3", "hw:1", 1, 48);
    assert(stream_config_set(&low_cfg, "rate", STREAM_CONFIG_INTEGER, "", 48000, err, sizeof(err)) == 0);
    static const char rate_error[] = "stream \"/low.mp3\" captures from device \"hw:1\" "
        "with \"/live.mp3\" at 44100 Hz: \"rate\" => 48000 must match";
    assert(stream_same_capture(&live_cfg, &low_cfg, err, sizeof(err)) == -1);
    assert(strcmp(err, rate_error) == 0);
    struct stream *live = new_stream(&live_cfg), *low = new_stream(&low_cfg);
    assert(stream_share_capture(low, live, err, sizeof(err)) == -1);
    printf("refused: %s\n", err);
    assert(strcmp(err, rate_error) == 0);

    config(&other_cfg, "/other.mp3", EXCLUSIVE, 2, 128);
    config(&late_cfg, "/late.mp3", EXCLUSIVE, 1, 48);
    config(&third_cfg, "/third.mp3", EXCLUSIVE, 1, 48);
    assert(stream_same_capture(&live_cfg, &other_cfg, err, sizeof(err)) == 0);
    struct stream *other = new_stream(&other_cfg), *late = new_stream(&late_cfg);
    struct stream *third = new_stream(&third_cfg);
    assert(stream_share_capture(other, live, err, sizeof(err)) == -1);
    printf("refused: %s\n", err);
    assert(strstr(err, "another device"));
    assert(stream_share_capture(late, other, err, sizeof(err)) == 0);
    assert(stream_share_capture(late, third, err, sizeof(err)) == -1);
    printf("refused: %s\n", err);
    assert(strstr(err, "shares another capture already"));
    assert(stream_start(other, err, sizeof(err)) == 0);
    assert(stream_share_capture(third, other, err, sizeof(err)) == -1);
    printf("refused: %s\n", err);
    assert(strstr(err, "share before starting"));

    stream_free(late);                        /* stops the capture other started */
    assert(!device_busy());
    struct stream *all[] = { live, low, other, third };
    /* arrays of pointers: sizeof(*all) is a pointer's size, as meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression): see above
    for (size_t i = 0; i < sizeof(all) / sizeof(*all); ++i) stream_free(all[i]);
    struct stream_config *cfgs[] = { &live_cfg, &low_cfg, &other_cfg, &late_cfg, &third_cfg };
    // NOLINTNEXTLINE(bugprone-sizeof-expression): as above
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(*cfgs); ++i) stream_config_free(cfgs[i]);
}

/* Polls s's wake fd until `until`, reading its frames (all whole, all
 * the stream's); returns the bytes read, sets *over_at when the outage
 * turned over, counts the messages that contain `what` in *seen. */
static uint64_t outage_read(struct stream *s, uint64_t *pos, double until, double *over_at,
                            const char *what, int *seen)
{
    static unsigned char batch[16384];
    struct reader r;
    reader_init(&r, s);
    uint64_t bytes = 0, lost = 0;
    char msg[512];
    double t;
    while ((t = now()) < until) {
        struct pollfd pfd = { .fd = stream_wake_fd(s), .events = POLLIN };
        if (poll(&pfd, 1, 100) != 1) continue;
        stream_drain_wake(s);
        while (stream_take_message(s, msg, sizeof(msg))) {
            printf("message: %s\n", msg);
            if (strstr(msg, what)) ++*seen;
        }
        if (*over_at == 0 && stream_outage_over(s)) *over_at = t;
        size_t n;
        while ((n = ring_read(stream_ring(s), pos, batch, sizeof(batch), &lost)) > 0) {
            check_frames(&r, batch, n);
            bytes += n;
        }
    }
    assert(lost == 0);
    return bytes;
}

/* The device is lost and stays away: its stream gets silence in real time
 * for outage-ms, then is over (its listeners are to go); the device comes
 * back: live again, not over. */
static void test_outage(void)
{
    char err[512];
    struct stream_config cfg;
    config(&cfg, "/t", FAILING, 2, 128);
    assert(stream_config_set(&cfg, "outage-ms", STREAM_CONFIG_INTEGER, "", 1500, err, sizeof(err)) == 0);
    struct stream *s = new_stream(&cfg);
    assert(fclose(fopen(present_path, "w")) == 0);
    assert(stream_start(s, err, sizeof(err)) == 0);
    wait_live(s);
    uint64_t pos = ring_end(stream_ring(s));
    assert(unlink(present_path) == 0);        /* it fails 1 s after its start, for good */
    double over_at = 0;
    int lost = 0, reopened = 0;
    const double t0 = now();
    while (!lost && now() < t0 + 3) outage_read(s, &pos, now() + 0.05, &over_at, "capture failed", &lost);
    const double lost_at = now();
    assert(lost == 1 && !stream_is_live(s));
    /* 1.5 s of silence, less the look-ahead LAME still held */
    const uint64_t bytes = outage_read(s, &pos, lost_at + 2.5, &over_at, "capturing", &reopened);
    printf("test_stream: outage: %llu bytes of silence, over after %.2f s\n",
           (unsigned long long)bytes, over_at - lost_at);
    assert(over_at - lost_at > 1.3 && over_at - lost_at < 1.9);
    assert(bytes > 16000 * 1.3 && bytes < 16000 * 1.8);
    assert(reopened == 0 && stream_outage_over(s));
    assert(fclose(fopen(present_path, "w")) == 0);  /* back within the back-off (<= 5 s) */
    const double t1 = now();
    while (!reopened && now() < t1 + 6) outage_read(s, &pos, now() + 0.05, &over_at, "capturing", &reopened);
    assert(reopened == 1 && stream_is_live(s) && !stream_outage_over(s));
    stream_free(s);
    unlink(present_path);
    stream_config_free(&cfg);
}

/* until s's wake fd is readable, at most secs; drains it */
static int woken(struct stream *s, double secs)
{
    struct pollfd pfd = { .fd = stream_wake_fd(s), .events = POLLIN };
    const int ready = poll(&pfd, 1, (int)(secs * 1000)) == 1;
    if (ready) stream_drain_wake(s);
    return ready;
}

/* An absent device, for listeners waiting on it: each failed try raises
 * the count of tries by one, wakes every stream of the capture (the second
 * gets no message, only the wake-up) and announces the next try in the
 * back-off's ms (250, 500, 1000); once the device is there, it goes live
 * with a wake-up of both, and no try is announced. */
static void test_tries(void)
{
    char err[512];
    struct stream_config ca, cb;
    config(&ca, "/a", FAILING, 2, 128);
    config(&cb, "/b", FAILING, 1, 64);
    struct stream *a = new_stream(&ca), *b = new_stream(&cb);
    assert(stream_share_capture(b, a, err, sizeof(err)) == 0);
    unlink(present_path);
    assert(stream_tries_ended(a) == 0 && stream_next_try_ms(a) == 0);
    assert(stream_start(a, err, sizeof(err)) == 0);
    const unsigned backoff[] = { 250, 500, 1000 };
    for (unsigned i = 0; i < 3; ++i) {
        const double end = now() + 2;
        while (stream_tries_ended(b) < i + 1 && now() < end) (void)woken(b, 0.5);
        const unsigned tries = stream_tries_ended(b), next = stream_next_try_ms(b);
        printf("test_stream: try %u ended, the next in %u ms\n", tries, next);
        assert(tries == i + 1 && stream_tries_ended(a) == tries);
        assert(next <= backoff[i] && next + 150 >= backoff[i]);
    }
    assert(fclose(fopen(present_path, "w")) == 0);
    const double end = now() + 3;
    while (!stream_is_live(b) && now() < end) (void)woken(b, 0.5);
    assert(stream_is_live(a) && stream_next_try_ms(a) == 0);
    stream_free(b);
    stream_free(a);
    unlink(present_path);
    stream_config_free(&cb);
    stream_config_free(&ca);
}

/* With no listener the thread naps 250 ms between reads; a first listener
 * ends the nap, so its first new frame comes within a period or two, not
 * after the rest of the nap. Tried at ten points of the nap: without the
 * nap's end, about 4 in 10 would wait over 150 ms. */
static void test_idle_wake(const char *device)
{
    char err[512];
    struct stream_config cfg;
    config(&cfg, "/idle", device, 2, 128);
    struct stream *s = new_stream(&cfg);
    assert(stream_start(s, err, sizeof(err)) == 0);
    wait_live(s);                                 /* leaves it idle: no wake on frames */
    double worst = 0;
    for (int i = 0; i < 10; ++i) {
        const struct timespec gap = { 0, (long)(300 + 23 * i) * 1000000L };
        nanosleep(&gap, NULL);                    /* into a nap, at another point each time */
        stream_drain_wake(s);
        const uint64_t end0 = ring_end(stream_ring(s));
        const double t0 = now();
        stream_wake_on_frames(s, 1);
        while (ring_end(stream_ring(s)) == end0) {
            struct pollfd pfd = { .fd = stream_wake_fd(s), .events = POLLIN };
            assert(poll(&pfd, 1, 1000) == 1);
            stream_drain_wake(s);
        }
        const double waited = now() - t0;
        if (waited > worst) worst = waited;
        stream_wake_on_frames(s, 0);
    }
    printf("test_stream: a first listener's first new frame came within %.0f ms\n", worst * 1000);
    assert(worst < 0.150);
    stream_free(s);
    stream_config_free(&cfg);
}

/* adds EXCLUSIVE and FAILING to the ALSA configuration the test runs with */
static char *add_test_devices(void)
{
    static char path[] = "/tmp/test_stream_XXXXXX";
    const int fd = mkstemp(path);
    assert(fd >= 0);
    const int plen = snprintf(present_path, sizeof(present_path), "%s.present", path);
    assert(plen > 0 && (size_t)plen < sizeof(present_path));
    char conf[1024];
    const int len = snprintf(conf, sizeof(conf),
        "pcm." EXCLUSIVE " { type testtone exclusive 1 }\n"
        "pcm." FAILING " { type testtone fail_after_ms 1000 present_file \"%s\" }\n", present_path);
    assert(write(fd, conf, (size_t)len) == len);
    close(fd);
    const char *old = getenv("ALSA_CONFIG_PATH");
    char list[4096];
    const int llen = snprintf(list, sizeof(list), "%s:%s", old ? old : "/usr/share/alsa/alsa.conf",
                              path);
    assert(llen > 0 && (size_t)llen < sizeof(list));   /* cut, it would lose our devices */
    setenv("ALSA_CONFIG_PATH", list, 1);
    return path;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_stream DEVICE [SECONDS]\n");
        return 2;
    }
    double secs = 3;
    if (argc > 2) {
        char *end;
        secs = strtod(argv[2], &end);
        if (end == argv[2] || *end != '\0') {
            fprintf(stderr, "test_stream: SECONDS is not a number: %s\n", argv[2]);
            return 2;
        }
    }
    /* the lines before a failed assert; without it, only later */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    char *conf = add_test_devices();
    test_one(argv[1], secs);
    test_refusals();
    test_shared(secs);
    test_free_order();
    test_park_adopt();
    test_outage();
    test_tries();
    test_idle_wake(argv[1]);
    unlink(conf);
    printf("test_stream: ok\n");
    return 0;
}
