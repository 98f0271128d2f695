/* LAME wrapper; see mp3_encoder.h. */
#include "mp3_encoder.h"

#include <lame/lame.h>
#include <stdio.h>
#include <stdlib.h>

struct mp3_encoder {
    lame_global_flags *gf;
    unsigned channels;
};

static lame_global_flags *configure(const struct mp3_encoder_settings *set,
                                    char *err, size_t errlen)
{
    const unsigned rate = set->rate, channels = set->channels;
    const unsigned bitrate = set->bitrate, quality = set->quality;
    lame_global_flags *gf = lame_init();
    if (!gf) {
        snprintf(err, errlen, "lame_init failed");
        return NULL;
    }
    lame_set_in_samplerate(gf, (int)rate);
    lame_set_out_samplerate(gf, (int)rate);   /* never resample */
    lame_set_num_channels(gf, (int)channels);
    lame_set_mode(gf, channels == 1 ? MONO : JOINT_STEREO);
    lame_set_VBR(gf, vbr_off);
    lame_set_brate(gf, (int)bitrate);
    lame_set_quality(gf, (int)quality);
    lame_set_bWriteVbrTag(gf, 0);             /* a live stream has no Xing header */
    lame_set_disable_reservoir(gf, !set->bit_reservoir);
    const int rc = lame_init_params(gf);
    if (rc < 0) {
        snprintf(err, errlen, "LAME refused %u Hz, %u channel(s), %u kbit/s, quality %u (error %d)",
                 rate, channels, bitrate, quality, rc);
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
        snprintf(err, errlen, "out of memory");
        lame_close(gf);
        return NULL;
    }
    enc->gf = gf;
    enc->channels = set->channels;
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
    /* LAME's interleaved entry point takes stereo only; mono goes in as one channel */
    const int n = enc->channels == 2
        ? lame_encode_buffer_interleaved(enc->gf, (short *)pcm, (int)frames, out, (int)outcap)
        : lame_encode_buffer(enc->gf, pcm, NULL, (int)frames, out, (int)outcap);
    return n < 0 ? -1 : n;
}
