/* pmx-gen: emit the public headers (include/proxmox/gen/) and the thin endpoint functions
 * (lib/gen/<section>.c, lib/gen/propstr.c). Structs follow their committed layouts. */
#include "gen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void open_header(sb *h, const char *header, const char *what, const char *guard) {
    sb_puts(h, header);
    sb_printf(h, "/* %s */\n#ifndef %s\n#define %s\n\n", what, guard, guard);
    sb_puts(h, "#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)\n"
               "#error \"Only <proxmox/proxmox.h> can be included directly.\"\n"
               "#endif\n\nPMX_BEGIN_DECLS\n\n");
}

/* ---- method sections -------------------------------------------------------------------------- */

static void param_member_doc(sb *h, const gmethod *m, const gparam *g) {
    char extra[400] = "";
    if (g->count)
        snprintf(extra, sizeof extra, "Wire names %s0 .. %s%d (NULL = not sent).", g->wire, g->wire,
                 g->count - 1);
    else if (g->type == T_ARRAY)
        snprintf(extra, sizeof extra, "Sent as repeated '%s' keys.", g->wire);
    else if (strcmp(g->cname, g->wire) || !jstr(g->js, "description") ||
             !*jstr(g->js, "description"))
        snprintf(extra, sizeof extra, "Wire name '%s'.", g->wire);
    if (g->fmt) {
        size_t el = strlen(extra);
        snprintf(extra + el, sizeof extra - el, "%sA property string: build it with %s_encode().",
                 el ? " " : "", g_fmt[g->fmt - 1].name);
    }
    if (g->secret) {
        size_t el = strlen(extra);
        snprintf(extra + el, sizeof extra - el, "%sSecret: never logged, wiped after sending.",
                 el ? " " : "");
    }
    const char *d = jstr(g->js, "description");
    const char *tt = jstr(g->js, "typetext");
    sb dd = {0};
    if (d)
        sb_puts(&dd, d);
    if (tt && strchr(tt, '='))
        sb_printf(&dd, "%sFormat: %s", d ? "\n" : "", tt);
    doc_comment(h, 4, dd.d, extra[0] ? extra : NULL);
    sb_free(&dd);
    (void)m;
}

static void emit_result_types(sb *h, size_t mi) {
    for (size_t ti = 0; ti < g_ntypes; ti++) {
        gtype *t = &g_types[ti];
        if (t->method != mi || !t->name[0])
            continue;
        if (t->top)
            doc_comment(h, 0, t->doc,
                        t->wrapped ? t->top_note
                                   : "Result type (allocated by the library, borrowed from the call "
                                     "until its last reference is dropped). Members are only ever "
                                     "appended.");
        else
            sb_puts(h, "/** Part of a result (see the method using it). */\n");
        sb_printf(h, "typedef struct %s {\n", t->name);
        for (size_t k = 0; k < t->nlay; k++) {
            const gmember *mb = &t->lay[k];
            if (mb->src < 0) {
                sb_puts(h, "    /** No longer in the schema: never set. */\n    ");
                layout_decl(h, mb->ctype, mb->cname, "    ");
                sb_puts(h, "\n");
                continue;
            }
            const gfield *f = &t->f[mb->src];
            if (!t->wrapped) {
                char wn[400] = "";
                if (f->slots)
                    snprintf(wn, sizeof wn, "JSON members \"%s0\" .. \"%s%d\" (NULL when absent).",
                             f->json, f->json, f->slots - 1);
                else if (strcmp(f->cname, f->json) || !f->desc || !*f->desc)
                    snprintf(wn, sizeof wn, "JSON member \"%s\".", f->json);
                if (f->fmt) {
                    size_t wl = strlen(wn);
                    snprintf(wn + wl, sizeof wn - wl, "%sA property string: decode with %s_decode().",
                             wl ? " " : "", g_fmt[f->fmt - 1].name);
                }
                if (f->secret) {
                    size_t wl = strlen(wn);
                    snprintf(wn + wl, sizeof wn - wl, "%sSecret: wiped when the call is freed.",
                             wl ? " " : "");
                }
                doc_comment(h, 4, f->desc, wn[0] ? wn : NULL);
            } else {
                sb_puts(h, f->kind == K_ARR ? "    /** The elements of \"data\". */\n"
                                            : "    /** The value of \"data\". */\n");
            }
            sb_puts(h, "    ");
            layout_decl(h, mb->ctype, mb->cname, "    ");
            sb_puts(h, "\n");
        }
        sb_printf(h, "} %s;\n\n", t->name);
    }
}

static void emit_method(sb *h, sb *c, size_t mi) {
    gmethod *m = &g_m[mi];
    sb_printf(h, "/* ---- %s %s ---- */\n\n", m->verb, m->path);
    char pdoc[400];
    snprintf(pdoc, sizeof pdoc, "Parameters of %s() (path parameters are arguments); initialise "
                                "with PMX_PARAMS_INIT().", m->fn);
    doc_comment(h, 0, pdoc, NULL);
    sb_printf(h, "typedef struct %s_params {\n", m->fn);
    sb_puts(h, "    /** sizeof this struct, set by PMX_PARAMS_INIT(): members past it are unset. */\n"
               "    uint32_t struct_size;\n");
    for (size_t k = 0; k < m->nlay; k++) {
        const gmember *mb = &m->lay[k];
        if (mb->src < 0)
            sb_puts(h, "    /** No longer in the schema: ignored. */\n");
        else
            param_member_doc(h, m, &m->params[mb->src]);
        sb_puts(h, "    ");
        layout_decl(h, mb->ctype, mb->cname, "    ");
        sb_puts(h, "\n");
    }
    sb_printf(h, "} %s_params;\n\n", m->fn);
    emit_result_types(h, mi);

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
    sb_puts(&note, ".");
    if (m->n_path) {
        sb_puts(&note, " Path parameters:");
        for (size_t i = 0; i < m->n_path; i++)
            sb_printf(&note, "%s %s", i ? "," : "", m->params[i].cname);
        sb_puts(&note, ".");
    }
    if (m->secret)
        sb_puts(&note, " Carries secrets: request and response are wiped.");
    if (m->result)
        sb_printf(&note, " Result: %s_result_of(call).", m->fn);
    sb_puts(&note, " Arguments, ownership, return value and callbacks: \"Generated bindings\" in "
                   "<proxmox/method.h>. Since: 1.0");
    doc_comment(h, 0, jstr(m->info, "description"), note.d);
    sb_free(&note);
    wrap_proto(h, "PMX_API ", proto.d, ";\n\n");
    if (m->result) {
        sb_printf(h, "/** Typed result of a call made with %s() (NULL until it succeeded). */\n",
                  m->fn);
        sb_printf(h, "static inline const %s_result *\n%s_result_of(const pmx_call *call) {\n"
                     "    return (const %s_result *)pmx_call_typed(call);\n}\n\n",
                  m->fn, m->fn, m->fn);
    }
    /* the function */
    wrap_proto(c, "", proto.d, " {\n");
    if (m->n_path) {
        sb_puts(c, "    const void *path_args[] = {");
        for (size_t i = 0; i < m->n_path; i++)
            sb_printf(c, "%s%s%s", i ? ", " : "", m->params[i].type == T_INTEGER ? "&" : "",
                      m->params[i].cname);
        sb_puts(c, "};\n");
        sb_printf(c, "    return pmx__bind_call(c, %zu, path_args, p, done, userdata, out);\n}\n\n",
                  mi);
    } else {
        sb_printf(c, "    return pmx__bind_call(c, %zu, NULL, p, done, userdata, out);\n}\n\n", mi);
    }
    sb_free(&proto);
}

/* ---- property strings ------------------------------------------------------------------------- */

static void fmt_member_doc(sb *h, const gfmt *f, const gkey *key) {
    const cJSON *k = key->js;
    sb ex = {0};
    sb_printf(&ex, "Key \"%s\"", key->name);
    if (jtrue(k, "default_key"))
        sb_puts(&ex, " (default key: may stand bare)");
    if (!jtrue(k, "optional"))
        sb_puts(&ex, ", required");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(k, "enum");
    if (cJSON_IsArray(en)) {
        sb_puts(&ex, "; one of:");
        const cJSON *v;
        cJSON_ArrayForEach(v, en) sb_printf(&ex, " %s", v->valuestring);
    }
    const char *fmts = jstr(k, "format");
    if (fmts)
        sb_printf(&ex, "; format %s", fmts);
    double mn, mx;
    int hmn = num_of(cJSON_GetObjectItemCaseSensitive(k, "minimum"), &mn);
    int hmx = num_of(cJSON_GetObjectItemCaseSensitive(k, "maximum"), &mx);
    if (hmn && hmx)
        sb_printf(&ex, "; range %.15g to %.15g", mn, mx);
    else if (hmn)
        sb_printf(&ex, "; minimum %.15g", mn);
    else if (hmx)
        sb_printf(&ex, "; maximum %.15g", mx);
    char *dt = default_string(cJSON_GetObjectItemCaseSensitive(k, "default"));
    if (dt) {
        sb t = {0};
        c_string(&t, dt);
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(k, "default")))
            sb_printf(&ex, "; default %s", t.d);
        else
            sb_printf(&ex, "; default %s", dt);
        sb_free(&t);
        free(dt);
    }
    int first = 1;
    for (size_t j = 0; j < f->nkeys; j++) {
        const char *a = jstr(f->keys[j].js, "alias");
        if (a && !strcmp(a, key->name)) {
            const char *ka = jstr(f->keys[j].js, "keyAlias");
            sb_printf(&ex, "%s%s=", first ? "; also written as " : ", ", f->keys[j].name);
            if (ka)
                sb_printf(&ex, " (sets %s=%s)", ka, f->keys[j].name);
            first = 0;
        }
    }
    sb_puts(&ex, ".");
    doc_comment(h, 4, jstr(k, "description"), ex.d);
    sb_free(&ex);
}

static void emit_propstr(gout *o) {
    sb h = {0}, c = {0};
    open_header(&h, o->header,
                "Typed property strings (\"k=v,...\"): one struct per distinct format of the "
                "schema, with\n * decode / encode / free. Rules: <proxmox/method.h>.",
                "PROXMOX_GEN_PROPSTR_H");
    sb_printf(&h, "/** Number of typed property-string formats. */\n#define PMX_GEN_PROPSTR_COUNT "
                  "%zu\n\n", g_nfmt);
    sb_puts(&c, o->header);
    sb_puts(&c, "/* Typed property strings: the decode / encode / free functions (runtime in "
                "lib/propstr.c,\n * key tables in lib/gen/tables.c). */\n#include \"tables.h\"\n\n");
    for (size_t fi = 0; fi < g_nfmt; fi++) {
        gfmt *f = &g_fmt[fi];
        sb tt = {0};
        sb_printf(&tt, "Property string \"%s\" (first used by %s; %zu use%s in the schema).",
                  f->pname, f->origin, f->uses, f->uses == 1 ? "" : "s");
        if (f->default_key)
            sb_printf(&tt, " Default key: %s.", f->default_key);
        doc_comment(&h, 0, tt.d, "Allocated by the _decode function, freed with the _free "
                                 "function. To encode, initialise one with PMX_PARAMS_INIT() "
                                 "(unset members are absent) and fill it; strings stay the "
                                 "caller's. Members are only ever appended.");
        sb_free(&tt);
        sb_printf(&h, "typedef struct %s {\n", f->name);
        sb_puts(&h, "    /** sizeof this struct (PMX_PARAMS_INIT(); set by _decode): members past "
                    "it are unset. */\n    uint32_t struct_size;\n");
        for (size_t k = 0; k < f->nlay; k++) {
            const gmember *mb = &f->lay[k];
            if (mb->src < 0)
                sb_puts(&h, "    /** No longer in the schema: ignored. */\n");
            else
                fmt_member_doc(&h, f, &f->keys[mb->src]);
            sb_puts(&h, "    ");
            layout_decl(&h, mb->ctype, mb->cname, "    ");
            sb_puts(&h, "\n");
        }
        sb_printf(&h, "} %s;\n\n", f->name);
        sb_printf(&h, "/** Decode, encode, free %s: as pmx_propstr_decode(), pmx_propstr_encode(), "
                      "pmx_propstr_free()\n * with this format (<proxmox/method.h>). Thread-safe; "
                      "may be called from callbacks. Since: 1.0 */\n", f->name);
        sb proto = {0};
        sb_printf(&proto, "int %s_decode(const char *text, %s **out, char **err)", f->name, f->name);
        wrap_proto(&h, "PMX_API ", proto.d, ";\n");
        wrap_proto(&c, "", proto.d, " {\n");
        sb_printf(&c, "    void *v = NULL;\n"
                      "    int rc = pmx_propstr_decode(&pmx__gen_propstrs[%zu], text, out ? &v : "
                      "NULL, err);\n    if (out)\n        *out = v;\n    return rc;\n}\n\n", fi);
        sb_free(&proto);
        sb_printf(&proto, "int %s_encode(const %s *v, char **out, char **err)", f->name, f->name);
        wrap_proto(&h, "PMX_API ", proto.d, ";\n");
        wrap_proto(&c, "", proto.d, " {\n");
        sb_printf(&c, "    return pmx_propstr_encode(&pmx__gen_propstrs[%zu], v, out, err);\n}\n\n",
                  fi);
        sb_free(&proto);
        sb_printf(&h, "PMX_API void %s_free(%s *v);\n\n", f->name, f->name);
        sb_printf(&c, "void %s_free(%s *v) {\n    pmx_propstr_free(&pmx__gen_propstrs[%zu], v);\n}\n\n",
                  f->name, f->name, fi);
    }
    sb_puts(&h, "PMX_END_DECLS\n#endif\n");
    out_file(o, o->include_dir, "propstr.h", &h);
    out_file(o, o->src_dir, "propstr.c", &c);
    sb_free(&h);
    sb_free(&c);
}

/* ---- driver ---------------------------------------------------------------------------------- */

void emit_headers(gout *o) {
    char **secs = xcalloc(g_nm, sizeof *secs);
    size_t nsec = 0;
    size_t mi = 0;
    while (mi < g_nm) {
        const char *s = g_m[mi].section;
        for (size_t k = 0; k < nsec; k++)
            if (!strcmp(secs[k], s))
                die("internal: section order");
        secs[nsec++] = g_m[mi].section;
        sb h = {0}, c = {0};
        char guard[128], what[200];
        snprintf(guard, sizeof guard, "PROXMOX_GEN_%s_H", s);
        for (char *g = guard; *g; g++)
            *g = (char)toupper((unsigned char)*g);
        snprintf(what, sizeof what, "PVE API /%s: typed endpoint functions, parameter and result "
                                    "types.", s);
        open_header(&h, o->header, what, guard);
        sb_puts(&c, o->header);
        sb_printf(&c, "/* PVE API /%s: endpoint functions (tables in lib/gen/tables.c). */\n"
                      "#include \"bind.h\"\n\n", s);
        while (mi < g_nm && !strcmp(g_m[mi].section, s))
            emit_method(&h, &c, mi++);
        sb_puts(&h, "PMX_END_DECLS\n#endif\n");
        char name[128];
        snprintf(name, sizeof name, "%s.h", s);
        out_file(o, o->include_dir, name, &h);
        snprintf(name, sizeof name, "%s.c", s);
        out_file(o, o->src_dir, name, &c);
        sb_free(&h);
        sb_free(&c);
    }
    sb a = {0};
    sb_puts(&a, o->header);
    sb_puts(&a, "/* Umbrella of the generated PVE bindings: one header per top-level path. */\n"
                "#ifndef PROXMOX_GEN_API_H\n#define PROXMOX_GEN_API_H\n\n"
                "#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)\n"
                "#error \"Only <proxmox/proxmox.h> can be included directly.\"\n#endif\n\n");
    sb_printf(&a, "/** PVE version of the schema the bindings were generated from. */\n"
                  "#define PMX_GEN_PVE_VERSION \"%s\"\n"
                  "/** sha256 of that schema. */\n#define PMX_GEN_SCHEMA_SHA256 \"%s\"\n"
                  "/** Number of generated methods. */\n#define PMX_GEN_METHOD_COUNT %zu\n\n",
              o->version, o->sha, g_nm);
    sb_puts(&a, "/** Initialise a caller-allocated _params or pve_fmt_ struct: sets struct_size, "
                "all else unset. */\n#define PMX_PARAMS_INIT(type) {.struct_size = "
                "(uint32_t)sizeof(type)}\n\n");
    sb_puts(&a, "#include <proxmox/gen/propstr.h>\n");
    for (size_t k = 0; k < nsec; k++)
        sb_printf(&a, "#include <proxmox/gen/%s.h>\n", secs[k]);
    sb_puts(&a, "\n#endif\n");
    out_file(o, o->include_dir, "api.h", &a);
    sb_free(&a);
    free(secs);
    emit_propstr(o);
}
