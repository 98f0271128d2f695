/* Where the titles (title_state.h) outlive the process: a file named by
 * audiostream.state-file, replaced whole at each change, for restarts; and a
 * memory file carried across lighttpd's reloads, with or without a state
 * file. A reload either re-runs the server in the same process (plugins
 * freed and loaded anew) or, with server.graceful-restart-bg, re-executes
 * it: both keep the environment and the descriptors not marked
 * close-on-exec, so the memory file is one such descriptor, and an
 * environment variable, set once before any capture thread runs, names it. */
#ifndef STATE_FILE_H
#define STATE_FILE_H

#include <stddef.h>

/* Whether the state file at path can be written (a file can be made in its
 * directory) and, if it exists, read. Returns -1 with the reason in err. */
int state_file_check(const char *path, char *err, size_t errlen);

/* Replaces the file at path with text[0..len): written beside it, then
 * renamed over it, so a reader sees the old state or the new, never a
 * part. Returns -1 with the reason in err. */
int state_file_write(const char *path, const char *text, size_t len, char *err, size_t errlen);

/* The file's contents, NUL-terminated, to free; NULL with err "" when it
 * does not exist, NULL with the reason in err when it cannot be read. */
char *state_file_read(const char *path, size_t *len, char *err, size_t errlen);

/* The memory file the environment variable env names, if it does, and
 * it is one of ours; else a new one, which env then names. Call only
 * while no other thread runs (setenv). Returns the descriptor, or -1. */
int state_carry_open(const char *env);

/* Replaces the memory file's contents. Returns -1 on failure (errno). */
int state_carry_write(int fd, const char *text, size_t len);

/* Its contents, NUL-terminated, to free; NULL when it is empty or
 * unreadable. */
char *state_carry_read(int fd, size_t *len);

#endif
