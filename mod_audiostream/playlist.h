/* Playlists for a stream: at /live.mp3 the stream also answers
 * /live.mp3.m3u, /live.mp3.pls and /live.mp3.xspf with a one-entry playlist
 * naming the stream's URL as the client reached it (scheme and host from
 * the request), so that a player can be pointed at a file it knows how to
 * open. Knows nothing of lighttpd. */
#ifndef PLAYLIST_H
#define PLAYLIST_H

#include <stddef.h>

#include "title.h"

enum playlist_kind { PLAYLIST_NONE, PLAYLIST_M3U, PLAYLIST_PLS, PLAYLIST_XSPF };

/* The bytes a URL from playlist_url can take, its NUL included: the longest
 * scheme, a 255-byte name with a port, and every path byte as %XX. */
#define PLAYLIST_URL_MAX(path_len) (sizeof("https://") - 1 + 255 + 6 + 3 * (size_t)(path_len) + 1)

/* The bytes a body from playlist_render can take, its NUL included, for a
 * URL of url_len bytes and a title of at most TITLE_MAX: in XSPF every byte
 * of the URL, of the title or of the name standing in for it may become
 * "&apos;" (6 bytes); 256 is more than the fixed text of any kind. */
#define PLAYLIST_BODY_MAX(url_len) (256 + 6 * (2 * (size_t)(url_len) + TITLE_MAX))

/* What path[0..path_len) asks for, given that it starts with the stream's
 * path (stream_path_len bytes): a playlist when the rest is exactly ".m3u",
 * ".pls" or ".xspf". Case matters, as it does for the stream's own path:
 * one name per resource. */
enum playlist_kind playlist_kind_of(const char *path, size_t path_len, size_t stream_path_len);

/* The Content-Type of a kind, NULL for PLAYLIST_NONE. All say
 * charset=utf-8: titles are UTF-8, and M3U and PLS have no other way to say
 * so (for XSPF it repeats the XML declaration, as RFC 7303 advises). */
const char *playlist_content_type(enum playlist_kind k);

/* Writes scheme://host/path to out with a NUL and returns its length, or
 * -1 when it does not fit or the parts are not sane: scheme is "http" or
 * "https"; host (from the request) a DNS name or IPv4 address of
 * [A-Za-z0-9.-] (1 to 255 bytes) or a bracketed IPv6 literal of
 * [0-9A-Fa-f:.] (its characters are checked, not its grammar), either with
 * an optional :port of 1 to 5 digits up to 65535; path (decoded, as the
 * server matched it) starts with '/'. Bytes of the path that are neither an
 * RFC 3986 pchar nor '/' are written %XX, '%' itself included. */
int playlist_url(char *out, size_t outlen, const char *scheme, const char *host, size_t host_len,
                 const char *path, size_t path_len);

/* Writes the body of a playlist of kind k naming url (as from
 * playlist_url) and title (UTF-8, at most TITLE_MAX bytes) to out with a NUL
 * and returns its length; -1 when it does not fit, k is PLAYLIST_NONE, or
 * url holds a byte playlist_url never writes (only pchars, '/', '%', '['
 * and ']': no space, control, '"', '<' or '>'). Control characters in the
 * title (C0, DEL, C1) become spaces, so it can't add lines to M3U or PLS;
 * XSPF escapes & < > " '. An empty title is replaced by the URL's last path
 * segment as written there, e.g. "live.mp3". */
int playlist_render(char *out, size_t outlen, enum playlist_kind k, const char *url,
                    const char *title);

#endif
