/* pmx-gen: type stubs of the Python binding's attribute paths
 * (bindings/python/libproxmox/_api.pyi): one class per node of the PVE API path tree, with the
 * child segments as attributes, a {param} segment as __call__, and each method as a verb method
 * whose keyword arguments are the schema's parameters (types, enums, required or optional, the
 * schema's descriptions as docstrings), so editors complete and check every method. */
#include "gen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pnode {
    char *path;          /* template prefix, "/nodes/{node}"; "" for the root */
    char cls[320];       /* class name, "P_nodes_NODE" ("Api" for the root) */
    char attr[136];      /* Python name of the last segment (literal segments) */
    int parent;          /* index of the parent node, -1 for the root */
    int is_param, ptype; /* a {param} segment and its T_* type */
    const char *pname;   /* the param's wire name */
    size_t *methods;     /* indexes into g_m */
    size_t nmethods, capm;
} pnode;

static pnode *nodes;
static size_t nnodes, capn;

static int is_keyword(const char *s) {
    static const char *const kw[] = {
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield"};
    for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
        if (!strcmp(s, kw[i]))
            return 1;
    return 0;
}

/* A wire name or segment as a Python identifier: '-' (and anything else) as '_', a keyword
 * with a trailing '_' (the binding strips it again). */
static void py_name(const char *in, char *out, size_t cap) {
    size_t n = 0;
    if (isdigit((unsigned char)in[0]) && n + 1 < cap)
        out[n++] = '_';
    for (const char *p = in; *p && n + 2 < cap; p++)
        out[n++] = (char)(isalnum((unsigned char)*p) || *p == '_' ? *p : '_');
    out[n] = 0;
    if (is_keyword(out) && n + 1 < cap) {
        out[n++] = '_';
        out[n] = 0;
    }
}

static int find_node(const char *path) {
    for (size_t i = 0; i < nnodes; i++)
        if (!strcmp(nodes[i].path, path))
            return (int)i;
    return -1;
}

static int add_node(const char *path, int parent, const char *seg, int ptype) {
    nodes = grow(nodes, &capn, nnodes, sizeof *nodes);
    pnode *n = &nodes[nnodes];
    memset(n, 0, sizeof *n);
    n->path = xstrdup(path);
    n->parent = parent;
    n->is_param = seg[0] == '{';
    n->ptype = ptype;
    if (n->is_param) {
        char *name = xstrdup(seg + 1);
        name[strlen(name) - 1] = 0; /* the closing '}' */
        n->pname = name;
    } else {
        py_name(seg, n->attr, sizeof n->attr);
    }
    /* class name: P + each segment, literal segments as Python names, params upper-cased */
    sb c = {0};
    sb_puts(&c, "P");
    for (const char *p = path; *p;) {
        p++; /* '/' */
        size_t l = strcspn(p, "/");
        char s[256], id[300];
        snprintf(s, sizeof s, "%.*s", (int)l, p);
        if (s[0] == '{') {
            snprintf(id, sizeof id, "%.*s", (int)(l - 2), s + 1);
            for (char *q = id; *q; q++)
                *q = (char)(isalnum((unsigned char)*q) ? toupper((unsigned char)*q) : '_');
        } else {
            py_name(s, id, sizeof id);
        }
        sb_printf(&c, "_%s", id);
        p += l;
    }
    if (strlen(c.d) >= sizeof n->cls)
        die("pyi: class name too long for %s", path);
    snprintf(n->cls, sizeof n->cls, "%s", path[0] ? c.d : "Api");
    sb_free(&c);
    return (int)nnodes++;
}

static int param_type_of(const gmethod *m, const char *name) {
    for (size_t i = 0; i < m->n_path; i++)
        if (!strcmp(m->params[i].wire, name))
            return m->params[i].type;
    return T_STRING;
}

static void build_tree(void) {
    add_node("", -1, "", 0);
    for (size_t i = 0; i < g_nm; i++) {
        const gmethod *m = &g_m[i];
        int cur = 0;
        sb prefix = {0};
        sb_puts(&prefix, "");
        for (const char *p = m->path; *p;) {
            p++;
            size_t l = strcspn(p, "/");
            char seg[256];
            snprintf(seg, sizeof seg, "%.*s", (int)l, p);
            sb_printf(&prefix, "/%s", seg);
            int k = find_node(prefix.d);
            if (k < 0) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(l > 2 ? l - 2 : 0), seg + 1);
                k = add_node(prefix.d, cur, seg, seg[0] == '{' ? param_type_of(m, name) : 0);
            }
            cur = k;
            p += l;
        }
        pnode *n = &nodes[cur];
        n->methods = grow(n->methods, &n->capm, n->nmethods, sizeof *n->methods);
        n->methods[n->nmethods++] = i;
        sb_free(&prefix);
    }
}

static const char *py_scalar(int t) {
    switch (t) {
    case T_INTEGER: return "int";
    case T_BOOLEAN: return "bool";
    case T_NUMBER: return "float";
    default: return "str";
    }
}

/* A Python string literal (double quotes). */
static void py_str(sb *b, const char *s) {
    sb_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            sb_printf(b, "\\x%02x", (unsigned char)*p);
        else
            sb_put(b, p, 1);
    }
    sb_puts(b, "\"");
}

static void py_type(sb *b, const gparam *g) {
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(g->cons, "enum");
    int t = g->type == T_ARRAY ? g->item_type : g->type;
    if (g->type == T_ARRAY)
        sb_puts(b, "Sequence[");
    if (cJSON_IsArray(en) && cJSON_GetArraySize(en) > 0 && t == T_STRING) {
        sb_puts(b, "Literal[");
        const cJSON *e;
        int first = 1;
        cJSON_ArrayForEach(e, en) {
            if (!cJSON_IsString(e))
                continue;
            if (!first)
                sb_puts(b, ", ");
            py_str(b, e->valuestring);
            first = 0;
        }
        sb_puts(b, "]");
    } else {
        sb_puts(b, py_scalar(t));
    }
    if (g->type == T_ARRAY)
        sb_puts(b, "]");
}

/* Append words of text (may be NULL) wrapped at width, each line indented; escapes what would
 * end or break a docstring. */
static void wrap_words(sb *b, const char *text, int ind, int width, const char *first_prefix) {
    int col = 0;
    int line_start = 1;
    const char *p = text ? text : "";
    sb_printf(b, "%*s%s", ind, "", first_prefix);
    col = ind + (int)strlen(first_prefix);
    int indent2 = ind + (first_prefix[0] ? 4 : 0);
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        int wl = (int)(p - w);
        if (!line_start && col + 1 + wl > width) {
            sb_printf(b, "\n%*s", indent2, "");
            col = indent2;
            line_start = 1;
        }
        if (!line_start) {
            sb_puts(b, " ");
            col++;
        }
        for (const char *q = w; q < p; q++) {
            if (*q == '\\')
                sb_puts(b, "\\\\");
            else if (*q == '"' && q + 2 < p && q[1] == '"' && q[2] == '"')
                sb_puts(b, "\\\"");
            else
                sb_put(b, q, 1);
        }
        col += wl;
        line_start = 0;
    }
    sb_puts(b, "\n");
}

static const char *verb_method(const char *verb) {
    return !strcmp(verb, "GET") ? "get" : !strcmp(verb, "POST") ? "post"
         : !strcmp(verb, "PUT") ? "put" : "delete";
}

static void emit_method(sb *b, const gmethod *m) {
    sb_printf(b, "    def %s(self", verb_method(m->verb));
    int star = 0, indexed = 0;
    for (size_t i = m->n_path; i < m->np; i++) {
        const gparam *g = &m->params[i];
        if (g->count) {
            indexed = 1;
            continue;
        }
        if (!star) {
            sb_puts(b, ", *");
            star = 1;
        }
        char id[136], other[136];
        py_name(g->wire, id, sizeof id);
        for (size_t k = m->n_path; k < i; k++) { /* "a-b" and "a_b" would be one keyword */
            py_name(m->params[k].wire, other, sizeof other);
            if (!m->params[k].count && !strcmp(other, id))
                die("pyi: %s %s: parameters '%s' and '%s' are one Python name", m->verb,
                    m->path, m->params[k].wire, g->wire);
        }
        sb_printf(b, ", %s: ", id);
        if (g->required) {
            py_type(b, g);
        } else {
            sb_puts(b, "Optional[");
            py_type(b, g);
            sb_puts(b, "] = ...");
        }
    }
    if (indexed)
        sb_puts(b, ", **indexed: Optional[str]");
    sb_puts(b, ") -> _R:\n");
    sb d = {0};
    wrap_words(&d, jstr(m->info, "description"), 8, 96, "");
    sb_printf(b, "        \"\"\"%s %s\n\n%s", m->verb, m->path, d.d);
    sb_free(&d);
    for (size_t i = m->n_path; i < m->np; i++) {
        const gparam *g = &m->params[i];
        char id[136], pre[320];
        py_name(g->wire, id, sizeof id);
        if (g->count)
            snprintf(pre, sizeof pre, "%s0 .. %s%d: ", id, id, g->count - 1);
        else
            snprintf(pre, sizeof pre, "%s: ", id);
        const char *desc = jstr(g->js, "description");
        if (i == m->n_path)
            sb_puts(b, "\n");
        wrap_words(b, desc ? desc : "(no description in the schema)", 8, 96, pre);
    }
    sb_puts(b, "        \"\"\"\n");
}

static int cmp_node(const void *a, const void *b) {
    return strcmp(((const pnode *)a)->path, ((const pnode *)b)->path);
}

void emit_pyi(const char *path, const char *version, const char *sha) {
    build_tree();
    sb b = {0};
    sb_printf(&b, "# Generated by pmx-gen from PVE %s (%.12s) \xe2\x80\x94 do not edit.\n", version,
              sha);
    sb_puts(&b, "\"\"\"Type stubs of the attribute paths of libproxmox.Client and libproxmox.aio.Client:\n"
                "one class per node of the PVE API path tree. A literal segment is an attribute, a {param}\n"
                "segment is called with its value, a method is a verb (get, post/create, put/set, delete)\n"
                "whose keyword arguments are the schema's parameters. _R is what a verb returns: the decoded\n"
                "data (Client) or an awaitable of it (aio.Client).\"\"\"\n"
                "from typing import Generic, Literal, Optional, Sequence, TypeVar\n\n"
                "_R = TypeVar(\"_R\")\n");
    /* deterministic order: by path; parents are looked up by path, not index */
    for (size_t i = 0; i < nnodes; i++)
        nodes[i].parent = -1;
    qsort(nodes, nnodes, sizeof *nodes, cmp_node);
    for (size_t i = 0; i < nnodes; i++) {
        const pnode *n = &nodes[i];
        sb_printf(&b, "\n\nclass %s(Generic[_R]):\n", n->cls);
        sb_printf(&b, "    \"\"\"%s\"\"\"\n", n->path[0] ? n->path : "/");
        /* children: nodes whose path is this path plus one segment */
        size_t plen = strlen(n->path);
        for (size_t k = 0; k < nnodes; k++) {
            const pnode *c = &nodes[k];
            if (strncmp(c->path, n->path, plen) || c->path[plen] != '/' ||
                strchr(c->path + plen + 1, '/'))
                continue;
            if (c->is_param) {
                char id[136];
                py_name(c->pname, id, sizeof id);
                sb_printf(&b, "    def __call__(self, %s: %s) -> %s[_R]: ...\n", id,
                          c->ptype == T_INTEGER ? "int" : "str", c->cls);
            }
            else
                sb_printf(&b, "    %s: %s[_R]\n", c->attr, c->cls);
            for (size_t j = 0; j < k; j++) /* "a-b" and "a_b" would be one attribute */
                if (!nodes[j].is_param && !c->is_param && !strcmp(nodes[j].attr, c->attr) &&
                    !strncmp(nodes[j].path, n->path, plen) && nodes[j].path[plen] == '/' &&
                    !strchr(nodes[j].path + plen + 1, '/'))
                    die("pyi: %s and %s are one Python attribute", nodes[j].path, c->path);
        }
        int has_post = 0, has_put = 0;
        for (size_t k = 0; k < n->nmethods; k++) {
            const gmethod *m = &g_m[n->methods[k]];
            emit_method(&b, m);
            has_post |= !strcmp(m->verb, "POST");
            has_put |= !strcmp(m->verb, "PUT");
        }
        if (has_post)
            sb_puts(&b, "    create = post\n");
        if (has_put)
            sb_puts(&b, "    set = put\n");
    }
    write_file(path, &b);
    sb_free(&b);
    for (size_t i = 0; i < nnodes; i++) {
        free(nodes[i].path);
        free((char *)nodes[i].pname);
        free(nodes[i].methods);
    }
    free(nodes);
    nodes = NULL;
    nnodes = capn = 0;
}
