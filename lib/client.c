/* The client: endpoint, options, logging, lifetime; the library's global set-up. */
#include "core.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- global set-up ---- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_curl_state; /* 0: not yet, 1: initialised, -1: curl_global_init failed */
static unsigned g_fork_gen; /* bumped in the child after every fork() */

static int g_atfork_rc; /* pthread_atfork's answer */

/* The global locks are held across fork() (always in this order), so no other thread can be
 * inside curl_global_init, a pattern compile or the block cache when the child is made. */
static void fork_prepare(void) {
    pthread_mutex_lock(&g_lock);
    pmx__patterns_fork_lock();
    pmx__block_fork_lock();
}

static void fork_parent(void) {
    pmx__block_fork_unlock();
    pmx__patterns_fork_unlock();
    pthread_mutex_unlock(&g_lock);
}

static void fork_child(void) {
    fork_parent();
    g_fork_gen++;
}

static void once_init(void) { g_atfork_rc = pthread_atfork(fork_prepare, fork_parent, fork_child); }

int pmx__fork_handlers(void) {
    pthread_once(&g_once, once_init);
    return g_atfork_rc == 0 ? PMX_OK : PMX_ENOMEM;
}

/* Wiping allocators for libcurl and OpenSSL: every block carries its size in front, so a free
 * can wipe it. Plain libc underneath (they may run before any client exists). */
typedef union wipe_hdr {
    size_t size;
    max_align_t align;
} wipe_hdr;

static void *w_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(wipe_hdr))
        return NULL;
    wipe_hdr *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    return h + 1;
}

static size_t g_wiping_frees; /* for tests (pmx__wiping_frees) */

static void w_free(void *p) {
    if (!p)
        return;
    wipe_hdr *h = (wipe_hdr *)p - 1;
    pmx__wipe(p, h->size);
    free(h);
    __atomic_add_fetch(&g_wiping_frees, 1, __ATOMIC_RELAXED);
}

size_t pmx__wiping_frees(void) { return __atomic_load_n(&g_wiping_frees, __ATOMIC_RELAXED); }

static void *w_realloc(void *p, size_t n) {
    if (!p)
        return w_malloc(n);
    void *d = w_malloc(n);
    if (!d)
        return NULL;
    size_t old = ((wipe_hdr *)p - 1)->size;
    memcpy(d, p, old < n ? old : n);
    w_free(p);
    return d;
}

static void *w_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = w_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static char *w_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = w_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void *w_crypto_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return w_malloc(n);
}
static void *w_crypto_realloc(void *p, size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return w_realloc(p, n);
}
static void w_crypto_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    w_free(p);
}

int pmx_global_init(unsigned int flags) {
    if (flags & ~(unsigned)PMX_GLOBAL_WIPE_ALLOCATORS)
        return PMX_EINVAL;
    if (pmx__fork_handlers() != PMX_OK)
        return PMX_ENOMEM; /* a forked child could not be told: no clients */
    pthread_mutex_lock(&g_lock);
    int r = PMX_OK;
    if (g_curl_state != 0) {
        r = g_curl_state > 0 ? PMX_EBUSY : PMX_ENOMEM; /* too late: a client set it up */
    } else if (flags & PMX_GLOBAL_WIPE_ALLOCATORS) {
        /* OpenSSL first: it refuses once it has allocated anything. Fail closed. */
        if (!CRYPTO_set_mem_functions(w_crypto_malloc, w_crypto_realloc, w_crypto_free))
            r = PMX_EBUSY;
        else if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, w_malloc, w_free, w_realloc, w_strdup,
                                      w_calloc) != CURLE_OK)
            r = PMX_ENOMEM;
    } else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        r = PMX_ENOMEM;
    }
    if (r == PMX_OK)
        g_curl_state = 1;
    pthread_mutex_unlock(&g_lock);
    return r;
}

void pmx_global_cleanup(void) {
    pthread_mutex_lock(&g_lock);
    if (g_curl_state > 0)
        curl_global_cleanup();
    g_curl_state = 0;
    pthread_mutex_unlock(&g_lock);
    pmx__block_cache_drain();
}

/* curl_global_init once per process, whichever thread creates the first client. */
static int global_ready(void) {
    if (pmx__fork_handlers() != PMX_OK)
        return 0;
    pthread_mutex_lock(&g_lock);
    if (g_curl_state == 0)
        g_curl_state = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 1 : -1;
    int ok = g_curl_state > 0;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/* ---- clients ---- */

int pmx_client_new(pmx_client **out, const char *url) {
    if (!out)
        return PMX_EINVAL;
    *out = NULL;
    if (!global_ready())
        return PMX_ENOMEM;
    pmx_client *c = pmx__calloc(1, sizeof *c);
    if (!c)
        return PMX_ENOMEM;
    int r = pmx__endpoints_parse(url, &c->eps, &c->n_eps);
    if (r) {
        pmx__free(c);
        return r;
    }
    c->tls = c->eps[0].url.tls;
    c->fork_gen = g_fork_gen;
    c->connect_ms = PMX_DEFAULT_CONNECT_MS;
    c->total_ms = 0;
    c->stall_ms = PMX_DEFAULT_STALL_MS;
    c->stall_bps = PMX_DEFAULT_STALL_BYTES_PER_S;
    c->max_per_host = 8;
    c->max_response = (size_t)64 << 20;
    c->ticket_lifetime = 7200;
    c->retry = (pmx__retry){PMX__RETRY_ATTEMPTS, PMX__RETRY_BASE_MS, PMX__RETRY_MAX_DELAY_MS,
                            PMX__RETRY_DEADLINE_MS};
    c->curl_due = -1;
    c->armed_ms = -2;
    if ((r = pmx__loop_init(c)) != PMX_OK) {
        pmx_client_free(c);
        return r;
    }
    *out = c;
    return PMX_OK;
}

void pmx__ud_set(pmx__ud *slot, void *ud, pmx_free_fn free_fn) {
    pmx__ud old = *slot;
    slot->ud = ud;
    slot->free_fn = free_fn;
    pmx__ud_release(&old);
}

void pmx__ud_release(pmx__ud *u) {
    pmx_free_fn f = u->free_fn;
    void *ud = u->ud;
    u->free_fn = NULL;
    u->ud = NULL;
    if (f)
        f(ud);
}

static void release_stored_userdata(pmx_client *c) {
    pmx__ud_release(&c->log_ud);
    c->log_cb = NULL;
    pmx__ud_release(&c->tfa_ud);
    c->tfa_cb = NULL;
    pmx__ud_release(&c->sock_ud);
    c->sock_cb = NULL;
    pmx__ud_release(&c->timer_ud);
    c->timer_cb = NULL;
}

static void free_memory(pmx_client *c) {
    pmx__cache_free(c);
    pmx__auth_clear(c);
    pmx__free(c->ca_file);
    if (c->pins)
        pmx__wipe(c->pins, c->n_pins * sizeof *c->pins);
    pmx__free(c->pins);
    pmx__endpoints_free(c->eps, c->n_eps);
    pmx__free(c->easy_pool);
    pmx__free(c->later);
    pmx__loop_forget_socks(c);
    pmx__free(c);
}

static void client_destroy(pmx_client *c) {
    /* Fail everything still pending; callbacks run now, with starts refused (destroying). */
    c->destroying = 1;
    pmx__loop_drain_timers(c);
    pmx__call_fail_all(c, PMX_EDESTROYED, "client destroyed with the call pending");
    pmx__call_dispatch(c);
    pmx__loop_close(c);
    /* Completions above armed the program's timer; leave no timer aimed at a freed client. */
    if (c->timer_cb && c->armed_ms != -1)
        c->timer_cb(c, -1, c->timer_ud.ud);
    release_stored_userdata(c);
    free_memory(c);
}

/* In a child after fork(): the connections, TLS state and curl's handles are the parent's.
 * Release our own memory and wipe the secrets; touch nothing curl owns, run no callback. */
static void client_abandon(pmx_client *c) {
    while (c->calls) {
        pmx_call *call = c->calls;
        c->calls = call->next;
        call->client = NULL;
        call->easy = NULL; /* the parent's transfer */
        call->deadline = NULL;
        call->userdata_free = NULL; /* the program's objects: not ours to release here */
        pmx_call_unref(call);
    }
    for (size_t i = 0; i < c->n_timers; i++)
        pmx__free(c->heap[i]);
    pmx__free(c->heap);
    free_memory(c);
}

void pmx_client_free(pmx_client *c) {
    if (!c || c->destroying)
        return; /* already being freed: a callback run by the free must not stop the rest */
    if (c->fork_gen != g_fork_gen) {
        client_abandon(c);
        return;
    }
    if (c->in_callback || c->in_log) {
        c->free_requested = 1; /* done when the callback returns */
        return;
    }
    client_destroy(c);
}

/* Called by the loop after callbacks when a free was requested inside one. */
int pmx__client_reap(pmx_client *c) {
    if (c->free_requested && !c->in_callback) {
        c->free_requested = 0;
        client_destroy(c);
        return 1;
    }
    return 0;
}

int pmx__client_usable(const pmx_client *c) {
    if (c->fork_gen != g_fork_gen)
        return PMX_EFORKED;
    if (c->in_log)
        return PMX_ERECURSIVE;
    return PMX_OK;
}

/* ---- TLS policy ---- */

/* A TLS policy may only change while nothing is pending. Connections and TLS sessions cached
 * under the old policy are dropped: curl would otherwise reuse them, and a resumed session
 * skips the certificate check, so a new pin would never be looked at. */
static int tls_change_allowed(const pmx_client *c) {
    int r = pmx__client_usable(c);
    if (r)
        return r;
    return pmx__has_unfinished(c) ? PMX_EBUSY : PMX_OK;
}

static int tls_changed(pmx_client *c) {
    if (!c->used)
        return PMX_OK;
    c->used = 0;
    return pmx__loop_reset(c);
}

/* "AB:CD:...[,AB:CD:...]" into a new array of pins. */
static int parse_pins(const char *list, unsigned char (**out)[32], size_t *n) {
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    if (cap > 64)
        return PMX_EINVAL;
    unsigned char(*pins)[32] = pmx__calloc(cap, sizeof *pins);
    if (!pins)
        return PMX_ENOMEM;
    size_t k = 0;
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        char one[128];
        if (len >= sizeof one) {
            pmx__free(pins);
            return PMX_EINVAL;
        }
        memcpy(one, p, len);
        one[len] = 0;
        if (pmx__fingerprint_parse(one, pins[k]) != PMX_OK) {
            pmx__free(pins);
            return PMX_EINVAL;
        }
        k++;
        if (!end)
            break;
        p = end + 1;
    }
    *out = pins;
    *n = k;
    return PMX_OK;
}

int pmx_client_set_fingerprint(pmx_client *c, const char *sha256) {
    if (!c)
        return PMX_EINVAL;
    if (sha256 && !c->tls)
        return PMX_EINVAL; /* a pin on plain HTTP would protect nothing: refuse, not ignore */
    unsigned char(*pins)[32] = NULL;
    size_t n = 0;
    int r = sha256 ? parse_pins(sha256, &pins, &n) : PMX_OK;
    if (r)
        return r;
    if ((r = tls_change_allowed(c)) != PMX_OK) {
        pmx__free(pins);
        return r;
    }
    if (c->pins)
        pmx__wipe(c->pins, c->n_pins * sizeof *c->pins);
    pmx__free(c->pins);
    c->pins = pins;
    c->n_pins = n;
    c->pinned = pins != NULL;
    return tls_changed(c);
}

int pmx_client_set_ca_file(pmx_client *c, const char *path) {
    if (!c)
        return PMX_EINVAL;
    if (path && (access(path, R_OK) != 0 || !c->tls))
        return PMX_EINVAL;
    int r = tls_change_allowed(c);
    if (r)
        return r;
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
    int r = tls_change_allowed(c);
    if (r)
        return r;
    c->insecure = insecure ? 1 : 0;
    return tls_changed(c);
}

/* ---- options ---- */

int pmx_client_set_timeouts(pmx_client *c, int64_t connect_ms, int64_t total_ms) {
    if (!c || connect_ms < 0 || total_ms < 0 || connect_ms > LONG_MAX || total_ms > LONG_MAX)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->connect_ms = connect_ms;
    c->total_ms = total_ms;
    return PMX_OK;
}

int pmx_client_set_stall_timeout(pmx_client *c, int64_t stall_ms, int64_t min_bytes_per_s) {
    if (!c || stall_ms < 0 || min_bytes_per_s < 1 || stall_ms > (int64_t)LONG_MAX ||
        min_bytes_per_s > LONG_MAX)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->stall_ms = stall_ms;
    c->stall_bps = min_bytes_per_s;
    return PMX_OK;
}

int pmx_client_set_max_connections(pmx_client *c, int per_host) {
    if (!c || per_host < 1)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    if (curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per_host) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)per_host) != CURLM_OK)
        return PMX_ETRANSPORT;
    c->max_per_host = per_host;
    pmx__call_pump(c); /* a larger pool takes queued calls now */
    return PMX_OK;
}

int pmx_client_set_guest_writes(pmx_client *c, int one_at_a_time) {
    if (!c)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->guest_writes = one_at_a_time ? 1 : 0;
    return PMX_OK;
}

int pmx_client_set_max_response(pmx_client *c, size_t bytes) {
    if (!c || bytes == 0)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->max_response = bytes;
    return PMX_OK;
}

int pmx_client_set_compression(pmx_client *c, int on) {
    if (!c)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->no_compression = !on;
    return PMX_OK;
}

int pmx_client_set_log_cb(pmx_client *c, pmx_log_level max_level, pmx_log_fn fn, void *ud,
                          pmx_free_fn ud_free) {
    if (!c || (fn && (max_level < PMX_LOG_ERROR || max_level > PMX_LOG_DEBUG)))
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    c->log_cb = fn;
    c->log_level = max_level;
    pmx__ud_set(&c->log_ud, ud, ud_free);
    return PMX_OK;
}

const char *pmx_client_url(const pmx_client *c) { return c ? c->eps[c->cur_ep].url.base : NULL; }

size_t pmx_client_endpoint_count(const pmx_client *c) { return c ? c->n_eps : 0; }

const char *pmx_client_endpoint(const pmx_client *c, size_t i) {
    return c && i < c->n_eps ? c->eps[i].url.base : NULL;
}

/* ---- endpoints ---- */

size_t pmx__endpoint_pick(pmx_client *c, const pmx_call *call) {
    if (call->want_node) { /* uploads: the endpoint that is that node, when known */
        for (size_t i = 0; i < c->n_eps; i++)
            if (c->eps[i].node && strcmp(c->eps[i].node, call->want_node) == 0)
                return i;
    }
    if (c->n_eps == 1)
        return 0;
    int64_t now = pmx__now_ms();
    if (c->eps[c->cur_ep].down_until <= now)
        return c->cur_ep;
    /* The current one is resting: the next one that is not, else the one back soonest. */
    size_t best = c->cur_ep;
    for (size_t k = 1; k < c->n_eps; k++) {
        size_t i = (c->cur_ep + k) % c->n_eps;
        if (c->eps[i].down_until <= now) {
            best = i;
            break;
        }
        if (c->eps[i].down_until < c->eps[best].down_until)
            best = i;
    }
    if (best != c->cur_ep)
        pmx__log(c, PMX_LOG_INFO, "switching to endpoint %s", c->eps[best].url.base);
    c->cur_ep = best;
    return best;
}

size_t pmx__endpoint_count(const pmx_client *c) { return c->n_eps; }

int pmx__endpoint_of_node(const pmx_client *c, const char *node) {
    for (size_t i = 0; i < c->n_eps; i++)
        if (c->eps[i].node && strcmp(c->eps[i].node, node) == 0)
            return (int)i;
    return -1;
}

bool pmx__endpoint_knows_node(const pmx_client *c, size_t i) { return c->eps[i].node != NULL; }

typedef struct status_entry {
    char *name, *type;
    int local;
} status_entry;

static int status_member(const char *key, const char *v, const char *vend, void *ud) {
    status_entry *e = ud;
    char **slot = strcmp(key, "name") == 0 ? &e->name : strcmp(key, "type") == 0 ? &e->type : NULL;
    if (slot && *v == '"') {
        pmx__free(*slot);
        *slot = NULL;
        pmx__json_string(v, vend, slot);
    } else if (strcmp(key, "local") == 0) {
        e->local = *v == '1' || *v == 't' || (v[0] == '"' && v[1] == '1');
    }
    return 0;
}

typedef struct learn_ctx {
    pmx_client *c;
    size_t ep;
} learn_ctx;

static int status_item(const char *v, const char *vend, size_t i, void *ud) {
    (void)i;
    learn_ctx *l = ud;
    status_entry e = {0};
    if (*v == '{' && pmx__json_object_each(v, vend, status_member, &e) == 0 && e.local &&
        e.name && e.type && strcmp(e.type, "node") == 0) {
        pmx__free(l->c->eps[l->ep].node);
        l->c->eps[l->ep].node = e.name;
        e.name = NULL;
    }
    pmx__free(e.name);
    pmx__free(e.type);
    return 0;
}

void pmx__endpoint_learn(pmx_client *c, size_t i, const char *data, size_t len) {
    learn_ctx l = {c, i};
    if (i < c->n_eps && data && len && *data == '[')
        pmx__json_array_each(data, data + len, status_item, &l);
}

void pmx__endpoint_answered(pmx_client *c, size_t ep) {
    if (ep < c->n_eps)
        c->eps[ep].backoff_ms = PMX__EP_MIN_BACKOFF_MS; /* alive again: the next rest is short */
}

int pmx__endpoint_failed(pmx_client *c, size_t ep) {
    if (c->n_eps == 1)
        return 0;
    pmx__endpoint *e = &c->eps[ep];
    int64_t now = pmx__now_ms();
    if (e->down_until <= now) { /* (not again for every call that was on it) */
        e->down_until = now + e->backoff_ms;
        pmx__log(c, PMX_LOG_WARN, "endpoint %s failed: avoided for %lld s", e->url.base,
                 (long long)(e->backoff_ms / 1000));
        e->backoff_ms = e->backoff_ms * 2 > PMX__EP_MAX_BACKOFF_MS ? PMX__EP_MAX_BACKOFF_MS
                                                                   : e->backoff_ms * 2;
    }
    return 1;
}

/* ---- retry policy ---- */

int pmx__retry_from_opts(pmx__retry *r, const pmx_retry_opts *o) {
    *r = (pmx__retry){PMX__RETRY_ATTEMPTS, PMX__RETRY_BASE_MS, PMX__RETRY_MAX_DELAY_MS,
                      PMX__RETRY_DEADLINE_MS};
    if (!o)
        return PMX_OK;
#define RHAS(f) (o->size >= offsetof(pmx_retry_opts, f) + sizeof o->f)
    if (o->size < sizeof(uint32_t) || (RHAS(flags) && o->flags) || (RHAS(reserved) && o->reserved))
        return PMX_EINVAL;
    if (RHAS(max_attempts) && o->max_attempts)
        r->max_attempts = o->max_attempts;
    if (RHAS(base_ms) && o->base_ms)
        r->base_ms = o->base_ms;
    if (RHAS(max_delay_ms) && o->max_delay_ms)
        r->max_delay_ms = o->max_delay_ms;
    if (RHAS(deadline_ms) && o->deadline_ms)
        r->deadline_ms = o->deadline_ms;
#undef RHAS
    if (r->base_ms < 0 || r->max_delay_ms < 0 || r->deadline_ms < 0 || r->max_attempts > 1000)
        return PMX_EINVAL;
    return PMX_OK;
}

int pmx_client_set_retry(pmx_client *c, const pmx_retry_opts *opts) {
    if (!c)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    pmx__retry p;
    if ((r = pmx__retry_from_opts(&p, opts)) != PMX_OK)
        return r;
    c->retry = p;
    return PMX_OK;
}

size_t pmx_client_pending(const pmx_client *c) { return c ? c->pending : 0; }

bool pmx__log_enabled(const pmx_client *c, pmx_log_level level) {
    return c && c->log_cb && level <= c->log_level && !c->in_log;
}

void pmx__log(pmx_client *c, pmx_log_level level, const char *fmt, ...) {
    if (!pmx__log_enabled(c, level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Logging happens in the middle of the library's own state changes: every call into the
     * client is refused meanwhile (PMX_ERECURSIVE), a free is deferred. */
    c->in_log = 1;
    c->log_cb(c, level, msg, c->log_ud.ud);
    c->in_log = 0;
}

bool pmx__client_destroying(const pmx_client *c) { return c->destroying != 0; }
