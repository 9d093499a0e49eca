/* UPIDs: `UPID:node:PID:PSTART:STARTTIME:type:id:user:`, parsed strictly so that formatting
 * gives back the very same text (pve-common PVE::Tools::upid_decode/upid_encode). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* A byte that may not appear inside a field: separators, path slashes, white space, controls. */
static bool bad_field_char(unsigned char ch) {
    return ch == ':' || ch == '/' || ch <= 0x20 || ch == 0x7f;
}

static bool node_char(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool node_valid(const char *s, size_t n) {
    if (n == 0 || !node_char((unsigned char)s[0]) || !node_char((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!node_char((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool field_valid(const char *s, size_t n, bool may_be_empty) {
    if (n == 0)
        return may_be_empty;
    for (size_t i = 0; i < n; i++)
        if (bad_field_char((unsigned char)s[i]))
            return false;
    return true;
}

static int hexdig(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int set_err(char **err, const char *msg, size_t off) {
    if (err)
        *err = pmx__asprintf("malformed UPID: %s (offset %u)", msg, (unsigned)off);
    return PMX_EINVAL;
}

int pmx_upid_parse(const char *text, pmx_upid **out, char **err) {
    if (err)
        *err = NULL;
    if (out)
        *out = NULL;
    if (!text || !out) {
        if (err)
            *err = pmx__strdup(text ? "no output pointer given" : "no UPID given");
        return PMX_EINVAL;
    }
    static const char *const names[8] = {"node", "PID",  "PSTART", "STARTTIME",
                                         "type", "id", "user", NULL};
    if (strncmp(text, "UPID:", 5) != 0)
        return set_err(err, "it must start with \"UPID:\"", 0);
    const char *f[7];
    size_t len[7];
    const char *p = text + 5;
    for (int i = 0; i < 7; i++) {
        const char *colon = strchr(p, ':');
        if (!colon) {
            if (err)
                *err = pmx__asprintf("malformed UPID: field %s is missing or not followed by "
                                     "':' (offset %u)",
                                     names[i], (unsigned)(p - text));
            return PMX_EINVAL;
        }
        f[i] = p;
        len[i] = (size_t)(colon - p);
        p = colon + 1;
    }
    if (*p) {
        return set_err(err, "unexpected text after the trailing ':'", (size_t)(p - text));
    }
    size_t off[7];
    for (int i = 0; i < 7; i++)
        off[i] = (size_t)(f[i] - text);
    if (!node_valid(f[0], len[0]))
        return set_err(err, "node must be a host name (letters, digits, inner '-')", off[0]);
    uint64_t num[3];
    for (int k = 0; k < 3; k++) {
        const char *s = f[1 + k];
        size_t n = len[1 + k];
        bool ok = k == 1 ? (n >= 8 && n <= 16 && (n == 8 || s[0] != '0')) : n == 8;
        uint64_t v = 0;
        for (size_t i = 0; ok && i < n; i++) {
            int d = hexdig(s[i]);
            if (d < 0)
                ok = false;
            else
                v = v << 4 | (uint64_t)d;
        }
        if (!ok) {
            if (err)
                *err = pmx__asprintf(
                    "malformed UPID: %s must be %s upper-case hex digits (offset %u)",
                    names[1 + k], k == 1 ? "8 (or more, without leading zero)" : "8",
                    (unsigned)off[1 + k]);
            return PMX_EINVAL;
        }
        num[k] = v;
    }
    for (int i = 4; i < 7; i++) {
        if (!field_valid(f[i], len[i], i == 5)) {
            if (err)
                *err = pmx__asprintf("malformed UPID: %s %s (offset %u)", names[i],
                                     len[i] ? "holds ':', '/', white space or a control character"
                                            : "is empty",
                                     (unsigned)off[i]);
            return PMX_EINVAL;
        }
    }
    /* One block: the struct, then the strings. */
    size_t total = sizeof(pmx_upid) + len[0] + len[4] + len[5] + len[6] + 4;
    pmx_upid *u = pmx__calloc(1, total);
    if (!u)
        return PMX_ENOMEM;
    char *s = (char *)(u + 1);
    char **dst[7] = {&u->node, NULL, NULL, NULL, &u->type, &u->id, &u->user};
    for (int i = 0; i < 7; i++) {
        if (!dst[i])
            continue;
        memcpy(s, f[i], len[i]);
        s[len[i]] = 0;
        *dst[i] = s;
        s += len[i] + 1;
    }
    u->pid = (uint32_t)num[0];
    u->pstart = num[1];
    u->starttime = (int64_t)num[2];
    *out = u;
    return PMX_OK;
}

int pmx_upid_format(const pmx_upid *u, char **out) {
    if (out)
        *out = NULL;
    if (!u || !out || !u->node || !u->type || !u->id || !u->user)
        return PMX_EINVAL;
    if (!node_valid(u->node, strlen(u->node)) || !field_valid(u->type, strlen(u->type), false) ||
        !field_valid(u->id, strlen(u->id), true) || !field_valid(u->user, strlen(u->user), false))
        return PMX_EINVAL;
    if (u->starttime < 0 || u->starttime > 0xFFFFFFFFLL)
        return PMX_EINVAL;
    char *s = pmx__asprintf("UPID:%s:%08X:%08llX:%08llX:%s:%s:%s:", u->node, (unsigned)u->pid,
                            (unsigned long long)u->pstart, (unsigned long long)u->starttime,
                            u->type, u->id, u->user);
    if (!s)
        return PMX_ENOMEM;
    *out = s;
    return PMX_OK;
}

void pmx_upid_free(pmx_upid *u) { pmx__free(u); }
