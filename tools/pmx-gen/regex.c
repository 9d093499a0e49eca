/* pmx-gen: Perl regex -> POSIX ERE translation for the simple patterns of the PVE schema. */
#include "gen.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Translate the bracket expression starting after '[' at *pp; returns 0 on success. */
static int bracket(const char **pp, sb *o) {
    const char *p = *pp;
    int neg = 0, lit_rb = 0, lit_hy = 0, lit_caret = 0;
    sb in = {0};
    if (*p == '^') {
        neg = 1;
        p++;
    }
    if (*p == ']') {
        lit_rb = 1;
        p++;
    }
    for (;;) {
        if (!*p)
            goto fail;
        if (*p == ']')
            break;
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '='))
            goto fail;
        if (*p != '\\') {
            sb_put(&in, p, 1);
            p++;
            continue;
        }
        p++;
        switch (*p) {
        case 'd': sb_puts(&in, "0-9"); break;
        case 'w': sb_puts(&in, "A-Za-z0-9_"); break;
        case 's': sb_puts(&in, "[:space:]"); break;
        case ']': lit_rb = 1; break;
        case '-': lit_hy = 1; break;
        case '^': lit_caret = 1; break;
        default:
            if (!*p || isalnum((unsigned char)*p))
                goto fail; /* \x.., \0, \S inside [], \n ... */
            sb_put(&in, p, 1);
        }
        p++;
    }
    if (lit_caret && in.n == 0 && !lit_rb)
        goto fail;
    sb_puts(o, neg ? "[^" : "[");
    if (lit_rb)
        sb_puts(o, "]");
    if (in.n)
        sb_put(o, in.d, in.n);
    if (lit_caret)
        sb_puts(o, "^");
    if (lit_hy)
        sb_puts(o, "-");
    sb_puts(o, "]");
    sb_free(&in);
    *pp = p + 1;
    return 0;
fail:
    sb_free(&in);
    return -1;
}

char *perl_to_ere(const char *perl) {
    sb o = {0};
    const char *p = perl;
    sb_puts(&o, "^(");
    while (*p) {
        char c = *p;
        if (c == '[') {
            p++;
            if (bracket(&p, &o))
                goto fail;
            continue;
        }
        if (c == '(') {
            if (p[1] == '?') {
                if (p[2] == ':') {
                    p += 3;
                } else if (p[2] == '^' && p[3] == ':') {
                    p += 4;
                } else {
                    goto fail; /* flags, lookaround, named groups */
                }
                sb_puts(&o, "(");
                continue;
            }
            sb_puts(&o, "(");
            p++;
            continue;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && (p[1] == '?' || p[1] == '+'))
            goto fail; /* lazy / possessive quantifiers */
        if (c == '{') {
            /* {m}, {m,}, {m,n}: glibc expands bounds, so large ones make regcomp slow and big;
             * relax an upper bound over 255 to {m,} (such values also carry maxLength). */
            char *e;
            unsigned long lo = strtoul(p + 1, &e, 10), hi = lo;
            if (!isdigit((unsigned char)p[1]) || lo > 255)
                goto fail;
            if (*e == ',') {
                if (isdigit((unsigned char)e[1])) {
                    hi = strtoul(e + 1, &e, 10);
                } else {
                    hi = (unsigned long)-1;
                    e++;
                }
                if (*e != '}')
                    goto fail;
                if (hi > 255)
                    sb_printf(&o, "{%lu,}", lo);
                else
                    sb_printf(&o, "{%lu,%lu}", lo, hi);
            } else {
                if (*e != '}')
                    goto fail;
                sb_printf(&o, "{%lu}", lo);
            }
            p = e + 1;
            if (*p == '?' || *p == '+')
                goto fail; /* lazy / possessive */
            continue;
        }
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'd': sb_puts(&o, "[0-9]"); break;
            case 'D': sb_puts(&o, "[^0-9]"); break;
            case 'w': sb_puts(&o, "[A-Za-z0-9_]"); break;
            case 'W': sb_puts(&o, "[^A-Za-z0-9_]"); break;
            case 's': sb_puts(&o, "[[:space:]]"); break;
            case 'S': sb_puts(&o, "[^[:space:]]"); break;
            default:
                if (!*p || isalnum((unsigned char)*p))
                    goto fail; /* \b \A \z \x.. \0 backrefs */
                if (strchr(".[]()*+?{}|^$\\", *p)) {
                    sb_puts(&o, "\\");
                    sb_put(&o, p, 1);
                } else {
                    sb_put(&o, p, 1); /* "\@", "\/", "\-": plain characters */
                }
            }
            p++;
            continue;
        }
        sb_put(&o, p, 1);
        p++;
    }
    sb_puts(&o, ")$");
    return o.d;
fail:
    sb_free(&o);
    return NULL;
}
