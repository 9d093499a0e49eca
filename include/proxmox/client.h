/* libproxmox: the client (endpoint, auth, TLS, connection pool). */
#ifndef PROXMOX_CLIENT_H
#define PROXMOX_CLIENT_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/**
 * Create a client for a PVE endpoint. @p url is "https://host[:port][/]" (port defaults to
 * 8006; IPv6 literals in brackets; "http://" is accepted for plain-text test servers). The URL
 * is parsed and validated once; nothing is sent until the first call.
 * @param out  receives the client; caller frees with pmx_client_free().
 * @param url  copied.
 * @return PMX_OK, PMX_EINVAL (bad URL: no host, bad port, unknown scheme, path, query,
 *         user info), PMX_ENOMEM.
 * Not from a callback of another client on another thread: each client stays on one thread.
 * Since: 1.0
 */
PMX_API int pmx_client_new(pmx_client **out, const char *url);

/**
 * Free a client. Every pending call completes with PMX_EDESTROYED (its callback runs), then
 * secrets are wiped. Called from inside one of this client's callbacks, the free is deferred
 * until the callback returns. pmx_client_free(NULL) is a no-op. Since: 1.0
 */
PMX_API void pmx_client_free(pmx_client *c);

/**
 * Authenticate with an API token "USER@REALM!TOKENID=SECRET" (the secret after the last '=').
 * Replaces any password or ticket. @p token is copied and wiped when replaced or freed.
 * @return PMX_OK, PMX_EINVAL (malformed token), PMX_ENOMEM. Not from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_token(pmx_client *c, const char *token);

/**
 * Authenticate with a user ("root@pam") and password: the first call logs in (other calls
 * wait behind the login), the ticket is renewed before it expires, and a call refused with 401
 * triggers one fresh login and is resent. Both strings are copied; the password is kept (for
 * re-login) and wiped when replaced or freed. Replaces any token or ticket.
 * @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Not from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_password(pmx_client *c, const char *userid, const char *password);

/**
 * Use a ticket obtained elsewhere (e.g. exported by pmx_client_get_ticket() in another
 * process). Its age is read from the ticket itself; it is renewed like a login's ticket. Without
 * a password, an expired or refused ticket fails calls with PMX_EAUTH. Both strings are copied.
 * @param csrf_token  may be NULL for GET-only use.
 * @return PMX_OK, PMX_EINVAL (not a PVE ticket), PMX_ENOMEM. Not from a callback. Since: 1.0
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
 * once it is older than half of it, and treated as expired past it. For test servers with
 * short-lived tickets. @return PMX_OK or PMX_EINVAL (< 2). Since: 1.0
 */
PMX_API int pmx_client_set_ticket_lifetime(pmx_client *c, int seconds);

/**
 * Callback asked for the second factor when a password login answers NeedTFA.
 * @param challenge  the TFA challenge as JSON ({"totp":true,...}), borrowed for the call.
 * @param out        buffer for the response, "totp:123456", "recovery:KEY", or a bare TOTP code.
 * @return 0 when @p out was filled, non-zero to abort the login (calls fail with PMX_EAUTH).
 * The callback runs from the event loop and must not block for long.
 */
typedef int (*pmx_tfa_fn)(pmx_client *c, const char *challenge, char *out, size_t out_size,
                          void *userdata);

/**
 * Set the two-factor callback. @p userdata is borrowed until replaced or the client is freed.
 * @return PMX_OK. Since: 1.0
 */
PMX_API int pmx_client_set_tfa_cb(pmx_client *c, pmx_tfa_fn fn, void *userdata);

/**
 * Preset the second factor: "totp:123456", "recovery:...", or a bare TOTP code. Used when no
 * callback is set. Copied and wiped after use. @return PMX_OK, PMX_EINVAL, PMX_ENOMEM. Since: 1.0
 */
PMX_API int pmx_client_set_tfa_response(pmx_client *c, const char *response);

/**
 * Pin the server's leaf certificate by SHA-256 fingerprint, as PVE shows it: 32 hex bytes
 * separated by colons, any case ("AB:CD:..."); colons are optional. A pin replaces the chain and
 * hostname checks, like PVE's own clients. Copied. NULL removes the pin. Changing the TLS policy
 * drops open connections and cached TLS sessions, so it applies to every later call.
 * @return PMX_OK, PMX_EINVAL (not 32 hex bytes), PMX_EBUSY (calls are pending).
 * Not from a callback. Since: 1.0
 */
PMX_API int pmx_client_set_fingerprint(pmx_client *c, const char *sha256);

/**
 * Trust the CA certificates in a PEM file instead of the system store. Copied; the file is read
 * when connections are made. NULL returns to the system store.
 * @return PMX_OK, PMX_EINVAL (file not readable), PMX_ENOMEM, PMX_EBUSY (calls are
 *         pending; see pmx_client_set_fingerprint()). Since: 1.0
 */
PMX_API int pmx_client_set_ca_file(pmx_client *c, const char *path);

/**
 * Switch all certificate checks off (1) or back on (0, the default). Only for tests; prefer
 * pmx_client_set_fingerprint(). @return PMX_OK, PMX_EBUSY (calls are pending). Since: 1.0
 */
PMX_API int pmx_client_set_insecure(pmx_client *c, int insecure);

/**
 * Timeouts applied to every call: @p connect_ms for connecting (including TLS), @p total_ms for
 * the whole call. 0 means none. Defaults: 10000 and 0 (task calls can be long; set one).
 * @return PMX_OK or PMX_EINVAL (negative). Since: 1.0
 */
PMX_API int pmx_client_set_timeouts(pmx_client *c, int connect_ms, int total_ms);

/**
 * Connection pool size: at most @p per_host connections to the endpoint (default 8), reused
 * with keep-alive. Calls beyond it wait in line. @return PMX_OK or PMX_EINVAL (< 1). Since: 1.0
 */
PMX_API int pmx_client_set_max_connections(pmx_client *c, int per_host);

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
 * token or token secret. It runs in the middle of the library's work: it must not call back
 * into the client (loop functions return PMX_ERECURSIVE there).
 */
typedef void (*pmx_log_fn)(pmx_client *c, pmx_log_level level, const char *msg, void *userdata);

/**
 * Set the log callback and the most verbose level passed to it (messages above @p max_level
 * are not built). NULL switches logging off (the default). @p userdata is borrowed until
 * replaced or the client is freed. @return PMX_OK or PMX_EINVAL. Since: 1.0
 */
PMX_API int pmx_client_set_log_cb(pmx_client *c, pmx_log_level max_level, pmx_log_fn fn,
                                  void *userdata);

/**
 * The endpoint's base URL as parsed ("https://host:8006"), static for the client's lifetime.
 * May be called from a callback. Since: 1.0
 */
PMX_API const char *pmx_client_url(const pmx_client *c);

/**
 * Number of calls started on this client that have not completed yet (including calls waiting
 * for a login). May be called from a callback. Since: 1.0
 */
PMX_API size_t pmx_client_pending(const pmx_client *c);

PMX_END_DECLS
#endif
