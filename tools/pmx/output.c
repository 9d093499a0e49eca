/* pmx: text tables, JSON output, `usage` and `ls`. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "pmx.h"

/* ---- text from the server, made safe for a terminal ---- */

/* The length of the UTF-8 sequence at p (n bytes left) and its code point, or 0 when the bytes
 * there are not UTF-8 (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned char b = p[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if ((b & 0xe0) == 0xc0)
        len = 2, c = b & 0x1fu, min = 0x80;
    else if ((b & 0xf0) == 0xe0)
        len = 3, c = b & 0x0fu, min = 0x800;
    else if ((b & 0xf8) == 0xf0)
        len = 4, c = b & 0x07u, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Code points a terminal acts on instead of showing: C0, DEL, C1, and the bidirectional
 * overrides and isolates (which reorder what follows them on the line). */
static int is_control(uint32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

char *cli_escape_n(const char *s, size_t n) {
    if (!s)
        n = 0;
    if (n > (SIZE_MAX - 1) / 4)
        return NULL;
    char *out = malloc(n * 4 + 1), *o = out; /* at most 4 bytes for 1 (\xNN) */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_seq(p + i, n - i, &c);
        if (!len) { /* not UTF-8: the byte itself, as a number */
            o += sprintf(o, "\\x%02x", p[i]);
            i++;
            continue;
        }
        if (!is_control(c)) {
            memcpy(o, p + i, len);
            o += len;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x80) {
            o += sprintf(o, "\\x%02x", (unsigned)c);
        } else {
            o += sprintf(o, "\\u%04x", (unsigned)c);
        }
        i += len;
    }
    *o = 0;
    return out;
}

char *cli_escape(const char *s) { return cli_escape_n(s, s ? strlen(s) : 0); }

void cli_put(FILE *f, const char *s) {
    if (!s)
        return;
    char *e = cli_escape(s);
    fputs(e ? e : "?", f);
    free(e);
}

size_t cli_width(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_seq(p + i, n - i, &c);
        if (!len) {
            w++, i++;
            continue;
        }
        /* the locale's width (0 for combining marks, 2 for CJK); 1 where it has none (the C
         * locale knows no character past ASCII) */
        int cw = c < 0x80 ? 1 : wcwidth((wchar_t)c);
        w += cw < 0 ? 1 : (size_t)cw;
        i += len;
    }
    return w;
}

/* JSON text as it is, but DEL and the C1 controls (valid unescaped in a JSON string, acted on by
 * terminals) as \u escapes, and so anything else no valid JSON holds raw (controls other than
 * the blanks between tokens, bytes that are not UTF-8): the meaning stays, the terminal is safe. */
static void put_json(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_seq(p + i, n - i, &c);
        if (!len) {
            fputs("\\ufffd", stdout);
            i++;
            continue;
        }
        if (is_control(c) && c != '\n' && c != '\r' && c != '\t' && c != ' ')
            printf("\\u%04x", (unsigned)c);
        else
            fwrite(p + i, 1, len, stdout);
        i += len;
    }
    putchar('\n');
}

/* ---- values as text ---- */

/* A value as one line of text, escaped; NULL only when out of memory. */
static char *cell(const cJSON *v) {
    if (!v || cJSON_IsNull(v))
        return strdup("");
    if (cJSON_IsString(v))
        return cli_escape(v->valuestring);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "1" : "0");
    char *raw = cJSON_PrintUnformatted(v); /* numbers, nested arrays and objects */
    char *s = raw ? cli_escape(raw) : NULL;
    free(raw);
    return s;
}

/* s, then blanks up to w columns. */
static void padded(const char *s, size_t w) {
    fputs(s, stdout);
    for (size_t k = cli_width(s); k < w; k++)
        putchar(' ');
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Column names: the union of the items' keys, sorted; -1 when out of memory. */
static long columns(const cJSON *arr, const char ***out) {
    const char **cols = NULL;
    size_t n = 0;
    const cJSON *item, *kv;
    cJSON_ArrayForEach(item, arr) {
        cJSON_ArrayForEach(kv, item) {
            size_t j;
            for (j = 0; j < n && strcmp(cols[j], kv->string); j++)
                ;
            if (j == n) {
                const char **more = realloc(cols, (n + 1) * sizeof *cols);
                if (!more) {
                    free(cols);
                    return -1;
                }
                cols = more;
                cols[n++] = kv->string;
            }
        }
    }
    if (n)
        qsort(cols, n, sizeof *cols, cmp_str);
    *out = cols;
    return (long)n;
}

static void rule(const size_t *w, size_t n) {
    for (size_t j = 0; j < n; j++) {
        fputs(j ? "-+-" : "", stdout);
        for (size_t k = 0; k < w[j]; k++)
            putchar('-');
    }
    putchar('\n');
}

/* An array of objects: one column per key, one row per item. Keys and values are escaped. */
static int table_of_objects(const cJSON *arr) {
    const char **cols = NULL;
    long ncols = columns(arr, &cols);
    if (ncols < 0)
        return -1;
    size_t nc = (size_t)ncols, nr = (size_t)cJSON_GetArraySize(arr);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    char **names = calloc(nc ? nc : 1, sizeof *names);
    char **cells = nr && nc > SIZE_MAX / sizeof *cells / nr ? NULL : calloc(nr * nc + 1, sizeof *cells);
    int rc = w && names && cells ? 0 : -1;
    for (size_t j = 0; !rc && j < nc; j++) {
        if (!(names[j] = cli_escape(cols[j])))
            rc = -1;
        else
            w[j] = cli_width(names[j]);
    }
    size_t r = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        for (size_t j = 0; !rc && j < nc; j++) {
            char *s = cell(cJSON_GetObjectItemCaseSensitive(item, cols[j]));
            cells[r * nc + j] = s;
            size_t cw = s ? cli_width(s) : 0;
            if (!s)
                rc = -1;
            else if (cw > w[j])
                w[j] = cw;
        }
        r++;
    }
    if (!rc) {
        for (size_t j = 0; j < nc; j++) {
            fputs(j ? " | " : "", stdout);
            padded(names[j], w[j]);
        }
        putchar('\n');
        rule(w, nc);
        for (r = 0; r < nr; r++) {
            for (size_t j = 0; j < nc; j++) {
                fputs(j ? " | " : "", stdout);
                padded(cells[r * nc + j], w[j]);
            }
            putchar('\n');
        }
    }
    for (size_t k = 0; cells && k < nr * nc; k++)
        free(cells[k]);
    for (size_t j = 0; names && j < nc; j++)
        free(names[j]);
    free(cells);
    free(names);
    free(w);
    free(cols);
    return rc;
}

/* An object: one row per key. */
static int table_of_object(const cJSON *obj) {
    size_t n = (size_t)cJSON_GetArraySize(obj), kw = 3, i = 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    char **names = calloc(n + 1, sizeof *names);
    int rc = keys && names ? 0 : -1;
    const cJSON *kv;
    if (!rc)
        cJSON_ArrayForEach(kv, obj) keys[i++] = kv->string;
    if (!rc)
        qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; !rc && i < n; i++) {
        size_t cw = (names[i] = cli_escape(keys[i])) ? cli_width(names[i]) : 0;
        if (!names[i])
            rc = -1;
        else if (cw > kw)
            kw = cw;
    }
    if (!rc) {
        padded("key", kw);
        fputs(" | value\n", stdout);
        size_t w[2] = {kw, 5};
        rule(w, 2);
    }
    for (i = 0; !rc && i < n; i++) {
        char *s = cell(cJSON_GetObjectItemCaseSensitive(obj, keys[i]));
        if (!s) {
            rc = -1;
            break;
        }
        padded(names[i], kw);
        printf(" | %s\n", s);
        free(s);
    }
    for (i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(keys);
    return rc;
}

/* One escaped value on a line. */
static int line_of(const cJSON *v) {
    char *s = cell(v);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

int cli_output(const char *data, size_t len, const char *format, const pmx_method_desc *d) {
    (void)d;
    if (!data)
        return 0;
    int rc = 0;
    if (strcmp(format, "json") == 0) {
        put_json(data, len); /* a write error shows in stdout's state, checked at exit */
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    if (!j) {
        /* not JSON (the library hands over JSON text, so only on a broken answer or out of memory) */
        if (strcmp(format, "text") != 0) {
            put_json(data, len);
            return 0;
        }
        char *s = cli_escape_n(data, len);
        if (s)
            puts(s);
        free(s);
        return s ? 0 : EXIT_API;
    }
    if (strcmp(format, "json-pretty") == 0) {
        char *s = cJSON_Print(j);
        if (s)
            put_json(s, strlen(s));
        else
            rc = -1;
        free(s);
    } else if (cJSON_IsArray(j)) {
        int objects = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) objects &= cJSON_IsObject(it);
        if (objects && cJSON_GetArraySize(j) > 0) {
            rc = table_of_objects(j);
        } else {
            cJSON_ArrayForEach(it, j) {
                if ((rc = line_of(it)) != 0)
                    break;
            }
        }
    } else if (cJSON_IsObject(j)) {
        rc = table_of_object(j);
    } else if (!cJSON_IsNull(j)) {
        rc = line_of(j);
    }
    cJSON_Delete(j);
    if (rc) {
        fprintf(stderr, "pmx: out of memory formatting the answer\n");
        return EXIT_API;
    }
    return 0;
}

/* ---- usage ---- */

static const char *type_name(uint32_t t) {
    switch (t) {
    case PMX_PARAM_STRING: return "string";
    case PMX_PARAM_INTEGER: return "integer";
    case PMX_PARAM_BOOLEAN: return "boolean";
    case PMX_PARAM_NUMBER: return "number";
    case PMX_PARAM_ARRAY: return "array";
    }
    return "?";
}

static void first_line(const char *s, int max) {
    if (!s)
        return;
    int n = 0;
    while (s[n] && s[n] != '\n' && n < max)
        n++;
    printf("%.*s%s", n, s, s[n] && s[n] != '\n' ? "..." : "");
}

static const char *kind_name(uint32_t k) {
    switch (k) {
    case PMX_KIND_STRING: return "string";
    case PMX_KIND_I64: case PMX_KIND_OPT_I64: return "integer";
    case PMX_KIND_BOOL: case PMX_KIND_OPT_BOOL: return "boolean";
    case PMX_KIND_F64: case PMX_KIND_OPT_F64: return "number";
    case PMX_KIND_RAW: return "any (raw JSON)";
    case PMX_KIND_OBJECT: return "object";
    case PMX_KIND_ARRAY: return "array";
    }
    return "?";
}

static void print_type(const pmx_type_desc *t, int depth) {
    pmx_type_info ti = PMX_OPTS_INIT(pmx_type_info);
    if (!t || pmx_type_describe(t, &ti) != PMX_OK)
        return;
    if (ti.kind != PMX_KIND_OBJECT || depth > 3)
        return;
    for (size_t i = 0; i < ti.n_fields; i++) {
        pmx_field_info f = PMX_OPTS_INIT(pmx_field_info);
        pmx_type_info et = PMX_OPTS_INIT(pmx_type_info);
        if (pmx_field_describe(pmx_type_field_at(t, i), &f) != PMX_OK)
            continue;
        printf("%*s%-22s %s", depth * 2 + 4, "", f.name, kind_name(f.kind));
        if (f.kind == PMX_KIND_ARRAY && f.type && pmx_type_describe(f.type, &et) == PMX_OK)
            printf(" of %s", et.kind == PMX_KIND_OBJECT ? "object" : kind_name(et.kind));
        putchar('\n');
        if (f.type && (ti.flags & PMX_TYPE_WRAPPED || depth < 2))
            print_type(f.type, depth + 1);
    }
}

int cli_usage(const char *path) {
    int found = 0;
    for (int v = 0; v < 4; v++) {
        const pmx_method_desc *d = pmx_method_find(cli_verbs[v].method, path);
        pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
        if (!d || pmx_method_describe(d, &mi) != PMX_OK)
            continue;
        found++;
        printf("%s %s   (pmx %s; C: %s)\n  ", cli_verbs[v].http, mi.path, cli_verbs[v].cli, mi.name);
        first_line(mi.description, 200);
        printf("\n");
        for (size_t i = 0; i < mi.n_params; i++) {
            const pmx_param_desc *pd = pmx_method_param_at(d, i);
            pmx_param_info p = PMX_OPTS_INIT(pmx_param_info);
            if (pmx_param_describe(pd, &p) != PMX_OK)
                continue;
            char name[80];
            snprintf(name, sizeof name, p.flags & PMX_PARAM_INDEXED ? "%s[n]" : "%s", p.name);
            printf("    --%-24s %-8s %s", name, type_name(p.type),
                   p.loc == PMX_LOC_PATH ? "(path)" : p.flags & PMX_PARAM_REQUIRED ? "required" : "optional");
            if (p.n_enum) {
                printf(" one of");
                for (size_t k = 0; k < p.n_enum; k++)
                    printf("%s%s", k ? "|" : " ", pmx_param_enum_at(pd, k));
            }
            if (p.flags & PMX_PARAM_HAS_MIN)
                printf(" min %g", p.minimum);
            if (p.flags & PMX_PARAM_HAS_MAX)
                printf(" max %g", p.maximum);
            if (p.format)
                printf(" format %s", p.format);
            if (p.description) {
                printf("\n        ");
                first_line(p.description, 100);
            }
            putchar('\n');
        }
        pmx_type_info rt = PMX_OPTS_INIT(pmx_type_info);
        if (mi.result && pmx_type_describe(mi.result, &rt) == PMX_OK) {
            printf("  returns %s\n", rt.flags & PMX_TYPE_WRAPPED ? "" : "object:");
            print_type(mi.result, 0);
        } else {
            printf("  returns nothing\n");
        }
        putchar('\n');
    }
    if (!found) {
        fprintf(stderr, "pmx: no method at '%s' (see 'pmx ls')\n", path);
        return 2;
    }
    return 0;
}

/* ---- ls ---- */

/* Split a path into segments (in place). */
static size_t split(char *p, char **seg, size_t max) {
    size_t n = 0;
    for (char *tok = strtok(p, "/"); tok && n < max; tok = strtok(NULL, "/"))
        seg[n++] = tok;
    return n;
}

typedef struct entry {
    char name[128];
    char verbs[5];
    int param; /* the segment is a {param} */
} entry;

/* Append {"name":name,"verbs":verbs} to out; 1 when out of memory. */
static int add_entry(cJSON *out, const char *name, const char *verbs) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", name) ||
        !cJSON_AddStringToObject(o, "verbs", verbs) || !cJSON_AddItemToArray(out, o)) {
        cJSON_Delete(o);
        return 1;
    }
    return 0;
}

int cli_ls(pmx_client *c, const char *path, const char *format) {
    char want[1024];
    snprintf(want, sizeof want, "%s", path);
    char *ws[64];
    size_t wn = split(want, ws, 64);
    entry *ents = NULL;
    size_t ne = 0;
    const char *param_key = NULL;
    for (size_t i = 0; i < pmx_method_count(); i++) {
        const pmx_method_desc *d = pmx_method_at(i);
        char tpl[1024];
        snprintf(tpl, sizeof tpl, "%s", pmx_method_path(d));
        char *ts[64];
        size_t tn = split(tpl, ts, 64);
        if (tn != wn + 1)
            continue;
        size_t k;
        for (k = 0; k < wn; k++)
            if (ts[k][0] != '{' && strcmp(ts[k], ws[k]))
                break;
        if (k < wn)
            continue;
        const char *child = ts[wn];
        size_t e;
        for (e = 0; e < ne && strcmp(ents[e].name, child); e++)
            ;
        if (e == ne) {
            entry *more = realloc(ents, (ne + 1) * sizeof *ents);
            if (!more) {
                fprintf(stderr, "pmx: out of memory\n");
                free(ents);
                return EXIT_API;
            }
            ents = more;
            memset(&ents[ne], 0, sizeof *ents);
            snprintf(ents[ne].name, sizeof ents[ne].name, "%s", child);
            memcpy(ents[ne].verbs, "----", 5);
            ents[ne].param = child[0] == '{';
            ne++;
        }
        int v = (int)pmx_method_verb(d) - 1;
        ents[e].verbs[v] = cli_verbs[v].letter;
        pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
        pmx_param_info pi = PMX_OPTS_INIT(pmx_param_info);
        if (ents[e].param && pmx_method_describe(d, &mi) == PMX_OK && mi.n_path_params &&
            pmx_param_describe(pmx_method_param_at(d, mi.n_path_params - 1), &pi) == PMX_OK)
            param_key = pi.name;
    }
    if (!ne && !pmx_method_find(PMX_GET, path)) {
        char *p = cli_escape(path);
        fprintf(stderr, "pmx: nothing at '%s' (see 'pmx ls /')\n", p ? p : "");
        free(p);
        free(ents);
        return EXIT_USAGE;
    }
    cJSON *out = cJSON_CreateArray();
    int rc = out ? 0 : EXIT_API, oom = !out;
    for (size_t e = 0; !oom && e < ne; e++) {
        if (!ents[e].param) {
            oom = add_entry(out, ents[e].name, ents[e].verbs);
            continue;
        }
        /* A {param} child: its values come from GET on the path itself. */
        pmx_call *call = NULL;
        int r = pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call);
        if (!r)
            r = pmx_call_wait(call);
        if (r) {
            char *why = cli_escape(pmx_call_error(call) ? pmx_call_error(call) : pmx_strerror(r));
            char *p = cli_escape(path);
            fprintf(stderr, "pmx: GET %s: %s\n", p ? p : "", why ? why : pmx_strerror(r));
            free(why);
            free(p);
            rc = cli_exit_for(r); /* the same codes as the other verbs (a timeout is 6) */
        } else {
            size_t len;
            const char *data = pmx_call_data(call, &len);
            cJSON *j = data ? cJSON_ParseWithLength(data, len) : NULL;
            const cJSON *it;
            cJSON_ArrayForEach(it, j) {
                const cJSON *v = param_key ? cJSON_GetObjectItemCaseSensitive(it, param_key) : NULL;
                char *s = v ? (cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v)) : NULL;
                if (!s) {
                    oom = 1;
                    break;
                }
                oom = add_entry(out, s, ents[e].verbs);
                free(s);
                if (oom)
                    break;
            }
            cJSON_Delete(j);
        }
        pmx_call_unref(call);
    }
    char *s = oom ? NULL : cJSON_PrintUnformatted(out);
    if (s) {
        int orc = cli_output(s, strlen(s), format, NULL);
        if (!rc)
            rc = orc;
    } else {
        fprintf(stderr, "pmx: out of memory\n");
        rc = EXIT_API;
    }
    free(s);
    cJSON_Delete(out);
    free(ents);
    return rc;
}
