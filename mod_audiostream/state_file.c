#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CARRY_NAME "audiostream-titles"
#define STATE_MAX (16u << 20)   /* far above any number of streams' titles */

/* path with ".tmp" after it: where a new state is written first */
static int temp_name(const char *path, char *buf, size_t cap)
{
    const int n = snprintf(buf, cap, "%s.tmp", path);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        const ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* whole contents of fd from its start, NUL-terminated; NULL on failure */
static char *read_all(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return NULL;
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)STATE_MAX) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        const ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;    /* shorter than it was: what there is */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

int state_file_check(const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (!*path || temp_name(path, tmp, sizeof(tmp)) != 0) {
        (void)snprintf(err, errlen, "not a usable file name");
        return -1;
    }
    if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0) {
        (void)snprintf(err, errlen, "cannot read and write it: %s", strerror(errno));
        return -1;
    }
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        (void)snprintf(err, errlen, "cannot create \"%s\": %s", tmp, strerror(errno));
        return -1;
    }
    close(fd);
    (void)unlink(tmp);
    return 0;
}

/* No fsync: the state is written on lighttpd's event loop, where a flush
 * to a slow disk would stall every listener; the rename still never shows
 * a part, and after a power cut the worst is an older title. */
int state_file_write(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (temp_name(path, tmp, sizeof(tmp)) != 0) {
        (void)snprintf(err, errlen, "not a usable file name");
        return -1;
    }
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        (void)snprintf(err, errlen, "cannot create \"%s\": %s", tmp, strerror(errno));
        return -1;
    }
    const int wrote = write_all(fd, text, len);
    const int saved = errno;
    if (close(fd) != 0 || wrote != 0) {
        (void)snprintf(err, errlen, "cannot write \"%s\": %s", tmp, strerror(wrote ? saved : errno));
        (void)unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        (void)snprintf(err, errlen, "cannot rename \"%s\" to it: %s", tmp, strerror(errno));
        (void)unlink(tmp);
        return -1;
    }
    return 0;
}

char *state_file_read(const char *path, size_t *len, char *err, size_t errlen)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        (void)snprintf(err, errlen, "%s", errno == ENOENT ? "" : strerror(errno));
        return NULL;
    }
    char *text = read_all(fd, len);
    if (!text) (void)snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
    close(fd);
    return text;
}

/* whether fd is open and one of our memory files */
static int carry_is_ours(int fd)
{
    char link[64], target[128];
    (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) return 0;
    target[n] = '\0';
    return strncmp(target, "/memfd:" CARRY_NAME, strlen("/memfd:" CARRY_NAME)) == 0;
}

int state_carry_open(const char *env)
{
    const char *v = getenv(env);
    if (v && *v) {
        char *end;
        const long fd = strtol(v, &end, 10);
        if (*end == '\0' && fd > 2 && fd < INT_MAX && carry_is_ours((int)fd)) return (int)fd;
    }
    /* not close-on-exec: a reload with graceful-restart-bg re-executes */
    const int fd = memfd_create(CARRY_NAME, 0);
    if (fd < 0) return -1;
    char num[16];
    (void)snprintf(num, sizeof(num), "%d", fd);
    if (setenv(env, num, 1) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int state_carry_write(int fd, const char *text, size_t len)
{
    if (ftruncate(fd, 0) != 0) return -1;
    size_t put = 0;
    while (put < len) {
        const ssize_t n = pwrite(fd, text + put, len - put, (off_t)put);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        put += (size_t)n;
    }
    return 0;
}

char *state_carry_read(int fd, size_t *len)
{
    char *text = read_all(fd, len);
    if (text && *len == 0) {
        free(text);
        return NULL;
    }
    return text;
}
