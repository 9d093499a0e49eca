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
 * NULL when out of memory or @p segment is NULL. Since: 1.0
 */
PMX_API char *pmx_escape(const char *segment);

/* ---- calls ----------------------------------------------------------------------------- */

/** Flags for pmx_call_opts. */
enum {
    PMX_CALL_JSON_BODY = 1u << 0, /* send POST/PUT parameters as a JSON object, not a form */
    /* Typed calls (pmx_method_start): keep only the decoded result, not the raw response body
     * of a successful answer (pmx_call_body() and pmx_call_data() give NULL then); with on_item,
     * a listing of any size is decoded in constant memory. Error bodies are always kept. */
    PMX_CALL_NO_BODY = 1u << 1
};

/**
 * Element callback of typed array results (pmx_call_opts.on_item, pmx_method_start()): runs
 * from the event loop for each element as soon as it has arrived and been decoded, in order,
 * before the call completes. @p item is the element as the result array would hold it: the
 * struct for object elements, the string for string elements, a pointer to the value for
 * numbers; it is valid during the callback only (the element's memory is reused). The call's
 * typed result then holds no elements, only their count (n). Return 0 to go on, non-zero to
 * stop: the transfer ends and the call fails with PMX_ECANCELLED. The callback must not call
 * other libproxmox functions on this client. Since: 1.0
 */
typedef int (*pmx_item_fn)(pmx_call *call, const void *item, size_t index, void *userdata);

/** Per-call options. Initialise with `pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);`. */
typedef struct pmx_call_opts {
    uint32_t size;       /* sizeof(pmx_call_opts), set by PMX_OPTS_INIT */
    uint32_t flags;      /* PMX_CALL_* bits; unknown bits give PMX_EINVAL */
    int32_t timeout_ms;  /* total timeout of this call; 0 = the client's */
    int32_t reserved;    /* must be 0 */
    /* Typed array results only (pmx_method_start()): each element as it arrives, see
     * pmx_item_fn; NULL collects them into the result. */
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
 * @return PMX_OK (accepted), PMX_EINVAL (NULL client or path, path not starting with '/', bad
 *         method), PMX_ENOMEM, PMX_EDESTROYED (client being freed). On error @p done never runs.
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
 * A finished call is left alone. @return PMX_OK or PMX_EINVAL (NULL). May be called from a
 * callback. Since: 1.0
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
