/* pmx-gen: emit the compact run-time tables (lib/gen/tables.c) and the description pool
 * (lib/gen/docs.c). Record layouts: lib/tables.h. Strings are pooled and deduplicated;
 * parameter definitions and enum lists are shared; records refer to each other by index. */
#include "gen.h"
#include "namehash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string pools ---------------------------------------------------------------------------- */

typedef struct pool {
    sb text;            /* the emitted literal lines */
    size_t size;        /* bytes so far (offset of the next string) */
    char **keys;        /* open-addressing hash of strings -> offsets */
    uint32_t *offs;
    size_t cap, n;
} pool;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void pool_init(pool *p) {
    memset(p, 0, sizeof *p);
    p->cap = 1 << 14;
    p->keys = xcalloc(p->cap, sizeof *p->keys);
    p->offs = xcalloc(p->cap, sizeof *p->offs);
    p->size = 1; /* offset 0: none */
    sb_puts(&p->text, "    \"\\0\"\n");
}

static void pool_rehash(pool *p) {
    size_t cap = p->cap * 2;
    char **keys = xcalloc(cap, sizeof *keys);
    uint32_t *offs = xcalloc(cap, sizeof *offs);
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->keys[i])
            continue;
        size_t k = hash_str(p->keys[i]) & (cap - 1);
        while (keys[k])
            k = (k + 1) & (cap - 1);
        keys[k] = p->keys[i];
        offs[k] = p->offs[i];
    }
    free(p->keys);
    free(p->offs);
    p->keys = keys;
    p->offs = offs;
    p->cap = cap;
}

/* Offset of s in the pool (added when new); 0 for NULL. */
static uint32_t pool_add(pool *p, const char *s) {
    if (!s)
        return 0;
    if (2 * (p->n + 1) > p->cap)
        pool_rehash(p);
    size_t k = hash_str(s) & (p->cap - 1);
    while (p->keys[k]) {
        if (!strcmp(p->keys[k], s))
            return p->offs[k];
        k = (k + 1) & (p->cap - 1);
    }
    if (p->size + strlen(s) + 1 > UINT32_MAX)
        die("string pool too large");
    p->keys[k] = xstrdup(s);
    p->offs[k] = (uint32_t)p->size;
    p->n++;
    sb_puts(&p->text, "    ");
    sb text = {0};
    c_string(&text, s);
    /* "...\0" in one literal: the terminator follows the string's own bytes */
    sb_put(&p->text, text.d, text.n - 1);
    sb_puts(&p->text, "\\0\"\n");
    sb_free(&text);
    size_t off = p->size;
    p->size += strlen(s) + 1;
    return (uint32_t)off;
}

/* Add n strings in this order (never inside one printf's arguments: their order of
 * evaluation differs between compilers, and the pool's order must not). */
static void pool_add_all(pool *p, const char *const *in, uint32_t *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = pool_add(p, in[i]);
}

static void pool_free(pool *p) {
    for (size_t i = 0; i < p->cap; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->offs);
    sb_free(&p->text);
}

/* ---- shared enum lists ----------------------------------------------------------------------- */

static pool g_pool, g_docs;
static sb g_enum_text;
static size_t g_nenum;
static char **g_enum_keys;
static size_t *g_enum_first;
static size_t g_nenum_lists, g_capenum;

/* Index of the first value of enum list @p en (a JSON array of strings) in pmx__gen_enums. */
static size_t enum_add(const cJSON *en, const char *ctx, size_t *n_out) {
    sb key = {0};
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, en) {
        if (!cJSON_IsString(v))
            die("%s: enum values must be strings", ctx);
        sb_puts(&key, v->valuestring);
        sb_put(&key, "\x01", 1);
        n++;
    }
    *n_out = n;
    if (!key.d)
        sb_puts(&key, "");
    for (size_t i = 0; i < g_nenum_lists; i++)
        if (!strcmp(g_enum_keys[i], key.d)) {
            sb_free(&key);
            return g_enum_first[i];
        }
    if (g_nenum_lists == g_capenum) {
        g_capenum = g_capenum ? g_capenum * 2 : 128;
        g_enum_keys = xrealloc(g_enum_keys, g_capenum * sizeof *g_enum_keys);
        g_enum_first = xrealloc(g_enum_first, g_capenum * sizeof *g_enum_first);
    }
    g_enum_keys[g_nenum_lists] = key.d;
    g_enum_first[g_nenum_lists++] = g_nenum;
    size_t first = g_nenum;
    sb_printf(&g_enum_text, "    /* %zu */", first);
    cJSON_ArrayForEach(v, en) sb_printf(&g_enum_text, " %u,", pool_add(&g_pool, v->valuestring));
    sb_puts(&g_enum_text, "\n");
    g_nenum += n;
    if (g_nenum > UINT16_MAX)
        die("too many enum values for the tables");
    return first;
}

/* ---- shared bounds ------------------------------------------------------------------------------- */

static sb g_bounds_text;
static char **g_bounds_keys;
static size_t g_nbounds, g_capbounds;

/* Index + 1 of the bounds (minimum, maximum, min_length, max_length) in pmx__gen_bounds; 0 when
 * none is set. */
static size_t bounds_of(double mn, double mx, double mnl, double mxl) {
    if (!mn && !mx && !mnl && !mxl)
        return 0;
    sb key = {0};
    sb_printf(&key, "{%.17g, %.17g, %.0f, %.0f}", mn, mx, mnl, mxl);
    for (size_t i = 0; i < g_nbounds; i++)
        if (!strcmp(g_bounds_keys[i], key.d)) {
            sb_free(&key);
            return i + 1;
        }
    g_bounds_keys = grow(g_bounds_keys, &g_capbounds, g_nbounds, sizeof *g_bounds_keys);
    g_bounds_keys[g_nbounds] = key.d;
    sb_printf(&g_bounds_text, "    %s, /* %zu */\n", key.d, g_nbounds + 1);
    if (++g_nbounds > UINT16_MAX - 1)
        die("too many distinct bounds for the tables");
    return g_nbounds;
}

/* ---- parameter definitions --------------------------------------------------------------------- */

static const char *const type_enum[] = {"0", "PMX_PARAM_STRING", "PMX_PARAM_INTEGER",
                                        "PMX_PARAM_BOOLEAN", "PMX_PARAM_NUMBER",
                                        "PMX_PARAM_ARRAY"};
static const char *const kind_enum[] = {"0", "PMX_KIND_STRING", "PMX_KIND_I64",
                                        "PMX_KIND_OPT_I64", "PMX_KIND_BOOL",
                                        "PMX_KIND_OPT_BOOL", "PMX_KIND_F64",
                                        "PMX_KIND_OPT_F64", "PMX_KIND_RAW",
                                        "PMX_KIND_OBJECT", "PMX_KIND_ARRAY"};
/* Member lookup of type t (lib/namehash.h): the smallest table of at least twice as many slots
 * as members (up to four times, if that is what it takes) and a seed under which no two members
 * share a slot; failing that, the seed with the least probing. Appends the table's row to out.
 * Returns 1 when the table needs probing. */
static int member_lookup(const gtype *t, sb *out, unsigned *bits_out, unsigned *seed_out) {
    unsigned bits0 = 1;
    while (((size_t)1 << bits0) < 2 * t->nf)
        bits0++;
    if (t->nf > UINT8_MAX - 1 || bits0 + 2 > 16)
        die("%s: too many members for a lookup table", t->name);
    uint8_t *tab = xcalloc((size_t)1 << (bits0 + 2), 1);
    unsigned best_bits = bits0, best_seed = 0;
    size_t best_cost = (size_t)-1;
    for (unsigned bits = bits0; bits <= bits0 + 2 && best_cost; bits++) {
        size_t mask = ((size_t)1 << bits) - 1;
        for (unsigned seed = 0; seed < 256 && best_cost; seed++) {
            memset(tab, 0, mask + 1);
            size_t cost = 0;
            for (size_t k = 0; k < t->nf; k++) {
                const gfield *f = &t->f[k];
                size_t h = pmx__name_hash(f->json, strlen(f->json), f->slots > 0, seed) & mask;
                while (tab[h])
                    h = (h + 1) & mask, cost++;
                tab[h] = 1;
            }
            if (cost < best_cost && (bits == bits0 || !cost)) {
                best_cost = cost;
                best_bits = bits;
                best_seed = seed;
            }
        }
    }
    size_t mask = ((size_t)1 << best_bits) - 1;
    memset(tab, 0, mask + 1);
    for (size_t k = 0; k < t->nf; k++) {
        const gfield *f = &t->f[k];
        size_t h = pmx__name_hash(f->json, strlen(f->json), f->slots > 0, best_seed) & mask;
        while (tab[h])
            h = (h + 1) & mask;
        tab[h] = (uint8_t)(k + 1);
    }
    sb_printf(out, "    /* %s */\n   ", t->name);
    for (size_t i = 0; i <= mask; i++)
        sb_printf(out, "%s %u,", i && i % 16 == 0 ? "\n   " : "", tab[i]);
    sb_puts(out, "\n");
    free(tab);
    *bits_out = best_bits;
    *seed_out = best_seed;
    return best_cost != 0;
}

static const char *const verb_enum[] = {"GET", "POST", "PUT", "DELETE"};

static sb g_pdef_text;
static char **g_pdef_keys;
static size_t g_npdef, g_cappdef;

/* Flags as C text: "A | B" or "0". */
typedef struct flags {
    sb b;
} flags;
static void flag(flags *f, int cond, const char *name) {
    if (cond)
        sb_printf(&f->b, "%s%s", f->b.n ? " | " : "", name);
}
static const char *flags_text(flags *f) { return f->b.n ? f->b.d : "0"; }

static void number_field(const cJSON *k, const char *name, const char *ctx, double *v, int *has) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(k, name);
    *has = j != NULL;
    *v = 0;
    if (j && !num_of(j, v))
        die("%s: \"%s\" must be a number", ctx, name);
}

static size_t pdef_of(gmethod *m, gparam *g) {
    char ctx[900];
    snprintf(ctx, sizeof ctx, "%s %s: parameter '%s'", m->verb, m->path, g->key);
    const cJSON *k = g->cons;
    double mn, mx, mnl, mxl;
    int hmn, hmx, hmnl, hmxl;
    number_field(k, "minimum", ctx, &mn, &hmn);
    number_field(k, "maximum", ctx, &mx, &hmx);
    number_field(k, "minLength", ctx, &mnl, &hmnl);
    number_field(k, "maxLength", ctx, &mxl, &hmxl);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(k, "format");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(k, "pattern");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(k, "enum");
    if (cJSON_IsNull(en))
        en = NULL; /* "enum": null occurs: no restriction */
    if (en && !cJSON_IsArray(en))
        die("%s: \"enum\" must be an array", ctx);
    if (pat && !cJSON_IsString(pat))
        die("%s: \"pattern\" must be a string", ctx);
    if (fmt && !cJSON_IsString(fmt) && !cJSON_IsObject(fmt))
        die("%s: \"format\" must be a string or an object", ctx);
    char *ere = pat ? perl_to_ere(pat->valuestring) : NULL;
    char *dflt = default_string(cJSON_GetObjectItemCaseSensitive(g->js, "default"));
    size_t n_enum = 0, enum_first = en ? enum_add(en, ctx, &n_enum) : 0;
    flags fl = {{0}};
    flag(&fl, g->required, "PMX_PARAM_REQUIRED");
    flag(&fl, hmn, "PMX_PARAM_HAS_MIN");
    flag(&fl, hmx, "PMX_PARAM_HAS_MAX");
    flag(&fl, hmnl, "PMX_PARAM_HAS_MIN_LENGTH");
    flag(&fl, hmxl, "PMX_PARAM_HAS_MAX_LENGTH");
    flag(&fl, cJSON_IsObject(fmt) || g->fmt, "PMX_PARAM_PROPERTY_STRING");
    flag(&fl, g->count, "PMX_PARAM_INDEXED");
    flag(&fl, g->secret, "PMX_PARAM_SECRET");
    if (hmnl && (mnl < INT32_MIN || mnl > INT32_MAX))
        die("%s: minLength out of range", ctx);
    if (hmxl && (mxl < INT32_MIN || mxl > INT32_MAX))
        die("%s: maxLength out of range", ctx);
    sb rec = {0};
    const char *strs[] = {g->wire, g->cname, pat ? pat->valuestring : NULL, ere,
                          cJSON_IsString(fmt) ? fmt->valuestring : NULL,
                          jstr(g->js, "typetext"), dflt};
    uint32_t o[7];
    pool_add_all(&g_pool, strs, o, 7);
    uint32_t doc = pool_add(&g_docs, jstr(g->js, "description"));
    size_t bounds = bounds_of(mn, mx, mnl, mxl);
    sb_printf(&rec, "{%u, %u, %u, %u, %u, %u, %u, %u, %zu, %zu, %zu, %d, %d, %s, %s, %s}",
              o[0], o[1], o[2], o[3], o[4], o[5], o[6], doc, bounds, enum_first,
              n_enum, g->fmt, g->count, flags_text(&fl), type_enum[g->type],
              type_enum[g->item_type]);
    if (en)
        st.p_enum++;
    if (pat)
        st.p_pattern++;
    if (ere)
        st.p_pattern_posix++;
    if (cJSON_IsString(fmt))
        st.p_format++;
    else if (cJSON_IsObject(fmt))
        st.p_propstring++;
    free(ere);
    free(dflt);
    sb_free(&fl.b);
    for (size_t i = 0; i < g_npdef; i++)
        if (!strcmp(g_pdef_keys[i], rec.d)) {
            sb_free(&rec);
            return i;
        }
    g_pdef_keys = grow(g_pdef_keys, &g_cappdef, g_npdef, sizeof *g_pdef_keys);
    g_pdef_keys[g_npdef] = rec.d;
    sb_printf(&g_pdef_text, "    /* %zu %s */ %s,\n", g_npdef, g->wire, rec.d);
    if (g_npdef + 1 > UINT16_MAX)
        die("too many parameter definitions for the tables");
    return g_npdef++;
}

/* ---- driver ---------------------------------------------------------------------------------- */

static int method_has_secret_result(size_t mi) {
    for (size_t t = 0; t < g_ntypes; t++)
        if (g_types[t].method == mi)
            for (size_t f = 0; f < g_types[t].nf; f++)
                if (g_types[t].f[f].secret)
                    return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void emit_tables(gout *o) {
    pool_init(&g_pool);
    pool_init(&g_docs);
    sb params = {0}, methods = {0}, types = {0}, fields = {0}, fmts = {0}, keys = {0};
    size_t nparams = 0;
    for (size_t mi = 0; mi < g_nm; mi++) {
        gmethod *m = &g_m[mi];
        size_t first = nparams;
        for (size_t k = 0; k < m->np; k++) {
            gparam *g = &m->params[k];
            st.params++;
            if (g->loc == L_PATH)
                st.path_params++;
            switch (g->type) {
            case T_STRING: st.p_string++; break;
            case T_INTEGER: st.p_int++; break;
            case T_BOOLEAN: st.p_bool++; break;
            case T_NUMBER: st.p_num++; break;
            case T_ARRAY: st.p_array++; break;
            }
            if (g->count)
                st.p_indexed++;
            g->def = pdef_of(m, g);
            if (g->loc == L_PATH)
                sb_printf(&params, "    {%zu, %zu, %d, 0}, /* %s */\n", g->def, mi, g->path_pos,
                          g->wire);
            else if (g->type == T_ARRAY)
                sb_printf(&params, "    {%zu, %zu, offsetof(%s_params, %s), offsetof(%s_params, n_%s)},\n",
                          g->def, mi, m->fn, g->cname, m->fn, g->cname);
            else
                sb_printf(&params, "    {%zu, %zu, offsetof(%s_params, %s), 0},\n", g->def, mi,
                          m->fn, g->cname);
            nparams++;
        }
        if (nparams > UINT16_MAX)
            die("too many parameters for the tables");
        flags fl = {{0}};
        flag(&fl, jtrue(m->info, "protected"), "PMX_METHOD_PROTECTED");
        flag(&fl, jtrue(m->info, "allowtoken"), "PMX_METHOD_ALLOWTOKEN");
        flag(&fl, jtrue(m->info, "unstable"), "PMX_METHOD_UNSTABLE");
        flag(&fl, m->secret, "PMX_METHOD_SECRET");
        int verb = 0;
        while (strcmp(verb_enum[verb], m->verb))
            verb++;
        const char *mstrs[] = {m->path, m->fn};
        uint32_t mo[2];
        pool_add_all(&g_pool, mstrs, mo, 2);
        uint32_t mdoc = pool_add(&g_docs, jstr(m->info, "description"));
        sb_printf(&methods, "    /* %zu %s %s */\n    {%u, %u, %u, %zu, %zu, sizeof(%s_params), %d, "
                            "PMX_%s, %zu, %s, 0},\n",
                  mi, m->verb, m->path, mo[0], mo[1], mdoc, first, m->np, m->fn, m->result,
                  m->verb, m->n_path, flags_text(&fl));
        sb_free(&fl.b);
    }
    size_t nfields = 0, nslots = 0, probing = 0;
    sb slots = {0};
    for (size_t ti = 0; ti < g_ntypes; ti++) {
        gtype *t = &g_types[ti];
        if (!t->name[0]) {
            sb_printf(&types, "    {0, 0, 0, 0, %s, 0, 0, 0, 0}, /* %zu: elements */\n",
                      kind_enum[t->kind], ti + 1);
            continue;
        }
        unsigned bits, seed;
        if (member_lookup(t, &slots, &bits, &seed))
            probing++;
        sb_printf(&types, "    {%u, sizeof(%s), %zu, %zu, PMX_KIND_OBJECT, %s, %zu, %u, %u}, /* %zu */\n",
                  pool_add(&g_pool, t->name), t->name, nfields, t->nf,
                  t->wrapped ? "PMX_TYPE_WRAPPED" : "0", nslots, bits, seed, ti + 1);
        nslots += (size_t)1 << bits;
        if (nslots > UINT16_MAX)
            die("too many member lookup slots for the tables");
        for (size_t k = 0; k < t->nf; k++) {
            gfield *f = &t->f[k];
            const char *fstrs[] = {f->json, f->cname};
            uint32_t fo[2];
            pool_add_all(&g_pool, fstrs, fo, 2);
            uint32_t fdoc = pool_add(&g_docs, f->desc);
            sb_printf(&fields, "    {%u, %u, %u, offsetof(%s, %s), ", fo[0], fo[1], fdoc, t->name,
                      f->cname);
            if (f->count[0])
                sb_printf(&fields, "offsetof(%s, %s), ", t->name, f->count);
            else
                sb_puts(&fields, "0, ");
            sb_printf(&fields, "%d, %d, %d, %s, %s},\n", f->type, f->fmt, f->slots,
                      kind_enum[f->kind], f->secret ? "PMX_FIELD_SECRET" : "0");
            nfields++;
        }
        if (nfields > UINT16_MAX)
            die("too many result fields for the tables");
    }
    size_t nkeys = 0;
    for (size_t fi = 0; fi < g_nfmt; fi++) {
        gfmt *f = &g_fmt[fi];
        const char *sstrs[] = {f->name, f->default_key};
        uint32_t so[2];
        pool_add_all(&g_pool, sstrs, so, 2);
        sb_printf(&fmts, "    {%u, %u, sizeof(%s), %zu, %zu},\n", so[0], so[1], f->name, nkeys,
                  f->nkeys);
        for (size_t k = 0; k < f->nkeys; k++) {
            gkey *key = &f->keys[k];
            const cJSON *j = key->js;
            char ctx[900];
            snprintf(ctx, sizeof ctx, "%s: key '%s'", f->origin, key->name);
            const char *alias = jstr(j, "alias");
            const char *fmt = jstr(j, "format");
            double mn, mx, mxl;
            int hmn, hmx, hmxl;
            number_field(j, "minimum", ctx, &mn, &hmn);
            number_field(j, "maximum", ctx, &mx, &hmx);
            number_field(j, "maxLength", ctx, &mxl, &hmxl);
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enum");
            if (cJSON_IsNull(en))
                en = NULL;
            size_t n_enum = 0, enum_first = en ? enum_add(en, ctx, &n_enum) : 0;
            const char *pat = jstr(j, "pattern");
            char *ere = pat ? perl_to_ere(pat) : NULL;
            char *dflt = default_string(cJSON_GetObjectItemCaseSensitive(j, "default"));
            flags fl = {{0}};
            flag(&fl, !alias && !jtrue(j, "optional"), "PMX_PROPKEY_REQUIRED");
            flag(&fl, jtrue(j, "default_key"), "PMX_PROPKEY_DEFAULT_KEY");
            flag(&fl, hmn, "PMX_PROPKEY_HAS_MIN");
            flag(&fl, hmx, "PMX_PROPKEY_HAS_MAX");
            flag(&fl, hmxl, "PMX_PROPKEY_HAS_MAX_LENGTH");
            flag(&fl, alias != NULL, "PMX_PROPKEY_ALIAS");
            flag(&fl, fmt && !strcmp(fmt, "disk-size"), "PMX_PROPKEY_DISK_SIZE");
            const char *kstrs[] = {key->name, key->cname[0] ? key->cname : NULL, pat, ere, fmt,
                                   alias, jstr(j, "keyAlias"), jstr(j, "requires"), dflt,
                                   jstr(j, "format_description")};
            uint32_t ko[10];
            pool_add_all(&g_pool, kstrs, ko, 10);
            uint32_t kdoc = pool_add(&g_docs, jstr(j, "description"));
            size_t kb = bounds_of(mn, mx, 0, mxl);
            sb_printf(&keys, "    {%u, %u, %u, %u, %u, %u, %u, %u, %u, %u, %u, %zu, %zu, %zu, ",
                      ko[0], ko[1], ko[2], ko[3], ko[4], ko[5], ko[6], ko[7], ko[8], ko[9], kdoc, kb,
                      enum_first, n_enum);
            if (key->cname[0])
                sb_printf(&keys, "offsetof(%s, %s), ", f->name, key->cname);
            else
                sb_puts(&keys, "0, ");
            sb_printf(&keys, "%s, %s}, /* %s.%s */\n", type_enum[key->type], flags_text(&fl),
                      f->name + 8, key->name);
            sb_free(&fl.b);
            free(ere);
            free(dflt);
            nkeys++;
        }
    }
    /* secrets for generic calls */
    char **snames = xcalloc(st.params + 1, sizeof *snames);
    size_t nsn = 0;
    for (size_t mi = 0; mi < g_nm; mi++)
        for (size_t k = 0; k < g_m[mi].np; k++)
            if (g_m[mi].params[k].secret)
                snames[nsn++] = g_m[mi].params[k].wire;
    qsort(snames, nsn, sizeof *snames, cmp_str);
    sb secrets = {0};
    sb_puts(&secrets, "const uint32_t pmx__gen_secret_names[] = {\n");
    size_t nuniq = 0;
    for (size_t i = 0; i < nsn; i++) {
        if (i && !strcmp(snames[i], snames[i - 1]))
            continue;
        sb_printf(&secrets, "    %u, /* %s */\n", pool_add(&g_pool, snames[i]), snames[i]);
        nuniq++;
    }
    if (!nuniq)
        sb_puts(&secrets, "    0,\n");
    sb_printf(&secrets, "};\nconst size_t pmx__gen_n_secret_names = %zu;\n\n", nuniq);
    free(snames);
    sb_puts(&secrets, "const uint16_t pmx__gen_secret_results[] = {\n");
    size_t nsr = 0;
    for (size_t mi = 0; mi < g_nm; mi++)
        if (method_has_secret_result(mi)) {
            sb_printf(&secrets, "    %zu, /* %s %s */\n", mi, g_m[mi].verb, g_m[mi].path);
            nsr++;
        }
    if (!nsr)
        sb_puts(&secrets, "    0,\n");
    sb_printf(&secrets, "};\nconst size_t pmx__gen_n_secret_results = %zu;\n", nsr);
    /* by name */
    size_t *idx = xcalloc(g_nm, sizeof *idx);
    for (size_t i = 0; i < g_nm; i++)
        idx[i] = i;
    for (size_t i = 1; i < g_nm; i++)
        for (size_t j = i; j > 0 && strcmp(g_m[idx[j - 1]].fn, g_m[idx[j]].fn) > 0; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }

    sb c = {0};
    sb_puts(&c, o->header);
    sb_puts(&c, "/* Compact tables of the generated bindings (record layouts and conventions: "
                "lib/tables.h).\n * Strings are offsets into pmx__gen_pool, descriptions into "
                "pmx__gen_docs (lib/gen/docs.c). */\n#include \"tables.h\"\n\n#include <stddef.h>\n\n");
    sb_puts(&c, "/* name, c_name, pattern, posix, format, typetext, default, description, bounds,\n"
                " * enum_first, n_enum, propstr, count, flags, type, item_type */\n"
                "const pmx__pdef pmx__gen_pdefs[] = {\n");
    sb_put(&c, g_pdef_text.d, g_pdef_text.n);
    sb_puts(&c, "};\n\n/* definition, method, offset (path: position), count_offset */\n"
                "const struct pmx_param_desc pmx__gen_params[] = {\n");
    sb_put(&c, params.d, params.n);
    sb_puts(&c, "};\n\n/* path, name, description, first_param, n_params, params_size, result, "
                "verb, n_path, flags */\nconst struct pmx_method_desc pmx__gen_methods[] = {\n");
    sb_put(&c, methods.d, methods.n);
    sb_printf(&c, "};\nconst size_t pmx__gen_n_methods = %zu;\n\n", g_nm);
    sb_puts(&c, "/* Methods by function name. */\nconst uint16_t pmx__gen_by_name[] = {\n");
    for (size_t i = 0; i < g_nm; i++)
        sb_printf(&c, "    %zu, /* %s */\n", idx[i], g_m[idx[i]].fn);
    sb_puts(&c, "};\n\n/* name, struct_size, first_field, n_fields, kind, flags, first_slot, "
                "slot_bits, seed */\nconst struct pmx_type_desc pmx__gen_types[] = {\n");
    sb_put(&c, types.d, types.n);
    sb_puts(&c, "};\n\n/* name, c_name, description, offset, count_offset, type, propstr, count, "
                "kind, flags */\nconst struct pmx_field_desc pmx__gen_fields[] = {\n");
    sb_put(&c, fields.d, fields.n);
    sb_printf(&c, "};\n\n/* Member lookup tables, one per type (lib/namehash.h): %zu slots; %zu "
                  "type(s) need\n * probing, all others find a member in its own slot. */\n"
                  "const uint8_t pmx__gen_slots[] = {\n",
              nslots, probing);
    sb_put(&c, slots.d, slots.n);
    if (!nslots)
        sb_puts(&c, "    0,\n");
    sb_puts(&c, "};\n\n/* name, default_key, struct_size, first_key, n_keys */\n"
                "const struct pmx_propstr_desc pmx__gen_propstrs[] = {\n");
    sb_put(&c, fmts.d, fmts.n);
    if (!g_nfmt)
        sb_puts(&c, "    {0, 0, 0, 0, 0},\n");
    sb_printf(&c, "};\nconst size_t pmx__gen_n_propstrs = %zu;\n\n", g_nfmt);
    sb_puts(&c, "/* name, c_name, pattern, posix, format, alias, key_alias, requires, default,\n"
                " * format_description, description, bounds, enum_first, "
                "n_enum, offset,\n * type, flags */\nconst struct pmx_propkey_desc pmx__gen_keys[] = {\n");
    sb_put(&c, keys.d, keys.n);
    if (!nkeys)
        sb_puts(&c, "    {0},\n");
    sb_puts(&c, "};\n\n/* minimum, maximum, min_length, max_length: shared by parameters and keys. */\n"
                "const pmx__bounds pmx__gen_bounds[] = {\n");
    sb_put(&c, g_bounds_text.d, g_bounds_text.n);
    if (!g_nbounds)
        sb_puts(&c, "    {0, 0, 0, 0},\n");
    sb_puts(&c, "};\n\n/* Enum values (pool offsets), lists shared between parameters and keys. */\n"
                "const uint32_t pmx__gen_enums[] = {\n");
    sb_put(&c, g_enum_text.d, g_enum_text.n);
    if (!g_nenum)
        sb_puts(&c, "    0,\n");
    sb_puts(&c, "};\n\n");
    sb_put(&c, secrets.d, secrets.n);
    sb_printf(&c, "\n/* The string pool: %zu strings, %zu bytes. */\nconst char pmx__gen_pool[] =\n",
              g_pool.n, g_pool.size);
    sb_put(&c, g_pool.text.d, g_pool.text.n);
    sb_puts(&c, "    ;\n");
    out_file(o, o->src_dir, "tables.c", &c);
    sb_free(&c);

    sb d = {0};
    sb_puts(&d, o->header);
    sb_printf(&d, "/* Descriptions of methods, parameters, result fields and property-string keys "
                  "for run-time\n * introspection (pmx_*_describe); the typed calls never read "
                  "them. %zu strings, %zu bytes. */\n#include \"tables.h\"\n\nconst char "
                  "pmx__gen_docs[] =\n",
              g_docs.n, g_docs.size);
    sb_put(&d, g_docs.text.d, g_docs.text.n);
    sb_puts(&d, "    ;\n");
    out_file(o, o->src_dir, "docs.c", &d);
    sb_free(&d);

    free(idx);
    sb_free(&params);
    sb_free(&methods);
    sb_free(&types);
    sb_free(&slots);
    sb_free(&fields);
    sb_free(&fmts);
    sb_free(&keys);
    sb_free(&secrets);
    sb_free(&g_pdef_text);
    sb_free(&g_enum_text);
    sb_free(&g_bounds_text);
    for (size_t i = 0; i < g_nbounds; i++)
        free(g_bounds_keys[i]);
    free(g_bounds_keys);
    for (size_t i = 0; i < g_npdef; i++)
        free(g_pdef_keys[i]);
    free(g_pdef_keys);
    for (size_t i = 0; i < g_nenum_lists; i++)
        free(g_enum_keys[i]);
    free(g_enum_keys);
    free(g_enum_first);
    pool_free(&g_pool);
    pool_free(&g_docs);
}
