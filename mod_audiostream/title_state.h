/* The titles set through the admin URL, as text that outlives the process:
 * lighttpd's reload (SIGUSR1) re-reads its configuration and loads this
 * module anew, and a restart starts from nothing, while the DJ's software
 * sent the title once and does not know to send it again.
 *
 * One line per stream whose title was set, four fields separated by tabs:
 * the stream's path, which of the streams with that path it is (1 for the
 * first; virtual hosts may each have one), the title of its configuration
 * when the admin title was set, and the admin title. A restored title
 * applies only while the configuration's title is still the one it
 * replaced: an operator who edits the title and reloads gets the new one.
 * Fields are percent-encoded where they hold %, tab, CR or LF. A first line
 * names the format. */
#ifndef TITLE_STATE_H
#define TITLE_STATE_H

#include <stddef.h>

struct title_state_entry {
    const char *path;
    unsigned nth;               /* 1: the first stream with this path */
    const char *config_title;   /* the configuration's, when it was set */
    const char *title;          /* set through the admin URL */
};

/* Writes the entries as the state's text into buf[0..cap), NUL-terminated.
 * Returns the length, or the length it needs (>= cap) when it does not fit,
 * as snprintf does. */
size_t title_state_render(char *buf, size_t cap, const struct title_state_entry *e, size_t n);

/* Calls fn for each well-formed line of text[0..len) (decoded, NUL-
 * terminated, valid only during the call); lines that are not are passed
 * over. Returns -1 when the text is not this format at all (its first
 * line), else the number of lines taken. */
int title_state_parse(const char *text, size_t len,
                      void (*fn)(void *ctx, const struct title_state_entry *e), void *ctx);

#endif
