/*
 * Runtime of the typed property strings ("k=v,k=v"): one table-driven decoder, encoder and
 * free for every generated pve_fmt_* struct (lib/gen/propstr.c holds only tables and
 * few-line wrappers). Follows PVE's parse_property_string / print_property_string
 * (pve-common JSONSchema.pm); the rules are in <proxmox/method.h>.
 */
#include "value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors -------------------------------------------------------------------------------- */

typedef struct perr {
    char msg[512];
    int set;
} perr;

/* Record the first error ("key: message"); returns PMX_EINVAL. */
static int fail(perr *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(perr *e, const char *key, const char *fmt, ...) {
    if (e->set)
        return PMX_EINVAL;
    size_t o = 0;
    if (key)
        o = (size_t)snprintf(e->msg, sizeof e->msg, "%s: ", key);
    if (o >= sizeof e->msg)
        o = sizeof e->msg - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + o, sizeof e->msg - o, fmt, ap);
    va_end(ap);
    e->set = 1;
    return PMX_EINVAL;
}

static void give_err(const perr *e, char **err) {
    if (err)
        *err = e->set ? pmx__strdup(e->msg) : NULL;
}

/* ---- key lookup and value checks ------------------------------------------------------------ */

/* Key named by the n bytes at k (keys are sorted with strcmp). */
static inline const pmx_propkey_desc *key_at(const pmx_propstr_desc *d, size_t i) {
    return &pmx__gen_keys[d->first_key + i];
}

static inline const char *key_name(const pmx_propkey_desc *k) { return pmx__str(k->name); }

static const pmx_propkey_desc *key_find(const pmx_propstr_desc *d, const char *k, size_t n) {
    size_t lo = 0, hi = d->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = key_name(key_at(d, mid));
        int c = strncmp(k, name, n);
        if (c == 0 && name[n])
            c = -1; /* k is a proper prefix of name: it sorts first */
        if (c == 0)
            return key_at(d, mid);
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Members past the struct_size of a caller's (older, shorter) struct are unset. */
static size_t key_size(const pmx_propkey_desc *k) {
    switch (k->type) {
    case PMX_PARAM_INTEGER: return sizeof(pmx_opt_i64);
    case PMX_PARAM_BOOLEAN: return sizeof(pmx_opt_bool);
    case PMX_PARAM_NUMBER: return sizeof(pmx_opt_f64);
    default: return sizeof(char *);
    }
}

static int field_set(const pmx_propkey_desc *k, const void *v) {
    uint32_t used;
    memcpy(&used, v, sizeof used);
    if ((size_t)k->offset + key_size(k) > used)
        return 0;
    const char *p = (const char *)v + k->offset;
    switch (k->type) {
    case PMX_PARAM_STRING: return *(char *const *)(const void *)p != NULL;
    case PMX_PARAM_INTEGER: return ((const pmx_opt_i64 *)(const void *)p)->set;
    case PMX_PARAM_BOOLEAN: return ((const pmx_opt_bool *)(const void *)p)->set;
    case PMX_PARAM_NUMBER: return ((const pmx_opt_f64 *)(const void *)p)->set;
    }
    return 0;
}

/* Check the text of one value against key k (the checks and wording of parameters). */
static const char *check_value(const pmx_propkey_desc *k, const char *v, char *buf,
                               size_t bufsize) {
    pmx__constraints c;
    pmx__constraints_of_key(k, &c);
    return pmx__check_value(&c, v, buf, bufsize);
}

/* Check and store the value text v (n bytes) of key k into the struct at base. */
static int store(const pmx_propkey_desc *k, char *base, const char *v, size_t n, perr *e) {
    char *text = pmx__strndup(v, n);
    if (!text)
        return PMX_ENOMEM;
    char buf[400];
    int rc = PMX_OK;
    void *dst = base + k->offset;
    if (k->type == PMX_PARAM_BOOLEAN) {
        int b;
        if (pmx__parse_bool(text, &b))
            rc = fail(e, key_name(k), "type check ('boolean') failed - got '%s'", text);
        else
            *(pmx_opt_bool *)dst = (pmx_opt_bool){1, b};
        pmx__free(text);
        return rc;
    }
    const char *m = check_value(k, text, buf, sizeof buf);
    if (m) {
        rc = fail(e, key_name(k), "%s", m);
        pmx__free(text);
        return rc;
    }
    switch (k->type) {
    case PMX_PARAM_INTEGER:
        *(pmx_opt_i64 *)dst = (pmx_opt_i64){1, (int64_t)strtoll(text, NULL, 10)};
        pmx__free(text);
        break;
    case PMX_PARAM_NUMBER: {
        double x = 0;
        int bad = pmx__parse_f64(text, &x); /* (checked above: fails only without a C locale) */
        pmx__free(text);
        if (bad)
            return PMX_ENOMEM;
        *(pmx_opt_f64 *)dst = (pmx_opt_f64){1, x};
        break;
    }
    default:
        *(char **)dst = text;
        break;
    }
    return PMX_OK;
}

static const pmx_propkey_desc *default_key(const pmx_propstr_desc *d) {
    const char *dk = pmx__str(d->default_key);
    return dk ? key_find(d, dk, strlen(dk)) : NULL;
}

/* ---- free, decode ---------------------------------------------------------------------------- */

void pmx_propstr_free(const pmx_propstr_desc *d, void *v) {
    if (!d || !v)
        return;
    for (size_t i = 0; i < d->n_keys; i++) {
        const pmx_propkey_desc *k = key_at(d, i);
        if (!(k->flags & PMX_PROPKEY_ALIAS) && k->type == PMX_PARAM_STRING)
            pmx__free(*(char **)(void *)((char *)v + k->offset));
    }
    pmx__free(v);
}

static int only_space(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!pmx__is_space((unsigned char)p[i]))
            return 0;
    return 1;
}

/* The keys present, checked as PVE's check_object does: required keys, "requires". */
static int check_presence(const pmx_propstr_desc *d, const void *v, perr *e) {
    for (size_t i = 0; i < d->n_keys; i++) {
        const pmx_propkey_desc *k = key_at(d, i);
        if (k->flags & PMX_PROPKEY_ALIAS)
            continue;
        int set = field_set(k, v);
        if (!set && (k->flags & PMX_PROPKEY_REQUIRED))
            return fail(e, key_name(k), "property is missing and it is not optional");
        const char *req = pmx__str(k->requires);
        if (set && req) {
            const pmx_propkey_desc *r = key_find(d, req, strlen(req));
            if (r && !(r->flags & PMX_PROPKEY_ALIAS) && !field_set(r, v))
                return fail(e, key_name(r), "missing property - '%s' requires this property",
                            key_name(k));
        }
    }
    return PMX_OK;
}

/* One "k=v" part (n bytes at p, containing '=' at eq). */
static int decode_pair(const pmx_propstr_desc *d, const char *p, size_t n, const char *eq,
                       char *base, perr *e) {
    size_t kl = (size_t)(eq - p);
    if (kl == 0)
        return fail(e, NULL, "missing key in comma-separated list property ('%.*s')", (int)n, p);
    const pmx_propkey_desc *k = key_find(d, p, kl);
    if (!k)
        return fail(e, NULL, "%.*s: invalid key in comma-separated list property", (int)kl, p);
    if (eq + 1 == p + n)
        return fail(e, key_name(k), "missing value in comma-separated list property");
    if (k->flags & PMX_PROPKEY_ALIAS) {
        const char *alias = pmx__str(k->alias), *kalias = pmx__str(k->key_alias);
        const pmx_propkey_desc *t = alias ? key_find(d, alias, strlen(alias)) : NULL;
        if (!t || (t->flags & PMX_PROPKEY_ALIAS))
            return fail(e, key_name(k), "invalid key in comma-separated list property");
        if (kalias) {
            const pmx_propkey_desc *ka = key_find(d, kalias, strlen(kalias));
            if (!ka || (ka->flags & PMX_PROPKEY_ALIAS))
                return fail(e, key_name(k), "invalid key alias");
            if (field_set(ka, base))
                return fail(e, key_name(ka), "key alias '%s' is already defined", key_name(ka));
            int rc = store(ka, base, key_name(k), strlen(key_name(k)), e);
            if (rc)
                return rc;
        }
        k = t;
    }
    if (field_set(k, base))
        return fail(e, key_name(k), "duplicate key in comma-separated list property");
    return store(k, base, eq + 1, (size_t)(p + n - eq - 1), e);
}

static int decode(const pmx_propstr_desc *d, const char *text, char *base, perr *e) {
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n && !only_space(p, n)) { /* PVE skips empty and blank parts */
            const char *eq = memchr(p, '=', n);
            int rc;
            if (eq) {
                rc = decode_pair(d, p, n, eq, base, e);
            } else {
                const pmx_propkey_desc *k = default_key(d);
                if (!k)
                    return fail(e, NULL, "value without key, but schema does not define a "
                                         "default key ('%.*s')",
                                (int)n, p);
                if (field_set(k, base))
                    return fail(e, key_name(k), "duplicate key in comma-separated list property");
                rc = store(k, base, p, n, e);
            }
            if (rc)
                return rc;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return check_presence(d, base, e);
}

int pmx_propstr_decode(const pmx_propstr_desc *d, const char *text, void **out, char **err) {
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    perr e = {.set = 0};
    if (!d || !text || !out) {
        fail(&e, NULL, "invalid arguments");
        give_err(&e, err);
        return PMX_EINVAL;
    }
    char *base = pmx__calloc(1, d->struct_size);
    if (!base)
        return PMX_ENOMEM;
    uint32_t size = d->struct_size;
    memcpy(base, &size, sizeof size);
    int rc = decode(d, text, base, &e);
    if (rc) {
        pmx_propstr_free(d, base);
        if (rc == PMX_EINVAL)
            give_err(&e, err);
        return rc;
    }
    *out = base;
    return PMX_OK;
}

const char *pmx_propstr_check(const pmx_propstr_desc *d, const char *text, char *buf,
                              size_t bufsize) {
    if (!d || !text || !buf || !bufsize)
        return "invalid arguments";
    buf[0] = 0;
    perr e = {.set = 0};
    char *base = pmx__calloc(1, d->struct_size);
    if (!base) {
        snprintf(buf, bufsize, "out of memory");
        return buf;
    }
    uint32_t size = d->struct_size;
    memcpy(base, &size, sizeof size);
    int rc = decode(d, text, base, &e);
    pmx_propstr_free(d, base);
    if (rc == PMX_OK)
        return NULL;
    snprintf(buf, bufsize, "%s", rc == PMX_ENOMEM ? "out of memory" : e.msg);
    return buf;
}

/* ---- encode --------------------------------------------------------------------------------- */

/* The checked text of a set field: *out points at the string or at buf (numbers). */
static int value_text(const pmx_propkey_desc *k, const void *v, char *buf, size_t bufsize,
                      const char **out, perr *e) {
    const char *p = (const char *)v + k->offset;
    char msg[400];
    switch (k->type) {
    case PMX_PARAM_STRING: {
        const char *s = *(char *const *)(const void *)p;
        if (!*s)
            return fail(e, key_name(k), "an empty value cannot be written in a property string");
        if (strchr(s, ','))
            return fail(e, key_name(k), "illegal value with commas (property strings have no "
                                    "quoting)");
        const char *m = check_value(k, s, msg, sizeof msg);
        if (m)
            return fail(e, key_name(k), "%s", m);
        *out = s;
        return PMX_OK;
    }
    case PMX_PARAM_INTEGER:
        snprintf(buf, bufsize, "%" PRId64, ((const pmx_opt_i64 *)(const void *)p)->v);
        break;
    case PMX_PARAM_NUMBER: {
        double x = ((const pmx_opt_f64 *)(const void *)p)->v;
        if (x != x || x - x != 0)
            return fail(e, key_name(k), "type check ('number') failed - not a finite number");
        if (pmx__f64_text(x, buf, bufsize) != 0)
            return PMX_ENOMEM;
        break;
    }
    case PMX_PARAM_BOOLEAN: {
        int b = ((const pmx_opt_bool *)(const void *)p)->v;
        if (b != 0 && b != 1)
            return fail(e, key_name(k), "type check ('boolean') failed - got '%d'", b);
        snprintf(buf, bufsize, "%d", b);
        *out = buf;
        return PMX_OK;
    }
    default:
        return fail(e, key_name(k), "unsupported key type");
    }
    const char *m = check_value(k, buf, msg, sizeof msg);
    if (m)
        return fail(e, key_name(k), "%s", m);
    *out = buf;
    return PMX_OK;
}

/* The default key first: bare, or "alias=value" when a key alias points at it. */
static int encode_default(const pmx_propstr_desc *d, const pmx_propkey_desc *dk, const void *v,
                          unsigned char *done, pmx__buf *b, perr *e) {
    char buf[64], buf2[64];
    const char *t, *t2;
    done[dk - key_at(d, 0)] = 1;
    int rc = value_text(dk, v, buf, sizeof buf, &t, e);
    if (rc)
        return rc;
    const pmx_propkey_desc *combine = NULL;
    for (size_t i = 0; i < d->n_keys && !combine; i++) {
        const pmx_propkey_desc *k = key_at(d, i);
        const char *alias = pmx__str(k->alias), *kalias = pmx__str(k->key_alias);
        if ((k->flags & PMX_PROPKEY_ALIAS) && kalias && alias && !strcmp(kalias, key_name(dk)))
            combine = key_find(d, alias, strlen(alias));
    }
    if (combine && !(combine->flags & PMX_PROPKEY_ALIAS) && field_set(combine, v)) {
        const pmx_propkey_desc *as = key_find(d, t, strlen(t));
        if (!as || !(as->flags & PMX_PROPKEY_ALIAS) || !as->alias ||
            strcmp(pmx__str(as->alias), key_name(combine)))
            return fail(e, key_name(dk), "value '%s' cannot carry '%s'", t, key_name(combine));
        done[combine - key_at(d, 0)] = 1;
        if ((rc = value_text(combine, v, buf2, sizeof buf2, &t2, e)))
            return rc;
        return pmx__buf_printf(b, "%s=%s", t, t2) ? PMX_ENOMEM : PMX_OK;
    }
    if (strchr(t, '=') || only_space(t, strlen(t))) /* bare, PVE would misread it */
        return pmx__buf_printf(b, "%s=%s", key_name(dk), t) ? PMX_ENOMEM : PMX_OK;
    return pmx__buf_puts(b, t) ? PMX_ENOMEM : PMX_OK;
}

static int encode(const pmx_propstr_desc *d, const void *v, pmx__buf *b, perr *e) {
    int rc = check_presence(d, v, e);
    if (rc)
        return rc;
    unsigned char *done = pmx__calloc(d->n_keys ? d->n_keys : 1, 1);
    if (!done)
        return PMX_ENOMEM;
    const pmx_propkey_desc *dk = default_key(d);
    if (dk && field_set(dk, v))
        rc = encode_default(d, dk, v, done, b, e);
    /* then the required keys, then the rest (PVE's print_property_string) */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < d->n_keys && !rc; i++) {
            const pmx_propkey_desc *k = key_at(d, i);
            if (done[i] || (k->flags & PMX_PROPKEY_ALIAS) || !field_set(k, v))
                continue;
            if (pass == 0 && !(k->flags & PMX_PROPKEY_REQUIRED))
                continue;
            done[i] = 1;
            char buf[64];
            const char *t;
            rc = value_text(k, v, buf, sizeof buf, &t, e);
            if (!rc && pmx__buf_printf(b, "%s%s=%s", b->len ? "," : "", key_name(k), t))
                rc = PMX_ENOMEM;
        }
    if (!rc && !b->data && pmx__buf_puts(b, ""))
        rc = PMX_ENOMEM;
    pmx__free(done);
    return rc;
}

int pmx_propstr_encode(const pmx_propstr_desc *d, const void *v, char **out, char **err) {
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    perr e = {.set = 0};
    if (!d || !v || !out) {
        fail(&e, NULL, "invalid arguments");
        give_err(&e, err);
        return PMX_EINVAL;
    }
    size_t used;
    int sr = pmx__struct_size_check(v, d->struct_size, &used);
    if (sr) {
        fail(&e, "struct_size", "%s",
             sr == -1 ? "not set: initialise the struct with PMX_PARAMS_INIT()"
                      : "members this library version does not know are set");
        give_err(&e, err);
        return PMX_EINVAL;
    }
    pmx__buf b = {0};
    int rc = encode(d, v, &b, &e);
    if (rc) {
        pmx__buf_free(&b);
        if (rc == PMX_EINVAL)
            give_err(&e, err);
        return rc;
    }
    *out = b.data;
    return PMX_OK;
}
