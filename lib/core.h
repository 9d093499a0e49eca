/* Private structures of the core (client, calls, loop, auth). Not for lib/gen or bind. */
#ifndef PMX_CORE_H
#define PMX_CORE_H

#include "internal.h"

#include <curl/curl.h>

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

/* ---- calls ---- */
typedef enum {
    CALL_NEW = 0,
    CALL_AUTH_WAIT, /* waiting behind a login */
    CALL_QUEUED,    /* waiting for a free connection (the client's send queue) */
    CALL_RUNNING,   /* in the curl multi handle */
    CALL_DONE,      /* result known, callback queued */
    CALL_FINISHED   /* callback has run (or never will) */
} pmx__call_state;

typedef struct pmx__perr {
    char *name;
    char *msg;
} pmx__perr;

struct pmx_call {
    int refs;
    pmx_client *client;
    pmx__call_state state;
    pmx_method method;
    char *path;       /* relative path as given (for logs and messages) */
    char *url;        /* full URL including the query */
    char *body;       /* request body (POST/PUT), NULL otherwise */
    size_t body_len;
    unsigned json_body : 1;
    unsigned internal : 1; /* library's own (login): not counted, no auth wait */
    unsigned secret : 1;   /* request or response holds secrets: wipe */
    unsigned retried : 1;  /* already resent after a 401 */
    unsigned with_ticket : 1;
    unsigned toobig : 1;
    unsigned ticket_gen; /* which ticket it was sent with */
    unsigned counted : 1;   /* holds one of the client's n_transfers slots */
    int32_t timeout_ms;
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
    size_t n_perrs;

    /* typed result */
    pmx__stream *stream; /* incremental decoder of 2xx bodies (typed calls), or NULL */
    const void *typed_ctx;
    pmx__decode_fn decode;
    pmx__result_free_fn result_free;
    void *typed;

    pmx_done_fn done;
    void *userdata;

    /* internal completion hook (login calls) runs instead of done */
    void (*on_done)(pmx_call *call);

    pmx_call *prev, *next;   /* client's list of unfinished calls */
    pmx_call *qnext;         /* completion queue / auth wait queue */
};

/* ---- timers ---- */
struct pmx__timer {
    int64_t due;
    pmx__timer_fn fn;
    void *arg;
    pmx__timer *next;
};

typedef struct pmx__sock {
    curl_socket_t fd;
    int events; /* PMX_POLL_IN|OUT */
} pmx__sock;

typedef enum { AUTH_NONE = 0, AUTH_TOKEN, AUTH_TICKET } pmx__auth_mode;

struct pmx_client {
    pmx__url url;
    char *api_prefix; /* base + "/api2/json" */
    size_t api_prefix_len;

    /* auth */
    pmx__auth_mode auth;
    char *token_header;  /* "Authorization: PVEAPIToken=..." (secret) */
    char *userid;
    char *password;      /* secret; NULL when only a ticket was given */
    char *ticket;        /* secret */
    char *csrf;          /* secret */
    char *cookie_header; /* "Cookie: PVEAuthCookie=..." (secret) */
    char *csrf_header;   /* "CSRFPreventionToken: ..." (secret) */
    int64_t ticket_time; /* epoch seconds from the ticket */
    unsigned ticket_gen; /* bumped on every new ticket */
    int ticket_lifetime;
    pmx_call *login;     /* login or renewal in flight */
    int login_is_renewal;
    pmx_call *auth_wait_head, *auth_wait_tail;
    pmx_tfa_fn tfa_cb;
    void *tfa_ud;
    char *tfa_response; /* secret */

    /* TLS */
    int pinned;
    unsigned char pin[32];
    char *ca_file;
    int insecure;
    char pin_seen[100]; /* last mismatching fingerprint, for the error message */

    /* options */
    long connect_ms, total_ms;
    int max_per_host;
    size_t max_response;
    int no_compression; /* pmx_client_set_compression(c, 0): no Accept-Encoding */

    /* logging */
    pmx_log_fn log_cb;
    void *log_ud;
    pmx_log_level log_level;

    /* curl */
    CURLM *multi;
    CURLSH *share;
    CURL **easy_pool;
    size_t n_easy_pool;

    /* loop */
    pmx__sock *socks;
    size_t n_socks, cap_socks;
    int64_t curl_due; /* -1: none */
    pmx__timer *timers;
    pmx_socket_fn sock_cb;
    void *sock_ud;
    pmx_timer_fn timer_cb;
    void *timer_ud;
    int armed_ms; /* last value given to timer_cb, -2 = never */

    /* calls */
    /* Transfers handed to curl are capped at max_per_host (logins excepted), so curl never
     * queues a call: the rest wait here, and get their auth headers and remaining time when a
     * connection is free, not when they were started. */
    pmx_call *sendq_head, *sendq_tail;
    int n_transfers; /* counted transfers in the multi handle */
    int used;        /* a transfer was made: connections / TLS sessions may be cached */

    pmx_call *calls;  /* unfinished calls (any state before FINISHED) */
    size_t pending;   /* unfinished non-internal calls */
    pmx_call *done_head, *done_tail;

    int in_callback;
    int destroying;
    int free_requested;
};

/* call.c */
void pmx__call_send(pmx_call *call);           /* (re)send: queue, or headers + add to multi */
void pmx__call_pump(pmx_client *c);            /* hand queued calls to free connections */
void pmx__call_complete(pmx_call *call, int result, const char *msg); /* queue callback */
void pmx__call_finished_transfer(pmx_call *call, CURLcode code);
int pmx__call_new_internal(pmx_client *c, pmx_method m, const char *path, const pmx_params *p,
                           void (*on_done)(pmx_call *), pmx_call **out);
void pmx__call_release_easy(pmx_call *call);

/* loop.c */
int pmx__loop_init(pmx_client *c);
/* Close the multi handle, the pooled easy handles and the share, in the order curl needs. */
void pmx__loop_close(pmx_client *c);
/* Drop every cached connection and TLS session (new multi and share handles). Only while no
 * call is pending. */
int pmx__loop_reset(pmx_client *c);
void pmx__loop_update_timer(pmx_client *c);
void pmx__loop_dispatch(pmx_client *c); /* run queued callbacks */
void pmx__loop_forget_socks(pmx_client *c);

/* auth.c */
/* Decide how call goes out: returns 1 when it can be sent now, 0 when it waits for a login
 * (queued), or a negative code when it must fail. */
int pmx__auth_prepare(pmx_call *call);
/* Add auth headers to the call's header list; PMX_OK or PMX_ENOMEM. */
int pmx__auth_headers(pmx_call *call);
/* The ticket a call was sent with was refused (auth-layer 401): stop using it, when a password
 * allows a fresh login. */
void pmx__auth_ticket_refused(pmx_call *call);
/* A ticket call got an auth-layer 401: returns 1 when it was queued for a resend. */
int pmx__auth_on_401(pmx_call *call);
void pmx__auth_clear(pmx_client *c);
void pmx__auth_fail_waiting(pmx_client *c, int code, const char *msg);

/* tls.c */
int pmx__tls_setup(pmx_client *c, CURL *easy);
int pmx__fingerprint_parse(const char *s, unsigned char out[32]);

#endif
