/* icycheck: splits a response body with ICY metadata into its audio and
 * its metadata blocks, checking the framing on the way.
 *   icycheck METAINT IN_FILE AUDIO_OUT
 * The body is METAINT audio bytes, one length byte L, L*16 bytes of
 * metadata, METAINT audio bytes, and so on. The audio goes to AUDIO_OUT.
 * For each block with L > 0 it prints
 *   block at=<audio bytes before it> len=<L*16> text=<payload up to its NUL padding>
 * and at the end
 *   blocks=<length bytes seen, L = 0 included> empty=<those with L = 0> audio=<bytes>
 * The file may end anywhere (a capture cut by a timeout), also inside a
 * block: that block is reported as "truncated at=... len=... have=..." and
 * not checked. Exit 1 when a complete block's payload is not
 * `StreamTitle='...';` (optionally more `key='value';` text after it, then
 * only NULs), holds a control character or invalid UTF-8; 2 on bad usage or
 * an unreadable file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MAX (255 * 16)

static const char head[] = "StreamTitle='";

/* 1 when s[0..n) is UTF-8 without C0 controls or DEL */
static int clean_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x20 || c == 0x7f) return 0;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) need = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return 0;
        if (n - i < need) return 0;
        for (size_t k = 1; k < need; ++k) {
            if (s[i + k] < lo || s[i + k] > hi) return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        i += need;
    }
    return 1;
}

/* Checks one complete payload; prints what is wrong and returns -1, or
 * returns the length of its text (the bytes before the NUL padding). */
static long check_payload(const unsigned char *p, size_t len, unsigned long long at)
{
    const unsigned char *nul = memchr(p, '\0', len);
    const size_t text = nul ? (size_t)(nul - p) : len;
    for (size_t i = text; i < len; ++i) {
        if (p[i] != '\0') {
            printf("icycheck: FAIL block at=%llu: byte %zu after the NUL padding began is 0x%02x\n",
                   at, i, p[i]);
            return -1;
        }
    }
    if (text < sizeof(head) - 1 + 2 || memcmp(p, head, sizeof(head) - 1) != 0
        || memcmp(p + text - 2, "';", 2) != 0) {
        printf("icycheck: FAIL block at=%llu: payload is not StreamTitle='...'; (%zu bytes: %.*s)\n",
               at, text, (int)text, (const char *)p);
        return -1;
    }
    if (!clean_utf8(p, text)) {
        printf("icycheck: FAIL block at=%llu: control character or invalid UTF-8 in the payload\n", at);
        return -1;
    }
    return (long)text;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: icycheck METAINT IN_FILE AUDIO_OUT\n");
        return 2;
    }
    char *end;
    errno = 0;
    const unsigned long metaint = strtoul(argv[1], &end, 10);
    if (errno || *end || end == argv[1] || metaint == 0 || metaint > 1000000) {
        fprintf(stderr, "icycheck: bad METAINT %s\n", argv[1]);
        return 2;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) { perror(argv[2]); return 2; }
    FILE *out = fopen(argv[3], "wb");
    if (!out) { perror(argv[3]); (void)fclose(in); return 2; }   /* read only: nothing lost */

    unsigned char *audio = malloc(metaint);
    unsigned char block[BLOCK_MAX];
    unsigned long long total = 0, blocks = 0, empty = 0;
    int rc = 0;
    while (audio && rc == 0) {
        const size_t n = fread(audio, 1, metaint, in);
        if (n > 0 && fwrite(audio, 1, n, out) != n) { perror(argv[3]); rc = 2; break; }
        total += n;
        if (n < metaint) break;                 /* the end, inside the audio */
        const int l = fgetc(in);
        if (l == EOF) break;                    /* the end, at a boundary */
        blocks++;
        if (l == 0) { empty++; continue; }
        const size_t len = (size_t)l * 16;
        const size_t have = fread(block, 1, len, in);
        if (have < len) {
            printf("truncated at=%llu len=%zu have=%zu\n", total, len, have);
            break;
        }
        const long text = check_payload(block, len, total);
        if (text < 0) { rc = 1; break; }
        printf("block at=%llu len=%zu text=%.*s\n", total, len, (int)text, (const char *)block);
    }
    if (!audio) { fprintf(stderr, "icycheck: out of memory\n"); rc = 2; }
    if (ferror(in)) { perror(argv[2]); rc = 2; }
    free(audio);
    (void)fclose(in);                       /* read errors: ferror above */
    if (fclose(out) != 0) { perror(argv[3]); rc = 2; }
    printf("blocks=%llu empty=%llu audio=%llu\n", blocks, empty, total);
    return rc;
}
