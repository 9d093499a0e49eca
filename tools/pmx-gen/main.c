/*
 * pmx-gen: generate the typed PVE bindings (include/proxmox/gen/ and lib/gen/) from the PVE
 * API schema (apidoc.js or its unwrapped JSON), plus schema/overrides.json and schema/pin.json.
 *
 * Output is deterministic: methods sorted by path then verb, no timestamps.
 */
#include "gen.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- small utilities ------------------------------------------------------------------ */

void sb_put(sb *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            die("out of memory");
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, s, n);
    b->n += n;
    b->d[b->n] = 0;
}

void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    char *tmp = malloc((size_t)n + 1);
    if (!tmp)
        die("out of memory");
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
    free(tmp);
}

void sb_free(sb *b) {
    free(b->d);
    b->d = NULL;
    b->n = b->cap = 0;
}

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pmx-gen: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d)
        die("out of memory");
    return d;
}

static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die("out of memory");
    return p;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    sb b = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_put(&b, buf, n);
    if (ferror(f))
        die("%s: read error", path);
    fclose(f);
    if (!b.d)
        sb_puts(&b, "");
    *len = b.n;
    return b.d;
}

static void write_file(const char *path, const sb *b) {
    FILE *f = fopen(path, "wb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    if (fwrite(b->d, 1, b->n, f) != b->n || fclose(f) != 0)
        die("%s: write error", path);
}

/* Parse JSON text, with a clear message (line/column, truncation) on failure. */
static cJSON *parse_json(const char *what, const char *text, size_t len) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j)
        return j;
    const char *at = cJSON_GetErrorPtr();
    size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    /* Truncated: the text ends inside a string or an open array/object. */
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            depth++;
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    if (in_str || depth > 0) {
        size_t el = 1, ec = 1;
        for (size_t i = 0; i < len; i++) {
            if (text[i] == '\n') {
                el++;
                ec = 1;
            } else {
                ec++;
            }
        }
        die("%s: truncated JSON: input ends at line %zu column %zu inside an unfinished %s", what,
            el, ec, in_str ? "string" : "array or object");
    }
    die("%s: invalid JSON at line %zu column %zu", what, line, col);
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jtrue(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "0") != 0 && v->valuestring[0];
    return 0;
}

/* ---- options and global state --------------------------------------------------------- */

static struct {
    const char *schema, *overrides, *pin, *include_dir, *src_dir;
    int update_pin, quiet;
    size_t chunk;
} opt = {.chunk = 100};

static cJSON *g_over;      /* overrides.json (may be NULL) */
static char g_header[512]; /* line 1 of every generated file */

static struct {
    size_t methods, params, path_params, p_string, p_int, p_bool, p_num, p_array, p_indexed;
    size_t p_enum, p_pattern, p_pattern_posix, p_format, p_propstring;
    size_t results, results_struct, results_array, results_scalar, results_raw, results_none;
    size_t fields, fields_typed, fields_raw;
} st;

/* ---- names ------------------------------------------------------------------------------ */

/* C11 and C++20 keywords (the headers are usable from C++) plus macros from <stdbool.h> and
 * <iso646.h>; sorted. */
static const char *const c_keywords[] = {
    "_Alignas", "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary",
    "_Noreturn", "_Static_assert", "_Thread_local", "alignas", "alignof", "and", "and_eq", "asm",
    "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "char16_t", "char32_t",
    "char8_t", "class", "co_await", "co_return", "co_yield", "compl", "concept", "const",
    "const_cast", "consteval", "constexpr", "constinit", "continue", "decltype", "default",
    "delete", "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern",
    "false", "float", "for", "friend", "goto", "if", "inline", "int", "long", "mutable",
    "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq",
    "private", "protected", "public", "register", "reinterpret_cast", "requires", "restrict",
    "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
    "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid",
    "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while",
    "xor", "xor_eq"};

static int is_keyword(const char *s) {
    for (size_t i = 0; i < sizeof c_keywords / sizeof *c_keywords; i++)
        if (!strcmp(s, c_keywords[i]))
            return 1;
    return 0;
}

/* Mangle a wire name into a C identifier: non-alphanumerics become '_', a leading digit gets
 * "x_" in front, C/C++ keywords get a trailing '_'. ("delete" is a C++ keyword: "delete_".) */
static void mangle(const char *in, char *out, size_t cap) {
    size_t n = 0;
    if (isdigit((unsigned char)in[0])) {
        snprintf(out, cap, "x_");
        n = 2;
    }
    for (const char *p = in; *p && n + 1 < cap; p++)
        out[n++] = isalnum((unsigned char)*p) ? *p : '_';
    out[n] = 0;
    if (is_keyword(out) && n + 2 < cap) {
        out[n++] = '_';
        out[n] = 0;
    }
}

/* ---- C text helpers ---------------------------------------------------------------------- */

/* Append s as a C string literal. */
static void c_string(sb *b, const char *s) {
    if (!s) {
        sb_puts(b, "NULL");
        return;
    }
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\': sb_puts(b, "\\\\"); break;
        case '"': sb_puts(b, "\\\""); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '?': sb_puts(b, p[1] == '?' ? "?\\" : "?"); break; /* no trigraphs */
        default:
            if (*p < 0x20 || *p == 0x7f)
                sb_printf(b, "\\%03o", *p);
            else
                sb_put(b, (const char *)p, 1);
        }
    }
    sb_puts(b, "\"");
}

/* Append a doc comment with @p text wrapped at ~96 columns, indented by @p ind spaces.
 * Comment terminators in the text are defused. @p extra (may be NULL) is added as a
 * separate paragraph. */
static void doc_comment(sb *b, int ind, const char *text, const char *extra) {
    sb clean = {0};
    if (text)
        for (const char *p = text; *p; p++) {
            if (p[0] == '*' && p[1] == '/') {
                sb_puts(&clean, "*\\/");
                p++;
            } else if (p[0] == '/' && p[1] == '*') {
                sb_puts(&clean, "/ *");
                p++;
            } else if (*p == '\r' || *p == '\t') {
                sb_puts(&clean, " ");
            } else {
                sb_put(&clean, p, 1);
            }
        }
    const char *t = clean.d ? clean.d : "";
    while (*t == ' ' || *t == '\n')
        t++;
    size_t tl = strlen(t);
    while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\n'))
        tl--;
    int width = 96 - ind - 3;
    if (!tl && extra) {
        t = extra;
        tl = strlen(extra);
        extra = NULL;
    }
    if (!tl) {
        sb_free(&clean);
        return;
    }
    if (!extra && tl + (size_t)ind + 7 <= 100 && !memchr(t, '\n', tl)) {
        sb_printf(b, "%*s/** %.*s */\n", ind, "", (int)tl, t);
        sb_free(&clean);
        return;
    }
    sb_printf(b, "%*s/**\n", ind, "");
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass == 0 ? t : extra;
        size_t sl = pass == 0 ? tl : (extra ? strlen(extra) : 0);
        if (pass == 1 && !extra)
            break;
        if (pass == 1 && tl)
            sb_printf(b, "%*s *\n", ind, "");
        const char *e = s + sl;
        while (s < e) {
            /* one source line */
            const char *nl = memchr(s, '\n', (size_t)(e - s));
            const char *le = nl ? nl : e;
            if (le == s) {
                sb_printf(b, "%*s *\n", ind, "");
            }
            while (s < le) {
                while (s < le && *s == ' ')
                    s++;
                if (s >= le)
                    break;
                const char *cut = le;
                if (le - s > width) {
                    cut = s + width;
                    while (cut > s && *cut != ' ')
                        cut--;
                    if (cut == s) {
                        cut = s + width;
                        while (cut < le && *cut != ' ')
                            cut++;
                    }
                }
                size_t n = (size_t)(cut - s);
                while (n && s[n - 1] == ' ')
                    n--;
                sb_printf(b, "%*s * %.*s\n", ind, "", (int)n, s);
                s = cut;
            }
            s = nl ? nl + 1 : e;
        }
    }
    sb_printf(b, "%*s */\n", ind, "");
    sb_free(&clean);
}

/* ---- the model --------------------------------------------------------------------------- */

enum { T_STRING = 1, T_INTEGER, T_BOOLEAN, T_NUMBER, T_ARRAY };
enum { L_PATH = 1, L_QUERY, L_BODY };
static const char *const type_enum[] = {"", "PMX_PARAM_STRING", "PMX_PARAM_INTEGER",
                                        "PMX_PARAM_BOOLEAN", "PMX_PARAM_NUMBER",
                                        "PMX_PARAM_ARRAY"};
static const char *const loc_enum[] = {"", "PMX_LOC_PATH", "PMX_LOC_QUERY", "PMX_LOC_BODY"};

typedef struct gparam {
    const char *key;  /* schema key ("net[n]") */
    char wire[128];   /* wire name ("net") */
    char cname[136];
    const cJSON *js;  /* the property */
    const cJSON *cons; /* where constraints live (items for arrays) */
    int type, item_type, loc, required, count, path_pos;
    int fmt; /* property-string format: index into g_fmt + 1, or 0 */
} gparam;

typedef struct gmethod {
    const char *path, *verb;
    const cJSON *info;
    char fn[256], section[64];
    gparam *params;
    size_t np, n_path;
} gmethod;

static gmethod *g_m;
static size_t g_nm, g_capm;

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

/* Build the function name and the parameter list of one method. */
static void analyse(gmethod *m) {
    char where[600];
    snprintf(where, sizeof where, "%s %s", m->verb, m->path);
    /* path segments */
    char segs[64][128];
    int nseg = 0;
    for (const char *p = m->path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (nseg == 64 || n >= 128)
            die("%s: path too long", where);
        memcpy(segs[nseg], p, n);
        segs[nseg][n] = 0;
        nseg++;
        p += n;
    }
    if (nseg == 0)
        die("%s: empty path", where);
    int last_lit = -1;
    for (int i = 0; i < nseg; i++)
        if (segs[i][0] != '{')
            last_lit = i;
    sb fn = {0};
    sb_puts(&fn, "pve");
    for (int i = 0; i < nseg; i++) {
        const char *s = segs[i];
        size_t n = strlen(s);
        if (s[0] == '{') {
            if (n < 3 || s[n - 1] != '}')
                die("%s: bad path segment '%s'", where, s);
            if (i < last_lit)
                continue;
            sb_puts(&fn, "_");
            sb_put(&fn, s + 1, n - 2);
        } else {
            sb_puts(&fn, "_");
            sb_puts(&fn, s);
        }
    }
    sb_puts(&fn, "_");
    for (const char *v = m->verb; *v; v++)
        sb_printf(&fn, "%c", tolower((unsigned char)*v));
    char key[700];
    snprintf(key, sizeof key, "%s %s", m->verb, m->path);
    const char *ov = jstr(cJSON_GetObjectItemCaseSensitive(g_over, "function_names"), key);
    char fname[256];
    mangle(ov ? ov : fn.d, fname, sizeof fname);
    snprintf(m->fn, sizeof m->fn, "%s", fname);
    sb_free(&fn);
    mangle(segs[0], m->section, sizeof m->section);

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
        if (g_nm == g_capm) {
            g_capm = g_capm ? g_capm * 2 : 256;
            g_m = realloc(g_m, g_capm * sizeof *g_m);
            if (!g_m)
                die("out of memory");
        }
        gmethod *m = &g_m[g_nm++];
        memset(m, 0, sizeof *m);
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

/* ---- result types ------------------------------------------------------------------------ */

/* Output being built for one section. */
typedef struct section {
    char name[64];
    sb hdr;               /* header body */
    sb src[64];           /* per chunk */
    size_t nchunks;
    int used_scalar[11];  /* scalar element type descs needed, per current chunk */
    sb *cur;              /* current chunk */
    sb types;             /* type desc tables of the current method */
    sb fmt_externs;       /* extern declarations of property-string descs, current chunk */
    char **tnames;        /* all struct names emitted (clash detection) */
    size_t ntn, captn;
} section;

static const char *const kind_enum[] = {"", "PMX_KIND_STRING", "PMX_KIND_I64",
                                        "PMX_KIND_OPT_I64", "PMX_KIND_BOOL",
                                        "PMX_KIND_OPT_BOOL", "PMX_KIND_F64",
                                        "PMX_KIND_OPT_F64", "PMX_KIND_RAW",
                                        "PMX_KIND_OBJECT", "PMX_KIND_ARRAY"};
enum { K_STR = 1, K_I64, K_OPT_I64, K_BOOL, K_OPT_BOOL, K_F64, K_OPT_F64, K_RAW, K_OBJ, K_ARR };

static void note_type_name(section *s, const char *name, const char *where) {
    for (size_t i = 0; i < s->ntn; i++)
        if (!strcmp(s->tnames[i], name))
            die("%s: generated type name '%s' is used twice", where, name);
    if (s->ntn == s->captn) {
        s->captn = s->captn ? s->captn * 2 : 256;
        s->tnames = realloc(s->tnames, s->captn * sizeof(char *));
        if (!s->tnames)
            die("out of memory");
    }
    s->tnames[s->ntn++] = xstrdup(name);
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

static const char *kind_ctype(int k) {
    switch (k) {
    case K_STR: case K_RAW: return "char *";
    case K_I64: return "int64_t ";
    case K_OPT_I64: return "pmx_opt_i64 ";
    case K_BOOL: return "int ";
    case K_OPT_BOOL: return "pmx_opt_bool ";
    case K_F64: return "double ";
    case K_OPT_F64: return "pmx_opt_f64 ";
    }
    return "?";
}

static void emit_struct(section *s, const char *tname, const cJSON *js, const char *where,
                        int top);

typedef struct fieldinfo {
    int kind;
    char decl[1400];     /* C declaration(s) inside the struct */
    char tref[400];     /* "&t_x" or "NULL" */
    int has_count;
    int slots; /* indexed "net[n]": number of slots */
    char cname[136];
} fieldinfo;

/* Decide how one value (a property or an array element) is represented. */
static void field_of(section *s, const char *owner, const char *name, const cJSON *js,
                     int optional, const char *where, fieldinfo *fi, int wrap_top) {
    char cname[136];
    if (wrap_top)
        snprintf(cname, sizeof cname, "%s", name);
    else
        mangle(name, cname, sizeof cname);
    snprintf(fi->cname, sizeof fi->cname, "%s", cname);
    if (js && !cJSON_IsObject(js))
        die("%s: schema of '%s' must be an object", where, name);
    const char *t = js ? schema_type(js, where) : NULL;
    snprintf(fi->tref, sizeof fi->tref, "NULL");
    fi->has_count = 0;
    fi->slots = 0;
    if (t && !strcmp(t, "object") && has_props(js)) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s_%s", owner, cname);
        if (wrap_top)
            snprintf(sub, sizeof sub, "%s", owner);
        emit_struct(s, sub, js, where, 0);
        fi->kind = K_OBJ;
        snprintf(fi->decl, sizeof fi->decl, "struct %s *%s;", sub, cname);
        snprintf(fi->tref, sizeof fi->tref, "&t_%s", sub);
        return;
    }
    if (t && !strcmp(t, "array")) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(js, "items");
        const char *it = cJSON_IsObject(items) ? schema_type(items, where) : NULL;
        fi->kind = K_ARR;
        fi->has_count = 1;
        const char *cnt = wrap_top ? "n" : NULL;
        char cntname[150];
        snprintf(cntname, sizeof cntname, "n_%s", cname);
        if (cnt)
            snprintf(cntname, sizeof cntname, "%s", cnt);
        if (it && !strcmp(it, "object") && has_props(items)) {
            char sub[300];
            if (wrap_top)
                snprintf(sub, sizeof sub, "%s", owner);
            else
                snprintf(sub, sizeof sub, "%s_%s", owner, cname);
            emit_struct(s, sub, items, where, 0);
            snprintf(fi->decl, sizeof fi->decl, "struct %s **%s;\n    size_t %s;", sub, cname,
                     cntname);
            snprintf(fi->tref, sizeof fi->tref, "&t_%s", sub);
            return;
        }
        int ek = scalar_kind(it, 0);
        const char *et = ek == K_I64 ? "int64_t *" : ek == K_BOOL ? "int *"
                         : ek == K_F64 ? "double *" : "char **";
        snprintf(fi->decl, sizeof fi->decl, "%s%s;\n    size_t %s;", et, cname, cntname);
        snprintf(fi->tref, sizeof fi->tref, "&t__%s", kind_enum[ek] + 9);
        s->used_scalar[ek] = 1;
        return;
    }
    fi->kind = scalar_kind(t, optional);
    snprintf(fi->decl, sizeof fi->decl, "%s%s;", kind_ctype(fi->kind), cname);
}

typedef struct propref {
    const char *name; /* schema key ("net[n]") */
    char wire[128];   /* JSON member name, or the base of an indexed member ("net") */
    int slots;        /* indexed: number of slots */
    const cJSON *js;
} propref;

/* By JSON name; a plain member sorts before an indexed one of the same base ("numa" before
 * "numa[n]"), which the decoder relies on. */
static int cmp_prop(const void *a, const void *b) {
    const propref *x = a, *y = b;
    int c = strcmp(x->wire, y->wire);
    return c ? c : x->slots - y->slots;
}

/* The property-string format of result member @p js ("net[n]" of a config), declared extern in
 * the current chunk; NULL when it has none. */
static const char *fmt_link(section *s, const cJSON *js, const char **type_name);

/* Emit `typedef struct tname {...} tname;` into the header and its type desc into s->types.
 * top: the method's result struct (doc from the schema's result description). */
static void emit_struct(section *s, const char *tname, const cJSON *js, const char *where,
                        int top) {
    note_type_name(s, tname, where);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(js, "properties");
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, props) n++;
    propref *pr = xcalloc(n, sizeof *pr);
    n = 0;
    cJSON_ArrayForEach(it, props) {
        pr[n].name = it->string;
        pr[n].js = it;
        size_t kl = strlen(it->string);
        const char *ty = cJSON_IsObject(it) ? schema_type(it, where) : NULL;
        if (kl > 3 && !strcmp(it->string + kl - 3, "[n]") && (!ty || !strcmp(ty, "string"))) {
            snprintf(pr[n].wire, sizeof pr[n].wire, "%.*s", (int)(kl - 3), it->string);
            pr[n].slots = indexed_count(where, pr[n].wire, it);
        } else {
            snprintf(pr[n].wire, sizeof pr[n].wire, "%s", it->string);
        }
        n++;
    }
    qsort(pr, n, sizeof *pr, cmp_prop);
    sb body = {0}, tab = {0};
    fieldinfo *fis = xcalloc(n, sizeof *fis);
    for (size_t i = 0; i < n; i++) {
        char w[900];
        snprintf(w, sizeof w, "%s: result field '%s'", where, pr[i].name);
        if (pr[i].slots) {
            /* "net[n]": char *net[32], members net0..net31; "_n" when "net" exists too */
            fieldinfo *fi = &fis[i];
            char base[128];
            mangle(pr[i].wire, base, sizeof base);
            int dup = (i > 0 && !strcmp(pr[i - 1].wire, pr[i].wire));
            snprintf(fi->cname, sizeof fi->cname, "%s%s", base, dup ? "_n" : "");
            fi->kind = K_STR;
            fi->has_count = 0;
            fi->slots = pr[i].slots;
            snprintf(fi->tref, sizeof fi->tref, "NULL");
            snprintf(fi->decl, sizeof fi->decl, "char *%s[%d];", fi->cname, pr[i].slots);
        } else {
            field_of(s, tname, pr[i].name, pr[i].js, jtrue(pr[i].js, "optional"), w, &fis[i], 0);
        }
        for (size_t j = 0; j < i; j++) {
            char cnt[150];
            snprintf(cnt, sizeof cnt, "n_%s", fis[j].cname);
            if (!strcmp(fis[i].cname, fis[j].cname) ||
                (fis[j].has_count && !strcmp(fis[i].cname, cnt)))
                die("%s: result fields '%s' and '%s' clash as C name '%s'", where, pr[i].name,
                    pr[j].name, fis[i].cname);
        }
        st.fields++;
        if (fis[i].kind == K_RAW)
            st.fields_raw++;
        else
            st.fields_typed++;
        char wn[300] = "";
        if (pr[i].slots)
            snprintf(wn, sizeof wn, "JSON members \"%s0\" .. \"%s%d\" (NULL when absent).",
                     pr[i].wire, pr[i].wire, pr[i].slots - 1);
        else if (strcmp(fis[i].cname, pr[i].name))
            snprintf(wn, sizeof wn, "JSON member \"%s\".", pr[i].name);
        const char *fty = NULL;
        const char *fsym = fis[i].kind == K_STR ? fmt_link(s, pr[i].js, &fty) : NULL;
        if (fsym) {
            size_t wl = strlen(wn);
            snprintf(wn + wl, sizeof wn - wl, "%sA property string: decode with %s_decode().",
                     wl ? " " : "", fty);
        }
        doc_comment(&body, 4, jstr(pr[i].js, "description"), wn[0] ? wn : NULL);
        sb_printf(&body, "    %s\n", fis[i].decl);
        sb_printf(&tab, "    {sizeof(pmx_field_desc), %s, ", kind_enum[fis[i].kind]);
        c_string(&tab, pr[i].wire);
        sb_printf(&tab, ", \"%s\",\n     offsetof(%s, %s), ", fis[i].cname, tname, fis[i].cname);
        if (fis[i].has_count)
            sb_printf(&tab, "offsetof(%s, n_%s),\n     ", tname, fis[i].cname);
        else
            sb_puts(&tab, "0, ");
        sb_printf(&tab, "%s, ", fis[i].tref);
        c_string(&tab, jstr(pr[i].js, "description"));
        if (fsym)
            sb_printf(&tab, ", %d, &%s},\n", fis[i].slots, fsym);
        else
            sb_printf(&tab, ", %d, NULL},\n", fis[i].slots);
    }
    if (top)
        doc_comment(&s->hdr, 0, jstr(js, "description"),
                    "Result type (allocated by the library, borrowed from the call until its "
                    "last reference is dropped). Fields are only ever appended.");
    else
        sb_printf(&s->hdr, "/** Part of a result (see the method using it). */\n");
    sb_printf(&s->hdr, "typedef struct %s {\n%s} %s;\n\n", tname, body.d ? body.d : "", tname);
    sb_printf(&s->types, "static const pmx_field_desc f_%s[] = {\n%s};\n", tname,
              tab.d ? tab.d : "");
    sb_printf(&s->types,
              "static const pmx_type_desc t_%s = {\n    sizeof(pmx_type_desc), PMX_KIND_OBJECT, 0, "
              "\"%s\",\n    sizeof(%s), f_%s, %zu};\n\n",
              tname, tname, tname, tname, n);
    sb_free(&body);
    sb_free(&tab);
    free(fis);
    free(pr);
}

/* Emit the result type of a method; returns 1 when there is one. */
static int emit_result(section *s, gmethod *m, const char *where) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m->info, "returns");
    if (r && !cJSON_IsObject(r))
        die("%s: \"returns\" must be an object", where);
    const char *t = r ? schema_type(r, where) : NULL;
    /* No "returns", or type null: no result. An empty schema ({}) means "anything": PVE does
     * answer those with data, so they get a raw JSON result rather than none. */
    if (!r || (t && !strcmp(t, "null"))) {
        st.results_none++;
        return 0;
    }
    st.results++;
    char tname[300];
    snprintf(tname, sizeof tname, "%s_result", m->fn);
    if (t && !strcmp(t, "object") && has_props(r)) {
        st.results_struct++;
        emit_struct(s, tname, r, where, 1);
        return 1;
    }
    /* wrapped: array -> items + n, else value */
    fieldinfo fi;
    int is_arr = t && !strcmp(t, "array");
    char owner[300];
    snprintf(owner, sizeof owner, "%s_item", m->fn);
    field_of(s, owner, is_arr ? "items" : "value", r, 0, where, &fi, 1);
    if (is_arr)
        st.results_array++;
    else if (fi.kind == K_RAW)
        st.results_raw++;
    else
        st.results_scalar++;
    note_type_name(s, tname, where);
    doc_comment(&s->hdr, 0, jstr(r, "description"),
                is_arr ? "Result type: the array's elements (allocated by the library, borrowed "
                         "from the call until its last reference is dropped)."
                       : (fi.kind == K_RAW ? "Result type: the JSON text of \"data\", which the "
                                             "schema leaves open (borrowed from the call)."
                                           : "Result type: the value of \"data\" (borrowed from "
                                             "the call)."));
    sb_printf(&s->hdr, "typedef struct %s {\n    %s\n} %s;\n\n", tname, fi.decl, tname);
    sb_printf(&s->types, "static const pmx_field_desc f_%s[] = {\n", tname);
    sb_printf(&s->types, "    {sizeof(pmx_field_desc), %s, \"%s\", \"%s\",\n     offsetof(%s, %s), ",
              kind_enum[fi.kind], fi.cname, fi.cname, tname, fi.cname);
    if (is_arr)
        sb_printf(&s->types, "offsetof(%s, n),", tname);
    else
        sb_puts(&s->types, "0,");
    sb_printf(&s->types, "\n     %s, NULL, 0, NULL},\n};\n", fi.tref);
    sb_printf(&s->types,
              "static const pmx_type_desc t_%s = {\n    sizeof(pmx_type_desc), PMX_KIND_OBJECT, "
              "PMX_TYPE_WRAPPED, \"%s\",\n    sizeof(%s), f_%s, 1};\n\n",
              tname, tname, tname, tname);
    return 1;
}

/* ---- methods -------------------------------------------------------------------------------- */

static void default_text(sb *b, const cJSON *d) {
    if (!d) {
        sb_puts(b, "NULL");
        return;
    }
    if (cJSON_IsString(d)) {
        c_string(b, d->valuestring);
        return;
    }
    char *t = cJSON_PrintUnformatted(d);
    if (!t)
        die("out of memory");
    c_string(b, t);
    free(t);
}

/* Append prefix + proto + suffix, breaking the argument list at ", " to stay within 100
 * columns; continuation lines align after '('. */
static void wrap_proto(sb *b, const char *prefix, const char *proto, const char *suffix) {
    size_t col = strlen(prefix);
    const char *paren = strchr(proto, '(');
    size_t ind = col + (size_t)(paren - proto) + 1;
    sb_puts(b, prefix);
    const char *p = proto;
    while (*p) {
        const char *comma = strstr(p, ", ");
        size_t n = comma ? (size_t)(comma - p) + 1 : strlen(p);
        size_t extra = comma ? 0 : strlen(suffix);
        if (p != proto && col + n + extra + 1 > 99) {
            sb_printf(b, "\n%*s", (int)ind, "");
            col = ind;
        } else if (p != proto) {
            sb_puts(b, " ");
            col++;
        }
        sb_put(b, p, n);
        col += n;
        p += n;
        if (comma)
            p++; /* the space */
    }
    sb_puts(b, suffix);
}

/* ---- property strings ------------------------------------------------------------------------ */

/* One distinct property-string format (a "format" object of the schema, deduplicated by
 * content), becoming struct pve_fmt_<area>_<name>. */
typedef struct gfmt {
    char name[256];      /* "pve_fmt_qemu_net" */
    char sym[264];       /* "pmx__fmt_qemu_net" */
    char origin[800];    /* first use: "POST /nodes/{node}/qemu net[n]" */
    const char *pname;   /* that parameter / member name ("net[n]") */
    const cJSON *js;     /* the format object */
    char *canon;         /* canonical JSON text (keys sorted) */
    size_t uses;
} gfmt;

static gfmt *g_fmt;
static size_t g_nfmt, g_capfmt;
static unsigned char *g_fmt_declared; /* per chunk: extern already emitted */

static struct {
    size_t uses, param_uses, result_uses, keys, aliases, structs;
} pst;

/* Canonical JSON text: object members sorted by name, so equal schemas compare equal. */
static void canon_json(sb *b, const cJSON *j) {
    if (cJSON_IsObject(j)) {
        size_t n = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) n++;
        const cJSON **m = xcalloc(n, sizeof *m);
        n = 0;
        cJSON_ArrayForEach(it, j) m[n++] = it;
        for (size_t i = 1; i < n; i++)
            for (size_t k = i; k > 0 && strcmp(m[k - 1]->string, m[k]->string) > 0; k--) {
                const cJSON *t = m[k];
                m[k] = m[k - 1];
                m[k - 1] = t;
            }
        sb_puts(b, "{");
        for (size_t i = 0; i < n; i++) {
            sb_puts(b, i ? "," : "");
            c_string(b, m[i]->string);
            sb_puts(b, ":");
            canon_json(b, m[i]);
        }
        sb_puts(b, "}");
        free(m);
    } else if (cJSON_IsArray(j)) {
        sb_puts(b, "[");
        const cJSON *it;
        int first = 1;
        cJSON_ArrayForEach(it, j) {
            sb_puts(b, first ? "" : ",");
            canon_json(b, it);
            first = 0;
        }
        sb_puts(b, "]");
    } else {
        char *t = cJSON_PrintUnformatted(j);
        if (!t)
            die("out of memory");
        sb_puts(b, t);
        free(t);
    }
}

static char *canon_text(const cJSON *j) {
    sb b = {0};
    canon_json(&b, j);
    return b.d;
}

/* Area of a path: its first literal segment; under /nodes/{node} the next one ("qemu",
 * "lxc", "ceph"), with "node" for the node's own /nodes/{node}/config. */
static void path_area(const char *path, char *out, size_t cap) {
    char segs[16][128];
    int n = 0;
    for (const char *p = path; *p && n < 16;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t l = strcspn(p, "/");
        snprintf(segs[n++], sizeof segs[0], "%.*s", (int)(l < 127 ? l : 127), p);
        p += l;
    }
    const char *a = n ? segs[0] : "api";
    if (n && !strcmp(segs[0], "nodes")) {
        a = "node";
        for (int i = 1; i < n; i++)
            if (segs[i][0] != '{') {
                if (strcmp(segs[i], "config"))
                    a = segs[i];
                break;
            }
    }
    mangle(a, out, cap);
}

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

static int key_type(const cJSON *k, const char *ctx);

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
        if (jtrue(k, "default_key")) {
            if (dkey)
                die("%s: multiple default keys ('%s', '%s')", ctx, dkey, k->string);
            if (alias)
                die("%s: a default key cannot be an alias", kc);
            dkey = k->string;
        }
    }
}

/* Register a use of format object @p js by parameter / member @p pname at @p where ("VERB
 * /path"); returns the format's index + 1. Results (@p result) may map onto a parameter
 * format of the same name whose keys they are a subset of (config results omit
 * create-only keys). */
static int fmt_register(const cJSON *js, const char *where, const char *path, const char *pname,
                        int result) {
    char ctx[800];
    snprintf(ctx, sizeof ctx, "%s %s", where, pname);
    if (!cJSON_IsObject(js) || !js->child)
        die("%s: property-string format must be a non-empty object", ctx);
    pst.uses++;
    if (result)
        pst.result_uses++;
    else
        pst.param_uses++;
    fmt_validate(js, ctx);
    char *c = canon_text(js);
    for (size_t i = 0; i < g_nfmt; i++)
        if (!strcmp(g_fmt[i].canon, c)) {
            free(c);
            g_fmt[i].uses++;
            return (int)i + 1;
        }
    /* name: override, else pve_fmt_<area>_<base name> */
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
    if (g_nfmt == g_capfmt) {
        g_capfmt = g_capfmt ? g_capfmt * 2 : 64;
        g_fmt = realloc(g_fmt, g_capfmt * sizeof *g_fmt);
        if (!g_fmt)
            die("out of memory");
    }
    gfmt *f = &g_fmt[g_nfmt++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->sym, sizeof f->sym, "pmx__fmt_%s", name + 8);
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
        if (g_nrlink == g_caprlink) {
            g_caprlink = g_caprlink ? g_caprlink * 2 : 64;
            g_rlink = realloc(g_rlink, g_caprlink * sizeof *g_rlink);
            if (!g_rlink)
                die("out of memory");
        }
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

/* Collect the formats: parameters first (their names win), then results. */
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
}

static const char *fmt_link(section *s, const cJSON *js, const char **type_name) {
    for (size_t i = 0; i < g_nrlink; i++)
        if (g_rlink[i].js == js) {
            int f = g_rlink[i].fmt - 1;
            if (!g_fmt_declared[f]) {
                g_fmt_declared[f] = 1;
                sb_printf(&s->fmt_externs, "extern const pmx_propstr_desc %s;\n", g_fmt[f].sym);
            }
            *type_name = g_fmt[f].name;
            return g_fmt[f].sym;
        }
    return NULL;
}

static int key_type(const cJSON *k, const char *ctx) {
    const char *t = jstr(k, "type");
    if (!t)
        return T_STRING;
    if (!strcmp(t, "string"))
        return T_STRING;
    if (!strcmp(t, "integer"))
        return T_INTEGER;
    if (!strcmp(t, "boolean"))
        return T_BOOLEAN;
    if (!strcmp(t, "number"))
        return T_NUMBER;
    die("%s: unsupported property-string key type '%s'", ctx, t);
}

static int num_of(const cJSON *v, double *out) {
    char *e;
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 1;
    }
    if (cJSON_IsString(v) && v->valuestring[0] && (*out = strtod(v->valuestring, &e), !*e))
        return 1;
    return 0;
}

static int cmp_keyjs(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Emit include/proxmox/gen/propstr.h and lib/gen/propstr.c. */
static void fmt_emit(sb *h, sb *c) {
    sb_puts(h, g_header);
    sb_puts(h, "/* Typed property strings (\"k=v,...\"): one struct per distinct format of the "
               "schema, with\n * decode / encode / free. Rules: <proxmox/method.h>. */\n"
               "#ifndef PROXMOX_GEN_PROPSTR_H\n#define PROXMOX_GEN_PROPSTR_H\n\n"
               "#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)\n"
               "#error \"Only <proxmox/proxmox.h> can be included directly.\"\n"
               "#endif\n\nPMX_BEGIN_DECLS\n\n");
    sb_printf(h, "/** Number of typed property-string formats. */\n#define PMX_GEN_PROPSTR_COUNT "
                 "%zu\n\n", g_nfmt);
    sb_puts(c, g_header);
    sb_puts(c, "/* Typed property strings: key tables and the decode / encode / free functions "
               "(runtime in\n * lib/propstr.c). */\n#include \"bind.h\"\n\n"
               "#include <stddef.h>\n\n");
    size_t *order = xcalloc(g_nfmt, sizeof *order);
    for (size_t i = 0; i < g_nfmt; i++)
        order[i] = i;
    for (size_t i = 1; i < g_nfmt; i++)
        for (size_t k = i; k > 0 && strcmp(g_fmt[order[k - 1]].name, g_fmt[order[k]].name) > 0;
             k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (size_t oi = 0; oi < g_nfmt; oi++) {
        gfmt *f = &g_fmt[order[oi]];
        const char *sfx = f->name + 8;
        pst.structs++;
        size_t n = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, f->js) n++;
        const cJSON **keys = xcalloc(n, sizeof *keys);
        n = 0;
        cJSON_ArrayForEach(it, f->js) keys[n++] = it;
        qsort(keys, n, sizeof *keys, cmp_keyjs);
        const char *dkey = NULL;
        /* struct */
        sb body = {0}, tab = {0}, tt = {0};
        char (*cn)[136] = xcalloc(n, sizeof *cn);
        for (size_t i = 0; i < n; i++) {
            const cJSON *k = keys[i];
            char ctx[900];
            snprintf(ctx, sizeof ctx, "%s: key '%s'", f->origin, k->string);
            if (!cJSON_IsObject(k))
                die("%s: key schema must be an object", ctx);
            const char *alias = jstr(k, "alias");
            const char *kalias = jstr(k, "keyAlias");
            if (kalias && !alias)
                die("%s: keyAlias without alias", ctx);
            if (jtrue(k, "default_key")) {
                if (dkey)
                    die("%s: multiple default keys ('%s', '%s')", ctx, dkey, k->string);
                if (alias)
                    die("%s: a default key cannot be an alias", ctx);
                dkey = k->string;
            }
            if (alias) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->js, alias);
                if (!t || jstr(t, "alias"))
                    die("%s: alias target '%s' is not a key of the format", ctx, alias);
                pst.aliases++;
            }
            if (kalias) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->js, kalias);
                if (!t || jstr(t, "alias"))
                    die("%s: keyAlias target '%s' is not a key of the format", ctx, kalias);
            }
            int type = alias ? 0 : key_type(k, ctx);
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(k, "enum");
            if (cJSON_IsNull(en))
                en = NULL;
            if (en && !cJSON_IsArray(en))
                die("%s: \"enum\" must be an array", ctx);
            if (en) {
                sb_printf(c, "static const char *const e_%s_%zu[] = {", sfx, i);
                const cJSON *v;
                int first = 1;
                cJSON_ArrayForEach(v, en) {
                    if (!cJSON_IsString(v))
                        die("%s: enum values must be strings", ctx);
                    sb_puts(c, first ? "" : ", ");
                    c_string(c, v->valuestring);
                    first = 0;
                }
                sb_puts(c, "};\n");
            }
            /* table entry */
            sb_printf(&tab, "    {\n        .size = sizeof(pmx_propkey_desc),\n");
            if (type)
                sb_printf(&tab, "        .type = %s,\n", type_enum[type]);
            sb fl = {0};
            const char *sep = "";
#define KFLAG(cond, nm)                                                                         \
    do {                                                                                        \
        if (cond) {                                                                             \
            sb_printf(&fl, "%s%s", sep, nm);                                                    \
            sep = " | ";                                                                        \
        }                                                                                       \
    } while (0)
            const cJSON *mn = cJSON_GetObjectItemCaseSensitive(k, "minimum");
            const cJSON *mx = cJSON_GetObjectItemCaseSensitive(k, "maximum");
            const cJSON *mxl = cJSON_GetObjectItemCaseSensitive(k, "maxLength");
            double vmn = 0, vmx = 0, vmxl = 0;
            if (mn && !num_of(mn, &vmn))
                die("%s: \"minimum\" must be a number", ctx);
            if (mx && !num_of(mx, &vmx))
                die("%s: \"maximum\" must be a number", ctx);
            if (mxl && !num_of(mxl, &vmxl))
                die("%s: \"maxLength\" must be a number", ctx);
            const cJSON *fmtv = cJSON_GetObjectItemCaseSensitive(k, "format");
            if (fmtv && !cJSON_IsString(fmtv))
                die("%s: nested property-string formats are not supported", ctx);
            const char *fmts = fmtv ? fmtv->valuestring : NULL;
            KFLAG(!alias && !jtrue(k, "optional"), "PMX_PROPKEY_REQUIRED");
            KFLAG(jtrue(k, "default_key"), "PMX_PROPKEY_DEFAULT_KEY");
            KFLAG(mn, "PMX_PROPKEY_HAS_MIN");
            KFLAG(mx, "PMX_PROPKEY_HAS_MAX");
            KFLAG(mxl, "PMX_PROPKEY_HAS_MAX_LENGTH");
            KFLAG(alias, "PMX_PROPKEY_ALIAS");
            KFLAG(fmts && !strcmp(fmts, "disk-size"), "PMX_PROPKEY_DISK_SIZE");
#undef KFLAG
            if (fl.n)
                sb_printf(&tab, "        .flags = %s,\n", fl.d);
            sb_free(&fl);
            sb_puts(&tab, "        .name = ");
            c_string(&tab, k->string);
            sb_puts(&tab, ",\n");
            if (!alias) {
                mangle(k->string, cn[i], sizeof cn[i]);
                for (size_t j = 0; j < i; j++)
                    if (cn[j][0] && !strcmp(cn[i], cn[j]))
                        die("%s: keys '%s' and '%s' both map to the C name '%s'", f->origin,
                            keys[j]->string, k->string, cn[i]);
                sb_printf(&tab, "        .c_name = \"%s\",\n        .offset = offsetof(%s, %s),\n",
                          cn[i], f->name, cn[i]);
            }
            if (mn)
                sb_printf(&tab, "        .minimum = %.17g,\n", vmn);
            if (mx)
                sb_printf(&tab, "        .maximum = %.17g,\n", vmx);
            if (mxl)
                sb_printf(&tab, "        .max_length = %.0f,\n", vmxl);
            if (en)
                sb_printf(&tab, "        .enum_values = e_%s_%zu,\n        .n_enum = sizeof "
                                "e_%s_%zu / sizeof e_%s_%zu[0],\n",
                          sfx, i, sfx, i, sfx, i);
            const char *pat = jstr(k, "pattern");
            if (pat) {
                sb_puts(&tab, "        .pattern = ");
                c_string(&tab, pat);
                sb_puts(&tab, ",\n");
                char *ere = perl_to_ere(pat);
                if (ere) {
                    sb_puts(&tab, "        .posix_pattern = ");
                    c_string(&tab, ere);
                    sb_puts(&tab, ",\n");
                    free(ere);
                }
            }
            const char *strs[][2] = {{"format", fmts},
                                     {"alias", alias},
                                     {"key_alias", kalias},
                                     {"requires", jstr(k, "requires")},
                                     {"format_description", jstr(k, "format_description")},
                                     {"description", jstr(k, "description")}};
            const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(k, "default");
            if (dflt) {
                sb_puts(&tab, "        .default_value = ");
                default_text(&tab, dflt);
                sb_puts(&tab, ",\n");
            }
            for (size_t x = 0; x < sizeof strs / sizeof strs[0]; x++) {
                if (!strs[x][1])
                    continue;
                sb_printf(&tab, "        .%s = ", strs[x][0]);
                c_string(&tab, strs[x][1]);
                sb_puts(&tab, ",\n");
            }
            sb_puts(&tab, "    },\n");
            if (alias)
                continue;
            /* field */
            pst.keys++;
            sb d = {0};
            const char *desc = jstr(k, "description");
            if (desc)
                sb_puts(&d, desc);
            sb ex = {0};
            sb_printf(&ex, "Key \"%s\"", k->string);
            if (jtrue(k, "default_key"))
                sb_puts(&ex, " (default key: may stand bare)");
            if (!jtrue(k, "optional"))
                sb_puts(&ex, ", required");
            if (en) {
                sb_puts(&ex, "; one of:");
                const cJSON *v;
                cJSON_ArrayForEach(v, en) sb_printf(&ex, " %s", v->valuestring);
            }
            if (fmts)
                sb_printf(&ex, "; format %s", fmts);
            if (mn && mx)
                sb_printf(&ex, "; range %.15g to %.15g", vmn, vmx);
            else if (mn)
                sb_printf(&ex, "; minimum %.15g", vmn);
            else if (mx)
                sb_printf(&ex, "; maximum %.15g", vmx);
            const cJSON *dv = cJSON_GetObjectItemCaseSensitive(k, "default");
            if (dv) {
                sb dt = {0};
                default_text(&dt, dv);
                sb_printf(&ex, "; default %s", dt.d);
                sb_free(&dt);
            }
            /* aliases of this key */
            int first = 1;
            for (size_t j = 0; j < n; j++) {
                const char *a = jstr(keys[j], "alias");
                if (a && !strcmp(a, k->string)) {
                    const char *ka = jstr(keys[j], "keyAlias");
                    sb_printf(&ex, "%s%s=", first ? "; also written as " : ", ",
                              keys[j]->string);
                    if (ka)
                        sb_printf(&ex, " (sets %s=%s)", ka, keys[j]->string);
                    first = 0;
                }
            }
            sb_puts(&ex, ".");
            doc_comment(&body, 4, d.d, ex.d);
            sb_free(&d);
            sb_free(&ex);
            switch (type) {
            case T_STRING: sb_printf(&body, "    char *%s;\n", cn[i]); break;
            case T_INTEGER: sb_printf(&body, "    pmx_opt_i64 %s;\n", cn[i]); break;
            case T_BOOLEAN: sb_printf(&body, "    pmx_opt_bool %s;\n", cn[i]); break;
            case T_NUMBER: sb_printf(&body, "    pmx_opt_f64 %s;\n", cn[i]); break;
            }
        }
        /* header: struct + functions */
        sb_printf(&tt, "Property string \"%s\" (first used by %s; %zu use%s in the schema).",
                  f->pname, f->origin, f->uses, f->uses == 1 ? "" : "s");
        if (dkey)
            sb_printf(&tt, " Default key: %s.", dkey);
        doc_comment(h, 0, tt.d, "Allocated by the _decode function, freed with the _free "
                                "function. To encode, zero-initialise one (unset fields are "
                                "absent) and fill it; strings stay the caller's.");
        sb_printf(h, "typedef struct %s {\n%s} %s;\n\n", f->name, body.d ? body.d : "", f->name);
        sb_printf(h,
                  "/**\n * Decode property string @p text (as PVE writes it in configs; see "
                  "<proxmox/method.h>).\n"
                  " * @param text  borrowed for the call.\n"
                  " * @param out   receives a new struct; caller frees with %s_free().\n"
                  " * @param err   may be NULL; on PMX_EINVAL a message naming the key, caller "
                  "frees with\n *              pmx_free().\n"
                  " * @return PMX_OK, PMX_EINVAL (invalid text: unknown, duplicate or missing "
                  "key, bad value),\n * PMX_ENOMEM. Thread-safe; may be called from callbacks. "
                  "Since: 1.0\n */\n",
                  f->name);
        sb proto = {0};
        sb_printf(&proto, "int %s_decode(const char *text, %s **out, char **err)", f->name,
                  f->name);
        wrap_proto(h, "PMX_API ", proto.d, ";\n");
        sb_free(&proto);
        sb_printf(h,
                  "/**\n * Encode @p v into its canonical property string.\n"
                  " * @param v    borrowed for the call.\n"
                  " * @param out  receives the text; caller frees with pmx_free().\n"
                  " * @param err  may be NULL; on PMX_EINVAL a message naming the key, caller "
                  "frees with pmx_free().\n"
                  " * @return PMX_OK, PMX_EINVAL (missing required key, value out of range or "
                  "not in its enum,\n * a ',' in a value...), PMX_ENOMEM. Thread-safe; may be "
                  "called from callbacks. Since: 1.0\n */\n");
        sb_printf(&proto, "int %s_encode(const %s *v, char **out, char **err)", f->name, f->name);
        wrap_proto(h, "PMX_API ", proto.d, ";\n");
        sb_free(&proto);
        sb_printf(h, "/**\n * Free a struct from %s_decode() and its strings; NULL is a "
                     "no-op.\n * Thread-safe; may be called from callbacks. Since: 1.0\n */\n",
                  f->name);
        sb_printf(h, "PMX_API void %s_free(%s *v);\n\n", f->name, f->name);
        /* C: table, desc, functions */
        sb_printf(c, "static const pmx_propkey_desc k_%s[] = {\n%s};\n", sfx, tab.d);
        sb_printf(c, "const pmx_propstr_desc %s = {\n    .size = sizeof(pmx_propstr_desc),\n"
                     "    .name = \"%s\",\n    .struct_size = sizeof(%s),\n    .keys = k_%s,\n"
                     "    .n_keys = %zu,\n",
                  f->sym, f->name, f->name, sfx, n);
        if (dkey) {
            sb_puts(c, "    .default_key = ");
            c_string(c, dkey);
            sb_puts(c, ",\n");
        }
        sb_puts(c, "};\n\n");
        sb_printf(&proto, "int %s_decode(const char *text, %s **out, char **err)", f->name,
                  f->name);
        wrap_proto(c, "", proto.d, " {\n");
        sb_free(&proto);
        sb_printf(c, "    void *v = NULL;\n"
                     "    int rc = pmx_propstr_decode(&%s, text, out ? &v : NULL, err);\n"
                     "    if (out)\n        *out = v;\n    return rc;\n}\n\n",
                  f->sym);
        sb_printf(&proto, "int %s_encode(const %s *v, char **out, char **err)", f->name, f->name);
        wrap_proto(c, "", proto.d, " {\n");
        sb_free(&proto);
        sb_printf(c, "    return pmx_propstr_encode(&%s, v, out, err);\n}\n\n", f->sym);
        sb_printf(c, "void %s_free(%s *v) {\n    pmx_propstr_free(&%s, v);\n}\n\n", f->name,
                  f->name, f->sym);
        sb_free(&body);
        sb_free(&tab);
        sb_free(&tt);
        free(cn);
        free(keys);
    }
    sb_puts(c, "/* All formats, sorted by name (pmx_propstr_at / pmx_propstr_find). */\n"
               "const pmx_propstr_desc *const pmx__gen_propstrs[] = {\n");
    for (size_t oi = 0; oi < g_nfmt; oi++)
        sb_printf(c, "    &%s,\n", g_fmt[order[oi]].sym);
    if (!g_nfmt)
        sb_puts(c, "    NULL,\n");
    sb_printf(c, "};\nconst size_t pmx__gen_n_propstrs = %zu;\n", g_nfmt);
    sb_puts(h, "PMX_END_DECLS\n#endif\n");
    free(order);
}

static void emit_method(section *s, gmethod *m) {
    char where[600];
    snprintf(where, sizeof where, "%s %s", m->verb, m->path);
    sb *c = s->cur;
    sb *h = &s->hdr;
    const char *desc = jstr(m->info, "description");
    st.methods++;

    sb_printf(h, "/* ---- %s %s ---- */\n\n", m->verb, m->path);
    /* params struct */
    sb_printf(h, "/** Parameters of %s() (path parameters are arguments). */\n", m->fn);
    sb_printf(h, "typedef struct %s_params {\n", m->fn);
    size_t nfields = 0;
    for (size_t i = m->n_path; i < m->np; i++) {
        gparam *g = &m->params[i];
        char extra[400] = "";
        if (g->count)
            snprintf(extra, sizeof extra, "Wire names %s0 .. %s%d (NULL = not sent).", g->wire,
                     g->wire, g->count - 1);
        else if (g->type == T_ARRAY)
            snprintf(extra, sizeof extra, "Sent as repeated '%s' keys.", g->wire);
        else if (strcmp(g->cname, g->wire))
            snprintf(extra, sizeof extra, "Wire name '%s'.", g->wire);
        if (g->fmt) {
            size_t el = strlen(extra);
            snprintf(extra + el, sizeof extra - el,
                     "%sA property string: build it with %s_encode().",
                     el ? " " : "", g_fmt[g->fmt - 1].name);
        }
        const char *d = jstr(g->js, "description");
        const char *tt = jstr(g->js, "typetext");
        sb dd = {0};
        if (d)
            sb_puts(&dd, d);
        if (tt && strchr(tt, '=')) {
            sb_printf(&dd, "%sFormat: %s", d ? "\n" : "", tt);
        }
        doc_comment(h, 4, dd.d, extra[0] ? extra : NULL);
        sb_free(&dd);
        switch (g->type) {
        case T_STRING:
            if (g->count)
                sb_printf(h, "    const char *%s[%d];\n", g->cname, g->count);
            else
                sb_printf(h, "    const char *%s;\n", g->cname);
            break;
        case T_INTEGER:
            sb_printf(h, "    %s %s;\n", g->required ? "int64_t" : "pmx_opt_i64", g->cname);
            break;
        case T_BOOLEAN:
            sb_printf(h, "    %s %s;\n", g->required ? "int" : "pmx_opt_bool", g->cname);
            break;
        case T_NUMBER:
            sb_printf(h, "    %s %s;\n", g->required ? "double" : "pmx_opt_f64", g->cname);
            break;
        case T_ARRAY:
            sb_printf(h, "    const char *const *%s;\n    size_t n_%s;\n", g->cname, g->cname);
            break;
        }
        nfields++;
    }
    if (!nfields)
        sb_puts(h, "    int reserved_; /* the method takes no further parameters; ignored */\n");
    sb_printf(h, "} %s_params;\n\n", m->fn);

    /* result */
    sb_free(&s->types);
    int has_result = emit_result(s, m, where);

    /* function declaration */
    sb proto = {0};
    sb_printf(&proto, "int %s(pmx_client *c", m->fn);
    for (size_t i = 0; i < m->n_path; i++)
        sb_printf(&proto, ", %s%s", m->params[i].type == T_INTEGER ? "int64_t " : "const char *",
                  m->params[i].cname);
    sb_printf(&proto, ", const %s_params *p, pmx_done_fn done, void *userdata, pmx_call **out)",
              m->fn);
    sb note = {0};
    sb_printf(&note, "%s %s", m->verb, m->path);
    int prot = jtrue(m->info, "protected"), tok = jtrue(m->info, "allowtoken");
    if (prot || tok)
        sb_printf(&note, " (%s%s%s)", prot ? "protected" : "", prot && tok ? ", " : "",
                  tok ? "API tokens allowed" : "");
    sb_printf(&note, ".\n@param c         the client.\n");
    for (size_t i = 0; i < m->n_path; i++)
        sb_printf(&note, "@param %-9s path parameter {%s}: %s; escaped by the library.\n",
                  m->params[i].cname, m->params[i].wire,
                  m->params[i].type == T_INTEGER ? "integer" : "string, copied");
    sb_printf(&note, "@param p         further parameters, NULL for none; copied before return.\n"
                     "@param done      runs once from the event loop, never inside this "
                     "function (may be NULL).\n"
                     "@param userdata  passed to @p done, borrowed.\n"
                     "@param out       may be NULL, else a reference the caller drops with "
                     "pmx_call_unref().\n"
                     "@return like pmx_call_start(); invalid parameters complete the call "
                     "asynchronously with PMX_EINVAL and a message naming the parameter "
                     "(pmx_call_error()).");
    if (has_result)
        sb_printf(&note, " The decoded result: %s_result_of(call).", m->fn);
    sb_printf(&note, "\nSince: 1.0");
    doc_comment(h, 0, desc, note.d);
    sb_free(&note);
    wrap_proto(h, "PMX_API ", proto.d, ";\n\n");
    if (has_result) {
        sb_printf(h, "/** Typed result of a call made with %s() (NULL until it succeeded). */\n",
                  m->fn);
        sb_printf(h, "static inline const %s_result *\n%s_result_of(const pmx_call *call) {\n"
                     "    return (const %s_result *)pmx_call_typed(call);\n}\n\n",
                  m->fn, m->fn, m->fn);
    }

    /* C: type tables, param table, method desc, function */
    sb_printf(c, "/* ---- %s %s ---- */\n\n", m->verb, m->path);
    if (s->types.n)
        sb_put(c, s->types.d, s->types.n);
    for (size_t i = 0; i < m->np; i++) {
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(m->params[i].cons, "enum");
        if (!en || cJSON_IsNull(en))
            continue; /* "enum": null occurs: no restriction */
        if (!cJSON_IsArray(en))
            die("%s: parameter '%s': \"enum\" must be an array", where, m->params[i].key);
        sb_printf(c, "static const char *const e_%s_%s[] = {", m->fn, m->params[i].cname);
        const cJSON *v;
        int first = 1;
        cJSON_ArrayForEach(v, en) {
            if (!cJSON_IsString(v))
                die("%s: parameter '%s': enum values must be strings", where, m->params[i].key);
            sb_puts(c, first ? "" : ", ");
            c_string(c, v->valuestring);
            first = 0;
        }
        sb_puts(c, "};\n");
    }
    if (m->np) {
        sb_printf(c, "static const pmx_param_desc p_%s[] = {\n", m->fn);
        for (size_t i = 0; i < m->np; i++) {
            gparam *g = &m->params[i];
            const cJSON *k = g->cons;
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
            sb flags = {0};
            const char *sep = "";
#define FLAG(cond, name)                                                                        \
    do {                                                                                        \
        if (cond) {                                                                             \
            sb_printf(&flags, "%s%s", sep, name);                                               \
            sep = " | ";                                                                        \
        }                                                                                       \
    } while (0)
            const cJSON *mn = cJSON_GetObjectItemCaseSensitive(k, "minimum");
            const cJSON *mx = cJSON_GetObjectItemCaseSensitive(k, "maximum");
            const cJSON *mnl = cJSON_GetObjectItemCaseSensitive(k, "minLength");
            const cJSON *mxl = cJSON_GetObjectItemCaseSensitive(k, "maxLength");
            const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(k, "format");
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(k, "pattern");
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(k, "enum");
            if (cJSON_IsNull(en))
                en = NULL;
            double vmn = 0, vmx = 0, vmnl = 0, vmxl = 0;
            const cJSON *nums[] = {mn, mx, mnl, mxl};
            double *vals[] = {&vmn, &vmx, &vmnl, &vmxl};
            for (size_t x = 0; x < 4; x++) {
                if (!nums[x])
                    continue;
                char *e = NULL;
                if (cJSON_IsNumber(nums[x]))
                    *vals[x] = nums[x]->valuedouble;
                else if (cJSON_IsString(nums[x]) && nums[x]->valuestring[0] &&
                         (*vals[x] = strtod(nums[x]->valuestring, &e), !*e))
                    ; /* Perl schemas sometimes give numbers as strings */
                else
                    die("%s: parameter '%s': \"%s\" must be a number", where, g->key,
                        nums[x]->string);
            }
            if (pat && !cJSON_IsString(pat))
                die("%s: parameter '%s': \"pattern\" must be a string", where, g->key);
            FLAG(g->required, "PMX_PARAM_REQUIRED");
            FLAG(mn, "PMX_PARAM_HAS_MIN");
            FLAG(mx, "PMX_PARAM_HAS_MAX");
            FLAG(mnl, "PMX_PARAM_HAS_MIN_LENGTH");
            FLAG(mxl, "PMX_PARAM_HAS_MAX_LENGTH");
            FLAG(cJSON_IsObject(fmt) || g->fmt, "PMX_PARAM_PROPERTY_STRING");
            FLAG(g->count, "PMX_PARAM_INDEXED");
#undef FLAG
            sb_printf(c, "    {\n        .size = sizeof(pmx_param_desc),\n");
            sb_printf(c, "        .type = %s,\n", type_enum[g->type]);
            sb_printf(c, "        .item_type = %s,\n", type_enum[g->item_type]);
            sb_printf(c, "        .loc = %s,\n", loc_enum[g->loc]);
            if (flags.n)
                sb_printf(c, "        .flags = %s,\n", flags.d);
            sb_free(&flags);
            if (g->count)
                sb_printf(c, "        .count = %d,\n", g->count);
            sb_printf(c, "        .name = \"%s\",\n", g->wire);
            sb_printf(c, "        .c_name = \"%s\",\n", g->cname);
            if (g->loc == L_PATH)
                sb_printf(c, "        .offset = %d,\n", g->path_pos);
            else
                sb_printf(c, "        .offset = offsetof(%s_params, %s),\n", m->fn, g->cname);
            if (g->type == T_ARRAY)
                sb_printf(c, "        .count_offset = offsetof(%s_params, n_%s),\n", m->fn,
                          g->cname);
            if (mn)
                sb_printf(c, "        .minimum = %.17g,\n", vmn);
            if (mx)
                sb_printf(c, "        .maximum = %.17g,\n", vmx);
            if (mnl)
                sb_printf(c, "        .min_length = %.0f,\n", vmnl);
            if (mxl)
                sb_printf(c, "        .max_length = %.0f,\n", vmxl);
            if (en) {
                st.p_enum++;
                sb_printf(c, "        .enum_values = e_%s_%s,\n", m->fn, g->cname);
                sb_printf(c, "        .n_enum = sizeof e_%s_%s / sizeof e_%s_%s[0],\n", m->fn,
                          g->cname, m->fn, g->cname);
            }
            if (pat) {
                st.p_pattern++;
                sb_puts(c, "        .pattern = ");
                c_string(c, pat->valuestring);
                sb_puts(c, ",\n");
                char *ere = perl_to_ere(pat->valuestring);
                if (ere) {
                    st.p_pattern_posix++;
                    sb_puts(c, "        .posix_pattern = ");
                    c_string(c, ere);
                    sb_puts(c, ",\n");
                    free(ere);
                }
            }
            if (cJSON_IsString(fmt)) {
                st.p_format++;
                sb_puts(c, "        .format = ");
                c_string(c, fmt->valuestring);
                sb_puts(c, ",\n");
            } else if (cJSON_IsObject(fmt)) {
                st.p_propstring++;
            } else if (fmt) {
                die("%s: parameter '%s': \"format\" must be a string or an object", where,
                    g->key);
            }
            const char *tt = jstr(g->js, "typetext");
            if (tt) {
                sb_puts(c, "        .typetext = ");
                c_string(c, tt);
                sb_puts(c, ",\n");
            }
            const cJSON *dv = cJSON_GetObjectItemCaseSensitive(g->js, "default");
            if (dv) {
                sb_puts(c, "        .default_value = ");
                default_text(c, dv);
                sb_puts(c, ",\n");
            }
            const char *d = jstr(g->js, "description");
            if (d) {
                sb_puts(c, "        .description = ");
                c_string(c, d);
                sb_puts(c, ",\n");
            }
            if (g->fmt) {
                sb_printf(c, "        .propstr = &%s,\n", g_fmt[g->fmt - 1].sym);
                if (!g_fmt_declared[g->fmt - 1]) {
                    g_fmt_declared[g->fmt - 1] = 1;
                    sb_printf(&s->fmt_externs, "extern const pmx_propstr_desc %s;\n",
                              g_fmt[g->fmt - 1].sym);
                }
            }
            sb_puts(c, "    },\n");
        }
        sb_puts(c, "};\n");
    }
    unsigned fl = 0;
    sb_printf(c, "static const pmx_method_desc d_%s = {\n", m->fn);
    sb_printf(c, "    .size = sizeof(pmx_method_desc),\n    .method = PMX_%s,\n", m->verb);
    sb flags = {0};
    if (jtrue(m->info, "protected"))
        sb_puts(&flags, "PMX_METHOD_PROTECTED"), fl++;
    if (jtrue(m->info, "allowtoken"))
        sb_printf(&flags, "%sPMX_METHOD_ALLOWTOKEN", fl++ ? " | " : "");
    if (jtrue(m->info, "unstable"))
        sb_printf(&flags, "%sPMX_METHOD_UNSTABLE", fl++ ? " | " : "");
    if (flags.n)
        sb_printf(c, "    .flags = %s,\n", flags.d);
    sb_free(&flags);
    sb_puts(c, "    .path = ");
    c_string(c, m->path);
    sb_printf(c, ",\n    .name = \"%s\",\n", m->fn);
    if (desc) {
        sb_puts(c, "    .description = ");
        c_string(c, desc);
        sb_puts(c, ",\n");
    }
    if (m->np)
        sb_printf(c, "    .params = p_%s,\n    .n_params = %zu,\n", m->fn, m->np);
    if (m->n_path)
        sb_printf(c, "    .n_path_params = %zu,\n", m->n_path);
    sb_printf(c, "    .params_size = sizeof(%s_params),\n", m->fn);
    if (has_result)
        sb_printf(c, "    .result = &t_%s_result,\n", m->fn);
    sb_puts(c, "};\n\n");
    /* the function */
    wrap_proto(c, "", proto.d, " {\n");
    if (m->n_path) {
        sb_puts(c, "    const void *path_args[] = {");
        for (size_t i = 0; i < m->n_path; i++)
            sb_printf(c, "%s%s%s", i ? ", " : "", m->params[i].type == T_INTEGER ? "&" : "",
                      m->params[i].cname);
        sb_puts(c, "};\n");
        sb_printf(c, "    return pmx__bind_call(c, &d_%s, path_args, p, done, userdata, out);\n",
                  m->fn);
    } else {
        sb_printf(c, "    return pmx__bind_call(c, &d_%s, NULL, p, done, userdata, out);\n",
                  m->fn);
    }
    sb_puts(c, "}\n\n");
    sb_free(&proto);
}

/* ---- driver ------------------------------------------------------------------------------- */

static void sha256_hex(const char *data, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        die("sha256 failed");
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* Accept plain JSON or the api-viewer's apidoc.js ("const apiSchema = [...];"). */
static void unwrap(const char *text, size_t len, const char **js, size_t *jlen) {
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len && (text[i] == '[' || text[i] == '{')) {
        *js = text + i;
        *jlen = len - i;
        return;
    }
    const char *a = NULL;
    for (size_t k = 0; k + 9 <= len; k++)
        if (!memcmp(text + k, "apiSchema", 9)) {
            a = text + k;
            break;
        }
    if (!a)
        die("%s: neither JSON nor an apidoc.js with \"const apiSchema = [...];\"", opt.schema);
    const char *s = memchr(a, '[', (size_t)(text + len - a));
    if (!s)
        die("%s: apiSchema has no array", opt.schema);
    /* the viewer's JavaScript follows the array: the parser stops at its end */
    *js = s;
    *jlen = (size_t)(text + len - s);
}

static void check_pin(const char *sha, char *version, size_t vcap) {
    snprintf(version, vcap, "unknown");
    if (!opt.pin)
        return;
    size_t len;
    char *t = read_file(opt.pin, &len);
    cJSON *pin = parse_json(opt.pin, t, len);
    free(t);
    if (!cJSON_IsObject(pin))
        die("%s: must be a JSON object", opt.pin);
    const char *v = jstr(pin, "pve_version");
    if (v)
        snprintf(version, vcap, "%s", v);
    const char *ps = jstr(pin, "sha256");
    if (!ps || strcmp(ps, sha) != 0) {
        if (!opt.update_pin)
            die("%s: schema sha256 %s does not match the pin in %s (%s); if this schema is "
                "intended, run pmx-gen with --update-pin (and set pve_version there)",
                opt.schema, sha, opt.pin, ps ? ps : "none");
        cJSON_DeleteItemFromObjectCaseSensitive(pin, "sha256");
        cJSON_AddStringToObject(pin, "sha256", sha);
        char *out = cJSON_Print(pin);
        sb b = {0};
        sb_puts(&b, out);
        sb_puts(&b, "\n");
        write_file(opt.pin, &b);
        sb_free(&b);
        free(out);
        fprintf(stderr, "pmx-gen: updated %s to sha256 %s\n", opt.pin, sha);
    }
    cJSON_Delete(pin);
}

/* Remove generated files (line 1 starts with "/ * Generated by pmx-gen") not in keep. */
static void prune(const char *dir, char **keep, size_t nkeep) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 3 || (strcmp(e->d_name + l - 2, ".c") && strcmp(e->d_name + l - 2, ".h")))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int kept = 0;
        for (size_t i = 0; i < nkeep; i++)
            if (!strcmp(keep[i], path))
                kept = 1;
        if (kept)
            continue;
        FILE *f = fopen(path, "rb");
        char line[64] = "";
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = 0;
            fclose(f);
        }
        if (!strncmp(line, "/* Generated by pmx-gen", 23))
            remove(path);
    }
    closedir(d);
}

static void usage(void) {
    fputs("usage: pmx-gen --schema FILE [--overrides FILE] [--pin FILE] [--update-pin]\n"
          "               --include-dir DIR --src-dir DIR [--chunk N] [--quiet]\n"
          "  FILE for --schema: the unwrapped JSON or apidoc.js from a PVE node.\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define ARG(name, var)                                                                         \
    if (!strcmp(a, name)) {                                                                    \
        if (++i >= argc)                                                                       \
            usage();                                                                           \
        var = argv[i];                                                                         \
        continue;                                                                              \
    }
        ARG("--schema", opt.schema)
        ARG("--overrides", opt.overrides)
        ARG("--pin", opt.pin)
        ARG("--include-dir", opt.include_dir)
        ARG("--src-dir", opt.src_dir)
#undef ARG
        if (!strcmp(a, "--update-pin")) {
            opt.update_pin = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            opt.quiet = 1;
            continue;
        }
        if (!strcmp(a, "--chunk") && i + 1 < argc) {
            opt.chunk = (size_t)strtoul(argv[++i], NULL, 10);
            if (!opt.chunk)
                usage();
            continue;
        }
        usage();
    }
    if (!opt.schema || !opt.include_dir || !opt.src_dir)
        usage();

    size_t len;
    char *text = read_file(opt.schema, &len);
    char sha[65];
    sha256_hex(text, len, sha);
    char version[128];
    check_pin(sha, version, sizeof version);
    snprintf(g_header, sizeof g_header,
             "/* Generated by pmx-gen from PVE %s (%.12s) \xe2\x80\x94 do not edit. */\n",
             version, sha);
    if (opt.overrides) {
        size_t ol;
        char *ot = read_file(opt.overrides, &ol);
        g_over = parse_json(opt.overrides, ot, ol);
        free(ot);
        if (!cJSON_IsObject(g_over))
            die("%s: must be a JSON object", opt.overrides);
    }
    const char *js;
    size_t jlen;
    unwrap(text, len, &js, &jlen);
    cJSON *root = parse_json(opt.schema, js, jlen);
    if (!cJSON_IsArray(root))
        die("%s: the schema must be a JSON array of tree nodes", opt.schema);
    const cJSON *it;
    cJSON_ArrayForEach(it, root) walk(it, "schema");
    if (!g_nm)
        die("%s: no methods found", opt.schema);
    qsort(g_m, g_nm, sizeof *g_m, cmp_method);
    for (size_t i = 0; i < g_nm; i++) {
        if (i && !cmp_method(&g_m[i - 1], &g_m[i]))
            die("%s %s: defined twice", g_m[i].verb, g_m[i].path);
        analyse(&g_m[i]);
    }
    fmt_collect();
    g_fmt_declared = xcalloc(g_nfmt ? g_nfmt : 1, 1);
    /* name clashes */
    {
        size_t *idx = xcalloc(g_nm, sizeof *idx);
        for (size_t i = 0; i < g_nm; i++)
            idx[i] = i;
        for (size_t i = 1; i < g_nm; i++) /* insertion sort by name; stable, deterministic */
            for (size_t j = i; j > 0 && strcmp(g_m[idx[j - 1]].fn, g_m[idx[j]].fn) > 0; j--) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        for (size_t i = 1; i < g_nm; i++)
            if (!strcmp(g_m[idx[i - 1]].fn, g_m[idx[i]].fn))
                die("function name clash: %s is generated for both %s %s and %s %s; add a "
                    "\"function_names\" override",
                    g_m[idx[i]].fn, g_m[idx[i - 1]].verb, g_m[idx[i - 1]].path, g_m[idx[i]].verb,
                    g_m[idx[i]].path);
        /* by-name index, emitted in index.c */
        sb ix = {0};
        sb_puts(&ix, "/* Methods by function name: positions in method order (pmx_method_at). */\n");
        sb_printf(&ix, "const uint16_t pmx__gen_by_name[] = {\n");
        for (size_t i = 0; i < g_nm; i++)
            sb_printf(&ix, "    %zu, /* %s */\n", idx[i], g_m[idx[i]].fn);
        sb_puts(&ix, "};\n");
        free(idx);

        /* sections */
        section *secs = xcalloc(g_nm, sizeof *secs);
        size_t nsec = 0;
        for (size_t i = 0; i < g_nm; i++) {
            if (!nsec || strcmp(secs[nsec - 1].name, g_m[i].section)) {
                for (size_t k = 0; k < nsec; k++)
                    if (!strcmp(secs[k].name, g_m[i].section))
                        die("internal: section order");
                snprintf(secs[nsec].name, sizeof secs[nsec].name, "%s", g_m[i].section);
                nsec++;
            }
        }
        char **written = xcalloc(2 * nsec + 64 * nsec + 8, sizeof(char *));
        size_t nw = 0;
        sb tabs = {0};
        sb externs = {0};
        size_t mi = 0;
        for (size_t si = 0; si < nsec; si++) {
            section *s = &secs[si];
            size_t start = mi;
            while (mi < g_nm && !strcmp(g_m[mi].section, s->name))
                mi++;
            size_t count = mi - start;
            s->nchunks = (count + opt.chunk - 1) / opt.chunk;
            if (s->nchunks > 64)
                die("section %s: too many chunks; raise --chunk", s->name);
            for (size_t k = 0; k < s->nchunks; k++) {
                s->cur = &s->src[k];
                memset(s->used_scalar, 0, sizeof s->used_scalar);
                memset(g_fmt_declared, 0, g_nfmt ? g_nfmt : 1);
                sb_free(&s->fmt_externs);
                sb body = {0};
                s->cur = &body;
                size_t a = start + k * opt.chunk, b = a + opt.chunk;
                if (b > mi)
                    b = mi;
                for (size_t j = a; j < b; j++)
                    emit_method(s, &g_m[j]);
                sb *out = &s->src[k];
                sb_puts(out, g_header);
                sb_printf(out, "/* PVE API /%s: method tables and endpoint functions. */\n",
                          s->name);
                sb_puts(out, "#include \"bind.h\"\n\n#include <stddef.h>\n\n");
                for (int sk = 1; sk <= 10; sk++)
                    if (s->used_scalar[sk])
                        sb_printf(out,
                                  "static const pmx_type_desc t__%s = {\n    sizeof(pmx_type_desc), "
                                  "%s, 0, NULL, 0, NULL, 0};\n",
                                  kind_enum[sk] + 9, kind_enum[sk]);
                if (s->fmt_externs.n)
                    sb_put(out, s->fmt_externs.d, s->fmt_externs.n);
                sb_puts(out, "\n");
                sb_put(out, body.d, body.n);
                char sym[200];
                if (s->nchunks == 1)
                    snprintf(sym, sizeof sym, "pmx__gen_%s", s->name);
                else
                    snprintf(sym, sizeof sym, "pmx__gen_%s_%zu", s->name, k + 1);
                sb_printf(out, "const pmx_method_desc *const %s[] = {\n", sym);
                for (size_t j = a; j < b; j++)
                    sb_printf(out, "    &d_%s,\n", g_m[j].fn);
                sb_puts(out, "};\n");
                sb_free(&body);
                sb_printf(&externs, "extern const pmx_method_desc *const %s[%zu];\n", sym, b - a);
                sb_printf(&tabs, "    {%s, %zu},\n", sym, b - a);
                char path[4096];
                if (s->nchunks == 1)
                    snprintf(path, sizeof path, "%s/%s.c", opt.src_dir, s->name);
                else
                    snprintf(path, sizeof path, "%s/%s_%zu.c", opt.src_dir, s->name, k + 1);
                write_file(path, out);
                written[nw++] = xstrdup(path);
            }
            /* header */
            sb hb = {0};
            char guard[128];
            snprintf(guard, sizeof guard, "PROXMOX_GEN_%s_H", s->name);
            for (char *g = guard; *g; g++)
                *g = (char)toupper((unsigned char)*g);
            sb_puts(&hb, g_header);
            sb_printf(&hb, "/* PVE API /%s: typed endpoint functions, parameter and result "
                           "types. */\n#ifndef %s\n#define %s\n\n", s->name, guard, guard);
            sb_puts(&hb, "#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)\n"
                         "#error \"Only <proxmox/proxmox.h> can be included directly.\"\n"
                         "#endif\n\nPMX_BEGIN_DECLS\n\n");
            sb_put(&hb, s->hdr.d, s->hdr.n);
            sb_printf(&hb, "PMX_END_DECLS\n#endif\n");
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.h", opt.include_dir, s->name);
            write_file(path, &hb);
            written[nw++] = xstrdup(path);
            sb_free(&hb);
        }
        /* api.h */
        sb ab = {0};
        sb_puts(&ab, g_header);
        sb_puts(&ab, "/* Umbrella of the generated PVE bindings: one header per top-level path. "
                     "*/\n#ifndef PROXMOX_GEN_API_H\n#define PROXMOX_GEN_API_H\n\n"
                     "#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)\n"
                     "#error \"Only <proxmox/proxmox.h> can be included directly.\"\n"
                     "#endif\n\n");
        sb_printf(&ab, "/** PVE version of the schema the bindings were generated from. */\n"
                       "#define PMX_GEN_PVE_VERSION \"%s\"\n"
                       "/** sha256 of that schema. */\n#define PMX_GEN_SCHEMA_SHA256 \"%s\"\n"
                       "/** Number of generated methods. */\n#define PMX_GEN_METHOD_COUNT %zu\n\n",
                  version, sha, g_nm);
        sb_puts(&ab, "#include <proxmox/gen/propstr.h>\n");
        for (size_t si = 0; si < nsec; si++)
            sb_printf(&ab, "#include <proxmox/gen/%s.h>\n", secs[si].name);
        sb_puts(&ab, "\n#endif\n");
        char path[4096];
        snprintf(path, sizeof path, "%s/api.h", opt.include_dir);
        write_file(path, &ab);
        written[nw++] = xstrdup(path);
        sb_free(&ab);
        /* propstr.h, propstr.c */
        {
            sb ph = {0}, pc = {0};
            fmt_emit(&ph, &pc);
            snprintf(path, sizeof path, "%s/propstr.h", opt.include_dir);
            write_file(path, &ph);
            written[nw++] = xstrdup(path);
            snprintf(path, sizeof path, "%s/propstr.c", opt.src_dir);
            write_file(path, &pc);
            written[nw++] = xstrdup(path);
            sb_free(&ph);
            sb_free(&pc);
        }
        /* index.c */
        sb xb = {0};
        sb_puts(&xb, g_header);
        sb_puts(&xb, "/* Index of all generated method tables, in path/verb order. */\n"
                     "#include \"bind.h\"\n\n");
        sb_put(&xb, externs.d, externs.n);
        sb_puts(&xb, "\nconst pmx__gen_chunk pmx__gen_chunks[] = {\n");
        sb_put(&xb, tabs.d, tabs.n);
        sb_puts(&xb, "};\nconst size_t pmx__gen_n_chunks = sizeof pmx__gen_chunks / sizeof "
                     "pmx__gen_chunks[0];\n");
        sb_printf(&xb, "const size_t pmx__gen_n_methods = %zu;\n\n", g_nm);
        sb_put(&xb, ix.d, ix.n);
        snprintf(path, sizeof path, "%s/index.c", opt.src_dir);
        write_file(path, &xb);
        written[nw++] = xstrdup(path);
        sb_free(&xb);
        sb_free(&ix);
        prune(opt.src_dir, written, nw);
        prune(opt.include_dir, written, nw);
        for (size_t i = 0; i < nw; i++)
            free(written[i]);
        free(written);
        for (size_t si = 0; si < nsec; si++) {
            section *s = &secs[si];
            sb_free(&s->hdr);
            sb_free(&s->types);
            sb_free(&s->fmt_externs);
            for (size_t k = 0; k < s->nchunks; k++)
                sb_free(&s->src[k]);
            for (size_t k = 0; k < s->ntn; k++)
                free(s->tnames[k]);
            free(s->tnames);
        }
        free(secs);
        sb_free(&tabs);
        sb_free(&externs);
    }
    if (!opt.quiet) {
        printf("pmx-gen: PVE %s (sha256 %.12s): %zu methods\n", version, sha, st.methods);
        printf("  parameters: %zu typed of %zu (path %zu; string %zu, integer %zu, boolean %zu, "
               "number %zu, array %zu; indexed %zu)\n",
               st.params, st.params, st.path_params, st.p_string, st.p_int, st.p_bool, st.p_num,
               st.p_array, st.p_indexed);
        printf("  constraints: %zu enums, %zu named formats, %zu property strings, patterns %zu "
               "of %zu checkable as POSIX ERE\n",
               st.p_enum, st.p_format, st.p_propstring, st.p_pattern_posix, st.p_pattern);
        printf("  results: %zu declared (%zu struct, %zu array, %zu scalar, %zu raw JSON), %zu "
               "none\n",
               st.results, st.results_struct, st.results_array, st.results_scalar,
               st.results_raw, st.results_none);
        printf("  result fields: %zu typed, %zu raw JSON, of %zu\n", st.fields_typed,
               st.fields_raw, st.fields);
        printf("  property strings: %zu formats typed (%zu keys, %zu aliases) from %zu uses "
               "(%zu parameters, %zu result fields)\n",
               pst.structs, pst.keys, pst.aliases, pst.uses, pst.param_uses, pst.result_uses);
    }
    for (size_t i = 0; i < g_nm; i++) {
        for (size_t k = 0; k < g_m[i].n_path; k++)
            if (!g_m[i].params[k].js)
                free((char *)g_m[i].params[k].key);
        free(g_m[i].params);
    }
    free(g_m);
    for (size_t i = 0; i < g_nfmt; i++)
        free(g_fmt[i].canon);
    free(g_fmt);
    free(g_fmt_declared);
    free(g_rlink);
    cJSON_Delete(root);
    cJSON_Delete(g_over);
    free(text);
    return 0;
}
