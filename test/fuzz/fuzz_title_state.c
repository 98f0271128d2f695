/* libFuzzer target: the titles' state text (title_state.c), which a reload
 * or a restart reads from a file that may have been edited. What it takes
 * renders and reads back as the same entries. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "title_state.h"

#define MAX_ENTRIES 64

struct taken {
    struct title_state_entry e[MAX_ENTRIES];
    char *copy[MAX_ENTRIES][3];
    size_t n;
};

static void take(void *ctx, const struct title_state_entry *e)
{
    struct taken *t = ctx;
    assert(e->path[0] && e->nth > 0);
    if (t->n == MAX_ENTRIES) return;
    char **c = t->copy[t->n];
    c[0] = strdup(e->path);
    c[1] = strdup(e->config_title);
    c[2] = strdup(e->title);
    assert(c[0] && c[1] && c[2]);
    t->e[t->n++] = (struct title_state_entry){ c[0], e->nth, c[1], c[2] };
}

static void check(void *ctx, const struct title_state_entry *e)
{
    struct taken *t = ctx;
    const struct title_state_entry *w = &t->e[t->n++];
    assert(strcmp(e->path, w->path) == 0 && e->nth == w->nth);
    assert(strcmp(e->config_title, w->config_title) == 0 && strcmp(e->title, w->title) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct taken t = { .n = 0 };
    const int n = title_state_parse((const char *)data, size, take, &t);
    if (n < 0 || t.n < (size_t)n) goto out;   /* more than MAX_ENTRIES: not checked */
    const size_t len = title_state_render(NULL, 0, t.e, t.n);
    char *text = malloc(len + 1);
    assert(text);
    assert(title_state_render(text, len + 1, t.e, t.n) == len && strlen(text) == len);
    const size_t taken = t.n;
    t.n = 0;
    assert(title_state_parse(text, len, check, &t) == (int)taken && t.n == taken);
    free(text);
out:
    for (size_t i = 0; i < t.n && i < MAX_ENTRIES; ++i)
        for (int j = 0; j < 3; ++j) free(t.copy[i][j]);
    return 0;
}
