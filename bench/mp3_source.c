/* The benchmarks' real-time MP3 source (see mp3_source.h). Frame headers are
 * parsed by the module's own mp3_frame.c, so a benchmark streams exactly the
 * frames mod_audiostream would; what a file adds around them (tags, a VBR
 * info frame, junk) is this file's business. */
#include "mp3_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp3_frame.h"

enum { SMALLEST_FRAME = 24 }; /* MPEG-2 at 8 kbit/s and 24 kHz */

/* Side information follows the header; a Xing or Info tag follows it. */
static size_t side_info_len(const struct mp3_frame_info *fi)
{
    int mpeg1 = fi->samples == 1152, mono = fi->channels == 1;
    return mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17);
}

/* A Xing/Info/VBRI frame carries no audio: looping it would play silence. */
static int is_vbr_info_frame(const unsigned char *frame, const struct mp3_frame_info *fi)
{
    size_t xing_at = MP3_FRAME_HEADER_LEN + side_info_len(fi);
    const unsigned char *xing = frame + xing_at;
    return (fi->length >= xing_at + 4
            && (memcmp(xing, "Xing", 4) == 0 || memcmp(xing, "Info", 4) == 0))
           || (fi->length >= 40 && memcmp(frame + 36, "VBRI", 4) == 0);
}

/* Bytes of the ID3v2 tag at the start of the file, 0 if there is none. */
static size_t id3v2_tag_len(const unsigned char *p, size_t n)
{
    if (n < 10 || memcmp(p, "ID3", 3) != 0)
        return 0;
    size_t len = 10 + ((size_t)(p[6] & 0x7F) << 21 | (size_t)(p[7] & 0x7F) << 14
                       | (size_t)(p[8] & 0x7F) << 7 | (size_t)(p[9] & 0x7F));
    return (p[5] & 0x10) ? len + 10 : len; /* footer */
}

static unsigned char *read_whole_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long len = -1;
    unsigned char *p = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0
        && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)len)) != NULL
        && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    if (f)
        (void)fclose(f);    /* read only: a short read is caught above */
    *n = p ? (size_t)len : 0;
    return p;
}

/* A sync word inside other data (a trailing tag, junk) passes for a frame
 * only if it follows the previous frame or another frame follows it. One
 * sample rate for the whole file: the loop has one clock. */
static int is_real_frame(const struct mp3_source *src, const unsigned char *frame,
                         size_t left, const struct mp3_frame_info *fi, int follows_previous)
{
    struct mp3_frame_info next;
    if (src->frame_count > 0
        && (fi->sample_rate != src->sample_rate || fi->samples != src->samples_per_frame))
        return 0;
    return follows_previous || left < fi->length + MP3_FRAME_HEADER_LEN
           || mp3_frame_parse(frame + fi->length, left - fi->length, &next) == 0;
}

int mp3_source_load(struct mp3_source *src, const char *path, size_t headroom)
{
    size_t file_len, pos, kept = 0, previous_end = SIZE_MAX;
    unsigned char *file = read_whole_file(path, &file_len);
    struct mp3_frame_info fi;
    memset(src, 0, sizeof *src);
    src->frames = file; /* the frames are moved down in place over what is left out */
    src->frame_start = malloc((file_len / SMALLEST_FRAME + 2) * sizeof *src->frame_start);
    if (!file || !src->frame_start)
        return -1;
    for (pos = id3v2_tag_len(file, file_len); pos < file_len; ) {
        pos += mp3_frame_sync(file + pos, file_len - pos);
        if (mp3_frame_parse(file + pos, file_len - pos, &fi) < 0)
            break; /* no header left, only an ID3v1 tag or junk */
        if (fi.length > file_len - pos
            || !is_real_frame(src, file + pos, file_len - pos, &fi, pos == previous_end)) {
            pos++;
            continue;
        }
        if (src->frame_count > 0 || !is_vbr_info_frame(file + pos, &fi)) {
            memmove(file + kept, file + pos, fi.length);
            src->frame_start[src->frame_count++] = kept;
            src->frame_start[src->frame_count] = kept += fi.length;
            src->sample_rate = fi.sample_rate;
            src->samples_per_frame = fi.samples;
            if (fi.length > src->max_frame_len)
                src->max_frame_len = fi.length;
        }
        pos += fi.length;
        previous_end = pos;
    }
    src->headroom = headroom;
    /* room for the largest tick, see mp3_source_tick(), and one frame to spare */
    src->tick_buf = src->frame_count
        ? malloc(headroom + (src->sample_rate / src->samples_per_frame + 3) * src->max_frame_len)
        : NULL;
    clock_gettime(CLOCK_MONOTONIC, &src->start);
    return src->tick_buf ? 0 : -1;
}

/* Time comes from the clock, not from counting ticks, so a late timer
 * neither loses nor gains audio over time. */
size_t mp3_source_tick(struct mp3_source *src)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t sec = now.tv_sec - src->start.tv_sec, ns = now.tv_nsec - src->start.tv_nsec;
    if (ns < 0)
        sec--, ns += 1000000000;
    uint64_t samples = (uint64_t)sec * src->sample_rate
                       + (uint64_t)ns * src->sample_rate / 1000000000u;
    uint64_t due = samples / src->samples_per_frame + 1; /* frames begun by now */
    uint64_t most = src->sample_rate / src->samples_per_frame + 2;
    if (due > src->next_frame + most)
        src->next_frame = due - most; /* after a stall a live source skips, it does not burst */
    src->tick_len = 0;
    while (src->next_frame < due) { /* one memcpy per pass through the file */
        size_t i = src->next_frame % src->frame_count;
        size_t j = i + (size_t)(due - src->next_frame);
        if (j > src->frame_count)
            j = src->frame_count;
        size_t len = src->frame_start[j] - src->frame_start[i];
        memcpy(src->tick_buf + src->headroom + src->tick_len, src->frames + src->frame_start[i], len);
        src->tick_len += len;
        src->next_frame += j - i;
    }
    return src->tick_len;
}
