/* The status document of Icecast 2.4's /status-json.xsl, byte for byte, so
 * that the dashboards and monitors written for Icecast read ours. Its shape
 * comes from Icecast's stats tree run through xml2json.xslt, quirks kept:
 * keys in strcmp order; "source" absent with no stream, an object with one,
 * an array with several (ordered by mount); every source object, and the
 * server object when there is no source, closed by "dummy":null; dates in
 * local time. Knows nothing of lighttpd. */
#ifndef STATUS_JSON_H
#define STATUS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What Icecast shows when a source declares no name, description or genre. */
#define STATUS_DEFAULT_NAME        "Unspecified name"
#define STATUS_DEFAULT_DESCRIPTION "Unspecified description"
#define STATUS_DEFAULT_GENRE       "various"

/* A NULL string leaves its key out, as Icecast does for what it was never
 * told. Strings may hold any bytes: they come out as valid JSON. */
struct status_server {
    const char *admin, *host, *location, *server_id;
    time_t server_start;
};

struct status_source {
    const char *mount;          /* orders the sources; not shown, as in Icecast */
    const char *listenurl;      /* "http://host:port/mount" */
    const char *name, *description, *genre, *url;
    const char *title;          /* NULL until the first metadata update */
    const char *server_type;    /* "audio/mpeg" */
    unsigned bitrate_kbps, samplerate, channels;   /* 0: unknown, left out */
    uint32_t listeners, listener_peak;
    time_t stream_start;
    /* ours, beyond Icecast's, in a nested "audiostream" object */
    uint64_t bytes_sent, skips, drops, overruns;
    const char *device, *device_state;   /* ALSA PCM name; "live", "absent", ... */
};

/* Renders the whole document for the n sources of src (in any order).
 * Returns a malloc'd NUL-terminated string and its length in *len, or NULL
 * when out of memory. Dates use the local time zone (TZ) at the call. */
char *status_json_render(const struct status_server *srv, const struct status_source *src,
                         size_t n, size_t *len);

#endif
