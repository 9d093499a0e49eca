/*
 * Runtime of the generated PVE bindings: method lookup, parameter validation and encoding,
 * and the table-driven decoder of typed results. Written once; lib/gen/ holds only tables
 * and few-line endpoint functions that call pmx__bind_call().
 */
#include "bind.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lookup -------------------------------------------------------------------------------- */

size_t pmx_method_count(void) { return pmx__gen_n_methods; }

const pmx_method_desc *pmx_method_at(size_t i) {
    for (size_t k = 0; k < pmx__gen_n_chunks; k++) {
        if (i < pmx__gen_chunks[k].n)
            return pmx__gen_chunks[k].methods[i];
        i -= pmx__gen_chunks[k].n;
    }
    return NULL;
}

const pmx_method_desc *pmx_method_by_name(const char *fn_name) {
    if (!fn_name)
        return NULL;
    size_t lo = 0, hi = pmx__gen_n_methods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const pmx_method_desc *d = pmx_method_at(pmx__gen_by_name[mid]);
        int c = strcmp(fn_name, d->name);
        if (c == 0)
            return d;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

typedef struct seg {
    const char *p;
    size_t n;
} seg;

/* Split a path into segments (ignoring a query string); returns the count or -1 if > max. */
static int split_path(const char *path, seg *out, int max) {
    int n = 0;
    const char *p = path;
    const char *end = path + strcspn(path, "?#");
    while (p < end) {
        while (p < end && *p == '/')
            p++;
        if (p >= end)
            break;
        const char *s = p;
        while (p < end && *p != '/')
            p++;
        if (n == max)
            return -1;
        out[n].p = s;
        out[n].n = (size_t)(p - s);
        n++;
    }
    return n;
}

/* Number of literal segments matched, or -1 when the template does not match. Streams over
 * the template without splitting it: most templates fail on their first segments. */
static int match_template(const char *t, const seg *cs, int nc) {
    int score = 0, i = 0;
    for (;;) {
        while (*t == '/')
            t++;
        if (!*t)
            return i == nc ? score : -1;
        if (i == nc)
            return -1;
        const char *e = t;
        while (*e && *e != '/')
            e++;
        if (*t != '{') {
            if ((size_t)(e - t) != cs[i].n || memcmp(t, cs[i].p, cs[i].n) != 0)
                return -1;
            score++;
        }
        t = e;
        i++;
    }
}

const pmx_method_desc *pmx_method_find(pmx_method m, const char *path) {
    if (!path || path[0] != '/')
        return NULL;
    seg cs[32];
    int nc = split_path(path, cs, 32);
    if (nc < 0)
        return NULL;
    const pmx_method_desc *best = NULL;
    int best_score = -1;
    for (size_t k = 0; k < pmx__gen_n_chunks; k++) {
        /* A chunk holds methods of one top-level segment ("/nodes"): skip the others. */
        const char *first = pmx__gen_chunks[k].methods[0]->path + 1;
        size_t fl = strcspn(first, "/");
        if (nc > 0 && first[0] != '{' && (fl != cs[0].n || memcmp(first, cs[0].p, fl) != 0))
            continue;
        for (size_t i = 0; i < pmx__gen_chunks[k].n; i++) {
            const pmx_method_desc *d = pmx__gen_chunks[k].methods[i];
            if (d->method != (uint32_t)m)
                continue;
            int s = match_template(d->path, cs, nc);
            if (s > best_score) {
                best_score = s;
                best = d;
            }
        }
    }
    return best;
}

static int hexv(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int pmx_method_path_param(const pmx_method_desc *d, const char *path, size_t i, char **out) {
    if (out)
        *out = NULL;
    if (!d || !path || !out || i >= d->n_path_params)
        return PMX_EINVAL;
    seg cs[32], ts[32];
    int nc = split_path(path, cs, 32), nt = split_path(d->path, ts, 32);
    if (nc < 0 || nt != nc || match_template(d->path, cs, nc) < 0)
        return PMX_EINVAL;
    size_t k = 0;
    for (int s = 0; s < nt; s++) {
        if (ts[s].p[0] != '{')
            continue;
        if (k++ != i)
            continue;
        char *v = pmx__malloc(cs[s].n + 1);
        if (!v)
            return PMX_ENOMEM;
        size_t o = 0;
        for (size_t j = 0; j < cs[s].n; j++) {
            const char *c = cs[s].p + j;
            if (*c == '%' && j + 2 < cs[s].n && hexv(c[1]) >= 0 && hexv(c[2]) >= 0) {
                v[o++] = (char)(hexv(c[1]) * 16 + hexv(c[2]));
                j += 2;
            } else {
                v[o++] = *c;
            }
        }
        v[o] = 0;
        *out = v;
        return PMX_OK;
    }
    return PMX_EINVAL;
}

/* Parameter named @p name, or for indexed parameters "net3": *slot gets 3. */
static const pmx_param_desc *param_lookup(const pmx_method_desc *d, const char *name, long *slot) {
    *slot = -1;
    for (size_t i = 0; i < d->n_params; i++) {
        const pmx_param_desc *p = &d->params[i];
        size_t n = strlen(p->name);
        if (!(p->flags & PMX_PARAM_INDEXED)) {
            if (!strcmp(p->name, name))
                return p;
            continue;
        }
        if (strncmp(p->name, name, n) != 0 || !isdigit((unsigned char)name[n]))
            continue;
        if (name[n] == '0' && name[n + 1])
            continue;
        char *e;
        long k = strtol(name + n, &e, 10);
        if (*e || k < 0 || (unsigned long)k >= p->count) /* no truncation: net4294967299 */
            continue;
        *slot = k;
        return p;
    }
    return NULL;
}

const pmx_param_desc *pmx_method_param(const pmx_method_desc *d, const char *name) {
    long slot;
    return d && name ? param_lookup(d, name, &slot) : NULL;
}

/* ---- value checks ---------------------------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *v) {
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    char *e;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (*e || errno == ERANGE) /* out of range is not an integer, not INT64_MAX */
        return -1;
    *v = (int64_t)x;
    return 0;
}

/* A decimal number as PVE's schema accepts it: [+-] digits [. digits] [e [+-] digits], or
 * [+-] . digits; strtod alone would also take "inf", "nan" and hex. */
static int is_decimal(const char *s) {
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == 0;
}

static int parse_f64(const char *s, double *v) {
    if (!is_decimal(s))
        return -1;
    char *e;
    double x = strtod(s, &e);
    if (*e || x != x || x - x != 0) /* NaN or infinite (overflow) */
        return -1;
    *v = x;
    return 0;
}

static int all_chars(const char *s, const char *set) {
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(set, *s))
            return 0;
    return 1;
}

/* Checks of common registered formats (a subset of PVE's; others are not checked). Returns
 * the PVE message or NULL. */
static const char *check_format(const char *fmt, const char *v) {
    size_t n = strlen(v);
    if (!strcmp(fmt, "pve-node")) {
        /* [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
        if (!n || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]) ||
            !all_chars(v, "-"))
            return "value does not look like a valid node name";
        return NULL;
    }
    if (!strcmp(fmt, "pve-vmid")) {
        int64_t x;
        if (n < 3 || n > 9 || v[0] == '0' || parse_i64(v, &x) || !isdigit((unsigned char)v[0]))
            return "value does not look like a valid VM ID";
        return NULL;
    }
    if (!strcmp(fmt, "pve-configid")) {
        /* [a-z][a-z0-9_]+, case-insensitive as in PVE */
        if (n < 2 || !isalpha((unsigned char)v[0]) || !all_chars(v, "_"))
            return "invalid configuration ID";
        return NULL;
    }
    if (!strcmp(fmt, "pve-storage-id")) {
        /* [a-z][a-z0-9\-_.]*[a-z0-9] */
        if (n < 2 || !isalpha((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]) ||
            !all_chars(v, "-_."))
            return "storage ID contains illegal characters";
        return NULL;
    }
    if (!strcmp(fmt, "ipv4") || !strcmp(fmt, "ipv6") || !strcmp(fmt, "ip")) {
        unsigned char buf[16];
        int ok4 = inet_pton(AF_INET, v, buf) == 1, ok6 = inet_pton(AF_INET6, v, buf) == 1;
        if (!strcmp(fmt, "ipv4") && !ok4)
            return "value does not look like a valid IPv4 address";
        if (!strcmp(fmt, "ipv6") && !ok6)
            return "value does not look like a valid IPv6 address";
        if (!strcmp(fmt, "ip") && !ok4 && !ok6)
            return "value does not look like a valid IP address";
        return NULL;
    }
    if (!strcmp(fmt, "mac-addr")) {
        /* unicast: [a-f0-9][02468ace](:[a-f0-9]{2}){5}, case-insensitive */
        if (n != 17)
            return "value does not look like a valid unicast MAC address";
        for (size_t i = 0; i < n; i++) {
            if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
                return "value does not look like a valid unicast MAC address";
        }
        if (hexv(v[1]) & 1)
            return "value does not look like a valid unicast MAC address";
        return NULL;
    }
    return NULL;
}

/* Compiled patterns, cached for the life of the process: compiling one costs far more than
 * matching it. Keyed by the pattern text (callers may pass descriptors of their own); shared by
 * threads. */
#define PATTERN_SLOTS 512
static struct {
    const char *pattern;
    regex_t re;
    int ok;
} g_patterns[PATTERN_SLOTS];
static pthread_mutex_t g_patterns_lock = PTHREAD_MUTEX_INITIALIZER;

static const regex_t *pattern_regex(const char *pattern) {
    size_t h = 5381;
    for (const char *q = pattern; *q; q++)
        h = h * 33 + (unsigned char)*q;
    h %= PATTERN_SLOTS;
    const regex_t *found = NULL;
    pthread_mutex_lock(&g_patterns_lock);
    for (size_t i = 0; i < PATTERN_SLOTS; i++) {
        size_t k = (h + i) % PATTERN_SLOTS;
        if (g_patterns[k].pattern && strcmp(g_patterns[k].pattern, pattern) == 0) {
            found = g_patterns[k].ok ? &g_patterns[k].re : NULL;
            break;
        }
        if (!g_patterns[k].pattern) {
            char *copy = pmx__strdup(pattern);
            if (!copy)
                break;
            g_patterns[k].pattern = copy;
            g_patterns[k].ok = regcomp(&g_patterns[k].re, copy, REG_EXTENDED | REG_NOSUB) == 0;
            found = g_patterns[k].ok ? &g_patterns[k].re : NULL;
            break;
        }
    }
    pthread_mutex_unlock(&g_patterns_lock);
    return found; /* NULL: not compilable (or the cache is full): left to the server */
}

const char *pmx_param_check(const pmx_param_desc *p, const char *value, char *buf,
                            size_t bufsize) {
    if (!p || !value || !buf || !bufsize)
        return "invalid arguments";
    buf[0] = 0;
    uint32_t t = p->item_type ? p->item_type : p->type;
    double num = 0;
    int have_num = 0;
    if (t == PMX_PARAM_INTEGER) {
        int64_t x;
        if (parse_i64(value, &x)) {
            snprintf(buf, bufsize, "type check ('integer') failed - got '%s'", value);
            return buf;
        }
        num = (double)x;
        have_num = 1;
    } else if (t == PMX_PARAM_NUMBER) {
        if (parse_f64(value, &num)) {
            snprintf(buf, bufsize, "type check ('number') failed - got '%s'", value);
            return buf;
        }
        have_num = 1;
    } else if (t == PMX_PARAM_BOOLEAN) {
        /* PVE's schema takes exactly 0 or 1 as text (JSON true/false arrive as 1/0); "true"
         * is refused by the server, so it is refused here too. */
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            snprintf(buf, bufsize, "type check ('boolean') failed - got '%s'", value);
            return buf;
        }
    }
    if (have_num && (p->flags & PMX_PARAM_HAS_MIN) && num < p->minimum) {
        snprintf(buf, bufsize, "value must have a minimum value of %.15g", p->minimum);
        return buf;
    }
    if (have_num && (p->flags & PMX_PARAM_HAS_MAX) && num > p->maximum) {
        snprintf(buf, bufsize, "value must have a maximum value of %.15g", p->maximum);
        return buf;
    }
    if (p->enum_values && p->n_enum) {
        int found = 0;
        for (size_t i = 0; i < p->n_enum && !found; i++)
            found = !strcmp(p->enum_values[i], value);
        if (!found) {
            size_t o = (size_t)snprintf(buf, bufsize,
                                        "value '%s' does not have a value in the enumeration '",
                                        value);
            for (size_t i = 0; i < p->n_enum && o < bufsize; i++)
                o += (size_t)snprintf(buf + o, bufsize - o, "%s%s", i ? ", " : "",
                                      p->enum_values[i]);
            if (o < bufsize)
                snprintf(buf + o, bufsize - o, "'");
            return buf;
        }
    }
    if (t == PMX_PARAM_STRING) {
        size_t n = strlen(value);
        if ((p->flags & PMX_PARAM_HAS_MIN_LENGTH) && (int64_t)n < p->min_length) {
            snprintf(buf, bufsize, "value must be at least %" PRId64 " characters long",
                     p->min_length);
            return buf;
        }
        if ((p->flags & PMX_PARAM_HAS_MAX_LENGTH) && (int64_t)n > p->max_length) {
            snprintf(buf, bufsize, "value may only be %" PRId64 " characters long",
                     p->max_length);
            return buf;
        }
    }
    if (p->posix_pattern) {
        const regex_t *re = pattern_regex(p->posix_pattern);
        if (re && regexec(re, value, 0, NULL, 0) != 0) {
            snprintf(buf, bufsize, "value does not match the regex pattern");
            return buf;
        }
    }
    if (p->format && t == PMX_PARAM_STRING) {
        const char *m = check_format(p->format, value);
        if (m) {
            snprintf(buf, bufsize, "%s", m);
            return buf;
        }
    }
    /* typed property strings: "net0: model: value 'x' does not have a value in ..." */
    if ((p->flags & PMX_PARAM_PROPERTY_STRING) && PMX_DESC_HAS(p, pmx_param_desc, propstr) &&
        p->propstr && t == PMX_PARAM_STRING)
        return pmx_propstr_check(p->propstr, value, buf, bufsize);
    return NULL;
}

/* ---- generic validation ------------------------------------------------------------------------ */

static const char msg_missing[] = "property is missing and it is not optional";
static const char msg_unknown[] =
    "property is not defined in schema and the schema does not allow additional properties";

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
        const pmx_param_desc *p = &d->params[i];
        if (p->loc == PMX_LOC_PATH && !(flags & PMX_VALIDATE_PATH))
            continue;
        int seen = 0;
        for (size_t k = 0; k < n; k++) {
            const char *name, *value;
            if (pmx_params_get(params, k, &name, &value) != PMX_OK)
                continue;
            long slot;
            if (param_lookup(d, name, &slot) != p)
                continue;
            seen = 1;
            const char *m = pmx_param_check(p, value, buf, sizeof buf);
            if (m)
                REPORT(name, m);
        }
        if (!seen && (p->flags & PMX_PARAM_REQUIRED))
            REPORT(p->name, msg_missing);
    }
    for (size_t k = 0; k < n; k++) {
        const char *name, *value;
        if (pmx_params_get(params, k, &name, &value) != PMX_OK)
            continue;
        long slot;
        const pmx_param_desc *p = param_lookup(d, name, &slot);
        if (!p || (p->loc == PMX_LOC_PATH && !(flags & PMX_VALIDATE_PATH)))
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

/* ---- typed request building ------------------------------------------------------------------ */

typedef struct builder {
    pmx__buf err; /* "name: message; ..." */
    int oom;
    pmx_params *params;
} builder;

static void build_error(builder *b, const char *name, const char *msg) {
    if (pmx__buf_printf(&b->err, "%s%s: %s", b->err.len ? "; " : "", name, msg) != PMX_OK)
        b->oom = 1;
}

/* Check a value and add it (add: append a repeated key). */
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

int pmx__bind_build(const pmx_method_desc *d, const void *const *path_args, const void *p,
                    char **path_out, pmx_params **params_out, char **err) {
    *path_out = NULL;
    *params_out = NULL;
    *err = NULL;
    builder b = {{0}, 0, pmx_params_new()};
    pmx__buf path = {0};
    char num[64];
    if (!b.params)
        return PMX_ENOMEM;
    /* path */
    size_t pi = 0;
    for (const char *t = d->path; *t;) {
        if (*t != '{') {
            const char *e = strchr(t, '{');
            size_t n = e ? (size_t)(e - t) : strlen(t);
            if (pmx__buf_append(&path, t, n))
                b.oom = 1;
            t += n;
            continue;
        }
        const char *close = strchr(t, '}');
        t = close ? close + 1 : t + strlen(t);
        if (pi >= d->n_path_params)
            break;
        const pmx_param_desc *pd = &d->params[pi++];
        const void *arg = path_args ? path_args[pd->offset] : NULL;
        const char *v = NULL;
        if (pd->type == PMX_PARAM_INTEGER) {
            if (arg) {
                snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)arg);
                v = num;
            }
        } else {
            v = arg;
        }
        if (!v) {
            build_error(&b, pd->name, msg_missing);
            continue;
        }
        if (!*v) {
            build_error(&b, pd->name, "value may not be empty");
            continue;
        }
        char buf[512];
        const char *m = pmx_param_check(pd, v, buf, sizeof buf);
        if (m)
            build_error(&b, pd->name, m);
        else if (pmx__buf_escape(&path, v, strlen(v)))
            b.oom = 1;
    }
    /* parameters */
    const char *base = p;
    for (size_t i = d->n_path_params; i < d->n_params; i++) {
        const pmx_param_desc *pd = &d->params[i];
        int req = (pd->flags & PMX_PARAM_REQUIRED) != 0;
        int present = 0;
        if (!base) {
            if (req)
                build_error(&b, pd->name, msg_missing);
            continue;
        }
        const char *f = base + pd->offset;
        switch (pd->type) {
        case PMX_PARAM_STRING:
            if (pd->flags & PMX_PARAM_INDEXED) {
                const char *const *arr = (const char *const *)(const void *)f;
                for (uint32_t k = 0; k < pd->count; k++) {
                    if (!arr[k])
                        continue;
                    char wire[160];
                    snprintf(wire, sizeof wire, "%s%u", pd->name, k);
                    build_value(&b, pd, wire, arr[k]);
                    present = 1;
                }
            } else {
                const char *s = *(const char *const *)(const void *)f;
                if (s) {
                    build_value(&b, pd, pd->name, s);
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
                build_value(&b, pd, pd->name, num);
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
                build_value(&b, pd, pd->name, x ? "1" : "0");
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
                snprintf(num, sizeof num, "%.17g", x);
                build_value(&b, pd, pd->name, num);
            }
            break;
        }
        case PMX_PARAM_ARRAY: {
            const char *const *arr;
            size_t n;
            memcpy(&arr, f, sizeof arr);
            memcpy(&n, base + pd->count_offset, sizeof n);
            if (n && !arr) {
                build_error(&b, pd->name, "array pointer is NULL but the count is not 0");
                break;
            }
            for (size_t k = 0; k < n; k++) {
                if (!arr[k]) {
                    build_error(&b, pd->name, "array element is NULL");
                    continue;
                }
                build_value(&b, pd, pd->name, arr[k]);
                present = 1;
            }
            break;
        }
        default:
            break;
        }
        if (!present && req)
            build_error(&b, pd->name, msg_missing);
    }
    if (!b.oom && !path.data && pmx__buf_puts(&path, ""))
        b.oom = 1;
    if (b.oom) {
        pmx__buf_free(&b.err);
        pmx__buf_free(&path);
        pmx_params_free(b.params);
        return PMX_ENOMEM;
    }
    if (b.err.len) {
        *err = b.err.data;
        pmx__buf_free(&path);
        pmx_params_free(b.params);
        return PMX_EINVAL;
    }
    *path_out = path.data;
    *params_out = b.params;
    return PMX_OK;
}

int pmx__bind_call(pmx_client *c, const pmx_method_desc *d, const void *const *path_args,
                   const void *p, pmx_done_fn done, void *userdata, pmx_call **out) {
    if (out)
        *out = NULL;
    if (!c || !d)
        return PMX_EINVAL;
    char *path = NULL, *err = NULL;
    pmx_params *params = NULL;
    int r = pmx__bind_build(d, path_args, p, &path, &params, &err);
    if (r == PMX_ENOMEM)
        return r;
    pmx__call_spec spec = {
        .method = (pmx_method)d->method,
        .path = path ? path : d->path,
        .params = params,
        .typed_ctx = d,
        .decode = d->result ? pmx__bind_decode : NULL,
        .result_free = d->result ? pmx__bind_result_free : NULL,
        .fail_code = r == PMX_EINVAL ? PMX_EINVAL : 0,
        .fail_message = err,
    };
    r = pmx__call_start_spec(c, &spec, done, userdata, out);
    pmx__free(path);
    pmx__free(err);
    pmx_params_free(params);
    return r;
}

/* ---- typed result decoding ------------------------------------------------------------------- */

/* Results live in an arena: a few big chunks per result. The result struct is the first
 * allocation of the first chunk, so result_free finds the chunk list from the pointer. */
typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk;

typedef struct decoder {
    chunk *first, *cur;
    size_t next_cap;
    int rc;         /* PMX_OK, PMX_EDECODE, PMX_ENOMEM */
    char *msg;      /* pmx__malloc'd */
    /* The field path for messages, kept as frames and only formatted on failure: building
     * it eagerly cost a fifth of the decode time. */
    struct {
        const char *key; /* NULL: an array index */
        size_t idx;
    } frames[32];
    size_t depth;
} decoder;

static void *arena_alloc(decoder *dc, size_t n) {
    size_t al = sizeof(max_align_t);
    n = (n + al - 1) / al * al;
    if (!n)
        n = al;
    if (!dc->cur || dc->cur->cap - dc->cur->used < n) {
        size_t cap = dc->next_cap > n ? dc->next_cap : n;
        chunk *c = pmx__malloc(sizeof(chunk) + cap);
        if (!c) {
            dc->rc = PMX_ENOMEM;
            return NULL;
        }
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        if (dc->cur)
            dc->cur->next = c;
        else
            dc->first = c;
        dc->cur = c;
        dc->next_cap = cap * 2;
    }
    void *p = (char *)dc->cur->data + dc->cur->used;
    dc->cur->used += n;
    memset(p, 0, n);
    return p;
}

static void arena_free(chunk *c) {
    while (c) {
        chunk *n = c->next;
        pmx__free(c);
        c = n;
    }
}

static int fail(decoder *dc, const char *what, const char *v, const char *vend) {
    if (dc->rc == PMX_OK) {
        dc->rc = PMX_EDECODE;
        char path[256] = "data";
        size_t pl = 0;
        for (size_t i = 0; i < dc->depth && i < 32 && pl < sizeof path - 1; i++) {
            int n = dc->frames[i].key
                        ? snprintf(path + pl, sizeof path - pl, "%s%s", pl ? "." : "", dc->frames[i].key)
                        : snprintf(path + pl, sizeof path - pl, "[%zu]", dc->frames[i].idx);
            if (n > 0)
                pl += (size_t)n;
        }
        int show = (int)(vend - v > 40 ? 40 : vend - v);
        dc->msg = pmx__asprintf("%s: %s, got %.*s%s", path, what, show, v, vend - v > 40 ? "..." : "");
        if (!dc->msg)
            dc->rc = PMX_ENOMEM;
    }
    return dc->rc;
}

/* Enter ".key" (key != NULL, borrowed until the matching pop) or "[idx]"; returns the depth
 * to restore. */
static size_t path_push(decoder *dc, const char *key, size_t idx) {
    size_t old = dc->depth;
    if (dc->depth < 32) {
        dc->frames[dc->depth].key = key;
        dc->frames[dc->depth].idx = idx;
    }
    dc->depth++;
    return old;
}

static void path_pop(decoder *dc, size_t old) { dc->depth = old; }

/* The text of a scalar: strings decoded into tmp (of at least vend-v bytes), literals copied. */
static const char *scalar_text(decoder *dc, const char *v, const char *vend, char *tmp) {
    if (*v == '"') {
        if (!pmx__json_string_into(v, vend, tmp, NULL)) {
            fail(dc, "malformed string", v, vend);
            return NULL;
        }
        return tmp;
    }
    memcpy(tmp, v, (size_t)(vend - v));
    tmp[vend - v] = 0;
    return tmp;
}

static int decode_object(decoder *dc, const pmx_type_desc *t, char *base, const char *v,
                         const char *vend);

/* Decode one value into dst according to kind (scalars, RAW, OBJECT pointer). */
static int decode_scalar(decoder *dc, uint32_t kind, const pmx_type_desc *type, void *dst,
                         const char *v, const char *vend) {
    if (vend - v == 4 && !memcmp(v, "null", 4))
        return PMX_OK; /* stays unset */
    int is_str = *v == '"';
    int is_lit = !is_str && *v != '{' && *v != '[';
    switch (kind) {
    case PMX_KIND_STRING:
    case PMX_KIND_RAW: {
        if (kind == PMX_KIND_STRING && !is_str && !is_lit)
            return fail(dc, "expected a string", v, vend);
        char *s = arena_alloc(dc, (size_t)(vend - v) + 1);
        if (!s)
            return dc->rc;
        if (kind == PMX_KIND_RAW || !is_str) {
            memcpy(s, v, (size_t)(vend - v));
            s[vend - v] = 0;
        } else if (!pmx__json_string_into(v, vend, s, NULL)) {
            return fail(dc, "malformed string", v, vend);
        }
        memcpy(dst, &s, sizeof s);
        return PMX_OK;
    }
    case PMX_KIND_I64:
    case PMX_KIND_OPT_I64:
    case PMX_KIND_BOOL:
    case PMX_KIND_OPT_BOOL:
    case PMX_KIND_F64:
    case PMX_KIND_OPT_F64: {
        if (!is_str && !is_lit)
            return fail(dc, kind <= PMX_KIND_OPT_I64   ? "expected an integer"
                            : kind <= PMX_KIND_OPT_BOOL ? "expected a boolean"
                                                        : "expected a number",
                        v, vend);
        char small[64], *tmp = small;
        if ((size_t)(vend - v) + 1 > sizeof small) {
            tmp = pmx__malloc((size_t)(vend - v) + 1);
            if (!tmp) {
                dc->rc = PMX_ENOMEM;
                return dc->rc;
            }
        }
        const char *s = scalar_text(dc, v, vend, tmp);
        int rc = PMX_OK;
        if (!s) {
            rc = dc->rc;
        } else if (kind == PMX_KIND_I64 || kind == PMX_KIND_OPT_I64) {
            int64_t x;
            double d;
            int b;
            if (parse_i64(s, &x) == 0) {
            } else if (parse_f64(s, &d) == 0 && d >= -0x1p63 && d < 0x1p63 &&
                       d == (double)(int64_t)d) { /* in range before the cast: UB otherwise */
                x = (int64_t)d;
            } else if (!is_str && pmx__parse_bool(s, &b) == 0) {
                x = b;
            } else {
                rc = fail(dc, "expected an integer", v, vend);
            }
            if (rc == PMX_OK) {
                if (kind == PMX_KIND_I64)
                    memcpy(dst, &x, sizeof x);
                else
                    memcpy(dst, &(pmx_opt_i64){1, x}, sizeof(pmx_opt_i64));
            }
        } else if (kind == PMX_KIND_BOOL || kind == PMX_KIND_OPT_BOOL) {
            int b;
            double d;
            if (pmx__parse_bool(s, &b) == 0) {
            } else if (parse_f64(s, &d) == 0) {
                b = d != 0;
            } else {
                rc = fail(dc, "expected a boolean", v, vend);
            }
            if (rc == PMX_OK) {
                if (kind == PMX_KIND_BOOL)
                    memcpy(dst, &b, sizeof b);
                else
                    memcpy(dst, &(pmx_opt_bool){1, b}, sizeof(pmx_opt_bool));
            }
        } else {
            double d;
            if (parse_f64(s, &d) != 0)
                rc = fail(dc, "expected a number", v, vend);
            else if (kind == PMX_KIND_F64)
                memcpy(dst, &d, sizeof d);
            else
                memcpy(dst, &(pmx_opt_f64){1, d}, sizeof(pmx_opt_f64));
        }
        if (tmp != small)
            pmx__free(tmp);
        return rc;
    }
    case PMX_KIND_OBJECT: {
        if (!type)
            return fail(dc, "no type for object", v, vend);
        char *obj = arena_alloc(dc, type->struct_size);
        if (!obj)
            return dc->rc;
        int rc = decode_object(dc, type, obj, v, vend);
        if (rc == PMX_OK)
            memcpy(dst, &obj, sizeof obj);
        return rc;
    }
    default:
        return fail(dc, "unsupported field kind", v, vend);
    }
}

static size_t elem_size(uint32_t kind) {
    switch (kind) {
    case PMX_KIND_I64: return sizeof(int64_t);
    case PMX_KIND_BOOL: return sizeof(int);
    case PMX_KIND_F64: return sizeof(double);
    default: return sizeof(void *);
    }
}

/* Decode field f of the struct at base from the JSON value [v, vend). */
static int decode_field(decoder *dc, const pmx_field_desc *f, char *base, const char *v,
                        const char *vend) {
    if (f->kind != PMX_KIND_ARRAY)
        return decode_scalar(dc, f->kind, f->type, base + f->offset, v, vend);
    if (vend - v == 4 && !memcmp(v, "null", 4))
        return PMX_OK;
    if (*v != '[')
        return fail(dc, "expected an array", v, vend);
    const pmx_type_desc *et = f->type;
    uint32_t ek = et ? et->kind : PMX_KIND_RAW;
    /* One pass: elements go to a scratch buffer (on the stack while small), then into the
     * arena at their final size. */
    size_t es = elem_size(ek);
    max_align_t small[16];
    char *scratch = (char *)small;
    size_t cap = sizeof small / es, n = 0;
    int rc = PMX_OK;
    const char *p = pmx__json_ws(v + 1, vend);
    if (p < vend && *p == ']')
        p = NULL; /* empty */
    while (p) {
        const char *e = pmx__json_skip(p, vend);
        if (!e) {
            rc = fail(dc, "malformed array", v, vend);
            break;
        }
        if (n == cap) {
            char *grown = pmx__malloc(cap * 2 * es);
            if (!grown) {
                rc = dc->rc = PMX_ENOMEM;
                break;
            }
            memcpy(grown, scratch, n * es);
            if (scratch != (char *)small)
                pmx__free(scratch);
            scratch = grown;
            cap *= 2;
        }
        memset(scratch + n * es, 0, es);
        size_t old = path_push(dc, NULL, n);
        rc = decode_scalar(dc, ek, et, scratch + n * es, p, e);
        path_pop(dc, old);
        if (rc)
            break;
        n++;
        p = pmx__json_ws(e, vend);
        if (p < vend && *p == ',') {
            p = pmx__json_ws(p + 1, vend);
        } else if (p < vend && *p == ']') {
            p = NULL;
        } else {
            rc = fail(dc, "malformed array", v, vend);
            break;
        }
    }
    char *items = NULL;
    if (rc == PMX_OK && n) {
        items = arena_alloc(dc, n * es);
        if (items)
            memcpy(items, scratch, n * es);
        else
            rc = dc->rc;
    }
    if (scratch != (char *)small)
        pmx__free(scratch);
    if (rc)
        return rc;
    memcpy(base + f->offset, &items, sizeof items);
    memcpy(base + f->count_offset, &n, sizeof n);
    return PMX_OK;
}

typedef struct member_ctx {
    decoder *dc;
    const pmx_type_desc *t;
    char *base;
} member_ctx;

/* The field named @p name (n bytes) with (indexed) or without a slot count; fields are sorted
 * by name, a plain one before an indexed one of the same name. */
/* strcmp of field name fn with the n bytes of name; inline: keys are short and this runs for
 * every member of every object decoded. */
static inline int key_cmp(const char *fn, const char *name, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)fn[i], b = (unsigned char)name[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    return fn[n] ? 1 : 0;
}

static const pmx_field_desc *find_field(const pmx_type_desc *t, const char *name, size_t n,
                                        int indexed) {
    size_t lo = 0, hi = t->n_fields;
    while (lo < hi) { /* lower bound */
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(t->fields[mid].name, name, n);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->n_fields && i < lo + 2; i++) {
        const pmx_field_desc *f = &t->fields[i];
        if (key_cmp(f->name, name, n) != 0)
            break;
        uint32_t cnt = f->size >= offsetof(pmx_field_desc, count) + sizeof f->count ? f->count : 0;
        if ((cnt > 0) == (indexed != 0))
            return f;
    }
    return NULL;
}

static int member_cb(const char *key, const char *val, const char *val_end, void *ud) {
    member_ctx *m = ud;
    size_t kl = strlen(key);
    const pmx_field_desc *f = find_field(m->t, key, kl, 0);
    if (f) {
        size_t old = path_push(m->dc, key, 0);
        int rc = decode_field(m->dc, f, m->base, val, val_end);
        path_pop(m->dc, old);
        return rc ? 1 : 0;
    }
    /* "net3" -> indexed field "net", slot 3 */
    size_t d = kl;
    while (d > 0 && isdigit((unsigned char)key[d - 1]))
        d--;
    if (d == 0 || d == kl || (key[d] == '0' && d + 1 < kl) || kl - d > 6)
        return 0;
    f = find_field(m->t, key, d, 1);
    unsigned long slot = strtoul(key + d, NULL, 10);
    if (!f || slot >= f->count)
        return 0; /* unknown members are ignored */
    size_t old = path_push(m->dc, key, 0);
    int rc = decode_scalar(m->dc, f->kind, f->type, m->base + f->offset + slot * sizeof(char *),
                           val, val_end);
    path_pop(m->dc, old);
    return rc ? 1 : 0;
}

static int decode_object(decoder *dc, const pmx_type_desc *t, char *base, const char *v,
                         const char *vend) {
    if (*v == '[') {
        /* Perl serialises an empty hash sometimes as []: accept it as {} */
        const char *p = pmx__json_ws(v + 1, vend);
        if (p < vend && *p == ']')
            return PMX_OK;
    }
    if (*v != '{')
        return fail(dc, "expected an object", v, vend);
    member_ctx m = {dc, t, base};
    int r = pmx__json_object_each(v, vend, member_cb, &m);
    if (r == 0)
        return PMX_OK;
    if (dc->rc != PMX_OK)
        return dc->rc;
    return fail(dc, "malformed object", v, vend);
}

int pmx__bind_decode(const void *ctx, const char *json, size_t len, void **out, char **err) {
    const pmx_method_desc *d = ctx;
    *out = NULL;
    *err = NULL;
    if (!d || !d->result || !json)
        return PMX_OK;
    const char *end = json + len;
    const char *v = pmx__json_ws(json, end);
    const char *vend = pmx__json_skip(v, end);
    if (!vend || pmx__json_ws(vend, end) != end) {
        *err = pmx__strdup("data: malformed JSON");
        return *err ? PMX_EDECODE : PMX_ENOMEM;
    }
    if (vend - v == 4 && !memcmp(v, "null", 4))
        return PMX_OK;
    decoder dc;
    memset(&dc, 0, sizeof dc);
    const pmx_type_desc *t = d->result;
    dc.next_cap = t->struct_size + len + 256;
    char *res = arena_alloc(&dc, t->struct_size);
    int rc = dc.rc;
    if (res) {
        if (t->flags & PMX_TYPE_WRAPPED)
            rc = decode_field(&dc, &t->fields[0], res, v, vend);
        else
            rc = decode_object(&dc, t, res, v, vend);
    }
    if (rc != PMX_OK) {
        arena_free(dc.first);
        if (rc == PMX_ENOMEM) {
            pmx__free(dc.msg);
            *err = NULL;
        } else {
            *err = dc.msg;
        }
        return rc;
    }
    *out = res;
    return PMX_OK;
}

void pmx__bind_result_free(const void *ctx, void *result) {
    (void)ctx;
    if (!result)
        return;
    chunk *c = (chunk *)(void *)((char *)result - offsetof(chunk, data));
    arena_free(c);
}
