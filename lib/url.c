/* Endpoint URL parsing: parsed once at client creation. */
#include "core.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pmx__url_free(pmx__url *u) {
    pmx__free(u->host);
    pmx__free(u->base);
    memset(u, 0, sizeof *u);
}

/* Whether [h, h+n) is an address literal of family af as inet_pton reads it (for AF_INET only
 * the plain dotted quad). */
static int address_literal(int af, const char *h, size_t n) {
    char tmp[64];
    unsigned char a[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, h, n);
    tmp[n] = 0;
    return inet_pton(af, tmp, a) == 1;
}

static int valid_hostname(const char *h, size_t n) {
    if (n == 0 || n > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!pmx__is_alnum(ch) && ch != '-' && ch != '_')
            return 0;
        if (++label > 63)
            return 0;
    }
    /* A last label of digits (or 0x...) makes the host an IPv4 address to libcurl and the
     * resolver, which also read 010.0.0.1 as octal, 0x7f.1 and 2130706433 as 127.0.0.1: only
     * the plain dotted-quad form, which means what it says, is taken. */
    size_t end = h[n - 1] == '.' ? n - 1 : n, start = end;
    while (start > 0 && h[start - 1] != '.')
        start--;
    int numeric = end > start;
    for (size_t i = start; i < end && numeric; i++)
        numeric = h[i] >= '0' && h[i] <= '9';
    if (end - start >= 2 && h[start] == '0' && (h[start + 1] == 'x' || h[start + 1] == 'X'))
        numeric = 1;
    return !numeric || address_literal(AF_INET, h, end);
}

int pmx__url_parse(const char *url, pmx__url *out) {
    memset(out, 0, sizeof *out);
    if (!url)
        return PMX_EINVAL;
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->tls = 1;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        out->tls = 0;
        p = url + 7;
    } else {
        return PMX_EINVAL;
    }
    const char *host, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return PMX_EINVAL;
        p = host_end + 1;
        if (!address_literal(AF_INET6, host, (size_t)(host_end - host)))
            return PMX_EINVAL;
    } else {
        host = p;
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#' && *p != '@')
            p++;
        host_end = p;
        if (*p == '@')
            return PMX_EINVAL; /* user info is not for URLs: use the auth setters */
        if (!valid_hostname(host, (size_t)(host_end - host)))
            return PMX_EINVAL;
    }
    long port = 8006;
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)*p))
            return PMX_EINVAL;
        char *e;
        port = strtol(p, &e, 10);
        if (port < 1 || port > 65535 || e - p > 5)
            return PMX_EINVAL;
        p = e;
    }
    /* Allow a trailing "/" or the API root itself; anything else is a mistake. */
    if (strcmp(p, "/api2/json/") == 0 || strcmp(p, "/api2/json") == 0)
        p += strlen(p);
    if (*p == '/')
        p++;
    if (*p)
        return PMX_EINVAL;
    out->port = (int)port;
    out->host = pmx__strndup(host, (size_t)(host_end - host));
    int v6 = host[-1] == '[';
    if (out->host)
        out->base = pmx__asprintf("%s://%s%s%s:%d", out->tls ? "https" : "http", v6 ? "[" : "",
                                  out->host, v6 ? "]" : "", out->port);
    if (!out->host || !out->base) {
        pmx__url_free(out);
        return PMX_ENOMEM;
    }
    return PMX_OK;
}

/* ---- paths given to calls ---- */

/* RFC 3986 pchar, less '%' (checked apart): unreserved, sub-delims, ':' and '@'. */
static int pchar(unsigned char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("-._~!$&'()*+,;=:@", ch) != NULL);
}

bool pmx__segment_ok(const char *v) {
    return v && *v && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

/* Where a volume id starts in /nodes/{node}/storage/{storage}/content/{volume}: PVE gives
 * that parameter the rest of the path, slashes included. NULL for other paths. */
static const char *volume_tail(const char *path) {
    static const char *const lit[] = {"/nodes/", "/storage/", "/content/"};
    const char *p = path;
    for (size_t i = 0;; i++) {
        size_t n = strlen(lit[i]);
        if (strncmp(p, lit[i], n) != 0)
            return NULL;
        p += n;
        if (i == 2)
            return p;
        size_t seg = strcspn(p, "/?");
        if (!seg)
            return NULL;
        p += seg;
    }
}

int pmx__path_check(const char *path, const char **why) {
    if (path[0] != '/') {
        *why = "the path must start with '/'";
        return PMX_EINVAL;
    }
    const char *vol = volume_tail(path);
    const char *p = path;
    /* Segments up to the query. The API root "/" is the one path with an empty segment. */
    while (*p == '/' && !(p == path && (p[1] == 0 || p[1] == '?'))) {
        p++;
        size_t raw = 0, dots = 0;
        int only_dots = 1;
        for (; *p && *p != '/' && *p != '?'; p++, raw++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '%') {
                int hi = pmx__hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : pmx__hexval((unsigned char)p[2]);
                if (lo < 0) {
                    *why = "a '%' in the path is not followed by two hex digits";
                    return PMX_EINVAL;
                }
                ch = (unsigned char)(hi << 4 | lo);
                if (ch == '/' && !(vol && p >= vol)) {
                    /* PVE decodes the path, then splits it: this would be two segments */
                    *why = "an escaped '/' in a path segment (a value holding '/') would split it "
                           "in two on the server";
                    return PMX_EINVAL;
                }
                p += 2;
            } else if (ch == '#') {
                *why = "'#' in the path would cut the request short: escape it with pmx_escape()";
                return PMX_EINVAL;
            } else if (!pchar(ch)) {
                *why = "a character in the path must be escaped (pmx_escape())";
                return PMX_EINVAL;
            }
            if (ch == '.')
                dots++;
            else
                only_dots = 0;
        }
        if (raw == 0) {
            *why = "empty segment in the path ('//' or a trailing '/')";
            return PMX_EINVAL;
        }
        if (only_dots && dots <= 2) {
            *why = "'.' and '..' segments are not allowed in a path";
            return PMX_EINVAL;
        }
    }
    if (*p == '/')
        p++; /* the root */
    if (*p == '?') {
        for (p++; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '%' && pmx__hexval((unsigned char)p[1]) >= 0 && pmx__hexval((unsigned char)p[2]) >= 0) {
                p += 2;
                continue;
            }
            if (ch != '/' && ch != '?' && !pchar(ch)) {
                *why = ch == '#' ? "'#' in the query would cut the request short"
                                 : "a character in the query must be escaped";
                return PMX_EINVAL;
            }
        }
    }
    return *p ? PMX_EINVAL : PMX_OK;
}

/* ---- endpoint lists ---- */

void pmx__endpoints_free(pmx__endpoint *eps, size_t n) {
    for (size_t i = 0; eps && i < n; i++) {
        pmx__url_free(&eps[i].url);
        pmx__free(eps[i].api_prefix);
        pmx__free(eps[i].node);
    }
    pmx__free(eps);
}

int pmx__endpoints_parse(const char *list, pmx__endpoint **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!list)
        return PMX_EINVAL;
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    if (cap > 64)
        return PMX_EINVAL; /* a cluster has far fewer nodes than that */
    pmx__endpoint *eps = pmx__calloc(cap, sizeof *eps);
    if (!eps)
        return PMX_ENOMEM;
    size_t k = 0;
    int r = PMX_OK;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* Blanks next to a separating comma are fine ("https://a, https://b"); around the
         * whole string they are not (as for a single URL). */
        while (len && p != list && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && end && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char *one = pmx__strndup(p, len);
        if (!one) {
            r = PMX_ENOMEM;
            break;
        }
        r = pmx__url_parse(one, &eps[k].url);
        pmx__free(one);
        if (r)
            break;
        if (k && eps[k].url.tls != eps[0].url.tls) { /* https and http mixed: no */
            r = PMX_EINVAL;
            k++;
            break;
        }
        eps[k].api_prefix = pmx__asprintf("%s/api2/json", eps[k].url.base);
        if (!eps[k].api_prefix) {
            r = PMX_ENOMEM;
            k++;
            break;
        }
        eps[k].api_prefix_len = strlen(eps[k].api_prefix);
        eps[k].backoff_ms = PMX__EP_MIN_BACKOFF_MS;
        k++;
        if (!end)
            break;
        p = end + 1;
    }
    if (r) {
        pmx__endpoints_free(eps, k);
        return r;
    }
    *out = eps;
    *n = k;
    return PMX_OK;
}
