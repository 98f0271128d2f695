/* LAME, set up for a live CBR stream: interleaved 16-bit PCM in, MP3 bytes out. */
#ifndef MP3_ENCODER_H
#define MP3_ENCODER_H

#include <stddef.h>
#include <stdint.h>

struct mp3_encoder;

struct mp3_encoder_settings {
    unsigned rate, channels, bitrate, quality;   /* channels: of the MP3 */
    /* LAME's bit reservoir lends bits between frames, for better quality at
     * low bitrates, but holds each frame back until the next ones are known:
     * ~50 ms more latency */
    int bit_reservoir;
    /* Channels of the PCM handed in, when it differs from the MP3's: 2 for a
     * mono stream from a device shared with a stereo one (LAME downmixes).
     * 0 means the same as channels. Mono in, stereo out is refused. */
    unsigned in_channels;
};

/* Returns NULL with a message in err when LAME refuses the settings. */
struct mp3_encoder *mp3_encoder_new(const struct mp3_encoder_settings *set,
                                    char *err, size_t errlen);
void mp3_encoder_free(struct mp3_encoder *enc);

/* Bytes of output room that encoding n PCM frames may need (LAME's bound). */
size_t mp3_encoder_out_bound(size_t frames);

/* Encodes n interleaved frames of in_channels. Returns the MP3 bytes
 * written to out (not necessarily whole frames), or -1 on an encoder error.
 * pcm is left as it was (LAME downmixes a copy): one buffer may feed several
 * encoders. */
long mp3_encoder_encode(struct mp3_encoder *enc, const int16_t *pcm, size_t frames,
                        unsigned char *out, size_t outcap);

#endif
