/* LAME wrapper; see mp3_encoder.h. */
#include "mp3_encoder.h"

#include <lame/lame.h>
#include <stdio.h>
#include <stdlib.h>

struct mp3_encoder {
    lame_global_flags *gf;
    unsigned in_channels;
};

static unsigned in_channels(const struct mp3_encoder_settings *set)
{
    return set->in_channels ? set->in_channels : set->channels;
}

/* LAME's message, naming the PCM's channels too when they are not the MP3's */
static void refused(const struct mp3_encoder_settings *set, int rc, char *err, size_t errlen)
{
    char in[32] = "";
    if (in_channels(set) != set->channels)
        (void)snprintf(in, sizeof(in), " from %u", in_channels(set));   /* fits: 6 + 10 digits */
    /* into the caller's buffer for messages, cut short if it must be */
    (void)snprintf(err, errlen,
                   "LAME refused %u Hz, %u channel(s)%s, %u kbit/s, quality %u (error %d)",
                   set->rate, set->channels, in, set->bitrate, set->quality, rc);
}

static lame_global_flags *configure(const struct mp3_encoder_settings *set,
                                    char *err, size_t errlen)
{
    /* a stereo MP3 of mono PCM would only pretend: a shared device opens
     * with the most channels any of its streams wants */
    if (in_channels(set) < set->channels) {
        (void)snprintf(err, errlen, "cannot encode %u channel(s) from %u", set->channels,
                       in_channels(set));
        return NULL;
    }
    lame_global_flags *gf = lame_init();
    if (!gf) {
        (void)snprintf(err, errlen, "lame_init failed");
        return NULL;
    }
    lame_set_in_samplerate(gf, (int)set->rate);
    lame_set_out_samplerate(gf, (int)set->rate);   /* never resample */
    lame_set_num_channels(gf, (int)in_channels(set));
    /* MONO with 2 channels in: LAME averages them */
    lame_set_mode(gf, set->channels == 1 ? MONO : JOINT_STEREO);
    lame_set_VBR(gf, vbr_off);
    lame_set_brate(gf, (int)set->bitrate);
    lame_set_quality(gf, (int)set->quality);
    lame_set_bWriteVbrTag(gf, 0);             /* a live stream has no Xing header */
    lame_set_disable_reservoir(gf, !set->bit_reservoir);
    const int rc = lame_init_params(gf);
    if (rc < 0) {
        refused(set, rc, err, errlen);
        lame_close(gf);
        return NULL;
    }
    return gf;
}

struct mp3_encoder *mp3_encoder_new(const struct mp3_encoder_settings *set,
                                    char *err, size_t errlen)
{
    lame_global_flags *gf = configure(set, err, errlen);
    if (!gf) return NULL;
    struct mp3_encoder *enc = malloc(sizeof(*enc));
    if (!enc) {
        (void)snprintf(err, errlen, "out of memory");
        lame_close(gf);
        return NULL;
    }
    enc->gf = gf;
    enc->in_channels = in_channels(set);
    return enc;
}

void mp3_encoder_free(struct mp3_encoder *enc)
{
    if (!enc) return;
    lame_close(enc->gf);
    free(enc);
}

size_t mp3_encoder_out_bound(size_t frames)
{
    return frames + frames / 4 + 7200;        /* lame.h: 1.25 * samples + 7200 */
}

long mp3_encoder_encode(struct mp3_encoder *enc, const int16_t *pcm, size_t frames,
                        unsigned char *out, size_t outcap)
{
    /* LAME's interleaved entry point takes stereo only; mono goes in as one
     * channel. The cast only fits its prototype: LAME 3.100 copies the PCM
     * into its own buffers before it downmixes, and never writes pcm. */
    const int n = enc->in_channels == 2
        ? lame_encode_buffer_interleaved(enc->gf, (short *)pcm, (int)frames, out, (int)outcap)
        : lame_encode_buffer(enc->gf, pcm, NULL, (int)frames, out, (int)outcap);
    return n < 0 ? -1 : n;
}
