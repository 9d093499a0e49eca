/* libproxmox: the client (endpoint, auth, TLS, connection pool). */
#ifndef PROXMOX_CLIENT_H
#define PROXMOX_CLIENT_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/**
 * Create a client for a PVE endpoint, or for several endpoints of one cluster. @p url is
 * "https://host[:port][/]" (port defaults to 8006; IPv6 literals in brackets; "http://" is
 * accepted for plain-text test servers), or a comma-separated list of them
 * ("https://pve1:8006,https://pve2:8006", all of one scheme), as libpq takes several hosts.
 * Calls go to the current endpoint (the first, at start). When it cannot be reached (name
 * resolution, connect, TLS handshake) or answers 595/596, the call and the client move on to
 * the next one; a failed endpoint is avoided for a while (5 s, doubling up to 5 min) and then
 * tried again. Tickets and tokens are valid cluster-wide: a switch needs no new login. The URLs
 * are parsed and validated once; nothing is sent until the first call.
 * @param out  receives the client; caller frees with pmx_client_free().
 * @param url  copied.
 * @return PMX_OK, PMX_EINVAL (bad URL: no host, bad port, unknown scheme, path, query,
 *         user info), PMX_ENOMEM.
 *
 * Threads: each client stays on one thread; different clients may live on different threads
 * (the library's global set-up is done once, safely, by whichever creates the first client).
 *
 * fork(): a client belongs to the process that created it. In a child process every function
 * taking that client (or one of its calls) returns PMX_EFORKED, except pmx_client_free(),
 * which wipes the secrets and frees the library's own memory without touching the
 * connections, TLS state or curl handles (they are the parent's) and without running any
 * callback. Create a new client in the child.
 * Since: 1.0
 */
PMX_API int pmx_client_new(pmx_client **out, const char *url);

/**
 * Free a client. Every pending call completes with PMX_EDESTROYED (its callback runs), then
 * secrets are wiped. Called from inside one of this client's callbacks, the free is deferred
 * until the callback returns. pmx_client_free(NULL) is a no-op. Since: 1.0
 */
PMX_API void pmx_client_free(pmx_client *c);

/*
 * Changing credentials (the three setters below) is allowed at any time, also from a call's
 * callback and with calls pending: calls already sent keep the credentials they went out
 * with; a login or renewal in flight for the old credentials is abandoned (its answer is
 * dropped, it never installs the old identity); calls waiting for a login go on with the new
 * credentials (a new login starts for them when needed). Not from the log callback
 * (PMX_ERECURSIVE).
 */

/**
 * Authenticate with an API token "USER@REALM!TOKENID=SECRET" (the secret after the last '=').
 * Replaces any password or ticket. @p token is copied and wiped when replaced or freed.
 * @return PMX_OK, PMX_EINVAL (malformed token, a control character, space or ';' in it),
 *         PMX_ENOMEM. May be called from a call's callback. Since: 1.0
 */
PMX_API int pmx_client_set_token(pmx_client *c, const char *token);

/**
 * Authenticate with a user ("root@pam") and password: the first call logs in (other calls
 * wait behind the login), the ticket is renewed before it expires, and a call refused with 401
 * triggers one fresh login and is resent. Both strings are copied; the password is kept (for
 * re-login) and wiped when replaced or freed. Replaces any token or ticket.
 * @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. May be called from a call's callback. Since: 1.0
 */
PMX_API int pmx_client_set_password(pmx_client *c, const char *userid, const char *password);

/**
 * Use a ticket obtained elsewhere (e.g. exported by pmx_client_get_ticket() in another
 * process). Its age is read once from the ticket itself (against this machine's clock) and then
 * counted on the monotonic clock; it is renewed with the server once past half its lifetime.
 * The server judges it: a ticket this client believes expired is still sent (or renewed with
 * the server) and only a refusal by the server (401) fails calls, with PMX_EAUTH when no
 * password is set. Keeps a password set for the same user. Both strings are copied.
 * @param csrf_token  may be NULL for GET-only use.
 * @return PMX_OK, PMX_EINVAL (not a PVE ticket), PMX_ENOMEM. May be called from a call's
 *         callback. Since: 1.0
 */
PMX_API int pmx_client_set_ticket(pmx_client *c, const char *ticket, const char *csrf_token);

/**
 * Export the current ticket and CSRF token, to reuse in another process.
 * @param ticket      receives a copy; caller frees with pmx_secret_free().
 * @param csrf_token  may be NULL; else receives a copy; caller frees with pmx_secret_free().
 * @return PMX_OK, PMX_ENOTFOUND (no ticket yet), PMX_ENOMEM. May be called from a callback.
 * Since: 1.0
 */
PMX_API int pmx_client_get_ticket(pmx_client *c, char **ticket, char **csrf_token);

/**
 * Ticket lifetime assumed by renewal, in seconds (default 7200, PVE's). The ticket is renewed
 * once it is older than half of it; past the lifetime a client with a password logs in again
 * before sending (one request instead of a refusal per call), one without sends it anyway. A
 * fresh login's ticket is aged on the monotonic clock from its arrival. For test servers with
 * short-lived tickets. @return PMX_OK or PMX_EINVAL (< 2 or over a year). Since: 1.0
 */
PMX_API int pmx_client_set_ticket_lifetime(pmx_client *c, int seconds);

/**
 * Callback asked for the second factor when a password login answers NeedTFA. Each login asks
 * at most once: a server that answers NeedTFA again after the second factor fails the login
 * (PMX_EAUTH) instead of looping.
 * @param challenge  the TFA challenge as JSON ({"totp":true,...}), borrowed for the call.
 * @param out        buffer for the response, "totp:123456", "recovery:KEY", or a bare TOTP code.
 * @return 0 when @p out was filled, non-zero to abort the login (calls fail with PMX_EAUTH).
 * The callback runs from the event loop and must not block for long. It may start calls (they
 * wait for this login) and change the credentials (this login is then dropped).
 */
typedef int (*pmx_tfa_fn)(pmx_client *c, const char *challenge, char *out, size_t out_size,
                          void *userdata);

/**
 * Set the two-factor callback; NULL removes it. @p userdata is the program's; @p userdata_free
 * (may be NULL) runs once when it is replaced or the client is freed.
 * @return PMX_OK, PMX_EINVAL, PMX_ERECURSIVE (from the log callback). Since: 1.0
 */
PMX_API int pmx_client_set_tfa_cb(pmx_client *c, pmx_tfa_fn fn, void *userdata,
                                  pmx_free_fn userdata_free);

/**
 * Preset the second factor: "totp:123456", "recovery:...", or a bare TOTP code. Used when no
 * callback is set. Copied and wiped after use. @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Since: 1.0
 */
PMX_API int pmx_client_set_tfa_response(pmx_client *c, const char *response);

/**
 * Pin the server's leaf certificate by SHA-256 fingerprint, as PVE shows it: 32 hex bytes
 * separated by colons, any case ("AB:CD:..."); colons are optional. Several fingerprints may be
 * given, comma-separated (each node of a cluster has its own certificate): a certificate that
 * matches any of them passes. A pin replaces the chain and hostname checks, like PVE's own
 * clients. Copied. NULL removes the pin. Changing the TLS policy
 * drops open connections and cached TLS sessions, so it applies to every later call.
 * Fails closed: pinning needs libcurl built with OpenSSL (Debian's libcurl4); with another TLS
 * backend, or when libcurl refuses any of the options, each call fails with PMX_ETLS before
 * anything is sent.
 * @return PMX_OK, PMX_EINVAL (not 32 hex bytes; an http:// endpoint, where a pin would protect
 *         nothing), PMX_EBUSY (calls are pending). Not from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_fingerprint(pmx_client *c, const char *sha256);

/**
 * Trust the CA certificates in a PEM file instead of the system store (its file and its
 * directory). Copied; the file is read whenever a connection is made, so a CA removed from it is
 * no longer trusted for new connections (a resumed TLS session is not checked again). NULL
 * returns to the system store.
 * @return PMX_OK, PMX_EINVAL (file not readable), PMX_ENOMEM, PMX_EBUSY (calls are
 *         pending; see pmx_client_set_fingerprint()). Since: 1.0
 */
PMX_API int pmx_client_set_ca_file(pmx_client *c, const char *path);

/**
 * Switch all certificate checks off (1) or back on (0, the default). Only for tests; prefer
 * pmx_client_set_fingerprint(). @return PMX_OK, PMX_EBUSY (calls are pending). Since: 1.0
 */
PMX_API int pmx_client_set_insecure(pmx_client *c, int insecure);

/** Default connect timeout (ms), including the TLS handshake. */
#define PMX_DEFAULT_CONNECT_MS 10000
/** Default stall limit: a transfer slower than PMX_DEFAULT_STALL_BYTES_PER_S for this many ms
 * fails with PMX_ETIMEOUT ("transfer stalled"). It covers a server that thinks that long without
 * answering, too: PVE's own proxy gives up after 30 s of silence. */
#define PMX_DEFAULT_STALL_MS 120000
/** Default stall limit's rate, in bytes per second (see PMX_DEFAULT_STALL_MS). */
#define PMX_DEFAULT_STALL_BYTES_PER_S 256

/**
 * Timeouts applied to every later call: @p connect_ms for connecting (including TLS), @p
 * total_ms for the whole call, counted from the moment the call was accepted (so time spent
 * waiting for a free connection or a login counts). 0 means none. Defaults:
 * PMX_DEFAULT_CONNECT_MS and no total timeout (the stall limit still ends a call that stops
 * making progress: see pmx_client_set_stall_timeout()). A per-call timeout
 * (pmx_call_opts.timeout_ms) overrides @p total_ms.
 * @return PMX_OK or PMX_EINVAL (negative, or above LONG_MAX). Since: 1.0
 */
PMX_API int pmx_client_set_timeouts(pmx_client *c, int64_t connect_ms, int64_t total_ms);

/**
 * Stall limit for every later transfer: one that moves fewer than @p min_bytes_per_s bytes per
 * second (both directions; measured over the last seconds) for @p stall_ms fails with
 * PMX_ETIMEOUT and a message saying it stalled. A transfer that keeps moving is never cut by
 * it. @p stall_ms 0 switches it off (then a call without a total timeout can wait for ever on a
 * silent server). Defaults: PMX_DEFAULT_STALL_MS, PMX_DEFAULT_STALL_BYTES_PER_S. Resolution:
 * whole seconds (rounded up).
 * @return PMX_OK or PMX_EINVAL (negative, rate < 1). May be called from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_stall_timeout(pmx_client *c, int64_t stall_ms, int64_t min_bytes_per_s);

/**
 * Connection pool size: at most @p per_host connections to the endpoint (default 8), reused
 * with keep-alive. Calls beyond it wait in line. @return PMX_OK or PMX_EINVAL (< 1). Since: 1.0
 */
PMX_API int pmx_client_set_max_connections(pmx_client *c, int per_host);

/**
 * Writes to one guest one after the other (off by default): a POST, PUT or DELETE under
 * /nodes/{node}/qemu/{vmid} or /nodes/{node}/lxc/{vmid} waits until the client's earlier write
 * to the same guest has completed, so a program that fires many changes at one VM does not
 * fight PVE's config lock ("can't lock file ... got timeout"). Calls to other guests and reads
 * go on as usual; a waiting call's timeout counts while it waits. Task-starting writes complete
 * when PVE answers with the task's UPID, not when the task ends.
 * @return PMX_OK or PMX_EINVAL. May be called from a callback; applies to calls started
 *         later. Since: 1.0
 */
PMX_API int pmx_client_set_guest_writes(pmx_client *c, int one_at_a_time);

/**
 * Cap on a response body, in bytes (default 64 MiB). A larger body fails its call with
 * PMX_ETOOBIG. @return PMX_OK or PMX_EINVAL (0). Since: 1.0
 */
PMX_API int pmx_client_set_max_response(pmx_client *c, size_t bytes);

/**
 * Ask for gzip-compressed answers (@p on non-zero, the default) or not. pveproxy compresses
 * every body over 1 KiB for a client that accepts it; on a fast network inflating can cost
 * more than it saves. Applies to calls sent afterwards. @return PMX_OK or PMX_EINVAL (NULL).
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_compression(pmx_client *c, int on);

/** Log levels, most severe first. */
typedef enum {
    PMX_LOG_ERROR = 1,
    PMX_LOG_WARN = 2,
    PMX_LOG_INFO = 3,
    PMX_LOG_DEBUG = 4
} pmx_log_level;

/**
 * Log callback. @p msg is borrowed for the call and never contains a password, ticket, CSRF
 * token or token secret; text from the server has its control characters replaced by '?'.
 * It runs in the middle of the library's work: every function taking this client or one of its
 * calls returns PMX_ERECURSIVE there (pmx_client_free() is carried out later), and the library
 * logs nothing while it runs.
 */
typedef void (*pmx_log_fn)(pmx_client *c, pmx_log_level level, const char *msg, void *userdata);

/**
 * Set the log callback and the most verbose level passed to it (messages above @p max_level
 * are not built). NULL switches logging off (the default). @p userdata is the program's;
 * @p userdata_free (may be NULL) runs once when it is replaced or the client is freed.
 * @return PMX_OK, PMX_EINVAL, PMX_ERECURSIVE (from the log callback). Since: 1.0
 */
PMX_API int pmx_client_set_log_cb(pmx_client *c, pmx_log_level max_level, pmx_log_fn fn,
                                  void *userdata, pmx_free_fn userdata_free);

/**
 * The base URL of the endpoint calls go to now ("https://host:8006"), as parsed; with several
 * endpoints it changes when the client fails over. The string is static for the client's
 * lifetime. May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_client_url(const pmx_client *c);

/**
 * The optional GET cache (off by default), for programs that read the same state many times a
 * second: successful answers of GET calls whose path starts with @p path_prefix (at a segment
 * border; the longest matching prefix counts) are kept for @p ttl_ms, and a later GET of the
 * same path and query within that time is answered from memory (its callback still runs from
 * the loop, pmx_call_cached() says so, pmx_call_attempts() is 0). A write (POST, PUT, DELETE)
 * drops what it may change, when it starts and when it is done: under /nodes/{node}, that
 * node's answers and those under /cluster; anywhere else, every answer. Changing the
 * credentials drops everything. Calls that carry secrets, stream their body (write callback,
 * output file, item callback, PMX_CALL_NO_BODY) or failed are never kept. At most 32 rules,
 * 4096 answers and 32 MiB (the oldest go first).
 * @param path_prefix  "/cluster/resources", "/nodes/pve1/qemu", ...; copied.
 * @param ttl_ms       time to live; 0 removes the rule. Changing or removing a rule drops
 *                     the cached answers.
 * @return PMX_OK, PMX_EINVAL (not starting with '/', negative ttl, more than 32 rules),
 *         PMX_ENOMEM. May be called from a callback. Since: 1.0
 */
PMX_API int pmx_client_cache(pmx_client *c, const char *path_prefix, int64_t ttl_ms);

/**
 * Counts of the GET cache: @p hits (answered from memory) and @p misses (a GET a rule covered,
 * sent because nothing fresh was kept). Either may be NULL. @return PMX_OK or PMX_EINVAL.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_client_cache_stats(const pmx_client *c, uint64_t *hits, uint64_t *misses);

/** Drop every cached answer (the rules stay). @return PMX_OK or PMX_EINVAL. Since: 1.0 */
PMX_API int pmx_client_cache_clear(pmx_client *c);

/** Number of endpoints given to pmx_client_new() (1 or more; 0 for NULL). Since: 1.0 */
PMX_API size_t pmx_client_endpoint_count(const pmx_client *c);

/**
 * Base URL of endpoint @p i (0 .. count-1) as parsed, static for the client's lifetime; NULL
 * past the end. May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_client_endpoint(const pmx_client *c, size_t i);


/**
 * Number of calls started on this client that have not completed yet (including calls waiting
 * for a login). May be called from a callback. Since: 1.0
 */
PMX_API size_t pmx_client_pending(const pmx_client *c);

PMX_END_DECLS
#endif
