/* mod_audiostream: lighttpd glue. Reads audiostream.streams, claims the
 * URLs under each stream's prefix, and fans the encoded audio of each stream
 * out to its listeners' response queues on the event loop.
 *
 * The capture threads (stream.c) never call into lighttpd: they fill a ring
 * and write an eventfd; everything below runs on lighttpd's single thread. */
#include "first.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
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
#include "admin_query.h"
#include "fanout.h"
#include "icy.h"
#include "live_range.h"
#include "mp3_frame.h"
#include "playlist.h"
#include "state_file.h"
#include "status_json.h"
#include "stream.h"
#include "stream_config.h"
#include "title.h"
#include "title_state.h"
#include "utf8.h"

/* What lighttpd may hold for one listener: below its 64 KiB spill of
 * http_chunk_* data to temp files (http_chunk.c). The rest of a listener's
 * lag stays in the stream's ring, up to queue-ms, then it skips or drops. */
#define QUEUE_CAP    ((size_t)32 * 1024)
#define MAX_INTERVAL_US 400000    /* longest wait between two writes to a listener */
#define FULL_RETRY_AFTER "2"      /* seconds: a stream with all its listeners */
/* Listeners handed audio per wake-up. lighttpd writes them out before the
 * next batch is queued, so it holds at most this many chunk buffers (8 KiB
 * each by default) at once, not one per listener of a whole turn, and each
 * is written while still in the cache. */
#define FANOUT_BATCH 256
/* Unsent bytes an HTTP/2 connection with a listener may hold in the kernel:
 * what servers that prioritise HTTP/2 streams use, a frame's worth */
#define H2_NOTSENT_MIN 16384
/* Audio streams one HTTP/2 connection may hold. lighttpd serves 8 streams
 * of a connection at once and, while all 8 are busy and more wait, stops
 * reading it (h2.c); audio streams never finish, so 8 of them would leave
 * no room for the page, its status polls or the client's WINDOW_UPDATEs.
 * Half of them leaves the other half to everything else. */
#define H2_AUDIO_STREAMS_MAX 4
/* A graceful-restart-bg child (no capture) holds a new listener until the
 * new server tells it to stop, looking this often, at most this long. */
#define CHILD_POLL_MS 100
#define CHILD_WAIT_MS 10000
/* After a capture starts, a new listener waits for this much audio (or
 * burst-ms, if less) before it plays: enough for a browser that resumes to
 * play on (the README's Chromium figures), and no longer a wait after a
 * restart where burst-ms is long. */
#define START_AUDIO_MS 1000u

typedef struct stream_slot stream_slot;

enum listener_end { END_NONE, END_FINISH, END_DROP };

/* What a request this module claimed asks for; answered in the subrequest
 * phase, after mod_auth and mod_access have had their say at uri_clean. */
enum request_kind { KIND_STREAM, KIND_PLAYLIST, KIND_OPTIONS, KIND_BAD_METHOD,
                    KIND_STATUS, KIND_ADMIN, KIND_WITH_BODY };

/* The streams of one audiostream.streams value: the global one, or one in
 * a conditional ($HTTP["host"], $SERVER["socket"], ...), which takes its
 * place for the requests that match, as with every lighttpd module's keys. */
typedef struct {
    stream_slot *slot;            /* its n streams, side by side in plugin_data's */
    uint32_t n;
} stream_table;

typedef struct listener {
    struct fanout_listener fl;    /* first: the fan-out hands it back */
    request_st *r;
    stream_slot *slot;            /* NULL for the status and admin URLs */
    const stream_table *table;    /* the status and admin URLs: the streams they see */
    unsigned char kind;           /* enum request_kind */
    unsigned char playlist;       /* enum playlist_kind */
    unsigned char started;        /* the 200 was sent; in the fan-out */
    unsigned char ending;         /* enum listener_end: at the next chance */
    unsigned char icy;            /* asked for ICY metadata */
    unsigned char headers_shed;   /* its response headers were freed */
    unsigned char counted;        /* one of its connection's audio streams */
    unsigned char waiting;        /* on its slot's waiters: for the device's audio */
    unsigned wait_tries;          /* stream_tries_ended when it came */
    uint64_t wait_until_ms;       /* monotonic: then it gets its 503 */
    struct listener *wait_next, **wait_prev;
    struct icy_framer framer;
} listener;

struct stream_slot {
    struct stream_config cfg;
    struct stream *stream;
    struct fanout fan;
    struct icy_title title;
    char title_text[TITLE_MAX + 1];   /* the same title, for the status */
    unsigned char title_set;      /* by the admin URL: kept across reloads and restarts */
    fdnode *fdn;
    listener *waiters;            /* requests waiting for the device, oldest first */
    listener **waiters_end;
    int wait_fd;                  /* a timerfd: the oldest waiter's wait is over */
    fdnode *wait_fdn;
    uint64_t wait_timer_ms;       /* when it is set to fire; 0: not set */
    pid_t capturer;               /* the process its capture runs in */
    server *srv;
    int plugin_id;                /* this module's slot in lighttpd's arrays */
    uint64_t ring_end;            /* where the last tick found the ring's end */
    uint64_t bytes_sent;          /* handed to lighttpd for listeners */
    uint32_t listener_peak;
    unix_time64_t started;        /* when the stream began (status) */
};

typedef struct {
    const stream_table *streams;  /* audiostream.streams; NULL: none */
    const buffer *status_url;     /* audiostream.status-url; NULL: none */
    const buffer *admin_url;      /* audiostream.admin-url; NULL: none */
} plugin_config;

/* names the memory file that carries the titles across a reload */
#define TITLES_CARRY_ENV "LIGHTTPD_AUDIOSTREAM_TITLES_FD"

typedef struct {
    PLUGIN_DATA;
    const buffer *state_file;     /* audiostream.state-file; NULL: none */
    int titles_fd;                /* the memory file of state_file.h; -1: none */
    plugin_config defaults;       /* the global context's */
    plugin_config conf;           /* this request's, after its conditionals */
    stream_slot *slots;           /* every stream of every context, captured */
    uint32_t nslots;
    stream_table *tables;         /* each audiostream.streams value */
    uint32_t ntables;
    pid_t owner;                  /* the process whose threads these are */
} plugin_data;

INIT_FUNC(mod_audiostream_init) {
    plugin_data * const p = ck_calloc(1, sizeof(plugin_data));
    p->titles_fd = -1;
    return p;
}

/* ---- configuration ---- */

#define LIST_MAX 64    /* entries of a list value (admin-users) */

/* a list of strings, ( "a", "b" ), for the pure validator */
static int slot_set_list(stream_slot * const slot, const char * const key,
                         const array * const a, char * const err, const size_t errlen) {
    const char *items[LIST_MAX];
    if (a->used > LIST_MAX) {
        (void)snprintf(err, errlen, "\"%s\" has %u entries, more than %d", key, a->used, LIST_MAX);
        return -1;
    }
    for (uint32_t i = 0; i < a->used; ++i) {
        const data_unset * const e = a->data[i];
        if (e->type != TYPE_STRING || !buffer_is_blank(&e->key)) {
            (void)snprintf(err, errlen, "\"%s\" entry %u must be a string, as in ( \"a\", \"b\" )",
                           key, i + 1);
            return -1;
        }
        items[i] = ((const data_string *)e)->value.ptr;
    }
    return stream_config_set_list(&slot->cfg, key, items, a->used, err, errlen);
}

/* hands one value of lighttpd's config to the pure validator */
static int slot_set_value(stream_slot * const slot, const data_unset * const du,
                          char * const err, const size_t errlen) {
    const char *key = du->key.ptr ? du->key.ptr : "";
    if (du->type == TYPE_ARRAY)
        return slot_set_list(slot, key, &((const data_array *)du)->value, err, errlen);
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
    if (stream_config_check(&slot->cfg, err, sizeof(err)) != 0) {
        log_error(srv->errh, __FILE__, __LINE__, "audiostream.streams[\"%s\"]: %s", path, err);
        return 0;
    }
    return 1;
}

/* one audiostream.streams value: its streams, as a table of its own */
__attribute_cold__
static stream_table * table_configure(server * const srv, plugin_data * const p,
                                      const array * const a) {
    stream_table * const t = &p->tables[p->ntables++];
    t->slot = &p->slots[p->nslots];
    for (uint32_t i = 0; i < a->used; ++i) {
        stream_slot * const slot = &p->slots[p->nslots++];
        slot->srv = srv;
        slot->waiters_end = &slot->waiters;
        slot->wait_fd = -1;
        slot->plugin_id = p->id;
        ++t->n;
        if (!slot_configure(srv, slot, a->data[i])) return NULL;
    }
    return t;   /* a path listed twice is refused by lighttpd's own parser */
}

/* room for every stream of every context at once: slots do not move */
__attribute_cold__
static void tables_alloc(plugin_data * const p) {
    uint32_t tables = 0, slots = 0;
    for (int i = 0; i < p->nconfig; ++i) {
        for (const config_plugin_value_t *cpv = p->cvlist + p->cvlist[i].v.u2[0];
             -1 != cpv->k_id; ++cpv) {
            if (cpv->k_id != 0) continue;
            ++tables;
            slots += cpv->v.a->used;
        }
    }
    p->tables = ck_calloc(tables ? tables : 1, sizeof(*p->tables));
    p->slots = ck_calloc(slots ? slots : 1, sizeof(*p->slots));
}

/* streams of one device share its capture, which opens at one rate */
__attribute_cold__
static int slots_check_devices(server * const srv, const plugin_data * const p) {
    char err[512];
    for (uint32_t i = 1; i < p->nslots; ++i) {
        for (uint32_t j = 0; j < i; ++j) {
            const int same = stream_same_capture(&p->slots[j].cfg, &p->slots[i].cfg,
                                                 err, sizeof(err));
            if (same < 0) {
                log_error(srv->errh, __FILE__, __LINE__, "audiostream.streams: %s", err);
                return 0;
            }
            if (same) break;    /* the first stream of that device speaks for all */
        }
    }
    return 1;
}

/* "/" and then printable characters: what a request's path can match */
static int url_path_valid(const buffer * const b) {
    if (b->ptr[0] != '/') return 0;
    for (const char *c = b->ptr; *c; ++c)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#') return 0;
    return 1;
}

static void mod_audiostream_merge_config_cpv(plugin_config * const pconf,
                                             const config_plugin_value_t * const cpv) {
    switch (cpv->k_id) { /* index into static config_plugin_keys_t cpk[] */
      case 0: /* audiostream.streams */
        pconf->streams = cpv->v.v;
        break;
      case 1: /* audiostream.status-url */
        pconf->status_url = cpv->v.b;
        break;
      case 2: /* audiostream.admin-url */
        pconf->admin_url = cpv->v.b;
        break;
      case 3: /* audiostream.state-file: server-wide, in plugin_data */
        break;
      default:/* should not happen */
        return;
    }
}

static void mod_audiostream_merge_config(plugin_config * const pconf,
                                         const config_plugin_value_t *cpv) {
    do {
        mod_audiostream_merge_config_cpv(pconf, cpv);
    } while ((++cpv)->k_id != -1);
}

static void mod_audiostream_patch_config(request_st * const r, plugin_data * const p) {
    p->conf = p->defaults; /* copy small struct instead of memcpy() */
    for (int i = 1, used = p->nconfig; i < used; ++i) {
        if (config_check_cond(r, p->cvlist[i].k_id))
            mod_audiostream_merge_config(&p->conf, p->cvlist + p->cvlist[i].v.u2[0]);
    }
}

/* checks one value of one context and keeps it in the form requests use:
 * a table of configured streams; NULL for a blank URL ("" turns it off) */
__attribute_cold__
static int mod_audiostream_value(server * const srv, plugin_data * const p,
                                 const config_plugin_keys_t * const cpk,
                                 config_plugin_value_t * const cpv) {
    switch (cpv->k_id) {
      case 0: /* audiostream.streams */
        cpv->v.v = table_configure(srv, p, cpv->v.a);
        cpv->vtype = T_CONFIG_LOCAL;
        return NULL != cpv->v.v;
      case 1: /* audiostream.status-url */
      case 2: /* audiostream.admin-url */
        if (buffer_is_blank(cpv->v.b)) {
            cpv->v.b = NULL;
            return 1;
        }
        if (!url_path_valid(cpv->v.b)) {
            log_error(srv->errh, __FILE__, __LINE__,
              "%s = \"%s\" must be a URL path starting with \"/\"",
              cpk[cpv->k_id].k, cpv->v.b->ptr);
            return 0;
        }
        return 1;
      case 3: /* audiostream.state-file */
        if (!buffer_is_blank(cpv->v.b)) p->state_file = cpv->v.b;
        return 1;
      default:
        return 1;
    }
}

SETDEFAULTS_FUNC(mod_audiostream_set_defaults) {
    /* every key works in conditionals, as lighttpd's own do: a stream on
     * one virtual host or socket only, the status URL on one network */
    static const config_plugin_keys_t cpk[] = {
      { CONST_STR_LEN("audiostream.streams"),
        T_CONFIG_ARRAY_KVARRAY,
        T_CONFIG_SCOPE_CONNECTION }
     ,{ CONST_STR_LEN("audiostream.status-url"),
        T_CONFIG_STRING,
        T_CONFIG_SCOPE_CONNECTION }
     ,{ CONST_STR_LEN("audiostream.admin-url"),
        T_CONFIG_STRING,
        T_CONFIG_SCOPE_CONNECTION }
     ,{ CONST_STR_LEN("audiostream.state-file"),
        T_CONFIG_STRING,
        T_CONFIG_SCOPE_SERVER }
     ,{ NULL, 0,
        T_CONFIG_UNSET,
        T_CONFIG_SCOPE_UNSET }
    };

    plugin_data * const p = p_d;
    if (!config_plugin_values_init(srv, p, cpk, "mod_audiostream"))
        return HANDLER_ERROR;

    /* the streams of every context are captured, each once */
    tables_alloc(p);
    for (int i = 0; i < p->nconfig; ++i) {
        for (config_plugin_value_t *cpv = p->cvlist + p->cvlist[i].v.u2[0];
             -1 != cpv->k_id; ++cpv) {
            if (!mod_audiostream_value(srv, p, cpk, cpv)) return HANDLER_ERROR;
        }
    }
    /* the global context's values, if any, are the defaults */
    if (p->nconfig > 0 && p->cvlist->v.u2[1]) {
        const config_plugin_value_t * const cpv = p->cvlist + p->cvlist->v.u2[0];
        if (-1 != cpv->k_id) mod_audiostream_merge_config(&p->defaults, cpv);
    }

    if (!slots_check_devices(srv, p)) return HANDLER_ERROR;

    /* now, while no capture thread runs: it may set the environment */
    if (p->nslots && (p->titles_fd = state_carry_open(TITLES_CARRY_ENV)) < 0)
        log_perror(srv->errh, __FILE__, __LINE__,
          "audiostream: titles set through the admin URL will not outlive a reload "
          "(memfd_create)");

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

static void listener_emit(void * const ctx, const unsigned char * const data, const size_t len) {
    listener * const l = ctx;
    http_chunk_append_mem(l->r, (const char *)data, len);
    l->slot->bytes_sent += len;
}

/* Once the response headers are on their way (the request is writing),
 * lighttpd has no more use for them but keeps them until the request ends:
 * about 1.5 KiB a listener, more than a third of what one costs. Only a
 * response header in an access log format ends up as "-". */
static void listener_shed_headers(listener * const l) {
    if (l->headers_shed || l->r->state != CON_STATE_WRITE) return;
    array_free_data(&l->r->resp_headers);
    l->headers_shed = 1;
}

/* Writes a plain HTTP/1.x listener's queue at once, with lighttpd's own
 * writer, as lighttpd's write state would (connections.c,
 * connection_handle_write): while its socket has taken all it was given.
 * The alternative, lighttpd's job list, runs its state machine and this
 * module's subrequest handler once per listener and frame, which costs CPU
 * at large audiences (the README has the figure). Returns whether the
 * queue is empty; if not (a full socket, an error, TLS, HTTP/2, a traffic
 * limit) the caller leaves the listener to the job list, which sees to all
 * of that. */
static int listener_write_now(listener * const l) {
    request_st * const r = l->r;
    connection * const con = r->con;
    if (r->http_version > HTTP_VERSION_1_1 || con->is_ssl_sock || r->state != CON_STATE_WRITE
        || con->is_writable <= 0 || con->traffic_limit_reached
        || r->conf.bytes_per_second || r->conf.global_bytes_per_second)
        return 0;
    con->write_request_ts = log_monotonic_secs;   /* as lighttpd does: its write timeout */
    return con->network_write(con, &r->write_queue, (off_t)MAX_WRITE_LIMIT) >= 0
        && chunkqueue_is_empty(&r->write_queue);
}

static void listener_append(struct fanout_listener * const fl,
                            const unsigned char * const data, const size_t len) {
    listener * const l = (listener *)fl;
    listener_shed_headers(l);
    if (l->icy) icy_frame(&l->framer, &l->slot->title, data, len, listener_emit, l);
    else listener_emit(l, data, len);
    if (!listener_write_now(l)) joblist_append(l->r->con);
}

/* out of the fan-out already; the connection goes at its next turn */
static void listener_drop(struct fanout_listener * const fl) {
    listener * const l = (listener *)fl;
    l->ending = END_DROP;
    joblist_append(l->r->con);
}

static const struct fanout_ops listener_ops = { listener_queued, listener_append, listener_drop };

/* lighttpd is shutting down or restarting gracefully (SIGINT, SIGUSR1):
 * it waits for every connection to end */
static int slot_server_stopping(const stream_slot * const slot) {
    return slot->srv->sockets_disabled >= 2;
}

/* This module's audio streams on a connection (HTTP/2 carries several), kept
 * in lighttpd's per-connection slot of the module, as mod_extforward keeps
 * its state: the same in every lighttpd version, unlike con->h2. */
static uintptr_t connection_audio_streams(const connection * const con, const int plugin_id) {
    return (uintptr_t)con->plugin_ctx[plugin_id];
}

static void listener_count(listener * const l, const int counted) {
    if (l->counted == counted) return;
    void ** const n = &l->r->con->plugin_ctx[l->slot->plugin_id];
    *n = (void *)((uintptr_t)*n + (counted ? 1 : (uintptr_t)-1));
    l->counted = (unsigned char)counted;
}

static void listener_unlink(listener * const l) {
    if (!l->started) return;
    fanout_leave(&l->slot->fan, &l->fl);
    l->started = 0;
    /* While lighttpd stops gracefully the wake-ups go on: lighttpd checks
     * whether its last connection has gone only when its loop wakes, and
     * otherwise sleeps up to a second in its poll after the last stream
     * ended. */
    if (l->slot->fan.nlisteners == 0 && !l->slot->waiters && l->slot->stream
        && !slot_server_stopping(l->slot))
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

static void listener_end_soon(listener * const l, const enum listener_end how) {
    if (l->ending) return;
    l->ending = (unsigned char)how;
    joblist_append(l->r->con);
}

/* The device stayed away past outage-ms: the stream is over, and says so
 * (the last chunk, END_STREAM). */
static void listener_finish_soon(listener * const l) { listener_end_soon(l, END_FINISH); }

/* lighttpd stops or restarts: the response is cut (no last chunk; HTTP/2:
 * the stream reset), which players and browsers take for a broken
 * connection and reconnect, to the restarted server; a response that ended
 * properly would be taken for the end of the stream (Chromium's <audio>
 * fires "ended" and stays silent). */
static void listener_cut_soon(listener * const l) { listener_end_soon(l, END_DROP); }

static void slot_wake_waiters(stream_slot *slot, uint64_t due_ms);

/* the capture thread wrote the eventfd: new frames or news of the device */
static handler_t mod_audiostream_wake(void * const ctx, const int revents) {
    stream_slot * const slot = ctx;
    UNUSED(revents);
    stream_drain_wake(slot->stream);
    slot_log_messages(slot);
    /* the device stayed away past outage-ms: the silence is over; or
     * lighttpd stops gracefully: end the streams at this frame rather than
     * at the next second's tick (mod_audiostream_trigger, which remains for
     * a graceful-restart-bg child: it has no capture thread to wake it) */
    if (slot_server_stopping(slot)) slot_each_listener(slot, listener_cut_soon);
    else if (stream_outage_over(slot->stream)) slot_each_listener(slot, listener_finish_soon);
    if (slot->waiters) slot_wake_waiters(slot, 0);   /* live, or a try ended */
    slot_fan_out(slot);
    return HANDLER_FINISHED;
}

/* ---- requests ---- */

/* An answer with our own short body: lighttpd's error page would drop the
 * headers that go with it (Allow, Retry-After). The caller has made this
 * module the request's handler. */
static handler_t response_text(request_st * const r, const int status,
                               const char * const type, const char * const text,
                               const size_t len) {
    r->http_status = status;
    http_header_response_set(r, HTTP_HEADER_CONTENT_TYPE, CONST_STR_LEN("Content-Type"),
                             type, strlen(type));
    if (r->http_method != HTTP_METHOD_HEAD) http_chunk_append_mem(r, text, len);
    r->resp_body_finished = 1;
    return HANDLER_FINISHED;
}

static handler_t response_error(request_st * const r, const int status,
                                const char * const text, const size_t len) {
    return response_text(r, status, "text/plain; charset=utf-8", text, len);
}

/* longest prefix of path among the streams, as lighttpd's own URL maps do */
static stream_slot * slot_match(const stream_table * const t, const buffer * const path) {
    stream_slot *best = NULL;
    size_t best_len = 0;
    const size_t plen = buffer_clen(path);
    for (uint32_t i = 0; t && i < t->n; ++i) {
        const size_t len = strlen(t->slot[i].cfg.path);
        if (len <= plen && len > best_len && 0 == memcmp(path->ptr, t->slot[i].cfg.path, len)) {
            best = &t->slot[i];
            best_len = len;
        }
    }
    return best;
}

static void header_set(request_st * const r, const char * const key, const size_t klen,
                       const char * const value) {
    http_header_response_set(r, HTTP_HEADER_OTHER, key, klen, value, strlen(value));
}

/* Web players on other origins may read the stream and its ICY headers,
 * and ask for metadata (a request header that needs a preflight). */
static void response_cors(request_st * const r, const stream_slot * const slot) {
    if (!*slot->cfg.cors_origin) return;
    header_set(r, CONST_STR_LEN("Access-Control-Allow-Origin"), slot->cfg.cors_origin);
    header_set(r, CONST_STR_LEN("Access-Control-Expose-Headers"),
               "icy-metaint, icy-name, icy-description, icy-genre, icy-url, icy-br, icy-pub, "
               "Retry-After");
}

#define ALLOWED_METHODS "GET, HEAD, OPTIONS"

/* OPTIONS: the CORS preflight of a web player, or a plain question */
static handler_t response_options(request_st * const r, const stream_slot * const slot) {
    header_set(r, CONST_STR_LEN("Allow"), ALLOWED_METHODS);
    response_cors(r, slot);
    if (*slot->cfg.cors_origin) {
        header_set(r, CONST_STR_LEN("Access-Control-Allow-Methods"), ALLOWED_METHODS);
        header_set(r, CONST_STR_LEN("Access-Control-Allow-Headers"), "Icy-MetaData, Range");
        header_set(r, CONST_STR_LEN("Access-Control-Max-Age"), "86400");
    }
    r->http_status = 204;
    r->resp_body_finished = 1;
    return HANDLER_FINISHED;
}

#define PATH_MAX_FOR_PLAYLIST 2048   /* longer stream paths get no playlist */

/* the scheme and host this client used, for URLs in answers */
static const buffer * request_host(const request_st * const r) {
    return r->http_host && !buffer_is_blank(r->http_host)
      ? r->http_host : r->con->srv_socket->srv_token;
}

static const char * request_scheme(const request_st * const r) {
    return buffer_eq_slen(&r->uri.scheme, CONST_STR_LEN("https")) ? "https" : "http";
}


/* the stream's URL as this client reached it, then the playlist naming it */
static handler_t response_playlist(request_st * const r, const stream_slot * const slot,
                                   const enum playlist_kind kind) {
    const buffer * const host = request_host(r);
    const size_t plen = strlen(slot->cfg.path);
    char url[PLAYLIST_URL_MAX(PATH_MAX_FOR_PLAYLIST)];
    if (plen > PATH_MAX_FOR_PLAYLIST
        || playlist_url(url, sizeof(url), request_scheme(r), host->ptr, buffer_clen(host),
                        slot->cfg.path, plen) < 0)
        return response_error(r, 400, CONST_STR_LEN("400 Bad Request: unusable Host\n"));
    const size_t cap = PLAYLIST_BODY_MAX(strlen(url));
    char * const body = ck_malloc(cap);
    const int n = playlist_render(body, cap, kind, url, slot->cfg.name);
    const handler_t rc = n < 0
      ? response_error(r, 500, CONST_STR_LEN("500 Internal Server Error: playlist\n"))
      : response_text(r, 200, playlist_content_type(kind), body, (size_t)n);
    free(body);
    if (n >= 0) response_cors(r, slot);
    return rc;
}

/* claims a request: the answer comes in the subrequest phase */
static listener * request_claim(request_st * const r, plugin_data * const p,
                                stream_slot * const slot, const enum request_kind kind) {
    listener * const l = ck_calloc(1, sizeof(*l));
    l->r = r;
    l->slot = slot;
    l->kind = (unsigned char)kind;
    r->plugin_ctx[p->id] = l;
    audiostream_set_handler(r, p);
    /* no answer of ours has byte ranges; a Range header is ignored */
    r->conf.range_requests = 0;
    return l;
}

/* A request under a stream's prefix: the stream, one of its playlists, or
 * a method it does not have. */
static listener * stream_request(request_st * const r, plugin_data * const p,
                                 stream_slot * const slot) {
    if (r->http_method == HTTP_METHOD_OPTIONS) return request_claim(r, p, slot, KIND_OPTIONS);
    if (r->http_method != HTTP_METHOD_GET && r->http_method != HTTP_METHOD_HEAD)
        return request_claim(r, p, slot, KIND_BAD_METHOD);
    const enum playlist_kind kind =
      playlist_kind_of(r->uri.path.ptr, buffer_clen(&r->uri.path), strlen(slot->cfg.path));
    if (kind == PLAYLIST_NONE) return request_claim(r, p, slot, KIND_STREAM);
    listener * const l = request_claim(r, p, slot, KIND_PLAYLIST);
    l->playlist = (unsigned char)kind;
    return l;
}

/* GET, HEAD and OPTIONS take no request body here. One that is announced
 * (Content-Length, chunked, or an HTTP/2 HEADERS frame without END_STREAM)
 * is refused before it is read: nothing reads it, and lighttpd would
 * otherwise spool an HTTP/2 client's DATA to server.upload-dirs for as long
 * as the endless response lasts. Other methods get their 405. */
static int request_body_refused(const request_st * const r) {
    return r->reqbody_length != 0
        && (r->http_method == HTTP_METHOD_GET || r->http_method == HTTP_METHOD_HEAD
            || r->http_method == HTTP_METHOD_OPTIONS);
}

URIHANDLER_FUNC(mod_audiostream_uri_handler) {
    plugin_data * const p = p_d;
    if (NULL != r->handler_module || 0 == p->nslots) return HANDLER_GO_ON;
    mod_audiostream_patch_config(r, p);
    const plugin_config * const c = &p->conf;
    listener *l = NULL;
    if (c->status_url && buffer_is_equal(&r->uri.path, c->status_url))
        (l = request_claim(r, p, NULL, KIND_STATUS))->table = c->streams;
    else if (c->admin_url && buffer_is_equal(&r->uri.path, c->admin_url))
        (l = request_claim(r, p, NULL, KIND_ADMIN))->table = c->streams;
    else {
        stream_slot * const slot = slot_match(c->streams, &r->uri.path);
        if (slot) l = stream_request(r, p, slot);
    }
    if (l && request_body_refused(r)) l->kind = KIND_WITH_BODY;
    return HANDLER_GO_ON;
}

/* ---- the status and admin URLs ---- */

static void slot_set_title(stream_slot * const slot, const char * const text, const size_t len) {
    const size_t n = len < TITLE_MAX ? len : TITLE_MAX;
    memcpy(slot->title_text, text, n);
    slot->title_text[n] = '\0';
    icy_title_set(&slot->title, text, n);
}

static stream_slot * slot_by_path(const stream_table * const t, const char * const path) {
    for (uint32_t i = 0; t && i < t->n; ++i)
        if (0 == strcmp(t->slot[i].cfg.path, path)) return &t->slot[i];
    return NULL;
}

/* ---- titles that outlive a reload or a restart (title_state.h) ---- */

/* which of the streams with its path slot is (virtual hosts may each have
 * one): 1 for the first */
static unsigned slot_nth(const plugin_data * const p, const stream_slot * const slot) {
    unsigned n = 1;
    for (const stream_slot *o = p->slots; o != slot; ++o)
        if (0 == strcmp(o->cfg.path, slot->cfg.path)) ++n;
    return n;
}

/* The titles the admin URL set, into the memory file (reloads) and the
 * state file (restarts). On the event loop, as the title change is: a few
 * hundred bytes, written without a flush to disk (state_file.c). */
static void titles_save(const plugin_data * const p, log_error_st * const errh) {
    struct title_state_entry * const e = ck_calloc(p->nslots ? p->nslots : 1, sizeof(*e));
    size_t n = 0;
    for (uint32_t i = 0; i < p->nslots; ++i) {
        const stream_slot * const slot = &p->slots[i];
        if (slot->title_set)
            e[n++] = (struct title_state_entry){ slot->cfg.path, slot_nth(p, slot),
                                                 slot->cfg.title, slot->title_text };
    }
    const size_t len = title_state_render(NULL, 0, e, n);
    char * const text = ck_malloc(len + 1);
    (void)title_state_render(text, len + 1, e, n);
    char err[512];
    if (p->titles_fd >= 0 && 0 != state_carry_write(p->titles_fd, text, len))
        log_perror(errh, __FILE__, __LINE__,
          "audiostream: the titles set through the admin URL will not outlive a reload");
    if (p->state_file && 0 != state_file_write(p->state_file->ptr, text, len, err, sizeof(err)))
        log_error(errh, __FILE__, __LINE__,
          "audiostream.state-file = \"%s\": %s", p->state_file->ptr, err);
    free(text);
    free(e);
}

struct titles_restore {
    const plugin_data *p;
    unsigned restored;
};

/* One title of the state, for the stream it names, if the stream still
 * has the configuration's title it replaced; checked as the admin URL
 * checks titles, since the file may have been edited. */
static void title_restore(void * const ctx, const struct title_state_entry * const e) {
    struct titles_restore * const t = ctx;
    const size_t len = strlen(e->title);
    if (len > TITLE_MAX || !utf8_valid(e->title, len) || utf8_has_control(e->title, len)) return;
    for (uint32_t i = 0; i < t->p->nslots; ++i) {
        stream_slot * const slot = &t->p->slots[i];
        if (0 != strcmp(slot->cfg.path, e->path) || slot_nth(t->p, slot) != e->nth) continue;
        if (0 != strcmp(slot->cfg.title, e->config_title)) return;   /* edited since: it wins */
        slot_set_title(slot, e->title, len);
        slot->title_set = 1;
        ++t->restored;
        return;
    }
}

/* After a reload, the titles of the server before (the memory file); after
 * a restart, those of the state file. */
__attribute_cold__
static void titles_restore(const plugin_data * const p, server * const srv) {
    size_t len = 0;
    char err[512] = "";
    const char *from = "the server before the reload";
    char *text = p->titles_fd >= 0 ? state_carry_read(p->titles_fd, &len) : NULL;
    if (NULL == text && p->state_file) {
        from = p->state_file->ptr;
        text = state_file_read(p->state_file->ptr, &len, err, sizeof(err));
        if (NULL == text && *err)
            log_error(srv->errh, __FILE__, __LINE__,
              "audiostream.state-file = \"%s\": cannot read it: %s", p->state_file->ptr, err);
    }
    if (NULL == text) return;
    struct titles_restore t = { p, 0 };
    if (title_state_parse(text, len, title_restore, &t) < 0)
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.state-file = \"%s\": not a state file of this module; its titles "
          "are not used", from);
    else if (t.restored)
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream: %u title(s) set through the admin URL restored from %s",
          t.restored, from);
    free(text);
}

static void status_source_fill(struct status_source * const s, const stream_slot * const slot,
                               char * const url, const size_t urlcap,
                               const request_st * const r) {
    const struct stream_config * const c = &slot->cfg;
    const buffer * const host = request_host(r);
    if (playlist_url(url, urlcap, request_scheme(r), host->ptr, buffer_clen(host),
                     c->path, strlen(c->path)) < 0)
        url[0] = '\0';
    memset(s, 0, sizeof(*s));
    s->mount = c->path;
    s->listenurl = url;
    s->name = *c->name ? c->name : STATUS_DEFAULT_NAME;
    s->description = *c->description ? c->description : STATUS_DEFAULT_DESCRIPTION;
    s->genre = *c->genre ? c->genre : STATUS_DEFAULT_GENRE;
    s->url = *c->url ? c->url : NULL;
    s->title = slot->title_text;
    s->server_type = "audio/mpeg";
    s->bitrate_kbps = c->bitrate;
    s->samplerate = c->rate;
    s->channels = c->channels;
    s->listeners = slot->fan.nlisteners;
    s->listener_peak = slot->listener_peak;
    s->stream_start = (time_t)slot->started;
    s->bytes_sent = slot->bytes_sent;
    s->skips = slot->fan.skips;
    s->drops = slot->fan.drops;
    s->overruns = slot->stream ? stream_overruns(slot->stream) : 0;
    s->device = c->device;
    s->device_state = slot->stream && stream_is_live(slot->stream) ? "live" : "down";
}

/* Icecast's status-json.xsl, for the dashboards that read it: the streams
 * this request's context has */
static handler_t response_status(request_st * const r, const stream_table * const t) {
    if (r->http_method != HTTP_METHOD_GET && r->http_method != HTTP_METHOD_HEAD) {
        header_set(r, CONST_STR_LEN("Allow"), "GET, HEAD");
        return response_error(r, 405, CONST_STR_LEN("405 Method Not Allowed: use GET or HEAD\n"));
    }
    enum { URL_CAP = PLAYLIST_URL_MAX(PATH_MAX_FOR_PLAYLIST) };
    const uint32_t n = t ? t->n : 0;
    struct status_source * const src = ck_calloc(n ? n : 1, sizeof(*src));
    char * const urls = ck_malloc((size_t)(n ? n : 1) * URL_CAP);
    for (uint32_t i = 0; i < n; ++i)
        status_source_fill(&src[i], &t->slot[i], urls + (size_t)i * URL_CAP, URL_CAP, r);
    const buffer * const host = request_host(r);
    const struct status_server ss = {
        .admin = "", .host = host->ptr, .location = "",
        .server_id = "mod_audiostream (lighttpd/" PACKAGE_VERSION ")",
        .server_start = (time_t)r->con->srv->startup_ts,
    };
    size_t len = 0;
    char * const json = status_json_render(&ss, src, n, &len);
    free(urls);
    free(src);
    if (NULL == json) return response_error(r, 500, CONST_STR_LEN("500 out of memory\n"));
    header_set(r, CONST_STR_LEN("Access-Control-Allow-Origin"), "*");
    http_header_response_set(r, HTTP_HEADER_CACHE_CONTROL, CONST_STR_LEN("Cache-Control"),
                             CONST_STR_LEN("no-cache"));
    const handler_t rc = response_text(r, 200, "application/json; charset=UTF-8", json, len);
    free(json);
    return rc;
}

static handler_t response_iceresponse(request_st * const r, const int status, const int ok,
                                      const char * const message) {
    char body[1024];
    size_t n = admin_response(body, sizeof(body), ok, message);
    if (n >= sizeof(body)) n = sizeof(body) - 1;
    return response_text(r, status, "text/xml; charset=utf-8", body, n);
}

/* A browser sent it from another site's page: the DJ's browser adds the
 * saved Basic credentials to any request to this URL, so a page elsewhere
 * could change the title (CSRF). Browsers say where a request comes from
 * (Sec-Fetch-Site; Origin on cross-origin requests); the tools that use
 * the admin URL (curl, butt, Mixxx, Liquidsoap, ices) send neither. */
static int request_from_another_site(const request_st * const r) {
    const buffer * const site =
      http_header_request_get(r, HTTP_HEADER_OTHER, CONST_STR_LEN("Sec-Fetch-Site"));
    if (site && !buffer_eq_icase_slen(site, CONST_STR_LEN("same-origin"))
        && !buffer_eq_icase_slen(site, CONST_STR_LEN("none")))
        return 1;
    const buffer * const origin = http_header_request_get(r, HTTP_HEADER_OTHER,
                                                          CONST_STR_LEN("Origin"));
    if (NULL == origin) return 0;
    const char * const scheme = request_scheme(r);
    const size_t slen = strlen(scheme);
    const buffer * const host = request_host(r);
    return !(buffer_clen(origin) == slen + 3 + buffer_clen(host)
             && 0 == strncasecmp(origin->ptr, scheme, slen)
             && 0 == memcmp(origin->ptr + slen, "://", 3)
             && 0 == strncasecmp(origin->ptr + slen + 3, host->ptr, buffer_clen(host)));
}

/* Icecast's metadata update: GET ?mount=/live.mp3&mode=updinfo&song=...
 * Only for a request lighttpd authenticated: a forgotten auth.require must
 * not open it to the world; only from this site's pages or from tools; and
 * only by a user the stream names in admin-users, if it names any. */
static handler_t response_admin(request_st * const r, const stream_table * const t,
                                const plugin_data * const p) {
    const buffer * const user = http_header_env_get(r, CONST_STR_LEN("REMOTE_USER"));
    if (NULL == user || buffer_is_blank(user))
        return response_iceresponse(r, 403, 0, "the admin URL answers only requests that "
          "lighttpd authenticated (mod_auth: auth.require for this URL)");
    if (request_from_another_site(r))
        return response_iceresponse(r, 403, 0, "the admin URL refuses requests from another "
          "site's page (Sec-Fetch-Site, Origin)");
    if (r->http_method != HTTP_METHOD_GET) {
        header_set(r, CONST_STR_LEN("Allow"), "GET");
        return response_iceresponse(r, 405, 0, "use GET");
    }
    struct admin_update * const u = ck_malloc(sizeof(*u));
    char err[256];
    handler_t rc;
    if (0 != admin_parse_updinfo(r->uri.query.ptr ? r->uri.query.ptr : "",
                                 buffer_clen(&r->uri.query), u, err, sizeof(err)))
        rc = response_iceresponse(r, 400, 0, err);
    else {
        stream_slot * const slot = slot_by_path(t, u->mount);
        if (NULL == slot) rc = response_iceresponse(r, 400, 0, "no such mount");
        else if (!stream_config_admin_allows(&slot->cfg, user->ptr)) {
            log_error(r->conf.errh, __FILE__, __LINE__,
              "audiostream.streams[\"%s\"]: title change by %s refused: not in admin-users",
              slot->cfg.path, user->ptr);
            rc = response_iceresponse(r, 403, 0, "this user may not change this mount (admin-users)");
        }
        else {
            slot_set_title(slot, u->title, u->title_len);
            slot->title_set = 1;
            log_error(r->conf.errh, __FILE__, __LINE__,
              "audiostream.streams[\"%s\"]: title set by %s", slot->cfg.path, user->ptr);
            titles_save(p, r->conf.errh);
            rc = response_iceresponse(r, 200, 1, ADMIN_UPDATED);
        }
    }
    free(u);
    return rc;
}

/* Icecast's headers: who the station is, and what the stream carries */
static void response_icy(request_st * const r, const listener * const l) {
    const struct stream_config * const c = &l->slot->cfg;
    char num[32];
    if (*c->name) header_set(r, CONST_STR_LEN("icy-name"), c->name);
    if (*c->description) header_set(r, CONST_STR_LEN("icy-description"), c->description);
    if (*c->genre) header_set(r, CONST_STR_LEN("icy-genre"), c->genre);
    if (*c->url) header_set(r, CONST_STR_LEN("icy-url"), c->url);
    (void)snprintf(num, sizeof(num), "%u", c->bitrate);   /* fits: 10 digits */
    header_set(r, CONST_STR_LEN("icy-br"), num);
    header_set(r, CONST_STR_LEN("icy-pub"), c->public_ ? "1" : "0");
    if (l->icy) {
        (void)snprintf(num, sizeof(num), "%u", c->metaint);
        header_set(r, CONST_STR_LEN("icy-metaint"), num);
    }
}

static void response_headers(request_st * const r, const listener * const l) {
    http_header_response_set(r, HTTP_HEADER_CONTENT_TYPE, CONST_STR_LEN("Content-Type"),
                             CONST_STR_LEN("audio/mpeg"));
    http_header_response_set(r, HTTP_HEADER_CACHE_CONTROL, CONST_STR_LEN("Cache-Control"),
                             CONST_STR_LEN("no-cache, no-store"));
    http_header_response_set(r, HTTP_HEADER_PRAGMA, CONST_STR_LEN("Pragma"),
                             CONST_STR_LEN("no-cache"));
    response_icy(r, l);
    response_cors(r, l->slot);
}

/* Icy-MetaData: 1 (any positive number, as Icecast reads it) */
static int wants_icy(const request_st * const r) {
    const buffer * const v =
      http_header_request_get(r, HTTP_HEADER_OTHER, CONST_STR_LEN("Icy-MetaData"));
    if (NULL == v) return 0;
    char *end;
    const long n = strtol(v->ptr, &end, 10);
    return end != v->ptr && n > 0;
}

/* no audio (the device is absent, busy or mute), or no room: say when to
 * come back (seconds, at least 1) */
static handler_t response_unavailable(request_st * const r, const stream_slot * const slot,
                                      const char * const retry_after,
                                      const char * const text, const size_t len) {
    header_set(r, CONST_STR_LEN("Retry-After"), retry_after);
    response_cors(r, slot);   /* a web player may read the status and Retry-After */
    return response_error(r, 503, text, len);
}

/* the device gave no audio in the wait: back when the capture tries again */
static handler_t response_device_down(request_st * const r, const stream_slot * const slot) {
    char secs[16];
    const unsigned ms = stream_next_try_ms(slot->stream);
    (void)snprintf(secs, sizeof(secs), "%u", ms > 1000 ? (ms + 999) / 1000 : 1);
    return response_unavailable(r, slot, secs,
      CONST_STR_LEN("503 Service Unavailable: the stream has no audio from its device yet\n"));
}

/* ---- requests waiting for the device ----
 * A listener that comes while the device is not live (lighttpd has just
 * started or reloaded and the device is opening; it is lost and being
 * retried) waits for the outcome of the capture's current or next try, at
 * most device-wait-ms: audio, and it plays; a failed try or the end of the
 * wait, and it gets its 503. Players that take a 503 as final then play
 * through a start, and one that retries at once costs a request per try of
 * the device, not thousands a second. Right after the capture started (a
 * start, a reload) a listener also waits, within the same bound, until
 * there is burst-ms of audio to give it: a player reconnecting after a
 * reload then starts with the buffer every listener starts with, where with
 * a few frames it would play at the live edge with nothing in hand and
 * stall again at the first hiccup (Chromium: a second 2 s stall). */

static uint64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wait_timer_set(stream_slot * const slot, const uint64_t at_ms) {
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(at_ms / 1000);
    its.it_value.tv_nsec = (long)(at_ms % 1000) * 1000000L;
    slot->wait_timer_ms = at_ms;
    if (0 != timerfd_settime(slot->wait_fd, TFD_TIMER_ABSTIME, &its, NULL))
        log_perror(slot->srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: timerfd_settime", slot->cfg.path);
}

/* This process is a graceful-restart-bg child: lighttpd forked it to
 * finish the connections of a reload while it re-executes itself, and it
 * goes on accepting them until the new server is ready and tells it to
 * stop (SIGINT), but the capture stayed with the new server. */
static int slot_capture_elsewhere(const stream_slot * const slot) {
    return slot->capturer != getpid();
}

static void waiter_add(stream_slot * const slot, listener * const l, const uint64_t now) {
    if (NULL == slot->waiters) stream_wake_on_frames(slot->stream, 1);   /* for the burst */
    l->waiting = 1;
    l->wait_tries = stream_tries_ended(slot->stream);
    l->wait_until_ms = now + (slot_capture_elsewhere(slot) ? CHILD_WAIT_MS : slot->cfg.device_wait_ms);
    l->wait_next = NULL;
    l->wait_prev = slot->waiters_end;
    *slot->waiters_end = l;
    slot->waiters_end = &l->wait_next;
    if (0 == slot->wait_timer_ms)
        wait_timer_set(slot, slot_capture_elsewhere(slot) ? now + CHILD_POLL_MS : l->wait_until_ms);
}

static void waiter_remove(listener * const l) {
    if (!l->waiting) return;
    if (l->wait_next) l->wait_next->wait_prev = l->wait_prev;
    else l->slot->waiters_end = l->wait_prev;
    *l->wait_prev = l->wait_next;
    l->waiting = 0;
    if (NULL == l->slot->waiters && 0 == l->slot->fan.nlisteners)
        stream_wake_on_frames(l->slot->stream, 0);
}

/* the stream has audio, and enough of it to start a listener with */
static int slot_ready(const stream_slot * const slot) {
    const unsigned ms = slot->cfg.burst_ms < START_AUDIO_MS ? slot->cfg.burst_ms : START_AUDIO_MS;
    return stream_is_live(slot->stream)
        && ring_end(stream_ring(slot->stream)) >= (uint64_t)slot->cfg.bitrate * ms / 8;
}

/* Whether l, a request for a stream that is not ready, waits on. */
static int listener_waits(listener * const l) {
    stream_slot * const slot = l->slot;
    const uint64_t now = monotonic_ms();
    if (!l->waiting) {
        if ((0 == slot->cfg.device_wait_ms && !slot_capture_elsewhere(slot))
            || slot_server_stopping(slot))
            return 0;
        waiter_add(slot, l, now);
        return 1;
    }
    if (stream_tries_ended(slot->stream) == l->wait_tries && now < l->wait_until_ms
        && !slot_server_stopping(slot))
        return 1;
    waiter_remove(l);
    return 0;
}

/* The waiters' turn (the device's news, a stop); with due_ms, only those
 * whose wait is over by then. Each decides in its own subrequest. */
static void slot_wake_waiters(stream_slot * const slot, const uint64_t due_ms) {
    for (listener *l = slot->waiters; l; l = l->wait_next)
        if (0 == due_ms || l->wait_until_ms <= due_ms) joblist_append(l->r->con);
}

/* the timerfd fired: the oldest waits are over; set it for the next one */
static handler_t mod_audiostream_wait_over(void * const ctx, const int revents) {
    stream_slot * const slot = ctx;
    uint64_t n;
    UNUSED(revents);
    while (read(slot->wait_fd, &n, sizeof(n)) > 0) {}
    const uint64_t now = monotonic_ms();
    uint64_t next = 0;
    slot->wait_timer_ms = 0;
    slot_wake_waiters(slot, now);
    for (const listener *l = slot->waiters; l; l = l->wait_next)
        if (l->wait_until_ms > now && (0 == next || l->wait_until_ms < next))
            next = l->wait_until_ms;
    /* a child looks for its stop: then its waiters go to the new server */
    if (slot_capture_elsewhere(slot) && slot->waiters) {
        if (slot_server_stopping(slot)) slot_wake_waiters(slot, 0);
        else next = now + CHILD_POLL_MS;
    }
    if (next) wait_timer_set(slot, next);
    return HANDLER_FINISHED;
}

/* ---- the answer to a stream request ---- */

/* A graceful-restart-bg child's listener, once the new server is up: sent
 * there, to the same URL, as a redirect every player follows. */
static handler_t response_to_new_server(request_st * const r, const stream_slot * const slot) {
    buffer * const loc = buffer_init();
    const buffer * const host = request_host(r);
    buffer_append_str3(loc, request_scheme(r), strlen(request_scheme(r)), CONST_STR_LEN("://"),
                       BUF_PTR_LEN(host));
    /* the target as the client sent it (encoded, with its query; an
     * absolute URI as lighttpd took it apart) */
    const buffer * const t = r->target_orig.ptr && r->target_orig.ptr[0] == '/'
      ? &r->target_orig : &r->target;
    buffer_append_string_len(loc, BUF_PTR_LEN(t));
    http_header_response_set(r, HTTP_HEADER_LOCATION, CONST_STR_LEN("Location"), BUF_PTR_LEN(loc));
    buffer_free(loc);
    response_cors(r, slot);
    r->keep_alive = 0;     /* the next request goes to the new server */
    return response_error(r, 307,
      CONST_STR_LEN("307 Temporary Redirect: lighttpd reloaded; the stream is here again\n"));
}

/* A browser resuming (Range: bytes=N-, N > 0) gets 206 for the bytes from
 * N on, live; an If-Range names a validator this stream never sent, so it
 * gets the stream as a whole (RFC 9110 13.1.5). */
static void response_resume(request_st * const r) {
    const buffer * const range =
      http_header_request_get(r, HTTP_HEADER_RANGE, CONST_STR_LEN("Range"));
    uint64_t first;
    char value[LIVE_RANGE_VALUE_MAX];
    if (NULL == range || !live_range_resume(range->ptr, buffer_clen(range), &first)
        || NULL != http_header_request_get(r, HTTP_HEADER_IF_RANGE, CONST_STR_LEN("If-Range")))
        return;
    const int n = live_range_content_range(value, sizeof(value), first);
    if (n < 0) return;
    r->http_status = 206;
    http_header_response_set(r, HTTP_HEADER_CONTENT_RANGE, CONST_STR_LEN("Content-Range"),
                             value, (uint32_t)n);
}

/* An HTTP/1.1 request for ICY metadata gets the stream delimited by the
 * connection's close, not chunked, as Icecast and SHOUTcast send it: the
 * clients that ask for it count bytes to find the metadata, and some do not
 * un-chunk (streamripper). Other HTTP/1.1 listeners get it chunked: there a
 * cut connection (lighttpd restarted, a network blip) lacks the last chunk
 * and reads as a cut, on which browsers reconnect and resume, where a
 * close-delimited stream would read as its end. lighttpd chunks every
 * HTTP/1.1 response of unknown length (response.c,
 * http_response_write_prepare) unless a Transfer-Encoding header is marked
 * set; the mark, without the header, makes it send the body as it is, and
 * Connection: close says how it ends. */
static void response_close_delimited(request_st * const r, const listener * const l) {
    if (r->http_version != HTTP_VERSION_1_1 || !l->icy) return;
    r->keep_alive = 0;
    r->resp_htags |= light_bshift(HTTP_HEADER_TRANSFER_ENCODING);
}

/* Loopback and LAN sockets auto-grow their send buffer to megabytes: a
 * stalled listener would hold minutes of old audio in the kernel and never
 * skip to live. An HTTP/1.x listener has its connection to itself: fix its
 * send buffer at about half a second (the kernel doubles it). An HTTP/2
 * connection carries other streams too (the player page, downloads, other
 * streams), which a small send buffer would throttle to a buffer per round
 * trip; there only the bytes not yet sent are bounded (TCP_NOTSENT_LOWAT:
 * the socket takes no more while that many wait), which holds back no
 * throughput, and lighttpd stages at most 64 KiB for the connection. */
static void listener_cap_sndbuf(request_st * const r, const stream_slot * const slot) {
    int bytes = (int)(slot->cfg.bitrate * 1000 / 8 / 2);
    if (bytes < 4096) bytes = 4096;
    const int h2 = r->http_version == HTTP_VERSION_2;
    if (h2 && bytes < H2_NOTSENT_MIN) bytes = H2_NOTSENT_MIN;
    if (0 != setsockopt(r->con->fd, h2 ? IPPROTO_TCP : SOL_SOCKET,
                        h2 ? TCP_NOTSENT_LOWAT : SO_SNDBUF, &bytes, sizeof(bytes)))
        log_perror(r->conf.errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: setsockopt(%s)", slot->cfg.path,
          h2 ? "TCP_NOTSENT_LOWAT" : "SO_SNDBUF");
}

static void listener_join(listener * const l) {
    stream_slot * const slot = l->slot;
    l->started = 1;
    fanout_join(&slot->fan, &l->fl);
    listener_count(l, 1);
    if (slot->fan.nlisteners == 1) stream_wake_on_frames(slot->stream, 1);
    if (slot->fan.nlisteners > slot->listener_peak) slot->listener_peak = slot->fan.nlisteners;
}

static handler_t response_start(request_st * const r, listener * const l, const int plugin_id) {
    const stream_slot * const slot = l->slot;
    if (!slot_ready(slot) && listener_waits(l)) return HANDLER_WAIT_FOR_EVENT;
    waiter_remove(l);
    if (slot_capture_elsewhere(slot) && slot_server_stopping(slot))
        return response_to_new_server(r, slot);
    if (!stream_is_live(slot->stream)) return response_device_down(r, slot);
    if (slot->cfg.max_listeners && slot->fan.nlisteners >= slot->cfg.max_listeners)
        return response_unavailable(r, slot, FULL_RETRY_AFTER,
          CONST_STR_LEN("503 Service Unavailable: the stream has all the listeners it takes\n"));
    if (r->http_version == HTTP_VERSION_2 && r->http_method == HTTP_METHOD_GET
        && connection_audio_streams(r->con, plugin_id) >= H2_AUDIO_STREAMS_MAX) {
        response_cors(r, slot);
        return response_error(r, 429, CONST_STR_LEN("429 Too Many Requests: at most 4 audio "
          "streams on one HTTP/2 connection; open another connection for more\n"));
    }
    l->icy = wants_icy(r) && icy_framer_init(&l->framer, slot->cfg.metaint) == 0;
    r->http_status = 200;
    response_resume(r);
    response_headers(r, l);
    if (r->http_method == HTTP_METHOD_HEAD) {
        r->resp_body_finished = 1;
        return HANDLER_FINISHED;
    }
    /* send the headers now and every append at once, whatever
     * server.stream-response-body says (a per-request copy) */
    r->resp_body_started = 1;
    r->conf.stream_response_body |= FDEVENT_STREAM_RESPONSE;
    response_close_delimited(r, l);
    listener_cap_sndbuf(r, slot);
    listener_join(l);
    return HANDLER_WAIT_FOR_EVENT;
}

static handler_t response_end(request_st * const r, listener * const l) {
    listener_count(l, 0);
    listener_unlink(l);
    if (l->ending == END_DROP) return HANDLER_ERROR;  /* closes it, queue and all */
    http_chunk_close(r);
    r->resp_body_finished = 1;
    return HANDLER_FINISHED;
}

static handler_t response_first(request_st * const r, listener * const l,
                                const plugin_data * const p) {
    switch ((enum request_kind)l->kind) {
      case KIND_STREAM:   return response_start(r, l, p->id);
      case KIND_PLAYLIST: return response_playlist(r, l->slot, (enum playlist_kind)l->playlist);
      case KIND_OPTIONS:  return response_options(r, l->slot);
      case KIND_STATUS:   return response_status(r, l->table);
      case KIND_ADMIN:    return response_admin(r, l->table, p);
      case KIND_WITH_BODY:
        return response_error(r, 413,
          CONST_STR_LEN("413 Content Too Large: this URL takes no request body\n"));
      case KIND_BAD_METHOD:
      default:
        header_set(r, CONST_STR_LEN("Allow"), ALLOWED_METHODS);
        return response_error(r, 405,
          CONST_STR_LEN("405 Method Not Allowed: use GET, HEAD or OPTIONS\n"));
    }
}

SUBREQUEST_FUNC(mod_audiostream_subrequest) {
    plugin_data * const p = p_d;
    listener * const l = r->plugin_ctx[p->id];
    if (NULL == l) return HANDLER_GO_ON;
    if (l->ending) return response_end(r, l);
    if (!l->started) return response_first(r, l, p);
    return HANDLER_WAIT_FOR_EVENT;  /* the wake-up handler appends audio */
}

REQUEST_FUNC(mod_audiostream_request_reset) {
    plugin_data * const p = p_d;
    listener * const l = r->plugin_ctx[p->id];
    if (NULL == l) return HANDLER_GO_ON;
    r->plugin_ctx[p->id] = NULL;
    listener_count(l, 0);
    listener_unlink(l);
    waiter_remove(l);
    free(l);
    return HANDLER_GO_ON;
}

/* ---- server life cycle ---- */

/* The client closed or reset its end of the connection. */
static int connection_peer_gone(const connection * const con) {
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (0 != getsockopt(con->fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) return 0;  /* not TCP */
    return ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE;
}

/* An HTTP/2 listener whose client has gone. lighttpd notices only by
 * reading, and it stops reading a connection whose 8 streams are all
 * active while more wait (h2.c, h2_send_refused_stream): audio streams
 * never end, so the client's close would go unseen and its listener slots
 * stay taken until server.max-write-idle. A gone client's queue stops
 * draining, so only listeners with audio queued are asked. */
static void listener_end_if_gone(listener * const l) {
    const request_st * const r = l->r;
    if (l->ending || r->http_version != HTTP_VERSION_2 || chunkqueue_is_empty(&r->write_queue)
        || !connection_peer_gone(r->con))
        return;
    listener_count(l, 0);
    listener_unlink(l);
    listener_drop(&l->fl);
}

/* Once a second. A graceful shutdown or restart waits for every connection
 * to end, and a stream never ends by itself: end them, each on its own
 * request's turn. Otherwise, let go of HTTP/2 listeners that have gone. */
TRIGGER_FUNC(mod_audiostream_trigger) {
    plugin_data * const p = p_d;
    void (* const fn)(listener *) =
      srv->sockets_disabled < 2 ? listener_end_if_gone : listener_cut_soon;
    for (uint32_t i = 0; i < p->nslots; ++i) {
        slot_each_listener(&p->slots[i], fn);
        if (srv->sockets_disabled >= 2) slot_wake_waiters(&p->slots[i], 0);
    }
    return HANDLER_GO_ON;
}

/* the stream of the first slot before this one that names its device */
static struct stream *slot_capture_peer(const plugin_data * const p,
                                        const stream_slot * const slot) {
    for (const stream_slot *o = p->slots; o != slot; ++o) {
        if (0 == strcmp(o->cfg.device, slot->cfg.device)) return o->stream;
    }
    return NULL;
}

/* a stream with the capture of an earlier one of its device, if any */
__attribute_cold__
static int slot_stream_new(server * const srv, const plugin_data * const p,
                           stream_slot * const slot) {
    char err[512];
    slot->stream = stream_new(&slot->cfg, err, sizeof(err));
    struct stream * const peer = slot->stream ? slot_capture_peer(p, slot) : NULL;
    if (NULL == slot->stream
        || (peer && stream_share_capture(slot->stream, peer, err, sizeof(err)) != 0)) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: %s", slot->cfg.path, err);
        return 0;
    }
    return 1;
}

/* starts the slot's capture (once per device: the others find it running)
 * and hooks its stream to the event loop */
__attribute_cold__
static int slot_start(server * const srv, stream_slot * const slot) {
    char err[512];
    if (stream_start(slot->stream, err, sizeof(err)) != 0) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: %s", slot->cfg.path, err);
        return 0;
    }
    const struct stream_config * const c = &slot->cfg;
    const struct fanout_settings set = {
        .writes_per_second = c->writes_per_second,
        .frame_us = (unsigned)(1152 * 1000000ull / c->rate),
        .max_interval_us = MAX_INTERVAL_US,
        /* a frame more than queue-ms, so that a burst of all of it, rounded
         * back to a frame boundary, is not already too far behind */
        .lag_max = (size_t)c->bitrate * c->queue_ms / 8 + MP3_FRAME_MAX_LEN,
        .drop_slow = 0 == strcmp(c->slow_listener, "drop"),
        .burst = (size_t)c->bitrate * c->burst_ms / 8,
        .queue_cap = QUEUE_CAP,
        .batch = FANOUT_BATCH,
    };
    if (fanout_init(&slot->fan, stream_ring(slot->stream), &listener_ops, &set) != 0) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: out of memory", slot->cfg.path);
        return 0;
    }
    icy_title_init(&slot->title);
    slot_set_title(slot, c->title, strlen(c->title));
    slot->started = log_epoch_secs;
    slot->capturer = getpid();
    slot->ring_end = ring_end(stream_ring(slot->stream));
    slot->fdn = fdevent_register(srv->ev, stream_wake_fd(slot->stream),
                                 mod_audiostream_wake, slot);
    fdevent_fdnode_event_set(srv->ev, slot->fdn, FDEVENT_IN);
    slot->wait_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (slot->wait_fd < 0) {
        log_perror(srv->errh, __FILE__, __LINE__,
          "audiostream.streams[\"%s\"]: timerfd_create", slot->cfg.path);
        return 0;
    }
    slot->wait_fdn = fdevent_register(srv->ev, slot->wait_fd, mod_audiostream_wait_over, slot);
    fdevent_fdnode_event_set(srv->ev, slot->wait_fdn, FDEVENT_IN);
    return 1;
}

/* A reload in this process: the streams of the generation before go on
 * where this one's have the same settings (no reopen of the device, no
 * wait for a ring to fill); the others stop. */
__attribute_cold__
static int slots_adopt_parked(server * const srv, const plugin_data * const p) {
    /* arrays of pointers, sized by one of them: not the mistake
     * bugprone-sizeof-expression looks for */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    const struct stream_config ** const cfgs = calloc(p->nslots + 1, sizeof(*cfgs));
    // NOLINTNEXTLINE(bugprone-sizeof-expression): see above
    struct stream ** const adopted = calloc(p->nslots + 1, sizeof(*adopted));
    if (cfgs && adopted) {
        for (uint32_t i = 0; i < p->nslots; ++i) cfgs[i] = &p->slots[i].cfg;
        stream_adopt_parked(cfgs, p->nslots, adopted);
        for (uint32_t i = 0; i < p->nslots; ++i) {
            p->slots[i].stream = adopted[i];
            if (adopted[i])
                log_error(srv->errh, __FILE__, __LINE__,
                  "audiostream.streams[\"%s\"]: the capture goes on from before the reload",
                  p->slots[i].cfg.path);
        }
    }
    else log_error(srv->errh, __FILE__, __LINE__, "audiostream.streams: out of memory");
    const int ok = cfgs && adopted;
    free(cfgs);
    free(adopted);
    return ok;
}

/* after the fork and the privilege drop: open devices as server.username */
SERVER_FUNC(mod_audiostream_worker_init) {
    plugin_data * const p = p_d;
    char err[512];
    p->owner = getpid();
    /* as server.username, who writes it */
    if (p->state_file && 0 != state_file_check(p->state_file->ptr, err, sizeof(err))) {
        log_error(srv->errh, __FILE__, __LINE__,
          "audiostream.state-file = \"%s\": %s", p->state_file->ptr, err);
        return HANDLER_ERROR;
    }
    if (!slots_adopt_parked(srv, p)) return HANDLER_ERROR;
    /* every stream on its capture before any capture starts */
    for (uint32_t i = 0; i < p->nslots; ++i) {
        if (!p->slots[i].stream && !slot_stream_new(srv, p, &p->slots[i])) return HANDLER_ERROR;
    }
    for (uint32_t i = 0; i < p->nslots; ++i) {
        if (!slot_start(srv, &p->slots[i])) return HANDLER_ERROR;
    }
    titles_restore(p, srv);
    return HANDLER_GO_ON;
}

/* at exit, for streams lighttpd never reset: their connections may be gone,
 * so only the module's own lists are touched */
static void listener_discard(listener * const l) {
    listener_unlink(l);
    waiter_remove(l);
    free(l);
}

__attribute_cold__
static void slot_free(stream_slot * const slot, const int owned) {
    if (slot->fdn) {
        fdevent_fdnode_event_del(slot->srv->ev, slot->fdn);
        fdevent_unregister(slot->srv->ev, slot->fdn);
    }
    if (slot->wait_fdn) {
        fdevent_fdnode_event_del(slot->srv->ev, slot->wait_fdn);
        fdevent_unregister(slot->srv->ev, slot->wait_fdn);
    }
    if (slot->wait_fd >= 0) close(slot->wait_fd);
    /* HTTP/2 streams still open at exit are not reset by lighttpd */
    slot_each_listener(slot, listener_discard);
    for (listener *l = slot->waiters, *next; l; l = next) {   /* and those waiting */
        next = l->wait_next;
        l->waiting = 0;        /* the list goes as a whole */
        listener_discard(l);
    }
    slot->waiters = NULL;
    fanout_free(&slot->fan);
    /* The process that started a capture thread parks it: a reload in
     * the same process takes it on (worker_init); an exit stops it. In
     * another process (a graceful-restart-bg child) the thread does not
     * exist. */
    if (owned && slot->stream) stream_park(slot->stream);
    slot->stream = NULL;
    stream_config_free(&slot->cfg);
}

FREE_FUNC(mod_audiostream_free) {
    plugin_data * const p = p_d;
    const int owned = p->owner == getpid();
    for (uint32_t i = 0; i < p->nslots; ++i)
        slot_free(&p->slots[i], owned);
    free(p->slots);
    free(p->tables);
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
