/* pmx: text tables, JSON output, `usage` and `ls`. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmx.h"

/* ---- values as text ---- */

static char *cell(const cJSON *v) {
    if (!v || cJSON_IsNull(v))
        return strdup("");
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "1" : "0");
    return cJSON_PrintUnformatted(v);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Column names: the union of the items' keys, sorted. */
static size_t columns(const cJSON *arr, const char ***out) {
    const char **cols = NULL;
    size_t n = 0;
    const cJSON *item, *kv;
    cJSON_ArrayForEach(item, arr) {
        cJSON_ArrayForEach(kv, item) {
            size_t j;
            for (j = 0; j < n && strcmp(cols[j], kv->string); j++)
                ;
            if (j == n) {
                cols = realloc(cols, (n + 1) * sizeof *cols);
                cols[n++] = kv->string;
            }
        }
    }
    if (n)
        qsort(cols, n, sizeof *cols, cmp_str);
    *out = cols;
    return n;
}

static void rule(const size_t *w, size_t n) {
    for (size_t j = 0; j < n; j++) {
        fputs(j ? "-+-" : "", stdout);
        for (size_t k = 0; k < w[j]; k++)
            putchar('-');
    }
    putchar('\n');
}

static void table_of_objects(const cJSON *arr) {
    const char **cols;
    size_t nc = columns(arr, &cols);
    size_t nr = (size_t)cJSON_GetArraySize(arr);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    char **cells = calloc(nr * nc + 1, sizeof *cells);
    for (size_t j = 0; j < nc; j++)
        w[j] = strlen(cols[j]);
    size_t r = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        for (size_t j = 0; j < nc; j++) {
            char *s = cell(cJSON_GetObjectItemCaseSensitive(item, cols[j]));
            cells[r * nc + j] = s;
            if (s && strlen(s) > w[j])
                w[j] = strlen(s);
        }
        r++;
    }
    for (size_t j = 0; j < nc; j++)
        printf("%s%-*s", j ? " | " : "", (int)w[j], cols[j]);
    putchar('\n');
    rule(w, nc);
    for (r = 0; r < nr; r++) {
        for (size_t j = 0; j < nc; j++)
            printf("%s%-*s", j ? " | " : "", (int)w[j], cells[r * nc + j] ? cells[r * nc + j] : "");
        putchar('\n');
    }
    for (size_t k = 0; k < nr * nc; k++)
        free(cells[k]);
    free(cells);
    free(w);
    free(cols);
}

static void table_of_object(const cJSON *obj) {
    size_t n = (size_t)cJSON_GetArraySize(obj), kw = 3, i = 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj) {
        keys[i++] = kv->string;
        if (strlen(kv->string) > kw)
            kw = strlen(kv->string);
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    printf("%-*s | value\n", (int)kw, "key");
    size_t w[2] = {kw, 5};
    rule(w, 2);
    for (i = 0; i < n; i++) {
        char *s = cell(cJSON_GetObjectItemCaseSensitive(obj, keys[i]));
        printf("%-*s | %s\n", (int)kw, keys[i], s ? s : "");
        free(s);
    }
    free(keys);
}

void cli_output(const char *data, size_t len, const char *format, const pmx_method_desc *d) {
    (void)d;
    if (!data)
        return;
    if (strcmp(format, "json") == 0) {
        printf("%.*s\n", (int)len, data);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    if (!j) {
        printf("%.*s\n", (int)len, data);
        return;
    }
    if (strcmp(format, "json-pretty") == 0) {
        char *s = cJSON_Print(j);
        puts(s ? s : "");
        free(s);
    } else if (cJSON_IsArray(j)) {
        int objects = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) objects &= cJSON_IsObject(it);
        if (objects && cJSON_GetArraySize(j) > 0) {
            table_of_objects(j);
        } else {
            cJSON_ArrayForEach(it, j) {
                char *s = cell(it);
                puts(s ? s : "");
                free(s);
            }
        }
    } else if (cJSON_IsObject(j)) {
        table_of_object(j);
    } else if (!cJSON_IsNull(j)) {
        char *s = cell(j);
        puts(s ? s : "");
        free(s);
    }
    cJSON_Delete(j);
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
            ents = realloc(ents, (ne + 1) * sizeof *ents);
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
        fprintf(stderr, "pmx: nothing at '%s' (see 'pmx ls /')\n", path);
        free(ents);
        return 2;
    }
    cJSON *out = cJSON_CreateArray();
    int rc = 0;
    for (size_t e = 0; e < ne; e++) {
        if (!ents[e].param) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", ents[e].name);
            cJSON_AddStringToObject(o, "verbs", ents[e].verbs);
            cJSON_AddItemToArray(out, o);
            continue;
        }
        /* A {param} child: its values come from GET on the path itself. */
        pmx_call *call = NULL;
        int r = pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call);
        if (!r)
            r = pmx_call_wait(call);
        if (r) {
            fprintf(stderr, "pmx: GET %s: %s\n", path, pmx_call_error(call) ? pmx_call_error(call) : pmx_strerror(r));
            rc = r == PMX_EAUTH ? 3 : r == PMX_ETLS ? 4 : r == PMX_ETRANSPORT ? 5 : 1;
        } else {
            size_t len;
            const char *data = pmx_call_data(call, &len);
            cJSON *j = data ? cJSON_ParseWithLength(data, len) : NULL;
            const cJSON *it;
            cJSON_ArrayForEach(it, j) {
                const cJSON *v = param_key ? cJSON_GetObjectItemCaseSensitive(it, param_key) : NULL;
                char *s = v ? (cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v)) : NULL;
                if (!s)
                    continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", s);
                cJSON_AddStringToObject(o, "verbs", ents[e].verbs);
                cJSON_AddItemToArray(out, o);
                free(s);
            }
            cJSON_Delete(j);
        }
        pmx_call_unref(call);
    }
    char *s = cJSON_PrintUnformatted(out);
    if (s)
        cli_output(s, strlen(s), format, NULL);
    free(s);
    cJSON_Delete(out);
    free(ents);
    return rc;
}
