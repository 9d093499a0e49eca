/*
 * Runtime of the typed property strings ("k=v,k=v"): one table-driven decoder, encoder and
 * free for every generated pve_fmt_* struct (lib/gen/propstr.c holds only tables and
 * few-line wrappers). Follows PVE's parse_property_string / print_property_string
 * (pve-common JSONSchema.pm); the rules are in <proxmox/method.h>.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Generated (lib/gen/propstr.c): all formats, sorted by name. */
extern const pmx_propstr_desc *const pmx__gen_propstrs[];
extern const size_t pmx__gen_n_propstrs;

size_t pmx_propstr_count(void) { return pmx__gen_n_propstrs; }

const pmx_propstr_desc *pmx_propstr_at(size_t i) {
    return i < pmx__gen_n_propstrs ? pmx__gen_propstrs[i] : NULL;
}

const pmx_propstr_desc *pmx_propstr_find(const char *name) {
    if (!name)
        return NULL;
    size_t lo = 0, hi = pmx__gen_n_propstrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, pmx__gen_propstrs[mid]->name);
        if (c == 0)
            return pmx__gen_propstrs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

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
static const pmx_propkey_desc *key_find(const pmx_propstr_desc *d, const char *k, size_t n) {
    size_t lo = 0, hi = d->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = d->keys[mid].name;
        int c = strncmp(k, name, n);
        if (c == 0 && name[n])
            c = -1; /* k is a proper prefix of name: it sorts first */
        if (c == 0)
            return &d->keys[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int field_set(const pmx_propkey_desc *k, const void *v) {
    const char *p = (const char *)v + k->offset;
    switch (k->type) {
    case PMX_PARAM_STRING: return *(char *const *)(const void *)p != NULL;
    case PMX_PARAM_INTEGER: return ((const pmx_opt_i64 *)(const void *)p)->set;
    case PMX_PARAM_BOOLEAN: return ((const pmx_opt_bool *)(const void *)p)->set;
    case PMX_PARAM_NUMBER: return ((const pmx_opt_f64 *)(const void *)p)->set;
    }
    return 0;
}

/* \d+(\.\d+)?[KMGT]? as PVE's parse_size. */
static int disk_size_ok(const char *s) {
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p && strchr("KMGT", *p))
        p++;
    return *p == 0;
}

/* addr/prefix with the prefix in (7, 32] or (7, 128], as PVE's CIDRv4 / CIDRv6. */
static int cidr_ok(const char *s, int af) {
    const char *sl = strchr(s, '/');
    if (!sl || sl == s || (size_t)(sl - s) >= 64 || !isdigit((unsigned char)sl[1]))
        return 0;
    char a[64];
    memcpy(a, s, (size_t)(sl - s));
    a[sl - s] = 0;
    unsigned char buf[16];
    if (inet_pton(af, a, buf) != 1)
        return 0;
    char *e;
    long bits = strtol(sl + 1, &e, 10);
    if (*e)
        return 0;
    return bits > 7 && bits <= (af == AF_INET ? 32 : 128);
}

/* Formats used inside property strings that pmx_param_check does not know. NULL: valid. */
static const char *check_extra_format(const char *fmt, const char *v) {
    if (!strcmp(fmt, "pve-ipv4-config")) {
        if (!strcmp(v, "dhcp") || !strcmp(v, "manual") || cidr_ok(v, AF_INET))
            return NULL;
        return "value does not look like a valid ipv4 network configuration";
    }
    if (!strcmp(fmt, "pve-ipv6-config")) {
        if (!strcmp(v, "auto") || !strcmp(v, "dhcp") || !strcmp(v, "manual") ||
            cidr_ok(v, AF_INET6))
            return NULL;
        return "value does not look like a valid ipv6 network configuration";
    }
    if (!strcmp(fmt, "urlencoded")) {
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-%_.!~*'()", *p))
                return "invalid urlencoded string";
        return NULL;
    }
    if (!strcmp(fmt, "pve-bridge-id")) {
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
                return "invalid bridge ID";
        return *v ? NULL : "invalid bridge ID";
    }
    if (!strcmp(fmt, "CIDR")) {
        if (cidr_ok(v, AF_INET) || cidr_ok(v, AF_INET6))
            return NULL;
        return "value does not look like a valid CIDR network";
    }
    return NULL;
}

/* Check the text of one value against key k (the same checks and wording as top-level
 * parameters); NULL when valid, else the message in buf. */
static const char *check_value(const pmx_propkey_desc *k, const char *v, char *buf,
                               size_t bufsize) {
    if ((k->flags & PMX_PROPKEY_DISK_SIZE) && !disk_size_ok(v)) {
        snprintf(buf, bufsize, "value does not look like a valid disk size: %s", v);
        return buf;
    }
    if (k->format) {
        const char *m = check_extra_format(k->format, v);
        if (m) {
            snprintf(buf, bufsize, "%s", m);
            return buf;
        }
    }
    pmx_param_desc p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.type = p.item_type = k->type;
    if (k->flags & PMX_PROPKEY_HAS_MIN)
        p.flags |= PMX_PARAM_HAS_MIN;
    if (k->flags & PMX_PROPKEY_HAS_MAX)
        p.flags |= PMX_PARAM_HAS_MAX;
    if (k->flags & PMX_PROPKEY_HAS_MAX_LENGTH)
        p.flags |= PMX_PARAM_HAS_MAX_LENGTH;
    p.name = k->name;
    p.minimum = k->minimum;
    p.maximum = k->maximum;
    p.max_length = k->max_length;
    p.enum_values = k->enum_values;
    p.n_enum = k->n_enum;
    p.pattern = k->pattern;
    p.posix_pattern = k->posix_pattern;
    p.format = k->format;
    return pmx_param_check(&p, v, buf, bufsize);
}

int pmx__parse_bool(const char *s, int *v) {
    static const char *const t[] = {"1", "on", "yes", "true"},
                             *const f[] = {"0", "off", "no", "false"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i])) {
            *v = 1;
            return 0;
        }
        if (!strcasecmp(s, f[i])) {
            *v = 0;
            return 0;
        }
    }
    return -1;
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
            rc = fail(e, k->name, "type check ('boolean') failed - got '%s'", text);
        else
            *(pmx_opt_bool *)dst = (pmx_opt_bool){1, b};
        pmx__free(text);
        return rc;
    }
    const char *m = check_value(k, text, buf, sizeof buf);
    if (m) {
        rc = fail(e, k->name, "%s", m);
        pmx__free(text);
        return rc;
    }
    switch (k->type) {
    case PMX_PARAM_INTEGER:
        *(pmx_opt_i64 *)dst = (pmx_opt_i64){1, (int64_t)strtoll(text, NULL, 10)};
        pmx__free(text);
        break;
    case PMX_PARAM_NUMBER:
        *(pmx_opt_f64 *)dst = (pmx_opt_f64){1, strtod(text, NULL)};
        pmx__free(text);
        break;
    default:
        *(char **)dst = text;
        break;
    }
    return PMX_OK;
}

static const pmx_propkey_desc *default_key(const pmx_propstr_desc *d) {
    return d->default_key ? key_find(d, d->default_key, strlen(d->default_key)) : NULL;
}

/* ---- free, decode ---------------------------------------------------------------------------- */

void pmx_propstr_free(const pmx_propstr_desc *d, void *v) {
    if (!d || !v)
        return;
    for (size_t i = 0; i < d->n_keys; i++) {
        const pmx_propkey_desc *k = &d->keys[i];
        if (!(k->flags & PMX_PROPKEY_ALIAS) && k->type == PMX_PARAM_STRING)
            pmx__free(*(char **)(void *)((char *)v + k->offset));
    }
    pmx__free(v);
}

static int only_space(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i]))
            return 0;
    return 1;
}

/* The keys present, checked as PVE's check_object does: required keys, "requires". */
static int check_presence(const pmx_propstr_desc *d, const void *v, perr *e) {
    for (size_t i = 0; i < d->n_keys; i++) {
        const pmx_propkey_desc *k = &d->keys[i];
        if (k->flags & PMX_PROPKEY_ALIAS)
            continue;
        int set = field_set(k, v);
        if (!set && (k->flags & PMX_PROPKEY_REQUIRED))
            return fail(e, k->name, "property is missing and it is not optional");
        if (set && k->requires) {
            const pmx_propkey_desc *r = key_find(d, k->requires, strlen(k->requires));
            if (r && !(r->flags & PMX_PROPKEY_ALIAS) && !field_set(r, v))
                return fail(e, r->name, "missing property - '%s' requires this property",
                            k->name);
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
        return fail(e, k->name, "missing value in comma-separated list property");
    if (k->flags & PMX_PROPKEY_ALIAS) {
        const pmx_propkey_desc *t = k->alias ? key_find(d, k->alias, strlen(k->alias)) : NULL;
        if (!t || (t->flags & PMX_PROPKEY_ALIAS))
            return fail(e, k->name, "invalid key in comma-separated list property");
        if (k->key_alias) {
            const pmx_propkey_desc *ka = key_find(d, k->key_alias, strlen(k->key_alias));
            if (!ka || (ka->flags & PMX_PROPKEY_ALIAS))
                return fail(e, k->name, "invalid key alias");
            if (field_set(ka, base))
                return fail(e, ka->name, "key alias '%s' is already defined", ka->name);
            int rc = store(ka, base, k->name, strlen(k->name), e);
            if (rc)
                return rc;
        }
        k = t;
    }
    if (field_set(k, base))
        return fail(e, k->name, "duplicate key in comma-separated list property");
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
                    return fail(e, k->name, "duplicate key in comma-separated list property");
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
            return fail(e, k->name, "an empty value cannot be written in a property string");
        if (strchr(s, ','))
            return fail(e, k->name, "illegal value with commas (property strings have no "
                                    "quoting)");
        const char *m = check_value(k, s, msg, sizeof msg);
        if (m)
            return fail(e, k->name, "%s", m);
        *out = s;
        return PMX_OK;
    }
    case PMX_PARAM_INTEGER:
        snprintf(buf, bufsize, "%" PRId64, ((const pmx_opt_i64 *)(const void *)p)->v);
        break;
    case PMX_PARAM_NUMBER: {
        double x = ((const pmx_opt_f64 *)(const void *)p)->v;
        if (x != x || x - x != 0)
            return fail(e, k->name, "type check ('number') failed - not a finite number");
        snprintf(buf, bufsize, "%.15g", x);
        break;
    }
    case PMX_PARAM_BOOLEAN: {
        int b = ((const pmx_opt_bool *)(const void *)p)->v;
        if (b != 0 && b != 1)
            return fail(e, k->name, "type check ('boolean') failed - got '%d'", b);
        snprintf(buf, bufsize, "%d", b);
        *out = buf;
        return PMX_OK;
    }
    default:
        return fail(e, k->name, "unsupported key type");
    }
    const char *m = check_value(k, buf, msg, sizeof msg);
    if (m)
        return fail(e, k->name, "%s", m);
    *out = buf;
    return PMX_OK;
}

/* The default key first: bare, or "alias=value" when a key alias points at it. */
static int encode_default(const pmx_propstr_desc *d, const pmx_propkey_desc *dk, const void *v,
                          unsigned char *done, pmx__buf *b, perr *e) {
    char buf[64], buf2[64];
    const char *t, *t2;
    done[dk - d->keys] = 1;
    int rc = value_text(dk, v, buf, sizeof buf, &t, e);
    if (rc)
        return rc;
    const pmx_propkey_desc *combine = NULL;
    for (size_t i = 0; i < d->n_keys && !combine; i++) {
        const pmx_propkey_desc *k = &d->keys[i];
        if ((k->flags & PMX_PROPKEY_ALIAS) && k->key_alias && k->alias &&
            !strcmp(k->key_alias, dk->name))
            combine = key_find(d, k->alias, strlen(k->alias));
    }
    if (combine && !(combine->flags & PMX_PROPKEY_ALIAS) && field_set(combine, v)) {
        const pmx_propkey_desc *as = key_find(d, t, strlen(t));
        if (!as || !(as->flags & PMX_PROPKEY_ALIAS) || !as->alias ||
            strcmp(as->alias, combine->name))
            return fail(e, dk->name, "value '%s' cannot carry '%s'", t, combine->name);
        done[combine - d->keys] = 1;
        if ((rc = value_text(combine, v, buf2, sizeof buf2, &t2, e)))
            return rc;
        return pmx__buf_printf(b, "%s=%s", t, t2) ? PMX_ENOMEM : PMX_OK;
    }
    if (strchr(t, '=') || only_space(t, strlen(t))) /* bare, PVE would misread it */
        return pmx__buf_printf(b, "%s=%s", dk->name, t) ? PMX_ENOMEM : PMX_OK;
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
            const pmx_propkey_desc *k = &d->keys[i];
            if (done[i] || (k->flags & PMX_PROPKEY_ALIAS) || !field_set(k, v))
                continue;
            if (pass == 0 && !(k->flags & PMX_PROPKEY_REQUIRED))
                continue;
            done[i] = 1;
            char buf[64];
            const char *t;
            rc = value_text(k, v, buf, sizeof buf, &t, e);
            if (!rc && pmx__buf_printf(b, "%s%s=%s", b->len ? "," : "", k->name, t))
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
