/* See bench_loop.h. */
#include "bench_loop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

size_t bench_fd_limit(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur < 1u << 20 ? (size_t)rl.rlim_cur : 1u << 20;
}

int must(int r, const char *what)
{
    if (r < 0) {
        perror(what);
        exit(1);
    }
    return r;
}

static void watch(int ep, int fd, void *tag, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = tag };
    must(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
}

int bench_loop_init(int *ep, int listen_fd, long ms,
                    void *listen_tag, void *timer_tag, void *signal_tag)
{
    const struct itimerspec it = { .it_interval = { ms / 1000, ms % 1000 * 1000000 },
                                   .it_value = { ms / 1000, ms % 1000 * 1000000 } };
    sigset_t set;
    *ep = must(epoll_create1(EPOLL_CLOEXEC), "epoll");
    const int tfd = must(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd");
    must(timerfd_settime(tfd, 0, &it, NULL), "timerfd");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an EPIPE, not a death */
    /* edge-triggered, and the caller accepts until EAGAIN: out of descriptors
     * (EMFILE) it retries at the next connection instead of spinning */
    watch(*ep, listen_fd, listen_tag, EPOLLIN | EPOLLET);
    watch(*ep, tfd, timer_tag, EPOLLIN);
    watch(*ep, must(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd"), signal_tag, EPOLLIN);
    return tfd;
}
