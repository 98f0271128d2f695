/* Playlist files for a stream; see playlist.h. */
#include "playlist.h"

#include <limits.h>
#include <string.h>

#include "utf8.h"

#define HOST_NAME_MAX_LEN    255
#define IPV6_LITERAL_MAX_LEN 45     /* ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 */

/* Output that counts on past the end of its buffer: one check at the end
 * tells whether it all fit, and no write ever goes past cap. */
struct sink {
    char *p;
    size_t len, cap;
};

/* keeps one byte free for the NUL */
static void put(struct sink *s, const void *b, size_t n)
{
    if (s->len < s->cap && n < s->cap - s->len) memcpy(s->p + s->len, b, n);
    s->len += n;
}

static void put_str(struct sink *s, const char *str)
{
    put(s, str, strlen(str));
}

static int sink_end(struct sink *s)
{
    if (s->len >= s->cap || s->len > INT_MAX) return -1;
    s->p[s->len] = '\0';
    return (int)s->len;
}

enum playlist_kind playlist_kind_of(const char *path, size_t path_len, size_t stream_path_len)
{
    static const struct { const char *ext; enum playlist_kind kind; } kinds[] = {
        { ".m3u", PLAYLIST_M3U }, { ".pls", PLAYLIST_PLS }, { ".xspf", PLAYLIST_XSPF },
    };
    if (path_len <= stream_path_len) return PLAYLIST_NONE;
    const char *const rest = path + stream_path_len;
    const size_t rest_len = path_len - stream_path_len;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); ++i)
        if (strlen(kinds[i].ext) == rest_len && memcmp(rest, kinds[i].ext, rest_len) == 0)
            return kinds[i].kind;
    return PLAYLIST_NONE;
}

const char *playlist_content_type(enum playlist_kind k)
{
    switch (k) {
    case PLAYLIST_M3U:  return "audio/x-mpegurl; charset=utf-8";
    case PLAYLIST_PLS:  return "audio/x-scpls; charset=utf-8";
    case PLAYLIST_XSPF: return "application/xspf+xml; charset=utf-8";
    default:            return NULL;
    }
}

static int is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" */
static int is_pchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static int is_name_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-';
}

static int is_ipv6_char(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* 1 to 5 digits, at most 65535 */
static int is_port(const char *p, size_t n)
{
    if (n < 1 || n > 5) return 0;
    unsigned long v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!is_digit((unsigned char)p[i])) return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v <= 65535;
}

/* Length of the bracketed IPv6 literal at h, brackets included, or 0. */
static size_t ipv6_literal_len(const char *h, size_t n)
{
    const char *const close = memchr(h, ']', n);
    if (!close) return 0;
    const size_t inner = (size_t)(close - h) - 1;
    if (inner < 2 || inner > IPV6_LITERAL_MAX_LEN || !memchr(h + 1, ':', inner)) return 0;
    for (size_t i = 1; i <= inner; ++i)
        if (!is_ipv6_char((unsigned char)h[i])) return 0;
    return inner + 2;
}

/* Length of the DNS name or IPv4 address at h, or 0. */
static size_t name_len(const char *h, size_t n)
{
    size_t i = 0;
    while (i < n && is_name_char((unsigned char)h[i])) i++;
    return i <= HOST_NAME_MAX_LEN ? i : 0;
}

/* host[:port], the host a name, IPv4 or [IPv6] (see playlist.h) */
static int is_sane_authority(const char *h, size_t n)
{
    if (n == 0) return 0;
    const size_t host = h[0] == '[' ? ipv6_literal_len(h, n) : name_len(h, n);
    if (host == 0) return 0;
    if (host == n) return 1;
    return h[host] == ':' && is_port(h + host + 1, n - host - 1);
}

static void put_path(struct sink *s, const char *path, size_t path_len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < path_len; ++i) {
        const unsigned char c = (unsigned char)path[i];
        if (is_pchar(c) || c == '/') {
            put(s, &c, 1);
        } else {
            const char pct[3] = { '%', hex[c >> 4], hex[c & 15] };
            put(s, pct, sizeof(pct));
        }
    }
}

int playlist_url(char *out, size_t outlen, const char *scheme, const char *host, size_t host_len,
                 const char *path, size_t path_len)
{
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) return -1;
    if (!is_sane_authority(host, host_len)) return -1;
    if (path_len == 0 || path[0] != '/') return -1;
    struct sink s = { out, 0, outlen };
    put_str(&s, scheme);
    put_str(&s, "://");
    put(&s, host, host_len);
    put_path(&s, path, path_len);
    return sink_end(&s);
}

/* whether url is made only of what playlist_url writes */
static int is_url_safe(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; ++p)
        if (!is_pchar(*p) && *p != '/' && *p != '%' && *p != '[' && *p != ']') return 0;
    return 1;
}

static const char *xml_escape(unsigned char c)
{
    switch (c) {
    case '&':  return "&amp;";
    case '<':  return "&lt;";
    case '>':  return "&gt;";
    case '"':  return "&quot;";
    case '\'': return "&apos;";
    default:   return NULL;
    }
}

/* text on one line: each control character (C0, DEL or C1, utf8.h)
 * becomes a space; escaped for XML when xml is set */
static void put_text(struct sink *s, const char *text, int xml)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t n = strlen(text); n > 0;) {
        const size_t control = utf8_control_len(p, n);
        const char *const esc = xml ? xml_escape(*p) : NULL;
        if (control) put(s, " ", 1);
        else if (esc) put_str(s, esc);
        else put(s, p, 1);
        p += control ? control : 1;
        n -= control ? control : 1;
    }
}

static void render_m3u(struct sink *s, const char *url, const char *title)
{
    put_str(s, "#EXTM3U\n#EXTINF:-1,");
    put_text(s, title, 0);
    put_str(s, "\n");
    put_str(s, url);
    put_str(s, "\n");
}

static void render_pls(struct sink *s, const char *url, const char *title)
{
    put_str(s, "[playlist]\nFile1=");
    put_str(s, url);
    put_str(s, "\nTitle1=");
    put_text(s, title, 0);
    put_str(s, "\nLength1=-1\nNumberOfEntries=1\nVersion=2\n");
}

static void render_xspf(struct sink *s, const char *url, const char *title)
{
    put_str(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
               "  <trackList>\n"
               "    <track>\n"
               "      <location>");
    put_text(s, url, 1);
    put_str(s, "</location>\n"
               "      <title>");
    put_text(s, title, 1);
    put_str(s, "</title>\n"
               "    </track>\n"
               "  </trackList>\n"
               "</playlist>\n");
}

/* the name the stream has in its URL, for when it has no title */
static const char *last_segment(const char *url)
{
    const char *const slash = strrchr(url, '/');
    return slash ? slash + 1 : url;
}

int playlist_render(char *out, size_t outlen, enum playlist_kind k, const char *url,
                    const char *title)
{
    if (!is_url_safe(url)) return -1;
    const char *const name = *title ? title : last_segment(url);
    struct sink s = { out, 0, outlen };
    switch (k) {
    case PLAYLIST_M3U:  render_m3u(&s, url, name); break;
    case PLAYLIST_PLS:  render_pls(&s, url, name); break;
    case PLAYLIST_XSPF: render_xspf(&s, url, name); break;
    default:            return -1;
    }
    return sink_end(&s);
}
