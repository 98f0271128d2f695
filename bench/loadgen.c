/* loadgen: listener load generator for the live-MP3 streaming benchmark.
 *
 * Opens N reading listeners (and M stalled ones that never read) against one
 * loopback URL, each for D seconds from its own connect start, and prints one
 * report line: how many listeners kept up with the bitrate, time to first
 * body byte, the longest silence each one saw, failures by kind, and the CPU
 * and peak RSS of the server processes named with --server-pid.
 *
 * With --churn MIN:MAX the listeners are a population instead: each one
 * leaves after a random lifetime in [MIN, MAX] s and its place joins again
 * at once, for the --seconds of the whole run (a soak: bench/soak.sh).
 * --resetters K adds K listeners that abort their connection (RST) 0-2 s
 * after they connect, and join again at once with --churn. --progress S
 * prints a progress line to stderr every S s.
 *
 * Single-threaded epoll and libc only, so that the generator takes as little
 * as possible of the machine it shares with the server under test.
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -o loadgen bench/loadgen.c -lm */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS   20000
#define MAX_SECONDS     600
#define MAX_CHURN_S     86400   /* --seconds and lifetimes with --churn */
#define RESET_MAX_S     2.0     /* a resetter aborts 0-2 s after connect start */
#define REJOIN_AFTER_FAIL 1.0   /* s before a failed listener's place joins again */
#define RESERVOIR       (1 << 20)   /* per-session samples kept with --churn */
#define MAX_FIELDS      40
#define SHORT_WINDOW    1.0     /* --churn: less steady time than this is not judged */
#define MAX_JOIN_S      600.0   /* (N+M)/R, so that the whole run is bounded */
#define MAX_PIDS        16
#define FD_MARGIN       32      /* stdio, epoll, /proc reads */
#define CONNECT_TIMEOUT 10.0    /* s from connect start to the first body byte */
#define STEADY_SKIP     2.0     /* s after the first body byte: burst-on-connect */
#define TAIL_GRACE      1.0     /* silence before the end that counts as starving */
#define SAMPLE_PERIOD   0.5     /* s between /proc samples */
#define EXTRA_TIME      15.0    /* s after join time + D when the run is cut */
#define MAX_HEADER      16384
#define OK_FRACTION     0.99

/* Up to S_HEAD a listener is still waiting for its first body byte. */
enum state { S_CONNECTING = 1, S_HEAD, S_BODY, S_STALL, S_DONE };
enum fail { F_NONE, F_CONNECT, F_RESET, F_STATUS, F_EARLY, F_TIMEOUT, F_KINDS };
static const char *const fail_name[F_KINDS] = { "none", "connect", "reset", "status",
                                                "early_close", "timeout" };

struct listener {
    double t_start;     /* connect start (monotonic s) */
    double t_first;     /* first body byte; 0 until then */
    double t_last;      /* last successful read */
    double t_a;         /* first read at or after t_first + STEADY_SKIP; 0 until then */
    double max_gap, rate;
    uint64_t steady;    /* body bytes read after t_a */
    int fd;
    uint32_t head_bytes;
    uint32_t gen;       /* sessions this place has had: tells stale events and timers */
    uint8_t state, fail, stalled, ok, connected, dropped, at_bol, status_len;
    uint8_t resetter;
    uint8_t in_head;    /* 0: status line, 1: headers, 2: headers done */
    char status[16];    /* start of the status line; enough for "HTTP/1.1 200" */
};

struct proc {
    pid_t pid;
    int lost;
    unsigned long long t0, t1;  /* utime+stime ticks at the start / last sample */
};

static struct {
    const char *host, *path, *label, *csv;
    int port, listeners, stalled, seconds, bitrate_kbps, npids;
    double join_rate;
    struct proc procs[MAX_PIDS];
    int resetters, progress;
    double churn_min, churn_max;    /* churn_max > 0: --churn */
    unsigned long long seed;
} opt = { "127.0.0.1", "/live.mp3", "unnamed", NULL, 0, 0, 0, 0, 128, 0, 500.0, {{0}},
          0, 0, 0, 0, 1 };

static struct listener *ls;
static int nls, epfd, done_count, joined, c_end, c_timeout;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static char request[1400];
static size_t request_len;
static long rss_peak_kib;
static int fail_count[F_KINDS];

/* Timers of the listeners that do not end in join order: resetters, and
 * everything with --churn. A min-heap; a timer whose listener has since
 * moved on (another gen, or done) is dropped when it comes up. */
enum tkind { T_END, T_TIMEOUT, T_RESET, T_REJOIN };
struct timer { double at; uint32_t slot, gen; uint8_t kind; };
static struct timer *heap;
static size_t heap_n, heap_cap;
static double g_now;            /* the loop's current time, for finish() */
static int closing;             /* the churn run is over: no more rejoins */

/* Churn statistics, per session; the sample arrays are reservoirs. */
struct sample { double *v; size_t n, cap; unsigned long long seen; };
static struct sample s_ttfb, s_gap, s_rate;
static unsigned long long n_short, n_joins, n_judged, n_ok, n_resets, n_cut, n_stalled_dropped;
static double gap_max = NAN, rate_min = NAN;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *why)
{
    if (why)
        fprintf(stderr, "loadgen: %s\n", why);
    fprintf(stderr,
        "usage: loadgen --port P [--host 127.0.0.1] [--path /live.mp3] --listeners N\n"
        "               [--join-rate R/s (500)] --seconds D [--stalled M]\n"
        "               [--bitrate-kbps 128] [--server-pid PID]... [--label NAME]\n"
        "               [--csv FILE] [--churn MIN_S:MAX_S] [--resetters K]\n"
        "               [--progress S] [--seed N]\n");
    exit(2);
}

/* A number in [lo, hi], whole unless real is set; "500/s" is taken for 500. */
static double num(const char *s, double lo, double hi, int real, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && strcmp(end, "/s") == 0)
        end += 2;
    if (errno || end == s || *end || !(v >= lo && v <= hi) || (!real && v != floor(v))) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "%s must be a%s number in [%g, %g]", what,
                       real ? "" : " whole", lo, hi);   /* cut short, still a message */
        usage(msg);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        { "port", 1, 0, 'p' }, { "host", 1, 0, 'H' }, { "path", 1, 0, 'u' },
        { "listeners", 1, 0, 'n' }, { "join-rate", 1, 0, 'r' }, { "seconds", 1, 0, 'd' },
        { "stalled", 1, 0, 's' }, { "bitrate-kbps", 1, 0, 'b' }, { "server-pid", 1, 0, 'P' },
        { "label", 1, 0, 'l' }, { "csv", 1, 0, 'c' }, { "churn", 1, 0, 'C' },
        { "resetters", 1, 0, 'R' }, { "progress", 1, 0, 'g' }, { "seed", 1, 0, 'S' },
        { 0, 0, 0, 0 }
    };
    int c;
    char *colon;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'p': opt.port = (int)num(optarg, 1, 65535, 0, "--port"); break;
        case 'H': opt.host = optarg; break;
        case 'u': opt.path = optarg; break;
        case 'n': opt.listeners = (int)num(optarg, 1, MAX_LISTENERS, 0, "--listeners"); break;
        case 'r': opt.join_rate = num(optarg, 1, 100000, 1, "--join-rate"); break;
        case 'd': opt.seconds = (int)num(optarg, 3, MAX_CHURN_S, 0, "--seconds"); break;
        case 's': opt.stalled = (int)num(optarg, 0, MAX_LISTENERS, 0, "--stalled"); break;
        case 'b': opt.bitrate_kbps = (int)num(optarg, 1, 10000, 0, "--bitrate-kbps"); break;
        case 'l': opt.label = optarg; break;
        case 'c': opt.csv = optarg; break;
        case 'C':
            if ((colon = strchr(optarg, ':')) == NULL)
                usage("--churn takes MIN_S:MAX_S");
            *colon = '\0';
            opt.churn_min = num(optarg, 0.5, MAX_CHURN_S, 1, "--churn MIN_S");
            opt.churn_max = num(colon + 1, opt.churn_min, MAX_CHURN_S, 1, "--churn MAX_S");
            break;
        case 'R': opt.resetters = (int)num(optarg, 0, MAX_LISTENERS, 0, "--resetters"); break;
        case 'g': opt.progress = (int)num(optarg, 1, 3600, 0, "--progress"); break;
        case 'S': opt.seed = (unsigned long long)num(optarg, 0, 4294967295.0, 0, "--seed"); break;
        case 'P':
            if (opt.npids == MAX_PIDS)
                usage("at most 16 --server-pid");
            opt.procs[opt.npids++].pid = (pid_t)num(optarg, 1, 4194304, 0, "--server-pid");
            break;
        default: usage(NULL);
        }
    }
    if (optind != argc)
        usage("unexpected argument");
    if (!opt.port || !opt.listeners || !opt.seconds)
        usage("--port, --listeners and --seconds are required");
    if (opt.churn_max == 0 && opt.seconds > MAX_SECONDS)
        usage("--seconds must be a whole number in [3, 600] (86400 with --churn)");
    nls = opt.listeners + opt.stalled + opt.resetters;
    if (nls > MAX_LISTENERS)
        usage(opt.resetters ? "listeners + stalled + resetters must be at most 20000"
                            : "listeners + stalled must be at most 20000");
    if (nls / opt.join_rate > MAX_JOIN_S)
        usage("(listeners + stalled) / join-rate must be at most 600 s");
    /* The path goes into a request line, the label into a CSV cell. */
    int bad = opt.path[0] != '/' || strlen(opt.path) > 1024;
    for (const char *ch = opt.path; *ch; ch++)
        bad |= *ch <= ' ' || *ch >= 127;
    if (bad)
        usage("--path must start with / and hold no spaces or control characters");
    if (!*opt.label || strlen(opt.label) > 64 || strspn(opt.label,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-:@/")
            != strlen(opt.label))
        usage("--label: up to 64 of [A-Za-z0-9._+-:@/]");
}

/* Loopback only: this tool must never load anything but the local machine.
 * Numeric addresses only, so that no name lookup ever leaves the machine. */
static void resolve_loopback(void)
{
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    char port[8];
    const char *host = strcmp(opt.host, "localhost") == 0 ? "127.0.0.1" : opt.host;
    (void)snprintf(port, sizeof(port), "%d", opt.port);   /* fits: num() took 1..65535 */
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        usage("--host must be a numeric address (or localhost)");
    int v6 = ai->ai_family == AF_INET6, ok;
    if (v6)
        ok = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    else
        ok = (ntohl(((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (!ok)
        usage("--host must be in 127.0.0.0/8 or ::1");
    /* HTTP/1.0: the body ends at close, no chunk framing to undo. */
    request_len = (size_t)snprintf(request, sizeof(request),
        "GET %s HTTP/1.0\r\nHost: %s%s%s:%d\r\nUser-Agent: loadgen\r\n\r\n",
        opt.path, v6 ? "[" : "", host, v6 ? "]" : "", opt.port);
}

static void raise_nofile(void)
{
    struct rlimit rl = { 0, 0 };
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rlim_t)nls + FD_MARGIN > rl.rlim_cur) {
        fprintf(stderr, "loadgen: %d listeners need %d open files, but the limit is "
                "%llu even raised to the hard limit (%d are kept for other files)\n",
                nls, nls + FD_MARGIN, (unsigned long long)rl.rlim_cur, FD_MARGIN);
        exit(2);
    }
}

/* utime+stime of the whole process (/proc/PID/stat sums all its threads)
 * and its VmRSS, which a zombie lacks (0 then). -1 once the PID is gone. */
static int read_proc(pid_t pid, unsigned long long *ticks, long *rss_kib)
{
    char path[64], buf[1024];
    unsigned long long ut, st;
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);     /* fits */
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
    (void)fclose(f);                    /* read only: a short read fails the parse */
    const char *p = strrchr(buf, ')');  /* the command name may hold spaces */
    // NOLINTNEXTLINE(cert-err34-c): the kernel's own numbers; the count of them is checked
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &ut, &st) != 2)
        return -1;
    *ticks = ut + st;
    *rss_kib = 0;
    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);   /* fits */
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    // NOLINTNEXTLINE(cert-err34-c): the kernel's own number; the count of them is checked
    while (fgets(buf, sizeof(buf), f) && sscanf(buf, "VmRSS: %ld", rss_kib) != 1)
        ;
    (void)fclose(f);                    /* read only */
    return 0;
}

/* The first call takes the start readings; a PID missing then is an error. */
static void sample_procs(int first)
{
    long sum = 0, rss;
    for (int i = 0; i < opt.npids; i++) {
        struct proc *p = &opt.procs[i];
        if (p->lost)
            continue;
        if (read_proc(p->pid, first ? &p->t0 : &p->t1, &rss) != 0) {
            fprintf(stderr, "loadgen: server pid %d %s\n", (int)p->pid,
                    first ? "does not exist" : "disappeared");
            if (first)
                exit(2);
            p->lost = 1;    /* t1 keeps the last good reading */
            continue;
        }
        if (first)
            p->t1 = p->t0;
        sum += rss;
    }
    if (sum > rss_peak_kib)
        rss_peak_kib = sum;
}

/* splitmix64: lifetimes and reset instants, the same for the same --seed */
static uint64_t rnd(void)
{
    static uint64_t x;
    static int seeded;
    if (!seeded) {
        x = opt.seed;
        seeded = 1;
    }
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi] */
static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static void *grow(void *p, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 4096;
    void *q = realloc(p, n * size);
    if (!q) {
        perror("loadgen");
        exit(1);
    }
    *cap = n;
    return q;
}

static void timer_add(double at, const struct listener *l, enum tkind kind)
{
    if (heap_n == heap_cap)
        heap = grow(heap, &heap_cap, sizeof(*heap));
    struct timer t = { at, (uint32_t)(l - ls), l->gen, (uint8_t)kind };
    size_t i = heap_n++;
    while (i > 0 && heap[(i - 1) / 2].at > at) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = t;
}

static struct timer timer_pop(void)
{
    struct timer top = heap[0], last = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_n)
            break;
        if (c + 1 < heap_n && heap[c + 1].at < heap[c].at)
            c++;
        if (heap[c].at >= last.at)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (heap_n)
        heap[i] = last;
    return top;
}

/* Keeps x in a uniform sample of at most RESERVOIR of all values seen. */
static void keep(struct sample *s, double x)
{
    s->seen++;
    if (s->n < RESERVOIR) {
        if (s->n == s->cap)
            s->v = grow(s->v, &s->cap, sizeof(*s->v));
        s->v[s->n++] = x;
        return;
    }
    uint64_t k = rnd() % s->seen;
    if (k < RESERVOIR)
        s->v[k] = x;
}

static void finish(struct listener *l, enum fail why)
{
    static int told[F_KINDS];
    const char *text = why == F_STATUS ? "bad status line or header"
                     : why == F_EARLY ? "closed by the server" : strerror(errno);
    if (l->fd >= 0)
        close(l->fd);   /* also takes it out of the epoll set */
    l->fd = -1;
    l->state = S_DONE;
    done_count++;
    if (opt.churn_max > 0 && !closing)   /* its place joins again */
        timer_add(g_now + (why == F_NONE ? 0 : REJOIN_AFTER_FAIL), l, T_REJOIN);
    if (why == F_NONE || l->stalled)
        return;
    l->fail = (uint8_t)why;
    fail_count[why]++;
    if (!told[why]) {   /* one example per kind tells a broken setup apart */
        told[why] = 1;
        fprintf(stderr, "loadgen: first %s failure (listener %d): %s\n",
                fail_name[why], (int)(l - ls), text);
    }
}

/* Epoll data: the place and its session, so that an event of a closed
 * session is never taken for one of the next session in the same place. */
static uint64_t ev_data(const struct listener *l)
{
    return (uint64_t)l->gen << 32 | (uint32_t)(l - ls);
}

static void join(int i, double now)
{
    struct listener *l = &ls[i];
    int small = 1024;
    /* With --churn the place had a session before: start from zero. */
    *l = (struct listener){ .gen = l->gen + 1 };
    l->t_start = now;
    n_joins++;
    /* Stalled listeners and resetters are spread evenly among the readers
     * (Bresenham), and the stalled ones evenly among both. */
    long special = (long)opt.stalled + opt.resetters, j = (long)i * special / nls;
    int is_special = (long)(i + 1) * special / nls > j;
    l->stalled = is_special && (j + 1) * opt.stalled / special > j * opt.stalled / special;
    l->resetter = is_special && !l->stalled;
    l->state = S_CONNECTING;
    if (l->resetter)
        timer_add(now + uniform(0, RESET_MAX_S), l, T_RESET);
    if (opt.churn_max > 0 && !l->resetter) {
        double end = now + uniform(opt.churn_min, opt.churn_max);
        timer_add(end, l, T_END);
        if (now + CONNECT_TIMEOUT < end)
            timer_add(now + CONNECT_TIMEOUT, l, T_TIMEOUT);
    }
    l->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        finish(l, F_CONNECT);
        return;
    }
    /* A tiny receive window lets the server's send queue fill up at once. */
    if (l->stalled)
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = ev_data(l) };
    if ((connect(l->fd, (struct sockaddr *)&addr, addrlen) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0)
        finish(l, F_CONNECT);
}

static void on_connected(struct listener *l)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        errno = err;
        finish(l, F_CONNECT);
        return;
    }
    /* The request is far below any socket buffer: one send or a failure. */
    if (send(l->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len) {
        finish(l, F_RESET);
        return;
    }
    /* Stalled listeners only watch for the server dropping them. */
    struct epoll_event ev = { .events = l->stalled ? EPOLLRDHUP : EPOLLIN,
                              .data.u64 = ev_data(l) };
    l->state = l->stalled ? S_STALL : S_HEAD;
    l->connected = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &ev) != 0)
        finish(l, F_CONNECT);
}

/* "HTTP/1.0 200", "HTTP/1.1 200" or "ICY 200". */
static int status_ok(struct listener *l)
{
    const char *s = l->status, *p = NULL;
    l->status[l->status_len] = '\0';
    if (strncmp(s, "HTTP/", 5) == 0)
        p = strchr(s, ' ');
    else if (strncmp(s, "ICY ", 4) == 0)
        p = s + 3;
    if (!p)
        return 0;
    while (*p == ' ')
        p++;
    return strncmp(p, "200", 3) == 0 && (p[3] == ' ' || p[3] == '\r' || p[3] == '\0');
}

/* Feeds response bytes through the status line and headers, which may come
 * in any pieces. Returns -1 on a bad status, 0 when more is needed, 1 when
 * the body starts at buf[*off] (0 once the headers are behind). */
static int consume_head(struct listener *l, const char *buf, size_t n, size_t *off)
{
    for (size_t i = 0; i < n && l->in_head < 2; i++) {
        char c = buf[i];
        if (++l->head_bytes > MAX_HEADER)
            return -1;
        if (!l->in_head) {
            if (c == '\n' && !status_ok(l))
                return -1;
            if (c == '\n')
                l->in_head = l->at_bol = 1;
            else if (l->status_len < sizeof(l->status) - 1)
                l->status[l->status_len++] = c;
        } else if (c == '\n') {
            if (l->at_bol) {    /* empty line: CRLF CRLF or bare LF LF */
                *off = i + 1;
                l->in_head = 2;
            }
            l->at_bol = 1;
        } else if (c != '\r') {
            l->at_bol = 0;
        }
    }
    return l->in_head == 2;
}

static void on_body(struct listener *l, size_t n, double now)
{
    if (n == 0)
        return;
    if (l->t_first == 0) {
        l->t_first = l->t_last = now;
        if (opt.churn_max > 0 && !l->resetter)
            keep(&s_ttfb, now - l->t_start);
        return;
    }
    l->max_gap = fmax(l->max_gap, now - l->t_last);
    l->t_last = now;
    /* Bytes are counted between read instants: the read that opens the
     * window brings bytes that arrived before it, so they are left out, and
     * a steady source measures 100 % whatever its write granularity. */
    if (l->t_a != 0)
        l->steady += n;
    else if (now >= l->t_first + STEADY_SKIP)
        l->t_a = now;
}

static void on_readable(struct listener *l, double now)
{
    static char buf[65536];
    ssize_t n = recv(l->fd, buf, sizeof(buf), 0);
    size_t off = 0;
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            finish(l, n == 0 ? F_EARLY : F_RESET);
        return;
    }
    if (l->state == S_HEAD) {
        int r = consume_head(l, buf, (size_t)n, &off);
        if (r < 0)
            finish(l, F_STATUS);
        if (r <= 0 || off == (size_t)n)
            return;     /* S_BODY from the first body byte on */
        l->state = S_BODY;
    }
    on_body(l, (size_t)n - off, now);
}

static void on_event(uint64_t data, uint32_t events, double now)
{
    struct listener *l = &ls[(uint32_t)data];
    if (l->gen != (uint32_t)(data >> 32))
        return;     /* closed in this batch, its place already taken again */
    if (l->state == S_CONNECTING)
        on_connected(l);
    else if (l->state == S_HEAD || l->state == S_BODY)
        on_readable(l, now);
    else if (l->state == S_STALL && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        l->dropped = 1;
        n_stalled_dropped++;
        finish(l, F_NONE);
    }   /* S_DONE: closed earlier in this batch */
}

/* The listener's D seconds are over: judge the rate over its steady window. */
static void end_listener(struct listener *l, double end)
{
    if (l->stalled || l->resetter || l->state <= S_HEAD) {
        errno = ETIMEDOUT;
        finish(l, l->stalled || l->resetter ? F_NONE : F_TIMEOUT);
        return;
    }
    if (opt.churn_max > 0 && end < l->t_first + STEADY_SKIP + SHORT_WINDOW) {
        n_short++;      /* too short a life to judge its rate */
        finish(l, F_NONE);
        return;
    }
    l->max_gap = fmax(l->max_gap, end - l->t_last);
    /* A silent tail longer than any normal write interval is starvation and
     * counts against the rate; a shorter one is write granularity. */
    double span = end - l->t_last > TAIL_GRACE ? end - l->t_a : l->t_last - l->t_a;
    if (l->t_a != 0 && span > 0)
        l->rate = (double)l->steady / span / (opt.bitrate_kbps * 1000.0 / 8.0);
    l->ok = l->rate >= OK_FRACTION;
    if (opt.churn_max > 0) {
        n_judged++;
        n_ok += l->ok;
        keep(&s_gap, l->max_gap);
        keep(&s_rate, l->rate);
        gap_max = isnan(gap_max) ? l->max_gap : fmax(gap_max, l->max_gap);
        rate_min = isnan(rate_min) ? l->rate : fmin(rate_min, l->rate);
    }
    finish(l, F_NONE);
}

/* A resetter's time is up: it aborts its connection with a RST. */
static void reset_listener(struct listener *l)
{
    struct linger lg = { 1, 0 };
    if (l->fd >= 0)
        setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    n_resets++;
    finish(l, F_NONE);
}

/* Runs the timers due by now; returns the next one's time. */
static double timers(double now)
{
    g_now = now;
    while (heap_n && heap[0].at <= now) {
        struct timer t = timer_pop();
        struct listener *l = &ls[t.slot];
        if (t.gen != l->gen)
            continue;
        if (t.kind == T_REJOIN && l->state == S_DONE)
            join((int)t.slot, now);
        else if (t.kind == T_RESET && l->state != S_DONE)
            reset_listener(l);
        else if (t.kind == T_END && l->state != S_DONE)
            end_listener(l, t.at);
        else if (t.kind == T_TIMEOUT && l->state <= S_HEAD) {
            errno = ETIMEDOUT;
            finish(l, l->stalled ? F_NONE : F_TIMEOUT);
        }
    }
    return heap_n ? heap[0].at : INFINITY;
}

/* Joins happen in index order and every listener lasts D, so both deadline
 * queues are the listener array itself, walked by a cursor. Returns the
 * next deadline. */
static double expire(double now)
{
    double next = INFINITY;
    if (opt.churn_max > 0)
        return next;    /* every deadline is a timer then */
    for (; c_end < joined; c_end++) {
        struct listener *l = &ls[c_end];
        if (l->state != S_DONE && l->t_start + opt.seconds > now) {
            next = l->t_start + opt.seconds;
            break;
        }
        if (l->state != S_DONE)
            end_listener(l, l->t_start + opt.seconds);
    }
    for (; c_timeout < joined; c_timeout++) {
        struct listener *l = &ls[c_timeout];
        if (l->state <= S_HEAD && l->t_start + CONNECT_TIMEOUT > now)
            return fmin(next, l->t_start + CONNECT_TIMEOUT);
        if (l->state <= S_HEAD) {
            errno = ETIMEDOUT;
            finish(l, l->stalled ? F_NONE : F_TIMEOUT);
        }
    }
    return next;
}

/* --progress: one line on stderr with the counts so far */
static void progress(double t)
{
    int open = 0, body = 0, stall = 0;
    for (int i = 0; i < joined; i++) {
        open += ls[i].state != S_DONE;
        body += ls[i].state == S_BODY;
        stall += ls[i].state == S_STALL;
    }
    int fails = 0;
    for (int w = F_CONNECT; w < F_KINDS; w++)
        fails += fail_count[w];
    fprintf(stderr, "loadgen: progress t=%.1f joins=%llu open=%d reading=%d stalled=%d "
            "resets=%llu failures=%d judged=%llu ok=%llu\n", t, n_joins, open, body, stall,
            n_resets, fails, n_judged, n_ok);
}

/* Runs the whole schedule; returns its wall time. */
static double run(void)
{
    static struct epoll_event evs[1024];
    double t0 = now_s(), now = t0, next_sample = t0 + SAMPLE_PERIOD;
    double next_progress = opt.progress ? t0 + opt.progress : INFINITY;
    double hard_end = opt.churn_max > 0 ? t0 + opt.seconds
                    : t0 + nls / opt.join_rate + opt.seconds + EXTRA_TIME;
    while ((opt.churn_max > 0 || done_count < nls) && now < hard_end) {
        while (joined < nls && t0 + joined / opt.join_rate <= now)
            join(joined++, now);
        double wake = fmin(fmin(expire(now), timers(now)), hard_end);
        if (now >= next_sample) {
            sample_procs(0);
            next_sample = fmax(next_sample + SAMPLE_PERIOD, now);
        }
        if (now >= next_progress) {
            progress(now - t0);
            next_progress = fmax(next_progress + opt.progress, now);
        }
        if (joined < nls)
            wake = fmin(wake, t0 + joined / opt.join_rate);
        if (opt.npids)
            wake = fmin(wake, next_sample);
        wake = fmin(wake, next_progress);
        int n = epoll_wait(epfd, evs, 1024, (int)ceil(fmin(fmax(wake - now, 0), 1) * 1000));
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            exit(1);
        }
        now = now_s();
        expire(now);        /* a listener past its D reads nothing more */
        timers(now);
        for (int k = 0; k < n; k++)
            on_event(evs[k].data.u64, evs[k].events, now);
    }
    if (opt.churn_max > 0) {
        /* The run is over: the sessions still open are cut, not judged. */
        closing = 1;
        for (int i = 0; i < joined; i++)
            if (ls[i].state != S_DONE) {
                close(ls[i].fd);
                ls[i].fd = -1;
                ls[i].state = S_DONE;
                n_cut++;
            }
    }
    /* Listeners are left only when the run overran its bound. */
    for (int i = 0; i < nls; i++)
        if (ls[i].state != S_DONE) {
            errno = ETIMEDOUT;
            finish(&ls[i], ls[i].stalled || ls[i].resetter ? F_NONE : F_TIMEOUT);
        }
    return now_s() - t0;
}

static struct field { const char *group, *name; char val[200]; } fields[MAX_FIELDS];
static int nfields;

static void add(const char *group, const char *name, const char *fmt, double v)
{
    if (nfields == MAX_FIELDS)
        abort();
    struct field *f = &fields[nfields++];
    f->group = group;
    f->name = name;
    /* counts, rates and shares, or the lost PIDs: far below 200 characters */
    (void)snprintf(f->val, sizeof(f->val), isnan(v) ? "na" : fmt, v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n); NAN when empty. */
static double pct(const double *v, int n, double p)
{
    int k = (int)ceil(p * n) - 1;
    return n ? v[k < 0 ? 0 : k] : NAN;
}

static void add_stats(const char *group, double *v, int n, const char *fmt, double scale)
{
    for (int i = 0; i < n; i++)
        v[i] *= scale;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    add(group, "median", fmt, pct(v, n, 0.5));
    add(group, "p99", fmt, pct(v, n, 0.99));
}

static void listener_fields(void)
{
    double *ttfb = calloc(3 * (size_t)nls, sizeof(double));
    if (!ttfb) {
        perror("loadgen");
        exit(1);
    }
    double *gap = ttfb + nls, *rate = gap + nls;
    int nt = 0, ng = 0, ok = 0, conn = 0, drop = 0;
    for (int i = 0; i < nls; i++) {
        const struct listener *l = &ls[i];
        conn += l->stalled && l->connected;
        drop += l->stalled && l->dropped;
        if (l->resetter)
            continue;
        if (!l->stalled && l->t_first != 0)
            ttfb[nt++] = l->t_first - l->t_start;
        if (!l->stalled && l->fail == F_NONE) {
            gap[ng] = l->max_gap;
            rate[ng++] = l->rate;
            ok += l->ok;
        }
    }
    add("", "listeners", "%.0f", opt.listeners);
    add("", "stalled", "%.0f", opt.stalled);
    add("", "stalled_connected", "%.0f", conn);
    add("", "stalled_dropped", "%.0f", drop);
    if (opt.resetters) {
        add("", "resetters", "%.0f", opt.resetters);
        add("", "resets", "%.0f", (double)n_resets);
    }
    add("", "ok", "%.0f", ok);
    add("", "ok_pct", "%.1f", 100.0 * ok / opt.listeners);
    add_stats("ttfb_ms", ttfb, nt, "%.1f", 1000);
    add_stats("gap_ms", gap, ng, "%.0f", 1000);
    add("gap_ms", "max", "%.0f", ng ? gap[ng - 1] : NAN);
    qsort(rate, (size_t)ng, sizeof(*rate), cmp_double);
    add("rate_pct", "min", "%.1f", ng ? rate[0] * 100 : NAN);
    add("rate_pct", "median", "%.1f", pct(rate, ng, 0.5) * 100);
    for (int w = F_CONNECT; w < F_KINDS; w++)
        add("failures", fail_name[w], "%.0f", fail_count[w]);
    free(ttfb);
}

/* With --churn: the population, then every session that ran its lifetime
 * (judged, ok as above, unless it had less than SHORT_WINDOW s of steady
 * time: short), a sample of at most RESERVOIR of them for the
 * percentiles, and the sessions cut by the end of the run. */
static void churn_fields(void)
{
    add("", "listeners", "%.0f", opt.listeners);
    add("", "stalled", "%.0f", opt.stalled);
    add("", "resetters", "%.0f", opt.resetters);
    add("churn_s", "min", "%g", opt.churn_min);
    add("churn_s", "max", "%g", opt.churn_max);
    add("", "joins", "%.0f", (double)n_joins);
    add("", "stalled_dropped", "%.0f", (double)n_stalled_dropped);
    add("", "resets", "%.0f", (double)n_resets);
    add("", "cut", "%.0f", (double)n_cut);
    add("", "short", "%.0f", (double)n_short);
    add("", "judged", "%.0f", (double)n_judged);
    add("", "ok", "%.0f", (double)n_ok);
    add("", "ok_pct", "%.1f", n_judged ? 100.0 * (double)n_ok / (double)n_judged : NAN);
    add_stats("ttfb_ms", s_ttfb.v, (int)s_ttfb.n, "%.1f", 1000);
    add_stats("gap_ms", s_gap.v, (int)s_gap.n, "%.0f", 1000);
    add("gap_ms", "max", "%.0f", gap_max * 1000);
    qsort(s_rate.v, s_rate.n, sizeof(*s_rate.v), cmp_double);
    add("rate_pct", "min", "%.1f", rate_min * 100);
    add("rate_pct", "median", "%.1f", pct(s_rate.v, (int)s_rate.n, 0.5) * 100);
    for (int w = F_CONNECT; w < F_KINDS; w++)
        add("failures", fail_name[w], "%.0f", fail_count[w]);
}

static void server_fields(double wall)
{
    unsigned long long ticks = 0;
    char lost[MAX_PIDS * 12] = "";
    for (int i = 0; i < opt.npids; i++) {
        const struct proc *p = &opt.procs[i];
        ticks += p->t1 - p->t0;
        if (p->lost)
            (void)snprintf(lost + strlen(lost), sizeof(lost) - strlen(lost), "%s%d",
                           lost[0] ? "+" : "", (int)p->pid);   /* 12 bytes a PID: fits */
    }
    double cpu = opt.npids ? (double)ticks / (double)sysconf(_SC_CLK_TCK) : NAN;
    add("", "server_cpu_s", "%.2f", cpu);
    add("", "server_core", "%.3f", cpu / wall);
    add("", "server_rss_peak_kib", "%.0f", opt.npids ? (double)rss_peak_kib : NAN);
    /* A text field: the "format" is the text itself (digits and '+' only). */
    add("", "server_pids_lost", lost[0] ? lost : "none", opt.npids ? 0 : NAN);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    add("", "gen_cpu_s", "%.2f", (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    add("", "seconds", "%.0f", opt.seconds);
    add("", "wall_s", "%.1f", wall);
}

/* form 0: the report line, where "ttfb_ms median=.. p99=.." groups keys;
 * 1: the CSV header, where the key is ttfb_ms_median; 2: a CSV row. */
static void emit(FILE *out, int form)
{
    const char *group = "";
    fprintf(out, form == 0 ? "label=%s" : "%s", form == 1 ? "label" : opt.label);
    for (const struct field *f = fields; f < fields + nfields; f++) {
        int new_group = f->group[0] && strcmp(f->group, group) != 0;
        group = f->group;
        if (form == 1)
            fprintf(out, ",%s%s%s", f->group, f->group[0] ? "_" : "", f->name);
        else if (form == 2)
            fprintf(out, ",%s", strcmp(f->val, "na") ? f->val : "");
        else if (strcmp(f->name, "ok_pct") == 0)
            fprintf(out, " (%s %%)", f->val);
        else
            fprintf(out, "%s%s %s=%s", new_group ? " " : "", new_group ? group : "",
                    f->name, f->val);
    }
    fputc('\n', out);
}

static void append_csv(void)
{
    FILE *csv = fopen(opt.csv, "a");
    struct stat st;
    if (!csv || fstat(fileno(csv), &st) != 0) {
        perror(opt.csv);
        exit(1);
    }
    if (st.st_size == 0)    /* a new file gets the header line */
        emit(csv, 1);
    emit(csv, 2);
    if (fclose(csv) != 0)
        perror(opt.csv);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    resolve_loopback();
    raise_nofile();
    ls = calloc((size_t)nls, sizeof(*ls));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!ls || epfd < 0) {
        perror("loadgen");
        return 1;
    }
    sample_procs(1);
    double wall = run();
    sample_procs(0);
    if (opt.churn_max > 0)
        churn_fields();
    else
        listener_fields();
    server_fields(wall);
    emit(stdout, 0);
    (void)fflush(stdout);               /* only orders the report before the CSV's errors */
    if (opt.csv)
        append_csv();
    return 0;
}
