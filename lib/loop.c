/* The event engine: curl's multi_socket interface, internal timers, and three ways to drive
 * it (pmx_client_run, pmx_call_wait, or the program's own loop through callbacks). */
#include "core.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

int pmx__client_reap(pmx_client *c);

int64_t pmx__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
                    return -1;
                c->socks = n;
                c->cap_socks = cap;
            }
            s = &c->socks[c->n_socks++];
            s->fd = fd;
        }
        s->events = ev;
    }
    if (c->sock_cb)
        c->sock_cb(c, (int)fd, ev, c->sock_ud);
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
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->max_per_host);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_per_host);
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
            c->sock_cb(c, (int)c->socks[i].fd, PMX_POLL_REMOVE, c->sock_ud);
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

/* ---- timers ---- */

pmx__timer *pmx__timer_add(pmx_client *c, int64_t ms, pmx__timer_fn fn, void *arg) {
    if (c->destroying)
        return NULL; /* nothing new starts while the client is being freed */
    pmx__timer *t = pmx__calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->due = pmx__now_ms() + (ms > 0 ? ms : 0);
    t->fn = fn;
    t->arg = arg;
    pmx__timer **pp = &c->timers;
    while (*pp && (*pp)->due <= t->due)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    pmx__loop_update_timer(c);
    return t;
}

void pmx__timer_cancel(pmx_client *c, pmx__timer *t) {
    for (pmx__timer **pp = &c->timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            pmx__free(t);
            pmx__loop_update_timer(c);
            return;
        }
    }
}

/* Earliest moment the loop must act: -1 when nothing is scheduled. */
static int64_t next_due(const pmx_client *c) {
    if (c->done_head)
        return 0;
    int64_t due = c->curl_due;
    if (c->timers && (due < 0 || c->timers->due < due))
        due = c->timers->due;
    return due;
}

void pmx__loop_update_timer(pmx_client *c) {
    if (!c->timer_cb)
        return;
    int64_t due = next_due(c);
    int ms = -1;
    if (due == 0) {
        ms = 0;
    } else if (due > 0) {
        int64_t d = due - pmx__now_ms();
        ms = d < 0 ? 0 : d > 0x7fffffff ? 0x7fffffff : (int)d;
    }
    /* Re-arm when it changes; 0 is always passed on, it asks for prompt service. */
    if (ms != c->armed_ms || ms == 0) {
        c->armed_ms = ms;
        c->timer_cb(c, ms, c->timer_ud);
    }
}

int pmx_client_next_timeout(pmx_client *c) {
    if (!c)
        return -1;
    int64_t due = next_due(c);
    if (due < 0)
        return -1;
    int64_t d = due - pmx__now_ms();
    return d < 0 ? 0 : d > 0x7fffffff ? 0x7fffffff : (int)d;
}

/* ---- dispatch ---- */

void pmx__loop_dispatch(pmx_client *c) {
    pmx_call *call;
    while ((call = c->done_head) && !c->free_requested) {
        c->done_head = call->qnext;
        if (!c->done_head)
            c->done_tail = NULL;
        call->qnext = NULL;
        call->state = CALL_FINISHED;
        if (call->prev)
            call->prev->next = call->next;
        else
            c->calls = call->next;
        if (call->next)
            call->next->prev = call->prev;
        call->prev = call->next = NULL;
        if (!call->internal)
            c->pending--;
        c->in_callback++;
        if (call->on_done)
            call->on_done(call);
        else if (call->done)
            call->done(call, call->result, call->userdata);
        c->in_callback--;
        call->client = NULL;
        pmx_call_unref(call);
    }
}

static void run_timers(pmx_client *c) {
    int64_t now = pmx__now_ms();
    while (c->timers && c->timers->due <= now && !c->free_requested) {
        pmx__timer *t = c->timers;
        c->timers = t->next;
        c->in_callback++;
        t->fn(c, t->arg);
        c->in_callback--;
        pmx__free(t);
    }
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
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&call);
        if (call)
            pmx__call_finished_transfer(call, code);
    }
}

/* Everything after curl did I/O: finished transfers, due timers, callbacks. Returns 1 when
 * the client was freed (by a callback) and must not be touched. */
static int after_io(pmx_client *c) {
    read_done(c);
    run_timers(c);
    pmx__loop_dispatch(c);
    if (pmx__client_reap(c))
        return 1;
    pmx__loop_update_timer(c);
    return 0;
}

static void curl_timeout_if_due(pmx_client *c) {
    if (c->curl_due >= 0 && c->curl_due <= pmx__now_ms()) {
        int running;
        c->curl_due = -1;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

int pmx_client_socket_action(pmx_client *c, int fd, int events) {
    if (!c)
        return PMX_EINVAL;
    if (c->in_callback)
        return PMX_ERECURSIVE;
    int mask = (events & PMX_POLL_IN ? CURL_CSELECT_IN : 0) |
               (events & PMX_POLL_OUT ? CURL_CSELECT_OUT : 0) |
               (events & PMX_POLL_ERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(c->multi, (curl_socket_t)fd, mask, &running);
    after_io(c);
    return PMX_OK;
}

int pmx_client_timeout_action(pmx_client *c) {
    if (!c)
        return PMX_EINVAL;
    if (c->in_callback)
        return PMX_ERECURSIVE;
    c->armed_ms = -2;
    curl_timeout_if_due(c);
    after_io(c);
    return PMX_OK;
}

int pmx_client_set_socket_cb(pmx_client *c, pmx_socket_fn fn, void *ud) {
    if (!c)
        return PMX_EINVAL;
    c->sock_cb = fn;
    c->sock_ud = ud;
    for (size_t i = 0; fn && i < c->n_socks; i++)
        fn(c, (int)c->socks[i].fd, c->socks[i].events, ud);
    return PMX_OK;
}

int pmx_client_set_timer_cb(pmx_client *c, pmx_timer_fn fn, void *ud) {
    if (!c)
        return PMX_EINVAL;
    c->timer_cb = fn;
    c->timer_ud = ud;
    c->armed_ms = -2;
    pmx__loop_update_timer(c);
    return PMX_OK;
}

static int has_work(const pmx_client *c) { return c->calls || c->timers || c->done_head; }

/* One pass of the built-in loop: wait at most max_ms (-1: until something is due).
 * Returns 1 when the client was freed, -1 when poll failed, 0 otherwise. */
static int loop_once(pmx_client *c, int64_t max_ms) {
    int64_t due = next_due(c);
    int64_t wait = -1;
    if (due >= 0) {
        wait = due == 0 ? 0 : due - pmx__now_ms();
        if (wait < 0)
            wait = 0;
    }
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
        int running;
        curl_multi_socket_action(c->multi, fds[i].fd, mask, &running);
    }
    if (fds != stack)
        pmx__free(fds);
    curl_timeout_if_due(c);
    return after_io(c);
}

int pmx_client_run(pmx_client *c, int timeout_ms) {
    if (!c)
        return PMX_EINVAL;
    if (c->in_callback)
        return PMX_ERECURSIVE;
    int64_t end = timeout_ms >= 0 ? pmx__now_ms() + timeout_ms : -1;
    for (;;) {
        if (!has_work(c))
            return PMX_OK;
        int64_t left = -1;
        if (end >= 0) {
            left = end - pmx__now_ms();
            if (left < 0)
                left = 0;
        }
        int r = loop_once(c, left);
        if (r == 1)
            return PMX_OK;
        if (r < 0)
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
    if (c->in_callback)
        return PMX_ERECURSIVE;
    pmx_call_ref(call);
    while (call->state != CALL_FINISHED) {
        int r = loop_once(c, -1);
        if (r == 1)
            break; /* client freed: every call has completed */
        if (r < 0) {
            pmx_call_cancel(call);
            continue;
        }
    }
    int res = call->result;
    pmx_call_unref(call);
    return res;
}
