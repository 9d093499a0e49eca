/* libproxmox: generic calls and parameters. */
#ifndef PROXMOX_CALL_H
#define PROXMOX_CALL_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/* ---- parameters ---------------------------------------------------------------------- */

/**
 * A new, empty parameter list. Caller frees with pmx_params_free(). NULL when out of memory.
 * May be called from a callback. Since: 1.0
 */
PMX_API pmx_params *pmx_params_new(void);

/** Free a parameter list (values are wiped). NULL is a no-op. Since: 1.0 */
PMX_API void pmx_params_free(pmx_params *p);

/**
 * Set @p name to a string, replacing earlier values of that name. Both are copied. PVE cannot
 * receive an empty string in a form ("key=" means absent), so "" is sent only in JSON bodies.
 * @return PMX_OK, PMX_EINVAL (NULL or empty name), PMX_ENOMEM. Since: 1.0
 */
PMX_API int pmx_params_set_str(pmx_params *p, const char *name, const char *value);

/** Set @p name to an integer (replacing). @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Since: 1.0 */
PMX_API int pmx_params_set_int(pmx_params *p, const char *name, int64_t value);

/** Set @p name to a boolean, sent as 0/1 (replacing). Returns like pmx_params_set_str. Since: 1.0 */
PMX_API int pmx_params_set_bool(pmx_params *p, const char *name, int value);

/** Set @p name to a number (replacing). Returns like pmx_params_set_str. Since: 1.0 */
PMX_API int pmx_params_set_double(pmx_params *p, const char *name, double value);

/**
 * Append one more string value for @p name without replacing: array parameters are sent as
 * repeated keys (or a JSON array). Returns like pmx_params_set_str. Since: 1.0
 */
PMX_API int pmx_params_add_str(pmx_params *p, const char *name, const char *value);

/** Remove every value of @p name. @return PMX_OK or PMX_ENOTFOUND. Since: 1.0 */
PMX_API int pmx_params_unset(pmx_params *p, const char *name);

/** Number of name/value entries. Since: 1.0 */
PMX_API size_t pmx_params_count(const pmx_params *p);

/**
 * Entry @p i: its name and its value as text (integers in decimal, booleans "0"/"1").
 * Both borrowed until the list changes. @return PMX_OK or PMX_ENOTFOUND. Since: 1.0
 */
PMX_API int pmx_params_get(const pmx_params *p, size_t i, const char **name, const char **value);

/**
 * Form-encode the list as PVE expects it: every byte but ALPHA / DIGIT / "-._~" is
 * percent-encoded (so '=', ',', ';', '&', '+' and spaces cannot be misread), pairs joined
 * with '&', repeated keys kept. @p out receives a NUL-terminated string; caller frees with
 * pmx_free(). An empty list gives "". @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Since: 1.0
 */
PMX_API int pmx_params_encode(const pmx_params *p, char **out);

/**
 * Percent-encode one path segment (every byte but ALPHA / DIGIT / "-._~"), e.g. a UPID or a
 * volume id, for use in a path given to pmx_call_start(). Caller frees with pmx_free().
 * NULL when out of memory, or when @p segment is NULL, "", "." or "..": those would name an
 * empty or dot segment, i.e. another resource (no PVE path has one). A '/' is escaped too,
 * but PVE splits a path on escaped slashes as well, so pmx_call_start() refuses such a
 * segment anywhere but in the volume id of .../storage/{storage}/content/{volume}. Since: 1.0
 */
PMX_API char *pmx_escape(const char *segment);

/* ---- calls ----------------------------------------------------------------------------- */

/** Flags for pmx_call_opts. */
enum {
    PMX_CALL_JSON_BODY = 1u << 0, /* send POST/PUT parameters as a JSON object, not a form */
    /* The call may reach the server twice without harm: after a connection broke once the
     * request was written, it is retried like a GET (see pmx_retry_opts). */
    PMX_CALL_IDEMPOTENT = 1u << 1,
    /* Typed calls (pmx_method_start()): keep only the decoded result, not the raw response body
     * of a successful answer (pmx_call_body() and pmx_call_data() give NULL then); with on_item,
     * a listing of any size is decoded in constant memory (the client's response cap,
     * pmx_client_set_max_response(), still bounds the body). Error bodies are always kept. */
    PMX_CALL_NO_BODY = 1u << 2
};

/**
 * Element callback of typed array results (pmx_call_opts.on_item, pmx_method_start()): runs
 * from the event loop for each element as soon as it has arrived and been decoded, in order,
 * before the call completes. @p item is the element as the result array would hold it: the
 * struct for object elements, the string for string elements, a pointer to the value for
 * numbers; it is valid during the callback only (the element's memory is reused). The call's
 * typed result then holds no elements, only their count (n). Return 0 to go on, non-zero to
 * stop: the transfer ends and the call fails with PMX_ECANCELLED. Same rules as pmx_write_fn
 * otherwise. Since: 1.0
 */
typedef int (*pmx_item_fn)(pmx_call *call, const void *item, size_t index, void *userdata);

/**
 * Receives the body of a successful (2xx) response as it arrives, instead of the call keeping
 * it in memory (pmx_call_body() and pmx_call_data() are then NULL). Error bodies are still
 * kept, for pmx_call_error(). @p data is borrowed for the call; @p userdata is the call's.
 * Return 0 to go on, anything else stops the transfer: the call fails with PMX_ECANCELLED.
 * Runs from the event loop; it must not drive the loop (pmx_client_run() returns
 * PMX_ERECURSIVE), but may start or cancel calls. A call whose callback already got bytes is
 * never retried (they cannot be taken back).
 */
typedef int (*pmx_write_fn)(pmx_call *call, const void *data, size_t len, void *userdata);

/**
 * Progress of a transfer: bytes received and sent so far, and their totals when known (-1
 * when not: a body without Content-Length). Runs from the event loop, at most about ten times a
 * second and once more at the end of each attempt; a retried call starts again from 0.
 * @p userdata is the call's. Same rules as pmx_write_fn (return value aside).
 */
typedef void (*pmx_progress_fn)(pmx_call *call, int64_t down, int64_t down_total, int64_t up,
                                int64_t up_total, void *userdata);

/**
 * Retry policy (pmx_client_set_retry(), or per call in pmx_call_opts.retry). Initialise with
 * PMX_OPTS_INIT(pmx_retry_opts); zero fields take the defaults.
 *
 * A failed attempt is sent again only when that is safe:
 * (a) the request never reached the server (name resolution, connect, TLS handshake): any call;
 * (b) the connection broke after the request was written, or a proxy passed it on and got no
 *     (good) answer in time (502, 504, and PVE's 596 from a node it proxied to): only GET and
 *     calls flagged PMX_CALL_IDEMPOTENT. This holds against libcurl's own resending as well: a
 *     call that is not idempotent reaches the server at most once, on fresh and reused
 *     connections alike (the attempt fails instead);
 * (c) the server said "not now": 503, PVE's proxy error 595 (the node could not be reached),
 *     and PVE's lock timeout (500 "can't lock file ... - got timeout", raised before the action
 *     ran): any call.
 * Never: 4xx answers, a refused login, TLS verification failures, a full response (the answer
 * arrived), a call whose write callback already got bytes.
 * Waits between attempts: full jitter, a random time in [0, min(max_delay_ms,
 * base_ms * 2^(attempt-1))], or the server's Retry-After when it sends one; no attempt starts
 * after deadline_ms from the call's start (nor after its own timeout). Each retry is logged at
 * PMX_LOG_INFO with the reason (never a secret).
 */
typedef struct pmx_retry_opts {
    uint32_t size;         /* sizeof(pmx_retry_opts), set by PMX_OPTS_INIT */
    uint32_t flags;        /* none yet: must be 0 */
    uint32_t max_attempts; /* attempts in all, the first included; 0 = 4; 1 = no retry */
    uint32_t reserved;     /* must be 0 */
    int64_t base_ms;       /* 0 = 250 */
    int64_t max_delay_ms;  /* 0 = 5000 */
    int64_t deadline_ms;   /* 0 = 30000 */
} pmx_retry_opts;

/**
 * Set the client's retry policy for later calls (see pmx_retry_opts).
 * Retries are on by default: up to 4 attempts within 30 s, for the three safe classes. NULL
 * restores the defaults; max_attempts = 1 turns retries off. Read during the call.
 * @return PMX_OK, PMX_EINVAL (bad size, flags or reserved fields, negative times).
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_retry(pmx_client *c, const pmx_retry_opts *opts);

/**
 * Per-call options. Initialise with `pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);`: fields
 * are only ever appended, and the library reads only those the caller's `size` covers.
 */
typedef struct pmx_call_opts {
    uint32_t size;       /* sizeof(pmx_call_opts), set by PMX_OPTS_INIT */
    uint32_t flags;      /* PMX_CALL_* bits; unknown bits give PMX_EINVAL */
    int64_t timeout_ms;  /* total timeout of this call, from its start; 0 = the client's;
                            < 0 is PMX_EINVAL */
    /* Destructor of the call's userdata: runs once when the call is freed (its last reference
     * dropped), only for an accepted call. NULL = none. */
    pmx_free_fn userdata_free;
    /* Retry policy of this call; NULL = the client's (pmx_client_set_retry()). Read during the
     * start function. */
    const pmx_retry_opts *retry;
    /* Where a successful response body goes instead of memory: a callback, or a file at that
     * path. The file is written as the body arrives into a new file beside it (the path with
     * ".part-" and a random suffix, never following a link), which replaces the path only when
     * the call succeeds (rename); when it fails the new file is removed and whatever was at the
     * path is left as it was. At most one of the two; NULL = memory. The path is copied. In both cases memory
     * use stays constant and the client's response cap (pmx_client_set_max_response()) does
     * not apply; bodies without Content-Length (closed by the server) are fine. */
    pmx_write_fn write_fn;
    const char *output_path; /* the file of the body (see write_fn), or NULL */
    pmx_progress_fn progress_fn; /* NULL = none */
    /* Stall limit of this call (see pmx_client_set_stall_timeout()); 0 = the client's. */
    int64_t stall_ms;
    int64_t stall_bytes_per_s; /* the rate of this call's stall limit; 0 = the client's */
    /* Typed array results only (pmx_method_start()): each element as it arrives, see
     * pmx_item_fn; NULL collects them into the result. Not with write_fn / output_path. */
    pmx_item_fn on_item;
    void *item_userdata; /* passed to on_item, borrowed */
} pmx_call_opts;

/**
 * Start a call. @p path is relative to /api2/json ("/nodes/pve1/qemu") and sent as given: escape
 * values holding reserved characters with pmx_escape() first. GET and DELETE parameters go in
 * the query; POST and PUT parameters in a form body (see pmx_params_encode()).
 * @param params    may be NULL; copied before return.
 * @param done      may be NULL when the caller waits with pmx_call_wait(); runs exactly once per
 *                  accepted call, from the event loop, never inside this function.
 * @param userdata  passed to @p done, borrowed.
 * @param out       may be NULL; else receives a reference the caller drops with pmx_call_unref().
 * @return PMX_OK (accepted), PMX_EINVAL (NULL client or path, bad method, or a path that is
 *         not sent as given: not starting with '/', an empty, "." or ".." segment (also
 *         %-encoded), a character that must be escaped, a malformed %XX, '#', or an escaped
 *         '/' (%2F: PVE would split the segment in two) other than in the volume id after
 *         /nodes/{node}/storage/{storage}/content/; the reason
 *         goes to the log at PMX_LOG_WARN), PMX_ENOMEM, PMX_EDESTROYED (client being freed),
 *         PMX_ERECURSIVE (from the log callback), PMX_EFORKED. On error @p done never runs.
 * The path is sent exactly as given: no dot-segment removal, no second escaping.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_call_start(pmx_client *c, pmx_method m, const char *path, const pmx_params *params,
                           pmx_done_fn done, void *userdata, pmx_call **out);

/**
 * pmx_call_start() with options (JSON body, per-call timeout). @p opts may be NULL.
 * Returns like pmx_call_start(). May be called from a callback. Since: 1.0
 */
PMX_API int pmx_call_start_ex(pmx_client *c, pmx_method m, const char *path,
                              const pmx_params *params, const pmx_call_opts *opts,
                              pmx_done_fn done, void *userdata, pmx_call **out);

/**
 * Drive the client's loop until @p call completes; its callback has run when this returns.
 * @return the call's result (PMX_OK or a PMX_E* code), or PMX_ERECURSIVE from inside a callback.
 * Since: 1.0
 */
PMX_API int pmx_call_wait(pmx_call *call);

/**
 * Cancel a pending call: it completes with PMX_ECANCELLED (its callback runs from the loop).
 * A finished call is left alone. @return PMX_OK, PMX_EINVAL (NULL), PMX_ERECURSIVE (from the
 * log callback: the call is left alone). May be called from a call's callback. Since: 1.0
 */
PMX_API int pmx_call_cancel(pmx_call *call);

/** Take a reference. May be called from a callback. Since: 1.0 */
PMX_API void pmx_call_ref(pmx_call *call);

/**
 * Drop a reference; the last one frees the call and its response. The client keeps its own
 * reference to a pending call until the callback has run, so dropping yours never cancels it
 * (pmx_call_cancel() does). NULL is a no-op. May be called from a callback. Since: 1.0
 */
PMX_API void pmx_call_unref(pmx_call *call);

/** The call's result: PMX_OK, a PMX_E* code, or PMX_EPENDING while it runs. Since: 1.0 */
PMX_API int pmx_call_result(const pmx_call *call);

/** HTTP status of the response, or 0 when none arrived. Since: 1.0 */
PMX_API int pmx_call_http_status(const pmx_call *call);

/**
 * The whole response body (NUL-terminated), or NULL when none arrived. Borrowed from the call
 * until its last reference is dropped. @p len may be NULL. Since: 1.0
 */
PMX_API const char *pmx_call_body(const pmx_call *call, size_t *len);

/**
 * The JSON text of the response's "data" member (not NUL-terminated inside the body: use
 * @p len), or NULL when the body has none. Borrowed like pmx_call_body(). Since: 1.0
 */
PMX_API const char *pmx_call_data(const pmx_call *call, size_t *len);

/** The response's "total" member, or -1 when absent. Since: 1.0 */
PMX_API int64_t pmx_call_total(const pmx_call *call);

/**
 * What went wrong, as text: PVE's message (body "message", else the status line's reason),
 * a transport or TLS error, or a validation message naming the parameter. NULL on success.
 * Borrowed like pmx_call_body(). Since: 1.0
 */
PMX_API const char *pmx_call_error(const pmx_call *call);

/**
 * PVE's per-parameter error @p i ("errors" in a 400 answer). Both strings are borrowed like
 * pmx_call_body(). @return PMX_OK, PMX_ENOTFOUND (past the end). Since: 1.0
 */
PMX_API int pmx_call_param_error(const pmx_call *call, size_t i, const char **name,
                                 const char **message);

/**
 * How many times the call was handed to the transport: 1 for a call that went out once, more
 * when it was retried or moved to another endpoint (or libcurl resent an idempotent call on its
 * own), 0 when it never went out. May be called from a callback. Since: 1.0
 */
PMX_API uint32_t pmx_call_attempts(const pmx_call *call);

/** 1 when the call was answered from the client's GET cache (see pmx_client_cache()), else
 * 0. May be called from a callback. Since: 1.0 */
PMX_API int pmx_call_cached(const pmx_call *call);

/**
 * The base URL of the endpoint that answered (or was last tried), e.g. "https://pve2:8006";
 * NULL before the first attempt. Static for the client's lifetime; valid while the client
 * lives. May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_call_endpoint(const pmx_call *call);

/** The userdata given when the call was started. Since: 1.0 */
PMX_API void *pmx_call_userdata(const pmx_call *call);

/**
 * The client the call belongs to, while the call is pending and during its callback; NULL once
 * the callback has returned (the client may be gone by then). Since: 1.0
 */
PMX_API pmx_client *pmx_call_client(const pmx_call *call);

/**
 * The typed result of a call made through a generated pve_* function: a pointer to its
 * `<function>_result`, decoded once when the call completed; NULL for generic calls, failed
 * calls, or a method whose schema declares no result. Borrowed like pmx_call_body().
 * Generated headers add a typed inline accessor per method. Since: 1.0
 */
PMX_API const void *pmx_call_typed(const pmx_call *call);

PMX_END_DECLS
#endif
