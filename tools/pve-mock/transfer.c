/* pve-mock: uploads (POST /nodes/{node}/storage/{storage}/upload), the volumes they store, and
 * streamed downloads (task logs with download=1, file-restore/download).
 *
 * An upload is read the way pveproxy reads it (pve-http-server AnyEvent.pm,
 * file_upload_multipart): the body streams through a small window into a temporary file under
 * the mock's temp dir, in constant memory whatever its size; runs of zero bytes become holes
 * (a sparse 4 GiB test file costs no disk); the checksum is computed while the bytes arrive.
 * The answer is the UPID of an "imgcopy" task that verifies the checksum like pve-storage
 * (API2/Storage/Status.pm) and, when it ends well, stores the file as a volume listed by
 * GET …/content. */
#include "mock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#define PREAMBLE_WAIT (64 * 1024) /* the multipart head is parsed once this much is here */
#define PREAMBLE_MAX (1 << 20)    /* text parts beyond this fail the upload */
#define HOLE_BLOCK 4096

/* Where pveproxy's messages come from (die without "\n" appends the location). */
#define AE_PM "/usr/share/perl5/PVE/APIServer/AnyEvent.pm"
#define HS_PM "/usr/share/perl5/PVE/HTTPServer.pm"

struct volume {
    char *node, *storage, *content, *name;
    char *path; /* the file under the mock's temp dir */
    int64_t size;
    time_t ctime;
    struct volume *next;
};

static struct volume *volumes;
static long file_serial;

/* ---- the temp dir ----------------------------------------------------------------------- */

int transfer_init(void)
{
    const char *base = g_mock.cfg.upload_dir;
    if (!base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/var/tmp"; /* where pveproxy puts pveupload-* files */
    char *tmpl = xasprintf("%s/pve-mock-XXXXXX", base);
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "pve-mock: cannot make a temp dir under %s: %s\n", base, strerror(errno));
        free(tmpl);
        return -1;
    }
    g_mock.tmpdir = tmpl;
    return 0;
}

static void volume_free(struct volume *v)
{
    unlink(v->path);
    free(v->node);
    free(v->storage);
    free(v->content);
    free(v->name);
    free(v->path);
    free(v);
}

void transfer_free(void)
{
    while (volumes) {
        struct volume *v = volumes;
        volumes = v->next;
        volume_free(v);
    }
    if (g_mock.tmpdir)
        rmdir(g_mock.tmpdir); /* fails (harmlessly) if an upload file is still open */
    free(g_mock.tmpdir);
    g_mock.tmpdir = NULL;
}

/* ---- the multipart body, as pveproxy parses it ------------------------------------------ */

struct upload {
    struct req *rq;
    char *node, *storage;
    char *boundary;
    size_t blen;        /* strlen(boundary) */
    size_t keep;        /* pveproxy's boundlen: length(boundary) + 8 bytes kept back */
    int phase;          /* 0 before the first delimiter, 1 text parts, 2 file data, 100 done */
    struct evbuffer *buf; /* pveproxy's rbuf */
    cJSON *params;
    char *tmpname;
    int fd;
    int64_t size;       /* file bytes */
    EVP_MD_CTX *md;     /* the checksum-algorithm's digest, when one was named */
    char *error;        /* why the upload failed (answered with 500) */
};

/* "--BOUNDARY" + "\r"? + "\n" at p: its length, or 0. */
static size_t delim_at(const struct upload *u, const char *b, size_t n, size_t p)
{
    if (p + 2 + u->blen > n || b[p] != '-' || b[p + 1] != '-' ||
        memcmp(b + p + 2, u->boundary, u->blen) != 0)
        return 0;
    size_t i = p + 2 + u->blen;
    if (i < n && b[i] == '\r')
        i++;
    return i < n && b[i] == '\n' ? i + 1 - p : 0;
}

/* The first delimiter at or after `from`: its position (*len its length), or -1. */
static long delim_find(const struct upload *u, const char *b, size_t n, size_t from, size_t *len)
{
    for (size_t p = from; p + 2 + u->blen < n; p++) {
        const char *q = memchr(b + p, '-', n - p);
        if (!q)
            return -1;
        p = (size_t)(q - b);
        size_t l = delim_at(u, b, n, p);
        if (l) {
            *len = l;
            return (long)p;
        }
    }
    return -1;
}

static long find(const char *b, size_t n, size_t from, const char *needle)
{
    if (from > n)
        return -1;
    const char *q = memmem(b + from, n - from, needle, strlen(needle));
    return q ? q - b : -1;
}

/* s/^.*?(?:\r?\n){2}//s: the end of the first blank line, or -1. */
static long blank_line_end(const char *b, size_t n)
{
    for (size_t p = 0; p < n; p++) {
        size_t i = p;
        if (i < n && b[i] == '\r')
            i++;
        if (i >= n || b[i] != '\n')
            continue;
        i++;
        if (i < n && b[i] == '\r')
            i++;
        if (i >= n || b[i] != '\n')
            continue;
        return (long)(i + 1);
    }
    return -1;
}

static char *trimmed(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xasprintf("%.*s", (int)n, s);
}

static void upload_fail(struct upload *u, char *msg)
{
    if (!u->error)
        u->error = msg;
    else
        free(msg);
    u->phase = -1;
}

static void param_set(struct upload *u, const char *name, char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(u->params, name);
    cJSON_AddItemToObject(u->params, name, cJSON_CreateString(value));
    free(value);
}

/* $extract_form_disposition: a text part `name`, anchored at a delimiter; the buffer is b[0,n).
 * Returns how many bytes to drop from the front, 0 when it does not match. */
static size_t extract_text(struct upload *u, const char *b, size_t n, const char *name)
{
    size_t d0 = delim_at(u, b, n, 0);
    if (!d0)
        return 0;
    long p = find(b, n, d0, "Content-Disposition: ");
    if (p < 0)
        return 0;
    char *needle = xasprintf("; name=\"%s\"", name);
    long q = find(b, n, (size_t)p + 21, needle);
    size_t after = q < 0 ? 0 : (size_t)q + strlen(needle);
    free(needle);
    size_t dl = 0;
    long d = q < 0 ? -1 : delim_find(u, b, n, after, &dl);
    if (d < 0)
        return 0;
    char *disp = xasprintf("%.*s", (int)(q - p - 21), b + p + 21);
    if (strcmp(disp, "form-data") != 0) {
        upload_fail(u, xasprintf("wrong Content-Disposition '%s' in multipart, expected "
                                 "'form-data'\n", disp));
        free(disp);
        return 0;
    }
    /* the rest of the part, from after name="…": its headers end at the first blank line,
     * its value runs to the next delimiter */
    const char *rest = b + after;
    size_t rn = n - after;
    long bl = blank_line_end(rest, rn);
    size_t vstart = bl < 0 ? 0 : (size_t)bl;
    long vend = delim_find(u, rest, rn, vstart, &dl);
    if (vend < 0) /* Perl keeps $1 of the last match that worked: the disposition */
        param_set(u, name, trimmed(disp, strlen(disp)));
    else
        param_set(u, name, trimmed(rest + vstart, (size_t)vend - vstart));
    free(disp);
    return vend < 0 ? after + vstart : after + (size_t)vend;
}

/* The file part: DELIM "Content-Disposition: " (.*?) '; name="' (.*?) '"; filename="'
 * ([^"]+) '"'. Returns the bytes to drop (the header up to the data), 0 when no match. */
static size_t file_header(struct upload *u, const char *b, size_t n)
{
    size_t d0 = delim_at(u, b, n, 0);
    static const char cd[] = "Content-Disposition: ";
    if (!d0 || n < d0 + sizeof cd - 1 || memcmp(b + d0, cd, sizeof cd - 1) != 0)
        return 0;
    size_t p = d0 + sizeof cd - 1;
    for (long q1 = find(b, n, p, "; name=\""); q1 >= 0; q1 = find(b, n, (size_t)q1 + 1, "; name=\"")) {
        size_t nstart = (size_t)q1 + 8;
        for (long q2 = find(b, n, nstart, "\"; filename=\""); q2 >= 0;
             q2 = find(b, n, (size_t)q2 + 1, "\"; filename=\"")) {
            size_t fstart = (size_t)q2 + 13, fend = fstart;
            while (fend < n && b[fend] != '"')
                fend++;
            if (fend == fstart || fend >= n)
                continue;
            char *disp = xasprintf("%.*s", (int)((size_t)q1 - p), b + p);
            char *field = xasprintf("%.*s", (int)((size_t)q2 - nstart), b + nstart);
            if (strcmp(disp, "form-data") != 0)
                upload_fail(u, xasprintf("wrong Content-Disposition '%s' in multipart, expected "
                                         "'form-data'\n", disp));
            else if (strcmp(field, "filename") != 0)
                upload_fail(u, xasprintf("wrong field name '%s' for file upload, expected "
                                         "'filename' at " AE_PM " line 1325.\n", field));
            else
                param_set(u, "filename", trimmed(b + fstart, fend - fstart));
            free(disp);
            free(field);
            if (u->phase < 0)
                return 0;
            size_t end = fend + 1;
            /* any remaining part headers (Content-Type) up to the blank line */
            long bl = blank_line_end(b + end, n - end);
            return bl < 0 ? end : end + (size_t)bl;
        }
    }
    return 0;
}

static const EVP_MD *digest_of(const char *algo)
{
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } t[] = {{"md5", EVP_md5},       {"sha1", EVP_sha1},     {"sha224", EVP_sha224},
             {"sha256", EVP_sha256}, {"sha384", EVP_sha384}, {"sha512", EVP_sha512}};
    for (size_t i = 0; algo && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(algo, t[i].name) == 0)
            return t[i].md();
    return NULL;
}

/* File bytes: hashed, and written with holes where they are zero (what is never written reads
 * as zeros). */
static void file_write(struct upload *u, const char *data, size_t n)
{
    static const char zero[HOLE_BLOCK];
    if (u->md && EVP_DigestUpdate(u->md, data, n) != 1)
        upload_fail(u, xstrdup("checksum computation failed\n"));
    size_t i = 0;
    while (i < n && u->phase >= 0) {
        size_t k = n - i < HOLE_BLOCK ? n - i : HOLE_BLOCK;
        if (memcmp(data + i, zero, k) == 0) {
            i += k; /* a hole: ftruncate at the end gives the file its size */
            u->size += (int64_t)k;
            continue;
        }
        ssize_t w = pwrite(u->fd, data + i, k, (off_t)u->size);
        if (w <= 0) {
            upload_fail(u, xasprintf("write to temporary file failed - %s\n", strerror(errno)));
            return;
        }
        i += (size_t)w;
        u->size += w;
    }
}

/* One pass of pveproxy's file_upload_multipart over the buffer. final: the body is complete. */
static void multipart_step(struct upload *u, int final)
{
    struct evbuffer *buf = u->buf;
    if (u->phase == 0) { /* everything before the first delimiter goes */
        size_t n = evbuffer_get_length(buf);
        const char *b = (const char *)evbuffer_pullup(buf, -1);
        size_t dl;
        long d = b ? delim_find(u, b, n, 0, &dl) : -1;
        if (d >= 0) {
            evbuffer_drain(buf, (size_t)d);
            u->phase = 1;
        } else if (n > PREAMBLE_MAX) { /* cannot hold a delimiter start: keep the tail only */
            evbuffer_drain(buf, n - (u->blen + 4));
        }
    }
    if (u->phase == 1) {
        size_t n = evbuffer_get_length(buf);
        if (n > PREAMBLE_MAX) {
            upload_fail(u, xstrdup("multipart text parts too large\n"));
            return;
        }
        if (n < PREAMBLE_WAIT && !final)
            return; /* parse the head in one piece, as pveproxy does when it arrives at once */
        static const char *const names[] = {"content", "checksum-algorithm", "checksum"};
        for (size_t i = 0; i < 3 && u->phase == 1; i++) {
            const char *b = (const char *)evbuffer_pullup(buf, -1);
            size_t drop = b ? extract_text(u, b, evbuffer_get_length(buf), names[i]) : 0;
            evbuffer_drain(buf, drop);
        }
        if (u->phase != 1)
            return;
        const char *b = (const char *)evbuffer_pullup(buf, -1);
        size_t drop = b ? file_header(u, b, evbuffer_get_length(buf)) : 0;
        if (u->phase != 1)
            return;
        if (drop) {
            evbuffer_drain(buf, drop);
            u->phase = 2;
            const cJSON *algo = cJSON_GetObjectItemCaseSensitive(u->params, "checksum-algorithm");
            const EVP_MD *md = cJSON_IsString(algo) ? digest_of(algo->valuestring) : NULL;
            if (md) {
                u->md = EVP_MD_CTX_new();
                if (!u->md || EVP_DigestInit_ex(u->md, md, NULL) != 1)
                    upload_fail(u, xstrdup("checksum computation failed\n"));
            }
        }
    }
    if (u->phase == 2) {
        /* s/^(.*?)\r?\n?+--BOUNDARY--.*$//s: the data ends before the close delimiter */
        char *close = xasprintf("--%s--", u->boundary);
        struct evbuffer_ptr at = evbuffer_search(buf, close, strlen(close), NULL);
        free(close);
        if (at.pos >= 0) {
            size_t end = (size_t)at.pos;
            const char *b = (const char *)evbuffer_pullup(buf, (ev_ssize_t)end);
            if (end > 0 && b[end - 1] == '\n') {
                end--;
                if (end > 0 && b[end - 1] == '\r')
                    end--;
            }
            file_write(u, b, end);
            evbuffer_drain(buf, evbuffer_get_length(buf));
            if (u->phase == 2)
                u->phase = 100;
            return;
        }
        size_t n = evbuffer_get_length(buf);
        while (n > u->keep && u->phase == 2) { /* keep back what may start the delimiter */
            struct evbuffer_iovec v;
            if (evbuffer_peek(buf, -1, NULL, &v, 1) < 1)
                break;
            size_t k = v.iov_len < n - u->keep ? v.iov_len : n - u->keep;
            file_write(u, v.iov_base, k);
            evbuffer_drain(buf, k);
            n -= k;
        }
    }
}

/* ---- the request ------------------------------------------------------------------------ */

static void upload_free(struct upload *u, int keep_file)
{
    if (u->fd >= 0)
        close(u->fd);
    if (u->tmpname && !keep_file)
        unlink(u->tmpname);
    free(u->tmpname);
    free(u->node);
    free(u->storage);
    free(u->boundary);
    free(u->error);
    if (u->buf)
        evbuffer_free(u->buf);
    cJSON_Delete(u->params);
    EVP_MD_CTX_free(u->md);
    free(u);
}

static void upload_detach(struct req *rq)
{
    upload_free(rq->app, 0);
    rq->app = NULL;
    req_free(rq);
}

static void upload_error(struct req *rq, struct upload *u)
{
    char *msg = u->error ? u->error : xasprintf("upload failed at " AE_PM " line 1370.\n");
    u->error = NULL;
    rq->app = NULL;
    upload_free(u, 0);
    http_plain_error(rq, 500, msg, 0); /* pveproxy: $self->error($reqstate, 500, $err) */
    free(msg);
}

static void upload_data(struct req *rq, struct evbuffer *src, size_t n)
{
    struct upload *u = rq->app;
    evbuffer_remove_buffer(src, u->buf, n);
    if (u->phase >= 0 && u->phase != 100)
        multipart_step(u, 0);
    if (u->phase == 100) /* what follows the close delimiter is dropped */
        evbuffer_drain(u->buf, evbuffer_get_length(u->buf));
    if (u->phase < 0)
        upload_error(rq, u);
}

static const struct route_param p_upload[] = {
    {"node", P_STR, 1, 1, 0, NULL},
    {"storage", P_STR, 1, 1, 0, NULL},
    {"content", P_ENUM, 1, 1, 0, "iso,vztmpl,import"},
    {"filename", P_STR, 1, 1, 0, NULL},
    {"checksum", P_STR, 0, 1, 0, NULL},
    {"checksum-algorithm", P_ENUM, 0, 1, 0, "md5,sha1,sha224,sha256,sha384,sha512"},
    {"tmpfilename", P_STR, 0, 1, 0, NULL},
    {NULL, P_STR, 0, 0, 0, NULL}};

static const char *pstr(const struct call *c, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->params, name);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* PVE::Storage::normalize_content_filename */
static char *normalize_filename(const char *f)
{
    const char *base = f;
    for (const char *p = f; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *s = xstrdup(base);
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n')
        s[--n] = 0;
    for (char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            *p = '_';
    return s;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* The file name check of pve-storage's upload: NULL when fine, else the error text. */
static const char *filename_error(const char *content, const char *name)
{
    if (!strcmp(content, "iso"))
        return ends_with_ci(name, ".iso") || ends_with_ci(name, ".img") ? NULL
                                                                         : "wrong file extension";
    if (!strcmp(content, "vztmpl")) {
        static const char *const ext[] = {".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"};
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
            if (ends_with_ci(name, ext[i]))
                return NULL;
        return "wrong file extension";
    }
    static const char *const ext[] = {".ova", ".qcow2", ".raw", ".vmdk"}; /* import */
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t n = strlen(name), k = strlen(ext[i]);
        if (n > k && strcmp(name + n - k, ext[i]) == 0)
            return NULL;
    }
    return "invalid filename or wrong extension";
}

static const char *content_dir(const char *content)
{
    return !strcmp(content, "iso")      ? "/var/lib/vz/template/iso"
           : !strcmp(content, "vztmpl") ? "/var/lib/vz/template/cache"
                                        : "/var/lib/vz/import";
}

struct stored {
    char *node, *storage, *content, *name, *tmp;
    int64_t size;
};

static void volume_add(struct stored *s)
{
    for (struct volume **pv = &volumes; *pv; pv = &(*pv)->next) {
        struct volume *v = *pv;
        if (!strcmp(v->node, s->node) && !strcmp(v->storage, s->storage) &&
            !strcmp(v->content, s->content) && !strcmp(v->name, s->name)) {
            *pv = v->next; /* PVE overwrites the destination */
            volume_free(v);
            break;
        }
    }
    struct volume *v = xcalloc(1, sizeof *v);
    v->node = xstrdup(s->node);
    v->storage = xstrdup(s->storage);
    v->content = xstrdup(s->content);
    v->name = xstrdup(s->name);
    v->path = xasprintf("%s/volume-%ld", g_mock.tmpdir, ++file_serial);
    v->size = s->size;
    v->ctime = time(NULL);
    if (rename(s->tmp, v->path) != 0)
        unlink(s->tmp);
    v->next = volumes;
    volumes = v;
}

/* imgcopy ended: a good one stores the volume, a failed one drops the temp file. */
static void imgcopy_done(struct task *t, int ok, void *arg)
{
    struct stored *s = arg;
    if (ok) {
        volume_add(s);
        task_log_line(t, "finished file import successfully");
    } else
        unlink(s->tmp);
    free(s->node);
    free(s->storage);
    free(s->content);
    free(s->name);
    free(s->tmp);
    /* s itself is freed by the task */
}

/* The upload method (pve-storage API2/Storage/Status.pm): with a multipart body u is the
 * upload, without one (no Content-Length) u is NULL and the call fails like PVE's does. */
static void upload_method(struct call *c, struct upload *u)
{
    const char *node = pstr(c, "node"), *storage = pstr(c, "storage");
    const char *content = pstr(c, "content"), *filename = pstr(c, "filename");
    const char *sum = pstr(c, "checksum"), *algo = pstr(c, "checksum-algorithm");
    if (sum && !algo)
        call_param_error(c, "checksum-algorithm", "missing property required by 'checksum'");
    if (algo && !sum)
        call_param_error(c, "checksum", "missing property required by 'checksum-algorithm'");
    if (filename && strlen(filename) > 255)
        call_param_error(c, "filename", "value may only be 255 characters long");
    if (c->status != 200)
        return;
    if (strcmp(storage, "local") != 0) {
        if (!strcmp(storage, "local-lvm"))
            call_error(c, 500, "can't upload to storage type 'lvmthin'");
        else
            call_error(c, 500, "storage '%s' does not exist", storage);
        return;
    }
    if (!u) {
        call_error(c, 500, "missing temporary file name");
        return;
    }
    char *name = normalize_filename(filename);
    const char *why = filename_error(content, name);
    if (why) {
        call_param_error(c, "filename", "%s", why);
        free(name);
        return;
    }
    if (ftruncate(u->fd, (off_t)u->size) != 0) { /* the holes at the end count too */
        call_error(c, 500, "write to temporary file failed - %s", strerror(errno));
        free(name);
        return;
    }
    char *dest = xasprintf("%s/%s", content_dir(content), name);
    char *got = NULL, *planned = NULL;
    if (u->md) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        EVP_DigestFinal_ex(u->md, md, &mdlen);
        got = xmalloc(2 * mdlen + 1);
        for (unsigned i = 0; i < mdlen; i++)
            sprintf(got + 2 * i, "%02x", md[i]);
        if (strcasecmp(got, sum) != 0)
            planned = xasprintf("checksum mismatch: got '%s' != expect '%s'", got, sum);
    }
    char *l_from = xasprintf("starting file import from: %s", u->tmpname);
    char *l_sum = u->md ? xstrdup(planned ? "calculating checksum..."
                                          : "calculating checksum...OK, checksum verified")
                        : NULL;
    char *l_node = xasprintf("target node: %s", node);
    char *l_file = xasprintf("target file: %s", dest);
    char *l_size = xasprintf("file size is: %lld", (long long)u->size);
    char *l_cmd = xasprintf("command: cp -- %s %s", u->tmpname, dest);
    const char *lines[7];
    int nl = 0;
    lines[nl++] = l_from;
    if (l_sum)
        lines[nl++] = l_sum;
    if (!planned) {
        lines[nl++] = l_node;
        lines[nl++] = l_file;
        lines[nl++] = l_size;
        lines[nl++] = l_cmd;
    }
    lines[nl] = NULL;
    struct stored *s = xcalloc(1, sizeof *s);
    s->node = xstrdup(node);
    s->storage = xstrdup(storage);
    s->content = xstrdup(content);
    s->name = name;
    s->tmp = xstrdup(u->tmpname);
    s->size = u->size;
    close(u->fd); /* the task owns the file now */
    u->fd = -1;
    free(u->tmpname);
    u->tmpname = NULL;
    struct task *t = task_start_ex(node, "imgcopy", "", c->user ? c->user : MOCK_USER, lines,
                                   planned, imgcopy_done, s);
    c->data = cJSON_CreateString(t->upid);
    free(dest);
    free(got);
    free(planned);
    free(l_from);
    free(l_sum);
    free(l_node);
    free(l_file);
    free(l_size);
    free(l_cmd);
}

/* pveproxy proxies a call for another node; an upload it cannot proxy. */
static int upload_elsewhere(struct call *c, const char *node)
{
    int l = c->req ? c->req->listener : 0;
    if (l >= 0 && l < g_mock.nnodes && strcmp(g_mock.nodes[l].name, node) == 0)
        return 0;
    call_error(c, 500, "unable to proxy file uploads at " HS_PM " line 185.");
    return 1;
}

/* POST …/upload without a body (no Content-Length): the parameters come from the query. */
void transfer_route_upload(struct call *c)
{
    if (upload_elsewhere(c, pstr(c, "node")))
        return;
    route_validate(c, p_upload);
    if (c->status == 200)
        upload_method(c, NULL);
}

static void upload_end(struct req *rq)
{
    struct upload *u = rq->app;
    if (u->phase >= 0 && u->phase != 100)
        multipart_step(u, 1);
    if (u->phase != 100) {
        if (u->phase >= 0)
            upload_fail(u, xasprintf("upload failed at " AE_PM " line 1370.\n"));
        upload_error(rq, u);
        return;
    }
    rq->app = NULL;
    rq->on_detach = NULL;
    rq->sink_data = NULL;
    rq->sink_end = NULL;
    char *rel = xasprintf("/nodes/%s/storage/%s/upload", u->node, u->storage);
    if (http_pre_faults(rq, rel)) {
        upload_free(u, 0);
        free(rel);
        return;
    }
    struct call c;
    memset(&c, 0, sizeof c);
    c.method = EVHTTP_REQ_POST;
    c.status = 200;
    c.total = -1;
    c.path = rel;
    c.req = rq;
    c.user = rq->user;
    c.via_token = rq->via_token;
    c.params = u->params;
    u->params = NULL;
    /* rest_handler: path parameters win over a conflicting body (400), then the proxy check */
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c.params, "node");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c.params, "storage");
    if ((n && !(cJSON_IsString(n) && !strcmp(n->valuestring, u->node))) ||
        (s && !(cJSON_IsString(s) && !strcmp(s->valuestring, u->storage)))) {
        call_param_error(&c, n && !(cJSON_IsString(n) && !strcmp(n->valuestring, u->node))
                                 ? "node"
                                 : "storage",
                         "duplicate parameter (already defined in URI) with conflicting values!");
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(c.params, "node");
        cJSON_DeleteItemFromObjectCaseSensitive(c.params, "storage");
        cJSON_AddStringToObject(c.params, "node", u->node);
        cJSON_AddStringToObject(c.params, "storage", u->storage);
        if (!upload_elsewhere(&c, u->node)) {
            route_validate(&c, p_upload);
            if (c.status == 200)
                upload_method(&c, u);
        }
    }
    http_answer(rq, &c);
    upload_free(u, 0);
    cJSON_Delete(c.params);
    cJSON_Delete(c.data);
    cJSON_Delete(c.errors);
    free(c.message);
    free(rel);
}

int upload_path(const char *rel, char **node, char **storage)
{
    /* /nodes/{node}/storage/{storage}/upload */
    char n[256], s[256], tail[16];
    if (sscanf(rel, "/nodes/%255[^/]/storage/%255[^/]/%15s", n, s, tail) != 3 ||
        strcmp(tail, "upload") != 0)
        return 0;
    *node = xstrdup(n);
    *storage = xstrdup(s);
    return 1;
}

int upload_head(struct req *rq, const char *node, const char *storage)
{
    /* pveproxy's parse_content_type: split on [;,], the boundary kept as written */
    const char *ctype = req_header(rq, "Content-Type");
    char *ct = ctype ? xstrdup(ctype) : NULL, *boundary = NULL, *first = NULL;
    for (char *save = NULL, *tok = ct ? strtok_r(ct, ";,", &save) : NULL; tok;
         tok = strtok_r(NULL, ";,", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t k = strlen(tok);
        while (k && isspace((unsigned char)tok[k - 1]))
            tok[--k] = 0;
        if (!first) {
            first = tok;
        } else if (!boundary && strncmp(tok, "boundary", 8) == 0) {
            const char *v = tok + 8 + strspn(tok + 8, " \t");
            if (*v == '=' && *(v + 1 + strspn(v + 1, " \t")))
                boundary = xstrdup(v + 1 + strspn(v + 1, " \t"));
        }
    }
    int ok = boundary && first && strcmp(first, "multipart/form-data") == 0 &&
             !strpbrk(boundary, " \t");
    free(ct);
    if (!ok) { /* pveproxy dies here and leaves the request unanswered; the mock answers */
        char *msg = xasprintf("upload 'Content-Type '%s' not implemented", ctype ? ctype : "");
        http_plain_error(rq, 501, msg, 0);
        free(msg);
        free(boundary);
        return HEAD_ANSWERED;
    }
    struct upload *u = xcalloc(1, sizeof *u);
    u->rq = rq;
    u->fd = -1;
    u->node = xstrdup(node);
    u->storage = xstrdup(storage);
    u->boundary = boundary;
    u->blen = strlen(boundary);
    u->keep = u->blen + 8; /* \r?\n--BOUNDARY--\r?\n */
    u->buf = evbuffer_new();
    u->params = cJSON_CreateObject();
    if (rq->query)
        form_decode(rq->query, strlen(rq->query), u->params);
    if (cJSON_GetObjectItemCaseSensitive(u->params, "tmpfilename")) {
        upload_free(u, 0);
        http_plain_error(rq, 501, "'tmpfilename' query parameter is not allowed for file uploads",
                         0);
        return HEAD_ANSWERED;
    }
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof rnd);
    char hex[33];
    for (int i = 0; i < 16; i++)
        sprintf(hex + 2 * i, "%02x", rnd[i]);
    u->tmpname = xasprintf("%s/pveupload-%s", g_mock.tmpdir, hex);
    u->fd = open(u->tmpname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        char *msg = xasprintf("unable to create temporary upload file '%s'", u->tmpname);
        free(u->tmpname);
        u->tmpname = NULL;
        upload_free(u, 0);
        http_plain_error(rq, 501, msg, 0);
        free(msg);
        return HEAD_ANSWERED;
    }
    rq->keep_alive = 0; /* pveproxy: no keep-alive after an upload */
    rq->app = u;
    rq->sink_data = upload_data;
    rq->sink_end = upload_end;
    rq->on_detach = upload_detach;
    return HEAD_STREAM;
}

/* ---- GET …/content: the stored volumes -------------------------------------------------- */

static const char *volume_format(const struct volume *v)
{
    if (!strcmp(v->content, "iso"))
        return "iso";
    if (!strcmp(v->content, "vztmpl"))
        return "tgz";
    const char *dot = strrchr(v->name, '.');
    return dot ? dot + 1 : "raw";
}

void transfer_route_content(struct call *c)
{
    const char *node = pstr(c, "node"), *storage = pstr(c, "storage");
    const char *content = pstr(c, "content");
    if (!route_need_node(c))
        return;
    c->data = cJSON_CreateArray();
    for (const struct volume *v = volumes; v; v = v->next) {
        if (strcmp(v->node, node) || strcmp(v->storage, storage) ||
            (content && strcmp(v->content, content)))
            continue;
        cJSON *o = cJSON_CreateObject();
        char *volid = xasprintf("%s:%s/%s", v->storage, v->content, v->name);
        cJSON_AddStringToObject(o, "volid", volid);
        free(volid);
        cJSON_AddStringToObject(o, "content", v->content);
        cJSON_AddStringToObject(o, "format", volume_format(v));
        cJSON_AddNumberToObject(o, "size", (double)v->size);
        cJSON_AddNumberToObject(o, "ctime", (double)v->ctime);
        cJSON_AddItemToArray(c->data, o);
    }
}

/* ---- streamed downloads ------------------------------------------------------------------ */

struct memsrc {
    char *data;
    size_t len, pos;
};

static size_t mem_fill(void *arg, struct evbuffer *out, size_t max)
{
    struct memsrc *m = arg;
    size_t n = m->len - m->pos < max ? m->len - m->pos : max;
    evbuffer_add(out, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static void mem_free(void *arg)
{
    struct memsrc *m = arg;
    free(m->data);
    free(m);
}

/* Byte i of a download is i mod 251 (a prime: a shifted or repeated block shows). */
#define PATTERN_MOD 251
static unsigned char pattern[64 * 1024 + PATTERN_MOD];

struct patsrc {
    int64_t size, pos;
};

static size_t pattern_fill(void *arg, struct evbuffer *out, size_t max)
{
    struct patsrc *p = arg;
    if (!pattern[1])
        for (size_t i = 0; i < sizeof pattern; i++)
            pattern[i] = (unsigned char)(i % PATTERN_MOD);
    int64_t left = p->size - p->pos;
    size_t n = left < (int64_t)max ? (size_t)left : max;
    if (n > 64 * 1024)
        n = 64 * 1024;
    evbuffer_add(out, pattern + p->pos % PATTERN_MOD, n);
    p->pos += (int64_t)n;
    return n;
}

/* The head of a stream and the delivery faults that cut it. */
static void stream_answer(struct call *c, const char *ctype, char *extra, struct stream_src *src,
                          int gzip)
{
    struct mock_faults *f = &g_mock.faults;
    struct reply r = {0};
    r.status = 200;
    r.reason = xstrdup("OK");
    r.ctype = ctype;
    r.extra = extra;
    r.gzip = gzip;
    if (fault_match(c->req, c->path)) {
        if (fault_take(&f->close_mid_response)) {
            r.deliver = DELIVER_CLOSE_MID;
            r.fault = "close_mid_response";
        } else if (fault_take(&f->reset_mid_body)) {
            r.deliver = DELIVER_RESET_MID;
            r.fault = "reset_mid_body";
        }
    }
    c->answered = 1;
    req_stream(c->req, &r, src);
}

static const struct route_param p_file_restore[] = {
    {"node", P_STR, 1, 1, 0, NULL},     {"storage", P_STR, 1, 1, 0, NULL},
    {"volume", P_STR, 1, 1, 0, NULL},   {"filepath", P_STR, 1, 1, 0, NULL},
    {"tar", P_BOOL, 0, 1, 0, NULL},     {NULL, P_STR, 0, 0, 0, NULL}};

void transfer_route_file_restore(struct call *c)
{
    route_validate(c, p_file_restore);
    if (c->status != 200)
        return;
    if (!route_need_node(c))
        return;
    if (!c->req) {
        call_error(c, 500, "no connection to stream to");
        return;
    }
    struct patsrc *p = xcalloc(1, sizeof *p);
    p->size = g_mock.faults.download_size;
    struct stream_src src = {pattern_fill, free, p, p->size};
    stream_answer(c, "application/octet-stream", NULL, &src, 0);
}

void transfer_task_log_download(struct call *c, const struct task *t)
{
    if (!c->req) {
        call_error(c, 500, "no connection to stream to");
        return;
    }
    size_t len = 0;
    for (int i = 0; i < t->nlog; i++)
        len += strlen(t->log[i]) + 1;
    char *text = xmalloc(len + 1), *o = text;
    for (int i = 0; i < t->nlog; i++)
        o += sprintf(o, "%s\n", t->log[i]);
    int gzip = 0;
    if (len > 1024) { /* pve-manager pipes logs over 1 KiB through gzip */
        uLong cap = compressBound((uLong)len) + 32;
        unsigned char *z = xmalloc(cap);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
            zs.next_in = (unsigned char *)text;
            zs.avail_in = (uInt)len;
            zs.next_out = z;
            zs.avail_out = (uInt)cap;
            if (deflate(&zs, Z_FINISH) == Z_STREAM_END) {
                free(text);
                text = (char *)z;
                len = zs.total_out;
                z = NULL;
                gzip = 1;
            }
            deflateEnd(&zs);
        }
        free(z);
    }
    struct memsrc *m = xcalloc(1, sizeof *m);
    m->data = text;
    m->len = len;
    char when[32];
    struct tm tm;
    gmtime_r(&t->starttime, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *extra = xasprintf("Content-Disposition: attachment; filename=\"task-%s-%s-%s.log\"\r\n",
                            t->node, t->type, when);
    struct stream_src src = {mem_fill, mem_free, m, (int64_t)len};
    stream_answer(c, "text/plain", extra, &src, gzip);
}
