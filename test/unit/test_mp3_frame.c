/* Unit tests of the MP3 frame header parser (mod_audiostream/mp3_frame.c). */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "mp3_frame.h"

static void test_mpeg1_layer3(void)
{
    /* MPEG-1 Layer III, 128 kbit/s, 44100 Hz, no padding, joint stereo */
    const unsigned char h[4] = { 0xFF, 0xFB, 0x90, 0x44 };
    struct mp3_frame_info fi;
    assert(mp3_frame_parse(h, 4, &fi) == 0);
    assert(fi.bitrate == 128 && fi.sample_rate == 44100 && fi.channels == 2);
    assert(fi.samples == 1152 && fi.length == 417);
    /* padded: one byte more */
    const unsigned char hp[4] = { 0xFF, 0xFB, 0x92, 0x44 };
    assert(mp3_frame_parse(hp, 4, &fi) == 0 && fi.length == 418);
    /* 320 kbit/s at 32 kHz, mono: the longest MPEG-1 frame */
    const unsigned char hm[4] = { 0xFF, 0xFB, 0xEA, 0xC0 };
    assert(mp3_frame_parse(hm, 4, &fi) == 0);
    assert(fi.length == MP3_FRAME_MAX_LEN && fi.channels == 1 && fi.sample_rate == 32000);
}

static void test_mpeg2_and_25(void)
{
    struct mp3_frame_info fi;
    /* MPEG-2 Layer III, 64 kbit/s, 22050 Hz */
    const unsigned char h2[4] = { 0xFF, 0xF3, 0x80, 0xC4 };
    assert(mp3_frame_parse(h2, 4, &fi) == 0);
    assert(fi.sample_rate == 22050 && fi.bitrate == 64 && fi.samples == 576 && fi.length == 208);
    /* MPEG-2.5 Layer III, 8 kbit/s, 8000 Hz */
    const unsigned char h25[4] = { 0xFF, 0xE3, 0x18, 0xC4 };
    assert(mp3_frame_parse(h25, 4, &fi) == 0);
    assert(fi.sample_rate == 8000 && fi.bitrate == 8 && fi.length == 72);
}

static void test_invalid_headers(void)
{
    struct mp3_frame_info fi;
    const unsigned char bad[][4] = {
        { 0xFF, 0xFB, 0x90 },          /* short: see avail below */
        { 0xFE, 0xFB, 0x90, 0x44 },    /* no sync */
        { 0xFF, 0xEB, 0x90, 0x44 },    /* reserved version */
        { 0xFF, 0xFD, 0x90, 0x44 },    /* Layer II */
        { 0xFF, 0xFB, 0x00, 0x44 },    /* free format */
        { 0xFF, 0xFB, 0xF0, 0x44 },    /* bad bitrate index */
        { 0xFF, 0xFB, 0x9C, 0x44 },    /* reserved sample rate */
        { 0xFF, 0xFB, 0x90, 0x46 },    /* reserved emphasis */
    };
    assert(mp3_frame_parse(bad[0], 3, &fi) == -1);
    for (size_t i = 1; i < sizeof(bad) / sizeof(*bad); ++i)
        assert(mp3_frame_parse(bad[i], 4, &fi) == -1);
}

static void test_sync_and_whole_prefix(void)
{
    unsigned char buf[2000];
    memset(buf, 0, sizeof(buf));
    const unsigned char h[4] = { 0xFF, 0xFB, 0x90, 0x44 };    /* 417 bytes */
    memcpy(buf + 7, h, 4);
    memcpy(buf + 7 + 417, h, 4);
    memcpy(buf + 7 + 834, h, 4);
    assert(mp3_frame_sync(buf, sizeof(buf)) == 7);
    assert(mp3_frame_sync(buf, 7) == 7);                      /* none found */
    /* two whole frames, the third cut short */
    assert(mp3_frame_whole_prefix(buf + 7, 834 + 100) == 834);
    assert(mp3_frame_whole_prefix(buf + 7, (size_t)3 * 417) == (size_t)3 * 417);
    assert(mp3_frame_whole_prefix(buf, sizeof(buf)) == 0);    /* not aligned */
}

int main(void)
{
    test_mpeg1_layer3();
    test_mpeg2_and_25();
    test_invalid_headers();
    test_sync_and_whole_prefix();
    printf("test_mp3_frame: ok\n");
    return 0;
}
