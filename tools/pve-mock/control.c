/* pve-mock: the test controls under /_mock/ (no authentication, outside /api2): statistics,
 * the fault switches, the request log, per-listener control and the reset.
 *
 * Every key of POST /_mock/faults is checked before any is applied, so that a typo in a test
 * fails loudly (400) instead of silently injecting nothing. */
#include "mock.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#define DEFAULT_DOWNLOAD_SIZE (1 << 20)
#define DEFAULT_HEADER_SIZE 16384
#define MAX_FAULT_BYTES (1024.0 * 1024 * 1024) /* oversize_bytes, header_size: 1 GiB */
#define MAX_SETTING 100000000.0 /* ms or s: as the command line (main.c int_arg) */

static struct mock_config saved_cfg;

/* ---- faults ----------------------------------------------------------------------------- */

void faults_clear(void)
{
    struct mock_faults *f = &g_mock.faults;
    free(f->fail_reason);
    free(f->task_exitstatus);
    free(f->match_path);
    memset(f, 0, sizeof *f);
    f->fail_status = 500;
    f->retry_after = -1;
    f->slow_bps = 1;
    f->header_size = DEFAULT_HEADER_SIZE;
    f->download_size = DEFAULT_DOWNLOAD_SIZE;
    f->match_listener = -1;
}

int fault_take(int *counter)
{
    if (*counter == 0)
        return 0;
    if (*counter > 0)
        (*counter)--;
    return 1; /* -1 stays: every answer until the next reset */
}

int fault_match(const struct req *rq, const char *rel)
{
    const struct mock_faults *f = &g_mock.faults;
    if (f->match_listener >= 0 && rq->listener != f->match_listener)
        return 0;
    if (f->match_method && rq->method != f->match_method)
        return 0;
    if (f->match_path && strncmp(rel, f->match_path, strlen(f->match_path)) != 0)
        return 0;
    return 1;
}

enum fkind { K_COUNT, K_INT, K_LONG, K_BOOL, K_SETTING, K_STRING, K_SPECIAL };

static const struct fkey {
    const char *name;
    enum fkind kind;
    size_t off; /* into struct mock_faults (K_COUNT/K_INT/K_LONG/K_BOOL), struct mock_config
                   (K_SETTING) */
} fkeys[] = {
#define FC(n) {#n, K_COUNT, offsetof(struct mock_faults, n)}
#define FI(n) {#n, K_INT, offsetof(struct mock_faults, n)}
    FC(fail_5xx), FI(fail_status), {"fail_reason", K_STRING, 0}, FI(retry_after),
    FC(lock_timeout), FC(close_after_request), FC(reset_before_response), FC(malformed),
    {"oversize_bytes", K_LONG, offsetof(struct mock_faults, oversize_bytes)}, FC(wrong_type),
    {"wrong_type_member", K_BOOL, offsetof(struct mock_faults, wrong_type_member)},
    FC(header_bytes), {"header_size", K_LONG, offsetof(struct mock_faults, header_size)},
    FC(reason_ctl), FC(close_mid_response), FC(reset_mid_body), FC(close_after_headers),
    FC(long_content_length), FC(slow), FI(slow_bps),
    {"slow_body_only", K_BOOL, offsetof(struct mock_faults, slow_body_only)}, FC(login_refuse),
    FC(ticket_refuse), FC(need_tfa), FC(tfa_loop), FC(login_dup), FC(task_log_stale),
    FC(task_log_dup), {"task_exitstatus", K_STRING, 0}, FC(reset_accept), FI(latency_ms),
    {"download_size", K_SPECIAL, 0}, {"match_path", K_STRING, 0}, {"match_method", K_STRING, 0},
    FI(match_listener), {"tls_cert", K_STRING, 0},
    {"auth_delay_ms", K_SETTING, offsetof(struct mock_config, auth_delay_ms)},
    {"ticket_lifetime", K_SETTING, offsetof(struct mock_config, ticket_lifetime)},
    {"task_ms", K_SETTING, offsetof(struct mock_config, task_ms)},
#undef FC
#undef FI
};

static const struct fkey *fkey_find(const char *name)
{
    for (size_t i = 0; i < sizeof fkeys / sizeof fkeys[0]; i++)
        if (strcmp(fkeys[i].name, name) == 0)
            return &fkeys[i];
    return NULL;
}

static int method_code(const char *s)
{
    static const struct {
        const char *n;
        int m;
    } t[] = {{"GET", EVHTTP_REQ_GET}, {"POST", EVHTTP_REQ_POST}, {"PUT", EVHTTP_REQ_PUT},
             {"DELETE", EVHTTP_REQ_DELETE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].n) == 0)
            return t[i].m;
    return -1;
}

static int cert_code(const char *s)
{
    return !strcmp(s, "normal") ? CERT_NORMAL : !strcmp(s, "same_ca") ? CERT_SAME_CA
                                            : !strcmp(s, "foreign_ca") ? CERT_FOREIGN_CA
                                                                       : -1;
}

static int is_int(const cJSON *x, double lo, double hi)
{
    return cJSON_IsNumber(x) && x->valuedouble == (double)(long long)x->valuedouble &&
           x->valuedouble >= lo && x->valuedouble <= hi;
}

/* NULL when the value fits its key, else why not (static text). */
static const char *fault_check(const struct fkey *k, const cJSON *v)
{
    switch (k->kind) {
    case K_COUNT:
        return is_int(v, -1, 1e9) ? NULL : "a count: an integer >= -1 (-1 = until reset)";
    case K_INT:
        if (!strcmp(k->name, "retry_after") || !strcmp(k->name, "match_listener"))
            return is_int(v, -1, 1e9) ? NULL : "an integer >= -1";
        if (!strcmp(k->name, "slow_bps"))
            return is_int(v, 1, 1e9) ? NULL : "an integer >= 1";
        if (!strcmp(k->name, "fail_status"))
            return is_int(v, 100, 999) ? NULL : "an HTTP status (100..999)";
        if (!strcmp(k->name, "latency_ms"))
            return is_int(v, 0, MAX_SETTING) ? NULL : "an integer, 0..100000000";
        return is_int(v, 0, 1e9) ? NULL : "an integer >= 0";
    case K_LONG: /* sizes of buffers the mock allocates */
        return is_int(v, 0, MAX_FAULT_BYTES) ? NULL : "an integer of bytes, 0..1073741824";
    case K_SETTING: /* the command line's range: sums of delays stay within an int */
        return is_int(v, 0, MAX_SETTING) ? NULL : "an integer, 0..100000000";
    case K_SPECIAL: /* download_size */
        return is_int(v, 0, 9.0e15) ? NULL : "an integer >= 0";
    case K_BOOL:
        return cJSON_IsBool(v) || is_int(v, 0, 1) ? NULL : "a boolean (true/false or 0/1)";
    case K_STRING:
        if (!strcmp(k->name, "match_method"))
            return cJSON_IsNull(v) || (cJSON_IsString(v) && method_code(v->valuestring) > 0)
                       ? NULL
                       : "GET, POST, PUT, DELETE or null";
        if (!strcmp(k->name, "tls_cert"))
            return cJSON_IsString(v) && cert_code(v->valuestring) >= 0
                       ? NULL
                       : "normal, same_ca or foreign_ca";
        return cJSON_IsString(v) || cJSON_IsNull(v) ? NULL : "a string or null";
    }
    return "unknown";
}

static void set_string(char **dst, const cJSON *v)
{
    free(*dst);
    *dst = cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static void fault_apply(const struct fkey *k, const cJSON *v)
{
    struct mock_faults *f = &g_mock.faults;
    long long n = cJSON_IsNumber(v) ? (long long)v->valuedouble : cJSON_IsTrue(v) ? 1 : 0;
    switch (k->kind) {
    case K_COUNT:
    case K_INT:
    case K_BOOL:
        *(int *)((char *)f + k->off) = (int)n;
        break;
    case K_LONG:
        *(long *)((char *)f + k->off) = (long)n;
        break;
    case K_SETTING:
        *(int *)((char *)&g_mock.cfg + k->off) = (int)n;
        break;
    case K_SPECIAL:
        f->download_size = (int64_t)n;
        break;
    case K_STRING:
        if (!strcmp(k->name, "fail_reason"))
            set_string(&f->fail_reason, v);
        else if (!strcmp(k->name, "match_path"))
            set_string(&f->match_path, v);
        else if (!strcmp(k->name, "match_method"))
            f->match_method = cJSON_IsString(v) ? method_code(v->valuestring) : 0;
        else if (!strcmp(k->name, "tls_cert"))
            listener_set_cert(-1, cert_code(v->valuestring));
        else if (!strcmp(k->name, "task_exitstatus")) {
            free(f->task_exitstatus);
            f->task_exitstatus = cJSON_IsString(v) && *v->valuestring &&
                                         strcmp(v->valuestring, "OK")
                                     ? xstrdup(v->valuestring)
                                     : NULL;
        }
        break;
    }
}

/* ---- the request log -------------------------------------------------------------------- */

struct logent {
    int64_t at_ms, done_ms; /* monotonic ms: the head read, the answer decided (-1 = not yet) */
    char *method, *path, *query;
    int listener;
    long conn;
    int status;
    int64_t bytes_in;
    const char *fault;
    int auth;
};

static struct logent *ring;

static int64_t now_ms(void)
{
    static struct timespec t0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!t0.tv_sec && !t0.tv_nsec)
        t0 = t;
    return (int64_t)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}
static long ring_cap;
static long next_id = 1, first_id = 1; /* ids are never reused, also across resets */

static struct logent *reqlog_find(long id)
{
    if (id < first_id || id >= next_id || id <= next_id - 1 - ring_cap || ring_cap == 0)
        return NULL;
    return &ring[id % ring_cap];
}

static void logent_clear(struct logent *e)
{
    free(e->method);
    free(e->path);
    free(e->query);
    memset(e, 0, sizeof *e);
}

/* Parameters whose values the log never shows: passwords, second factors, tickets, secrets. */
static int secret_name(const char *k, size_t n)
{
    static const char *const exact[] = {"otp", "response", "totp", "value", "code"};
    /* (key: client-key of OpenID realms, eab-hmac-key of ACME accounts; a public one such as
     * sshkeys masked too does no harm) */
    static const char *const part[] = {"password", "secret", "ticket", "challenge", "token",
                                       "key", "hmac"};
    char name[64];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof name; i++) { /* the key percent-decoded */
        if (k[i] == '%' && i + 2 < n && isxdigit((unsigned char)k[i + 1]) &&
            isxdigit((unsigned char)k[i + 2])) {
            char hex[3] = {k[i + 1], k[i + 2], 0};
            name[o++] = (char)tolower((int)strtol(hex, NULL, 16));
            i += 2;
        } else {
            name[o++] = (char)tolower((unsigned char)(k[i] == '+' ? ' ' : k[i]));
        }
    }
    name[o] = 0;
    if (o + 1 >= sizeof name)
        return 1; /* too long to tell: masked */
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(name, exact[i]))
            return 1;
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++)
        if (strstr(name, part[i]))
            return 1;
    return 0;
}

/* The query as logged: the value of every secret parameter (see secret_name) replaced by
 * "***" (an empty one stays empty); everything else as sent. */
static char *mask_query(const char *q)
{
    size_t n = strlen(q), o = 0;
    char *out = xmalloc(n + 4 * (n / 2 + 1) + 1);
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && q[j] != '&' && q[j] != ';')
            j++;
        const char *eq = memchr(q + i, '=', j - i);
        if (eq && eq + 1 < q + j && secret_name(q + i, (size_t)(eq - (q + i)))) {
            size_t kl = (size_t)(eq + 1 - (q + i));
            memcpy(out + o, q + i, kl);
            o += kl;
            memcpy(out + o, "***", 3);
            o += 3;
        } else {
            memcpy(out + o, q + i, j - i);
            o += j - i;
        }
        if (j < n)
            out[o++] = q[j];
        i = j + 1;
    }
    out[o] = 0;
    return out;
}

long reqlog_add(const struct req *rq)
{
    if (!ring) {
        ring_cap = g_mock.cfg.request_log;
        if (ring_cap <= 0)
            return -1;
        ring = xcalloc((size_t)ring_cap, sizeof *ring);
    }
    long id = next_id++;
    struct logent *e = &ring[id % ring_cap];
    logent_clear(e);
    e->method = xstrdup(rq->method_name ? rq->method_name : "");
    e->path = xstrdup(rq->path ? rq->path : "");
    e->query = rq->query ? mask_query(rq->query) : NULL;
    e->listener = rq->listener;
    e->conn = rq->conn_id;
    e->status = -1; /* not answered yet */
    e->at_ms = now_ms();
    e->done_ms = -1;
    return id;
}

void reqlog_status(long id, int status, const char *fault)
{
    struct logent *e = reqlog_find(id);
    if (!e)
        return;
    e->status = status;
    if (e->done_ms < 0)
        e->done_ms = now_ms();
    if (fault)
        e->fault = fault;
}

void reqlog_bytes(long id, int64_t bytes_in)
{
    struct logent *e = reqlog_find(id);
    if (e)
        e->bytes_in = bytes_in;
}

void reqlog_gone(long id, int64_t bytes_in)
{
    struct logent *e = reqlog_find(id);
    if (e && e->status < 0) {
        e->status = 0;
        e->bytes_in = bytes_in;
        e->fault = "client_gone";
        e->done_ms = now_ms();
    }
}

void reqlog_auth(long id, int kind)
{
    struct logent *e = reqlog_find(id);
    if (e)
        e->auth = kind;
}

static void reqlog_clear(void)
{
    for (long i = 0; i < ring_cap; i++)
        logent_clear(&ring[i]);
    first_id = next_id;
}

void reqlog_free(void)
{
    reqlog_clear();
    free(ring);
    ring = NULL;
    ring_cap = 0;
}

static cJSON *reqlog_json(long since)
{
    static const char *const auths[] = {"none", "ticket", "token", "failed"};
    cJSON *a = cJSON_CreateArray();
    long from = since + 1 > first_id ? since + 1 : first_id;
    for (long id = from; id < next_id; id++) {
        struct logent *e = reqlog_find(id);
        if (!e)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "method", e->method);
        cJSON_AddStringToObject(o, "path", e->path);
        if (e->query)
            cJSON_AddStringToObject(o, "query", e->query);
        else
            cJSON_AddNullToObject(o, "query");
        cJSON_AddNumberToObject(o, "listener", e->listener);
        cJSON_AddStringToObject(o, "node",
                                e->listener >= 0 && e->listener < g_mock.nnodes
                                    ? g_mock.nodes[e->listener].name
                                    : "");
        cJSON_AddNumberToObject(o, "conn", (double)e->conn);
        cJSON_AddNumberToObject(o, "status", e->status);
        cJSON_AddNumberToObject(o, "bytes_in", (double)e->bytes_in);
        if (e->fault)
            cJSON_AddStringToObject(o, "fault", e->fault);
        else
            cJSON_AddNullToObject(o, "fault");
        cJSON_AddStringToObject(o, "auth", auths[e->auth]);
        cJSON_AddNumberToObject(o, "at_ms", (double)e->at_ms);
        cJSON_AddNumberToObject(o, "ms", e->done_ms < 0 ? -1 : (double)(e->done_ms - e->at_ms));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* ---- the routes ------------------------------------------------------------------------- */

static void json_answer(struct req *rq, int status, cJSON *o)
{
    struct reply r = {0};
    r.status = status;
    r.reason = xstrdup(status == 200 ? "OK" : "Bad Request");
    r.body = cJSON_PrintUnformatted(o);
    r.len = strlen(r.body);
    r.ctype = "application/json;charset=UTF-8";
    r.close = status >= 400;
    cJSON_Delete(o);
    req_reply(rq, &r, 0);
}

static void data_answer(struct req *rq, cJSON *data)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateNull());
    json_answer(rq, 200, o);
}

/* Takes msg (malloc'd). */
static void bad_request(struct req *rq, char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNullToObject(o, "data");
    cJSON_AddStringToObject(o, "message", msg);
    free(msg);
    json_answer(rq, 400, o);
}

static cJSON *body_json(struct req *rq)
{
    size_t n = rq->body ? evbuffer_get_length(rq->body) : 0;
    char *text = xmalloc(n + 1);
    if (n)
        evbuffer_remove(rq->body, text, n);
    text[n] = 0;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void route_stats(struct req *rq)
{
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
    json_answer(rq, 200, o);
}

static void route_reset(struct req *rq)
{
    faults_clear();
    long open = g_mock.stats.open;
    memset(&g_mock.stats, 0, sizeof g_mock.stats);
    g_mock.stats.open = open; /* a gauge, not a counter */
    g_mock.cfg.auth_delay_ms = saved_cfg.auth_delay_ms;
    g_mock.cfg.ticket_lifetime = saved_cfg.ticket_lifetime;
    g_mock.cfg.task_ms = saved_cfg.task_ms;
    reqlog_clear();
    server_reset();
    data_answer(rq, NULL);
}

static void route_faults(struct req *rq)
{
    cJSON *o = body_json(rq);
    if (!o) {
        bad_request(rq, xstrdup("faults: the body must be a JSON object"));
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        const struct fkey *k = fkey_find(it->string);
        const char *why = k ? fault_check(k, it) : NULL;
        if (!k || why) {
            bad_request(rq, k ? xasprintf("faults: '%s' must be %s", it->string, why)
                              : xasprintf("faults: unknown key '%s'", it->string));
            cJSON_Delete(o);
            return;
        }
    }
    cJSON_ArrayForEach(it, o) fault_apply(fkey_find(it->string), it);
    cJSON_Delete(o);
    data_answer(rq, NULL);
}

static void route_requests(struct req *rq)
{
    long since = 0;
    if (rq->query) {
        cJSON *q = cJSON_CreateObject();
        form_decode(rq->query, strlen(rq->query), q);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(q, "since");
        if (cJSON_IsString(s))
            since = atol(s->valuestring);
        cJSON_Delete(q);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "data", reqlog_json(since));
    long total = next_id - first_id;
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "dropped", (double)(total > ring_cap ? total - ring_cap : 0));
    json_answer(rq, 200, o);
}

static void route_listeners(struct req *rq)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "data", listeners_json());
    cJSON_AddStringToObject(o, "same_ca_fingerprint", tls_fingerprint(0, CERT_SAME_CA));
    cJSON_AddStringToObject(o, "foreign_ca_fingerprint", tls_fingerprint(0, CERT_FOREIGN_CA));
    json_answer(rq, 200, o);
}

static void route_listener(struct req *rq)
{
    cJSON *o = body_json(rq);
    const cJSON *idx = o ? cJSON_GetObjectItemCaseSensitive(o, "index") : NULL;
    const cJSON *act = o ? cJSON_GetObjectItemCaseSensitive(o, "action") : NULL;
    const cJSON *ms = o ? cJSON_GetObjectItemCaseSensitive(o, "ms") : NULL;
    const cJSON *cert = o ? cJSON_GetObjectItemCaseSensitive(o, "cert") : NULL;
    const char *err = NULL;
    if (!o || !is_int(idx, -1, MOCK_MAX_LISTENERS) || (!act && !cert) ||
        (act && !cJSON_IsString(act)) || (ms && !is_int(ms, 0, 1e9)) ||
        (cert && !(cJSON_IsString(cert) && cert_code(cert->valuestring) >= 0)))
        err = "want {\"index\":N, \"action\":\"down|up|reset|die|drop\", \"ms\":N, "
              "\"cert\":\"normal|same_ca|foreign_ca\"}";
    int index = idx ? (int)idx->valuedouble : 0;
    if (!err && index < 0 && act)
        err = "an action needs a listener index";
    if (!err && cert && listener_set_cert(index, cert_code(cert->valuestring)) != 0)
        err = "no such listener";
    if (!err && act)
        listener_action(index, act->valuestring, ms ? (int)ms->valuedouble : 0, rq->conn, &err);
    cJSON_Delete(o);
    if (err)
        bad_request(rq, xasprintf("listener: %s", err));
    else
        data_answer(rq, NULL);
}

void control_request(struct req *rq, const char *path)
{
    int get = rq->method == EVHTTP_REQ_GET, post = rq->method == EVHTTP_REQ_POST;
    if (get && !strcmp(path, "/_mock/stats"))
        route_stats(rq);
    else if (post && !strcmp(path, "/_mock/reset"))
        route_reset(rq);
    else if (post && !strcmp(path, "/_mock/faults"))
        route_faults(rq);
    else if (get && !strcmp(path, "/_mock/requests"))
        route_requests(rq);
    else if (get && !strcmp(path, "/_mock/listeners"))
        route_listeners(rq);
    else if (post && !strcmp(path, "/_mock/listener"))
        route_listener(rq);
    else
        http_plain_error(rq, 501, "not implemented", 0);
}

void control_init(void)
{
    saved_cfg = g_mock.cfg;
    faults_clear();
}
