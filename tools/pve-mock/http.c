/* pve-mock: the HTTP layer, modelled on pveproxy (pve-http-server AnyEvent.pm).
 *
 * server.c frames requests; this file does what pveproxy does with them: checks on the head
 * (verbs, transfer encodings, authentication, body limits, content types) before the body is
 * read, parameter decoding, error shapes, keep-alive rules, gzip, artificial delays and the
 * injected faults that change or replace an answer. */
#include "mock.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <zlib.h>

#define MAX_POST (512 * 1024) /* pveproxy's $limit_max_post since 5.2.1 */
#define GZIP_MIN 1024

/* ---- helpers ---------------------------------------------------------------------------- */

void call_error(struct call *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(c->message);
    if (vasprintf(&c->message, fmt, ap) < 0)
        abort();
    va_end(ap);
    c->status = status;
}

void call_param_error(struct call *c, const char *param, const char *fmt, ...)
{
    char *text;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (!c->errors)
        c->errors = cJSON_CreateObject();
    if (!cJSON_GetObjectItemCaseSensitive(c->errors, param))
        cJSON_AddStringToObject(c->errors, param, text);
    free(text);
    if (c->status != 400)
        call_error(c, 400, "Parameter verification failed.");
}

/* Compress in place; returns 0 on success. window 31 = gzip, 15 = zlib "deflate". */
static int compress_body(struct reply *r, int window)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = r->len + r->len / 100 + 64;
    unsigned char *out = xmalloc(cap);
    zs.next_in = (unsigned char *)r->body;
    zs.avail_in = (uInt)r->len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return -1;
    }
    free(r->body);
    r->body = (char *)out;
    r->len = n;
    return 0;
}

/* pveproxy's response(): the reason phrase is the message's first line, and one with a CR in
 * it turns the answer into 400 "Bad Request" without content (and so without Content-Length).
 * Returns 1 then. */
static int reason_from(struct reply *r, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    if (memchr(msg, '\r', n)) {
        r->status = 400;
        r->reason = xstrdup("Bad Request");
        r->no_length = 1;
        return 1;
    }
    r->reason = xasprintf("%.*s", (int)n, msg);
    return 0;
}

void http_plain_error(struct req *rq, int status, const char *msg, int delay_ms)
{
    /* pveproxy's error(): the message is the reason phrase and the body, with no Content-Type */
    struct reply r = {0};
    r.status = status;
    r.body = xstrdup(reason_from(&r, msg) ? "" : msg);
    r.len = strlen(r.body);
    r.close = 1;
    req_reply(rq, &r, delay_ms);
}

/* ---- parameter decoding ----------------------------------------------------------------- */

/* Percent-decodes s[0..n) ('+' = space); *len gets the length, which counts any NUL a %00
 * made (the result is NUL-terminated as well). */
static char *form_unescape(const char *s, size_t n, size_t *len)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    *len = (size_t)(o - out);
    return out;
}

static void param_add_item(cJSON *obj, const char *key, cJSON *val)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!old) {
        cJSON_AddItemToObject(obj, key, val);
    } else if (cJSON_IsArray(old) && !(old->type & MOCK_NUL_LIST)) {
        cJSON_AddItemToArray(old, val);
    } else { /* a repeated key becomes an array */
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_Duplicate(old, 1));
        cJSON_AddItemToArray(arr, val);
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, arr);
    }
}

/* A value with NUL bytes (%00) cannot be a C string: it becomes the array of its pieces, as
 * Perl's split /\0/ makes them (trailing empty pieces dropped), flagged MOCK_NUL_LIST. A
 * -list format takes them as its items (PVE's split_list splits on NUL when there is one);
 * anything else refuses the value (never a silently truncated string). */
static cJSON *nul_list(const char *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    arr->type |= MOCK_NUL_LIST;
    while (n > 0 && v[n - 1] == 0)
        n--;
    size_t i = 0;
    while (i < n) {
        const char *z = memchr(v + i, 0, n - i);
        size_t k = z ? (size_t)(z - (v + i)) : n - i;
        char *piece = xasprintf("%.*s", (int)k, v + i);
        cJSON_AddItemToArray(arr, cJSON_CreateString(piece));
        free(piece);
        i += k + 1;
    }
    return arr;
}

/* PVE decode_urlencoded: pairs split on '&' and ';'; each pair is split on every '=' the
 * way Perl's split does it (trailing empty pieces dropped) and the first two pieces are the
 * name and the value: "key=" or "key" gives undef (JSON null: absent, and it replaces an
 * earlier value of the key), "key==x" gives "", "=v" is a parameter named "". */
void form_decode(const char *s, size_t n, cJSON *obj)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&' && s[j] != ';')
            j++;
        const char *end = s + j;
        while (end > s + i && end[-1] == '=') /* trailing empty pieces */
            end--;
        if (end > s + i) {
            const char *eq = memchr(s + i, '=', (size_t)(end - (s + i)));
            const char *kend = eq ? eq : end;
            size_t klen, vlen = 0;
            char *k = form_unescape(s + i, (size_t)(kend - (s + i)), &klen);
            if (strlen(k) != klen) { /* a name with NUL matches no parameter: keep it so */
                char *t = xmalloc(klen * 3 + 1), *o = t;
                for (size_t x = 0; x < klen; x++) {
                    if (k[x]) {
                        *o++ = k[x];
                    } else {
                        memcpy(o, "%00", 3);
                        o += 3;
                    }
                }
                *o = 0;
                free(k);
                k = t;
            }
            if (!eq) { /* undef */
                cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
                cJSON_AddNullToObject(obj, k);
            } else {
                const char *v = eq + 1;
                const char *vend = memchr(v, '=', (size_t)(end - v));
                if (!vend)
                    vend = end;
                char *val = form_unescape(v, (size_t)(vend - v), &vlen);
                cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, k);
                if (cJSON_IsNull(old)) /* an undef before is no value */
                    cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
                param_add_item(obj, k,
                               strlen(val) == vlen ? cJSON_CreateString(val) : nul_list(val, vlen));
                free(val);
            }
            free(k);
        }
        i = j + 1;
    }
}

/* ---- paths ------------------------------------------------------------------------------ */

/* /api2/<fmt>/<rel>, decoded once; empty segments dropped. */
struct apipath {
    char *rel;     /* decoded, below /api2/json ("/" at least) */
    char *segbuf;  /* rel split in place */
    char **seg;
    int nseg;
    char *canon;   /* "/" + segments joined: the path in messages */
};

static void apipath_free(struct apipath *p)
{
    free(p->rel);
    free(p->segbuf);
    free(p->seg);
    free(p->canon);
    memset(p, 0, sizeof *p);
}

/* 0, -1 = a decoded NUL, -2 = not /api2/json */
static int apipath_parse(const char *rawpath, struct apipath *p)
{
    memset(p, 0, sizeof *p);
    size_t dlen = 0;
    char *path = evhttp_uridecode(rawpath && *rawpath ? rawpath : "/", 0, &dlen);
    if (!path || strlen(path) != dlen) {
        free(path);
        return -1;
    }
    int ok = strncmp(path, "/api2/", 6) == 0 && islower((unsigned char)path[6]);
    char *fmt_end = path + 6;
    if (ok) {
        while (islower((unsigned char)*fmt_end) || isdigit((unsigned char)*fmt_end))
            fmt_end++;
        ok = (*fmt_end == '/' || *fmt_end == 0) && fmt_end - (path + 6) >= 2;
    }
    if (!ok || fmt_end - (path + 6) != 4 || strncmp(path + 6, "json", 4) != 0) {
        /* extjs/html/... are real PVE formats the mock does not speak */
        free(path);
        return -2;
    }
    p->rel = xstrdup(*fmt_end ? fmt_end : "/");
    free(path);
    p->segbuf = xstrdup(p->rel);
    p->seg = xmalloc(sizeof *p->seg * (strlen(p->segbuf) / 2 + 2));
    char *save = NULL;
    for (char *tok = strtok_r(p->segbuf, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
        p->seg[p->nseg++] = tok;
    size_t cap = strlen(p->rel) + 2, pos = 0;
    p->canon = xmalloc(cap);
    strcpy(p->canon, "/");
    for (int i = 0; i < p->nseg; i++)
        pos += (size_t)snprintf(p->canon + pos, cap - pos, "/%s", p->seg[i]);
    return 0;
}

static int content_type_ok(const char *ct, int *json)
{
    *json = 0;
    if (!ct)
        return 1;
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
        return 1;
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0) {
        *json = 1;
        return 1;
    }
    return 0;
}

/* ---- the head: pveproxy's checks before the body is read -------------------------------- */

static int via_token_readonly(const struct req *rq)
{
    return rq->via_token && rq->user && strcmp(rq->user, MOCK_RO_TOKEN_ID) == 0;
}

static void auth_refused(struct req *rq, enum auth_result ar)
{
    static const char *const why[] = {"", "No ticket", "Authentication failed!",
                                      "Permission denied - invalid csrf token"};
    struct reply r = {0};
    r.status = 401;
    r.reason = xstrdup(why[ar]);
    r.body = xstrdup("");
    r.close = 1;
    req_reply(rq, &r, g_mock.cfg.auth_delay_ms + g_mock.cfg.latency_ms + g_mock.faults.latency_ms);
}

/* pve-manager HTTPServer.pm auth_handler: the calls allowed without a ticket or token. The
 * ticket and domain routes say so in their table entries; these three are answered by
 * generic.c. */
static int noauth_generic(int m, const char *canon)
{
    return m == EVHTTP_REQ_POST &&
           (!strcmp(canon, "/access/vncticket") || !strcmp(canon, "/access/openid/login") ||
            !strcmp(canon, "/access/openid/auth-url"));
}

int http_head(struct req *rq)
{
    if (strncmp(rq->path, "/_mock/", 7) == 0) {
        if (rq->content_length > MAX_POST) {
            http_plain_error(rq, 501, "for data too large", 0);
            return HEAD_ANSWERED;
        }
        return HEAD_BUFFER;
    }
    if (rq->listener < 0) {
        http_plain_error(rq, 501, "the control listener serves /_mock/ only", 0);
        return HEAD_ANSWERED;
    }
    g_mock.stats.requests++;
    req_count_connection(rq);
    rq->log_id = reqlog_add(rq);
    mock_log("%s %s", rq->method_name, rq->path);

    int m = rq->method;
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT &&
        m != EVHTTP_REQ_DELETE) {
        char *msg = xasprintf("method '%s' not available", rq->method_name);
        http_plain_error(rq, 501, msg, 0);
        free(msg);
        return HEAD_ANSWERED;
    }
    const char *te = req_header(rq, "Transfer-Encoding");
    if (te) {
        char *msg = strcasecmp(te, "chunked") == 0
                        ? xstrdup("chunked transfer encoding not supported")
                        : xasprintf("Unknown transfer encoding '%s'", te);
        http_plain_error(rq, 501, msg, 0);
        free(msg);
        return HEAD_ANSWERED;
    }
    struct apipath p;
    int pr = apipath_parse(rq->path, &p);
    if (pr != 0) {
        http_plain_error(rq, pr == -1 ? 400 : 501, pr == -1 ? "invalid path" : "Unsupported format",
                         0);
        return HEAD_ANSWERED;
    }
    char *up_node = NULL, *up_storage = NULL;
    int upload = m == EVHTTP_REQ_POST && upload_path(p.canon, &up_node, &up_storage);

    struct call c;
    memset(&c, 0, sizeof c);
    c.method = m;
    c.seg = p.seg;
    c.nseg = p.nseg;
    int known = 0;
    const struct route *route = route_find(&c, &known);
    int how = HEAD_BUFFER;
    if ((!route || !route->noauth) && !noauth_generic(m, p.canon)) {
        char *user = NULL;
        int via_token = 0, kind = AUTHK_NONE;
        /* an upload needs no CSRF token (html forms cannot send one) */
        enum auth_result ar =
            auth_check(&rq->headers, m != EVHTTP_REQ_GET && !upload, &user, &via_token, &kind);
        if (ar == AUTH_OK && kind == AUTHK_TICKET && fault_take(&g_mock.faults.ticket_refuse)) {
            free(user);
            user = NULL;
            ar = AUTH_FAILED;
            reqlog_status(rq->log_id, 0, "ticket_refuse");
        }
        rq->auth_kind = ar == AUTH_OK ? kind : AUTHK_FAILED;
        reqlog_auth(rq->log_id, rq->auth_kind);
        if (ar != AUTH_OK) {
            auth_refused(rq, ar);
            how = HEAD_ANSWERED;
            goto out;
        }
        rq->user = user;
        rq->via_token = via_token;
    }
    if (upload && via_token_readonly(rq)) {
        /* pveproxy checks Datastore.AllocateTemplate in its auth handler: a 403 delayed
         * like a failed login */
        char *msg = xasprintf("Permission check failed (/storage/%s, Datastore.AllocateTemplate)",
                              up_storage);
        http_plain_error(rq, 403, msg, g_mock.cfg.auth_delay_ms);
        free(msg);
        how = HEAD_ANSWERED;
        goto out;
    }
    if (rq->content_length > 0) {
        if (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT) {
            char *msg = xasprintf("Unexpected content for method '%s'", rq->method_name);
            http_plain_error(rq, 501, msg, 0);
            free(msg);
            how = HEAD_ANSWERED;
            goto out;
        }
        if (upload) {
            how = upload_head(rq, up_node, up_storage);
            goto out;
        }
        if (rq->content_length > MAX_POST) {
            http_plain_error(rq, 501, "for data too large", 0);
            how = HEAD_ANSWERED;
            goto out;
        }
        int json;
        const char *ct = req_header(rq, "Content-Type");
        if (!content_type_ok(ct, &json)) {
            char *msg = xasprintf("upload 'Content-Type '%s' not implemented", ct);
            http_plain_error(rq, 506, msg, 0);
            free(msg);
            how = HEAD_ANSWERED;
            goto out;
        }
    }
out:
    free(up_node);
    free(up_storage);
    apipath_free(&p);
    return how;
}

/* ---- substitute answers ----------------------------------------------------------------- */

/* PVE's lock timeout for the guest named in the path (qemu or lxc), else VM 100. */
static char *lock_message(const char *rel)
{
    const char *q = strstr(rel, "/qemu/"), *l = strstr(rel, "/lxc/");
    const char *id = q ? q + 6 : l ? l + 5 : NULL;
    int vmid = id && isdigit((unsigned char)*id) ? atoi(id) : 100;
    if (l && !q)
        return xasprintf("can't lock file '/run/lock/lxc/pve-config-%d.lock' - got timeout", vmid);
    return xasprintf("can't lock file '/var/lock/qemu-server/lock-%d.conf' - got timeout", vmid);
}

static const char *default_reason(int status)
{
    switch (status) { /* AnyEvent::HTTP's texts for pveproxy's proxy failures */
    case 595: return "No route to host";
    case 596: return "Connection timed out";
    case 597: return "Broken pipe";
    case 599: return "Internal Server Error";
    default: return "mock fault";
    }
}

int http_pre_faults(struct req *rq, const char *rel)
{
    struct mock_faults *f = &g_mock.faults;
    if (!fault_match(rq, rel))
        return 0;
    if (fault_take(&f->reset_before_response)) {
        req_drop(rq, 1, "reset_before_response");
        return 1;
    }
    if (fault_take(&f->close_after_request)) {
        req_drop(rq, 0, "close_after_request");
        return 1;
    }
    struct call c;
    memset(&c, 0, sizeof c);
    c.total = -1;
    c.path = rel;
    const char *fault = NULL;
    if (fault_take(&f->fail_5xx)) {
        int st = f->fail_status ? f->fail_status : 500;
        call_error(&c, st, "%s", f->fail_reason ? f->fail_reason : default_reason(st));
        c.empty_body = st >= 595 && st <= 599; /* pveproxy passes them on without a body */
        fault = "fail_5xx";
    } else if (fault_take(&f->lock_timeout)) {
        c.message = lock_message(rel);
        c.status = 500;
        fault = "lock_timeout";
    } else {
        return 0;
    }
    c.injected = fault;
    http_answer(rq, &c);
    free(c.message);
    return 1;
}

/* ---- answers ---------------------------------------------------------------------------- */

static char *result_body(struct call *c)
{
    cJSON *o = cJSON_CreateObject();
    if (c->status == 200) {
        cJSON_AddItemToObject(o, "data", c->data ? c->data : cJSON_CreateNull());
        c->data = NULL;
        if (c->total > 0) /* PVE leaves out a zero total */
            cJSON_AddNumberToObject(o, "total", (double)c->total);
    } else {
        cJSON_AddNullToObject(o, "data");
        char *m = xasprintf("%s\n", c->message ? c->message : "error");
        cJSON_AddStringToObject(o, "message", m);
        free(m);
        if (c->errors) {
            cJSON_AddItemToObject(o, "errors", c->errors);
            c->errors = NULL;
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* wrong_type: data of another JSON type, or an array in a member of the first object. */
static void wrong_type(struct call *c, int member)
{
    cJSON *d = c->data;
    if (member) {
        cJSON *obj = cJSON_IsObject(d) ? d : NULL;
        if (!obj && cJSON_IsArray(d)) {
            cJSON *it;
            cJSON_ArrayForEach(it, d) if (cJSON_IsObject(it) && it->child)
            {
                obj = it;
                break;
            }
        }
        if (obj && obj->child) {
            cJSON *pick = obj->child, *it; /* a number if there is one */
            cJSON_ArrayForEach(it, obj) if (cJSON_IsNumber(it))
            {
                pick = it;
                break;
            }
            cJSON *arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(1));
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(2));
            cJSON_ReplaceItemInObjectCaseSensitive(obj, pick->string, arr);
            return;
        }
    }
    cJSON *repl;
    if (cJSON_IsObject(d) || cJSON_IsArray(d)) {
        repl = cJSON_CreateString("mock-wrong-type");
    } else {
        repl = cJSON_CreateObject();
        cJSON_AddStringToObject(repl, "mock", "wrong-type");
    }
    cJSON_Delete(c->data);
    c->data = repl;
}

void http_answer(struct req *rq, struct call *c)
{
    struct mock_faults *f = &g_mock.faults;
    int match = fault_match(rq, c->path ? c->path : "/");
    const char *fault = c->injected;
    int delay = g_mock.cfg.latency_ms + f->latency_ms + c->delay_ms;
    struct reply r = {0};
    r.status = c->status;
    r.ctype = "application/json;charset=UTF-8";
    int bad_reason = 0;
    if (c->status == 200) {
        r.reason = xstrdup("OK");
    } else { /* the reason phrase is the message's first line */
        bad_reason = reason_from(&r, c->message ? c->message : "error");
        if (match && fault_take(&f->reason_ctl)) {
            char *ctl = xasprintf("\x1b[31m%s\x07", r.reason);
            free(r.reason);
            r.reason = ctl;
            fault = "reason_ctl";
        }
    }
    if (c->status == 200 && c->data && match && fault_take(&f->wrong_type)) {
        wrong_type(c, f->wrong_type_member);
        fault = "wrong_type";
    }
    if (c->empty_body || bad_reason) {
        r.body = xstrdup("");
        r.len = 0;
        r.ctype = c->empty_body ? NULL : r.ctype;
        r.no_length = 1;
        r.close = 1;
    } else if (c->status == 200 && f->oversize_bytes > 0 && match) {
        long n = f->oversize_bytes;
        f->oversize_bytes = 0;
        r.body = xmalloc((size_t)n + 32);
        memcpy(r.body, "{\"data\":\"", 9);
        memset(r.body + 9, 'x', (size_t)n);
        memcpy(r.body + 9 + n, "\"}", 3);
        r.len = (size_t)n + 11;
        fault = "oversize_bytes";
    } else {
        r.body = result_body(c);
        r.len = strlen(r.body);
    }
    if (match && r.len && fault_take(&f->malformed)) {
        r.status = 200;
        free(r.reason);
        r.reason = xstrdup("OK");
        r.len = r.len > 4 ? r.len / 2 : 1; /* cut mid-token: never valid JSON */
        r.body[0] = '{';
        fault = "malformed";
    }
    if (f->retry_after >= 0 && c->injected && strcmp(c->injected, "fail_5xx") == 0)
        r.extra = xasprintf("Retry-After: %d\r\n", f->retry_after);
    if (match && fault_take(&f->header_bytes)) {
        size_t n = f->header_size > 0 ? (size_t)f->header_size : 16384;
        char *pad = xmalloc(n + 1);
        memset(pad, 'x', n);
        pad[n] = 0;
        char *extra = xasprintf("%sX-Mock-Padding: %s\r\n", r.extra ? r.extra : "", pad);
        free(pad);
        free(r.extra);
        r.extra = extra;
        fault = "header_bytes";
    }
    if (match && r.len > 1 && fault_take(&f->close_mid_response)) {
        r.deliver = DELIVER_CLOSE_MID;
        fault = "close_mid_response";
    } else if (match && r.len > 1 && fault_take(&f->reset_mid_body)) {
        r.deliver = DELIVER_RESET_MID;
        fault = "reset_mid_body";
    } else if (match && fault_take(&f->close_after_headers)) {
        r.deliver = DELIVER_CLOSE_AFTER_HEADERS;
        fault = "close_after_headers";
    } else if (match && fault_take(&f->long_content_length)) {
        r.deliver = DELIVER_LONG_CL;
        fault = "long_content_length";
    } else if (match && fault_take(&f->slow)) {
        r.deliver = DELIVER_SLOW;
        r.slow_bps = f->slow_bps;
        r.slow_body_only = f->slow_body_only;
        fault = "slow";
    }
    r.close = r.close || r.status >= 400;
    const char *ae = req_header(rq, "Accept-Encoding");
    if (r.deliver == DELIVER_NORMAL && !c->empty_body && ae && r.len > GZIP_MIN) {
        if (strstr(ae, "gzip") && compress_body(&r, 15 + 16) == 0)
            r.gzip = 1;
        else if (strstr(ae, "deflate") && compress_body(&r, 15) == 0)
            r.gzip = 2;
        if (r.gzip)
            g_mock.stats.compressed++;
    }
    r.fault = fault;
    req_reply(rq, &r, delay);
}

/* ---- a complete request ----------------------------------------------------------------- */

static char *body_text(struct req *rq, size_t *len)
{
    size_t n = rq->body ? evbuffer_get_length(rq->body) : 0;
    char *text = xmalloc(n + 1);
    if (n)
        evbuffer_remove(rq->body, text, n);
    text[n] = 0;
    *len = n;
    return text;
}

void http_request(struct req *rq)
{
    if (strncmp(rq->path, "/_mock/", 7) == 0) {
        control_request(rq, rq->path);
        return;
    }
    struct apipath p;
    apipath_parse(rq->path, &p); /* checked by http_head */
    struct call c;
    memset(&c, 0, sizeof c);
    c.method = rq->method;
    c.status = 200;
    c.total = -1;
    c.seg = p.seg;
    c.nseg = p.nseg;
    c.path = p.canon;
    c.req = rq;
    if (http_pre_faults(rq, p.canon))
        goto done;

    /* Parameters: body first, then the query overrides; _dc dropped. */
    int is_json = 0;
    if (rq->method == EVHTTP_REQ_POST || rq->method == EVHTTP_REQ_PUT)
        content_type_ok(req_header(rq, "Content-Type"), &is_json);
    c.params = cJSON_CreateObject();
    size_t blen = 0;
    char *body = body_text(rq, &blen);
    if (is_json) {
        cJSON *j = blen ? cJSON_Parse(body) : NULL;
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            free(body);
            http_plain_error(rq, 500, blen ? "malformed JSON body" : "empty JSON body", 0);
            goto done;
        }
        cJSON_Delete(c.params);
        c.params = j;
    } else if (blen) {
        form_decode(body, blen, c.params);
    }
    free(body);
    if (rq->query) {
        cJSON *q = cJSON_CreateObject();
        form_decode(rq->query, strlen(rq->query), q);
        cJSON *it;
        cJSON_ArrayForEach(it, q)
        {
            cJSON_DeleteItemFromObjectCaseSensitive(c.params, it->string);
            cJSON_AddItemToObject(c.params, it->string, cJSON_Duplicate(it, 1));
        }
        cJSON_Delete(q);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(c.params, "_dc");

    int known = 0;
    const struct route *r = route_find(&c, &known);
    c.user = rq->user;
    c.via_token = rq->via_token;
    if (via_token_readonly(rq) && rq->method != EVHTTP_REQ_GET)
        /* the read-only token's ACLs (privilege separation) allow no change */
        call_error(&c, 403, "Permission check failed (%s, Sys.Modify)", c.path);
    else if (r)
        route_dispatch(r, &c);
    else if (!generic_dispatch(&c)) /* every other method of the PVE schema */
        call_error(&c, 501, "Method '%s %s' not implemented", method_name(rq->method), c.path);
    if (!c.answered)
        http_answer(rq, &c);
done:
    cJSON_Delete(c.params);
    cJSON_Delete(c.data);
    cJSON_Delete(c.errors);
    free(c.message);
    apipath_free(&p);
}
