/* Tasks: waiting for a PVE task with exponential backoff, following its log, stopping it.
 *
 * A task wait is a small state machine driven by the client's loop. At any moment an active
 * wait has exactly one of: a request in flight (t->poll), a backoff sleep (t->timer), or it is
 * inside its own completion handling. Everything it does runs from the loop: call callbacks and
 * internal timers, so the user's callback never runs inside pmx_task_wait(). */
#include "internal.h"

#include <limits.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    DEF_FIRST_MS = 1000,
    DEF_MAX_MS = 30000,
    DEF_LOG_LINES = 20,
    DEF_PAGE_LINES = 500,
    MAX_PAGE_LINES = 100000,
    LOG_RETRIES = 3 /* transient failures of a failed task's log before the wait ends without it */
};

typedef enum {
    PH_STATUS = 1, /* GET …/status */
    PH_LOG_HEAD,   /* failed task: GET …/log?start=0&limit=N (learns total) */
    PH_LOG_TAIL,   /* failed task: GET …/log?start=total-N&limit=N */
    PH_FOLLOW_LOG, /* follow: GET …/log?start=next&limit=page */
    PH_HASH,       /* upload: the checksum pass, one slice per timer */
    PH_PROBE,      /* upload: GET /cluster/status of each endpoint, to find the node's one */
    PH_UPLOAD      /* upload: the POST …/upload request; its answer is the task's UPID */
} phase;

struct pmx_task {
    int refs;
    bool active; /* callback not delivered yet */
    bool follow;
    bool cancelled;
    bool stopped; /* the task was seen stopped */
    pmx_client *c;
    char *upid;
    char *base; /* "/nodes/{node}/tasks/{escaped upid}" */

    /* options */
    int64_t first_ms, max_ms;
    double factor;
    int64_t timeout_ms; /* 0: none */
    int64_t deadline;   /* monotonic ms, -1: none (armed when the wait for the task begins) */
    pmx__upload *up;    /* an upload runs before the wait */
    size_t probe_ep;    /* PH_PROBE: the endpoint asked */
    int32_t log_lines;
    int32_t max_retries;
    int32_t page_lines;
    pmx_free_fn opt_userdata_free; /* from the options, installed once the wait is accepted */

    /* machinery */
    phase ph;
    pmx_call *poll;
    pmx__timer *timer;
    int64_t timer_due;
    int64_t cur_ms; /* next sleep */
    int32_t errors_in_row;
    int64_t log_start; /* PH_LOG_TAIL start, or follow's next offset */
    bool new_lines;    /* follow: lines arrived in this round */

    /* records */
    uint32_t polls;
    int64_t *intervals;
    size_t n_intervals, cap_intervals;

    /* outcome */
    int result;
    int http_status;
    char *exitstatus;
    int64_t warnings;
    char *error;
    char *last_error; /* last transient error, for the timeout message */
    char **lines;
    int64_t *line_n;
    size_t n_lines;

    pmx_task_fn done;
    pmx_task_line_fn line;
    void *userdata;
    pmx_free_fn userdata_free; /* runs when the task is freed (accepted waits only) */
};

/* ---- small helpers ---- */

static void task_free(pmx_task *t) {
    pmx__upload_free(t->up);
    pmx__free(t->upid);
    pmx__free(t->base);
    pmx__free(t->intervals);
    pmx__free(t->exitstatus);
    pmx__free(t->error);
    pmx__free(t->last_error);
    for (size_t i = 0; i < t->n_lines; i++)
        pmx__free(t->lines[i]);
    pmx__free(t->lines);
    pmx__free(t->line_n);
    if (t->userdata_free)
        t->userdata_free(t->userdata);
    pmx__free(t);
}

void pmx_task_ref(pmx_task *t) {
    if (t)
        t->refs++;
}

void pmx_task_unref(pmx_task *t) {
    if (t && --t->refs == 0)
        task_free(t);
}

static void set_str(char **dst, const char *s) {
    char *d = s ? pmx__strdup(s) : NULL;
    pmx__free(*dst);
    *dst = d;
}

/* "OK" or "WARNINGS: \d+" (pve-common upid_status_is_error). Sets *warnings for the latter. */
static bool exit_ok(const char *s, int64_t *warnings) {
    *warnings = 0;
    if (strcmp(s, "OK") == 0)
        return true;
    if (strncmp(s, "WARNINGS: ", 10) != 0)
        return false;
    const char *p = s + 10;
    if (!*p)
        return false;
    int64_t n = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (n < INT64_MAX / 10)
            n = n * 10 + (*p - '0');
    }
    *warnings = n;
    return true;
}

/* Keep at most t->log_lines lines (the newest). */
static int keep_line(pmx_task *t, int64_t n, const char *text) {
    if (t->log_lines <= 0)
        return PMX_OK;
    char *s = pmx__strdup(text);
    if (!s)
        return PMX_ENOMEM;
    if (!t->lines) {
        t->lines = pmx__calloc((size_t)t->log_lines, sizeof *t->lines);
        t->line_n = pmx__calloc((size_t)t->log_lines, sizeof *t->line_n);
        if (!t->lines || !t->line_n) {
            pmx__free(t->lines);
            pmx__free(t->line_n);
            t->lines = NULL;
            t->line_n = NULL;
            pmx__free(s);
            return PMX_ENOMEM;
        }
    }
    if (t->n_lines == (size_t)t->log_lines) {
        pmx__free(t->lines[0]);
        memmove(t->lines, t->lines + 1, (t->n_lines - 1) * sizeof *t->lines);
        memmove(t->line_n, t->line_n + 1, (t->n_lines - 1) * sizeof *t->line_n);
        t->n_lines--;
    }
    t->lines[t->n_lines] = s;
    t->line_n[t->n_lines] = n;
    t->n_lines++;
    return PMX_OK;
}

static void clear_lines(pmx_task *t) {
    for (size_t i = 0; i < t->n_lines; i++)
        pmx__free(t->lines[i]);
    t->n_lines = 0;
}

/* ---- completion ---- */

/* Deliver the result: always from the loop (a call callback or an internal timer). */
static void finish(pmx_task *t, int result, const char *msg) {
    if (!t->active)
        return;
    t->active = false;
    t->result = result;
    if (result != PMX_OK && !t->error)
        set_str(&t->error, msg ? msg : pmx_strerror(result));
    if (t->timer) { /* cannot happen from the state machine; defensive */
        pmx__timer_cancel(t->c, t->timer);
        t->timer = NULL;
    }
    t->c = NULL; /* the client may go away once the callback has run */
    if (t->done)
        t->done(t, result, t->userdata);
    pmx_task_unref(t); /* the loop's reference */
}

/* End the wait with a call's failure. The task's error is the call's message with PVE's
 * per-parameter errors after it: a 400's message alone says only "Parameter verification
 * failed." where the detail is "upid: no such task". */
static void finish_call_failed(pmx_task *t, pmx_call *call, int result) {
    t->http_status = pmx_call_http_status(call);
    pmx__buf b = {0};
    const char *name, *msg, *base = pmx_call_error(call);
    int oom = base && pmx__buf_puts(&b, base);
    size_t i = 0;
    for (; !oom && pmx_call_param_error(call, i, &name, &msg) == PMX_OK; i++)
        oom = pmx__buf_printf(&b, "%s%s: %s", i ? "; " : b.len ? " (" : "(", name, msg) != PMX_OK;
    if (!oom && i)
        oom = pmx__buf_puts(&b, ")");
    finish(t, result, oom || !b.data ? base : b.data);
    pmx__buf_free(&b);
}

static void issue(pmx_task *t);
static void arm_deadline(pmx_task *t);
static int set_upid(pmx_task *t, const char *upid);
static void on_timer(pmx_client *c, void *arg);
static void on_poll(pmx_call *call, int result, void *ud);

/* After the checksum: find the node's endpoint first when there are several. */
static phase first_upload_phase(const pmx_task *t) {
    return pmx__endpoint_count(t->c) > 1 ? PH_PROBE : PH_UPLOAD;
}

static void hash_step(pmx_task *t) {
    if (t->cancelled) {
        finish(t, PMX_ECANCELLED, "upload cancelled");
        return;
    }
    char *err = NULL;
    int r = pmx__upload_hash_step(t->c, t->up, &err);
    if (r == 1 && !t->cancelled) {
        if ((t->timer = pmx__timer_add(t->c, 0, on_timer, t)) != NULL) {
            t->timer_due = pmx__now_ms();
            return;
        }
        r = PMX_ENOMEM;
    }
    if (t->cancelled) {
        pmx__free(err);
        finish(t, PMX_ECANCELLED, "upload cancelled");
        return;
    }
    if (r != PMX_OK) {
        finish(t, r, err ? err : "the checksum could not be computed");
        pmx__free(err);
        return;
    }
    t->ph = first_upload_phase(t);
    issue(t);
}

static void on_timer(pmx_client *c, void *arg) {
    pmx_task *t = arg;
    t->timer = NULL;
    if (pmx__client_destroying(c)) {
        finish(t, PMX_EDESTROYED, "client destroyed while waiting for the task");
        return;
    }
    if (t->ph == PH_HASH)
        hash_step(t);
    else
        issue(t);
}

/* The deadline passed. A failed task is still reported as failed, with what log we have. */
static void deadline_passed(pmx_task *t) {
    if (t->ph == PH_LOG_HEAD || t->ph == PH_LOG_TAIL) {
        finish(t, PMX_ETASK, t->exitstatus);
        return;
    }
    char *msg = t->last_error
                    ? pmx__asprintf("deadline passed while the task was running (last error: %s)",
                                    t->last_error)
                    : NULL;
    finish(t, PMX_ETIMEOUT, msg ? msg : "deadline passed while the task was running");
    pmx__free(msg);
}

/* Sleep for the next backoff interval (shortened to the deadline), then issue(). */
static void schedule(pmx_task *t) {
    if (t->cancelled) {
        finish(t, PMX_ECANCELLED, "wait cancelled");
        return;
    }
    if (pmx__client_destroying(t->c)) {
        finish(t, PMX_EDESTROYED, "client destroyed while waiting for the task");
        return;
    }
    int64_t now = pmx__now_ms();
    int64_t ms = t->cur_ms;
    if (t->deadline >= 0) {
        int64_t left = t->deadline - now;
        if (left <= 0) {
            deadline_passed(t);
            return;
        }
        if (ms > left)
            ms = left;
    }
    pmx__timer *tm = pmx__timer_add(t->c, ms, on_timer, t);
    if (!tm) {
        finish(t, PMX_ENOMEM, "cannot schedule the next poll");
        return;
    }
    t->timer = tm;
    t->timer_due = ms > INT64_MAX - now ? INT64_MAX : now + ms; /* (intervals may be huge) */
    if (t->n_intervals == t->cap_intervals) {
        size_t cap = t->cap_intervals ? t->cap_intervals * 2 : 16;
        int64_t *n = pmx__realloc(t->intervals, cap * sizeof *n);
        if (n) {
            t->intervals = n;
            t->cap_intervals = cap;
        }
    }
    if (t->n_intervals < t->cap_intervals)
        t->intervals[t->n_intervals++] = ms;
    double next = (double)t->cur_ms * t->factor;
    t->cur_ms = next >= (double)t->max_ms ? t->max_ms : (int64_t)(next + 0.5);
    if (t->cur_ms < 1)
        t->cur_ms = 1;
}

/* Send the request of the current phase. */
static void issue(pmx_task *t) {
    if (t->cancelled) {
        finish(t, PMX_ECANCELLED, "wait cancelled");
        return;
    }
    if (t->ph == PH_PROBE) {
        /* The next endpoint whose node is not known yet, while the upload's node is not. */
        size_t n = pmx__endpoint_count(t->c);
        while (t->probe_ep < n && pmx__endpoint_knows_node(t->c, t->probe_ep))
            t->probe_ep++;
        if (t->probe_ep < n && pmx__endpoint_of_node(t->c, pmx__upload_node(t->up)) < 0) {
            static const pmx_retry_opts once = {sizeof(pmx_retry_opts), 0, 1, 0, 0, 0, 0};
            pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
            o.retry = &once;
            o.timeout_ms = 10000;
            pmx__call_spec spec = {.method = PMX_GET, .path = "/cluster/status", .opts = &o,
                                   .force_ep = 1, .ep = t->probe_ep};
            pmx_call *call = NULL;
            int r = pmx__call_start_spec(t->c, &spec, on_poll, t, &call);
            if (r != PMX_OK) {
                finish(t, r, "cannot ask the endpoints which node they are");
                return;
            }
            t->poll = call;
            return;
        }
        t->ph = PH_UPLOAD; /* found, or none is that node: PVE will say so */
    }
    if (t->ph == PH_UPLOAD) {
        pmx_call *call = NULL;
        int r = pmx__upload_send(t->c, t->up, on_poll, t, &call);
        if (r != PMX_OK) {
            finish(t, r, r == PMX_EDESTROYED ? "client destroyed during the upload"
                                             : "cannot start the upload");
            return;
        }
        t->poll = call;
        return;
    }
    int64_t left = 0;
    if (t->deadline >= 0) {
        left = t->deadline - pmx__now_ms();
        if (left <= 0 && t->polls == 0 && t->ph == PH_STATUS) {
            left = 1; /* the first request always goes out, so the start never fails on it */
        } else if (left <= 0) {
            deadline_passed(t);
            return;
        }
    }
    char *path;
    switch (t->ph) {
    case PH_STATUS:
        path = pmx__asprintf("%s/status", t->base);
        break;
    case PH_LOG_HEAD:
        path = pmx__asprintf("%s/log?start=0&limit=%d", t->base, (int)t->log_lines);
        break;
    case PH_LOG_TAIL:
        path = pmx__asprintf("%s/log?start=%lld&limit=%d", t->base, (long long)t->log_start,
                             (int)t->log_lines);
        break;
    default:
        path = pmx__asprintf("%s/log?start=%lld&limit=%d", t->base, (long long)t->log_start,
                             (int)t->page_lines);
        break;
    }
    if (!path) {
        finish(t, PMX_ENOMEM, "cannot build the request");
        return;
    }
    /* The request itself must not outlive the deadline either. */
    pmx_call_opts o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    if (t->deadline >= 0)
        o.timeout_ms = left;
    /* The wait has its own retries of transient errors, within its own deadline. */
    static const pmx_retry_opts once = {sizeof(pmx_retry_opts), 0, 1, 0, 0, 0, 0};
    o.retry = &once;
    pmx__call_spec spec = {.method = PMX_GET, .path = path, .opts = &o};
    pmx_call *call = NULL;
    int r = pmx__call_start_spec(t->c, &spec, on_poll, t, &call);
    pmx__free(path);
    if (r != PMX_OK) {
        finish(t, r, r == PMX_EDESTROYED ? "client destroyed while waiting for the task"
                                         : "cannot start the poll request");
        return;
    }
    t->poll = call;
    if (t->ph == PH_STATUS)
        t->polls++;
}

/* ---- answers ---- */

typedef struct status_scan {
    char *status;
    char *exitstatus;
    bool bad;
} status_scan;

static int status_member(const char *key, const char *v, const char *vend, void *ud) {
    status_scan *s = ud;
    char **dst = strcmp(key, "status") == 0       ? &s->status
                 : strcmp(key, "exitstatus") == 0 ? &s->exitstatus
                                                  : NULL;
    if (!dst || *v == 'n') /* null */
        return 0;
    if (*v != '"') {
        s->bad = true;
        return 1;
    }
    pmx__free(*dst);
    *dst = NULL;
    if (!pmx__json_string(v, vend, dst)) {
        s->bad = true;
        return 1;
    }
    return 0;
}

/* A status answer: returns PMX_OK with t->stopped / t->exitstatus set, or an error. */
static int parse_status(pmx_task *t, pmx_call *call, char **err) {
    size_t len;
    const char *d = pmx_call_data(call, &len);
    status_scan s = {0};
    int r = PMX_OK;
    if (!d || len == 0 || *d != '{' || pmx__json_object_each(d, d + len, status_member, &s) != 0 ||
        s.bad) {
        *err = pmx__strdup("task status answer is not an object with a string \"status\"");
        r = PMX_EDECODE;
    } else if (!s.status ||
               (strcmp(s.status, "running") != 0 && strcmp(s.status, "stopped") != 0)) {
        *err = pmx__asprintf("unexpected task status \"%s\"", s.status ? s.status : "(none)");
        r = PMX_EDECODE;
    } else if (strcmp(s.status, "stopped") == 0) {
        t->stopped = true;
        pmx__free(t->exitstatus);
        /* PVE writes "unexpected status" when it cannot tell; absence is the same. */
        t->exitstatus = s.exitstatus ? s.exitstatus : pmx__strdup("unexpected status");
        s.exitstatus = NULL;
        if (!t->exitstatus)
            r = PMX_ENOMEM;
    }
    pmx__free(s.status);
    pmx__free(s.exitstatus);
    return r;
}

typedef struct line_scan {
    int64_t n;
    bool has_n;
    char *text;
    bool bad;
} line_scan;

static int line_member(const char *key, const char *v, const char *vend, void *ud) {
    line_scan *s = ud;
    if (strcmp(key, "n") == 0) {
        char *e = NULL;
        long long n = strtoll(*v == '"' ? v + 1 : v, &e, 10);
        if (!e || e == v || n < 1) {
            s->bad = true;
            return 1;
        }
        s->n = n;
        s->has_n = true;
    } else if (strcmp(key, "t") == 0) {
        pmx__free(s->text); /* a member given twice: the last one counts */
        s->text = NULL;
        if (*v != '"' || !pmx__json_string(v, vend, &s->text)) {
            s->bad = true;
            return 1;
        }
    }
    return 0;
}

/* Call fn for each {"n":..,"t":..} of a log answer. Returns PMX_OK, PMX_EDECODE, PMX_ENOMEM,
 * or 1 when fn asked to stop. */
typedef int (*line_fn)(pmx_task *t, int64_t n, const char *text, void *ud);

typedef struct each_line_ctx {
    pmx_task *t;
    line_fn fn;
    void *ud;
    size_t *count;
    int rc; /* PMX_EDECODE / PMX_ENOMEM / fn's stop value */
} each_line_ctx;

static int each_line_item(const char *p, const char *ve, size_t i, void *ud) {
    each_line_ctx *x = ud;
    (void)i;
    line_scan s = {0};
    if (*p != '{' || pmx__json_object_each(p, ve, line_member, &s) != 0 || s.bad || !s.has_n ||
        !s.text) {
        pmx__free(s.text);
        x->rc = PMX_EDECODE;
        return 1;
    }
    (*x->count)++;
    int r = x->fn(x->t, s.n, s.text, x->ud);
    pmx__free(s.text);
    if (r)
        x->rc = r;
    return r;
}

static int each_line(pmx_task *t, pmx_call *call, line_fn fn, void *ud, size_t *count) {
    size_t len;
    const char *d = pmx_call_data(call, &len);
    *count = 0;
    if (!d)
        return PMX_EDECODE;
    each_line_ctx x = {t, fn, ud, count, PMX_OK};
    int r = pmx__json_array_each(d, d + len, each_line_item, &x);
    if (r < 0)
        return PMX_EDECODE;
    return r ? x.rc : PMX_OK;
}

static int tail_line(pmx_task *t, int64_t n, const char *text, void *ud) {
    (void)ud;
    return keep_line(t, n, text) == PMX_OK ? 0 : PMX_ENOMEM;
}

typedef struct follow_ctx {
    size_t delivered;
    bool placeholder; /* the only line was PVE's "no content" */
} follow_ctx;

static int follow_line(pmx_task *t, int64_t n, const char *text, void *ud) {
    follow_ctx *f = ud;
    /* An empty log reads as the single line {n:1,t:"no content"}: not a real line, and line 1
     * must still be delivered once the task writes it. */
    if (n == 1 && t->log_start == 0 && strcmp(text, "no content") == 0) {
        f->placeholder = true;
        return 0;
    }
    if (n <= t->log_start)
        return 0; /* already delivered */
    t->log_start = n;
    f->delivered++;
    t->new_lines = true;
    if (keep_line(t, n, text) != PMX_OK)
        return PMX_ENOMEM;
    if (t->line) {
        t->line(t, n, text, t->userdata);
        if (t->cancelled)
            return 1;
    }
    return 0;
}

/* A request failed with @result: retry later when transient, else end the wait. */
static bool transient(pmx_call *call, int result) {
    if (result == PMX_ETRANSPORT || result == PMX_ETIMEOUT)
        return true;
    int st = pmx_call_http_status(call);
    return result == PMX_EHTTP && st >= 500 && st != 501;
}

static void after_stopped(pmx_task *t) {
    if (exit_ok(t->exitstatus, &t->warnings)) {
        finish(t, PMX_OK, NULL);
    } else if (!t->follow && t->log_lines > 0) {
        t->ph = PH_LOG_HEAD;
        t->errors_in_row = 0;
        issue(t);
    } else {
        finish(t, PMX_ETASK, t->exitstatus);
    }
}

/* The upload request ended: its answer is the imgcopy task's UPID, which is then waited for. The
 * call layer already retried what was safe to retry: no transient-error loop here. */
static void upload_answered(pmx_task *t, pmx_call *call, int result) {
    if (result != PMX_OK) {
        finish_call_failed(t, call, result);
        return;
    }
    size_t len = 0;
    const char *d = pmx_call_data(call, &len);
    char *upid = NULL;
    pmx_upid *u = NULL;
    if (!d || *d != '"' || pmx__json_string(d, d + len, &upid) != d + len ||
        pmx_upid_parse(upid, &u, NULL) != PMX_OK) {
        pmx__free(upid);
        finish(t, PMX_EDECODE, "the upload's answer is not a task id");
        return;
    }
    pmx_upid_free(u);
    int r = set_upid(t, upid);
    pmx__free(upid);
    if (r != PMX_OK) {
        finish(t, r, "cannot keep the task id");
        return;
    }
    if (!pmx__upload_waits(t->up)) {
        finish(t, PMX_OK, NULL);
        return;
    }
    t->ph = PH_STATUS;
    arm_deadline(t);
    issue(t);
}

static void on_poll(pmx_call *call, int result, void *ud) {
    pmx_task *t = ud;
    /* Drop our reference; the loop holds its own until this callback returns. */
    if (t->poll == call) {
        t->poll = NULL;
        pmx_call_unref(call);
    }
    if (!t->active) /* cannot happen: a finished wait has no request in flight */
        return;
    if (t->cancelled || result == PMX_ECANCELLED) {
        t->cancelled = true;
        finish(t, PMX_ECANCELLED, "wait cancelled");
        return;
    }
    if (result == PMX_EDESTROYED || pmx__client_destroying(t->c)) {
        finish(t, PMX_EDESTROYED, "client destroyed while waiting for the task");
        return;
    }
    if (t->ph == PH_UPLOAD) {
        upload_answered(t, call, result);
        return;
    }
    if (t->ph == PH_PROBE) { /* an endpoint that cannot answer is skipped */
        if (result == PMX_OK) {
            size_t len = 0;
            const char *d = pmx_call_data(call, &len);
            pmx__endpoint_learn(t->c, t->probe_ep, d, len);
        }
        t->probe_ep++;
        issue(t);
        return;
    }
    if (result != PMX_OK) {
        bool tr = transient(call, result);
        /* The log of a failed task is a bonus: its result is known, so a log that keeps
         * failing gets a few tries, not the wait's whole (perhaps unlimited) budget. */
        int32_t limit = t->max_retries;
        if ((t->ph == PH_LOG_HEAD || t->ph == PH_LOG_TAIL) && (limit <= 0 || limit > LOG_RETRIES))
            limit = LOG_RETRIES;
        if (tr && (limit <= 0 || t->errors_in_row < limit)) {
            t->errors_in_row++;
            /* A poll cut short by the wait's own deadline says nothing about the server: keep
             * the last real error (e.g. "no such task") for the timeout message. */
            bool cut_by_deadline = result == PMX_ETIMEOUT && t->deadline >= 0 &&
                                   pmx__now_ms() >= t->deadline;
            if (!cut_by_deadline || !t->last_error)
                set_str(&t->last_error, pmx_call_error(call));
            schedule(t);
            return;
        }
        if (t->ph == PH_LOG_HEAD || t->ph == PH_LOG_TAIL) {
            /* The task failed; its log is a bonus. A head without its tail is not the tail. */
            if (t->ph == PH_LOG_TAIL)
                clear_lines(t);
            finish(t, PMX_ETASK, t->exitstatus);
            return;
        }
        finish_call_failed(t, call, result);
        return;
    }
    t->errors_in_row = 0;
    char *err = NULL;
    int r = PMX_OK;
    size_t count = 0;
    switch (t->ph) {
    case PH_STATUS:
        r = parse_status(t, call, &err);
        if (r != PMX_OK)
            break;
        if (t->follow) {
            t->ph = PH_FOLLOW_LOG;
            t->new_lines = false;
            issue(t);
        } else if (t->stopped) {
            after_stopped(t);
        } else {
            schedule(t);
        }
        return;
    case PH_LOG_HEAD:
    case PH_LOG_TAIL: {
        clear_lines(t);
        r = each_line(t, call, tail_line, NULL, &count);
        if (r != PMX_OK) {
            clear_lines(t);
            finish(t, PMX_ETASK, t->exitstatus);
            return;
        }
        int64_t total = pmx_call_total(call);
        if (t->ph == PH_LOG_HEAD && total > (int64_t)t->log_lines) {
            t->ph = PH_LOG_TAIL;
            t->log_start = total - t->log_lines;
            issue(t);
            return;
        }
        finish(t, PMX_ETASK, t->exitstatus);
        return;
    }
    case PH_FOLLOW_LOG: {
        follow_ctx f = {0};
        r = each_line(t, call, follow_line, &f, &count);
        if (r == 1 || t->cancelled) {
            finish(t, PMX_ECANCELLED, "wait cancelled");
            return;
        }
        if (r != PMX_OK)
            break;
        if (count >= (size_t)t->page_lines && !f.placeholder && f.delivered) {
            issue(t); /* a full page of new lines: more is waiting */
            return;
        }
        /* A page of nothing but lines already seen says nothing new: the next read waits for
         * the backoff like an empty one (a server repeating old pages cannot spin us). */
        if (t->stopped) {
            after_stopped(t);
            return;
        }
        if (t->new_lines)
            t->cur_ms = t->first_ms; /* the task is talking: listen closely again */
        t->ph = PH_STATUS;
        schedule(t);
        return;
    }
    case PH_HASH:
    case PH_PROBE:
    case PH_UPLOAD:
        break; /* (handled above) */
    }
    if (r == PMX_EDECODE && !err)
        err = pmx__strdup("malformed task log answer");
    t->http_status = pmx_call_http_status(call);
    finish(t, r, err ? err : pmx_strerror(r));
    pmx__free(err);
}

/* ---- starting ---- */

#define OPT_HAS(o, f) ((o)->size >= offsetof(pmx_task_opts, f) + sizeof((o)->f))

static int read_opts(pmx_task *t, const pmx_task_opts *o) {
    t->first_ms = DEF_FIRST_MS;
    t->max_ms = DEF_MAX_MS;
    t->factor = 2.0;
    t->deadline = -1;
    t->log_lines = DEF_LOG_LINES;
    t->page_lines = DEF_PAGE_LINES;
    if (!o)
        return PMX_OK;
    if (o->size < sizeof(uint32_t))
        return PMX_EINVAL;
    if (OPT_HAS(o, flags) && o->flags != 0)
        return PMX_EINVAL;
    int64_t max_ms = 0;
    if (OPT_HAS(o, first_interval_ms)) {
        if (o->first_interval_ms < 0)
            return PMX_EINVAL;
        if (o->first_interval_ms > 0)
            t->first_ms = o->first_interval_ms;
    }
    if (OPT_HAS(o, max_interval_ms)) {
        if (o->max_interval_ms < 0)
            return PMX_EINVAL;
        max_ms = o->max_interval_ms;
    }
    t->max_ms = max_ms > 0 ? max_ms : DEF_MAX_MS;
    if (t->max_ms < t->first_ms) {
        if (max_ms > 0)
            return PMX_EINVAL; /* an explicit cap below the first interval */
        t->max_ms = t->first_ms;
    }
    if (OPT_HAS(o, factor) && o->factor != 0) {
        if (!isfinite(o->factor) || o->factor < 1.0)
            return PMX_EINVAL;
        t->factor = o->factor;
    }
    if (OPT_HAS(o, timeout_ms)) {
        if (o->timeout_ms < 0)
            return PMX_EINVAL;
        t->timeout_ms = o->timeout_ms;
    }
    if (OPT_HAS(o, log_lines) && o->log_lines != 0)
        t->log_lines = o->log_lines < 0 ? 0 : o->log_lines;
    if (OPT_HAS(o, max_retries)) {
        if (o->max_retries < 0)
            return PMX_EINVAL;
        t->max_retries = o->max_retries;
    }
    if (OPT_HAS(o, page_lines)) {
        if (o->page_lines < 0 || o->page_lines > MAX_PAGE_LINES)
            return PMX_EINVAL;
        if (o->page_lines > 0)
            t->page_lines = o->page_lines;
    }
    if (OPT_HAS(o, reserved) && o->reserved != 0)
        return PMX_EINVAL;
    if (OPT_HAS(o, userdata_free))
        t->opt_userdata_free = o->userdata_free;
    if (t->log_lines > MAX_PAGE_LINES)
        return PMX_EINVAL;
    return PMX_OK;
}

/* The wait for the task begins: its deadline counts from now (for an upload, not from the
 * start of the transfer). Saturating: a deadline near INT64_MAX means none in practice. */
static void arm_deadline(pmx_task *t) {
    int64_t now = pmx__now_ms();
    if (t->timeout_ms > 0)
        t->deadline = t->timeout_ms > INT64_MAX - now ? INT64_MAX : now + t->timeout_ms;
}

/* "/nodes/{node}/tasks/{upid}" with both escaped; NULL on ENOMEM. */
static int task_path(const char *upid, char **out) {
    pmx_upid *u = NULL;
    int r = pmx_upid_parse(upid, &u, NULL);
    if (r != PMX_OK)
        return r;
    pmx__buf b = {0};
    if (pmx__buf_puts(&b, "/nodes/") || pmx__buf_escape(&b, u->node, strlen(u->node)) ||
        pmx__buf_puts(&b, "/tasks/") || pmx__buf_escape(&b, upid, strlen(upid))) {
        pmx__buf_free(&b);
        pmx_upid_free(u);
        return PMX_ENOMEM;
    }
    pmx_upid_free(u);
    *out = b.data;
    return PMX_OK;
}

/* The task's UPID is known: its paths, for the wait. */
static int set_upid(pmx_task *t, const char *upid) {
    int r = task_path(upid, &t->base);
    if (r == PMX_OK && !(t->upid = pmx__strdup(upid)))
        r = PMX_ENOMEM;
    return r;
}

/* A wait for upid, or (upid NULL) the upload up followed by the wait for its task (up then
 * belongs to the task, also on failure). */
static int start(pmx_client *c, const char *upid, pmx__upload *up, const pmx_task_opts *opts,
                 bool follow, pmx_task_line_fn line, pmx_task_fn done, void *userdata,
                 pmx_task **out) {
    if (out)
        *out = NULL;
    int r = c ? pmx__client_usable(c) : PMX_EINVAL;
    if (r == PMX_OK && !upid && !up)
        r = PMX_EINVAL;
    if (r == PMX_OK && pmx__client_destroying(c))
        r = PMX_EDESTROYED;
    pmx_task *t = r == PMX_OK ? pmx__calloc(1, sizeof *t) : NULL;
    if (!t) {
        pmx__upload_free(up);
        return r ? r : PMX_ENOMEM;
    }
    t->refs = 1; /* the loop's, dropped after the callback */
    t->result = PMX_EPENDING;
    t->up = up;
    r = read_opts(t, opts);
    if (r == PMX_OK && upid)
        r = set_upid(t, upid);
    if (r != PMX_OK) {
        task_free(t);
        return r;
    }
    t->c = c;
    t->follow = follow;
    t->line = line;
    t->userdata = userdata;
    t->cur_ms = t->first_ms;
    t->active = true;
    t->refs++;
    if (up && pmx__upload_needs_hash(up)) {
        /* The checksum pass runs in slices from the loop, the first on its next pass. */
        t->ph = PH_HASH;
        if (!(t->timer = pmx__timer_add(c, 0, on_timer, t))) {
            task_free(t);
            return PMX_ENOMEM;
        }
        t->timer_due = pmx__now_ms();
    } else {
        /* The first request goes out now; its answer arrives from the loop. @done is set
         * only once it is under way, so a failure here never calls back. */
        t->ph = up ? first_upload_phase(t) : PH_STATUS;
        if (!up)
            arm_deadline(t);
        issue(t);
    }
    if (!t->active) {
        r = t->result;
        task_free(t); /* finish() dropped the loop's reference; ours is the last */
        return r;
    }
    t->done = done;
    t->userdata_free = t->opt_userdata_free; /* accepted: the destructor is ours to run */
    if (out)
        *out = t; /* our extra reference becomes the caller's */
    else
        t->refs--;
    return PMX_OK;
}

int pmx_task_wait(pmx_client *c, const char *upid, const pmx_task_opts *opts, pmx_task_fn done,
                  void *userdata, pmx_task **out) {
    return start(c, upid, NULL, opts, false, NULL, done, userdata, out);
}

int pmx_upload_start(pmx_client *c, const char *node, const char *storage,
                     const pmx_upload_opts *opts, pmx_task_fn done, void *userdata,
                     pmx_task **out) {
    if (out)
        *out = NULL;
    int r = c ? pmx__client_usable(c) : PMX_EINVAL;
    if (r)
        return r;
    pmx__upload *up = NULL;
    if ((r = pmx__upload_new(c, node, storage, opts, userdata, &up)) != PMX_OK)
        return r;
#define UHAS(f) (opts->size >= offsetof(pmx_upload_opts, f) + sizeof opts->f)
    const pmx_task_opts *to = UHAS(task) ? opts->task : NULL;
    if (to && to->size >= offsetof(pmx_task_opts, userdata_free) + sizeof to->userdata_free &&
        to->userdata_free) {
        pmx__upload_free(up);
        return PMX_EINVAL; /* one destructor: the upload's own */
    }
    pmx_task *t = NULL;
    r = start(c, NULL, up, to, false, NULL, done, userdata, &t);
    if (r != PMX_OK)
        return r;
    if (UHAS(userdata_free))
        t->userdata_free = opts->userdata_free;
#undef UHAS
    if (out)
        *out = t;
    else
        pmx_task_unref(t);
    return PMX_OK;
}

int pmx_task_wait_call(pmx_client *c, const pmx_call *call, const pmx_task_opts *opts,
                       pmx_task_fn done, void *userdata, pmx_task **out) {
    if (out)
        *out = NULL;
    if (!c || !call)
        return PMX_EINVAL;
    int r = pmx_call_result(call);
    if (r != PMX_OK)
        return r; /* PMX_EPENDING, or the call's own failure */
    size_t len = 0;
    const char *d = pmx_call_data(call, &len);
    if (!d || len < 2 || *d != '"')
        return PMX_EDECODE;
    char *upid = NULL;
    const char *e = pmx__json_string(d, d + len, &upid);
    if (!e || e != d + len) {
        pmx__free(upid);
        return PMX_EDECODE; /* (or out of memory: the scanner does not tell) */
    }
    pmx_upid *u = NULL;
    r = pmx_upid_parse(upid, &u, NULL);
    pmx_upid_free(u);
    if (r == PMX_OK)
        r = start(c, upid, NULL, opts, false, NULL, done, userdata, out);
    else if (r == PMX_EINVAL)
        r = PMX_EDECODE;
    pmx__free(upid);
    return r;
}

int pmx_task_follow(pmx_client *c, const char *upid, const pmx_task_opts *opts,
                    pmx_task_line_fn line, pmx_task_fn done, void *userdata, pmx_task **out) {
    return start(c, upid, NULL, opts, true, line, done, userdata, out);
}

int pmx_task_cancel(pmx_task *t) {
    if (!t)
        return PMX_EINVAL;
    if (!t->active || t->cancelled)
        return PMX_OK;
    t->cancelled = true;
    if (t->poll) {
        pmx_call_cancel(t->poll); /* on_poll runs from the loop and completes the wait */
    } else if (t->timer) {
        /* Wake up now rather than at the end of the sleep. If that cannot be arranged, the
         * sleep's own timer delivers the cancel when it fires. */
        pmx__timer *now = pmx__timer_add(t->c, 0, on_timer, t);
        if (now) {
            pmx__timer_cancel(t->c, t->timer);
            t->timer = now;
            t->timer_due = pmx__now_ms();
        }
    }
    /* Otherwise we are inside this wait's own processing (a line callback), which checks the
     * flag before doing anything else. */
    return PMX_OK;
}

int pmx_task_wait_sync(pmx_task *t) {
    if (!t)
        return PMX_EINVAL;
    if (!t->active)
        return t->result;
    pmx_task_ref(t);
    int ret = PMX_OK;
    while (t->active) {
        pmx_client *c = t->c;
        int r;
        if (t->poll) {
            pmx_call *p = t->poll;
            pmx_call_ref(p);
            r = pmx_call_wait(p);
            if (pmx_call_result(p) != PMX_EPENDING)
                r = PMX_OK; /* that was the poll's own result: on_poll has taken it */
            pmx_call_unref(p);
        } else {
            int64_t ms = t->timer ? t->timer_due - pmx__now_ms() : 0;
            if (ms < 0)
                ms = 0;
            r = pmx_client_run(c, ms);
            if (r == PMX_ETRANSPORT && t->active)
                pmx_task_cancel(t); /* poll(2) failed: do not spin */
        }
        if ((r == PMX_ERECURSIVE || r == PMX_EFORKED) && t->active) {
            ret = r; /* the loop cannot run here: waiting again would spin */
            break;
        }
    }
    if (!t->active)
        ret = t->result;
    pmx_task_unref(t);
    return ret;
}

/* ---- accessors ---- */

int pmx_task_result(const pmx_task *t) { return t ? t->result : PMX_EINVAL; }
const char *pmx_task_upid(const pmx_task *t) { return t ? t->upid : NULL; }
const char *pmx_task_exitstatus(const pmx_task *t) { return t ? t->exitstatus : NULL; }
int64_t pmx_task_warnings(const pmx_task *t) { return t ? t->warnings : 0; }

const char *pmx_task_error(const pmx_task *t) {
    if (!t || t->active || t->result == PMX_OK)
        return NULL;
    return t->error ? t->error : pmx_strerror(t->result);
}

int pmx_task_http_status(const pmx_task *t) { return t ? t->http_status : 0; }
size_t pmx_task_log_count(const pmx_task *t) { return t ? t->n_lines : 0; }

const char *pmx_task_log_line(const pmx_task *t, size_t i, int64_t *n) {
    if (!t || i >= t->n_lines) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = t->line_n[i];
    return t->lines[i];
}

uint32_t pmx_task_polls(const pmx_task *t) { return t ? t->polls : 0; }
size_t pmx_task_interval_count(const pmx_task *t) { return t ? t->n_intervals : 0; }

int64_t pmx_task_interval(const pmx_task *t, size_t i) {
    return t && i < t->n_intervals ? t->intervals[i] : -1;
}

void *pmx_task_userdata(const pmx_task *t) { return t ? t->userdata : NULL; }

/* ---- stopping ---- */

int pmx_task_stop(pmx_client *c, const char *upid, pmx_done_fn done, void *userdata,
                  pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || !upid)
        return PMX_EINVAL;
    char *path = NULL;
    int r = task_path(upid, &path);
    if (r != PMX_OK)
        return r;
    r = pmx_call_start(c, PMX_DELETE, path, NULL, done, userdata, out);
    pmx__free(path);
    return r;
}
