/* Uploads (pve-wire-protocol.md §8): the multipart body pveproxy takes, streamed from a file or a
 * read callback in constant memory, with a checksum computed first (in slices, from the loop)
 * so the server can verify the copy. The task machinery (task.c) runs the phases: checksum,
 * upload request, then the wait for the imgcopy task. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes hashed per loop pass: big enough to run at full speed, small enough for other calls. */
#define HASH_SLICE (8u << 20)
#define READ_CHUNK (256u << 10)
/* The most the multipart head and tail may add to the file (its name is the only long part). */
#define UPLOAD_FRAME_MAX ((int64_t)1 << 20)

struct pmx__upload {
    char *node, *storage, *content, *filename, *algo;
    char *checksum; /* hex, or NULL for "none" */
    char *path;     /* the file, or NULL */
    int fd;
    pmx_read_fn read_fn;
    pmx_rewind_fn rewind_fn;
    void *ud; /* the task's userdata, for read_fn / rewind_fn */
    int64_t length;
    uint32_t flags;
    pmx_progress_fn progress_fn;
    int64_t stall_ms, stall_bps;

    /* checksum pass */
    EVP_MD_CTX *md;
    int64_t hashed;
    unsigned char *buf;

    /* the body: head, file bytes, tail */
    char *head;
    size_t head_len;
    char tail[80];
    size_t tail_len;
    int64_t pos;                 /* position in the whole body */
    char content_type[120];      /* the header line */
    char boundary[48];
};

void pmx__upload_free(pmx__upload *u) {
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->md)
        EVP_MD_CTX_free(u->md);
    pmx__free(u->buf);
    pmx__free(u->node);
    pmx__free(u->storage);
    pmx__free(u->content);
    pmx__free(u->filename);
    pmx__free(u->algo);
    pmx__free(u->checksum);
    pmx__free(u->path);
    pmx__free(u->head);
    pmx__free(u);
}

static const EVP_MD *digest_of(const char *algo) {
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } algos[] = {{"md5", EVP_md5},       {"sha1", EVP_sha1},     {"sha224", EVP_sha224},
                 {"sha256", EVP_sha256}, {"sha384", EVP_sha384}, {"sha512", EVP_sha512}};
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (strcmp(algos[i].name, algo) == 0)
            return algos[i].md();
    return NULL;
}

/* What may stand inside the quoted filename of a Content-Disposition, and as a file name on a
 * PVE storage: no quotes, slashes, backslashes or control characters. */
static int filename_ok(const char *s) {
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '/' || *s == '\\')
            return 0;
    return 1;
}

static int hex_ok(const char *s, size_t n) {
    if (strlen(s) != n)
        return 0;
    for (; *s; s++)
        if (pmx__hexval((unsigned char)*s) < 0)
            return 0;
    return 1;
}

/* Read from the source (file or callback) into buf: bytes, 0 at the end, -1 on error, or
 * PMX__SRC_OVERLONG when the callback claims more than len (nothing past len is used). */
static int64_t source_read(pmx__upload *u, char *buf, size_t len) {
    if (u->read_fn) {
        int64_t r = u->read_fn(buf, len, u->ud);
        return r > (int64_t)len ? PMX__SRC_OVERLONG : r < 0 ? -1 : r;
    }
    for (;;) {
        ssize_t r = read(u->fd, buf, len);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int source_rewind(pmx__upload *u) {
    if (u->read_fn)
        return u->rewind_fn && u->rewind_fn(u->ud) == 0 ? PMX_OK : PMX_EINVAL;
    return lseek(u->fd, 0, SEEK_SET) == 0 ? PMX_OK : PMX_EINVAL;
}

/* ---- building ---- */

static char *dupstr(const char *s, int *bad) {
    if (!s)
        return NULL;
    char *d = pmx__strdup(s);
    if (!d)
        *bad = PMX_ENOMEM;
    return d;
}

int pmx__upload_new(pmx_client *c, const char *node, const char *storage,
                    const pmx_upload_opts *o, void *ud, pmx__upload **out) {
    *out = NULL;
#define UHAS(f) (o->size >= offsetof(pmx_upload_opts, f) + sizeof o->f)
    if (!node || !storage || !o || o->size < offsetof(pmx_upload_opts, flags) + sizeof o->flags ||
        (o->flags & ~(uint32_t)PMX_UPLOAD_NO_WAIT) || !pmx__segment_ok(node) ||
        !pmx__segment_ok(storage) || strchr(node, '/') || strchr(storage, '/'))
        return PMX_EINVAL; /* (PVE splits on an escaped '/' too: not found after the checksum) */
    const char *content = UHAS(content) && o->content ? o->content : "iso";
    const char *path = UHAS(path) ? o->path : NULL;
    pmx_read_fn read_fn = UHAS(read_fn) ? o->read_fn : NULL;
    const char *algo = UHAS(checksum_algorithm) && o->checksum_algorithm ? o->checksum_algorithm
                                                                         : "sha256";
    const char *sum = UHAS(checksum) ? o->checksum : NULL;
    const char *filename = UHAS(filename) ? o->filename : NULL;
    if (!filename && path) {
        const char *slash = strrchr(path, '/');
        filename = slash ? slash + 1 : path;
    }
    if (strcmp(content, "iso") != 0 && strcmp(content, "vztmpl") != 0 &&
        strcmp(content, "import") != 0)
        return PMX_EINVAL;
    if (!path == !read_fn || !filename || !filename_ok(filename))
        return PMX_EINVAL;
    const EVP_MD *md = strcmp(algo, "none") == 0 ? NULL : digest_of(algo);
    if (!md && strcmp(algo, "none") != 0)
        return PMX_EINVAL;
    if (sum && (!md || !hex_ok(sum, (size_t)EVP_MD_get_size(md) * 2)))
        return PMX_EINVAL;
    pmx__upload *u = pmx__calloc(1, sizeof *u);
    if (!u)
        return PMX_ENOMEM;
    u->fd = -1;
    u->ud = ud;
    u->flags = o->flags;
    int bad = PMX_OK;
    u->node = dupstr(node, &bad);
    u->storage = dupstr(storage, &bad);
    u->content = dupstr(content, &bad);
    u->filename = dupstr(filename, &bad);
    u->algo = md ? dupstr(algo, &bad) : NULL;
    u->checksum = dupstr(sum, &bad);
    u->path = dupstr(path, &bad);
    if (bad) {
        pmx__upload_free(u);
        return bad;
    }
    if (UHAS(progress_fn))
        u->progress_fn = o->progress_fn;
    if (UHAS(stall_bytes_per_s)) {
        if (o->stall_ms < 0 || o->stall_bytes_per_s < 0) {
            pmx__upload_free(u);
            return PMX_EINVAL;
        }
        u->stall_ms = o->stall_ms;
        u->stall_bps = o->stall_bytes_per_s;
    }
    if (path) {
        struct stat st;
        /* O_NONBLOCK: a pipe at the path is refused below instead of blocking the caller in
         * open() until a writer appears (a regular file ignores the flag) */
        u->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (u->fd < 0 || fstat(u->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            pmx__log(c, PMX_LOG_WARN, "cannot upload %s: %s", path,
                     u->fd < 0 ? strerror(errno) : "not a regular file");
            pmx__upload_free(u);
            return PMX_EINVAL;
        }
        u->length = st.st_size;
    } else {
        u->read_fn = read_fn;
        u->rewind_fn = UHAS(rewind_fn) ? o->rewind_fn : NULL;
        u->length = UHAS(length) ? o->length : -1;
        if (u->length < 0 || (md && !sum && !u->rewind_fn)) {
            pmx__upload_free(u);
            return PMX_EINVAL;
        }
    }
    /* the multipart head and tail (a few hundred bytes) go around the file: their sum with the
     * length must not pass INT64_MAX */
    if (u->length > INT64_MAX - UPLOAD_FRAME_MAX) {
        pmx__upload_free(u);
        return PMX_EINVAL;
    }
#undef UHAS
    if (md && !sum) {
        u->md = EVP_MD_CTX_new();
        u->buf = pmx__malloc(READ_CHUNK);
        if (!u->md || !u->buf || EVP_DigestInit_ex(u->md, md, NULL) != 1) {
            pmx__upload_free(u);
            return PMX_ENOMEM;
        }
    }
    *out = u;
    return PMX_OK;
}

bool pmx__upload_needs_hash(const pmx__upload *u) { return u->md != NULL; }

bool pmx__upload_waits(const pmx__upload *u) { return !(u->flags & PMX_UPLOAD_NO_WAIT); }

const char *pmx__upload_node(const pmx__upload *u) { return u->node; }

static void progress(pmx__upload *u, pmx_call *call, int64_t up, int64_t total) {
    if (u->progress_fn)
        u->progress_fn(call, 0, -1, up, total, u->ud);
}

int pmx__upload_hash_step(pmx_client *c, pmx__upload *u, char **err) {
    size_t budget = HASH_SLICE;
    while (budget && u->hashed < u->length) {
        size_t want = READ_CHUNK;
        if ((int64_t)want > u->length - u->hashed)
            want = (size_t)(u->length - u->hashed);
        int64_t r = source_read(u, (char *)u->buf, want);
        if (r <= 0) {
            *err = pmx__asprintf("cannot read %s for its checksum: %s",
                                 u->path ? u->path : "the upload",
                                 r == 0                    ? "it is shorter than its length"
                                 : r == PMX__SRC_OVERLONG ? "the read callback returned more "
                                                            "bytes than it was asked for"
                                 : u->read_fn              ? "the read callback failed"
                                                           : strerror(errno));
            return PMX_EINVAL;
        }
        if (EVP_DigestUpdate(u->md, u->buf, (size_t)r) != 1) {
            *err = pmx__strdup("the checksum could not be computed");
            return PMX_ENOMEM;
        }
        u->hashed += r;
        budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
    }
    c->in_callback++;
    progress(u, NULL, u->hashed, u->length);
    c->in_callback--;
    if (u->hashed < u->length)
        return 1; /* more to do: the next slice on the next loop pass */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(u->md, md, &n) != 1 || !(u->checksum = pmx__malloc(n * 2 + 1))) {
        *err = pmx__strdup("the checksum could not be computed");
        return PMX_ENOMEM;
    }
    for (unsigned i = 0; i < n; i++)
        snprintf(u->checksum + i * 2, 3, "%02x", md[i]);
    EVP_MD_CTX_free(u->md);
    u->md = NULL;
    pmx__free(u->buf);
    u->buf = NULL;
    if (source_rewind(u) != PMX_OK) {
        *err = pmx__strdup("cannot read the upload again after its checksum");
        return PMX_EINVAL;
    }
    return PMX_OK;
}

/* ---- the body ---- */

/* The multipart head: the text parts in pveproxy's order, then the file part's headers (with
 * a Content-Type line after the disposition: pveproxy skips "remaining multipart headers" up to
 * the blank line, and without one it would eat the start of the file). */
static int build_body(pmx__upload *u) {
    unsigned char rnd[12];
    if (RAND_bytes(rnd, (int)sizeof rnd) != 1)
        return PMX_ENOMEM;
    int o = snprintf(u->boundary, sizeof u->boundary, "----libproxmox");
    for (size_t i = 0; i < sizeof rnd; i++)
        o += snprintf(u->boundary + o, sizeof u->boundary - (size_t)o, "%02x", rnd[i]);
    snprintf(u->content_type, sizeof u->content_type,
             "Content-Type: multipart/form-data; boundary=%s", u->boundary);
    pmx__buf b = {0};
    int r = pmx__buf_printf(&b, "--%s\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\n"
                                "%s\r\n", u->boundary, u->content);
    if (!r && u->algo)
        r = pmx__buf_printf(&b, "--%s\r\nContent-Disposition: form-data; "
                                "name=\"checksum-algorithm\"\r\n\r\n%s\r\n"
                                "--%s\r\nContent-Disposition: form-data; name=\"checksum\"\r\n\r\n"
                                "%s\r\n", u->boundary, u->algo, u->boundary, u->checksum);
    if (!r)
        r = pmx__buf_printf(&b, "--%s\r\nContent-Disposition: form-data; name=\"filename\"; "
                                "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                            u->boundary, u->filename);
    if (r) {
        pmx__buf_free(&b);
        return PMX_ENOMEM;
    }
    u->head = b.data;
    u->head_len = b.len;
    u->tail_len = (size_t)snprintf(u->tail, sizeof u->tail, "\r\n--%s--\r\n", u->boundary);
    if ((int64_t)(u->head_len + u->tail_len) > UPLOAD_FRAME_MAX)
        return PMX_EINVAL; /* (a file name of a megabyte) */
    return PMX_OK;
}

static int64_t body_read(void *ud, char *buf, size_t len) {
    pmx__upload *u = ud;
    int64_t file_end = (int64_t)u->head_len + u->length;
    size_t n = 0;
    while (n < len) {
        if (u->pos < (int64_t)u->head_len) {
            size_t k = u->head_len - (size_t)u->pos;
            if (k > len - n)
                k = len - n;
            memcpy(buf + n, u->head + u->pos, k);
            n += k;
            u->pos += (int64_t)k;
        } else if (u->pos < file_end) {
            size_t want = len - n;
            if ((int64_t)want > file_end - u->pos)
                want = (size_t)(file_end - u->pos);
            int64_t r = source_read(u, buf + n, want);
            if (r <= 0) /* the file shrank, or cannot be read: never send a wrong length */
                return r == PMX__SRC_OVERLONG ? r : -1;
            n += (size_t)r;
            u->pos += r;
            if (n)
                break; /* hand over what we have: the next read continues the file */
        } else {
            int64_t t = u->pos - file_end;
            if (t >= (int64_t)u->tail_len)
                break;
            size_t k = u->tail_len - (size_t)t;
            if (k > len - n)
                k = len - n;
            memcpy(buf + n, u->tail + t, k);
            n += k;
            u->pos += (int64_t)k;
        }
    }
    return (int64_t)n;
}

static int body_rewind(void *ud) {
    pmx__upload *u = ud;
    if (source_rewind(u) != PMX_OK)
        return PMX_EINVAL;
    u->pos = 0;
    return PMX_OK;
}

int pmx__upload_send(pmx_client *c, pmx__upload *u, pmx_done_fn done, void *task,
                     pmx_call **out) {
    int br = u->head ? PMX_OK : build_body(u);
    if (br != PMX_OK)
        return br;
    char *path = NULL;
    pmx__buf b = {0};
    if (pmx__buf_puts(&b, "/nodes/") || pmx__buf_escape(&b, u->node, strlen(u->node)) ||
        pmx__buf_puts(&b, "/storage/") || pmx__buf_escape(&b, u->storage, strlen(u->storage)) ||
        pmx__buf_puts(&b, "/upload")) {
        pmx__buf_free(&b);
        return PMX_ENOMEM;
    }
    path = b.data;
    u->pos = 0;
    pmx__source src = {body_read, u->read_fn && !u->rewind_fn ? NULL : body_rewind, u,
                       (int64_t)u->head_len + u->length + (int64_t)u->tail_len, u->content_type};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.progress_fn = u->progress_fn;
    o.stall_ms = u->stall_ms;
    o.stall_bytes_per_s = u->stall_bps;
    /* No total timeout: the stall limit ends an upload that stopped moving. */
    pmx__call_spec spec = {.method = PMX_POST, .path = path, .opts = &o, .src = &src,
                           .want_node = c->n_eps > 1 ? u->node : NULL, .no_timeout = 1,
                           .progress_ud = u->ud};
    int r = pmx__call_start_spec(c, &spec, done, task, out);
    pmx__free(path);
    return r;
}
