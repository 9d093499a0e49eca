/*
 * Typed decoding of results: one pass over the "data" JSON, driven by the generated type
 * tables (lib/tables.h), into an arena that is freed (and wiped for methods with secrets) in
 * one go with the call.
 */
#include "bind.h"

#include "value.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            if (pmx__parse_i64(s, &x) == 0) {
            } else if (pmx__parse_f64(s, &d) == 0 && d >= -0x1p63 && d < 0x1p63 &&
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
            } else if (pmx__parse_f64(s, &d) == 0) {
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
            if (pmx__parse_f64(s, &d) != 0)
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
        return decode_scalar(dc, f->kind, pmx__type(f->type), base + f->offset, v, vend);
    if (vend - v == 4 && !memcmp(v, "null", 4))
        return PMX_OK;
    if (*v != '[')
        return fail(dc, "expected an array", v, vend);
    const pmx_type_desc *et = pmx__type(f->type);
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
    const pmx_field_desc *fs = &pmx__gen_fields[t->first_field];
    size_t lo = 0, hi = t->n_fields;
    while (lo < hi) { /* lower bound */
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(pmx__str(fs[mid].name), name, n);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->n_fields && i < lo + 2; i++) {
        const pmx_field_desc *f = &fs[i];
        if (key_cmp(pmx__str(f->name), name, n) != 0)
            break;
        if ((f->count > 0) == (indexed != 0))
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
    int rc = decode_scalar(m->dc, f->kind, pmx__type(f->type), m->base + f->offset + slot * sizeof(char *),
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
    const pmx_type_desc *t = pmx__type(d->result);
    dc.next_cap = t->struct_size + len + 256;
    char *res = arena_alloc(&dc, t->struct_size);
    int rc = dc.rc;
    if (res) {
        if (t->flags & PMX_TYPE_WRAPPED)
            rc = decode_field(&dc, &pmx__gen_fields[t->first_field], res, v, vend);
        else
            rc = decode_object(&dc, t, res, v, vend);
    }
    if (rc != PMX_OK) {
        if (d->flags & PMX_METHOD_SECRET)
            for (chunk *k = dc.first; k; k = k->next)
                pmx__wipe(k->data, k->used);
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

void pmx__bind_result_wipe(void *result) {
    if (!result)
        return;
    for (chunk *k = (chunk *)(void *)((char *)result - offsetof(chunk, data)); k; k = k->next)
        pmx__wipe(k->data, k->used);
}

void pmx__bind_result_free(const void *ctx, void *result) {
    const pmx_method_desc *d = ctx;
    if (!result)
        return;
    if (d && (d->flags & PMX_METHOD_SECRET))
        pmx__bind_result_wipe(result);
    arena_free((chunk *)(void *)((char *)result - offsetof(chunk, data)));
}
