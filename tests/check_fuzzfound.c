/* Regressions for inputs found by the libFuzzer targets (tests/fuzz/), replayed without
 * libFuzzer. Each test names the seed in tests/fuzz/corpus/ that reproduces the finding. */
#include "testutil.h"

#include "bind.h"

#include <stdlib.h>
#include <string.h>

/* Decode data JSON for a method; returns the rc, *res / *err for the caller to inspect. */
static int decode(const char *method, const char *json, void **res, char **err) {
    const pmx_method_desc *d = pmx_method_by_name(method);
    ck_assert_ptr_nonnull(d);
    return pmx__bind_decode(d, json, strlen(json), res, err);
}

static void decode_free(const char *method, void *res) {
    pmx__bind_result_free(pmx_method_by_name(method), res);
}

/* corpus/bind/regress-i64-cast-overflow: an integer field given as a number outside int64_t
 * ("1e19") was converted with (int64_t)d before the range was known: undefined behaviour
 * (UBSan float-cast-overflow), in practice an arbitrary value. It must fail to decode. */
START_TEST(bind_i64_from_huge_number) {
    static const char *const bad[] = {
        "[{\"vmid\":1e19}]",      "[{\"vmid\":-1e19}]",        "[{\"vmid\":\"4.3e36\"}]",
        "[{\"vmid\":9223372036854775808.0}]", "[{\"vmid\":1e308}]", "[{\"uptime\":1e19}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *res = NULL;
        char *err = NULL;
        int rc = decode("pve_nodes_qemu_get", bad[i], &res, &err);
        ck_assert_msg(rc == PMX_EDECODE, "%s: rc %d", bad[i], rc);
        ck_assert_ptr_null(res);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, "expected an integer"), "%s: %s", bad[i], err);
        pmx_free(err);
    }
    /* Integral numbers inside the range still decode, the extremes included. */
    static const struct {
        const char *json;
        int64_t want;
    } good[] = {
        {"[{\"vmid\":1e18}]", 1000000000000000000LL},
        {"[{\"vmid\":\"100.0\"}]", 100},
        {"[{\"vmid\":-9223372036854775808.0}]", INT64_MIN},
        {"[{\"vmid\":9223372036854774784.0}]", 9223372036854774784LL}, /* largest double < 2^63 */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        void *res = NULL;
        char *err = NULL;
        int rc = decode("pve_nodes_qemu_get", good[i].json, &res, &err);
        ck_assert_msg(rc == PMX_OK, "%s: %s", good[i].json, err ? err : "?");
        pve_nodes_qemu_get_result *r = res;
        ck_assert_uint_eq(r->n, 1);
        ck_assert_int_eq(r->items[0]->vmid, good[i].want);
        decode_free("pve_nodes_qemu_get", res);
    }
}
END_TEST

/* corpus/params/regress-indexed-slot-wrap: the slot of an indexed wire name was compared as
 * (uint32_t)strtol(...), so "net4294967299" (2^32 + 3) passed as slot 3 of "net[n]": the
 * validator accepted a name PVE rejects, and it reached the server unchanged. */
START_TEST(param_indexed_slot_wraps) {
    const pmx_method_desc *d = pmx_method_by_name("pve_nodes_qemu_config_post");
    ck_assert_ptr_nonnull(d);
    const pmx_param_desc *net = pmx_method_param(d, "net3");
    ck_assert_ptr_nonnull(net);
    pmx_param_info ni = PMX_OPTS_INIT(pmx_param_info);
    ck_assert_int_eq(pmx_param_describe(net, &ni), PMX_OK);
    ck_assert(ni.flags & PMX_PARAM_INDEXED);
    static const char *const bad[] = {"net4294967299", "net4294967296", "net18446744073709551619",
                                      "net99999999999999999999", "net03", "net-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pmx_method_param(d, bad[i]) == NULL, "%s", bad[i]);
    pmx_params *ps = pmx_params_new();
    ck_assert_int_eq(pmx_params_set_str(ps, "net4294967299", "virtio,bridge=vmbr0"), PMX_OK);
    char *msg = NULL;
    ck_assert_int_eq(pmx_method_validate(d, ps, 0, &msg), 1);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "net4294967299: property is not defined in schema"), "%s", msg);
    pmx_free(msg);
    pmx_params_free(ps);
}
END_TEST

static Suite *fuzzfound_suite(void) {
    Suite *s = suite_create("fuzzfound");
    TCase *tc = tcase_create("fuzzfound");
    tcase_add_test(tc, bind_i64_from_huge_number);
    tcase_add_test(tc, param_indexed_slot_wraps);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(fuzzfound_suite)
