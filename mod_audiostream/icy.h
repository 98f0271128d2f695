/* ICY (SHOUTcast/Icecast) in-stream metadata. A listener that asked with
 * `Icy-MetaData: 1` gets `icy-metaint: N`, then after every N audio bytes
 * one length byte L and L*16 bytes of metadata: L = 0 when the title has
 * not changed since its last block. The stream's title is made into a block
 * once per change and shared; each listener keeps only a small framer.
 * Title and framers are used on one thread (the event loop). Knows nothing
 * of lighttpd. */
#ifndef ICY_H
#define ICY_H

#include <stddef.h>
#include <stdint.h>

#define ICY_META_MAX   (255 * 16)          /* metadata bytes after one length byte */
#define ICY_BLOCK_MAX  (1 + ICY_META_MAX)  /* length byte included */

/* Audio bytes between blocks. 16000 is Icecast's default, 8192 MPD's and
 * Liquidsoap's; Icecast takes any positive value (icecast-kh only 8000 to
 * 31999 from a source). The top keeps titles within about 4 s at
 * 128 kbit/s; anything larger is a misconfiguration. */
#define ICY_METAINT_MIN      1
#define ICY_METAINT_MAX      65536
#define ICY_METAINT_DEFAULT  16000

/* The stream's current title as a ready-made block: the length byte, then
 * `StreamTitle='...';` padded with at least one NUL to a multiple of 16.
 * seq changes with the block, so a listener knows whether it has it. */
struct icy_title {
    uint64_t seq;
    size_t block_len;                   /* 1 + 16 * block[0] */
    unsigned char block[ICY_BLOCK_MAX];
};

/* The empty title (`StreamTitle='';`), seq 1. */
void icy_title_init(struct icy_title *t);

/* Makes utf8[0..len) the title and bumps seq, unless the block comes out as
 * it was (setting the same title again sends nothing). The text is made
 * safe for players that take the value up to the first `';` (ffmpeg, VLC)
 * or stop at a NUL, or print it to a terminal: each control character (C0,
 * DEL and C1, as utf8.h defines them) becomes a space, a ' followed by ;
 * becomes U+2019 (’), and a ; at the start gets a space before it (with the
 * opening quote it would read as the end). Callers refuse titles with
 * control characters, and titles beyond TITLE_MAX bytes, earlier; longer
 * text is cut at a character boundary. */
void icy_title_set(struct icy_title *t, const char *utf8, size_t len);

/* One listener's place in the metadata cycle. */
struct icy_framer {
    uint32_t metaint;
    uint32_t left;          /* audio bytes until the next block */
    uint64_t seq_sent;      /* title it has last been sent; 0: none yet */
};

/* Returns -1 when metaint is outside [ICY_METAINT_MIN, ICY_METAINT_MAX]. */
int icy_framer_init(struct icy_framer *fr, uint32_t metaint);

typedef void icy_emit_fn(void *ctx, const unsigned char *p, size_t n);

/* Passes audio[0..len) to emit, cut at every metaint boundary, and at each
 * boundary (also one that falls at the very end) t's block when this
 * listener has not had it, else a single 0 byte. Never emits 0 bytes. */
void icy_frame(struct icy_framer *fr, const struct icy_title *t,
               const unsigned char *audio, size_t len, icy_emit_fn *emit, void *ctx);

/* The bytes icy_frame would add to audio_len bytes of audio, so that the
 * caller can keep a listener's queue within its byte budget. */
size_t icy_meta_bytes(const struct icy_framer *fr, const struct icy_title *t, size_t audio_len);

#endif
