/* libproxmox adapter for libuv: drive a client from a uv_loop_t.
 *
 * Header-only and not part of the umbrella header or the library: include it after
 * <proxmox/proxmox.h> and link libuv yourself (pkg-config libuv; Debian libuv1-dev).
 *
 *     pmx_libuv *a;
 *     pmx_libuv_attach(client, loop, &a);
 *     ... start calls ...
 *     uv_run(loop, UV_RUN_DEFAULT);    returns once no call is pending
 *     pmx_client_free(client);         the adapter goes with it (or pmx_libuv_detach(a) first)
 *     uv_run(loop, UV_RUN_DEFAULT);    lets libuv finish closing the adapter's handles
 *     uv_loop_close(loop);
 */
#ifndef PROXMOX_ADAPTERS_LIBUV_H
#define PROXMOX_ADAPTERS_LIBUV_H

#include <proxmox/proxmox.h>
#include <stdlib.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pmx_libuv pmx_libuv; /* the adapter, see struct pmx_libuv */

/** One socket of the client watched by a uv_poll_t (adapter-internal). */
typedef struct pmx_libuv_sock {
    uv_poll_t poll;              /* the watch; data points back to the adapter */
    int fd;                      /* the client's socket */
    struct pmx_libuv_sock *next; /* the adapter's list of watched sockets */
} pmx_libuv_sock;

/**
 * The adapter (allocated by pmx_libuv_attach(), freed by itself once libuv has closed its
 * handles after pmx_libuv_detach() or the client's free). Programs only pass it around.
 */
struct pmx_libuv {
    pmx_client *client;     /* the client driven, NULL once detached or freed */
    uv_loop_t *loop;        /* the loop it runs on */
    uv_timer_t timer;       /* the client's one-shot timer */
    pmx_libuv_sock *socks;  /* sockets being watched */
    int registrations;      /* socket and timer callbacks still set on the client (0..2) */
    size_t open_handles;    /* handles not closed yet: the adapter is freed at 0 */
};

static void pmx_libuv__closed(uv_handle_t *h) {
    pmx_libuv *a = (pmx_libuv *)h->data;
    if (h->type == UV_POLL)
        free(h); /* pmx_libuv_sock starts with its uv_poll_t */
    if (--a->open_handles == 0)
        free(a);
}

static void pmx_libuv__unwatch(pmx_libuv *a, pmx_libuv_sock *s) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, pmx_libuv__closed);
}

static void pmx_libuv__on_poll(uv_poll_t *p, int status, int events) {
    pmx_libuv *a = (pmx_libuv *)p->data;
    pmx_libuv_sock *s = (pmx_libuv_sock *)p;
    int ev = status < 0 ? PMX_POLL_ERR
                        : (events & UV_READABLE ? PMX_POLL_IN : 0) |
                              (events & UV_WRITABLE ? PMX_POLL_OUT : 0);
    if (a->client)
        pmx_client_socket_action(a->client, s->fd, ev);
}

static void pmx_libuv__on_timer(uv_timer_t *t) {
    pmx_libuv *a = (pmx_libuv *)t->data;
    if (a->client)
        pmx_client_timeout_action(a->client);
}

static void pmx_libuv__sock(pmx_client *c, int fd, int events, void *ud) {
    pmx_libuv *a = (pmx_libuv *)ud;
    pmx_libuv_sock **pp = &a->socks, *s;
    (void)c;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    s = *pp;
    if (events & PMX_POLL_REMOVE) {
        if (s) {
            *pp = s->next;
            pmx_libuv__unwatch(a, s);
        }
        return;
    }
    if (!s) {
        s = (pmx_libuv_sock *)calloc(1, sizeof *s);
        if (!s)
            return; /* the call times out instead of hanging: the client's timer still runs */
        if (uv_poll_init_socket(a->loop, &s->poll, fd) != 0) {
            free(s);
            return;
        }
        s->poll.data = a;
        s->fd = fd;
        s->next = a->socks;
        a->socks = s;
        a->open_handles++;
    }
    uv_poll_start(&s->poll, (events & PMX_POLL_IN ? UV_READABLE : 0) |
                                (events & PMX_POLL_OUT ? UV_WRITABLE : 0),
                  pmx_libuv__on_poll);
}

static void pmx_libuv__timer(pmx_client *c, int64_t timeout_ms, void *ud) {
    pmx_libuv *a = (pmx_libuv *)ud;
    (void)c;
    if (timeout_ms < 0)
        uv_timer_stop(&a->timer);
    else
        uv_timer_start(&a->timer, pmx_libuv__on_timer, (uint64_t)timeout_ms, 0);
}

/* Destructor of both registrations: once neither is set (detach, or the client freed), close
 * every handle; the last close frees the adapter. */
static void pmx_libuv__release(void *ud) {
    pmx_libuv *a = (pmx_libuv *)ud;
    if (--a->registrations > 0)
        return;
    a->client = NULL;
    while (a->socks) {
        pmx_libuv_sock *s = a->socks;
        a->socks = s->next;
        pmx_libuv__unwatch(a, s);
    }
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, pmx_libuv__closed);
}

/**
 * Attach @p c to @p loop: the client's sockets become uv_poll_t handles and its timer a
 * uv_timer_t, so uv_run() drives every call. Both are borrowed while attached. The adapter
 * detaches itself when the client is freed (pending calls complete with PMX_EDESTROYED first);
 * its handles are then closed, and freed by the loop's next run.
 * @param c     the client; not already attached to another loop.
 * @param loop  the libuv loop, from this client's thread.
 * @param out   receives the adapter (for pmx_libuv_detach()); may be NULL.
 * @return PMX_OK, PMX_EINVAL (NULL client or loop), PMX_ENOMEM, or the error of
 *         pmx_client_set_socket_cb() / pmx_client_set_timer_cb() (nothing attached then).
 * Not from a callback of @p c. Since: 1.0
 */
static inline int pmx_libuv_attach(pmx_client *c, uv_loop_t *loop, pmx_libuv **out) {
    int r;
    if (!c || !loop)
        return PMX_EINVAL;
    pmx_libuv *a = (pmx_libuv *)calloc(1, sizeof *a);
    if (!a)
        return PMX_ENOMEM;
    a->client = c;
    a->loop = loop;
    if (uv_timer_init(loop, &a->timer) != 0) {
        free(a);
        return PMX_ENOMEM;
    }
    a->timer.data = a;
    a->open_handles = 1;
    a->registrations = 2;
    r = pmx_client_set_socket_cb(c, pmx_libuv__sock, a, pmx_libuv__release);
    if (r != PMX_OK) {
        a->registrations = 1; /* not accepted: its destructor never runs */
        pmx_libuv__release(a);
        return r;
    }
    r = pmx_client_set_timer_cb(c, pmx_libuv__timer, a, pmx_libuv__release);
    if (r != PMX_OK) {
        pmx_libuv__release(a); /* the timer registration was not accepted */
        pmx_client_set_socket_cb(c, NULL, NULL, NULL);
        return r;
    }
    if (out)
        *out = a;
    return PMX_OK;
}

/**
 * Detach: the client gets no more socket or timer callbacks from this loop (drive it with
 * pmx_client_run() or attach it again). The adapter's handles are closed and the adapter is
 * freed by the loop's next run; @p a must not be used after this. NULL is a no-op. Needless
 * after pmx_client_free() (the adapter went with the client). Not from a callback of the client.
 * Since: 1.0
 */
static inline void pmx_libuv_detach(pmx_libuv *a) {
    if (!a || !a->client)
        return;
    pmx_client *c = a->client;
    /* each replacement runs pmx_libuv__release once; the second one closes the handles */
    pmx_client_set_socket_cb(c, NULL, NULL, NULL);
    pmx_client_set_timer_cb(c, NULL, NULL, NULL);
}

#ifdef __cplusplus
}
#endif
#endif
