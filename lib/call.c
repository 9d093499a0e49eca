/* Calls: their states and queues, building requests, handing them to curl, reading responses,
 * completing them and running their callbacks. This file is the only one that links calls into
 * or out of a list (see core.h). */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *method_name(pmx_method m) {
    switch (m) {
    case PMX_GET: return "GET";
    case PMX_POST: return "POST";
    case PMX_PUT: return "PUT";
    case PMX_DELETE: return "DELETE";
    }
    return "?";
}

/* ---- queues ---- */

static void q_push(pmx__callq *q, pmx_call *call) {
    call->qnext = NULL;
    call->qprev = q->tail;
    if (q->tail)
        q->tail->qnext = call;
    else
        q->head = call;
    q->tail = call;
}

static void q_remove(pmx__callq *q, pmx_call *call) {
    if (call->qprev)
        call->qprev->qnext = call->qnext;
    else if (q->head == call)
        q->head = call->qnext;
    if (call->qnext)
        call->qnext->qprev = call->qprev;
    else if (q->tail == call)
        q->tail = call->qprev;
    call->qprev = call->qnext = NULL;
}

static pmx_call *q_pop(pmx__callq *q) {
    pmx_call *call = q->head;
    if (call)
        q_remove(q, call);
    return call;
}

/* The queue a call in state st sits on, or NULL. */
static pmx__callq *queue_of(pmx_client *c, pmx__call_state st) {
    switch (st) {
    case CALL_AUTH_WAIT: return &c->authq;
    case CALL_QUEUED: return &c->sendq;
    case CALL_DONE: return &c->doneq;
    case CALL_GUEST_WAIT: return &c->guestq;
    default: return NULL;
    }
}

/* Move a call to state st, onto the queue that state names. */
static void set_state(pmx_call *call, pmx__call_state st) {
    pmx_client *c = call->client;
    pmx__callq *from = queue_of(c, call->state), *to = queue_of(c, st);
    if (from)
        q_remove(from, call);
    call->state = st;
    if (to)
        q_push(to, call);
}

/* The client's list of unfinished calls. */
static void calls_link(pmx_client *c, pmx_call *call) {
    call->prev = NULL;
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    if (!call->internal)
        c->pending++;
}

static void calls_unlink(pmx_client *c, pmx_call *call) {
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    if (!call->internal)
        c->pending--;
}

int pmx__has_unfinished(const pmx_client *c) { return c->calls != NULL || c->doneq.head != NULL; }

/* ---- lifetime ---- */

static void wipe_slist(struct curl_slist *l) {
    for (; l; l = l->next)
        pmx__wipe(l->data, strlen(l->data));
}

static void free_headers(pmx_call *call) {
    if (call->headers) {
        wipe_slist(call->headers);
        curl_slist_free_all(call->headers);
        call->headers = NULL;
    }
}

static void clear_perrs(pmx_call *call) {
    for (size_t i = 0; i < call->n_perrs; i++) {
        pmx__free(call->perrs[i].name);
        pmx__free(call->perrs[i].msg);
    }
    pmx__free(call->perrs);
    call->perrs = NULL;
    call->n_perrs = call->cap_perrs = 0;
}

static void call_free(pmx_call *call) {
    /* Only finished calls (or never accepted ones) get here: the client holds a reference to
     * every unfinished call. */
    free_headers(call);
    if (call->typed && call->result_free)
        call->result_free(call->typed_ctx, call->typed);
    pmx__stream_free(call->stream);
    if (call->secret) {
        pmx__wipe(call->body, call->body_len);
        pmx__wipe(call->resp.data, call->resp.cap);
        pmx__wipe(call->url, call->url ? strlen(call->url) : 0);
        pmx__wipe(call->target, call->target ? strlen(call->target) : 0);
    }
    if (call->out_fd >= 0) { /* never finished: the new file goes, the path is untouched */
        close(call->out_fd);
        if (call->out_tmp)
            unlink(call->out_tmp);
    }
    pmx__free(call->out_path);
    pmx__free(call->out_tmp);
    pmx__free(call->want_node);
    pmx__free(call->guest_key);
    pmx__free(call->body);
    pmx__buf_free(&call->resp);
    pmx__free(call->path);
    pmx__free(call->target);
    pmx__free(call->url);
    pmx__free(call->reason);
    pmx__free(call->error);
    clear_perrs(call);
    if (call->userdata_free)
        call->userdata_free(call->userdata);
    pmx__free(call);
}

void pmx_call_ref(pmx_call *call) {
    if (call)
        call->refs++;
}

void pmx_call_unref(pmx_call *call) {
    if (call && --call->refs == 0)
        call_free(call);
}

/* ---- accessors ---- */

int pmx_call_result(const pmx_call *call) {
    if (!call)
        return PMX_EINVAL;
    return call->state >= CALL_DONE ? call->result : PMX_EPENDING;
}

int pmx_call_http_status(const pmx_call *call) { return call ? (int)call->http_status : 0; }

/* A successful body that went to a write callback or a file is not in memory. */
static int body_elsewhere(const pmx_call *call) {
    return (call->write_fn || call->out_path) && call->http_status >= 200 && call->http_status < 300;
}

static void cache_answer(pmx_call *call);

const char *pmx_call_body(const pmx_call *call, size_t *len) {
    int none = !call || !call->http_status || !call->resp.data || body_elsewhere(call);
    if (len)
        *len = none ? 0 : call->resp.len;
    return none ? NULL : call->resp.data;
}

const char *pmx_call_data(const pmx_call *call, size_t *len) {
    if (len)
        *len = call && call->data ? call->data_len : 0;
    return call ? call->data : NULL;
}

int64_t pmx_call_total(const pmx_call *call) { return call ? call->total : -1; }

const char *pmx_call_error(const pmx_call *call) {
    if (!call || call->state < CALL_DONE || call->result == PMX_OK)
        return NULL;
    return call->error ? call->error : pmx_strerror(call->result);
}

int pmx_call_param_error(const pmx_call *call, size_t i, const char **name, const char **msg) {
    if (!call || i >= call->n_perrs)
        return PMX_ENOTFOUND;
    if (name)
        *name = call->perrs[i].name;
    if (msg)
        *msg = call->perrs[i].msg;
    return PMX_OK;
}

void *pmx_call_userdata(const pmx_call *call) { return call ? call->userdata : NULL; }

uint32_t pmx_call_attempts(const pmx_call *call) { return call ? call->attempts : 0; }

int pmx_call_cached(const pmx_call *call) { return call && call->from_cache; }

const char *pmx_call_endpoint(const pmx_call *call) { return call ? call->endpoint_seen : NULL; }

pmx_client *pmx_call_client(const pmx_call *call) { return call ? call->client : NULL; }

const void *pmx_call_typed(const pmx_call *call) {
    return call && call->state >= CALL_DONE && call->result == PMX_OK ? call->typed : NULL;
}

/* ---- text from the server ---- */

/* Server text reaches messages and logs: control characters (other than newlines and tabs
 * inside a multi-line message) become '?', so they cannot forge log lines or terminal
 * sequences. Trailing newlines and spaces go. */
static void sanitize(char *s, int keep_newlines) {
    if (!s)
        return;
    size_t n = 0;
    for (char *p = s; *p; p++, n++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && !(keep_newlines && (ch == '\n' || ch == '\t'))) || ch == 0x7f)
            *p = '?';
    }
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

/* ---- completion ---- */

static void set_error(pmx_call *call, const char *msg) {
    if (call->error || !msg)
        return;
    call->error = pmx__strdup(msg);
}

/* Leave the multi handle: the transfer's headers are wiped, its slot freed. */
static void release_easy(pmx_call *call) {
    pmx_client *c = call->client;
    CURL *e = call->easy;
    if (!e)
        return;
    call->easy = NULL;
    pmx__loop_remove(c, e);
    free_headers(call);
    if (call->counted) {
        call->counted = 0;
        c->n_transfers--;
    }
}

/* ---- writes to one guest, one after the other (pmx_client_set_guest_writes) ---- */

/* For a path under /nodes/{node}/qemu|lxc/{vmid}: the length of "node/qemu/vmid" after
 * "/nodes/", the guest's key; else 0. */
static size_t guest_key_len(const char *path) {
    if (strncmp(path, "/nodes/", 7) != 0)
        return 0;
    const char *node = path + 7, *p = node + strcspn(node, "/?");
    if (p == node || *p != '/')
        return 0;
    const char *kind = p + 1;
    if (strncmp(kind, "qemu/", 5) != 0 && strncmp(kind, "lxc/", 4) != 0)
        return 0;
    const char *vmid = kind + (kind[0] == 'q' ? 5 : 4), *e = vmid + strcspn(vmid, "/?");
    return e == vmid ? 0 : (size_t)(e - node);
}

static void admit(pmx_call *call);

/* A write to the guest finished: the next one waiting for it goes. */
static void guest_next(pmx_client *c, const char *key) {
    for (pmx_call *w = c->guestq.head; w; w = w->qnext) {
        if (strcmp(w->guest_key, key) == 0) {
            set_state(w, CALL_NEW);
            admit(w);
            return;
        }
    }
}

/* Let a new call go, unless it is a write to a guest another write is still busy with. */
static void admit(pmx_call *call) {
    pmx_client *c = call->client;
    if (call->guest_key) {
        for (pmx_call *o = c->calls; o; o = o->next) {
            if (o != call && o->guest_admitted && o->state < CALL_DONE &&
                strcmp(o->guest_key, call->guest_key) == 0) {
                set_state(call, CALL_GUEST_WAIT);
                return;
            }
        }
        call->guest_admitted = 1;
    }
    pmx__call_submit(call);
}

void pmx__call_complete(pmx_call *call, int result, const char *msg) {
    pmx_client *c = call->client;
    if (call->state >= CALL_DONE)
        return;
    int freed_slot = call->counted;
    release_easy(call);
    if (call->deadline) {
        pmx__timer_cancel(c, call->deadline);
        call->deadline = NULL;
    }
    if (call->retry_timer) {
        pmx__timer_cancel(c, call->retry_timer);
        call->retry_timer = NULL;
    }
    char why[512];
    if (call->out_fd >= 0) {
        /* The download replaces the path only when complete; else it leaves no half file. */
        int fd = call->out_fd;
        call->out_fd = -1;
        if (close(fd) != 0 && result == PMX_OK) { /* a delayed write error (NFS, quota) */
            snprintf(why, sizeof why, "cannot write the response to %s: %s", call->out_path,
                     strerror(errno));
            result = PMX_ETRANSPORT;
            msg = why;
        }
        if (result == PMX_OK && call->out_tmp && rename(call->out_tmp, call->out_path) != 0) {
            snprintf(why, sizeof why, "cannot put the response at %s: %s", call->out_path,
                     strerror(errno));
            result = PMX_ETRANSPORT;
            msg = why;
        }
        if (result != PMX_OK && call->out_tmp)
            unlink(call->out_tmp);
    }
    call->result = result;
    if (result != PMX_OK)
        set_error(call, msg ? msg : pmx_strerror(result));
    /* A write that went out is over, done or not (a failed one may have been carried out):
     * what was read meanwhile goes too. */
    if (c->cache && call->method != PMX_GET && call->attempts)
        pmx__cache_invalidate(c, call->path);
    set_state(call, CALL_DONE);
    pmx__block_trim(); /* result blocks unused for a while go back to the system */
    if (pmx__log_enabled(c, PMX_LOG_DEBUG))
        pmx__log(c, PMX_LOG_DEBUG, "%s %s -> %ld, %s (%lld ms)", method_name(call->method),
                 call->path, call->http_status, pmx_strerror(result),
                 (long long)(pmx__now_ms() - call->started_ms));
    else if (result != PMX_OK && result != PMX_ECANCELLED && pmx__log_enabled(c, PMX_LOG_WARN))
        pmx__log(c, PMX_LOG_WARN, "%s %s failed: %s", method_name(call->method), call->path,
                 call->error ? call->error : pmx_strerror(result));
    if (freed_slot)
        pmx__call_pump(c);
    if (call->guest_admitted)
        guest_next(c, call->guest_key);
    pmx__loop_update_timer(c);
}

void pmx__call_dispatch(pmx_client *c) {
    pmx_call *call;
    while (!c->free_requested && (call = c->doneq.head)) {
        set_state(call, CALL_FINISHED);
        calls_unlink(c, call);
        c->in_callback++;
        if (call->on_done)
            call->on_done(call);
        else if (call->done)
            call->done(call, call->result, call->userdata);
        call->client = NULL;
        /* the client's reference; its userdata_free may free the client: still "in a
         * callback", so that is deferred */
        pmx_call_unref(call);
        c->in_callback--;
    }
}

void pmx__call_fail_all(pmx_client *c, int code, const char *msg) {
    for (;;) {
        pmx_call *call = c->calls;
        while (call && call->state >= CALL_DONE)
            call = call->next;
        if (!call)
            return;
        pmx__call_complete(call, code, msg);
    }
}

int pmx_call_cancel(pmx_call *call) {
    if (!call)
        return PMX_EINVAL;
    int r = call->client ? pmx__client_usable(call->client) : PMX_OK;
    if (r)
        return r;
    if (call->state < CALL_DONE)
        pmx__call_complete(call, PMX_ECANCELLED, "cancelled");
    return PMX_OK;
}

/* ---- the login wait queue (auth.c decides, call.c keeps the list) ---- */

void pmx__call_park(pmx_call *call) { set_state(call, CALL_AUTH_WAIT); }

int pmx__call_has_parked(const pmx_client *c) { return c->authq.head != NULL; }

void pmx__call_fail_parked(pmx_client *c, int code, const char *msg) {
    pmx_call *call;
    while ((call = c->authq.head))
        pmx__call_complete(call, code, msg); /* takes it off the queue */
}

static void enqueue_send(pmx_call *call);

void pmx__call_release_parked(pmx_client *c) {
    /* Calls parked while these are released (a login starting again) stay parked. */
    pmx__callq batch = c->authq;
    c->authq.head = c->authq.tail = NULL;
    for (pmx_call *call = batch.head; call; call = call->qnext)
        call->state = CALL_NEW; /* off the queue: the batch is ours now */
    pmx_call *call;
    while ((call = q_pop(&batch)))
        if (call->state == CALL_NEW) /* not completed meanwhile */
            enqueue_send(call);
}

/* ---- deadlines ---- */

static void on_deadline(pmx_client *c, void *arg) {
    pmx_call *call = arg;
    call->deadline = NULL;
    if (pmx__client_destroying(c)) {
        pmx__call_complete(call, PMX_EDESTROYED, "client destroyed with the call pending");
        return;
    }
    const char *where = call->state == CALL_AUTH_WAIT   ? " while waiting for a login"
                        : call->state == CALL_QUEUED    ? " while waiting for a free connection"
                        : call->state == CALL_RETRY_WAIT ? " while waiting to retry"
                        : call->state == CALL_GUEST_WAIT ? " while waiting for an earlier write to the guest"
                                                         : "";
    char msg[160];
    snprintf(msg, sizeof msg, "timed out after %lld ms%s", (long long)call->timeout_ms, where);
    pmx__call_complete(call, PMX_ETIMEOUT, msg);
}

/* ---- curl plumbing ---- */

/* A successful answer's body goes to the call's sink, if it has one. */
static int sinking(const pmx_call *call) {
    return (call->write_fn || call->out_fd >= 0) && call->http_status >= 200 &&
           call->http_status < 300;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    pmx_call *call = ud;
    if (call->state != CALL_RUNNING)
        return 0; /* cancelled from a callback: its handle leaves curl once curl returns */
    pmx_client *c = call->client;
    size_t len = size * n;
    if (sinking(call)) {
        if (call->write_fn) {
            call->sink_started = 1;
            c->in_callback++;
            int stop = call->write_fn(call, p, len, call->userdata);
            c->in_callback--;
            if (stop || call->state != CALL_RUNNING) {
                call->sink_error = ECANCELED;
                return 0;
            }
        } else {
            for (size_t done = 0; done < len;) {
                ssize_t w = write(call->out_fd, p + done, len - done);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    call->sink_error = w < 0 ? errno : EIO;
                    return 0;
                }
                done += (size_t)w;
            }
        }
        call->sunk += (int64_t)len;
        return len;
    }
    if (call->stream && call->http_status >= 200 && call->http_status < 300) {
        /* typed calls: the body is decoded as it arrives (lib/decode.c) */
        c->in_callback++; /* an item callback may run */
        int r = pmx__stream_feed(call->stream, p, len);
        c->in_callback--;
        if (pmx__stream_delivered(call->stream))
            call->sink_started = 1; /* elements handed over cannot be taken back: no retry */
        if (r == PMX_ECANCELLED || call->state != CALL_RUNNING)
            return 0; /* the item callback stopped the call */
        if (!pmx__stream_wants_body(call->stream)) {
            if (pmx__stream_fed(call->stream) > c->max_response) { /* bodies without a length */
                call->toobig = 1;
                return 0;
            }
            return len;
        }
    }
    if (len > c->max_response - call->resp.len) {
        call->toobig = 1;
        return 0; /* aborts the transfer */
    }
    if (pmx__buf_append(&call->resp, p, len) != PMX_OK)
        return 0;
    return len;
}

/* Hand the progress to the caller; totals are -1 when unknown. Returns 1 to stop the transfer. */
static int report_progress(pmx_call *call, curl_off_t dlnow, curl_off_t dltotal, curl_off_t ulnow,
                           curl_off_t ultotal) {
    int64_t now = pmx__now_ms();
    if (now - call->progress_ms < 100)
        return 0;
    call->progress_ms = now;
    pmx_client *c = call->client;
    c->in_callback++;
    call->progress_fn(call, (int64_t)dlnow, (int64_t)dltotal, (int64_t)ulnow, (int64_t)ultotal,
                      call->progress_ud);
    c->in_callback--;
    return call->state == CALL_RUNNING ? 0 : 1; /* (cancelled from inside: stop) */
}

/* curl's progress callback says 0 both for "no body" and "not known": the lengths tell which. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    pmx_call *call = ud;
    if (call->state != CALL_RUNNING)
        return 1;
    if (!dltotal && curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &dltotal))
        dltotal = -1;
    if (!ultotal && curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &ultotal))
        ultotal = -1;
    return report_progress(call, dlnow, dltotal, ulnow, ultotal);
}

/* curl is about to write a request: the first time per attempt, fine; again means curl wants to
 * resend it on its own (a reused connection died before any answer byte). A call that is not
 * idempotent must reach the server at most once: refuse. */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port) {
    (void)ip, (void)local_ip, (void)port, (void)local_port;
    pmx_call *call = ud;
    if (call->state != CALL_RUNNING)
        return CURL_PREREQFUNC_ABORT;
    if (call->prereqs++ == 0)
        return CURL_PREREQFUNC_OK;
    if (!call->idempotent) {
        call->resend_blocked = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    call->attempts++;
    return CURL_PREREQFUNC_OK;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
    pmx_call *call = ud;
    if (call->state != CALL_RUNNING)
        return CURL_READFUNC_ABORT;
    int64_t r = call->src.read(call->src.ud, buf, size * n);
    if (r < 0 || (uint64_t)r > size * n) {
        call->sink_error = r == PMX__SRC_OVERLONG || r > 0 ? EOVERFLOW : EIO;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)r;
}

static int on_seek(void *ud, curl_off_t offset, int origin) {
    (void)ud, (void)offset, (void)origin;
    return CURL_SEEKFUNC_CANTSEEK; /* never resent by curl (see on_prereq) */
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    pmx_call *call = ud;
    if (call->state != CALL_RUNNING)
        return 0;
    size_t len = size * n;
    call->header_bytes += len;
    if (call->header_bytes > PMX__MAX_HEADER_BYTES) {
        call->hdr_toobig = 1;
        return 0;
    }
    if (len > 9 && memcmp(p, "HTTP/", 5) == 0) {
        /* A status line: keep its reason phrase, PVE puts its message there. */
        const char *sp = memchr(p, ' ', len);
        const char *end = p + len;
        while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
            end--;
        pmx__free(call->reason);
        call->reason = NULL;
        call->http_status = sp && end - sp > 3 ? strtol(sp + 1, NULL, 10) : 0;
        if (sp && end - sp > 5) {
            const char *r = sp + 5; /* after " NNN " */
            if (r < end)
                call->reason = pmx__strndup(r, (size_t)(end - r));
            sanitize(call->reason, 0);
        }
    } else if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
        if (call->http_status >= 200)
            call->headers_done = 1; /* 1xx blocks are followed by the real one */
    } else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[64];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        char *s = v + strspn(v, " \t");
        s[strcspn(s, "\r\n")] = 0;
        char *e = NULL;
        long long secs = strtoll(s, &e, 10);
        if (e != s && !*e && secs >= 0) {
            call->retry_after_ms = secs > 86400 ? 86400000 : secs * 1000;
        } else { /* an HTTP date */
            time_t when = curl_getdate(s, NULL);
            if (when != -1) {
                long long d = (long long)when - (long long)time(NULL);
                call->retry_after_ms = d <= 0 ? 0 : d > 86400 ? 86400000 : d * 1000;
            }
        }
    }
    return len;
}

/* Total time left (> 0 ms), 0 when the call has no total timeout. */
static int64_t time_left(const pmx_call *call) {
    if (call->timeout_ms <= 0)
        return 0;
    int64_t left = call->timeout_ms - (pmx__now_ms() - call->started_ms);
    /* Beyond that curl's own sums would overflow; the deadline timer still holds. */
    if (left > PMX__CURL_MAX_MS)
        return 0;
    return left > 0 ? left : 1;
}

static void handoff(pmx_call *call);

static void enqueue_send(pmx_call *call) {
    pmx_client *c = call->client;
    if (!call->internal && (c->n_transfers >= c->max_per_host || c->sendq.head)) {
        set_state(call, CALL_QUEUED);
        return;
    }
    handoff(call);
}

void pmx__call_submit(pmx_call *call) {
    if (call->internal || pmx__auth_prepare(call) == PMX__AUTH_SEND)
        enqueue_send(call);
}

void pmx__call_pump(pmx_client *c) {
    while (c->sendq.head && c->n_transfers < c->max_per_host && !c->destroying) {
        pmx_call *call = c->sendq.head;
        set_state(call, CALL_NEW);
        /* The ticket may have changed, or run out, while it waited. */
        if (pmx__auth_prepare(call) == PMX__AUTH_SEND)
            handoff(call);
    }
}

/* The full URL of this attempt: the endpoint's API prefix and the call's target. */
static int build_url(pmx_call *call, const pmx__endpoint *ep) {
    if (call->secret && call->url)
        pmx__wipe(call->url, strlen(call->url));
    pmx__free(call->url);
    call->url = pmx__asprintf("%s%s", ep->api_prefix, call->target);
    return call->url ? PMX_OK : PMX_ENOMEM;
}

static void handoff(pmx_call *call) {
    pmx_client *c = call->client;
    if (!call->force_ep)
        call->ep = pmx__endpoint_pick(c, call);
    call->endpoint_seen = c->eps[call->ep].url.base;
    if (build_url(call, &c->eps[call->ep]) != PMX_OK) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot build the URL");
        return;
    }
    CURL *e = pmx__loop_take_easy(c);
    if (!e) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot create a transfer");
        return;
    }
    call->easy = e;
    set_state(call, CALL_RUNNING);
    call->attempts++;
    call->cache_gen = pmx__cache_gen(c);
    call->prereqs = 0;
    call->resend_blocked = 0;
    call->retry_after_ms = -1;
    call->progress_ms = 0;
    call->errbuf[0] = 0;
    call->header_bytes = 0;
    call->headers_done = 0;
    struct curl_slist *h = NULL;
    int r = PMX_OK;
    /* pveproxy never answers 100-continue */
    if (!(h = curl_slist_append(h, "Expect:")))
        r = PMX_ENOMEM;
    const char *ctype = call->has_src ? call->src.content_type
                        : call->body && call->json_body ? "Content-Type: application/json"
                                                        : NULL;
    if (!r && ctype) {
        struct curl_slist *l = curl_slist_append(h, ctype);
        r = l ? PMX_OK : PMX_ENOMEM;
        h = l ? l : h;
    }
    if (!r && !call->internal)
        r = pmx__auth_headers(call, &h);
    call->headers = h;
    if (r) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot build request headers");
        return;
    }
    /* Options the call cannot go out without: a failure fails the call. */
    CURLcode bad = CURLE_OK;
    const char *bad_opt = NULL;
#define MUST(opt, val)                                                                        \
    do {                                                                                      \
        CURLcode rc_ = curl_easy_setopt(e, opt, val);                                         \
        if (rc_ != CURLE_OK && bad == CURLE_OK) {                                             \
            bad = rc_;                                                                        \
            bad_opt = #opt;                                                                   \
        }                                                                                     \
    } while (0)
    /* Tuning only: the call goes out without them. */
#define TRY(opt, val) (void)curl_easy_setopt(e, opt, val)
    MUST(CURLOPT_URL, call->url);
    MUST(CURLOPT_PATH_AS_IS, 1L); /* send the path exactly as built: no dot-segment removal */
    MUST(CURLOPT_PRIVATE, call);
    MUST(CURLOPT_SHARE, c->share);
    MUST(CURLOPT_NOSIGNAL, 1L);
    MUST(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    MUST(CURLOPT_PROTOCOLS_STR, c->tls ? "https" : "http");
    MUST(CURLOPT_FOLLOWLOCATION, 0L);
    MUST(CURLOPT_ERRORBUFFER, call->errbuf);
    MUST(CURLOPT_WRITEFUNCTION, on_body);
    MUST(CURLOPT_WRITEDATA, call);
    MUST(CURLOPT_HEADERFUNCTION, on_header);
    MUST(CURLOPT_HEADERDATA, call);
    MUST(CURLOPT_HTTPHEADER, call->headers);
    MUST(CURLOPT_CONNECTTIMEOUT_MS,
         (long)(c->connect_ms > PMX__CURL_MAX_MS ? PMX__CURL_MAX_MS : c->connect_ms));
    /* The total timeout is the call's own deadline timer (armed when it was accepted); curl
     * only learns the time left, so both agree. */
    MUST(CURLOPT_TIMEOUT_MS, (long)time_left(call));
    int64_t stall_ms = call->stall_ms ? call->stall_ms : c->stall_ms;
    int64_t stall_bps = call->stall_bps ? call->stall_bps : c->stall_bps;
    if (stall_ms > 0) {
        MUST(CURLOPT_LOW_SPEED_LIMIT, (long)stall_bps);
        /* whole seconds, rounded up; curl counts them in ms (no overflow there either) */
        int64_t secs = stall_ms / 1000 + (stall_ms % 1000 != 0);
        MUST(CURLOPT_LOW_SPEED_TIME, (long)(secs > PMX__CURL_MAX_MS / 1000 ? PMX__CURL_MAX_MS / 1000
                                                                          : secs));
    }
    if (!call->write_fn && call->out_fd < 0)
        MUST(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    MUST(CURLOPT_PREREQFUNCTION, on_prereq);
    MUST(CURLOPT_PREREQDATA, call);
    if (call->progress_fn) {
        MUST(CURLOPT_XFERINFOFUNCTION, on_progress);
        MUST(CURLOPT_XFERINFODATA, call);
        MUST(CURLOPT_NOPROGRESS, 0L);
    }
    /* NULL: no Accept-Encoding and no decoding (pmx_client_set_compression) */
    TRY(CURLOPT_ACCEPT_ENCODING, c->no_compression ? NULL : "gzip");
    TRY(CURLOPT_TCP_KEEPALIVE, 1L);
    TRY(CURLOPT_TCP_NODELAY, 1L);
    /* pveproxy drops idle connections after 5 s: never reuse one idle for 4 s or more. */
    TRY(CURLOPT_MAXAGE_CONN, 4L);
    TRY(CURLOPT_USERAGENT, "libproxmox/" PMX_VERSION_STRING);
    switch (call->method) {
    case PMX_GET:
        MUST(CURLOPT_HTTPGET, 1L);
        break;
    case PMX_DELETE:
        MUST(CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    case PMX_POST:
    case PMX_PUT:
        /* Always a body with a Content-Length (pveproxy refuses chunked requests). */
        if (call->has_src) {
            MUST(CURLOPT_POST, 1L);
            MUST(CURLOPT_READFUNCTION, on_read);
            MUST(CURLOPT_READDATA, call);
            MUST(CURLOPT_SEEKFUNCTION, on_seek);
            MUST(CURLOPT_SEEKDATA, call);
            MUST(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->src.length);
            TRY(CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
        } else {
            MUST(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
            MUST(CURLOPT_POSTFIELDS, call->body ? call->body : "");
        }
        if (call->method == PMX_PUT)
            MUST(CURLOPT_CUSTOMREQUEST, "PUT");
        break;
    }
#undef MUST
#undef TRY
    if (bad != CURLE_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "cannot set up the transfer: %s: %s", bad_opt,
                 curl_easy_strerror(bad));
        pmx__call_complete(call, bad == CURLE_URL_MALFORMAT ? PMX_EINVAL : PMX_ETRANSPORT, msg);
        return;
    }
    const char *why = NULL;
    if (pmx__tls_setup(c, e, &why) != PMX_OK) {
        pmx__call_complete(call, PMX_ETLS, why);
        return;
    }
    r = pmx__loop_add(c, e, &why);
    if (r != PMX_OK) {
        pmx__call_complete(call, r, why);
        return;
    }
    c->used = 1;
    if (!call->internal) {
        call->counted = 1;
        c->n_transfers++;
    }
}

/* ---- response parsing ---- */

typedef struct scan_ctx {
    pmx_call *call;
    const char *errors, *errors_end;
    const char *message, *message_end;
} scan_ctx;

static int add_perr(const char *key, const char *v, const char *vend, void *ud) {
    pmx_call *call = ud;
    if (call->n_perrs == call->cap_perrs) {
        size_t cap = call->cap_perrs ? call->cap_perrs * 2 : 4;
        pmx__perr *n = pmx__realloc(call->perrs, cap * sizeof *n);
        if (!n)
            return 1;
        call->perrs = n;
        call->cap_perrs = cap;
    }
    char *msg = NULL;
    if (*v == '"')
        pmx__json_string(v, vend, &msg);
    else
        msg = pmx__strndup(v, (size_t)(vend - v));
    char *name = pmx__strdup(key);
    if (!msg || !name) {
        pmx__free(msg);
        pmx__free(name);
        return 1;
    }
    sanitize(name, 0);
    sanitize(msg, 1);
    call->perrs[call->n_perrs++] = (pmx__perr){name, msg};
    return 0;
}

/* The envelope, in one validating pass (lib/decode.c). */
static int scan_body(pmx_call *call, scan_ctx *s) {
    memset(s, 0, sizeof *s);
    s->call = call;
    pmx__body b;
    char *err = NULL;
    int r = pmx__decode_body(NULL, call->resp.data, call->resp.len, &b, &err);
    if (call->secret)
        pmx__secret_free(err); /* it may quote the body */
    else
        pmx__free(err);
    if (r != PMX_OK)
        return -1;
    call->data = b.data;
    call->data_len = b.data_len;
    call->total = b.total;
    s->message = b.message;
    s->message_end = b.message_end;
    s->errors = b.errors;
    s->errors_end = b.errors_end;
    return 0;
}

static int map_curl(pmx_call *call, CURLcode code) {
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return PMX_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
        return PMX_ETLS;
    case CURLE_FILESIZE_EXCEEDED:
        return PMX_ETOOBIG;
    case CURLE_WRITE_ERROR:
        return call->toobig || call->hdr_toobig ? PMX_ETOOBIG : PMX_ENOMEM;
    case CURLE_OUT_OF_MEMORY:
        /* curl refuses a single giant header line this way: not our memory */
        return call->http_status && !call->headers_done ? PMX_ETOOBIG : PMX_ENOMEM;
    default:
        return PMX_ETRANSPORT;
    }
}

typedef enum {
    CLS_NONE = 0, /* not to be retried */
    CLS_NOT_SENT, /* (a) never reached the server: safe for any call */
    CLS_SENT,     /* (b) broke after the request was written: idempotent calls only */
    CLS_BUSY      /* (c) the server said "not now": safe for any call */
} retry_class;

static retry_class classify_code(pmx_call *call, CURLcode code);

/* A request written to a reused connection that died unanswered is resent by curl itself on a
 * new one. If that connection then fails (refused, handshake broken), the code says "never
 * connected", but the request went out once already: the server may have it. */
static int written_then_reconnect_failed(const pmx_call *call, CURLcode code, retry_class k) {
    return k == CLS_NOT_SENT && call->prereqs > 0 && code != CURLE_OPERATION_TIMEDOUT &&
           code != CURLE_ABORTED_BY_CALLBACK;
}

static void transfer_failed(pmx_call *call, CURLcode code) {
    pmx_client *c = call->client;
    int r = map_curl(call, code);
    char msg[CURL_ERROR_SIZE + 200];
    if (r == PMX_ETLS && c->pinned && c->pin_seen[0]) {
        snprintf(msg, sizeof msg, "certificate fingerprint mismatch: server presented %s",
                 c->pin_seen);
        c->pin_seen[0] = 0;
    } else if (call->resend_blocked) {
        r = PMX_ETRANSPORT;
        snprintf(msg, sizeof msg,
                 "the connection broke after the request was sent, before any answer; not sent "
                 "again: the call is not idempotent (the server may have carried it out)");
    } else if (!call->idempotent &&
               written_then_reconnect_failed(call, code, classify_code(call, code))) {
        snprintf(msg, sizeof msg,
                 "the connection broke after the request was sent, then reconnecting failed (%s); "
                 "not sent again: the call is not idempotent (the server may have carried it out)",
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(code));
    } else if (call->sink_error == ECANCELED) {
        r = PMX_ECANCELLED;
        snprintf(msg, sizeof msg, "the write callback stopped the transfer");
    } else if (pmx__stream_stopped(call->stream)) {
        r = PMX_ECANCELLED;
        snprintf(msg, sizeof msg, "stopped by the item callback");
    } else if (call->sink_error && call->has_src && code == CURLE_ABORTED_BY_CALLBACK) {
        r = PMX_ETRANSPORT;
        snprintf(msg, sizeof msg, "cannot read the request body%s",
                 call->sink_error == EOVERFLOW
                     ? ": the read callback returned more bytes than it was asked for"
                     : "");
    } else if (call->sink_error) {
        r = PMX_ETRANSPORT;
        snprintf(msg, sizeof msg, "cannot write the response to %s: %s",
                 call->out_path ? call->out_path : "the sink", strerror(call->sink_error));
    } else if (r == PMX_ETOOBIG && (call->hdr_toobig || code == CURLE_OUT_OF_MEMORY)) {
        snprintf(msg, sizeof msg, "response headers larger than %d bytes",
                 PMX__MAX_HEADER_BYTES);
    } else if (r == PMX_ETOOBIG) {
        snprintf(msg, sizeof msg, "response body larger than the cap of %zu bytes",
                 c->max_response);
    } else if (code == CURLE_OPERATION_TIMEDOUT && strstr(call->errbuf, "too slow")) {
        snprintf(msg, sizeof msg, "transfer stalled: %s", call->errbuf);
    } else if (code == CURLE_OPERATION_TIMEDOUT && call->timeout_ms > 0 &&
               !strstr(call->errbuf, "onnect")) {
        snprintf(msg, sizeof msg, "timed out after %lld ms", (long long)call->timeout_ms);
    } else {
        snprintf(msg, sizeof msg, "%s", call->errbuf[0] ? call->errbuf : curl_easy_strerror(code));
    }
    sanitize(msg, 0);
    pmx__call_complete(call, r, msg);
}

/* ---- retries ---- */

static retry_class classify_code(pmx_call *call, CURLcode code) {
    if (call->sink_error || call->hdr_toobig || call->toobig)
        return CLS_NONE;
    curl_off_t sent = 0;
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return CLS_NOT_SENT;
    case CURLE_SSL_CONNECT_ERROR:
        /* The handshake broke off (not a verdict on the certificate: that is another code). */
        return call->client->pin_seen[0] ? CLS_NONE : CLS_NOT_SENT;
    case CURLE_OPERATION_TIMEDOUT:
        /* The prerequest callback runs just before curl writes a request, on a new connection
         * or a reused one (whose connect times stay 0: they cannot tell). */
        if (call->prereqs == 0)
            return CLS_NOT_SENT; /* the connect or the handshake timed out */
        return strstr(call->errbuf, "too slow") ? CLS_SENT : CLS_NONE; /* stalled / total */
    case CURLE_SEND_ERROR:
        if (curl_easy_getinfo(call->easy, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0)
            return CLS_NOT_SENT;
        return CLS_SENT;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return CLS_SENT;
    case CURLE_ABORTED_BY_CALLBACK:
        return call->resend_blocked ? CLS_SENT : CLS_NONE;
    default:
        return CLS_NONE;
    }
}

static retry_class classify_transport(pmx_call *call, CURLcode code) {
    retry_class k = classify_code(call, code);
    return written_then_reconnect_failed(call, code, k) ? CLS_SENT : k;
}

/* PVE's lock timeout: raised while waiting for a config lock, before the action ran. */
static int lock_timeout(const pmx_call *call) {
    if (call->http_status != 500)
        return 0;
    const char *t = call->reason ? call->reason : "";
    if (strstr(t, "can't lock file") && strstr(t, "got timeout"))
        return 1;
    t = call->resp.data ? call->resp.data : "";
    return strstr(t, "can't lock file") && strstr(t, "got timeout");
}

static retry_class classify_status(const pmx_call *call) {
    long st = call->http_status;
    if (st == 503 || st == 595 || lock_timeout(call))
        return CLS_BUSY; /* not carried out: unavailable, PVE could not reach the node, lock */
    /* The request went through a proxy that then got no (good) answer in time: 596 is
     * pveproxy's timeout after it sent the request on to another node, 504 and 502 a front
     * proxy's. The action may run: only idempotent calls are sent again. */
    if (st == 502 || st == 504 || st == 596)
        return CLS_SENT;
    return CLS_NONE;
}

static uint64_t jitter(pmx_client *c) {
    /* xorshift64*: full jitter needs spread, not secrecy */
    if (!c->rng)
        c->rng = ((uint64_t)pmx__now_ms() << 20) ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ull;
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ull;
}

static void on_retry_timer(pmx_client *c, void *arg) {
    pmx_call *call = arg;
    call->retry_timer = NULL;
    if (pmx__client_destroying(c)) {
        pmx__call_complete(call, PMX_EDESTROYED, "client destroyed with the call pending");
        return;
    }
    set_state(call, CALL_NEW);
    pmx__call_submit(call);
}

/* Forget a response before the call is sent again. */
static void reset_response(pmx_call *call) {
    if (call->secret)
        pmx__wipe(call->resp.data, call->resp.len);
    call->resp.len = 0;
    if (call->resp.data)
        call->resp.data[0] = 0;
    pmx__free(call->reason);
    call->reason = NULL;
    call->http_status = 0;
    call->toobig = call->hdr_toobig = call->headers_done = 0;
    call->data = NULL;
    call->data_len = 0;
    call->total = -1;
    clear_perrs(call);
    pmx__stream_reset(call->stream); /* a resend's or retry's body is decoded afresh */
    if (call->out_fd >= 0 && call->sunk) {
        /* A file sink starts over (the callback sink is never retried once fed). */
        if (ftruncate(call->out_fd, 0) != 0 || lseek(call->out_fd, 0, SEEK_SET) != 0)
            call->sink_error = errno;
    }
    call->sunk = 0;
}

/* Whether (and after how long) the failed attempt is tried again; also moves the client off an
 * endpoint that could not be reached. Returns 1 when a retry was scheduled. */
static int maybe_retry(pmx_call *call, retry_class cls, const char *why) {
    pmx_client *c = call->client;
    if (cls == CLS_NONE || (cls == CLS_SENT && !call->idempotent) || call->sink_started ||
        c->destroying)
        return 0;
    int failover = (cls == CLS_NOT_SENT || call->http_status == 595 || call->http_status == 596) &&
                   !call->force_ep && !call->want_node && call->failovers + 1 < c->n_eps &&
                   pmx__endpoint_failed(c, call->ep);
    if (!failover && call->attempts >= call->retry.max_attempts)
        return 0;
    int64_t now = pmx__now_ms(), delay;
    if (failover) {
        delay = 0;
    } else if (call->retry_after_ms >= 0) {
        delay = call->retry_after_ms;
    } else {
        int64_t cap = call->retry.base_ms;
        for (uint32_t i = 1; i < call->attempts && cap < call->retry.max_delay_ms; i++)
            cap = cap > call->retry.max_delay_ms / 2 ? call->retry.max_delay_ms : cap * 2;
        if (cap > call->retry.max_delay_ms)
            cap = call->retry.max_delay_ms;
        delay = cap > 0 ? (int64_t)(jitter(c) % ((uint64_t)cap + 1)) : 0;
    }
    /* (differences, not sums: deadlines and timeouts may be as large as INT64_MAX) */
    int64_t elapsed = now - call->started_ms;
    if (delay > call->retry.deadline_ms - elapsed ||
        (call->timeout_ms > 0 && delay >= call->timeout_ms - elapsed))
        return 0; /* out of time: report this attempt's failure now */
    if (call->has_src && (!call->src.rewind || call->src.rewind(call->src.ud) != PMX_OK))
        return 0;
    pmx__timer *t = pmx__timer_add(c, delay, on_retry_timer, call);
    if (!t)
        return 0;
    pmx__log(c, PMX_LOG_INFO, "%s %s: %s; %s (attempt %u) in %lld ms", method_name(call->method),
             call->path, why, failover ? "trying the next endpoint" : "retrying",
             (unsigned)call->attempts + 1, (long long)delay);
    if (failover)
        call->failovers++;
    int freed_slot = call->counted;
    release_easy(call);
    reset_response(call);
    call->retry_timer = t;
    set_state(call, CALL_RETRY_WAIT);
    if (freed_slot)
        pmx__call_pump(c);
    return 1;
}

void pmx__call_transfer_done(pmx_call *call, CURLcode code) {
    if (call->state != CALL_RUNNING)
        return;
    long st = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &st);
    call->http_status = st;
    if (st > 0 && st != 595 && st != 596)
        pmx__endpoint_answered(call->client, call->ep);
    if (call->progress_fn) { /* the last word of this attempt */
        call->progress_ms = 0;
        curl_off_t dl = 0, dlt = -1, ul = 0, ult = -1;
        curl_easy_getinfo(call->easy, CURLINFO_SIZE_DOWNLOAD_T, &dl);
        curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &dlt);
        curl_easy_getinfo(call->easy, CURLINFO_SIZE_UPLOAD_T, &ul);
        curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &ult);
        report_progress(call, dl, dlt, ul, ult);
        if (call->state != CALL_RUNNING)
            return; /* cancelled from the progress callback */
    }
    if (code != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 40];
        snprintf(why, sizeof why, "%s", call->resend_blocked ? "connection lost"
                                        : call->errbuf[0]     ? call->errbuf
                                                              : curl_easy_strerror(code));
        sanitize(why, 0);
        if (!maybe_retry(call, classify_transport(call, code), why))
            transfer_failed(call, code);
        return;
    }
    if (call->sink_error) { /* a file sink could not start over */
        transfer_failed(call, CURLE_WRITE_ERROR);
        return;
    }
    if (pmx__buf_reserve(&call->resp, 0) != PMX_OK) { /* always a NUL-terminated body */
        pmx__call_complete(call, PMX_ENOMEM, NULL);
        return;
    }
    /* A write refused for its CSRF token on a ticket set without one (reads only) and no
     * password to log in with: that write fails, the ticket stays good for reads. */
    int csrf_only = st == 401 && call->method != PMX_GET && !call->client->password &&
                    (!call->client->csrf_header || (call->reason && strcasestr(call->reason, "csrf")));
    int ticket_401 = st == 401 && call->with_ticket && !call->internal && call->resp.len == 0 &&
                     !call->retried && !csrf_only;
    if (ticket_401)
        pmx__auth_ticket_refused(call); /* before the slot is freed: queued calls must not go
                                          * out with the refused ticket */
    /* The auth layer refused the ticket before any handler ran, so resending is safe whatever
     * the method: log in again and send the call once more. A streamed body (an upload) must
     * then start over from its first byte; one that cannot is not resent. */
    if (ticket_401 &&
        (!call->has_src || (call->src.rewind && call->src.rewind(call->src.ud) == PMX_OK))) {
        char *reason = call->reason;
        call->reason = NULL;
        int freed_slot = call->counted;
        release_easy(call);
        reset_response(call);
        set_state(call, CALL_NEW);
        int resent = pmx__auth_on_401(call);
        if (freed_slot)
            pmx__call_pump(call->client);
        if (resent) {
            pmx__free(reason);
            return;
        }
        call->reason = reason;
        call->http_status = 401;
    }
    if (st >= 200 && st < 300 && (call->write_fn || call->out_fd >= 0)) {
        pmx__call_complete(call, PMX_OK, NULL); /* the body went to the sink */
        return;
    }
    retry_class busy = classify_status(call);
    if (busy != CLS_NONE) {
        char why[160];
        snprintf(why, sizeof why, "HTTP %ld %s", st, call->reason ? call->reason : "");
        sanitize(why, 0);
        if (maybe_retry(call, busy, why))
            return;
    }
    if (st >= 200 && st < 300 && call->stream) { /* typed: decoded while it arrived */
        pmx__body b;
        char *err = NULL;
        int r = pmx__stream_finish(call->stream, call->resp.len ? call->resp.data : NULL, &b, &err);
        if (r != PMX_OK) {
            sanitize(err, 0);
            pmx__call_complete(call, r, err ? err : "malformed JSON in the response body");
            pmx__free(err);
            return;
        }
        call->typed = b.typed;
        call->data = b.data;
        call->data_len = b.data_len;
        call->total = b.total;
        if (!pmx__stream_wants_body(call->stream))
            pmx__buf_free(&call->resp); /* PMX_CALL_NO_BODY: pmx_call_body() is NULL */
        cache_answer(call);
        pmx__call_complete(call, PMX_OK, NULL);
        return;
    }
    scan_ctx s;
    int json_ok = call->resp.len ? scan_body(call, &s) == 0 : 0;
    if (st >= 200 && st < 300) {
        if (!json_ok) {
            call->data = NULL;
            pmx__call_complete(call, PMX_EDECODE,
                               call->resp.len ? "malformed JSON in the response body"
                                              : "empty response body");
            return;
        }
        cache_answer(call);
        pmx__call_complete(call, PMX_OK, NULL); /* (typed answers took the branch above) */
        return;
    }
    char *msg = NULL;
    if (json_ok) {
        if (s.message)
            pmx__json_string(s.message, s.message_end, &msg);
        if (s.errors)
            pmx__json_object_each(s.errors, s.errors_end, add_perr, call);
    } else {
        call->data = NULL;
    }
    sanitize(msg, 1);
    if (!msg || !*msg) {
        pmx__free(msg);
        msg = call->reason && *call->reason ? pmx__strdup(call->reason)
                                            : pmx__asprintf("HTTP status %ld", st);
    }
    int r = st == 401 ? PMX_EAUTH : st == 403 ? PMX_EPERM : PMX_EHTTP;
    pmx__call_complete(call, r, msg);
    pmx__free(msg);
}

/* ---- starting calls ---- */

/* The target (path and query) and the body; the endpoint's prefix is put in front of the target
 * at each attempt. */
static int build_request(pmx_call *call, const char *path, const pmx_params *params) {
    pmx__buf u = {0};
    u.secret = call->secret; /* the query may carry a secret (GET with a password...) */
    int has_query = strchr(path, '?') != NULL;
    if (pmx__buf_reserve(&u, strlen(path) + 64) || pmx__buf_puts(&u, path))
        goto nomem;
    if (call->method == PMX_GET || call->method == PMX_DELETE) {
        if (params && params->n) {
            if (pmx__buf_append(&u, has_query ? "&" : "?", 1) || pmx__params_form(params, &u))
                goto nomem;
        }
    } else if (params && params->n) {
        pmx__buf b = {0};
        b.secret = call->secret;
        int r = call->json_body ? pmx__params_json(params, &b) : pmx__params_form(params, &b);
        if (r) {
            pmx__buf_free(&b);
            goto nomem;
        }
        call->body = b.data;
        call->body_len = b.len;
    } else {
        call->json_body = 0; /* PVE refuses an empty JSON body: send an empty form */
    }
    call->target = u.data;
    return PMX_OK;
nomem:
    pmx__buf_free(&u);
    return PMX_ENOMEM;
}

/* Generic calls carry secrets when the schema marks one of their parameters or the method's
 * answer secret (passwords, tickets, token secrets), or a parameter is named like a password
 * (paths the schema does not know). */
static int generic_secret(const pmx__call_spec *spec) {
    if (pmx__secret_params(spec->method, spec->path, spec->params))
        return 1;
    /* A query written into the path itself. */
    const char *q = strchr(spec->path, '?');
    if (q && (strcasestr(q, "password") || strcasestr(q, "secret") || strcasestr(q, "ticket")))
        return 1;
    for (size_t i = 0; spec->params && i < spec->params->n; i++)
        if (strstr(spec->params->v[i].name, "password") || strstr(spec->params->v[i].name, "secret"))
            return 1;
    return 0;
}

/* The optional GET cache: a fresh answer completes the call without sending it (from the loop,
 * like any other). A write drops what it may change as it starts (and again when it is done).
 * Returns 1 when the call was answered. */
static int answer_from_cache(pmx_call *call, int streamed) {
    pmx_client *c = call->client;
    if (!c->cache)
        return 0;
    if (call->method != PMX_GET) {
        pmx__cache_invalidate(c, call->path);
        return 0;
    }
    char *body = NULL;
    size_t len = 0;
    /* A call aimed at one endpoint asks that endpoint about itself (GET /cluster/status:
     * "local"): another endpoint's answer is no answer. */
    if (call->secret || call->write_fn || call->out_fd >= 0 || streamed || call->force_ep ||
        !pmx__cache_lookup(c, call->target, &body, &len))
        return 0;
    pmx__buf_free(&call->resp);
    call->resp.data = body;
    call->resp.len = len;
    call->resp.cap = len + 1;
    call->http_status = 200;
    call->from_cache = 1;
    pmx__body b;
    char *err = NULL;
    int r = pmx__decode_body(call->stream ? call->typed_ctx : NULL, body, len, &b, &err);
    if (r == PMX_OK) {
        call->typed = b.typed;
        call->data = b.data;
        call->data_len = b.data_len;
        call->total = b.total;
    }
    pmx__call_complete(call, r, err);
    pmx__free(err);
    return 1;
}

/* A successful GET answer kept in memory goes into the cache (when a rule covers it). */
static void cache_answer(pmx_call *call) {
    pmx_client *c = call->client;
    if (c->cache && call->method == PMX_GET && !call->secret && !call->from_cache &&
        !call->force_ep && call->resp.data && call->resp.len && !body_elsewhere(call))
        pmx__cache_store(c, call->target, call->resp.data, call->resp.len, call->cache_gen);
}

#define OPTS_HAS(o, f) ((o)->size >= offsetof(pmx_call_opts, f) + sizeof((o)->f))

/* The download's new file, beside call->out_path: "<path>.part-<12 hex digits>", created
 * exclusively (O_EXCL: never an existing file, never through a link), mode 0666 less the umask;
 * it later replaces the path (a link there included, never its target). A device or pipe at
 * the path (or behind a link there) is written directly (out_tmp stays NULL). Sets call->out_tmp and
 * call->out_fd. Returns PMX_OK, PMX_ENOMEM, or PMX_EINVAL (errno set). */
static int open_part_file(pmx_call *call) {
    struct stat st;
    int exists = stat(call->out_path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return PMX_EINVAL;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* a device or a pipe the caller named, perhaps through a link (/dev/stdout): written in
         * place, never removed; a pipe without a reader is refused rather than waited for */
        call->out_fd = open(call->out_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (call->out_fd < 0)
            return PMX_EINVAL;
        int fl = fcntl(call->out_fd, F_GETFL);
        if (fl < 0 || fcntl(call->out_fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            close(call->out_fd);
            call->out_fd = -1;
            return PMX_EINVAL;
        }
        return PMX_OK;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t r = jitter(call->client);
        pmx__free(call->out_tmp);
        call->out_tmp = pmx__asprintf("%s.part-%012llx", call->out_path,
                                      (unsigned long long)(r >> 16));
        if (!call->out_tmp)
            return PMX_ENOMEM;
        call->out_fd = open(call->out_tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0666);
        if (call->out_fd >= 0)
            return PMX_OK;
        if (errno != EEXIST)
            break;
    }
    pmx__free(call->out_tmp);
    call->out_tmp = NULL;
    return PMX_EINVAL;
}

int pmx__call_start_spec(pmx_client *c, const pmx__call_spec *spec, pmx_done_fn done,
                         void *userdata, pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || !spec || !spec->path || spec->method < PMX_GET || spec->method > PMX_DELETE)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    if (c->destroying || c->free_requested)
        return PMX_EDESTROYED;
    const char *why = NULL;
    if (!spec->fail_code && pmx__path_check(spec->path, &why) != PMX_OK) {
        pmx__log(c, PMX_LOG_WARN, "refusing the path of a %s call: %s", method_name(spec->method),
                 why);
        return PMX_EINVAL;
    }
    const pmx_call_opts *o = spec->opts;
    pmx__retry retry = c->retry;
    if (o && (o->size < offsetof(pmx_call_opts, flags) + sizeof o->flags ||
              (o->flags & ~(uint32_t)(PMX_CALL_JSON_BODY | PMX_CALL_IDEMPOTENT | PMX_CALL_NO_BODY)) ||
              (OPTS_HAS(o, timeout_ms) && o->timeout_ms < 0) ||
              (OPTS_HAS(o, retry) && o->retry && pmx__retry_from_opts(&retry, o->retry)) ||
              (OPTS_HAS(o, output_path) && o->output_path && OPTS_HAS(o, write_fn) && o->write_fn) ||
              (OPTS_HAS(o, stall_ms) && o->stall_ms < 0) ||
              (OPTS_HAS(o, stall_bytes_per_s) && o->stall_bytes_per_s < 0)))
        return PMX_EINVAL;
    /* typed calls only: elements one by one, no raw body; not with a body sink */
    pmx_item_fn on_item = o && OPTS_HAS(o, on_item) ? o->on_item : NULL;
    void *item_ud = o && OPTS_HAS(o, item_userdata) ? o->item_userdata : NULL;
    int no_body = o && (o->flags & PMX_CALL_NO_BODY);
    if ((on_item || no_body) &&
        (!spec->decode || (OPTS_HAS(o, write_fn) && o->write_fn) ||
         (OPTS_HAS(o, output_path) && o->output_path)))
        return PMX_EINVAL;
    pmx_call *call = pmx__calloc(1, sizeof *call);
    if (!call)
        return PMX_ENOMEM;
    call->out_fd = -1;
    call->retry = retry;
    call->idempotent = spec->method == PMX_GET || spec->internal ||
                       (o && (o->flags & PMX_CALL_IDEMPOTENT));
    if (o && OPTS_HAS(o, write_fn))
        call->write_fn = o->write_fn;
    if (o && OPTS_HAS(o, progress_fn))
        call->progress_fn = o->progress_fn;
    call->progress_ud = spec->progress_ud ? spec->progress_ud : userdata;
    if (o && OPTS_HAS(o, stall_bytes_per_s)) {
        call->stall_ms = o->stall_ms;
        call->stall_bps = o->stall_bytes_per_s;
    }
    if (spec->src) {
        call->src = *spec->src;
        call->has_src = 1;
    }
    call->force_ep = spec->force_ep;
    call->ep = spec->force_ep && spec->ep < c->n_eps ? spec->ep : 0;
    call->refs = 1; /* the client's, dropped after the callback */
    call->client = c;
    call->method = spec->method;
    call->result = PMX_EPENDING;
    call->total = -1;
    call->internal = spec->internal;
    /* The library's own calls are logins: password, ticket. */
    call->secret = spec->internal || spec->secret || generic_secret(spec);
    call->resp.secret = call->secret;
    call->started_ms = pmx__now_ms();
    call->json_body = o && (o->flags & PMX_CALL_JSON_BODY);
    call->timeout_ms = spec->no_timeout ? 0 : c->total_ms;
    if (o && OPTS_HAS(o, timeout_ms) && o->timeout_ms > 0)
        call->timeout_ms = o->timeout_ms;
    if (call->internal && call->timeout_ms <= 0)
        call->timeout_ms = 30000; /* a login that hangs must not hold the waiting calls forever */
    call->typed_ctx = spec->typed_ctx;
    call->decode = spec->decode;
    call->result_free = spec->result_free;
    if (spec->decode && !call->write_fn && !(o && OPTS_HAS(o, output_path) && o->output_path) &&
        !(call->stream = pmx__stream_new(spec->typed_ctx, call, on_item, item_ud, !no_body))) {
        call_free(call);
        return PMX_ENOMEM;
    }
    call->done = done;
    call->userdata = userdata;
    /* The path is kept for logs and messages: a secret call's query stays out of them. */
    call->path = call->secret ? pmx__strndup(spec->path, strcspn(spec->path, "?"))
                              : pmx__strdup(spec->path);
    size_t klen = call->path && c->guest_writes && spec->method != PMX_GET && !spec->internal
                      ? guest_key_len(call->path)
                      : 0;
    if (klen && !(call->guest_key = pmx__strndup(call->path + 7, klen))) {
        call_free(call);
        return PMX_ENOMEM;
    }
    if (spec->want_node && !(call->want_node = pmx__strdup(spec->want_node))) {
        call_free(call);
        return PMX_ENOMEM;
    }
    if (!call->path || build_request(call, spec->path, spec->params) != PMX_OK) {
        call_free(call);
        return PMX_ENOMEM;
    }
    if (o && OPTS_HAS(o, output_path) && o->output_path) {
        call->out_path = pmx__strdup(o->output_path);
        if (!call->out_path) {
            call_free(call);
            return PMX_ENOMEM;
        }
        int pr = open_part_file(call);
        if (pr != PMX_OK) {
            pmx__log(c, PMX_LOG_WARN, "cannot create a file beside %s: %s", o->output_path,
                     strerror(errno));
            call_free(call);
            return pr;
        }
    }
    if (call->timeout_ms > 0 &&
        !(call->deadline = pmx__timer_add(c, call->timeout_ms, on_deadline, call))) {
        call_free(call);
        return PMX_ENOMEM;
    }
    /* Accepted from here on: the destructor belongs to the call. */
    if (o && OPTS_HAS(o, userdata_free))
        call->userdata_free = o->userdata_free;
    calls_link(c, call);
    if (out) {
        call->refs++;
        *out = call;
    }
    if (spec->fail_code)
        pmx__call_complete(call, spec->fail_code, spec->fail_message);
    else if (!answer_from_cache(call, on_item != NULL || no_body))
        admit(call);
    return PMX_OK;
}

int pmx_call_start_ex(pmx_client *c, pmx_method m, const char *path, const pmx_params *params,
                      const pmx_call_opts *opts, pmx_done_fn done, void *userdata, pmx_call **out) {
    pmx__call_spec spec = {.method = m, .path = path, .params = params, .opts = opts};
    return pmx__call_start_spec(c, &spec, done, userdata, out);
}

int pmx_call_start(pmx_client *c, pmx_method m, const char *path, const pmx_params *params,
                   pmx_done_fn done, void *userdata, pmx_call **out) {
    return pmx_call_start_ex(c, m, path, params, NULL, done, userdata, out);
}

int pmx__call_new_internal(pmx_client *c, pmx_method m, const char *path, const pmx_params *p,
                           void (*on_done)(pmx_call *), pmx_call **out) {
    pmx__call_spec spec = {.method = m, .path = path, .params = p, .internal = 1};
    pmx_call *call = NULL;
    int r = pmx__call_start_spec(c, &spec, NULL, NULL, &call);
    if (r)
        return r;
    call->on_done = on_done;
    pmx_call_unref(call); /* the client's reference keeps it until it has completed */
    if (out)
        *out = call;
    return PMX_OK;
}
