/* pmx-gen: small utilities (strings, files, JSON helpers, C text helpers). */
#include "gen.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d)
        die("out of memory");
    return d;
}

void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        die("out of memory");
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

void *grow(void *arr, size_t *cap, size_t n, size_t sz) {
    if (n < *cap)
        return arr;
    *cap = *cap ? *cap * 2 : 64;
    arr = xrealloc(arr, *cap * sz);
    memset((char *)arr + n * sz, 0, (*cap - n) * sz);
    return arr;
}

char *read_file(const char *path, size_t *len) {
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

void write_file(const char *path, const sb *b) {
    FILE *f = fopen(path, "wb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    if (fwrite(b->d, 1, b->n, f) != b->n || fclose(f) != 0)
        die("%s: write error", path);
}

/* Parse JSON text, with a clear message (line/column, truncation) on failure. */
cJSON *parse_json(const char *what, const char *text, size_t len) {
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

const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int jtrue(const cJSON *o, const char *key) {
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

int num_of(const cJSON *v, double *out) {
    char *e;
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 1;
    }
    if (cJSON_IsString(v) && v->valuestring[0] && (*out = strtod(v->valuestring, &e), !*e))
        return 1;
    return 0;
}

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

char *canon_text(const cJSON *j) {
    sb b = {0};
    canon_json(&b, j);
    return b.d;
}

char *default_string(const cJSON *d) {
    if (!d)
        return NULL;
    if (cJSON_IsString(d))
        return xstrdup(d->valuestring);
    char *t = cJSON_PrintUnformatted(d);
    if (!t)
        die("out of memory");
    return t;
}


/* Append s as a C string literal. */
void c_string(sb *b, const char *s) {
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
void doc_comment(sb *b, int ind, const char *text, const char *extra) {
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

/* Append prefix + proto + suffix, breaking the argument list at ", " to stay within 100
 * columns; continuation lines align after '('. */
void wrap_proto(sb *b, const char *prefix, const char *proto, const char *suffix) {
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

