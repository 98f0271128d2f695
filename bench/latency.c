/*
 * latency.c - capture-to-listener latency of a live MP3 stream, using the
 * time marks of the test device (test/alsa/pcm_testtone.c, "marks 1": a 3 kHz
 * sync burst on each whole second S of CLOCK_MONOTONIC, then 12 coded 5 ms
 * slots at 2 kHz: S mod 2048 and a parity bit).  Server and probe share the
 * machine's CLOCK_MONOTONIC.
 *
 *   latency --port P [--host 127.0.0.1] [--path /live.mp3] --seconds D
 *           [--skip S] [--label NAME] [-v]
 *
 * Every recv() is timestamped: a body byte arrived with the recv() that
 * returned it.  The body goes to libmpg123 in feed mode.  After each decoded
 * frame, mpg123_framepos() is the body offset of that frame's header (it
 * counts every byte fed, junk and resyncs included) and mpg123_info()
 * .framesize its length with the header, so we know when the frame's last
 * byte arrived, whatever the recv() boundaries and however late the decoder
 * gets to it.  With gapless off each frame decodes to exactly 1152 samples,
 * so a decoded sample index maps back to its frame.  The sync onset is where
 * a 5 ms sliding 3 kHz DFT magnitude peaks (a triangle centred on the burst;
 * blind to the tone's phase and to MP3 pre-echo).
 *
 * Decoder delay: with gapless off mpg123 puts LAME's input sample x at
 * decoded index x + 576 + 529 (checked: 10000 -> 11105); 576 is LAME's
 * encoder delay, inside the frames, 529 the decoder's.  "latency" charges a
 * mark to the frame whose own samples hold it (decoded index - 529), as the
 * project's notes do; "decodable" to the frame whose decoded output holds it,
 * after which a player can render it (0-1 frame later, ~12 ms on average);
 * "played" is when a player that starts at the first byte and plays at the
 * nominal rate (never before the data arrived) renders it.  Marks whose frame
 * arrived less than --skip s after the first byte stay out of these figures
 * (a server's burst of old audio); those of the first 2 s get their own line:
 * their age is how old the audio is that a new listener starts with.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o latency
 *        latency.c -lmpg123 -lm
 */
#include <errno.h>
#include <math.h>
#include <mpg123.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define DECODER_DELAY 529	/* samples, see the top */
#define CODE_BITS 11
#define SLOTS 12		/* 11 bits + parity */
#define RING 262144		/* decoded mono samples kept (~6 s), power of 2 */
#define FRAMES 2048		/* decoded frames kept (~53 s), power of 2 */
#define START_WINDOW_NS (2 * NS)

struct frame { int64_t s0, n, arrive; };	/* first decoded sample, count, last byte's arrival */
struct chunk { int64_t end, t; };		/* body bytes received so far, at time t */
struct vec { double v[65536]; size_t n; };	/* a mark a second: 18 h */

static float pcm[RING];
static struct frame frames[FRAMES];
static int64_t nframes, decoded;		/* totals so far */
static struct chunk *chunks;
static size_t nchunks, chunk_cap, chunk_cur;
static long rate;
static int channels, verbose;
static int64_t t_first, skip_ns;
static struct tone { double *c, *s; int n; } t3, t2;	/* e^{-i w n}, n < 5 ms / 4 ms */
static struct vec lat, dec, played, start_age;
static long bad_marks, lost_marks;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "latency: %s\n", what);
	exit(1);
}

/* a number, or die: atof would take a typo for 0 */
static double number(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end)
		die("not a number");
	return v;
}

static void *grow(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (!p)
		die("out of memory");
	return p;
}

static void push(struct vec *v, double x)
{
	if (v->n < sizeof(v->v) / sizeof(v->v[0]))
		v->v[v->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b);
}

/* median and nearest-rank p90 of v (sorts it) */
static void stats(struct vec *v, double *median, double *p90)
{
	size_t n = v->n;

	qsort(v->v, n, sizeof(double), cmp_double);
	*median = n % 2 ? v->v[n / 2] : (v->v[n / 2 - 1] + v->v[n / 2]) / 2;
	*p90 = v->v[(size_t)ceil(0.9 * (double)n) - 1];
}

/* arrival time of body byte `off` (0-based): the first recv() that reached
 * past it.  Frames come in byte order, so a cursor suffices. */
static int64_t arrival(int64_t off)
{
	while (chunk_cur + 1 < nchunks && chunks[chunk_cur].end <= off)
		chunk_cur++;
	return chunks[chunk_cur].t;
}

/* |sum x[at + n] e^{-i w n}| / (len / 2): amplitude of the tone in the window */
static double tone(int64_t at, const struct tone *t)
{
	double re = 0, im = 0;
	int n;

	for (n = 0; n < t->n; n++) {
		re += pcm[(at + n) & (RING - 1)] * t->c[n];
		im -= pcm[(at + n) & (RING - 1)] * t->s[n];
	}
	return 2 * sqrt(re * re + im * im) / t->n;
}

static void table(struct tone *t, double hz, int len)
{
	int n;

	t->c = grow(t->c, (size_t)len, sizeof(double));
	t->s = grow(t->s, (size_t)len, sizeof(double));
	for (n = 0; n < len; n++) {
		t->c[n] = cos(2 * M_PI * hz * n / (double)rate);
		t->s[n] = sin(2 * M_PI * hz * n / (double)rate);
	}
	t->n = len;
}

/* the kept frame whose decoded output holds sample s, or NULL */
static const struct frame *frame_of(int64_t s)
{
	int64_t i;

	for (i = nframes - 1; i >= 0 && i >= nframes - FRAMES; i--) {
		const struct frame *f = &frames[i & (FRAMES - 1)];

		if (f->s0 <= s)
			return s < f->s0 + f->n ? f : NULL;
	}
	return NULL;
}

/* A sync burst found at decoded sample `onset` with amplitude a3: read its
 * code and record the latencies. */
static void mark(int64_t onset, double a3)
{
	unsigned int code = 0, parity = 0, i;
	const struct frame *fb = frame_of(onset - DECODER_DELAY), *fa = frame_of(onset);
	int64_t sec, s_ns, play;
	double ms;

	for (i = 0; i < SLOTS; i++) {
		/* the 4 ms in the middle of slot i, which starts at 15 + 5 i ms */
		int64_t at = onset + (int64_t)llround((15.5 + 5.0 * i) * (double)rate / 1000.0);
		unsigned int bit = tone(at, &t2) > a3 / 2;

		code |= bit << i;
		parity ^= bit;
	}
	if (parity) {
		bad_marks++;
		if (verbose)
			fprintf(stderr, "mark at sample %lld: parity error\n", (long long)onset);
		return;
	}
	if (!fb || !fa) {
		lost_marks++;	/* its frame is too old or the stream's first */
		return;
	}
	code &= (1u << CODE_BITS) - 1;
	/* the latest second S <= arrival with S mod 2048 == code */
	sec = fb->arrive / NS;
	sec -= ((sec - code) % (1 << CODE_BITS) + (1 << CODE_BITS)) % (1 << CODE_BITS);
	s_ns = sec * NS;
	ms = (double)(fb->arrive - s_ns) / 1e6;
	play = t_first + onset * NS / rate;
	if (play < fa->arrive)
		play = fa->arrive;
	if (verbose)
		fprintf(stderr, "mark second=%lld onset=%lld arrived=+%.1f ms latency=%.1f "
			"decodable=%.1f played=%.1f ms\n", (long long)sec, (long long)onset,
			(double)(fb->arrive - t_first) / 1e6, ms,
			(double)(fa->arrive - s_ns) / 1e6, (double)(play - s_ns) / 1e6);
	if (fb->arrive - t_first < START_WINDOW_NS)
		push(&start_age, ms);
	if (fb->arrive - t_first >= skip_ns) {
		push(&lat, ms);
		push(&dec, (double)(fa->arrive - s_ns) / 1e6);
		push(&played, (double)(play - s_ns) / 1e6);
	}
}

/* Scan the decoded samples for sync bursts.  A sample above 0.3 of full
 * scale is a candidate; the onset is where the 5 ms 3 kHz window peaks
 * within [c - 5 ms, c + 15 ms] (pre-echo can make c early, a weak first
 * cycle late).  A 2 kHz code slot also crosses the threshold; it is told
 * apart by its tone and skipped. */
static void scan(void)
{
	static int64_t pos;
	/* enough decoded audio after a candidate for the search and the slots */
	int64_t need = 4 * (int64_t)t3.n + (int64_t)rate * (15 + 5 * SLOTS) / 1000;

	if (pos < decoded - RING + 2 * (int64_t)t3.n)
		pos = decoded - RING + 2 * (int64_t)t3.n;	/* fell behind: skip what is gone */
	while (pos + need <= decoded) {
		int64_t l, best = pos;
		double a3 = 0;

		if (fabsf(pcm[pos & (RING - 1)]) < 0.3f * 32767) {
			pos++;
			continue;
		}
		for (l = pos > t3.n ? pos - t3.n : 0; l <= pos + 3 * (int64_t)t3.n; l++) {
			double a = tone(l, &t3);

			if (a > a3) {
				a3 = a;
				best = l;
			}
		}
		if (a3 < 0.25 * 32767 || tone(best, &t2) > a3 / 2) {
			pos += t3.n;	/* not a sync burst */
			continue;
		}
		mark(best, a3);
		pos = best + need;	/* past this mark's code slots */
	}
}

static void decoded_frame(mpg123_handle *mh, const int16_t *audio, size_t bytes)
{
	struct mpg123_frameinfo fi;
	struct frame *f = &frames[nframes & (FRAMES - 1)];
	int64_t i, n = (int64_t)(bytes / 2 / (size_t)channels);
	int c;

	if (mpg123_info(mh, &fi) != MPG123_OK)
		die("mpg123_info failed");
	f->s0 = decoded;
	f->n = n;
	/* framepos: offset of this frame's header in the body; framesize
	 * includes the header */
	f->arrive = arrival((int64_t)mpg123_framepos(mh) + fi.framesize - 1);
	nframes++;
	for (i = 0; i < n; i++) {
		float sum = 0;

		for (c = 0; c < channels; c++)
			sum += (float)audio[i * channels + c];
		pcm[(decoded + i) & (RING - 1)] = sum / (float)channels;
	}
	decoded += n;
	scan();
}

static void feed(mpg123_handle *mh, const unsigned char *p, size_t len, int64_t t)
{
	if (nchunks == chunk_cap) {
		chunk_cap = chunk_cap ? 2 * chunk_cap : 4096;
		chunks = grow(chunks, chunk_cap, sizeof(*chunks));
	}
	chunks[nchunks].end = (nchunks ? chunks[nchunks - 1].end : 0) + (int64_t)len;
	chunks[nchunks++].t = t;
	if (mpg123_feed(mh, p, len) != MPG123_OK)
		die(mpg123_strerror(mh));
	for (;;) {
		off_t num;
		unsigned char *audio;
		size_t bytes;
		int enc, r = mpg123_decode_frame(mh, &num, &audio, &bytes);

		if (r == MPG123_NEED_MORE)
			return;
		if (r == MPG123_NEW_FORMAT) {
			if (mpg123_getformat(mh, &rate, &channels, &enc) != MPG123_OK ||
			    enc != MPG123_ENC_SIGNED_16)
				die("unexpected output format");
			table(&t3, 3000, (int)(rate / 200));
			table(&t2, 2000, (int)(rate / 250));
		} else if (r != MPG123_OK) {
			die(mpg123_strerror(mh));
		} else if (bytes > 0) {
			decoded_frame(mh, (const int16_t *)(void *)audio, bytes);
		}
	}
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("cannot resolve host");
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		die("cannot connect");
	return fd;
}

static mpg123_handle *decoder(void)
{
	const long *rates;
	size_t i, nrates;
	int err;
	mpg123_handle *mh = mpg123_new(NULL, &err);

	if (!mh)
		die("mpg123_new failed");
	/* gapless would trim samples and break the fixed 1152 per frame */
	mpg123_param(mh, MPG123_REMOVE_FLAGS, MPG123_GAPLESS, 0);
	mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
	mpg123_format_none(mh);
	mpg123_rates(&rates, &nrates);
	for (i = 0; i < nrates; i++)
		mpg123_format(mh, rates[i], MPG123_MONO | MPG123_STEREO, MPG123_ENC_SIGNED_16);
	if (mpg123_open_feed(mh) != MPG123_OK)
		die("mpg123_open_feed failed");
	return mh;
}

static void report(const char *label, int64_t first_byte_ns)
{
	double med, p90, dmed, dp90, pmed, pp90;

	if (!lat.n) {
		printf("label=%s marks=0 bad=%ld lost=%ld\n", label, bad_marks, lost_marks);
	} else {
		stats(&lat, &med, &p90);
		stats(&dec, &dmed, &dp90);
		stats(&played, &pmed, &pp90);
		printf("label=%s marks=%zu latency_ms median=%.1f p90=%.1f min=%.1f max=%.1f "
		       "decodable_ms median=%.1f p90=%.1f played_ms median=%.1f p90=%.1f "
		       "bad=%ld lost=%ld first_byte_ms=%.1f\n", label, lat.n, med, p90, lat.v[0],
		       lat.v[lat.n - 1], dmed, dp90, pmed, pp90, bad_marks, lost_marks,
		       (double)first_byte_ns / 1e6);
	}
	if (start_age.n) {
		qsort(start_age.v, start_age.n, sizeof(double), cmp_double);
		printf("label=%s start_marks=%zu start_age_ms max=%.1f min=%.1f\n", label,
		       start_age.n, start_age.v[start_age.n - 1], start_age.v[0]);
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL, *path = "/live.mp3", *label = "probe";
	double seconds = 0, skip = 10;
	char req[1024], hdr[8192];
	unsigned char buf[65536];
	size_t hlen = 0;
	int fd, i, body = 0, n;
	int64_t t_connect, deadline;
	mpg123_handle *mh;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "-v")) {
			verbose = 1;
			continue;
		}
		if (!v)
			die("usage: latency --port P [--host H] [--path /p] --seconds D "
			    "[--skip S] [--label NAME] [-v]");
		if (!strcmp(argv[i], "--port")) port = v;
		else if (!strcmp(argv[i], "--host")) host = v;
		else if (!strcmp(argv[i], "--path")) path = v;
		else if (!strcmp(argv[i], "--seconds")) seconds = number(v);
		else if (!strcmp(argv[i], "--skip")) skip = number(v);
		else if (!strcmp(argv[i], "--label")) label = v;
		else die("unknown option");
		i++;
	}
	if (!port || !(seconds > 0) || !(skip >= 0))
		die("--port and --seconds > 0 are required");
	skip_ns = (int64_t)(skip * 1e9);
	mh = decoder();
	t_connect = now_ns();
	fd = connect_to(host, port);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n"
		     "User-Agent: latency-probe\r\n\r\n", path, host);
	if (n < 0 || (size_t)n >= sizeof(req))	/* cut, it would be a bad request */
		die("--path or --host too long");
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		die("send failed");
	/* until the first byte: 10 s; then until first byte + seconds */
	deadline = t_connect + 10 * NS;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t t = now_ns();
		ssize_t r;
		size_t off = 0;

		if (t >= deadline)
			break;
		if (poll(&pfd, 1, (int)((deadline - t) / 1000000 + 1)) < 0 && errno != EINTR)
			die("poll failed");
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		t = now_ns();	/* the arrival of these bytes */
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		if (!body) {
			/* response header: up to the blank line; the rest is body */
			size_t before = hlen, take = sizeof(hdr) - 1 - hlen;
			const char *end;

			if (take > (size_t)r)
				take = (size_t)r;
			memcpy(hdr + hlen, buf, take);
			hlen += take;
			hdr[hlen] = 0;
			end = strstr(hdr, "\r\n\r\n");
			if (!end) {
				if (hlen == sizeof(hdr) - 1)
					die("response header too long");
				continue;
			}
			if (!((!strncmp(hdr, "HTTP/1.", 7) && !strncmp(hdr + 8, " 200", 4)) ||
			      !strncmp(hdr, "ICY 200", 7))) {
				fprintf(stderr, "latency: %.*s\n", (int)strcspn(hdr, "\r\n"), hdr);
				return 1;
			}
			body = 1;
			off = (size_t)(end + 4 - hdr) - before;
		}
		if (off == (size_t)r)
			continue;
		if (!t_first) {
			t_first = t;
			deadline = t_first + (int64_t)(seconds * 1e9);
		}
		feed(mh, buf + off, (size_t)r - off, t);
	}
	close(fd);
	if (!t_first)
		die("no body byte arrived");
	report(label, t_first - t_connect);
	mpg123_delete(mh);
	return 0;
}
