/* UPID parsing and formatting: no server needed. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void roundtrip(const char *s) {
    pmx_upid *u = NULL;
    char *err = NULL;
    int r = pmx_upid_parse(s, &u, &err);
    ck_assert_msg(r == PMX_OK, "%s: %s", s, err ? err : "?");
    ck_assert_ptr_null(err);
    char *back = NULL;
    ck_assert_int_eq(pmx_upid_format(u, &back), PMX_OK);
    ck_assert_str_eq(back, s);
    pmx_free(back);
    pmx_upid_free(u);
}

static void bad(const char *s, const char *want_in_msg) {
    pmx_upid *u = (pmx_upid *)1;
    char *err = NULL;
    ck_assert_int_eq(pmx_upid_parse(s, &u, &err), PMX_EINVAL);
    ck_assert_ptr_null(u);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "malformed UPID") && strstr(err, want_in_msg), "%s -> %s", s, err);
    pmx_free(err);
    /* err is optional */
    ck_assert_int_eq(pmx_upid_parse(s, &u, NULL), PMX_EINVAL);
}

START_TEST(upid_parse_fields) {
    pmx_upid *u = NULL;
    ck_assert_int_eq(
        pmx_upid_parse("UPID:pve1:0000A1B2:0012C3D4:65F0A1B2:qmstart:100:root@pam:", &u, NULL),
        PMX_OK);
    ck_assert_str_eq(u->node, "pve1");
    ck_assert_uint_eq(u->pid, 0xA1B2);
    ck_assert_uint_eq(u->pstart, 0x12C3D4);
    ck_assert_int_eq(u->starttime, 0x65F0A1B2);
    ck_assert_str_eq(u->type, "qmstart");
    ck_assert_str_eq(u->id, "100");
    ck_assert_str_eq(u->user, "root@pam");
    pmx_upid_free(u);
}
END_TEST

START_TEST(upid_roundtrip) {
    roundtrip("UPID:pve1:0000A1B2:0012C3D4:65F0A1B2:qmstart:100:root@pam:");
    roundtrip("UPID:node-2:FFFFFFFF:FFFFFFFF:FFFFFFFF:vzdump::root@pam:");         /* empty id */
    roundtrip("UPID:pve1:00001234:1ABCDEF01:65F0A1B2:qmstart:100:root@pam:");      /* 9-digit */
    roundtrip("UPID:pve1:00001234:00000000:00000000:aptupdate::u@pve!tok-1:");     /* token */
}
END_TEST

START_TEST(upid_token_user) {
    pmx_upid *u = NULL;
    ck_assert_int_eq(
        pmx_upid_parse("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:ci@pve!deploy:", &u, NULL),
        PMX_OK);
    ck_assert_str_eq(u->user, "ci@pve!deploy");
    ck_assert_str_eq(u->id, "101");
    pmx_upid_free(u);
}
END_TEST

START_TEST(upid_malformed) {
    bad("", "UPID:");
    bad("UPIX:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "UPID:");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam", "user");        /* no ':' */
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam::", "after");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:x", "after");
    bad("UPID::00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "node");
    bad("UPID:pve_1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "node");
    bad("UPID:-pve:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "node");
    bad("UPID:pve1:1234:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PID");
    bad("UPID:pve1:0000123g:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PID");
    bad("UPID:pve1:0000abcd:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PID"); /* lower case */
    bad("UPID:pve1:000012345:00ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PID");
    bad("UPID:pve1:00001234:ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PSTART");
    bad("UPID:pve1:00001234:000ABCDEF:65F0A1B2:qmstop:101:root@pam:", "PSTART"); /* 0-padded 9 */
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B:qmstop:101:root@pam:", "STARTTIME");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2::101:root@pam:", "type");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qm stop:101:root@pam:", "type");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:1/1:root@pam:", "id");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:1\t1:root@pam:", "id");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101::", "user");
    bad("UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstop:101:root@pam\n:", "user");
}
END_TEST

START_TEST(upid_null_args) {
    pmx_upid *u = NULL;
    char *err = NULL;
    ck_assert_int_eq(pmx_upid_parse(NULL, &u, &err), PMX_EINVAL);
    ck_assert_ptr_nonnull(err);
    pmx_free(err);
    ck_assert_int_eq(pmx_upid_parse("UPID:a:00000001:00000001:00000001:t::u:", NULL, NULL),
                     PMX_EINVAL);
    char *s = NULL;
    ck_assert_int_eq(pmx_upid_format(NULL, &s), PMX_EINVAL);
    pmx_upid_free(NULL);
}
END_TEST

START_TEST(upid_format_rejects) {
    pmx_upid u = {.node = "pve1", .pid = 1, .pstart = 2, .starttime = 3, .type = "qmstart",
                  .id = "", .user = "root@pam"};
    char *s = NULL;
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_OK);
    ck_assert_str_eq(s, "UPID:pve1:00000001:00000002:00000003:qmstart::root@pam:");
    pmx_free(s);
    u.id = "a:b";
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_EINVAL);
    ck_assert_ptr_null(s);
    u.id = "";
    u.user = "";
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_EINVAL);
    u.user = "root@pam";
    u.starttime = -1;
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_EINVAL);
    u.starttime = 0x100000000LL;
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_EINVAL);
    u.starttime = 1;
    u.node = "bad node";
    ck_assert_int_eq(pmx_upid_format(&u, &s), PMX_EINVAL);
}
END_TEST

static Suite *upid_suite(void) {
    Suite *s = suite_create("upid");
    TCase *tc = tcase_create("upid");
    tcase_add_test(tc, upid_parse_fields);
    tcase_add_test(tc, upid_roundtrip);
    tcase_add_test(tc, upid_token_user);
    tcase_add_test(tc, upid_malformed);
    tcase_add_test(tc, upid_null_args);
    tcase_add_test(tc, upid_format_rejects);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(upid_suite)
