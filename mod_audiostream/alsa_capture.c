/* ALSA capture wrapper; see alsa_capture.h. */
#include "alsa_capture.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alsa_capture {
    snd_pcm_t *pcm;
    unsigned channels;
    snd_pcm_uframes_t period, buffer;
};

/* ALSA explains failures through a process-wide handler (SNDERR) and
 * otherwise prints them to stderr. Keep the last explanation of this thread
 * so that the caller can log it next to the error code. */
static _Thread_local char alsa_detail[256];

static void alsa_error_handler(const char *file, int line, const char *function,
                               int err, const char *fmt, ...)
{
    (void)file; (void)line; (void)function; (void)err;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(alsa_detail, sizeof(alsa_detail), fmt, ap);   /* cut short: still a detail */
    va_end(ap);
}

static void describe(char *err, size_t errlen, const char *what, int rc)
{
    if (alsa_detail[0])
        (void)snprintf(err, errlen, "%s: %s (%s)", what, snd_strerror(rc), alsa_detail);
    else
        (void)snprintf(err, errlen, "%s: %s", what, snd_strerror(rc));
    alsa_detail[0] = '\0';
}

static int set_params(snd_pcm_t *pcm, unsigned rate, unsigned channels,
                      snd_pcm_uframes_t *period, snd_pcm_uframes_t *buffer_out,
                      char *err, size_t errlen)
{
    snd_pcm_hw_params_t *hw;
    snd_pcm_hw_params_alloca(&hw);
    /* room for a late thread, and for the idle thread's long naps between
     * reads (half of this, see stream.c) */
    snd_pcm_uframes_t buffer = *period * 24;
    int rc;
    if ((rc = snd_pcm_hw_params_any(pcm, hw)) < 0
        || (rc = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0
        || (rc = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16)) < 0) {
        describe(err, errlen, "16-bit interleaved capture not supported", rc);
        return rc;
    }
    if ((rc = snd_pcm_hw_params_set_channels(pcm, hw, channels)) < 0) {
        describe(err, errlen, "channel count not supported", rc);
        return rc;
    }
    if ((rc = snd_pcm_hw_params_set_rate(pcm, hw, rate, 0)) < 0) {
        describe(err, errlen, "sample rate not supported", rc);
        return rc;
    }
    if ((rc = snd_pcm_hw_params_set_period_size_near(pcm, hw, period, NULL)) < 0
        || (rc = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer)) < 0
        || (rc = snd_pcm_hw_params(pcm, hw)) < 0) {
        describe(err, errlen, "period/buffer set-up failed", rc);
        return rc;
    }
    *buffer_out = buffer;
    return snd_pcm_hw_params_get_period_size(hw, period, NULL);
}

static void install_error_handler(void)
{
    snd_lib_error_set_handler(alsa_error_handler);
}

struct alsa_capture *alsa_capture_open(const char *device, unsigned rate, unsigned channels,
                                       unsigned period_frames, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_error_handler);
    alsa_detail[0] = '\0';
    snd_pcm_t *pcm;
    /* a busy card blocks a blocking open until it is free: open without
     * blocking, so busy is an error to retry, then read in blocking mode */
    int rc = snd_pcm_open(&pcm, device, SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK);
    if (rc < 0) {
        describe(err, errlen, "cannot open", rc);
        return NULL;
    }
    snd_pcm_nonblock(pcm, 0);
    snd_pcm_uframes_t period = period_frames, buffer = 0;
    if (set_params(pcm, rate, channels, &period, &buffer, err, errlen) < 0
        || (rc = snd_pcm_start(pcm)) < 0) {
        if (rc < 0) describe(err, errlen, "cannot start capture", rc);
        snd_pcm_close(pcm);
        return NULL;
    }
    struct alsa_capture *cap = malloc(sizeof(*cap));
    if (!cap) {
        (void)snprintf(err, errlen, "out of memory");
        snd_pcm_close(pcm);
        return NULL;
    }
    cap->pcm = pcm;
    cap->channels = channels;
    cap->period = period;
    cap->buffer = buffer;
    return cap;
}

void alsa_capture_close(struct alsa_capture *cap)
{
    if (!cap) return;
    snd_pcm_close(cap->pcm);
    free(cap);
}

unsigned alsa_capture_period(const struct alsa_capture *cap)
{
    return (unsigned)cap->period;
}

unsigned alsa_capture_buffer(const struct alsa_capture *cap)
{
    return (unsigned)cap->buffer;
}

/* an overrun (-EPIPE) or a suspend (-ESTRPIPE) is recoverable; anything
 * else (-ENODEV, -EIO: the card is gone) is not */
static int recover(struct alsa_capture *cap, int rc, unsigned long *overruns)
{
    if (rc == -EPIPE) ++*overruns;
    if (snd_pcm_recover(cap->pcm, rc, 1) < 0) return rc;
    return snd_pcm_start(cap->pcm) == 0 || snd_pcm_state(cap->pcm) == SND_PCM_STATE_RUNNING
        ? 0 : rc;
}

long alsa_capture_read(struct alsa_capture *cap, int16_t *pcm, unsigned long frames,
                       int timeout_ms, unsigned long *overruns, char *err, size_t errlen)
{
    int rc = snd_pcm_wait(cap->pcm, timeout_ms);
    if (rc == 0) return ALSA_CAPTURE_TIMEOUT;
    /* what is there, up to frames: a blocking read of more would wait */
    snd_pcm_sframes_t n = rc < 0 ? rc : snd_pcm_avail_update(cap->pcm);
    if (n > 0) n = snd_pcm_readi(cap->pcm, pcm, (unsigned long)n < frames ? (unsigned long)n : frames);
    if (n == -EAGAIN) return ALSA_CAPTURE_TIMEOUT;
    if (n < 0 && recover(cap, (int)n, overruns) == 0) return ALSA_CAPTURE_TIMEOUT;
    if (n < 0) {
        describe(err, errlen, "capture failed", (int)n);
        return ALSA_CAPTURE_ERROR;
    }
    return (long)n;
}
