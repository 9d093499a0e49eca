/* pmx-gen: load and normalise the schema into the model (gen.h): methods and their
 * parameters, result types, property-string formats, secrets, and the struct layouts. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gmethod *g_m;
size_t g_nm;
gtype *g_types;
size_t g_ntypes;
gfmt *g_fmt;
size_t g_nfmt;
cJSON *g_over;
gstats st;

static size_t g_capm, g_captypes, g_capfmt;

/* ---- secrets ---------------------------------------------------------------------------------- */

/* A parameter or result member is secret when its name is in overrides "secrets.names", or in
 * "secrets.fields" for its method ("VERB /path": [names]). */
static int is_secret(const char *where, const char *name) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(g_over, "secrets");
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(s, "names"))
        if (cJSON_IsString(it) && !strcmp(it->valuestring, name))
            return 1;
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "fields"), where);
    cJSON_ArrayForEach(it, per)
        if (cJSON_IsString(it) && !strcmp(it->valuestring, name))
            return 1;
    return 0;
}

/* ---- methods and parameters ------------------------------------------------------------------- */

static int verb_ok(const char *v) {
    return !strcmp(v, "GET") || !strcmp(v, "POST") || !strcmp(v, "PUT") || !strcmp(v, "DELETE");
}

static int param_type(const char *where, const char *name, const cJSON *js) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(js, "type");
    if (!t)
        return T_STRING; /* PVE's JSONSchema defaults to string */
    if (!cJSON_IsString(t))
        die("%s: parameter '%s': \"type\" must be a string", where, name);
    const char *s = t->valuestring;
    if (!strcmp(s, "string"))
        return T_STRING;
    if (!strcmp(s, "integer"))
        return T_INTEGER;
    if (!strcmp(s, "boolean"))
        return T_BOOLEAN;
    if (!strcmp(s, "number"))
        return T_NUMBER;
    if (!strcmp(s, "array"))
        return T_ARRAY;
    die("%s: parameter '%s': unsupported parameter type '%s'", where, name, s);
}

static int indexed_count(const char *where, const char *base, const cJSON *js) {
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(g_over, "indexed");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(ix, base);
    if (cJSON_IsNumber(n) && n->valueint > 0)
        return n->valueint;
    const char *d = jstr(js, "description");
    const char *m = d ? strstr(d, "(n is 0 to ") : NULL;
    if (m)
        return atoi(m + 11) + 1;
    die("%s: parameter '%s[n]': unknown number of slots; add \"indexed\": {\"%s\": N} to the "
        "overrides", where, base, base);
}

static int cmp_param(const void *a, const void *b) {
    const gparam *x = a, *y = b;
    if (x->loc == L_PATH || y->loc == L_PATH) {
        if (x->loc != y->loc)
            return x->loc == L_PATH ? -1 : 1;
        return x->path_pos - y->path_pos;
    }
    int c = strcmp(x->wire, y->wire);
    return c ? c : strcmp(x->key, y->key); /* "numa" before "numa[n]" */
}


const char *param_ctype(const gparam *g) {
    static char buf[200];
    switch (g->type) {
    case T_STRING:
        if (g->count) {
            snprintf(buf, sizeof buf, "const~char*[%d]", g->count);
            return buf;
        }
        return "const~char*";
    case T_INTEGER: return g->required ? "int64_t" : "pmx_opt_i64";
    case T_BOOLEAN: return g->required ? "int" : "pmx_opt_bool";
    case T_NUMBER: return g->required ? "double" : "pmx_opt_f64";
    case T_ARRAY:
        snprintf(buf, sizeof buf, "const~char*const*+n_%s", g->cname);
        return buf;
    }
    return "?";
}

/* The parameter list of one method. */
static void analyse(gmethod *m) {
    char where[600];
    snprintf(where, sizeof where, "%s %s", m->verb, m->path);
    method_names(m->verb, m->path, m->fn, sizeof m->fn, m->section, sizeof m->section);
    char segs[64][128];
    int nseg = 0;
    for (const char *p = m->path; *p && nseg < 64;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        snprintf(segs[nseg++], sizeof segs[0], "%.*s", (int)(n < 127 ? n : 127), p);
        p += n;
    }

    /* parameters */
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(m->info, "parameters");
    if (params && !cJSON_IsObject(params))
        die("%s: \"parameters\" must be an object", where);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties");
    if (props && !cJSON_IsObject(props))
        die("%s: \"parameters.properties\" must be an object", where);
    size_t np = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, props) np++;
    int npath = 0;
    for (int i = 0; i < nseg; i++)
        if (segs[i][0] == '{')
            npath++;
    m->params = xcalloc(np + (size_t)npath, sizeof(gparam));
    /* path params first, in path order (also those the schema does not list) */
    for (int i = 0, pos = 0; i < nseg; i++) {
        if (segs[i][0] != '{')
            continue;
        gparam *g = &m->params[m->np++];
        size_t n = strlen(segs[i]);
        snprintf(g->wire, sizeof g->wire, "%.*s", (int)(n - 2), segs[i] + 1);
        g->js = cJSON_GetObjectItemCaseSensitive(props, g->wire);
        g->key = g->js ? g->js->string : xstrdup(g->wire);
        if (g->js && !cJSON_IsObject(g->js))
            die("%s: parameter '%s' must be an object", where, g->wire);
        g->cons = g->js;
        g->type = g->js ? param_type(where, g->wire, g->js) : T_STRING;
        if (g->type != T_STRING && g->type != T_INTEGER)
            die("%s: path parameter '%s' must be a string or an integer", where, g->wire);
        g->item_type = g->type;
        g->loc = L_PATH;
        g->required = 1;
        g->path_pos = pos++;
    }
    m->n_path = m->np;
    int body = !strcmp(m->verb, "POST") || !strcmp(m->verb, "PUT");
    cJSON_ArrayForEach(it, props) {
        const char *k = it->string;
        int is_path = 0;
        for (size_t i = 0; i < m->n_path; i++)
            if (!strcmp(m->params[i].wire, k))
                is_path = 1;
        if (is_path)
            continue;
        if (!cJSON_IsObject(it))
            die("%s: parameter '%s' must be an object", where, k);
        gparam *g = &m->params[m->np++];
        g->key = k;
        g->js = it;
        g->cons = it;
        size_t kl = strlen(k);
        if (kl > 3 && !strcmp(k + kl - 3, "[n]")) {
            snprintf(g->wire, sizeof g->wire, "%.*s", (int)(kl - 3), k);
            g->count = indexed_count(where, g->wire, it);
        } else {
            if (strchr(k, '[') || strchr(k, '{'))
                die("%s: parameter '%s': unsupported name", where, k);
            snprintf(g->wire, sizeof g->wire, "%s", k);
        }
        g->type = param_type(where, k, it);
        g->item_type = g->type;
        if (g->type == T_ARRAY) {
            const cJSON *items = cJSON_GetObjectItemCaseSensitive(it, "items");
            if (items && !cJSON_IsObject(items) && !cJSON_IsNull(items))
                die("%s: parameter '%s': \"items\" must be an object", where, k);
            if (cJSON_IsObject(items)) {
                g->cons = items;
                g->item_type = param_type(where, k, items);
                if (g->item_type == T_ARRAY)
                    die("%s: parameter '%s': arrays of arrays are not supported", where, k);
            } else {
                g->item_type = T_STRING;
            }
        }
        if (g->count && g->type != T_STRING)
            die("%s: parameter '%s': indexed parameters must be strings", where, k);
        g->loc = body ? L_BODY : L_QUERY;
        g->required = !jtrue(it, "optional");
    }
    qsort(m->params + m->n_path, m->np - m->n_path, sizeof(gparam), cmp_param);
    /* C names, unique within the struct / argument list */
    static const char *const reserved[] = {"c", "p", "done", "userdata", "out", "path_args"};
    for (size_t i = 0; i < m->np; i++) {
        gparam *g = &m->params[i];
        char fk[900];
        snprintf(fk, sizeof fk, "%s %s %s", m->verb, m->path, g->key);
        const char *ren = jstr(cJSON_GetObjectItemCaseSensitive(g_over, "field_names"), fk);
        mangle(ren ? ren : g->wire, g->cname, sizeof g->cname);
        if (g->loc == L_PATH)
            for (size_t r = 0; r < sizeof reserved / sizeof *reserved; r++)
                if (!strcmp(g->cname, reserved[r]))
                    strcat(g->cname, "_");
    }
    for (size_t i = 0; i < m->np; i++)
        for (size_t j = 0; j < m->np; j++) {
            char cnt[160];
            snprintf(cnt, sizeof cnt, "n_%s", m->params[j].cname);
            if (m->params[i].loc != L_PATH && !strcmp(m->params[i].cname, "struct_size"))
                die("%s: parameter '%s' maps to the C name struct_size, the size member of the "
                    "_params struct; add a \"field_names\" override", where, m->params[i].key);
            if (i != j && (!strcmp(m->params[i].cname, m->params[j].cname) ||
                           (m->params[j].type == T_ARRAY && !strcmp(m->params[i].cname, cnt))))
                die("%s: parameters '%s' and '%s' both map to the C name '%s'; add a "
                    "\"field_names\" entry \"%s %s\" to the overrides",
                    where, m->params[i].key, m->params[j].key, m->params[i].cname, where,
                    m->params[i].key);
        }
}

static void walk(const cJSON *node, const char *where) {
    if (!cJSON_IsObject(node))
        die("%s: tree node must be an object", where);
    const char *path = jstr(node, "path");
    if (!path)
        die("%s: tree node without a string \"path\"", where);
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(node, "info");
    if (info && !cJSON_IsObject(info))
        die("%s: \"info\" must be an object", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, info) {
        if (!verb_ok(it->string))
            die("%s: unknown HTTP method '%s'", path, it->string);
        if (!cJSON_IsObject(it))
            die("%s %s: method description must be an object", it->string, path);
        g_m = grow(g_m, &g_capm, g_nm, sizeof *g_m);
        gmethod *m = &g_m[g_nm++];
        m->path = path;
        m->verb = it->string;
        m->info = it;
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(node, "children");
    if (ch && !cJSON_IsArray(ch))
        die("%s: \"children\" must be an array", path);
    cJSON_ArrayForEach(it, ch) walk(it, path);
}

static int cmp_method(const void *a, const void *b) {
    const gmethod *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : strcmp(x->verb, y->verb);
}

/* ---- property-string formats ------------------------------------------------------------------ */

/* Keys of format a are a subset of those of b, each with the same schema. */
static int fmt_subset(const cJSON *a, const cJSON *b) {
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, it->string);
        if (!o)
            return 0;
        char *x = canon_text(it), *y = canon_text(o);
        int eq = !strcmp(x, y);
        free(x);
        free(y);
        if (!eq)
            return 0;
    }
    return 1;
}

static int key_type(const cJSON *k, const char *ctx) {
    const char *t = jstr(k, "type");
    if (!t || !strcmp(t, "string"))
        return T_STRING;
    if (!strcmp(t, "integer"))
        return T_INTEGER;
    if (!strcmp(t, "boolean"))
        return T_BOOLEAN;
    if (!strcmp(t, "number"))
        return T_NUMBER;
    die("%s: unsupported property-string key type '%s'", ctx, t);
}

/* Check a format object before anything is written: key types, aliases, one default key. */
static void fmt_validate(const cJSON *js, const char *ctx) {
    const cJSON *k;
    const char *dkey = NULL;
    cJSON_ArrayForEach(k, js) {
        char kc[900];
        snprintf(kc, sizeof kc, "%s: key '%s'", ctx, k->string);
        if (!cJSON_IsObject(k))
            die("%s: key schema must be an object", kc);
        const char *alias = jstr(k, "alias");
        const char *kalias = jstr(k, "keyAlias");
        if (kalias && !alias)
            die("%s: keyAlias without alias", kc);
        if (alias) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(js, alias);
            if (!t || jstr(t, "alias"))
                die("%s: alias target '%s' is not a key of the format", kc, alias);
        } else {
            key_type(k, kc);
        }
        if (kalias) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(js, kalias);
            if (!t || jstr(t, "alias"))
                die("%s: keyAlias target '%s' is not a key of the format", kc, kalias);
        }
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(k, "format");
        if (f && !cJSON_IsString(f))
            die("%s: nested property-string formats are not supported", kc);
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(k, "enum");
        if (en && !cJSON_IsNull(en) && !cJSON_IsArray(en))
            die("%s: \"enum\" must be an array", kc);
        const char *nums[] = {"minimum", "maximum", "maxLength"};
        for (size_t i = 0; i < 3; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(k, nums[i]);
            double d;
            if (v && !num_of(v, &d))
                die("%s: \"%s\" must be a number", kc, nums[i]);
        }
        if (jtrue(k, "default_key")) {
            if (dkey)
                die("%s: multiple default keys ('%s', '%s')", ctx, dkey, k->string);
            if (alias)
                die("%s: a default key cannot be an alias", kc);
            dkey = k->string;
        }
    }
}

/* Register a use of format object @p js by parameter / member @p pname at @p where; returns
 * the format's index + 1. Results may map onto a parameter format of the same name whose keys
 * they are a subset of (config results omit create-only keys). */
static int fmt_register(const cJSON *js, const char *where, const char *path, const char *pname,
                        int result) {
    char ctx[800];
    snprintf(ctx, sizeof ctx, "%s %s", where, pname);
    if (!cJSON_IsObject(js) || !js->child)
        die("%s: property-string format must be a non-empty object", ctx);
    st.fmt_uses++;
    if (result)
        st.fmt_result_uses++;
    else
        st.fmt_param_uses++;
    fmt_validate(js, ctx);
    char *c = canon_text(js);
    for (size_t i = 0; i < g_nfmt; i++)
        if (!strcmp(g_fmt[i].canon, c)) {
            free(c);
            g_fmt[i].uses++;
            return (int)i + 1;
        }
    char name[256];
    const char *ov = jstr(cJSON_GetObjectItemCaseSensitive(g_over, "propstr_names"), ctx);
    if (ov) {
        if (strncmp(ov, "pve_fmt_", 8) != 0)
            die("overrides: propstr_names \"%s\": \"%s\" must start with pve_fmt_", ctx, ov);
        mangle(ov, name, sizeof name);
    } else {
        char area[64], base[128], mb[128];
        path_area(path, area, sizeof area);
        size_t pl = strlen(pname);
        size_t bl = pl > 3 && !strcmp(pname + pl - 3, "[n]") ? pl - 3 : pl;
        snprintf(base, sizeof base, "%.*s", (int)bl, pname);
        mangle(base, mb, sizeof mb);
        snprintf(name, sizeof name, "pve_fmt_%s_%s", area, mb);
    }
    for (size_t i = 0; i < g_nfmt; i++)
        if (!strcmp(g_fmt[i].name, name)) {
            if (result && fmt_subset(js, g_fmt[i].js)) {
                free(c);
                g_fmt[i].uses++;
                return (int)i + 1;
            }
            die("property-string format name clash: %s is derived for both %s and %s, whose "
                "formats differ; add a \"propstr_names\" entry \"%s\": \"pve_fmt_...\" to the "
                "overrides",
                name, g_fmt[i].origin, ctx, ctx);
        }
    g_fmt = grow(g_fmt, &g_capfmt, g_nfmt, sizeof *g_fmt);
    gfmt *f = &g_fmt[g_nfmt++];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->origin, sizeof f->origin, "%s", ctx);
    f->pname = pname;
    f->js = js;
    f->canon = c;
    f->uses = 1;
    return (int)g_nfmt;
}

/* The format object of a parameter or member schema: its "format" when that is an object,
 * or a named format described in the overrides ("propstr_formats"). */
static const cJSON *fmt_object(const cJSON *js) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(js, "format");
    if (cJSON_IsObject(f))
        return f;
    if (cJSON_IsString(f))
        return cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(g_over, "propstr_formats"), f->valuestring);
    return NULL;
}

/* Result members with a format: member schema -> format index + 1. */
static struct rlink {
    const cJSON *js;
    int fmt;
} *g_rlink;
static size_t g_nrlink, g_caprlink;

static void fmt_walk_result(const cJSON *js, const char *where, const char *path,
                            const char *member, int depth) {
    if (!cJSON_IsObject(js) || depth > 16)
        return;
    const cJSON *f = fmt_object(js);
    if (f && member) {
        int idx = fmt_register(f, where, path, member, 1);
        g_rlink = grow(g_rlink, &g_caprlink, g_nrlink, sizeof *g_rlink);
        g_rlink[g_nrlink].js = js;
        g_rlink[g_nrlink++].fmt = idx;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(js, "properties");
    const cJSON *it;
    if (cJSON_IsObject(props))
        cJSON_ArrayForEach(it, props) fmt_walk_result(it, where, path, it->string, depth + 1);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(js, "items");
    if (cJSON_IsObject(items))
        fmt_walk_result(items, where, path, member, depth + 1);
}

static int fmt_of_member(const cJSON *js) {
    for (size_t i = 0; i < g_nrlink; i++)
        if (g_rlink[i].js == js)
            return g_rlink[i].fmt;
    return 0;
}

static int cmp_keyjs(const void *a, const void *b) {
    return strcmp(((const gkey *)a)->name, ((const gkey *)b)->name);
}

/* Collect the formats (parameters first: their names win), sort them by name, build keys. */
static void fmt_collect(void) {
    for (size_t i = 0; i < g_nm; i++) {
        gmethod *m = &g_m[i];
        char where[600];
        snprintf(where, sizeof where, "%s %s", m->verb, m->path);
        for (size_t k = m->n_path; k < m->np; k++) {
            gparam *g = &m->params[k];
            const cJSON *f = fmt_object(g->cons);
            if (f)
                g->fmt = fmt_register(f, where, m->path, g->key, 0);
        }
    }
    for (size_t i = 0; i < g_nm; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s %s", g_m[i].verb, g_m[i].path);
        fmt_walk_result(cJSON_GetObjectItemCaseSensitive(g_m[i].info, "returns"), where,
                        g_m[i].path, NULL, 0);
    }
    /* name order; references (g->fmt, g_rlink) are remapped */
    size_t *order = xcalloc(g_nfmt, sizeof *order), *pos = xcalloc(g_nfmt, sizeof *pos);
    for (size_t i = 0; i < g_nfmt; i++)
        order[i] = i;
    for (size_t i = 1; i < g_nfmt; i++)
        for (size_t k = i; k > 0 && strcmp(g_fmt[order[k - 1]].name, g_fmt[order[k]].name) > 0; k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    gfmt *sorted = xcalloc(g_nfmt, sizeof *sorted);
    for (size_t i = 0; i < g_nfmt; i++) {
        sorted[i] = g_fmt[order[i]];
        sorted[i].index = i;
        pos[order[i]] = i;
    }
    free(g_fmt);
    g_fmt = sorted;
    g_capfmt = g_nfmt;
    for (size_t i = 0; i < g_nm; i++)
        for (size_t k = 0; k < g_m[i].np; k++)
            if (g_m[i].params[k].fmt)
                g_m[i].params[k].fmt = (int)pos[g_m[i].params[k].fmt - 1] + 1;
    for (size_t i = 0; i < g_nrlink; i++)
        g_rlink[i].fmt = (int)pos[g_rlink[i].fmt - 1] + 1;
    free(order);
    free(pos);
    for (size_t i = 0; i < g_nfmt; i++) {
        gfmt *f = &g_fmt[i];
        const cJSON *it;
        cJSON_ArrayForEach(it, f->js) f->nkeys++;
        f->keys = xcalloc(f->nkeys, sizeof *f->keys);
        size_t n = 0;
        cJSON_ArrayForEach(it, f->js) {
            f->keys[n].js = it;
            f->keys[n++].name = it->string;
        }
        qsort(f->keys, n, sizeof *f->keys, cmp_keyjs);
        gmember *fresh = xcalloc(n, sizeof *fresh);
        size_t nfresh = 0;
        for (size_t k = 0; k < n; k++) {
            gkey *key = &f->keys[k];
            if (jtrue(key->js, "default_key"))
                f->default_key = key->name;
            if (jstr(key->js, "alias")) {
                st.fmt_aliases++;
                continue;
            }
            char ctx[900];
            snprintf(ctx, sizeof ctx, "%s: key '%s'", f->origin, key->name);
            key->type = key_type(key->js, ctx);
            mangle(key->name, key->cname, sizeof key->cname);
            if (!strcmp(key->cname, "struct_size"))
                die("%s: maps to the C name struct_size, the size member", ctx);
            for (size_t j = 0; j < k; j++)
                if (f->keys[j].cname[0] && !strcmp(f->keys[j].cname, key->cname))
                    die("%s: keys '%s' and '%s' both map to the C name '%s'", f->origin,
                        f->keys[j].name, key->name, key->cname);
            st.fmt_keys++;
            gmember *mb = &fresh[nfresh++];
            snprintf(mb->cname, sizeof mb->cname, "%s", key->cname);
            snprintf(mb->ctype, sizeof mb->ctype, "%s",
                     key->type == T_STRING    ? "char*"
                     : key->type == T_INTEGER ? "pmx_opt_i64"
                     : key->type == T_BOOLEAN ? "pmx_opt_bool"
                                              : "pmx_opt_f64");
            mb->src = (int)k;
        }
        f->lay = layout_apply(f->name, fresh, nfresh, &f->nlay);
        free(fresh);
    }
}

/* ---- result types ------------------------------------------------------------------------------ */

static void note_type_name(const char *name, const char *where) {
    for (size_t i = 0; i < g_ntypes; i++)
        if (!strcmp(g_types[i].name, name))
            die("%s: generated type name '%s' is used twice", where, name);
}

static const char *schema_type(const cJSON *js, const char *where) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(js, "type");
    if (!t)
        return cJSON_GetObjectItemCaseSensitive(js, "properties") ? "object" : NULL;
    if (!cJSON_IsString(t))
        die("%s: \"type\" must be a string", where);
    return t->valuestring;
}

static int has_props(const cJSON *js) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(js, "properties");
    return cJSON_IsObject(p) && p->child;
}

static int scalar_kind(const char *t, int optional) {
    if (!t)
        return K_RAW;
    if (!strcmp(t, "string"))
        return K_STR;
    if (!strcmp(t, "integer"))
        return optional ? K_OPT_I64 : K_I64;
    if (!strcmp(t, "boolean"))
        return optional ? K_OPT_BOOL : K_BOOL;
    if (!strcmp(t, "number"))
        return optional ? K_OPT_F64 : K_F64;
    return K_RAW; /* any, null, object without properties */
}

static const char *kind_token(int k) {
    switch (k) {
    case K_STR: case K_RAW: return "char*";
    case K_I64: return "int64_t";
    case K_OPT_I64: return "pmx_opt_i64";
    case K_BOOL: return "int";
    case K_OPT_BOOL: return "pmx_opt_bool";
    case K_F64: return "double";
    case K_OPT_F64: return "pmx_opt_f64";
    }
    return "?";
}

/* The element type of scalar arrays: one per kind, shared. */
static int scalar_type(int kind) {
    for (size_t i = 0; i < g_ntypes; i++)
        if (!g_types[i].name[0] && g_types[i].kind == kind)
            return (int)i + 1;
    g_types = grow(g_types, &g_captypes, g_ntypes, sizeof *g_types);
    g_types[g_ntypes].kind = kind;
    g_types[g_ntypes].method = (size_t)-1;
    return (int)++g_ntypes;
}

static int build_struct(size_t mi, const char *tname, const cJSON *js, const char *where);

/* How one value (a property or an array element) is represented. */
static void field_of(size_t mi, const char *owner, const char *name, const cJSON *js,
                     int optional, const char *where, gfield *fi, int wrap_top) {
    if (wrap_top)
        snprintf(fi->cname, sizeof fi->cname, "%s", name);
    else
        mangle(name, fi->cname, sizeof fi->cname);
    if (js && !cJSON_IsObject(js))
        die("%s: schema of '%s' must be an object", where, name);
    const char *t = js ? schema_type(js, where) : NULL;
    char sub[300];
    if (wrap_top)
        snprintf(sub, sizeof sub, "%s", owner);
    else
        snprintf(sub, sizeof sub, "%s_%s", owner, fi->cname);
    if (t && !strcmp(t, "object") && has_props(js)) {
        fi->kind = K_OBJ;
        fi->type = build_struct(mi, sub, js, where);
        snprintf(fi->ctype, sizeof fi->ctype, "struct~%s*", sub);
        return;
    }
    if (t && !strcmp(t, "array")) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(js, "items");
        const char *it = cJSON_IsObject(items) ? schema_type(items, where) : NULL;
        fi->kind = K_ARR;
        if (wrap_top)
            snprintf(fi->count, sizeof fi->count, "n");
        else
            snprintf(fi->count, sizeof fi->count, "n_%s", fi->cname);
        if (it && !strcmp(it, "object") && has_props(items)) {
            fi->type = build_struct(mi, sub, items, where);
            snprintf(fi->ctype, sizeof fi->ctype, "struct~%.160s**+%.150s", sub, fi->count);
            return;
        }
        int ek = scalar_kind(it, 0);
        fi->type = scalar_type(ek);
        snprintf(fi->ctype, sizeof fi->ctype, "%s*+%s", kind_token(ek), fi->count);
        return;
    }
    fi->kind = scalar_kind(t, optional);
    snprintf(fi->ctype, sizeof fi->ctype, "%s", kind_token(fi->kind));
}

/* By JSON name; a plain member sorts before an indexed one of the same base ("numa" before
 * "numa[n]"), which the decoder relies on. */
static int cmp_field(const void *a, const void *b) {
    const gfield *x = a, *y = b;
    int c = strcmp(x->json, y->json);
    return c ? c : x->slots - y->slots;
}

/* The struct type @p tname for object schema @p js; returns its index + 1. */
static int build_struct(size_t mi, const char *tname, const cJSON *js, const char *where) {
    note_type_name(tname, where);
    g_types = grow(g_types, &g_captypes, g_ntypes, sizeof *g_types);
    size_t ti = g_ntypes++;
    snprintf(g_types[ti].name, sizeof g_types[ti].name, "%s", tname);
    g_types[ti].kind = K_OBJ;
    g_types[ti].method = mi;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(js, "properties");
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, props) n++;
    gfield *fs = xcalloc(n, sizeof *fs);
    n = 0;
    char w[900];
    char mwhere[600];
    snprintf(mwhere, sizeof mwhere, "%s %s", g_m[mi].verb, g_m[mi].path);
    cJSON_ArrayForEach(it, props) {
        gfield *f = &fs[n++];
        f->js = it;
        f->desc = jstr(it, "description");
        size_t kl = strlen(it->string);
        const char *ty = cJSON_IsObject(it) ? schema_type(it, where) : NULL;
        snprintf(w, sizeof w, "%s: result field '%s'", where, it->string);
        if (kl > 3 && !strcmp(it->string + kl - 3, "[n]") && (!ty || !strcmp(ty, "string"))) {
            snprintf(f->json, sizeof f->json, "%.*s", (int)(kl - 3), it->string);
            f->slots = indexed_count(where, f->json, it);
        } else {
            snprintf(f->json, sizeof f->json, "%s", it->string);
        }
    }
    qsort(fs, n, sizeof *fs, cmp_field);
    for (size_t i = 0; i < n; i++) {
        gfield *f = &fs[i];
        snprintf(w, sizeof w, "%s: result field '%s'", where, f->json);
        if (f->slots) {
            char base[128];
            mangle(f->json, base, sizeof base);
            int dup = i > 0 && !strcmp(fs[i - 1].json, f->json);
            snprintf(f->cname, sizeof f->cname, "%s%s", base, dup ? "_n" : "");
            f->kind = K_STR;
            snprintf(f->ctype, sizeof f->ctype, "char*[%d]", f->slots);
        } else {
            field_of(mi, tname, f->js->string, f->js, jtrue(f->js, "optional"), w, f, 0);
        }
        if (!strcmp(f->cname, "struct_size"))
            die("%s: maps to the reserved C name struct_size", w);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f->cname, fs[j].cname) || (fs[j].count[0] && !strcmp(f->cname, fs[j].count)))
                die("%s: result fields '%s' and '%s' clash as C name '%s'", where, f->json,
                    fs[j].json, f->cname);
        if (f->kind == K_STR)
            f->fmt = fmt_of_member(f->js);
        f->secret = is_secret(mwhere, f->json);
        if (f->secret) {
            st.fields_secret++;
            g_m[mi].secret = 1;
        }
        st.fields++;
        if (f->kind == K_RAW)
            st.fields_raw++;
        else
            st.fields_typed++;
    }
    /* g_types may have moved while nested types were built */
    gtype *t = &g_types[ti];
    t->f = fs;
    t->nf = n;
    gmember *fresh = xcalloc(n, sizeof *fresh);
    for (size_t i = 0; i < n; i++) {
        snprintf(fresh[i].cname, sizeof fresh[i].cname, "%s", fs[i].cname);
        snprintf(fresh[i].ctype, sizeof fresh[i].ctype, "%s", fs[i].ctype);
        fresh[i].src = (int)i;
    }
    t->lay = layout_apply(tname, fresh, n, &t->nlay);
    free(fresh);
    return (int)ti + 1;
}

/* The result type of method mi (0: none). */
static void build_result(size_t mi) {
    gmethod *m = &g_m[mi];
    char where[600];
    snprintf(where, sizeof where, "%s %s", m->verb, m->path);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m->info, "returns");
    if (r && !cJSON_IsObject(r))
        die("%s: \"returns\" must be an object", where);
    const char *t = r ? schema_type(r, where) : NULL;
    /* No "returns", or type null: no result. An empty schema ({}) means "anything": PVE does
     * answer those with data, so they get a raw JSON result rather than none. */
    if (!r || (t && !strcmp(t, "null"))) {
        st.results_none++;
        return;
    }
    st.results++;
    char tname[300];
    snprintf(tname, sizeof tname, "%s_result", m->fn);
    if (t && !strcmp(t, "object") && has_props(r)) {
        st.results_struct++;
        m->rkind = 1;
        m->result = build_struct(mi, tname, r, where);
        g_types[m->result - 1].top = 1;
        g_types[m->result - 1].doc = jstr(r, "description");
        return;
    }
    /* wrapped: array -> items + n, else value */
    int is_arr = t && !strcmp(t, "array");
    char owner[300];
    snprintf(owner, sizeof owner, "%s_item", m->fn);
    gfield *fi = xcalloc(1, sizeof *fi);
    field_of(mi, owner, is_arr ? "items" : "value", r, 0, where, fi, 1);
    snprintf(fi->json, sizeof fi->json, "%.*s", (int)sizeof fi->json - 1, fi->cname);
    if (is_arr)
        st.results_array++, m->rkind = 2;
    else if (fi->kind == K_RAW)
        st.results_raw++, m->rkind = 4;
    else
        st.results_scalar++, m->rkind = 3;
    note_type_name(tname, where);
    g_types = grow(g_types, &g_captypes, g_ntypes, sizeof *g_types);
    gtype *ty = &g_types[g_ntypes++];
    snprintf(ty->name, sizeof ty->name, "%s", tname);
    ty->kind = K_OBJ;
    ty->wrapped = 1;
    ty->top = 1;
    ty->method = mi;
    ty->doc = jstr(r, "description");
    ty->top_note = is_arr ? "Result type: the array's elements (allocated by the library, "
                            "borrowed from the call until its last reference is dropped)."
                   : fi->kind == K_RAW ? "Result type: the JSON text of \"data\", which the "
                                         "schema leaves open (borrowed from the call)."
                                       : "Result type: the value of \"data\" (borrowed from the "
                                         "call).";
    ty->f = fi;
    ty->nf = 1;
    gmember fresh = {{0}, {0}, 0};
    snprintf(fresh.cname, sizeof fresh.cname, "%s", fi->cname);
    snprintf(fresh.ctype, sizeof fresh.ctype, "%s", fi->ctype);
    ty->lay = layout_apply(tname, &fresh, 1, &ty->nlay);
    m->result = (int)g_ntypes;
}

/* ---- driver ------------------------------------------------------------------------------------ */

void schema_load(const cJSON *root) {
    const cJSON *it;
    cJSON_ArrayForEach(it, root) walk(it, "schema");
    if (!g_nm)
        die("the schema has no methods");
    qsort(g_m, g_nm, sizeof *g_m, cmp_method);
    for (size_t i = 0; i < g_nm; i++) {
        if (i && !cmp_method(&g_m[i - 1], &g_m[i]))
            die("%s %s: defined twice", g_m[i].verb, g_m[i].path);
        analyse(&g_m[i]);
    }
    /* function names are unique */
    for (size_t i = 0; i < g_nm; i++)
        for (size_t j = i + 1; j < g_nm; j++)
            if (!strcmp(g_m[i].fn, g_m[j].fn))
                die("function name clash: %s is generated for both %s %s and %s %s; add a "
                    "\"function_names\" override",
                    g_m[i].fn, g_m[i].verb, g_m[i].path, g_m[j].verb, g_m[j].path);
    fmt_collect();
    for (size_t i = 0; i < g_nm; i++) {
        gmethod *m = &g_m[i];
        char where[600];
        snprintf(where, sizeof where, "%s %s", m->verb, m->path);
        st.methods++;
        for (size_t k = 0; k < m->np; k++) {
            gparam *g = &m->params[k];
            g->secret = is_secret(where, g->wire);
            if (g->secret) {
                st.p_secret++;
                m->secret = 1;
            }
        }
        /* the _params struct */
        gmember *fresh = xcalloc(m->np, sizeof *fresh);
        size_t nfresh = 0;
        for (size_t k = m->n_path; k < m->np; k++) {
            gmember *mb = &fresh[nfresh++];
            snprintf(mb->cname, sizeof mb->cname, "%s", m->params[k].cname);
            snprintf(mb->ctype, sizeof mb->ctype, "%s", param_ctype(&m->params[k]));
            mb->src = (int)k;
        }
        char sname[300];
        snprintf(sname, sizeof sname, "%s_params", m->fn);
        m->lay = layout_apply(sname, fresh, nfresh, &m->nlay);
        free(fresh);
        build_result(i);
        if (m->secret)
            st.secret_methods++;
    }
}

void schema_free(void) {
    for (size_t i = 0; i < g_nm; i++) {
        for (size_t k = 0; k < g_m[i].n_path; k++)
            if (!g_m[i].params[k].js)
                free((char *)g_m[i].params[k].key);
        free(g_m[i].params);
        free(g_m[i].lay);
    }
    free(g_m);
    for (size_t i = 0; i < g_ntypes; i++) {
        free(g_types[i].f);
        free(g_types[i].lay);
    }
    free(g_types);
    for (size_t i = 0; i < g_nfmt; i++) {
        free(g_fmt[i].canon);
        free(g_fmt[i].keys);
        free(g_fmt[i].lay);
    }
    free(g_fmt);
    free(g_rlink);
}
