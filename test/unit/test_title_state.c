/* Unit tests of the titles' state text (mod_audiostream/title_state.c):
 * what it renders, that it reads back, and the lines it passes over. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "title_state.h"

#define HEADER "# mod_audiostream titles 1\n"

struct seen {
    struct title_state_entry e[8];
    char text[8][4][256];
    int n;
};

static void collect(void *ctx, const struct title_state_entry *e)
{
    struct seen *s = ctx;
    assert(s->n < 8);
    const char *f[4] = { e->path, "", e->config_title, e->title };
    for (int i = 0; i < 4; ++i) (void)snprintf(s->text[s->n][i], sizeof(s->text[s->n][i]), "%s", f[i]);
    s->e[s->n] = (struct title_state_entry){ s->text[s->n][0], e->nth, s->text[s->n][2],
                                             s->text[s->n][3] };
    s->n++;
}

static int parse(const char *text, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    return title_state_parse(text, strlen(text), collect, s);
}

static void test_render(void)
{
    const struct title_state_entry e[] = {
        { "/live.mp3", 1, "Morning Show", "Song - Artist" },
        { "/live.mp3", 2, "", "100% \"live\"" },            /* a second virtual host's */
        { "/odd\tpath\n", 1, "a\rb", "Caf\xc3\xa9" },
    };
    char buf[512];
    const size_t n = title_state_render(buf, sizeof(buf), e, 3);
    const char *want = HEADER
        "/live.mp3\t1\tMorning Show\tSong - Artist\n"
        "/live.mp3\t2\t\t100%25 \"live\"\n"
        "/odd%09path%0A\t1\ta%0Db\tCaf\xc3\xa9\n";
    assert(n == strlen(want) && strcmp(buf, want) == 0);
    /* too small: cut and terminated, and the length it needs */
    char small[20];
    assert(title_state_render(small, sizeof(small), e, 3) == n);
    assert(strlen(small) == sizeof(small) - 1);
    assert(title_state_render(buf, sizeof(buf), e, 0) == strlen(HEADER));

    struct seen s;
    assert(parse(want, &s) == 3 && s.n == 3);
    for (int i = 0; i < 3; ++i) {
        assert(strcmp(s.e[i].path, e[i].path) == 0 && s.e[i].nth == e[i].nth);
        assert(strcmp(s.e[i].config_title, e[i].config_title) == 0);
        assert(strcmp(s.e[i].title, e[i].title) == 0);
    }
}

static void test_passed_over(void)
{
    struct seen s;
    assert(parse("", &s) == -1);                         /* not this format */
    assert(parse("/live.mp3\t1\t\tx\n", &s) == -1);
    assert(parse("# mod_audiostream titles 2\n/a\t1\t\tx\n", &s) == -1);
    assert(parse(HEADER, &s) == 0);
    const int taken = parse(HEADER
        "/a\t1\t\tgood\n"
        "/b\t1\tthree fields\n"                         /* too few */
        "/c\t1\t\tx\textra\n"                           /* too many */
        "\t1\t\tno path\n"
        "/d\t0\t\tnth 0\n"
        "/e\tx\t\tnth not a number\n"
        "/f\t1234567890\t\tnth too long\n"
        "/g\t1\t\tbad %4 escape\n"
        "/h\t1\t\tbad %zz escape\n"
        "/i\t1\t\t%\n"
        "%00\t1\t\tan encoded NUL\n"
        "\n"
        "/j\t3\tconf\tlast, cut", &s);                   /* no LF: a write cut short */
    assert(taken == 1 && s.n == 1 && strcmp(s.e[0].title, "good") == 0);
    /* a NUL inside is not text of ours; the length given is what counts */
    const char text[] = HEADER "/a\t1\t\tx\0y\n/b\t1\t\tz\n";
    memset(&s, 0, sizeof(s));
    assert(title_state_parse(text, sizeof(text) - 1, collect, &s) == 1 && strcmp(s.e[0].path, "/b") == 0);
}

int main(void)
{
    test_render();
    test_passed_over();
    return 0;
}
