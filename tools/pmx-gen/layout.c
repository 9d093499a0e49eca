/* pmx-gen: stable struct layouts.
 *
 * schema/layout.txt records, for every generated public struct, its members in struct order:
 *
 *     <struct> <member> <type token>
 *
 * The generator reads it, keeps every recorded member where it is (a member the schema no longer
 * has stays, "retired", so later members do not move), appends new members in the order they
 * first appear, and writes the extended file back (make generate). A recorded member whose type
 * changes stops the generator: released structs never change. Type tokens are C types without
 * spaces ('~' stands for a space); "+name" adds a size_t count member, "[N]" an array:
 *     char*   const~char*[32]   pmx_opt_i64   struct~pve_x_item**+n   const~char*const*+n_x
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lstruct {
    char *name;
    gmember *m;
    size_t n, cap;
} lstruct;

static lstruct *g_ls;
static size_t g_nls, g_capls;

static lstruct *find(const char *name) {
    for (size_t i = 0; i < g_nls; i++)
        if (!strcmp(g_ls[i].name, name))
            return &g_ls[i];
    return NULL;
}

static lstruct *add_struct(const char *name) {
    g_ls = grow(g_ls, &g_capls, g_nls, sizeof *g_ls);
    lstruct *s = &g_ls[g_nls++];
    s->name = xstrdup(name);
    return s;
}

static void add_member(lstruct *s, const char *cname, const char *ctype) {
    s->m = grow(s->m, &s->cap, s->n, sizeof *s->m);
    gmember *m = &s->m[s->n++];
    if (strlen(cname) >= sizeof m->cname || strlen(ctype) >= sizeof m->ctype)
        die("layout: %s.%s: name or type too long", s->name, cname);
    snprintf(m->cname, sizeof m->cname, "%s", cname);
    snprintf(m->ctype, sizeof m->ctype, "%s", ctype);
    m->src = -1;
}

void layout_read(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return; /* no layout yet: every struct is new */
    char line[1024];
    size_t ln = 0;
    lstruct *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n')
            line[--l] = 0;
        if (!l || line[0] == '#')
            continue;
        char s[400], m[200], t[400], extra[8];
        if (sscanf(line, "%399s %199s %399s %7s", s, m, t, extra) != 3)
            die("%s:%zu: expected \"<struct> <member> <type>\"", path, ln);
        if (!cur || strcmp(cur->name, s)) {
            if (find(s))
                die("%s:%zu: members of %s must be on consecutive lines", path, ln, s);
            cur = add_struct(s);
        }
        for (size_t i = 0; i < cur->n; i++)
            if (!strcmp(cur->m[i].cname, m))
                die("%s:%zu: %s.%s recorded twice", path, ln, s, m);
        add_member(cur, m, t);
    }
    fclose(f);
}

gmember *layout_apply(const char *sname, const gmember *fresh, size_t nfresh, size_t *nout) {
    lstruct *s = find(sname);
    if (!s)
        s = add_struct(sname);
    gmember *out = xcalloc(s->n + nfresh, sizeof *out);
    size_t n = 0;
    unsigned char *used = xcalloc(nfresh, 1);
    for (size_t i = 0; i < s->n; i++) {
        const gmember *c = &s->m[i];
        size_t k = 0;
        while (k < nfresh && strcmp(fresh[k].cname, c->cname))
            k++;
        if (k == nfresh) {
            out[n] = *c;
            out[n++].src = -1; /* retired: kept so later members keep their offsets */
            continue;
        }
        if (strcmp(fresh[k].ctype, c->ctype))
            die("layout: %s.%s changes type from %s to %s; a released struct cannot change: give "
                "the new member another C name (overrides \"field_names\") so the old one is "
                "retired",
                sname, c->cname, c->ctype, fresh[k].ctype);
        used[k] = 1;
        out[n++] = fresh[k];
    }
    for (size_t k = 0; k < nfresh; k++) {
        if (used[k])
            continue;
        add_member(s, fresh[k].cname, fresh[k].ctype);
        out[n++] = fresh[k];
    }
    free(used);
    *nout = n;
    return out;
}

static int cmp_ls(const void *a, const void *b) {
    return strcmp(((const lstruct *)a)->name, ((const lstruct *)b)->name);
}

void layout_write(const char *path) {
    qsort(g_ls, g_nls, sizeof *g_ls, cmp_ls);
    sb b = {0};
    sb_puts(&b, "# Layouts of the generated public structs: <struct> <member> <type>, in struct "
                "order.\n# Read and extended by pmx-gen (make generate); recorded members never "
                "move or change.\n# Checked against abi/layout.txt by make abi-check. See "
                "tools/pmx-gen/layout.c.\n");
    for (size_t i = 0; i < g_nls; i++)
        for (size_t k = 0; k < g_ls[i].n; k++)
            sb_printf(&b, "%s %s %s\n", g_ls[i].name, g_ls[i].m[k].cname, g_ls[i].m[k].ctype);
    write_file(path, &b);
    sb_free(&b);
    for (size_t i = 0; i < g_nls; i++) {
        free(g_ls[i].name);
        free(g_ls[i].m);
    }
    free(g_ls);
    g_ls = NULL;
    g_nls = g_capls = 0;
}

void layout_decl(sb *b, const char *ctype, const char *name, const char *indent) {
    char t[320], count[160] = "", dim[32] = "";
    snprintf(t, sizeof t, "%s", ctype);
    char *plus = strchr(t, '+');
    if (plus) {
        snprintf(count, sizeof count, "%s", plus + 1);
        *plus = 0;
    }
    char *br = strchr(t, '[');
    if (br) {
        snprintf(dim, sizeof dim, "%s", br);
        *br = 0;
    }
    for (char *p = t; *p; p++)
        if (*p == '~')
            *p = ' ';
    char *star = strchr(t, '*');
    if (!star) {
        sb_printf(b, "%s %s%s;", t, name, dim);
    } else {
        *star = 0;
        sb_printf(b, "%s *", t);
        /* "*const*" -> "*const *" */
        for (const char *p = star + 1; *p; p++) {
            sb_put(b, p, 1);
            if (*p != '*' && (p[1] == '*'))
                sb_puts(b, " ");
        }
        sb_printf(b, "%s%s;", name, dim);
    }
    if (count[0])
        sb_printf(b, "\n%ssize_t %s; /* number of elements of %s */", indent, count, name);
}
