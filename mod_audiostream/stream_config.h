/* One stream's settings as written in audiostream.streams, with their
 * defaults and validation. Knows nothing of lighttpd: the glue hands each
 * key and value over as a string or an integer. */
#ifndef STREAM_CONFIG_H
#define STREAM_CONFIG_H

#include <stddef.h>

struct stream_config {
    char *path;         /* URL prefix the stream answers */
    char *device;       /* ALSA PCM name */
    unsigned rate;      /* Hz */
    unsigned channels;
    unsigned bitrate;   /* kbit/s, CBR */
    unsigned quality;   /* LAME algorithm quality, 0 best .. 9 fastest */
    unsigned bit_reservoir;     /* LAME's bit reservoir: quality for ~50 ms latency */
    unsigned writes_per_second; /* the stream's budget of socket writes */
    unsigned burst_ms;  /* recent audio a new listener gets at once */
    unsigned char burst_ms_set; /* written in the config: not lowered to queue-ms */
    unsigned queue_ms;  /* how far behind live a listener may fall */
    char *slow_listener;        /* past queue_ms: "skip" to live or "drop" */
    unsigned max_listeners;     /* 0: no limit */
    unsigned outage_ms; /* how long listeners hear silence while the device is lost */
    unsigned device_wait_ms;    /* how long a new listener waits for a device not live */
    char *name, *description, *genre, *url;  /* icy-* headers; "" not sent */
    unsigned public_;           /* icy-pub */
    unsigned metaint;           /* audio bytes between ICY metadata blocks */
    char *title;                /* the title until the admin URL sets one */
    char *cors_origin;          /* Access-Control-Allow-Origin; "" none */
    char **admin_users;         /* who may change it through the admin URL; */
    size_t admin_users_n;       /* none listed: any user mod_auth let in */
};

enum stream_config_type { STREAM_CONFIG_STRING, STREAM_CONFIG_INTEGER, STREAM_CONFIG_OTHER };

/* Fills c with the defaults for a stream at path. Returns -1 with a message
 * in err when path is not a usable URL prefix. */
int stream_config_init(struct stream_config *c, const char *path, char *err, size_t errlen);
void stream_config_free(struct stream_config *c);
/* Makes dst a copy of src that owns its strings (free it with
 * stream_config_free). Returns -1, src untouched and dst empty, when out of
 * memory. */
int stream_config_copy(struct stream_config *dst, const struct stream_config *src);

/* Applies one key. type says which of str or num holds the value. Returns
 * -1 with a message naming the key and the value when either is not valid. */
int stream_config_set(struct stream_config *c, const char *key, enum stream_config_type type,
                      const char *str, long long num, char *err, size_t errlen);

/* Applies a key whose value is a list of strings, ( "a", "b" ): only
 * "admin-users" takes one. Returns -1 with a message naming the key and
 * the entry when either is not valid. */
int stream_config_set_list(struct stream_config *c, const char *key, const char *const *items,
                           size_t n, char *err, size_t errlen);

/* Whether user (as mod_auth authenticated it) may change the stream. */
int stream_config_admin_allows(const struct stream_config *c, const char *user);

/* Once all keys are set: settles the default that depends on another key
 * (burst-ms not written is at most queue-ms, so that a configuration with a
 * short queue-ms stays valid as the default burst grows), then checks the
 * rules between keys. Returns -1 with a message naming the keys when they
 * disagree. */
int stream_config_check(struct stream_config *c, char *err, size_t errlen);

#endif
