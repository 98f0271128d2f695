/* Capture thread, encoder and ring of one stream; see stream.h. */
#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "alsa_capture.h"
#include "mp3_encoder.h"
#include "mp3_frame.h"

enum {
    RING_SECONDS = 10,          /* audio kept for late readers (and bursts) */
    PERIOD_FRAMES = 1152,       /* one MPEG-1 frame: a wake-up per frame */
    READ_TIMEOUT_MS = 200,      /* how soon a stop or a stalled device is seen */
    BACKOFF_MIN_MS = 250,
    BACKOFF_MAX_MS = 5000,
    MESSAGES = 8,
    MESSAGE_LEN = 512,
};

struct stream {
    const struct stream_config *cfg;
    struct mp3_encoder *enc;
    struct ring ring;
    int wake_fd;
    pthread_t thread;
    int thread_running;
    atomic_int live;
    atomic_int wake_on_frames;
    atomic_ulong overruns;

    pthread_mutex_t lock;       /* guards stop and the messages */
    pthread_cond_t stop_cond;   /* interrupts the back-off sleep */
    int stop;
    char messages[MESSAGES][MESSAGE_LEN];
    unsigned msg_head, msg_count;
    char last_report[MESSAGE_LEN];  /* capture thread only: log state changes once */
};

static void wake(struct stream *s)
{
    const uint64_t one = 1;
    /* EAGAIN means the counter is already set: the loop will wake anyway */
    if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) return;
}

/* Leaves a message for the loop to log, unless it repeats the last one:
 * a device that stays absent is logged once, not at every retry. */
static void report(struct stream *s, const char *fmt, ...)
{
    char msg[MESSAGE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, s->last_report) == 0) return;
    memcpy(s->last_report, msg, sizeof(msg));
    pthread_mutex_lock(&s->lock);
    if (s->msg_count < MESSAGES) {
        memcpy(s->messages[(s->msg_head + s->msg_count) % MESSAGES], msg, sizeof(msg));
        s->msg_count++;
    }
    pthread_mutex_unlock(&s->lock);
    wake(s);
}

int stream_take_message(struct stream *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->lock);
    const int have = s->msg_count > 0;
    if (have) {
        snprintf(buf, len, "%s", s->messages[s->msg_head]);
        s->msg_head = (s->msg_head + 1) % MESSAGES;
        s->msg_count--;
    }
    pthread_mutex_unlock(&s->lock);
    return have;
}

static int stopping(struct stream *s)
{
    pthread_mutex_lock(&s->lock);
    const int stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

/* sleeps ms unless a stop comes first */
static void pause_ms(struct stream *s, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&s->lock);
    while (!s->stop && pthread_cond_timedwait(&s->stop_cond, &s->lock, &until) != ETIMEDOUT) {}
    pthread_mutex_unlock(&s->lock);
}

/* Appends the whole frames at the start of mp3[0..*len) to the ring and
 * keeps the unfinished rest for the next call. */
static void push_frames(struct stream *s, unsigned char *mp3, size_t *len)
{
    const size_t skip = mp3_frame_sync(mp3, *len);   /* LAME starts aligned; be sure */
    size_t off = skip, pushed = 0;
    struct mp3_frame_info fi;
    while (mp3_frame_parse(mp3 + off, *len - off, &fi) == 0 && fi.length <= *len - off) {
        ring_append_frame(&s->ring, mp3 + off, fi.length);
        off += fi.length;
        ++pushed;
    }
    memmove(mp3, mp3 + off, *len - off);
    *len -= off;
    if (pushed && atomic_load_explicit(&s->wake_on_frames, memory_order_relaxed)) wake(s);
}

struct capture_buffers {
    int16_t *pcm;
    unsigned char *mp3;
    size_t mp3_cap, mp3_len;
};

/* Reads, encodes and publishes until a stop or a device error. */
static void capture_run(struct stream *s, struct alsa_capture *cap, struct capture_buffers *b)
{
    const unsigned period = alsa_capture_period(cap);
    char err[MESSAGE_LEN - 64];
    while (!stopping(s)) {
        unsigned long overruns = 0;
        const long n = alsa_capture_read(cap, b->pcm, period, READ_TIMEOUT_MS, &overruns,
                                         err, sizeof(err));
        if (overruns) atomic_fetch_add(&s->overruns, overruns);
        if (n == ALSA_CAPTURE_ERROR) {
            report(s, "device \"%s\": %s", s->cfg->device, err);
            return;
        }
        if (n == ALSA_CAPTURE_TIMEOUT) continue;
        const long bytes = mp3_encoder_encode(s->enc, b->pcm, (size_t)n,
                                              b->mp3 + b->mp3_len, b->mp3_cap - b->mp3_len);
        if (bytes < 0) {
            report(s, "device \"%s\": the MP3 encoder failed", s->cfg->device);
            return;
        }
        b->mp3_len += (size_t)bytes;
        push_frames(s, b->mp3, &b->mp3_len);
    }
}

static int buffers_init(struct capture_buffers *b, unsigned period, unsigned channels)
{
    b->pcm = malloc((size_t)period * channels * sizeof(*b->pcm));
    b->mp3_cap = MP3_FRAME_MAX_LEN + mp3_encoder_out_bound(period);
    b->mp3 = malloc(b->mp3_cap);
    b->mp3_len = 0;
    return b->pcm && b->mp3 ? 0 : -1;
}

static void buffers_free(struct capture_buffers *b)
{
    free(b->pcm);
    free(b->mp3);
    memset(b, 0, sizeof(*b));
}

/* one open of the device, captured from until it fails; 0 if it opened */
static int capture_session(struct stream *s)
{
    const struct stream_config *c = s->cfg;
    char err[MESSAGE_LEN - 64];
    struct alsa_capture *cap = alsa_capture_open(c->device, c->rate, c->channels,
                                                 PERIOD_FRAMES, err, sizeof(err));
    if (!cap) {
        report(s, "device \"%s\": %s; retrying", c->device, err);
        return -1;
    }
    struct capture_buffers b;
    if (buffers_init(&b, alsa_capture_period(cap), c->channels) != 0) {
        report(s, "device \"%s\": out of memory", c->device);
        buffers_free(&b);
        alsa_capture_close(cap);
        return -1;
    }
    report(s, "device \"%s\": capturing %u Hz, %u channel(s), period %u frames",
           c->device, c->rate, c->channels, alsa_capture_period(cap));
    atomic_store(&s->live, 1);
    capture_run(s, cap, &b);
    atomic_store(&s->live, 0);
    buffers_free(&b);
    alsa_capture_close(cap);
    return 0;
}

static void *capture_main(void *arg)
{
    struct stream *s = arg;
    unsigned backoff = BACKOFF_MIN_MS;
    while (!stopping(s)) {
        if (capture_session(s) == 0) backoff = BACKOFF_MIN_MS;
        if (stopping(s)) break;
        pause_ms(s, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

struct stream *stream_new(const struct stream_config *cfg, char *err, size_t errlen)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->wake_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    /* bytes per second at the bitrate; frames per second at the smallest frame */
    const size_t bytes = (size_t)cfg->bitrate * 1000 / 8 * RING_SECONDS + MP3_FRAME_MAX_LEN;
    const size_t frames = (size_t)cfg->rate / 576 * RING_SECONDS + 16;
    const struct mp3_encoder_settings es = {
        cfg->rate, cfg->channels, cfg->bitrate, cfg->quality, (int)cfg->bit_reservoir,
    };
    s->enc = mp3_encoder_new(&es, err, errlen);
    if (!s->enc) goto fail;
    if (ring_init(&s->ring, bytes, frames) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    return s;
fail:
    stream_free(s);
    return NULL;
}

int stream_start(struct stream *s, char *err, size_t errlen)
{
    s->stop = 0;
    const int rc = pthread_create(&s->thread, NULL, capture_main, s);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the capture thread: %s", strerror(rc));
        return -1;
    }
    s->thread_running = 1;
    return 0;
}

void stream_stop(struct stream *s)
{
    if (!s->thread_running) return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->stop_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->thread_running = 0;
}

void stream_free(struct stream *s)
{
    if (!s) return;
    stream_stop(s);
    if (s->wake_fd >= 0) close(s->wake_fd);
    ring_free(&s->ring);
    mp3_encoder_free(s->enc);
    pthread_cond_destroy(&s->stop_cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int stream_wake_fd(const struct stream *s) { return s->wake_fd; }

void stream_wake_on_frames(struct stream *s, int on)
{
    atomic_store_explicit(&s->wake_on_frames, on, memory_order_relaxed);
}

void stream_wake_again(struct stream *s) { wake(s); }

void stream_drain_wake(struct stream *s)
{
    uint64_t n;
    while (read(s->wake_fd, &n, sizeof(n)) > 0) {}
}

struct ring *stream_ring(struct stream *s) { return &s->ring; }
const struct stream_config *stream_settings(const struct stream *s) { return s->cfg; }
int stream_is_live(const struct stream *s) { return atomic_load(&s->live); }
unsigned long stream_overruns(const struct stream *s) { return atomic_load(&s->overruns); }
