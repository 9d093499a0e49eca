/* Regression tests of the sound-core issue: paths sent as built, TLS pinning that fails closed,
 * credentials changed during a login, secrets of calls wiped, tickets judged by the server,
 * deadlines that count while a call waits, stall limits, the log callback's limits, userdata
 * destructors, fork, and the global set-up. */
#include "testutil.h"

#include "core.h"     /* the pinning backend check */
#include "internal.h" /* the global locks' fork hooks */

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct tally {
    int calls, ok, last;
    int results[16];
} tally;

static void tally_cb(pmx_call *call, int result, void *ud) {
    (void)call;
    tally *t = ud;
    if (t->calls < 16)
        t->results[t->calls] = result;
    t->calls++;
    t->ok += result == PMX_OK;
    t->last = result;
}

static int get_sync(pmx_client *c, const char *path, pmx_call **out) {
    pmx_call *call = NULL;
    int r = pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call);
    if (r != PMX_OK)
        return r;
    r = pmx_call_wait(call);
    if (out)
        *out = call;
    else
        pmx_call_unref(call);
    return r;
}

/* Run a test program from the build directory with the mock's URL, fingerprint and token;
 * returns its exit status (or -1). */
static int run_prog(const char *name) {
    char bin[512];
    snprintf(bin, sizeof bin, "%s/tests/%s", test_build_dir(), name);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(bin, bin, g_mock.url, g_mock.fingerprint, g_mock.token, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- paths are checked and sent as built ---- */

static const char *const bad_paths[] = {
    "/nodes/../../../etc/passwd",
    "/cluster/sdn/zones/..",
    "/cluster/sdn/vnets/myvnet/subnets/.",
    "/cluster/sdn/zones/%2e%2E",
    "/cluster/sdn/zones/%2E",
    "/nodes//qemu",
    "/nodes/",
    "/nodes/pve1/./qemu",
    "/nodes?limit=1#x",
    "/nodes#frag",
    "/nodes/pve 1",
    "/nodes/pve1\r\nX-Injected: 1",
    "/nodes/%zz",
    "/nodes/%4",
    "nodes",
    "",
    "/nodes/\xc3\xa9",
};

START_TEST(path_refused) {
    pmx_client *c = test_client(&g_mock, "token");
    long before = mock_stat(&g_mock, "requests");
    tally t = {0};
    const char *p = bad_paths[_i];
    ck_assert_msg(pmx_call_start(c, PMX_DELETE, p, NULL, tally_cb, &t, NULL) == PMX_EINVAL,
                  "path '%s' accepted", p);
    ck_assert_int_eq(pmx_client_run(c, 1000), PMX_OK);
    ck_assert_int_eq(t.calls, 0); /* refused at once: no callback */
    ck_assert_int_eq(mock_stat(&g_mock, "requests"), before);
    pmx_client_free(c);
}
END_TEST

START_TEST(path_accepted_as_built) {
    /* Legal paths: query strings, escapes, sub-delims, a segment that starts with a dot. */
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/nodes/pve1/tasks?limit=1&start=0&typefilter=qm%2Astart", NULL),
                     PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_call *call = NULL;
    /* Unknown, but sent: PVE answers 501 for the literal path, nothing was normalised away. */
    ck_assert_int_eq(get_sync(c, "/nodes/pve1/.x", &call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 501);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "/nodes/pve1/.x"));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* ---- TLS ---- */

START_TEST(pin_on_plain_http_refused) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, "http://127.0.0.1:8006"), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, g_mock.fingerprint), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_ca_file(c, g_mock.ca_file), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, NULL), PMX_OK);
    pmx_client_free(c);
}
END_TEST

START_TEST(pin_fails_closed_on_gnutls_libcurl) {
    /* The same library linked against Debian's GnuTLS libcurl: the pinned call fails with
     * PMX_ETLS naming the backend (a wrong pin used to get HTTP 200 there), and nothing reaches
     * the server; the insecure call shows the binary works otherwise. */
    long before = mock_stat(&g_mock, "requests");
    ck_assert_int_eq(run_prog("tls_backend_gnutls"), 0);
    ck_assert_int_eq(mock_stat(&g_mock, "requests") - before, 1); /* only the insecure one */
}
END_TEST

START_TEST(pin_needs_libcurls_openssl_major) {
    /* Pinning hands libcurl's SSL_CTX to our OpenSSL: only the same library (major version)
     * can read it. Anything else fails closed, naming why. */
    const char *why = NULL;
    ck_assert_int_eq(pmx__tls_pin_backend_ok("OpenSSL/3.0.19", 0x30000130UL, &why), 1);
    ck_assert_int_eq(pmx__tls_pin_backend_ok("OpenSSL/3.2.1 quic", 0x30000010UL, &why), 1);
    static const char *const bad[] = {"OpenSSL/1.1.1w", "OpenSSL/30.0.1", "OpenSSL/", "OpenSSL/3",
                                      "OpenSSL/x.1", "GnuTLS/3.7.9", "LibreSSL/3.8.2", NULL};
    for (size_t i = 0; bad[i]; i++) {
        why = NULL;
        ck_assert_msg(pmx__tls_pin_backend_ok(bad[i], 0x30000130UL, &why) == 0, "%s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    ck_assert_int_eq(pmx__tls_pin_backend_ok(NULL, 0x30000130UL, &why), 0);
    ck_assert_ptr_nonnull(strstr(why, "no TLS support"));
    ck_assert_int_eq(pmx__tls_pin_backend_ok("OpenSSL/1.1.1w", 0x1010117fUL, NULL), 1);
    /* and this process's libcurl is the one we were built with */
    ck_assert_int_eq(pmx__tls_can_pin(&why), 1);
}
END_TEST

/* ---- credentials ---- */

START_TEST(password_changed_during_login) {
    /* The login for root@pam is in flight when the program switches to a user the server does
     * not know: the old answer must not be installed, the waiting calls fail with the new
     * user's refusal. */
    mock_faults(&g_mock, "{\"latency_ms\":400}");
    pmx_client *c = test_client(&g_mock, "password");
    tally t = {0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, tally_cb, &t, NULL), PMX_OK);
    pmx_client_run(c, 150); /* the login is on the wire */
    ck_assert_int_eq(t.calls, 0);
    ck_assert_int_eq(pmx_client_set_password(c, "other@pve", "wrong"), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(t.calls, 3);
    ck_assert_int_eq(t.ok, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(t.results[i], PMX_EAUTH);
    char *ticket = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(c, &ticket, NULL), PMX_ENOTFOUND);
    /* Later calls are the new user's too. */
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_EAUTH);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(token_set_during_login) {
    mock_faults(&g_mock, "{\"latency_ms\":400}");
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.user, "not-the-password"), PMX_OK);
    tally t = {0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL), PMX_OK);
    pmx_client_run(c, 150);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(t.ok, 3); /* they waited for the login, then went with the token */
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static void set_password_cb(pmx_call *call, int result, void *ud) {
    tally *t = ud;
    tally_cb(call, result, ud);
    if (t->calls == 1)
        ck_assert_int_eq(pmx_client_set_password(pmx_call_client(call), g_mock.user,
                                                 g_mock.password), PMX_OK);
}

START_TEST(credentials_changed_from_callback) {
    pmx_client *c = test_client(&g_mock, "token");
    tally t = {0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, set_password_cb, &t, NULL),
                     PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(t.ok, 1);
    long logins = mock_stat(&g_mock, "logins");
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK); /* now with a login */
    ck_assert_int_eq(mock_stat(&g_mock, "logins") - logins, 1);
    pmx_client_free(c);
}
END_TEST

/* ---- secrets of generic calls are wiped ---- */

START_TEST(generic_login_call_wiped) {
    /* A program logs in through a generic call: the password in the request body and the
     * ticket in the answer are wiped when the call is freed. */
    spy_alloc_install(g_mock.password, NULL);
    pmx_client *c = test_client(&g_mock, NULL);
    pmx_params *p = pmx_params_new();
    ck_assert_int_eq(pmx_params_set_str(p, "username", g_mock.user), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(p, "password", g_mock.password), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/access/ticket", p, NULL, NULL, &call), PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    const char *sig = strstr(pmx_call_body(call, NULL), "::");
    ck_assert_ptr_nonnull(sig);
    char needle[64];
    snprintf(needle, sizeof needle, "%.24s", sig + 2);
    spy_alloc_needle(1, needle);
    pmx_call_unref(call);
    pmx_client_free(c);
    spy_alloc_remove();
    ck_assert_msg(!spy_alloc_found(0), "a freed block still held the password");
    ck_assert_msg(!spy_alloc_found(1), "a freed block still held the ticket");
}
END_TEST

static char g_logged[8192];
static void collect_log(pmx_client *c, pmx_log_level l, const char *msg, void *ud) {
    (void)c, (void)l, (void)ud;
    size_t n = strlen(g_logged);
    snprintf(g_logged + n, sizeof g_logged - n, "%s\n", msg);
}

START_TEST(secret_in_a_written_query) {
    /* A password written into the path's own query: the call is secret (wiped) and its logs,
     * even of a retry, show the path without the query. */
    spy_alloc_install("s3cr3t-in-query", NULL);
    pmx_client *c = test_client(&g_mock, "token");
    g_logged[0] = 0;
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_DEBUG, collect_log, NULL, NULL), PMX_OK);
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":503}");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/access/ticket?password=s3cr3t-in-query", NULL,
                                    NULL, NULL, &call), PMX_OK);
    pmx_call_wait(call);
    ck_assert_uint_eq(pmx_call_attempts(call), 2);
    pmx_call_unref(call);
    pmx_client_free(c);
    spy_alloc_remove();
    mock_reset(&g_mock);
    ck_assert_ptr_nonnull(strstr(g_logged, "/access/ticket"));
    ck_assert_msg(!strstr(g_logged, "s3cr3t"), "logged: %s", g_logged);
    ck_assert_msg(!spy_alloc_found(0), "a freed block still held the password");
}
END_TEST

/* ---- a ticket is judged by the server ---- */

START_TEST(believed_expired_ticket_is_sent) {
    /* A ticket this client believes is past its lifetime (it thinks tickets live 2 s) but the
     * server still takes: without a password it is sent, and the server says yes. */
    pmx_client *a = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(a, "/version", NULL), PMX_OK);
    char *ticket = NULL, *csrf = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, &csrf), PMX_OK);
    pmx_client_free(a);

    pmx_client *b = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_ticket_lifetime(b, 2), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ticket(b, ticket, csrf), PMX_OK);
    usleep(2200 * 1000);
    ck_assert_int_eq(get_sync(b, "/nodes", NULL), PMX_OK);
    pmx_client_free(b);

    /* With a password, a believed-expired ticket costs one request before sending (a renewal
     * or a login). */
    long logins = mock_stat(&g_mock, "logins") + mock_stat(&g_mock, "renewals");
    pmx_client *d = test_client(&g_mock, "password");
    ck_assert_int_eq(pmx_client_set_ticket_lifetime(d, 2), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ticket(d, ticket, csrf), PMX_OK);
    usleep(2200 * 1000);
    ck_assert_int_eq(get_sync(d, "/nodes", NULL), PMX_OK);
    ck_assert_int_eq(mock_stat(&g_mock, "logins") + mock_stat(&g_mock, "renewals") - logins, 1);
    pmx_client_free(d);
    pmx_secret_free(ticket);
    pmx_secret_free(csrf);
}
END_TEST

/* ---- deadlines count while a call waits ---- */

START_TEST(timeout_while_waiting_for_login) {
    mock_faults(&g_mock, "{\"latency_ms\":3000}");
    pmx_client *c = test_client(&g_mock, "password");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 300;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/nodes", NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETIMEOUT);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "waiting for a login"));
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(timeout_while_queued) {
    mock_faults(&g_mock, "{\"latency_ms\":1500}");
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_max_connections(c, 1), PMX_OK);
    tally first = {0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &first, NULL), PMX_OK);
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 200;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETIMEOUT);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "waiting for a free connection"));
    ck_assert_int_eq(first.calls, 0); /* the first one is still running */
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    ck_assert_int_eq(first.ok, 1);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(stall_limit_ends_silent_call) {
    /* No total timeout: a server that says nothing is given up after the stall limit. */
    mock_faults(&g_mock, "{\"latency_ms\":30000}");
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_stall_timeout(c, 1000, 256), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETIMEOUT);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "stalled"));
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_client_set_stall_timeout(c, -1, 256), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_stall_timeout(c, 1000, 0), PMX_EINVAL);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(task_wait_huge_timeout) {
    /* A deadline near INT64_MAX saturates instead of overflowing (UBSan watches). The status
     * poll gets a 500 (a transient error: the wait sleeps and would poll again); a task that
     * does not exist is a final 400, as on PVE. */
    mock_faults(&g_mock, "{\"fail_5xx\":-1,\"match_path\":\"/nodes/pve1/tasks/\"}");
    pmx_client *c = test_client(&g_mock, "token");
    pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);
    o.timeout_ms = INT64_MAX - 1;
    o.first_interval_ms = INT64_MAX / 2;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, "UPID:pve1:00001234:00005678:65000000:qmstart:100:root@pam:",
                                   &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 300), PMX_ETIMEOUT); /* polled once, now sleeping */
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ECANCELLED);
    pmx_task_unref(t);
    o.reserved = 1;
    ck_assert_int_eq(pmx_task_wait(c, "UPID:pve1:00001234:00005678:65000000:qmstart:100:root@pam:",
                                   &o, NULL, NULL, NULL), PMX_EINVAL);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- the log callback cannot re-enter the client ---- */

typedef struct log_probe {
    pmx_call *target;
    int cancel_rc, start_rc, run_rc, set_rc, lines;
} log_probe;

static void probing_log(pmx_client *c, pmx_log_level level, const char *msg, void *ud) {
    (void)level;
    (void)msg;
    log_probe *p = ud;
    p->lines++;
    if (p->target)
        p->cancel_rc = pmx_call_cancel(p->target);
    p->start_rc = pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, NULL);
    p->run_rc = pmx_client_run(c, 0);
    p->set_rc = pmx_client_set_token(c, g_mock.token);
}

START_TEST(log_callback_cannot_reenter) {
    /* The review's use-after-free: a cancel from the log callback during a 401 re-login. Every
     * call into the client from there is refused; the call completes normally. */
    pmx_client *c = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    char *ticket = NULL, *csrf = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(c, &ticket, &csrf), PMX_OK);
    /* A ticket of another user the server refuses (same shape, bad signature). */
    char bad[512];
    snprintf(bad, sizeof bad, "%.*sAAAA%s", (int)(strstr(ticket, "::") + 2 - ticket), ticket,
             strstr(ticket, "::") + 6);
    ck_assert_int_eq(pmx_client_set_ticket(c, bad, csrf), PMX_OK);
    log_probe p = {0};
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_DEBUG, probing_log, &p, NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    p.target = call;
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK); /* 401, re-login, resent */
    ck_assert_int_gt(p.lines, 0);
    ck_assert_int_eq(p.cancel_rc, PMX_ERECURSIVE);
    ck_assert_int_eq(p.start_rc, PMX_ERECURSIVE);
    ck_assert_int_eq(p.run_rc, PMX_ERECURSIVE);
    ck_assert_int_eq(p.set_rc, PMX_ERECURSIVE);
    pmx_call_unref(call);
    pmx_client_set_log_cb(c, PMX_LOG_ERROR, NULL, NULL, NULL);
    pmx_secret_free(ticket);
    pmx_secret_free(csrf);
    pmx_client_free(c);
}
END_TEST

static void freeing_log(pmx_client *c, pmx_log_level level, const char *msg, void *ud) {
    (void)level;
    (void)msg;
    (void)ud;
    pmx_client_free(c); /* deferred until the library is out of its own work */
}

START_TEST(free_from_log_callback) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_DEBUG, freeing_log, NULL, NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    int r = pmx_call_wait(call); /* the free happens inside; the call completes with it */
    ck_assert(r == PMX_OK || r == PMX_EDESTROYED);
    ck_assert_ptr_null(pmx_call_client(call));
    pmx_call_unref(call);
}
END_TEST

/* ---- userdata destructors ---- */

static int g_freed[8];
static void free_slot(void *ud) { g_freed[(int)(intptr_t)ud]++; }
static void nop_log(pmx_client *c, pmx_log_level l, const char *m, void *ud) {
    (void)c, (void)l, (void)m, (void)ud;
}
static void nop_sock(pmx_client *c, int fd, int ev, void *ud) { (void)c, (void)fd, (void)ev, (void)ud; }
static void nop_timer(pmx_client *c, int64_t ms, void *ud) { (void)c, (void)ms, (void)ud; }
static int nop_tfa(pmx_client *c, const char *ch, char *out, size_t n, void *ud) {
    (void)c, (void)ch, (void)out, (void)n, (void)ud;
    return 1;
}

START_TEST(userdata_destructors_once) {
    memset(g_freed, 0, sizeof g_freed);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_ERROR, nop_log, (void *)0, free_slot), 0);
    ck_assert_int_eq(pmx_client_set_socket_cb(c, nop_sock, (void *)1, free_slot), 0);
    ck_assert_int_eq(pmx_client_set_timer_cb(c, nop_timer, (void *)2, free_slot), 0);
    ck_assert_int_eq(pmx_client_set_tfa_cb(c, nop_tfa, (void *)3, free_slot), 0);
    /* Replacing runs the old destructor once. */
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_ERROR, nop_log, (void *)4, free_slot), 0);
    ck_assert_int_eq(g_freed[0], 1);
    /* A call's destructor runs when the call is freed, after its callback. */
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.userdata_free = free_slot;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, (void *)5, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_client_set_socket_cb(c, NULL, NULL, NULL), 0); /* drive it ourselves */
    ck_assert_int_eq(g_freed[1], 1);
    ck_assert_int_eq(pmx_client_set_timer_cb(c, NULL, NULL, NULL), 0);
    ck_assert_int_eq(g_freed[2], 1);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(g_freed[5], 0); /* we still hold a reference */
    pmx_call_unref(call);
    ck_assert_int_eq(g_freed[5], 1);
    /* A refused start never runs it: the caller still owns the userdata. */
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/../x", NULL, &o, NULL, (void *)6, NULL),
                     PMX_EINVAL);
    ck_assert_int_eq(g_freed[6], 0);
    /* Task waits, likewise. */
    pmx_task_opts to = PMX_OPTS_INIT(pmx_task_opts);
    to.userdata_free = free_slot;
    to.timeout_ms = 100;
    ck_assert_int_eq(pmx_task_wait(c, "UPID:pve1:00001234:00005678:65000000:qmstart:100:root@pam:",
                                   &to, NULL, (void *)7, NULL), PMX_OK);
    ck_assert_int_eq(pmx_task_wait(c, "not a upid", &to, NULL, (void *)6, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    ck_assert_int_eq(g_freed[7], 1);
    ck_assert_int_eq(g_freed[6], 0);
    pmx_client_free(c);
    ck_assert_int_eq(g_freed[3], 1);
    ck_assert_int_eq(g_freed[4], 1);
    for (int i = 0; i < 8; i++)
        ck_assert_int_le(g_freed[i], 1);
}
END_TEST

START_TEST(next_timeout_tells_none_from_error) {
    pmx_client *c = test_client(&g_mock, "token");
    int64_t ms = 12345;
    ck_assert_int_eq(pmx_client_next_timeout(c, &ms), PMX_OK);
    ck_assert_int_eq(ms, -1);
    ck_assert_int_eq(pmx_client_next_timeout(NULL, &ms), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_next_timeout(c, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_next_timeout(c, &ms), PMX_OK);
    ck_assert_int_ge(ms, 0);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- bad input ---- */

START_TEST(token_control_characters_refused) {
    pmx_client *c = test_client(&g_mock, NULL);
    static const char *const bad[] = {"root@pam!t=ab\001cd", "root@pam!t=ab\tcd",
                                      "root@pam!t=ab\x7f", "root@pam!t=a b", "root@pam!t=a;b",
                                      "root@pam!t=ab\x1b[2J"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(pmx_client_set_token(c, bad[i]), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "ro\x01ot@pam", "x"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_tfa_response(c, "totp:12\n34"), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* ---- fork ---- */

START_TEST(client_in_forked_child) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    long conns = mock_stat(&g_mock, "connections");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = 0;
        bad |= pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, NULL) != PMX_EFORKED;
        bad |= pmx_client_run(c, 0) != PMX_EFORKED;
        bad |= pmx_client_set_token(c, g_mock.token) != PMX_EFORKED;
        pmx_client_free(c); /* frees our memory, leaves the parent's connection alone */
        _exit(bad ? 3 : 0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* The parent's kept-alive connection still works: no new connection was needed. */
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(mock_stat(&g_mock, "connections"), conns);
    pmx_client_free(c);
}
END_TEST

/* Another thread holds the pattern cache's and the block cache's locks while this one forks:
 * fork() waits for them (the atfork handlers take every global lock first), so the child finds
 * them free. Without that, the child would inherit them held by a thread it does not have and
 * hang on its first pattern check or large result. */
static pthread_mutex_t g_hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_hold_cv = PTHREAD_COND_INITIALIZER;
static int g_holding;

static void *hold_global_locks(void *arg) {
    (void)arg;
    pmx__patterns_fork_lock();
    pmx__block_fork_lock();
    pthread_mutex_lock(&g_hold_mu);
    g_holding = 1;
    pthread_cond_signal(&g_hold_cv);
    pthread_mutex_unlock(&g_hold_mu);
    usleep(200 * 1000);
    pmx__block_fork_unlock();
    pmx__patterns_fork_unlock();
    pthread_mutex_lock(&g_hold_mu);
    g_holding = 2; /* done */
    pthread_cond_signal(&g_hold_cv);
    pthread_mutex_unlock(&g_hold_mu);
    return NULL;
}

START_TEST(fork_while_another_thread_holds_global_locks) {
    ck_assert_int_eq(pmx__fork_handlers(), PMX_OK);
    g_holding = 0;
    /* detached: the child has no such thread to join (ThreadSanitizer would call it leaked) */
    pthread_t t;
    pthread_attr_t attr;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED), 0);
    ck_assert_int_eq(pthread_create(&t, &attr, hold_global_locks, NULL), 0);
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&g_hold_mu);
    while (!g_holding)
        pthread_cond_wait(&g_hold_cv, &g_hold_mu);
    pthread_mutex_unlock(&g_hold_mu);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A hang ends the child with SIGALRM. Its default action: the handler inherited from
         * Check's runner would kill the whole test (a slow child on a loaded machine did). */
        signal(SIGALRM, SIG_DFL);
        alarm(20);
        pmx__patterns_fork_lock();
        pmx__patterns_fork_unlock();
        pmx__block_put(pmx__block_get());
        pmx_client *c = NULL;
        int r = pmx_client_new(&c, "https://127.0.0.1:8006");
        pmx_client_free(c);
        _exit(r == PMX_OK ? 0 : 3);
    }
    pthread_mutex_lock(&g_hold_mu);
    while (g_holding != 2)
        pthread_cond_wait(&g_hold_cv, &g_hold_mu);
    pthread_mutex_unlock(&g_hold_mu);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "the child did not exit (signal %d): it hung on a lock",
                  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* ---- global set-up ---- */

START_TEST(global_init_wiping_allocators) {
    ck_assert_int_eq(run_prog("global_init"), 0);
}
END_TEST

static void *new_and_free(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        pmx_client *c = NULL;
        if (pmx_client_new(&c, "https://127.0.0.1:8006") != PMX_OK)
            return (void *)1;
        pmx_client_free(c);
    }
    return NULL;
}

START_TEST(first_clients_on_many_threads) {
    /* The first clients of the process are made on eight threads at once: the global set-up
     * runs once (this test's process made no client before). */
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, new_and_free, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *rv = (void *)1;
        ck_assert_int_eq(pthread_join(th[i], &rv), 0);
        ck_assert_ptr_null(rv);
    }
}
END_TEST

static Suite *core_suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, path_refused, 0, (int)(sizeof bad_paths / sizeof bad_paths[0]));
    tcase_add_test(tc, path_accepted_as_built);
    tcase_add_test(tc, pin_on_plain_http_refused);
    tcase_add_test(tc, pin_fails_closed_on_gnutls_libcurl);
    tcase_add_test(tc, pin_needs_libcurls_openssl_major);
    tcase_add_test(tc, password_changed_during_login);
    tcase_add_test(tc, token_set_during_login);
    tcase_add_test(tc, credentials_changed_from_callback);
    tcase_add_test(tc, generic_login_call_wiped);
    tcase_add_test(tc, secret_in_a_written_query);
    tcase_add_test(tc, believed_expired_ticket_is_sent);
    tcase_add_test(tc, timeout_while_waiting_for_login);
    tcase_add_test(tc, timeout_while_queued);
    tcase_add_test(tc, stall_limit_ends_silent_call);
    tcase_add_test(tc, task_wait_huge_timeout);
    tcase_add_test(tc, log_callback_cannot_reenter);
    tcase_add_test(tc, free_from_log_callback);
    tcase_add_test(tc, userdata_destructors_once);
    tcase_add_test(tc, next_timeout_tells_none_from_error);
    tcase_add_test(tc, token_control_characters_refused);
    tcase_add_test(tc, client_in_forked_child);
    tcase_add_test(tc, fork_while_another_thread_holds_global_locks);
    tcase_add_test(tc, global_init_wiping_allocators);
    tcase_add_test(tc, first_clients_on_many_threads);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(core_suite)
