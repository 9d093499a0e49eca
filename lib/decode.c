/*
 * Typed decoding of results: one validating pass over the JSON, driven by the generated type
 * tables (lib/tables.h). Member names are predicted from the previous element's order, else
 * found through the type's generated lookup table (a hash the generator made perfect for nearly
 * every type: lib/namehash.h); unknown members are skipped without being decoded, integers and most floats are
 * parsed exactly without strtod, strings are copied once into the result's arena. The arena
 * is freed (and wiped for methods with secrets) in one go with the call.
 *
 * Accepted as PVE sends them: numbers and booleans as JSON numbers or strings ("1", "0.5"),
 * booleans also as true/false, integers also as integral floats ("1.0"), null as unset, an
 * empty array for an empty object (Perl). Duplicate members: the first one counts, as with
 * cJSON_GetObjectItem.
 */
#include "bind.h"

#include "value.h"
#include "namehash.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

/* ---- the result arena ------------------------------------------------------------------------ */

/* Results live in an arena: a few big chunks per result. The result struct is the first
 * allocation of the first chunk, so result_free finds the chunk list from the pointer. Chunks
 * double from small up to one block (PMX__BLOCK_SIZE, reused through lib/alloc.c's cache), so a
 * large listing is built from blocks and the unused end of its last one stays small. */
typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk;

#define BLOCK_CAP (PMX__BLOCK_SIZE - sizeof(chunk))

/* A chunk of exactly BLOCK_CAP bytes is a block; others come from pmx__malloc. */
static chunk *chunk_new(size_t cap) {
    chunk *c = cap == BLOCK_CAP ? pmx__block_get() : pmx__malloc(sizeof(chunk) + cap);
    if (c) {
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
    }
    return c;
}

typedef struct dec {
    const char *p, *end; /* the input; p advances */
    chunk *first, *cur;
    size_t next_cap;
    int rc;    /* PMX_OK, PMX_EDECODE, PMX_ENOMEM */
    int quiet; /* an attempt that may be cut short: fail() formats no message */
    int secret; /* a method with secrets: messages do not quote the input */
    char *msg; /* pmx__malloc'd */
    /* The member path for messages, kept as frames and only formatted on failure. */
    struct {
        const char *key; /* NULL: an array index */
        size_t klen, idx;
    } frames[32];
    size_t depth;
} dec;

/* Results hold pointers, int64_t, double, int and the pmx_opt_* pairs: 8-byte alignment serves
 * them all (16, max_align_t's, cost 8 bytes on every odd-sized struct of a listing). */
#define ARENA_ALIGN 8
_Static_assert(_Alignof(void *) <= ARENA_ALIGN && _Alignof(int64_t) <= ARENA_ALIGN &&
                   _Alignof(double) <= ARENA_ALIGN && _Alignof(pmx_opt_i64) <= ARENA_ALIGN &&
                   _Alignof(pmx_opt_f64) <= ARENA_ALIGN && _Alignof(size_t) <= ARENA_ALIGN,
               "result members need more than ARENA_ALIGN");

static void *arena_alloc(dec *d, size_t n) {
    size_t al = ARENA_ALIGN;
    n = (n + al - 1) / al * al;
    if (!n)
        n = al;
    if (d->cur) { /* strings (arena_bytes) leave the end unaligned; used never passes cap
                   * (arena_wipe wipes `used` bytes) */
        size_t u = (d->cur->used + al - 1) / al * al;
        d->cur->used = u < d->cur->cap ? u : d->cur->cap;
    }
    if (!d->cur || d->cur->cap - d->cur->used < n) {
        size_t cap = d->next_cap < BLOCK_CAP ? d->next_cap : BLOCK_CAP;
        if (cap < n)
            cap = n;
        chunk *c = chunk_new(cap);
        if (!c) {
            d->rc = PMX_ENOMEM;
            return NULL;
        }
        if (d->cur)
            d->cur->next = c;
        else
            d->first = c;
        d->cur = c;
        d->next_cap = cap < BLOCK_CAP / 4 ? cap * 2 : BLOCK_CAP; /* 128 KiB and up: a block */
    }
    void *p = (char *)d->cur->data + d->cur->used;
    d->cur->used += n;
    return p;
}

/* Unaligned bytes (strings). */
static char *arena_bytes(dec *d, size_t n) {
    if (d->cur && d->cur->cap - d->cur->used >= n) {
        char *p = (char *)d->cur->data + d->cur->used;
        d->cur->used += n;
        return p;
    }
    return arena_alloc(d, n);
}

static void arena_free(chunk *c) {
    while (c) {
        chunk *n = c->next;
        if (c->cap == BLOCK_CAP)
            pmx__block_put(c);
        else
            pmx__free(c);
        c = n;
    }
}

static void arena_wipe(chunk *c) {
    for (; c; c = c->next)
        pmx__wipe(c->data, c->used);
}

/* Free chunk c and those after it, wiped first when they hold a method's secrets. */
static void arena_release(chunk *c, int secret) {
    if (secret)
        arena_wipe(c);
    arena_free(c);
}

/* ---- errors ----------------------------------------------------------------------------------- */

/* Record the first error: "data.items[3].cpu: expected a number, got "x"". at: where the bad
 * value starts (shown, up to 40 bytes). Returns the error code. */
static int fail(dec *d, const char *what, const char *at) {
    if (d->rc != PMX_OK)
        return d->rc;
    d->rc = PMX_EDECODE;
    if (d->quiet)
        return d->rc;
    char path[256] = "data"; /* "data" at the top, else the member path: "[1].cpu" */
    size_t pl = 0;
    for (size_t i = 0; i < d->depth && i < 32 && pl < sizeof path - 1; i++) {
        int n = d->frames[i].key ? snprintf(path + pl, sizeof path - pl, "%s%.*s", pl ? "." : "",
                                            (int)(d->frames[i].klen > 64 ? 64 : d->frames[i].klen),
                                            d->frames[i].key)
                                 : snprintf(path + pl, sizeof path - pl, "[%zu]", d->frames[i].idx);
        if (n > 0)
            pl += (size_t)n;
    }
    if (pl >= sizeof path)
        pl = sizeof path - 1;
    if (!at || at >= d->end) {
        d->msg = pmx__asprintf("%s: %s, got the end of the input", path, what);
    } else if (d->secret) {
        d->msg = pmx__asprintf("%s: %s", path, what); /* the bad value may be a secret */
    } else {
        /* show the value (when it is one), at most 40 bytes of it */
        const char *vend = pmx__json_skip(at, d->end);
        if (!vend)
            vend = d->end;
        size_t show = (size_t)(vend - at) > 40 ? 40 : (size_t)(vend - at);
        /* no control bytes in messages */
        char shown[48];
        size_t k = 0;
        for (; k < show; k++)
            shown[k] = (unsigned char)at[k] < 0x20 || at[k] == 0x7f ? '?' : at[k];
        shown[k] = 0;
        d->msg = pmx__asprintf("%s: %s, got %s%s", path, what, shown,
                               (size_t)(vend - at) > 40 ? "..." : "");
    }
    if (!d->msg)
        d->rc = PMX_ENOMEM;
    return d->rc;
}

static inline size_t push(dec *d, const char *key, size_t klen, size_t idx) {
    size_t old = d->depth;
    if (d->depth < 32) {
        d->frames[d->depth].key = key;
        d->frames[d->depth].klen = klen;
        d->frames[d->depth].idx = idx;
    }
    d->depth++;
    return old;
}

/* ---- scanning ------------------------------------------------------------------------------- */

static inline void ws(dec *d) {
    const char *p = d->p, *e = d->end;
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

/* d->p at '"': the closing quote (lib/json.c), or NULL when malformed or unterminated. */
static inline const char *string_end(dec *d, int *esc) {
    return pmx__json_string_end(d->p, d->end, esc, 1);
}

#define number_end pmx__json_number_end
#define unescape pmx__json_unescape

/* Validate and skip one value. */
static int skip(dec *d, int depth) {
    ws(d);
    if (d->p >= d->end)
        return fail(d, "malformed JSON", d->p);
    if (depth > MAX_DEPTH)
        return fail(d, "JSON nested too deeply", d->p);
    const char *start = d->p;
    switch (*d->p) {
    case '"': {
        int esc;
        const char *q = string_end(d, &esc);
        if (!q)
            return fail(d, "malformed string", start);
        d->p = q + 1;
        return PMX_OK;
    }
    case '{':
    case '[': {
        int obj = *d->p == '{';
        char close = obj ? '}' : ']';
        const char *what = obj ? "malformed object" : "malformed array";
        d->p++;
        ws(d);
        if (d->p < d->end && *d->p == close) {
            d->p++;
            return PMX_OK;
        }
        for (;;) {
            if (obj) { /* "key": */
                ws(d);
                int esc;
                const char *q = d->p < d->end && *d->p == '"' ? string_end(d, &esc) : NULL;
                if (!q)
                    return fail(d, what, start);
                d->p = q + 1;
                ws(d);
                if (d->p >= d->end || *d->p != ':')
                    return fail(d, what, start);
                d->p++;
            }
            if (skip(d, depth + 1))
                return d->rc;
            ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == close) {
                d->p++;
                return PMX_OK;
            }
            return fail(d, what, start);
        }
    }
    case 't':
        if (d->end - d->p >= 4 && !memcmp(d->p, "true", 4)) {
            d->p += 4;
            return PMX_OK;
        }
        break;
    case 'f':
        if (d->end - d->p >= 5 && !memcmp(d->p, "false", 5)) {
            d->p += 5;
            return PMX_OK;
        }
        break;
    case 'n':
        if (d->end - d->p >= 4 && !memcmp(d->p, "null", 4)) {
            d->p += 4;
            return PMX_OK;
        }
        break;
    default: {
        const char *q = number_end(d->p, d->end);
        if (q) {
            d->p = q;
            return PMX_OK;
        }
    }
    }
    return fail(d, "malformed JSON", start);
}

/* ---- scalars ---------------------------------------------------------------------------------- */

/* The string at d->p copied into the arena; *out = NULL on error. */
static int string_value(dec *d, char **out) {
    const char *start = d->p;
    int esc;
    const char *q = string_end(d, &esc);
    *out = NULL;
    if (!q)
        return fail(d, "malformed string", start);
    size_t n = (size_t)(q - start - 1);
    char *s = arena_bytes(d, n + 1);
    if (!s)
        return d->rc;
    if (esc) {
        unescape(start + 1, q, s);
    } else {
        memcpy(s, start + 1, n);
        s[n] = 0;
    }
    d->p = q + 1;
    *out = s;
    return PMX_OK;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};


/* A validated JSON number [p, q): *is_int and *i when it is an integer in int64 range, and
 * *f (exact: the fast path needs at most 15 significant digits and |exponent| <= 22, which
 * double arithmetic rounds correctly; else strtod in the C locale). */
static int number_value(const char *p, const char *q, int *is_int, int64_t *i, double *f) {
    int neg = *p == '-';
    const char *s = p + neg;
    uint64_t m = 0;
    int frac_digits = 0, exp = 0, overflow = 0;
    while (s < q && *s >= '0' && *s <= '9') {
        if (m < 1000000000000000000ull)
            m = m * 10 + (uint64_t)(*s - '0');
        else
            overflow = 1;
        s++;
    }
    int integral = 1;
    uint64_t int_part = m;
    int int_overflow = overflow;
    if (s < q && *s == '.') {
        integral = 0;
        s++;
        while (s < q && *s >= '0' && *s <= '9') {
            if (m < 1000000000000000000ull) {
                m = m * 10 + (uint64_t)(*s - '0');
                frac_digits++;
            } else {
                overflow = 1;
            }
            s++;
        }
    }
    if (s < q && (*s == 'e' || *s == 'E')) {
        integral = 0;
        s++;
        int eneg = 0;
        if (*s == '+' || *s == '-')
            eneg = *s++ == '-';
        int x = 0;
        while (s < q && *s >= '0' && *s <= '9') {
            if (x < 100000)
                x = x * 10 + (*s - '0');
            s++;
        }
        exp = eneg ? -x : x;
    }
    *is_int = 0;
    if (integral && !int_overflow) {
        /* 19 digits at most were taken: check int64 range */
        if (!neg && int_part <= (uint64_t)INT64_MAX) {
            *is_int = 1;
            *i = (int64_t)int_part;
        } else if (neg && int_part <= (uint64_t)INT64_MAX + 1) {
            *is_int = 1;
            *i = int_part == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)int_part;
        }
    }
    int e10 = exp - frac_digits;
    if (!overflow && m < (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
        *f = neg ? -v : v;
        return 0;
    }
    char buf[128], *heap = NULL, *t = buf;
    size_t n = (size_t)(q - p);
    if (n >= sizeof buf) {
        heap = pmx__malloc(n + 1);
        if (!heap)
            return -1;
        t = heap;
    }
    memcpy(t, p, n);
    t[n] = 0;
    locale_t l = pmx__c_locale();
    if (l)
        *f = strtod_l(t, NULL, l);
    if (heap) {
        pmx__wipe(heap, n); /* (it may be a secret method's) */
        pmx__free(heap);
    }
    return l ? 0 : -1;
}

/* Objects of one array usually list their members in the same order: the k-th member of the
 * previous element predicts the k-th member of this one (checked, so any order works). */
#define MEMO_SLOTS 64
typedef struct memo {
    const pmx_field_desc *f[MEMO_SLOTS];
    uint16_t len[MEMO_SLOTS];
} memo;

/* A JSON number at p: validated and converted in one scan for the common case (a plain
 * integer of up to 18 digits), else through number_end + number_value. *q: its end.
 * Returns 0, -1 (malformed), -2 (out of memory). */
static inline int parse_number(const char *p, const char *e, const char **q, int *is_i,
                               int64_t *i, double *f) {
    const char *s = p;
    int neg = s < e && *s == '-';
    s += neg;
    if (s < e && *s >= '0' && *s <= '9') {
        uint64_t m = (uint64_t)(*s++ - '0');
        int nd = m != 0; /* significant digits so far */
        if (m) {
            const char *lim = e - s > 17 ? s + 17 : e; /* (no pointer past the end) */
            while (s < lim && *s >= '0' && *s <= '9')
                m = m * 10 + (uint64_t)(*s++ - '0'), nd++;
        }
        if (s >= e || (*s != '.' && *s != 'e' && *s != 'E' && (*s < '0' || *s > '9'))) {
            *q = s;
            *is_i = 1;
            *i = neg ? -(int64_t)m : (int64_t)m;
            *f = (double)*i;
            return 0;
        }
        if (*s == '.' && s + 1 < e && s[1] >= '0' && s[1] <= '9') {
            /* d.ddd without exponent, at most 18 digits: exact through one division */
            const char *t = s + 1;
            int frac = 0;
            while (t < e && *t >= '0' && *t <= '9' && nd < 18 && frac < 22) {
                m = m * 10 + (uint64_t)(*t++ - '0');
                frac++;
                nd += m != 0;
            }
            if ((t >= e || (*t != 'e' && *t != 'E' && (*t < '0' || *t > '9'))) &&
                m < (1ull << 53)) {
                *q = t;
                *is_i = 0;
                double v = (double)m / pow10_exact[frac];
                *f = neg ? -v : v;
                return 0;
            }
        }
    }
    *q = number_end(p, e);
    if (!*q)
        return -1;
    return number_value(p, *q, is_i, i, f) ? -2 : 0;
}

/* The common cases, inline: a plain string into a string member, a number into a numeric one.
 * Returns 1 when done, 0 to take the general path (nothing consumed), -1 when out of memory
 * (d->rc set). */
static inline int fast_value(dec *d, uint32_t kind, void *dst) {
    const char *v = d->p;
    if (v >= d->end)
        return 0;
    if (kind == PMX_KIND_STRING) {
        if (*v != '"')
            return 0;
        int esc;
        const char *q = string_end(d, &esc);
        if (!q || esc)
            return 0;
        size_t n = (size_t)(q - v - 1);
        char *str = arena_bytes(d, n + 1);
        if (!str)
            return -1;
        memcpy(str, v + 1, n);
        str[n] = 0;
        memcpy(dst, &str, sizeof str);
        d->p = q + 1;
        return 1;
    }
    if (kind < PMX_KIND_I64 || kind > PMX_KIND_OPT_F64 || kind == PMX_KIND_BOOL ||
        kind == PMX_KIND_OPT_BOOL || !((*v >= '0' && *v <= '9') || *v == '-'))
        return 0;
    const char *q;
    int is_i;
    int64_t i;
    double f;
    if (parse_number(v, d->end, &q, &is_i, &i, &f))
        return 0;
    switch (kind) {
    case PMX_KIND_I64:
        if (!is_i)
            return 0;
        memcpy(dst, &i, sizeof i);
        break;
    case PMX_KIND_OPT_I64:
        if (!is_i)
            return 0;
        memcpy(dst, &(pmx_opt_i64){1, i}, sizeof(pmx_opt_i64));
        break;
    case PMX_KIND_F64:
        if (f != f || f - f != 0)
            return 0;
        memcpy(dst, &f, sizeof f);
        break;
    default:
        if (f != f || f - f != 0)
            return 0;
        memcpy(dst, &(pmx_opt_f64){1, f}, sizeof(pmx_opt_f64));
        break;
    }
    d->p = q;
    return 1;
}

static int decode_object_m(dec *d, const pmx_type_desc *t, char *base, memo *mm);
#define decode_object(d, t, base) decode_object_m(d, t, base, NULL)

/* Decode one value at d->p into dst according to kind (scalars, RAW, OBJECT pointer). */
static int decode_value(dec *d, uint32_t kind, const pmx_type_desc *type, void *dst) {
    ws(d);
    const char *v = d->p;
    if (v >= d->end)
        return fail(d, "malformed JSON", v);
    if (*v == 'n') { /* null: stays unset */
        if (d->end - v >= 4 && !memcmp(v, "null", 4)) {
            d->p += 4;
            return PMX_OK;
        }
        return fail(d, "malformed JSON", v);
    }
    switch (kind) {
    case PMX_KIND_STRING:
        if (*v == '"') {
            char *s;
            if (string_value(d, &s))
                return d->rc;
            memcpy(dst, &s, sizeof s);
            return PMX_OK;
        }
        if (*v == '{' || *v == '[')
            return fail(d, "expected a string", v);
        /* numbers and literals keep their text */
        /* fall through */
    case PMX_KIND_RAW: {
        if (skip(d, 0))
            return d->rc;
        size_t n = (size_t)(d->p - v);
        char *s = arena_bytes(d, n + 1);
        if (!s)
            return d->rc;
        memcpy(s, v, n);
        s[n] = 0;
        memcpy(dst, &s, sizeof s);
        return PMX_OK;
    }
    case PMX_KIND_OBJECT: {
        if (!type)
            return fail(d, "no type for object", v);
        char *obj = arena_alloc(d, type->struct_size);
        if (!obj)
            return d->rc;
        memset(obj, 0, type->struct_size);
        if (decode_object(d, type, obj))
            return d->rc;
        memcpy(dst, &obj, sizeof obj);
        return PMX_OK;
    }
    case PMX_KIND_I64:
    case PMX_KIND_OPT_I64:
    case PMX_KIND_BOOL:
    case PMX_KIND_OPT_BOOL:
    case PMX_KIND_F64:
    case PMX_KIND_OPT_F64:
        break;
    default:
        return fail(d, "unsupported field kind", v);
    }
    /* numbers and booleans: a JSON number, true/false, or a string holding one */
    int is_i = 0, have = 0, b = 0;
    int64_t i = 0;
    double f = 0;
    const char *what = kind <= PMX_KIND_OPT_I64    ? "expected an integer"
                       : kind <= PMX_KIND_OPT_BOOL ? "expected a boolean"
                                                   : "expected a number";
    if (*v == 't' || *v == 'f') {
        int t = *v == 't';
        size_t n = t ? 4 : 5;
        if ((size_t)(d->end - v) < n || memcmp(v, t ? "true" : "false", n))
            return fail(d, "malformed JSON", v);
        if (kind >= PMX_KIND_F64)
            return fail(d, what, v);
        d->p += n;
        is_i = have = 1;
        i = b = t;
    } else if (*v == '"') {
        int esc;
        const char *q = string_end(d, &esc);
        if (!q)
            return fail(d, "malformed string", v);
        size_t n = (size_t)(q - v - 1);
        char small[64], *tmp = small;
        if (n + 1 > sizeof small && !(tmp = pmx__malloc(n + 1))) {
            d->rc = PMX_ENOMEM;
            return d->rc;
        }
        if (esc)
            unescape(v + 1, q, tmp);
        else {
            memcpy(tmp, v + 1, n);
            tmp[n] = 0;
        }
        d->p = q + 1;
        if (kind == PMX_KIND_BOOL || kind == PMX_KIND_OPT_BOOL) {
            if (pmx__parse_bool(tmp, &b) == 0) {
                have = 1;
            } else if (pmx__parse_f64(tmp, &f) == 0) {
                have = 1;
                b = f != 0;
            }
        } else if (pmx__parse_i64(tmp, &i) == 0) {
            is_i = have = 1;
            f = (double)i;
        } else if (pmx__parse_f64(tmp, &f) == 0) {
            have = 1;
        }
        if (tmp != small) {
            pmx__wipe(tmp, n); /* (it may be a secret method's) */
            pmx__free(tmp);
        }
        if (!have)
            return fail(d, what, v);
    } else {
        const char *q;
        int pr = parse_number(v, d->end, &q, &is_i, &i, &f);
        if (pr == -1)
            return fail(d, *v == '{' || *v == '[' ? what : "malformed JSON", v);
        if (pr == -2) {
            d->rc = PMX_ENOMEM;
            return d->rc;
        }
        if (f != f || f - f != 0) /* out of double range */
            return fail(d, what, v);
        d->p = q;
        have = 1;
        b = is_i ? i != 0 : f != 0;
    }
    switch (kind) {
    case PMX_KIND_I64:
    case PMX_KIND_OPT_I64:
        if (!is_i) {
            /* an integral float in range: "1.0", 1e3; an integer literal out of the int64
             * range stays refused even where rounding to double would bring it in */
            const char *t = *v == '"' ? v + 1 : v, *te = d->p;
            while (t < te && *t != '.' && *t != 'e' && *t != 'E')
                t++;
            if (t < te && f >= -0x1p63 && f < 0x1p63 && f == (double)(int64_t)f)
                i = (int64_t)f;
            else
                return fail(d, what, v);
        }
        if (kind == PMX_KIND_I64)
            memcpy(dst, &i, sizeof i);
        else
            memcpy(dst, &(pmx_opt_i64){1, i}, sizeof(pmx_opt_i64));
        return PMX_OK;
    case PMX_KIND_BOOL:
        memcpy(dst, &b, sizeof b);
        return PMX_OK;
    case PMX_KIND_OPT_BOOL:
        memcpy(dst, &(pmx_opt_bool){1, b}, sizeof(pmx_opt_bool));
        return PMX_OK;
    default:
        if (is_i)
            f = (double)i;
        if (kind == PMX_KIND_F64)
            memcpy(dst, &f, sizeof f);
        else
            memcpy(dst, &(pmx_opt_f64){1, f}, sizeof(pmx_opt_f64));
        return PMX_OK;
    }
}

/* Decode the array at d->p into field f of the struct at base (elements + count). */
static int decode_array(dec *d, const pmx_field_desc *f, char *base) {
    ws(d);
    const char *v = d->p;
    if (d->end - v >= 4 && !memcmp(v, "null", 4)) {
        d->p += 4;
        return PMX_OK;
    }
    if (v >= d->end || *v != '[')
        return fail(d, "expected an array", v);
    const pmx_type_desc *et = pmx__type(f->type);
    uint32_t ek = et ? et->kind : PMX_KIND_RAW;
    size_t es = pmx__elem_size(ek);
    /* elements go to a scratch buffer (on the stack while small), then into the arena */
    max_align_t small[32];
    memo *mm = NULL;
    char *scratch = (char *)small;
    size_t cap = sizeof small / es, n = 0;
    int rc = PMX_OK;
    d->p++;
    ws(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
    } else {
        for (;;) {
            if (n == cap) {
                char *grown = pmx__malloc(cap * 2 * es);
                if (!grown) {
                    rc = d->rc = PMX_ENOMEM;
                    break;
                }
                memcpy(grown, scratch, n * es);
                if (scratch != (char *)small)
                    pmx__free(scratch);
                scratch = grown;
                cap *= 2;
            }
            memset(scratch + n * es, 0, es);
            size_t old = push(d, NULL, 0, n);
            ws(d);
            if (ek == PMX_KIND_OBJECT && et && d->p < d->end && *d->p != 'n') {
                char *obj = arena_alloc(d, et->struct_size);
                rc = obj ? PMX_OK : d->rc;
                if (obj) {
                    memset(obj, 0, et->struct_size);
                    if (!mm && !(mm = pmx__calloc(1, sizeof *mm)))
                        rc = d->rc = PMX_ENOMEM;
                    else
                        rc = decode_object_m(d, et, obj, mm);
                    if (!rc)
                        memcpy(scratch + n * es, &obj, sizeof obj);
                }
            } else {
                rc = decode_value(d, ek, et, scratch + n * es);
            }
            d->depth = old;
            if (rc)
                break;
            n++;
            ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                continue;
            }
            if (d->p < d->end && *d->p == ']') {
                d->p++;
                break;
            }
            rc = fail(d, "malformed array", v);
            break;
        }
    }
    char *items = NULL;
    if (rc == PMX_OK && n) {
        items = arena_alloc(d, n * es);
        if (items)
            memcpy(items, scratch, n * es);
        else
            rc = d->rc;
    }
    if (scratch != (char *)small)
        pmx__free(scratch);
    pmx__free(mm);
    if (rc)
        return rc;
    memcpy(base + f->offset, &items, sizeof items);
    memcpy(base + f->count_offset, &n, sizeof n);
    return PMX_OK;
}

/* ---- member lookup ------------------------------------------------------------------------------- */

static inline int same(const char *a, const char *b, size_t n) {
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8, b += 8, n -= 8;
    }
    if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (x != y)
            return 0;
        a += 4, b += 4, n -= 4;
    }
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

/* The field named by the n bytes at name (indexed: the base of "net3"), through the type's
 * generated table (lib/namehash.h): mostly the first slot is the member or empty. */
static const pmx_field_desc *find_field(const pmx_type_desc *t, const char *name, size_t n,
                                        int indexed) {
    const pmx_field_desc *fs = &pmx__gen_fields[t->first_field];
    const uint8_t *slot = &pmx__gen_slots[t->first_slot];
    uint32_t mask = (1u << t->slot_bits) - 1;
    for (uint32_t h = pmx__name_hash(name, n, indexed, t->seed) & mask; slot[h];
         h = (h + 1) & mask) {
        const pmx_field_desc *f = &fs[slot[h] - 1];
        const char *fn = pmx__str(f->name);
        size_t i = 0; /* (a key may hold a NUL through \u0000: fn is not read past its end) */
        while (i < n && fn[i] && fn[i] == name[i])
            i++;
        if (i == n && !fn[n] && (f->count > 0) == (indexed != 0))
            return f;
    }
    return NULL;
}

const pmx_field_desc *pmx__member(const pmx_type_desc *t, const char *name, size_t n,
                                  int indexed) {
    return t && t->kind == PMX_KIND_OBJECT ? find_field(t, name, n, indexed) : NULL;
}

static int decode_object_m(dec *d, const pmx_type_desc *t, char *base, memo *mm) {
    ws(d);
    const char *v = d->p;
    size_t ordinal = 0;
    if (v < d->end && *v == '[') {
        /* Perl serialises an empty hash sometimes as []: accept it as {} */
        d->p++;
        ws(d);
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            return PMX_OK;
        }
        return fail(d, "expected an object", v);
    }
    if (v >= d->end || *v != '{')
        return fail(d, "expected an object", v);
    /* which fields were set: the first of duplicate members counts (as cJSON's lookup) */
    uint64_t seen_small[8] = {0}, *seen = seen_small;
    uint32_t slots_seen[32]; /* indexed members taken: field << 16 | slot */
    size_t n_slots_seen = 0;
    size_t words = (t->n_fields + 63) / 64;
    if (words > 8 && !(seen = pmx__calloc(words, sizeof *seen))) {
        d->rc = PMX_ENOMEM;
        return d->rc;
    }
    const pmx_field_desc *fs = &pmx__gen_fields[t->first_field];
    d->p++;
    ws(d);
    int rc = PMX_OK;
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        goto out;
    }
    for (;;) {
        ws(d);
        const char *ks = d->p;
        int esc = 0;
        const pmx_field_desc *f = NULL;
        size_t k = ordinal++;
        const char *kq = NULL;
        if (mm && k < MEMO_SLOTS && mm->f[k] && ks < d->end && *ks == '"') {
            /* the predicted name followed by the closing quote is the whole key: a member
             * name has no quote, backslash or control byte */
            size_t L = mm->len[k];
            if ((size_t)(d->end - ks) > L + 1 && ks[L + 1] == '"' &&
                same(pmx__str(mm->f[k]->name), ks + 1, L)) {
                f = mm->f[k];
                kq = ks + 1 + L;
            }
        }
        if (!kq)
            kq = ks < d->end && *ks == '"' ? string_end(d, &esc) : NULL;
        if (!kq) {
            rc = fail(d, "malformed object", v);
            break;
        }
        const char *key = ks + 1;
        size_t kl = (size_t)(kq - key);
        char kbuf[128], *kheap = NULL;
        if (esc) { /* rare: decode the key */
            char *kb = kl + 1 <= sizeof kbuf ? kbuf : (kheap = pmx__malloc(kl + 1));
            if (!kb) {
                rc = d->rc = PMX_ENOMEM;
                break;
            }
            kl = unescape(key, kq, kb);
            key = kb;
        }
        d->p = kq + 1;
        ws(d);
        if (d->p >= d->end || *d->p != ':') {
            pmx__free(kheap);
            rc = fail(d, "malformed object", v);
            break;
        }
        d->p++;
        if (f)
            ;
        else if ((f = find_field(t, key, kl, 0)) != NULL && mm && k < MEMO_SLOTS) {
            mm->f[k] = f;
            mm->len[k] = (uint16_t)kl;
        }
        size_t slot = 0;
        if (!f) {
            /* "net3" -> indexed field "net", slot 3 */
            size_t dl = kl;
            while (dl > 0 && key[dl - 1] >= '0' && key[dl - 1] <= '9')
                dl--;
            if (dl > 0 && dl < kl && !(key[dl] == '0' && dl + 1 < kl) && kl - dl <= 6) {
                f = find_field(t, key, dl, 1);
                slot = (size_t)strtoul(key + dl, NULL, 10);
                if (f && slot >= f->count)
                    f = NULL;
            }
        }
        size_t fi = f ? (size_t)(f - fs) : 0;
        int take = f && (f->count ? 1 : !(seen[fi / 64] >> (fi % 64) & 1));
        if (take && f->count) { /* the first of duplicate slots, null or not */
            uint32_t sk = (uint32_t)fi << 16 | (uint32_t)slot;
            for (size_t j = 0; j < n_slots_seen && take; j++)
                take = slots_seen[j] != sk;
            char *s;
            memcpy(&s, base + f->offset + slot * sizeof(char *), sizeof s);
            take = take && s == NULL; /* (past the record's room: set ones at least) */
            if (take && n_slots_seen < sizeof slots_seen / sizeof slots_seen[0])
                slots_seen[n_slots_seen++] = sk;
        }
        if (!take) {
            pmx__free(kheap);
            rc = skip(d, 1); /* unknown members are ignored */
        } else {
            ws(d);
            int fv = !f->count && f->kind != PMX_KIND_ARRAY ? fast_value(d, f->kind, base + f->offset)
                                                           : 0;
            if (fv > 0) {
                seen[fi / 64] |= 1ull << (fi % 64);
                pmx__free(kheap);
                goto next;
            }
            if (fv < 0) {
                pmx__free(kheap);
                rc = d->rc;
                break;
            }
            size_t old = push(d, key, kl, 0);
            if (f->count)
                rc = decode_value(d, f->kind, pmx__type(f->type),
                                  base + f->offset + slot * sizeof(char *));
            else if (f->kind == PMX_KIND_ARRAY)
                rc = decode_array(d, f, base);
            else
                rc = decode_value(d, f->kind, pmx__type(f->type), base + f->offset);
            d->depth = old;
            if (!rc && !f->count)
                seen[fi / 64] |= 1ull << (fi % 64);
            pmx__free(kheap); /* after the value: the error path may name the key */
        }
        if (rc)
            break;
    next:
        ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        rc = fail(d, "malformed object", v);
        break;
    }
out:
    if (seen != seen_small)
        pmx__free(seen);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------------------- */

/* Decode the value at d->p as the result of method md into a new arena; *out (NULL for null). */
static int decode_result(dec *d, const pmx_method_desc *md, void **out) {
    const pmx_type_desc *t = pmx__type(md->result);
    *out = NULL;
    ws(d);
    if (d->end - d->p >= 4 && !memcmp(d->p, "null", 4)) {
        d->p += 4;
        return PMX_OK;
    }
    char *res = arena_alloc(d, t->struct_size);
    if (!res)
        return d->rc;
    memset(res, 0, t->struct_size);
    int rc;
    if (t->flags & PMX_TYPE_WRAPPED) {
        const pmx_field_desc *f = &pmx__gen_fields[t->first_field];
        rc = f->kind == PMX_KIND_ARRAY ? decode_array(d, f, res)
                                       : decode_value(d, f->kind, pmx__type(f->type), res + f->offset);
    } else {
        rc = decode_object(d, t, res);
    }
    if (rc == PMX_OK)
        *out = res;
    return rc;
}

static int finish(dec *d, const pmx_method_desc *md, int rc, void **out, void *res, char **err) {
    if (rc != PMX_OK) {
        arena_release(d->first, md->flags & PMX_METHOD_SECRET);
        if (rc == PMX_ENOMEM) {
            pmx__free(d->msg);
            *err = NULL;
        } else {
            *err = d->msg;
        }
        return rc;
    }
    pmx__free(d->msg);
    if (!res) { /* null data: no result, and no arena */
        arena_free(d->first);
        *out = NULL;
        return PMX_OK;
    }
    *out = res;
    return PMX_OK;
}

int pmx__bind_decode(const void *ctx, const char *json, size_t len, void **out, char **err) {
    const pmx_method_desc *md = ctx;
    *out = NULL;
    *err = NULL;
    if (!md || !md->result || !json)
        return PMX_OK;
    dec d;
    memset(&d, 0, sizeof d);
    d.secret = (md->flags & PMX_METHOD_SECRET) != 0;
    d.p = json;
    d.end = json + len;
    d.next_cap = pmx__type(md->result)->struct_size + len + 256;
    void *res = NULL;
    int rc = decode_result(&d, md, &res);
    if (rc == PMX_OK) {
        ws(&d);
        if (d.p != d.end)
            rc = fail(&d, "malformed JSON (data continues)", d.p);
    }
    return finish(&d, md, rc, out, res, err);
}

/* "total" (the value [v, end), already validated): set *total when it is an integer number;
 * anything else (a string, true, {}) leaves it. Both decoders read it this way. */
static void read_total(const char *v, const char *end, int64_t *total) {
    int is_i;
    int64_t i;
    double f;
    if ((*v == '-' || (*v >= '0' && *v <= '9')) && number_value(v, end, &is_i, &i, &f) == 0 &&
        is_i)
        *total = i;
}

int pmx__decode_body(const void *ctx, const char *body, size_t len, pmx__body *b, char **err) {
    const pmx_method_desc *md = ctx;
    memset(b, 0, sizeof *b);
    b->total = -1;
    *err = NULL;
    dec d;
    memset(&d, 0, sizeof d);
    d.secret = md && (md->flags & PMX_METHOD_SECRET);
    d.p = body;
    d.end = body + len;
    d.next_cap = (md && md->result ? pmx__type(md->result)->struct_size : 0) + len + 256;
    void *res = NULL;
    int rc = PMX_OK, have_data = 0, total_seen = 0;
    ws(&d);
    if (d.p >= d.end || *d.p != '{') {
        rc = fail(&d, "expected a JSON object", d.p);
        goto done;
    }
    d.p++;
    ws(&d);
    if (d.p < d.end && *d.p == '}') {
        d.p++;
        goto tail;
    }
    for (;;) {
        ws(&d);
        int esc;
        const char *ks = d.p;
        const char *kq = ks < d.end && *ks == '"' ? string_end(&d, &esc) : NULL;
        if (!kq) {
            rc = fail(&d, "malformed JSON", ks);
            break;
        }
        const char *kn = ks + 1;
        size_t kl = (size_t)(kq - ks - 1);
        char kb[16];
        if (esc) { /* an escaped envelope name: only short ones can be ours */
            if (kl < sizeof kb) {
                kl = unescape(kn, kq, kb);
                kn = kb;
            } else {
                kn = "";
                kl = 0;
            }
        }
#define KEY(s) (kl == sizeof(s) - 1 && !memcmp(kn, s, kl))
        d.p = kq + 1;
        ws(&d);
        if (d.p >= d.end || *d.p != ':') {
            rc = fail(&d, "malformed JSON", d.p);
            break;
        }
        d.p++;
        ws(&d);
        const char *v = d.p;
        if (KEY("data") && !have_data) {
            have_data = 1;
            if (md && md->result)
                rc = decode_result(&d, md, &res);
            else
                rc = skip(&d, 1);
            b->data = v;
            b->data_len = (size_t)(d.p - v);
        } else {
            rc = skip(&d, 1);
            if (!rc && KEY("total") && !total_seen) {
                total_seen = 1; /* the first counts, as in the incremental decoder */
                read_total(v, d.p, &b->total);
            } else if (!rc && KEY("message") && *v == '"' && !b->message) {
                b->message = v;
                b->message_end = d.p;
            } else if (!rc && KEY("errors") && *v == '{' && !b->errors) {
                b->errors = v;
                b->errors_end = d.p;
            }
        }
#undef KEY
        if (rc)
            break;
        ws(&d);
        if (d.p < d.end && *d.p == ',') {
            d.p++;
            continue;
        }
        if (d.p < d.end && *d.p == '}') {
            d.p++;
            break;
        }
        rc = fail(&d, "malformed JSON", d.p);
        break;
    }
tail:
    if (!rc) {
        ws(&d);
        if (d.p != d.end)
            rc = fail(&d, "malformed JSON (the body continues)", d.p);
    }
done:
    if (rc == PMX_OK && !md)
        return PMX_OK;
    if (!md) {
        char *m = d.msg;
        *err = m;
        return rc;
    }
    return finish(&d, md, rc, &b->typed, res, err);
}

void pmx__bind_result_wipe(void *result) {
    if (result)
        arena_wipe((chunk *)(void *)((char *)result - offsetof(chunk, data)));
}

void pmx__bind_result_free(const void *ctx, void *result) {
    const pmx_method_desc *d = ctx;
    if (!result)
        return;
    arena_release((chunk *)(void *)((char *)result - offsetof(chunk, data)),
                  d && (d->flags & PMX_METHOD_SECRET));
}

/* ---- the incremental decoder ------------------------------------------------------------------- *
 *
 * Fed the body of a 2xx answer of a typed call as it arrives (curl's write callback). It walks
 * the envelope object with a small state machine over a window of unconsumed bytes; a member's
 * value, or each element of a "data" array, is decoded as soon as its last byte has arrived, and
 * its bytes are dropped. The window thus holds at most one incomplete value, and the typed
 * result is complete with the last byte. With an item callback each decoded element is handed
 * over and its memory reused: a listing of any length is decoded in constant memory.
 */

enum {
    S_OPEN,       /* before the envelope's '{' */
    S_FIRST_KEY,  /* a key or '}' */
    S_KEY,        /* a key */
    S_COLON,
    S_VALUE,      /* a member's value */
    S_ITEM_FIRST, /* inside data's '[': an element or ']' */
    S_ITEM,       /* an element */
    S_ITEM_NEXT,  /* ',' or ']' */
    S_NEXT,       /* ',' or '}' */
    S_DONE,
    S_FAILED
};

struct pmx__stream {
    const pmx_method_desc *md;
    pmx_call *call;
    pmx_item_fn on_item;
    void *item_ud;
    int state;
    char *buf; /* the window: buf[off, len) not yet consumed */
    size_t len, cap, off;
    uint64_t base; /* absolute offset of buf[0] in the body */
    /* the value being completed: scanner state, from buf[vstart] up to buf[vpos] */
    size_t vstart, vpos;
    int vactive, vdepth, vstr, vesc;
    int keep_body;
    char key[16]; /* the current envelope member (longer names are none of ours) */
    int key_ours;
    int data_seen, total_seen;
    uint64_t data_start, data_end; /* absolute span of "data" */
    int64_t total;
    dec d;      /* the result's arena, and errors */
    dec it;     /* item mode: the element's arena, reset after each */
    char *res;  /* the result struct (array results) */
    const pmx_field_desc *f0;
    const pmx_type_desc *et;
    uint32_t ek;
    size_t es;
    char *vec; /* collected elements */
    size_t n, vcap;
    memo *mm;
    int stopped; /* the item callback asked to stop */
    uint64_t fed; /* body bytes so far */
};

/* A stream as new, for method md (its arenas and buffers already released). */
static void stream_init(pmx__stream *s, const pmx_method_desc *md, pmx_call *call,
                        pmx_item_fn on_item, void *item_ud, int keep_body) {
    memset(s, 0, sizeof *s);
    s->keep_body = keep_body;
    s->md = md;
    s->call = call;
    s->on_item = on_item;
    s->item_ud = item_ud;
    s->total = -1;
    s->d.secret = s->it.secret = md && (md->flags & PMX_METHOD_SECRET);
}

pmx__stream *pmx__stream_new(const void *typed_ctx, pmx_call *call, pmx_item_fn on_item,
                             void *item_ud, int keep_body) {
    pmx__stream *s = pmx__malloc(sizeof *s);
    if (s)
        stream_init(s, typed_ctx, call, on_item, item_ud, keep_body); /* (zeroes it) */
    return s;
}

static void stream_clear(pmx__stream *s) {
    int secret = s->md && (s->md->flags & PMX_METHOD_SECRET);
    if (secret) {
        pmx__wipe(s->buf, s->cap);
        if (s->vec)
            pmx__wipe(s->vec, s->vcap * s->es);
    }
    arena_release(s->d.first, secret);
    arena_release(s->it.first, secret);
    pmx__free(s->d.msg);
    pmx__free(s->it.msg);
    pmx__free(s->vec);
    pmx__free(s->mm);
    pmx__free(s->buf);
    stream_init(s, s->md, s->call, s->on_item, s->item_ud, s->keep_body);
}

void pmx__stream_reset(pmx__stream *s) {
    if (s)
        stream_clear(s);
}

void pmx__stream_free(pmx__stream *s) {
    if (!s)
        return;
    stream_clear(s);
    pmx__free(s);
}

static int sfail(pmx__stream *s, dec *d, const char *what, const char *at) {
    if (d)
        fail(d, what, at); /* (keeps an earlier failure: out of memory stays that) */
    if (d && d != &s->d && s->d.rc == PMX_OK) { /* keep one outcome, in s->d */
        s->d.rc = d->rc ? d->rc : PMX_EDECODE;
        s->d.msg = d->msg;
        d->msg = NULL;
    } else if (!d && s->d.rc == PMX_OK) {
        s->d.rc = PMX_EDECODE;
        s->d.msg = pmx__asprintf("data: %s", what);
        if (!s->d.msg)
            s->d.rc = PMX_ENOMEM;
    }
    s->state = S_FAILED;
    return s->d.rc ? s->d.rc : PMX_EDECODE;
}

/* The stream fails for want of memory (not a decode error: no message). */
static int soom(pmx__stream *s) {
    if (s->d.rc == PMX_OK)
        s->d.rc = PMX_ENOMEM;
    s->state = S_FAILED;
    return s->d.rc;
}

/* Scan the value starting at s->vstart for its end; 1 when complete (end at s->vpos), 0 when
 * more bytes are needed. Numbers and literals end at the first delimiter. Only boundaries are
 * found here: the decoder validates the complete value. */
/* Byte classes for finding a value's end: inside strings only '"' and '\\' matter; outside
 * them the brackets and quotes. */
static const unsigned char in_str_stop[256] = {['"'] = 1, ['\\'] = 1};
static const unsigned char structural[256] = {['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3};

static int value_complete(pmx__stream *s) {
    const char *b = s->buf;
    size_t p = s->vpos, e = s->len;
    char first = b[s->vstart];
    if (first == '"' || first == '{' || first == '[') {
        if (p == s->vstart) {
            p++;
            if (first == '"')
                s->vstr = 1;
            else
                s->vdepth = 1;
        }
        while (p < e) {
            if (s->vstr) {
                if (s->vesc) { /* the byte after a backslash */
                    s->vesc = 0;
                    p++;
                    continue;
                }
                while (p < e && !in_str_stop[(unsigned char)b[p]])
                    p++;
                if (p >= e)
                    break;
                if (b[p++] == '\\') {
                    s->vesc = 1;
                    continue;
                }
                s->vstr = 0;
                if (first == '"') {
                    s->vpos = p;
                    return 1;
                }
                continue;
            }
            while (p < e && !structural[(unsigned char)b[p]])
                p++;
            if (p >= e)
                break;
            switch (structural[(unsigned char)b[p++]]) {
            case 1: s->vstr = 1; break;
            case 2: s->vdepth++; break;
            default:
                if (--s->vdepth == 0) {
                    s->vpos = p;
                    return 1;
                }
            }
        }
        s->vpos = p;
        return 0;
    }
    while (p < e) {
        char ch = b[p];
        if (ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\n' || ch == '\r' ||
            ch == '\t') {
            s->vpos = p;
            return 1;
        }
        p++;
    }
    s->vpos = p;
    return 0;
}

static void value_begin(pmx__stream *s) {
    s->vstart = s->vpos = s->off;
    s->vdepth = s->vstr = s->vesc = 0;
    s->vactive = 1;
}

/* A dec over buf[a, b) for the arena of d0 (its chunks stay with d0). */
static void slice(dec *d, pmx__stream *s, size_t a, size_t b) {
    d->p = s->buf + a;
    d->end = s->buf + b;
}

static int is_wrapped_array(const pmx_method_desc *md, const pmx_field_desc **f0) {
    if (!md || !md->result)
        return 0;
    const pmx_type_desc *t = pmx__type(md->result);
    if (!(t->flags & PMX_TYPE_WRAPPED))
        return 0;
    const pmx_field_desc *f = &pmx__gen_fields[t->first_field];
    if (f->kind != PMX_KIND_ARRAY)
        return 0;
    *f0 = f;
    return 1;
}

/* The element just completed (buf[vstart, vpos)): decode it, then keep or hand it over. */
/* optimistic: decode an object element straight from the window (one pass); when its end has
 * not arrived yet, everything is undone and 0 returned: the caller then waits for the whole
 * element (value_complete) and decodes it again. Returns PMX_OK, 1 (wait), or an error. */
static int stream_item(pmx__stream *s, int optimistic) {
    dec *d = s->on_item ? &s->it : &s->d;
    chunk *mark = d->cur;
    size_t mark_used = mark ? mark->used : 0, mark_next_cap = d->next_cap;
    if (optimistic)
        slice(d, s, s->off, s->len);
    else
        slice(d, s, s->vstart, s->vpos);
    d->depth = 0;
    d->quiet = optimistic; /* its failure is mostly a piece's end: undone, retried whole */
    push(d, NULL, 0, s->n);
    union {
        max_align_t a;
        char b[sizeof(max_align_t) > 16 ? sizeof(max_align_t) : 16];
    } slot;
    memset(&slot, 0, sizeof slot);
    int rc;
    if (s->ek == PMX_KIND_OBJECT && s->et && *d->p != 'n') {
        char *obj = arena_alloc(d, s->et->struct_size);
        rc = obj ? PMX_OK : d->rc;
        if (obj) {
            memset(obj, 0, s->et->struct_size);
            if (!s->mm && !(s->mm = pmx__calloc(1, sizeof *s->mm)))
                rc = d->rc = PMX_ENOMEM;
            else
                rc = decode_object_m(d, s->et, obj, s->mm);
            memcpy(slot.b, &obj, sizeof obj);
        }
    } else {
        rc = decode_value(d, s->ek, s->et, slot.b);
    }
    d->depth = 0;
    d->quiet = 0;
    if (optimistic && rc != PMX_ENOMEM) {
        if (rc) { /* maybe only cut short: undo, and let the caller wait for the end */
            int secret = s->md && (s->md->flags & PMX_METHOD_SECRET); /* undone: wiped */
            if (mark) {
                if (secret)
                    pmx__wipe((char *)mark->data + mark_used, mark->used - mark_used);
                arena_release(mark->next, secret);
                mark->next = NULL;
                mark->used = mark_used;
                d->cur = mark;
            } else {
                arena_release(d->first, secret);
                d->first = d->cur = NULL;
            }
            d->next_cap = mark_next_cap; /* an undone chunk must not make the next one bigger */
            pmx__free(d->msg);
            d->msg = NULL;
            d->rc = PMX_OK;
            return 1;
        }
        s->vpos = (size_t)(d->p - s->buf); /* consumed up to here */
    } else if (rc == PMX_OK) {
        ws(d);
        if (d->p != d->end)
            rc = fail(d, "malformed JSON", d->p);
    }
    if (rc)
        return sfail(s, d, "malformed JSON", d->p);
    if (s->on_item) {
        const void *item;
        if (s->ek == PMX_KIND_OBJECT || s->ek == PMX_KIND_STRING || s->ek == PMX_KIND_RAW)
            memcpy(&item, slot.b, sizeof item);
        else
            item = slot.b;
        int stop = s->on_item(s->call, item, s->n, s->item_ud);
        /* the element's memory is reused: keep the first chunk, wiped for secrets */
        if (s->md->flags & PMX_METHOD_SECRET)
            arena_wipe(s->it.first);
        if (s->it.first) {
            arena_free(s->it.first->next);
            s->it.first->next = NULL;
            s->it.first->used = 0;
            s->it.cur = s->it.first;
        }
        s->n++;
        if (stop) {
            s->stopped = 1;
            s->state = S_FAILED;
            return PMX_ECANCELLED;
        }
        return PMX_OK;
    }
    if (s->n == s->vcap) {
        size_t cap = s->vcap ? s->vcap * 2 : 64;
        char *v = pmx__realloc(s->vec, cap * s->es);
        if (!v)
            return soom(s);
        s->vec = v;
        s->vcap = cap;
    }
    memcpy(s->vec + s->n * s->es, slot.b, s->es);
    s->n++;
    return PMX_OK;
}

/* A complete member value buf[vstart, vpos) that is not data's array. */
static int stream_member(pmx__stream *s) {
    dec *d = &s->d;
    slice(d, s, s->vstart, s->vpos);
    d->depth = 0;
    const char *v = d->p;
    int is_data = s->key_ours && !strcmp(s->key, "data") && !s->data_seen;
    if (is_data) {
        s->data_seen = 1;
        d->next_cap = (s->md && s->md->result ? pmx__type(s->md->result)->struct_size : 0) +
                      (s->vpos - s->vstart) + 256;
        s->data_start = s->base + s->vstart;
        s->data_end = s->base + s->vpos;
        if (s->md && s->md->result) {
            void *res = NULL;
            if (decode_result(d, s->md, &res))
                return sfail(s, d, "malformed JSON", d->p);
            s->res = res;
        } else if (skip(d, 1)) {
            return sfail(s, d, "malformed JSON", d->p);
        }
    } else {
        if (skip(d, 1))
            return sfail(s, d, "malformed JSON", d->p);
        if (s->key_ours && !strcmp(s->key, "total") && !s->total_seen) {
            s->total_seen = 1;
            read_total(v, d->p, &s->total);
        }
    }
    ws(d);
    if (d->p != d->end)
        return sfail(s, d, "malformed JSON", d->p);
    return PMX_OK;
}

/* JSON white space (strchr would also take the terminating NUL). */
static inline int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static int stream_run(pmx__stream *s) {
    for (;;) {
        while (s->off < s->len && is_ws(s->buf[s->off]) &&
               s->state != S_KEY && s->state != S_VALUE && s->state != S_ITEM)
            s->off++;
        if (s->state == S_FAILED)
            return s->stopped ? PMX_ECANCELLED : s->d.rc;
        if (s->off >= s->len)
            return PMX_OK;
        char ch = s->buf[s->off];
        switch (s->state) {
        case S_OPEN:
            if (ch != '{')
                return sfail(s, NULL, "malformed JSON (not an object)", NULL);
            s->off++;
            s->state = S_FIRST_KEY;
            break;
        case S_FIRST_KEY:
            if (ch == '}') {
                s->off++;
                s->state = S_DONE;
                break;
            }
            /* fall through */
        case S_KEY:
            if (!s->vactive) {
                while (s->off < s->len && is_ws(s->buf[s->off]))
                    s->off++;
                if (s->off >= s->len)
                    return PMX_OK;
                if (s->buf[s->off] != '"')
                    return sfail(s, NULL, "malformed JSON (a member name)", NULL);
                value_begin(s);
            }
            s->state = S_KEY;
            if (!value_complete(s))
                return PMX_OK;
            {
                dec kd;
                memset(&kd, 0, sizeof kd);
                slice(&kd, s, s->vstart, s->vpos);
                int esc;
                const char *q = string_end(&kd, &esc);
                if (!q)
                    return sfail(s, NULL, "malformed JSON (a member name)", NULL);
                size_t kl = (size_t)(q - kd.p - 1);
                s->key_ours = 0;
                if (kl < sizeof s->key) {
                    if (esc)
                        kl = unescape(kd.p + 1, q, s->key);
                    else {
                        memcpy(s->key, kd.p + 1, kl);
                        s->key[kl] = 0;
                    }
                    s->key_ours = strlen(s->key) == kl;
                }
            }
            s->off = s->vpos;
            s->vactive = 0;
            s->state = S_COLON;
            break;
        case S_COLON:
            if (ch != ':')
                return sfail(s, NULL, "malformed JSON (':')", NULL);
            s->off++;
            s->state = S_VALUE;
            s->vactive = 0;
            break;
        case S_VALUE:
            if (!s->vactive) {
                while (s->off < s->len && is_ws(s->buf[s->off]))
                    s->off++;
                if (s->off >= s->len)
                    return PMX_OK;
                if (s->key_ours && !strcmp(s->key, "data") && !s->data_seen &&
                    s->buf[s->off] == '[' && is_wrapped_array(s->md, &s->f0)) {
                    /* data's elements, one by one */
                    s->data_seen = 1;
                    s->data_start = s->base + s->off;
                    const pmx_type_desc *t = pmx__type(s->md->result);
                    s->d.next_cap = t->struct_size + 64 * 1024;
                    s->res = arena_alloc(&s->d, t->struct_size);
                    if (!s->res)
                        return soom(s);
                    memset(s->res, 0, t->struct_size);
                    s->et = pmx__type(s->f0->type);
                    s->ek = s->et ? s->et->kind : PMX_KIND_RAW;
                    s->es = pmx__elem_size(s->ek);
                    s->it.next_cap = 64 * 1024;
                    s->off++;
                    s->state = S_ITEM_FIRST;
                    break;
                }
                value_begin(s);
            }
            if (!value_complete(s))
                return PMX_OK;
            if (stream_member(s))
                return s->d.rc;
            s->off = s->vpos;
            s->vactive = 0;
            s->state = S_NEXT;
            break;
        case S_ITEM_FIRST:
            if (ch == ']') {
                s->off++;
                s->data_end = s->base + s->off;
                s->state = S_NEXT;
                break;
            }
            s->state = S_ITEM;
            s->vactive = 0;
            /* fall through */
        case S_ITEM:
            if (!s->vactive) {
                while (s->off < s->len && is_ws(s->buf[s->off]))
                    s->off++;
                if (s->off >= s->len)
                    return PMX_OK;
                if (s->ek == PMX_KIND_OBJECT && s->et && s->buf[s->off] == '{') {
                    int r = stream_item(s, 1); /* in one pass when it is all here */
                    if (r == PMX_OK) {
                        s->off = s->vpos;
                        s->state = S_ITEM_NEXT;
                        break;
                    }
                    if (r != 1)
                        return r;
                }
                value_begin(s);
            }
            if (!value_complete(s))
                return PMX_OK;
            {
                int r = stream_item(s, 0);
                if (r)
                    return r;
            }
            s->off = s->vpos;
            s->vactive = 0;
            s->state = S_ITEM_NEXT;
            break;
        case S_ITEM_NEXT:
            if (ch == ',') {
                s->off++;
                s->state = S_ITEM;
                s->vactive = 0;
            } else if (ch == ']') {
                s->off++;
                s->data_end = s->base + s->off;
                s->state = S_NEXT;
            } else {
                return sfail(s, NULL, "malformed JSON (',' or ']' in data)", NULL);
            }
            break;
        case S_NEXT:
            if (ch == ',') {
                s->off++;
                s->state = S_KEY;
                s->vactive = 0;
            } else if (ch == '}') {
                s->off++;
                s->state = S_DONE;
            } else {
                return sfail(s, NULL, "malformed JSON (',' or '}')", NULL);
            }
            break;
        case S_DONE:
            return sfail(s, NULL, "malformed JSON (the body continues)", NULL);
        }
    }
}

int pmx__stream_feed(pmx__stream *s, const char *p, size_t n) {
    s->fed += n;
    if (s->state == S_FAILED)
        return s->stopped ? PMX_ECANCELLED : s->d.rc;
    if (!n)
        return PMX_OK; /* (curl may hand over an empty piece; p may then be NULL) */
    /* drop what is consumed: the window keeps only the value in progress */
    size_t keep_from = s->vactive ? s->vstart : s->off;
    if (keep_from > 0 && (keep_from >= s->len / 2 || s->len + n > s->cap)) {
        memmove(s->buf, s->buf + keep_from, s->len - keep_from);
        s->len -= keep_from;
        s->base += keep_from;
        s->off -= keep_from;
        if (s->vactive) {
            s->vstart -= keep_from;
            s->vpos -= keep_from;
        }
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n)
            cap *= 2;
        char *b;
        if (s->md && (s->md->flags & PMX_METHOD_SECRET)) { /* no realloc: wipe the old copy */
            b = pmx__malloc(cap);
            if (b && s->len)
                memcpy(b, s->buf, s->len);
            if (b) {
                pmx__wipe(s->buf, s->cap);
                pmx__free(s->buf);
            }
        } else {
            b = pmx__realloc(s->buf, cap);
        }
        if (!b)
            return soom(s);
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return stream_run(s);
}

int pmx__stream_finish(pmx__stream *s, const char *kept_body, pmx__body *b, char **err) {
    memset(b, 0, sizeof *b);
    b->total = -1;
    *err = NULL;
    if (s->state != S_DONE) {
        if (s->state != S_FAILED) {
            /* a number right at the end is complete only now */
            sfail(s, NULL, "malformed JSON (the body ends early)", NULL);
        }
        int rc = s->stopped ? PMX_ECANCELLED : s->d.rc ? s->d.rc : PMX_EDECODE;
        if (s->stopped) {
            *err = pmx__strdup("stopped by the item callback");
        } else {
            *err = s->d.msg;
            s->d.msg = NULL;
        }
        return rc;
    }
    if (s->f0 && s->res) {
        /* the collected elements move into the result's arena */
        char *items = NULL;
        if (!s->on_item && s->n) {
            items = arena_alloc(&s->d, s->n * s->es);
            if (!items) {
                *err = NULL;
                return PMX_ENOMEM;
            }
            memcpy(items, s->vec, s->n * s->es);
        }
        memcpy(s->res + s->f0->offset, &items, sizeof items);
        memcpy(s->res + s->f0->count_offset, &s->n, sizeof s->n);
    }
    b->typed = s->res;
    if (s->res) {
        s->d.first = NULL; /* the result owns its arena now */
        s->d.cur = NULL;
        s->res = NULL;
    }
    if (kept_body && s->data_seen) {
        b->data = kept_body + s->data_start;
        b->data_len = (size_t)(s->data_end - s->data_start);
    }
    b->total = s->total;
    return PMX_OK;
}

int pmx__stream_stopped(const pmx__stream *s) { return s && s->stopped; }

int pmx__stream_delivered(const pmx__stream *s) { return s && s->on_item && s->n; }

int pmx__stream_wants_body(const pmx__stream *s) { return !s || s->keep_body; }

uint64_t pmx__stream_fed(const pmx__stream *s) { return s ? s->fed : 0; }
