/* fcgi_stream: the setup mod_audiostream replaces, a FastCGI responder
 * that streams forever behind lighttpd's mod_fastcgi.
 *
 *   fcgi_stream --socket /path/to/unix.sock --file X.mp3 [--interval-ms 100]
 *
 * Loops an MP3 file in real time. Every request on every connection gets
 * FCGI_STDOUT records: the CGI header, then each tick's frames, never an
 * FCGI_END_REQUEST unless the web server aborts the request. One request
 * per connection at a time (FCGI_MPXS_CONNS 0), as lighttpd uses it. Records
 * are built by hand (FastCGI spec 1.0). SIGTERM/SIGINT exit at once, print
 * the counters to stderr and remove the socket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_loop.h"
#include "mp3_source.h"

enum { BEGIN_REQUEST = 1, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT,
       GET_VALUES = 9, GET_VALUES_RESULT, UNKNOWN_TYPE };
enum { REQUEST_COMPLETE = 0, CANT_MPX_CONN, UNKNOWN_ROLE = 3 }; /* protocolStatus */
enum { RESPONDER = 1, KEEP_CONN = 1, HDR = 8 };
enum { IDLE, INPUT, LIVE, CLOSING };   /* connection states */
enum { QCAP = 65536, MAX_CONNS = 4096 };

static const char cgi_head[] = "Status: 200 OK\r\nContent-Type: audio/mpeg\r\n"
                               "Cache-Control: no-cache, no-store\r\n\r\n";

struct conn {
    int fd, state, keep, out_armed;
    unsigned id;               /* the request in progress, 0 if none */
    unsigned char hdr[HDR];    /* the record being read: its header, */
    unsigned char body[512];   /* the start of its content (enough for ours), */
    unsigned hgot, bgot, clen, cleft, pleft; /* and what is left of it */
    unsigned char *q;          /* output queue: qlen bytes, allocated on first need */
    size_t qlen, idx;          /* idx: position in g.conns */
    struct conn *next_dead;
};

static struct {
    int ep, lfd;
    struct mp3_source src;
    struct conn **conns, *dead;
    size_t nconns, capconns;
    unsigned long long requests, aborted, dropped, ticks;
} g;
static char tag_listen, tag_timer, tag_signal; /* epoll tags of the other fds */

static void rec_header(unsigned char *h, unsigned type, unsigned id, size_t clen)
{
    h[0] = 1, h[1] = (unsigned char)type, h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id, h[4] = (unsigned char)(clen >> 8);
    h[5] = (unsigned char)clen, h[6] = 0, h[7] = 0; /* no padding */
}

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

/* Writes the queue out; watches for writability only while it is not empty. */
static void flush(struct conn *c)
{
    ssize_t w = c->qlen ? write(c->fd, c->q, c->qlen) : 0;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
    if (w < 0 && errno != EAGAIN) {
        conn_close(c);
        return;
    }
    if (w > 0)
        memmove(c->q, c->q + w, c->qlen -= (size_t)w);
    if (c->qlen == 0 && c->state == CLOSING) {
        conn_close(c); /* FCGI_END_REQUEST is out and FCGI_KEEP_CONN was 0 */
        return;
    }
    ev.events |= c->qlen ? EPOLLOUT : 0;
    if (c->out_armed != (c->qlen > 0) && epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->out_armed = c->qlen > 0;
}

/* Sends a whole record or, if droppable and the queue is too full, none of
 * it: a torn record would break the FastCGI stream. */
static void send_rec(struct conn *c, const unsigned char *p, size_t n, int droppable)
{
    if (c->qlen == 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno != EAGAIN) {
            conn_close(c);
            return;
        }
        if (w > 0)
            p += w, n -= (size_t)w;
    } else if (droppable && QCAP - c->qlen < n) {
        g.dropped++;
        return;
    }
    if (n > 0 && (c->q || (c->q = malloc(QCAP))) && c->qlen + n <= QCAP) {
        memcpy(c->q + c->qlen, p, n);
        c->qlen += n;
    } else if (n > 0) {
        conn_close(c); /* a control record does not fit: the peer reads nothing */
        return;
    }
    flush(c);
}

static void end_request(struct conn *c, unsigned id, unsigned status)
{
    unsigned char r[HDR + 8] = { 0 };
    rec_header(r, END_REQUEST, id, 8);
    r[HDR + 4] = (unsigned char)status; /* appStatus 0 */
    if (id == c->id) {
        c->id = 0;
        c->state = c->keep ? IDLE : CLOSING;
    }
    send_rec(c, r, sizeof r, 0);
}

static void begin_request(struct conn *c, unsigned id)
{
    unsigned role = (unsigned)c->body[0] << 8 | c->body[1];
    if (c->bgot < 8) {
        conn_close(c);
    } else if (c->id != 0) {
        end_request(c, id, CANT_MPX_CONN);
    } else if (role != RESPONDER) {
        if (!(c->body[2] & KEEP_CONN))
            c->state = CLOSING;
        end_request(c, id, UNKNOWN_ROLE);
    } else {
        c->id = id;
        c->keep = c->body[2] & KEEP_CONN;
        c->state = INPUT;
    }
}

/* The empty FCGI_STDIN ends the input: answer with the header now, the
 * audio from the next tick on. */
static void start_stream(struct conn *c)
{
    unsigned char r[HDR + sizeof cgi_head - 1];
    rec_header(r, STDOUT, c->id, sizeof cgi_head - 1);
    memcpy(r + HDR, cgi_head, sizeof cgi_head - 1);
    c->state = LIVE;
    g.requests++;
    send_rec(c, r, sizeof r, 0);
}

/* Answers FCGI_GET_VALUES with those of our variables it names. A
 * substring test is enough: none of the names contains another. */
static void get_values(struct conn *c)
{
    static const char *const nv[] = { "\x0e\x04" "FCGI_MAX_CONNS4096",
        "\x0d\x04" "FCGI_MAX_REQS4096", "\x0f\x01" "FCGI_MPXS_CONNS0" };
    unsigned char r[HDR + 64];
    size_t out = HDR;
    for (size_t k = 0; k < 3; k++) {
        if (memmem(c->body, c->bgot, nv[k] + 2, (size_t)nv[k][0]) != NULL) {
            memcpy(r + out, nv[k], strlen(nv[k]));
            out += strlen(nv[k]);
        }
    }
    rec_header(r, GET_VALUES_RESULT, 0, out - HDR);
    send_rec(c, r, out, 0);
}

static void record(struct conn *c)
{
    unsigned type = c->hdr[1], id = (unsigned)c->hdr[2] << 8 | c->hdr[3];
    unsigned char r[HDR + 8] = { 0 };
    if (id == 0 && type == GET_VALUES) {
        get_values(c);
    } else if (id == 0) { /* a management record we do not know */
        rec_header(r, UNKNOWN_TYPE, 0, 8);
        r[HDR] = (unsigned char)type;
        send_rec(c, r, sizeof r, 0);
    } else if (type == BEGIN_REQUEST) {
        begin_request(c, id);
    } else if (type == ABORT_REQUEST && id == c->id) {
        g.aborted++;
        end_request(c, id, REQUEST_COMPLETE);
    } else if (type == STDIN && id == c->id && c->state == INPUT && c->clen == 0) {
        start_stream(c);
    } /* FCGI_PARAMS, FCGI_DATA and the rest of FCGI_STDIN: one resource, no input */
}

/* Feeds bytes through the record parser: 8-byte header, content (the
 * first sizeof body bytes kept), padding. */
static void feed(struct conn *c, const unsigned char *p, size_t n)
{
    while (n > 0 && c->fd >= 0) {
        size_t take;
        if (c->hgot < HDR) {
            take = n < HDR - c->hgot ? n : HDR - c->hgot;
            memcpy(c->hdr + c->hgot, p, take);
            if ((c->hgot += (unsigned)take) == HDR) {
                c->clen = c->cleft = (unsigned)c->hdr[4] << 8 | c->hdr[5];
                c->pleft = c->hdr[6];
                c->bgot = 0;
            }
        } else if (c->cleft > 0) {
            take = n < c->cleft ? n : c->cleft;
            size_t keep = sizeof c->body - c->bgot < take ? sizeof c->body - c->bgot : take;
            memcpy(c->body + c->bgot, p, keep);
            c->bgot += (unsigned)keep, c->cleft -= (unsigned)take;
        } else {
            take = n < c->pleft ? n : c->pleft;
            c->pleft -= (unsigned)take;
        }
        p += take, n -= take;
        if (c->hdr[0] != 1 && c->hgot == HDR)
            conn_close(c); /* not FastCGI version 1: nothing to resync on */
        else if (c->hgot == HDR && c->cleft == 0 && c->pleft == 0)
            c->hgot = 0, record(c);
    }
}

static void conn_read(struct conn *c)
{
    unsigned char b[16384];
    ssize_t r = read(c->fd, b, sizeof b);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0)
        conn_close(c); /* lighttpd closes the backend connection when its client goes */
    else
        feed(c, b, (size_t)r);
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return;
        struct conn *c = g.nconns < g.capconns ? calloc(1, sizeof *c) : NULL;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        if (!c || epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd, c->idx = g.nconns;
        g.conns[g.nconns++] = c;
    }
}

/* One FCGI_STDOUT record per tick, built once; only the request id differs
 * between connections. */
static void tick(void)
{
    unsigned char *r = g.src.tick_buf;
    if (mp3_source_tick(&g.src) == 0)
        return; /* interval shorter than a frame: nothing due yet */
    g.ticks++;
    for (size_t i = 0; i < g.nconns; ) {
        struct conn *c = g.conns[i];
        if (c->state == LIVE) {
            rec_header(r, STDOUT, c->id, g.src.tick_len); /* < 65536: see mp3_source.h */
            send_rec(c, r, HDR + g.src.tick_len, 1);
        }
        if (c->fd >= 0)
            i++;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: fcgi_stream --socket PATH --file X.mp3 [--interval-ms 100]\n");
    exit(2);
}

static int setup(const char *path, long ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    if (strlen(path) >= sizeof sa.sun_path)
        usage();
    memcpy(sa.sun_path, path, strlen(path) + 1);   /* fits: checked above */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* left by an earlier run; never remove anything else */
    g.lfd = must(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket");
    must(bind(g.lfd, (struct sockaddr *)&sa, sizeof sa), path);
    chmod(path, 0666); /* lighttpd may run as www-data; the stream is public anyway */
    must(listen(g.lfd, 4096), path);
    return bench_loop_init(&g.ep, g.lfd, ms, &tag_listen, &tag_timer, &tag_signal);
}

static const char *parse_args(int argc, char **argv, const char **sock, long *interval)
{
    static const struct option opts[] = {
        { "socket", 1, NULL, 's' }, { "file", 1, NULL, 'f' },
        { "interval-ms", 1, NULL, 'i' }, { NULL, 0, NULL, 0 } };
    const char *file = NULL;
    char *end = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 's') *sock = optarg;
        else if (o == 'f') file = optarg;
        else if (o == 'i') *interval = strtol(optarg, &end, 10);
        else usage();
    }
    /* at most 1 s: a tick must fit one FCGI_STDOUT record, see mp3_source.h */
    if ((end && *end != '\0') || *interval < 1 || *interval > 1000)
        usage();
    if (!*sock || !file || optind != argc)
        usage();
    return file;
}

static void on_event(const struct epoll_event *ev, int tfd, const char *sock)
{
    struct conn *c = ev->data.ptr;
    uint64_t expirations;
    if (ev->data.ptr == &tag_listen)
        accept_all();
    else if (ev->data.ptr == &tag_timer) {
        if (read(tfd, &expirations, sizeof expirations) > 0)
            tick();
    } else if (ev->data.ptr == &tag_signal) {
        unlink(sock);
        fprintf(stderr, "fcgi_stream: requests %llu, aborted %llu, dropped ticks %llu"
                " (ticks %llu)\n", g.requests, g.aborted, g.dropped, g.ticks);
        exit(0);
    } else if (c->fd < 0)
        return; /* closed earlier in this batch */
    else if (ev->events & EPOLLIN)
        conn_read(c); /* before HUP: take what the peer sent before it went */
    else if (ev->events & EPOLLOUT)
        flush(c);
    else if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        conn_close(c);
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    long interval = 100;
    struct epoll_event evs[256];
    const char *file = parse_args(argc, argv, &sock, &interval);
    if (mp3_source_load(&g.src, file, HDR) < 0) {
        fprintf(stderr, "fcgi_stream: %s: unreadable, or no MPEG Layer III frames\n", file);
        return 1;
    }
    g.capconns = bench_fd_limit();
    /* an array of pointers: sizeof *g.conns is a pointer's size, as meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression): see above
    if (!(g.conns = malloc(g.capconns * sizeof *g.conns)))
        return must(-1, "malloc");
    int tfd = setup(sock, interval);
    for (;;) {
        int n = epoll_wait(g.ep, evs, 256, -1);
        for (int i = 0; i < n; i++)
            on_event(&evs[i], tfd, sock);
        while (g.dead) { /* nothing in the batch can name them any more */
            struct conn *d = g.dead;
            g.dead = d->next_dead;
            free(d->q);
            free(d);
        }
    }
}
