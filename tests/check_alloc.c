/* Allocation failures: a counting allocator that fails the Nth allocation (once, or from then
 * on), run over client setup, parameter building and encoding, escaping and JSON decoding.
 * Every call must give PMX_OK or PMX_ENOMEM (NULL for pointer results), and every block must be
 * freed again (counted here, and checked by LeakSanitizer under SAN=1). libcurl's own
 * allocations do not go through the allocator. */
#include "testutil.h"

#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long g_count;    /* allocations attempted */
static long g_fail_at;  /* 1-based allocation to fail; 0 = none */
static int g_persist;   /* fail every allocation from g_fail_at on */
static int g_injected;  /* a failure was injected in this run */
static long g_live;     /* blocks handed out and not freed */

static int should_fail(void) {
    g_count++;
    if (g_fail_at && (g_count == g_fail_at || (g_persist && g_count > g_fail_at))) {
        g_injected = 1;
        return 1;
    }
    return 0;
}

static void *t_malloc(size_t n) {
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        g_live++;
    return p;
}

static void *t_realloc(void *p, size_t n) {
    if (should_fail())
        return NULL; /* p stays valid and owned by the caller */
    void *q = realloc(p, n);
    if (!p && q)
        g_live++;
    return q;
}

static void t_free(void *p) {
    if (p)
        g_live--;
    free(p);
}

static void alloc_setup(void) {
    g_count = g_fail_at = g_live = 0;
    g_persist = g_injected = 0;
    ck_assert_int_eq(pmx_set_allocator(t_malloc, t_realloc, t_free), PMX_OK);
}

static void alloc_teardown(void) {
    ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK);
}

static void reset_run(long fail_at, int persist) {
    g_count = 0;
    g_fail_at = fail_at;
    g_persist = persist;
    g_injected = 0;
}

#define CK_OK_OR_NOMEM(expr)                                                                   \
    ({                                                                                         \
        int r_ = (expr);                                                                       \
        ck_assert_msg(r_ == PMX_OK || r_ == PMX_ENOMEM, "%s gave %d (fail_at %ld)", #expr, r_, \
                      g_fail_at);                                                              \
        r_;                                                                                    \
    })

static const char fp[] = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                         "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";
static const char upid[] = "UPID:pve1:0000AB12:0001F2C3:6543ABCD:qmstart:100:root@pam:";
static const char upid_esc[] =
    "UPID%3Apve1%3A0000AB12%3A0001F2C3%3A6543ABCD%3Aqmstart%3A100%3Aroot%40pam%3A";
static const char form_want[] =
    "net0=virtio%2Cbridge%3Dvmbr0&delete=net1&delete=scsi0&vmid=9223372036854775807&start=0"
    "&cpu=0.1&name=%C3%A9%20%E6%97%A5%E6%9C%AC";
static const char json_want[] = "{\"net0\":\"virtio,bridge=vmbr0\",\"delete\":[\"net1\",\"scsi0\"],"
                                "\"vmid\":9223372036854775807,\"start\":false,\"cpu\":0.1,"
                                "\"name\":\"\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\"}";

static int count_cb_fwd(const char *key, const char *val, const char *val_end, void *ud) {
    (void)key;
    (void)val;
    (void)val_end;
    ++*(int *)ud;
    return 0;
}

/* One pass over the sequence. Returns 1 when every step succeeded. */
static int run_sequence(void) {
    int all_ok = 1;
    pmx_client *c = (pmx_client *)0x1;
    int r = CK_OK_OR_NOMEM(pmx_client_new(&c, "https://[::1]:8006/api2/json"));
    if (r) {
        ck_assert_ptr_null(c);
        all_ok = 0;
    } else {
        ck_assert_str_eq(pmx_client_url(c), "https://[::1]:8006");
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_token(c, "root@pam!mock=uuid"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_password(c, "root@pam", "secret"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_tfa_response(c, "totp:123456"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_password(c, "alice@pve", "other"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_fingerprint(c, fp));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_ca_file(c, "/dev/null"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_ca_file(c, "/dev/null"));
        all_ok &= !CK_OK_OR_NOMEM(pmx_client_set_token(c, "root@pam!mock=uuid2"));
        ck_assert_int_eq(pmx_client_set_timeouts(c, 1000, 2000), PMX_OK);
        ck_assert_int_eq(pmx_client_set_max_connections(c, 2), PMX_OK);
        ck_assert_str_eq(pmx_client_url(c), "https://[::1]:8006");
    }

    pmx_params *p = pmx_params_new();
    if (!p) {
        all_ok = 0;
    } else {
        int pok = 1;
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_str(p, "net0", "virtio,bridge=vmbr0"));
        pok &= !CK_OK_OR_NOMEM(pmx_params_add_str(p, "delete", "net1"));
        pok &= !CK_OK_OR_NOMEM(pmx_params_add_str(p, "delete", "scsi0"));
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_int(p, "vmid", 100));
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_int(p, "vmid", INT64_MAX)); /* replaces */
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_bool(p, "start", 0));
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_double(p, "cpu", 0.1));
        pok &= !CK_OK_OR_NOMEM(pmx_params_add_str(p, "tmp", "x"));
        pok &= !CK_OK_OR_NOMEM(pmx_params_set_str(p, "name", "\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"));
        /* Enough entries to make the list grow past its first block. */
        for (int i = 0; i < 10; i++)
            pok &= !CK_OK_OR_NOMEM(pmx_params_add_str(p, "more", "v"));
        int u = pmx_params_unset(p, "more");
        ck_assert(u == PMX_OK || u == PMX_ENOTFOUND);
        u = pmx_params_unset(p, "tmp");
        ck_assert(u == PMX_OK || u == PMX_ENOTFOUND);
        all_ok &= pok;
        ck_assert_uint_le(pmx_params_count(p), 7);

        char *s = (char *)0x1;
        r = CK_OK_OR_NOMEM(pmx_params_encode(p, &s));
        if (r) {
            ck_assert_ptr_null(s);
            all_ok = 0;
        } else {
            ck_assert_ptr_nonnull(s);
            if (pok)
                ck_assert_str_eq(s, form_want);
            pmx_free(s);
        }

        pmx__buf b = {0};
        r = CK_OK_OR_NOMEM(pmx__params_json(p, &b));
        if (r) {
            all_ok = 0;
        } else if (pok) {
            ck_assert_str_eq(b.data, json_want);
        }
        pmx__buf_free(&b);

        /* A copy, as calls make of their parameters. */
        pmx_params *q = pmx_params_new();
        if (!q) {
            all_ok = 0;
        } else {
            r = CK_OK_OR_NOMEM(pmx__params_copy(q, p));
            all_ok &= !r;
            if (!r)
                ck_assert_uint_eq(pmx_params_count(q), pmx_params_count(p));
            pmx_params_free(q);
        }
    }
    /* An empty list encodes to "". */
    char *e = (char *)0x1;
    r = CK_OK_OR_NOMEM(pmx_params_encode(NULL, &e));
    if (r) {
        ck_assert_ptr_null(e);
        all_ok = 0;
    } else {
        ck_assert_str_eq(e, "");
        pmx_free(e);
    }

    char *esc = pmx_escape(upid);
    if (!esc) {
        all_ok = 0;
    } else {
        ck_assert_str_eq(esc, upid_esc);
        pmx_free(esc);
    }
    long before = g_count;
    ck_assert_ptr_null(pmx_escape("")); /* refused without allocating: not a segment */
    ck_assert_int_eq(g_count, before);

    /* JSON decoding that allocates: a string, and an object walk with a long (heap) key. */
    static const char js[] = "\"a\\u00e9\\ud83d\\ude00\"";
    char *out = (char *)0x1;
    const char *end = pmx__json_string(js, js + sizeof js - 1, &out);
    if (!end) {
        ck_assert_ptr_null(out);
        all_ok = 0;
    } else {
        ck_assert_ptr_eq(end, js + sizeof js - 1);
        ck_assert_str_eq(out, "a\xc3\xa9\xf0\x9f\x98\x80");
        pmx_free(out);
    }
    char obj[400];
    char key[201];
    memset(key, 'k', 200);
    key[200] = 0;
    snprintf(obj, sizeof obj, "{\"%s\":1,\"b\":2}", key);
    int members = 0;
    int w = pmx__json_object_each(obj, obj + strlen(obj), count_cb_fwd, &members);
    if (w == -1) {
        all_ok = 0;
        ck_assert_int_eq(members, 0); /* the first (long) key is the only one that allocates */
    } else {
        ck_assert_int_eq(w, 0);
        ck_assert_int_eq(members, 2);
    }

    pmx_params_free(p);
    pmx_client_free(c);
    ck_assert_msg(g_live == 0, "%ld blocks leaked (fail_at %ld%s)", g_live, g_fail_at,
                  g_persist ? ", persistent" : "");
    return all_ok;
}

START_TEST(alloc_baseline_succeeds) {
    /* Without failures every step succeeds, and the allocator is really used. */
    reset_run(0, 0);
    ck_assert_int_eq(run_sequence(), 1);
    ck_assert_int_gt(g_count, 30);
    ck_assert_int_eq(g_injected, 0);
}
END_TEST

/* Fail exactly the Nth allocation, for N = 1 .. until a run needs no failure. */
START_TEST(alloc_fail_nth_once) {
    reset_run(0, 0);
    run_sequence();
    long total = g_count;
    long n;
    int failed_runs = 0;
    for (n = 1; n < 100000; n++) {
        reset_run(n, 0);
        int ok = run_sequence();
        if (!g_injected) {
            ck_assert_int_eq(ok, 1); /* nothing failed: everything must have worked */
            break;
        }
        /* Every injected failure is reported. */
        ck_assert_msg(!ok, "failure of allocation %ld went unreported", n);
        failed_runs += !ok;
    }
    ck_assert_int_eq(n, total + 1); /* the allocation pattern does not depend on N */
    ck_assert_int_eq(failed_runs, total);
}
END_TEST

/* Fail every allocation from the Nth on. */
START_TEST(alloc_fail_from_nth) {
    long n;
    for (n = 1; n < 100000; n++) {
        reset_run(n, 1);
        int ok = run_sequence();
        if (!g_injected) {
            ck_assert_int_eq(ok, 1);
            break;
        }
        ck_assert_int_eq(ok, 0);
    }
    ck_assert_int_gt(n, 30);
}
END_TEST

START_TEST(alloc_set_allocator_args) {
    ck_assert_int_eq(pmx_set_allocator(NULL, realloc, free), PMX_EINVAL);
    ck_assert_int_eq(pmx_set_allocator(malloc, NULL, free), PMX_EINVAL);
    ck_assert_int_eq(pmx_set_allocator(malloc, realloc, NULL), PMX_EINVAL);
    /* The rejected calls left the counting allocator in place. */
    reset_run(0, 0);
    pmx_params *p = pmx_params_new();
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(g_count, 1);
    ck_assert_int_eq(g_live, 1);
    pmx_params_free(p);
    ck_assert_int_eq(g_live, 0);
}
END_TEST

START_TEST(alloc_free_null) {
    pmx_free(NULL);
    pmx_secret_free(NULL);
    pmx_params_free(NULL);
    pmx_client_free(NULL);
    ck_assert_int_eq(g_live, 0);
}
END_TEST

START_TEST(alloc_helpers) {
    reset_run(0, 0);
    /* calloc overflow is refused without asking the allocator. */
    ck_assert_ptr_null(pmx__calloc(SIZE_MAX / 2, 4));
    ck_assert_int_eq(g_count, 0);
    unsigned char *z = pmx__calloc(4, 8);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 32; i++)
        ck_assert_int_eq(z[i], 0);
    pmx__free(z);
    ck_assert_ptr_null(pmx__strdup(NULL));
    char *s = pmx__strndup("abcdef", 3);
    ck_assert_str_eq(s, "abc");
    pmx__free(s);
    s = pmx__asprintf("%s-%d", "x", 42);
    ck_assert_str_eq(s, "x-42");
    pmx__secret_free(s);
    reset_run(1, 1);
    ck_assert_ptr_null(pmx__asprintf("%d", 1));
    ck_assert_ptr_null(pmx__strndup("abc", 2));
    ck_assert_ptr_null(pmx__malloc(0));
    ck_assert_ptr_null(pmx__calloc(1, 1));
    ck_assert_ptr_null(pmx__strdup("x"));
    ck_assert_int_eq(g_live, 0);
}
END_TEST

START_TEST(alloc_buf_growth) {
    pmx__buf b = {0};
    reset_run(0, 0);
    /* A fresh buffer is a valid empty string. */
    ck_assert_int_eq(pmx__buf_reserve(&b, 0), PMX_OK);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, "");
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pmx__buf_printf(&b, "%03d,", i), PMX_OK);
    ck_assert_uint_eq(b.len, 4000);
    ck_assert_uint_eq(strlen(b.data), 4000);
    ck_assert_mem_eq(b.data + 3996, "999,", 4);
    /* With every allocation failing: growth fails and keeps the contents, appends that fit
     * the capacity still work. */
    ck_assert_uint_eq(b.cap, 4096);
    reset_run(1, 1);
    ck_assert_int_eq(pmx__buf_reserve(&b, b.cap), PMX_ENOMEM);
    ck_assert_uint_eq(b.len, 4000);
    ck_assert_uint_eq(b.cap, 4096);
    ck_assert_int_eq(pmx__buf_escape(&b, "a b", 3), PMX_OK); /* 5 bytes: fits */
    ck_assert_uint_eq(b.len, 4005);
    ck_assert_str_eq(b.data + 3996, "999,a%20b");
    char big[200];
    memset(big, ' ', sizeof big);
    ck_assert_int_eq(pmx__buf_escape(&b, big, sizeof big), PMX_ENOMEM); /* 600 bytes: no */
    ck_assert_int_eq(pmx__buf_append(&b, big, sizeof big), PMX_ENOMEM);
    ck_assert_int_eq(pmx__buf_printf(&b, "%0200d", 0), PMX_ENOMEM);
    ck_assert_uint_eq(b.len, 4005);
    ck_assert_uint_eq(strlen(b.data), 4005);
    /* Sizes whose sum would wrap around are refused, not taken for "fits". */
    ck_assert_int_eq(pmx__buf_reserve(&b, SIZE_MAX - 2), PMX_ENOMEM);
    ck_assert_int_eq(pmx__buf_reserve(&b, SIZE_MAX - 4000), PMX_ENOMEM);
    pmx__buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(g_live, 0);
}
END_TEST

static Suite *alloc_suite(void) {
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, alloc_setup, alloc_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, alloc_baseline_succeeds);
    tcase_add_test(tc, alloc_fail_nth_once);
    tcase_add_test(tc, alloc_fail_from_nth);
    tcase_add_test(tc, alloc_set_allocator_args);
    tcase_add_test(tc, alloc_free_null);
    tcase_add_test(tc, alloc_helpers);
    tcase_add_test(tc, alloc_buf_growth);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(alloc_suite)
