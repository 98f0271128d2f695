/* MPEG audio Layer III frame header parsing (ISO/IEC 11172-3, 13818-3 and
 * the unofficial MPEG-2.5 extension), the only layer LAME produces. */
#include "mp3_frame.h"

/* kbit/s by bitrate index; 0 = free format, which we refuse */
static const unsigned short bitrate_v1[16] =
    { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0 };
static const unsigned short bitrate_v2[16] =
    { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0 };
static const unsigned short rate_v1[3] = { 44100, 48000, 32000 };

enum { MPEG_25 = 0, MPEG_RESERVED = 1, MPEG_2 = 2, MPEG_1 = 3 };

int mp3_frame_parse(const unsigned char *h, size_t avail, struct mp3_frame_info *fi)
{
    if (avail < MP3_FRAME_HEADER_LEN) return -1;
    if (h[0] != 0xFF || (h[1] & 0xE0) != 0xE0) return -1;   /* 11-bit sync */
    const unsigned version = (h[1] >> 3) & 3;
    const unsigned layer = (h[1] >> 1) & 3;
    const unsigned br_index = h[2] >> 4;
    const unsigned sr_index = (h[2] >> 2) & 3;
    const unsigned padding = (h[2] >> 1) & 1;
    if (version == MPEG_RESERVED || layer != 1 /* Layer III */) return -1;
    if (br_index == 0 || br_index == 15 || sr_index == 3) return -1;
    if ((h[3] & 3) == 2) return -1;                         /* reserved emphasis */

    const unsigned shift = version == MPEG_1 ? 0 : version == MPEG_2 ? 1 : 2;
    fi->sample_rate = rate_v1[sr_index] >> shift;
    fi->bitrate = version == MPEG_1 ? bitrate_v1[br_index] : bitrate_v2[br_index];
    fi->samples = version == MPEG_1 ? 1152 : 576;
    fi->channels = (h[3] >> 6) == 3 ? 1 : 2;
    /* bytes = samples/8 * bitrate / rate, plus one padding byte */
    fi->length = fi->samples / 8 * fi->bitrate * 1000 / fi->sample_rate + padding;
    return 0;
}

size_t mp3_frame_sync(const unsigned char *buf, size_t len)
{
    struct mp3_frame_info fi;
    for (size_t i = 0; i + MP3_FRAME_HEADER_LEN <= len; ++i) {
        if (buf[i] == 0xFF && mp3_frame_parse(buf + i, len - i, &fi) == 0)
            return i;
    }
    return len;
}

size_t mp3_frame_whole_prefix(const unsigned char *buf, size_t len)
{
    size_t off = 0;
    struct mp3_frame_info fi;
    while (mp3_frame_parse(buf + off, len - off, &fi) == 0 && fi.length <= len - off)
        off += fi.length;
    return off;
}
