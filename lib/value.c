/*
 * Value checks shared by method parameters (lib/bind.c) and property-string keys
 * (lib/propstr.c): number parsing, bounds, lengths, enums, patterns and registered formats, in
 * PVE's wording. One place, so the two callers agree and do not call each other.
 */
#include "value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pmx__parse_i64(const char *s, int64_t *v) {
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

locale_t pmx__c_locale(void) {
    static _Atomic(locale_t) loc;
    locale_t l = atomic_load_explicit(&loc, memory_order_acquire);
    if (l)
        return l;
    locale_t n = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!n)
        return (locale_t)0;
    locale_t expected = (locale_t)0;
    if (!atomic_compare_exchange_strong(&loc, &expected, n)) {
        freelocale(n);
        return expected;
    }
    return n;
}

int pmx__f64_text(double x, char *buf, size_t n) {
    locale_t l = pmx__c_locale(); /* "0.5", whatever the program's locale */
    if (!l || x != x || x - x != 0)
        return -1;
    locale_t old = uselocale(l); /* (this thread's only, restored below) */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod_l(buf, NULL, l) == x)
            break;
    }
    uselocale(old);
    return 0;
}

int pmx__parse_f64(const char *s, double *v) {
    if (!is_decimal(s))
        return -1;
    locale_t l = pmx__c_locale(); /* "0.5" whatever the program's locale */
    if (!l)
        return -1;
    char *e;
    double x = strtod_l(s, &e, l);
    if (*e || x != x || x - x != 0) /* NaN or infinite (overflow) */
        return -1;
    *v = x;
    return 0;
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

static int all_chars(const char *s, const char *set) {
    for (; *s; s++)
        if (!pmx__is_alnum((unsigned char)*s) && !strchr(set, *s))
            return 0;
    return 1;
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

/* Checks of common registered formats (a subset of PVE's; others are left to the server).
 * Returns the PVE message or NULL. */
static const char *check_format(const char *fmt, const char *v) {
    size_t n = strlen(v);
    if (!strcmp(fmt, "pve-node")) {
        /* [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
        if (!n || !pmx__is_alnum((unsigned char)v[0]) || !pmx__is_alnum((unsigned char)v[n - 1]) ||
            !all_chars(v, "-"))
            return "value does not look like a valid node name";
        return NULL;
    }
    if (!strcmp(fmt, "pve-vmid")) {
        int64_t x;
        if (n < 3 || n > 9 || v[0] == '0' || pmx__parse_i64(v, &x) || !isdigit((unsigned char)v[0]))
            return "value does not look like a valid VM ID";
        return NULL;
    }
    if (!strcmp(fmt, "pve-configid")) {
        /* [a-z][a-z0-9_]+, case-insensitive as in PVE */
        if (n < 2 || !pmx__is_alpha((unsigned char)v[0]) || !all_chars(v, "_"))
            return "invalid configuration ID";
        return NULL;
    }
    if (!strcmp(fmt, "pve-storage-id")) {
        /* [a-z][a-z0-9\-_.]*[a-z0-9] */
        if (n < 2 || !pmx__is_alpha((unsigned char)v[0]) ||
            !pmx__is_alnum((unsigned char)v[n - 1]) || !all_chars(v, "-_."))
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
        if (pmx__hexval(v[1]) & 1)
            return "value does not look like a valid unicast MAC address";
        return NULL;
    }
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
            if (!pmx__is_alnum((unsigned char)*p) && !strchr("-%_.!~*'()", *p))
                return "invalid urlencoded string";
        return NULL;
    }
    if (!strcmp(fmt, "pve-bridge-id")) {
        for (const char *p = v; *p; p++)
            if (!pmx__is_alnum((unsigned char)*p) && !strchr("-_.", *p))
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

/* Compiled patterns, cached for the life of the process: compiling one costs far more than
 * matching it. Keyed by the pattern text; shared by threads. */
#define PATTERN_SLOTS 512
static struct {
    const char *pattern;
    regex_t re;
    int ok;
} g_patterns[PATTERN_SLOTS];
static pthread_mutex_t g_patterns_lock = PTHREAD_MUTEX_INITIALIZER;

void pmx__patterns_fork_lock(void) { pthread_mutex_lock(&g_patterns_lock); }

void pmx__patterns_fork_unlock(void) { pthread_mutex_unlock(&g_patterns_lock); }

static const regex_t *pattern_regex(const char *pattern) {
    if (pmx__fork_handlers() != PMX_OK)
        return NULL; /* left to the server, as an uncompilable pattern */
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

void pmx__constraints_of_param(const pmx_param_desc *p, pmx__constraints *k) {
    const pmx__pdef *d = pmx__param_def(p);
    memset(k, 0, sizeof *k);
    k->type = d->item_type ? d->item_type : d->type;
    if (d->flags & PMX_PARAM_HAS_MIN)
        k->flags |= PMX__HAS_MIN;
    if (d->flags & PMX_PARAM_HAS_MAX)
        k->flags |= PMX__HAS_MAX;
    if (d->flags & PMX_PARAM_HAS_MIN_LENGTH)
        k->flags |= PMX__HAS_MIN_LENGTH;
    if (d->flags & PMX_PARAM_HAS_MAX_LENGTH)
        k->flags |= PMX__HAS_MAX_LENGTH;
    const pmx__bounds *b = pmx__bounds_of(d->bounds);
    k->minimum = b->minimum;
    k->maximum = b->maximum;
    k->min_length = b->min_length;
    k->max_length = b->max_length;
    k->enums = d->n_enum ? &pmx__gen_enums[d->enum_first] : NULL;
    k->n_enum = d->n_enum;
    k->posix = pmx__str(d->posix);
    k->format = pmx__str(d->format);
    if (d->flags & PMX_PARAM_PROPERTY_STRING)
        k->propstr = pmx__propstr(d->propstr);
}

void pmx__constraints_of_key(const pmx_propkey_desc *p, pmx__constraints *k) {
    memset(k, 0, sizeof *k);
    k->type = p->type;
    if (p->flags & PMX_PROPKEY_HAS_MIN)
        k->flags |= PMX__HAS_MIN;
    if (p->flags & PMX_PROPKEY_HAS_MAX)
        k->flags |= PMX__HAS_MAX;
    if (p->flags & PMX_PROPKEY_HAS_MAX_LENGTH)
        k->flags |= PMX__HAS_MAX_LENGTH;
    if (p->flags & PMX_PROPKEY_DISK_SIZE)
        k->flags |= PMX__DISK_SIZE;
    const pmx__bounds *b = pmx__bounds_of(p->bounds);
    k->minimum = b->minimum;
    k->maximum = b->maximum;
    k->max_length = b->max_length;
    k->enums = p->n_enum ? &pmx__gen_enums[p->enum_first] : NULL;
    k->n_enum = p->n_enum;
    k->posix = pmx__str(p->posix);
    k->format = pmx__str(p->format);
}

const char *pmx__check_value(const pmx__constraints *k, const char *value, char *buf,
                             size_t bufsize) {
    buf[0] = 0;
    uint32_t t = k->type;
    double num = 0;
    int have_num = 0;
    if ((k->flags & PMX__DISK_SIZE) && !disk_size_ok(value)) {
        snprintf(buf, bufsize, "value does not look like a valid disk size: %s", value);
        return buf;
    }
    if (t == PMX_PARAM_INTEGER) {
        int64_t x;
        if (pmx__parse_i64(value, &x)) {
            snprintf(buf, bufsize, "type check ('integer') failed - got '%s'", value);
            return buf;
        }
        num = (double)x;
        have_num = 1;
    } else if (t == PMX_PARAM_NUMBER) {
        if (pmx__parse_f64(value, &num)) {
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
    if (have_num && (k->flags & PMX__HAS_MIN) && num < k->minimum) {
        snprintf(buf, bufsize, "value must have a minimum value of %.15g", k->minimum);
        return buf;
    }
    if (have_num && (k->flags & PMX__HAS_MAX) && num > k->maximum) {
        snprintf(buf, bufsize, "value must have a maximum value of %.15g", k->maximum);
        return buf;
    }
    if (k->n_enum) {
        int found = 0;
        for (size_t i = 0; i < k->n_enum && !found; i++)
            found = !strcmp(pmx__str(k->enums[i]), value);
        if (!found) {
            size_t o = (size_t)snprintf(buf, bufsize,
                                        "value '%s' does not have a value in the enumeration '",
                                        value);
            for (size_t i = 0; i < k->n_enum && o < bufsize; i++)
                o += (size_t)snprintf(buf + o, bufsize - o, "%s%s", i ? ", " : "",
                                      pmx__str(k->enums[i]));
            if (o < bufsize)
                snprintf(buf + o, bufsize - o, "'");
            return buf;
        }
    }
    if (t == PMX_PARAM_STRING) {
        size_t n = strlen(value);
        if ((k->flags & PMX__HAS_MIN_LENGTH) && (int64_t)n < k->min_length) {
            snprintf(buf, bufsize, "value must be at least %" PRId64 " characters long",
                     k->min_length);
            return buf;
        }
        if ((k->flags & PMX__HAS_MAX_LENGTH) && (int64_t)n > k->max_length) {
            snprintf(buf, bufsize, "value may only be %" PRId64 " characters long", k->max_length);
            return buf;
        }
    }
    if (k->posix) {
        const regex_t *re = pattern_regex(k->posix);
        if (re && regexec(re, value, 0, NULL, 0) != 0) {
            snprintf(buf, bufsize, "value does not match the regex pattern");
            return buf;
        }
    }
    if (k->format && t == PMX_PARAM_STRING) {
        const char *m = check_format(k->format, value);
        if (m) {
            snprintf(buf, bufsize, "%s", m);
            return buf;
        }
    }
    /* typed property strings: "net0: model: value 'x' does not have a value in ..." */
    if (k->propstr && t == PMX_PARAM_STRING)
        return pmx_propstr_check(k->propstr, value, buf, bufsize);
    return NULL;
}

int pmx__struct_size_check(const void *v, size_t known, size_t *used) {
    uint32_t size;
    memcpy(&size, v, sizeof size);
    if (size < sizeof(uint32_t))
        return -1;
    if (size > known) {
        /* a newer caller: what this library does not know must be unset (zero) */
        const unsigned char *p = v;
        for (size_t i = known; i < size; i++)
            if (p[i])
                return -2;
        size = (uint32_t)known;
    }
    *used = size;
    return 0;
}
