/* Icecast's metadata update request, as source clients and playout
 * software send it:
 *   GET /admin/metadata?mount=/live.mp3&mode=updinfo&song=Artist%20-%20Title
 * and Icecast 2.4's reply to it. Knows nothing of lighttpd: the glue hands
 * over the query string (after the "?", still percent-encoded) and checks
 * the credentials and the mount itself. */
#ifndef ADMIN_QUERY_H
#define ADMIN_QUERY_H

#include <stddef.h>

#include "title.h"

#define ADMIN_QUERY_MAX 8192    /* bytes of query string; longer is refused */
#define ADMIN_MOUNT_MAX 255     /* bytes of mount */
#define ADMIN_UPDATED   "Metadata update successful"   /* Icecast's message */

struct admin_update {
    char mount[ADMIN_MOUNT_MAX + 1];    /* decoded, starts with "/" */
    char title[TITLE_MAX + 1];          /* UTF-8, NUL-terminated, may be empty */
    size_t title_len;
};

/* Parses the query of an updinfo request: mode=updinfo, mount, and the
 * title from song (or, without song, "artist - title" from artist and
 * title), in UTF-8 or, with charset=ISO-8859-1, converted from Latin-1.
 * Parameters come in any order; unknown ones are ignored.
 * Returns 0 and fills u, or 400 with a short reason naming the parameter
 * in err (u then holds nothing useful). */
int admin_parse_updinfo(const char *query, size_t len, struct admin_update *u, char *err,
                        size_t errlen);

/* Icecast's reply body, message XML-escaped:
 *   <?xml version="1.0"?>\n<iceresponse><message>MSG</message><return>1</return></iceresponse>\n
 * with <return>0</return> when ok is 0. Like snprintf: writes at most
 * outlen bytes, NUL included, and returns the length of the whole body. */
size_t admin_response(char *out, size_t outlen, int ok, const char *message);

#endif
