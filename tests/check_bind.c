/* Typed bindings: method tables, request building and validation, typed result decoding. */
#include "testutil.h"

#include "bind.h"
#include "value.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static const pmx_method_desc *M(const char *name) {
    const pmx_method_desc *d = pmx_method_by_name(name);
    ck_assert_msg(d != NULL, "method %s not found", name);
    return d;
}

typedef struct req {
    int rc;
    char *path;
    char *query; /* pmx_params_encode of the parameters */
    char *err;
} req;

static req build(const char *name, const void *const *path_args, const void *p) {
    req r = {0};
    pmx_params *params = NULL;
    r.rc = pmx__bind_build(M(name), path_args, p, &r.path, &params, &r.err);
    if (r.rc == PMX_OK) {
        ck_assert_int_eq(pmx_params_encode(params, &r.query), PMX_OK);
        pmx_params_free(params);
    } else {
        ck_assert_ptr_null(params);
        ck_assert_ptr_null(r.path);
    }
    return r;
}

static void req_free(req *r) {
    pmx_free(r->path);
    pmx_free(r->query);
    pmx_free(r->err);
}

static void expect_ok(req r, const char *path, const char *query) {
    ck_assert_msg(r.rc == PMX_OK, "build failed: %s", r.err ? r.err : "?");
    ck_assert_str_eq(r.path, path);
    ck_assert_str_eq(r.query, query);
    req_free(&r);
}

static void expect_err(req r, const char *msg) {
    ck_assert_int_eq(r.rc, PMX_EINVAL);
    ck_assert_ptr_nonnull(r.err);
    ck_assert_msg(strstr(r.err, msg) != NULL, "error '%s' lacks '%s'", r.err, msg);
    req_free(&r);
}

/* ---- introspection -------------------------------------------------------------------------- */

#define MI test_method_info
#define PI test_param_info

START_TEST(test_table_consistent) {
    size_t n = pmx_method_count();
    ck_assert_uint_eq(n, 646);
    ck_assert_ptr_null(pmx_method_at(n));
    pmx_method_info prev = {0};
    for (size_t i = 0; i < n; i++) {
        const pmx_method_desc *d = pmx_method_at(i);
        ck_assert_ptr_nonnull(d);
        pmx_method_info m = MI(d);
        ck_assert_uint_eq(m.size, sizeof(pmx_method_info));
        ck_assert_uint_eq(m.index, i);
        ck_assert(m.method >= PMX_GET && m.method <= PMX_DELETE);
        ck_assert_int_eq(pmx_method_verb(d), (pmx_method)m.method);
        ck_assert_str_eq(pmx_method_path(d), m.path);
        ck_assert_str_eq(pmx_method_name(d), m.name);
        ck_assert_ptr_eq(pmx_method_by_name(m.name), d);
        ck_assert_int_eq(strncmp(m.name, "pve_", 4), 0);
        if (prev.path) {
            int c = strcmp(prev.path, m.path);
            ck_assert_msg(c < 0 || (c == 0 && prev.method != m.method), "order at %s", m.name);
        }
        size_t braces = 0;
        for (const char *p = m.path; *p; p++)
            braces += *p == '{';
        ck_assert_uint_eq(braces, m.n_path_params);
        ck_assert(m.params_size >= sizeof(uint32_t));
        for (size_t k = 0; k < m.n_params; k++) {
            const pmx_param_desc *pd = pmx_method_param_at(d, k);
            pmx_param_info p = PI(pd);
            ck_assert_int_eq(p.loc == PMX_LOC_PATH, k < m.n_path_params);
            if (p.loc != PMX_LOC_PATH)
                ck_assert(pd->offset >= sizeof(uint32_t) && pd->offset < m.params_size);
            else
                ck_assert_uint_eq(p.position, k);
            if (!(p.flags & PMX_PARAM_INDEXED))
                ck_assert_ptr_eq(pmx_method_param(d, p.name), pd);
            for (size_t e = 0; e < p.n_enum; e++)
                ck_assert_ptr_nonnull(pmx_param_enum_at(pd, e));
            ck_assert_ptr_null(pmx_param_enum_at(pd, p.n_enum));
        }
        ck_assert_ptr_null(pmx_method_param_at(d, m.n_params));
        ck_assert_ptr_eq(pmx_method_find((pmx_method)m.method, m.path), d);
        prev = m;
    }
    ck_assert_ptr_null(pmx_method_by_name("pve_nope_get"));
    ck_assert_ptr_null(pmx_method_by_name(NULL));
}
END_TEST

/* The info structs are filled only as far as the caller's size says: a program built against
 * an older, shorter pmx_param_info keeps its memory past it. */
START_TEST(test_describe_respects_size) {
    const pmx_method_desc *d = M("pve_nodes_qemu_vmid_get");
    struct {
        pmx_method_info mi;
        unsigned char canary[16];
    } m;
    memset(&m, 0xAB, sizeof m);
    m.mi.size = offsetof(pmx_method_info, path); /* an "old" caller knows 6 members */
    ck_assert_int_eq(pmx_method_describe(d, &m.mi), PMX_OK);
    ck_assert_uint_eq(m.mi.method, PMX_GET);
    ck_assert_uint_eq(m.mi.n_path_params, 2);
    unsigned char *after = (unsigned char *)&m.mi + offsetof(pmx_method_info, path);
    for (size_t k = 0; k < sizeof m - offsetof(pmx_method_info, path); k++)
        ck_assert_uint_eq(after[k], 0xAB);
    pmx_param_info tiny = {.size = 2};
    ck_assert_int_eq(pmx_param_describe(pmx_method_param_at(d, 0), &tiny), PMX_EINVAL);
    ck_assert_int_eq(pmx_method_describe(NULL, &m.mi), PMX_EINVAL);
    ck_assert_int_eq(pmx_param_describe(NULL, &tiny), PMX_EINVAL);
}
END_TEST

START_TEST(test_posix_patterns_compile) {
    size_t total = 0;
    for (size_t i = 0; i < pmx_method_count(); i++) {
        const pmx_method_desc *d = pmx_method_at(i);
        pmx_method_info m = MI(d);
        for (size_t k = 0; k < m.n_params; k++) {
            pmx_param_info p = PI(pmx_method_param_at(d, k));
            const char *pat = p.posix_pattern;
            if (!pat)
                continue;
            regex_t re;
            int rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
            ck_assert_msg(rc == 0, "%s %s: '%s' does not compile", m.name, p.name, pat);
            regfree(&re);
            total++;
        }
    }
    ck_assert_uint_gt(total, 100);
}
END_TEST

START_TEST(test_find) {
    static const struct {
        pmx_method m;
        const char *path, *name;
    } t[] = {
        {PMX_GET, "/version", "pve_version_get"},
        {PMX_GET, "/nodes/pve1/qemu", "pve_nodes_qemu_get"},
        {PMX_GET, "/nodes/pve1/qemu/100", "pve_nodes_qemu_vmid_get"},
        {PMX_GET, "/nodes/pve1/qemu/100/", "pve_nodes_qemu_vmid_get"},
        {PMX_GET, "/nodes/pve1/qemu/100?full=1", "pve_nodes_qemu_vmid_get"},
        {PMX_POST, "/nodes/pve1/qemu/100/status/start", "pve_nodes_qemu_status_start_post"},
        {PMX_PUT, "/nodes/{node}/qemu/{vmid}/config", "pve_nodes_qemu_config_put"},
        {PMX_DELETE, "/access/users/root@pam", "pve_access_users_userid_delete"},
        {PMX_GET, "/nodes/pve1/tasks/UPID%3Apve1%3A1/status", "pve_nodes_tasks_status_get"},
        {PMX_GET, "/cluster/resources", "pve_cluster_resources_get"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const pmx_method_desc *d = pmx_method_find(t[i].m, t[i].path);
        ck_assert_msg(d != NULL, "%s not found", t[i].path);
        ck_assert_str_eq(pmx_method_name(d), t[i].name);
    }
    ck_assert_ptr_null(pmx_method_find(PMX_GET, "/nodes/pve1/nothing/here"));
    ck_assert_ptr_null(pmx_method_find(PMX_DELETE, "/version"));
    ck_assert_ptr_null(pmx_method_find(PMX_GET, "version"));
    ck_assert_ptr_null(pmx_method_find(PMX_GET, NULL));
}
END_TEST

START_TEST(test_path_param) {
    const pmx_method_desc *d = M("pve_nodes_tasks_status_get");
    char *v = NULL;
    ck_assert_int_eq(pmx_method_path_param(d, "/nodes/pve1/tasks/UPID%3Apve1%3A1/status", 1, &v),
                     PMX_OK);
    ck_assert_str_eq(v, "UPID:pve1:1");
    pmx_free(v);
    ck_assert_int_eq(pmx_method_path_param(d, "/nodes/pve1/tasks/x/status", 0, &v), PMX_OK);
    ck_assert_str_eq(v, "pve1");
    pmx_free(v);
    ck_assert_int_eq(pmx_method_path_param(d, "/nodes/pve1/tasks/x/status", 2, &v), PMX_EINVAL);
    ck_assert_int_eq(pmx_method_path_param(d, "/nodes/pve1/other/x/status", 0, &v), PMX_EINVAL);
    ck_assert_ptr_null(v);
}
END_TEST

/* ---- request building --------------------------------------------------------------------------- */

START_TEST(test_build_path_only) {
    int64_t vmid = 100;
    const void *a[] = {"pve1", &vmid};
    expect_ok(build("pve_nodes_qemu_vmid_get", a, NULL), "/nodes/pve1/qemu/100", "");
    const void *v[] = {NULL};
    expect_ok(build("pve_version_get", v, NULL), "/version", "");
    expect_ok(build("pve_version_get", NULL, NULL), "/version", "");
}
END_TEST

START_TEST(test_build_escapes_path) {
    const void *a[] = {"pve1", "UPID:pve1:0000ABCD:00001234:5F000000:qmstart:100:root@pam:"};
    expect_ok(build("pve_nodes_tasks_status_get", a, NULL),
              "/nodes/pve1/tasks/UPID%3Apve1%3A0000ABCD%3A00001234%3A5F000000%3Aqmstart%3A100%3A"
              "root%40pam%3A/status",
              "");
    const void *u[] = {"user@pve"};
    expect_ok(build("pve_access_users_userid_delete", u, NULL), "/access/users/user%40pve", "");
}
END_TEST

START_TEST(test_build_query_bool_zero) {
    pve_nodes_qemu_get_params p = {.struct_size = sizeof(pve_nodes_qemu_get_params), .full = PMX_SOME_BOOL(0)};
    const void *a[] = {"pve1"};
    expect_ok(build("pve_nodes_qemu_get", a, &p), "/nodes/pve1/qemu", "full=0");
    pve_nodes_qemu_get_params none = PMX_PARAMS_INIT(pve_nodes_qemu_get_params);
    expect_ok(build("pve_nodes_qemu_get", a, &none), "/nodes/pve1/qemu", "");
}
END_TEST

START_TEST(test_build_body_indexed_and_mangled) {
    pve_nodes_qemu_config_post_params p = PMX_PARAMS_INIT(pve_nodes_qemu_config_post_params);
    p.cores = PMX_SOME_I64(2);
    p.net[0] = "virtio,bridge=vmbr0";
    p.net[3] = "e1000";
    p.numa_n[1] = "cpus=0-1";
    p.onboot = PMX_SOME_BOOL(7); /* any non-zero is sent as 1 */
    p.delete_ = "ide2,net1";
    p.cpulimit = PMX_SOME_F64(1.5);
    int64_t vmid = 101;
    const void *a[] = {"pve1", &vmid};
    expect_ok(build("pve_nodes_qemu_config_post", a, &p), "/nodes/pve1/qemu/101/config",
              "cores=2&cpulimit=1.5&delete=ide2%2Cnet1&net0=virtio%2Cbridge%3Dvmbr0&net3=e1000&"
              "numa1=cpus%3D0-1&onboot=1");
}
END_TEST

START_TEST(test_build_array_repeated) {
    const char *vms[] = {"100", "101"};
    pve_cluster_bulk_action_guest_migrate_post_params p = PMX_PARAMS_INIT(pve_cluster_bulk_action_guest_migrate_post_params);
    p.target = "pve2";
    p.vms = vms;
    p.n_vms = 2;
    p.online = PMX_SOME_BOOL(1);
    expect_ok(build("pve_cluster_bulk_action_guest_migrate_post", NULL, &p),
              "/cluster/bulk-action/guest/migrate", "online=1&target=pve2&vms=100&vms=101");
    const char *bad[] = {"100", "7"};
    p.vms = bad;
    expect_err(build("pve_cluster_bulk_action_guest_migrate_post", NULL, &p),
               "vms: value must have a minimum value of 100");
    p.vms = NULL;
    expect_err(build("pve_cluster_bulk_action_guest_migrate_post", NULL, &p), "vms: array");
}
END_TEST

/* Every method: the path is the template with each {param} replaced by its escaped value,
 * required parameters are reported when p is NULL, and nothing else goes wrong. */
START_TEST(test_build_every_method) {
    size_t checked = 0, skipped = 0;
    for (size_t i = 0; i < pmx_method_count(); i++) {
        const pmx_method_desc *d = pmx_method_at(i);
        pmx_method_info m = MI(d);
        const void *args[8] = {0};
        int64_t ints[8];
        const char *vals[8];
        char buf[256];
        int usable = 1;
        ck_assert_uint_le(m.n_path_params, 8);
        for (size_t k = 0; k < m.n_path_params; k++) {
            const pmx_param_desc *pd = pmx_method_param_at(d, k);
            pmx_param_info pi = PI(pd);
            const pmx_param_info *p = &pi;
            if (p->type == PMX_PARAM_INTEGER) {
                ints[k] = (p->flags & PMX_PARAM_HAS_MIN) && p->minimum > 100 ? (int64_t)p->minimum
                                                                             : 100;
                args[k] = &ints[k];
                snprintf(buf, sizeof buf, "%lld", (long long)ints[k]);
                vals[k] = NULL;
            } else {
                vals[k] = p->n_enum ? pmx_param_enum_at(pd, 0) : "pve1";
                args[k] = vals[k];
            }
            if (vals[k] && pmx_param_check(pd, vals[k], buf, sizeof buf))
                usable = 0; /* a pattern "pve1" does not satisfy */
        }
        if (!usable) {
            skipped++;
            continue;
        }
        size_t required = 0;
        for (size_t k = m.n_path_params; k < m.n_params; k++)
            required += (PI(pmx_method_param_at(d, k)).flags & PMX_PARAM_REQUIRED) != 0;
        req r = build(m.name, args, NULL);
        if (required) {
            expect_err(r, "property is missing and it is not optional");
        } else {
            ck_assert_msg(r.rc == PMX_OK, "%s: %s", m.name, r.err ? r.err : "?");
            char want[512];
            size_t o = 0, k = 0;
            for (const char *t = m.path; *t && o < sizeof want - 32;) {
                if (*t == '{') {
                    t = strchr(t, '}') + 1;
                    if (vals[k]) {
                        char *e = pmx_escape(vals[k]);
                        o += (size_t)snprintf(want + o, sizeof want - o, "%s", e);
                        pmx_free(e);
                    } else {
                        o += (size_t)snprintf(want + o, sizeof want - o, "%lld",
                                              (long long)ints[k]);
                    }
                    k++;
                } else {
                    want[o++] = *t++;
                }
            }
            want[o] = 0;
            expect_ok(r, want, "");
        }
        checked++;
    }
    ck_assert_uint_eq(checked + skipped, 646);
    ck_assert_uint_lt(skipped, 20);
}
END_TEST

START_TEST(test_build_validation) {
    int64_t vmid = 5;
    const void *a[] = {"pve1", &vmid};
    expect_err(build("pve_nodes_qemu_vmid_get", a, NULL),
               "vmid: value must have a minimum value of 100");
    int64_t ok = 100;
    const void *n0[] = {NULL, &ok};
    expect_err(build("pve_nodes_qemu_vmid_get", n0, NULL),
               "node: property is missing and it is not optional");
    const void *n1[] = {"bad node!", &ok};
    expect_err(build("pve_nodes_qemu_vmid_get", n1, NULL),
               "node: value does not look like a valid node name");
    const void *n2[] = {"", &ok};
    expect_err(build("pve_nodes_qemu_vmid_get", n2, NULL), "node: value may not be empty");
    /* enum */
    pve_nodes_qemu_config_post_params p = PMX_PARAMS_INIT(pve_nodes_qemu_config_post_params);
    p.ostype = "dos";
    const void *a2[] = {"pve1", &ok};
    expect_err(build("pve_nodes_qemu_config_post", a2, &p),
               "ostype: value 'dos' does not have a value in the enumeration 'other, wxp");
    /* integer range */
    pve_nodes_qemu_config_post_params q = PMX_PARAMS_INIT(pve_nodes_qemu_config_post_params);
    q.cores = PMX_SOME_I64(0);
    expect_err(build("pve_nodes_qemu_config_post", a2, &q),
               "cores: value must have a minimum value of 1");
    /* required body parameter, NULL params struct */
    expect_err(build("pve_access_users_post", NULL, NULL),
               "userid: property is missing and it is not optional");
    /* ... and given "", which a form sends as "userid=", absent to PVE */
    pve_access_users_post_params blank = PMX_PARAMS_INIT(pve_access_users_post_params);
    blank.userid = "";
    expect_err(build("pve_access_users_post", NULL, &blank),
               "userid: property is missing and it is not optional");
    /* max length */
    char longid[100];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    pve_access_users_post_params u = {.struct_size = sizeof(pve_access_users_post_params), .userid = longid};
    expect_err(build("pve_access_users_post", NULL, &u), "userid: value may only be 64");
    /* several errors are all reported */
    const void *a3[] = {"bad node!", &vmid};
    req r = build("pve_nodes_qemu_vmid_get", a3, NULL);
    ck_assert_ptr_nonnull(strstr(r.err, "node: "));
    ck_assert_ptr_nonnull(strstr(r.err, "; vmid: "));
    req_free(&r);
}
END_TEST

/* ---- value checks on hand-made descriptors -------------------------------------------------------- */

/* The value checks shared by parameters and property-string keys (lib/value.c). */
START_TEST(test_param_check) {
    char buf[256];
    pmx__constraints i = {.type = PMX_PARAM_INTEGER, .flags = PMX__HAS_MIN | PMX__HAS_MAX,
                          .minimum = 1, .maximum = 10};
    ck_assert_ptr_null(pmx__check_value(&i, "5", buf, sizeof buf));
    ck_assert_ptr_null(pmx__check_value(&i, "+10", buf, sizeof buf));
    ck_assert_str_eq(pmx__check_value(&i, "11", buf, sizeof buf),
                     "value must have a maximum value of 10");
    ck_assert_str_eq(pmx__check_value(&i, "1.5", buf, sizeof buf),
                     "type check ('integer') failed - got '1.5'");
    pmx__constraints b = {.type = PMX_PARAM_BOOLEAN};
    /* as PVE: exactly 0 or 1 */
    ck_assert_ptr_null(pmx__check_value(&b, "1", buf, sizeof buf));
    ck_assert_ptr_null(pmx__check_value(&b, "0", buf, sizeof buf));
    ck_assert_str_eq(pmx__check_value(&b, "true", buf, sizeof buf),
                     "type check ('boolean') failed - got 'true'");
    ck_assert_ptr_nonnull(pmx__check_value(&b, "yes", buf, sizeof buf));
    ck_assert_ptr_nonnull(pmx__check_value(&b, "2", buf, sizeof buf));
    ck_assert_str_eq(pmx__check_value(&i, "99999999999999999999", buf, sizeof buf),
                     "type check ('integer') failed - got '99999999999999999999'");
    pmx__constraints f = {.type = PMX_PARAM_NUMBER, .flags = PMX__HAS_MIN, .minimum = 0};
    ck_assert_ptr_null(pmx__check_value(&f, "0.5", buf, sizeof buf));
    ck_assert_ptr_nonnull(pmx__check_value(&f, "-0.5", buf, sizeof buf));
    ck_assert_ptr_nonnull(pmx__check_value(&f, "abc", buf, sizeof buf));
    ck_assert_ptr_null(pmx__check_value(&f, "1e3", buf, sizeof buf));
    ck_assert_ptr_null(pmx__check_value(&f, ".5", buf, sizeof buf));
    static const char *const not_numbers[] = {"inf", "infinity", "nan", "0x10", "1e", "-", ".", "1e999", " 1"};
    for (size_t k = 0; k < sizeof not_numbers / sizeof not_numbers[0]; k++)
        ck_assert_msg(pmx__check_value(&f, not_numbers[k], buf, sizeof buf) != NULL,
                      "accepted '%s' as a number", not_numbers[k]);
    pmx__constraints s = {.type = PMX_PARAM_STRING,
                          .flags = PMX__HAS_MIN_LENGTH | PMX__HAS_MAX_LENGTH,
                          .min_length = 2, .max_length = 4, .posix = "^([a-z][a-z0-9]*)$"};
    ck_assert_ptr_null(pmx__check_value(&s, "ab1", buf, sizeof buf));
    ck_assert_str_eq(pmx__check_value(&s, "a", buf, sizeof buf),
                     "value must be at least 2 characters long");
    ck_assert_str_eq(pmx__check_value(&s, "abcde", buf, sizeof buf),
                     "value may only be 4 characters long");
    ck_assert_str_eq(pmx__check_value(&s, "1ab", buf, sizeof buf),
                     "value does not match the regex pattern");
    /* an enum of the tables: qemu ostype */
    const pmx_param_desc *ostype = pmx_method_param(M("pve_nodes_qemu_config_post"), "ostype");
    ck_assert_ptr_nonnull(ostype);
    ck_assert_str_eq(pmx_param_enum_at(ostype, 0), "other");
    ck_assert_ptr_nonnull(strstr(pmx_param_check(ostype, "c", buf, sizeof buf),
                                 "value 'c' does not have a value in the enumeration 'other, wxp"));
    ck_assert_ptr_null(pmx_param_check(ostype, "l26", buf, sizeof buf));
    pmx__constraints ds = {.type = PMX_PARAM_STRING, .flags = PMX__DISK_SIZE};
    ck_assert_ptr_null(pmx__check_value(&ds, "32G", buf, sizeof buf));
    ck_assert_ptr_nonnull(pmx__check_value(&ds, "32X", buf, sizeof buf));
    static const struct {
        const char *fmt, *good, *bad;
    } fm[] = {
        {"pve-node", "pve-1", "-pve"},   {"pve-vmid", "100", "99"},
        {"pve-configid", "net0", "0net"}, {"pve-storage-id", "local-lvm", "Local lvm"},
        {"ipv4", "10.0.0.1", "10.0.0"},   {"ipv6", "fe80::1", "fe80:::1:::"},
        {"mac-addr", "bc:24:11:00:00:01", "01:24:11:00:00:01"},
        {"pve-ipv4-config", "10.0.0.1/24", "10.0.0.1"}, {"CIDR", "10.0.0.0/8", "10.0.0.0"},
    };
    for (size_t k = 0; k < sizeof fm / sizeof fm[0]; k++) {
        pmx__constraints d = {.type = PMX_PARAM_STRING, .format = fm[k].fmt};
        ck_assert_msg(!pmx__check_value(&d, fm[k].good, buf, sizeof buf), "%s %s", fm[k].fmt,
                      fm[k].good);
        ck_assert_msg(pmx__check_value(&d, fm[k].bad, buf, sizeof buf) != NULL, "%s %s",
                      fm[k].fmt, fm[k].bad);
    }
}
END_TEST

/* ---- generic validation ------------------------------------------------------------------------- */

typedef struct errs {
    int n;
    char names[8][32];
    char msgs[8][160];
} errs;

static int collect_err(const char *name, const char *message, void *ud) {
    errs *e = ud;
    if (e->n < 8) {
        snprintf(e->names[e->n], sizeof e->names[0], "%s", name);
        snprintf(e->msgs[e->n], sizeof e->msgs[0], "%s", message);
    }
    e->n++;
    return 0;
}

START_TEST(test_validate_generic) {
    const pmx_method_desc *d = M("pve_nodes_qemu_config_post");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "node", "pve1");
    pmx_params_set_str(p, "vmid", "50");
    pmx_params_set_str(p, "cores", "x");
    pmx_params_set_str(p, "net5", "virtio");
    pmx_params_set_str(p, "net32", "virtio"); /* only net0..net31 exist */
    pmx_params_set_str(p, "bogus", "1");
    errs e = {0};
    int n = pmx_method_validate_each(d, p, PMX_VALIDATE_PATH, collect_err, &e);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(e.names[0], "vmid");
    ck_assert_str_eq(e.msgs[0], "value must have a minimum value of 100");
    ck_assert_str_eq(e.names[1], "cores");
    ck_assert_str_eq(e.msgs[1], "type check ('integer') failed - got 'x'");
    ck_assert_str_eq(e.names[2], "net32");
    ck_assert_str_eq(e.names[3], "bogus");
    ck_assert_ptr_nonnull(strstr(e.msgs[3], "not defined in schema"));
    /* without PMX_VALIDATE_PATH, path parameters are unknown names */
    char *msg = NULL;
    pmx_params *q = pmx_params_new();
    pmx_params_set_int(q, "cores", 4);
    ck_assert_int_eq(pmx_method_validate(d, q, 0, &msg), 0);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(pmx_method_validate(d, q, PMX_VALIDATE_PATH, &msg), 2);
    ck_assert_str_eq(msg, "node: property is missing and it is not optional; "
                          "vmid: property is missing and it is not optional");
    pmx_free(msg);
    ck_assert_int_eq(pmx_method_validate(NULL, q, 0, &msg), PMX_EINVAL);
    /* a parameter that is not a list, given twice: PVE would read a list and refuse it */
    pmx_params *r = pmx_params_new();
    pmx_params_add_str(r, "description", "a");
    pmx_params_add_str(r, "description", "b");
    pmx_params_add_str(r, "net0", "virtio");
    pmx_params_add_str(r, "net1", "virtio"); /* (slots of one indexed parameter: fine) */
    errs dup = {0};
    ck_assert_int_eq(pmx_method_validate_each(d, r, 0, collect_err, &dup), 1);
    ck_assert_str_eq(dup.names[0], "description");
    ck_assert_ptr_nonnull(strstr(dup.msgs[0], "more than once"));
    pmx_params_free(r);
    /* "" travels as "key=", which PVE reads as absent: a required "" is missing, an optional ""
     * is nothing at all. In a JSON body "" is a value and checked as one. */
    const pmx_method_desc *users = pmx_method_by_name("pve_access_users_post");
    pmx_params *empty = pmx_params_new();
    pmx_params_set_str(empty, "userid", "");
    ck_assert_int_eq(pmx_method_validate(users, empty, 0, &msg), 1);
    ck_assert_str_eq(msg, "userid: property is missing and it is not optional");
    pmx_free(msg);
    ck_assert_int_eq(pmx_method_validate(users, empty, PMX_VALIDATE_JSON_BODY, &msg), 0);
    pmx_params_set_str(empty, "userid", "joe@pve");
    pmx_params_set_str(empty, "expire", "");
    ck_assert_int_eq(pmx_method_validate(users, empty, 0, &msg), 0);
    ck_assert_int_eq(pmx_method_validate(users, empty, PMX_VALIDATE_JSON_BODY, &msg), 1);
    ck_assert_ptr_nonnull(strstr(msg, "expire: type check ('integer') failed"));
    pmx_free(msg);
    pmx_params_free(empty);
    pmx_params_free(p);
    pmx_params_free(q);
}
END_TEST

/* ---- decoding ---------------------------------------------------------------------------------- */

static int decode(const char *name, const char *json, void **out, char **err) {
    return pmx__bind_decode(M(name), json, strlen(json), out, err);
}

static void release(const char *name, void *res) { pmx__bind_result_free(M(name), res); }

START_TEST(test_decode_object) {
    void *out = NULL;
    char *err = NULL;
    ck_assert_int_eq(decode("pve_version_get",
                            " {\"version\":\"9.0.3\",\"release\":\"9.0\",\"repoid\":\"abc\\u00e9\","
                            "\"unknown\":{\"deep\":[1,2,{\"x\":null}]}} ",
                            &out, &err),
                     PMX_OK);
    const pve_version_get_result *v = out;
    ck_assert_str_eq(v->version, "9.0.3");
    ck_assert_str_eq(v->release, "9.0");
    ck_assert_str_eq(v->repoid, "abc\xc3\xa9");
    ck_assert_ptr_null(v->console);
    release("pve_version_get", out);
    /* Perl's empty hash as [] */
    ck_assert_int_eq(decode("pve_version_get", "[]", &out, &err), PMX_OK);
    ck_assert_ptr_null(((pve_version_get_result *)out)->version);
    release("pve_version_get", out);
    /* null data: no result */
    ck_assert_int_eq(decode("pve_version_get", "null", &out, &err), PMX_OK);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_decode_array_lenient) {
    void *out = NULL;
    char *err = NULL;
    const char *json =
        "[{\"vmid\":100,\"name\":\"a\",\"cpu\":0.25,\"maxmem\":2147483648,\"template\":0,"
        "\"status\":\"running\",\"extra\":[1]},"
        "{\"vmid\":\"101\",\"cpu\":\"0.5\",\"mem\":\"1024\",\"template\":\"1\",\"serial\":true},"
        "{\"vmid\":102.0,\"uptime\":null}]";
    ck_assert_int_eq(decode("pve_nodes_qemu_get", json, &out, &err), PMX_OK);
    const pve_nodes_qemu_get_result *r = out;
    ck_assert_uint_eq(r->n, 3);
    ck_assert_int_eq(r->items[0]->vmid, 100);
    ck_assert_str_eq(r->items[0]->name, "a");
    ck_assert(r->items[0]->cpu.set && r->items[0]->cpu.v == 0.25);
    ck_assert(r->items[0]->maxmem.set && r->items[0]->maxmem.v == 2147483648LL);
    ck_assert(r->items[0]->template_.set && r->items[0]->template_.v == 0);
    ck_assert(!r->items[0]->mem.set);
    ck_assert_int_eq(r->items[1]->vmid, 101);
    ck_assert(r->items[1]->cpu.set && r->items[1]->cpu.v == 0.5);
    ck_assert(r->items[1]->mem.set && r->items[1]->mem.v == 1024);
    ck_assert(r->items[1]->template_.set && r->items[1]->template_.v == 1);
    ck_assert(r->items[1]->serial.set && r->items[1]->serial.v == 1);
    ck_assert_ptr_null(r->items[1]->name);
    ck_assert_int_eq(r->items[2]->vmid, 102);
    ck_assert(!r->items[2]->uptime.set);
    release("pve_nodes_qemu_get", out);
    ck_assert_int_eq(decode("pve_nodes_qemu_get", "[]", &out, &err), PMX_OK);
    ck_assert_uint_eq(((pve_nodes_qemu_get_result *)out)->n, 0);
    release("pve_nodes_qemu_get", out);
}
END_TEST

START_TEST(test_decode_nested_and_scalars) {
    void *out = NULL;
    char *err = NULL;
    ck_assert_int_eq(decode("pve_access_users_token_tokenid_post",
                            "{\"full-tokenid\":\"root@pam!t\",\"value\":\"s\",\"info\":"
                            "{\"comment\":\"c\",\"expire\":\"0\",\"privsep\":\"1\"}}",
                            &out, &err),
                     PMX_OK);
    const pve_access_users_token_tokenid_post_result *t = out;
    ck_assert_str_eq(t->full_tokenid, "root@pam!t");
    ck_assert_ptr_nonnull(t->info);
    ck_assert_str_eq(t->info->comment, "c");
    ck_assert(t->info->expire.set && t->info->expire.v == 0);
    ck_assert(t->info->privsep.set && t->info->privsep.v == 1);
    release("pve_access_users_token_tokenid_post", out);
    ck_assert_int_eq(decode("pve_nodes_qemu_status_start_post",
                            "\"UPID:pve1:00001234:00000001:5F000000:qmstart:100:root@pam:\"", &out,
                            &err),
                     PMX_OK);
    ck_assert_str_eq(((pve_nodes_qemu_status_start_post_result *)out)->value,
                     "UPID:pve1:00001234:00000001:5F000000:qmstart:100:root@pam:");
    release("pve_nodes_qemu_status_start_post", out);
}
END_TEST

START_TEST(test_decode_indexed_members) {
    void *out = NULL;
    char *err = NULL;
    ck_assert_int_eq(decode("pve_nodes_qemu_config_get",
                            "{\"cores\":\"4\",\"net0\":\"virtio=BC:24:11:00:00:01,bridge=vmbr0\","
                            "\"net31\":\"e1000\",\"net32\":\"ignored\",\"net01\":\"ignored\","
                            "\"numa\":1,\"numa1\":\"cpus=0-1\",\"unused255\":\"local:1\","
                            "\"onboot\":true,\"digest\":\"abc\"}",
                            &out, &err),
                     PMX_OK);
    const pve_nodes_qemu_config_get_result *r = out;
    ck_assert(r->cores.set && r->cores.v == 4);
    ck_assert_str_eq(r->net[0], "virtio=BC:24:11:00:00:01,bridge=vmbr0");
    ck_assert_ptr_null(r->net[1]);
    ck_assert_str_eq(r->net[31], "e1000");
    ck_assert(r->numa.set && r->numa.v == 1);
    ck_assert_ptr_null(r->numa_n[0]);
    ck_assert_str_eq(r->numa_n[1], "cpus=0-1");
    ck_assert_str_eq(r->unused[255], "local:1");
    ck_assert(r->onboot.set && r->onboot.v == 1);
    ck_assert_str_eq(r->digest, "abc");
    release("pve_nodes_qemu_config_get", out);
    ck_assert_int_eq(decode("pve_nodes_qemu_config_get", "{\"net2\":5}", &out, &err), PMX_OK);
    ck_assert_str_eq(((pve_nodes_qemu_config_get_result *)out)->net[2], "5");
    release("pve_nodes_qemu_config_get", out);
    ck_assert_int_eq(decode("pve_nodes_qemu_config_get", "{\"net2\":{}}", &out, &err),
                     PMX_EDECODE);
    /* (a method with secrets: the bad value is named, not quoted) */
    ck_assert_str_eq(err, "net2: expected a string");
    pmx_free(err);
}
END_TEST

START_TEST(test_decode_wrong_types) {
    static const struct {
        const char *name, *json, *msg;
    } t[] = {
        {"pve_nodes_qemu_get", "[{\"vmid\":100},{\"vmid\":101,\"cpu\":\"fast\"}]",
         "[1].cpu: expected a number"},
        {"pve_nodes_qemu_get", "[{\"vmid\":{\"a\":1}}]", "[0].vmid: expected an integer"},
        {"pve_nodes_qemu_get", "[{\"template\":\"maybe\"}]", "[0].template: expected a boolean"},
        {"pve_nodes_qemu_get", "[{\"name\":[1]}]", "[0].name: expected a string"},
        {"pve_nodes_qemu_get", "{\"vmid\":1}", "data: expected an array"},
        {"pve_nodes_qemu_get", "[1]", "[0]: expected an object"},
        {"pve_version_get", "\"x\"", "data: expected an object"},
        {"pve_access_users_token_tokenid_post", "{\"info\":{\"expire\":\"soon\"}}",
         "info.expire: expected an integer"},
        {"pve_nodes_qemu_get", "[{\"vmid\":100}", "malformed"},
        {"pve_version_get", "{\"version\":\"9\"} x", "malformed"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        void *out = (void *)1;
        char *err = NULL;
        ck_assert_int_eq(decode(t[i].name, t[i].json, &out, &err), PMX_EDECODE);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, t[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      t[i].msg);
        pmx_free(err);
    }
}
END_TEST

/* Allocation failure at every step: ENOMEM (or success), never a crash or a leak (ASan). */
static long g_fail_at, g_allocs;
static void *fail_malloc(size_t n) { return ++g_allocs == g_fail_at ? NULL : malloc(n); }
static void *fail_realloc(void *p, size_t n) {
    return ++g_allocs == g_fail_at ? NULL : realloc(p, n);
}

START_TEST(test_alloc_failures) {
    const char *json = "[{\"vmid\":100,\"name\":\"a\"},{\"vmid\":101,\"name\":\"b\"}]";
    int ok = 0;
    for (g_fail_at = 1; g_fail_at < 200 && !ok; g_fail_at++) {
        g_allocs = 0;
        ck_assert_int_eq(pmx_set_allocator(fail_malloc, fail_realloc, free), PMX_OK);
        void *out = NULL;
        char *err = NULL;
        int rc = decode("pve_nodes_qemu_get", json, &out, &err);
        int64_t vmid = 100;
        const void *a[] = {"pve1", &vmid};
        char *path = NULL, *berr = NULL;
        pmx_params *params = NULL;
        pve_nodes_qemu_config_post_params p = {.struct_size = sizeof(pve_nodes_qemu_config_post_params), .name = "x", .cores = PMX_SOME_I64(1)};
        int rb = pmx__bind_build(M("pve_nodes_qemu_config_post"), a, &p, &path, &params, &berr);
        pmx_set_allocator(malloc, realloc, free);
        ck_assert(rc == PMX_OK || rc == PMX_ENOMEM);
        ck_assert(rb == PMX_OK || rb == PMX_ENOMEM);
        if (rc == PMX_OK)
            release("pve_nodes_qemu_get", out);
        else
            ck_assert_ptr_null(out);
        pmx_free(err);
        pmx_free(path);
        pmx_free(berr);
        pmx_params_free(params);
        ok = rc == PMX_OK && rb == PMX_OK;
    }
    ck_assert(ok);
}
END_TEST

/* ---- through the client ------------------------------------------------------------------------- */

START_TEST(test_call_einval_async) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, "https://127.0.0.1:9"), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_nodes_qemu_vmid_get(c, "pve1", 5, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_ptr_nonnull(call);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_ptr_nonnull(pmx_call_error(call));
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "vmid: value must have a minimum value"));
    ck_assert_ptr_null(pve_nodes_qemu_vmid_get_result_of(call));
    pmx_call_unref(call);
    ck_assert_int_eq(pve_version_get(NULL, NULL, NULL, NULL, &call), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(test_call_typed_mock) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_ptr_nonnull(c);
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_version_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    const pve_version_get_result *v = pve_version_get_result_of(call);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(v->version);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

static Suite *bind_suite(void) {
    Suite *s = suite_create("bind");
    TCase *t = tcase_create("tables");
    tcase_set_timeout(t, 60); /* every pattern compiled once; slow under sanitizers */
    tcase_add_test(t, test_table_consistent);
    tcase_add_test(t, test_describe_respects_size);
    tcase_add_test(t, test_posix_patterns_compile);
    tcase_add_test(t, test_find);
    tcase_add_test(t, test_path_param);
    suite_add_tcase(s, t);
    t = tcase_create("encode");
    tcase_add_test(t, test_build_path_only);
    tcase_add_test(t, test_build_escapes_path);
    tcase_add_test(t, test_build_query_bool_zero);
    tcase_add_test(t, test_build_body_indexed_and_mangled);
    tcase_add_test(t, test_build_array_repeated);
    tcase_add_test(t, test_build_validation);
    tcase_add_test(t, test_build_every_method);
    tcase_add_test(t, test_param_check);
    tcase_add_test(t, test_validate_generic);
    suite_add_tcase(s, t);
    t = tcase_create("decode");
    tcase_add_test(t, test_decode_object);
    tcase_add_test(t, test_decode_array_lenient);
    tcase_add_test(t, test_decode_nested_and_scalars);
    tcase_add_test(t, test_decode_indexed_members);
    tcase_add_test(t, test_decode_wrong_types);
    tcase_add_test(t, test_alloc_failures);
    suite_add_tcase(s, t);
    t = tcase_create("call");
    tcase_set_timeout(t, 20);
    tcase_add_test(t, test_call_einval_async);
    suite_add_tcase(s, t);
    t = tcase_create("call_mock");
    tcase_set_timeout(t, 30);
    tcase_add_unchecked_fixture(t, mock_fixture_start, mock_fixture_stop);
    tcase_add_test(t, test_call_typed_mock);
    suite_add_tcase(s, t);
    return s;
}
PMX_TEST_SUITE(bind_suite)
