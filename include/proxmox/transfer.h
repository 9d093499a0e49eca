/* libproxmox: uploading files to a PVE storage (ISO images, container templates, disk images
 * for import). Downloads are any call with a write callback or an output file (pmx_call_opts). */
#ifndef PROXMOX_TRANSFER_H
#define PROXMOX_TRANSFER_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/**
 * Reads the next bytes of an upload into @p buf (at most @p len): returns the number read, 0 at
 * the end, or a negative number on error (the upload fails). @p userdata is the upload's.
 * Runs from the event loop and should not block for long.
 */
typedef int64_t (*pmx_read_fn)(void *buf, size_t len, void *userdata);

/** Starts an upload's bytes over from the first one: 0 on success, non-zero when impossible. */
typedef int (*pmx_rewind_fn)(void *userdata);

/** pmx_upload_opts.flags */
enum {
    /* Complete once the server has taken the file (its imgcopy task's UPID is then in
     * pmx_task_upid()), without waiting for the task. */
    PMX_UPLOAD_NO_WAIT = 1u << 0
};

/**
 * Options of pmx_upload_start(). Initialise with PMX_OPTS_INIT(pmx_upload_opts); zero fields
 * take the defaults. Pointers are read during pmx_upload_start() (strings are copied).
 */
typedef struct pmx_upload_opts {
    uint32_t size;               /* sizeof(pmx_upload_opts), set by PMX_OPTS_INIT */
    uint32_t flags;              /* PMX_UPLOAD_* bits; unknown bits give PMX_EINVAL */
    const char *content;         /* "iso", "vztmpl" or "import"; NULL = "iso" */
    const char *filename;        /* name on the storage; NULL = the base name of path */
    const char *path;            /* the file to send; NULL to send from read_fn */
    pmx_read_fn read_fn;         /* with path NULL: where the bytes come from */
    pmx_rewind_fn rewind_fn;     /* read_fn's rewind, or NULL (then no computed checksum and
                                    no resend after a failed connect) */
    int64_t length;              /* with read_fn: the exact number of bytes it gives */
    /* "md5", "sha1", "sha224", "sha256", "sha384", "sha512", or "none"; NULL = "sha256". The
     * server checks the file against it (the task fails on a mismatch). */
    const char *checksum_algorithm;
    const char *checksum;        /* its hex digest when the caller knows it; NULL = computed
                                    here (a first pass over the bytes, in slices from the loop) */
    /* Progress: while the checksum is computed, called with call NULL and up = bytes hashed;
     * while sending, with the upload's call and up = bytes sent of up_total. */
    pmx_progress_fn progress_fn;
    /* Stall limit while sending (see pmx_client_set_stall_timeout()); 0 = the client's. No total
     * timeout cuts an upload that keeps moving. */
    int64_t stall_ms;
    int64_t stall_bytes_per_s;
    const pmx_task_opts *task;   /* how to wait for the imgcopy task; NULL = defaults */
    pmx_free_fn userdata_free;   /* runs when the returned task object is freed */
} pmx_upload_opts;

/**
 * Upload a file to `POST /nodes/{node}/storage/{storage}/upload`, the way pveproxy takes it:
 * multipart/form-data with an exact Content-Length (never chunked), the parts content,
 * checksum-algorithm and checksum first, then the file, streamed from disk or @p read_fn in
 * constant memory whatever its size. Then waits for the server's imgcopy task, which verifies
 * the checksum. The request goes to node @p node itself, as PVE requires: with several
 * endpoints (pmx_client_new()), to the one that is that node (learned from
 * GET /cluster/status the first time), never failed over to another. It is not resent once
 * the server may have received it; a failed connect is retried (when the bytes can be read
 * again) under the client's retry policy.
 *
 * Completion, through a task object (see <proxmox/task.h>): PMX_OK when the task ended OK;
 * PMX_ETASK when it failed (pmx_task_exitstatus(), the log tail); the upload request's own error
 * otherwise (PMX_EHTTP with pmx_task_http_status(), PMX_ETRANSPORT, PMX_ETIMEOUT for a stall, a
 * file that cannot be read...), with pmx_task_error(). pmx_task_upid() is NULL until the server
 * took the file. pmx_task_cancel() stops the upload or the wait.
 * @param node, storage  path segments (escaped here); copied.
 * @param opts  required (content, the source).
 * @return PMX_OK (accepted: @p done runs once, from the loop), PMX_EINVAL (bad node, storage,
 *         content, filename with '"', '/', or control characters, no or two sources, unknown
 *         algorithm, a checksum that is not hex of the algorithm's length, read_fn without
 *         length, a computed checksum without rewind_fn), PMX_ENOMEM, PMX_EDESTROYED,
 *         PMX_ERECURSIVE (log callback), PMX_EFORKED; a file that cannot be opened gives
 *         PMX_EINVAL too (the reason goes to the log). On error @p done never runs.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_upload_start(pmx_client *c, const char *node, const char *storage,
                             const pmx_upload_opts *opts, pmx_task_fn done, void *userdata,
                             pmx_task **out);

PMX_END_DECLS
#endif
