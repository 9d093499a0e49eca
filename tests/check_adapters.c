/* The header-only libevent adapter, against pve-mock. */
#include "testutil.h"

#include <event2/event.h>
#include <proxmox/adapters/libevent.h>

typedef struct tally {
    int done, ok;
} tally;

static void tally_cb(pmx_call *call, int result, void *ud) {
    tally *t = ud;
    (void)call;
    t->done++;
    t->ok += result == PMX_OK;
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
    tcase_add_test(tc, libevent_attach_arguments);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(adapters_suite)
