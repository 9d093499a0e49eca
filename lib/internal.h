/* libproxmox internal interfaces shared between lib/ modules. Not installed. */
#ifndef PMX_INTERNAL_H
#define PMX_INTERNAL_H

#ifndef PROXMOX_COMPILATION
#define PROXMOX_COMPILATION 1
#endif
#include <proxmox/proxmox.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- allocation (lib/alloc.c): every library allocation goes through these ---- */
void *pmx__malloc(size_t n);
void *pmx__calloc(size_t n, size_t size);
void *pmx__realloc(void *p, size_t n);
void pmx__free_nonnull(void *p);
/* NULL is fine; checked here, inline, since hot paths (the decoder's per-member key copy) free
 * NULL far more often than anything else. */
static inline void pmx__free(void *p) {
    if (p)
        pmx__free_nonnull(p);
}
char *pmx__strdup(const char *s);
char *pmx__strndup(const char *s, size_t n);
/* printf into a new string; NULL on ENOMEM. */
char *pmx__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Blocks freed through the wiping allocators of pmx_global_init() so far (for tests). */
size_t pmx__wiping_frees(void);
/* ASCII classes, the same in every locale (isalnum & co. also take bytes over 0x7f in a
 * single-byte locale such as de_DE.ISO-8859-1: PVE's own checks are ASCII). */
static inline int pmx__is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline int pmx__is_alnum(int c) { return pmx__is_alpha(c) || (c >= '0' && c <= '9'); }
static inline int pmx__is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
/* Wipe memory so the compiler cannot elide it. */
void pmx__wipe(void *p, size_t n);

/* Big blocks of PMX__BLOCK_SIZE bytes (lib/alloc.c): result arenas of large listings take them
 * from a process-wide cache (at most 16 MiB) and give them back, so steady polling reuses its
 * memory. Thread-safe. pmx__block_get returns NULL when out of memory; put takes NULL.
 * pmx__block_trim() frees the blocks unused for 30 s (cheap when none); it runs when a call
 * ends, and get and put do it too, so a program that stops calling keeps what is cached. */
#define PMX__BLOCK_SIZE ((size_t)256 * 1024)
void *pmx__block_get(void);
void pmx__block_put(void *p);
void pmx__block_trim(void);
void pmx__block_cache_drain(void);     /* free the cached blocks */
size_t pmx__block_cache_count(void);   /* blocks cached now (tests) */
void pmx__block_cache_set_idle(int64_t ms); /* tests: how long a block may stay unused */
/* fork(): the global locks (set-up, compiled patterns, block cache) are taken before it and
 * released after it in parent and child (lib/client.c's pthread_atfork handlers), so a child
 * inherits them unlocked and the state they guard whole. */
void pmx__block_fork_lock(void);
void pmx__block_fork_unlock(void);
void pmx__patterns_fork_lock(void);
void pmx__patterns_fork_unlock(void);
/* Registers those handlers once (the first client, pmx_global_init, the first pattern).
 * Returns PMX_OK, or PMX_ENOMEM when pthread_atfork refused. */
int pmx__fork_handlers(void);
/* Wipe and free a NUL-terminated secret. NULL is fine. */
void pmx__secret_free(char *s);

/* Growable byte buffer. */
typedef struct pmx__buf {
    char *data;
    size_t len, cap;
    unsigned secret : 1; /* holds secrets: growing copies and wipes instead of realloc */
} pmx__buf;
int pmx__buf_reserve(pmx__buf *b, size_t extra); /* PMX_OK / PMX_ENOMEM; keeps NUL room */
int pmx__buf_append(pmx__buf *b, const void *p, size_t n);
int pmx__buf_puts(pmx__buf *b, const char *s);
int pmx__buf_printf(pmx__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pmx__buf_free(pmx__buf *b);
/* Percent-encode every byte but ALPHA / DIGIT / "-._~" onto b. */
int pmx__buf_escape(pmx__buf *b, const char *s, size_t n);

/* PVE's parse_boolean (lib/value.c): 1|on|yes|true and 0|off|no|false, any case. For
 * property strings and lenient result decoding; parameters take only 0/1. */
int pmx__parse_bool(const char *s, int *v);

/* ---- JSON scanning (lib/json.c): validating, allocation-free ---- */
/* Value of a hex digit, -1 for others. */
int pmx__hexval(int ch);
/* p at '"': the closing quote, or NULL (control byte, bad escape, unterminated; with strict
 * also an unpaired surrogate); *esc: the string has escapes. */
const char *pmx__json_string_end(const char *p, const char *end, int *esc, int strict);
/* p at a JSON number: the byte after it, or NULL when it is not one. */
const char *pmx__json_number_end(const char *p, const char *end);
/* Decode the validated string body [p, q) (between the quotes) into o (room for q - p + 1
 * bytes), NUL-terminated; \u0000 and unpaired surrogates become U+FFFD. Returns the length. */
size_t pmx__json_unescape(const char *p, const char *q, char *o);
/* Skip white space. */
const char *pmx__json_ws(const char *p, const char *end);
/* Validate and skip one JSON value starting at p (after white space); returns the first byte
 * after it, or NULL when malformed or nested deeper than 512. */
const char *pmx__json_skip(const char *p, const char *end);
/* p points at '"': decode the string (escapes, \u with surrogates, to UTF-8) into a new
 * NUL-terminated string *out (pmx__malloc'd), return the byte after the closing quote, or NULL. */
const char *pmx__json_string(const char *p, const char *end, char **out);
/* Decode a JSON string into caller memory of at least (closing - p) bytes; *len gets the
 * decoded length (NUL added). Returns the byte after the closing quote or NULL. */
const char *pmx__json_string_into(const char *p, const char *end, char *dst, size_t *len);
/* Iterate the members of the object at p ('{'): call fn for each key (decoded, NUL-terminated,
 * borrowed) with the span of its value; fn returns 0 to go on, non-zero to stop (returned).
 * Returns 0 at the end, -1 when malformed, or fn's non-zero value. */
typedef int (*pmx__json_member_fn)(const char *key, const char *val, const char *val_end,
                                   void *ud);
int pmx__json_object_each(const char *p, const char *end, pmx__json_member_fn fn, void *ud);
/* Iterate the elements of the array at p ('['): fn gets each element's span and index; fn
 * returns 0 to go on, non-zero to stop (returned). Returns 0 at the end, -1 when malformed, or
 * fn's value. fn may be NULL (validate only). */
typedef int (*pmx__json_item_fn)(const char *val, const char *val_end, size_t i, void *ud);
int pmx__json_array_each(const char *p, const char *end, pmx__json_item_fn fn, void *ud);

/* ---- response bodies (lib/decode.c): the envelope, and typed results in the same pass ---- */

typedef struct pmx__body {
    void *typed;                       /* the decoded result (typed calls), NULL for null data */
    const char *data;                  /* span of "data" in the body, NULL when absent */
    size_t data_len;
    int64_t total;                     /* "total", -1 when absent */
    const char *message, *message_end; /* span of "message" (a JSON string), or NULL */
    const char *errors, *errors_end;   /* span of "errors" (an object), or NULL */
} pmx__body;

/* Scan a whole response body {"data": ..., "total": ..., "message": ..., "errors": ...} in one
 * validating pass; with @p typed_ctx (a pmx_method_desc with a result) also decode "data" into
 * b->typed (free with pmx__bind_result_free). Returns PMX_OK, or PMX_EDECODE with *err set
 * (pmx__malloc'd; "malformed JSON", or a message naming the member), or PMX_ENOMEM. */
int pmx__decode_body(const void *typed_ctx, const char *body, size_t len, pmx__body *b,
                     char **err);

/* The incremental decoder (lib/decode.c), fed the body of a 2xx answer of a typed call from
 * curl's write callback: new(method desc, call, item callback or NULL, keep the raw body?);
 * feed() returns PMX_OK, or PMX_ECANCELLED when the item callback asked to stop (other errors
 * are kept for finish()); finish() gives the result (kept_body: the whole body when kept, for
 * b->data) or the error (*err pmx__malloc'd, may be NULL); reset() before a resend. */
typedef struct pmx__stream pmx__stream;
pmx__stream *pmx__stream_new(const void *typed_ctx, pmx_call *call, pmx_item_fn on_item,
                             void *item_ud, int keep_body);
int pmx__stream_feed(pmx__stream *s, const char *p, size_t n);
int pmx__stream_finish(pmx__stream *s, const char *kept_body, pmx__body *b, char **err);
int pmx__stream_stopped(const pmx__stream *s);
int pmx__stream_delivered(const pmx__stream *s); /* elements went to the item callback */
int pmx__stream_wants_body(const pmx__stream *s);
uint64_t pmx__stream_fed(const pmx__stream *s); /* body bytes fed so far */
void pmx__stream_reset(pmx__stream *s);
void pmx__stream_free(pmx__stream *s);

/* ---- calls: hooks for the typed bindings (lib/bind.c) ---- */

/* Decode the "data" JSON of a successful call into a typed result. Returns PMX_OK and sets *out
 * (may stay NULL for null data), or PMX_EDECODE/PMX_ENOMEM with *err set to a pmx__malloc'd
 * message. */
typedef int (*pmx__decode_fn)(const void *ctx, const char *json, size_t len, void **out,
                              char **err);
typedef void (*pmx__result_free_fn)(const void *ctx, void *result);

typedef struct pmx__call_spec {
    pmx_method method;
    const char *path;           /* relative to /api2/json, already escaped */
    const pmx_params *params;   /* may be NULL; copied */
    const pmx_call_opts *opts;  /* may be NULL */
    const void *typed_ctx;      /* passed to decode/free (a pmx_method_desc) */
    pmx__decode_fn decode;      /* may be NULL */
    pmx__result_free_fn result_free;
    int fail_code;              /* non-zero: do not send; complete asynchronously with this */
    const char *fail_message;   /* copied; with fail_code */
    unsigned internal : 1;      /* library's own call: no auth wait, not counted as pending */
    unsigned secret : 1;        /* request or answer carries secrets: wipe them when freed */
    unsigned force_ep : 1;      /* send to endpoint ep only (no failover) */
    size_t ep;
    const char *want_node;      /* send to this node's endpoint (uploads); borrowed */
    const struct pmx__source *src; /* streamed body (POST); copied; NULL: params */
    unsigned no_timeout : 1;    /* no total timeout (the client's is not applied) */
    void *progress_ud;          /* userdata of the progress callback; NULL: the call's */
    /* typed calls (decode set): opts' on_item / item_userdata / PMX_CALL_NO_BODY are read by
     * pmx__call_start_spec, which then decodes incrementally (pmx__stream_*) */
} pmx__call_spec;

/* ---- endpoints (lib/client.c), for uploads: which endpoint is which PVE node ---- */
size_t pmx__endpoint_count(const pmx_client *c);
/* The endpoint that is node, or -1 when none is known to be. */
int pmx__endpoint_of_node(const pmx_client *c, const char *node);
bool pmx__endpoint_knows_node(const pmx_client *c, size_t i);
/* Learn endpoint i's node from the data of its GET /cluster/status (the entry with local 1). */
void pmx__endpoint_learn(pmx_client *c, size_t i, const char *data, size_t len);

/* ---- uploads (lib/transfer.c), run by the task machinery (lib/task.c) ---- */
typedef struct pmx__upload pmx__upload;
/* Check the options, open the file, set up the checksum: PMX_OK or PMX_EINVAL/PMX_ENOMEM. */
int pmx__upload_new(pmx_client *c, const char *node, const char *storage,
                    const pmx_upload_opts *o, void *userdata, pmx__upload **out);
void pmx__upload_free(pmx__upload *u);
bool pmx__upload_needs_hash(const pmx__upload *u);
bool pmx__upload_waits(const pmx__upload *u); /* wait for the task (not PMX_UPLOAD_NO_WAIT) */
/* One slice of the checksum pass: 1 = more to do, PMX_OK = done, else an error (*err set). */
int pmx__upload_hash_step(pmx_client *c, pmx__upload *u, char **err);
const char *pmx__upload_node(const pmx__upload *u);
/* Start the upload request; done gets task as userdata. Like pmx__call_start_spec(). */
int pmx__upload_send(pmx_client *c, pmx__upload *u, pmx_done_fn done, void *task,
                     pmx_call **out);

/* Start a call from a spec: same contract as pmx_call_start(). */
int pmx__call_start_spec(pmx_client *c, const pmx__call_spec *spec, pmx_done_fn done,
                         void *userdata, pmx_call **out);

/* Whether a generic call of verb @p m on concrete @p path with @p p carries secrets (a secret
 * parameter name, or a method whose result holds secrets), from the generated tables (lib/bind.c).
 * Cheap: a binary search per parameter name plus a few path matches; no method lookup. */
int pmx__secret_params(pmx_method m, const char *path, const pmx_params *p);

/* ---- paths (lib/url.c) ---- */
/* Check a path given to a call (relative to /api2/json, optionally with "?query"): it starts
 * with '/', has no empty, "." or ".." segment (also percent-encoded), only characters a URL
 * path may hold (escape others with pmx_escape()), well-formed %XX escapes, no '#', and no
 * %2F inside a segment (PVE splits on it after decoding) but in the volume id of
 * /nodes/{node}/storage/{storage}/content/{volume}. PMX_OK, or PMX_EINVAL with *why set to
 * static text. */
int pmx__path_check(const char *path, const char **why);
/* Whether a value may become one path segment: not "", "." or "..". (It is escaped anyway.) */
bool pmx__segment_ok(const char *value);

/* ---- timers (lib/loop.c): one-shot, monotonic, run from the client's loop ---- */
typedef struct pmx__timer pmx__timer;
typedef void (*pmx__timer_fn)(pmx_client *c, void *arg);
/* Run fn(c, arg) after ms milliseconds (0: on the next loop pass). NULL on ENOMEM or while the
 * client is being freed. The timer is
 * freed after it fires or when cancelled, and counts as pending work for pmx_client_run(). */
pmx__timer *pmx__timer_add(pmx_client *c, int64_t ms, pmx__timer_fn fn, void *arg);
void pmx__timer_cancel(pmx_client *c, pmx__timer *t);
/* Monotonic clock in milliseconds. */
int64_t pmx__now_ms(void);
/* True while the client is being freed: pending timers fire once more with this set (their
 * owners complete with PMX_EDESTROYED and must not start new work). */
bool pmx__client_destroying(const pmx_client *c);

/* Refuse work on a client that is unusable here: PMX_ERECURSIVE inside the log callback,
 * PMX_EFORKED in a child process after fork(). (lib/client.c) */
int pmx__client_usable(const pmx_client *c);

/* ---- logging (lib/client.c) ---- */
bool pmx__log_enabled(const pmx_client *c, pmx_log_level level);
void pmx__log(pmx_client *c, pmx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
