/* Every method of the generated tables, called once against pve-mock through pmx__bind_call
 * with arguments built from the tables; plus the mock's generic parameter checks. */
#include "testutil.h"

#include "bind.h"
#include "value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN_FLIGHT 32
#define MAX_PATH_PARAMS 8
#define MAX_VALUES 64 /* path + required parameters of one method */

/* ---- sample arguments from the tables ------------------------------------------------------ */

static char g_upid[256]; /* a real task of the mock, for {upid} path parameters */

/* What sample_text needs of a parameter or of a property-string key. */
typedef struct vspec {
    uint32_t type, flags, loc; /* flags: PMX_PARAM_HAS_* */
    const char *name, *format, *enum0;
    double minimum, maximum;
    const pmx_param_desc *p;         /* parameters: checked with pmx_param_check */
    const pmx_propstr_desc *propstr; /* typed property string */
    const pmx_propkey_desc *key;     /* keys: checked with the shared value checks */
} vspec;

static vspec spec_of_param(const pmx_param_desc *p) {
    pmx_param_info i = PMX_OPTS_INIT(pmx_param_info);
    ck_assert_int_eq(pmx_param_describe(p, &i), PMX_OK);
    vspec v = {i.item_type ? i.item_type : i.type, i.flags, i.loc, i.name, i.format,
               pmx_param_enum_at(p, 0), i.minimum, i.maximum, p, i.propstr, NULL};
    return v;
}

/* NULL when v accepts text. */
static const char *spec_check(const vspec *v, const char *text, char *msg, size_t n) {
    if (v->p)
        return pmx_param_check(v->p, text, msg, n);
    pmx__constraints k;
    pmx__constraints_of_key(v->key, &k);
    return pmx__check_value(&k, text, msg, n);
}

static int sample_text(const char *path, const vspec *p, size_t idx, char *buf, size_t n);

/* A property string with every required key of p's format ("id=1234:5678,node=pve1,..."),
 * each value chosen like a parameter's from the key's constraints. */
static int sample_propstr(const char *path, const vspec *p, size_t idx, char *buf, size_t n) {
    pmx_propstr_info ps = PMX_OPTS_INIT(pmx_propstr_info);
    ck_assert_int_eq(pmx_propstr_describe(p->propstr, &ps), PMX_OK);
    size_t len = 0;
    buf[0] = 0;
    for (size_t k = 0; k < ps.n_keys; k++) {
        const pmx_propkey_desc *kd = pmx_propstr_key_at(p->propstr, k);
        pmx_propkey_info q = PMX_OPTS_INIT(pmx_propkey_info);
        ck_assert_int_eq(pmx_propkey_describe(kd, &q), PMX_OK);
        if (!(q.flags & PMX_PROPKEY_REQUIRED) || !q.type)
            continue;
        vspec f = {q.type,
                   ((q.flags & PMX_PROPKEY_HAS_MIN) ? PMX_PARAM_HAS_MIN : 0) |
                       ((q.flags & PMX_PROPKEY_HAS_MAX) ? PMX_PARAM_HAS_MAX : 0),
                   PMX_LOC_BODY, q.name, q.format, pmx_propkey_enum_at(kd, 0), q.minimum,
                   q.maximum, NULL, NULL, kd};
        char v[256];
        if (q.flags & PMX_PROPKEY_DISK_SIZE)
            snprintf(v, sizeof v, "1G");
        else if (sample_text(path, &f, idx, v, sizeof v))
            return -1;
        len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s=%s", len ? "," : "",
                                q.name, v);
    }
    char msg[512];
    return len < n && !spec_check(p, buf, msg, sizeof msg) ? 0 : -1;
}

/* Text value for parameter p that passes its checks; written into buf. idx is the method's
 * index (keeps created VM IDs apart). Returns 0, or -1 when no candidate passes. */
static int sample_text(const char *path, const vspec *p, size_t idx, char *buf, size_t n) {
    char msg[512];
    uint32_t t = p->type;
    if (p->enum0) {
        snprintf(buf, n, "%s", p->enum0);
        return spec_check(p, buf, msg, sizeof msg) ? -1 : 0;
    }
    if (t == PMX_PARAM_INTEGER || t == PMX_PARAM_NUMBER) {
        double v = 1;
        if (!strcmp(p->name, "vmid") && p->loc != PMX_LOC_PATH)
            v = 1000000 + (double)idx; /* a new guest: POST /nodes/{node}/qemu creates it */
        else if (p->flags & PMX_PARAM_HAS_MIN)
            v = p->minimum;
        else if ((p->flags & PMX_PARAM_HAS_MAX) && p->maximum < 1)
            v = p->maximum;
        if ((p->flags & PMX_PARAM_HAS_MAX) && v > p->maximum)
            v = p->maximum;
        snprintf(buf, n, t == PMX_PARAM_INTEGER ? "%.0f" : "%g", v);
        return spec_check(p, buf, msg, sizeof msg) ? -1 : 0;
    }
    if (t == PMX_PARAM_BOOLEAN) {
        snprintf(buf, n, "1");
        return 0;
    }
    const char *first = NULL, *fmt = p->format ? p->format : "";
    if (!strcmp(path, "/access/ticket") && !strcmp(p->name, "username"))
        first = g_mock.user;
    else if (!strcmp(path, "/access/ticket") && !strcmp(p->name, "password"))
        first = g_mock.password;
    else if (!strcmp(p->name, "upid"))
        first = g_upid;
    else if (!strcmp(fmt, "pve-node") || !strcmp(p->name, "node"))
        first = "pve1";
    else if (!strcmp(fmt, "pve-storage-id") || !strcmp(p->name, "storage"))
        first = "local";
    else if (!strcmp(fmt, "pve-userid"))
        first = "root@pam";
    else if (!strcmp(fmt, "pve-realm"))
        first = "pam";
    else if (!strcmp(fmt, "pve-vmid"))
        first = "100";
    else if (!strcmp(fmt, "ipv6"))
        first = "2001:db8::1";
    else if (!strcmp(fmt, "ip") || !strcmp(fmt, "ipv4") || !strcmp(fmt, "address"))
        first = "192.0.2.10";
    else if (!strncmp(fmt, "IPorCIDR", 8) && p->loc == PMX_LOC_PATH)
        first = "192.0.2.10"; /* one path segment: PVE cannot route a '/' inside one */
    else if (!strncmp(fmt, "IPorCIDR", 8) || !strcmp(fmt, "CIDR"))
        first = "192.0.2.0/24";
    else if (!strcmp(fmt, "mac-addr"))
        first = "52:54:00:12:34:56";
    else if (!strcmp(fmt, "email") || !strcmp(fmt, "email-list") ||
             !strcmp(fmt, "email-or-username"))
        first = "root@example.com";
    else if (!strcmp(p->name, "fingerprint"))
        first = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    static const char *const candidates[] = {
        "sample", "sample-password", "/dev/sda", "100-0", "1G", "https://example.com/sample.iso",
        "pve2c-0123456789", "docker.io/library/debian:latest", "docker.io/library/debian",
        "0000:01:00.0", "1234:5678", "1-2.3", "/mnt/sample", NULL};
    if (first && !spec_check(p, first, msg, sizeof msg)) {
        snprintf(buf, n, "%s", first);
        return 0;
    }
    if (p->propstr && spec_check(p, "sample", msg, sizeof msg))
        return sample_propstr(path, p, idx, buf, n);
    for (size_t i = 0; candidates[i]; i++)
        if (!spec_check(p, candidates[i], msg, sizeof msg)) {
            snprintf(buf, n, "%s", candidates[i]);
            return 0;
        }
    return -1;
}

/* One method's arguments: path_args (pointers into this struct) and its _params struct. */
typedef struct args {
    const void *path_args[MAX_PATH_PARAMS];
    int64_t ints[MAX_PATH_PARAMS];
    char text[MAX_VALUES][256];
    const char *arrays[MAX_VALUES][1];
    size_t ntext;
    void *params;
} args;

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return s;
}

/* Fill a from the tables; NULL or a malloc'd reason why not. */
static char *args_build(args *a, const pmx_method_desc *d, size_t idx) {
    memset(a, 0, sizeof *a);
    pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(d, &mi), PMX_OK);
    if (mi.n_path_params > MAX_PATH_PARAMS)
        return xfmt("too many path parameters for the test");
    a->params = calloc(1, mi.params_size);
    ck_assert_ptr_nonnull(a->params);
    uint32_t size = (uint32_t)mi.params_size; /* struct_size, as PMX_PARAMS_INIT sets it */
    memcpy(a->params, &size, sizeof size);
    for (size_t i = 0; i < mi.n_params; i++) {
        const pmx_param_desc *pd = pmx_method_param_at(d, i);
        pmx_param_info pi = PMX_OPTS_INIT(pmx_param_info);
        ck_assert_int_eq(pmx_param_describe(pd, &pi), PMX_OK);
        const pmx_param_info *p = &pi;
        vspec vs = spec_of_param(pd);
        int path = i < mi.n_path_params;
        if (!path && !(p->flags & PMX_PARAM_REQUIRED))
            continue;
        if (a->ntext == MAX_VALUES)
            return xfmt("too many required parameters for the test");
        size_t k = a->ntext++;
        char *txt = a->text[k];
        if (sample_text(mi.path, &vs, idx, txt, sizeof a->text[0])) {
            char msg[512];
            const char *why = pmx_param_check(pd, txt[0] ? txt : "sample", msg, sizeof msg);
            return xfmt("no valid sample for %s (format %s; '%s': %s)", p->name,
                        p->format ? p->format : "-", txt[0] ? txt : "sample", why ? why : "-");
        }
        if (path) {
            if (p->type == PMX_PARAM_INTEGER) {
                a->ints[i] = strtoll(txt, NULL, 10);
                a->path_args[i] = &a->ints[i];
            } else {
                a->path_args[i] = txt;
            }
            continue;
        }
        if (p->flags & PMX_PARAM_INDEXED)
            return xfmt("required indexed parameter %s", p->name);
        char *field = (char *)a->params + pd->offset; /* internal record (tables.h) */
        switch (p->type) {
        case PMX_PARAM_STRING: {
            const char *s = txt;
            memcpy(field, &s, sizeof s);
            break;
        }
        case PMX_PARAM_INTEGER: {
            int64_t v = strtoll(txt, NULL, 10);
            memcpy(field, &v, sizeof v);
            break;
        }
        case PMX_PARAM_BOOLEAN: {
            int v = atoi(txt);
            memcpy(field, &v, sizeof v);
            break;
        }
        case PMX_PARAM_NUMBER: {
            double v = strtod(txt, NULL);
            memcpy(field, &v, sizeof v);
            break;
        }
        case PMX_PARAM_ARRAY: {
            const char **arr = a->arrays[k];
            arr[0] = txt;
            size_t one = 1;
            memcpy(field, &arr, sizeof arr);
            memcpy((char *)a->params + pd->count_offset, &one, sizeof one);
            break;
        }
        default:
            return xfmt("parameter %s has an unknown type", p->name);
        }
    }
    return NULL;
}

/* ---- running them ------------------------------------------------------------------------- */

typedef struct run {
    pmx_client *c;
    pmx_client *ticket_client; /* for methods that refuse API tokens (allowtoken=0) */
    size_t next, n, active, finished, compared;
    int *result;     /* per method */
    char **failure;  /* per method: malloc'd text, NULL when fine */
} run;

static void start_next(run *r);

typedef struct slot {
    run *r;
    size_t i;
} slot;

static void slot_done(pmx_call *call, int result, void *ud) {
    slot *s = ud;
    run *r = s->r;
    size_t i = s->i;
    const pmx_method_desc *d = pmx_method_at(i);
    pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(d, &mi), PMX_OK);
    r->result[i] = result;
    /* Transfers do not answer JSON to a plain call, as on PVE: pveproxy takes an upload only as
     * multipart/form-data (501 here), and file-restore/download streams the file's bytes. */
    int upload = mi.method == PMX_POST && !strcmp(mi.path, "/nodes/{node}/storage/{storage}/upload");
    int stream = !strcmp(mi.path, "/nodes/{node}/storage/{storage}/file-restore/download");
    if (upload || stream) {
        int want = upload ? 501 : 200;
        if (result == PMX_OK || pmx_call_http_status(call) != want)
            r->failure[i] = xfmt("%s: %s [HTTP %d], want a failure with HTTP %d", mi.name,
                                 pmx_strerror(result), pmx_call_http_status(call), want);
    } else if (result != PMX_OK) {
        const char *e = pmx_call_error(call);
        char buf[1024];
        snprintf(buf, sizeof buf, "%s (%s %s): %s [HTTP %d] %s", mi.name,
                 mi.method == PMX_GET    ? "GET"
                 : mi.method == PMX_POST ? "POST"
                 : mi.method == PMX_PUT  ? "PUT"
                                         : "DELETE",
                 mi.path, pmx_strerror(result), pmx_call_http_status(call), e ? e : "");
        r->failure[i] = strdup(buf);
    } else if (mi.result && !pmx_call_typed(call)) {
        r->failure[i] = xfmt("%s: %s", mi.name, "PMX_OK but pmx_call_typed() is NULL");
    } else if (mi.result) {
        /* the typed result agrees with cJSON's reading of the same body */
        size_t len = 0;
        const char *body = pmx_call_body(call, &len);
        ck_assert_ptr_nonnull(body);
        ck_assert_msg(test_decode_diff(mi.name, body, len, pmx_call_typed(call), mi.path),
                      "%s: refused", mi.name);
        r->compared++;
    }
    free(s);
    r->active--;
    r->finished++;
    start_next(r);
}

static void start_next(run *r) {
    while (r->active < IN_FLIGHT && r->next < r->n) {
        size_t i = r->next++;
        const pmx_method_desc *d = pmx_method_at(i);
        args *a = malloc(sizeof *a);
        ck_assert_ptr_nonnull(a);
        char *why = args_build(a, d, i);
        if (why) {
            r->failure[i] = xfmt("%s: %s", pmx_method_name(d), why);
            free(why);
            free(a->params);
            free(a);
            r->finished++;
            continue;
        }
        slot *s = malloc(sizeof *s);
        ck_assert_ptr_nonnull(s);
        s->r = r;
        s->i = i;
        pmx_client *via = (d->flags & PMX_METHOD_ALLOWTOKEN) ? r->c : r->ticket_client;
        int rc = pmx__bind_call(via, i, a->path_args, a->params, slot_done, s, NULL);
        free(a->params); /* the request is built (and copied) before pmx__bind_call returns */
        free(a);
        if (rc != PMX_OK) {
            r->failure[i] = xfmt("%s: pmx__bind_call returned %s", pmx_method_name(d),
                                 pmx_strerror(rc));
            free(s);
            r->finished++;
            continue;
        }
        r->active++;
    }
}

/* A real task on pve1, for the {upid} path parameters. */
static void make_task(pmx_client *c) {
    pmx_call *call = NULL;
    ck_assert_int_eq(
        pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL, NULL, &call),
        PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t len = 0;
    const char *data = pmx_call_data(call, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_gt(len, 2);
    ck_assert_uint_lt(len, sizeof g_upid);
    ck_assert_int_eq(data[0], '"');
    memcpy(g_upid, data + 1, len - 2);
    g_upid[len - 2] = 0;
    pmx_call_unref(call);
}

START_TEST(test_every_method) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_ptr_nonnull(c);
    make_task(c);
    run r = {0};
    r.c = c;
    r.ticket_client = test_client(&g_mock, "password");
    r.n = pmx_method_count();
    ck_assert_uint_eq(r.n, 646);
    r.result = calloc(r.n, sizeof *r.result);
    r.failure = calloc(r.n, sizeof *r.failure);
    ck_assert_ptr_nonnull(r.result);
    ck_assert_ptr_nonnull(r.failure);
    start_next(&r);
    /* two clients, one loop each: take turns until every method has answered */
    for (int turns = 0; r.finished < r.n && turns < 4000; turns++) {
        int a = pmx_client_run(c, 20), b = pmx_client_run(r.ticket_client, 20);
        ck_assert(a == PMX_OK || a == PMX_ETIMEOUT);
        ck_assert(b == PMX_OK || b == PMX_ETIMEOUT);
    }
    ck_assert_uint_eq(r.finished, r.n);
    /* every typed result the mock produced was held against cJSON (460 methods declare one) */
    fprintf(stderr, "allmethods: %zu typed results compared with cJSON\n", r.compared);
    ck_assert_uint_ge(r.compared, 400);

    size_t nfail = 0, cap = 1, len = 0;
    char *all = calloc(1, 1);
    for (size_t i = 0; i < r.n; i++) {
        if (!r.failure[i])
            continue;
        nfail++;
        size_t k = strlen(r.failure[i]);
        all = realloc(all, cap + k + 1);
        ck_assert_ptr_nonnull(all);
        cap += k + 1;
        len += (size_t)snprintf(all + len, cap - len, "\n%s", r.failure[i]);
        free(r.failure[i]);
    }
    if (nfail)
        fprintf(stderr, "allmethods: %zu of %zu methods failed:%s\n", nfail, r.n, all);
    free(r.failure);
    free(r.result);
    pmx_client_free(r.ticket_client);
    pmx_client_free(c);
    ck_assert_msg(nfail == 0, "%zu of %zu methods failed:%s", nfail, r.n, all);
    free(all);
}
END_TEST

/* Invalid parameters reach the mock through the generic API; its 400 names each of them. */
START_TEST(test_generic_param_errors) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_ptr_nonnull(c);
    /* POST /nodes/{node}/qemu/{vmid}/status/reboot has no hand-written route */
    ck_assert_ptr_nonnull(pmx_method_find(PMX_POST, "/nodes/pve1/qemu/100/status/reboot"));
    pmx_params *p = pmx_params_new();
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(pmx_params_set_str(p, "timeout", "-5"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(p, "bogus", "1"), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/100/status/reboot", p, NULL,
                                    NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 400);
    int seen_timeout = 0, seen_bogus = 0;
    const char *name, *msg;
    for (size_t i = 0; pmx_call_param_error(call, i, &name, &msg) == PMX_OK; i++) {
        if (!strcmp(name, "timeout")) {
            ck_assert_str_eq(msg, "value must have a minimum value of 0");
            seen_timeout = 1;
        } else if (!strcmp(name, "bogus")) {
            ck_assert_str_eq(msg, "property is not defined in schema and the schema does not "
                                  "allow additional properties");
            seen_bogus = 1;
        } else {
            ck_abort_msg("unexpected error for %s: %s", name, msg);
        }
    }
    ck_assert(seen_timeout && seen_bogus);
    pmx_call_unref(call);
    pmx_params_free(p);

    /* a required parameter left out; a boolean given as "true" (PVE takes only 0/1) */
    p = pmx_params_new();
    ck_assert_int_eq(pmx_params_set_str(p, "enable", "true"), PMX_OK);
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/access/users", p, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 400);
    seen_timeout = seen_bogus = 0;
    for (size_t i = 0; pmx_call_param_error(call, i, &name, &msg) == PMX_OK; i++) {
        if (!strcmp(name, "userid")) {
            ck_assert_str_eq(msg, "property is missing and it is not optional");
            seen_timeout = 1;
        } else if (!strcmp(name, "enable")) {
            ck_assert_str_eq(msg, "type check ('boolean') failed - got 'true'");
            seen_bogus = 1;
        }
    }
    ck_assert(seen_timeout && seen_bogus);
    pmx_call_unref(call);
    pmx_params_free(p);

    /* a path parameter is checked too */
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes/pve1/qemu/99/pending", NULL, NULL, NULL,
                                    &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_param_error(call, 0, &name, &msg), PMX_OK);
    ck_assert_str_eq(name, "vmid");
    ck_assert_str_eq(msg, "value must have a minimum value of 100");
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* A generic task method gives a UPID the mock's task routes know. */
START_TEST(test_generic_task) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_ptr_nonnull(c);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve2/lxc/200/status/reboot", NULL, NULL,
                                    NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t len = 0;
    const char *data = pmx_call_data(call, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_gt(len, 2);
    char upid[256];
    ck_assert_uint_lt(len, sizeof upid);
    memcpy(upid, data + 1, len - 2);
    upid[len - 2] = 0;
    pmx_call_unref(call);
    ck_assert_msg(strncmp(upid, "UPID:pve2:", 10) == 0, "%s", upid);
    ck_assert_msg(strstr(upid, ":vzreboot:200:root@pam!mock:") != NULL, "%s", upid);

    char *esc = pmx_escape(upid);
    ck_assert_ptr_nonnull(esc);
    char path[512];
    snprintf(path, sizeof path, "/nodes/pve2/tasks/%s/status", esc);
    pmx_free(esc);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    data = pmx_call_data(call, &len);
    ck_assert_ptr_nonnull(strstr(data, "\"type\":\"vzreboot\""));
    pmx_call_unref(call);

    /* {volume} takes the rest of the path, slashes included, as on PVE */
    const char *const vol_args[] = {"pve1", "local", "local:iso/debian.iso"};
    const void *vol_ptrs[] = {vol_args[0], vol_args[1], vol_args[2]};
    const pmx_method_desc *vd = pmx_method_by_name("pve_nodes_storage_content_volume_get");
    ck_assert_ptr_nonnull(vd);
    ck_assert_int_eq(pmx__bind_call(c, pmx__method_index(vd), vol_ptrs, NULL, NULL, NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_ptr_nonnull(pmx_call_typed(call));
    pmx_call_unref(call);

    /* an unknown node fails like pveproxy */
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes/nope/status", NULL, NULL, NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 500);
    pmx_call_unref(call);
    /* a path no method has stays 501 */
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes/pve1/nothing-here", NULL, NULL, NULL,
                                    &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 501);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

static Suite *allmethods_suite(void) {
    Suite *s = suite_create("allmethods");
    TCase *t = tcase_create("mock");
    tcase_set_timeout(t, 180); /* 646 calls; slow under sanitizers */
    tcase_add_unchecked_fixture(t, mock_fixture_start, mock_fixture_stop);
    tcase_add_test(t, test_every_method);
    tcase_add_test(t, test_generic_param_errors);
    tcase_add_test(t, test_generic_task);
    suite_add_tcase(s, t);
    return s;
}

PMX_TEST_SUITE(allmethods_suite)
