/* floor: the least a live MP3 stream can cost on this machine.
 *
 *   floor --port P --file X.mp3 [--interval-ms 100] [--sndbuf BYTES]
 *
 * Loops an MP3 file in real time and writes each tick's frames to every
 * HTTP listener on 127.0.0.1:P with one write() each: no queue, no parsing
 * beyond the blank line. What a streaming server spends above this is its
 * own overhead. A short write drops the rest of that tick for that listener
 * (counted); decoders resync at the next frame. SIGTERM/SIGINT exit at once
 * and print the counters to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_loop.h"
#include "mp3_source.h"

static const char http_head[] = "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n"
                                "Cache-Control: no-cache, no-store\r\n\r\n";

enum { READING, PENDING, LIVE };
enum { MAX_REQUEST = 16384, ACCEPT_EVERY = 256 };

struct conn {
    int fd, state;
    unsigned eol;          /* 1 right after a line end: the next one is the blank line */
    size_t got, idx;       /* request bytes read; position in g.conns */
    struct conn *next_dead;
};

static struct {
    int ep, lfd, sndbuf;
    struct mp3_source src;
    struct conn **conns, *dead;
    size_t nconns, capconns;
    unsigned long long accepted, served, short_writes, ticks;
} g;
static char tag_listen, tag_timer, tag_signal; /* epoll tags of the non-listener fds */

/* Freed only after the epoll batch: a later event in it may still name c. */
static void conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    g.conns[c->idx] = g.conns[--g.nconns];
    g.conns[c->idx]->idx = c->idx;
    c->next_dead = g.dead;
    g.dead = c;
}

/* Reads the request up to its blank line; later bytes are discarded. */
static void conn_read(struct conn *c)
{
    char b[4096];
    ssize_t r = read(c->fd, b, sizeof b);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        conn_close(c);
        return;
    }
    for (ssize_t i = 0; i < r && c->state == READING; i++) {
        if (b[i] == '\n' && c->eol)
            c->state = PENDING; /* answered at the next tick */
        else if (b[i] == '\n')
            c->eol = 1;
        else if (b[i] != '\r')
            c->eol = 0;
    }
    c->got += (size_t)r;
    if (c->state == READING && c->got > MAX_REQUEST)
        conn_close(c);
}

static int conn_add(int fd)
{
    struct conn *c = g.nconns < g.capconns ? calloc(1, sizeof *c) : NULL;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
    if (!c || epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        return -1;
    }
    c->fd = fd;
    c->idx = g.nconns;
    g.conns[g.nconns++] = c;
    conn_read(c); /* the request is usually there already: saves a wakeup */
    return 0;
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return;
        g.accepted++;
        if (g.sndbuf > 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &g.sndbuf, sizeof g.sndbuf);
        if (conn_add(fd) < 0)
            close(fd);
    }
}

/* One write() per listener per tick; a new listener gets the header in the
 * same write. Returns 1 if c was closed. */
static int conn_tick(struct conn *c)
{
    size_t head = c->state == PENDING ? sizeof http_head - 1 : 0;
    size_t n = head + g.src.tick_len;
    ssize_t w = write(c->fd, g.src.tick_buf + g.src.headroom - head, n);
    if ((w < 0 && errno != EAGAIN) || (head && w < (ssize_t)head)) {
        conn_close(c); /* a torn header leaves no usable response */
        return 1;
    }
    if (head)
        c->state = LIVE, g.served++;
    if (w < (ssize_t)n)
        g.short_writes++;
    return 0;
}

static void tick(void)
{
    size_t writes = 0;
    if (mp3_source_tick(&g.src) == 0)
        return; /* interval shorter than a frame: nothing due yet */
    g.ticks++;
    for (size_t i = 0; i < g.nconns; ) {
        struct conn *c = g.conns[i];
        if (c->state == READING || !conn_tick(c))
            i++;
        if (c->state != READING && ++writes % ACCEPT_EVERY == 0)
            accept_all(); /* a long pass must not keep new listeners waiting */
    }
}

static int setup(long port, long ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    g.lfd = must(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "floor: socket");
    must(setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), "floor: SO_REUSEADDR");
    must(bind(g.lfd, (struct sockaddr *)&sa, sizeof sa), "floor: bind");
    must(listen(g.lfd, 4096), "floor: listen");
    return bench_loop_init(&g.ep, g.lfd, ms, &tag_listen, &tag_timer, &tag_signal);
}

static void usage(void)
{
    fprintf(stderr, "usage: floor --port P --file X.mp3 [--interval-ms 100]"
                    " [--sndbuf BYTES (16384)]\n");
    exit(2);
}

static long num(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        usage();
    return v;
}

static void on_event(const struct epoll_event *ev, int tfd)
{
    struct conn *c = ev->data.ptr;
    uint64_t expirations;
    if (ev->data.ptr == &tag_listen)
        accept_all();
    else if (ev->data.ptr == &tag_timer) {
        if (read(tfd, &expirations, sizeof expirations) > 0)
            tick();
    } else if (ev->data.ptr == &tag_signal) {
        fprintf(stderr, "floor: listeners served %llu, short writes %llu"
                " (accepted %llu, ticks %llu)\n",
                g.served, g.short_writes, g.accepted, g.ticks);
        exit(0);
    } else if (c->fd < 0)
        return; /* closed earlier in this batch */
    else if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        conn_close(c);
    else
        conn_read(c);
}

static const char *parse_args(int argc, char **argv, long *port, long *interval)
{
    static const struct option opts[] = {
        { "port", 1, NULL, 'p' }, { "file", 1, NULL, 'f' },
        { "interval-ms", 1, NULL, 'i' }, { "sndbuf", 1, NULL, 's' }, { NULL, 0, NULL, 0 } };
    const char *file = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'p') *port = num(optarg, 1, 65535);
        else if (o == 'f') file = optarg;
        else if (o == 'i') *interval = num(optarg, 1, 1000);
        else if (o == 's') g.sndbuf = (int)num(optarg, 0, 1 << 30);
        else usage();
    }
    if (!*port || !file || optind != argc)
        usage();
    return file;
}

int main(int argc, char **argv)
{
    long port = 0, interval = 100;
    struct epoll_event evs[256];
    g.sndbuf = 16384;
    const char *file = parse_args(argc, argv, &port, &interval);
    if (mp3_source_load(&g.src, file, sizeof http_head - 1) < 0) {
        fprintf(stderr, "floor: %s: unreadable, or no MPEG Layer III frames\n", file);
        return 1;
    }
    memcpy(g.src.tick_buf, http_head, sizeof http_head - 1);
    g.capconns = bench_fd_limit();
    /* an array of pointers: sizeof *g.conns is a pointer's size, as meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression): see above
    if (!(g.conns = malloc(g.capconns * sizeof *g.conns)))
        return must(-1, "malloc");
    int tfd = setup(port, interval);
    for (;;) {
        int n = epoll_wait(g.ep, evs, 256, -1);
        for (int i = 0; i < n; i++)
            on_event(&evs[i], tfd);
        while (g.dead) { /* nothing in the batch can name them any more */
            struct conn *d = g.dead;
            g.dead = d->next_dead;
            free(d);
        }
    }
}
