/* libproxmox: driving the client's event loop. */
#ifndef PROXMOX_LOOP_H
#define PROXMOX_LOOP_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/*
 * Time arguments are milliseconds as int64_t throughout the API.
 */

/**
 * Run the built-in loop (poll(2)) until no call is pending, or @p timeout_ms passes (<0: no
 * limit; 0: process what is ready and return).
 * @return PMX_OK (nothing pending, or the client was freed by a callback), PMX_ETIMEOUT (calls
 *         still pending), PMX_ERECURSIVE (from a callback), PMX_ETRANSPORT (poll failed),
 *         PMX_EFORKED. Since: 1.0
 */
PMX_API int pmx_client_run(pmx_client *c, int64_t timeout_ms);

/** Socket events, for the socket callback and pmx_client_socket_action(). */
enum {
    PMX_POLL_IN = 1,
    PMX_POLL_OUT = 2,
    PMX_POLL_REMOVE = 4, /* stop watching this socket */
    PMX_POLL_ERR = 8     /* only for pmx_client_socket_action(): an error condition */
};

/**
 * Told which events to watch on @p fd: a mix of PMX_POLL_IN / PMX_POLL_OUT, or PMX_POLL_REMOVE.
 * Must not call back into the client.
 */
typedef void (*pmx_socket_fn)(pmx_client *c, int fd, int events, void *userdata);

/**
 * Told to (re)arm the single one-shot timer: call pmx_client_timeout_action() after
 * @p timeout_ms (0 = as soon as possible), or cancel it when -1. Must not call back into the
 * client.
 */
typedef void (*pmx_timer_fn)(pmx_client *c, int64_t timeout_ms, void *userdata);

/**
 * Hand the client's sockets to the program's own loop. Set before starting calls. Sockets already
 * open are reported again. NULL stops the reports. @p userdata is the program's; @p
 * userdata_free (may be NULL) runs once when it is replaced or the client is freed.
 * @return PMX_OK, PMX_EINVAL, PMX_ERECURSIVE (from the log callback), PMX_EFORKED. May be called
 *         from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_socket_cb(pmx_client *c, pmx_socket_fn fn, void *userdata,
                                     pmx_free_fn userdata_free);

/**
 * Set the timer callback (see pmx_timer_fn); NULL stops it. Userdata as for
 * pmx_client_set_socket_cb(). @return like pmx_client_set_socket_cb(). Since: 1.0
 */
PMX_API int pmx_client_set_timer_cb(pmx_client *c, pmx_timer_fn fn, void *userdata,
                                    pmx_free_fn userdata_free);

/**
 * Feed socket readiness back: @p events is a mix of PMX_POLL_IN, PMX_POLL_OUT, PMX_POLL_ERR.
 * Completed calls' callbacks run inside (and may free the client: do not touch it after this
 * returns unless you know it lives). @return PMX_OK, PMX_EINVAL, PMX_ERECURSIVE (from a
 * callback), PMX_EFORKED. Since: 1.0
 */
PMX_API int pmx_client_socket_action(pmx_client *c, int fd, int events);

/**
 * Feed the timer's expiry back. Completed calls' callbacks run inside (see
 * pmx_client_socket_action()). @return PMX_OK, PMX_EINVAL, PMX_ERECURSIVE (from a callback),
 * PMX_EFORKED. Since: 1.0
 */
PMX_API int pmx_client_timeout_action(pmx_client *c);

/**
 * When the client next needs pmx_client_timeout_action(), for loops that poll rather than arm
 * timers: @p ms receives the milliseconds from now (0: at once), or -1 when nothing is
 * scheduled. @return PMX_OK, or PMX_EINVAL (NULL argument; @p ms untouched). May be called from
 * a callback. Since: 1.0
 */
PMX_API int pmx_client_next_timeout(pmx_client *c, int64_t *ms);

PMX_END_DECLS
#endif
