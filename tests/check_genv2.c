/* Generated layer v2: stable layouts (older and newer _params structs), path segments,
 * pmx_method_start(), secrets from the schema, the schema version. */
#include "testutil.h"

#include "bind.h"
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pmx_method_desc *M(const char *name) {
    const pmx_method_desc *d = pmx_method_by_name(name);
    ck_assert_msg(d != NULL, "method %s not found", name);
    return d;
}

typedef struct built {
    int rc;
    char *path, *query, *err;
} built;

static built build(const char *name, const void *const *args, const void *p) {
    built b = {0};
    pmx_params *params = NULL;
    b.rc = pmx__bind_build(M(name), args, p, &b.path, &params, &b.err);
    if (b.rc == PMX_OK) {
        ck_assert_int_eq(pmx_params_encode(params, &b.query), PMX_OK);
        pmx_params_free(params);
    }
    return b;
}

static void built_free(built *b) {
    pmx_free(b->path);
    pmx_free(b->query);
    pmx_free(b->err);
}

/* ---- stable layouts --------------------------------------------------------------------------- */

/* pve_access_users_post_params as a program built against an older library saw it: the first
 * three members of schema/layout.txt. The library must read exactly these and nothing past. */
typedef struct old_users_post_params {
    uint32_t struct_size;
    const char *comment;
    const char *email;
    pmx_opt_bool enable;
} old_users_post_params;

START_TEST(test_old_shorter_struct) {
    /* the old layout is a prefix of the current one: members never move */
    ck_assert_uint_eq(offsetof(old_users_post_params, comment),
                      offsetof(pve_access_users_post_params, comment));
    ck_assert_uint_eq(offsetof(old_users_post_params, email),
                      offsetof(pve_access_users_post_params, email));
    ck_assert_uint_eq(offsetof(old_users_post_params, enable),
                      offsetof(pve_access_users_post_params, enable));
    ck_assert_uint_lt(sizeof(old_users_post_params), sizeof(pve_access_users_post_params));
    /* the old struct sits in memory followed by anything (here: a whole current struct's worth
     * of set pointers and flags, which the library must not read) */
    union {
        pve_access_users_post_params now;
        unsigned char bytes[sizeof(pve_access_users_post_params) + 64];
    } mem;
    memset(&mem, 0x01, sizeof mem);
    mem.now.userid = "garbage@pve"; /* past the old struct: must be ignored */
    mem.now.password = "garbage";
    old_users_post_params *old = (old_users_post_params *)(void *)&mem;
    old->struct_size = sizeof *old;
    old->comment = "old program";
    old->email = NULL;
    old->enable = PMX_SOME_BOOL(1);
    built b = build("pve_access_users_post", NULL, old);
    /* userid is required and lies past the old struct: reported missing, not read */
    ck_assert_int_eq(b.rc, PMX_EINVAL);
    ck_assert_str_eq(b.err, "userid: property is missing and it is not optional");
    built_free(&b);
    /* with the current struct the same call goes through */
    pve_access_users_post_params now = PMX_PARAMS_INIT(pve_access_users_post_params);
    now.userid = "new@pve";
    now.comment = "new program";
    b = build("pve_access_users_post", NULL, &now);
    ck_assert_msg(b.rc == PMX_OK, "%s", b.err ? b.err : "?");
    ck_assert_str_eq(b.query, "comment=new%20program&userid=new%40pve");
    built_free(&b);
}
END_TEST

/* An old caller's optional members past its struct are unset even when memory there is set. */
START_TEST(test_old_struct_optional_members) {
    union {
        pve_nodes_qemu_get_params now;
        unsigned char bytes[sizeof(pve_nodes_qemu_get_params) + 16];
    } mem;
    memset(&mem, 0, sizeof mem);
    mem.now.full = PMX_SOME_BOOL(1);
    mem.now.struct_size = (uint32_t)offsetof(pve_nodes_qemu_get_params, full);
    const void *args[] = {"pve1"};
    built b = build("pve_nodes_qemu_get", args, &mem.now);
    ck_assert_int_eq(b.rc, PMX_OK);
    ck_assert_str_eq(b.path, "/nodes/pve1/qemu");
    ck_assert_str_eq(b.query, "");
    built_free(&b);
    mem.now.struct_size = sizeof mem.now;
    b = build("pve_nodes_qemu_get", args, &mem.now);
    ck_assert_str_eq(b.query, "full=1");
    built_free(&b);
}
END_TEST

START_TEST(test_struct_size_checked) {
    const void *args[] = {"pve1"};
    pve_nodes_qemu_get_params zero;
    memset(&zero, 0, sizeof zero);
    built b = build("pve_nodes_qemu_get", args, &zero);
    ck_assert_int_eq(b.rc, PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(b.err, "struct_size: not set"));
    built_free(&b);
    /* a newer caller: unknown trailing members unset are fine, set ones refused */
    struct {
        pve_nodes_qemu_get_params p;
        char future[sizeof(void *)];
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.p.struct_size = sizeof newer;
    b = build("pve_nodes_qemu_get", args, &newer);
    ck_assert_int_eq(b.rc, PMX_OK);
    built_free(&b);
    newer.future[3] = 1;
    b = build("pve_nodes_qemu_get", args, &newer);
    ck_assert_int_eq(b.rc, PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(b.err, "struct_size: members this library version does not know"));
    built_free(&b);
    /* property strings take the same rule */
    pve_fmt_qemu_net net;
    memset(&net, 0, sizeof net);
    net.model = "virtio";
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&net, &out, &err), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "struct_size"));
    pmx_free(err);
    net.struct_size = sizeof net;
    err = NULL;
    int rc = pve_fmt_qemu_net_encode(&net, &out, &err);
    ck_assert_msg(rc == PMX_OK, "%d %s", rc, err ? err : "?");
    ck_assert_str_eq(out, "virtio");
    pmx_free(out);
    /* an older pve_fmt struct that ends before tag: tag is not read */
    ck_assert_uint_gt(offsetof(pve_fmt_qemu_net, tag), offsetof(pve_fmt_qemu_net, model));
    net.tag = PMX_SOME_I64(20);
    net.struct_size = (uint32_t)offsetof(pve_fmt_qemu_net, tag);
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&net, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "virtio");
    pmx_free(out);
    pve_fmt_qemu_net *dec = NULL;
    ck_assert_int_eq(pve_fmt_qemu_net_decode("virtio,bridge=vmbr0", &dec, NULL), PMX_OK);
    ck_assert_uint_eq(dec->struct_size, sizeof *dec);
    pve_fmt_qemu_net_free(dec);
}
END_TEST

/* ---- path segments ------------------------------------------------------------------------------ */

START_TEST(test_path_segments_refused) {
    static const char *const bad[] = {"", ".", ".."};
    for (size_t i = 0; i < 3; i++) {
        const void *args[] = {"myvnet", bad[i]};
        built b = build("pve_cluster_sdn_vnets_subnets_subnet_delete", args, NULL);
        ck_assert_int_eq(b.rc, PMX_EINVAL);
        ck_assert_msg(b.err && !strncmp(b.err, "subnet: ", 8), "'%s': %s", bad[i],
                      b.err ? b.err : "?");
        built_free(&b);
    }
    const void *zone[] = {".."};
    built b = build("pve_cluster_sdn_zones_zone_put", zone, NULL);
    ck_assert_int_eq(b.rc, PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(b.err, "zone: '.' and '..' are not valid path segments"));
    built_free(&b);
    /* dots inside a segment are fine, and so is a volume with slashes (escaped) */
    const void *ok[] = {"pve1", "local", "local:iso/a..b.iso"};
    b = build("pve_nodes_storage_content_volume_get", ok, NULL);
    ck_assert_int_eq(b.rc, PMX_OK);
    ck_assert_str_eq(b.path, "/nodes/pve1/storage/local/content/local%3Aiso%2Fa..b.iso");
    built_free(&b);
    /* generic validation with path parameters refuses them too */
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "zone", ".");
    char *msg = NULL;
    ck_assert_int_eq(pmx_method_validate(M("pve_cluster_sdn_zones_zone_put"), p, PMX_VALIDATE_PATH,
                                         &msg), 1);
    ck_assert_ptr_nonnull(strstr(msg, "zone: '.' and '..'"));
    pmx_free(msg);
    pmx_params_free(p);
}
END_TEST

/* ---- pmx_method_start ----------------------------------------------------------------------------- */

START_TEST(test_method_start) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_ptr_nonnull(c);
    pmx_call *call = NULL;
    const pmx_method_desc *d = M("pve_nodes_qemu_get");
    const char *const args[] = {"pve1"};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 10000;
    ck_assert_int_eq(pmx_method_start(c, d, args, NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    const pve_nodes_qemu_get_result *r = pve_nodes_qemu_get_result_of(call);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_gt(r->n, 0);
    ck_assert_ptr_nonnull(r->items[0]->status);
    pmx_call_unref(call);
    /* integers as text; parameters validated and named */
    const char *const vm[] = {"pve1", "99"};
    ck_assert_int_eq(pmx_method_start(c, M("pve_nodes_qemu_vmid_get"), vm, NULL, NULL, NULL, NULL,
                                      &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_str_eq(pmx_call_error(call), "vmid: value must have a minimum value of 100");
    pmx_call_unref(call);
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "full", "maybe");
    pmx_params_set_str(p, "nope", "1");
    ck_assert_int_eq(pmx_method_start(c, d, args, p, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "full: type check ('boolean') failed"));
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "nope: property is not defined"));
    pmx_call_unref(call);
    pmx_params_free(p);
    /* dot segments and missing path arguments */
    const char *const dots[] = {".."};
    ck_assert_int_eq(pmx_method_start(c, d, dots, NULL, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "node: '.' and '..'"));
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_method_start(c, d, NULL, NULL, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_str_eq(pmx_call_error(call), "node: property is missing and it is not optional");
    pmx_call_unref(call);
    /* "" is absent in a form, a value in a JSON body: each call is checked as it will travel */
    const pmx_method_desc *create = pmx_method_by_name("pve_nodes_qemu_post");
    pmx_params *blank = pmx_params_new();
    pmx_params_set_str(blank, "vmid", "");
    ck_assert_int_eq(pmx_method_start(c, create, args, blank, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_str_eq(pmx_call_error(call), "vmid: property is missing and it is not optional");
    pmx_call_unref(call);
    pmx_call_opts json = PMX_OPTS_INIT(pmx_call_opts);
    json.flags = PMX_CALL_JSON_BODY;
    ck_assert_int_eq(pmx_method_start(c, create, args, blank, &json, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    ck_assert_str_eq(pmx_call_error(call), "vmid: type check ('integer') failed - got ''");
    pmx_call_unref(call);
    pmx_params_free(blank);
    /* bad arguments at once */
    ck_assert_int_eq(pmx_method_start(NULL, d, args, NULL, NULL, NULL, NULL, &call), PMX_EINVAL);
    ck_assert_ptr_null(call);
    ck_assert_int_eq(pmx_method_start(c, NULL, args, NULL, NULL, NULL, NULL, &call), PMX_EINVAL);
    pmx_call_opts bad = PMX_OPTS_INIT(pmx_call_opts);
    bad.flags = 1u << 30;
    ck_assert_int_eq(pmx_method_start(c, d, args, NULL, &bad, NULL, NULL, &call), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* ---- item by item, no body --------------------------------------------------------------------- */

typedef struct seen_items {
    size_t n, stop_at;
    int ordered, named;
} seen_items;

static int on_item(pmx_call *call, const void *item, size_t index, void *ud) {
    seen_items *s = ud;
    const pve_cluster_resources_get_item *it = item;
    ck_assert_ptr_nonnull(call);
    s->ordered &= index == s->n;
    s->named &= it && it->id && it->type;
    s->n++;
    return s->stop_at && s->n == s->stop_at;
}

START_TEST(test_items_and_no_body) {
    pmx_client *c = test_client(&g_mock, "token");
    const pmx_method_desc *d = M("pve_cluster_resources_get");
    pmx_call *call = NULL;
    /* the reference: collected, body kept */
    ck_assert_int_eq(pmx_method_start(c, d, NULL, NULL, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    const pve_cluster_resources_get_result *all = pve_cluster_resources_get_result_of(call);
    ck_assert_ptr_nonnull(all);
    size_t total = all->n;
    ck_assert_uint_gt(total, 3);
    size_t blen = 0;
    ck_assert_ptr_nonnull(pmx_call_body(call, &blen));
    ck_assert_ptr_nonnull(pmx_call_data(call, NULL));
    pmx_call_unref(call);
    /* element by element, without the body */
    seen_items si = {0, 0, 1, 1};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.flags = PMX_CALL_NO_BODY;
    o.on_item = on_item;
    o.item_userdata = &si;
    ck_assert_int_eq(pmx_method_start(c, d, NULL, NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_uint_eq(si.n, total);
    ck_assert(si.ordered && si.named);
    const pve_cluster_resources_get_result *r = pve_cluster_resources_get_result_of(call);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->n, total);
    ck_assert_ptr_null(r->items);
    ck_assert_ptr_null(pmx_call_body(call, NULL));
    ck_assert_ptr_null(pmx_call_data(call, NULL));
    pmx_call_unref(call);
    /* no body, collected */
    o.on_item = NULL;
    ck_assert_int_eq(pmx_method_start(c, d, NULL, NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_uint_eq(pve_cluster_resources_get_result_of(call)->n, total);
    ck_assert_ptr_nonnull(pve_cluster_resources_get_result_of(call)->items[total - 1]->id);
    ck_assert_ptr_null(pmx_call_body(call, NULL));
    pmx_call_unref(call);
    /* the callback stops the call */
    seen_items stop = {0, 3, 1, 1};
    o.on_item = on_item;
    o.item_userdata = &stop;
    ck_assert_int_eq(pmx_method_start(c, d, NULL, NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ECANCELLED);
    ck_assert_uint_eq(stop.n, 3);
    ck_assert_str_eq(pmx_call_error(call), "stopped by the item callback");
    pmx_call_unref(call);
    /* the response cap still bounds a body that is not kept */
    pmx_client *small = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_max_response(small, 200), PMX_OK);
    pmx_call_opts nk = PMX_OPTS_INIT(pmx_call_opts);
    nk.flags = PMX_CALL_NO_BODY;
    ck_assert_int_eq(pmx_method_start(small, d, NULL, NULL, &nk, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETOOBIG);
    pmx_call_unref(call);
    pmx_client_free(small);
    /* generic calls have no typed result to stream */
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/cluster/resources", NULL, &o, NULL, NULL, &call),
                     PMX_EINVAL);
    pmx_call_opts nb = PMX_OPTS_INIT(pmx_call_opts);
    nb.flags = PMX_CALL_NO_BODY;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &nb, NULL, NULL, &call),
                     PMX_EINVAL);
    /* error bodies stay: a 4xx of a typed call keeps its message */
    const char *const bad[] = {"nonexistent-node"};
    ck_assert_int_eq(pmx_method_start(c, M("pve_nodes_qemu_get"), bad, NULL, &nb, NULL, NULL,
                                      &call),
                     PMX_OK);
    ck_assert_int_ne(pmx_call_wait(call), PMX_OK);
    ck_assert_ptr_nonnull(pmx_call_error(call));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* A typed GET cut mid-body is retried and decoded afresh (the incremental decoder restarts);
 * once elements went to an item callback the call is not retried. */
static int count_only(pmx_call *call, const void *item, size_t index, void *ud) {
    (void)call;
    (void)item;
    (void)index;
    (*(size_t *)ud)++;
    return 0;
}

START_TEST(test_stream_restarts_on_retry) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_client_set_compression(c, 0); /* a plain body: the cut lands inside the elements */
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t n = pve_cluster_resources_get_result_of(call)->n;
    pmx_call_unref(call);
    mock_faults(&g_mock, "{\"close_mid_response\":1}");
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    const pve_cluster_resources_get_result *r = pve_cluster_resources_get_result_of(call);
    ck_assert_uint_eq(r->n, n); /* not twice the first half */
    ck_assert_ptr_nonnull(r->items[n - 1]->id);
    pmx_call_unref(call);
    /* item mode: what was handed over cannot be taken back */
    size_t seen = 0;
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.on_item = count_only;
    o.item_userdata = &seen;
    mock_faults(&g_mock, "{\"close_mid_response\":1}");
    ck_assert_int_eq(pmx_method_start(c, M("pve_cluster_resources_get"), NULL, NULL, &o, NULL, NULL,
                                      &call),
                     PMX_OK);
    ck_assert_int_ne(pmx_call_wait(call), PMX_OK);
    ck_assert_uint_gt(seen, 0);
    ck_assert_uint_lt(seen, n);
    pmx_call_unref(call);
    mock_reset(&g_mock);
    /* no element callback together with a body sink */
    o.write_fn = NULL;
    o.output_path = "/dev/null";
    ck_assert_int_eq(pmx_method_start(c, M("pve_cluster_resources_get"), NULL, NULL, &o, NULL, NULL,
                                      &call),
                     PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* ---- compression ---------------------------------------------------------------------------------- */

START_TEST(test_compression_per_client) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_reset(&g_mock);
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_stat(&g_mock, "compressed"), 1); /* gzip by default */
    ck_assert_int_eq(pmx_client_set_compression(c, 0), PMX_OK);
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t n = pve_cluster_resources_get_result_of(call)->n;
    ck_assert_uint_gt(n, 0);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_stat(&g_mock, "compressed"), 1); /* the second went plain */
    ck_assert_int_eq(pmx_client_set_compression(c, 1), PMX_OK);
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_uint_eq(pve_cluster_resources_get_result_of(call)->n, n);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_stat(&g_mock, "compressed"), 2);
    ck_assert_int_eq(pmx_client_set_compression(NULL, 1), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* ---- secrets ---------------------------------------------------------------------------------- */

static uint32_t method_flags(const char *name) {
    pmx_method_info i = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(M(name), &i), PMX_OK);
    return i.flags;
}

static uint32_t param_flags(const char *method, const char *param) {
    pmx_param_info i = PMX_OPTS_INIT(pmx_param_info);
    const pmx_param_desc *p = pmx_method_param(M(method), param);
    ck_assert_msg(p != NULL, "%s %s", method, param);
    ck_assert_int_eq(pmx_param_describe(p, &i), PMX_OK);
    return i.flags;
}

static uint32_t result_field_flags(const char *method, const char *field) {
    pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(M(method), &mi), PMX_OK);
    pmx_type_info ti = PMX_OPTS_INIT(pmx_type_info);
    ck_assert_int_eq(pmx_type_describe(mi.result, &ti), PMX_OK);
    for (size_t i = 0; i < ti.n_fields; i++) {
        pmx_field_info f = PMX_OPTS_INIT(pmx_field_info);
        ck_assert_int_eq(pmx_field_describe(pmx_type_field_at(mi.result, i), &f), PMX_OK);
        if (!strcmp(f.name, field))
            return f.flags;
    }
    ck_abort_msg("%s has no result field %s", method, field);
    return 0;
}

START_TEST(test_secrets_marked) {
    ck_assert(method_flags("pve_access_ticket_post") & PMX_METHOD_SECRET);
    ck_assert(method_flags("pve_access_password_put") & PMX_METHOD_SECRET);
    ck_assert(method_flags("pve_access_users_token_tokenid_post") & PMX_METHOD_SECRET);
    ck_assert(!(method_flags("pve_version_get") & PMX_METHOD_SECRET));
    ck_assert(!(method_flags("pve_nodes_qemu_get") & PMX_METHOD_SECRET));
    ck_assert(param_flags("pve_access_ticket_post", "password") & PMX_PARAM_SECRET);
    ck_assert(param_flags("pve_access_password_put", "confirmation-password") & PMX_PARAM_SECRET);
    ck_assert(param_flags("pve_nodes_qemu_config_put", "cipassword") & PMX_PARAM_SECRET);
    ck_assert(!(param_flags("pve_access_ticket_post", "username") & PMX_PARAM_SECRET));
    ck_assert(result_field_flags("pve_access_ticket_post", "ticket") & PMX_FIELD_SECRET);
    ck_assert(result_field_flags("pve_access_ticket_post", "CSRFPreventionToken") &
              PMX_FIELD_SECRET);
    ck_assert(result_field_flags("pve_access_users_token_tokenid_post", "value") & PMX_FIELD_SECRET);
    ck_assert(!(result_field_flags("pve_access_users_token_tokenid_post", "full-tokenid") &
                PMX_FIELD_SECRET));
}
END_TEST

START_TEST(test_secret_generic_calls) {
    pmx_params *p = pmx_params_new();
    ck_assert_int_eq(pmx__secret_params(PMX_GET, "/version", p), 0);
    ck_assert_int_eq(pmx__secret_params(PMX_GET, "/nodes/pve1/qemu", NULL), 0);
    /* results with secrets: ticket, token value */
    ck_assert_int_eq(pmx__secret_params(PMX_POST, "/access/ticket", p), 1);
    ck_assert_int_eq(pmx__secret_params(PMX_POST, "/access/users/u@pve/token/t1", p), 1);
    ck_assert_int_eq(pmx__secret_params(PMX_GET, "/access/users/u@pve/token/t1", p), 0);
    /* a secret parameter on any path */
    pmx_params_set_str(p, "comment", "x");
    ck_assert_int_eq(pmx__secret_params(PMX_PUT, "/nodes/pve1/qemu/100/config", p), 0);
    pmx_params_set_str(p, "cipassword", "x");
    ck_assert_int_eq(pmx__secret_params(PMX_PUT, "/nodes/pve1/qemu/100/config", p), 1);
    pmx_params_free(p);
}
END_TEST

START_TEST(test_secret_typed_call_flagged) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    pve_access_password_put_params p = PMX_PARAMS_INIT(pve_access_password_put_params);
    p.userid = "u@pve";
    p.password = "new-secret-password";
    p.confirmation_password = "old-secret";
    ck_assert_int_eq(pve_access_password_put(c, &p, NULL, NULL, &call), PMX_OK);
    ck_assert(call->secret);    /* request and response bodies are wiped when freed */
    ck_assert(call->resp.secret);
    pmx_call_wait(call);
    pmx_call_unref(call);
    ck_assert_int_eq(pve_version_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert(!call->secret);
    pmx_call_wait(call);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* A decoded result of a method with secrets is wiped, strings included. */
START_TEST(test_secret_result_wiped) {
    const pmx_method_desc *d = M("pve_access_users_token_tokenid_post");
    static const char json[] =
        "{\"full-tokenid\":\"u@pve!t1\",\"info\":{\"comment\":\"c\"},"
        "\"value\":\"11111111-2222-3333-4444-555555555555\"}";
    void *res = NULL;
    char *err = NULL;
    ck_assert_int_eq(pmx__bind_decode(d, json, strlen(json), &res, &err), PMX_OK);
    const pve_access_users_token_tokenid_post_result *r = res;
    ck_assert_str_eq(r->value, "11111111-2222-3333-4444-555555555555");
    char *value = r->value;
    size_t n = strlen(value);
    pmx__bind_result_wipe(res);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(value[i], 0);
    pmx__bind_result_free(d, res);
}
END_TEST

START_TEST(test_schema_version) {
    ck_assert_str_eq(pmx_schema_version(), PMX_GEN_PVE_VERSION);
    ck_assert_str_ne(pmx_schema_version(), "unknown");
}
END_TEST

static Suite *genv2_suite(void) {
    Suite *s = suite_create("genv2");
    TCase *t = tcase_create("layout");
    tcase_add_test(t, test_old_shorter_struct);
    tcase_add_test(t, test_old_struct_optional_members);
    tcase_add_test(t, test_struct_size_checked);
    tcase_add_test(t, test_path_segments_refused);
    tcase_add_test(t, test_secrets_marked);
    tcase_add_test(t, test_secret_generic_calls);
    tcase_add_test(t, test_secret_result_wiped);
    tcase_add_test(t, test_schema_version);
    suite_add_tcase(s, t);
    t = tcase_create("mock");
    tcase_add_unchecked_fixture(t, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_method_start);
    tcase_add_test(t, test_secret_typed_call_flagged);
    tcase_add_test(t, test_items_and_no_body);
    tcase_add_test(t, test_compression_per_client);
    tcase_add_test(t, test_stream_restarts_on_retry);
    suite_add_tcase(s, t);
    return s;
}
PMX_TEST_SUITE(genv2_suite)
