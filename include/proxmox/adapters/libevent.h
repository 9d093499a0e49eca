/* libproxmox adapter for libevent 2: drive a client from an event_base.
 *
 * Header-only and not part of the umbrella header or the library: include it after
 * <proxmox/proxmox.h> and <event2/event.h> and link libevent yourself.
 *
 *     pmx_libevent *a;
 *     pmx_libevent_attach(client, base, &a);
 *     ... start calls ...
 *     event_base_dispatch(base);   returns once no call is pending
 *     pmx_client_free(client);     the adapter goes with it (or pmx_libevent_detach(a) first)
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

/** One socket of the client and its libevent event (adapter-internal). */
typedef struct pmx_libevent_sock {
    int fd;            /* the client's socket */
    struct event *ev;  /* its persistent read/write event */
} pmx_libevent_sock;

/** The adapter, from pmx_libevent_attach() to pmx_libevent_detach() or the client's free. */
typedef struct pmx_libevent {
    pmx_client *client;        /* the client driven */
    struct event_base *base;   /* the base it runs on */
    struct event *timer;       /* the client's one-shot timer */
    pmx_libevent_sock *socks;  /* sockets being watched */
    size_t n;                  /* number of watched sockets */
    size_t cap;                /* allocated slots in socks */
    int registrations;         /* socket and timer callbacks still set on the client (0..2) */
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

/* Destructor of both registrations: once neither is set (detach, or the client freed, perhaps
 * from one of its callbacks), free every event and the adapter. */
static void pmx_libevent__release(void *ud) {
    pmx_libevent *a = (pmx_libevent *)ud;
    if (--a->registrations > 0)
        return;
    for (size_t i = 0; i < a->n; i++)
        event_free(a->socks[i].ev);
    free(a->socks);
    event_free(a->timer);
    free(a);
}

/**
 * Attach @p c to @p base: the client's sockets and timer become libevent events. Both are
 * borrowed while attached. The adapter goes with the client when it is freed (also from one of
 * its callbacks; pending calls complete with PMX_EDESTROYED first).
 * @param out  receives the adapter (for pmx_libevent_detach()); may be NULL.
 * @return PMX_OK, PMX_EINVAL (NULL client or base), PMX_ENOMEM, or the error of
 *         pmx_client_set_socket_cb() / pmx_client_set_timer_cb() (nothing attached then).
 * Not from a callback of @p c. Since: 1.0
 */
static inline int pmx_libevent_attach(pmx_client *c, struct event_base *base, pmx_libevent **out) {
    int r;
    if (!c || !base)
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
    a->registrations = 2;
    r = pmx_client_set_socket_cb(c, pmx_libevent__sock, a, pmx_libevent__release);
    if (r != PMX_OK) {
        a->registrations = 1; /* not accepted: its destructor never runs */
        pmx_libevent__release(a);
        return r;
    }
    r = pmx_client_set_timer_cb(c, pmx_libevent__timer, a, pmx_libevent__release);
    if (r != PMX_OK) {
        pmx_libevent__release(a); /* the timer registration was not accepted */
        pmx_client_set_socket_cb(c, NULL, NULL, NULL);
        return r;
    }
    if (out)
        *out = a;
    return PMX_OK;
}

/**
 * Detach and free the adapter: the client gets no more socket or timer callbacks (drive it
 * with pmx_client_run() or attach it again). @p a must not be used after this, nor after the
 * client's free, which takes the adapter with it (no detach needed then). NULL is a no-op.
 * Not from a callback of the client. Since: 1.0
 */
static inline void pmx_libevent_detach(pmx_libevent *a) {
    if (!a)
        return;
    pmx_client *c = a->client;
    /* each replacement runs pmx_libevent__release once; the second one frees the adapter */
    pmx_client_set_socket_cb(c, NULL, NULL, NULL);
    pmx_client_set_timer_cb(c, NULL, NULL, NULL);
}

#ifdef __cplusplus
}
#endif
#endif
