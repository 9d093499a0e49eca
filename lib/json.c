/* Allocation-free JSON scanning: validate and skip values, decode strings, walk objects.
 * Used to find "data" in a response without building a tree, and by the typed decoder. */
#include "internal.h"

#include <string.h>

#define MAX_DEPTH 512

const char *pmx__json_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

int pmx__hexval(int ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static unsigned long hex4(const char *p) {
    return (unsigned long)((pmx__hexval(p[0]) << 12) | (pmx__hexval(p[1]) << 8) |
                           (pmx__hexval(p[2]) << 4) | pmx__hexval(p[3]));
}

/* Bytes that end a plain run inside a string: '"', '\\' and control bytes. */
static const unsigned char str_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, ['\\'] = 1};

const char *pmx__json_string_end(const char *p, const char *e, int *esc, int strict) {
    p++;
    *esc = 0;
    for (;;) {
        while (p < e && !str_special[(unsigned char)*p])
            p++;
        if (p >= e || (unsigned char)*p < 0x20)
            return NULL;
        if (*p == '"')
            return p;
        *esc = 1;
        if (++p >= e)
            return NULL;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u': {
            if (e - p < 5 || pmx__hexval(p[1]) < 0 || pmx__hexval(p[2]) < 0 ||
                pmx__hexval(p[3]) < 0 || pmx__hexval(p[4]) < 0)
                return NULL;
            unsigned long cp = hex4(p + 1);
            p += 5;
            /* strict: surrogates come in pairs (as cJSON and Perl's JSON::XS insist); else
             * an unpaired one decodes to U+FFFD */
            if (!strict)
                break;
            if (cp >= 0xDC00 && cp < 0xE000)
                return NULL;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || pmx__hexval(p[2]) < 0 ||
                    pmx__hexval(p[3]) < 0 || pmx__hexval(p[4]) < 0 || pmx__hexval(p[5]) < 0)
                    return NULL;
                unsigned long lo = hex4(p + 2);
                if (lo < 0xDC00 || lo >= 0xE000)
                    return NULL;
                p += 6;
            }
            break;
        }
        default:
            return NULL;
        }
    }
}

/* p at '"': returns the byte after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end) {
    int esc;
    const char *q = pmx__json_string_end(p, end, &esc, 0);
    return q ? q + 1 : NULL;
}

const char *pmx__json_number_end(const char *p, const char *end) {
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *skip_lit(const char *p, const char *end, const char *lit, size_t n) {
    return ((size_t)(end - p) >= n && memcmp(p, lit, n) == 0) ? p + n : NULL;
}

static const char *skip_value(const char *p, const char *end, int depth) {
    if (p >= end || depth > MAX_DEPTH)
        return NULL;
    switch (*p) {
    case '"':
        return skip_string(p, end);
    case '{':
        p = pmx__json_ws(p + 1, end);
        if (p < end && *p == '}')
            return p + 1;
        for (;;) {
            if (p >= end || *p != '"')
                return NULL;
            p = skip_string(p, end);
            if (!p)
                return NULL;
            p = pmx__json_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = pmx__json_ws(p + 1, end);
            p = skip_value(p, end, depth + 1);
            if (!p)
                return NULL;
            p = pmx__json_ws(p, end);
            if (p < end && *p == ',') {
                p = pmx__json_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}')
                return p + 1;
            return NULL;
        }
    case '[':
        p = pmx__json_ws(p + 1, end);
        if (p < end && *p == ']')
            return p + 1;
        for (;;) {
            p = skip_value(p, end, depth + 1);
            if (!p)
                return NULL;
            p = pmx__json_ws(p, end);
            if (p < end && *p == ',') {
                p = pmx__json_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == ']')
                return p + 1;
            return NULL;
        }
    case 't':
        return skip_lit(p, end, "true", 4);
    case 'f':
        return skip_lit(p, end, "false", 5);
    case 'n':
        return skip_lit(p, end, "null", 4);
    default:
        return pmx__json_number_end(p, end);
    }
}

const char *pmx__json_skip(const char *p, const char *end) { return skip_value(p, end, 0); }

static char *put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

size_t pmx__json_unescape(const char *p, const char *q, char *o) {
    char *start = o;
    while (p < q) {
        /* copy plain runs in one go: most strings have no escapes */
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        const char *run = bs ? bs : q;
        memcpy(o, p, (size_t)(run - p));
        o += run - p;
        p = run;
        if (p >= q)
            break;
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned long cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned long lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if ((cp >= 0xD800 && cp < 0xE000) || cp == 0)
                cp = 0xFFFD; /* keep strings NUL-free */
            o = put_utf8(o, cp);
            break;
        }
        default: *o++ = e; break; /* '"', '\\', '/' */
        }
    }
    *o = 0;
    return (size_t)(o - start);
}

const char *pmx__json_string_into(const char *p, const char *end, char *dst, size_t *len) {
    int esc;
    const char *q = pmx__json_string_end(p, end, &esc, 0);
    if (!q)
        return NULL;
    size_t n = pmx__json_unescape(p + 1, q, dst);
    if (len)
        *len = n;
    return q + 1;
}

const char *pmx__json_string(const char *p, const char *end, char **out) {
    *out = NULL;
    const char *q = skip_string(p, end);
    if (!q)
        return NULL;
    /* Decoded text is never longer than the quoted source. */
    char *d = pmx__malloc((size_t)(q - p));
    if (!d)
        return NULL;
    if (!pmx__json_string_into(p, end, d, NULL)) {
        pmx__free(d);
        return NULL;
    }
    *out = d;
    return q;
}

int pmx__json_object_each(const char *p, const char *end, pmx__json_member_fn fn, void *ud) {
    char small[128];
    p = pmx__json_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = pmx__json_ws(p + 1, end);
    if (p < end && *p == '}')
        return 0;
    for (;;) {
        if (p >= end || *p != '"')
            return -1;
        const char *kend = skip_string(p, end);
        if (!kend)
            return -1;
        char *key = small, *heap = NULL;
        if ((size_t)(kend - p) > sizeof small) {
            heap = pmx__malloc((size_t)(kend - p));
            if (!heap)
                return -1;
            key = heap;
        }
        pmx__json_string_into(p, end, key, NULL);
        p = pmx__json_ws(kend, end);
        if (p >= end || *p != ':') {
            pmx__free(heap);
            return -1;
        }
        const char *v = pmx__json_ws(p + 1, end);
        const char *vend = pmx__json_skip(v, end);
        if (!vend) {
            pmx__free(heap);
            return -1;
        }
        int r = fn(key, v, vend, ud);
        pmx__free(heap);
        if (r)
            return r;
        p = pmx__json_ws(vend, end);
        if (p < end && *p == ',') {
            p = pmx__json_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            return 0;
        return -1;
    }
}

int pmx__json_array_each(const char *p, const char *end, pmx__json_item_fn fn, void *ud) {
    p = pmx__json_ws(p, end);
    if (p >= end || *p != '[')
        return -1;
    p = pmx__json_ws(p + 1, end);
    if (p < end && *p == ']')
        return 0;
    for (size_t i = 0;; i++) {
        const char *vend = pmx__json_skip(p, end);
        if (!vend)
            return -1;
        int r = fn ? fn(p, vend, i, ud) : 0;
        if (r)
            return r;
        p = pmx__json_ws(vend, end);
        if (p < end && *p == ',') {
            p = pmx__json_ws(p + 1, end);
            continue;
        }
        return p < end && *p == ']' ? 0 : -1;
    }
}
