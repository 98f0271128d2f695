/* Unit tests of where the titles outlive the process
 * (mod_audiostream/state_file.c): the state file, replaced whole, and the
 * memory file an environment variable names across reloads. */
#undef NDEBUG
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state_file.h"

#define ENV "AUDIOSTREAM_TEST_STATE_FD"

static char dir[] = "/tmp/test_state_file_XXXXXX";

/* the descriptor ENV names; -1 when it names none */
static long env_fd(void)
{
    const char *v = getenv(ENV);
    char *end;
    const long fd = v ? strtol(v, &end, 10) : -1;
    return v && *end == '\0' ? fd : -1;
}

static void test_file(void)
{
    char path[256], err[256];
    (void)snprintf(path, sizeof(path), "%s/state", dir);
    size_t len = 1;
    assert(state_file_read(path, &len, err, sizeof(err)) == NULL && err[0] == '\0');  /* absent */
    assert(state_file_check(path, err, sizeof(err)) == 0);
    assert(access(path, F_OK) != 0);                    /* the check leaves nothing */
    assert(state_file_write(path, "one\n", 4, err, sizeof(err)) == 0);
    assert(state_file_write(path, "two\n", 4, err, sizeof(err)) == 0);
    char *text = state_file_read(path, &len, err, sizeof(err));
    assert(text && len == 4 && strcmp(text, "two\n") == 0);
    free(text);
    char tmp[300];
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert(access(tmp, F_OK) != 0);                     /* renamed over the file */
    assert(state_file_check(path, err, sizeof(err)) == 0);   /* an existing file */

    /* a directory that is not there: the reason names what was tried */
    char missing[300];
    (void)snprintf(missing, sizeof(missing), "%s/no/such/dir/state", dir);
    assert(state_file_check(missing, err, sizeof(err)) == -1);
    assert(strstr(err, "cannot create") && strstr(err, "No such file or directory"));
    assert(state_file_write(missing, "x", 1, err, sizeof(err)) == -1 && strstr(err, "cannot create"));
    assert(state_file_check("", err, sizeof(err)) == -1);
    /* a directory where the file should be cannot be read as one */
    assert(state_file_read(dir, &len, err, sizeof(err)) == NULL && err[0] != '\0');
    unlink(path);
}

static void test_carry(void)
{
    unsetenv(ENV);
    const int fd = state_carry_open(ENV);
    assert(fd > 2 && env_fd() == fd);
    size_t len = 1;
    assert(state_carry_read(fd, &len) == NULL);          /* empty */
    assert(state_carry_write(fd, "a longer first state\n", 21) == 0);
    assert(state_carry_write(fd, "second\n", 7) == 0);  /* replaced, not overwritten in part */
    /* the next generation (a reload) finds the same file through ENV */
    const int again = state_carry_open(ENV);
    assert(again == fd);
    char *text = state_carry_read(again, &len);
    assert(text && len == 7 && strcmp(text, "second\n") == 0);
    free(text);
    /* not inherited by what it starts? it must be: no close-on-exec */
    assert((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0);

    /* ENV naming something else (a descriptor not ours, none, garbage):
     * a new memory file, and ENV names it */
    const int other = open("/dev/null", O_RDONLY);
    char num[16];
    (void)snprintf(num, sizeof(num), "%d", other);
    setenv(ENV, num, 1);
    const int fresh = state_carry_open(ENV);
    assert(fresh > 2 && fresh != other && fresh != fd && env_fd() == fresh);
    setenv(ENV, "12abc", 1);
    const int fresh2 = state_carry_open(ENV);
    assert(fresh2 > 2 && env_fd() == fresh2);
    close(other);
    close(fresh);
    close(fresh2);
    close(fd);
    unsetenv(ENV);
}

int main(void)
{
    assert(mkdtemp(dir) != NULL);
    test_file();
    test_carry();
    assert(rmdir(dir) == 0);
    return 0;
}
