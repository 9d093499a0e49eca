/* libproxmox: error codes. Numbers are fixed and never reused. */
#ifndef PROXMOX_ERROR_H
#define PROXMOX_ERROR_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/** Result codes: functions return PMX_OK (0) or one of these negative codes. */
enum {
    PMX_OK = 0,
    PMX_EINVAL = -1,      /* bad argument, or a parameter failed schema validation */
    PMX_ENOMEM = -2,      /* out of memory */
    PMX_ETRANSPORT = -3,  /* connection failed or dropped, DNS, protocol error */
    PMX_ETLS = -4,        /* TLS handshake, certificate or fingerprint mismatch */
    PMX_EHTTP = -5,       /* the server answered with an HTTP error (see pmx_call_http_status) */
    PMX_EAUTH = -6,       /* authentication failed (401, bad login, no second factor) */
    PMX_EDECODE = -7,     /* malformed response body, or a result that does not fit its type */
    PMX_ETIMEOUT = -8,    /* connect or total timeout, or a deadline passed */
    PMX_ECANCELLED = -9,  /* the call was cancelled */
    PMX_EDESTROYED = -10, /* the client was freed while the call was pending */
    PMX_ERECURSIVE = -11, /* pmx_client_run or pmx_call_wait called from inside a callback */
    PMX_ETOOBIG = -12,    /* response body over the client's size cap */
    PMX_EPENDING = -13,   /* the call has not finished yet */
    PMX_ETASK = -14,      /* a PVE task ended in failure */
    PMX_ENOTFOUND = -15,  /* no such method or item */
    PMX_EPERM = -16,      /* the server refused the call for lack of permission (HTTP 403) */
    PMX_EBUSY = -17,      /* not while calls are pending (e.g. changing the TLS policy) */
    PMX_EFORKED = -18     /* the client was created in another process (before a fork()) */
};

/**
 * Static English text for a PMX_* code; unknown codes give "unknown error". Never NULL.
 * May be called from anywhere, including callbacks. Since: 1.0
 */
PMX_API const char *pmx_strerror(int code);

PMX_END_DECLS
#endif
