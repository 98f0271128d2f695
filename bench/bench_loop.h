/* The event loop both bench servers (floor, fcgi_stream) run: one epoll set
 * with their listening socket, a ticker, and SIGTERM/SIGINT read as events,
 * so that no signal handler races their counters. */
#ifndef BENCH_LOOP_H
#define BENCH_LOOP_H

#include <stddef.h>
#include <stdint.h>

/* r, or exit(1) with perror(what) when r < 0 */
int must(int r, const char *what);

/* Raises the soft limit of descriptors to the hard one (one descriptor per
 * connection) and returns how many connections to make room for: that
 * limit, at most 1 << 20. */
size_t bench_fd_limit(void);

/* Creates the epoll set (*ep), a timerfd firing every interval_ms and a
 * signalfd for SIGTERM and SIGINT (blocked), ignores SIGPIPE, and watches
 * the listening socket (edge-triggered: accept until EAGAIN), the timer and
 * the signals under the tags given. Returns the timerfd. */
int bench_loop_init(int *ep, int listen_fd, long interval_ms,
                    void *listen_tag, void *timer_tag, void *signal_tag);

#endif
