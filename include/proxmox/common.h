/* libproxmox: common definitions shared by every public header. */
#ifndef PROXMOX_COMMON_H
#define PROXMOX_COMMON_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define PMX_BEGIN_DECLS extern "C" {
#define PMX_END_DECLS }
#else
#define PMX_BEGIN_DECLS
#define PMX_END_DECLS
#endif

/* PMX_API marks exported symbols. Define PMX_STATIC when linking libproxmox.a on Windows. */
#if defined(PMX_STATIC)
#define PMX_API
#elif defined(_WIN32)
#ifdef PROXMOX_COMPILATION
#define PMX_API __declspec(dllexport)
#else
#define PMX_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define PMX_API __attribute__((visibility("default")))
#else
#define PMX_API
#endif

PMX_BEGIN_DECLS

/** An optional 64-bit integer: @c set is 1 when @c v carries a value to send. */
typedef struct pmx_opt_i64 {
    int set;   /* 1: v is sent; 0: not given */
    int64_t v; /* the value */
} pmx_opt_i64;

/** An optional boolean (0/1): @c set is 1 when @c v carries a value to send. */
typedef struct pmx_opt_bool {
    int set; /* 1: v is sent; 0: not given */
    int v;   /* the value, 0 or 1 */
} pmx_opt_bool;

/** An optional double: @c set is 1 when @c v carries a value to send. */
typedef struct pmx_opt_f64 {
    int set;  /* 1: v is sent; 0: not given */
    double v; /* the value */
} pmx_opt_f64;

/** Helpers to fill optional values: `p.vmid = PMX_SOME_I64(100);`. */
#define PMX_SOME_I64(x) ((pmx_opt_i64){1, (int64_t)(x)})
/** A set pmx_opt_bool (any non-zero @p x is 1). */
#define PMX_SOME_BOOL(x) ((pmx_opt_bool){1, (x) ? 1 : 0})
/** A set pmx_opt_f64. */
#define PMX_SOME_F64(x) ((pmx_opt_f64){1, (double)(x)})

/**
 * Destructor for userdata the library stores with a callback (log, socket, timer, two-factor,
 * a call's or a task wait's completion). It runs exactly once, when the library no longer needs
 * the userdata: when the callback is replaced or the client freed, when a call or task object
 * is freed (its last reference dropped). It is never run for a start function that failed
 * (the caller still owns the userdata then). It must not call back into the library.
 */
typedef void (*pmx_free_fn)(void *userdata);

/** Options structs start with a size field; initialise them with PMX_OPTS_INIT(type). */
#define PMX_OPTS_INIT(type) {.size = (uint32_t)sizeof(type)}

typedef struct pmx_client pmx_client; /* opaque: endpoint, auth, TLS, connection pool */
typedef struct pmx_call pmx_call;     /* opaque, reference-counted: one request + its response */
typedef struct pmx_params pmx_params; /* opaque name/value list for generic calls */

/** HTTP methods PVE accepts. Values are fixed. */
typedef enum { PMX_GET = 1, PMX_POST = 2, PMX_PUT = 3, PMX_DELETE = 4 } pmx_method;

/**
 * Completion callback: runs exactly once per accepted call, never inside the function that
 * started it. @p result is PMX_OK or a negative PMX_E* code. The call is borrowed for the
 * duration of the callback (take a reference with pmx_call_ref() to keep it).
 */
typedef void (*pmx_done_fn)(pmx_call *call, int result, void *userdata);

/**
 * Free memory that libproxmox allocated and handed to the caller (strings returned as
 * "caller frees with pmx_free"). Secrets are wiped first by pmx_secret_free().
 * pmx_free(NULL) is a no-op. May be called from a callback.
 * Since: 1.0
 */
PMX_API void pmx_free(void *ptr);

/**
 * Wipe and free a NUL-terminated secret (ticket, password) handed out by libproxmox.
 * pmx_secret_free(NULL) is a no-op. May be called from a callback.
 * Since: 1.0
 */
PMX_API void pmx_secret_free(char *secret);

/**
 * Replace the allocator libproxmox uses for its own memory. Call it before creating any
 * client, or later only once everything the library allocated is gone: every client, call,
 * task, result and string it handed out freed (memory it keeps for reuse is freed here, with
 * the old allocator). The functions must return memory aligned for any type, as malloc does;
 * all three must be given. Returns PMX_OK or PMX_EINVAL.
 * Not thread-safe; never from a callback.
 * Since: 1.0
 */
PMX_API int pmx_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                              void (*free_fn)(void *));

/** Flags of pmx_global_init(). */
enum {
    /* Install allocators that wipe every block before freeing it in libcurl and OpenSSL, so
     * the copies of passwords, tickets and tokens they make are wiped too. */
    PMX_GLOBAL_WIPE_ALLOCATORS = 1u << 0
};

/**
 * Optional global set-up, for programs that let libproxmox own libcurl's and OpenSSL's
 * initialisation. Without it, the first pmx_client_new() initialises libcurl with its default
 * allocators (thread-safe, once per process).
 *
 * libcurl and OpenSSL keep their own copies of what the library hands them (request headers
 * with the ticket cookie or token, the TLS session) and free them without wiping. With
 * PMX_GLOBAL_WIPE_ALLOCATORS, their allocations go through functions that wipe each block
 * when it is freed. That must happen before anything in the process uses libcurl or OpenSSL:
 * call it first thing in main(), before other threads start.
 * @param flags  PMX_GLOBAL_* bits; unknown bits give PMX_EINVAL.
 * @return PMX_OK; PMX_EBUSY when it is too late (a client exists, or OpenSSL has already
 *         allocated memory: nothing was changed, and the process goes on without wiping
 *         allocators); PMX_ENOMEM when libcurl's initialisation failed. Fails closed: on error
 *         nothing is installed. Not from a callback. Since: 1.0
 */
PMX_API int pmx_global_init(unsigned int flags);

/**
 * Undo pmx_global_init() (or the implicit set-up of the first client): libcurl's global
 * cleanup, and the memory libproxmox keeps for reuse is freed: the 256 KiB blocks that held the
 * results of large listings (at most 16 MiB; without this call, blocks unused for 30 seconds
 * are given back when the next call ends). Only after every client is freed and every result
 * released, before the process ends, from one thread.
 * Since: 1.0
 */
PMX_API void pmx_global_cleanup(void);

PMX_END_DECLS
#endif
