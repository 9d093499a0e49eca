/* pmx-gen: C names of functions, fields and areas. */
#include "gen.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

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
void mangle(const char *in, char *out, size_t cap) {
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


void method_names(const char *verb, const char *path, char *fn, size_t fncap, char *section,
                  size_t seccap) {
    char where[600];
    snprintf(where, sizeof where, "%s %s", verb, path);
    char segs[64][128];
    int nseg = 0;
    for (const char *p = path; *p;) {
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
    sb b = {0};
    sb_puts(&b, "pve");
    for (int i = 0; i < nseg; i++) {
        const char *s = segs[i];
        size_t n = strlen(s);
        if (s[0] == '{') {
            if (n < 3 || s[n - 1] != '}')
                die("%s: bad path segment '%s'", where, s);
            if (i < last_lit)
                continue;
            sb_puts(&b, "_");
            sb_put(&b, s + 1, n - 2);
        } else {
            sb_puts(&b, "_");
            sb_puts(&b, s);
        }
    }
    sb_puts(&b, "_");
    for (const char *v = verb; *v; v++)
        sb_printf(&b, "%c", tolower((unsigned char)*v));
    const char *ov = jstr(cJSON_GetObjectItemCaseSensitive(g_over, "function_names"), where);
    mangle(ov ? ov : b.d, fn, fncap);
    sb_free(&b);
    mangle(segs[0], section, seccap);
}

void path_area(const char *path, char *out, size_t cap) {
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

