/* libproxmox: PVE tasks: UPIDs, waiting for a task, following its log, stopping it. */
#ifndef PROXMOX_TASK_H
#define PROXMOX_TASK_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/* ---- UPIDs ---------------------------------------------------------------------------- */

/**
 * A parsed task id, `UPID:node:PID:PSTART:STARTTIME:type:id:user:`. Allocated by the library
 * (pmx_upid_parse()); fields are only ever appended in later versions.
 */
typedef struct pmx_upid {
    char *node;        /* node name (host name characters) */
    uint32_t pid;      /* worker PID (8 hex digits) */
    uint64_t pstart;   /* process start, in clock ticks since boot (8 or more hex digits) */
    int64_t starttime; /* task start, epoch seconds (8 hex digits) */
    char *type;        /* task type, e.g. "qmstart" (non-empty) */
    char *id;          /* object id, e.g. "100"; may be "" */
    char *user;        /* "user@realm" or "user@realm!tokenid" (non-empty) */
} pmx_upid;

/**
 * Parse a UPID. Accepted: the literal prefix "UPID:", a node name ([A-Za-z0-9], inner '-'),
 * PID and STARTTIME as exactly 8 upper-case hex digits, PSTART as 8 upper-case hex digits or
 * more (no leading zero beyond 8 digits, at most 16), a non-empty type, a possibly empty id, a
 * non-empty user, and the trailing ':'. No field may hold ':', '/', white space or a control
 * character. Only canonical text is accepted, so pmx_upid_format() gives back the same string.
 * @param text  the UPID, borrowed for the call.
 * @param out   receives the parsed UPID; caller frees with pmx_upid_free(). NULL on error.
 * @param err   may be NULL; on PMX_EINVAL receives a message saying what is wrong and where
 *              (caller frees with pmx_free()); NULL otherwise.
 * @return PMX_OK, PMX_EINVAL (NULL argument or malformed UPID), PMX_ENOMEM.
 * May be called from anywhere, including callbacks. Since: 1.0
 */
PMX_API int pmx_upid_parse(const char *text, pmx_upid **out, char **err);

/**
 * Format a UPID: the exact inverse of pmx_upid_parse() (hex in upper case, PID and STARTTIME
 * zero-padded to 8 digits, PSTART to at least 8). Only the fields of version 1.0 are read, so a
 * caller may fill a pmx_upid of its own.
 * @param u    borrowed for the call.
 * @param out  receives the text; caller frees with pmx_free(). NULL on error.
 * @return PMX_OK, PMX_EINVAL (NULL argument, or a field that would not parse back: empty node,
 *         type or user, a forbidden character, starttime outside 0..0xFFFFFFFF), PMX_ENOMEM.
 * May be called from anywhere, including callbacks. Since: 1.0
 */
PMX_API int pmx_upid_format(const pmx_upid *u, char **out);

/** Free a UPID from pmx_upid_parse() (one block: its strings go with it). NULL is a no-op.
 * May be called from a callback. Since: 1.0 */
PMX_API void pmx_upid_free(pmx_upid *u);

/* ---- waiting for a task ----------------------------------------------------------------- */

/** A wait for (or a log follow of) one PVE task. Opaque and reference-counted. */
typedef struct pmx_task pmx_task;

/**
 * Completion callback of a task wait or follow: runs exactly once per accepted wait, from the
 * client's loop, never inside the function that started it. @p result is:
 * - PMX_OK: the task stopped with "OK" or "WARNINGS: n" (see pmx_task_warnings());
 * - PMX_ETASK: the task stopped with another exit status (pmx_task_exitstatus(), and the last
 *   lines of its log through pmx_task_log_count() / pmx_task_log_line());
 * - PMX_ETIMEOUT: the deadline passed while the task was still running;
 * - PMX_ECANCELLED: pmx_task_cancel();
 * - PMX_EDESTROYED: the client was freed;
 * - the error of a status request that cannot be retried (PMX_EAUTH, PMX_EPERM, PMX_EHTTP for
 *   4xx and 501, PMX_ETLS, PMX_EDECODE, PMX_ENOMEM), see pmx_task_error().
 * The task is borrowed for the duration of the callback (pmx_task_ref() keeps it). Inside, code
 * may start calls and waits, cancel, unref, and free the client.
 */
typedef void (*pmx_task_fn)(pmx_task *task, int result, void *userdata);

/**
 * Log line callback of pmx_task_follow(): @p n is the line's 1-based number in the task log,
 * @p text the line (borrowed for the callback). Lines arrive in order, each once. The callback
 * may cancel the follow with pmx_task_cancel().
 */
typedef void (*pmx_task_line_fn)(pmx_task *task, int64_t n, const char *text, void *userdata);

/**
 * Options for pmx_task_wait() and pmx_task_follow(). Initialise with
 * `pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);`; zero fields take the defaults.
 *
 * Backoff: the first status request goes out at once; after each answer that says "running"
 * (or each transient error) the wait sleeps first_interval_ms, then multiplies the interval by
 * factor up to max_interval_ms. Sleeps never run past the deadline.
 */
typedef struct pmx_task_opts {
    uint32_t size;             /* sizeof(pmx_task_opts), set by PMX_OPTS_INIT */
    uint32_t flags;            /* must be 0 */
    int64_t first_interval_ms; /* first sleep; 0 = 1000; < 0 is PMX_EINVAL */
    int64_t max_interval_ms;   /* cap; 0 = 30000 (or first_interval_ms when larger) */
    double factor;             /* growth per sleep; 0 = 2.0; < 1 or not finite is PMX_EINVAL */
    int64_t timeout_ms;        /* deadline from the start, monotonic; 0 = none */
    int32_t log_lines;         /* log tail kept on failure; 0 = 20; < 0 = none */
    int32_t max_retries;       /* transient errors in a row tolerated; 0 = no limit */
    int32_t page_lines;        /* pmx_task_follow: lines per log request; 0 = 500 */
    int32_t reserved;          /* must be 0 */
    /* Destructor of the wait's userdata: runs once when the task object is freed (its last
     * reference dropped), only for an accepted wait. NULL = none. */
    pmx_free_fn userdata_free;
} pmx_task_opts;

/**
 * Wait for a PVE task to stop: polls `GET /nodes/{node}/tasks/{upid}/status` (node taken from
 * the UPID, the UPID percent-escaped as pmx_escape() does) with exponential backoff, until the
 * task has stopped, the deadline passes, or the wait is cancelled. A failed task's last log
 * lines are fetched from `…/log` before completing (a log that fails transiently three times
 * in a row is left out: the result is PMX_ETASK all the same). Transient errors (PMX_ETRANSPORT, a
 * per-request PMX_ETIMEOUT, HTTP 5xx other than 501, including PVE's proxy errors 595/596/597/
 * 599) are retried within the deadline; the others end the wait. Many waits may run at once on
 * one client.
 * @param c         the client; the wait belongs to it.
 * @param upid      the task's UPID; copied.
 * @param opts      may be NULL (all defaults); read during the call.
 * @param done      may be NULL when the caller uses pmx_task_wait_sync(); see pmx_task_fn.
 * @param userdata  passed to @p done, borrowed.
 * @param out       may be NULL; else receives a reference the caller drops with
 *                  pmx_task_unref(). Dropping it does not stop the wait (pmx_task_cancel() does).
 * @return PMX_OK (accepted), PMX_EINVAL (NULL client or upid, malformed UPID, bad option),
 *         PMX_ENOMEM, PMX_EDESTROYED (client being freed). On error @p done never runs.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_task_wait(pmx_client *c, const char *upid, const pmx_task_opts *opts,
                          pmx_task_fn done, void *userdata, pmx_task **out);

/**
 * pmx_task_wait() for the task whose UPID a finished call returned as its data (e.g. a
 * `POST …/status/start`), so a program can chain the two.
 * @param call  a completed call, borrowed for the duration of this function.
 * Other parameters as pmx_task_wait().
 * @return like pmx_task_wait(), plus PMX_EPENDING (the call has not completed), the call's own
 *         error code when it failed, PMX_EDECODE (its data is not a UPID string).
 * May be called from a callback, including @p call's own. Since: 1.0
 */
PMX_API int pmx_task_wait_call(pmx_client *c, const pmx_call *call, const pmx_task_opts *opts,
                               pmx_task_fn done, void *userdata, pmx_task **out);

/**
 * Follow a task's log as it grows: each new line is passed to @p line, in order, read with
 * `GET …/log?start=N&limit=page_lines`; between reads the task's status is checked. Completes
 * (like pmx_task_wait()) once the task has stopped and its log is drained. The backoff starts
 * again at first_interval_ms whenever new lines arrived. PVE's placeholder for an empty log
 * ("no content" as the only line) is not passed on. The last log_lines lines are kept for
 * pmx_task_log_line(). Parameters and return codes as pmx_task_wait(); @p line may be NULL.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_task_follow(pmx_client *c, const char *upid, const pmx_task_opts *opts,
                            pmx_task_line_fn line, pmx_task_fn done, void *userdata,
                            pmx_task **out);

/**
 * Drive the client's loop until the wait or follow completes; its callback has run when this
 * returns. Other calls on the client make progress meanwhile.
 * @return the task's result (see pmx_task_fn), PMX_EINVAL (NULL), or, while the task is still
 *         pending, PMX_ERECURSIVE from inside a callback of the client or PMX_EFORKED in a child
 *         process after fork(). Since: 1.0
 */
PMX_API int pmx_task_wait_sync(pmx_task *task);

/**
 * Stop waiting: the wait completes with PMX_ECANCELLED (its callback runs from the loop). The
 * PVE task itself keeps running (see pmx_task_stop()). A finished wait is left alone.
 * @return PMX_OK or PMX_EINVAL (NULL). May be called from a callback. Since: 1.0
 */
PMX_API int pmx_task_cancel(pmx_task *task);

/** Take a reference (dropped with pmx_task_unref()). NULL is a no-op. May be called from a
 * callback. Since: 1.0 */
PMX_API void pmx_task_ref(pmx_task *task);

/**
 * Drop a reference; the last one (once the wait has completed) frees the task and everything
 * its accessors returned. NULL is a no-op. May be called from a callback. Since: 1.0
 */
PMX_API void pmx_task_unref(pmx_task *task);

/**
 * The result: PMX_EPENDING while waiting, then as passed to the callback; PMX_EINVAL for NULL.
 * All accessors below take a borrowed task, never block, and may be called from anywhere,
 * including callbacks. Since: 1.0
 */
PMX_API int pmx_task_result(const pmx_task *task);

/** The UPID being waited for (a copy), borrowed until the last reference is dropped; NULL for
 * NULL. May be called from a callback. Since: 1.0 */
PMX_API const char *pmx_task_upid(const pmx_task *task);

/**
 * The task's exit status as PVE reports it ("OK", "WARNINGS: 2", or the error text), or NULL
 * when it has not been seen stopped. Borrowed like pmx_task_upid(). May be called from a
 * callback. Since: 1.0
 */
PMX_API const char *pmx_task_exitstatus(const pmx_task *task);

/** The n of an exit status "WARNINGS: n"; 0 otherwise (also while pending, and for NULL).
 * May be called from a callback. Since: 1.0 */
PMX_API int64_t pmx_task_warnings(const pmx_task *task);

/**
 * What went wrong, as text, when the result is not PMX_OK: the exit status (PMX_ETASK), the
 * failing request's error with PVE's per-parameter errors after it ("Parameter verification
 * failed. (upid: no such task)"), or a description of the deadline / cancel. NULL otherwise. Borrowed
 * like pmx_task_upid(). May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_task_error(const pmx_task *task);

/** HTTP status of the request that ended the wait with an error, else 0. May be called from a
 * callback. Since: 1.0 */
PMX_API int pmx_task_http_status(const pmx_task *task);

/**
 * Number of log lines kept: for a failed wait, the last log_lines lines of the task log; for a
 * follow, the last log_lines lines delivered so far (it fills up while the follow runs).
 * May be called from a callback. Since: 1.0
 */
PMX_API size_t pmx_task_log_count(const pmx_task *task);

/**
 * Kept log line @p i (0 = oldest kept). @p n may be NULL; else receives the line's 1-based
 * number in the log (0 past the end). Returns the text, borrowed like pmx_task_upid(), or NULL
 * past the end. May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_task_log_line(const pmx_task *task, size_t i, int64_t *n);

/** Number of status requests sent so far (retries included; log reads not counted). May be
 * called from a callback. Since: 1.0 */
PMX_API uint32_t pmx_task_polls(const pmx_task *task);

/** Number of backoff sleeps scheduled so far. May be called from a callback. Since: 1.0 */
PMX_API size_t pmx_task_interval_count(const pmx_task *task);

/**
 * Length in ms of backoff sleep @p i as scheduled (already shortened to the deadline), or -1
 * past the end. For checking the backoff, e.g. in tests. May be called from a callback.
 * Since: 1.0
 */
PMX_API int64_t pmx_task_interval(const pmx_task *task, size_t i);

/** The userdata given when the wait was started (borrowed, never touched by the library).
 * May be called from a callback. Since: 1.0 */
PMX_API void *pmx_task_userdata(const pmx_task *task);

/* ---- stopping a task ---------------------------------------------------------------------- */

/**
 * Ask PVE to stop a task: `DELETE /nodes/{node}/tasks/{upid}`. A generic call: parameters and
 * return codes as pmx_call_start() (@p done may be NULL, @p out may be NULL), plus PMX_EINVAL
 * for a malformed UPID. @p upid is copied. May be called from a callback. Since: 1.0
 */
PMX_API int pmx_task_stop(pmx_client *c, const char *upid, pmx_done_fn done, void *userdata,
                          pmx_call **out);

PMX_END_DECLS
#endif
