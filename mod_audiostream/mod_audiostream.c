/* mod_audiostream: lighttpd glue. Reads audiostream.streams, claims the
 * URLs under each stream's prefix, and fans the encoded audio of each stream
 * out to its listeners' response queues on the event loop.
 *
 * The capture threads (stream.c) never call into lighttpd: they fill a ring
 * and write an eventfd; everything below runs on lighttpd's single thread. */
#include "first.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base.h"
#include "array.h"
#include "buffer.h"
#include "chunk.h"
#include "fdevent.h"
#include "http_chunk.h"
#include "http_header.h"
#include "log.h"
#include "plugin.h"
#include "request.h"

#include "audiostream_compat.h"
#include "fanout.h"
#include "stream.h"
#include "stream_config.h"

/* What lighttpd may hold for one listener: below its 64 KiB spill of
 * http_chunk_* data to temp files (http_chunk.c). The rest of a listener's
 * lag stays in the stream's ring, up to LAG_SECONDS, then it skips to live. */
#define QUEUE_CAP    (32 * 1024)
#define LAG_SECONDS  5
#define MAX_INTERVAL_US 400000    /* longest wait between two writes to a listener */
#define RETRY_AFTER  "2"          /* seconds; capture retries sooner than that */
/* Listeners handed audio per wake-up. lighttpd writes them out before the
 * next batch is queued, so it holds at most this many chunk buffers (8 KiB
 * each by default) at once, not one per listener of a whole turn, and each
 * is written while still in the cache. */
#define FANOUT_BATCH 256

typedef struct stream_slot stream_slot;

typedef struct listener {
    struct fanout_listener fl;    /* first: the fan-out hands it back */
    request_st *r;
    stream_slot *slot;
    unsigned char started;        /* the 200 was sent; in the fan-out */
    unsigned char ending;         /* finish the response at the next chance */
} listener;

struct stream_slot {
    struct stream_config cfg;
    struct stream *stream;
    struct fanout fan;
    fdnode *fdn;
    server *srv;
    uint64_t ring_end;            /* where the last tick found the ring's end */
};

typedef struct {
    PLUGIN_DATA;
    stream_slot *slots;
    uint32_t nslots;
    pid_t owner;                  /* the process whose threads these are */
} plugin_data;

INIT_FUNC(mod_audiostream_init) {
    return ck_calloc(1, sizeof(plugin_data));
}

/* ---- configuration ---- */

/* hands one value of lighttpd's config to the pure validator */
static int slot_set_value(stream_slot * const slot, const data_unset * const du,
                          char * const err, const size_t errlen) {
    const char *key = du->key.ptr ? du->key.ptr : "";
    if (du->type == TYPE_STRING)
        return stream_config_set(&slot->cfg, key, STREAM_CONFIG_STRING,
                                 ((const data_string *)du)->value.ptr, 0, err, errlen);
    if (du->type == TYPE_INTEGER)
        return stream_config_set(&slot->cfg, key, STREAM_CONFIG_INTEGER, "",
                                 ((const data_integer *)du)->value, err, errlen);
    return stream_config_set(&slot->cfg, key, STREAM_CONFIG_OTHER, "", 0, err, errlen);
}

__attribute_cold__
static int slot_configure(server * const srv, stream_slot * const slot,
                          const data_unset * const du) {
    char err[512];
    const char * const path = du->key.ptr ? du->key.ptr : "";
    if (stream_config_init(&slot->cfg, path, err, sizeof(err)) != 0) {
        log_error(srv->errh, __FILE__, __LINE__, "audiostream.streams: %s", err);
        return 0;
    }
    const array * const a = &((const data_array *)du)->value;
    for (uint32_t i = 0; i < a->used; ++i) {
        if (a->data[i]->key.ptr == NULL || a->data[i]->key.ptr[0] == '\0') {
            log_error(srv->errh, __FILE__, __LINE__,
              "audiostream.streams[\"%s\"]: settings must be \"key\" => value", path);
            return 0;
        }
        if (slot_set_value(slot, a->data[i], err, sizeof(err)) != 0) {
            log_error(srv->errh, __FILE__, __LINE__,
              "audiostream.streams[\"%s\"]: %s", path, err);
            return 0;
        }
    }
    return 1;
}

__attribute_cold__
static int slots_configure(server * const srv, plugin_data * const p, const array * const a) {
    p->slots = ck_calloc(a->used ? a->used : 1, sizeof(*p->slots));
    for (uint32_t i = 0; i < a->used; ++i) {
        stream_slot * const slot = &p->slots[p->nslots++];
        slot->srv = srv;
        if (!slot_configure(srv, slot, a->data[i])) return 0;
    }
    return 1;   /* a path listed twice is refused by lighttpd's own parser */
}

SETDEFAULTS_FUNC(mod_audiostream_set_defaults) {
    static const config_plugin_keys_t cpk[] = {
      { CONST_STR_LEN("audiostream.streams"),
        T_CONFIG_ARRAY_KVARRAY,
        T_CONFIG_SCOPE_SERVER }
     ,{ NULL, 0,
        T_CONFIG_UNSET,
        T_CONFIG_SCOPE_UNSET }
    };

    plugin_data * const p = p_d;
    if (!config_plugin_values_init(srv, p, cpk, "mod_audiostream"))
        return HANDLER_ERROR;

    /* streams are server-wide: only the global scope is read */
    const config_plugin_value_t *cpv = p->cvlist;
    if (p->nconfig <= 0 || !cpv->v.u2[1]) return HANDLER_GO_ON;
    for (cpv = p->cvlist + cpv->v.u2[0]; -1 != cpv->k_id; ++cpv) {
        if (cpv->k_id == 0 && !slots_configure(srv, p, cpv->v.a))
            return HANDLER_ERROR;
    }

    /* each worker would open the same capture device */
    if (p->nslots && srv->srvconf.max_worker > 1) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams: server.max-worker = %d is not supported; "
          "a capture device is opened once, by one process (use 0 or 1)",
          (int)srv->srvconf.max_worker);
        return HANDLER_ERROR;
    }
    return HANDLER_GO_ON;
}

/* ---- fan-out ---- */

static size_t listener_queued(struct fanout_listener * const fl) {
    const listener * const l = (const listener *)fl;
    return (size_t)chunkqueue_length(&l->r->write_queue);
}

static void listener_append(struct fanout_listener * const fl,
                            const unsigned char * const data, const size_t len) {
    const listener * const l = (const listener *)fl;
    http_chunk_append_mem(l->r, (const char *)data, len);
    joblist_append(l->r->con);
}

static const struct fanout_ops listener_ops = { listener_queued, listener_append };

static void listener_unlink(listener * const l) {
    if (!l->started) return;
    fanout_leave(&l->slot->fan, &l->fl);
    l->started = 0;
    if (l->slot->fan.nlisteners == 0 && l->slot->stream)
        stream_wake_on_frames(l->slot->stream, 0);
}

/* new frames in the ring: the listeners whose turn it is get them, a
 * batch per wake-up; the rest once lighttpd has written that batch (it runs
 * its job list before it polls again) */
static void slot_fan_out(stream_slot * const slot) {
    const uint64_t end = ring_end(stream_ring(slot->stream));
    size_t due;
    if (end != slot->ring_end) {
        slot->ring_end = end;
        due = fanout_tick(&slot->fan);
    }
    else due = fanout_continue(&slot->fan);
    if (due) stream_wake_again(slot->stream);
}

static void slot_log_messages(stream_slot * const slot) {
    char msg[512];
    while (stream_take_message(slot->stream, msg, sizeof(msg)))
        log_error(slot->srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: %s", slot->cfg.path, msg);
}

/* the capture thread wrote the eventfd: new frames or news of the device */
static handler_t mod_audiostream_wake(void * const ctx, const int revents) {
    stream_slot * const slot = ctx;
    UNUSED(revents);
    stream_drain_wake(slot->stream);
    slot_log_messages(slot);
    slot_fan_out(slot);
    return HANDLER_FINISHED;
}

/* ---- requests ---- */

/* An error answered with our own short body: lighttpd's error page would
 * drop the headers that go with it (Allow, Retry-After). The caller has made
 * this module the request's handler. */
static handler_t response_error(request_st * const r, const int status,
                                const char * const text, const size_t len) {
    r->http_status = status;
    http_header_response_set(r, HTTP_HEADER_CONTENT_TYPE, CONST_STR_LEN("Content-Type"),
                             CONST_STR_LEN("text/plain; charset=utf-8"));
    http_chunk_append_mem(r, text, len);
    r->resp_body_finished = 1;
    return HANDLER_FINISHED;
}

/* longest prefix of path among the streams, as lighttpd's own URL maps do */
static stream_slot * slot_match(plugin_data * const p, const buffer * const path) {
    stream_slot *best = NULL;
    size_t best_len = 0;
    const size_t plen = buffer_clen(path);
    for (uint32_t i = 0; i < p->nslots; ++i) {
        const size_t len = strlen(p->slots[i].cfg.path);
        if (len <= plen && len > best_len && 0 == memcmp(path->ptr, p->slots[i].cfg.path, len)) {
            best = &p->slots[i];
            best_len = len;
        }
    }
    return best;
}

URIHANDLER_FUNC(mod_audiostream_uri_handler) {
    plugin_data * const p = p_d;
    if (NULL != r->handler_module || 0 == p->nslots) return HANDLER_GO_ON;
    stream_slot * const slot = slot_match(p, &r->uri.path);
    if (NULL == slot) return HANDLER_GO_ON;

    /* a live stream has no byte ranges: no Accept-Ranges on finished
     * responses (HEAD, errors), and a Range header is ignored */
    r->conf.range_requests = 0;
    if (r->http_method != HTTP_METHOD_GET && r->http_method != HTTP_METHOD_HEAD) {
        audiostream_set_handler(r, p);
        http_header_response_set(r, HTTP_HEADER_ALLOW, CONST_STR_LEN("Allow"),
                                 CONST_STR_LEN("GET, HEAD"));
        return response_error(r, 405, CONST_STR_LEN("405 Method Not Allowed: use GET or HEAD\n"));
    }
    listener * const l = ck_calloc(1, sizeof(*l));
    l->r = r;
    l->slot = slot;
    r->plugin_ctx[p->id] = l;
    audiostream_set_handler(r, p);
    return HANDLER_GO_ON;
}

static void response_headers(request_st * const r, const stream_slot * const slot) {
    UNUSED(slot);
    http_header_response_set(r, HTTP_HEADER_CONTENT_TYPE, CONST_STR_LEN("Content-Type"),
                             CONST_STR_LEN("audio/mpeg"));
    http_header_response_set(r, HTTP_HEADER_CACHE_CONTROL, CONST_STR_LEN("Cache-Control"),
                             CONST_STR_LEN("no-cache, no-store"));
    http_header_response_set(r, HTTP_HEADER_PRAGMA, CONST_STR_LEN("Pragma"),
                             CONST_STR_LEN("no-cache"));
}

/* no audio yet (device absent or busy): say when to come back */
static handler_t response_unavailable(request_st * const r) {
    http_header_response_set(r, HTTP_HEADER_OTHER, CONST_STR_LEN("Retry-After"),
                             CONST_STR_LEN(RETRY_AFTER));
    return response_error(r, 503,
      CONST_STR_LEN("503 Service Unavailable: the stream has no audio from its device yet\n"));
}

/* Loopback and LAN sockets auto-grow their send buffer to megabytes: a
 * stalled listener would hold minutes of old audio in the kernel and never
 * skip to live. Fix it at about half a second (the kernel doubles it). */
static void listener_cap_sndbuf(request_st * const r, const stream_slot * const slot) {
    int bytes = (int)(slot->cfg.bitrate * 1000 / 8 / 2);
    if (bytes < 4096) bytes = 4096;
    if (0 != setsockopt(r->con->fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)))
        log_perror(r->conf.errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: setsockopt(SO_SNDBUF)", slot->cfg.path);
}

static handler_t response_start(request_st * const r, listener * const l) {
    if (!stream_is_live(l->slot->stream)) return response_unavailable(r);
    r->http_status = 200;
    response_headers(r, l->slot);
    if (r->http_method == HTTP_METHOD_HEAD) {
        r->resp_body_finished = 1;
        return HANDLER_FINISHED;
    }
    /* send the headers now and every append at once, whatever
     * server.stream-response-body says (a per-request copy) */
    r->resp_body_started = 1;
    r->conf.stream_response_body |= FDEVENT_STREAM_RESPONSE;
    listener_cap_sndbuf(r, l->slot);
    l->started = 1;
    fanout_join(&l->slot->fan, &l->fl);
    if (l->slot->fan.nlisteners == 1) stream_wake_on_frames(l->slot->stream, 1);
    return HANDLER_WAIT_FOR_EVENT;
}

static handler_t response_end(request_st * const r, listener * const l) {
    listener_unlink(l);
    http_chunk_close(r);
    r->resp_body_finished = 1;
    return HANDLER_FINISHED;
}

SUBREQUEST_FUNC(mod_audiostream_subrequest) {
    plugin_data * const p = p_d;
    listener * const l = r->plugin_ctx[p->id];
    if (NULL == l) return HANDLER_GO_ON;
    if (l->ending) return response_end(r, l);
    if (!l->started) return response_start(r, l);
    return HANDLER_WAIT_FOR_EVENT;  /* the wake-up handler appends audio */
}

REQUEST_FUNC(mod_audiostream_request_reset) {
    plugin_data * const p = p_d;
    listener * const l = r->plugin_ctx[p->id];
    if (NULL == l) return HANDLER_GO_ON;
    r->plugin_ctx[p->id] = NULL;
    listener_unlink(l);
    free(l);
    return HANDLER_GO_ON;
}

/* ---- server life cycle ---- */

/* calls fn on every listener in the fan-out; fn may take that one out */
static void slot_each_listener(stream_slot * const slot, void (*fn)(listener *)) {
    for (unsigned b = 0; b <= FANOUT_DUE; ++b) {   /* every bucket and the due list */
        struct fanout_listener *fl = slot->fan.bucket[b];
        while (fl) {
            struct fanout_listener * const next = fl->next;
            fn((listener *)fl);
            fl = next;
        }
    }
}

static void listener_end_soon(listener * const l) {
    if (l->ending) return;
    l->ending = 1;
    joblist_append(l->r->con);
}

/* a graceful shutdown or restart waits for every connection to end, and a
 * stream never ends by itself: end them, each on its own request's turn */
TRIGGER_FUNC(mod_audiostream_trigger) {
    plugin_data * const p = p_d;
    if (srv->sockets_disabled < 2) return HANDLER_GO_ON;
    for (uint32_t i = 0; i < p->nslots; ++i)
        slot_each_listener(&p->slots[i], listener_end_soon);
    return HANDLER_GO_ON;
}

__attribute_cold__
static int slot_start(server * const srv, stream_slot * const slot) {
    char err[512];
    slot->stream = stream_new(&slot->cfg, err, sizeof(err));
    if (NULL == slot->stream || stream_start(slot->stream, err, sizeof(err)) != 0) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: %s", slot->cfg.path, err);
        return 0;
    }
    const struct stream_config * const c = &slot->cfg;
    const struct fanout_settings set = {
        .writes_per_second = c->writes_per_second,
        .frame_us = (unsigned)(1152 * 1000000ull / c->rate),
        .max_interval_us = MAX_INTERVAL_US,
        .lag_max = (size_t)c->bitrate * 1000 / 8 * LAG_SECONDS,
        .queue_cap = QUEUE_CAP,
        .batch = FANOUT_BATCH,
    };
    if (fanout_init(&slot->fan, stream_ring(slot->stream), &listener_ops, &set) != 0) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: out of memory", slot->cfg.path);
        return 0;
    }
    slot->ring_end = ring_end(stream_ring(slot->stream));
    slot->fdn = fdevent_register(srv->ev, stream_wake_fd(slot->stream),
                                 mod_audiostream_wake, slot);
    fdevent_fdnode_event_set(srv->ev, slot->fdn, FDEVENT_IN);
    return 1;
}

/* after the fork and the privilege drop: open devices as server.username */
SERVER_FUNC(mod_audiostream_worker_init) {
    plugin_data * const p = p_d;
    p->owner = getpid();
    for (uint32_t i = 0; i < p->nslots; ++i) {
        if (!slot_start(srv, &p->slots[i])) return HANDLER_ERROR;
    }
    return HANDLER_GO_ON;
}

static void listener_discard(listener * const l) {
    listener_unlink(l);
    free(l);
}

__attribute_cold__
static void slot_free(stream_slot * const slot, const int owned) {
    if (slot->fdn) {
        fdevent_fdnode_event_del(slot->srv->ev, slot->fdn);
        fdevent_unregister(slot->srv->ev, slot->fdn);
    }
    /* HTTP/2 streams still open at exit are not reset by lighttpd */
    slot_each_listener(slot, listener_discard);
    fanout_free(&slot->fan);
    /* only the process that started a capture thread can join it; in
     * another (a graceful-restart-bg child) the thread does not exist */
    if (owned) stream_free(slot->stream);
    slot->stream = NULL;
    stream_config_free(&slot->cfg);
}

FREE_FUNC(mod_audiostream_free) {
    plugin_data * const p = p_d;
    const int owned = p->owner == getpid();
    for (uint32_t i = 0; i < p->nslots; ++i)
        slot_free(&p->slots[i], owned);
    free(p->slots);
}

__attribute_cold__
int mod_audiostream_plugin_init(plugin *p);
int mod_audiostream_plugin_init(plugin *p) {
    p->version      = LIGHTTPD_VERSION_ID;
    p->name         = "audiostream";

    p->init         = mod_audiostream_init;
    p->set_defaults = mod_audiostream_set_defaults;
    p->worker_init  = mod_audiostream_worker_init;
    p->handle_uri_clean = mod_audiostream_uri_handler;
    p->handle_subrequest = mod_audiostream_subrequest;
    p->handle_request_reset = mod_audiostream_request_reset;
    p->handle_trigger = mod_audiostream_trigger;
    p->cleanup      = mod_audiostream_free;

    return 0;
}
