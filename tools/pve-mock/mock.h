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

struct mock_config {
    const char *listen;
    const char *fixture;
    const char *ca_out;
    int ticket_lifetime; /* seconds */
    int auth_delay_ms;
    int task_ms;
    int latency_ms;
    int vms;
    int tfa;
    int verbose;
};

/* Switches set through POST /_mock/faults; counters are consumed per answer. */
struct mock_faults {
    int latency_ms;
    int close_mid_response;
    int fail_5xx;
    int fail_status;
    int malformed;
    long oversize_bytes;  /* 0 = off; consumed by the next API answer */
    char *task_exitstatus; /* NULL = "OK" */
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

struct task {
    char upid[256];
    char *node, *type, *id, *user;
    unsigned pid, pstart;
    time_t starttime;
    int running;
    char *exitstatus; /* set when stopped */
    char *planned;    /* exit status to use when it finishes (NULL = OK) */
    char **log;
    int nlog, caplog;
    int elapsed_ms;
    int action; /* ACT_*: effect on the guest when it ends well */
    struct event *tick;
    struct task *next;
};

struct mock {
    struct mock_config cfg;
    struct mock_faults faults;
    struct mock_stats stats;
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl_ctx;
    char fingerprint[100];
    unsigned char key[32]; /* HMAC key for tickets and CSRF tokens */
    unsigned char totp_key[64];
    size_t totp_key_len;

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
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tls.c */
int tls_setup(const char *ca_out);
void tls_free(void);

/* http.c */
int http_start(void);
void http_stop(void);

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
};

void call_error(struct call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void call_param_error(struct call *c, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* routes.c */
struct route_param {
    const char *name;
    enum { P_STR, P_INT, P_BOOL, P_ENUM } type;
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

/* generic.c: answers a method of libproxmox's tables (pmx_method_find) that no route takes:
 * validates the parameters against the table and fills in a sample result or a task UPID.
 * Returns 0 when no method matches (the caller answers 501). */
int generic_dispatch(struct call *c);

/* auth.c */
enum auth_result { AUTH_OK, AUTH_NO_TICKET, AUTH_FAILED, AUTH_BAD_CSRF };
enum auth_result auth_check(struct evkeyvalq *headers, int method, char **user, int *via_token);
void auth_route_ticket_post(struct call *c);
void auth_route_ticket_get(struct call *c);
void auth_route_domains(struct call *c);
void auth_init(void);

/* state.c */
int state_load(const char *fixture, int extra_vms);
void state_free(void);
struct node *state_node(const char *name);
struct vm *state_vm(int vmid);
struct vm *state_vm_add(int vmid, const char *name, const char *node);
void state_vm_remove(int vmid);
struct task *task_start(const char *node, const char *type, const char *id, const char *user,
                        int vmid_target, int action);
struct task *task_find(const char *upid);
void task_stop(struct task *t);
int upid_valid(const char *upid);
cJSON *vm_resource_json(const struct vm *v);

enum { ACT_NONE, ACT_START, ACT_STOP, ACT_CREATE, ACT_CREATE_START };

#endif
