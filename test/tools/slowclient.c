/* slowclient: a listener that reads slower than real time, or stops reading
 * for a while, with a small receive buffer so that the kernel does not
 * absorb the backlog. Speaks HTTP/1.0; writes the body (headers removed).
 *   slowclient PORT PATH OUT_FILE --rate BYTES_PER_S | --stall-ms MS  --seconds S
 * --rate: reads at most that many bytes a second the whole time;
 * --stall-ms: reads nothing for MS after the headers, then reads at full speed.
 * Prints "bytes=N". Loopback only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* a number, or exit 2: atof would take a typo for 0 */
static double number(const char *s)
{
    char *end;
    const double v = strtod(s, &end);
    if (end == s || *end != '\0') {
        fprintf(stderr, "slowclient: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

/* a body lost to a full disk must not pass for one the server cut short */
static void write_body(const char *buf, size_t n, FILE *out)
{
    if (fwrite(buf, 1, n, out) != n) {
        perror("slowclient: write");
        exit(2);
    }
}

static int connect_loopback(int port)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;   /* before connect, so the window starts small */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(2);
    }
    return fd;
}

/* writes what follows the header block of buf[0..n) to out; 1 once past it */
static int strip_headers(const char *buf, size_t n, FILE *out, char *hdr, size_t *hlen)
{
    size_t i = 0;
    for (; i < n; ++i) {
        if (*hlen < 8191) hdr[(*hlen)++] = buf[i];
        hdr[*hlen] = '\0';
        if (*hlen >= 4 && memcmp(hdr + *hlen - 4, "\r\n\r\n", 4) == 0) { ++i; break; }
    }
    if (i < n || (*hlen >= 4 && memcmp(hdr + *hlen - 4, "\r\n\r\n", 4) == 0)) {
        write_body(buf + i, n - i, out);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: slowclient PORT PATH OUT (--rate B | --stall-ms MS) --seconds S\n");
        return 2;
    }
    double rate = 0, stall = 0, secs = 5;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rate")) rate = number(argv[i + 1]);
        else if (!strcmp(argv[i], "--stall-ms")) stall = number(argv[i + 1]) / 1000;
        else if (!strcmp(argv[i], "--seconds")) secs = number(argv[i + 1]);
    }
    FILE *out = fopen(argv[3], "wb");
    if (!out) { perror(argv[3]); return 2; }
    const int fd = connect_loopback((int)number(argv[1]));
    char req[512];
    const int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", argv[2]);
    if (write(fd, req, (size_t)rl) != rl) { perror("write"); return 2; }
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    char buf[1024], hdr[8192];
    size_t hlen = 0;
    int body = 0;
    unsigned long long total = 0;
    const double t0 = now(), end = t0 + secs;
    double stall_until = 0;
    while (now() < end) {
        if (body && now() < stall_until) { usleep(10000); continue; }
        /* at --rate, never get ahead of rate * elapsed */
        if (rate > 0 && body && (double)total > rate * (now() - t0)) { usleep(10000); continue; }
        const ssize_t n = read(fd, buf, rate > 0 && rate < sizeof(buf) ? (size_t)rate : sizeof(buf));
        if (n == 0) break;
        if (n < 0) continue;
        if (!body) {
            body = strip_headers(buf, (size_t)n, out, hdr, &hlen);
            if (body) stall_until = now() + stall;
        } else {
            write_body(buf, (size_t)n, out);
            total += (unsigned long long)n;
        }
    }
    if (fclose(out) != 0) {
        perror(argv[3]);
        return 2;
    }
    close(fd);
    printf("bytes=%llu\n", total);
    return body ? 0 : 1;
}
