/* The typed decoder against cJSON: every typed result pve-mock produces (all 646 methods) and a
 * corpus of tricky JSON (escapes, surrogate pairs, invalid UTF-8, int64 bounds, floats that
 * need correct rounding, numbers as strings, booleans as 0/1, deep nesting, duplicate members,
 * truncation at every byte). Where cJSON reads a document the decoder either agrees member by
 * member (under PVE's lenient conversions) or fails with a message; where cJSON refuses it, the
 * decoder fails too. */
#include "testutil.h"

#include "bind.h"
#include "internal.h" /* pmx__block_*: the cache of result blocks */
#include "value.h"    /* pmx__parse_f64 */

#include <cjson/cJSON.h>
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- comparing a decoded struct with cJSON's tree ---------------------------------------------- */

typedef struct cmp {
    char where[256];
    char why[512];
    int bad;
} cmp;

static void mismatch(cmp *c, const char *what, const char *name) {
    if (!c->bad)
        snprintf(c->why, sizeof c->why, "%s%s%s: %s", c->where, *c->where ? "." : "", name, what);
    c->bad = 1;
}

/* cJSON's value as a number under the decoder's rules; 0 when it is not one. */
static int as_number(const cJSON *j, double *v) {
    if (cJSON_IsNumber(j)) {
        *v = j->valuedouble;
        return 1;
    }
    if (cJSON_IsBool(j)) {
        *v = cJSON_IsTrue(j);
        return 1;
    }
    if (cJSON_IsString(j)) {
        char *e;
        const char *s = j->valuestring;
        if (!*s || strpbrk(s, "xXnNiI") || *s == ' ')
            return 0;
        *v = strtod(s, &e);
        return *e == 0;
    }
    return 0;
}

static void compare_type(cmp *c, const pmx_type_desc *t, const char *base, const cJSON *j);

/* One scalar of kind k at p against j (never null: null leaves members unset). */
static void compare_scalar(cmp *c, uint32_t k, const pmx_type_desc *et, const char *p,
                           const cJSON *j, const char *name) {
    double v;
    switch (k) {
    case PMX_KIND_STRING: {
        const char *s;
        memcpy(&s, p, sizeof s);
        if (cJSON_IsString(j)) {
            /* cJSON ends a string at \u0000; the decoder writes U+FFFD there and goes on */
            size_t n = strlen(j->valuestring);
            if (!s || strncmp(s, j->valuestring, n) ||
                (s[n] && strncmp(s + n, "\xEF\xBF\xBD", 3)))
                mismatch(c, "string differs", name);
        } else if (!s) {
            mismatch(c, "missing string", name);
        }
        return;
    }
    case PMX_KIND_RAW: {
        const char *s;
        memcpy(&s, p, sizeof s);
        cJSON *again = s ? cJSON_Parse(s) : NULL;
        if (!again || !cJSON_Compare(again, j, 1))
            mismatch(c, "raw JSON differs", name);
        cJSON_Delete(again);
        return;
    }
    case PMX_KIND_I64:
    case PMX_KIND_OPT_I64: {
        int64_t x;
        if (k == PMX_KIND_OPT_I64) {
            pmx_opt_i64 o;
            memcpy(&o, p, sizeof o);
            if (!o.set) {
                mismatch(c, "integer unset", name);
                return;
            }
            x = o.v;
        } else {
            memcpy(&x, p, sizeof x);
        }
        if (!as_number(j, &v) || (double)x != v)
            mismatch(c, "integer differs", name);
        return;
    }
    case PMX_KIND_F64:
    case PMX_KIND_OPT_F64: {
        double x;
        if (k == PMX_KIND_OPT_F64) {
            pmx_opt_f64 o;
            memcpy(&o, p, sizeof o);
            if (!o.set) {
                mismatch(c, "number unset", name);
                return;
            }
            x = o.v;
        } else {
            memcpy(&x, p, sizeof x);
        }
        if (!as_number(j, &v) || x != v) /* bit-exact: both round correctly */
            mismatch(c, "number differs", name);
        return;
    }
    case PMX_KIND_BOOL:
    case PMX_KIND_OPT_BOOL: {
        int x;
        if (k == PMX_KIND_OPT_BOOL) {
            pmx_opt_bool o;
            memcpy(&o, p, sizeof o);
            if (!o.set) {
                mismatch(c, "boolean unset", name);
                return;
            }
            x = o.v;
        } else {
            memcpy(&x, p, sizeof x);
        }
        int want;
        if (cJSON_IsString(j) && (!strcasecmp(j->valuestring, "true") ||
                                  !strcasecmp(j->valuestring, "yes") ||
                                  !strcasecmp(j->valuestring, "on")))
            want = 1;
        else if (cJSON_IsString(j) && (!strcasecmp(j->valuestring, "false") ||
                                       !strcasecmp(j->valuestring, "no") ||
                                       !strcasecmp(j->valuestring, "off")))
            want = 0;
        else if (as_number(j, &v))
            want = v != 0;
        else {
            mismatch(c, "boolean from a non-boolean", name);
            return;
        }
        if (x != want)
            mismatch(c, "boolean differs", name);
        return;
    }
    case PMX_KIND_OBJECT: {
        const char *obj;
        memcpy(&obj, p, sizeof obj);
        if (!obj) {
            mismatch(c, "object missing", name);
            return;
        }
        size_t wl = strlen(c->where);
        snprintf(c->where + wl, sizeof c->where - wl, "%s%s", wl ? "." : "", name);
        compare_type(c, et, obj, j);
        c->where[wl] = 0;
        return;
    }
    }
    mismatch(c, "unexpected kind", name);
}

static void compare_field(cmp *c, const pmx_field_info *f, const char *base, const cJSON *j) {
    if (f->kind == PMX_KIND_ARRAY) {
        const char *items;
        size_t n;
        memcpy(&items, base + f->offset, sizeof items);
        memcpy(&n, base + f->count_offset, sizeof n);
        if (!j || cJSON_IsNull(j)) {
            if (n)
                mismatch(c, "array where cJSON has none", f->name);
            return;
        }
        if ((size_t)cJSON_GetArraySize(j) != n) {
            mismatch(c, "array length differs", f->name);
            return;
        }
        pmx_type_info et = PMX_OPTS_INIT(pmx_type_info);
        uint32_t ek = PMX_KIND_RAW;
        if (f->type && pmx_type_describe(f->type, &et) == PMX_OK)
            ek = et.kind;
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, j) {
            char nm[160];
            snprintf(nm, sizeof nm, "%s[%zu]", f->name, i);
            if (!cJSON_IsNull(e))
                compare_scalar(c, ek, f->type, items + i * pmx__elem_size(ek), e, nm);
            i++;
        }
        return;
    }
    if (f->count) { /* indexed: name0 .. name<count-1> */
        for (uint32_t i = 0; i < f->count; i++) {
            char nm[160];
            snprintf(nm, sizeof nm, "%s%u", f->name, i);
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, nm);
            const char *s;
            memcpy(&s, base + f->offset + i * sizeof(char *), sizeof s);
            if (!m || cJSON_IsNull(m)) {
                if (s)
                    mismatch(c, "slot set where cJSON has none", nm);
                continue;
            }
            compare_scalar(c, f->kind, NULL, base + f->offset + i * sizeof(char *), m, nm);
        }
        return;
    }
    if (!j || cJSON_IsNull(j)) {
        /* unset: NULL pointers, set = 0, or 0 for required scalars */
        static const char zero[16];
        size_t sz = f->kind == PMX_KIND_BOOL ? sizeof(int)
                    : f->kind == PMX_KIND_OPT_I64 || f->kind == PMX_KIND_OPT_F64 ||
                            f->kind == PMX_KIND_OPT_BOOL
                        ? sizeof(int)
                        : 8;
        if (memcmp(base + f->offset, zero, sz))
            mismatch(c, "set where cJSON has none", f->name);
        return;
    }
    compare_scalar(c, f->kind, f->type, base + f->offset, j, f->name);
}

static void compare_type(cmp *c, const pmx_type_desc *t, const char *base, const cJSON *j) {
    pmx_type_info ti = PMX_OPTS_INIT(pmx_type_info);
    ck_assert_int_eq(pmx_type_describe(t, &ti), PMX_OK);
    for (size_t i = 0; i < ti.n_fields && !c->bad; i++) {
        pmx_field_info f = PMX_OPTS_INIT(pmx_field_info);
        ck_assert_int_eq(pmx_field_describe(pmx_type_field_at(t, i), &f), PMX_OK);
        const cJSON *m = (ti.flags & PMX_TYPE_WRAPPED) ? j
                         : cJSON_IsObject(j)           ? cJSON_GetObjectItemCaseSensitive(j, f.name)
                                                       : NULL;
        compare_field(c, &f, base, m);
    }
}

/* Decode body (a whole response) as the result of method name and hold it against cJSON.
 * Returns 1 when both read it (and agree), 0 when the decoder refused it. */
/* Feed body to the incremental decoder in pieces of `step` bytes (0: sizes from a small PRNG
 * seeded with len); returns its rc, *typed its result. */
static int stream_decode(const pmx_method_desc *d, const char *body, size_t len, size_t step,
                         void **typed, char **err) {
    pmx__stream *st = pmx__stream_new(d, NULL, NULL, NULL, 0);
    ck_assert_ptr_nonnull(st);
    uint32_t rnd = (uint32_t)len * 2654435761u + 1;
    size_t o = 0;
    while (o < len) {
        size_t k = step;
        if (!k) {
            rnd = rnd * 1103515245u + 12345u;
            k = 1 + (rnd >> 16) % 97;
        }
        if (k > len - o)
            k = len - o;
        /* an exact-size copy: the decoder must not read past what it was given */
        char *piece = malloc(k);
        memcpy(piece, body + o, k);
        int r = pmx__stream_feed(st, piece, k);
        free(piece);
        ck_assert_int_ne(r, PMX_ECANCELLED);
        o += k;
    }
    pmx__body b;
    *err = NULL;
    int rc = pmx__stream_finish(st, NULL, &b, err);
    *typed = rc == PMX_OK ? b.typed : NULL;
    pmx__stream_free(st);
    return rc;
}

int test_decode_diff(const char *method, const char *body, size_t len, const void *typed,
                     const char *label) {
    const pmx_method_desc *d = pmx_method_by_name(method);
    ck_assert_ptr_nonnull(d);
    pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(d, &mi), PMX_OK);
    pmx__body b;
    char *err = NULL;
    int rc = pmx__decode_body(d, body, len, &b, &err);
    cJSON *root = cJSON_ParseWithLength(body, len);
    /* the incremental decoder, fed in pieces, reaches the same verdict */
    static const size_t steps[] = {1, 3, 4096, 0};
    void *st_typed[4] = {0};
    for (size_t k = 0; k < 4; k++) {
        char *serr = NULL;
        int src = mi.result ? stream_decode(d, body, len, steps[k], &st_typed[k], &serr) : rc;
        ck_assert_msg((src == PMX_OK) == (rc == PMX_OK), "%s: %s: whole %d, in pieces of %zu %d (%s)",
                      method, label, rc, steps[k], src, serr ? serr : "-");
        if (src != PMX_OK && mi.result)
            ck_assert_msg(serr && *serr, "%s: %s: stream failure without a message", method, label);
        pmx_free(serr);
    }
    if (rc != PMX_OK) {
        ck_assert_msg(rc == PMX_EDECODE, "%s: %s: rc %d", method, label, rc);
        ck_assert_msg(err && *err, "%s: %s: failure without a message", method, label);
        pmx_free(err);
        cJSON_Delete(root);
        return 0;
    }
    ck_assert_msg(root != NULL, "%s: %s: the decoder accepted what cJSON refuses", method, label);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!data || cJSON_IsNull(data)) {
        ck_assert_msg(b.typed == NULL, "%s: %s: a result for null data", method, label);
    } else if (mi.result) {
        ck_assert_msg(b.typed != NULL, "%s: %s: no result", method, label);
        cmp c = {{0}, {0}, 0};
        compare_type(&c, mi.result, b.typed, data);
        ck_assert_msg(!c.bad, "%s: %s: %s", method, label, c.why);
        if (typed) { /* a call's own result, decoded while its body arrived */
            cmp cc = {{0}, {0}, 0};
            compare_type(&cc, mi.result, typed, data);
            ck_assert_msg(!cc.bad, "%s: %s: the call's result: %s", method, label, cc.why);
        }
        for (size_t k = 0; k < 4; k++) {
            cmp cs = {{0}, {0}, 0};
            ck_assert_msg(st_typed[k] != NULL, "%s: %s: no streamed result", method, label);
            compare_type(&cs, mi.result, st_typed[k], data);
            ck_assert_msg(!cs.bad, "%s: %s: streamed in pieces of %zu: %s", method, label,
                          steps[k], cs.why);
        }
    }
    for (size_t k = 0; k < 4; k++)
        pmx__bind_result_free(d, st_typed[k]);
    pmx__bind_result_free(d, b.typed);
    cJSON_Delete(root);
    return 1;
}

/* ---- every method of the mock ----------------------------------------------------------------- */

typedef struct pend {
    size_t i;
    pmx_call *call;
} pend;

START_TEST(test_mock_results_agree) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_client *tc = test_client(&g_mock, "password");
    size_t compared = 0;
    for (size_t i = 0; i < pmx_method_count(); i++) {
        const pmx_method_desc *d = pmx_method_at(i);
        pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
        ck_assert_int_eq(pmx_method_describe(d, &mi), PMX_OK);
        if (!mi.result || mi.method != PMX_GET)
            continue; /* the mock's sample answers of reads; writes are covered by allmethods */
        /* a concrete path: every {param} gets a plausible value */
        char path[512];
        size_t o = 0;
        for (const char *t = mi.path; *t && o < sizeof path - 40;) {
            if (*t == '{') {
                const char *e = strchr(t, '}');
                size_t n = (size_t)(e - t - 1);
                const char *v = !strncmp(t + 1, "node", n) && n == 4   ? "pve1"
                                : !strncmp(t + 1, "vmid", n) && n == 4 ? "100"
                                : !strncmp(t + 1, "storage", n) && n == 7 ? "local"
                                                                          : "x1";
                o += (size_t)snprintf(path + o, sizeof path - o, "%s", v);
                t = e + 1;
            } else {
                path[o++] = *t++;
            }
        }
        path[o] = 0;
        pmx_call *call = NULL;
        pmx_client *via = (mi.flags & PMX_METHOD_ALLOWTOKEN) ? c : tc;
        ck_assert_int_eq(pmx_call_start(via, PMX_GET, path, NULL, NULL, NULL, &call), PMX_OK);
        if (pmx_call_wait(call) == PMX_OK) {
            size_t len;
            const char *body = pmx_call_body(call, &len);
            ck_assert_ptr_nonnull(body);
            ck_assert_msg(test_decode_diff(mi.name, body, len, pmx_call_typed(call), path),
                          "%s: refused %s", mi.name, body);
            compared++;
        }
        pmx_call_unref(call);
    }
    fprintf(stderr, "decode: %zu mock answers compared with cJSON\n", compared);
    ck_assert_uint_gt(compared, 150);
    pmx_client_free(c);
    pmx_client_free(tc);
}
END_TEST

/* ---- the corpus ---------------------------------------------------------------------------------- */

static int diff_text(const char *method, const char *body) {
    return test_decode_diff(method, body, strlen(body), NULL, body);
}

START_TEST(test_strings) {
    const char *m = "pve_version_get";
    ck_assert(diff_text(m, "{\"data\":{\"version\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\"}}"));
    ck_assert(diff_text(m, "{\"data\":{\"version\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}}"));
    ck_assert(diff_text(m, "{\"data\":{\"version\":\"\xc3\xa9 raw \xf0\x9f\x98\x80\"}}"));
    ck_assert(diff_text(m, "{\"data\":{\"version\":\"bad utf8 \xff\xfe\"}}")); /* passed through */
    ck_assert(diff_text(m, "{\"data\":{\"version\":\"nul \\u0000 here\"}}"));
    /* lone and reversed surrogates are refused, as cJSON and PVE's JSON::XS refuse them */
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"\\ud83d\"}}"));
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"\\ude00\\ud83d\"}}"));
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"\\ud83dx\"}}"));
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"ctrl \x01\"}}"));
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"\\x\"}}"));
    ck_assert(!diff_text(m, "{\"data\":{\"version\":\"\\u12\"}}"));
    /* escaped member names find their member */
    ck_assert(diff_text(m, "{\"data\":{\"v\\u0065rsion\":\"9.0\"}}"));
    ck_assert(diff_text(m, "{\"d\\u0061ta\":{\"version\":\"9.0\"}}"));
}
END_TEST

START_TEST(test_numbers) {
    /* cluster resources items: maxcpu opt i64, cpu opt f64, uptime opt i64, template opt bool */
    const char *m = "pve_cluster_resources_get";
    static const char *const ints[] = {"0", "-0", "1", "-1", "9223372036854775807",
                                       "-9223372036854775808", "9007199254740993", "1e3", "1.0",
                                       "\"42\"", "\"-7\"", "true", "false"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"data\":[{\"id\":\"x\",\"type\":\"qemu\",\"maxmem\":%s}]}", ints[i]);
        ck_assert_msg(diff_text(m, b), "%s refused", ints[i]);
    }
    static const char *const bad_ints[] = {"9223372036854775808", "-9223372036854775809", "1.5",
                                           "1e300", "\"x\"", "{}", "[1]", "01", "1.", "-", "+1",
                                           ".5", "0x10", "NaN", "Infinity"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"data\":[{\"id\":\"x\",\"maxmem\":%s}]}", bad_ints[i]);
        ck_assert_msg(!diff_text(m, b), "%s accepted as an integer", bad_ints[i]);
    }
    static const char *const floats[] = {
        "0.1", "0.0431", "1e-7", "2.2250738585072014e-308", "1.7976931348623157e308",
        "4.9e-324", "123456789012345678901234567890", "0.30000000000000004",
        "9007199254740993.0", "1.00000000000000011102230246251565404236316680908203125",
        "3.141592653589793238462643383279", "-0.0", "5e-324", "1E+2", "\"0.5\"", "\"1e3\"", "7"};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"data\":[{\"id\":\"x\",\"cpu\":%s}]}", floats[i]);
        ck_assert_msg(diff_text(m, b), "%s refused", floats[i]);
    }
    ck_assert(!diff_text(m, "{\"data\":[{\"id\":\"x\",\"cpu\":1e999}]}"));
    ck_assert(!diff_text(m, "{\"data\":[{\"id\":\"x\",\"cpu\":true}]}"));
    /* booleans as PVE sends them: 0/1, strings, true/false */
    static const char *const bools[] = {"0", "1", "true", "false", "\"1\"", "\"0\"", "\"yes\"",
                                        "\"off\"", "2"};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"data\":[{\"id\":\"x\",\"template\":%s}]}", bools[i]);
        ck_assert_msg(diff_text(m, b), "%s refused", bools[i]);
    }
    ck_assert(!diff_text(m, "{\"data\":[{\"id\":\"x\",\"template\":\"maybe\"}]}"));
    /* strings where a string is expected may be numbers: their text is kept */
    ck_assert(diff_text("pve_version_get", "{\"data\":{\"version\":9}}"));
}
END_TEST

START_TEST(test_structure) {
    const char *m = "pve_cluster_resources_get";
    /* duplicate members: the first counts, as cJSON's lookup */
    ck_assert(diff_text(m, "{\"data\":[{\"id\":\"a\",\"id\":\"b\",\"maxcpu\":1,\"maxcpu\":2}]}"));
    ck_assert(diff_text(m, "{\"data\":[],\"data\":[{\"id\":\"b\"}]}"));
    /* ... also for an indexed member whose first value is null */
    ck_assert(diff_text("pve_nodes_qemu_config_get",
                        "{\"data\":{\"net0\":null,\"net0\":\"virtio,bridge=vmbr1\"}}"));
    /* unknown members of every shape are skipped, however deep (within limits) */
    char deep[4096];
    size_t o;
    o = (size_t)snprintf(deep, sizeof deep, "{\"data\":[{\"id\":\"a\",\"x\":");
    for (int i = 0; i < 400; i++)
        o += (size_t)snprintf(deep + o, sizeof deep - o, "[");
    for (int i = 0; i < 400; i++)
        o += (size_t)snprintf(deep + o, sizeof deep - o, "]");
    snprintf(deep + o, sizeof deep - o, ",\"maxcpu\":4}]}");
    ck_assert(diff_text(m, deep));
    /* deeper than the decoder's limit: a clear error rather than a stack overflow */
    size_t big = 100000;
    char *deeper = malloc(big * 2 + 64);
    o = (size_t)sprintf(deeper, "{\"data\":[{\"x\":");
    for (size_t i = 0; i < big; i++)
        deeper[o++] = '[';
    for (size_t i = 0; i < big; i++)
        deeper[o++] = ']';
    strcpy(deeper + o, "}]}");
    pmx__body b;
    char *err = NULL;
    ck_assert_int_eq(pmx__decode_body(pmx_method_by_name(m), deeper, strlen(deeper), &b, &err),
                     PMX_EDECODE);
    ck_assert_ptr_nonnull(strstr(err, "nested too deeply"));
    pmx_free(err);
    free(deeper);
    /* wrong types name the member */
    err = NULL;
    const char *wrong = "{\"data\":[{\"id\":\"a\"},{\"id\":\"b\",\"cpu\":\"fast\"}]}";
    ck_assert_int_eq(pmx__decode_body(pmx_method_by_name(m), wrong, strlen(wrong), &b, &err),
                     PMX_EDECODE);
    ck_assert_str_eq(err, "[1].cpu: expected a number, got \"fast\"");
    pmx_free(err);
    /* Perl's empty hash as [] */
    ck_assert(diff_text("pve_version_get", "{\"data\":[]}"));
    ck_assert(diff_text(m, "{\"data\":null}"));
    ck_assert(diff_text(m, "{\"total\":3,\"data\":[]}"));
    ck_assert(!diff_text(m, "{\"data\":[]} x"));
    /* corpus/stream/regress-nul-in-whitespace: a NUL byte is not white space (the incremental
     * decoder took it for one through strchr) */
    static const char nul_ws[] = "{ \0\"data\":null}";
    ck_assert(!test_decode_diff(m, nul_ws, sizeof nul_ws - 1, NULL, "NUL in white space"));
    ck_assert(!diff_text(m, "[]"));
    ck_assert(!diff_text(m, "{\"data\":{}}"));
}
END_TEST

/* Every prefix of valid bodies fails cleanly (or is itself valid and then agrees). */
START_TEST(test_truncated_everywhere) {
    static const char *const bodies[][2] = {
        {"pve_cluster_resources_get",
         "{\"data\":[{\"id\":\"qemu/100\",\"cpu\":0.25,\"maxcpu\":4,\"template\":0,\"name\":"
         "\"a\\u00e9\\ud83d\\ude00\",\"tags\":\"x;y\",\"unknown\":{\"a\":[1,2,{\"b\":null}]}}],"
         "\"total\":1}"},
        {"pve_version_get", "{\"data\":{\"version\":\"9.0.3\",\"release\":\"9.0\"},\"message\":\"ok\\n\"}"},
    };
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) {
        const char *body = bodies[k][1];
        size_t n = strlen(body);
        ck_assert(test_decode_diff(bodies[k][0], body, n, NULL, "whole"));
        for (size_t i = 0; i < n; i++) {
            char *cut = malloc(i + 1); /* exactly i bytes: no terminator to lean on */
            memcpy(cut, body, i);
            char label[64];
            snprintf(label, sizeof label, "prefix %zu", i);
            ck_assert_msg(!test_decode_diff(bodies[k][0], cut, i, NULL, label), "prefix %zu accepted", i);
            free(cut);
        }
    }
}
END_TEST


/* ---- memory of large results ------------------------------------------------------------------- */

/* A counting allocator: bytes live and their peak, and how many blocks of a result arena's size
 * were allocated (a size header in front of each allocation). */
typedef union mhdr {
    size_t n;
    max_align_t align;
} mhdr;
static size_t g_live_bytes, g_peak_bytes, g_big_mallocs;

static void *m_malloc(size_t n) {
    mhdr *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->n = n;
    g_live_bytes += n;
    if (g_live_bytes > g_peak_bytes)
        g_peak_bytes = g_live_bytes;
    if (n >= PMX__BLOCK_SIZE)
        g_big_mallocs++;
    return h + 1;
}

static void m_free(void *p) {
    if (!p)
        return;
    mhdr *h = (mhdr *)p - 1;
    g_live_bytes -= h->n;
    free(h);
}

static void *m_realloc(void *p, size_t n) {
    void *q = m_malloc(n);
    if (q && p) {
        size_t old = ((mhdr *)p - 1)->n;
        memcpy(q, p, old < n ? old : n);
        m_free(p);
    }
    return q;
}

/* A /cluster/resources body of n guests, shaped as pve-mock and PVE send it. */
static char *big_listing(size_t n, size_t *len) {
    size_t cap = 64 + n * 400, used = 0;
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    used += (size_t)snprintf(b, cap, "{\"data\":[");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(
            b + used, cap - used,
            "%s{\"id\":\"qemu/%zu\",\"type\":\"qemu\",\"node\":\"node%zu\",\"status\":"
            "\"running\",\"name\":\"vm-%zu\",\"vmid\":%zu,\"cpu\":0.0123,\"maxcpu\":4,"
            "\"mem\":123456789,\"maxmem\":4294967296,\"disk\":0,\"maxdisk\":34359738368,"
            "\"uptime\":12345,\"netin\":1,\"netout\":2,\"template\":0}",
            i ? "," : "", 100 + i, i % 7, 100 + i, 100 + i);
    used += (size_t)snprintf(b + used, cap - used, "]}");
    ck_assert_uint_lt(used, cap);
    *len = used;
    return b;
}

/* Decode body in pieces of `piece` bytes (0: whole, the kept-body path); the number of guests. */
static size_t decode_listing(const char *body, size_t len, size_t piece) {
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    pmx__body b;
    char *err = NULL;
    int rc;
    if (!piece) {
        rc = pmx__decode_body(d, body, len, &b, &err);
    } else {
        pmx__stream *s = pmx__stream_new(d, NULL, NULL, NULL, 0);
        ck_assert_ptr_nonnull(s);
        for (size_t o = 0; o < len; o += piece)
            ck_assert_int_eq(pmx__stream_feed(s, body + o, len - o < piece ? len - o : piece),
                             PMX_OK);
        rc = pmx__stream_finish(s, NULL, &b, &err);
        pmx__stream_free(s);
    }
    ck_assert_msg(rc == PMX_OK, "decode: %s", err ? err : "?");
    const pve_cluster_resources_get_result *r = b.typed;
    ck_assert_ptr_nonnull(r);
    size_t n = r->n;
    ck_assert_str_eq(r->items[n - 1]->name, "vm-8099");
    pmx__bind_result_free(d, b.typed);
    pmx_free(err);
    return n;
}

/* The arena of a large result goes back to the block cache when the result is freed, and the
 * next large result is built from those blocks instead of fresh memory. */
START_TEST(test_large_result_reuses_blocks) {
    size_t len;
    char *body = big_listing(8000, &len);
    decode_listing(body, len, 0); /* the decoder's lookup tables are built once, and kept */
    ck_assert_int_eq(pmx_set_allocator(m_malloc, m_realloc, m_free), PMX_OK); /* cache empty */
    ck_assert_uint_eq(pmx__block_cache_count(), 0);
    ck_assert_uint_eq(decode_listing(body, len, 0), 8000);
    size_t cached = pmx__block_cache_count();
    ck_assert_uint_ge(cached, 8);          /* about 3 MB of guests: a dozen blocks */
    ck_assert_uint_ge(g_big_mallocs, cached);
    g_big_mallocs = 0;
    ck_assert_uint_eq(decode_listing(body, len, 16384), 8000);
    ck_assert_uint_eq(g_big_mallocs, 0);    /* every block came from the cache */
    ck_assert_uint_eq(pmx__block_cache_count(), cached);
    ck_assert_uint_eq(decode_listing(body, len, 0), 8000);
    ck_assert_uint_eq(g_big_mallocs, 0);
    ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK); /* drains the cache */
    ck_assert_uint_eq(pmx__block_cache_count(), 0);
    ck_assert_uint_eq(g_live_bytes, 0);     /* nothing kept, nothing lost */
    free(body);
}
END_TEST

/* Fed in small pieces, the incremental decoder undoes the element cut at each piece's end and
 * decodes it again; that must not make the arena grow (it doubled its next chunk on every undo,
 * so a 3 MB result held 7 MB). Peak memory stays within a block of the whole-body decode. */
START_TEST(test_pieces_do_not_grow_the_arena) {
    size_t len;
    char *body = big_listing(8000, &len);
    size_t peak[3], pieces[3] = {0, 16384, 1000};
    decode_listing(body, len, 0); /* the decoder's lookup tables are built once, and kept */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pmx_set_allocator(m_malloc, m_realloc, m_free), PMX_OK);
        g_peak_bytes = g_live_bytes = 0;
        ck_assert_uint_eq(decode_listing(body, len, pieces[i]), 8000);
        peak[i] = g_peak_bytes;
        ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK);
        ck_assert_uint_eq(g_live_bytes, 0);
    }
    for (int i = 1; i < 3; i++)
        ck_assert_msg(peak[i] <= peak[0] + 2 * PMX__BLOCK_SIZE,
                      "in pieces of %zu: peak %zu bytes, whole body %zu", pieces[i], peak[i], peak[0]);
    ck_assert_uint_lt(peak[0], 4u * 1024 * 1024); /* about 3.3 MB of guests and strings */
    free(body);
}
END_TEST

/* Results are built and freed on several threads at once, some freed on a thread other than
 * the one that decoded them: the block cache is shared by the process (TSan-clean; checked by
 * building this suite with -fsanitize=thread). */
typedef struct listing_job {
    const char *body;
    size_t len;
    void *kept[4]; /* results handed to the main thread to free */
    int bad;
} listing_job;

static void *decode_on_thread(void *arg) {
    listing_job *j = arg;
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    for (int i = 0; i < 8; i++) {
        pmx__body b;
        char *err = NULL;
        int rc = pmx__decode_body(d, j->body, j->len, &b, &err);
        pmx_free(err);
        const pve_cluster_resources_get_result *r = b.typed;
        if (rc != PMX_OK || !r || r->n != 2000) {
            j->bad = 1;
            continue;
        }
        if (i < 4)
            j->kept[i] = b.typed;
        else
            pmx__bind_result_free(d, b.typed);
    }
    return NULL;
}

START_TEST(test_blocks_across_threads) {
    size_t len;
    char *body = big_listing(2000, &len);
    pthread_t th[4];
    listing_job jobs[4];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 4; i++) {
        jobs[i].body = body;
        jobs[i].len = len;
        ck_assert_int_eq(pthread_create(&th[i], NULL, decode_on_thread, &jobs[i]), 0);
    }
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert(!jobs[i].bad);
        for (int k = 0; k < 4; k++) {
            const pve_cluster_resources_get_result *r = jobs[i].kept[k];
            ck_assert_ptr_nonnull(r);
            ck_assert_str_eq(r->items[1999]->id, "qemu/2099");
            pmx__bind_result_free(d, jobs[i].kept[k]);
        }
    }
    size_t cached = pmx__block_cache_count();
    ck_assert_uint_gt(cached, 0);
    ck_assert_uint_le(cached * PMX__BLOCK_SIZE, 16u * 1024 * 1024); /* the cache's bound */
    pmx_global_cleanup(); /* frees the cached blocks */
    ck_assert_uint_eq(pmx__block_cache_count(), 0);
    free(body);
}
END_TEST

/* Blocks unused for longer than the idle limit go back to the system when a call ends (here:
 * pmx__block_trim, which pmx__call_complete runs), not before. */
START_TEST(test_idle_blocks_released) {
    size_t len;
    char *body = big_listing(8000, &len);
    pmx__block_cache_set_idle(300);
    ck_assert_uint_eq(decode_listing(body, len, 0), 8000);
    size_t cached = pmx__block_cache_count();
    ck_assert_uint_ge(cached, 8);
    pmx__block_trim();
    ck_assert_uint_eq(pmx__block_cache_count(), cached); /* fresh: kept */
    usleep(400 * 1000);
    pmx__block_trim();
    ck_assert_uint_eq(pmx__block_cache_count(), 0);
    ck_assert_uint_eq(decode_listing(body, len, 0), 8000); /* and the next result still works */
    ck_assert_uint_eq(pmx__block_cache_count(), cached);
    pmx__block_cache_set_idle(30000);
    free(body);
}
END_TEST

/* A method that handles secrets (the CIFS scan takes a password) decoded in small pieces: the
 * elements undone at each piece's end, and blocks given back to the cache, are wiped like the
 * result itself; no freed byte holds a share name. */
START_TEST(test_secret_pieces_wiped) {
    size_t cap = 64 + 6000 * 64, used = 0;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    used += (size_t)snprintf(body, cap, "{\"data\":[");
    for (int i = 0; i < 6000; i++)
        used += (size_t)snprintf(body + used, cap - used,
                                 "%s{\"share\":\"SHARE-%04dX\",\"description\":\"d\"}",
                                 i ? "," : "", i);
    used += (size_t)snprintf(body + used, cap - used, "]}");
    const pmx_method_desc *d = pmx_method_by_name("pve_nodes_scan_cifs_get");
    ck_assert_ptr_nonnull(d);
    pmx__block_cache_drain();
    spy_alloc_install("SHARE-", NULL);
    pmx__stream *st = pmx__stream_new(d, NULL, NULL, NULL, 0);
    ck_assert_ptr_nonnull(st);
    for (size_t o = 0; o < used; o += 7)
        ck_assert_int_eq(pmx__stream_feed(st, body + o, used - o < 7 ? used - o : 7), PMX_OK);
    pmx__body b;
    char *err = NULL;
    ck_assert_int_eq(pmx__stream_finish(st, NULL, &b, &err), PMX_OK);
    pmx__stream_free(st);
    const pve_nodes_scan_cifs_get_result *r = b.typed;
    ck_assert_uint_eq(r->n, 6000);
    ck_assert_str_eq(r->items[5999]->share, "SHARE-5999X");
    pmx__bind_result_free(d, b.typed);
    spy_alloc_remove(); /* frees the cached blocks through the spy too */
    ck_assert_msg(!spy_alloc_found(0), "a share name was left in freed memory");
    free(body);
}
END_TEST

/* Every member of every result type is found through its generated lookup table, by its own
 * name only: not by a longer or shorter name, one with a NUL inside, nor by its indexed-ness. */
static size_t lookup_type(const pmx_type_desc *t, unsigned char *seen, size_t *checked) {
    pmx_type_info ti = PMX_OPTS_INIT(pmx_type_info);
    if (!t || pmx_type_describe(t, &ti) != PMX_OK || ti.kind != PMX_KIND_OBJECT)
        return 0;
    uintptr_t key = (uintptr_t)t / 4 % (1u << 16); /* descriptors are static: a cheap mark */
    if (seen[key / 8] >> (key % 8) & 1)
        return 0;
    seen[key / 8] |= (unsigned char)(1u << (key % 8));
    size_t types = 1;
    for (size_t i = 0; i < ti.n_fields; i++) {
        const pmx_field_desc *f = pmx_type_field_at(t, i);
        pmx_field_info fi = PMX_OPTS_INIT(pmx_field_info);
        ck_assert_int_eq(pmx_field_describe(f, &fi), PMX_OK);
        size_t n = strlen(fi.name);
        int ix = fi.count > 0;
        ck_assert_msg(pmx__member(t, fi.name, n, ix) == f, "%s: member %s not found", ti.name,
                      fi.name);
        char buf[160];
        ck_assert_uint_lt(n + 2, sizeof buf);
        memcpy(buf, fi.name, n);
        buf[n] = 'x';
        const pmx_field_desc *g = pmx__member(t, buf, n + 1, ix);
        ck_assert_msg(!g || g != f, "%s: %sx found as %s", ti.name, fi.name, fi.name);
        buf[n] = 0; /* "name\0": a key holding a NUL (\u0000) is not the member */
        ck_assert_ptr_null(pmx__member(t, buf, n + 1, ix));
        if (n > 1) {
            const pmx_field_desc *h = pmx__member(t, fi.name, n - 1, ix);
            ck_assert_msg(!h || h != f, "%s: a prefix of %s found it", ti.name, fi.name);
        }
        const pmx_field_desc *o = pmx__member(t, fi.name, n, !ix);
        ck_assert_msg(o != f, "%s: %s found with the other indexed-ness", ti.name, fi.name);
        (*checked)++;
        types += lookup_type(fi.type, seen, checked);
    }
    ck_assert_ptr_null(pmx__member(t, "no-such-member", 14, 0));
    ck_assert_ptr_null(pmx__member(t, "", 0, 0));
    return types;
}

START_TEST(test_member_lookup) {
    unsigned char *seen = calloc(1, (1u << 16) / 8);
    ck_assert_ptr_nonnull(seen);
    size_t types = 0, checked = 0;
    for (size_t i = 0; i < pmx_method_count(); i++) {
        pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
        ck_assert_int_eq(pmx_method_describe(pmx_method_at(i), &mi), PMX_OK);
        types += lookup_type(mi.result, seen, &checked);
    }
    free(seen);
    /* the generator's count of typed result fields (pmx-gen's summary): all of them were found */
    ck_assert_uint_gt(types, 400);
    ck_assert_uint_ge(checked, 1956);
    ck_assert_ptr_null(pmx__member(NULL, "id", 2, 0));
}
END_TEST

/* ---- found by review ---- */

/* Decode body as method d's answer: whole (piece 0), or fed to the incremental decoder in
 * pieces of that many bytes. Returns the rc; *b and *err as the decoders set them. */
static int decode_in(const pmx_method_desc *d, const char *body, size_t piece, pmx__body *b,
                     char **err) {
    *err = NULL;
    if (!piece)
        return pmx__decode_body(d, body, strlen(body), b, err);
    pmx__stream *st = pmx__stream_new(d, NULL, NULL, NULL, 0);
    for (size_t o = 0, n = strlen(body); o < n; o += piece)
        pmx__stream_feed(st, body + o, n - o < piece ? n - o : piece);
    int rc = pmx__stream_finish(st, NULL, b, err);
    pmx__stream_free(st);
    return rc;
}

/* The whole-body and the incremental decoder read "total" alike: the first counts, and only a
 * number sets it. */
static int64_t total_of(const pmx_method_desc *d, const char *body, int pieces) {
    pmx__body b;
    char *err = NULL;
    int rc = decode_in(d, body, pieces ? 3 : 0, &b, &err);
    ck_assert_msg(rc == PMX_OK, "%s: %s", body, err ? err : "-");
    pmx__bind_result_free(d, b.typed);
    return b.total;
}

START_TEST(test_total_first_number) {
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    static const struct {
        const char *body;
        int64_t total;
    } cases[] = {{"{\"total\":1,\"total\":2,\"data\":[]}", 1}, {"{\"total\":true,\"data\":[]}", -1},
                 {"{\"total\":{},\"data\":[]}", -1},          {"{\"total\":[7],\"data\":[]}", -1},
                 {"{\"total\":\"5\",\"data\":[]}", -1},       {"{\"data\":[],\"total\":42}", 42}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int pieces = 0; pieces <= 1; pieces++)
            ck_assert_msg(total_of(d, cases[i].body, pieces) == cases[i].total, "%s (%s)",
                          cases[i].body, pieces ? "in pieces" : "whole");
}
END_TEST

/* A bad value of a method with secrets is named, not quoted: the message reaches logs and
 * users. Other methods still show it. */
static char *decode_error(const char *method, const char *body, int pieces) {
    const pmx_method_desc *d = pmx_method_by_name(method);
    ck_assert_ptr_nonnull(d);
    pmx__body b;
    char *err = NULL;
    int rc = decode_in(d, body, pieces ? 5 : 0, &b, &err);
    ck_assert_int_eq(rc, PMX_EDECODE);
    ck_assert_ptr_nonnull(err);
    return err;
}

START_TEST(test_secret_values_not_quoted) {
    for (int pieces = 0; pieces <= 1; pieces++) {
        char *err = decode_error("pve_nodes_qemu_vncproxy_post",
                                 "{\"data\":{\"ticket\":[\"PVEVNC:TOPSECRET\"]}}", pieces);
        ck_assert_msg(strstr(err, "ticket") && !strstr(err, "TOPSECRET"), "%s", err);
        pmx_free(err);
        err = decode_error("pve_cluster_resources_get", "{\"data\":[{\"maxcpu\":\"zz\"}]}", pieces);
        ck_assert_msg(strstr(err, "maxcpu") && strstr(err, "zz"), "%s", err);
        pmx_free(err);
    }
}
END_TEST

/* curl may hand over an empty piece (p NULL): nothing happens (UBSan checks the memcpy). */
START_TEST(test_empty_piece) {
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    pmx__stream *st = pmx__stream_new(d, NULL, NULL, NULL, 0);
    ck_assert_int_eq(pmx__stream_feed(st, NULL, 0), PMX_OK);
    const char *body = "{\"data\":[{\"id\":\"qemu/100\"}]}";
    ck_assert_int_eq(pmx__stream_feed(st, body, strlen(body)), PMX_OK);
    ck_assert_int_eq(pmx__stream_feed(st, "", 0), PMX_OK);
    pmx__body b;
    char *err = NULL;
    ck_assert_int_eq(pmx__stream_finish(st, NULL, &b, &err), PMX_OK);
    const pve_cluster_resources_get_result *r = b.typed;
    ck_assert_uint_eq(r->n, 1);
    ck_assert_str_eq(r->items[0]->id, "qemu/100");
    pmx__bind_result_free(d, b.typed);
    pmx__stream_free(st);
}
END_TEST

/* Running out of memory is PMX_ENOMEM, in item mode too, not a decode error without a
 * message; later pieces keep saying so. */
static int g_big_allowed; /* large allocations that still succeed */
static int big_refused(size_t n) {
    if (n < 60000)
        return 0;
    return g_big_allowed-- <= 0;
}
static void *small_only_malloc(size_t n) { return big_refused(n) ? NULL : malloc(n); }
static void *small_only_realloc(void *p, size_t n) { return big_refused(n) ? NULL : realloc(p, n); }
static int count_items(pmx_call *call, const void *item, size_t index, void *ud) {
    (void)call;
    (void)item;
    (void)index;
    (*(size_t *)ud)++;
    return 0;
}

START_TEST(test_out_of_memory_is_enomem) {
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    const char *body = "{\"data\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}";
    ck_assert_int_eq(pmx_set_allocator(small_only_malloc, small_only_realloc, free), PMX_OK);
    for (int item_mode = 0; item_mode <= 1; item_mode++) {
        /* item mode: the result's chunk is granted, the element's (64 KiB) refused */
        g_big_allowed = item_mode;
        size_t n = 0;
        pmx__stream *st = pmx__stream_new(d, NULL, item_mode ? count_items : NULL, &n, 0);
        ck_assert_ptr_nonnull(st);
        int first = PMX_OK;
        for (size_t o = 0, len = strlen(body); o < len; o += 7) {
            int r = pmx__stream_feed(st, body + o, len - o < 7 ? len - o : 7);
            if (first == PMX_OK)
                first = r;
            else
                ck_assert_int_eq(r, PMX_ENOMEM);
        }
        pmx__body b;
        char *err = NULL;
        ck_assert_int_eq(first, PMX_ENOMEM);
        ck_assert_int_eq(pmx__stream_finish(st, NULL, &b, &err), PMX_ENOMEM);
        pmx_free(err);
        pmx__stream_free(st);
        ck_assert_uint_eq(n, 0);
    }
    ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK);
}
END_TEST

/* Numbers sent as strings ("0.5", as PVE does) decode whatever the program's locale: here one
 * with a decimal comma, built from Debian's locale sources (the locales package). Checked in a
 * child that leaves with _exit: glibc keeps LOCPATH's list for good, which LeakSanitizer would
 * call a leak. Returns the number of the first check that failed, 0 when all held. */
static int numbers_in_locale(const char *dir) {
    setenv("LOCPATH", dir, 1);
    locale_t de = newlocale(LC_NUMERIC_MASK, "de", (locale_t)0);
    if (!de)
        return 1;
    uselocale(de);
    if (strtod("0.5", NULL) != 0) /* the trap: this locale reads "0,5" */
        return 2;
    double v = 0;
    if (pmx__parse_f64("0.5", &v) != 0 || v != 0.5)
        return 3;
    const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
    const char *body = "{\"data\":[{\"cpu\":\"0.25\",\"maxcpu\":0.5,\"mem\":\"1.0\"}]}";
    for (int pieces = 0; pieces <= 1; pieces++) {
        pmx__body b;
        char *err = NULL;
        if (decode_in(d, body, pieces ? 4 : 0, &b, &err) != PMX_OK)
            return 4 + pieces;
        const pve_cluster_resources_get_result *r = b.typed;
        if (r->items[0]->cpu.v != 0.25 || r->items[0]->maxcpu.v != 0.5 || r->items[0]->mem.v != 1)
            return 6 + pieces;
        pmx__bind_result_free(d, b.typed);
    }
    /* requests: a number parameter, and a property string's number both ways */
    pmx_params *p = pmx_params_new();
    const char *name = NULL, *value = NULL;
    if (pmx_params_set_double(p, "cpulimit", 0.5) != PMX_OK ||
        pmx_params_get(p, 0, &name, &value) != PMX_OK || strcmp(value, "0.5") != 0)
        return 8;
    pmx_params_free(p);
    pve_fmt_qemu_net *net = NULL;
    char *err = NULL, *text = NULL;
    if (pve_fmt_qemu_net_decode("virtio,bridge=vmbr0,rate=1.5", &net, &err) != PMX_OK ||
        !net->rate.set || net->rate.v != 1.5)
        return 9;
    if (pve_fmt_qemu_net_encode(net, &text, &err) != PMX_OK || !strstr(text, "rate=1.5"))
        return 10;
    pmx_free(text);
    pve_fmt_qemu_net_free(net);
    /* a single-byte locale where 0xE9 (é) is a letter: names are still checked as ASCII */
    locale_t l1 = newlocale(LC_CTYPE_MASK, "del1", (locale_t)0);
    if (!l1)
        return 11;
    uselocale(l1);
    if (!isalpha(0xE9)) /* the trap */
        return 12;
    const pmx_param_desc *node =
        pmx_method_param(pmx_method_by_name("pve_nodes_qemu_get"), "node");
    char msg[256];
    if (!node || pmx_param_check(node, "pve1", msg, sizeof msg) ||
        !pmx_param_check(node, "n\xe9ud", msg, sizeof msg))
        return 13;
    return 0;
}

START_TEST(test_numbers_in_any_locale) {
    char dir[] = "/tmp/pmx-locale-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "localedef -i de_DE -f UTF-8 %s/de >/dev/null 2>&1 && "
             "localedef -i de_DE -f ISO-8859-1 %s/del1 >/dev/null 2>&1",
             dir, dir);
    ck_assert_msg(system(cmd) == 0, "localedef could not build de_DE (install Debian's locales)");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(numbers_in_locale(dir));
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert(WIFEXITED(st));
    ck_assert_msg(WEXITSTATUS(st) == 0, "check %d failed in a de_DE locale",
                  WEXITSTATUS(st));
}
END_TEST

static Suite *decode_suite(void) {
    Suite *s = suite_create("decode");
    TCase *t = tcase_create("corpus");
    tcase_add_test(t, test_strings);
    tcase_add_test(t, test_numbers);
    tcase_add_test(t, test_structure);
    tcase_add_test(t, test_truncated_everywhere);
    tcase_add_test(t, test_member_lookup);
    suite_add_tcase(s, t);
    t = tcase_create("review");
    tcase_add_test(t, test_total_first_number);
    tcase_add_test(t, test_secret_values_not_quoted);
    tcase_add_test(t, test_empty_piece);
    tcase_add_test(t, test_out_of_memory_is_enomem);
    tcase_add_test(t, test_numbers_in_any_locale);
    tcase_set_timeout(t, 60); /* (the locale test runs localedef twice: seconds on a busy machine) */
    suite_add_tcase(s, t);
    t = tcase_create("memory");
    tcase_add_test(t, test_large_result_reuses_blocks);
    tcase_add_test(t, test_pieces_do_not_grow_the_arena);
    tcase_add_test(t, test_blocks_across_threads);
    tcase_add_test(t, test_idle_blocks_released);
    tcase_add_test(t, test_secret_pieces_wiped);
    suite_add_tcase(s, t);
    t = tcase_create("mock");
    tcase_add_unchecked_fixture(t, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_mock_results_agree);
    suite_add_tcase(s, t);
    return s;
}
PMX_TEST_SUITE(decode_suite)
