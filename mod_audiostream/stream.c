/* Captures, encoders and rings of the streams; see stream.h.
 *
 * A capture is one device opened by one thread. The streams that name the
 * same device share it: after each period read, the thread encodes the PCM
 * once per stream, with that stream's encoder, into that stream's ring. The
 * thread touches a stream through its ring (locked), its atomics, its
 * eventfd and its message queue (locked), and its encoder and output
 * buffer, which nothing else touches while the thread runs; nor does the
 * list of streams change then. */
#include "stream.h"

#include <errno.h>
#include <limits.h>
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
    RING_SECONDS = 10,          /* audio kept for late readers and bursts, */
    RING_SPARE_SECONDS = 2,     /* or queue-ms and this, when that is longer */
    PERIOD_FRAMES = 1152,       /* one MPEG-1 frame: a wake-up per frame */
    READ_TIMEOUT_MS = 200,      /* how soon a stop is seen */
    STALL_MS = 1000,            /* no audio this long: the device is lost */
    IDLE_WAIT_MS = 250,         /* no listener: read this often, or twice a buffer */
    BACKOFF_MIN_MS = 250,
    BACKOFF_MAX_MS = 5000,
    MESSAGES = 8,
    MESSAGE_LEN = 512,
    LABEL_LEN = 256,
};

/* the capture thread's PCM buffers, kept across opens of the device */
struct capture_buffers {
    int16_t *pcm, *zeros;
    unsigned frames;
};

struct capture {
    char *device;               /* a copy: it may outlive the stream that named it */
    unsigned rate, channels;    /* channels: the most any of its streams encodes */
    struct stream *streams;     /* the first gets the messages */
    pthread_t thread;
    int thread_running;
    atomic_int live;
    atomic_ulong overruns;
    /* for listeners that find the device not live: how many tries at it
     * have ended (a failed open, or an open that ended), and when the next
     * begins (monotonic ns, 0 while one is under way); set before the count */
    atomic_uint tries_ended;
    atomic_ullong next_try_ns;

    pthread_mutex_t lock;       /* guards stop */
    pthread_cond_t stop_cond;   /* ends a back-off sleep (a stop), or an idle nap (a listener) */
    int stop;
    char label[LABEL_LEN];      /* names the device in messages; set before the thread starts */
    char last_report[MESSAGE_LEN];  /* capture thread only: log state changes once */
    struct capture *next_all;   /* on all_captures, or on orphans */
    /* capture thread only, but kept here, not on its stack: a child forked
     * while it runs must still find (and free) them; see fork_child */
    struct alsa_capture *ac;    /* the device while open */
    struct capture_buffers buf;
    uint64_t outage_since;      /* capture thread only: when the device was lost, 0 if not */
    uint64_t silence_due;       /* capture thread only: the next period of silence */
};


struct stream {
    struct stream_config cfg;   /* its own copy: a parked stream outlives the glue's */
    struct capture *cap;
    struct stream *next;        /* on the same capture */
    struct mp3_encoder *enc;
    unsigned enc_channels;      /* PCM channels enc takes in */
    struct ring ring;
    int wake_fd;
    atomic_int wake_on_frames;
    atomic_int outage_over;     /* the device is lost and outage-ms has passed */
    int parked;                 /* event loop only: between a reload's two generations */
    unsigned char *mp3;         /* capture thread only: output not yet a whole frame */
    size_t mp3_cap, mp3_len;

    pthread_mutex_t lock;       /* guards the messages */
    char messages[MESSAGES][MESSAGE_LEN];
    unsigned msg_head, msg_count;
};

/* ---- waking the loop, messages ---- */

static void wake(struct stream *s)
{
    const uint64_t one = 1;
    /* EAGAIN means the counter is already set: the loop will wake anyway */
    if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) return;
}

/* news of the device for the loop of every stream on the capture (a
 * message wakes the first stream's only) */
static void wake_all(struct capture *cap)
{
    for (struct stream *s = cap->streams; s; s = s->next) wake(s);
}

static void post_message(struct stream *s, const char *msg)
{
    pthread_mutex_lock(&s->lock);
    if (s->msg_count < MESSAGES) {
        (void)snprintf(s->messages[(s->msg_head + s->msg_count) % MESSAGES], MESSAGE_LEN, "%s",
                       msg);   /* msg is at most MESSAGE_LEN: never cut */
        s->msg_count++;
    }
    pthread_mutex_unlock(&s->lock);
    wake(s);
}

/* The capture's label, then the text. */
static void compose(const struct capture *cap, char *msg, size_t len, const char *fmt,
                    va_list ap)
{
    /* n <= LABEL_LEN + 1 < len: the label always leaves room */
    _Static_assert(LABEL_LEN + 2 < MESSAGE_LEN, "a label leaves room in a message");
    const int n = snprintf(msg, len, "%s: ", cap->label);
    (void)vsnprintf(msg + n, len - (size_t)n, fmt, ap);   /* cut short: still a message */
}

/* Leaves a message about the device's state for the loop to log, unless it
 * repeats the last one: a device that stays absent is logged once, not at
 * every retry. It goes to the capture's first stream only: one line per
 * change of the device, and the label names the other streams that share it. */
static void report(struct capture *cap, const char *fmt, ...)
{
    char msg[MESSAGE_LEN];
    va_list ap;
    va_start(ap, fmt);
    compose(cap, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, cap->last_report) == 0) return;
    memcpy(cap->last_report, msg, sizeof(msg));
    post_message(cap->streams, msg);
}

/* Leaves a message about an event (listeners closed), not a state: it is
 * logged each time and leaves the last state as it was, so a device still
 * absent after it is not logged again. */
static void report_event(struct capture *cap, const char *fmt, ...)
{
    char msg[MESSAGE_LEN];
    va_list ap;
    va_start(ap, fmt);
    compose(cap, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    post_message(cap->streams, msg);
}

int stream_take_message(struct stream *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->lock);
    const int have = s->msg_count > 0;
    if (have) {
        (void)snprintf(buf, len, "%s", s->messages[s->msg_head]);   /* the caller's size */
        s->msg_head = (s->msg_head + 1) % MESSAGES;
        s->msg_count--;
    }
    pthread_mutex_unlock(&s->lock);
    return have;
}

/* `device "hw:1"`, or `device "hw:1" (shared with "/low.mp3")`: the glue
 * prefixes each line with the first stream's path */
static void capture_label(struct capture *cap)
{
    int n = snprintf(cap->label, sizeof(cap->label), "device \"%s\"", cap->device);
    const char *sep = " (shared with ";
    for (const struct stream *s = cap->streams->next; s && n > 0 && n < LABEL_LEN; s = s->next) {
        n += snprintf(cap->label + n, sizeof(cap->label) - (size_t)n, "%s\"%s\"", sep,
                      s->cfg.path);
        sep = ", ";
    }
    if (cap->streams->next && n > 0 && n < LABEL_LEN)
        (void)snprintf(cap->label + n, sizeof(cap->label) - (size_t)n, ")");   /* may be cut */
}

/* ---- the capture thread ---- */

static int stopping(struct capture *cap)
{
    pthread_mutex_lock(&cap->lock);
    const int stop = cap->stop;
    pthread_mutex_unlock(&cap->lock);
    return stop;
}

static int capture_idle(const struct capture *cap);

/* sleeps ms unless a stop comes first, or with until_listener, a listener */
static void pause_ms_until(struct capture *cap, unsigned ms, int until_listener)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&cap->lock);
    while (!cap->stop && !(until_listener && !capture_idle(cap))
           && pthread_cond_timedwait(&cap->stop_cond, &cap->lock, &until) != ETIMEDOUT) {}
    pthread_mutex_unlock(&cap->lock);
}

static void pause_ms(struct capture *cap, unsigned ms) { pause_ms_until(cap, ms, 0); }

/* Appends the whole frames at the start of s->mp3 to the ring and keeps
 * the unfinished rest for the next call. */
static void push_frames(struct stream *s)
{
    const size_t skip = mp3_frame_sync(s->mp3, s->mp3_len);   /* LAME starts aligned; be sure */
    size_t off = skip, pushed = 0;
    struct mp3_frame_info fi;
    while (mp3_frame_parse(s->mp3 + off, s->mp3_len - off, &fi) == 0
           && fi.length <= s->mp3_len - off) {
        ring_append_frame(&s->ring, s->mp3 + off, fi.length);
        off += fi.length;
        ++pushed;
    }
    memmove(s->mp3, s->mp3 + off, s->mp3_len - off);
    s->mp3_len -= off;
    if (pushed && atomic_load_explicit(&s->wake_on_frames, memory_order_relaxed)) wake(s);
}

/* LAME leaves its input as it was (it downmixes a copy), so every stream
 * encodes the same buffer */
static int encode(struct stream *s, const int16_t *pcm, size_t frames)
{
    const long bytes = mp3_encoder_encode(s->enc, pcm, frames,
                                          s->mp3 + s->mp3_len, s->mp3_cap - s->mp3_len);
    if (bytes < 0) return -1;
    s->mp3_len += (size_t)bytes;
    push_frames(s);
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Room for a read of `frames`: PCM, silence, and each stream's encoder
 * output. Kept from one open of the device to the next, with the part of a
 * frame each stream's output holds: the encoder goes on across a lost
 * device (silence) and its frames must stay whole. */
static int buffers_fit(struct capture *cap, struct capture_buffers *b, unsigned frames)
{
    if (frames <= b->frames) return 0;
    const size_t samples = (size_t)frames * cap->channels;
    int16_t *pcm = realloc(b->pcm, samples * sizeof(*pcm));
    if (!pcm) return -1;
    b->pcm = pcm;
    int16_t *zeros = calloc(samples, sizeof(*zeros));
    if (!zeros) return -1;
    free(b->zeros);
    b->zeros = zeros;
    for (struct stream *s = cap->streams; s; s = s->next) {
        const size_t len = MP3_FRAME_MAX_LEN + mp3_encoder_out_bound(frames);
        unsigned char *mp3 = realloc(s->mp3, len);
        if (!mp3) return -1;
        s->mp3 = mp3;
        s->mp3_cap = len;
    }
    b->frames = frames;
    return 0;
}

static void buffers_free(struct capture *cap, struct capture_buffers *b)
{
    free(b->pcm);
    free(b->zeros);
    b->pcm = b->zeros = NULL;
    b->frames = 0;
    for (struct stream *s = cap->streams; s; s = s->next) {
        free(s->mp3);
        s->mp3 = NULL;
        s->mp3_cap = s->mp3_len = 0;
    }
}

/* ---- a lost device: silence for the listeners while it is retried ---- */

static void outage_end(struct capture *cap)
{
    cap->outage_since = 0;
    for (struct stream *s = cap->streams; s; s = s->next)
        atomic_store(&s->outage_over, 0);
}

/* A period of silence for each stream whose listeners may still wait
 * ("outage-ms"), so that players keep playing; past that, its listeners are
 * to be closed, and the loop is told. */
static void outage_silence(struct capture *cap, const struct capture_buffers *b, uint64_t now)
{
    int waiting = 0;
    for (struct stream *s = cap->streams; s; s = s->next) {
        if (atomic_load(&s->outage_over)) continue;
        if (now - cap->outage_since >= (uint64_t)s->cfg.outage_ms * 1000000u) {
            atomic_store(&s->outage_over, 1);
            report_event(cap, "no audio for %u ms (\"outage-ms\" of \"%s\"): closing its listeners",
                   s->cfg.outage_ms, s->cfg.path);
            wake(s);
        }
        else {
            waiting = 1;
            if (encode(s, b->zeros, PERIOD_FRAMES) != 0)
                report(cap, "the MP3 encoder of \"%s\" failed", s->cfg.path);
        }
    }
    if (!waiting) cap->outage_since = 0;    /* nobody to keep: just the retries */
}

/* The periods of silence due by now, paced by the clock: whether the thread
 * waits between tries at the device or for a device that opened but gives
 * nothing. Returns the ms until the next one (UINT_MAX: none). */
static unsigned outage_tick(struct capture *cap, const struct capture_buffers *b, uint64_t now)
{
    if (!cap->outage_since) return UINT_MAX;
    const uint64_t period_ns = (uint64_t)PERIOD_FRAMES * 1000000000u / cap->rate;
    /* a try at the device that took long: no catching up past a second */
    if (cap->silence_due + 1000000000u < now) cap->silence_due = now;
    while (cap->outage_since && cap->silence_due <= now) {
        outage_silence(cap, b, now);
        cap->silence_due += period_ns;
    }
    return cap->outage_since ? (unsigned)((cap->silence_due - now + 999999u) / 1000000u) : UINT_MAX;
}

/* Waits ms before the next try at the device, with the silence due meanwhile. */
static void outage_wait(struct capture *cap, const struct capture_buffers *b, unsigned ms)
{
    const uint64_t until = now_ns() + (uint64_t)ms * 1000000u;
    while (!stopping(cap)) {
        const uint64_t now = now_ns();
        const unsigned next = outage_tick(cap, b, now);
        if (now >= until) return;
        const unsigned left = (unsigned)((until - now + 999999u) / 1000000u);
        pause_ms(cap, next < left ? next : left);
    }
}

/* ---- capturing ---- */

/* Whether no stream of the capture has a listener: then no one waits for
 * a frame, and the thread lets the device's buffer fill for IDLE_WAIT_MS
 * and reads and encodes it all at once, a wake-up for ten periods instead of
 * one a period (which is most of what capture costs beyond encoding). A
 * first listener ends the nap (stream_wake_on_frames). */
static int capture_idle(const struct capture *cap)
{
    for (const struct stream *s = cap->streams; s; s = s->next)
        if (atomic_load_explicit(&s->wake_on_frames, memory_order_relaxed)) return 0;
    return 1;
}

/* The device's first audio: it is live, whatever outage it ends. */
static void capture_live(struct capture *cap, unsigned period)
{
    outage_end(cap);
    atomic_store(&cap->live, 1);               /* before the news: the loop may act on it */
    report(cap, "capturing %u Hz, %u channel(s), period %u frames",
           cap->rate, cap->channels, period);
    wake_all(cap);                             /* listeners waiting for it */
}

/* A try at the device ended without audio, or its audio ended: the next
 * is in ms. Listeners waiting for the try are told (wake_all), and those
 * that come later learn when to come back. */
static void try_ended(struct capture *cap, unsigned ms)
{
    atomic_store(&cap->next_try_ns, now_ns() + (uint64_t)ms * 1000000u);
    atomic_fetch_add(&cap->tries_ended, 1);
    wake_all(cap);
}

/* How long an idle thread naps between reads: reads come at least twice a
 * buffer, so an idle stream never overruns. */
static unsigned idle_wait_ms(const struct capture *cap, const struct alsa_capture *ac)
{
    const unsigned half_buffer_ms =
        (unsigned)((uint64_t)alsa_capture_buffer(ac) * 1000 / cap->rate / 2);
    return half_buffer_ms < IDLE_WAIT_MS ? half_buffer_ms : IDLE_WAIT_MS;
}

/* The most one read takes: what an idle nap leaves in the device, and a
 * period more, so that a nap ends in one read and one encode per stream. */
static unsigned read_frames(const struct capture *cap, const struct alsa_capture *ac)
{
    const unsigned period = alsa_capture_period(ac);
    unsigned frames = (unsigned)((uint64_t)idle_wait_ms(cap, ac) * cap->rate / 1000) + period;
    if (frames < PERIOD_FRAMES) frames = PERIOD_FRAMES;   /* silence comes a frame at a time */
    return frames;
}

/* Reads, encodes and publishes until a stop, a device error or a stall: a
 * device that delivers nothing for STALL_MS is as good as lost, and its
 * listeners are better served with silence while it is reopened. The device
 * counts as live from its first audio on, not from its opening: one that
 * opens but stays mute is still lost. Returns whether audio came. */
static int capture_run(struct capture *cap, struct alsa_capture *ac, const struct capture_buffers *b)
{
    const unsigned period = alsa_capture_period(ac);
    const unsigned idle_ms = idle_wait_ms(cap, ac);
    char err[MESSAGE_LEN - LABEL_LEN - 8];
    uint64_t last_audio = now_ns();
    int drained = 1, had_audio = 0;
    while (!stopping(cap)) {
        const int idle = had_audio && capture_idle(cap);
        if (idle && drained) pause_ms_until(cap, idle_ms, 1);
        unsigned timeout = idle ? 0 : READ_TIMEOUT_MS;
        if (cap->outage_since) {        /* a reopened device still mute: silence goes on */
            const unsigned silence_in = outage_tick(cap, b, now_ns());
            if (silence_in < timeout) timeout = silence_in;
        }
        unsigned long overruns = 0;
        const long n = alsa_capture_read(ac, b->pcm, b->frames, (int)timeout, &overruns,
                                         err, sizeof(err));
        if (overruns) atomic_fetch_add(&cap->overruns, overruns);
        drained = n == ALSA_CAPTURE_TIMEOUT;
        if (n == ALSA_CAPTURE_ERROR) {
            report(cap, "%s; reopening it", err);
            return had_audio;
        }
        if (n == ALSA_CAPTURE_TIMEOUT) {
            if (now_ns() - last_audio < (uint64_t)STALL_MS * 1000000u) continue;
            report(cap, "no audio for %u ms; reopening it", (unsigned)STALL_MS);
            return had_audio;
        }
        if (!had_audio) capture_live(cap, period);
        had_audio = 1;
        last_audio = now_ns();
        for (struct stream *s = cap->streams; s; s = s->next) {
            if (encode(s, b->pcm, (size_t)n) != 0) {
                report(cap, "the MP3 encoder of \"%s\" failed", s->cfg.path);
                return had_audio;
            }
        }
    }
    return had_audio;
}

/* One open of the device, captured from until it fails; 0 if audio came. */
static int capture_session(struct capture *cap, struct capture_buffers *b)
{
    char err[MESSAGE_LEN - LABEL_LEN - 16];
    struct alsa_capture *ac = alsa_capture_open(cap->device, cap->rate, cap->channels,
                                                PERIOD_FRAMES, err, sizeof(err));
    if (!ac) {
        report(cap, "%s; retrying", err);
        return -1;
    }
    if (buffers_fit(cap, b, read_frames(cap, ac)) != 0) {
        report(cap, "out of memory");
        alsa_capture_close(ac);
        return -1;
    }
    cap->ac = ac;
    const int had_audio = capture_run(cap, ac, b);
    atomic_store(&cap->live, 0);
    cap->ac = NULL;
    alsa_capture_close(ac);
    return had_audio ? 0 : -1;
}

static void *capture_main(void *arg)
{
    struct capture *cap = arg;
    struct capture_buffers *b = &cap->buf;
    unsigned backoff = BACKOFF_MIN_MS;
    while (!stopping(cap)) {
        if (capture_session(cap, b) == 0) {
            backoff = BACKOFF_MIN_MS;
            cap->outage_since = cap->silence_due = now_ns();   /* it had audio: now lost */
        }
        if (stopping(cap)) break;
        try_ended(cap, backoff);
        outage_wait(cap, b, backoff);
        atomic_store(&cap->next_try_ns, 0);    /* trying now */
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    buffers_free(cap, b);
    return NULL;
}

/* ---- the capture, on the loop's side ---- */

/* ---- fork ----
 * lighttpd forks with the capture running: server.graceful-restart-bg
 * leaves a child to finish the listeners while the parent re-executes
 * itself. The capture thread stays behind in the parent, so the child must
 * neither inherit a lock the thread held at that instant (its loop still
 * reads rings and messages) nor wait for the thread at exit. The handlers
 * run in the forking thread, the loop's, which alone changes the list. */
static struct capture *all_captures;

static void fork_prepare(void)
{
    for (struct capture *cap = all_captures; cap; cap = cap->next_all) {
        pthread_mutex_lock(&cap->lock);
        for (struct stream *s = cap->streams; s; s = s->next) {
            pthread_mutex_lock(&s->lock);
            pthread_mutex_lock(&s->ring.lock);
        }
    }
}

static void fork_unlock(void)
{
    for (struct capture *cap = all_captures; cap; cap = cap->next_all) {
        for (struct stream *s = cap->streams; s; s = s->next) {
            pthread_mutex_unlock(&s->ring.lock);
            pthread_mutex_unlock(&s->lock);
        }
        pthread_mutex_unlock(&cap->lock);
    }
}

static void fork_child(void)
{
    fork_unlock();
    for (struct capture *cap = all_captures; cap; cap = cap->next_all) {
        cap->thread_running = 0;        /* it runs in the parent only */
        atomic_store(&cap->live, 0);
    }
}

/* Captures whose device was open in the thread a fork left behind: closing
 * it here could wait forever on a lock ALSA held in that thread, so it stays
 * open until this process exits, reachable (no leak to report). */
static struct capture *orphans;

static void fork_handlers(void)
{
    /* glibc drops a shared object's handlers when it is unloaded */
    (void)pthread_atfork(fork_prepare, fork_unlock, fork_child);
}

static void all_captures_remove(struct capture *cap)
{
    for (struct capture **p = &all_captures; *p; p = &(*p)->next_all) {
        if (*p == cap) {
            *p = cap->next_all;
            return;
        }
    }
}

static struct capture *capture_new(struct stream *first)
{
    struct capture *cap = calloc(1, sizeof(*cap));
    if (!cap) return NULL;
    cap->device = strdup(first->cfg.device);
    if (!cap->device) {
        free(cap);
        return NULL;
    }
    cap->rate = first->cfg.rate;
    cap->channels = first->cfg.channels;
    cap->streams = first;
    pthread_mutex_init(&cap->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cap->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fork_handlers);
    cap->next_all = all_captures;
    all_captures = cap;
    return cap;
}

static void capture_stop(struct capture *cap)
{
    if (!cap->thread_running) return;
    pthread_mutex_lock(&cap->lock);
    cap->stop = 1;
    pthread_cond_signal(&cap->stop_cond);
    pthread_mutex_unlock(&cap->lock);
    pthread_join(cap->thread, NULL);
    cap->thread_running = 0;
}

/* Stops the capture and takes s off it; frees it with its last stream. */
static void capture_leave(struct capture *cap, struct stream *s)
{
    capture_stop(cap);
    for (struct stream **p = &cap->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    s->next = NULL;
    free(s->mp3);                               /* left by a thread a fork left behind */
    s->mp3 = NULL;
    s->mp3_cap = s->mp3_len = 0;
    if (!cap->streams) all_captures_remove(cap);
    if (!cap->streams && cap->ac) {             /* a forked child's */
        cap->next_all = orphans;
        orphans = cap;
    }
    if (cap->streams || cap->ac) return;
    buffers_free(cap, &cap->buf);               /* a forked child's, if any */
    pthread_cond_destroy(&cap->stop_cond);
    pthread_mutex_destroy(&cap->lock);
    free(cap->device);
    free(cap);
}

/* (Re)makes s's encoder for PCM of in_channels. */
static int encoder_open(struct stream *s, unsigned in_channels, char *err, size_t errlen)
{
    const struct stream_config *c = &s->cfg;
    const struct mp3_encoder_settings es = {
        .rate = c->rate, .channels = c->channels, .bitrate = c->bitrate,
        .quality = c->quality, .bit_reservoir = (int)c->bit_reservoir,
        .in_channels = in_channels,
    };
    struct mp3_encoder *enc = mp3_encoder_new(&es, err, errlen);
    if (!enc) return -1;
    mp3_encoder_free(s->enc);
    s->enc = enc;
    s->enc_channels = in_channels;
    return 0;
}

/* A stream that joined later may have raised the device's channels: the
 * others' encoders must then take that many in. */
static int encoders_fit(struct capture *cap, char *err, size_t errlen)
{
    char why[256];
    for (struct stream *s = cap->streams; s; s = s->next) {
        if (s->enc_channels == cap->channels) continue;
        if (encoder_open(s, cap->channels, why, sizeof(why)) != 0) {
            (void)snprintf(err, errlen, "stream \"%s\": %s", s->cfg.path, why);
            return -1;
        }
    }
    return 0;
}

/* ---- streams ---- */

struct stream *stream_new(const struct stream_config *cfg, char *err, size_t errlen)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->wake_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    if (stream_config_copy(&s->cfg, cfg) != 0) {
        (void)snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* a listener queue-ms behind must still find its audio in the ring;
     * bytes per second at the bitrate; frames per second at the smallest frame */
    size_t secs = (size_t)cfg->queue_ms / 1000 + RING_SPARE_SECONDS;
    if (secs < RING_SECONDS) secs = RING_SECONDS;
    const size_t bytes = (size_t)cfg->bitrate * 1000 / 8 * secs + MP3_FRAME_MAX_LEN;
    const size_t frames = (size_t)cfg->rate / 576 * secs + 16;
    if (encoder_open(s, cfg->channels, err, errlen) != 0) goto fail;
    if (ring_init(&s->ring, bytes, frames) != 0 || !(s->cap = capture_new(s))) {
        (void)snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        (void)snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    return s;
fail:
    stream_free(s);
    return NULL;
}

int stream_same_capture(const struct stream_config *first, const struct stream_config *c,
                        char *err, size_t errlen)
{
    if (strcmp(first->device, c->device) != 0) return 0;
    if (first->rate == c->rate) return 1;
    (void)snprintf(err, errlen,
                   "stream \"%s\" captures from device \"%s\" with \"%s\" at %u Hz: "
                   "\"rate\" => %u must match",
                   c->path, c->device, first->path, first->rate, c->rate);
    return -1;
}

/* why s cannot join first's capture, or NULL */
static const char *cannot_share(const struct stream *s, const struct stream *first)
{
    if (first->cap->thread_running || s->cap->thread_running)
        return "a capture has started: share before starting";
    if (s->cap->streams != s || s->next)
        return "the stream shares another capture already";
    return NULL;
}

int stream_share_capture(struct stream *s, struct stream *first, char *err, size_t errlen)
{
    struct capture *cap = first->cap;
    if (s->cap == cap) return 0;
    const int same = stream_same_capture(&first->cfg, &s->cfg, err, errlen);
    if (same < 0) return -1;
    const char *why = same ? cannot_share(s, first) : "it names another device";
    if (why) {
        (void)snprintf(err, errlen, "stream \"%s\" cannot share the capture of \"%s\": %s",
                       s->cfg.path, first->cfg.path, why);
        return -1;
    }
    capture_leave(s->cap, s);
    s->cap = cap;
    struct stream **p = &cap->streams;
    while (*p) p = &(*p)->next;
    *p = s;
    if (s->cfg.channels > cap->channels) cap->channels = s->cfg.channels;
    return 0;
}

int stream_start(struct stream *s, char *err, size_t errlen)
{
    struct capture *cap = s->cap;
    if (cap->thread_running) return 0;
    if (encoders_fit(cap, err, errlen) != 0) return -1;
    capture_label(cap);
    cap->last_report[0] = '\0';
    cap->stop = 0;
    const int rc = pthread_create(&cap->thread, NULL, capture_main, cap);
    if (rc != 0) {
        (void)snprintf(err, errlen, "cannot start the capture thread: %s", strerror(rc));
        return -1;
    }
    cap->thread_running = 1;
    (void)pthread_setname_np(cap->thread, "audiostream");   /* for top -H and the benchmark */
    return 0;
}

void stream_stop(struct stream *s) { capture_stop(s->cap); }

void stream_free(struct stream *s)
{
    if (!s) return;
    if (s->cap) capture_leave(s->cap, s);
    if (s->wake_fd >= 0) close(s->wake_fd);
    ring_free(&s->ring);
    mp3_encoder_free(s->enc);
    stream_config_free(&s->cfg);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- parked streams, across a reload ---- */

/* Whether b would capture and encode as a, so that a's capture, encoder
 * and ring can go on for it. */
static int same_capture_and_encoding(const struct stream_config *a, const struct stream_config *b)
{
    return strcmp(a->path, b->path) == 0 && stream_same_capture(a, b, NULL, 0) == 1
        && a->channels == b->channels && a->bitrate == b->bitrate
        && a->quality == b->quality && a->bit_reservoir == b->bit_reservoir
        && a->queue_ms == b->queue_ms && a->outage_ms == b->outage_ms;
}

static int capture_parked(const struct capture *cap)
{
    for (const struct stream *s = cap->streams; s; s = s->next)
        if (!s->parked) return 0;
    return cap->streams != NULL;
}

/* Takes cap's streams for cfgs, in out, when each goes on as one of them
 * and no other of cfgs names its device (a running capture takes no new
 * stream); otherwise leaves out as it was and returns 0. */
static int capture_adopt(struct capture *cap, const struct stream_config *const *cfgs, size_t n,
                         struct stream **out)
{
    size_t on_device = 0, streams = 0, taken = 0;
    for (size_t i = 0; i < n; ++i) on_device += strcmp(cfgs[i]->device, cap->device) == 0;
    for (struct stream *s = cap->streams; s; s = s->next, ++streams) {
        size_t i = 0;
        while (i < n && (out[i] || !same_capture_and_encoding(&s->cfg, cfgs[i]))) ++i;
        if (i == n) continue;
        out[i] = s;
        ++taken;
    }
    const int whole = taken == streams && taken == on_device;
    for (size_t i = 0; i < n; ++i) {
        if (!out[i] || out[i]->cap != cap) continue;
        if (whole) out[i]->parked = 0;
        else out[i] = NULL;
    }
    return whole;
}

/* every stream of every parked capture, to the last */
static void parked_free(void)
{
    for (struct capture *cap = all_captures, *next; cap; cap = next) {
        next = cap->next_all;
        if (!capture_parked(cap)) continue;
        for (struct stream *s = cap->streams, *after; s; s = after) {
            after = s->next;
            stream_free(s);     /* cap goes with its last */
        }
    }
}

/* lighttpd's cleanup parks every stream, at an exit too: the last
 * generation's stop here */
static void parked_free_at_exit(void) { (void)atexit(parked_free); }

void stream_park(struct stream *s)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, parked_free_at_exit);
    atomic_store_explicit(&s->wake_on_frames, 0, memory_order_relaxed);
    s->parked = 1;
}

void stream_adopt_parked(const struct stream_config *const *cfgs, size_t n, struct stream **out)
{
    for (size_t i = 0; i < n; ++i) out[i] = NULL;
    for (struct capture *cap = all_captures; cap; cap = cap->next_all)
        if (capture_parked(cap)) (void)capture_adopt(cap, cfgs, n, out);
    parked_free();     /* the rest: their devices are free for the new streams */
}

int stream_wake_fd(const struct stream *s) { return s->wake_fd; }

void stream_wake_on_frames(struct stream *s, int on)
{
    atomic_store_explicit(&s->wake_on_frames, on, memory_order_relaxed);
    if (!on) return;
    /* a first listener ends an idle nap: its audio comes a frame at a time
     * from now on. Signalled under the lock the nap checks it under, so the
     * news cannot fall between the check and the wait. */
    pthread_mutex_lock(&s->cap->lock);
    pthread_cond_broadcast(&s->cap->stop_cond);
    pthread_mutex_unlock(&s->cap->lock);
}

void stream_wake_again(struct stream *s) { wake(s); }

void stream_drain_wake(struct stream *s)
{
    uint64_t n;
    while (read(s->wake_fd, &n, sizeof(n)) > 0) {}
}

struct ring *stream_ring(struct stream *s) { return &s->ring; }
const struct stream_config *stream_settings(const struct stream *s) { return &s->cfg; }
int stream_is_live(const struct stream *s) { return atomic_load(&s->cap->live); }
unsigned long stream_overruns(const struct stream *s) { return atomic_load(&s->cap->overruns); }
unsigned stream_tries_ended(const struct stream *s) { return atomic_load(&s->cap->tries_ended); }

unsigned stream_next_try_ms(const struct stream *s)
{
    const uint64_t at = atomic_load(&s->cap->next_try_ns), now = now_ns();
    return at > now ? (unsigned)((at - now + 999999u) / 1000000u) : 0;
}
int stream_outage_over(const struct stream *s) { return atomic_load(&s->outage_over); }
