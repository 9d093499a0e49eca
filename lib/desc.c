/*
 * The public descriptor API over the compact generated tables (lib/tables.h): enumeration,
 * lookup by name and by path, and the pmx_*_describe() functions that fill caller-sized info
 * structs.
 */
#include "tables.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Copy the filled info @p full (of @p full_size bytes) into @p out, as far as out->size says;
 * out->size itself is kept. */
static int give(void *out, const void *full, size_t full_size) {
    uint32_t size;
    memcpy(&size, out, sizeof size);
    if (size < sizeof(uint32_t))
        return PMX_EINVAL;
    size_t n = size < full_size ? size : full_size;
    memcpy((char *)out + sizeof(uint32_t), (const char *)full + sizeof(uint32_t),
           n - sizeof(uint32_t));
    return PMX_OK;
}

/* ---- methods ----------------------------------------------------------------------------- */

size_t pmx_method_count(void) { return pmx__gen_n_methods; }

const pmx_method_desc *pmx_method_at(size_t i) {
    return i < pmx__gen_n_methods ? &pmx__gen_methods[i] : NULL;
}

const pmx_method_desc *pmx_method_by_name(const char *fn_name) {
    if (!fn_name)
        return NULL;
    size_t lo = 0, hi = pmx__gen_n_methods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const pmx_method_desc *d = &pmx__gen_methods[pmx__gen_by_name[mid]];
        int c = strcmp(fn_name, pmx__str(d->name));
        if (c == 0)
            return d;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

pmx_method pmx_method_verb(const pmx_method_desc *d) { return d ? (pmx_method)d->verb : 0; }
const char *pmx_method_path(const pmx_method_desc *d) { return d ? pmx__str(d->path) : NULL; }
const char *pmx_method_name(const pmx_method_desc *d) { return d ? pmx__str(d->name) : NULL; }

int pmx_method_describe(const pmx_method_desc *d, pmx_method_info *out) {
    if (!d || !out)
        return PMX_EINVAL;
    pmx_method_info i = {
        .size = sizeof i,
        .method = d->verb,
        .flags = d->flags,
        .n_params = d->n_params,
        .n_path_params = d->n_path,
        .index = (uint32_t)pmx__method_index(d),
        .path = pmx__str(d->path),
        .name = pmx__str(d->name),
        .description = pmx__doc(d->desc),
        .result = pmx__type(d->result),
        .params_size = d->params_size,
    };
    return give(out, &i, sizeof i);
}

const pmx_param_desc *pmx_method_param_at(const pmx_method_desc *d, size_t i) {
    return d && i < d->n_params ? &pmx__gen_params[d->first_param + i] : NULL;
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

/* Number of literal segments matched, or -1 when the template does not match. */
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

int pmx__path_matches(const pmx_method_desc *d, const char *path) {
    seg cs[32];
    int nc = path && path[0] == '/' ? split_path(path, cs, 32) : -1;
    return nc >= 0 && match_template(pmx__str(d->path), cs, nc) >= 0;
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
    for (size_t i = 0; i < pmx__gen_n_methods; i++) {
        const pmx_method_desc *d = &pmx__gen_methods[i];
        if (d->verb != (uint32_t)m)
            continue;
        const char *t = pmx__str(d->path);
        /* methods are sorted by path: skip whole top-level sections quickly */
        if (nc > 0 && t[1] != '{' && t[1] != cs[0].p[0])
            continue;
        int s = match_template(t, cs, nc);
        if (s > best_score) {
            best_score = s;
            best = d;
        }
    }
    return best;
}

int pmx_method_path_param(const pmx_method_desc *d, const char *path, size_t i, char **out) {
    if (out)
        *out = NULL;
    if (!d || !path || !out || i >= d->n_path)
        return PMX_EINVAL;
    seg cs[32], ts[32];
    const char *tp = pmx__str(d->path);
    int nc = split_path(path, cs, 32), nt = split_path(tp, ts, 32);
    if (nc < 0 || nt != nc || match_template(tp, cs, nc) < 0)
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
            if (*c == '%' && j + 2 < cs[s].n && pmx__hexval(c[1]) >= 0 && pmx__hexval(c[2]) >= 0) {
                v[o++] = (char)(pmx__hexval(c[1]) * 16 + pmx__hexval(c[2]));
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

/* ---- parameters ---------------------------------------------------------------------------- */

const pmx_param_desc *pmx__param_lookup(const pmx_method_desc *d, const char *name, long *slot) {
    *slot = -1;
    for (size_t i = 0; i < d->n_params; i++) {
        const pmx_param_desc *p = &pmx__gen_params[d->first_param + i];
        const pmx__pdef *pd = pmx__param_def(p);
        const char *pn = pmx__str(pd->name);
        if (!(pd->flags & PMX_PARAM_INDEXED)) {
            if (!strcmp(pn, name))
                return p;
            continue;
        }
        size_t n = strlen(pn);
        if (strncmp(pn, name, n) != 0 || !isdigit((unsigned char)name[n]))
            continue;
        if (name[n] == '0' && name[n + 1])
            continue;
        char *e;
        long k = strtol(name + n, &e, 10);
        if (*e || k < 0 || (unsigned long)k >= pd->count) /* no truncation: net4294967299 */
            continue;
        *slot = k;
        return p;
    }
    return NULL;
}

const pmx_param_desc *pmx_method_param(const pmx_method_desc *d, const char *name) {
    long slot;
    return d && name ? pmx__param_lookup(d, name, &slot) : NULL;
}

uint32_t pmx__param_loc(const pmx_param_desc *p) {
    const pmx_method_desc *m = &pmx__gen_methods[p->method];
    if ((size_t)(p - &pmx__gen_params[m->first_param]) < m->n_path)
        return PMX_LOC_PATH;
    return m->verb == PMX_POST || m->verb == PMX_PUT ? PMX_LOC_BODY : PMX_LOC_QUERY;
}

int pmx_param_describe(const pmx_param_desc *p, pmx_param_info *out) {
    if (!p || !out)
        return PMX_EINVAL;
    const pmx__pdef *d = pmx__param_def(p);
    uint32_t loc = pmx__param_loc(p);
    pmx_param_info i = {
        .size = sizeof i,
        .type = d->type,
        .item_type = d->item_type,
        .loc = loc,
        .flags = d->flags,
        .count = d->count,
        .n_enum = d->n_enum,
        .position = loc == PMX_LOC_PATH ? p->offset : 0,
        .name = pmx__str(d->name),
        .c_name = pmx__str(d->c_name),
        .minimum = pmx__bounds_of(d->bounds)->minimum,
        .maximum = pmx__bounds_of(d->bounds)->maximum,
        .min_length = pmx__bounds_of(d->bounds)->min_length,
        .max_length = pmx__bounds_of(d->bounds)->max_length,
        .pattern = pmx__str(d->pattern),
        .posix_pattern = pmx__str(d->posix),
        .format = pmx__str(d->format),
        .typetext = pmx__str(d->typetext),
        .default_value = pmx__str(d->dflt),
        .description = pmx__doc(d->desc),
        .propstr = pmx__propstr(d->propstr),
    };
    return give(out, &i, sizeof i);
}

const char *pmx_param_enum_at(const pmx_param_desc *p, size_t i) {
    if (!p)
        return NULL;
    const pmx__pdef *d = pmx__param_def(p);
    return i < d->n_enum ? pmx__str(pmx__gen_enums[d->enum_first + i]) : NULL;
}

/* ---- result types ------------------------------------------------------------------------- */

int pmx_type_describe(const pmx_type_desc *t, pmx_type_info *out) {
    if (!t || !out)
        return PMX_EINVAL;
    pmx_type_info i = {
        .size = sizeof i,
        .kind = t->kind,
        .flags = t->flags,
        .n_fields = t->n_fields,
        .name = pmx__str(t->name),
        .struct_size = t->struct_size,
    };
    return give(out, &i, sizeof i);
}

const pmx_field_desc *pmx_type_field_at(const pmx_type_desc *t, size_t i) {
    return t && i < t->n_fields ? &pmx__gen_fields[t->first_field + i] : NULL;
}

int pmx_field_describe(const pmx_field_desc *f, pmx_field_info *out) {
    if (!f || !out)
        return PMX_EINVAL;
    pmx_field_info i = {
        .size = sizeof i,
        .kind = f->kind,
        .flags = f->flags,
        .count = f->count,
        .name = pmx__str(f->name),
        .c_name = pmx__str(f->c_name),
        .description = pmx__doc(f->desc),
        .type = pmx__type(f->type),
        .propstr = pmx__propstr(f->propstr),
        .offset = f->offset,
        .count_offset = f->count_offset,
    };
    return give(out, &i, sizeof i);
}

/* ---- property-string formats ---------------------------------------------------------------- */

size_t pmx_propstr_count(void) { return pmx__gen_n_propstrs; }

const pmx_propstr_desc *pmx_propstr_at(size_t i) {
    return i < pmx__gen_n_propstrs ? &pmx__gen_propstrs[i] : NULL;
}

const pmx_propstr_desc *pmx_propstr_find(const char *name) {
    if (!name)
        return NULL;
    size_t lo = 0, hi = pmx__gen_n_propstrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, pmx__str(pmx__gen_propstrs[mid].name));
        if (c == 0)
            return &pmx__gen_propstrs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int pmx_propstr_describe(const pmx_propstr_desc *d, pmx_propstr_info *out) {
    if (!d || !out)
        return PMX_EINVAL;
    pmx_propstr_info i = {
        .size = sizeof i,
        .n_keys = d->n_keys,
        .name = pmx__str(d->name),
        .default_key = pmx__str(d->default_key),
        .struct_size = d->struct_size,
    };
    return give(out, &i, sizeof i);
}

const pmx_propkey_desc *pmx_propstr_key_at(const pmx_propstr_desc *d, size_t i) {
    return d && i < d->n_keys ? &pmx__gen_keys[d->first_key + i] : NULL;
}

int pmx_propkey_describe(const pmx_propkey_desc *k, pmx_propkey_info *out) {
    if (!k || !out)
        return PMX_EINVAL;
    pmx_propkey_info i = {
        .size = sizeof i,
        .type = k->type,
        .flags = k->flags,
        .n_enum = k->n_enum,
        .name = pmx__str(k->name),
        .c_name = pmx__str(k->c_name),
        .offset = k->offset,
        .minimum = pmx__bounds_of(k->bounds)->minimum,
        .maximum = pmx__bounds_of(k->bounds)->maximum,
        .max_length = pmx__bounds_of(k->bounds)->max_length,
        .pattern = pmx__str(k->pattern),
        .posix_pattern = pmx__str(k->posix),
        .format = pmx__str(k->format),
        .alias = pmx__str(k->alias),
        .key_alias = pmx__str(k->key_alias),
        .requires = pmx__str(k->requires),
        .default_value = pmx__str(k->dflt),
        .format_description = pmx__str(k->fmt_desc),
        .description = pmx__doc(k->desc),
    };
    return give(out, &i, sizeof i);
}

const char *pmx_propkey_enum_at(const pmx_propkey_desc *k, size_t i) {
    return k && i < k->n_enum ? pmx__str(pmx__gen_enums[k->enum_first + i]) : NULL;
}
