/* The fault matrix: each row switches one pve-mock fault on, makes one call, and checks the
 * result, the message, that the callback ran exactly once, and how many requests reached the
 * mock. Retries are off here (one attempt per call) so each fault's own effect shows; the
 * retry tests (check_transfer.c) switch them back on. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct fault_row {
    const char *name;
    const char *faults;   /* JSON for /_mock/faults */
    pmx_method method;
    const char *path;
    const char *auth;     /* "token" or "password" */
    int64_t timeout_ms;   /* per call, 0 = none */
    size_t max_response;  /* 0 = default */
    int expect;           /* result */
    int status;           /* HTTP status expected, -1 = any */
    const char *msg;      /* substring of pmx_call_error(), or NULL */
    long requests;        /* requests of this path at the mock */
} fault_row;

static const fault_row rows[] = {
    {"reset before the response", "{\"reset_before_response\":1}", PMX_GET, "/version", "token",
     0, 0, PMX_ETRANSPORT, -1, NULL, 1},
    {"reset mid-body", "{\"reset_mid_body\":1}", PMX_GET, "/cluster/resources", "token", 0, 0,
     PMX_ETRANSPORT, -1, NULL, 1},
    {"close mid-body", "{\"close_mid_response\":1}", PMX_GET, "/cluster/resources", "token", 0, 0,
     PMX_ETRANSPORT, -1, NULL, 1},
    {"close after headers", "{\"close_after_headers\":1}", PMX_GET, "/version", "token", 0, 0,
     PMX_ETRANSPORT, -1, NULL, 1},
    {"Content-Length longer than the body", "{\"long_content_length\":1}", PMX_GET, "/version",
     "token", 0, 0, PMX_ETRANSPORT, -1, NULL, 1},
    {"1 byte/s past the timeout", "{\"slow\":1,\"slow_bps\":1}", PMX_GET, "/version", "token",
     1500, 0, PMX_ETIMEOUT, -1, "1500 ms", 1},
    {"body past max_response", "{\"oversize_bytes\":100000}", PMX_GET, "/version", "token", 0, 4096,
     PMX_ETOOBIG, -1, "4096", 1},
    {"invalid JSON with 200", "{\"malformed\":1}", PMX_GET, "/version", "token", 0, 0, PMX_EDECODE,
     200, "malformed", 1},
    {"oversized response header", "{\"header_bytes\":1,\"header_size\":200000}", PMX_GET,
     "/version", "token", 0, 0, PMX_ETOOBIG, -1, "header", 1},
    {"595 from the proxy", "{\"fail_5xx\":1,\"fail_status\":595}", PMX_GET, "/version", "token", 0,
     0, PMX_EHTTP, 595, "No route to host", 1},
    {"596 from the proxy", "{\"fail_5xx\":1,\"fail_status\":596}", PMX_GET, "/version", "token", 0,
     0, PMX_EHTTP, 596, "Connection timed out", 1},
    {"control characters in the reason", "{\"fail_5xx\":1,\"fail_status\":500,\"reason_ctl\":1}",
     PMX_GET, "/version", "token", 0, 0, PMX_EHTTP, 500, "mock fault", 1},
    {"a 401 loop on login", "{\"login_refuse\":-1}", PMX_GET, "/version", "password", 0, 0,
     PMX_EAUTH, -1, "login failed", 0},
};

static pmx_client *row_client(const fault_row *r) {
    pmx_client *c = test_client(&g_mock, r->auth);
    pmx_retry_opts once = PMX_OPTS_INIT(pmx_retry_opts);
    once.max_attempts = 1;
    ck_assert_int_eq(pmx_client_set_retry(c, &once), PMX_OK);
    if (r->max_response)
        ck_assert_int_eq(pmx_client_set_max_response(c, r->max_response), PMX_OK);
    return c;
}

typedef struct once {
    int calls, result;
} once;

static void once_cb(pmx_call *call, int result, void *ud) {
    (void)call;
    once *o = ud;
    o->calls++;
    o->result = result;
}

START_TEST(fault_row_test) {
    const fault_row *r = &rows[_i];
    mock_reset(&g_mock);
    pmx_client *c = row_client(r);
    mock_faults(&g_mock, r->faults);
    once o = {0};
    pmx_call_opts co = PMX_OPTS_INIT(pmx_call_opts);
    co.timeout_ms = r->timeout_ms;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, r->method, r->path, NULL, &co, once_cb, &o, &call), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 60000), PMX_OK);
    ck_assert_msg(o.calls == 1, "%s: %d callbacks", r->name, o.calls);
    ck_assert_msg(o.result == r->expect, "%s: result %d (%s), expected %d", r->name, o.result,
                  pmx_call_error(call), r->expect);
    if (r->status >= 0)
        ck_assert_int_eq(pmx_call_http_status(call), r->status);
    const char *err = pmx_call_error(call);
    ck_assert_ptr_nonnull(err);
    if (r->msg)
        ck_assert_msg(strstr(err, r->msg), "%s: message '%s' lacks '%s'", r->name, err, r->msg);
    for (const char *p = err; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t',
                      "%s: control character in '%s'", r->name, err);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "/api2/json%s", r->path);
    ck_assert_int_eq(mock_count_requests(&g_mock, NULL, prefix), r->requests);
    pmx_call_unref(call);
    /* The client is still fine afterwards. */
    mock_reset(&g_mock);
    if (strcmp(r->auth, "token") == 0) {
        pmx_call *next = NULL;
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &next), PMX_OK);
        ck_assert_int_eq(pmx_call_wait(next), PMX_OK);
        pmx_call_unref(next);
    }
    pmx_client_free(c);
}
END_TEST

START_TEST(wrong_type_for_a_typed_call) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"wrong_type\":1}");
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_version_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EDECODE);
    ck_assert_ptr_null(pmx_call_typed(call));
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(wrong_certificate_mid_run) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    /* A new key under the same CA, and the open connection cut: the pin must catch it. */
    mock_faults(&g_mock, "{\"tls_cert\":\"same_ca\"}");
    ck_assert_int_eq(mock_listener(&g_mock, 0, "drop", 0), 200);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETLS);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "fingerprint mismatch"));
    ck_assert_uint_eq(pmx_call_attempts(call), 1); /* a TLS verdict is never retried */
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(tfa_loop_bounded) {
    mock_reset(&g_mock);
    long before = mock_stat(&g_mock, "tfa_logins");
    long reqs = mock_count_requests(&g_mock, "POST", "/api2/json/access/ticket");
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    char code[7];
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    ck_assert_int_eq(pmx_client_set_tfa_response(c, code), PMX_OK);
    mock_faults(&g_mock, "{\"tfa_loop\":-1}");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EAUTH);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "second factor again"));
    pmx_call_unref(call);
    /* the password, then the one second factor: two logins, no loop */
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", "/api2/json/access/ticket") - reqs, 2);
    ck_assert_int_le(mock_stat(&g_mock, "tfa_logins") - before, 1);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(duplicate_login_members) {
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"login_dup\":1}");
    pmx_client *c = test_client(&g_mock, "password");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK); /* ticket and CSRF token of the last copy */
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static void count_line(pmx_task *t, int64_t n, const char *text, void *ud) {
    (void)t, (void)n, (void)text;
    ++*(int *)ud;
}

START_TEST(task_follow_stale_pages_back_off) {
    /* Every log page repeats old lines: the follow must not spin (the review saw 16,559
     * requests in 5 s); it backs off like for an empty page. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/start", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    mock_faults(&g_mock, "{\"task_log_stale\":-1,\"task_log_dup\":-1,\"task_ms\":60000}");
    pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);
    o.first_interval_ms = 100;
    o.max_interval_ms = 400;
    o.timeout_ms = 3000;
    o.page_lines = 1;
    int lines = 0;
    pmx_task *t = NULL;
    size_t len;
    const char *d = pmx_call_data(call, &len);
    char upid[256];
    snprintf(upid, sizeof upid, "%.*s", (int)len - 2, d + 1);
    long before = mock_count_requests(&g_mock, "GET", NULL);
    ck_assert_int_eq(pmx_task_follow(c, upid, &o, count_line, NULL, &lines, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETIMEOUT);
    long n = mock_count_requests(&g_mock, "GET", NULL) - before;
    ck_assert_msg(n < 60, "%ld requests in 3 s", n);
    pmx_task_unref(t);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static Suite *faults_suite(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("matrix");
    tcase_add_unchecked_fixture(tc, mock_fixture_start_tfa, mock_fixture_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, fault_row_test, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, wrong_type_for_a_typed_call);
    tcase_add_test(tc, wrong_certificate_mid_run);
    tcase_add_test(tc, tfa_loop_bounded);
    tcase_add_test(tc, duplicate_login_members);
    tcase_add_test(tc, task_follow_stale_pages_back_off);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(faults_suite)
