/* libproxmox adapter for libevent 2: drive a client from an event_base.
 *
 * Header-only and not part of the umbrella header or the library: include it after
 * <proxmox/proxmox.h> and <event2/event.h> and link libevent yourself.
 *
 *     pmx_libevent *a;
 *     pmx_libevent_attach(client, base, &a);
 *     ... start calls ...
 *     event_base_dispatch(base);   returns once no call is pending
 *     pmx_libevent_detach(a);      before pmx_client_free(client)
 */
#ifndef PROXMOX_ADAPTERS_LIBEVENT_H
#define PROXMOX_ADAPTERS_LIBEVENT_H

#include <event2/event.h>
#include <proxmox/proxmox.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pmx_libevent_sock {
    int fd;
    struct event *ev;
} pmx_libevent_sock;

typedef struct pmx_libevent {
    pmx_client *client;
    struct event_base *base;
    struct event *timer;
    pmx_libevent_sock *socks;
    size_t n, cap;
} pmx_libevent;

static void pmx_libevent__on_io(evutil_socket_t fd, short what, void *arg) {
    pmx_libevent *a = (pmx_libevent *)arg;
    int ev = (what & EV_READ ? PMX_POLL_IN : 0) | (what & EV_WRITE ? PMX_POLL_OUT : 0);
    pmx_client_socket_action(a->client, (int)fd, ev);
}

static void pmx_libevent__on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    pmx_client_timeout_action(((pmx_libevent *)arg)->client);
}

static void pmx_libevent__sock(pmx_client *c, int fd, int events, void *ud) {
    pmx_libevent *a = (pmx_libevent *)ud;
    size_t i;
    (void)c;
    for (i = 0; i < a->n && a->socks[i].fd != fd; i++)
        ;
    if (i < a->n) { /* replaced or removed: drop the old watch */
        event_free(a->socks[i].ev);
        a->socks[i] = a->socks[--a->n];
    }
    if (events & PMX_POLL_REMOVE)
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        pmx_libevent_sock *s = (pmx_libevent_sock *)realloc(a->socks, cap * sizeof *s);
        if (!s)
            return;
        a->socks = s;
        a->cap = cap;
    }
    short what = (short)(EV_PERSIST | (events & PMX_POLL_IN ? EV_READ : 0) |
                         (events & PMX_POLL_OUT ? EV_WRITE : 0));
    struct event *ev = event_new(a->base, fd, what, pmx_libevent__on_io, a);
    if (!ev)
        return;
    event_add(ev, NULL);
    a->socks[a->n].fd = fd;
    a->socks[a->n].ev = ev;
    a->n++;
}

static void pmx_libevent__timer(pmx_client *c, int64_t timeout_ms, void *ud) {
    pmx_libevent *a = (pmx_libevent *)ud;
    (void)c;
    evtimer_del(a->timer);
    if (timeout_ms >= 0) {
        struct timeval tv;
        tv.tv_sec = (time_t)(timeout_ms / 1000);
        tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
        evtimer_add(a->timer, &tv);
    }
}

/**
 * Attach @p c to @p base: the client's sockets and timer become libevent events. Both are
 * borrowed until pmx_libevent_detach(). @p out receives the adapter.
 * @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Not from a callback of @p c.
 */
static inline int pmx_libevent_attach(pmx_client *c, struct event_base *base, pmx_libevent **out) {
    if (!c || !base || !out)
        return PMX_EINVAL;
    pmx_libevent *a = (pmx_libevent *)calloc(1, sizeof *a);
    if (!a)
        return PMX_ENOMEM;
    a->client = c;
    a->base = base;
    a->timer = evtimer_new(base, pmx_libevent__on_timer, a);
    if (!a->timer) {
        free(a);
        return PMX_ENOMEM;
    }
    pmx_client_set_socket_cb(c, pmx_libevent__sock, a, NULL);
    pmx_client_set_timer_cb(c, pmx_libevent__timer, a, NULL);
    *out = a;
    return PMX_OK;
}

/**
 * Detach and free the adapter: the client gets no more socket or timer callbacks (drive it
 * with pmx_client_run() from then on). NULL is a no-op. Not from a callback of the client.
 */
static inline void pmx_libevent_detach(pmx_libevent *a) {
    if (!a)
        return;
    pmx_client_set_socket_cb(a->client, NULL, NULL, NULL);
    pmx_client_set_timer_cb(a->client, NULL, NULL, NULL);
    for (size_t i = 0; i < a->n; i++)
        event_free(a->socks[i].ev);
    free(a->socks);
    event_free(a->timer);
    free(a);
}

#ifdef __cplusplus
}
#endif
#endif
