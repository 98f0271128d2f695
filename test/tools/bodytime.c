/* bodytime: copies a response body from stdin to a file and reports when
 * it arrived, for tests that pipe `curl -o -` into it:
 *   bodytime OUT_FILE [STEADY_FROM_MS [GAPS_FILE]]
 * prints "first_ms=F last_ms=L bytes=B steady_bps=R max_gap_ms=G
 * max_gap_end_ms=E last_wall_ms=W": F is the delay from the start of this program to the
 * first byte, R the rate in bytes/second counted from STEADY_FROM_MS
 * (default 500) after the first byte to the last, so a start-up burst or
 * delay does not count; G the longest time between two reads after the
 * first byte (a player's decoded output piped in: how long it heard
 * nothing), which ended E ms after the start; W when the last read came,
 * on the wall clock (CLOCK_REALTIME, as the tests' now_ms). GAPS_FILE gets a line "END_MS
 * GAP_MS" for each such time of GAPS_MIN_MS or more, END_MS on the wall
 * clock, to find the one around an event. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define GAPS_MIN_MS 50

static double clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

/* a number, or exit 2: atof would take a typo for 0 */
static double number(const char *s)
{
    char *end;
    const double v = strtod(s, &end);
    if (end == s || *end != '\0') {
        fprintf(stderr, "bodytime: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bodytime OUT_FILE [STEADY_FROM_MS [GAPS_FILE]]\n");
        return 2;
    }
    const double steady_from = argc > 2 ? number(argv[2]) : 500;
    FILE *out = fopen(argv[1], "wb");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    FILE *gaps = argc > 3 ? fopen(argv[3], "w") : NULL;
    if (argc > 3 && !gaps) {
        perror(argv[3]);
        (void)fclose(out);
        return 2;
    }
    const double t0 = now_ms();
    double first = -1, last = -1, max_gap = 0, max_gap_end = -1, last_wall = -1;
    uint64_t total = 0, steady = 0;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) > 0) {
        const double t = now_ms() - t0;
        if (first < 0) first = t;
        else {
            if (t - last > max_gap) {
                max_gap = t - last;
                max_gap_end = t;
            }
            if (gaps && t - last >= GAPS_MIN_MS)
                (void)fprintf(gaps, "%.0f %.0f\n", clock_ms(CLOCK_REALTIME), t - last);
        }
        /* bytes of a read that ends inside the window count from its start */
        if (t - first > steady_from) steady += (uint64_t)n;
        last = t;
        last_wall = clock_ms(CLOCK_REALTIME);
        total += (uint64_t)n;
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
            perror("write");
            return 2;
        }
    }
    if (gaps && fclose(gaps) != 0) {
        perror(argv[3]);
        return 2;
    }
    if (fclose(out) != 0) {   /* the last of the body is written only now */
        perror(argv[1]);
        return 2;
    }
    const double span = last - first - steady_from;
    printf("first_ms=%.0f last_ms=%.0f bytes=%llu steady_bps=%.0f max_gap_ms=%.0f "
           "max_gap_end_ms=%.0f last_wall_ms=%.0f\n", first, last, (unsigned long long)total,
           span > 0 ? (double)steady * 1000.0 / span : 0.0, max_gap, max_gap_end, last_wall);
    return 0;
}
