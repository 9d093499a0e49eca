/* The header-only adapters (libevent, libuv) against pve-mock: many calls in flight, a client
 * freed with calls pending, timers (call timeouts, task backoff), attach arguments. */
#include "testutil.h"

#include <event2/event.h>
#include <proxmox/adapters/libevent.h>
#include <proxmox/adapters/libuv.h>
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

/* Five calls with a 250 ms timeout, to a mock that answers after 3 s: only the adapter's timer
 * can end them, on time. */
static void start_doomed_calls(pmx_client *c, tally *t) {
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 250;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, tally_cb, t, NULL),
                         PMX_OK);
}

static void check_doomed_calls(const tally *t, double took) {
    ck_assert_int_eq(t->timedout, 5);
    ck_assert_double_ge(took, 0.2);
    ck_assert_double_lt(took, 2.0);
}

typedef struct freer {
    pmx_client *c;
    pmx_libevent *a;
} freer;

static void free_client_soon(evutil_socket_t fd, short what, void *arg) {
    freer *f = arg;
    (void)fd;
    (void)what;
    pmx_libevent_detach(f->a); /* detach, then free (a free alone would do) */
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

/* libevent's memory, counted: blocks carry a tag so that one allocated before the count began
 * (another test in the same process) is freed as it was made. */
#define TAG 0x6c6962657674ULL
static long g_ev_live;

static void *ev_malloc(size_t n) {
    uint64_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = TAG;
    g_ev_live++;
    return p + 2;
}

static void ev_free(void *q) {
    if (!q)
        return;
    uint64_t *p = (uint64_t *)q - 2;
    if (p[0] != TAG) {
        free(q);
        return;
    }
    p[0] = 0;
    g_ev_live--;
    free(p);
}

static void *ev_realloc(void *q, size_t n) {
    if (!q)
        return ev_malloc(n);
    uint64_t *p = (uint64_t *)q - 2;
    if (p[0] != TAG)
        return realloc(q, n);
    uint64_t *r = realloc(p, n + 16);
    return r ? r + 2 : NULL;
}

typedef struct first_frees {
    pmx_client *c; /* freed by the first callback */
    int done, destroyed;
} first_frees;

static void free_client_on_first(pmx_call *call, int result, void *ud) {
    first_frees *f = ud;
    (void)call;
    f->done++;
    f->destroyed += result == PMX_EDESTROYED;
    if (f->c) {
        pmx_client *c = f->c;
        f->c = NULL;
        pmx_client_free(c); /* no detach: the adapter goes with the client */
    }
}

START_TEST(libevent_client_freed_from_callback) {
    /* The first call done frees the client while others are in flight: the adapter frees its
     * events and itself with the client (it was leaked, or, detached as its header asked, read
     * the freed client: ASan). */
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
    g_ev_live = 0;
    struct event_base *base = event_base_new();
    first_frees f = {test_client(&g_mock, "token"), 0, 0};
    pmx_libevent *a = NULL;
    ck_assert_int_eq(pmx_libevent_attach(f.c, base, &a), PMX_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(pmx_call_start(f.c, PMX_GET, "/cluster/resources", NULL,
                                        free_client_on_first, &f, NULL),
                         PMX_OK);
    ck_assert_int_eq(event_base_dispatch(base), 1); /* nothing left to watch */
    ck_assert_ptr_null(f.c);
    ck_assert_int_eq(f.done, 6);
    ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
    ck_assert_int_eq(g_ev_live, 0); /* the adapter's events went with it */
    event_set_mem_functions(malloc, realloc, free);
}
END_TEST

START_TEST(libevent_timer_fires_call_timeouts) {
    mock_faults(&g_mock, "{\"latency_ms\": 3000}");
    struct event_base *base = event_base_new();
    pmx_client *c = test_client(&g_mock, "token");
    pmx_libevent *a = NULL;
    ck_assert_int_eq(pmx_libevent_attach(c, base, &a), PMX_OK);
    tally t = {0};
    start_doomed_calls(c, &t);
    double t0 = now_s();
    event_base_dispatch(base);
    double took = now_s() - t0;
    check_doomed_calls(&t, took);
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

/* ---- libuv ---------------------------------------------------------------------------- */

/* Every handle closed: the adapter freed itself, nothing left on the loop. */
static void finish_loop(uv_loop_t *loop) {
    ck_assert_int_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(libuv_many_calls_in_flight) {
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_client *c = test_client(&g_mock, "password");
    pmx_libuv *a = NULL;
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, &a), PMX_OK);
    ck_assert_ptr_nonnull(a);
    tally t = {0};
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, i % 2 ? "/nodes" : "/version", NULL, tally_cb,
                                        &t, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_pending(c), 500);
    /* uv_run returns once nothing is left to watch: every call done */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.done, 500);
    ck_assert_int_eq(t.ok, 500);
    ck_assert_int_eq(pmx_client_pending(c), 0);
    /* again, on the warm connections */
    for (int i = 0; i < 50; i++)
        pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.ok, 550);
    pmx_client_free(c); /* the adapter detaches itself */
    finish_loop(&loop);
}
END_TEST

static void free_client_soon_uv(uv_timer_t *timer) {
    pmx_client_free((pmx_client *)timer->data);
    uv_close((uv_handle_t *)timer, NULL);
}

START_TEST(libuv_client_freed_with_calls_pending) {
    mock_faults(&g_mock, "{\"latency_ms\": 2000}");
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, NULL), PMX_OK);
    tally t = {0};
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL), PMX_OK);
    /* free the client from the loop while every call waits for its answer */
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = c;
    uv_timer_start(&timer, free_client_soon_uv, 200, 0);
    double t0 = now_s();
    finish_loop(&loop); /* no handle of the adapter is left behind */
    ck_assert_double_lt(now_s() - t0, 1.5);
    ck_assert_int_eq(t.done, 40);
    ck_assert_int_eq(t.destroyed, 40);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(libuv_timer_fires_call_timeouts) {
    mock_faults(&g_mock, "{\"latency_ms\": 3000}");
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, NULL), PMX_OK);
    tally t = {0};
    start_doomed_calls(c, &t);
    double t0 = now_s();
    uv_run(&loop, UV_RUN_DEFAULT);
    double took = now_s() - t0;
    check_doomed_calls(&t, took);
    mock_reset(&g_mock);
    pmx_client_free(c);
    finish_loop(&loop);
}
END_TEST

typedef struct waited {
    int result;
    int runs;
} waited;

static void task_done(pmx_task *task, int result, void *ud) {
    waited *w = ud;
    (void)task;
    w->result = result;
    w->runs++;
}

static void started(pmx_call *call, int result, void *ud) {
    ck_assert_int_eq(result, PMX_OK);
    pmx_task_opts o = PMX_OPTS_INIT(pmx_task_opts);
    o.first_interval_ms = 40;
    o.max_interval_ms = 80;
    ck_assert_int_eq(pmx_task_wait_call(pmx_call_client(call), call, &o, task_done, ud, NULL),
                     PMX_OK);
}

START_TEST(libuv_timer_drives_task_backoff) {
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, NULL), PMX_OK);
    waited w = {0, 0};
    pmx_params *p = pmx_params_new();
    pmx_params_set_int(p, "vmid", 4242);
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu", p, started, &w, NULL),
                     PMX_OK);
    pmx_params_free(p);
    uv_run(&loop, UV_RUN_DEFAULT); /* the mock's task runs 300 ms: several timed polls */
    ck_assert_int_eq(w.runs, 1);
    ck_assert_int_eq(w.result, PMX_OK);
    pmx_client_free(c);
    finish_loop(&loop);
}
END_TEST

START_TEST(libuv_detach_and_attach_again) {
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_libuv *a = NULL;
    tally t = {0};
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, &a), PMX_OK);
    pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    pmx_libuv_detach(a);
    uv_run(&loop, UV_RUN_DEFAULT); /* closes the first adapter's handles */
    /* the built-in loop drives the client now */
    pmx_call *call;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_libuv_attach(c, &loop, &a), PMX_OK);
    pmx_call_start(c, PMX_GET, "/nodes", NULL, tally_cb, &t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.ok, 3);
    pmx_libuv_detach(a);
    pmx_client_free(c);
    finish_loop(&loop);
}
END_TEST

START_TEST(libuv_attach_arguments) {
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pmx_libuv *a = NULL;
    ck_assert_int_eq(pmx_libuv_attach(NULL, &loop, &a), PMX_EINVAL);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_libuv_attach(c, NULL, &a), PMX_EINVAL);
    ck_assert_ptr_null(a);
    pmx_libuv_detach(NULL);
    pmx_client_free(c);
    finish_loop(&loop);
}
END_TEST

static Suite *adapters_suite(void) {
    Suite *s = suite_create("adapters");
    TCase *tc = tcase_create("libevent");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, libevent_drives_calls);
    tcase_add_test(tc, libevent_client_freed_with_calls_pending);
    tcase_add_test(tc, libevent_client_freed_from_callback);
    tcase_add_test(tc, libevent_timer_fires_call_timeouts);
    tcase_add_test(tc, libevent_attach_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("libuv");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, libuv_many_calls_in_flight);
    tcase_add_test(tc, libuv_client_freed_with_calls_pending);
    tcase_add_test(tc, libuv_timer_fires_call_timeouts);
    tcase_add_test(tc, libuv_timer_drives_task_backoff);
    tcase_add_test(tc, libuv_detach_and_attach_again);
    tcase_add_test(tc, libuv_attach_arguments);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(adapters_suite)
