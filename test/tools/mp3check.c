/* mp3check: what a listener received, checked at the frame level.
 *   mp3check frames FILE         the file starts on a frame header and is a
 *                                chain of whole frames (the last may be cut);
 *                                prints "frames=N bitrate=B rate=R channels=C"
 *   mp3check same FILE FILE...   every file holds the same bytes from the
 *                                first frame they all have on: the start of
 *                                the listener that joined last is found in
 *                                each other file, and from there all agree
 * Exit 0 when the check holds, 1 when it does not, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp3_frame.h"

struct file {
    const char *name;
    unsigned char *data;
    size_t len;
};

static int load(struct file *f, const char *name)
{
    f->name = name;
    FILE *in = fopen(name, "rb");
    if (!in) { perror(name); return -1; }
    size_t cap = 1 << 16;
    f->data = malloc(cap);
    f->len = 0;
    size_t n;
    while (f->data && (n = fread(f->data + f->len, 1, cap - f->len, in)) > 0) {
        f->len += n;
        if (f->len == cap) {
            unsigned char *more = realloc(f->data, cap *= 2);
            if (!more) free(f->data);
            f->data = more;
        }
    }
    /* a read error is not the end of the file: a prefix could pass for it */
    const int bad = ferror(in);
    (void)fclose(in);                   /* read only: its errors are ferror's */
    if (bad) perror(name);
    return f->data && !bad ? 0 : -1;
}

/* length of the run of whole frames from the start; *frames counts them */
static size_t chain(const struct file *f, size_t *frames, struct mp3_frame_info *first)
{
    size_t off = 0;
    struct mp3_frame_info fi;
    *frames = 0;
    while (mp3_frame_parse(f->data + off, f->len - off, &fi) == 0 && fi.length <= f->len - off) {
        if (*frames == 0) *first = fi;
        off += fi.length;
        ++*frames;
    }
    return off;
}

static int check_frames(const struct file *f)
{
    size_t frames;
    struct mp3_frame_info fi = { 0 };
    const size_t whole = chain(f, &frames, &fi);
    if (frames == 0) {
        printf("mp3check: FAIL %s does not start with an MP3 frame header\n", f->name);
        return 1;
    }
    /* what is left must be the start of one frame cut short */
    struct mp3_frame_info tail;
    if (whole < f->len && (f->len - whole < MP3_FRAME_HEADER_LEN
                           ? f->data[whole] != 0xFF
                           : mp3_frame_parse(f->data + whole, f->len - whole, &tail) != 0)) {
        printf("mp3check: FAIL %s: no frame header at byte %zu after %zu frames\n",
               f->name, whole, frames);
        return 1;
    }
    printf("frames=%zu bitrate=%u rate=%u channels=%u\n", frames, fi.bitrate,
           fi.sample_rate, fi.channels);
    return 0;
}

/* where the first probe bytes of ref stand in f, or NULL */
static const unsigned char *find_start(const struct file *f, const struct file *ref, size_t probe)
{
    return memmem(f->data, f->len, ref->data, probe);
}

static int check_same(struct file *files, int n)
{
    /* the listener that joined last is the one whose start every other file
     * holds (the lengths don't tell: all listened equally long); a probe of
     * several frames is long enough to be unique in a live sine stream */
    const size_t probe = 4096;
    const struct file *ref = NULL;
    for (int r = 0; r < n && !ref; ++r) {
        int all = files[r].len >= probe;
        for (int i = 0; i < n && all; ++i)
            all = find_start(&files[i], &files[r], probe) != NULL;
        if (all) ref = &files[r];
    }
    if (!ref) {
        printf("mp3check: FAIL no listener's first %zu bytes are found in all the others\n", probe);
        return 1;
    }
    for (int i = 0; i < n; ++i) {
        const struct file *f = &files[i];
        const unsigned char *at = find_start(f, ref, probe);
        const size_t off = (size_t)(at - f->data);
        const size_t common = f->len - off < ref->len ? f->len - off : ref->len;
        if (memcmp(at, ref->data, common) != 0) {
            printf("mp3check: FAIL %s differs from %s after their common start\n",
                   f->name, ref->name);
            return 1;
        }
    }
    printf("same=%d reference=%s\n", n, ref->name);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "frames") != 0 && strcmp(argv[1], "same") != 0)) {
        fprintf(stderr, "usage: mp3check frames FILE | mp3check same FILE FILE...\n");
        return 2;
    }
    const int n = argc - 2;
    struct file *files = calloc((size_t)n, sizeof(*files));
    int rc = files ? 0 : 2;
    for (int i = 0; rc == 0 && i < n; ++i)
        if (load(&files[i], argv[i + 2]) != 0) rc = 2;
    if (rc == 0 && strcmp(argv[1], "frames") == 0) {
        for (int i = 0; i < n; ++i) rc |= check_frames(&files[i]);
    } else if (rc == 0) {
        rc = check_same(files, n);
    }
    for (int i = 0; files && i < n; ++i) free(files[i].data);
    free(files);
    return rc;
}
