/* Unit tests of the UTF-8 checks (mod_audiostream/utf8.c) that the config,
 * the admin URL, ICY metadata, the status JSON and the playlists share:
 * well-formed per RFC 3629, and which characters are controls. */
#undef NDEBUG
#include <assert.h>
#include <string.h>

#include "utf8.h"

static long sequence(const char *s)
{
    return utf8_sequence((const unsigned char *)s, strlen(s));
}

static void test_well_formed_sequences(void)
{
    assert(sequence("A") == 1);
    assert(sequence("\xC3\xA9") == 2);              /* é */
    assert(sequence("\xE2\x82\xAC") == 3);          /* € */
    assert(sequence("\xF0\x9F\x8E\xB5") == 4);      /* U+1F3B5, a musical note */
    assert(sequence("\xF4\x8F\xBF\xBF") == 4);      /* U+10FFFF, the last */
    assert(utf8_valid("Morning Show - It's live", 24));
    assert(utf8_valid("Caf\xC3\xA9 \xE2\x82\xAC", 9));
    assert(utf8_valid("", 0));
}

/* an ill-formed sequence gives minus its longest valid prefix, which a
 * caller replaces with one U+FFFD */
static void test_ill_formed_sequences(void)
{
    assert(sequence("\x80") == -1);                 /* a lone continuation byte */
    assert(sequence("\xC0\xAF") == -1);             /* overlong "/" */
    assert(sequence("\xC1\xBF") == -1);
    assert(sequence("\xE0\x80\xAF") == -1);         /* overlong, 3 bytes */
    assert(sequence("\xED\xA0\x80") == -1);         /* a surrogate */
    assert(sequence("\xF0\x80\x80\xAF") == -1);     /* overlong, 4 bytes */
    assert(sequence("\xF4\x90\x80\x80") == -1);     /* past U+10FFFF */
    assert(sequence("\xF5\x80\x80\x80") == -1);
    assert(sequence("\xE2\x82") == -2);             /* cut short */
    assert(sequence("\xE2\x82Z") == -2);
    assert(sequence("\xF0\x9F\x8E") == -3);
    assert(!utf8_valid("caf\xC3", 4));
    assert(!utf8_valid("\xC3\xA9\xFF", 3));
}

static void test_controls(void)
{
    assert(utf8_first_control("plain text", 10) == -1);
    assert(utf8_first_control("a\nb", 3) == '\n');
    assert(utf8_first_control("a\rb", 3) == '\r');
    assert(utf8_first_control("a\x7F", 2) == 0x7F);
    assert(utf8_first_control("x\xC2\x9B[2J", 6) == 0x9B);   /* CSI, a terminal escape */
    assert(utf8_first_control("\xC2\x85", 2) == 0x85);       /* NEL, a line break */
    assert(utf8_first_control("\xC2\xA0no-break", 10) == -1); /* U+00A0 is text */
    assert(utf8_first_control("\xC2", 1) == -1);             /* C2 with nothing after */
    assert(utf8_first_control("a\0b", 3) == 0);
    assert(utf8_has_control("\t", 1));
    assert(!utf8_has_control("\xE2\x82\xAC", 3));
    const unsigned char c2[] = { 0xC2, 0x80 };
    assert(utf8_control_len(c2, 2) == 2);
    assert(utf8_control_len(c2, 1) == 0);
}

int main(void)
{
    test_well_formed_sequences();
    test_ill_formed_sequences();
    test_controls();
    return 0;
}
