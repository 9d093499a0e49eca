/* Calls: building requests, sending them through curl, reading responses, completing. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *method_name(pmx_method m) {
    switch (m) {
    case PMX_GET: return "GET";
    case PMX_POST: return "POST";
    case PMX_PUT: return "PUT";
    case PMX_DELETE: return "DELETE";
    }
    return "?";
}

static void wipe_slist(struct curl_slist *l) {
    for (; l; l = l->next)
        pmx__wipe(l->data, strlen(l->data));
}

static void call_free(pmx_call *call) {
    if (call->easy)
        pmx__call_release_easy(call);
    if (call->typed && call->result_free)
        call->result_free(call->typed_ctx, call->typed);
    pmx__stream_free(call->stream);
    if (call->secret) {
        pmx__wipe(call->body, call->body_len);
        pmx__wipe(call->resp.data, call->resp.len);
    }
    pmx__free(call->body);
    pmx__buf_free(&call->resp);
    pmx__free(call->path);
    pmx__free(call->url);
    pmx__free(call->reason);
    pmx__free(call->error);
    for (size_t i = 0; i < call->n_perrs; i++) {
        pmx__free(call->perrs[i].name);
        pmx__free(call->perrs[i].msg);
    }
    pmx__free(call->perrs);
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

const char *pmx_call_body(const pmx_call *call, size_t *len) {
    if (len)
        *len = call && call->resp.data ? call->resp.len : 0;
    return call && call->http_status ? call->resp.data : NULL;
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

pmx_client *pmx_call_client(const pmx_call *call) { return call ? call->client : NULL; }

const void *pmx_call_typed(const pmx_call *call) {
    return call && call->state >= CALL_DONE && call->result == PMX_OK ? call->typed : NULL;
}

/* ---- completion ---- */

static void set_error(pmx_call *call, const char *msg) {
    if (call->error || !msg)
        return;
    call->error = pmx__strdup(msg);
}

void pmx__call_complete(pmx_call *call, int result, const char *msg) {
    pmx_client *c = call->client;
    if (call->state >= CALL_DONE)
        return;
    if (call->state == CALL_RUNNING)
        pmx__call_release_easy(call);
    if (call->state == CALL_AUTH_WAIT || call->state == CALL_QUEUED) {
        int auth = call->state == CALL_AUTH_WAIT;
        pmx_call **pp = auth ? &c->auth_wait_head : &c->sendq_head;
        pmx_call **tail = auth ? &c->auth_wait_tail : &c->sendq_tail;
        pmx_call *prev = NULL;
        while (*pp && *pp != call) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        if (*pp) {
            *pp = call->qnext;
            if (*tail == call)
                *tail = prev;
        }
    }
    call->qnext = NULL;
    call->result = result;
    if (result != PMX_OK)
        set_error(call, msg ? msg : pmx_strerror(result));
    call->state = CALL_DONE;
    if (c->done_tail)
        c->done_tail->qnext = call;
    else
        c->done_head = call;
    c->done_tail = call;
    if (pmx__log_enabled(c, PMX_LOG_DEBUG))
        pmx__log(c, PMX_LOG_DEBUG, "%s %s -> %ld, %s (%lld ms)", method_name(call->method),
                 call->path, call->http_status, pmx_strerror(result),
                 (long long)(call->started_ms ? pmx__now_ms() - call->started_ms : 0));
    else if (result != PMX_OK && result != PMX_ECANCELLED && pmx__log_enabled(c, PMX_LOG_WARN))
        pmx__log(c, PMX_LOG_WARN, "%s %s failed: %s", method_name(call->method), call->path,
                 call->error ? call->error : pmx_strerror(result));
    pmx__loop_update_timer(c);
}

int pmx_call_cancel(pmx_call *call) {
    if (!call)
        return PMX_EINVAL;
    if (call->state < CALL_DONE)
        pmx__call_complete(call, PMX_ECANCELLED, "cancelled");
    return PMX_OK;
}

/* ---- curl plumbing ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    pmx_call *call = ud;
    size_t len = size * n;
    if (call->stream) { /* typed: decode 2xx bodies as they arrive */
        long st = 0;
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && st < 300) {
            if (pmx__stream_feed(call->stream, p, len) == PMX_ECANCELLED)
                return 0; /* the item callback stopped the call */
            if (!pmx__stream_wants_body(call->stream))
                return len;
        }
    }
    if (call->resp.len + len > call->client->max_response) {
        call->toobig = 1;
        return 0; /* aborts the transfer */
    }
    if (pmx__buf_append(&call->resp, p, len) != PMX_OK)
        return 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    pmx_call *call = ud;
    size_t len = size * n;
    /* Keep the status line's reason phrase: PVE puts its message there. */
    if (len > 9 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        const char *end = p + len;
        while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
            end--;
        pmx__free(call->reason);
        call->reason = NULL;
        if (sp && end - sp > 5) {
            const char *r = sp + 5; /* after " NNN " */
            if (r < end)
                call->reason = pmx__strndup(r, (size_t)(end - r));
        }
    }
    return len;
}

static CURL *take_easy(pmx_client *c) {
    if (c->n_easy_pool)
        return c->easy_pool[--c->n_easy_pool];
    return curl_easy_init();
}

void pmx__call_release_easy(pmx_call *call) {
    pmx_client *c = call->client;
    CURL *e = call->easy;
    if (!e)
        return;
    call->easy = NULL;
    curl_multi_remove_handle(c->multi, e);
    int freed_slot = call->counted;
    if (call->counted) {
        call->counted = 0;
        c->n_transfers--;
    }
    if (call->headers) {
        wipe_slist(call->headers);
        curl_slist_free_all(call->headers);
        call->headers = NULL;
    }
    if (c->n_easy_pool < 64 && !c->destroying) {
        curl_easy_reset(e);
        CURL **pool = c->easy_pool;
        if (c->n_easy_pool % 16 == 0) {
            pool = pmx__realloc(c->easy_pool, (c->n_easy_pool + 16) * sizeof *pool);
            if (!pool) {
                curl_easy_cleanup(e);
                if (freed_slot)
                    pmx__call_pump(c);
                return;
            }
            c->easy_pool = pool;
        }
        pool[c->n_easy_pool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
    if (freed_slot)
        pmx__call_pump(c);
}

static int add_header(pmx_call *call, const char *h) {
    struct curl_slist *l = curl_slist_append(call->headers, h);
    if (!l)
        return PMX_ENOMEM;
    call->headers = l;
    return PMX_OK;
}

/* Total time left for the call (its own timeout, else the client's), counted from its start so
 * that waiting for a login or a connection counts too: > 0 ms, 0 when none is set, < 0 when
 * already past. */
static int64_t time_left(const pmx_call *call) {
    const pmx_client *c = call->client;
    int64_t total = call->timeout_ms > 0 ? call->timeout_ms : c->total_ms;
    if (total <= 0)
        return 0;
    int64_t left = total - (pmx__now_ms() - call->started_ms);
    return left > 0 ? left : -1;
}

static void handoff(pmx_call *call);

void pmx__call_send(pmx_call *call) {
    pmx_client *c = call->client;
    if (!call->internal && (c->n_transfers >= c->max_per_host || c->sendq_head)) {
        call->state = CALL_QUEUED;
        call->qnext = NULL;
        if (c->sendq_tail)
            c->sendq_tail->qnext = call;
        else
            c->sendq_head = call;
        c->sendq_tail = call;
        return;
    }
    handoff(call);
}

void pmx__call_pump(pmx_client *c) {
    while (c->sendq_head && c->n_transfers < c->max_per_host && !c->destroying) {
        pmx_call *call = c->sendq_head;
        c->sendq_head = call->qnext;
        if (!c->sendq_head)
            c->sendq_tail = NULL;
        call->qnext = NULL;
        call->state = CALL_NEW;
        /* The ticket may have changed, or run out, while it waited. */
        if (pmx__auth_prepare(call))
            handoff(call);
    }
}

static void handoff(pmx_call *call) {
    pmx_client *c = call->client;
    int64_t left = time_left(call);
    if (left < 0) {
        pmx__call_complete(call, PMX_ETIMEOUT, "timed out before a connection was free");
        return;
    }
    call->state = CALL_RUNNING;
    CURL *e = take_easy(c);
    if (!e) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot create a transfer");
        return;
    }
    call->easy = e;
    call->errbuf[0] = 0;
    int r = add_header(call, "Expect:"); /* pveproxy never answers 100-continue */
    if (!r && call->body && call->json_body)
        r = add_header(call, "Content-Type: application/json");
    if (!r && !call->internal)
        r = pmx__auth_headers(call);
    if (r) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot build request headers");
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, call->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* NULL: no Accept-Encoding and no decoding (pmx_client_set_compression) */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, call->client->no_compression ? NULL : "gzip");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    /* pveproxy drops idle connections after 5 s: never reuse one idle for 4 s or more. */
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 4L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "libproxmox/" PMX_VERSION_STRING);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->url.tls ? "https" : "http");
    switch (call->method) {
    case PMX_GET:
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        break;
    case PMX_DELETE:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    case PMX_POST:
    case PMX_PUT:
        /* Always a body with a Content-Length (pveproxy refuses chunked requests). */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body ? call->body : "");
        if (call->method == PMX_PUT)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        break;
    }
    pmx__tls_setup(c, e);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        pmx__call_complete(call, PMX_ENOMEM, "cannot add the transfer");
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
    pmx__perr *n = pmx__realloc(call->perrs, (call->n_perrs + 1) * sizeof *n);
    if (!n)
        return 1;
    call->perrs = n;
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
    /* PVE ends messages with a newline. */
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
        msg[--ml] = 0;
    call->perrs[call->n_perrs++] = (pmx__perr){name, msg};
    return 0;
}

/* The envelope (lib/decode.c); with typed_ctx the typed result is decoded in the same pass. */
static int scan_body(pmx_call *call, scan_ctx *s, const void *typed_ctx, char **err) {
    memset(s, 0, sizeof *s);
    s->call = call;
    pmx__body b;
    int r = pmx__decode_body(typed_ctx, call->resp.data, call->resp.len, &b, err);
    if (r != PMX_OK)
        return r;
    call->data = b.data;
    call->data_len = b.data_len;
    call->total = b.total;
    call->typed = b.typed;
    s->message = b.message;
    s->message_end = b.message_end;
    s->errors = b.errors;
    s->errors_end = b.errors_end;
    return PMX_OK;
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
        return call->toobig ? PMX_ETOOBIG : PMX_ENOMEM;
    case CURLE_OUT_OF_MEMORY:
        return PMX_ENOMEM;
    default:
        return PMX_ETRANSPORT;
    }
}

static void reset_response(pmx_call *call) {
    if (call->secret)
        pmx__wipe(call->resp.data, call->resp.len);
    call->resp.len = 0;
    if (call->resp.data)
        call->resp.data[0] = 0;
    pmx__free(call->reason);
    call->reason = NULL;
    call->http_status = 0;
    call->toobig = 0;
}

void pmx__call_finished_transfer(pmx_call *call, CURLcode code) {
    pmx_client *c = call->client;
    if (code != CURLE_OK && pmx__stream_stopped(call->stream)) {
        pmx__call_complete(call, PMX_ECANCELLED, "stopped by the item callback");
        return;
    }
    if (code != CURLE_OK) {
        int r = map_curl(call, code);
        char msg[CURL_ERROR_SIZE + 160];
        if (r == PMX_ETLS && c->pinned && c->pin_seen[0]) {
            snprintf(msg, sizeof msg, "certificate fingerprint mismatch: server presented %s",
                     c->pin_seen);
            c->pin_seen[0] = 0;
        } else if (r == PMX_ETOOBIG) {
            snprintf(msg, sizeof msg, "response body larger than the cap of %zu bytes",
                     c->max_response);
        } else {
            snprintf(msg, sizeof msg, "%s", call->errbuf[0] ? call->errbuf : curl_easy_strerror(code));
        }
        long st = 0;
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &st);
        call->http_status = st;
        pmx__call_complete(call, r, msg);
        return;
    }
    long st = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &st);
    call->http_status = st;
    if (pmx__buf_reserve(&call->resp, 0) != PMX_OK) { /* always a NUL-terminated body */
        pmx__call_complete(call, PMX_ENOMEM, NULL);
        return;
    }
    if (st == 401 && call->with_ticket && !call->internal && call->resp.len == 0 && !call->retried) {
        /* The auth layer refused the ticket before any handler ran, so resending is safe
         * whatever the method: log in again and send the call once more. */
        char *reason = call->reason;
        call->reason = NULL;
        /* Before the slot is freed: queued calls must not go out with the refused ticket. */
        pmx__auth_ticket_refused(call);
        pmx__call_release_easy(call);
        reset_response(call);
        pmx__stream_reset(call->stream); /* the resend's body is decoded afresh */
        if (pmx__auth_on_401(call)) {
            pmx__free(reason);
            return;
        }
        call->reason = reason;
        call->http_status = 401;
    }
    scan_ctx s;
    int ok2xx = st >= 200 && st < 300;
    if (ok2xx && call->stream) { /* decoded while it arrived */
        pmx__body b;
        char *err = NULL;
        int r = pmx__stream_finish(call->stream, call->resp.len ? call->resp.data : NULL, &b, &err);
        if (r != PMX_OK) {
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
        pmx__call_complete(call, PMX_OK, NULL);
        return;
    }
    char *derr = NULL;
    /* 2xx answers of typed calls: the envelope and the typed result in one pass */
    int drc = call->resp.len ? scan_body(call, &s, ok2xx && call->decode ? call->typed_ctx : NULL,
                                         &derr)
                             : PMX_EDECODE;
    int json_ok = drc == PMX_OK;
    if (ok2xx) {
        if (!json_ok) {
            call->data = NULL;
            int typed_err = drc == PMX_ENOMEM || (call->decode && derr && strncmp(derr, "data:", 5));
            pmx__call_complete(call, drc == PMX_ENOMEM ? PMX_ENOMEM : PMX_EDECODE,
                               typed_err && derr ? derr
                               : call->resp.len  ? "malformed JSON in the response body"
                                                 : "empty response body");
            pmx__free(derr);
            return;
        }
        pmx__call_complete(call, PMX_OK, NULL);
        return;
    }
    pmx__free(derr);
    char *msg = NULL;
    if (json_ok) {
        if (s.message)
            pmx__json_string(s.message, s.message_end, &msg);
        if (s.errors)
            pmx__json_object_each(s.errors, s.errors_end, add_perr, call);
    } else {
        call->data = NULL;
    }
    if (msg) {
        size_t ml = strlen(msg);
        while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
            msg[--ml] = 0;
    }
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

static int build_request(pmx_call *call, const pmx_client *c, const pmx_params *params) {
    pmx__buf u = {0};
    int has_query = strchr(call->path, '?') != NULL;
    if (pmx__buf_reserve(&u, c->api_prefix_len + strlen(call->path) + 64) ||
        pmx__buf_append(&u, c->api_prefix, c->api_prefix_len) || pmx__buf_puts(&u, call->path))
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
    call->url = u.data;
    return PMX_OK;
nomem:
    pmx__buf_free(&u);
    return PMX_ENOMEM;
}

int pmx__call_start_spec(pmx_client *c, const pmx__call_spec *spec, pmx_done_fn done,
                         void *userdata, pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || !spec || !spec->path || spec->path[0] != '/' || spec->method < PMX_GET ||
        spec->method > PMX_DELETE)
        return PMX_EINVAL;
    if (c->destroying || c->free_requested)
        return PMX_EDESTROYED;
    const pmx_call_opts *o = spec->opts;
    if (o && (o->size < sizeof(uint32_t) * 2 ||
              (o->flags & ~(uint32_t)(PMX_CALL_JSON_BODY | PMX_CALL_NO_BODY))))
        return PMX_EINVAL;
    /* typed calls only: the element callback and dropping the body */
    pmx_item_fn on_item = NULL;
    void *item_ud = NULL;
    if (o && o->size >= offsetof(pmx_call_opts, item_userdata) + sizeof o->item_userdata) {
        on_item = o->on_item;
        item_ud = o->item_userdata;
    }
    if (!spec->decode && (on_item || (o && (o->flags & PMX_CALL_NO_BODY))))
        return PMX_EINVAL;
    pmx_call *call = pmx__calloc(1, sizeof *call);
    if (!call)
        return PMX_ENOMEM;
    call->refs = 1;
    call->client = c;
    call->method = spec->method;
    call->result = PMX_EPENDING;
    call->total = -1;
    call->internal = spec->internal;
    call->secret = spec->internal || spec->secret; /* logins; typed calls with secrets */
    call->resp.secret = call->secret;
    call->started_ms = pmx__now_ms();
    call->json_body = o && (o->flags & PMX_CALL_JSON_BODY);
    if (o && o->size >= offsetof(pmx_call_opts, timeout_ms) + sizeof o->timeout_ms)
        call->timeout_ms = o->timeout_ms;
    if (call->internal && c->total_ms <= 0)
        call->timeout_ms = 30000; /* a login that hangs must not hold the waiting calls forever */
    call->typed_ctx = spec->typed_ctx;
    call->decode = spec->decode;
    call->result_free = spec->result_free;
    if (spec->decode &&
        !(call->stream = pmx__stream_new(spec->typed_ctx, call, on_item, item_ud,
                                         !(o && (o->flags & PMX_CALL_NO_BODY))))) {
        call_free(call);
        return PMX_ENOMEM;
    }
    call->done = done;
    call->userdata = userdata;
    call->path = pmx__strdup(spec->path);
    if (!call->path || build_request(call, c, spec->params) != PMX_OK) {
        call_free(call);
        return PMX_ENOMEM;
    }
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    if (!call->internal)
        c->pending++;
    if (out) {
        call->refs++;
        *out = call;
    }
    if (spec->fail_code)
        pmx__call_complete(call, spec->fail_code, spec->fail_message);
    else if (call->internal || pmx__auth_prepare(call))
        pmx__call_send(call);
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
    call->secret = 1;
    pmx_call_unref(call); /* the client's reference keeps it until it has completed */
    if (out)
        *out = call;
    return PMX_OK;
}
