/* Private structures of the core (client, calls, loop, auth, TLS). Not for lib/gen or bind.
 *
 * Who owns what (each list is changed by one file only, through its own helpers):
 * - call.c owns calls and their states: the client's list of unfinished calls, the login wait
 *   queue, the send queue and the done queue, and runs the callbacks.
 * - loop.c drives curl (multi handle, sockets) and the timer heap, and reports each finished
 *   transfer through pmx__call_transfer_done().
 * - auth.c decides whether a call goes out now, waits for a login or fails, and runs the login
 *   state machine; it asks call.c to park and release waiting calls.
 */
#ifndef PMX_CORE_H
#define PMX_CORE_H

#include "internal.h"

#include <curl/curl.h>

typedef struct pmx__cache pmx__cache;

/* ---- parameters ---- */
enum { PMX__P_STR = 1, PMX__P_INT, PMX__P_BOOL, PMX__P_DBL };
typedef struct pmx__param {
    char *name;
    char *value; /* text form */
    int kind;
} pmx__param;

struct pmx_params {
    pmx__param *v;
    size_t n, cap;
};

int pmx__params_copy(pmx_params *dst, const pmx_params *src);
/* Append "name=value&..." (escaped) to b; returns PMX_OK/PMX_ENOMEM. */
int pmx__params_form(const pmx_params *p, pmx__buf *b);
/* Append a JSON object (repeated names become arrays). */
int pmx__params_json(const pmx_params *p, pmx__buf *b);

/* ---- URL ---- */
typedef struct pmx__url {
    int tls;
    char *host; /* without brackets */
    int port;
    char *base; /* "https://host:port" */
} pmx__url;
int pmx__url_parse(const char *url, pmx__url *out);
void pmx__url_free(pmx__url *u);

/* One endpoint of the cluster. */
typedef struct pmx__endpoint {
    pmx__url url;
    char *api_prefix; /* base + "/api2/json" */
    size_t api_prefix_len;
    int64_t down_until; /* monotonic ms: avoided until then (it failed) */
    int64_t backoff_ms; /* next time it fails, avoided this long */
    char *node;         /* the PVE node it is, once known (uploads must reach their node) */
} pmx__endpoint;
/* Parse "url[,url...]" into a new array (*out, *n); all of one scheme. */
int pmx__endpoints_parse(const char *list, pmx__endpoint **out, size_t *n);
void pmx__endpoints_free(pmx__endpoint *eps, size_t n);

/* The retry policy of a call (from the client's, overridden per call). */
typedef struct pmx__retry {
    uint32_t max_attempts; /* including the first; 1 = none */
    int64_t base_ms, max_delay_ms, deadline_ms;
} pmx__retry;

/* A streamed request body (uploads): read fills buf, returns bytes (0 at the end) or < 0 on
 * error (PMX__SRC_OVERLONG: the program's read callback claimed more bytes than asked for);
 * rewind starts again from the first byte (PMX_OK or an error: no retry then). */
#define PMX__SRC_OVERLONG (-2)
typedef struct pmx__source {
    int64_t (*read)(void *ud, char *buf, size_t len);
    int (*rewind)(void *ud);
    void *ud;
    int64_t length; /* exact Content-Length */
    const char *content_type;
} pmx__source;

/* ---- calls ---- */
typedef enum {
    CALL_NEW = 0,
    CALL_AUTH_WAIT, /* parked behind a login (call.c's auth queue) */
    CALL_QUEUED,    /* waiting for a free connection (call.c's send queue) */
    CALL_RUNNING,   /* in the curl multi handle */
    CALL_RETRY_WAIT, /* backing off before the next attempt (its own timer) */
    CALL_GUEST_WAIT, /* a write waiting for the one before it to the same guest (guestq) */
    CALL_DONE,      /* result known, callback queued (call.c's done queue) */
    CALL_FINISHED   /* callback has run (or never will) */
} pmx__call_state;

typedef struct pmx__perr {
    char *name;
    char *msg;
} pmx__perr;

/* A FIFO of calls linked through pmx_call.qprev / qnext (a call is on one queue at most). */
typedef struct pmx__callq {
    pmx_call *head, *tail;
} pmx__callq;

struct pmx_call {
    int refs;
    pmx_client *client;
    pmx__call_state state;
    pmx_method method;
    char *path;       /* relative path as given (for logs and messages) */
    char *target;     /* path + query: appended to the endpoint's prefix at each attempt */
    char *url;        /* full URL of the current attempt */
    char *body;       /* request body (POST/PUT), NULL otherwise */
    size_t body_len;
    unsigned json_body : 1;
    unsigned internal : 1; /* library's own (login): not counted, no auth wait */
    unsigned secret : 1;   /* request or response holds secrets: wipe */
    unsigned retried : 1;  /* already resent after a 401 */
    unsigned with_ticket : 1;
    unsigned toobig : 1;        /* body over max_response */
    unsigned hdr_toobig : 1;    /* headers over PMX__MAX_HEADER_BYTES */
    unsigned headers_done : 1;  /* the final header block ended */
    unsigned counted : 1;       /* holds one of the client's n_transfers slots */
    unsigned setup_failed : 1;  /* a curl option could not be applied */
    unsigned idempotent : 1;    /* may be sent again after it reached the server */
    unsigned from_cache : 1;    /* answered by the GET cache */
    unsigned guest_admitted : 1; /* the write of its guest under way (others wait behind it) */
    char *guest_key;            /* "node/qemu/vmid" of a write to a guest, when serialised */
    unsigned resend_blocked : 1; /* curl wanted to resend it on its own: refused */
    unsigned sink_started : 1;  /* the write callback got bytes: no retry can undo that */
    int sink_error;             /* errno of a failed sink or source (ECANCELED: stopped) */
    /* attempts */
    uint32_t attempts;          /* times handed to the transport, curl's own resends included */
    uint32_t prereqs;           /* requests curl wrote in the current attempt */
    uint32_t failovers;         /* moves to another endpoint */
    pmx__retry retry;
    pmx__timer *retry_timer;    /* CALL_RETRY_WAIT */
    size_t ep;                  /* endpoint of the current attempt */
    const char *endpoint_seen;  /* its base URL (the client's string) */
    unsigned force_ep : 1;      /* go to endpoint ep, whatever the client's current one */
    int64_t retry_after_ms;     /* the server's Retry-After of this attempt, or -1 */
    int64_t progress_ms;        /* when the progress callback last ran */
    char *want_node;            /* must go to this node's endpoint (uploads), or NULL */
    /* streamed request body, response sink, progress */
    pmx__source src;
    unsigned has_src : 1;
    pmx_write_fn write_fn;
    char *out_path;             /* response body to this file */
    char *out_tmp;              /* ... written to this new file beside it, renamed on success */
    int out_fd;                 /* -1: none */
    int64_t sunk;               /* bytes given to the sink */
    pmx_progress_fn progress_fn;
    void *progress_ud;
    int64_t stall_ms, stall_bps;
    unsigned ticket_gen;        /* which ticket it was sent with */
    uint64_t cache_gen;         /* the GET cache's generation when this attempt was sent */
    int64_t timeout_ms;         /* total, from acceptance; 0: none */
    pmx__timer *deadline;       /* fires at timeout_ms after acceptance */
    size_t header_bytes;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    int64_t started_ms;

    /* response */
    int result;
    long http_status;
    char *reason;
    pmx__buf resp;
    const char *data;
    size_t data_len;
    int64_t total;
    char *error;
    pmx__perr *perrs;
    size_t n_perrs, cap_perrs;

    /* typed result */
    pmx__stream *stream; /* incremental decoder of 2xx bodies (typed calls), or NULL */
    const void *typed_ctx;
    pmx__decode_fn decode;
    pmx__result_free_fn result_free;
    void *typed;

    pmx_done_fn done;
    void *userdata;
    pmx_free_fn userdata_free; /* run once, when the call is freed */

    /* internal completion hook (login calls) runs instead of done */
    void (*on_done)(pmx_call *call);
    unsigned login_gen; /* login calls: the credentials generation they were made for */
    int login_kind;     /* login calls: auth.c's PMX__LOGIN_* */

    pmx_call *prev, *next;   /* client's list of unfinished calls */
    pmx_call *qprev, *qnext; /* the queue the call's state names */
};

/* Times handed to curl are capped here (about 70 years): curl adds them to its clock in ms. */
#define PMX__CURL_MAX_MS ((int64_t)1 << 41)

/* Response headers beyond this many bytes fail the call (PMX_ETOOBIG). */
#define PMX__MAX_HEADER_BYTES (64 * 1024)

/* ---- timers: a binary min-heap on (due, seq) ---- */
struct pmx__timer {
    int64_t due;
    uint64_t seq; /* FIFO among timers due at the same moment */
    size_t idx;   /* position in the heap */
    pmx__timer_fn fn;
    void *arg;
};

typedef struct pmx__sock {
    curl_socket_t fd;
    int events; /* PMX_POLL_IN|OUT */
} pmx__sock;

typedef enum { AUTH_NONE = 0, AUTH_TOKEN, AUTH_TICKET } pmx__auth_mode;

/* A stored callback's userdata and its destructor (run once when replaced or at free). */
typedef struct pmx__ud {
    void *ud;
    pmx_free_fn free_fn;
} pmx__ud;

struct pmx_client {
    pmx__endpoint *eps; /* the cluster's endpoints (one or more) */
    size_t n_eps;
    size_t cur_ep;      /* where calls go */
    int tls;            /* https (every endpoint has the same scheme) */
    unsigned fork_gen; /* the process generation that created it (fork detection) */

    /* auth */
    pmx__auth_mode auth;
    unsigned cred_gen;   /* bumped whenever the credentials change */
    char *token_header;  /* "Authorization: PVEAPIToken=..." (secret) */
    char *userid;
    char *password;      /* secret; NULL when only a ticket was given */
    char *ticket;        /* secret */
    char *csrf;          /* secret */
    char *cookie_header; /* "Cookie: PVEAuthCookie=..." (secret) */
    char *csrf_header;   /* "CSRFPreventionToken: ..." (secret) */
    int64_t ticket_born; /* monotonic ms at which the ticket's age was 0 */
    int ticket_refused;  /* the server refused the current ticket */
    int64_t renew_after; /* monotonic ms: no background renewal before (after a failed one) */
    unsigned ticket_gen; /* bumped on every new ticket */
    int ticket_lifetime; /* seconds */
    pmx_call *login;     /* login or renewal in flight */
    pmx_tfa_fn tfa_cb;
    pmx__ud tfa_ud;
    char *tfa_response; /* secret */

    /* TLS */
    int pinned;
    unsigned char (*pins)[32]; /* any of them passes */
    size_t n_pins;
    char *ca_file;
    int insecure;
    char pin_seen[100]; /* last mismatching fingerprint, for the error message */

    /* options */
    int64_t connect_ms, total_ms;
    int64_t stall_ms;    /* fail a transfer slower than stall_bps for this long; 0: never */
    int64_t stall_bps;
    int max_per_host;
    size_t max_response;
    pmx__retry retry;
    uint64_t rng; /* jitter of retry back-off */
    pmx__cache *cache; /* the optional GET cache (lib/cache.c), NULL when never set */
    int no_compression; /* pmx_client_set_compression(c, 0): no Accept-Encoding */

    /* logging */
    pmx_log_fn log_cb;
    pmx__ud log_ud;
    pmx_log_level log_level;
    int in_log; /* inside the log callback: calls into the client are refused */

    /* curl */
    CURLM *multi;
    CURLSH *share;
    CURL **easy_pool;
    size_t n_easy_pool;
    size_t n_easy_out; /* easy handles taken from the pool (or made) and not given back */
    /* Inside curl_multi_socket_action: a transfer callback (write, progress, item) may start or
     * cancel calls, but curl refuses to add or remove handles from inside its callbacks. Those
     * adds and removes wait here (one entry per handle at most, room for every handle out)
     * until curl has returned. */
    int in_curl;
    struct pmx__later {
        CURL *e;
        int add; /* 1: add to the multi handle, 0: remove and give back */
    } *later;
    size_t n_later, cap_later;

    /* loop */
    pmx__sock *socks;
    size_t n_socks, cap_socks;
    int64_t curl_due; /* -1: none */
    pmx__timer **heap;
    size_t n_timers, cap_timers;
    uint64_t timer_seq;
    pmx_socket_fn sock_cb;
    pmx__ud sock_ud;
    pmx_timer_fn timer_cb;
    pmx__ud timer_ud;
    int64_t armed_ms; /* last value given to timer_cb, -2 = never */

    /* calls (call.c) */
    /* Transfers handed to curl are capped at max_per_host (logins excepted), so curl never
     * queues a call: the rest wait here, and get their auth headers when a connection is free,
     * not when they were started. */
    pmx__callq sendq;
    pmx__callq authq; /* waiting for a login */
    pmx__callq doneq; /* callbacks to run */
    pmx__callq guestq; /* writes waiting for an earlier write to the same guest */
    int guest_writes;  /* serialise writes per guest (pmx_client_set_guest_writes) */
    int n_transfers;  /* counted transfers in the multi handle */
    int used;         /* a transfer was made: connections / TLS sessions may be cached */

    pmx_call *calls;  /* unfinished calls (any state before FINISHED) */
    size_t pending;   /* unfinished non-internal calls */

    int in_callback;
    int destroying;
    int free_requested;
};

/* ---- call.c: calls, their states and queues ---- */
/* Start a call (accepted: state NEW) through auth: send now, park, or fail. */
void pmx__call_submit(pmx_call *call);
/* Hand queued calls to free connections. */
void pmx__call_pump(pmx_client *c);
/* Result known: leave every queue and the multi handle, queue the callback. Idempotent. */
void pmx__call_complete(pmx_call *call, int result, const char *msg);
/* loop.c's one hook: a transfer ended with curl's code. */
void pmx__call_transfer_done(pmx_call *call, CURLcode code);
/* Run queued callbacks (until a free is requested). */
void pmx__call_dispatch(pmx_client *c);
/* Complete every unfinished call with code (client free). */
void pmx__call_fail_all(pmx_client *c, int code, const char *msg);
/* The login wait queue, for auth.c. */
void pmx__call_park(pmx_call *call);
void pmx__call_release_parked(pmx_client *c);
void pmx__call_fail_parked(pmx_client *c, int code, const char *msg);
int pmx__call_has_parked(const pmx_client *c);
int pmx__call_new_internal(pmx_client *c, pmx_method m, const char *path, const pmx_params *p,
                           void (*on_done)(pmx_call *), pmx_call **out);
int pmx__has_unfinished(const pmx_client *c); /* calls or callbacks outstanding */

/* ---- loop.c: curl, sockets, timers ---- */
int pmx__loop_init(pmx_client *c);
/* Close the multi handle, the pooled easy handles and the share, in the order curl needs. */
void pmx__loop_close(pmx_client *c);
/* Drop every cached connection and TLS session (new multi and share handles). Only while no
 * call is pending. */
int pmx__loop_reset(pmx_client *c);
void pmx__loop_update_timer(pmx_client *c);
void pmx__loop_forget_socks(pmx_client *c);
/* Fire every timer now with the client marked destroying (client free). */
void pmx__loop_drain_timers(pmx_client *c);
/* A pooled easy handle (reset), or a new one; NULL on ENOMEM. */
CURL *pmx__loop_take_easy(pmx_client *c);
/* Add / remove a transfer; add returns PMX_OK or a PMX_E* code with *msg set. */
int pmx__loop_add(pmx_client *c, CURL *e, const char **msg);
/* Remove the transfer and return the handle to the pool. */
void pmx__loop_remove(pmx_client *c, CURL *e);

/* ---- endpoints (client.c) ---- */
/* The endpoint a new attempt of call goes to; moves the client on when the current one is
 * down. */
size_t pmx__endpoint_pick(pmx_client *c, const pmx_call *call);
/* The endpoint failed (never reached, or 595/596): avoid it for a while, move the client on.
 * Returns 1 when another endpoint is there to take the call. */
int pmx__endpoint_failed(pmx_client *c, size_t ep);
/* The endpoint answered (any HTTP answer but a proxy error): its back-off starts small again. */
void pmx__endpoint_answered(pmx_client *c, size_t ep);

/* Defaults of the retry policy and the endpoint back-off. */
#define PMX__RETRY_ATTEMPTS 4
#define PMX__RETRY_BASE_MS 250
#define PMX__RETRY_MAX_DELAY_MS 5000
#define PMX__RETRY_DEADLINE_MS 30000
#define PMX__EP_MIN_BACKOFF_MS 5000
#define PMX__EP_MAX_BACKOFF_MS 300000
/* Read a public retry policy (NULL: the defaults). PMX_OK or PMX_EINVAL. */
int pmx__retry_from_opts(pmx__retry *r, const pmx_retry_opts *o);

/* ---- cache.c: the optional GET cache ---- */
void pmx__cache_free(pmx_client *c);
void pmx__cache_clear(pmx_client *c);
/* A fresh answer for target: 1 with a copy in *body (pmx__malloc'd, NUL-terminated). */
int pmx__cache_lookup(pmx_client *c, const char *target, char **body, size_t *len);
/* Bumped by every invalidation and clear (a write, new credentials): take it when a GET is
 * sent, and give it to pmx__cache_store(), which keeps the answer only if it is unchanged. */
uint64_t pmx__cache_gen(const pmx_client *c);
void pmx__cache_store(pmx_client *c, const char *target, const char *body, size_t len,
                      uint64_t gen);
/* A write to path (started or ended): drop the answers it may change. */
void pmx__cache_invalidate(pmx_client *c, const char *path);

/* ---- client.c ---- */
int pmx__client_reap(pmx_client *c); /* free requested inside a callback: do it now */
/* Run a stored userdata destructor once and forget it. */
void pmx__ud_release(pmx__ud *u);
/* Store new userdata in slot, running the old one's destructor once. */
void pmx__ud_set(pmx__ud *slot, void *ud, pmx_free_fn free_fn);

/* ---- auth.c ---- */
enum { PMX__AUTH_SEND = 1, PMX__AUTH_WAIT = 0, PMX__AUTH_DONE = -1 };
/* Decide how call goes out: PMX__AUTH_SEND (send now), PMX__AUTH_WAIT (parked behind a login),
 * or PMX__AUTH_DONE (completed: the server refused the ticket and there is no password). Only
 * the server's refusal fails calls, never the ticket's age as this client believes it. */
int pmx__auth_prepare(pmx_call *call);
/* Add auth headers to the call's header list; PMX_OK or PMX_ENOMEM. */
int pmx__auth_headers(pmx_call *call, struct curl_slist **list);
/* The ticket a call was sent with was refused (auth-layer 401), before its slot is freed:
 * queued calls must not go out with it. */
void pmx__auth_ticket_refused(pmx_call *call);
/* A ticket call got an auth-layer 401: returns 1 when it was queued for a resend. */
int pmx__auth_on_401(pmx_call *call);
void pmx__auth_clear(pmx_client *c);

/* ---- tls.c ---- */
/* Apply the TLS policy to a transfer. PMX_OK, or PMX_ETLS with *msg when a security option
 * cannot be applied (the transfer must then not go out). */
int pmx__tls_setup(pmx_client *c, CURL *easy, const char **msg);
int pmx__fingerprint_parse(const char *s, unsigned char out[32]);
/* Whether libcurl's TLS backend lets us pin (OpenSSL of our major version); *why names it
 * otherwise. The test hook takes libcurl's TLS version text and our OpenSSL_version_num(). */
int pmx__tls_can_pin(const char **why);
int pmx__tls_pin_backend_ok(const char *ssl_version, unsigned long ours, const char **why);

#endif
