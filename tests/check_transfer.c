/* Transfers and resilience: retries that are safe by construction (counted at the mock),
 * failover between the endpoints of a cluster, streamed uploads and downloads. */
#include "testutil.h"

#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif

static pmx_call *call_sync(pmx_client *c, pmx_method m, const char *path, const pmx_params *p,
                           const pmx_call_opts *o, int *result) {
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, m, path, p, o, NULL, NULL, &call), PMX_OK);
    *result = pmx_call_wait(call);
    return call;
}

/* ---- retries ---- */

START_TEST(get_retried_through_503s) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"fail_5xx\":3,\"fail_status\":503,\"match_path\":\"/version\"}");
    int r;
    pmx_call *call = call_sync(c, PMX_GET, "/version", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_uint_eq(pmx_call_attempts(call), 4);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/version"), 4);
    pmx_call_unref(call);
    /* One more failure than the policy allows: the last answer is the call's. */
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"fail_5xx\":4,\"fail_status\":503,\"match_path\":\"/version\"}");
    call = call_sync(c, PMX_GET, "/version", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 503);
    ck_assert_uint_eq(pmx_call_attempts(call), 4);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/version"), 4);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static char g_log[4096];
static void keep_log(pmx_client *c, pmx_log_level l, const char *msg, void *ud) {
    (void)c, (void)l, (void)ud;
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, "%s\n", msg);
}

START_TEST(retry_after_honoured_and_logged) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    g_log[0] = 0;
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_INFO, keep_log, NULL, NULL), PMX_OK);
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":503,\"retry_after\":1,"
                         "\"match_path\":\"/version\"}");
    int r;
    pmx_call *call = call_sync(c, PMX_GET, "/version", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_uint_eq(pmx_call_attempts(call), 2);
    ck_assert_msg(strstr(g_log, "retrying (attempt 2) in 1000 ms"), "log: %s", g_log);
    ck_assert_ptr_null(strstr(g_log, g_mock.token + strlen(g_mock.token) - 12)); /* no secret */
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(post_dropped_after_write_sent_once) {
    /* The request reached the server, the answer never came: a POST is not sent again, on a
     * fresh connection or on a reused one (where libcurl itself would resend it). */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    const char *path = "/nodes/pve1/qemu/101/status/stop";
    char prefix[128];
    snprintf(prefix, sizeof prefix, "/api2/json%s", path);
    for (int reused = 0; reused < 2; reused++) {
        mock_reset(&g_mock);
        if (reused) { /* warm a kept-alive connection first */
            int r0;
            pmx_call_unref(call_sync(c, PMX_GET, "/version", NULL, NULL, &r0));
            ck_assert_int_eq(r0, PMX_OK);
        } else {
            ck_assert_int_eq(mock_listener(&g_mock, 0, "drop", 0), 200);
        }
        mock_faults(&g_mock, "{\"close_after_request\":1,\"match_method\":\"POST\"}");
        int r;
        pmx_call *call = call_sync(c, PMX_POST, path, NULL, NULL, &r);
        ck_assert_int_eq(r, PMX_ETRANSPORT);
        ck_assert_int_eq(mock_count_requests(&g_mock, "POST", prefix), 1);
        ck_assert_uint_eq(pmx_call_attempts(call), 1);
        if (reused)
            ck_assert_msg(strstr(pmx_call_error(call), "not idempotent"), "%s",
                          pmx_call_error(call));
        pmx_call_unref(call);
    }
    /* The same call marked idempotent is sent again and succeeds. */
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"close_after_request\":1,\"match_method\":\"POST\"}");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.flags = PMX_CALL_IDEMPOTENT;
    int r;
    pmx_call *call = call_sync(c, PMX_POST, path, NULL, &o, &r);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", prefix), 2);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(post_refused_at_connect_sent_once_up) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_retry_opts ro = PMX_OPTS_INIT(pmx_retry_opts);
    ro.max_attempts = 20;
    ro.max_delay_ms = 200;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_OK);
    ck_assert_int_eq(mock_listener(&g_mock, 0, "down", 600), 200); /* back by itself */
    int r;
    pmx_call *call = call_sync(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_uint_gt(pmx_call_attempts(call), 1);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", "/api2/json/nodes/pve1/qemu/101"), 1);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(post_lost_then_reconnect_refused_sent_once) {
    /* The POST goes out on a kept-alive connection, which the server closes unanswered; curl
     * reconnects by itself to resend it and is refused. The code says "could not connect", but
     * the server had the request: it is not sent again, here or to another node. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    int r;
    pmx_retry_opts ro = PMX_OPTS_INIT(pmx_retry_opts);
    ro.max_attempts = 20;
    ro.max_delay_ms = 200;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_OK);
    pmx_call_unref(call_sync(c, PMX_GET, "/version", NULL, NULL, &r)); /* a connection to reuse */
    ck_assert_int_eq(r, PMX_OK);
    mock_faults(&g_mock, "{\"close_after_request\":1,\"match_method\":\"POST\"}");
    ck_assert_int_eq(mock_listener(&g_mock, 0, "down", 1500), 200); /* back by itself */
    pmx_call *call = call_sync(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_ETRANSPORT);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "may have carried it out"));
    ck_assert_uint_eq(pmx_call_attempts(call), 1);
    pmx_call_unref(call);
    usleep(1700 * 1000);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", "/api2/json/nodes/pve1/qemu/101"), 1);
    /* a GET in the same trouble is sent again */
    pmx_call_unref(call_sync(c, PMX_GET, "/version", NULL, NULL, &r));
    ck_assert_int_eq(r, PMX_OK);
    mock_faults(&g_mock, "{\"close_after_request\":1,\"match_method\":\"GET\"}");
    ck_assert_int_eq(mock_listener(&g_mock, 0, "down", 300), 200);
    call = call_sync(c, PMX_GET, "/nodes", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_uint_gt(pmx_call_attempts(call), 1);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(lock_timeout_retried) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"lock_timeout\":2}");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "description", "locked twice");
    int r;
    pmx_call *call = call_sync(c, PMX_PUT, "/nodes/pve1/qemu/100/config", p, NULL, &r);
    pmx_params_free(p);
    ck_assert_int_eq(r, PMX_OK);
    ck_assert_int_eq(mock_count_requests(&g_mock, "PUT", "/api2/json/nodes/pve1/qemu/100/config"), 3);
    pmx_call_unref(call);
    /* 4xx is never retried */
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":400}");
    call = call_sync(c, PMX_GET, "/version", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_EHTTP);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/version"), 1);
    pmx_call_unref(call);
    /* and a failed login neither */
    pmx_client *d = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(d, g_mock.user, "wrong"), PMX_OK);
    call = call_sync(d, PMX_GET, "/version", NULL, NULL, &r);
    ck_assert_int_eq(r, PMX_EAUTH);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", "/api2/json/access/ticket"), 1);
    pmx_call_unref(call);
    pmx_client_free(d);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(retry_policy_checked) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_retry_opts ro = PMX_OPTS_INIT(pmx_retry_opts);
    ro.reserved = 1;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_EINVAL);
    ro.reserved = 0;
    ro.flags = 4;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_EINVAL);
    ro.flags = 0;
    ro.base_ms = -1;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_retry(c, NULL), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- several endpoints ---- */

static pmx_client *cluster_client(const char *auth) {
    return test_cluster_client(&g_cluster, auth);
}

typedef struct tally {
    int calls, ok;
} tally;

static void tally_cb(pmx_call *call, int result, void *ud) {
    (void)call;
    tally *t = ud;
    t->calls++;
    t->ok += result == PMX_OK;
}

START_TEST(failover_first_node_down) {
    mock_reset(&g_cluster);
    ck_assert_int_eq(mock_listener(&g_cluster, 0, "down", 0), 200);
    pmx_client *c = cluster_client("password");
    tally t = {0};
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(pmx_call_start(c, i % 5 ? PMX_GET : PMX_POST,
                                        i % 5 ? "/nodes" : "/nodes/pve1/qemu/101/status/stop",
                                        NULL, tally_cb, &t, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 60000), PMX_OK);
    ck_assert_int_eq(t.calls, 50);
    ck_assert_int_eq(t.ok, 50);
    ck_assert_str_eq(pmx_client_url(c), g_cluster.urls[1]);
    ck_assert_int_eq(mock_stat(&g_cluster, "logins"), 1); /* the ticket is cluster-wide */
    pmx_client_free(c);
    mock_reset(&g_cluster);
}
END_TEST

static void die_after(pmx_call *call, int result, void *ud) {
    tally *t = ud;
    tally_cb(call, result, ud);
    if (t->calls == 100)
        mock_listener(&g_cluster, 0, "die", 0);
    if (t->calls < 400)
        pmx_call_start(pmx_call_client(call), PMX_GET, "/cluster/resources", NULL, die_after, t,
                       NULL);
}

START_TEST(failover_node_dies_mid_run) {
    mock_reset(&g_cluster);
    pmx_client *c = cluster_client("token");
    tally t = {0};
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, die_after, &t,
                                        NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 60000), PMX_OK);
    ck_assert_int_eq(t.ok, t.calls); /* 0 failed calls */
    ck_assert_int_ge(t.calls, 400);
    ck_assert_str_ne(pmx_client_url(c), g_cluster.urls[0]);
    pmx_client_free(c);
    mock_reset(&g_cluster);
}
END_TEST

/* ---- uploads ---- */

static int upload(pmx_client *c, const char *node, const pmx_upload_opts *o, pmx_task **out) {
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_upload_start(c, node, "local", o, NULL, NULL, &t), PMX_OK);
    int r = pmx_task_wait_sync(t);
    if (out)
        *out = t;
    else
        pmx_task_unref(t);
    return r;
}

START_TEST(upload_small_with_checksums) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "password"); /* (uploads need no CSRF token) */
    char *path = test_make_file("small.iso", 3 * 1024 * 1024 + 17, 0);
    static const char *const algos[] = {"sha256", "md5", "sha512", "none"};
    for (size_t i = 0; i < 4; i++) {
        pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
        o.path = path;
        o.checksum_algorithm = algos[i];
        char name[64];
        snprintf(name, sizeof name, "small-%s.iso", algos[i]);
        o.filename = name;
        pmx_task *t = NULL;
        ck_assert_int_eq(upload(c, "pve1", &o, &t), PMX_OK);
        ck_assert_ptr_nonnull(pmx_task_upid(t));
        ck_assert_ptr_nonnull(strstr(pmx_task_upid(t), ":imgcopy:"));
        pmx_task_unref(t);
        ck_assert(test_volume_listed(c, "pve1", name));
    }
    /* A wrong checksum: the server's task fails. */
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.path = path;
    o.filename = "wrong.iso";
    o.checksum = "0000000000000000000000000000000000000000000000000000000000000000";
    pmx_task *t = NULL;
    ck_assert_int_eq(upload(c, "pve1", &o, &t), PMX_ETASK);
    ck_assert_ptr_nonnull(strstr(pmx_task_exitstatus(t), "checksum"));
    pmx_task_unref(t);
    free(path);
    pmx_client_free(c);
}
END_TEST

START_TEST(upload_arguments_checked) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    o.path = "/nonexistent/x.iso";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    char *path = test_make_file("args.iso", 10, 0);
    o.path = path;
    o.content = "backup";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    o.content = NULL;
    o.filename = "a\"b.iso";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    o.filename = NULL;
    o.checksum_algorithm = "crc32";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    o.checksum_algorithm = "sha256";
    o.checksum = "abc";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    o.checksum = NULL;
    ck_assert_int_eq(pmx_upload_start(c, "..", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    /* a pipe at the path is refused at once, not waited on until a writer comes */
    char fifo[128];
    snprintf(fifo, sizeof fifo, "/tmp/pmx-upload-fifo-%d.iso", (int)getpid());
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    o.path = fifo;
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, NULL), PMX_EINVAL);
    unlink(fifo);
    /* a length whose multipart frame would pass INT64_MAX */
    pmx_upload_opts cb = PMX_OPTS_INIT(pmx_upload_opts);
    cb.read_fn = test_mem_read;
    cb.rewind_fn = test_mem_rewind;
    cb.length = INT64_MAX - 10;
    cb.filename = "huge.iso";
    test_mem_src m = {"", 0, 0};
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &cb, NULL, &m, NULL), PMX_EINVAL);
    free(path);
    pmx_client_free(c);
}
END_TEST

START_TEST(upload_from_callback) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    static char data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    test_mem_src m = {data, sizeof data, 0};
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.read_fn = test_mem_read;
    o.rewind_fn = test_mem_rewind;
    o.length = sizeof data;
    o.filename = "cb.tar.gz";
    o.content = "vztmpl";
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, &m, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    pmx_task_unref(t);
    ck_assert(test_volume_listed(c, "pve1", "cb.tar.gz"));
    pmx_client_free(c);
}
END_TEST

START_TEST(upload_sparse_4gib_constant_memory) {
    /* A sparse 4 GiB file: streamed in constant memory, the checksum verified by the mock. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    char *path = test_make_file("big.raw", (off_t)4 << 30, 1);
    struct rusage before;
    getrusage(RUSAGE_SELF, &before);
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.path = path;
    o.content = "import";
    o.filename = "big.raw";
    pmx_task *t = NULL;
    int r = upload(c, "pve1", &o, &t);
    ck_assert_msg(r == PMX_OK, "upload: %d %s (HTTP %d)", r, pmx_task_error(t),
                  pmx_task_http_status(t));
    pmx_task_unref(t);
    struct rusage after;
    getrusage(RUSAGE_SELF, &after);
#ifdef TEST_UNDER_ASAN
    /* AddressSanitizer keeps freed blocks in its quarantine (256 MiB by default): the bound
     * holds in the plain build (make check) and is measured by make bench. */
    (void)before;
#else
    ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 32 * 1024, "peak RSS grew by %ld KiB",
                  after.ru_maxrss - before.ru_maxrss);
#endif
    ck_assert(test_volume_listed(c, "pve1", "big.raw"));
    unlink(path);
    free(path);
    pmx_client_free(c);
}
END_TEST

START_TEST(upload_goes_to_its_node) {
    /* With three endpoints the upload for pve3 goes to pve3's listener (not the current one);
     * a 500 "unable to proxy file uploads" would say otherwise. */
    mock_reset(&g_cluster);
    pmx_client *c = cluster_client("token");
    char *path = test_make_file("node3.iso", 100000, 0);
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.path = path;
    ck_assert_int_eq(upload(c, g_cluster.nodes[2], &o, NULL), PMX_OK);
    ck_assert_str_eq(pmx_client_url(c), g_cluster.urls[0]); /* the client stays where it was */
    free(path);
    pmx_client_free(c);
    mock_reset(&g_cluster);
}
END_TEST

/* ---- downloads ---- */

typedef struct sink {
    long long bytes;
    int chunks;
} sink;

static int count_sink(pmx_call *call, const void *data, size_t len, void *ud) {
    (void)call, (void)data;
    sink *s = ud;
    s->bytes += (long long)len;
    s->chunks++;
    return 0;
}

START_TEST(download_streamed) {
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"download_size\":20000000}");
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "volume", "local:backup/vzdump-qemu-100.vma.zst");
    pmx_params_set_str(p, "filepath", "/etc/hostname");
    const char *path = "/nodes/pve1/storage/local/file-restore/download";
    /* to a callback: constant memory, no response cap */
    ck_assert_int_eq(pmx_client_set_max_response(c, 4096), PMX_OK);
    sink s = {0};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.write_fn = count_sink;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &o, NULL, &s, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(s.bytes, 20000000);
    ck_assert_ptr_null(pmx_call_body(call, NULL));
    pmx_call_unref(call);
    /* to a file */
    char out[128];
    snprintf(out, sizeof out, "/tmp/pmx-download-%d", (int)getpid());
    pmx_call_opts fo = PMX_OPTS_INIT(pmx_call_opts);
    fo.output_path = out;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    struct stat st;
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_size, 20000000);
    pmx_call_unref(call);
    unlink(out);
    /* A broken download leaves no file behind. (A close would look like the end: without a
     * Content-Length only a reset tells the body was cut.) */
    pmx_retry_opts once = PMX_OPTS_INIT(pmx_retry_opts);
    once.max_attempts = 1;
    fo.retry = &once;
    mock_faults(&g_mock, "{\"reset_mid_body\":1}");
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETRANSPORT);
    ck_assert_int_ne(stat(out, &st), 0);
    pmx_call_unref(call);
    /* What was at the path survives a failed download, and no new file is left beside it: the
     * body goes to "<path>.part-..." and replaces the path only on success. */
    FILE *f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    fputs("keep me", f);
    fclose(f);
    mock_faults(&g_mock, "{\"reset_mid_body\":1}");
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETRANSPORT);
    pmx_call_unref(call);
    char kept[16] = "";
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(kept, sizeof kept, f));
    fclose(f);
    ck_assert_str_eq(kept, "keep me");
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s.part-*", out);
    glob_t g;
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH);
    /* ... also when the call is refused before anything is sent (a bad path argument) */
    static const char *const bad_args[] = {"pve1", "x"};
    ck_assert_int_eq(pmx_method_start(c, pmx_method_by_name("pve_nodes_qemu_config_get"), bad_args,
                                      NULL, &fo, NULL, NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL);
    pmx_call_unref(call);
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_size, 7);
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH);
    /* A link at the path is replaced by the download, not followed: its target is untouched. */
    mock_faults(&g_mock, "{\"reset_mid_body\":0}");
    char target[128];
    snprintf(target, sizeof target, "/tmp/pmx-download-target-%d", (int)getpid());
    f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fputs("target", f);
    fclose(f);
    unlink(out);
    ck_assert_int_eq(symlink(target, out), 0);
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(lstat(out, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 20000000);
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert_int_eq(st.st_size, 6);
    unlink(target);
    unlink(out);
    /* A link to a device (as /dev/stdout is) is written through, in place: neither the link
     * nor the device is replaced. A directory is refused at once. */
    ck_assert_int_eq(symlink("/dev/null", out), 0);
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(lstat(out, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    unlink(out);
    fo.output_path = "/tmp";
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, p, &fo, NULL, NULL, &call), PMX_EINVAL);
    pmx_params_free(p);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* The last progress report of a call: sizes and totals (-1: not known). */
typedef struct prog {
    int64_t down, down_total, up, up_total;
    int reports;
} prog;

static void record_progress(pmx_call *call, int64_t down, int64_t down_total, int64_t up,
                            int64_t up_total, void *ud) {
    (void)call;
    prog *g = ud;
    *g = (prog){down, down_total, up, up_total, g->reports + 1};
}

START_TEST(call_progress_totals) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.progress_fn = record_progress;
    prog g = {0};
    pmx_call *call = NULL;
    /* a POST with no parameters sends an empty form: its size is known, and it is 0 */
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_POST, "/nodes/pve1/qemu/100/status/start", NULL, &o,
                                       NULL, &g, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_ge(g.reports, 1);
    ck_assert_int_eq(g.up, 0);
    ck_assert_int_eq(g.up_total, 0);
    ck_assert_int_gt(g.down, 0);
    pmx_call_unref(call);
    /* a GET: nothing to send (0), an answer of known length */
    g = (prog){0};
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, &g, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t len = 0;
    ck_assert_ptr_nonnull(pmx_call_body(call, &len));
    ck_assert_int_eq(g.up, 0);
    ck_assert_int_eq(g.up_total, 0);
    ck_assert_int_eq(g.down, (int64_t)len);
    ck_assert_int_eq(g.down_total, (int64_t)len);
    pmx_call_unref(call);
    /* a streamed answer has no length (-1) */
    mock_faults(&g_mock, "{\"download_size\":300000}");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "volume", "local:backup/vzdump-qemu-100.vma.zst");
    pmx_params_set_str(p, "filepath", "/etc/hostname");
    g = (prog){0};
    o.output_path = "/dev/null";
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/nodes/pve1/storage/local/file-restore/download",
                                       p, &o, NULL, &g, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(g.down, 300000);
    ck_assert_int_eq(g.down_total, -1);
    pmx_call_unref(call);
    pmx_params_free(p);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(download_task_log) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_task_wait_call(c, call, NULL, NULL, NULL, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_OK);
    char *esc = pmx_escape(pmx_task_upid(t));
    char path[512];
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?download=1", esc);
    pmx_free(esc);
    char out[128];
    snprintf(out, sizeof out, "/tmp/pmx-tasklog-%d", (int)getpid());
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.output_path = out;
    pmx_call *dl = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, path, NULL, &o, NULL, NULL, &dl), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(dl), PMX_OK);
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_ptr_nonnull(strstr(line, "starting task"));
    unlink(out);
    pmx_call_unref(dl);
    pmx_task_unref(t);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* ---- the optional GET cache ---- */

static int get_n(pmx_client *c, const char *path, int *cached) {
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call), PMX_OK);
    int r = pmx_call_wait(call);
    *cached = pmx_call_cached(call);
    if (*cached)
        ck_assert_uint_eq(pmx_call_attempts(call), 0);
    ck_assert_ptr_nonnull(pmx_call_data(call, NULL));
    pmx_call_unref(call);
    return r;
}

START_TEST(get_cache) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    const char *res = "/api2/json/cluster/resources";
    int cached;
    /* off by default */
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", res), 2);
    /* a rule: the second read comes from memory, typed calls too */
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", 60000), PMX_OK);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 1);
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_cluster_resources_get(c, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert(pmx_call_cached(call));
    const pve_cluster_resources_get_result *rr = pve_cluster_resources_get_result_of(call);
    ck_assert_ptr_nonnull(rr);
    ck_assert_uint_gt(rr->n, 0);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", res), 3);
    uint64_t hits = 0, misses = 0;
    ck_assert_int_eq(pmx_client_cache_stats(c, &hits, &misses), PMX_OK);
    ck_assert_uint_eq(hits, 2);
    ck_assert_uint_eq(misses, 1);
    /* paths outside the rule are not kept */
    ck_assert_int_eq(get_n(c, "/version", &cached), PMX_OK);
    ck_assert_int_eq(get_n(c, "/version", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    /* a write under a node drops the cluster-wide answers */
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "description", "changed");
    ck_assert_int_eq(pmx_call_start(c, PMX_PUT, "/nodes/pve1/qemu/100/config", p, NULL, NULL,
                                    &call), PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", res), 4);
    /* answers expire */
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", 100), PMX_OK);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    usleep(250 * 1000);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    /* new credentials, nothing kept */
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", 60000), PMX_OK);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(get_n(c, "/cluster/resources", &cached), PMX_OK);
    ck_assert_int_eq(cached, 0);
    ck_assert_int_eq(pmx_client_cache(c, "cluster", 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", -1), PMX_EINVAL);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- writes to one guest one after the other ---- */

/* Whether the mock saw two PUTs to path overlap in time: one arrived before the answer to the
 * one before it left (request log: at_ms when the head was read, ms until the answer was
 * decided, then the mock's latency_ms). */
static int puts_overlap(const char *path, double latency_ms) {
    cJSON *log = mock_request_log(&g_mock, 0);
    ck_assert_ptr_nonnull(log);
    double prev_end = -1;
    int overlap = 0, n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, log) {
        const cJSON *m = cJSON_GetObjectItem(e, "method"), *p = cJSON_GetObjectItem(e, "path");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, "PUT") || !cJSON_IsString(p) ||
            strcmp(p->valuestring, path))
            continue;
        double at = cJSON_GetObjectItem(e, "at_ms")->valuedouble;
        double ms = cJSON_GetObjectItem(e, "ms")->valuedouble;
        if (prev_end >= 0 && at < prev_end)
            overlap = 1;
        prev_end = at + ms + latency_ms - 10; /* (the loopback trip back is shorter than 10 ms) */
        n++;
    }
    cJSON_Delete(log);
    ck_assert_int_eq(n, 4);
    return overlap;
}

START_TEST(guest_writes_one_after_the_other) {
    for (int serial = 0; serial < 2; serial++) {
        mock_reset(&g_mock);
        mock_faults(&g_mock, "{\"latency_ms\":500}");
        pmx_client *c = test_client(&g_mock, "token");
        ck_assert_int_eq(pmx_client_set_guest_writes(c, serial), PMX_OK);
        pmx_params *p = pmx_params_new();
        pmx_params_set_str(p, "description", "one at a time");
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(pmx_call_start(c, PMX_PUT, i % 2 ? "/nodes/pve1/qemu/100/config"
                                                              : "/nodes/pve1/qemu/101/config",
                                            p, NULL, NULL, NULL), PMX_OK);
        pmx_params_free(p);
        ck_assert_int_eq(pmx_client_run(c, 30000), PMX_OK);
        ck_assert_int_eq(puts_overlap("/api2/json/nodes/pve1/qemu/100/config", 500), !serial);
        ck_assert_int_eq(puts_overlap("/api2/json/nodes/pve1/qemu/101/config", 500), !serial);
        pmx_client_free(c);
    }
    mock_reset(&g_mock);
}
END_TEST

static Suite *transfer_suite(void) {
    Suite *s = suite_create("transfer");
    TCase *tc = tcase_create("retry");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, get_retried_through_503s);
    tcase_add_test(tc, retry_after_honoured_and_logged);
    tcase_add_test(tc, post_dropped_after_write_sent_once);
    tcase_add_test(tc, post_refused_at_connect_sent_once_up);
    tcase_add_test(tc, post_lost_then_reconnect_refused_sent_once);
    tcase_add_test(tc, lock_timeout_retried);
    tcase_add_test(tc, retry_policy_checked);
    tcase_add_test(tc, get_cache);
    tcase_add_test(tc, guest_writes_one_after_the_other);
    suite_add_tcase(s, tc);

    tc = tcase_create("cluster");
    tcase_add_unchecked_fixture(tc, mock_cluster_fixture_start, mock_cluster_fixture_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, failover_first_node_down);
    tcase_add_test(tc, failover_node_dies_mid_run);
    tcase_add_test(tc, upload_goes_to_its_node);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_add_checked_fixture(tc, NULL, test_files_cleanup);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, upload_small_with_checksums);
    tcase_add_test(tc, upload_arguments_checked);
    tcase_add_test(tc, upload_from_callback);
    tcase_add_test(tc, upload_sparse_4gib_constant_memory);
    tcase_add_test(tc, download_streamed);
    tcase_add_test(tc, download_task_log);
    tcase_add_test(tc, call_progress_totals);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(transfer_suite)
