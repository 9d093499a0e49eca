/* The header-only libevent adapter, against pve-mock. */
#include "testutil.h"

#include <event2/event.h>
#include <proxmox/adapters/libevent.h>
#include <time.h>

typedef struct tally {
    int done, ok, destroyed, timedout;
} tally;

static void tally_cb(pmx_call *call, int result, void *ud) {
    tally *t = ud;
    (void)call;
    t->done++;
    t->ok += result == PMX_OK;
    t->destroyed += result == PMX_EDESTROYED;
    t->timedout += result == PMX_ETIMEOUT;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(libevent_drives_calls) {
    struct event_base *base = event_base_new();
    pmx_client *c = test_client(&g_mock, "password");
    pmx_libevent *a = NULL;
    ck_assert_int_eq(pmx_libevent_attach(c, base, &a), PMX_OK);
    tally t = {0};
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, i % 2 ? "/nodes" : "/version", NULL, tally_cb,
                                        &t, NULL), PMX_OK);
    /* libevent's loop runs until no event is left: all calls done, nothing watched. */
    ck_assert_int_eq(event_base_dispatch(base), 1);
    ck_assert_int_eq(t.done, 50);
    ck_assert_int_eq(t.ok, 50);
    ck_assert_int_eq(pmx_client_pending(c), 0);
    /* and again, on the warm connections */
    for (int i = 0; i < 10; i++)
        pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL);
    event_base_dispatch(base);
    ck_assert_int_eq(t.ok, 60);
    pmx_libevent_detach(a);
    pmx_client_free(c);
    event_base_free(base);
}
END_TEST

typedef struct freer {
    pmx_client *c;
    pmx_libevent *a;
} freer;

static void free_client_soon(evutil_socket_t fd, short what, void *arg) {
    freer *f = arg;
    (void)fd;
    (void)what;
    pmx_libevent_detach(f->a); /* the adapter's contract: detach, then free */
    pmx_client_free(f->c);
}

START_TEST(libevent_client_freed_with_calls_pending) {
    mock_faults(&g_mock, "{\"latency_ms\": 2000}");
    struct event_base *base = event_base_new();
    pmx_client *c = test_client(&g_mock, "token");
    freer f = {c, NULL};
    ck_assert_int_eq(pmx_libevent_attach(c, base, &f.a), PMX_OK);
    tally t = {0};
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL), PMX_OK);
    struct timeval tv = {0, 200000};
    struct event *ev = evtimer_new(base, free_client_soon, &f);
    evtimer_add(ev, &tv);
    double t0 = now_s();
    ck_assert_int_eq(event_base_dispatch(base), 1); /* nothing left to watch */
    ck_assert_double_lt(now_s() - t0, 1.5);
    ck_assert_int_eq(t.done, 40);
    ck_assert_int_eq(t.destroyed, 40);
    event_free(ev);
    event_base_free(base);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(libevent_timer_fires_call_timeouts) {
    mock_faults(&g_mock, "{\"latency_ms\": 3000}");
    struct event_base *base = event_base_new();
    pmx_client *c = test_client(&g_mock, "token");
    pmx_libevent *a = NULL;
    ck_assert_int_eq(pmx_libevent_attach(c, base, &a), PMX_OK);
    tally t = {0};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 250;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, tally_cb, &t, NULL),
                         PMX_OK);
    double t0 = now_s();
    event_base_dispatch(base);
    double took = now_s() - t0;
    ck_assert_int_eq(t.timedout, 5);
    ck_assert_double_ge(took, 0.2);
    ck_assert_double_lt(took, 2.0);
    mock_reset(&g_mock);
    pmx_libevent_detach(a);
    pmx_client_free(c);
    event_base_free(base);
}
END_TEST

START_TEST(libevent_attach_arguments) {
    pmx_libevent *a = NULL;
    ck_assert_int_eq(pmx_libevent_attach(NULL, NULL, &a), PMX_EINVAL);
    pmx_libevent_detach(NULL);
}
END_TEST

static Suite *adapters_suite(void) {
    Suite *s = suite_create("adapters");
    TCase *tc = tcase_create("libevent");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, libevent_drives_calls);
    tcase_add_test(tc, libevent_client_freed_with_calls_pending);
    tcase_add_test(tc, libevent_timer_fires_call_timeouts);
    tcase_add_test(tc, libevent_attach_arguments);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(adapters_suite)
