/* Byte ranges of a live stream. A browser's media stack that lost its
 * connection (a network blip, a server restart) reconnects with
 * "Range: bytes=N-", N the bytes it already has. Answered 200 from live,
 * Chromium takes the first N bytes of the new response for the ones it had
 * and skips them: as long a silence as it had listened. Answered 206 with
 * an open-ended range starting at N, it plays the new bytes at once. The
 * stream has no length, so the range is given a span no listener reaches
 * and the length is "*" (unknown, RFC 9110 14.4). */
#ifndef LIVE_RANGE_H
#define LIVE_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* bytes of a resumed response as its Content-Range states them: 10^12,
 * two years at 128 kbit/s */
#define LIVE_RANGE_SPAN UINT64_C(1000000000000)

/* Whether value (a Range header's) is one open-ended byte range past the
 * start, "bytes=N-" with N > 0: a resume, with N in *first. Everything
 * else (bytes=0-, a closed range, a suffix range, several ranges, another
 * unit, a malformed value) is answered with the stream from live: 200. */
int live_range_resume(const char *value, size_t len, uint64_t *first);

/* The Content-Range value of a resume at first: "bytes N-M/" and a star. Returns its
 * length, or -1 if it does not fit in cap. */
int live_range_content_range(char *buf, size_t cap, uint64_t first);

/* Room for any Content-Range value live_range_content_range writes. */
#define LIVE_RANGE_VALUE_MAX 64

#endif
