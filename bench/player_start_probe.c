/*
 * player_start_probe.c - when a player starts playing a live MP3 stream, and
 * how far behind live it plays, for bench/player_start.sh.
 *
 *   player_start_probe --listen P --upstream U
 *                      [--fifo PATH | --page | --reports PATH]
 *                      [--play S] [--max S] [--skip S] [--card-bytes B]
 *                      [--label NAME] [-v]
 *
 * The probe stands between the player and lighttpd: a TCP proxy on
 * 127.0.0.1:P that forwards each connection to 127.0.0.1:U as it comes (a
 * 16 KiB buffer a direction, no delay), so it knows when the player
 * connected and how many body bytes it had at any instant.  The body of the
 * first stream response (a 200 whose path is not the probe's own) is also
 * decoded here with libmpg123 (ICY metadata stripped), and the time marks in
 * it (test/alsa/pcm_testtone.c, "marks 1") map each decoded sample of the
 * stream to the CLOCK_MONOTONIC instant it was captured.
 *
 * --fifo PATH: the player writes S16_LE stereo 44.1 kHz PCM (a WAV header
 * is skipped) into the FIFO PATH, and the probe reads it like a sound card:
 * a buffer of --card-bytes (default 8192, 46 ms) that drains at 176400 B/s;
 * it takes from the FIFO (whose pipe buffer it shrinks to 4096 bytes) only
 * what fits, so a player that writes faster blocks as on a real card.  A
 * byte read at t into a buffer holding L bytes is played at t + L / 176400
 * (an empty buffer is an underrun: the card waits).  Start = the first PCM
 * byte read minus the accept of the stream connection.  The marks in the
 * player's own output give the delay behind live: the instant the card
 * plays a mark's sync onset minus the whole second S it was captured at.
 *
 * --page: the probe also serves /bench.html, a page with an <audio>
 * element whose src is the page's ?src= (a stream path, proxied), which
 * reports its currentTime every 20 ms with GET /report?ct=...; the probe
 * timestamps each report.  Start = the first report with currentTime > 0
 * minus the accept (or request, on a reused connection) of the stream
 * request.  Delay = report time minus the capture instant of the stream
 * sample at currentTime (from the marks decoded in the proxy; the media
 * timeline taken to start at the first decoded sample of the response,
 * decoder delay included: about +-25 ms).
 *
 * --reports PATH: as --page, for a player that tells its own playing
 * position: it writes lines "ct=SECONDS" into the FIFO PATH (mpv, from a
 * Lua script, with its null audio output, which is timed like a card), and
 * the probe timestamps each line as it reads it.
 *
 * It ends --play s (default 6) after the start, or --max s (default 20)
 * after its own start if the player never starts, and prints one line:
 *   label=... start_ms=... kb_at_start=... first_body_ms=... delay_ms=...
 *   delay_min_ms=... delay_max_ms=... marks=... underruns=... underrun_ms=...
 *   stream_requests=... first_age_ms=...
 * start_ms: connect to first output; kb_at_start: KiB of audio (ICY
 * metadata left out) the player had received by then; first_body_ms:
 * connect to the first body byte; delay_*: over the marks played from
 * --skip s (default 1) after the start; first_age_ms: how old the first
 * audio of the response was when it arrived (the burst's age).
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o player_start_probe
 *        player_start_probe.c -lmpg123 -lm
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpg123.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define RATE 44100
#define BPS ((int64_t)RATE * 4)	/* S16_LE stereo bytes a second (64-bit: it
				 * multiplies and divides int64_t instants) */
#define SLOTS 12
#define CODE_BITS 11
#define RING 524288		/* mono samples kept for mark detection (~12 s) */
#define MAXCONN 32
#define BUF 16384

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "player_start_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *grow(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (!p)
		die("out of memory");
	return p;
}

static int verbose;

/* ---- time marks (the detector of bench/latency.c, for any sample source) ---- */

struct tone { double c[512], s[512]; int n; };
struct mark { int64_t onset; int64_t sec; };	/* decoded sample of the sync onset, its second */
struct detector {
	float pcm[RING];
	int64_t decoded, pos;
	struct tone t3, t2;
	struct mark *marks;
	size_t nmarks, cap;
	long bad;
};

static void tone_table(struct tone *t, double hz, int len)
{
	int n;

	for (n = 0; n < len; n++) {
		t->c[n] = cos(2 * M_PI * hz * n / RATE);
		t->s[n] = sin(2 * M_PI * hz * n / RATE);
	}
	t->n = len;
}

static void detector_init(struct detector *d)
{
	memset(d, 0, sizeof(*d));
	tone_table(&d->t3, 3000, RATE / 200);
	tone_table(&d->t2, 2000, RATE / 250);
}

static double tone(const struct detector *d, int64_t at, const struct tone *t)
{
	double re = 0, im = 0;
	int n;

	for (n = 0; n < t->n; n++) {
		re += d->pcm[(at + n) & (RING - 1)] * t->c[n];
		im -= d->pcm[(at + n) & (RING - 1)] * t->s[n];
	}
	return 2 * sqrt(re * re + im * im) / t->n;
}

/* a sync onset at decoded sample `onset`: its code, or -1 */
static int read_code(const struct detector *d, int64_t onset, double a3)
{
	unsigned int code = 0, parity = 0, i;

	for (i = 0; i < SLOTS; i++) {
		int64_t at = onset + (int64_t)llround((15.5 + 5.0 * i) * RATE / 1000.0);
		unsigned int bit = tone(d, at, &d->t2) > a3 / 2;

		code |= bit << i;
		parity ^= bit;
	}
	return parity ? -1 : (int)(code & ((1u << CODE_BITS) - 1));
}

/* the latest whole second <= t_ns whose number mod 2048 is code */
static int64_t second_of(int code, int64_t t_ns)
{
	int64_t sec = t_ns / NS;

	return sec - ((sec - code) % (1 << CODE_BITS) + (1 << CODE_BITS)) % (1 << CODE_BITS);
}

/* scans what was added; `latest` is an instant no earlier than the capture
 * of anything decoded so far (to name the second of a code) */
static void detector_scan(struct detector *d, int64_t latest)
{
	int64_t need = 4 * (int64_t)d->t3.n + (int64_t)RATE * (15 + 5 * SLOTS) / 1000;

	if (d->pos < d->decoded - RING + 2 * (int64_t)d->t3.n)
		d->pos = d->decoded - RING + 2 * (int64_t)d->t3.n;
	if (d->pos < d->t3.n)
		d->pos = d->t3.n;
	while (d->pos + need <= d->decoded) {
		int64_t l, best = d->pos;
		double a3 = 0;
		int code;

		if (fabsf(d->pcm[d->pos & (RING - 1)]) < 0.3f * 32767) {
			d->pos++;
			continue;
		}
		for (l = d->pos - d->t3.n; l <= d->pos + 3 * (int64_t)d->t3.n; l++) {
			double a = tone(d, l, &d->t3);

			if (a > a3) {
				a3 = a;
				best = l;
			}
		}
		if (a3 < 0.25 * 32767 || tone(d, best, &d->t2) > a3 / 2) {
			d->pos += d->t3.n;
			continue;
		}
		code = read_code(d, best, a3);
		if (code < 0) {
			d->bad++;
		} else {
			if (d->nmarks == d->cap) {
				d->cap = d->cap ? 2 * d->cap : 64;
				d->marks = grow(d->marks, d->cap, sizeof(*d->marks));
			}
			d->marks[d->nmarks].onset = best;
			d->marks[d->nmarks].sec = second_of(code, latest);
			d->nmarks++;
		}
		d->pos = best + need;
	}
}

/* n stereo S16 frames */
static void detector_add(struct detector *d, const int16_t *s, size_t n, int64_t latest)
{
	size_t i;

	for (i = 0; i < n; i++)
		d->pcm[(d->decoded + (int64_t)i) & (RING - 1)] = ((float)s[2 * i] + (float)s[2 * i + 1]) / 2;
	d->decoded += (int64_t)n;
	detector_scan(d, latest);
}

/* ---- the proxy ---- */

enum { FREE, LOCAL, PROXY };
/* the 8-byte fields first, then the buffers, then the ints: no padding but
 * the tail's */
struct conn {
	int64_t t_accept, t_stream;	/* accept; the stream request (0: not one) */
	size_t up_len, down_len, req_len;
	/* response parsing (tracked only) */
	size_t hlen;
	long metaint, meta_left, audio_left;	/* ICY: audio bytes to the next block */
	int64_t audio_bytes;		/* audio body bytes forwarded to the client */
	int64_t csize;			/* bytes left of the chunk (CH_DATA) */
	unsigned char up[BUF], down[BUF];	/* client->upstream, upstream->client */
	char req[8192];
	char hdr[8192];			/* the tracked response's header */
	int state, cfd, ufd;
	int requests;			/* requests seen while LOCAL */
	int tracked;			/* this is the stream the figures are about */
	int in_body, status;
	int chunked, cstate;		/* Transfer-Encoding: chunked; CH_* */
};
enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_END };

static struct conn conns[MAXCONN];
static int upstream_port, page_mode;
static const char *label = "probe";

/* the tracked stream */
static int64_t t_connect, t_first_body;
static int tracked_seen, stream_requests;
static mpg123_handle *mh;
static struct detector *sdet;		/* marks of the stream as decoded here */
static int64_t stream_first_sample_arrival;	/* when the first decoded frame arrived */

/* the page's reports */
struct report { int64_t t; double ct; };
static struct report *reports;
static size_t nreports, rcap;

static const char page_html[] =
	"<!DOCTYPE html><meta charset=\"utf-8\"><title>player start</title>\n"
	"<audio id=\"a\"></audio>\n<script>\n"
	"var a = document.getElementById('a'), n = 0;\n"
	"function report(q) { fetch('/report?n=' + n++ + '&' + q, { cache: 'no-store' }).catch(function () {}); }\n"
	"a.addEventListener('error', function () { report('event=error'); });\n"
	"a.addEventListener('playing', function () { report('event=playing&ct=' + a.currentTime); });\n"
	"a.src = new URLSearchParams(location.search).get('src');\n"
	"a.play().catch(function (e) { report('event=rejected'); });\n"
	"setInterval(function () { report('ct=' + a.currentTime.toFixed(4)); }, 20);\n"
	"</script>\n";

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void reset_decoder(void);

static void conn_close(struct conn *c)
{
	if (c->tracked) {
		/* the stream the figures were about is gone: follow the next one */
		c->tracked = 0;
		tracked_seen = 0;
		reset_decoder();
	}
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	c->state = FREE;
	c->cfd = c->ufd = -1;
}

static int connect_upstream(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)upstream_port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the upstream");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_nonblock(fd);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	/* small local answers on a fresh socket buffer: a short wait at most */
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, 100);
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void add_report(const char *query, int64_t t)
{
	const char *ct = strstr(query, "ct=");
	char *end;
	double v;

	if (verbose)
		fprintf(stderr, "[%.3f] report %s\n", (double)(t - t_connect) / 1e9, query);
	if (!ct)
		return;
	/* a number up to the end of the line or the next parameter, else no
	 * report (Chromium's "event=playing&ct=" + currentTime is one too) */
	errno = 0;
	v = strtod(ct + 3, &end);
	if (end == ct + 3 || (*end && *end != '&') || errno == ERANGE || !isfinite(v))
		return;
	if (nreports == rcap) {
		rcap = rcap ? 2 * rcap : 1024;
		reports = grow(reports, rcap, sizeof(*reports));
	}
	reports[nreports].t = t;
	reports[nreports].ct = v;
	nreports++;
}

/* a LOCAL connection has req bytes: answer its own requests, and turn it
 * into a proxy at the first one for a stream */
static void local_requests(struct conn *c, int64_t t)
{
	for (;;) {
		char *end, path[2048];
		size_t len;

		c->req[c->req_len] = 0;
		end = strstr(c->req, "\r\n\r\n");
		if (!end)
			return;
		len = (size_t)(end + 4 - c->req);
		if (sscanf(c->req, "%*s %2047s", path) != 1)
			path[0] = 0;
		if (page_mode && !strncmp(path, "/bench.html", 11)) {
			char h[256];
			int hn = snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
					  "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n",
					  sizeof(page_html) - 1);

			if (hn < 0 || (size_t)hn >= sizeof(h))
				die("the page's header");
			send_all(c->cfd, h, (size_t)hn);
			send_all(c->cfd, page_html, sizeof(page_html) - 1);
		} else if (page_mode && (!strncmp(path, "/report?", 8) || !strcmp(path, "/favicon.ico"))) {
			static const char r204[] = "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n\r\n";

			if (path[1] == 'r')
				add_report(path + 8, t);
			send_all(c->cfd, r204, sizeof(r204) - 1);
		} else {
			/* a stream (or anything else): proxied from here on */
			c->state = PROXY;
			c->ufd = connect_upstream();
			c->t_stream = c->requests ? t : c->t_accept;
			memcpy(c->up, c->req, c->req_len);
			c->up_len = c->req_len;
			c->req_len = 0;
			stream_requests++;
			if (verbose)
				fprintf(stderr, "[%.3f] stream request %s (connection's request %d)\n",
					t_connect ? (double)(t - t_connect) / 1e9 : 0.0, path, c->requests + 1);
			if (!tracked_seen) {
				tracked_seen = 1;
				c->tracked = 1;
				if (!t_connect)	/* the player's first stream request */
					t_connect = c->t_stream;
			}
			return;
		}
		c->requests++;
		memmove(c->req, c->req + len, c->req_len - len);
		c->req_len -= len;
	}
}

static void reset_decoder(void)
{
	int err;

	if (mh)
		mpg123_delete(mh);
	if (!(mh = mpg123_new(NULL, &err)))
		die("mpg123");
	mpg123_param(mh, MPG123_REMOVE_FLAGS, MPG123_GAPLESS, 0);
	mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
	mpg123_format_none(mh);
	mpg123_format(mh, RATE, MPG123_STEREO, MPG123_ENC_SIGNED_16);
	if (mpg123_open_feed(mh) != MPG123_OK)
		die("mpg123_open_feed");
	detector_init(sdet);
	stream_first_sample_arrival = 0;
}

static void decode_audio(const unsigned char *p, size_t n, int64_t t)
{
	if (mpg123_feed(mh, p, n) != MPG123_OK)
		return;
	for (;;) {
		off_t num;
		unsigned char *audio;
		size_t bytes;
		int r = mpg123_decode_frame(mh, &num, &audio, &bytes);

		if (r == MPG123_NEED_MORE || (r != MPG123_OK && r != MPG123_NEW_FORMAT))
			return;
		if (r == MPG123_OK && bytes > 0) {
			if (!sdet->decoded)
				stream_first_sample_arrival = t;
			detector_add(sdet, (const int16_t *)(void *)audio, bytes / 4, t);
		}
	}
}

/* body bytes of the tracked response, as the client gets them */
static void track_body(struct conn *c, const unsigned char *p, size_t n, int64_t t)
{
	while (n > 0) {
		if (c->meta_left > 0) {		/* inside an ICY block */
			size_t k = (size_t)c->meta_left < n ? (size_t)c->meta_left : n;

			c->meta_left -= (long)k;
			p += k;
			n -= k;
		} else if (c->metaint && c->audio_left == 0) {	/* its length byte */
			c->meta_left = 16L * p[0];
			c->audio_left = c->metaint;
			p++;
			n--;
		} else {
			size_t k = n;

			if (c->metaint && (size_t)c->audio_left < k)
				k = (size_t)c->audio_left;
			if (c->metaint)
				c->audio_left -= (long)k;
			if (!t_first_body)
				t_first_body = t;
			c->audio_bytes += (int64_t)k;
			decode_audio(p, k, t);
			p += k;
			n -= k;
		}
	}
}

/* the body as sent, chunked or not: its content to track_body */
static void track_content(struct conn *c, const unsigned char *p, size_t n, int64_t t)
{
	if (!c->chunked) {
		track_body(c, p, n, t);
		return;
	}
	while (n > 0) {
		unsigned char ch = *p;

		switch (c->cstate) {
		case CH_SIZE:
			if ((ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'f'))
				c->csize = c->csize * 16 + (ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
			else
				c->cstate = ch == '\r' ? CH_SIZE_LF : CH_EXT;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->cstate = CH_SIZE_LF;
			break;
		case CH_SIZE_LF:
			c->cstate = c->csize ? CH_DATA : CH_END;
			break;
		case CH_DATA: {
			size_t k = (size_t)c->csize < n ? (size_t)c->csize : n;

			track_body(c, p, k, t);
			c->csize -= (int64_t)k;
			if (!c->csize)
				c->cstate = CH_DATA_CR;
			p += k;
			n -= k;
			continue;
		}
		case CH_DATA_CR:
			c->cstate = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			c->cstate = CH_SIZE;
			c->csize = 0;
			break;
		default:
			return;
		}
		p++;
		n--;
	}
}

/* the status code of a response's header ("HTTP/1.1 200 OK"), or 0 */
static int status_code(const char *hdr)
{
	const char *sp = strchr(hdr, ' ');
	char *end;
	long v;

	if (!sp)
		return 0;
	errno = 0;
	v = strtol(sp + 1, &end, 10);
	if (end == sp + 1 || (*end && *end != ' ' && *end != '\r') || errno == ERANGE || v < 100 || v > 999)
		return 0;
	return (int)v;
}

/* a header's value that is a positive number (icy-metaint), or 0 */
static long header_number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == s || (*end && *end != '\r') || errno == ERANGE || v <= 0 || v > 1L << 24)
		return 0;
	return v;
}

/* the tracked response's bytes read from upstream */
static void track_response(struct conn *c, const unsigned char *p, size_t n, int64_t t)
{
	if (!c->in_body) {
		size_t take = sizeof(c->hdr) - 1 - c->hlen;
		char *end, *mi;
		size_t before = c->hlen, used;

		if (take > n)
			take = n;
		memcpy(c->hdr + c->hlen, p, take);
		c->hlen += take;
		c->hdr[c->hlen] = 0;
		end = strstr(c->hdr, "\r\n\r\n");
		if (!end)
			return;
		*end = 0;
		c->in_body = 1;
		c->status = status_code(c->hdr);
		for (mi = c->hdr; *mi; mi++)
			*mi = (char)(*mi >= 'A' && *mi <= 'Z' ? *mi + 32 : *mi);
		mi = strstr(c->hdr, "\nicy-metaint:");
		c->metaint = mi ? header_number(mi + 13) : 0;
		c->audio_left = c->metaint;
		c->chunked = strstr(c->hdr, "\ntransfer-encoding: chunked") != NULL;
		c->cstate = CH_SIZE;
		c->csize = 0;
		if (verbose)
			fprintf(stderr, "[%.3f] response %d metaint %ld%s\n",
				(double)(t - t_connect) / 1e9, c->status, c->metaint, c->chunked ? " chunked" : "");
		used = (size_t)(end + 4 - c->hdr) - before;
		p += used;
		n -= used;
	}
	if (c->status == 200 || c->status == 206)
		track_content(c, p, n, t);
}

/* ---- the sound card (--fifo) ---- */

struct chunk { int64_t start, t; int64_t level; };	/* PCM byte offset, read time, bytes queued before */
static struct chunk *chunks;
static size_t nchunks, ccap;
static struct detector *odet;		/* marks of the player's output */
static int64_t pcm_bytes, card_level, card_t, t_first_pcm, underruns, underrun_ns;
static int64_t card_bytes = 8192;
static int header_state;		/* 0: not known, 1: WAV header being skipped, 2: PCM */
static unsigned char head[4096];
static size_t head_len;
static unsigned char frame_rest[4];
static size_t frame_rest_len;

/* the card drains up to now; an empty card waits for the next bytes */
static int card_empty;
static int64_t empty_since;

static void card_drain(int64_t t)
{
	int64_t played;

	if (!t_first_pcm || card_empty) {
		card_t = t;
		return;
	}
	played = (t - card_t) * BPS / NS;
	if (played >= card_level) {
		empty_since = card_t + card_level * NS / BPS;
		card_empty = 1;
		card_level = 0;
		card_t = t;
	} else if (played > 0) {
		card_level -= played;
		card_t += played * NS / BPS;
	}
}

static void pcm_frames(const unsigned char *p, size_t n, int64_t t)
{
	int16_t s[8192];

	/* whole frames for the detector */
	while (n > 0) {
		size_t k = 0;

		if (frame_rest_len) {
			while (frame_rest_len < 4 && n > 0) {
				frame_rest[frame_rest_len++] = *p++;
				n--;
			}
			if (frame_rest_len < 4)
				return;
			memcpy(s, frame_rest, 4);
			frame_rest_len = 0;
			detector_add(odet, s, 1, t);
			continue;
		}
		while (k + 4 <= n && k < sizeof(s))
			k += 4;
		if (k == 0) {
			memcpy(frame_rest, p, n);
			frame_rest_len = n;
			return;
		}
		memcpy(s, p, k);
		detector_add(odet, s, k / 4, t);
		p += k;
		n -= k;
	}
}

/* PCM bytes read at t (after the header) */
static void pcm_in(const unsigned char *p, size_t n, int64_t t)
{
	if (n == 0)
		return;
	if (!t_first_pcm) {
		t_first_pcm = t;
		card_t = t;
		card_level = 0;
		if (verbose)
			fprintf(stderr, "[%.3f] first PCM byte\n", (double)(t - t_connect) / 1e9);
	}
	if (card_empty) {
		/* more than 2 ms of nothing: an underrun, the card waited */
		if (t - empty_since > 2 * NS / 1000) {
			underruns++;
			underrun_ns += t - empty_since;
			if (verbose)
				fprintf(stderr, "[%.3f] underrun of %.1f ms\n", (double)(empty_since - t_connect) / 1e9,
					(double)(t - empty_since) / 1e6);
		}
		card_empty = 0;
		card_t = t;
	}
	if (nchunks == ccap) {
		ccap = ccap ? 2 * ccap : 4096;
		chunks = grow(chunks, ccap, sizeof(*chunks));
	}
	chunks[nchunks].start = pcm_bytes;
	chunks[nchunks].t = t;
	chunks[nchunks].level = card_level;
	nchunks++;
	pcm_bytes += (int64_t)n;
	card_level += (int64_t)n;
	pcm_frames(p, n, t);
}

/* what the player wrote, header or PCM */
static void player_bytes(const unsigned char *p, size_t n, int64_t t)
{
	if (header_state == 2) {
		pcm_in(p, n, t);
		return;
	}
	while (n > 0 && head_len < sizeof(head)) {
		head[head_len++] = *p++;
		n--;
	}
	if (head_len < 4 && n == 0)
		return;
	if (memcmp(head, "RIFF", 4) != 0) {
		header_state = 2;
		pcm_in(head, head_len, t);
		pcm_in(p, n, t);
		return;
	}
	/* a WAV header: its chunks up to "data" */
	size_t off = 12;

	while (off + 8 <= head_len) {
		uint32_t len = head[off + 4] | head[off + 5] << 8 | head[off + 6] << 16 | (uint32_t)head[off + 7] << 24;

		if (memcmp(head + off, "data", 4) == 0) {
			header_state = 2;
			pcm_in(head + off + 8, head_len - off - 8, t);
			pcm_in(p, n, t);
			return;
		}
		off += 8 + len;
	}
	if (head_len == sizeof(head)) {	/* not a header we know: all PCM */
		header_state = 2;
		pcm_in(head, head_len, t);
		pcm_in(p, n, t);
	}
}

/* the play instant of PCM byte b */
static int64_t play_time(int64_t b)
{
	size_t lo = 0, hi = nchunks;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (chunks[mid].start <= b)
			lo = mid;
		else
			hi = mid;
	}
	return chunks[lo].t + (chunks[lo].level + b - chunks[lo].start) * NS / BPS;
}

/* capture instant of stream sample x (decoded here), or 0 */
static int64_t capture_time(double x)
{
	size_t i;
	const struct mark *m = NULL;

	for (i = 0; i < sdet->nmarks; i++)
		if ((double)sdet->marks[i].onset <= x)
			m = &sdet->marks[i];
	if (!m)	/* before the first mark: from the first one, back */
		m = sdet->nmarks ? &sdet->marks[0] : NULL;
	if (!m)
		return 0;
	return m->sec * NS + (int64_t)((x - (double)m->onset) * NS / RATE);
}

static int cmp_double(const void *a, const void *b)
{
	return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b);
}

static double number(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end) {
		errno = EINVAL;
		die(s);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *fifo = NULL, *reports_path = NULL;
	int rfd = -1;
	char rline[4096];
	size_t rlen = 0;
	int listen_port = 0, lfd, ffd = -1, i, one = 1;
	double play = 6, max = 20, skip = 1;
	struct sockaddr_in a = { .sin_family = AF_INET };
	int64_t t_begin, t_start = 0, kb_at_start = -1;
	double delays[4096];
	size_t nd = 0;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(argv[i], "-v")) { verbose = 1; continue; }
		if (!strcmp(argv[i], "--page")) { page_mode = 1; continue; }
		if (!strcmp(argv[i], "--listen")) listen_port = (int)number(v);
		else if (!strcmp(argv[i], "--upstream")) upstream_port = (int)number(v);
		else if (!strcmp(argv[i], "--fifo")) fifo = v;
		else if (!strcmp(argv[i], "--reports")) reports_path = v;
		else if (!strcmp(argv[i], "--play")) play = number(v);
		else if (!strcmp(argv[i], "--max")) max = number(v);
		else if (!strcmp(argv[i], "--skip")) skip = number(v);
		else if (!strcmp(argv[i], "--card-bytes")) card_bytes = (int64_t)number(v);
		else if (!strcmp(argv[i], "--label")) label = v;
		else { errno = EINVAL; die(argv[i]); }
		i++;
	}
	if (!listen_port || !upstream_port || (!!fifo + page_mode + !!reports_path != 1) || card_bytes < 1024) {
		fprintf(stderr, "usage: player_start_probe --listen P --upstream U [--fifo PATH | --page | --reports PATH] "
			"[--play S] [--max S] [--skip S] [--card-bytes B] [--label NAME] [-v]\n");
		return 2;
	}
	if (mpg123_init() != MPG123_OK)
		die("mpg123");
	sdet = grow(NULL, 1, sizeof(*sdet));
	reset_decoder();
	odet = grow(NULL, 1, sizeof(*odet));
	detector_init(odet);
	for (i = 0; i < MAXCONN; i++)
		conns[i].state = FREE, conns[i].cfd = conns[i].ufd = -1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons((uint16_t)listen_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0)
		die("listen");
	set_nonblock(lfd);
	if (fifo) {
		/* read-write: never an end of file before the player opens it */
		ffd = open(fifo, O_RDWR | O_NONBLOCK);
		if (ffd < 0)
			die(fifo);
		fcntl(ffd, F_SETPIPE_SZ, 4096);
	}
	if (reports_path) {
		rfd = open(reports_path, O_RDWR | O_NONBLOCK);
		if (rfd < 0)
			die(reports_path);
	}
	printf("ready\n");
	/* bench/player_start.sh starts the player when it reads this */
	if (fflush(stdout) != 0)
		die("stdout");
	t_begin = now_ns();

	for (;;) {
		struct pollfd pfd[2 + 2 * MAXCONN];
		struct conn *who[2 + 2 * MAXCONN];
		int np = 0, timeout = 50, k;
		int64_t t = now_ns(), room = 0;

		if (!t_start && t - t_begin > (int64_t)(max * NS))
			break;
		if (t_start && t - t_start > (int64_t)(play * NS))
			break;
		pfd[np].fd = lfd; pfd[np].events = POLLIN; who[np++] = NULL;
		if (rfd >= 0) {
			pfd[np].fd = rfd; pfd[np].events = POLLIN; who[np++] = NULL;
		}
		if (ffd >= 0) {
			card_drain(t);
			room = card_bytes - card_level;
			if (room >= 1024) {
				pfd[np].fd = ffd; pfd[np].events = POLLIN; who[np++] = NULL;
			} else {
				/* until 1 KiB is free */
				timeout = (int)((1024 - room) * 1000 / BPS) + 1;
			}
		}
		for (i = 0; i < MAXCONN; i++) {
			struct conn *c = &conns[i];

			if (c->state == FREE)
				continue;
			pfd[np].fd = c->cfd;
			pfd[np].events = (short)((c->state == LOCAL || c->up_len < BUF ? POLLIN : 0) |
						 (c->down_len ? POLLOUT : 0));
			who[np++] = c;
			if (c->state == PROXY) {
				pfd[np].fd = c->ufd;
				pfd[np].events = (short)((c->down_len < BUF ? POLLIN : 0) | (c->up_len ? POLLOUT : 0));
				who[np++] = c;
			}
		}
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR)
			die("poll");
		t = now_ns();
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);

			if (fd >= 0) {
				for (i = 0; i < MAXCONN && conns[i].state != FREE; i++)
					;
				if (i == MAXCONN) {
					close(fd);
				} else {
					struct conn *c = &conns[i];

					memset(c, 0, sizeof(*c));
					c->state = LOCAL;
					c->cfd = fd;
					c->ufd = -1;
					c->t_accept = t;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					set_nonblock(fd);
				}
			}
		}
		for (k = 1; k < np; k++) {
			struct conn *c = who[k];
			short re = pfd[k].revents;

			if (!re)
				continue;
			if (!c && pfd[k].fd == rfd) {	/* the player's position reports */
				ssize_t r = read(rfd, rline + rlen, sizeof(rline) - 1 - rlen);

				if (r > 0) {
					char *nl;

					rlen += (size_t)r;
					rline[rlen] = 0;
					while ((nl = strchr(rline, '\n'))) {
						*nl = 0;
						add_report(rline, t);
						rlen -= (size_t)(nl + 1 - rline);
						memmove(rline, nl + 1, rlen + 1);
					}
					if (rlen == sizeof(rline) - 1)
						rlen = 0;
				}
				continue;
			}
			if (!c) {	/* the FIFO */
				unsigned char buf[BUF];
				ssize_t r;

				card_drain(t);
				room = card_bytes - card_level;
				if (room > (int64_t)sizeof(buf))
					room = sizeof(buf);
				r = read(ffd, buf, (size_t)room);
				if (r > 0) {
					player_bytes(buf, (size_t)r, t);
					if (t_first_pcm && !t_start) {
						t_start = t_first_pcm;
						for (i = 0; i < MAXCONN; i++)
							if (conns[i].tracked)
								kb_at_start = conns[i].audio_bytes;
					}
				}
				continue;
			}
			if (c->state == FREE)
				continue;
			if (pfd[k].fd == c->cfd) {
				if (re & POLLOUT && c->down_len) {
					ssize_t w = send(c->cfd, c->down, c->down_len, MSG_NOSIGNAL);

					if (w > 0) {
						if (c->tracked)
							track_response(c, c->down, (size_t)w, t);
						memmove(c->down, c->down + w, c->down_len - (size_t)w);
						c->down_len -= (size_t)w;
					} else if (w < 0 && errno != EAGAIN) {
						conn_close(c);
						continue;
					}
				}
				if (re & (POLLIN | POLLHUP | POLLERR)) {
					ssize_t r;

					if (c->state == LOCAL) {
						r = recv(c->cfd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
						if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
							conn_close(c);
							continue;
						}
						if (r > 0) {
							c->req_len += (size_t)r;
							local_requests(c, t);
							if (c->state == LOCAL && c->req_len == sizeof(c->req) - 1)
								conn_close(c);
						}
					} else if (c->up_len < BUF) {
						r = recv(c->cfd, c->up + c->up_len, BUF - c->up_len, 0);
						if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
							conn_close(c);
							continue;
						}
						if (r > 0)
							c->up_len += (size_t)r;
					}
				}
			} else if (c->state == PROXY) {
				if (re & POLLOUT && c->up_len) {
					ssize_t w = send(c->ufd, c->up, c->up_len, MSG_NOSIGNAL);

					if (w > 0) {
						memmove(c->up, c->up + w, c->up_len - (size_t)w);
						c->up_len -= (size_t)w;
					} else if (w < 0 && errno != EAGAIN) {
						conn_close(c);
						continue;
					}
				}
				if (re & (POLLIN | POLLHUP | POLLERR) && c->down_len < BUF) {
					ssize_t r = recv(c->ufd, c->down + c->down_len, BUF - c->down_len, 0);

					if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
						/* upstream closed: flush what is left, then close */
						if (c->down_len)
							send_all(c->cfd, (char *)c->down, c->down_len);
						conn_close(c);
						continue;
					}
					if (r > 0) {
						/* forward at once where the client can take it */
						ssize_t w;

						c->down_len += (size_t)r;
						w = send(c->cfd, c->down, c->down_len, MSG_NOSIGNAL);
						if (w > 0) {
							if (c->tracked)
								track_response(c, c->down, (size_t)w, t);
							memmove(c->down, c->down + w, c->down_len - (size_t)w);
							c->down_len -= (size_t)w;
						}
					}
				}
			}
		}
		/* the page: the first report with currentTime advanced */
		if (!fifo && !t_start) {
			size_t j;

			for (j = 0; j < nreports; j++)
				if (reports[j].ct > 0) {
					t_start = reports[j].t;
					for (i = 0; i < MAXCONN; i++)
						if (conns[i].tracked)
							kb_at_start = conns[i].audio_bytes;
					break;
				}
		}
	}

	/* the delays */
	if (fifo) {
		size_t j;

		for (j = 0; j < odet->nmarks && nd < 4096; j++) {
			int64_t b = odet->marks[j].onset * 4, tp;

			if (b >= pcm_bytes)
				continue;
			tp = play_time(b);
			if (tp - t_start < (int64_t)(skip * NS))
				continue;
			delays[nd++] = (double)(tp - odet->marks[j].sec * NS) / 1e6;
			if (verbose)
				fprintf(stderr, "mark sec=%lld played=+%.3f delay=%.1f ms\n",
					(long long)odet->marks[j].sec, (double)(tp - t_connect) / 1e9, delays[nd - 1]);
		}
	} else {
		size_t j;

		for (j = 0; j < nreports && nd < 4096; j++) {
			int64_t cap;

			if (reports[j].ct <= 0 || reports[j].t - t_start < (int64_t)(skip * NS))
				continue;
			cap = capture_time(reports[j].ct * RATE);
			if (cap)
				delays[nd++] = (double)(reports[j].t - cap) / 1e6;
		}
	}
	if (verbose) {
		size_t j;

		for (j = 0; j < sdet->nmarks && j < 4; j++)
			fprintf(stderr, "stream mark onset=%lld sec=%lld\n", (long long)sdet->marks[j].onset,
				(long long)sdet->marks[j].sec);
		fprintf(stderr, "stream first frame arrived +%.3f, bad marks %ld/%ld\n",
			(double)(stream_first_sample_arrival - t_connect) / 1e9, sdet->bad, odet->bad);
	}
	printf("label=%s", label);
	if (t_start && t_connect)
		printf(" start_ms=%.0f kb_at_start=%.1f", (double)(t_start - t_connect) / 1e6,
		       (double)kb_at_start / 1024);
	else
		printf(" start_ms=none kb_at_start=none");
	printf(" first_body_ms=");
	if (t_first_body && t_connect)
		printf("%.0f", (double)(t_first_body - t_connect) / 1e6);
	else
		printf("none");
	if (nd) {
		double med;

		qsort(delays, nd, sizeof(double), cmp_double);
		med = nd % 2 ? delays[nd / 2] : (delays[nd / 2 - 1] + delays[nd / 2]) / 2;
		printf(" delay_ms=%.0f delay_min_ms=%.0f delay_max_ms=%.0f", med, delays[0], delays[nd - 1]);
	} else {
		printf(" delay_ms=none delay_min_ms=none delay_max_ms=none");
	}
	printf(" marks=%zu underruns=%lld underrun_ms=%.0f stream_requests=%d",
	       fifo ? odet->nmarks : sdet->nmarks, (long long)underruns, (double)underrun_ns / 1e6,
	       stream_requests);
	if (sdet->nmarks && stream_first_sample_arrival)
		printf(" first_age_ms=%.0f",
		       (double)(stream_first_sample_arrival - capture_time(0)) / 1e6);
	else
		printf(" first_age_ms=none");
	printf("\n");
	return 0;
}
