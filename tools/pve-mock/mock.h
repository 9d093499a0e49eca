/* pve-mock: shared declarations.
 *
 * One process-wide `struct mock` (g_mock) holds configuration, state and
 * counters: the mock is single-threaded and runs one libevent loop, so a
 * global keeps every handler signature short. */
#ifndef PVE_MOCK_H
#define PVE_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

/* Fixed default credentials (documented in README.md). */
#define MOCK_USER "root@pam"
#define MOCK_PASSWORD "pve-mock-pass"
#define MOCK_TOKEN_ID "root@pam!mock"
#define MOCK_TOKEN_SECRET "6f1c2a4e-93b7-4d2e-8a5f-0c7d9e1b3a24"
/* A second token whose ACLs allow reading only: every non-GET call gets 403. */
#define MOCK_RO_TOKEN_ID "root@pam!readonly"
#define MOCK_RO_TOKEN_SECRET "3d0f3b8e-5c1a-4f7e-9b2d-7a6c5e4f3a21"
#define MOCK_TFA_USER "tfa@pve"
#define MOCK_TFA_PASSWORD "pve-mock-tfa"
#define MOCK_TOTP_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" /* base32 of 20 bytes */

#define MOCK_MAX_LISTENERS 16

struct mock_config {
    const char *listen[MOCK_MAX_LISTENERS]; /* --listen, repeatable */
    int nlisten;
    int nodes;               /* --nodes N: N listeners (and at least N nodes) */
    const char *control;     /* --control ADDR:PORT ("none" = no control listener) */
    const char *fixture;
    const char *ca_out;
    const char *upload_dir;  /* --upload-dir: where the mock's temp dir is made */
    int request_log;         /* --request-log N: entries kept */
    int ticket_lifetime;     /* seconds */
    int auth_delay_ms;
    int task_ms;
    int latency_ms;
    int vms;
    int tfa;
    int verbose;
};

/* Switches set through POST /_mock/faults (README.md, "Faults"). A count N affects the next N
 * answers that match the filter; -1 affects every one until the next reset. */
struct mock_faults {
    int latency_ms;
    /* substitute answers: the handler does not run */
    int fail_5xx;
    int fail_status;
    char *fail_reason;       /* NULL: the default text of fail_status */
    int retry_after;         /* seconds, -1 = no Retry-After header */
    int lock_timeout;
    int close_after_request; /* FIN, no answer */
    int reset_before_response; /* RST, no answer */
    /* answer shape */
    int malformed;
    long oversize_bytes;     /* consumed by the next successful answer */
    int wrong_type;
    int wrong_type_member;   /* 0: swap the whole data; 1: a member of an object becomes an array */
    int header_bytes;        /* count of answers with a long header line */
    long header_size;        /* its size */
    int reason_ctl;          /* control characters in the reason phrase of error answers */
    /* delivery */
    int close_mid_response;
    int reset_mid_body;
    int close_after_headers;
    int long_content_length;
    int slow;
    int slow_bps;
    int slow_body_only;
    /* login and tickets (not filtered) */
    int login_refuse;
    int ticket_refuse;
    int need_tfa;
    int tfa_loop;
    int login_dup;
    /* tasks (not filtered) */
    int task_log_stale;
    int task_log_dup;
    char *task_exitstatus;   /* NULL = "OK" */
    /* connections (not filtered) */
    int reset_accept;
    /* transfers */
    int64_t download_size;
    /* the filter: which API requests the counted faults above apply to */
    char *match_path;        /* prefix of the path below /api2/json; NULL = any */
    int match_method;        /* EVHTTP_REQ_*; 0 = any */
    int match_listener;      /* -1 = any */
};

struct mock_stats {
    long connections, open, requests, logins, renewals, tfa_logins, accepted_total;
    long compressed; /* answers sent gzip- or deflate-encoded */
};

struct vm {
    int vmid;
    char *name;
    char *node;
    int running;
    int64_t maxmem;
    int cores;
    int64_t maxdisk;
    time_t started;  /* when it last went to running */
    cJSON *config;   /* extra config keys, stored verbatim (net0, ...) */
    int busy;        /* a task owns it (create in progress) */
};

struct node {
    char *name;
    int maxcpu;
    int64_t maxmem;
    int64_t maxdisk;
};

struct task;
typedef void (*task_done_fn)(struct task *t, int ok, void *arg);

struct task {
    char upid[256];
    char *node, *type, *id, *user;
    unsigned pid, pstart;
    time_t starttime;
    time_t endtime;   /* when it stopped (the task index's endtime) */
    int running;
    char *exitstatus; /* set when stopped */
    char *planned;    /* exit status to use when it finishes (NULL = OK) */
    char **log;
    int nlog, caplog;
    int elapsed_ms;
    int action; /* ACT_*: effect on the guest when it ends well */
    task_done_fn done; /* called once when it stops (ok = exit status OK or WARNINGS) */
    void *done_arg;    /* freed with free() after done ran, or with the task */
    struct event *tick;
    struct task *next;
};

struct listener;
struct conn;

struct mock {
    struct mock_config cfg;
    struct mock_faults faults;
    struct mock_stats stats;
    struct event_base *base;
    unsigned char key[32]; /* HMAC key for tickets and CSRF tokens */
    unsigned char totp_key[64];
    size_t totp_key_len;

    struct listener *listeners; /* API listeners; listener i serves node i */
    int nlisteners;
    struct listener *control;   /* /_mock only, plain HTTP; NULL with --control none */
    char *tmpdir;               /* uploads and stored volumes */

    struct node *nodes;
    int nnodes;
    struct vm **vms;
    int nvms, capvms;
    struct task *tasks; /* newest first */
    int ntasks;
    unsigned next_pid;
};

extern struct mock g_mock;

void mock_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *method_name(int evhttp_method);

/* ---- tls.c ---------------------------------------------------------------------------------- */
enum { CERT_NORMAL, CERT_SAME_CA, CERT_FOREIGN_CA };
/* Makes the CA, one leaf per API listener and the two alternative leaves. */
int tls_setup(const char *ca_out, int nleaves);
void tls_free(void);
SSL_CTX *tls_ctx(int leaf, int cert_mode);        /* leaf = listener index */
const char *tls_fingerprint(int leaf, int cert_mode);

/* ---- server.c: listeners, connections, HTTP/1.1 framing and delivery ----------------------- */

/* One request as read from the wire. The server owns it until it hands it to the application
 * (http_head / http_request); from then on the application owns it until it answers (req_reply,
 * req_drop, req_stream). When the connection dies while the application holds the request,
 * conn becomes NULL and on_detach (if set) runs; answering a detached request frees it. */
struct req {
    struct conn *conn;
    int listener;             /* index of the API listener, -1 = control listener */
    long conn_id;             /* serial number of the TCP connection (1, 2, ...) */
    int method;               /* EVHTTP_REQ_*, 0 = another verb */
    char *method_name;        /* as sent */
    char *path;               /* raw path, up to '?' */
    char *query;              /* raw query, NULL when there is none */
    int major, minor;
    struct evkeyvalq headers;
    int64_t content_length;   /* -1 = no Content-Length */
    int64_t bytes_in;         /* body bytes received so far */
    struct evbuffer *body;    /* the body of a buffered request */
    long log_id;              /* request-log entry, -1 = none */
    int keep_alive;           /* the client allows another request on this connection */
    /* set by the application in http_head for a streamed body (uploads) */
    void (*sink_data)(struct req *rq, struct evbuffer *src, size_t n); /* must drain n bytes */
    void (*sink_end)(struct req *rq); /* every Content-Length byte arrived */
    void (*on_detach)(struct req *rq);
    void *app;
    /* set by http.c at head time */
    char *user;               /* authenticated user (malloc'd) */
    int via_token;
    int auth_kind;            /* AUTHK_* for the request log */
};

enum { AUTHK_NONE, AUTHK_TICKET, AUTHK_TOKEN, AUTHK_FAILED };

/* Delivery of an answer (faults that break the transfer). */
enum {
    DELIVER_NORMAL,
    DELIVER_CLOSE_MID,      /* headers (full Content-Length) + half the body, then FIN */
    DELIVER_RESET_MID,      /* the same, then RST */
    DELIVER_CLOSE_AFTER_HEADERS,
    DELIVER_LONG_CL,        /* Content-Length larger than the body, body, then FIN */
    DELIVER_SLOW,           /* at slow_bps bytes per second, then close */
};

struct reply {
    int status;
    char *reason;      /* malloc'd */
    char *body;        /* malloc'd */
    size_t len;
    const char *ctype; /* NULL: no Content-Type */
    int close;
    int gzip;          /* 1 gzip, 2 deflate */
    int no_length;     /* no Content-Length header (empty 59x bodies, streams) */
    char *extra;       /* malloc'd extra header lines, each ending in \r\n */
    int deliver;       /* DELIVER_* */
    int slow_bps, slow_body_only;
    const char *fault; /* name for the request log, NULL = none */
};

/* Source of a streamed answer body: fill adds up to max bytes to out and returns how many,
 * 0 at the end. free releases arg. */
struct stream_src {
    size_t (*fill)(void *arg, struct evbuffer *out, size_t max);
    void (*free)(void *arg);
    void *arg;
    int64_t size;      /* total, when known (for the mid-body faults); -1 = unknown */
};

int server_start(void);   /* binds every listener, prints the ready line */
void server_stop(void);
/* Answer rq (takes the strings of r); after delay_ms when > 0. */
void req_reply(struct req *rq, struct reply *r, int delay_ms);
/* No answer: close the connection now, with RST when rst is set, else FIN. */
void req_drop(struct req *rq, int rst, const char *fault);
/* A streamed answer: head (status, reason, ctype, extra; no Content-Length), then src, then a
 * close; deliver DELIVER_CLOSE_MID / DELIVER_RESET_MID cut it at half of src->size. */
void req_stream(struct req *rq, struct reply *head, struct stream_src *src);
void req_free(struct req *rq);
void req_count_connection(struct req *rq); /* an API request: counts its connection once */
const char *req_header(const struct req *rq, const char *name);
/* Per-listener control: "down", "up", "reset", "die", "drop"; ms > 0 with "down"/"reset"
 * restores "up" after ms. except = a connection to spare (the one asking). 0 or -1 + *err. */
int listener_action(int index, const char *action, int ms, struct conn *except, const char **err);
int listener_set_cert(int index, int cert_mode); /* index -1 = all */
cJSON *listeners_json(void);
const char *listener_host(int index); /* its numeric address, e.g. "127.0.0.1" */
int listener_of_node(const char *node); /* -1 when the node has no listener */
void server_reset(void); /* listeners up, normal certificates */

/* ---- http.c: pveproxy's HTTP layer ---------------------------------------------------------- */
enum { HEAD_BUFFER, HEAD_STREAM, HEAD_ANSWERED };
int http_head(struct req *rq);     /* the head is read: decide how the body is taken */
void http_request(struct req *rq); /* a buffered request is complete */
/* Plain-text HTTP-layer error, reason = message, connection closed. */
void http_plain_error(struct req *rq, int status, const char *msg, int delay_ms);
/* PVE's decode_urlencoded into obj (a repeated key becomes an array). A value with a NUL
 * byte (%00) becomes the array of its NUL-separated pieces, its type flagged MOCK_NUL_LIST:
 * a -list format takes them as items, any other parameter refuses it with NUL_TEXT. */
#define MOCK_NUL_LIST (1 << 12) /* beside cJSON's own flags; kept by cJSON_Duplicate */
#define NUL_TEXT "value contains a NUL byte (%00)"
void form_decode(const char *s, size_t n, cJSON *obj);
/* Substitute answers and connection faults for a complete request. Returns 1 when it answered. */
int http_pre_faults(struct req *rq, const char *rel_path);
/* The answer to a request that passed the HTTP layer: c->status/data/message as set by the
 * handler, with every answer fault applied. */
struct call;
void http_answer(struct req *rq, struct call *c);

/* One API call as seen by a route handler. The handler fills in either
 * `data` (success; `total` >= 0 adds "total") or `status`/`message`. */
struct call {
    int method;          /* EVHTTP_REQ_* */
    const char *path;    /* decoded, relative to /api2/json, e.g. "/nodes/pve1/qemu" */
    char **seg;          /* path segments */
    int nseg;
    cJSON *params;       /* object: name -> string | array | JSON value (path params merged) */
    const char *user;    /* authenticated user, NULL for unauthenticated routes */
    int via_token;
    /* result */
    int status;          /* 200 unless error */
    char *message;       /* error message (without trailing newline) */
    cJSON *errors;       /* object param -> text, for 400 */
    cJSON *data;
    long total;          /* -1 = none */
    int delay_ms;        /* extra delay before answering (failed login) */
    /* set by handlers that answer in another way (streams) */
    struct req *req;     /* the request (for streams); NULL in unit use */
    int answered;        /* the handler answered rq itself */
    int empty_body;      /* answer without a body (59x) */
    const char *injected; /* the fault that made this answer, NULL = none */
};

void call_error(struct call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void call_param_error(struct call *c, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- control.c: /_mock routes, the fault switches, the request log -------------------------- */
void control_init(void); /* after the command line: keeps the settings /_mock/reset restores */
void control_request(struct req *rq, const char *path);
void faults_clear(void);
/* Consume one use of a counted fault (-1 = forever). Returns 1 when it applies. */
int fault_take(int *counter);
/* Does the filter (path, method, listener) select this request? */
int fault_match(const struct req *rq, const char *rel_path);
long reqlog_add(const struct req *rq);
void reqlog_status(long id, int status, const char *fault);
void reqlog_bytes(long id, int64_t bytes_in);
void reqlog_auth(long id, int kind);
void reqlog_gone(long id, int64_t bytes_in); /* the client left before an answer was decided */
void reqlog_free(void);

/* ---- routes.c ------------------------------------------------------------------------------- */
struct route_param {
    const char *name;
    /* P_STATUS_LIST: a string of format pve-task-status-type-list */
    enum { P_STR, P_INT, P_BOOL, P_ENUM, P_STATUS_LIST } type;
    int required;
    int64_t min, max;    /* for P_INT when min <= max */
    const char *extra;   /* P_ENUM: comma-separated values; P_STR: name is a prefix "net" matched as net\d+ when extra="indexed" */
};

typedef void (*route_fn)(struct call *c);

struct route {
    int method;              /* EVHTTP_REQ_* */
    const char *pattern;     /* "/nodes/{node}/qemu/{vmid}/status/current" */
    route_fn fn;
    int noauth;              /* reachable without a ticket or token */
    const struct route_param *params; /* NULL = skip validation; terminated by name NULL */
};

const struct route *route_find(const struct call *c, int *path_known);
void route_dispatch(const struct route *r, struct call *c);
/* The node of parameter "node", or NULL after a 500 "hostname lookup '…' failed" (what
 * pveproxy says when it cannot resolve a node to proxy to). */
struct node *route_need_node(struct call *c);
/* Checks c->params against a parameter table (as route_dispatch does). */
void route_validate(struct call *c, const struct route_param *ps);

/* generic.c: answers a method of libproxmox's method tables (pmx_method_find) that no route takes:
 * validates the parameters against the table and fills in a sample result or a task UPID.
 * Returns 0 when no method matches (the caller answers 501). */
int generic_dispatch(struct call *c);

/* ---- auth.c --------------------------------------------------------------------------------- */
enum auth_result { AUTH_OK, AUTH_NO_TICKET, AUTH_FAILED, AUTH_BAD_CSRF };
/* csrf: whether a ticket needs the CSRF header (non-GET, not an upload). *kind: AUTHK_*. */
enum auth_result auth_check(struct evkeyvalq *headers, int csrf, char **user, int *via_token,
                            int *kind);
void auth_route_ticket_post(struct call *c);
void auth_route_ticket_get(struct call *c);
void auth_route_domains(struct call *c);
void auth_init(void);

/* ---- transfer.c: uploads, stored volumes, streamed downloads -------------------------------- */
int transfer_init(void);
void transfer_free(void);
int upload_path(const char *rel_path, char **node, char **storage); /* POST …/upload? */
int upload_head(struct req *rq, const char *node, const char *storage); /* HEAD_* */
void transfer_route_content(struct call *c);
void transfer_route_upload(struct call *c); /* POST …/upload without a body */
void transfer_route_file_restore(struct call *c);
void transfer_task_log_download(struct call *c, const struct task *t);

/* ---- state.c -------------------------------------------------------------------------------- */
int state_load(const char *fixture, int extra_vms, int min_nodes);
void state_free(void);
struct node *state_node(const char *name);
struct vm *state_vm(int vmid);
struct vm *state_vm_add(int vmid, const char *name, const char *node);
void state_vm_remove(int vmid);
struct task *task_start(const char *node, const char *type, const char *id, const char *user,
                        int vmid_target, int action);
/* A task whose exit status and first log lines the caller sets before it runs. */
struct task *task_start_ex(const char *node, const char *type, const char *id, const char *user,
                           const char *const *lines, const char *planned, task_done_fn done,
                           void *done_arg);
struct task *task_find(const char *upid);
void task_log_line(struct task *t, const char *line);
void task_stop(struct task *t);
int upid_valid(const char *upid);
cJSON *vm_resource_json(const struct vm *v);

enum { ACT_NONE, ACT_START, ACT_STOP, ACT_CREATE, ACT_CREATE_START };

#endif
