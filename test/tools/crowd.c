/* crowd: many HTTP clients at once against one loopback server, well or
 * badly behaved, for the robustness tests (test/robustness.sh) and
 * bench/lifecycle.sh. One thread, epoll; raises its own open-files limit to
 * the hard limit.
 *
 *   crowd rst PORT PATH N [--read-headers K] [--hold-ms MS]
 *     N connections at once, each sends "GET PATH HTTP/1.1"; the first K
 *     wait for their response headers (at most 10 s) and read on; after
 *     that and MS more, every one is closed with SO_LINGER {1, 0}: the
 *     server gets an RST, not a FIN.
 *     Prints "clients=N connected=C sent=S headers=H status200=O reset=R".
 *
 *   crowd slowloris PORT PATH N --seconds S --quiet-seconds Q
 *     N connections send a request line and headers one byte a second for
 *     S seconds, never finishing them, then send nothing and wait up to Q
 *     seconds for the server to close them.
 *     Prints "clients=N connected=C closed_while_sending=W answered=A
 *     closed=K open=O close_ms_max=M": K of them closed by the server
 *     within Q s of going quiet, the last M ms after; A got response bytes.
 *
 *   crowd listen PORT PATH N --seconds S [--ready-file F] [--report R]
 *     N listeners (HTTP/1.0) read the response for up to S seconds, and stop
 *     early once every connection has ended. F is created once every one
 *     has its headers and a first body byte (or has ended). R gets a line
 *     per listener: "i status200 body_bytes first_byte_ms last_byte_ms
 *     end_ms", CLOCK_REALTIME milliseconds, -1 for none (end: still
 *     open).
 *     Prints "clients=N connected=C status200=O ended=E min_bytes=B
 *     max_bytes=X first_end_ms=T1 last_end_ms=T2"; the ends are
 *     CLOCK_REALTIME milliseconds, to compare with when a signal was sent
 *     (0 when none ended).
 *
 * Exit status 0 when it ran (the counts are the verdict), 2 on bad usage
 * or when it could not run. Loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS  20000
#define HEAD_MAX     1024     /* kept of a response's header block */
#define HEADERS_WAIT 10.0     /* s a reader in rst mode waits for its headers */

enum mode { M_RST, M_SLOWLORIS, M_LISTEN };
enum state { S_CONNECTING, S_OPEN, S_ENDED };

struct client {
    int fd;
    unsigned char state;
    unsigned char reader;     /* reads the response */
    unsigned char connected, head_done, status200, answered, sent_all;
    size_t sent;              /* bytes of the request sent */
    size_t first_send;        /* bytes sent at once on connect */
    size_t hlen;
    unsigned long long body;
    double t_end;             /* monotonic s; 0 while open */
    double t_first;           /* monotonic s of the first body byte; 0 before */
    double t_last;            /* and of the last one */
    char head[HEAD_MAX];
};

static struct client *cl;
static int nclients, epfd, port;
static const char *path;
static char request[2048];
static size_t request_len;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(const char *why)
{
    if (why) fprintf(stderr, "crowd: %s\n", why);
    fprintf(stderr,
        "usage: crowd rst PORT PATH N [--read-headers K] [--hold-ms MS]\n"
        "       crowd slowloris PORT PATH N --seconds S --quiet-seconds Q\n"
        "       crowd listen PORT PATH N --seconds S [--ready-file F] [--report R]\n");
    exit(2);
}

static long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "%s must be a whole number in [%ld, %ld]", what, lo, hi);
        usage(msg);
    }
    return v;
}

static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
        fprintf(stderr, "crowd: %d connections need %d open files, the limit is %llu\n",
                nclients, need, (unsigned long long)rl.rlim_cur);
        exit(2);
    }
}

static void watch(struct client *c, uint32_t events, int op)
{
    struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)(c - cl) };
    if (epoll_ctl(epfd, op, c->fd, &ev) != 0 && op != EPOLL_CTL_DEL) {
        perror("crowd: epoll_ctl");
        exit(2);
    }
}

static void start_connect(struct client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        perror("crowd: socket");
        exit(2);
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->state = S_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        c->state = S_ENDED;     /* refused: never connected */
        c->t_end = mono_s();
        close(c->fd);
        c->fd = -1;
        return;
    }
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void end_client(struct client *c)
{
    if (c->state == S_ENDED) return;
    c->state = S_ENDED;
    c->t_end = mono_s();
    close(c->fd);       /* also leaves the epoll set */
    c->fd = -1;
}

/* sends up to n more bytes of the request; 0 once it can send no more now */
static int send_more(struct client *c, size_t n)
{
    if (c->sent + n > request_len) n = request_len - c->sent;
    if (n == 0) return 0;
    const ssize_t w = send(c->fd, request + c->sent, n, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) end_client(c);
        return 0;
    }
    c->sent += (size_t)w;
    if (c->sent == request_len) c->sent_all = 1;
    return 1;
}

static void read_some(struct client *c)
{
    char buf[65536];
    for (;;) {
        const ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0) { end_client(c); return; }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) end_client(c);
            return;
        }
        c->answered = 1;
        size_t i = 0;
        while (!c->head_done && i < (size_t)n) {
            if (c->hlen < HEAD_MAX - 1) c->head[c->hlen++] = buf[i];
            c->head[c->hlen] = '\0';
            ++i;
            if (c->hlen >= 4 && memcmp(c->head + c->hlen - 4, "\r\n\r\n", 4) == 0) {
                c->head_done = 1;
                c->status200 = strncmp(c->head, "HTTP/1.", 7) == 0 && c->hlen > 12
                               && memcmp(c->head + 8, " 200", 4) == 0;
            }
        }
        if ((size_t)n > i) {
            c->t_last = mono_s();
            if (c->t_first == 0) c->t_first = c->t_last;
        }
        c->body += (unsigned long long)((size_t)n - i);
        if ((size_t)n < sizeof(buf)) return;
    }
}

/* one round of events; mode says what a connected client does */
static void poll_once(enum mode mode, int timeout_ms)
{
    struct epoll_event evs[256];
    const int n = epoll_wait(epfd, evs, 256, timeout_ms);
    for (int k = 0; k < n; ++k) {
        struct client * const c = &cl[evs[k].data.u32];
        if (c->state == S_ENDED) continue;
        if (c->state == S_CONNECTING) {
            int err = 0;
            socklen_t len = sizeof(err);
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                end_client(c);
                continue;
            }
            c->state = S_OPEN;
            c->connected = 1;
            /* slowloris: the first part now, a byte a second after */
            send_more(c, c->first_send);
            if (c->state == S_OPEN)
                watch(c, c->reader || mode == M_SLOWLORIS ? EPOLLIN | EPOLLRDHUP : 0,
                      EPOLL_CTL_MOD);
            continue;
        }
        if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some(c);
    }
}

static int count(int (*pred)(const struct client *))
{
    int n = 0;
    for (int i = 0; i < nclients; ++i) n += pred(&cl[i]);
    return n;
}

static int is_connected(const struct client *c) { return c->connected; }
static int is_open(const struct client *c) { return c->state == S_OPEN; }
static int is_ended(const struct client *c) { return c->state == S_ENDED; }
static int has_headers(const struct client *c) { return c->head_done; }
static int has_200(const struct client *c) { return c->status200; }
static int has_answer(const struct client *c) { return c->answered; }
static int sent_all(const struct client *c) { return c->sent_all; }
static int settled(const struct client *c) { return c->sent_all || c->state == S_ENDED; }
static int reader_waiting(const struct client *c)
{
    return c->reader && c->state != S_ENDED && !c->head_done;
}
static int listener_waiting(const struct client *c)
{
    return c->state != S_ENDED && (!c->head_done || c->body == 0);
}

static void connect_all(void)
{
    for (int i = 0; i < nclients; ++i) {
        if (cl[i].first_send == 0) cl[i].first_send = request_len;
        start_connect(&cl[i]);
    }
}

static int run_rst(int readers, long hold_ms)
{
    for (int i = 0; i < nclients; ++i) cl[i].reader = i < readers;
    request_len = (size_t)snprintf(request, sizeof(request),
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: crowd-rst\r\n\r\n", path);
    connect_all();
    const double t0 = mono_s();
    while (mono_s() - t0 < HEADERS_WAIT
           && (count(reader_waiting) > 0 || count(settled) < nclients))
        poll_once(M_RST, 20);
    const double hold_end = mono_s() + (double)hold_ms / 1e3;
    while (mono_s() < hold_end) poll_once(M_RST, 10);
    int reset = 0;
    const struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    for (int i = 0; i < nclients; ++i) {
        struct client * const c = &cl[i];
        if (c->fd < 0) continue;
        if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0) ++reset;
        close(c->fd);
        c->fd = -1;
        c->state = S_ENDED;
    }
    printf("clients=%d connected=%d sent=%d headers=%d status200=%d reset=%d\n", nclients,
           count(is_connected), count(sent_all), count(has_headers), count(has_200), reset);
    return 0;
}

static int run_slowloris(long seconds, long quiet)
{
    /* never ends: at one byte a second it stays far below any header limit;
     * even clients are in their request line all along, odd ones send it
     * and the Host line at once, then crawl through the headers */
    request_len = (size_t)snprintf(request, sizeof(request),
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: crowd-slowloris\r\nX-Slow: %0*d",
        path, 1500, 0);
    const size_t line_and_host = strlen(path) + strlen("GET  HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < nclients; ++i) {
        cl[i].reader = 1;
        cl[i].first_send = i % 2 ? line_and_host : 1;
    }
    connect_all();
    const double t0 = mono_s();
    double next = t0 + 1;
    while (mono_s() - t0 < (double)seconds) {
        poll_once(M_SLOWLORIS, 20);
        if (mono_s() >= next) {
            next += 1;
            for (int i = 0; i < nclients; ++i)
                if (cl[i].state == S_OPEN) send_more(&cl[i], 1);
        }
    }
    const int connected = count(is_connected);
    const int closed_early = count(is_ended) - (nclients - connected);
    const double quiet_start = mono_s();
    while (mono_s() - quiet_start < (double)quiet && count(is_open) > 0)
        poll_once(M_SLOWLORIS, 20);
    double last = 0;
    int closed = 0;
    for (int i = 0; i < nclients; ++i) {
        if (cl[i].state == S_ENDED && cl[i].t_end >= quiet_start) {
            ++closed;
            if (cl[i].t_end - quiet_start > last) last = cl[i].t_end - quiet_start;
        }
    }
    printf("clients=%d connected=%d closed_while_sending=%d answered=%d closed=%d open=%d "
           "close_ms_max=%.0f\n", nclients, connected, closed_early, count(has_answer),
           closed, count(is_open), last * 1e3);
    return 0;
}

static void write_report(const char *file, double mono0, double real0)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        perror(file);
        return;
    }
    for (int i = 0; i < nclients; ++i) {
        const struct client * const c = &cl[i];
        fprintf(f, "%d %d %llu %.0f %.0f %.0f\n", i, c->status200, c->body,
                c->t_first > 0 ? real0 + (c->t_first - mono0) * 1e3 : -1.0,
                c->t_last > 0 ? real0 + (c->t_last - mono0) * 1e3 : -1.0,
                c->state == S_ENDED ? real0 + (c->t_end - mono0) * 1e3 : -1.0);
    }
    if (fclose(f) != 0) perror(file);
}

static int run_listen(long seconds, const char *ready_file, const char *report)
{
    for (int i = 0; i < nclients; ++i) cl[i].reader = 1;
    request_len = (size_t)snprintf(request, sizeof(request),
        "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: crowd-listen\r\n\r\n", path);
    const double mono0 = mono_s(), real0 = real_ms();
    connect_all();
    int ready = ready_file == NULL;
    while (mono_s() - mono0 < (double)seconds && count(is_ended) < nclients) {
        poll_once(M_LISTEN, 20);
        if (!ready && count(listener_waiting) == 0) {
            const int fd = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) close(fd);
            ready = 1;
        }
    }
    unsigned long long minb = ~0ull, maxb = 0;
    double first = 0, last = 0;
    for (int i = 0; i < nclients; ++i) {
        const struct client * const c = &cl[i];
        if (c->body < minb) minb = c->body;
        if (c->body > maxb) maxb = c->body;
        if (c->state == S_ENDED) {
            const double t = real0 + (c->t_end - mono0) * 1e3;
            if (first == 0 || t < first) first = t;
            if (t > last) last = t;
        }
    }
    if (report) write_report(report, mono0, real0);
    printf("clients=%d connected=%d status200=%d ended=%d min_bytes=%llu max_bytes=%llu "
           "first_end_ms=%.0f last_end_ms=%.0f\n", nclients, count(is_connected), count(has_200),
           count(is_ended), minb, maxb, first, last);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) usage(NULL);
    enum mode mode;
    if (!strcmp(argv[1], "rst")) mode = M_RST;
    else if (!strcmp(argv[1], "slowloris")) mode = M_SLOWLORIS;
    else if (!strcmp(argv[1], "listen")) mode = M_LISTEN;
    else usage("unknown mode");
    port = (int)number(argv[2], 1, 65535, "PORT");
    path = argv[3];
    if (path[0] != '/' || strlen(path) > 512) usage("PATH must start with / (at most 512 bytes)");
    nclients = (int)number(argv[4], 1, MAX_CLIENTS, "N");
    long readers = 0, hold_ms = 0, seconds = -1, quiet = -1;
    const char *ready_file = NULL, *report = NULL;
    for (int i = 5; i < argc; i += 2) {
        if (i + 1 >= argc) usage("an option without its value");
        if (!strcmp(argv[i], "--read-headers") && mode == M_RST)
            readers = number(argv[i + 1], 0, nclients, "--read-headers");
        else if (!strcmp(argv[i], "--hold-ms") && mode == M_RST)
            hold_ms = number(argv[i + 1], 0, 600000, "--hold-ms");
        else if (!strcmp(argv[i], "--seconds") && mode != M_RST)
            seconds = number(argv[i + 1], 1, 600, "--seconds");
        else if (!strcmp(argv[i], "--quiet-seconds") && mode == M_SLOWLORIS)
            quiet = number(argv[i + 1], 1, 600, "--quiet-seconds");
        else if (!strcmp(argv[i], "--ready-file") && mode == M_LISTEN)
            ready_file = argv[i + 1];
        else if (!strcmp(argv[i], "--report") && mode == M_LISTEN)
            report = argv[i + 1];
        else usage("unknown option");
    }
    if (mode != M_RST && seconds < 0) usage("--seconds is needed");
    if (mode == M_SLOWLORIS && quiet < 0) usage("--quiet-seconds is needed");
    raise_nofile(nclients + 32);
    cl = calloc((size_t)nclients, sizeof(*cl));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!cl || epfd < 0) {
        perror("crowd");
        return 2;
    }
    for (int i = 0; i < nclients; ++i) cl[i].fd = -1;
    const int rc = mode == M_RST ? run_rst((int)readers, hold_ms)
                 : mode == M_SLOWLORIS ? run_slowloris(seconds, quiet)
                 : run_listen(seconds, ready_file, report);
    (void)fflush(stdout);
    return rc;
}
