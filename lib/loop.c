/* The event engine: curl's multi_socket interface, the timer heap, and three ways to drive it
 * (pmx_client_run, pmx_call_wait, or the program's own loop through callbacks). Finished
 * transfers go to call.c through pmx__call_transfer_done(); this file keeps no call lists. */
#include "core.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t pmx__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- sockets ---- */

static pmx__sock *find_sock(pmx_client *c, curl_socket_t fd) {
    for (size_t i = 0; i < c->n_socks; i++)
        if (c->socks[i].fd == fd)
            return &c->socks[i];
    return NULL;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp) {
    (void)e;
    (void)sockp;
    pmx_client *c = ud;
    pmx__sock *s = find_sock(c, fd);
    int ev = 0;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            *s = c->socks[--c->n_socks];
        ev = PMX_POLL_REMOVE;
    } else {
        ev = (what & CURL_POLL_IN ? PMX_POLL_IN : 0) | (what & CURL_POLL_OUT ? PMX_POLL_OUT : 0);
        if (!s) {
            if (c->n_socks == c->cap_socks) {
                size_t cap = c->cap_socks ? c->cap_socks * 2 : 16;
                pmx__sock *n = pmx__realloc(c->socks, cap * sizeof *n);
                if (!n)
                    return -1; /* curl fails the transfer */
                c->socks = n;
                c->cap_socks = cap;
            }
            s = &c->socks[c->n_socks++];
            s->fd = fd;
        }
        s->events = ev;
    }
    if (c->sock_cb)
        c->sock_cb(c, (int)fd, ev, c->sock_ud.ud);
    return 0;
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *ud) {
    (void)m;
    pmx_client *c = ud;
    c->curl_due = timeout_ms < 0 ? -1 : pmx__now_ms() + timeout_ms;
    pmx__loop_update_timer(c);
    return 0;
}

int pmx__loop_init(pmx_client *c) {
    c->multi = curl_multi_init();
    c->share = curl_share_init();
    if (!c->multi || !c->share)
        return PMX_ENOMEM;
    if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->max_per_host) !=
            CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_per_host) != CURLM_OK)
        return PMX_ETRANSPORT;
    return PMX_OK;
}

void pmx__loop_close(pmx_client *c) {
    /* Closing the connections reports their sockets as removed through on_socket. The pooled
     * easy handles still point at the share: they go before it (else it stays "in use"). */
    if (c->multi)
        curl_multi_cleanup(c->multi);
    for (size_t i = 0; i < c->n_easy_pool; i++)
        curl_easy_cleanup(c->easy_pool[i]);
    c->n_easy_pool = 0;
    if (c->share)
        curl_share_cleanup(c->share);
    c->multi = NULL;
    c->share = NULL;
}

int pmx__loop_reset(pmx_client *c) {
    pmx__loop_close(c);
    for (size_t i = 0; i < c->n_socks; i++)
        if (c->sock_cb) /* any left over: the program's loop must stop watching them */
            c->sock_cb(c, (int)c->socks[i].fd, PMX_POLL_REMOVE, c->sock_ud.ud);
    c->n_socks = 0;
    c->curl_due = -1;
    int r = pmx__loop_init(c);
    pmx__loop_update_timer(c);
    return r;
}

void pmx__loop_forget_socks(pmx_client *c) {
    pmx__free(c->socks);
    c->socks = NULL;
    c->n_socks = c->cap_socks = 0;
}

CURL *pmx__loop_take_easy(pmx_client *c) {
    /* Every handle out may need an entry of its own in the list of deferred adds and removes:
     * make room now, so that a cancel from inside curl never needs memory. */
    if (c->n_easy_out >= c->cap_later) {
        size_t cap = c->cap_later ? c->cap_later * 2 : 16;
        struct pmx__later *l = pmx__realloc(c->later, cap * sizeof *l);
        if (!l)
            return NULL;
        c->later = l;
        c->cap_later = cap;
    }
    CURL *e = c->n_easy_pool ? c->easy_pool[--c->n_easy_pool] : curl_easy_init();
    if (e)
        c->n_easy_out++;
    return e;
}

int pmx__loop_add(pmx_client *c, CURL *e, const char **msg) {
    if (c->in_curl) { /* from a transfer callback: added once curl has returned */
        c->later[c->n_later++] = (struct pmx__later){e, 1};
        return PMX_OK;
    }
    CURLMcode rc = curl_multi_add_handle(c->multi, e);
    if (rc == CURLM_OK)
        return PMX_OK;
    *msg = curl_multi_strerror(rc);
    return rc == CURLM_OUT_OF_MEMORY ? PMX_ENOMEM : PMX_ETRANSPORT;
}

/* A handle out of the multi handle goes back to the pool (reset), or is freed. */
static void give_back(pmx_client *c, CURL *e) {
    c->n_easy_out--;
    if (c->n_easy_pool < 64 && !c->destroying) {
        if (c->n_easy_pool % 16 == 0) {
            CURL **pool = pmx__realloc(c->easy_pool, (c->n_easy_pool + 16) * sizeof *pool);
            if (!pool) {
                curl_easy_cleanup(e);
                return;
            }
            c->easy_pool = pool;
        }
        curl_easy_reset(e);
        c->easy_pool[c->n_easy_pool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

void pmx__loop_remove(pmx_client *c, CURL *e) {
    if (c->in_curl) {
        /* From a transfer callback: curl may be using the handle right now. It leaves the
         * multi handle once curl has returned (its callbacks see the call is over and stop);
         * one whose add is still pending never got there. */
        for (size_t i = 0; i < c->n_later; i++) {
            if (c->later[i].e == e) {
                memmove(&c->later[i], &c->later[i + 1], (c->n_later - i - 1) * sizeof *c->later);
                c->n_later--;
                give_back(c, e);
                return;
            }
        }
        c->later[c->n_later++] = (struct pmx__later){e, 0};
        return;
    }
    /* Removing a handle that is in the multi cannot fail but for a bad handle; a handle that
     * was never added (setup failed) gives CURLM_BAD_EASY_HANDLE, which is fine. */
    (void)curl_multi_remove_handle(c->multi, e);
    give_back(c, e);
}

/* The adds and removes transfer callbacks asked for while curl ran. A failed add ends its
 * transfer through the usual hook (the call may then start others: no entry is added now). */
static void run_later(pmx_client *c) {
    for (size_t i = 0; i < c->n_later; i++) {
        CURL *e = c->later[i].e;
        if (!c->later[i].add) {
            (void)curl_multi_remove_handle(c->multi, e);
            give_back(c, e);
            continue;
        }
        CURLMcode rc = curl_multi_add_handle(c->multi, e);
        pmx_call *call = NULL;
        if (rc != CURLM_OK && curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&call) == CURLE_OK &&
            call)
            pmx__call_transfer_done(call, rc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                                   : CURLE_FAILED_INIT);
    }
    c->n_later = 0;
}

/* ---- timers: a binary min-heap ordered by (due, seq) ---- */

static int earlier(const pmx__timer *a, const pmx__timer *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(pmx_client *c, size_t i, pmx__timer *t) {
    c->heap[i] = t;
    t->idx = i;
}

static void sift_up(pmx_client *c, size_t i) {
    pmx__timer *t = c->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, c->heap[parent]))
            break;
        heap_set(c, i, c->heap[parent]);
        i = parent;
    }
    heap_set(c, i, t);
}

static void sift_down(pmx_client *c, size_t i) {
    pmx__timer *t = c->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        const pmx__timer *b = t;
        if (l < c->n_timers && earlier(c->heap[l], b))
            best = l, b = c->heap[l];
        if (l + 1 < c->n_timers && earlier(c->heap[l + 1], b))
            best = l + 1;
        if (best == i)
            break;
        heap_set(c, i, c->heap[best]);
        i = best;
    }
    heap_set(c, i, t);
}

static void heap_remove(pmx_client *c, pmx__timer *t) {
    size_t i = t->idx;
    pmx__timer *last = c->heap[--c->n_timers];
    if (i == c->n_timers)
        return;
    heap_set(c, i, last);
    if (i > 0 && earlier(last, c->heap[(i - 1) / 2]))
        sift_up(c, i);
    else
        sift_down(c, i);
}

pmx__timer *pmx__timer_add(pmx_client *c, int64_t ms, pmx__timer_fn fn, void *arg) {
    if (c->destroying)
        return NULL; /* nothing new starts while the client is being freed */
    if (c->n_timers == c->cap_timers) {
        size_t cap = c->cap_timers ? c->cap_timers * 2 : 16;
        pmx__timer **h = pmx__realloc(c->heap, cap * sizeof *h);
        if (!h)
            return NULL;
        c->heap = h;
        c->cap_timers = cap;
    }
    pmx__timer *t = pmx__calloc(1, sizeof *t);
    if (!t)
        return NULL;
    int64_t now = pmx__now_ms();
    if (ms < 0)
        ms = 0;
    t->due = ms > INT64_MAX - now ? INT64_MAX : now + ms;
    t->seq = c->timer_seq++;
    t->fn = fn;
    t->arg = arg;
    heap_set(c, c->n_timers++, t);
    sift_up(c, t->idx);
    pmx__loop_update_timer(c);
    return t;
}

void pmx__timer_cancel(pmx_client *c, pmx__timer *t) {
    if (!t)
        return;
    heap_remove(c, t);
    pmx__free(t);
    pmx__loop_update_timer(c);
}

/* Take the earliest timer off the heap and run it (reentrancy is refused meanwhile). */
static void fire_first(pmx_client *c) {
    pmx__timer *t = c->heap[0];
    heap_remove(c, t);
    c->in_callback++;
    t->fn(c, t->arg);
    c->in_callback--;
    pmx__free(t);
}

void pmx__loop_drain_timers(pmx_client *c) {
    /* Owners see pmx__client_destroying() and wind down (without adding timers). */
    while (c->n_timers)
        fire_first(c);
    pmx__free(c->heap);
    c->heap = NULL;
    c->cap_timers = 0;
}

/* Earliest moment the loop must act: -1 when nothing is scheduled. */
static int64_t next_due(const pmx_client *c) {
    if (c->doneq.head)
        return 0;
    int64_t due = c->curl_due;
    if (c->n_timers && (due < 0 || c->heap[0]->due < due))
        due = c->heap[0]->due;
    return due;
}

static int64_t ms_until(int64_t due) {
    if (due < 0)
        return -1;
    int64_t d = due - pmx__now_ms();
    return d < 0 ? 0 : d;
}

void pmx__loop_update_timer(pmx_client *c) {
    if (!c->timer_cb)
        return;
    int64_t ms = ms_until(next_due(c));
    /* Re-arm when it changes; 0 is always passed on, it asks for prompt service. */
    if (ms != c->armed_ms || ms == 0) {
        c->armed_ms = ms;
        c->timer_cb(c, ms, c->timer_ud.ud);
    }
}

int pmx_client_next_timeout(pmx_client *c, int64_t *ms) {
    if (!c || !ms)
        return PMX_EINVAL;
    *ms = ms_until(next_due(c));
    return PMX_OK;
}

/* ---- running the engine ---- */

static void run_timers(pmx_client *c) {
    int64_t now = pmx__now_ms();
    while (c->n_timers && c->heap[0]->due <= now && !c->free_requested)
        fire_first(c);
}

/* curl's multi calls only fail on misuse or memory: fail the calls in curl with its message
 * rather than leave them hanging. */
static void multi_failed(pmx_client *c, CURLMcode rc) {
    char msg[160];
    snprintf(msg, sizeof msg, "the transfer engine failed: %s", curl_multi_strerror(rc));
    pmx__log(c, PMX_LOG_ERROR, "%s", msg);
    /* Completing leaves the client's list as it is (callbacks run later). */
    for (pmx_call *call = c->calls; call; call = call->next)
        if (call->state == CALL_RUNNING)
            pmx__call_complete(call, rc == CURLM_OUT_OF_MEMORY ? PMX_ENOMEM : PMX_ETRANSPORT, msg);
}

static void socket_action(pmx_client *c, curl_socket_t fd, int mask) {
    int running;
    c->in_curl++;
    CURLMcode rc = curl_multi_socket_action(c->multi, fd, mask, &running);
    c->in_curl--;
    run_later(c);
    if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET) /* a socket curl already closed: harmless */
        multi_failed(c, rc);
}

static void read_done(pmx_client *c) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode code = m->data.result;
        pmx_call *call = NULL;
        if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&call) == CURLE_OK && call)
            pmx__call_transfer_done(call, code);
    }
}

/* Everything after curl did I/O: finished transfers, due timers, callbacks. Returns 1 when
 * the client was freed (by a callback) and must not be touched. */
static int after_io(pmx_client *c) {
    read_done(c);
    run_timers(c);
    pmx__call_dispatch(c);
    if (pmx__client_reap(c))
        return 1;
    pmx__loop_update_timer(c);
    return 0;
}

static void curl_timeout_if_due(pmx_client *c) {
    if (c->curl_due >= 0 && c->curl_due <= pmx__now_ms()) {
        c->curl_due = -1;
        socket_action(c, CURL_SOCKET_TIMEOUT, 0);
    }
}

/* Entry checks of the loop functions: not inside a callback, not in a forked child. */
static int loop_entry(const pmx_client *c) {
    if (!c)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    return c->in_callback ? PMX_ERECURSIVE : PMX_OK;
}

int pmx_client_socket_action(pmx_client *c, int fd, int events) {
    int r = loop_entry(c);
    if (r)
        return r;
    int mask = (events & PMX_POLL_IN ? CURL_CSELECT_IN : 0) |
               (events & PMX_POLL_OUT ? CURL_CSELECT_OUT : 0) |
               (events & PMX_POLL_ERR ? CURL_CSELECT_ERR : 0);
    if (pmx__client_reap(c))
        return PMX_OK;
    socket_action(c, (curl_socket_t)fd, mask);
    after_io(c);
    return PMX_OK;
}

int pmx_client_timeout_action(pmx_client *c) {
    int r = loop_entry(c);
    if (r)
        return r;
    if (pmx__client_reap(c))
        return PMX_OK;
    c->armed_ms = -2;
    curl_timeout_if_due(c);
    after_io(c);
    return PMX_OK;
}

int pmx_client_set_socket_cb(pmx_client *c, pmx_socket_fn fn, void *ud, pmx_free_fn ud_free) {
    int r = c ? pmx__client_usable(c) : PMX_EINVAL;
    if (r)
        return r;
    c->sock_cb = fn;
    pmx__ud_set(&c->sock_ud, ud, ud_free);
    for (size_t i = 0; fn && i < c->n_socks; i++)
        fn(c, (int)c->socks[i].fd, c->socks[i].events, ud);
    return PMX_OK;
}

int pmx_client_set_timer_cb(pmx_client *c, pmx_timer_fn fn, void *ud, pmx_free_fn ud_free) {
    int r = c ? pmx__client_usable(c) : PMX_EINVAL;
    if (r)
        return r;
    c->timer_cb = fn;
    pmx__ud_set(&c->timer_ud, ud, ud_free);
    c->armed_ms = -2;
    pmx__loop_update_timer(c);
    return PMX_OK;
}

static int has_work(const pmx_client *c) { return pmx__has_unfinished(c) || c->n_timers; }

/* One pass of the built-in loop: wait at most max_ms (-1: until something is due).
 * Returns 1 when the client was freed, -1 when poll failed, 0 otherwise. */
static int loop_once(pmx_client *c, int64_t max_ms) {
    int64_t wait = ms_until(next_due(c));
    if (max_ms >= 0 && (wait < 0 || wait > max_ms))
        wait = max_ms;
    if (wait < 0 && c->n_socks == 0)
        wait = 1000; /* nothing to wait on: never block for good */
    struct pollfd stack[64], *fds = stack;
    size_t n = c->n_socks;
    if (n > 64 && !(fds = pmx__malloc(n * sizeof *fds)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        fds[i].fd = c->socks[i].fd;
        fds[i].events = (short)((c->socks[i].events & PMX_POLL_IN ? POLLIN : 0) |
                                (c->socks[i].events & PMX_POLL_OUT ? POLLOUT : 0));
        fds[i].revents = 0;
    }
    int r = poll(fds, (nfds_t)n, wait > 0x7fffffff ? 0x7fffffff : (int)wait);
    if (r < 0 && errno != EINTR) {
        if (fds != stack)
            pmx__free(fds);
        curl_timeout_if_due(c);
        return after_io(c) ? 1 : -1;
    }
    for (size_t i = 0; r > 0 && i < n; i++) {
        if (!fds[i].revents)
            continue;
        int mask = (fds[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
                   (fds[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                   (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? CURL_CSELECT_ERR : 0);
        socket_action(c, fds[i].fd, mask);
    }
    if (fds != stack)
        pmx__free(fds);
    curl_timeout_if_due(c);
    return after_io(c);
}

int pmx_client_run(pmx_client *c, int64_t timeout_ms) {
    int r = loop_entry(c);
    if (r)
        return r;
    if (pmx__client_reap(c))
        return PMX_OK;
    int64_t now = pmx__now_ms();
    int64_t end = timeout_ms < 0 ? -1 : timeout_ms > INT64_MAX - now ? INT64_MAX : now + timeout_ms;
    for (;;) {
        if (!has_work(c))
            return PMX_OK;
        int64_t left = end < 0 ? -1 : ms_until(end);
        int lr = loop_once(c, left);
        if (lr == 1)
            return PMX_OK;
        if (lr < 0)
            return PMX_ETRANSPORT;
        if (end >= 0 && pmx__now_ms() >= end)
            return has_work(c) ? PMX_ETIMEOUT : PMX_OK;
    }
}

int pmx_call_wait(pmx_call *call) {
    if (!call)
        return PMX_EINVAL;
    pmx_client *c = call->client;
    if (call->state == CALL_FINISHED || !c)
        return call->result;
    int r = loop_entry(c);
    if (r)
        return r;
    pmx_call_ref(call);
    /* (A free requested from the log callback is carried out now; it completes the call.) */
    while (!pmx__client_reap(c) && call->state != CALL_FINISHED) {
        int lr = loop_once(c, -1);
        if (lr == 1)
            break; /* client freed: every call has completed */
        if (lr < 0)
            pmx__call_complete(call, PMX_ETRANSPORT, "poll(2) failed");
    }
    int res = call->result;
    pmx_call_unref(call);
    return res;
}
