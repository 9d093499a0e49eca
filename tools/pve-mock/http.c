/* pve-mock: the HTTP layer, modelled on pveproxy (pve-http-server AnyEvent.pm).
 *
 * evhttp parses HTTP; TLS comes from bufferevent_openssl via evhttp_set_bevcb.
 * This file does what pveproxy does before and after a handler runs: format
 * and body checks, parameter decoding, authentication, error shapes,
 * keep-alive rules, gzip, artificial delays and injected faults. */
#include "mock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <zlib.h>

#define MAX_POST (512 * 1024)      /* pveproxy's $limit_max_post since 5.2.1 */
#define MAX_EVHTTP_BODY (16 << 20) /* beyond this evhttp itself answers 413 */
#define MAX_CONN_REQUESTS 100
#define IDLE_TIMEOUT_S 5
#define GZIP_MIN 1024

/* Per TCP connection; hangs off the SSL object so it dies with the connection. */
struct conn {
    int nreq;
    int counted; /* carried an API request, so it shows in stats */
    int nodelay;
};

static int conn_idx = -1;
static struct evhttp_bound_socket *bound;

/* Answers waiting on a timer (latency, 401 delay). */
struct reply {
    int status;
    char *reason;
    char *body;
    size_t len;
    const char *ctype; /* NULL: text/plain */
    int close;
    int close_mid;     /* send headers + half the body, then close */
    int gzip;
};

struct pending {
    struct evhttp_request *req;
    struct reply r;
    struct event *ev;
    struct pending *prev, *next;
};
static struct pending *pending_list;

/* ---- helpers ---------------------------------------------------------- */

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

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct conn *cn = ptr;
    if (cn && cn->counted)
        g_mock.stats.open--;
    free(cn);
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    (void)arg;
    SSL *ssl = SSL_new(g_mock.ssl_ctx);
    if (!ssl)
        return NULL;
    struct conn *cn = calloc(1, sizeof *cn);
    SSL_set_ex_data(ssl, conn_idx, cn);
    g_mock.stats.accepted_total++;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static struct conn *conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon)
        return NULL;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

/* evhttp hands TLS several small writes per answer; without TCP_NODELAY Nagle
 * and the client's delayed ACK add ~40 ms to every keep-alive request. */
static void conn_nodelay(struct evhttp_request *req, struct conn *cn)
{
    if (!cn || cn->nodelay)
        return;
    cn->nodelay = 1;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static const char *method_name(int m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    default: return "UNKNOWN";
    }
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

static void reply_send_now(struct evhttp_request *req, struct reply *r)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Server", "pve-api-daemon/3.0");
    evhttp_add_header(out, "Cache-Control", "max-age=0");
    evhttp_add_header(out, "Pragma", "no-cache");
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    evhttp_add_header(out, "Expires", date);
    evhttp_add_header(out, "Content-Type", r->ctype ? r->ctype : "text/plain;charset=UTF-8");
    /* HTTP/1.0 without "Connection: keep-alive" is closed by evhttp anyway. */
    const char *kc = evhttp_find_header(evhttp_request_get_input_headers(req), "Connection");
    int http10 = req->major == 1 && req->minor == 0;
    if (http10 && !(kc && strcasecmp(kc, "keep-alive") == 0))
        r->close = 1;
    if (r->close || r->close_mid)
        evhttp_add_header(out, "Connection", "close");
    else if (!http10) /* for 1.0 keep-alive evhttp adds its own header */
        evhttp_add_header(out, "Connection", "Keep-Alive");
    if (r->gzip == 1)
        evhttp_add_header(out, "Content-Encoding", "gzip");
    else if (r->gzip == 2)
        evhttp_add_header(out, "Content-Encoding", "deflate");
    /* Always a Content-Length, even where evhttp would leave it out (HTTP/1.0). */
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", r->len);
    evhttp_add_header(out, "Content-Length", cl);
    struct evbuffer *buf = evbuffer_new();
    if (r->close_mid) {
        /* Promise the whole body, deliver half: the client sees a cut transfer. */
        evhttp_send_reply_start(req, r->status, r->reason);
        evbuffer_add(buf, r->body, r->len / 2);
        evhttp_send_reply_chunk(req, buf);
        evhttp_send_reply_end(req);
    } else {
        evbuffer_add(buf, r->body, r->len);
        evhttp_send_reply(req, r->status, r->reason, buf);
    }
    evbuffer_free(buf);
    free(r->reason);
    free(r->body);
}

static void pending_fire(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct pending *p = arg;
    if (p->prev)
        p->prev->next = p->next;
    else
        pending_list = p->next;
    if (p->next)
        p->next->prev = p->prev;
    event_free(p->ev);
    reply_send_now(p->req, &p->r);
    free(p);
}

static void reply_send(struct evhttp_request *req, struct reply *r, int delay_ms)
{
    if (delay_ms <= 0) {
        reply_send_now(req, r);
        return;
    }
    struct pending *p = calloc(1, sizeof *p);
    p->req = req;
    p->r = *r;
    p->ev = evtimer_new(g_mock.base, pending_fire, p);
    p->next = pending_list;
    if (pending_list)
        pending_list->prev = p;
    pending_list = p;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(p->ev, &tv);
}

/* HTTP-layer errors: plain text, reason = message, connection closed. */
static void plain_error(struct evhttp_request *req, int status, const char *msg, int delay_ms)
{
    struct reply r = {0};
    r.status = status;
    r.reason = xstrdup(msg);
    r.body = xasprintf("%s\n", msg);
    r.len = strlen(r.body);
    r.close = 1;
    reply_send(req, &r, delay_ms);
}

static void json_reply(struct evhttp_request *req, int status, const char *reason, char *body,
                       int close, int delay_ms)
{
    struct reply r = {0};
    r.status = status;
    r.reason = xstrdup(reason);
    r.body = body;
    r.len = strlen(body);
    r.ctype = "application/json;charset=UTF-8";
    r.close = close || status >= 400;
    reply_send(req, &r, delay_ms);
}

/* ---- parameter decoding ------------------------------------------------ */

static char *form_unescape(const char *s, size_t n)
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
    return out;
}

static void param_add(cJSON *obj, const char *key, const char *val)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!old) {
        cJSON_AddStringToObject(obj, key, val);
    } else if (cJSON_IsArray(old)) {
        cJSON_AddItemToArray(old, cJSON_CreateString(val));
    } else { /* a repeated key becomes an array */
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_Duplicate(old, 1));
        cJSON_AddItemToArray(arr, cJSON_CreateString(val));
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, arr);
    }
}

/* PVE decode_urlencoded: pairs split on '&' and ';', each pair on every '='
 * keeping the first two pieces; "key=" (empty) is undef, i.e. absent. */
static void form_decode(const char *s, size_t n, cJSON *obj)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&' && s[j] != ';')
            j++;
        const char *eq = memchr(s + i, '=', j - i);
        if (eq) {
            const char *v = eq + 1;
            const char *vend = memchr(v, '=', (size_t)(s + j - v));
            if (!vend)
                vend = s + j;
            if (vend > v && eq > s + i) {
                char *k = form_unescape(s + i, (size_t)(eq - (s + i)));
                char *val = form_unescape(v, (size_t)(vend - v));
                param_add(obj, k, val);
                free(k);
                free(val);
            }
        }
        i = j + 1;
    }
}

/* ---- /_mock control ---------------------------------------------------- */

static struct mock_config saved_cfg;

static void faults_clear(void)
{
    free(g_mock.faults.task_exitstatus);
    memset(&g_mock.faults, 0, sizeof g_mock.faults);
    g_mock.faults.fail_status = 500;
}

static int jnum(const cJSON *o, const char *k, long *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x))
        return 0;
    *out = (long)x->valuedouble;
    return 1;
}

static void mock_control(struct evhttp_request *req, const char *path, int method)
{
    if (strcmp(path, "/_mock/stats") == 0 && method == EVHTTP_REQ_GET) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "connections", (double)g_mock.stats.connections);
        cJSON_AddNumberToObject(o, "open", (double)g_mock.stats.open);
        cJSON_AddNumberToObject(o, "requests", (double)g_mock.stats.requests);
        cJSON_AddNumberToObject(o, "logins", (double)g_mock.stats.logins);
        cJSON_AddNumberToObject(o, "renewals", (double)g_mock.stats.renewals);
        cJSON_AddNumberToObject(o, "tfa_logins", (double)g_mock.stats.tfa_logins);
        cJSON_AddNumberToObject(o, "accepted_total", (double)g_mock.stats.accepted_total);
        cJSON_AddNumberToObject(o, "compressed", (double)g_mock.stats.compressed);
        cJSON_AddNumberToObject(o, "tasks", g_mock.ntasks);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        json_reply(req, 200, "OK", s, 0, 0);
        return;
    }
    if (strcmp(path, "/_mock/reset") == 0 && method == EVHTTP_REQ_POST) {
        faults_clear();
        long open = g_mock.stats.open;
        memset(&g_mock.stats, 0, sizeof g_mock.stats);
        g_mock.stats.open = open; /* a gauge, not a counter */
        g_mock.cfg.auth_delay_ms = saved_cfg.auth_delay_ms;
        g_mock.cfg.ticket_lifetime = saved_cfg.ticket_lifetime;
        g_mock.cfg.task_ms = saved_cfg.task_ms;
        json_reply(req, 200, "OK", xstrdup("{\"data\":null}"), 0, 0);
        return;
    }
    if (strcmp(path, "/_mock/faults") == 0 && method == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        char *text = xmalloc(n + 1);
        evbuffer_copyout(in, text, n);
        text[n] = 0;
        cJSON *o = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            plain_error(req, 400, "faults: body must be a JSON object", 0);
            return;
        }
        long v;
        struct mock_faults *f = &g_mock.faults;
        if (jnum(o, "latency_ms", &v)) f->latency_ms = (int)v;
        if (jnum(o, "close_mid_response", &v)) f->close_mid_response = (int)v;
        if (jnum(o, "fail_5xx", &v)) f->fail_5xx = (int)v;
        if (jnum(o, "fail_status", &v)) f->fail_status = (int)v;
        if (jnum(o, "malformed", &v)) f->malformed = (int)v;
        if (jnum(o, "oversize_bytes", &v)) f->oversize_bytes = v;
        if (jnum(o, "auth_delay_ms", &v)) g_mock.cfg.auth_delay_ms = (int)v;
        if (jnum(o, "ticket_lifetime", &v)) g_mock.cfg.ticket_lifetime = (int)v;
        if (jnum(o, "task_ms", &v)) g_mock.cfg.task_ms = (int)v;
        const cJSON *es = cJSON_GetObjectItemCaseSensitive(o, "task_exitstatus");
        if (cJSON_IsString(es)) {
            free(f->task_exitstatus);
            f->task_exitstatus = *es->valuestring && strcmp(es->valuestring, "OK")
                                     ? xstrdup(es->valuestring)
                                     : NULL;
        }
        cJSON_Delete(o);
        json_reply(req, 200, "OK", xstrdup("{\"data\":null}"), 0, 0);
        return;
    }
    plain_error(req, 501, "not implemented", 0);
}

/* ---- the request pipeline ---------------------------------------------- */

static void split_path(struct call *c, char *p)
{
    c->seg = xmalloc(sizeof *c->seg * (strlen(p) / 2 + 2));
    c->nseg = 0;
    for (char *tok = strtok(p, "/"); tok; tok = strtok(NULL, "/"))
        c->seg[c->nseg++] = tok;
}

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

static void api_answer(struct evhttp_request *req, struct call *c, int close)
{
    struct mock_faults *f = &g_mock.faults;
    int delay = g_mock.cfg.latency_ms + f->latency_ms + c->delay_ms;
    if (f->fail_5xx > 0) {
        f->fail_5xx--;
        call_error(c, f->fail_status ? f->fail_status : 500, "mock fault");
        cJSON_Delete(c->errors);
        c->errors = NULL;
    }
    struct reply r = {0};
    r.status = c->status;
    r.ctype = "application/json;charset=UTF-8";
    if (c->status == 200) {
        r.reason = xstrdup("OK");
    } else { /* the reason phrase is the message's first line */
        const char *m = c->message ? c->message : "error";
        r.reason = xasprintf("%.*s", (int)strcspn(m, "\n"), m);
    }
    if (c->status == 200 && f->oversize_bytes > 0) {
        long n = f->oversize_bytes;
        f->oversize_bytes = 0;
        r.body = xmalloc((size_t)n + 32);
        memcpy(r.body, "{\"data\":\"", 9);
        memset(r.body + 9, 'x', (size_t)n);
        memcpy(r.body + 9 + n, "\"}", 3);
        r.len = (size_t)n + 11;
    } else {
        r.body = result_body(c);
        r.len = strlen(r.body);
    }
    if (f->malformed > 0) {
        f->malformed--;
        r.status = 200;
        free(r.reason);
        r.reason = xstrdup("OK");
        r.len = r.len > 4 ? r.len / 2 : 1; /* cut mid-token: never valid JSON */
        r.body[0] = '{';
    }
    r.close = close || r.status >= 400;
    if (f->close_mid_response > 0 && r.len > 1) {
        f->close_mid_response--;
        r.close_mid = 1;
    }
    const char *ae = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept-Encoding");
    if (!r.close_mid && ae && r.len > GZIP_MIN) {
        if (strstr(ae, "gzip") && compress_body(&r, 15 + 16) == 0)
            r.gzip = 1;
        else if (strstr(ae, "deflate") && compress_body(&r, 15) == 0)
            r.gzip = 2;
        if (r.gzip)
            g_mock.stats.compressed++;
    }
    reply_send(req, &r, delay);
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

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    int method = (int)evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *rawpath = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq *hin = evhttp_request_get_input_headers(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    if (!rawpath || !*rawpath)
        rawpath = "/";

    struct conn *cn = conn_of(req);
    conn_nodelay(req, cn);
    if (strncmp(rawpath, "/_mock/", 7) == 0) {
        mock_control(req, rawpath, method);
        return;
    }

    g_mock.stats.requests++;
    int close = 0;
    if (cn) {
        if (!cn->counted) {
            cn->counted = 1;
            g_mock.stats.connections++;
            g_mock.stats.open++;
        }
        if (++cn->nreq >= MAX_CONN_REQUESTS)
            close = 1;
    }
    mock_log("%s %s", method_name(method), rawpath);

    const char *te = evhttp_find_header(hin, "Transfer-Encoding");
    if (te && strcasestr(te, "chunked")) {
        plain_error(req, 501, "chunked transfer encoding not supported", 0);
        return;
    }
    if (blen > MAX_POST) {
        plain_error(req, 501, "for data too large", 0);
        return;
    }
    if ((method == EVHTTP_REQ_GET || method == EVHTTP_REQ_DELETE) && blen > 0) {
        plain_error(req, 501, "Unexpected content for method", 0);
        return;
    }
    int is_json = 0;
    if ((method == EVHTTP_REQ_POST || method == EVHTTP_REQ_PUT) &&
        !content_type_ok(evhttp_find_header(hin, "Content-Type"), &is_json)) {
        plain_error(req, 506, "Unsupported Content-Type", 0);
        return;
    }

    /* /api2/<fmt>/<rel>, decoded once; empty segments dropped. */
    size_t dlen = 0;
    char *path = evhttp_uridecode(rawpath, 0, &dlen);
    if (!path || strlen(path) != dlen) {
        free(path);
        plain_error(req, 400, "invalid path", 0);
        return;
    }
    struct call c;
    memset(&c, 0, sizeof c);
    c.method = method;
    c.status = 200;
    c.total = -1;
    char *fmt_end = NULL;
    int fmt_ok = strncmp(path, "/api2/", 6) == 0 && islower((unsigned char)path[6]);
    if (fmt_ok) {
        fmt_end = path + 6;
        while (islower((unsigned char)*fmt_end) || isdigit((unsigned char)*fmt_end))
            fmt_end++;
        fmt_ok = (*fmt_end == '/' || *fmt_end == 0) && fmt_end - (path + 6) >= 2;
    }
    if (!fmt_ok || fmt_end - (path + 6) != 4 || strncmp(path + 6, "json", 4) != 0) {
        /* extjs/html/... are real PVE formats the mock does not speak */
        free(path);
        plain_error(req, 501, "Unsupported format", 0);
        return;
    }
    char *rel = xstrdup(*fmt_end ? fmt_end : "/");
    free(path);
    char *relcopy = xstrdup(rel);
    split_path(&c, relcopy);
    /* canonical path for messages: "/" + segments joined */
    size_t cap = strlen(rel) + 2, pos = 0;
    char *canon = xmalloc(cap);
    canon[0] = 0;
    for (int i = 0; i < c.nseg; i++)
        pos += (size_t)snprintf(canon + pos, cap - pos, "/%s", c.seg[i]);
    if (c.nseg == 0)
        strcpy(canon, "/");
    c.path = canon;
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST && method != EVHTTP_REQ_PUT &&
        method != EVHTTP_REQ_DELETE) { /* HEAD, OPTIONS, ...: pveproxy knows only four verbs */
        char *m = xasprintf("Method '%s %s' not implemented", method_name(method), c.path);
        plain_error(req, 501, m, 0);
        free(m);
        goto done;
    }

    /* Parameters: body first, then the query overrides; _dc dropped. */
    c.params = cJSON_CreateObject();
    if (blen > 0 || is_json) {
        char *body = xmalloc(blen + 1);
        evbuffer_copyout(in, body, blen);
        body[blen] = 0;
        if (is_json) {
            cJSON *j = blen ? cJSON_Parse(body) : NULL;
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                free(body);
                plain_error(req, 500, blen ? "malformed JSON body" : "empty JSON body", 0);
                goto done;
            }
            cJSON_Delete(c.params);
            c.params = j;
        } else {
            form_decode(body, blen, c.params);
        }
        free(body);
    }
    if (query) {
        cJSON *q = cJSON_CreateObject();
        form_decode(query, strlen(query), q);
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
    if (!r || !r->noauth) {
        char *user = NULL;
        int via_token = 0;
        enum auth_result ar = auth_check(hin, method, &user, &via_token);
        if (ar != AUTH_OK) {
            static const char *const why[] = {"", "No ticket", "Authentication failed!",
                                              "Permission denied - invalid csrf token"};
            struct reply rp = {0};
            rp.status = 401;
            rp.reason = xstrdup(why[ar]);
            rp.body = xstrdup("");
            rp.close = 1;
            reply_send(req, &rp,
                       g_mock.cfg.auth_delay_ms + g_mock.cfg.latency_ms + g_mock.faults.latency_ms);
            goto done;
        }
        c.user = user;
        c.via_token = via_token;
    }
    if (c.via_token && c.user && strcmp(c.user, MOCK_RO_TOKEN_ID) == 0 && method != EVHTTP_REQ_GET)
        /* the read-only token's ACLs (privilege separation) allow no change */
        call_error(&c, 403, "Permission check failed (%s, Sys.Modify)", c.path);
    else if (r)
        route_dispatch(r, &c);
    else if (!generic_dispatch(&c)) /* every other method of the PVE schema */
        call_error(&c, 501, "Method '%s %s' not implemented", method_name(method), c.path);
    api_answer(req, &c, close);
done:
    cJSON_Delete(c.params);
    cJSON_Delete(c.data);
    cJSON_Delete(c.errors);
    free(c.message);
    free((char *)c.user);
    free(c.seg);
    free(relcopy);
    free(rel);
    free(canon);
}

/* ---- start / stop ------------------------------------------------------ */

int http_start(void)
{
    saved_cfg = g_mock.cfg;
    faults_clear();
    conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
    g_mock.http = evhttp_new(g_mock.base);
    if (!g_mock.http)
        return -1;
    evhttp_set_bevcb(g_mock.http, bevcb, NULL);
    evhttp_set_gencb(g_mock.http, handle, NULL);
    /* Let every verb through so unsupported ones get PVE's 501, not evhttp's 405. */
    evhttp_set_allowed_methods(g_mock.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                                EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                                EVHTTP_REQ_TRACE);
    evhttp_set_max_body_size(g_mock.http, MAX_EVHTTP_BODY);
    evhttp_set_max_headers_size(g_mock.http, 8 * 1024);
    evhttp_set_timeout(g_mock.http, IDLE_TIMEOUT_S);

    /* ADDR:PORT, [v6]:PORT */
    char host[256];
    const char *l = g_mock.cfg.listen;
    const char *colon = strrchr(l, ':');
    if (!colon || (size_t)(colon - l) >= sizeof host) {
        fprintf(stderr, "pve-mock: bad --listen %s\n", l);
        return -1;
    }
    memcpy(host, l, (size_t)(colon - l));
    host[colon - l] = 0;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = 0;
        h++;
    }
    int port = atoi(colon + 1);
    bound = evhttp_bind_socket_with_handle(g_mock.http, h, (ev_uint16_t)port);
    if (!bound) {
        fprintf(stderr, "pve-mock: cannot listen on %s\n", l);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl);
    int real_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    char urlhost[300];
    if (ss.ss_family == AF_INET6)
        snprintf(urlhost, sizeof urlhost, "[%s]", h);
    else
        snprintf(urlhost, sizeof urlhost, "%s", h);

    cJSON *o = cJSON_CreateObject();
    char *url = xasprintf("https://%s:%d", urlhost, real_port);
    cJSON_AddStringToObject(o, "url", url);
    free(url);
    cJSON_AddStringToObject(o, "fingerprint", g_mock.fingerprint);
    cJSON_AddStringToObject(o, "token", MOCK_TOKEN_ID "=" MOCK_TOKEN_SECRET);
    cJSON_AddStringToObject(o, "readonly_token", MOCK_RO_TOKEN_ID "=" MOCK_RO_TOKEN_SECRET);
    cJSON_AddStringToObject(o, "user", MOCK_USER);
    cJSON_AddStringToObject(o, "password", MOCK_PASSWORD);
    if (g_mock.cfg.tfa) {
        cJSON_AddStringToObject(o, "tfa_user", MOCK_TFA_USER);
        cJSON_AddStringToObject(o, "tfa_password", MOCK_TFA_PASSWORD);
        cJSON_AddStringToObject(o, "totp_secret", MOCK_TOTP_SECRET);
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    printf("%s\n", line);
    fflush(stdout);
    free(line);
    return 0;
}

void http_stop(void)
{
    /* Answer whatever still waits on a timer, so every request is freed. */
    while (pending_list) {
        struct pending *p = pending_list;
        pending_list = p->next;
        event_free(p->ev);
        reply_send_now(p->req, &p->r);
        free(p);
    }
    if (g_mock.http)
        evhttp_free(g_mock.http);
    g_mock.http = NULL;
    faults_clear();
}
