/* The client: endpoint, options, logging, lifetime. */
#include "core.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int g_curl_ready;

int pmx_client_new(pmx_client **out, const char *url) {
    if (!out)
        return PMX_EINVAL;
    *out = NULL;
    if (!g_curl_ready) {
        /* Not thread-safe, like curl_global_init itself; the first client sets it up. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return PMX_ENOMEM;
        g_curl_ready = 1;
    }
    pmx_client *c = pmx__calloc(1, sizeof *c);
    if (!c)
        return PMX_ENOMEM;
    int r = pmx__url_parse(url, &c->url);
    if (r) {
        pmx__free(c);
        return r;
    }
    c->api_prefix = pmx__asprintf("%s/api2/json", c->url.base);
    c->connect_ms = 10000;
    c->total_ms = 0;
    c->max_per_host = 8;
    c->max_response = (size_t)64 << 20;
    c->ticket_lifetime = 7200;
    c->curl_due = -1;
    c->armed_ms = -2;
    if (!c->api_prefix || (r = pmx__loop_init(c)) != PMX_OK) {
        pmx_client_free(c);
        return r ? r : PMX_ENOMEM;
    }
    c->api_prefix_len = strlen(c->api_prefix);
    *out = c;
    return PMX_OK;
}

static void client_destroy(pmx_client *c) {
    /* Fail everything still pending; callbacks run now, with starts refused (destroying). */
    c->destroying = 1;
    for (pmx__timer *t = c->timers; t; t = c->timers) {
        /* Timer owners see pmx__client_destroying() and wind down. */
        c->timers = t->next;
        c->in_callback++; /* owners may run user callbacks: keep re-entry refused */
        t->fn(c, t->arg);
        c->in_callback--;
        pmx__free(t);
    }
    while (c->calls) {
        pmx_call *call = c->calls;
        while (call && call->state >= CALL_DONE)
            call = call->next;
        if (!call)
            break;
        pmx__call_complete(call, PMX_EDESTROYED, "client destroyed with the call pending");
    }
    pmx__loop_dispatch(c);
    pmx__loop_close(c);
    pmx__free(c->easy_pool);
    pmx__loop_forget_socks(c);
    /* Completions above armed the program's timer; leave no timer aimed at a freed client. */
    if (c->timer_cb && c->armed_ms != -1)
        c->timer_cb(c, -1, c->timer_ud);
    pmx__auth_clear(c);
    pmx__free(c->ca_file);
    pmx__wipe(c->pin, sizeof c->pin);
    pmx__url_free(&c->url);
    pmx__free(c->api_prefix);
    pmx__free(c);
}

void pmx_client_free(pmx_client *c) {
    if (!c || c->destroying)
        return; /* already being freed: a callback run by the free must not stop the rest */
    if (c->in_callback) {
        c->free_requested = 1; /* done when the callback returns */
        return;
    }
    client_destroy(c);
}

/* Called by the loop after callbacks when a free was requested inside one. */
int pmx__client_reap(pmx_client *c);
int pmx__client_reap(pmx_client *c) {
    if (c->free_requested && !c->in_callback) {
        c->free_requested = 0;
        client_destroy(c);
        return 1;
    }
    return 0;
}

/* A TLS policy may only change while nothing is pending. Connections and TLS sessions cached
 * under the old policy are dropped: curl would otherwise reuse them, and a resumed session
 * skips the certificate check, so a new pin would never be looked at. */
static int tls_change_allowed(const pmx_client *c) {
    return c->calls || c->done_head ? PMX_EBUSY : PMX_OK;
}

static int tls_changed(pmx_client *c) {
    if (!c->used)
        return PMX_OK;
    c->used = 0;
    return pmx__loop_reset(c);
}

int pmx_client_set_fingerprint(pmx_client *c, const char *sha256) {
    if (!c)
        return PMX_EINVAL;
    unsigned char pin[32];
    if (sha256 && pmx__fingerprint_parse(sha256, pin) != PMX_OK)
        return PMX_EINVAL;
    if (tls_change_allowed(c))
        return PMX_EBUSY;
    if (sha256)
        memcpy(c->pin, pin, sizeof pin);
    c->pinned = sha256 != NULL;
    pmx__wipe(pin, sizeof pin);
    return tls_changed(c);
}

int pmx_client_set_ca_file(pmx_client *c, const char *path) {
    if (!c)
        return PMX_EINVAL;
    if (path && access(path, R_OK) != 0)
        return PMX_EINVAL;
    if (tls_change_allowed(c))
        return PMX_EBUSY;
    char *d = NULL;
    if (path && !(d = pmx__strdup(path)))
        return PMX_ENOMEM;
    pmx__free(c->ca_file);
    c->ca_file = d;
    return tls_changed(c);
}

int pmx_client_set_insecure(pmx_client *c, int insecure) {
    if (!c)
        return PMX_EINVAL;
    if (tls_change_allowed(c))
        return PMX_EBUSY;
    c->insecure = insecure ? 1 : 0;
    return tls_changed(c);
}

int pmx_client_set_timeouts(pmx_client *c, int connect_ms, int total_ms) {
    if (!c || connect_ms < 0 || total_ms < 0)
        return PMX_EINVAL;
    c->connect_ms = connect_ms;
    c->total_ms = total_ms;
    return PMX_OK;
}

int pmx_client_set_max_connections(pmx_client *c, int per_host) {
    if (!c || per_host < 1)
        return PMX_EINVAL;
    c->max_per_host = per_host;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per_host);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)per_host);
    pmx__call_pump(c); /* a larger pool takes queued calls now */
    return PMX_OK;
}

int pmx_client_set_max_response(pmx_client *c, size_t bytes) {
    if (!c || bytes == 0)
        return PMX_EINVAL;
    c->max_response = bytes;
    return PMX_OK;
}

int pmx_client_set_compression(pmx_client *c, int on) {
    if (!c)
        return PMX_EINVAL;
    c->no_compression = !on;
    return PMX_OK;
}

int pmx_client_set_log_cb(pmx_client *c, pmx_log_level max_level, pmx_log_fn fn, void *ud) {
    if (!c || (fn && (max_level < PMX_LOG_ERROR || max_level > PMX_LOG_DEBUG)))
        return PMX_EINVAL;
    c->log_cb = fn;
    c->log_ud = ud;
    c->log_level = max_level;
    return PMX_OK;
}

const char *pmx_client_url(const pmx_client *c) { return c ? c->url.base : NULL; }

size_t pmx_client_pending(const pmx_client *c) { return c ? c->pending : 0; }

bool pmx__log_enabled(const pmx_client *c, pmx_log_level level) {
    return c && c->log_cb && level <= c->log_level;
}

void pmx__log(pmx_client *c, pmx_log_level level, const char *fmt, ...) {
    if (!pmx__log_enabled(c, level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Logging happens inside the library's own state changes: re-entry is refused meanwhile. */
    c->in_callback++;
    c->log_cb(c, level, msg, c->log_ud);
    c->in_callback--;
}

bool pmx__client_destroying(const pmx_client *c) { return c->destroying != 0; }
