/* Unit tests of the stream's playlists (mod_audiostream/playlist.c): which
 * paths ask for one, the URL they name, and their exact bodies. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "playlist.h"

#define STREAM "/live.mp3"
#define URL    "http://example.org/live.mp3"

static enum playlist_kind kind_of(const char *path)
{
    return playlist_kind_of(path, strlen(path), strlen(STREAM));
}

static void test_kind_of(void)
{
    const struct { const char *path; enum playlist_kind kind; } cases[] = {
        { STREAM ".m3u", PLAYLIST_M3U }, { STREAM ".pls", PLAYLIST_PLS },
        { STREAM ".xspf", PLAYLIST_XSPF },
        { STREAM, PLAYLIST_NONE },              /* the stream itself */
        { STREAM ".m3u8", PLAYLIST_NONE }, { STREAM ".M3U", PLAYLIST_NONE },
        { STREAM ".Pls", PLAYLIST_NONE }, { STREAM ".m3", PLAYLIST_NONE },
        { STREAM ".xspf/", PLAYLIST_NONE }, { STREAM "x.m3u", PLAYLIST_NONE },
        { STREAM "/.m3u", PLAYLIST_NONE }, { STREAM ".", PLAYLIST_NONE },
        { "/live", PLAYLIST_NONE },             /* shorter than the stream's path */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i)
        assert(kind_of(cases[i].path) == cases[i].kind);
    /* the length given is what counts, not a NUL */
    assert(playlist_kind_of(STREAM ".m3uX", strlen(STREAM ".m3u"), strlen(STREAM)) == PLAYLIST_M3U);
}

static void test_content_types(void)
{
    assert(strcmp(playlist_content_type(PLAYLIST_M3U), "audio/x-mpegurl; charset=utf-8") == 0);
    assert(strcmp(playlist_content_type(PLAYLIST_PLS), "audio/x-scpls; charset=utf-8") == 0);
    assert(strcmp(playlist_content_type(PLAYLIST_XSPF), "application/xspf+xml; charset=utf-8") == 0);
    assert(playlist_content_type(PLAYLIST_NONE) == NULL);
}

static int url_of(char *out, size_t outlen, const char *scheme, const char *host, const char *path)
{
    return playlist_url(out, outlen, scheme, host, strlen(host), path, strlen(path));
}

static void test_good_hosts(void)
{
    const struct { const char *scheme, *host, *url; } cases[] = {
        { "http", "example.org", "http://example.org/live.mp3" },
        { "https", "127.0.0.1:8080", "https://127.0.0.1:8080/live.mp3" },
        { "http", "[::1]:8080", "http://[::1]:8080/live.mp3" },
        { "http", "radio-1.example", "http://radio-1.example/live.mp3" },
        { "http", "[::1]", "http://[::1]/live.mp3" },
        { "http", "[2001:DB8::ffff:192.0.2.1]", "http://[2001:DB8::ffff:192.0.2.1]/live.mp3" },
        { "http", "h:0", "http://h:0/live.mp3" },
        { "http", "h:65535", "http://h:65535/live.mp3" },
        { "http", "h:00080", "http://h:00080/live.mp3" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
        char out[128];
        const int n = url_of(out, sizeof(out), cases[i].scheme, cases[i].host, STREAM);
        assert(n == (int)strlen(cases[i].url) && strcmp(out, cases[i].url) == 0);
    }
    char name[300], out[400];
    memset(name, 'a', 255);
    memcpy(name + 255, ":8000", sizeof(":8000"));   /* the longest name, with a port */
    assert(url_of(out, sizeof(out), "http", name, "/") == 7 + 255 + 5 + 1);
}

static void test_bad_hosts(void)
{
    static const char *const bad[] = {
        "a b", "evil.com/x", "x\"y", "a@b", "[::1", "host:99999", "host:", "",
        "example.org\r\nSet-Cookie: a=b", "example.org\n", "a<b", "a'b", "a\\b", "a?b", "a#b",
        "[::1]x", "[::1]:", "[]", "[:]", "::1", "[g::1]", "[::1%25eth0]", "[1.2.3.4]",
        "[0000:0000:0000:0000:0000:0000:255.255.255.2550]",    /* 46 inside */
        "h:65536", "h:123456", "h:8a", "h:-1", "h::80", "h:80:90", ":80", "h: 80",
        "h/80", "[::1]/80", "a_b", "[::1%251]",
    };
    char out[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i)
        assert(url_of(out, sizeof(out), "http", bad[i], STREAM) == -1);
    char name[300];
    memset(name, 'a', 256);             /* one byte too long */
    name[256] = '\0';
    assert(url_of(out, sizeof(out), "http", name, "/") == -1);
    /* the length given is what counts: a NUL inside is a bad byte */
    assert(playlist_url(out, sizeof(out), "http", "a\0b", 3, STREAM, strlen(STREAM)) == -1);
}

static void test_bad_scheme_and_path(void)
{
    char out[128];
    assert(url_of(out, sizeof(out), "ftp", "h", STREAM) == -1);
    assert(url_of(out, sizeof(out), "HTTP", "h", STREAM) == -1);
    assert(url_of(out, sizeof(out), "javascript", "h", STREAM) == -1);
    assert(url_of(out, sizeof(out), "http", "h", "") == -1);
    assert(url_of(out, sizeof(out), "http", "h", "live.mp3") == -1);
}

static void test_percent_encoding(void)
{
    char out[256];
    assert(url_of(out, sizeof(out), "http", "h", "/my radio/\xC3\xA9t\xC3\xA9?#%.mp3") > 0);
    assert(strcmp(out, "http://h/my%20radio/%C3%A9t%C3%A9%3F%23%25.mp3") == 0);
    /* every pchar and '/' stays as it is */
    static const char kept[] = "/AZaz09-._~!$&'()*+,;=:@/";
    assert(url_of(out, sizeof(out), "http", "h", kept) > 0);
    assert(strcmp(out, "http://h/AZaz09-._~!$&'()*+,;=:@/") == 0);
    static const char odd[] = "/\"<>\\^`{|}[] \r\n\x7f\xff";
    assert(url_of(out, sizeof(out), "http", "h", odd) > 0);
    assert(strcmp(out, "http://h/%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D%20%0D%0A%7F%FF") == 0);
    static const char nul[] = "/a\0b";
    assert(playlist_url(out, sizeof(out), "http", "h", 1, nul, sizeof(nul) - 1) == 14);
    assert(strcmp(out, "http://h/a%00b") == 0);
}

/* the longest authority and a path of spaces, each %20: within
 * PLAYLIST_URL_MAX, and refused one byte short */
static void test_url_fit(void)
{
    char path[64], name[300], out[PLAYLIST_URL_MAX(sizeof(path)) + 1];
    memset(path, ' ', sizeof(path));
    path[0] = '/';
    memset(name, 'a', 255);
    memcpy(name + 255, ":65535", sizeof(":65535"));
    const size_t len = 8 + 261 + 1 + 3 * (sizeof(path) - 1);
    // NOLINTNEXTLINE(cert-dcl03-c): len is a const object, which C's static_assert refuses
    assert(len < PLAYLIST_URL_MAX(sizeof(path)));
    memset(out, 'X', sizeof(out));
    assert(playlist_url(out, len, "https", name, strlen(name), path, sizeof(path)) == -1);
    assert(out[len] == 'X');            /* nothing written past outlen */
    const int n = playlist_url(out, len + 1, "https", name, strlen(name), path, sizeof(path));
    assert(n == (int)len && out[n] == '\0' && out[n + 1] == 'X');
    assert(memcmp(out, "https://aaa", 11) == 0 && memcmp(out + 262, "a:65535/%20%20", 14) == 0);
    assert(playlist_url(NULL, 0, "http", "h", 1, "/", 1) == -1);
}

static void assert_render(enum playlist_kind k, const char *url, const char *title,
                          const char *want)
{
    char out[2048];
    const int n = playlist_render(out, sizeof(out), k, url, title);
    if (n < 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", n < 0 ? "(-1)" : out, want);
        assert(0);
    }
    assert(n == (int)strlen(want));
}

static const char xspf_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
    "  <trackList>\n"
    "    <track>\n";
static const char xspf_tail[] =
    "    </track>\n"
    "  </trackList>\n"
    "</playlist>\n";

static void assert_xspf(const char *url, const char *title, const char *location,
                        const char *want_title)
{
    char want[1024];
    const int n = snprintf(want, sizeof(want),
                           "%s      <location>%s</location>\n      <title>%s</title>\n%s",
                           xspf_head, location, want_title, xspf_tail);
    assert(n > 0 && (size_t)n < sizeof(want));      /* a cut want would test nothing */
    assert_render(PLAYLIST_XSPF, url, title, want);
}

static void test_bodies(void)
{
    assert_render(PLAYLIST_M3U, URL, "Artist - Title",
                  "#EXTM3U\n#EXTINF:-1,Artist - Title\nhttp://example.org/live.mp3\n");
    assert_render(PLAYLIST_PLS, URL, "Artist - Title",
                  "[playlist]\nFile1=http://example.org/live.mp3\nTitle1=Artist - Title\n"
                  "Length1=-1\nNumberOfEntries=1\nVersion=2\n");
    assert_xspf(URL, "Artist - Title", "http://example.org/live.mp3", "Artist - Title");
    assert_render(PLAYLIST_M3U, URL, "Caf\xC3\xA9 \xE2\x80\x99",
                  "#EXTM3U\n#EXTINF:-1,Caf\xC3\xA9 \xE2\x80\x99\nhttp://example.org/live.mp3\n");
    char out[512];
    assert(playlist_render(out, sizeof(out), PLAYLIST_NONE, URL, "t") == -1);
}

static void test_empty_title_names_the_stream(void)
{
    assert_render(PLAYLIST_M3U, URL, "", "#EXTM3U\n#EXTINF:-1,live.mp3\n" URL "\n");
    assert_render(PLAYLIST_PLS, URL, "",
                  "[playlist]\nFile1=" URL "\nTitle1=live.mp3\n"
                  "Length1=-1\nNumberOfEntries=1\nVersion=2\n");
    assert_xspf(URL, "", URL, "live.mp3");
    /* as the URL writes it, escaped again in XML */
    assert_xspf("http://h/a%20b&c'd.mp3", "", "http://h/a%20b&amp;c&apos;d.mp3",
                "a%20b&amp;c&apos;d.mp3");
    assert_render(PLAYLIST_M3U, "http://h/", "", "#EXTM3U\n#EXTINF:-1,\nhttp://h/\n");
}

static void test_xml_escaping(void)
{
    assert_xspf(URL, "<&>\"'", URL, "&lt;&amp;&gt;&quot;&apos;");
    assert_xspf(URL, "</title><location>http://evil/</location>", URL,
                "&lt;/title&gt;&lt;location&gt;http://evil/&lt;/location&gt;");
    /* M3U and PLS take them as they are */
    assert_render(PLAYLIST_M3U, URL, "<&>\"'", "#EXTM3U\n#EXTINF:-1,<&>\"'\n" URL "\n");
    /* XML 1.0 has no control characters but tab, CR and LF: all become spaces */
    assert_xspf(URL, "a\x01" "b\tc\x7f" "d", URL, "a b c d");
}

static void test_no_line_injection(void)
{
    assert_render(PLAYLIST_M3U, URL, "x\r\n#EXTINF:-1,evil\nhttp://evil/\n",
                  "#EXTM3U\n#EXTINF:-1,x  #EXTINF:-1,evil http://evil/ \n" URL "\n");
    assert_render(PLAYLIST_PLS, URL, "a\nFile2=http://evil/\rNumberOfEntries=2",
                  "[playlist]\nFile1=" URL "\nTitle1=a File2=http://evil/ NumberOfEntries=2\n"
                  "Length1=-1\nNumberOfEntries=1\nVersion=2\n");
    /* NEL (U+0085), a line break to some readers, and the other C1 controls;
     * U+00A0 and U+00C5 (same second bytes) are text */
    assert_render(PLAYLIST_M3U, URL, "a\xC2\x85" "b\xC2\x80\xC2\x9F" "c\xC2\xA0\xC3\x85",
                  "#EXTM3U\n#EXTINF:-1,a b  c\xC2\xA0\xC3\x85\n" URL "\n");
    assert_render(PLAYLIST_M3U, URL, "\x1b[31m\x7f",
                  "#EXTM3U\n#EXTINF:-1, [31m \n" URL "\n");
    /* CSI (U+009B) in each kind; the boundaries U+007F, U+0080 and U+009F
     * are controls, U+00A0 text; a C2 at the very end is not one */
    assert_render(PLAYLIST_PLS, URL, "a\xC2\x9B" "2Jb",
                  "[playlist]\nFile1=" URL "\nTitle1=a 2Jb\nLength1=-1\nNumberOfEntries=1\n"
                  "Version=2\n");
    assert_xspf(URL, "a\xC2\x9B" "2J&\xC2\x7F", URL, "a 2J&amp;\xC2 ");
    assert_render(PLAYLIST_M3U, URL, "\x7F\xC2\x80\xC2\x9F\xC2\xA0z\xC2",
                  "#EXTM3U\n#EXTINF:-1,   \xC2\xA0z\xC2\n" URL "\n");
}

/* a URL with a byte playlist_url never writes is refused, not repaired */
static void test_unsafe_url(void)
{
    static const char *const bad[] = {
        "http://h/a b", "http://h/a\"b", "http://h/<x>", "http://h/a\nb", "http://h/a\rb",
        "http://h/\xC3\xA9", "http://h/a#b", "http://h/a?b", "http://h/a\\b", "http://h/a\x7f",
    };
    char out[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i)
        for (int k = PLAYLIST_M3U; k <= PLAYLIST_XSPF; ++k)
            assert(playlist_render(out, sizeof(out), (enum playlist_kind)k, bad[i], "t") == -1);
}

static void test_render_fit(void)
{
    static const char want[] = "#EXTM3U\n#EXTINF:-1,t\n" URL "\n";
    const size_t len = sizeof(want) - 1;
    char out[128];
    memset(out, 'X', sizeof(out));
    assert(playlist_render(out, len, PLAYLIST_M3U, URL, "t") == -1);    /* no room for the NUL */
    assert(out[len] == 'X');
    assert(playlist_render(out, len + 1, PLAYLIST_M3U, URL, "t") == (int)len);
    assert(strcmp(out, want) == 0 && out[len + 1] == 'X');
    assert(playlist_render(NULL, 0, PLAYLIST_PLS, URL, "t") == -1);
}

/* Every byte that can grow, grown: a URL of ' and a title of TITLE_MAX '
 * (each "&apos;"), and the same URL with no title. */
static void test_body_bound(void)
{
    static char url[1 + 1024], title[TITLE_MAX + 1], out[PLAYLIST_BODY_MAX(sizeof(url))];
    char path[1000];
    memset(path, '\'', sizeof(path));
    path[0] = '/';
    const int url_len = playlist_url(url, sizeof(url), "https", "h", 1, path, sizeof(path));
    assert(url_len == 8 + 1 + (int)sizeof(path));
    memset(title, '\'', TITLE_MAX);
    for (int k = PLAYLIST_M3U; k <= PLAYLIST_XSPF; ++k) {
        const size_t max = PLAYLIST_BODY_MAX(url_len);
        const int n = playlist_render(out, max, (enum playlist_kind)k, url, title);
        const int fallback = playlist_render(out, max, (enum playlist_kind)k, url, "");
        assert(n > 0 && (size_t)n < max && fallback > 0 && (size_t)fallback < max);
        if (k == PLAYLIST_XSPF) assert(n >= 6 * (url_len + TITLE_MAX));
    }
}

int main(void)
{
    test_kind_of();
    test_content_types();
    test_good_hosts();
    test_bad_hosts();
    test_bad_scheme_and_path();
    test_percent_encoding();
    test_url_fit();
    test_bodies();
    test_empty_title_names_the_stream();
    test_xml_escaping();
    test_no_line_injection();
    test_unsafe_url();
    test_render_fit();
    test_body_bound();
    printf("test_playlist: ok\n");
    return 0;
}
