/* A stream on its own, without lighttpd: the capture thread on the paced
 * test-tone device, the encoder and the ring, read the way the event loop
 * reads them. Run under ThreadSanitizer it checks the thread boundary.
 *   ALSA_CONFIG_PATH=...:asound.conf test_stream DEVICE [SECONDS]
 * DEVICE must deliver 44.1 kHz stereo. */
#undef NDEBUG
#include <assert.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mp3_frame.h"
#include "stream.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_stream DEVICE [SECONDS]\n");
        return 2;
    }
    const double secs = argc > 2 ? atof(argv[2]) : 3;
    char err[512];
    struct stream_config cfg;
    assert(stream_config_init(&cfg, "/t", err, sizeof(err)) == 0);
    assert(stream_config_set(&cfg, "device", STREAM_CONFIG_STRING, argv[1], 0, err, sizeof(err)) == 0);
    struct stream *s = stream_new(&cfg, err, sizeof(err));
    assert(s != NULL);
    stream_wake_on_frames(s, 1);
    assert(stream_start(s, err, sizeof(err)) == 0);

    uint64_t pos = ring_end(stream_ring(s)), lost = 0, bytes = 0;
    unsigned char batch[16384];
    double first = 0, last = 0, t = now();
    const double end = t + secs + 1;
    int messages = 0;
    while ((t = now()) < end) {
        struct pollfd pfd = { .fd = stream_wake_fd(s), .events = POLLIN };
        assert(poll(&pfd, 1, 1000) == 1);
        stream_drain_wake(s);
        while (stream_take_message(s, err, sizeof(err))) {
            printf("message: %s\n", err);
            ++messages;
        }
        size_t n;
        while ((n = ring_read(stream_ring(s), &pos, batch, sizeof(batch), &lost)) > 0) {
            assert(mp3_frame_whole_prefix(batch, n) == n);    /* whole frames only */
            /* LAME's look-ahead fills during the first frames: count from 0.5 s on */
            if (first == 0) first = t + 0.5;
            else if (t > first) bytes += n;
            last = t;
        }
    }
    assert(stream_is_live(s));
    const double t0 = now();
    stream_stop(s);
    const double stop_ms = (now() - t0) * 1000;
    const double rate = bytes / (last - first);
    printf("test_stream: %.0f bytes/s over %.1f s, lost %llu, overruns %lu, stop %.0f ms\n",
           rate, last - first, (unsigned long long)lost, stream_overruns(s), stop_ms);
    assert(messages >= 1);                    /* "capturing ..." */
    assert(lost == 0 && stream_overruns(s) == 0);
    assert(rate > 16000 * 0.97 && rate < 16000 * 1.03);
    assert(stop_ms < 500);
    stream_free(s);
    stream_config_free(&cfg);
    printf("test_stream: ok\n");
    return 0;
}
