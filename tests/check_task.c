/* Task waits, log follows and stops against pve-mock. Timing is checked through the recorded
 * backoff intervals, never through wall-clock speed. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const k_bad_upid = "UPID:pve1:0000000X:00000000:00000000:qmstart:100:root@pam:";

/* Start a VM action on pve1 and return its UPID (malloc'd). */
static char *start_task(pmx_client *c, int vmid, const char *action) {
    char path[128];
    snprintf(path, sizeof path, "/nodes/pve1/qemu/%d/status/%s", vmid, action);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, path, NULL, NULL, NULL, &call), PMX_OK);
    int r = pmx_call_wait(call);
    ck_assert_msg(r == PMX_OK, "POST %s: %s", path, pmx_call_error(call));
    size_t len = 0;
    const char *d = pmx_call_data(call, &len);
    ck_assert_ptr_nonnull(d);
    cJSON *j = cJSON_ParseWithLength(d, len);
    ck_assert_msg(cJSON_IsString(j), "data is not a string");
    char *upid = strdup(j->valuestring);
    cJSON_Delete(j);
    pmx_call_unref(call);
    ck_assert_int_eq(strncmp(upid, "UPID:pve1:", 10), 0);
    return upid;
}

static pmx_task_opts fast_opts(void) {
    pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);
    o.first_interval_ms = 20;
    o.factor = 2;
    o.max_interval_ms = 160;
    return o;
}

/* The recorded intervals follow first * factor^i, capped. */
static void check_backoff(const pmx_task *t, int64_t first, double factor, int64_t cap) {
    size_t n = pmx_task_interval_count(t);
    int64_t want = first;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(pmx_task_interval(t, i) == want, "interval %zu: %lld, want %lld", i,
                      (long long)pmx_task_interval(t, i), (long long)want);
        double next = (double)want * factor;
        want = next >= (double)cap ? cap : (int64_t)(next + 0.5);
    }
    ck_assert_int_eq(pmx_task_interval(t, n), -1);
}

static void setup(void) { mock_reset(&g_mock); }

typedef struct done_rec {
    int calls;
    int result;
    int in_start; /* set while the starting function runs */
    int called_in_start;
    pmx_client *free_client; /* free this client from the callback */
} done_rec;

static void on_done(pmx_task *t, int result, void *ud) {
    done_rec *d = ud;
    d->calls++;
    d->result = result;
    if (d->in_start)
        d->called_in_start = 1;
    ck_assert_int_eq(pmx_task_result(t), result);
    if (d->free_client) {
        pmx_client_free(d->free_client);
        d->free_client = NULL;
    }
}

START_TEST(task_wait_ok_backoff) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_result(t), PMX_EPENDING);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "OK");
    ck_assert_int_eq(pmx_task_warnings(t), 0);
    ck_assert_ptr_null(pmx_task_error(t));
    ck_assert_str_eq(pmx_task_upid(t), upid);
    /* a 300 ms task is seen running at least once */
    ck_assert_uint_ge(pmx_task_polls(t), 2);
    ck_assert_uint_eq(pmx_task_interval_count(t), pmx_task_polls(t) - 1);
    check_backoff(t, 20, 2, 160);
    ck_assert_int_eq(pmx_task_log_count(t), 0);
    /* waiting again on a finished task returns its result */
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_defaults) {
    /* Default options: 1000 ms first interval, doubling. */
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, NULL, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    ck_assert_uint_ge(pmx_task_polls(t), 2); /* normally 2: running, then stopped */
    ck_assert_uint_eq(pmx_task_interval_count(t), pmx_task_polls(t) - 1);
    ck_assert_int_eq(pmx_task_interval(t, 0), 1000);
    check_backoff(t, 1000, 2, 30000);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_callback_async) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    done_rec d = {0};
    d.in_start = 1;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, on_done, &d, NULL), PMX_OK);
    d.in_start = 0;
    ck_assert_int_eq(d.calls, 0);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.called_in_start, 0);
    ck_assert_int_eq(d.result, PMX_OK);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_warnings) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_exitstatus\":\"WARNINGS: 2\"}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "WARNINGS: 2");
    ck_assert_int_eq(pmx_task_warnings(t), 2);
    ck_assert_ptr_null(pmx_task_error(t));
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_failure_log_tail) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_exitstatus\":\"disk full\",\"task_ms\":1000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    o.log_lines = 3;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETASK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "disk full");
    ck_assert_str_eq(pmx_task_error(t), "disk full");
    ck_assert_int_eq(pmx_task_warnings(t), 0);
    /* the log: "starting task", progress lines, "TASK ERROR: disk full" (more than 3) */
    ck_assert_uint_eq(pmx_task_log_count(t), 3);
    int64_t n0 = 0, n2 = 0;
    pmx_task_log_line(t, 0, &n0);
    const char *last = pmx_task_log_line(t, 2, &n2);
    ck_assert_str_eq(last, "TASK ERROR: disk full");
    ck_assert_int_eq(n2, n0 + 2);
    ck_assert_int_gt(n0, 1);
    ck_assert_ptr_null(pmx_task_log_line(t, 3, NULL));
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_failure_short_log) {
    /* Default tail of 20 lines holds the whole short log, numbered from 1. */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_exitstatus\":\"VM 100 not running\"}");
    char *upid = start_task(c, 100, "stop");
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETASK);
    size_t n = pmx_task_log_count(t);
    ck_assert_uint_ge(n, 2);
    ck_assert_uint_le(n, 20);
    int64_t ln = 0;
    ck_assert_ptr_nonnull(pmx_task_log_line(t, 0, &ln));
    ck_assert_int_eq(ln, 1);
    ck_assert_str_eq(pmx_task_log_line(t, n - 1, NULL), "TASK ERROR: VM 100 not running");
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_deadline) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    o.timeout_ms = 150;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETIMEOUT);
    ck_assert_ptr_null(pmx_task_exitstatus(t));
    ck_assert_ptr_nonnull(pmx_task_error(t));
    /* never slept past the deadline: the sleeps add up to less than the timeout */
    int64_t sum = 0;
    size_t n = pmx_task_interval_count(t);
    ck_assert_uint_ge(n, 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_le(pmx_task_interval(t, i), 160);
        sum += pmx_task_interval(t, i);
    }
    ck_assert_int_le(sum, 150);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_tiny_deadline) {
    /* A deadline that passes before the first answer: the start still succeeds and the
     * result comes through the callback. */
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    o.timeout_ms = 1;
    done_rec d = {0};
    d.in_start = 1;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, on_done, &d, NULL), PMX_OK);
    d.in_start = 0;
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.called_in_start, 0);
    ck_assert_int_eq(d.result, PMX_ETIMEOUT);
    free(upid);
    pmx_client_free(c);
}
END_TEST

static void check_transient(const char *faults) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    mock_faults(&g_mock, faults);
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "OK");
    ck_assert_uint_ge(pmx_task_polls(t), 4); /* three failures, then answers */
    ck_assert_uint_eq(pmx_task_interval_count(t), pmx_task_polls(t) - 1);
    check_backoff(t, 20, 2, 160);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}

START_TEST(task_wait_retries_500) { check_transient("{\"fail_5xx\":3}"); }
END_TEST

START_TEST(task_wait_retries_595_596_599) {
    check_transient("{\"fail_5xx\":3,\"fail_status\":596}");
    mock_reset(&g_mock);
    check_transient("{\"fail_5xx\":3,\"fail_status\":595}");
    mock_reset(&g_mock);
    check_transient("{\"fail_5xx\":3,\"fail_status\":599}");
}
END_TEST

START_TEST(task_wait_retries_transport) { check_transient("{\"close_mid_response\":3}"); }
END_TEST

START_TEST(task_wait_max_retries) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    mock_faults(&g_mock, "{\"fail_5xx\":10}");
    pmx_task_opts o = fast_opts();
    o.max_retries = 2;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EHTTP);
    ck_assert_int_eq(pmx_task_http_status(t), 500);
    ck_assert_uint_eq(pmx_task_polls(t), 3);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_4xx_ends) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":403}");
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EPERM);
    ck_assert_int_eq(pmx_task_http_status(t), 403);
    ck_assert_uint_eq(pmx_task_polls(t), 1);
    ck_assert_ptr_nonnull(pmx_task_error(t));
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_auth_error_ends) {
    pmx_client *good = test_client(&g_mock, "token");
    char *upid = start_task(good, 101, "stop");
    pmx_client_free(good);
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, g_mock.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, g_mock.fingerprint), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, "nobody@pve!x=00000000-0000-0000-0000-000000000000"),
                     PMX_OK);
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EAUTH);
    ck_assert_int_eq(pmx_task_http_status(t), 401);
    ck_assert_uint_eq(pmx_task_polls(t), 1);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_cancel_while_polling) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    done_rec d = {0};
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, NULL, on_done, &d, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK); /* the first request is in flight */
    ck_assert_int_eq(d.calls, 0);                /* never inside cancel */
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ECANCELLED);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.result, PMX_ECANCELLED);
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK); /* finished: left alone */
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(d.calls, 1);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_cancel_while_sleeping) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    done_rec d = {0};
    pmx_task_opts o = fast_opts();
    o.first_interval_ms = 60000; /* the sleep after the first answer lasts a minute */
    o.max_interval_ms = 60000;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, on_done, &d, &t), PMX_OK);
    while (pmx_task_interval_count(t) == 0)
        ck_assert_int_ne(pmx_client_run(c, 10), PMX_ERECURSIVE);
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK);
    ck_assert_int_eq(d.calls, 0);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK); /* returns: the minute's timer is gone */
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.result, PMX_ECANCELLED);
    ck_assert_uint_eq(pmx_task_polls(t), 1);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_client_freed_while_sleeping) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    done_rec d = {0};
    pmx_task_opts o = fast_opts();
    o.first_interval_ms = 60000;
    o.max_interval_ms = 60000;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, on_done, &d, &t), PMX_OK);
    while (pmx_task_interval_count(t) == 0)
        pmx_client_run(c, 10);
    pmx_client_free(c);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.result, PMX_EDESTROYED);
    ck_assert_int_eq(pmx_task_result(t), PMX_EDESTROYED);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EDESTROYED); /* no client needed */
    pmx_task_unref(t);
    free(upid);
}
END_TEST

START_TEST(task_client_freed_while_polling) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    done_rec d = {0};
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, NULL, on_done, &d, &t), PMX_OK);
    pmx_client_free(c);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.result, PMX_EDESTROYED);
    pmx_task_unref(t);
    free(upid);
}
END_TEST

START_TEST(task_client_freed_from_callback) {
    /* Two waits on a long task; the first to end (its deadline) frees the client from its
     * callback: the other ends with PMX_EDESTROYED. */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o1 = fast_opts(), o2 = fast_opts();
    o1.timeout_ms = 100;
    done_rec d1 = {0}, d2 = {0};
    d1.free_client = c;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o1, on_done, &d1, NULL), PMX_OK);
    ck_assert_int_eq(pmx_task_wait(c, upid, &o2, on_done, &d2, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(d1.calls, 1);
    ck_assert_int_eq(d1.result, PMX_ETIMEOUT);
    ck_assert_int_eq(d2.calls, 1);
    ck_assert_int_eq(d2.result, PMX_EDESTROYED);
    free(upid);
}
END_TEST

typedef struct rec_ctx {
    pmx_task *other;
    int got;
} rec_ctx;

static void wait_inside(pmx_task *t, int result, void *ud) {
    rec_ctx *r = ud;
    (void)t;
    (void)result;
    r->got = pmx_task_wait_sync(r->other);
}

START_TEST(task_wait_sync_recursive) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts(), o1 = fast_opts();
    o1.timeout_ms = 50;
    rec_ctx r = {0};
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &r.other), PMX_OK);
    ck_assert_int_eq(pmx_task_wait(c, upid, &o1, wait_inside, &r, NULL), PMX_OK);
    while (r.got == 0)
        ck_assert_int_ne(pmx_client_run(c, 10), PMX_ERECURSIVE);
    ck_assert_int_eq(r.got, PMX_ERECURSIVE);
    ck_assert_int_eq(pmx_task_result(r.other), PMX_EPENDING);
    ck_assert_int_eq(pmx_task_cancel(r.other), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(r.other), PMX_ECANCELLED);
    pmx_task_unref(r.other);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_unref_before_done) {
    pmx_client *c = test_client(&g_mock, "token");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    done_rec d = {0};
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, on_done, &d, &t), PMX_OK);
    pmx_task_unref(t); /* the wait goes on */
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.result, PMX_OK);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_bad_arguments) {
    pmx_client *c = test_client(&g_mock, "token");
    done_rec d = {0};
    pmx_task *t = (pmx_task *)1;
    const char *ok = "UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:";
    ck_assert_int_eq(pmx_task_wait(c, k_bad_upid, NULL, on_done, &d, &t), PMX_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(pmx_task_wait(NULL, ok, NULL, on_done, &d, &t), PMX_EINVAL);
    ck_assert_int_eq(pmx_task_wait(c, NULL, NULL, on_done, &d, &t), PMX_EINVAL);
    pmx_task_opts o = fast_opts();
    o.factor = 0.5;
    ck_assert_int_eq(pmx_task_wait(c, ok, &o, on_done, &d, &t), PMX_EINVAL);
    o = fast_opts();
    o.flags = 1;
    ck_assert_int_eq(pmx_task_wait(c, ok, &o, on_done, &d, &t), PMX_EINVAL);
    o = fast_opts();
    o.max_interval_ms = 10; /* below the first interval */
    ck_assert_int_eq(pmx_task_wait(c, ok, &o, on_done, &d, &t), PMX_EINVAL);
    o = fast_opts();
    o.timeout_ms = -1;
    ck_assert_int_eq(pmx_task_follow(c, ok, &o, NULL, on_done, &d, &t), PMX_EINVAL);
    ck_assert_int_eq(pmx_task_stop(c, k_bad_upid, NULL, NULL, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_run(c, 0), PMX_OK); /* nothing was started */
    ck_assert_int_eq(d.calls, 0);
    ck_assert_int_eq(pmx_task_cancel(NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_task_wait_sync(NULL), PMX_EINVAL);
    pmx_task_unref(NULL);
    ck_assert_int_eq(pmx_task_result(NULL), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(task_unknown_task_fails_at_once) {
    /* The request path escapes the UPID: the mock finds the task by the decoded value. A
     * well-formed UPID of no task is refused as PVE's read_task_status refuses it: 400
     * "Parameter verification failed.", errors.upid "no such task". A 4xx ends the wait at
     * once, with the server's message: the task's log file exists before its UPID is returned
     * (fork_worker), so it will not appear later and there is nothing to retry. */
    pmx_client *c = test_client(&g_mock, "token");
    pmx_task_opts o = fast_opts();
    o.timeout_ms = 10000;
    long before = mock_count_requests(&g_mock, "GET", "/api2/json/nodes/pve1/tasks/");
    int64_t t0 = now_ms();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, "UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:",
                                   &o, NULL, NULL, &t),
                     PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EHTTP);
    ck_assert_int_eq(pmx_task_http_status(t), 400);
    /* the server's message and its per-parameter detail (errors.upid) */
    ck_assert_str_eq(pmx_task_error(t), "Parameter verification failed. (upid: no such task)");
    ck_assert_int_lt(now_ms() - t0, 5000); /* not the 10 s deadline */
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/nodes/pve1/tasks/") - before,
                     1);
    pmx_task_unref(t);
    pmx_client_free(c);
}
END_TEST

typedef struct follow_rec {
    int64_t next;
    int lines;
    int bad_order;
    char last[256];
    int cancel_after;
} follow_rec;

static void on_line(pmx_task *t, int64_t n, const char *text, void *ud) {
    follow_rec *f = ud;
    if (n != f->next + 1)
        f->bad_order = 1;
    f->next = n;
    f->lines++;
    snprintf(f->last, sizeof f->last, "%s", text);
    if (f->cancel_after && f->lines == f->cancel_after)
        pmx_task_cancel(t);
}

static void follow_case(int page, const char *exitstatus, int want) {
    pmx_client *c = test_client(&g_mock, "token");
    char faults[128];
    snprintf(faults, sizeof faults, "{\"task_ms\":1000,\"task_exitstatus\":\"%s\"}", exitstatus);
    mock_faults(&g_mock, faults);
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    o.page_lines = page;
    o.log_lines = 2;
    follow_rec f = {0};
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_follow(c, upid, &o, on_line, NULL, &f, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), want);
    ck_assert_int_eq(f.bad_order, 0);
    ck_assert_int_ge(f.lines, 6); /* starting, 4 progress lines, TASK ... */
    if (want == PMX_OK)
        ck_assert_str_eq(f.last, "TASK OK");
    else {
        char w[128];
        snprintf(w, sizeof w, "TASK ERROR: %s", exitstatus);
        ck_assert_str_eq(f.last, w);
    }
    ck_assert_uint_eq(pmx_task_log_count(t), 2);
    int64_t n = 0;
    ck_assert_str_eq(pmx_task_log_line(t, 1, &n), f.last);
    ck_assert_int_eq(n, f.next);
    ck_assert_uint_ge(pmx_task_polls(t), 2);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}

START_TEST(task_follow_log) { follow_case(0, "OK", PMX_OK); }
END_TEST

START_TEST(task_follow_small_pages) { follow_case(2, "OK", PMX_OK); }
END_TEST

START_TEST(task_follow_failure) { follow_case(0, "bad thing", PMX_ETASK); }
END_TEST

START_TEST(task_follow_cancel_from_line) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    follow_rec f = {0};
    f.cancel_after = 2;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_follow(c, upid, &o, on_line, NULL, &f, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ECANCELLED);
    ck_assert_int_eq(f.lines, 2);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_stop_running) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_task_stop(c, upid, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETASK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "interrupted by signal");
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

typedef struct chain_ctx {
    pmx_client *c;
    int started;
    done_rec d;
} chain_ctx;

static void on_post_done(pmx_call *call, int result, void *ud) {
    chain_ctx *x = ud;
    ck_assert_int_eq(result, PMX_OK);
    pmx_task_opts o = fast_opts();
    x->started = pmx_task_wait_call(x->c, call, &o, on_done, &x->d, NULL);
}

START_TEST(task_wait_call_chain) {
    pmx_client *c = test_client(&g_mock, "token");
    chain_ctx x = {0};
    x.c = c;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL,
                                    on_post_done, &x, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_task_wait_call(c, call, NULL, NULL, NULL, NULL), PMX_EPENDING);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(x.started, PMX_OK);
    ck_assert_int_eq(x.d.calls, 1);
    ck_assert_int_eq(x.d.result, PMX_OK);
    /* after the callback, from the program: same task, already stopped */
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait_call(c, call, NULL, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    ck_assert_uint_eq(pmx_task_polls(t), 1);
    pmx_task_unref(t);
    pmx_call_unref(call);
    /* a call whose data is no UPID */
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_call(c, call, NULL, NULL, NULL, &t), PMX_EDECODE);
    ck_assert_ptr_null(t);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

enum { MANY = 500 };

typedef struct many_ctx {
    char *upids[MANY];
    int n_upids;
    int done, ok;
} many_ctx;

static void on_started(pmx_call *call, int result, void *ud) {
    many_ctx *m = ud;
    ck_assert_msg(result == PMX_OK, "start: %s", pmx_call_error(call));
    size_t len = 0;
    const char *d = pmx_call_data(call, &len);
    cJSON *j = cJSON_ParseWithLength(d, len);
    ck_assert(cJSON_IsString(j));
    m->upids[m->n_upids++] = strdup(j->valuestring);
    cJSON_Delete(j);
}

static void on_many_done(pmx_task *t, int result, void *ud) {
    many_ctx *m = ud;
    m->done++;
    if (result == PMX_OK && strcmp(pmx_task_exitstatus(t), "OK") == 0)
        m->ok++;
}

START_TEST(task_wait_500_at_once) {
    pmx_client *c = test_client(&g_mock, "token");
    static many_ctx m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL,
                                        on_started, &m, NULL),
                         PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(m.n_upids, MANY);
    pmx_task_opts o = fast_opts();
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(pmx_task_wait(c, m.upids[i], &o, on_many_done, &m, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, -1), PMX_OK);
    ck_assert_int_eq(m.done, MANY);
    ck_assert_int_eq(m.ok, MANY);
    for (int i = 0; i < MANY; i++)
        free(m.upids[i]);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_failed_log_keeps_failing) {
    /* The task failed; its log answers 500 for ever. The result is known: the wait ends with
     * it after a few tries of the log (it retried the log for ever, with no limit set). */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_exitstatus\":\"some error\"}");
    char *upid = start_task(c, 101, "start");
    char faults[512];
    snprintf(faults, sizeof faults,
             "{\"fail_5xx\":-1,\"fail_status\":500,\"match_path\":\"/nodes/pve1/tasks/%s/log\"}",
             upid);
    mock_faults(&g_mock, faults);
    pmx_task_opts o = fast_opts();
    o.timeout_ms = 20000; /* (only so that the old behaviour fails instead of hanging) */
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ETASK);
    ck_assert_str_eq(pmx_task_exitstatus(t), "some error");
    ck_assert_uint_eq(pmx_task_log_count(t), 0);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_sync_in_forked_child) {
    /* The client cannot run in a child after fork(): the wait says so instead of spinning. */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = fast_opts();
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 50), PMX_ETIMEOUT); /* (still waiting) */
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL); /* (not the handler inherited from Check's runner) */
        alarm(20);
        _exit(pmx_task_wait_sync(t) == PMX_EFORKED ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %d", st);
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ECANCELLED);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

START_TEST(task_wait_huge_interval) {
    /* An interval as long as the options allow: the due time saturates (UBSan: overflow). */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"task_ms\":10000}");
    char *upid = start_task(c, 101, "stop");
    pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);
    o.first_interval_ms = INT64_MAX;
    o.max_interval_ms = INT64_MAX;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait(c, upid, &o, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 200), PMX_ETIMEOUT);
    ck_assert_int_eq(pmx_task_result(t), PMX_EPENDING);
    ck_assert_int_eq(pmx_task_interval(t, 0), INT64_MAX);
    ck_assert_int_eq(pmx_task_cancel(t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_ECANCELLED);
    pmx_task_unref(t);
    free(upid);
    pmx_client_free(c);
}
END_TEST

static Suite *task_suite(void) {
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, task_wait_ok_backoff);
    tcase_add_test(tc, task_wait_defaults);
    tcase_add_test(tc, task_wait_callback_async);
    tcase_add_test(tc, task_wait_warnings);
    tcase_add_test(tc, task_wait_failure_log_tail);
    tcase_add_test(tc, task_wait_failure_short_log);
    tcase_add_test(tc, task_wait_deadline);
    tcase_add_test(tc, task_wait_tiny_deadline);
    tcase_add_test(tc, task_wait_retries_500);
    tcase_add_test(tc, task_wait_retries_595_596_599);
    tcase_add_test(tc, task_wait_retries_transport);
    tcase_add_test(tc, task_wait_max_retries);
    tcase_add_test(tc, task_wait_4xx_ends);
    tcase_add_test(tc, task_wait_auth_error_ends);
    tcase_add_test(tc, task_cancel_while_polling);
    tcase_add_test(tc, task_cancel_while_sleeping);
    tcase_add_test(tc, task_client_freed_while_sleeping);
    tcase_add_test(tc, task_client_freed_while_polling);
    tcase_add_test(tc, task_client_freed_from_callback);
    tcase_add_test(tc, task_wait_sync_recursive);
    tcase_add_test(tc, task_unref_before_done);
    tcase_add_test(tc, task_bad_arguments);
    tcase_add_test(tc, task_unknown_task_fails_at_once);
    tcase_add_test(tc, task_follow_log);
    tcase_add_test(tc, task_follow_small_pages);
    tcase_add_test(tc, task_follow_failure);
    tcase_add_test(tc, task_follow_cancel_from_line);
    tcase_add_test(tc, task_stop_running);
    tcase_add_test(tc, task_wait_call_chain);
    tcase_add_test(tc, task_wait_500_at_once);
    tcase_add_test(tc, task_wait_failed_log_keeps_failing);
    tcase_add_test(tc, task_wait_sync_in_forked_child);
    tcase_add_test(tc, task_wait_huge_interval);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(task_suite)
