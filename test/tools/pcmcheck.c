/* pcmcheck - check that decoded PCM is a clean, continuous sine tone.
 *
 * Integration tests decode a listener's MP3 stream with mpg123 and feed
 * the raw s16le (or WAV) output here.  We check what a listener hears:
 * enough audio, the expected pitch, no dropouts (silence) and no
 * discontinuities (lost, repeated or spliced audio).
 *
 * Why the phase check works: a pure tone through MP3 at 128 kbit/s comes
 * back nearly clean, so the phase of the best-fitting sine in each 20 ms
 * block lies on a straight line (its slope is the frequency error).
 * Losing or repeating N samples shifts everything after it by N samples,
 * i.e. a phase step of 2*pi*f*N/rate (mod 2*pi), seen as a step in the
 * block phases.
 *
 * Blind case: when f*N/rate is (nearly) an integer the step wraps to ~0.
 * For whole MP3 frames (N = 1152*k) that happens when f is close to a
 * multiple of rate/1152 (38.28 Hz at 44.1 kHz).  997 Hz at 44.1 kHz is
 * only 0.277 rad from such a multiple for one lost frame (so the default
 * threshold is 0.1 rad, not 0.5; a clean MP3 round trip stays below
 * 0.001 rad),
 * and 23 lost frames wrap to 0.09 rad.  Gaps filled with silence are
 * still caught by the dropout check; losses that wrap are not.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTS 10
#define STEP_WIN 5 /* blocks averaged on each side of a phase step */

struct opts {
	long rate, channels, skip_ms, min_ms;
	double expect_hz, tol_hz, max_jump;
	const char *path;
};

struct pcm {
	double *x; /* channel 0 after the skip, full scale = 1.0 */
	size_t n;
	double rms; /* of channel 0 */
	double min_ch_rms; /* quietest channel, to catch a dead channel */
	long min_ch;
};

struct result {
	double f, jump;
	int drops;
};

static int n_fail;

/* Input and resource errors are not test failures: exit 2. */
static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("malloc");
	return p;
}

static void fail(const char *fmt, double a, double b)
{
	if (++n_fail <= MAX_REPORTS) {
		printf("pcmcheck: FAIL ");
		printf(fmt, a, b);
		putchar('\n');
	}
}

static void usage(void)
{
	fputs("usage: pcmcheck --rate HZ --channels N [--skip-ms 300]"
	      " [--expect-hz F] [--tol-hz 3] [--min-ms 4000]"
	      " [--max-jump-rad 0.1] [FILE|-]\n"
	      "input: raw s16le interleaved, or a 16-bit PCM WAV file\n"
	      "reported times are ms from the start of the input\n",
	      stderr);
	exit(2);
}

static double num_arg(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		usage();
	return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "rate", 1, 0, 'r' },	   { "channels", 1, 0, 'c' },
		{ "skip-ms", 1, 0, 's' },  { "expect-hz", 1, 0, 'e' },
		{ "tol-hz", 1, 0, 't' },   { "min-ms", 1, 0, 'm' },
		{ "max-jump-rad", 1, 0, 'j' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	int c;

	*o = (struct opts){ 0, 0, 300, 4000, -1.0, 3.0, 0.1, "-" };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->rate = (long)num_arg(optarg, 1000, 768000); break;
		case 'c': o->channels = (long)num_arg(optarg, 1, 64); break;
		case 's': o->skip_ms = (long)num_arg(optarg, 0, 1e7); break;
		case 'e': o->expect_hz = num_arg(optarg, 1, 1e6); break;
		case 't': o->tol_hz = num_arg(optarg, 0, 1e6); break;
		case 'm': o->min_ms = (long)num_arg(optarg, 0, 1e9); break;
		case 'j': o->max_jump = num_arg(optarg, 1e-6, 3.2); break;
		default: usage();
		}
	}
	if (optind < argc)
		o->path = argv[optind++];
	if (optind < argc)
		usage();
}

/* Slurp everything: the input is a pipe from mpg123 and only a few MB. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 20, got;
	uint8_t *buf = xmalloc(cap), *nb;

	if (!f)
		die(path);
	*len = 0;
	while ((got = fread(buf + *len, 1, cap - *len, f)) > 0) {
		*len += got;
		if (*len == cap) {
			nb = realloc(buf, cap *= 2);
			if (!nb)
				die("realloc");
			buf = nb;
		}
	}
	if (ferror(f))
		die(path);
	if (f != stdin)
		(void)fclose(f);	/* read only: its errors are ferror's, above */
	return buf;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int le16s(const uint8_t *p)
{
	return (int16_t)(uint16_t)(p[0] | p[1] << 8);
}

static void bad_wav(const char *why)
{
	fprintf(stderr, "pcmcheck: bad WAV: %s\n", why);
	exit(2);
}

/* Walk the RIFF chunks; the header wins over --rate/--channels.  A WAV
 * streamed to a pipe (mpg123 -w -) has data size 0 or a bogus one, so
 * then take everything up to the end of the input. */
static const uint8_t *parse_wav(const uint8_t *b, size_t *len, struct opts *o)
{
	size_t pos = 12;
	int have_fmt = 0;

	while (pos + 8 <= *len) {
		uint32_t sz = le32(b + pos + 4);
		const uint8_t *c = b + pos + 8;
		size_t left = *len - pos - 8;

		if (!memcmp(b + pos, "fmt ", 4)) {
			unsigned tag = left < 16 ? 0 : c[0] | c[1] << 8;
			if (sz < 16 || (tag != 1 && tag != 0xFFFE) ||
			    (c[14] | c[15] << 8) != 16)
				bad_wav("fmt is not 16-bit PCM");
			o->channels = c[2] | c[3] << 8;
			o->rate = (long)le32(c + 4);
			have_fmt = 1;
		} else if (!memcmp(b + pos, "data", 4)) {
			if (!have_fmt)
				bad_wav("data before fmt");
			*len = sz && sz < left ? sz : left;
			return c;
		}
		pos += 8 + (size_t)sz + (sz & 1);
	}
	bad_wav("no data chunk");
	return NULL;
}

/* Keep channel 0 for analysis; other channels only need to be alive. */
static void decode(const uint8_t *b, size_t len, const struct opts *o,
		   struct pcm *p)
{
	size_t frame = 2 * (size_t)o->channels, nf = len / frame;
	size_t skip = (size_t)(o->skip_ms * o->rate / 1000);

	p->n = nf > skip ? nf - skip : 0;
	p->x = xmalloc(p->n * sizeof(*p->x));
	p->min_ch_rms = INFINITY;
	p->min_ch = 0;
	for (long ch = 0; ch < o->channels; ch++) {
		double ss = 0;
		for (size_t i = 0; i < p->n; i++) {
			double v = le16s(b + (skip + i) * frame + 2 * ch) / 32768.0;
			ss += v * v;
			if (ch == 0)
				p->x[i] = v;
		}
		ss = p->n ? sqrt(ss / (double)p->n) : 0;
		if (ch == 0)
			p->rms = ss;
		if (ss < p->min_ch_rms) {
			p->min_ch_rms = ss;
			p->min_ch = ch;
		}
	}
}

static int cmp_dbl(const void *a, const void *b)
{
	double d = *(const double *)a - *(const double *)b;
	return (d > 0) - (d < 0);
}

static double median(const double *v, size_t n)
{
	double *t, m;

	if (n == 0)
		return 0;
	t = xmalloc(n * sizeof(*t));
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_dbl);
	m = t[n / 2];
	free(t);
	return m;
}

/* 10 ms blocks far below the typical level are dropouts (gaps the
 * server or decoder filled with silence); consecutive ones are merged. */
static int check_dropouts(const struct pcm *p, long rate, long skip_ms)
{
	size_t bl = (size_t)rate / 100, nb = p->n / bl, run = 0;
	double *rms = xmalloc(nb * sizeof(*rms)), med;
	int events = 0;

	for (size_t k = 0; k < nb; k++) {
		double ss = 0;
		for (size_t i = k * bl; i < (k + 1) * bl; i++)
			ss += p->x[i] * p->x[i];
		rms[k] = sqrt(ss / (double)bl);
	}
	med = median(rms, nb);
	for (size_t k = 0; k <= nb; k++) {
		if (k < nb && rms[k] < 0.1 * med) {
			run++;
		} else if (run) {
			fail("dropout at_ms=%.0f len_ms=%.0f",
			     (double)skip_ms + 10.0 * (double)(k - run), 10.0 * (double)run);
			events++;
			run = 0;
		}
	}
	free(rms);
	return events;
}

/* Coarse pitch: Goertzel power at every 1 Hz on a Hann-windowed 250 ms
 * slice; the 1 Hz grid leaves < 0.5 Hz error, which the phase fit removes. */
static double coarse_freq(const double *x, size_t n, long rate)
{
	size_t w = n < (size_t)rate / 4 ? n : (size_t)rate / 4;
	double *h = xmalloc(w * sizeof(*h)), best = 0, best_f = 0;

	for (size_t i = 0; i < w; i++)
		h[i] = x[i] * (0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)w));
	for (long f = 20; f < rate / 2; f++) {
		double k = 2 * cos(2 * M_PI * (double)f / (double)rate), s1 = 0, s2 = 0, pw;
		for (size_t i = 0; i < w; i++) {
			double s = h[i] + k * s1 - s2;
			s2 = s1;
			s1 = s;
		}
		pw = s1 * s1 + s2 * s2 - k * s1 * s2;
		if (pw > best) {
			best = pw;
			best_f = (double)f;
		}
	}
	free(h);
	return best_f;
}

/* Least-squares a*cos + b*sin at angular frequency w (rad/sample) over
 * x[i0..i0+len); phase is relative to sample 0 so blocks are comparable. */
static void fit_block(const double *x, size_t i0, size_t len, double w,
		      double *amp, double *ph)
{
	double cc = 0, ss = 0, cs = 0, xc = 0, xs = 0, det, a, b;

	for (size_t i = i0; i < i0 + len; i++) {
		double c = cos(w * (double)i), s = sin(w * (double)i);
		cc += c * c;
		ss += s * s;
		cs += c * s;
		xc += x[i] * c;
		xs += x[i] * s;
	}
	det = cc * ss - cs * cs;
	a = det > 1e-12 ? (xc * ss - xs * cs) / det : 0;
	b = det > 1e-12 ? (xs * cc - xc * cs) / det : 0;
	*amp = hypot(a, b);
	*ph = atan2(b, a);
}

/* Fit 20 ms block phases at f, unwrap them across audible blocks,
 * remove the best line, and return the line's slope as a frequency
 * correction in Hz.  r[k] = NAN marks blocks too quiet to trust. */
static double phase_residuals(const double *x, size_t nb, size_t bl, long rate,
			      double f, double *r)
{
	double *amp = xmalloc(nb * sizeof(*amp)), thr, prev = 0, acc = 0;
	double st = 0, sr = 0, stt = 0, str = 0, cnt = 0, slope, icpt;

	for (size_t k = 0; k < nb; k++)
		fit_block(x, k * bl, bl, 2 * M_PI * f / (double)rate, &amp[k], &r[k]);
	thr = 0.1 * median(amp, nb);
	for (size_t k = 0; k < nb; k++) {
		double t = (double)k, d;
		if (amp[k] < thr) {
			r[k] = NAN;
			continue;
		}
		d = cnt > 0 ? remainder(r[k] - prev, 2 * M_PI) : 0;
		prev = r[k];
		r[k] = acc += d;
		st += t; sr += r[k]; stt += t * t; str += t * r[k]; cnt++;
	}
	free(amp);
	if (cnt < 2)
		return 0;
	slope = (cnt * str - st * sr) / (cnt * stt - st * st);
	icpt = (sr - slope * st) / cnt;
	for (size_t k = 0; k < nb; k++)
		r[k] -= icpt + slope * (double)k;
	/* x ~ cos(w*i - ph): a falling phase means the tone is faster. */
	return -slope * (double)rate / ((double)bl * 2 * M_PI);
}

/* Mean residual over up to STEP_WIN audible blocks in [from, to). */
static int win_mean(const double *r, long from, long to, long nb, double *m)
{
	double s = 0;
	int c = 0;

	for (long k = from < 0 ? 0 : from; k < to && k < nb; k++)
		if (!isnan(r[k])) {
			s += r[k];
			c++;
		}
	*m = c ? s / c : 0;
	return c >= 2;
}

/* Phase step across block k, comparing the blocks on either side; the
 * block itself is left out because a splice inside it blends both
 * phases.  Each run of over-threshold steps is reported once, at its
 * peak.  Returns the largest step seen. */
static double check_jumps(const double *r, long nb, long bl, long rate,
			  long skip_ms, double thr)
{
	double worst = 0, peak = 0, before, after;
	long peak_k = -1;

	for (long k = 1; k <= nb; k++) {
		double step = 0;
		if (k < nb && win_mean(r, k - STEP_WIN, k, nb, &before) &&
		    win_mean(r, k + 1, k + 1 + STEP_WIN, nb, &after))
			step = fabs(after - before);
		if (step > worst)
			worst = step;
		if (step > thr && step > peak) {
			peak = step;
			peak_k = k;
		} else if (step <= thr && peak_k >= 0) {
			fail("jump at_ms=%.0f rad=%.3f",
			     (double)skip_ms + 1000.0 * (double)peak_k * (double)bl / (double)rate,
			     peak);
			peak = 0;
			peak_k = -1;
		}
	}
	return worst;
}

/* Pitch first (the phase fit needs it), then dropouts and jumps. */
static void analyse(const struct pcm *p, const struct opts *o, struct result *res)
{
	size_t bl = (size_t)o->rate / 50, nb = p->n / bl;
	double *r = xmalloc(nb * sizeof(*r));

	if (p->min_ch_rms < 0.001)
		fail("silent channel=%.0f rms=%.6f", (double)p->min_ch, p->min_ch_rms);
	res->drops = check_dropouts(p, o->rate, o->skip_ms);
	res->f = coarse_freq(p->x, p->n, o->rate);
	/* Two passes: the second only confirms the corrected f. */
	for (int it = 0; it < 2; it++)
		res->f += phase_residuals(p->x, nb, bl, o->rate, res->f, r);
	res->jump = check_jumps(r, (long)nb, (long)bl, o->rate, o->skip_ms,
				o->max_jump);
	if (o->expect_hz > 0 && fabs(res->f - o->expect_hz) > o->tol_hz)
		fail("frequency freq_hz=%.3f expect_hz=%g", res->f, o->expect_hz);
	free(r);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct pcm p;
	struct result res = { 0, 0, 0 };
	size_t len;
	uint8_t *raw;
	const uint8_t *data;
	double dur_ms;

	parse_args(argc, argv, &o);
	data = raw = read_all(o.path, &len);
	if (len >= 12 && !memcmp(raw, "RIFF", 4) && !memcmp(raw + 8, "WAVE", 4))
		data = parse_wav(raw, &len, &o);
	if (o.rate < 1000 || o.channels < 1)
		usage();
	decode(data, len, &o, &p);
	dur_ms = 1000.0 * (double)p.n / (double)o.rate;
	if (dur_ms < (double)o.min_ms)
		fail("short duration_ms=%.0f min_ms=%.0f", dur_ms, (double)o.min_ms);
	if (p.n < (size_t)o.rate / 2)
		fail("too short to analyse duration_ms=%.0f", dur_ms, 0);
	else
		analyse(&p, &o, &res);
	if (n_fail > MAX_REPORTS)
		printf("pcmcheck: FAIL ... %d more problems\n", n_fail - MAX_REPORTS);
	/* On failure the numbers go to stderr, after the FAIL lines. */
	(void)fflush(stdout);	/* only orders the two streams */
	fprintf(n_fail ? stderr : stdout,
		"pcmcheck: %s duration_ms=%.0f freq_hz=%.3f rms=%.4f "
		"dropouts=%d max_jump_rad=%.4f\n", n_fail ? "measured" : "ok",
		dur_ms, res.f, p.rms, res.drops, res.jump);
	free(p.x);
	free(raw);
	return n_fail ? 1 : 0;
}
