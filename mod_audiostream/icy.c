/* ICY metadata blocks and framing; see icy.h. */
#include "icy.h"

#include <string.h>

#include "title.h"
#include "utf8.h"

static const char title_head[] = "StreamTitle='";
static const char title_tail[] = "';";
static const unsigned char right_quote[] = { 0xE2, 0x80, 0x99 };   /* U+2019 in UTF-8 */

#define HEAD_LEN (sizeof(title_head) - 1)
#define TAIL_LEN (sizeof(title_tail) - 1)

/* Made safe, a title at most doubles ('; becomes ’;, 2 bytes to 4, and a
 * leading ; gets a space), and one NUL always ends the text. */
_Static_assert(HEAD_LEN + 2 * (size_t)TITLE_MAX + TAIL_LEN + 1 <= (size_t)ICY_META_MAX,
               "the longest title must fit one ICY metadata block");

/* len, or less when over TITLE_MAX: stepping back over continuation bytes
 * (10xxxxxx), at most three, so that no character is split */
static size_t cut_at_char(const unsigned char *s, size_t len)
{
    if (len <= TITLE_MAX) return len;
    size_t cut = TITLE_MAX;
    for (int i = 0; i < 3 && (s[cut] & 0xC0) == 0x80; ++i) cut--;
    return cut;
}

/* Copies the title into dst made safe (see icy_title_set); returns the
 * bytes written, at most 2 * len. Titles are refused with a control
 * character before they get here; this is the defence behind that, with
 * the same definition (utf8.h): each control, C1's two bytes too, becomes
 * one space. */
static size_t put_safe_text(unsigned char *dst, const unsigned char *s, size_t len)
{
    size_t n = 0;
    if (len > 0 && s[0] == ';') dst[n++] = ' ';
    for (size_t i = 0; i < len;) {
        const unsigned char c = s[i];
        const size_t control = utf8_control_len(s + i, len - i);
        if (control) {
            dst[n++] = ' ';
            i += control;
        } else if (c == '\'' && i + 1 < len && s[i + 1] == ';') {
            memcpy(dst + n, right_quote, sizeof(right_quote));
            n += sizeof(right_quote);
            i++;
        } else {
            dst[n++] = c;
            i++;
        }
    }
    return n;
}

/* Builds the whole block in b; returns its length. */
static size_t build_block(unsigned char *b, const unsigned char *s, size_t len)
{
    unsigned char *const text = b + 1;
    size_t n = HEAD_LEN;
    memcpy(text, title_head, HEAD_LEN);
    n += put_safe_text(text + n, s, cut_at_char(s, len));
    memcpy(text + n, title_tail, TAIL_LEN);
    n += TAIL_LEN;
    /* n / 16 + 1 units leave room for at least one NUL: parsers that read
     * the block as a C string need it, and Icecast relaying us drops the
     * last byte as if it were one */
    const size_t units = n / 16 + 1;
    memset(text + n, 0, units * 16 - n);
    b[0] = (unsigned char)units;
    return 1 + units * 16;
}

void icy_title_init(struct icy_title *t)
{
    t->seq = 1;
    t->block_len = build_block(t->block, (const unsigned char *)"", 0);
}

void icy_title_set(struct icy_title *t, const char *utf8, size_t len)
{
    unsigned char b[ICY_BLOCK_MAX];
    const size_t n = build_block(b, (const unsigned char *)utf8, len);
    if (n == t->block_len && memcmp(b, t->block, n) == 0) return;
    memcpy(t->block, b, n);
    t->block_len = n;
    t->seq++;
}

int icy_framer_init(struct icy_framer *fr, uint32_t metaint)
{
    if (metaint < ICY_METAINT_MIN || metaint > ICY_METAINT_MAX) return -1;
    fr->metaint = fr->left = metaint;
    fr->seq_sent = 0;
    return 0;
}

static void emit_meta(struct icy_framer *fr, const struct icy_title *t,
                      icy_emit_fn *emit, void *ctx)
{
    static const unsigned char unchanged = 0;
    if (fr->seq_sent == t->seq) {
        emit(ctx, &unchanged, 1);
        return;
    }
    emit(ctx, t->block, t->block_len);
    fr->seq_sent = t->seq;
}

void icy_frame(struct icy_framer *fr, const struct icy_title *t,
               const unsigned char *audio, size_t len, icy_emit_fn *emit, void *ctx)
{
    while (len > 0) {
        const size_t n = len < fr->left ? len : fr->left;
        emit(ctx, audio, n);
        audio += n;
        len -= n;
        fr->left -= (uint32_t)n;
        if (fr->left == 0) {
            emit_meta(fr, t, emit, ctx);
            fr->left = fr->metaint;
        }
    }
}

size_t icy_meta_bytes(const struct icy_framer *fr, const struct icy_title *t, size_t audio_len)
{
    if (audio_len < fr->left) return 0;
    const size_t boundaries = 1 + (audio_len - fr->left) / fr->metaint;
    /* only the first boundary can carry the block: it is then sent */
    const size_t first = fr->seq_sent == t->seq ? 1 : t->block_len;
    return first + (boundaries - 1);
}
