/*
 * pcm_testtone.c - ALSA capture plugin that behaves like a sound card paced in
 * real time, for integration tests on machines without sound hardware.
 *
 * Serves S16_LE interleaved capture (1-8 channels, 8-192 kHz) on
 * CLOCK_MONOTONIC: frame n of a run is "captured" at start + n/rate, and a
 * timerfd (the poll descriptor) ticks once per period.  The data is a sine
 * (or a looped raw file) indexed by the absolute frame number counted in real
 * time from the first start, so samples lost to an overrun are skipped just
 * like on a real card.
 *
 * Config keys: frequency (Hz, default 997), amplitude (0..1, default 0.5),
 * file (raw S16_LE interleaved, looped, replaces the sine), present_file
 * (open fails with -ENODEV while it is missing), fail_after_ms (card vanishes),
 * stall_after_ms + stall_ms (clock stops, then jumps ahead), start_delay_ms
 * (each start delivers its first frame that long after it, as a USB or
 * Bluetooth source whose clock takes time to lock; nothing comes meanwhile).
 * fail_after_ms and stall_after_ms count from the first start of the handle.
 *
 * Device faults, for tests of how a reader survives them:
 * fail_errno ("ENODEV", the default, or "EIO"): the error of a vanished card,
 * that is after fail_after_ms, or once present_file is removed while the
 * handle is open (checked on every pointer and poll, like a pulled USB
 * card).  The handle stays failed; a new open succeeds once present_file
 * exists again.  ENODEV sets the state DISCONNECTED, which alsa-lib reports
 * as -ENODEV from snd_pcm_wait, snd_pcm_readi and the rest; EIO keeps the
 * state RUNNING and raises POLLERR, which snd_pcm_wait (and the wait inside
 * a blocking snd_pcm_readi) reports as -EIO, as the kernel does when a
 * card's interrupts stop; start and prepare fail with it too.
 * open_failures N (default 0): the first N opens of this PCM name in the
 * process fail with -EBUSY, then opens succeed (a count per name, shared by
 * all threads, for the life of the process).
 * stall_file PATH: while PATH exists the clock stops (no POLLIN, no data);
 * once it is removed the clock jumps to real time, an overrun if the gap
 * exceeded the buffer, as with stall_ms.  A handle started while PATH exists
 * is stalled from its start.  During any stall (stall_ms or stall_file) the
 * poll descriptors stay quiet, as a card's interrupts would, so that a
 * reader's poll or snd_pcm_wait times out.
 * exclusive (0 or 1, default 0): 1 refuses a second open of the same PCM
 * name while one is open in this process (-EBUSY), as a hw device does, so a
 * test can prove a device is opened once.
 * marks (0 or 1, default 0): 1 replaces the signal with time marks for
 * latency measurements (bench/latency.c); amplitude, frequency are ignored
 * and file is refused.
 *
 * Time marks (marks 1).  Silence, plus a marker each time the capture clock
 * crosses a whole second S of CLOCK_MONOTONIC.  Frame j of a run is captured
 * at t0 + j/rate (t0 = CLOCK_MONOTONIC of that run's start), so the period
 * that becomes available at T holds samples captured in [T - period, T).
 * The signal is defined in continuous time and sampled at those instants, so
 * the marker starts on the first frame captured at or after S, whatever the
 * rate, and a restart after an overrun keeps the mapping (new t0).  With
 * d = time since S:
 *   d in [0, 5 ms)                  sync burst: 0.8 * sin(2 pi 3000 Hz d)
 *   d in [5, 15 ms)                 silence
 *   d in [15 + 5i, 20 + 5i) ms      slot i = 0..11: 0.8 * sin(2 pi 2000 Hz
 *                                   (d - slot start)) if bit i is 1, else
 *                                   silence
 *   rest of the second              silence
 * Bits 0..10 (slot 0 first) are S mod 2048, least significant first; bit 11
 * is even parity: set when bits 0..10 hold an odd number of ones.  A 5 ms
 * slot is a whole number of 2 kHz cycles and 5 cycles away from the 3 kHz
 * sync in a 5 ms window, so the two tones barely leak into each other's
 * detectors.  A listener identifies the second unambiguously for delays up
 * to 2048 s.
 *
 * Build: cc -fPIC -DPIC -shared -o libasound_module_pcm_testtone.so
 *        pcm_testtone.c -lasound -lm   (without -DPIC: "undefined symbol
 *        snd_dlsym_start" at load time)
 */
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define HOLD_NONE 0
#define HOLD_TIMER 1		/* stall_ms: the next tick is at its end */
#define HOLD_FILE 2		/* stall_file: no tick, inotify of the file */

struct testtone {
	snd_pcm_ioplug_t io;
	double frequency, amplitude;
	int marks;		/* time marks instead of the sine (see top) */
	int exclusive;		/* a second open of this name fails while this is open */
	char *busy_name;	/* held name when exclusive, else NULL */
	struct testtone *busy_next;
	unsigned char *file;	/* raw S16_LE interleaved samples, or NULL */
	size_t file_bytes;
	uint64_t fail_after_ns, stall_after_ns, stall_ns, start_delay_ns;
	int fail_err;		/* -ENODEV or -EIO: the error once the card is gone */
	char *present;		/* present_file, or NULL */
	char *stall_file;	/* stall_file, or NULL */
	uint64_t stalled_at;	/* monotonic ns stall_file was first seen, 0 if none */
	int timer_fd;
	uint64_t interval;	/* ns between ticks of the running timer */
	int held;		/* HOLD_*: how the timer waits for a stall's end */
	int inotify_fd;		/* with stall_file: wakes poll at its removal */
	int watch;		/* inotify watch of stall_file while held, or -1 */
	int started;		/* t_first is valid */
	int running;		/* between start and stop */
	int gone;		/* fail_after_ms elapsed or present_file removed: for good */
	uint64_t t_first;	/* monotonic ns of the first start */
	uint64_t t0;		/* monotonic ns of the current start */
	uint64_t base;		/* absolute frame index of frame 0 of this run */
	uint64_t hw;		/* frames of this run reported to ioplug, unwrapped */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* floor(ns * rate / 1e9), split so the product cannot overflow for days. */
static uint64_t frames_in(uint64_t ns, unsigned int rate)
{
	return ns / NSEC_PER_SEC * rate + ns % NSEC_PER_SEC * rate / NSEC_PER_SEC;
}

/* The stall_file stall: its start while the file exists, else 0. */
static uint64_t file_stall(struct testtone *tt, uint64_t now)
{
	if (!tt->stall_file || access(tt->stall_file, F_OK) != 0)
		tt->stalled_at = 0;
	else if (!tt->stalled_at)
		tt->stalled_at = now;
	return tt->stalled_at;
}

/* The card's clock: frozen at the stall's beginning while the stall lasts. */
static uint64_t card_time(struct testtone *tt, uint64_t now)
{
	uint64_t s = tt->t_first + tt->stall_after_ns, f = file_stall(tt, now);

	if (f)
		return f;
	if (tt->started && tt->stall_ns && now >= s && now < s + tt->stall_ns)
		return s;
	return now;
}

/* Once fail_after_ms has passed, or present_file has gone, the handle stays
 * failed, like a pulled USB card.  For -ENODEV the state must be
 * DISCONNECTED (not XRUN) so that alsa-lib turns it into -ENODEV for the
 * reader; for -EIO it stays as it is and poll reports POLLERR, which
 * snd_pcm_wait turns into -EIO. */
static int card_gone(struct testtone *tt, uint64_t now)
{
	if (!tt->gone && tt->started && tt->fail_after_ns &&
	    now - tt->t_first >= tt->fail_after_ns)
		tt->gone = 1;
	if (!tt->gone && tt->present && access(tt->present, F_OK) != 0)
		tt->gone = 1;
	if (tt->gone && tt->fail_err == -ENODEV)
		snd_pcm_ioplug_set_state(&tt->io, SND_PCM_STATE_DISCONNECTED);
	return tt->gone;
}

static int arm_timer(struct testtone *tt, uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its;

	its.it_value.tv_sec = (time_t)(first_ns / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(first_ns % NSEC_PER_SEC);
	its.it_interval.tv_sec = (time_t)(interval_ns / NSEC_PER_SEC);
	its.it_interval.tv_nsec = (long)(interval_ns % NSEC_PER_SEC);
	/* all zero disarms; settime also clears pending expirations */
	if (timerfd_settime(tt->timer_fd, first_ns ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* Ends a hold; the caller re-arms the timer. */
static void unhold(struct testtone *tt)
{
	if (tt->watch >= 0)
		inotify_rm_watch(tt->inotify_fd, tt->watch);	/* gone with the file: fine */
	tt->watch = -1;
	tt->held = HOLD_NONE;
}

/* While the clock stands still nothing may wake the reader's poll, as on a
 * card whose interrupts have stopped: snd_pcm_wait polls again with its
 * whole timeout after each wake-up without POLLIN, so a timer ticking on
 * through a stall would keep it from ever timing out.  A stall_ms stall
 * moves the next tick to its end; a stall_file stall stops the timer and
 * watches the file, so that its removal wakes poll.  Returns 0 if the
 * stall could not be held (the file went meanwhile): keep ticking. */
static int hold(struct testtone *tt, uint64_t now)
{
	uint64_t end = tt->t_first + tt->stall_after_ns + tt->stall_ns;
	int how = file_stall(tt, now) ? HOLD_FILE : HOLD_TIMER;

	if (tt->held == how)
		return 1;
	unhold(tt);
	if (how == HOLD_TIMER) {
		if (end <= now || arm_timer(tt, end, tt->interval) < 0)
			return 0;
	} else {
		tt->watch = inotify_add_watch(tt->inotify_fd, tt->stall_file,
					      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
		if (tt->watch < 0 || arm_timer(tt, 0, 0) < 0)
			return 0;
	}
	tt->held = how;
	return 1;
}

static int tt_start(snd_pcm_ioplug_t *io)
{
	struct testtone *tt = io->private_data;
	uint64_t now = now_ns(), interval;

	if (card_gone(tt, now))
		return tt->fail_err;
	if (!tt->started) {
		tt->started = 1;
		tt->t_first = now;
	}
	tt->t0 = now + tt->start_delay_ns;	/* the run's frame 0 */
	tt->hw = 0;
	file_stall(tt, now);	/* a stall_file that exists stalls from here */
	/* Resume with the phase the signal has in real time (lost samples). */
	tt->base = frames_in(tt->t0 - tt->t_first, io->rate);
	/* Round up: at each tick at least one more whole period exists. */
	interval = (io->period_size * NSEC_PER_SEC + io->rate - 1) / io->rate;
	tt->interval = interval;
	tt->running = 1;
	unhold(tt);
	return arm_timer(tt, tt->t0 + interval, interval);
}

static int tt_stop(snd_pcm_ioplug_t *io)
{
	struct testtone *tt = io->private_data;

	tt->running = 0;
	unhold(tt);
	return arm_timer(tt, 0, 0);
}

static int tt_prepare(snd_pcm_ioplug_t *io)
{
	struct testtone *tt = io->private_data;

	if (card_gone(tt, now_ns()))
		return tt->fail_err;
	/* ioplug has just reset hw_ptr/appl_ptr to 0; follow it */
	tt->hw = 0;
	return tt_stop(io);
}

/* Capture drain: stop at once, like the kernel does for capture.  Without
 * this, ioplug's generic drain would wait until the buffer had filled up. */
static int tt_drain(snd_pcm_ioplug_t *io)
{
	(void)io;
	return 0;
}

/* Hardware position from elapsed time, modulo buffer_size: ioplug 1.2.8
 * (without FLAG_BOUNDARY_WA) adds (ret - last_ret) mod buffer_size to its
 * hw_ptr, so a jump of a whole buffer would be invisible.  We report an
 * overrun before that can happen: when the unread frames would reach
 * buffer_size (the kernel's default stop_threshold). */
static snd_pcm_sframes_t tt_pointer(snd_pcm_ioplug_t *io)
{
	struct testtone *tt = io->private_data;
	uint64_t now, t, pos;
	snd_pcm_uframes_t avail;

	if (io->buffer_size == 0)
		return 0;
	if (io->state == SND_PCM_STATE_XRUN)
		return -EPIPE;	/* stays in XRUN until prepare */
	now = now_ns();
	if (card_gone(tt, now) || !tt->running)
		return (snd_pcm_sframes_t)(tt->hw % io->buffer_size);
	t = card_time(tt, now);
	pos = t > tt->t0 ? frames_in(t - tt->t0, io->rate) : 0;
	if (pos > tt->hw) {
		avail = snd_pcm_ioplug_avail(io, io->hw_ptr, io->appl_ptr);
		if (avail + (pos - tt->hw) >= io->buffer_size)
			return -EPIPE;
		tt->hw = pos;
	}
	return (snd_pcm_sframes_t)(tt->hw % io->buffer_size);
}

/* round(A * 32767 * sin(2 pi f k / rate)).  The phase (in cycles) is split as
 * f*(k div rate) + f*(k mod rate)/rate and reduced mod 1, so it does not lose
 * precision as k grows: exact for integer f, ~1e-15 cycles after days. */
static int16_t sine_at(const struct testtone *tt, uint64_t k, unsigned int rate)
{
	/* k / rate: whole seconds, an integer division by intent */
	// NOLINTNEXTLINE(bugprone-integer-division): see above
	double cyc = fmod(tt->frequency * (double)(k / rate), 1.0) +
		     tt->frequency * (double)(k % rate) / rate;

	return (int16_t)lround(tt->amplitude * 32767.0 * sin(2.0 * M_PI * fmod(cyc, 1.0)));
}

/* Time-mark signal (see the top of the file) at CLOCK_MONOTONIC time t ns. */
#define MARK_SYNC_HZ 3000.0
#define MARK_SLOT_HZ 2000.0
#define MARK_AMPL 0.8
#define MARK_BURST_NS (5 * NSEC_PER_MSEC)
#define MARK_SLOTS_AT_NS (15 * NSEC_PER_MSEC)
#define MARK_BITS 11

static int16_t mark_at(uint64_t t)
{
	uint64_t sec = t / NSEC_PER_SEC, d = t % NSEC_PER_SEC;
	unsigned int code = (unsigned int)(sec % (1u << MARK_BITS));
	double hz;

	if (d < MARK_BURST_NS) {
		hz = MARK_SYNC_HZ;
	} else {
		uint64_t slot;

		if (d < MARK_SLOTS_AT_NS)
			return 0;
		slot = (d - MARK_SLOTS_AT_NS) / MARK_BURST_NS;
		if (slot > MARK_BITS)
			return 0;
		if (slot == MARK_BITS) {	/* even parity over bits 0..10 */
			unsigned int p = 0;

			for (; code; code >>= 1)
				p ^= code & 1;
			code = p << MARK_BITS;
		}
		if (!(code >> slot & 1))
			return 0;
		d -= MARK_SLOTS_AT_NS + slot * MARK_BURST_NS;
		hz = MARK_SLOT_HZ;
	}
	return (int16_t)lround(MARK_AMPL * 32767.0 * sin(2.0 * M_PI * hz * (double)d / 1e9));
}

/* ns from the start of a run to its frame j, split like frames_in */
static uint64_t frame_ns(uint64_t j, unsigned int rate)
{
	return j / rate * NSEC_PER_SEC + j % rate * NSEC_PER_SEC / rate;
}

static unsigned char *area_ptr(const snd_pcm_channel_area_t *a, snd_pcm_uframes_t frame)
{
	return (unsigned char *)a->addr + (a->first + frame * a->step) / 8;
}

/* Whether the areas are one interleaved buffer (what RW access hands us):
 * then a looped file is copied in runs, as cheap as a sound card's DMA. */
static int interleaved(const snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas)
{
	unsigned int c;

	for (c = 0; c < io->channels; c++)
		if (areas[c].addr != areas[0].addr || areas[c].first != areas[0].first + 16 * c
		    || areas[c].step != 16 * io->channels)
			return 0;
	return areas[0].first % 8 == 0;
}

/* Copies `size` frames of the looped file from frame k on into the
 * interleaved areas at `offset`. */
static void copy_file_runs(const struct testtone *tt, const snd_pcm_ioplug_t *io,
			   const snd_pcm_channel_area_t *areas, snd_pcm_uframes_t offset,
			   snd_pcm_uframes_t size, uint64_t k)
{
	const size_t frame_bytes = 2 * (size_t)io->channels;
	const uint64_t file_frames = tt->file_bytes / frame_bytes;
	unsigned char *dst = area_ptr(&areas[0], offset);

	while (size > 0) {
		const uint64_t at = k % file_frames;
		const snd_pcm_uframes_t run = file_frames - at < size
			? (snd_pcm_uframes_t)(file_frames - at) : size;
		memcpy(dst, tt->file + at * frame_bytes, run * frame_bytes);
		dst += run * frame_bytes;
		k += run;
		size -= run;
	}
}

/* Fill `size` frames starting at the application pointer.  Works for both
 * RW (areas = user buffer) and MMAP (areas = ring) access: the first frame
 * handed out is the one `avail` frames behind the hardware position. */
static snd_pcm_sframes_t tt_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
				     snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	const struct testtone *tt = io->private_data;
	/* j: index of the first frame in this run (captured at t0 + j/rate) */
	uint64_t j = tt->hw - snd_pcm_ioplug_avail(io, io->hw_ptr, io->appl_ptr);
	uint64_t k = tt->base + j;
	uint64_t file_frames = tt->file_bytes / (2 * (size_t)io->channels);
	unsigned char sine[2];
	const unsigned char *src = sine;
	snd_pcm_uframes_t i;
	unsigned int c;

	if (tt->file && interleaved(io, areas)) {
		copy_file_runs(tt, io, areas, offset, size, k);
		return (snd_pcm_sframes_t)size;
	}
	for (i = 0; i < size; i++, k++, j++) {
		if (tt->marks) {
			uint16_t v = (uint16_t)mark_at(tt->t0 + frame_ns(j, io->rate));
			sine[0] = (unsigned char)(v & 0xff);
			sine[1] = (unsigned char)(v >> 8);
		} else if (tt->file) {
			src = tt->file + (k % file_frames) * io->channels * 2;
		} else {
			uint16_t v = (uint16_t)sine_at(tt, k, io->rate);
			sine[0] = (unsigned char)(v & 0xff);	/* S16_LE on any host */
			sine[1] = (unsigned char)(v >> 8);
		}
		for (c = 0; c < io->channels; c++)
			memcpy(area_ptr(&areas[c], offset + i), src + (tt->file ? 2 * c : 0), 2);
	}
	return (snd_pcm_sframes_t)size;
}

/* POLLIN on every tick, never from produced-minus-consumed: alsa-lib may copy
 * part of a period early, and such a check would then delay a whole period.
 * Runs outside the PCM lock (ioplug drops it); fine for one PCM per thread. */
static int tt_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
			   unsigned short *revents)
{
	struct testtone *tt = io->private_data;
	uint64_t ticks, now = now_ns();
	int ticked = read(tt->timer_fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks);
	char events[4096];	/* drained, not parsed */

	(void)pfd;
	(void)nfds;
	/* what woke us does not matter: the file is looked at below */
	while (tt->inotify_fd >= 0 && read(tt->inotify_fd, events, sizeof(events)) > 0)
		;
	*revents = 0;
	if (card_gone(tt, now) || io->state == SND_PCM_STATE_XRUN) {
		*revents = POLLIN | POLLERR;
	} else if (card_time(tt, now) != now) {
		if (tt->running && !hold(tt, now))
			arm_timer(tt, now + tt->interval, tt->interval);
	} else if (tt->held) {
		/* the stall is over: the clock has jumped, data (or an overrun) waits */
		unhold(tt);
		arm_timer(tt, now + tt->interval, tt->interval);
		*revents = POLLIN;
	} else if (ticked) {
		*revents = POLLIN;
	}
	return 0;
}

/* The timer, and with stall_file the inotify descriptor that ends its stall. */
static int tt_poll_descriptors_count(snd_pcm_ioplug_t *io)
{
	const struct testtone *tt = io->private_data;

	return tt->inotify_fd >= 0 ? 2 : 1;
}

static int tt_poll_descriptors(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int space)
{
	const struct testtone *tt = io->private_data;
	unsigned int n = 0;

	if (space > n) {
		pfd[n].fd = tt->timer_fd;
		pfd[n++].events = POLLIN;
	}
	if (space > n && tt->inotify_fd >= 0) {
		pfd[n].fd = tt->inotify_fd;
		pfd[n++].events = POLLIN;
	}
	return (int)n;
}

/* open_failures: the opens of each PCM name tried in this process, for
 * the life of the process (the list is never freed).  Per process for the
 * same reason as the busy list below.  Returns -EBUSY while the name has
 * been opened no more than `failures` times, this open included. */
struct open_count {
	struct open_count *next;
	unsigned long opens;
	char name[];
};

static pthread_mutex_t opens_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_count *opens_list;

static int count_open(const char *name, unsigned long failures)
{
	struct open_count *o;
	int err = 0;

	pthread_mutex_lock(&opens_lock);
	for (o = opens_list; o && strcmp(o->name, name) != 0; o = o->next)
		;
	if (!o && (o = calloc(1, sizeof(*o) + strlen(name) + 1))) {
		memcpy(o->name, name, strlen(name) + 1);
		o->next = opens_list;
		opens_list = o;
	}
	if (!o)
		err = -ENOMEM;
	else if (++o->opens <= failures)
		err = -EBUSY;
	pthread_mutex_unlock(&opens_lock);
	/* the same text at every failure: a reader may log each new message */
	if (err == -EBUSY)
		SNDERR("testtone: device busy (%s, open_failures %lu)", name, failures);
	return err;
}

/* The exclusive handles open in this process: a per-process list is all a
 * test of one program needs, and unlike a lock file it cannot collide with
 * another test run on the same machine. */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct testtone *busy_list;

static int busy_claim(struct testtone *tt, const char *name)
{
	struct testtone *o;
	int err = 0;

	pthread_mutex_lock(&busy_lock);
	for (o = busy_list; o && !err; o = o->busy_next)
		if (!strcmp(o->busy_name, name))
			err = -EBUSY;
	if (!err && !(tt->busy_name = strdup(name)))
		err = -ENOMEM;
	if (!err) {
		tt->busy_next = busy_list;
		busy_list = tt;
	}
	pthread_mutex_unlock(&busy_lock);
	if (err == -EBUSY)
		SNDERR("testtone: device busy (%s is open, exclusive 1)", name);
	return err;
}

static void busy_release(struct testtone *tt)
{
	struct testtone **p;

	if (!tt->busy_name)
		return;
	pthread_mutex_lock(&busy_lock);
	for (p = &busy_list; *p; p = &(*p)->busy_next)
		if (*p == tt) {
			*p = tt->busy_next;
			break;
		}
	pthread_mutex_unlock(&busy_lock);
	free(tt->busy_name);
	tt->busy_name = NULL;
}

static void tt_free(struct testtone *tt)
{
	busy_release(tt);
	if (tt->timer_fd >= 0)
		close(tt->timer_fd);
	if (tt->inotify_fd >= 0)
		close(tt->inotify_fd);
	free(tt->file);
	free(tt->present);
	free(tt->stall_file);
	free(tt);
}

static int tt_close(snd_pcm_ioplug_t *io)
{
	tt_free(io->private_data);
	return 0;
}

static const snd_pcm_ioplug_callback_t tt_callbacks = {
	.start = tt_start,
	.stop = tt_stop,
	.pointer = tt_pointer,
	.transfer = tt_transfer,
	.close = tt_close,
	.prepare = tt_prepare,
	.drain = tt_drain,
	.poll_revents = tt_poll_revents,
	.poll_descriptors_count = tt_poll_descriptors_count,
	.poll_descriptors = tt_poll_descriptors,
};

static int get_ms(snd_config_t *n, uint64_t *ns)
{
	long v;

	if (snd_config_get_integer(n, &v) < 0 || v < 0)
		return -EINVAL;
	*ns = (uint64_t)v * NSEC_PER_MSEC;
	return 0;
}

static int get_flag(snd_config_t *n, int *flag)
{
	long v;

	if (snd_config_get_integer(n, &v) < 0 || (v != 0 && v != 1))
		return -EINVAL;
	*flag = (int)v;
	return 0;
}

static int get_errno(snd_config_t *n, int *err)
{
	const char *v;

	if (snd_config_get_string(n, &v) < 0)
		return -EINVAL;
	if (!strcmp(v, "ENODEV"))
		*err = -ENODEV;
	else if (!strcmp(v, "EIO"))
		*err = -EIO;
	else
		return -EINVAL;
	return 0;
}

static int get_count(snd_config_t *n, unsigned long *count)
{
	long v;

	if (snd_config_get_integer(n, &v) < 0 || v < 0)
		return -EINVAL;
	*count = (unsigned long)v;
	return 0;
}

static int parse_conf(struct testtone *tt, snd_config_t *conf, const char **file,
		      const char **present, const char **stall, unsigned long *open_failures)
{
	snd_config_iterator_t i, next;

	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		int err;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") || !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "frequency"))
			err = snd_config_get_ireal(n, &tt->frequency);
		else if (!strcmp(id, "amplitude"))
			err = snd_config_get_ireal(n, &tt->amplitude);
		else if (!strcmp(id, "file"))
			err = snd_config_get_string(n, file);
		else if (!strcmp(id, "present_file"))
			err = snd_config_get_string(n, present);
		else if (!strcmp(id, "fail_after_ms"))
			err = get_ms(n, &tt->fail_after_ns);
		else if (!strcmp(id, "stall_after_ms"))
			err = get_ms(n, &tt->stall_after_ns);
		else if (!strcmp(id, "stall_ms"))
			err = get_ms(n, &tt->stall_ns);
		else if (!strcmp(id, "start_delay_ms"))
			err = get_ms(n, &tt->start_delay_ns);
		else if (!strcmp(id, "stall_file"))
			err = snd_config_get_string(n, stall);
		else if (!strcmp(id, "fail_errno"))
			err = get_errno(n, &tt->fail_err);
		else if (!strcmp(id, "open_failures"))
			err = get_count(n, open_failures);
		else if (!strcmp(id, "marks"))
			err = get_flag(n, &tt->marks);
		else if (!strcmp(id, "exclusive"))
			err = get_flag(n, &tt->exclusive);
		else {
			SNDERR("testtone: unknown field %s", id);
			return -EINVAL;
		}
		if (err < 0) {
			SNDERR("testtone: invalid value for %s", id);
			return -EINVAL;
		}
	}
	if (!(tt->frequency >= 1.0 && tt->frequency <= 96000.0) ||
	    !(tt->amplitude >= 0.0 && tt->amplitude <= 1.0)) {
		SNDERR("testtone: frequency must be 1..96000 Hz and amplitude 0..1");
		return -EINVAL;
	}
	if (tt->marks && *file) {
		SNDERR("testtone: marks and file exclude each other");
		return -EINVAL;
	}
	return 0;
}

/* Load the whole loop file; tests use short loops, so memory is no concern. */
static int load_file(struct testtone *tt, const char *path)
{
	struct stat st;
	ssize_t r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = -errno;

		SNDERR("testtone: cannot read file %s: %s", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (st.st_size >= 2)
		tt->file = malloc((size_t)st.st_size);
	while (tt->file && tt->file_bytes < (size_t)st.st_size &&
	       (r = read(fd, tt->file + tt->file_bytes, (size_t)st.st_size - tt->file_bytes)) > 0)
		tt->file_bytes += (size_t)r;
	close(fd);
	if (!tt->file || tt->file_bytes != (size_t)st.st_size || tt->file_bytes % 2) {
		SNDERR("testtone: file %s is shorter than one frame, unreadable or of odd size",
		       path);
		return -EINVAL;
	}
	return 0;
}

static int set_constraints(struct testtone *tt)
{
	static const unsigned int access[] = {
		SND_PCM_ACCESS_RW_INTERLEAVED, SND_PCM_ACCESS_MMAP_INTERLEAVED
	};
	static const unsigned int format[] = { SND_PCM_FORMAT_S16_LE };
	unsigned int channels[8], n = 0, c;
	unsigned int rate_min = (unsigned int)ceil(2.0 * tt->frequency);
	snd_pcm_ioplug_t *io = &tt->io;
	int err;

	/* A loop file must hold a whole number of frames. */
	for (c = 1; c <= 8; c++)
		if (!tt->file || tt->file_bytes % (2 * (size_t)c) == 0)
			channels[n++] = c;
	if (tt->file || rate_min < 8000)
		rate_min = 8000;	/* frequency <= rate/2 only matters for the sine */
	if ((err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS, 2, access)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_FORMAT, 1, format)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_CHANNELS, n, channels)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_RATE, rate_min, 192000)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
						   64, 1 << 20)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIODS, 2, 1024)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
						   128, 64 << 20)) < 0)
		return err;
	return 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(testtone)
{
	struct testtone *tt;
	const char *file = NULL, *present = NULL, *stall = NULL;
	unsigned long open_failures = 0;
	int err;

	(void)root;
	if (stream != SND_PCM_STREAM_CAPTURE) {
		SNDERR("testtone: capture only");
		return -EINVAL;
	}
	tt = calloc(1, sizeof(*tt));
	if (!tt)
		return -ENOMEM;
	tt->timer_fd = -1;
	tt->inotify_fd = -1;
	tt->watch = -1;
	tt->frequency = 997.0;
	tt->amplitude = 0.5;
	tt->fail_err = -ENODEV;
	err = parse_conf(tt, conf, &file, &present, &stall, &open_failures);
	if (!err && open_failures)
		err = count_open(name, open_failures);
	if (!err && present && access(present, F_OK) != 0) {
		SNDERR("testtone: device not present (%s missing)", present);
		err = -ENODEV;
	}
	if (!err && present && !(tt->present = strdup(present)))
		err = -ENOMEM;
	if (!err && stall && !(tt->stall_file = strdup(stall)))
		err = -ENOMEM;
	if (!err && file)
		err = load_file(tt, file);
	if (!err && tt->exclusive)
		err = busy_claim(tt, name);
	if (!err) {
		tt->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (tt->timer_fd < 0)
			err = -errno;
	}
	if (!err && stall) {
		tt->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (tt->inotify_fd < 0)
			err = -errno;
	}
	if (err < 0) {
		tt_free(tt);
		return err;
	}
	tt->io.version = SND_PCM_IOPLUG_VERSION;
	tt->io.name = "testtone: real-time paced test capture";
	tt->io.callback = &tt_callbacks;
	tt->io.private_data = tt;
	tt->io.poll_fd = tt->timer_fd;
	tt->io.poll_events = POLLIN;
	tt->io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC;
	err = snd_pcm_ioplug_create(&tt->io, name, stream, mode);
	if (err < 0) {
		tt_free(tt);
		return err;
	}
	err = set_constraints(tt);
	if (err < 0) {
		snd_pcm_ioplug_delete(&tt->io);	/* calls tt_close */
		return err;
	}
	*pcmp = tt->io.pcm;
	return 0;
}

SND_PCM_PLUGIN_SYMBOL(testtone) /* the macro supplies the ; */
