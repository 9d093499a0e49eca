/*
 * Runtime of the generated PVE bindings: parameter validation and encoding, the request a
 * typed call sends, and the one place calls of a described method start (pmx_method_start()
 * and the 646 pve_* wrappers in lib/gen/). Tables: lib/tables.h; value checks: lib/value.c;
 * typed decoding: lib/decode.c.
 */
#include "bind.h"

#include "value.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pmx_param_check(const pmx_param_desc *p, const char *value, char *buf,
                            size_t bufsize) {
    if (!p || !value || !buf || !bufsize)
        return "invalid arguments";
    pmx__constraints k;
    pmx__constraints_of_param(p, &k);
    return pmx__check_value(&k, value, buf, bufsize);
}

/* ---- generic validation ------------------------------------------------------------------------ */

static const char msg_missing[] = "property is missing and it is not optional";
static const char msg_unknown[] =
    "property is not defined in schema and the schema does not allow additional properties";

/* Whether path parameter i takes the rest of the path on PVE (with slashes): the volume id of
 * /nodes/{node}/storage/{storage}/content/{volume}. */
static int takes_rest(const pmx_method_desc *d, size_t i) {
    static const char tail[] = "/content/{volume}";
    const char *t = pmx__str(d->path);
    size_t n = strlen(t);
    return i + 1 == d->n_path && n >= sizeof tail - 1 && !strcmp(t + n - (sizeof tail - 1), tail);
}

/* A string path parameter must be one segment: no PVE path has empty or dot segments, and
 * libcurl or the server would resolve them to another resource; PVE splits the decoded path on
 * '/', so a value with one would be two segments (but for a volume id, see takes_rest()). */
static const char *segment_error(const char *v, int rest) {
    if (!*v)
        return "value may not be empty";
    if (!strcmp(v, ".") || !strcmp(v, ".."))
        return "'.' and '..' are not valid path segments";
    if (!rest && strchr(v, '/'))
        return "'/' is not allowed in a path segment";
    return NULL;
}

int pmx_method_validate_each(const pmx_method_desc *d, const pmx_params *params,
                             unsigned int flags, pmx_validate_fn fn, void *userdata) {
    if (!d)
        return PMX_EINVAL;
    size_t n = pmx_params_count(params);
    int errors = 0;
    char buf[512];
#define REPORT(name, msg)                                                                          \
    do {                                                                                           \
        errors++;                                                                                  \
        if (fn && fn((name), (msg), userdata))                                                     \
            return errors;                                                                         \
    } while (0)
    for (size_t i = 0; i < d->n_params; i++) {
        const pmx_param_desc *p = pmx_method_param_at(d, i);
        const pmx__pdef *pd = pmx__param_def(p);
        int is_path = i < d->n_path;
        if (is_path && !(flags & PMX_VALIDATE_PATH))
            continue;
        int seen = 0;
        for (size_t k = 0; k < n; k++) {
            const char *name, *value;
            if (pmx_params_get(params, k, &name, &value) != PMX_OK)
                continue;
            long slot;
            if (pmx__param_lookup(d, name, &slot) != p)
                continue;
            /* PVE reads "key=" in a form or query as undef: absent, not an empty string */
            if (!*value && !is_path && !(flags & PMX_VALIDATE_JSON_BODY))
                continue;
            seen = 1;
            const char *m = is_path ? segment_error(value, takes_rest(d, i)) : NULL;
            if (!m && pd->type != PMX_PARAM_ARRAY) { /* PVE would read a list: refused there */
                for (size_t j = 0; j < k && !m; j++) {
                    const char *other, *ov;
                    if (pmx_params_get(params, j, &other, &ov) == PMX_OK && !strcmp(other, name))
                        m = "given more than once (only list parameters repeat)";
                }
            }
            if (!m)
                m = pmx_param_check(p, value, buf, sizeof buf);
            if (m)
                REPORT(name, m);
        }
        if (!seen && (pd->flags & PMX_PARAM_REQUIRED))
            REPORT(pmx__str(pd->name), msg_missing);
    }
    for (size_t k = 0; k < n; k++) {
        const char *name, *value;
        if (pmx_params_get(params, k, &name, &value) != PMX_OK)
            continue;
        long slot;
        const pmx_param_desc *p = pmx__param_lookup(d, name, &slot);
        if (!p || (pmx__param_loc(p) == PMX_LOC_PATH && !(flags & PMX_VALIDATE_PATH)))
            REPORT(name, msg_unknown);
    }
#undef REPORT
    return errors;
}

typedef struct collect {
    pmx__buf b;
    int oom;
} collect;

static int collect_fn(const char *name, const char *message, void *ud) {
    collect *c = ud;
    if (pmx__buf_printf(&c->b, "%s%s: %s", c->b.len ? "; " : "", name, message) != PMX_OK)
        c->oom = 1;
    return 0;
}

int pmx_method_validate(const pmx_method_desc *d, const pmx_params *params, unsigned int flags,
                        char **errmsg) {
    if (errmsg)
        *errmsg = NULL;
    collect c = {{0}, 0};
    int r = pmx_method_validate_each(d, params, flags, collect_fn, &c);
    if (c.oom) {
        pmx__buf_free(&c.b);
        return PMX_ENOMEM;
    }
    if (r > 0 && errmsg)
        *errmsg = c.b.data;
    else
        pmx__buf_free(&c.b);
    return r;
}

/* ---- request building ------------------------------------------------------------------------ */

typedef struct builder {
    pmx__buf err; /* "name: message; ..." */
    int oom;
    pmx_params *params;
} builder;

static void build_error(builder *b, const char *name, const char *msg) {
    if (pmx__buf_printf(&b->err, "%s%s: %s", b->err.len ? "; " : "", name, msg) != PMX_OK)
        b->oom = 1;
}

/* Check a value and add it (repeated keys append). */
static void build_value(builder *b, const pmx_param_desc *p, const char *wire, const char *v) {
    char buf[512];
    const char *m = pmx_param_check(p, v, buf, sizeof buf);
    if (m) {
        build_error(b, wire, m);
        return;
    }
    if (b->params && pmx_params_add_str(b->params, wire, v) != PMX_OK)
        b->oom = 1;
}

/* The escaped path of @p d from its path arguments: typed (const char * / const int64_t *) or,
 * with @p text, strings only. */
static void build_path(builder *b, const pmx_method_desc *d, const void *const *args, int text,
                       pmx__buf *path) {
    char num[32];
    size_t pi = 0;
    for (const char *t = pmx__str(d->path); *t;) {
        if (*t != '{') {
            const char *e = strchr(t, '{');
            size_t n = e ? (size_t)(e - t) : strlen(t);
            if (pmx__buf_append(path, t, n))
                b->oom = 1;
            t += n;
            continue;
        }
        const char *close = strchr(t, '}');
        t = close ? close + 1 : t + strlen(t);
        if (pi >= d->n_path)
            break;
        const pmx_param_desc *p = pmx_method_param_at(d, pi++);
        const pmx__pdef *pd = pmx__param_def(p);
        const char *name = pmx__str(pd->name);
        const void *arg = args ? args[p->offset] : NULL;
        const char *v = arg;
        if (pd->type == PMX_PARAM_INTEGER && arg && !text) {
            snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)arg);
            v = num;
        }
        if (!v) {
            build_error(b, name, msg_missing);
            continue;
        }
        char buf[512];
        const char *m = segment_error(v, takes_rest(d, pi - 1));
        if (!m)
            m = pmx_param_check(p, v, buf, sizeof buf);
        if (m)
            build_error(b, name, m);
        else if (pmx__buf_escape(path, v, strlen(v)))
            b->oom = 1;
    }
}

/* Bytes a member of parameter @p pd occupies in the _params struct (at p->offset). */
static size_t member_size(const pmx__pdef *pd) {
    int req = (pd->flags & PMX_PARAM_REQUIRED) != 0;
    switch (pd->type) {
    case PMX_PARAM_STRING:
        return (pd->flags & PMX_PARAM_INDEXED) ? pd->count * sizeof(char *) : sizeof(char *);
    case PMX_PARAM_INTEGER: return req ? sizeof(int64_t) : sizeof(pmx_opt_i64);
    case PMX_PARAM_BOOLEAN: return req ? sizeof(int) : sizeof(pmx_opt_bool);
    case PMX_PARAM_NUMBER: return req ? sizeof(double) : sizeof(pmx_opt_f64);
    default: return sizeof(char *);
    }
}

/* The parameters of the _params struct at @p base, of which the caller knows @p used bytes. */
static void build_params(builder *b, const pmx_method_desc *d, const char *base, size_t used) {
    char num[64];
    for (size_t i = d->n_path; i < d->n_params; i++) {
        const pmx_param_desc *p = pmx_method_param_at(d, i);
        const pmx__pdef *pd = pmx__param_def(p);
        const char *name = pmx__str(pd->name);
        int req = (pd->flags & PMX_PARAM_REQUIRED) != 0;
        int present = 0;
        /* members past the caller's struct_size are unset: an older, shorter struct */
        int known = base && (size_t)p->offset + member_size(pd) <= used &&
                    (pd->type != PMX_PARAM_ARRAY || (size_t)p->count_offset + sizeof(size_t) <= used);
        if (!known) {
            if (req)
                build_error(b, name, msg_missing);
            continue;
        }
        const char *f = base + p->offset;
        switch (pd->type) {
        case PMX_PARAM_STRING:
            if (pd->flags & PMX_PARAM_INDEXED) {
                const char *const *arr = (const char *const *)(const void *)f;
                for (uint32_t k = 0; k < pd->count; k++) {
                    if (!arr[k] || !*arr[k]) /* "" travels as "key=": absent to PVE */
                        continue;
                    char wire[160];
                    snprintf(wire, sizeof wire, "%s%u", name, k);
                    build_value(b, p, wire, arr[k]);
                    present = 1;
                }
            } else {
                const char *s = *(const char *const *)(const void *)f;
                if (s && *s) { /* "" travels as "key=", which PVE reads as absent */
                    build_value(b, p, name, s);
                    present = 1;
                }
            }
            break;
        case PMX_PARAM_INTEGER: {
            int64_t x = 0;
            if (req) {
                memcpy(&x, f, sizeof x);
                present = 1;
            } else {
                pmx_opt_i64 o;
                memcpy(&o, f, sizeof o);
                present = o.set;
                x = o.v;
            }
            if (present) {
                snprintf(num, sizeof num, "%" PRId64, x);
                build_value(b, p, name, num);
            }
            break;
        }
        case PMX_PARAM_BOOLEAN: {
            int x = 0;
            if (req) {
                memcpy(&x, f, sizeof x);
                present = 1;
            } else {
                pmx_opt_bool o;
                memcpy(&o, f, sizeof o);
                present = o.set;
                x = o.v;
            }
            if (present)
                build_value(b, p, name, x ? "1" : "0");
            break;
        }
        case PMX_PARAM_NUMBER: {
            double x = 0;
            if (req) {
                memcpy(&x, f, sizeof x);
                present = 1;
            } else {
                pmx_opt_f64 o;
                memcpy(&o, f, sizeof o);
                present = o.set;
                x = o.v;
            }
            if (present) {
                if (pmx__f64_text(x, num, sizeof num) != 0)
                    snprintf(num, sizeof num, "nan"); /* refused by validation */
                build_value(b, p, name, num);
            }
            break;
        }
        case PMX_PARAM_ARRAY: {
            const char *const *arr;
            size_t n;
            memcpy(&arr, f, sizeof arr);
            memcpy(&n, base + p->count_offset, sizeof n);
            if (n && !arr) {
                build_error(b, name, "array pointer is NULL but the count is not 0");
                break;
            }
            for (size_t k = 0; k < n; k++) {
                if (!arr[k]) {
                    build_error(b, name, "array element is NULL");
                    continue;
                }
                build_value(b, p, name, arr[k]);
                present = 1;
            }
            break;
        }
        default:
            break;
        }
        if (!present && req)
            build_error(b, name, msg_missing);
    }
}

/* Finish a build: PMX_OK with *path_out / *params_out, PMX_EINVAL with *err, PMX_ENOMEM. */
static int build_done(builder *b, pmx__buf *path, char **path_out, pmx_params **params_out,
                      char **err) {
    if (!b->oom && !path->data && pmx__buf_puts(path, ""))
        b->oom = 1;
    if (b->oom) {
        pmx__buf_free(&b->err);
        pmx__buf_free(path);
        pmx_params_free(b->params);
        return PMX_ENOMEM;
    }
    if (b->err.len) {
        *err = b->err.data;
        pmx__buf_free(path);
        pmx_params_free(b->params);
        return PMX_EINVAL;
    }
    *path_out = path->data;
    *params_out = b->params;
    return PMX_OK;
}

int pmx__bind_build(const pmx_method_desc *d, const void *const *path_args, const void *p,
                    char **path_out, pmx_params **params_out, char **err) {
    *path_out = NULL;
    *params_out = NULL;
    *err = NULL;
    builder b = {{0}, 0, pmx_params_new()};
    pmx__buf path = {0};
    if (!b.params)
        return PMX_ENOMEM;
    build_path(&b, d, path_args, 0, &path);
    size_t used = 0;
    if (p) {
        int r = pmx__struct_size_check(p, d->params_size, &used);
        if (r == -1)
            build_error(&b, "struct_size", "not set: initialise the parameters with "
                                           "PMX_PARAMS_INIT()");
        else if (r == -2)
            build_error(&b, "struct_size", "members this library version does not know are set");
    }
    build_params(&b, d, p, used);
    return build_done(&b, &path, path_out, params_out, err);
}

/* ---- starting calls --------------------------------------------------------------------------- */

/* One start for typed and descriptor calls: a build result (rc, path, params, err) becomes a
 * call that is sent, or that fails asynchronously with the build's message. */
static int start(pmx_client *c, const pmx_method_desc *d, int rc, const char *path,
                 const pmx_params *params, const char *err, const pmx_call_opts *opts,
                 pmx_done_fn done, void *userdata, pmx_call **out) {
    if (rc == PMX_ENOMEM)
        return rc;
    pmx__call_spec spec = {
        .method = (pmx_method)d->verb,
        .path = path ? path : pmx__str(d->path),
        .params = params,
        .opts = opts,
        .typed_ctx = d,
        .decode = d->result ? pmx__bind_decode : NULL,
        .result_free = d->result ? pmx__bind_result_free : NULL,
        .fail_code = rc == PMX_EINVAL ? PMX_EINVAL : 0,
        .fail_message = err,
        .secret = (d->flags & PMX_METHOD_SECRET) != 0,
    };
    return pmx__call_start_spec(c, &spec, done, userdata, out);
}

int pmx__bind_call(pmx_client *c, size_t method, const void *const *path_args, const void *p,
                   pmx_done_fn done, void *userdata, pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || method >= pmx__gen_n_methods)
        return PMX_EINVAL;
    const pmx_method_desc *d = &pmx__gen_methods[method];
    char *path = NULL, *err = NULL;
    pmx_params *params = NULL;
    int r = pmx__bind_build(d, path_args, p, &path, &params, &err);
    r = start(c, d, r, path, params, err, NULL, done, userdata, out);
    pmx__free(path);
    pmx__free(err);
    pmx_params_free(params);
    return r;
}

int pmx_method_start(pmx_client *c, const pmx_method_desc *d, const char *const *path_args,
                     const pmx_params *params, const pmx_call_opts *opts, pmx_done_fn done,
                     void *userdata, pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || !d || d < pmx__gen_methods || d >= pmx__gen_methods + pmx__gen_n_methods)
        return PMX_EINVAL;
    builder b = {{0}, 0, NULL};
    pmx__buf path = {0};
    build_path(&b, d, (const void *const *)path_args, 1, &path);
    /* then the parameters, each error naming its parameter */
    collect col = {{0}, 0};
    unsigned vflags = opts && (opts->flags & PMX_CALL_JSON_BODY) &&
                              (d->verb == PMX_POST || d->verb == PMX_PUT)
                          ? PMX_VALIDATE_JSON_BODY
                          : 0;
    int nerr = pmx_method_validate_each(d, params, vflags, collect_fn, &col);
    if (nerr < 0 || col.oom)
        b.oom = 1;
    else if (nerr > 0 && pmx__buf_printf(&b.err, "%s%s", b.err.len ? "; " : "", col.b.data))
        b.oom = 1;
    pmx__buf_free(&col.b);
    char *path_out = NULL, *err = NULL;
    pmx_params *none = NULL;
    int r = build_done(&b, &path, &path_out, &none, &err);
    r = start(c, d, r, path_out, params, err, opts, done, userdata, out);
    pmx__free(path_out);
    pmx__free(err);
    return r;
}

/* ---- secrets of generic calls ------------------------------------------------------------------ */

int pmx__secret_params(pmx_method m, const char *path, const pmx_params *p) {
    size_t n = pmx_params_count(p);
    for (size_t k = 0; k < n; k++) {
        const char *name, *value;
        if (pmx_params_get(p, k, &name, &value) != PMX_OK)
            continue;
        size_t lo = 0, hi = pmx__gen_n_secret_names;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(name, pmx__str(pmx__gen_secret_names[mid]));
            if (c == 0)
                return 1;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    if (!path)
        return 0;
    for (size_t i = 0; i < pmx__gen_n_secret_results; i++) {
        const pmx_method_desc *d = &pmx__gen_methods[pmx__gen_secret_results[i]];
        if (d->verb == (uint32_t)m && pmx__path_matches(d, path))
            return 1;
    }
    return 0;
}
