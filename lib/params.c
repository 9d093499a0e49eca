/* Parameter lists and their encodings (form, query, JSON). */
#include "core.h"
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pmx_params *pmx_params_new(void) { return pmx__calloc(1, sizeof(pmx_params)); }

void pmx_params_free(pmx_params *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        pmx__free(p->v[i].name);
        pmx__secret_free(p->v[i].value); /* values may be passwords */
    }
    pmx__free(p->v);
    pmx__free(p);
}

static void remove_name(pmx_params *p, const char *name) {
    size_t o = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            pmx__free(p->v[i].name);
            pmx__secret_free(p->v[i].value);
        } else {
            p->v[o++] = p->v[i];
        }
    }
    p->n = o;
}

static int append(pmx_params *p, const char *name, const char *value, int kind) {
    if (!p || !name || !*name || !value)
        return PMX_EINVAL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        pmx__param *v = pmx__realloc(p->v, cap * sizeof *v);
        if (!v)
            return PMX_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    char *n = pmx__strdup(name), *val = pmx__strdup(value);
    if (!n || !val) {
        pmx__free(n);
        pmx__secret_free(val); /* (it may be a password) */
        return PMX_ENOMEM;
    }
    p->v[p->n++] = (pmx__param){n, val, kind};
    return PMX_OK;
}

static int set(pmx_params *p, const char *name, const char *value, int kind) {
    if (!p || !name || !*name || !value)
        return PMX_EINVAL;
    /* Append first, so a failed allocation leaves the old value in place. */
    int r = append(p, name, value, kind);
    if (r)
        return r;
    pmx__param last = p->v[--p->n];
    remove_name(p, name);
    p->v[p->n++] = last;
    return PMX_OK;
}

int pmx_params_set_str(pmx_params *p, const char *name, const char *value) {
    return set(p, name, value, PMX__P_STR);
}

int pmx_params_add_str(pmx_params *p, const char *name, const char *value) {
    return append(p, name, value, PMX__P_STR);
}

int pmx_params_set_int(pmx_params *p, const char *name, int64_t value) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    return set(p, name, buf, PMX__P_INT);
}

int pmx_params_set_bool(pmx_params *p, const char *name, int value) {
    return set(p, name, value ? "1" : "0", PMX__P_BOOL);
}

int pmx_params_set_double(pmx_params *p, const char *name, double value) {
    if (!isfinite(value))
        return PMX_EINVAL;
    char buf[40];
    if (pmx__f64_text(value, buf, sizeof buf) != 0)
        return PMX_ENOMEM; /* (finite: only the C locale can be missing) */
    return set(p, name, buf, PMX__P_DBL);
}

int pmx_params_unset(pmx_params *p, const char *name) {
    if (!p || !name)
        return PMX_EINVAL;
    size_t before = p->n;
    remove_name(p, name);
    return p->n < before ? PMX_OK : PMX_ENOTFOUND;
}

size_t pmx_params_count(const pmx_params *p) { return p ? p->n : 0; }

int pmx_params_get(const pmx_params *p, size_t i, const char **name, const char **value) {
    if (!p || i >= p->n)
        return PMX_ENOTFOUND;
    if (name)
        *name = p->v[i].name;
    if (value)
        *value = p->v[i].value;
    return PMX_OK;
}

int pmx__params_copy(pmx_params *dst, const pmx_params *src) {
    for (size_t i = 0; src && i < src->n; i++) {
        int r = append(dst, src->v[i].name, src->v[i].value, src->v[i].kind);
        if (r)
            return r;
    }
    return PMX_OK;
}

int pmx__params_form(const pmx_params *p, pmx__buf *b) {
    for (size_t i = 0; p && i < p->n; i++) {
        if ((i && pmx__buf_append(b, "&", 1)) ||
            pmx__buf_escape(b, p->v[i].name, strlen(p->v[i].name)) ||
            pmx__buf_append(b, "=", 1) ||
            pmx__buf_escape(b, p->v[i].value, strlen(p->v[i].value)))
            return PMX_ENOMEM;
    }
    return PMX_OK;
}

int pmx_params_encode(const pmx_params *p, char **out) {
    if (!out)
        return PMX_EINVAL;
    *out = NULL;
    pmx__buf b = {0};
    if (pmx__buf_reserve(&b, 0) || pmx__params_form(p, &b)) {
        pmx__buf_free(&b);
        return PMX_ENOMEM;
    }
    *out = b.data;
    return PMX_OK;
}

static int json_string(pmx__buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (pmx__buf_append(b, "\"", 1))
        return PMX_ENOMEM;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        char esc[7];
        const char *piece = NULL;
        size_t n = 0;
        switch (*q) {
        case '"': piece = "\\\""; n = 2; break;
        case '\\': piece = "\\\\"; n = 2; break;
        case '\n': piece = "\\n"; n = 2; break;
        case '\r': piece = "\\r"; n = 2; break;
        case '\t': piece = "\\t"; n = 2; break;
        default:
            if (*q < 0x20) {
                esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = hex[*q >> 4]; esc[5] = hex[*q & 15];
                piece = esc;
                n = 6;
            }
        }
        int r = piece ? pmx__buf_append(b, piece, n) : pmx__buf_append(b, q, 1);
        if (r)
            return PMX_ENOMEM;
    }
    return pmx__buf_append(b, "\"", 1);
}

static int json_value(pmx__buf *b, const pmx__param *e) {
    switch (e->kind) {
    case PMX__P_INT:
    case PMX__P_DBL:
        return pmx__buf_puts(b, e->value);
    case PMX__P_BOOL:
        return pmx__buf_puts(b, strcmp(e->value, "0") ? "true" : "false");
    default:
        return json_string(b, e->value);
    }
}

int pmx__params_json(const pmx_params *p, pmx__buf *b) {
    if (pmx__buf_append(b, "{", 1))
        return PMX_ENOMEM;
    int first = 1;
    for (size_t i = 0; p && i < p->n; i++) {
        /* Emit each name once, at its first position; repeated names become arrays. */
        size_t count = 0, j;
        for (j = 0; j < i; j++)
            if (strcmp(p->v[j].name, p->v[i].name) == 0)
                break;
        if (j < i)
            continue;
        for (j = i; j < p->n; j++)
            count += strcmp(p->v[j].name, p->v[i].name) == 0;
        if ((!first && pmx__buf_append(b, ",", 1)) || json_string(b, p->v[i].name) ||
            pmx__buf_append(b, ":", 1))
            return PMX_ENOMEM;
        first = 0;
        if (count == 1) {
            if (json_value(b, &p->v[i]))
                return PMX_ENOMEM;
            continue;
        }
        if (pmx__buf_append(b, "[", 1))
            return PMX_ENOMEM;
        int firstv = 1;
        for (j = i; j < p->n; j++) {
            if (strcmp(p->v[j].name, p->v[i].name))
                continue;
            if ((!firstv && pmx__buf_append(b, ",", 1)) || json_value(b, &p->v[j]))
                return PMX_ENOMEM;
            firstv = 0;
        }
        if (pmx__buf_append(b, "]", 1))
            return PMX_ENOMEM;
    }
    return pmx__buf_append(b, "}", 1);
}
