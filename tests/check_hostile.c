/* Regression tests from the hostile review of the transfers round: callbacks that run inside
 * libcurl (write, progress, item) cancelling or starting calls; the 401 resend of an upload;
 * the GET cache against answers read before a write, under other credentials or from another
 * endpoint; retries of writes that may have reached the server; retry policies, timeouts and
 * stall limits at the ends of their ranges. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const DL_PATH = "/nodes/pve1/storage/local/file-restore/download";

static pmx_params *dl_params(void) {
    pmx_params *p = pmx_params_new();
    ck_assert_ptr_nonnull(p);
    pmx_params_set_str(p, "volume", "local:backup/vzdump-qemu-100.vma.zst");
    pmx_params_set_str(p, "filepath", "/etc/hostname");
    return p;
}

typedef struct tally {
    int calls, ok, last, bad; /* bad: the last result other than PMX_OK */
    char why[256];
} tally;

static void tally_cb(pmx_call *call, int result, void *ud) {
    tally *t = ud;
    t->calls++;
    t->ok += result == PMX_OK;
    t->last = result;
    if (result != PMX_OK) {
        t->bad = result;
        snprintf(t->why, sizeof t->why, "%s", pmx_call_error(call));
    }
}

/* The client still works: n plain calls, each once, all fine. */
static void client_still_works(pmx_client *c, int n) {
    tally t = {0};
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, tally_cb, &t, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(t.calls, n);
    ck_assert_msg(t.ok == n, "%d of %d calls failed after the callback (%s: %s)", n - t.ok, n,
                  pmx_strerror(t.bad), t.why);
}

/* ---- write callbacks that cancel or start calls (they run inside libcurl) ---- */

typedef struct wprobe {
    pmx_call *victim;   /* cancelled on the first chunk (NULL: the call itself) */
    int start_on_first; /* start a GET /version on the first chunk */
    int chunks;
    int chunks_after_cancel;
    int cancelled;
    int start_rc;
    tally started;
} wprobe;

static int probing_write(pmx_call *call, const void *data, size_t len, void *ud) {
    (void)data, (void)len;
    wprobe *w = ud;
    if (w->cancelled && !w->victim)
        w->chunks_after_cancel++;
    if (w->chunks++ == 0) {
        if (w->start_on_first)
            w->start_rc = pmx_call_start(pmx_call_client(call), PMX_GET, "/version", NULL, tally_cb,
                                         &w->started, NULL);
        else {
            ck_assert_int_eq(pmx_call_cancel(w->victim ? w->victim : call), PMX_OK);
            w->cancelled = 1;
        }
    }
    return 0;
}

START_TEST(write_cb_cancels_own_call) {
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"download_size\":4000000}");
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = dl_params();
    for (int round = 0; round < 3; round++) {
        wprobe w = {0};
        pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
        o.write_fn = probing_write;
        pmx_call *call = NULL;
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, DL_PATH, p, &o, NULL, &w, &call), PMX_OK);
        ck_assert_int_eq(pmx_call_wait(call), PMX_ECANCELLED);
        ck_assert_int_eq(w.chunks_after_cancel, 0);
        pmx_call_unref(call);
        client_still_works(c, 12);
    }
    pmx_params_free(p);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static int count_write(pmx_call *call, const void *data, size_t len, void *ud) {
    (void)call, (void)data;
    *(size_t *)ud += len;
    return 0;
}

START_TEST(write_cb_cancels_other_call) {
    mock_reset(&g_mock);
    /* the victim's answer trickles: it is in the middle of its transfer when cancelled */
    mock_faults(&g_mock, "{\"download_size\":4000000,\"slow\":1,\"slow_bps\":50,"
                         "\"slow_body_only\":true,\"match_path\":\"/cluster/resources\"}");
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = dl_params();
    size_t got = 0;
    pmx_call_opts vo = PMX_OPTS_INIT(pmx_call_opts);
    vo.write_fn = count_write;
    pmx_call *victim = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/cluster/resources", NULL, &vo, NULL, &got,
                                       &victim), PMX_OK);
    for (int i = 0; i < 100 && got == 0; i++) {
        int rr = pmx_client_run(c, 50);
        ck_assert_msg(rr == PMX_ETIMEOUT, "victim: %d %s", pmx_call_result(victim),
                      pmx_call_error(victim) ? pmx_call_error(victim) : "");
    }
    ck_assert_uint_gt(got, 0);
    wprobe w = {0};
    w.victim = victim;
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.write_fn = probing_write;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, DL_PATH, p, &o, NULL, &w, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(victim), PMX_ECANCELLED);
    size_t at_cancel = got;
    pmx_call_unref(call);
    pmx_call_unref(victim);
    client_still_works(c, 12);
    ck_assert_uint_eq(got, at_cancel); /* nothing more reached the cancelled call's sink */
    pmx_params_free(p);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(write_cb_starts_call) {
    /* "may start or cancel calls": a call started from the write callback goes out and
     * succeeds. */
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"download_size\":1000000}");
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = dl_params();
    wprobe w = {0};
    w.start_on_first = 1;
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.write_fn = probing_write;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, DL_PATH, p, &o, NULL, &w, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(w.start_rc, PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(w.started.calls, 1);
    ck_assert_int_eq(w.started.last, PMX_OK);
    pmx_call_unref(call);
    client_still_works(c, 4);
    pmx_params_free(p);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- an upload cancelled from its progress callback (it runs inside libcurl) ---- */

typedef struct uprobe {
    pmx_task *task;
    int cancels;
    int calls_after;
} uprobe;

static void cancelling_progress(pmx_call *call, int64_t down, int64_t down_total, int64_t up,
                                int64_t up_total, void *ud) {
    (void)down, (void)down_total, (void)up_total;
    uprobe *u = ud;
    if (u->cancels)
        u->calls_after++;
    if (call && up > 0 && u->task && !u->cancels) {
        ck_assert_int_eq(pmx_task_cancel(u->task), PMX_OK);
        u->cancels++;
    }
}

START_TEST(upload_cancelled_from_progress) {
    mock_reset(&g_mock);
    /* the answer to the upload is late: the body is sent well before it */
    mock_faults(&g_mock, "{\"latency_ms\":300}");
    pmx_client *c = test_client(&g_mock, "token");
    char *path = test_make_file("cancel.iso", 8 << 20, 0);
    for (int round = 0; round < 2; round++) {
        uprobe u = {0};
        pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
        o.path = path;
        o.checksum_algorithm = "none";
        o.progress_fn = cancelling_progress;
        ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, &u, &u.task), PMX_OK);
        ck_assert_int_eq(pmx_task_wait_sync(u.task), PMX_ECANCELLED);
        ck_assert_int_eq(u.cancels, 1);
        ck_assert_int_eq(u.calls_after, 0);
        pmx_task_unref(u.task);
        client_still_works(c, 12);
    }
    free(path);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- the 401 resend of an upload starts its body over ---- */

#define UPLOAD_PATH "/api2/json/nodes/pve1/storage/local/upload"

START_TEST(upload_resent_after_401_from_the_start) {
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "password");
    ck_assert_int_eq(test_volume_listed(c, "pve1", "nothing-here"), 0); /* logged in: a ticket */
    char *path = test_make_file("relogin.iso", 6 << 20, 0);
    /* The server refuses the ticket of the upload (after reading part of its body): the
     * client logs in again and sends the upload once more, from its first byte. */
    mock_faults(&g_mock, "{\"ticket_refuse\":1}");
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.path = path;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, &t), PMX_OK);
    int r = pmx_task_wait_sync(t);
    ck_assert_msg(r == PMX_OK, "upload: %s (HTTP %d)", pmx_task_error(t), pmx_task_http_status(t));
    pmx_task_unref(t);
    ck_assert(test_volume_listed(c, "pve1", "relogin.iso"));
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", UPLOAD_PATH), 2);
    /* A source that cannot start over is not resent: the refusal is the upload's result. */
    static char data[3 << 20];
    test_mem_src m = {data, sizeof data, 0};
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"ticket_refuse\":1}");
    pmx_upload_opts mo = PMX_OPTS_INIT(pmx_upload_opts);
    mo.read_fn = test_mem_read;
    mo.length = sizeof data;
    mo.filename = "once.iso";
    mo.checksum_algorithm = "none";
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &mo, NULL, &m, &t), PMX_OK);
    ck_assert_int_eq(pmx_task_wait_sync(t), PMX_EAUTH);
    ck_assert_int_eq(pmx_task_http_status(t), 401);
    pmx_task_unref(t);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", UPLOAD_PATH), 1);
    client_still_works(c, 2);
    free(path);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- the GET cache keeps no answer read before a write or under other credentials ---- */

static int get_cached(pmx_client *c, const char *path) {
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    int cached = pmx_call_cached(call);
    pmx_call_unref(call);
    return cached;
}

START_TEST(cache_drops_answer_of_old_credentials) {
    /* A GET made with the read-only token is in flight when the program switches to another
     * identity: its answer must not serve the new identity's reads. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.readonly_token), PMX_OK);
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", 60000), PMX_OK);
    mock_faults(&g_mock, "{\"latency_ms\":400}");
    pmx_call *old = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, NULL, NULL, &old),
                     PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 100), PMX_ETIMEOUT); /* at the server */
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(old), PMX_OK);
    pmx_call_unref(old);
    mock_reset(&g_mock);
    ck_assert_int_eq(get_cached(c, "/cluster/resources"), 0);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/cluster/resources"), 1);
    ck_assert_int_eq(get_cached(c, "/cluster/resources"), 1); /* (the cache works) */
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* Whether GET /nodes/pve1/qemu lists vmid; *cached: it came from the cache. */
static int vm_listed(pmx_client *c, const char *vmid, int *cached) {
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes/pve1/qemu", NULL, NULL, NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t len;
    const char *d = pmx_call_data(call, &len);
    char needle[32];
    snprintf(needle, sizeof needle, "\"vmid\":%s", vmid);
    int found = d && memmem(d, len, needle, strlen(needle)) != NULL;
    *cached = pmx_call_cached(call);
    pmx_call_unref(call);
    return found;
}

static pmx_call *create_vm(pmx_client *c, const char *vmid) {
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "vmid", vmid);
    pmx_params_set_str(p, "name", "hostile");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu", p, NULL, NULL, &call),
                     PMX_OK);
    pmx_params_free(p);
    return call;
}

START_TEST(cache_drops_answer_read_before_a_write) {
    /* A GET reads the node's VMs; a POST creates one and completes while the GET's answer is
     * still arriving: that answer is older than the write and must not be served after it. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_cache(c, "/nodes", 60000), PMX_OK);
    mock_faults(&g_mock, "{\"slow\":1,\"slow_bps\":300,\"slow_body_only\":true,"
                         "\"match_method\":\"GET\",\"match_path\":\"/nodes/pve1/qemu\"}");
    pmx_call *get = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes/pve1/qemu", NULL, NULL, NULL, &get),
                     PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 150), PMX_ETIMEOUT); /* read at the server, trickling */
    pmx_call *post = create_vm(c, "4242");
    ck_assert_int_eq(pmx_call_wait(post), PMX_OK);
    ck_assert_int_eq(pmx_call_result(get), PMX_EPENDING); /* the read is still arriving */
    ck_assert_int_eq(pmx_call_wait(get), PMX_OK);
    pmx_call_unref(post);
    pmx_call_unref(get);
    int cached;
    ck_assert_msg(vm_listed(c, "4242", &cached), "the new VM is missing%s",
                  cached ? " (answer from the cache)" : "");
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(cache_dropped_by_failed_write) {
    /* A POST waits to retry (503, Retry-After); a GET read meanwhile is kept; then the POST
     * reaches the server, is carried out, and its answer is cut: it may have changed what the
     * GET read, so that answer must go. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_cache(c, "/nodes", 60000), PMX_OK);
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":503,\"retry_after\":1,"
                         "\"match_method\":\"POST\"}");
    pmx_call *post = create_vm(c, "4343");
    for (int i = 0; i < 100 && mock_count_requests(&g_mock, "POST", NULL) < 1; i++)
        pmx_client_run(c, 20);
    mock_faults(&g_mock, "{\"close_mid_response\":1,\"match_method\":\"POST\"}");
    int cached;
    ck_assert_int_eq(vm_listed(c, "4343", &cached), 0);
    ck_assert_int_eq(vm_listed(c, "4343", &cached), 0);
    ck_assert_int_eq(cached, 1); /* kept meanwhile */
    ck_assert_int_eq(pmx_call_wait(post), PMX_ETRANSPORT);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", NULL), 2);
    pmx_call_unref(post);
    ck_assert_msg(vm_listed(c, "4343", &cached), "the new VM is missing%s",
                  cached ? " (answer from the cache)" : "");
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- retry policies and timeouts at the ends of their ranges ---- */

START_TEST(retry_policy_without_limits) {
    /* "As long as it takes": the largest deadline, cap and call timeout the API takes. The
     * sums with the clock must not overflow (UBSan) or turn retries off (they did: the
     * deadline wrapped to the past). */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_timeouts(c, INT64_MAX, INT64_MAX), PMX_OK);
    pmx_retry_opts ro = PMX_OPTS_INIT(pmx_retry_opts);
    ro.max_attempts = 3;
    ro.base_ms = 1;
    ro.max_delay_ms = INT64_MAX;
    ro.deadline_ms = INT64_MAX;
    ck_assert_int_eq(pmx_client_set_retry(c, &ro), PMX_OK);
    ck_assert_int_eq(pmx_client_set_stall_timeout(c, INT64_MAX, 1), PMX_OK);
    mock_faults(&g_mock, "{\"fail_5xx\":2,\"fail_status\":503,\"match_path\":\"/version\"}");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    int r0 = pmx_call_wait(call);
    ck_assert_msg(r0 == PMX_OK, "%s", pmx_call_error(call));
    ck_assert_uint_eq(pmx_call_attempts(call), 3);
    pmx_call_unref(call);
    /* a huge first interval: the doubling must saturate, not wrap */
    ro.base_ms = INT64_MAX / 2 + 1;
    ro.max_attempts = 2;
    ro.deadline_ms = 500; /* so the wait (far too long) is refused: the 503 is the answer */
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.retry = &ro;
    o.timeout_ms = INT64_MAX;
    o.stall_ms = INT64_MAX;
    o.stall_bytes_per_s = 1;
    mock_faults(&g_mock, "{\"fail_5xx\":3,\"fail_status\":503,\"match_path\":\"/version\"}");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, NULL, &call),
                         PMX_OK);
        int r = pmx_call_wait(call);
        ck_assert_int_eq(r, PMX_EHTTP);
        ck_assert_int_eq(pmx_call_http_status(call), 503);
        pmx_call_unref(call);
    }
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- a write that stalls after it was sent is not sent again ---- */

START_TEST(stalled_post_sent_once) {
    /* The server got the POST and is slow to answer: the stall limit ends the call. It reached
     * the server, so it must not be sent again, on a reused connection as on a fresh one. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    for (int reused = 0; reused < 2; reused++) {
        if (reused)
            ck_assert_int_eq(get_cached(c, "/version"), 0); /* a connection to reuse */
        mock_faults(&g_mock, "{\"latency_ms\":2500}");
        pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
        o.stall_ms = 1000;
        o.stall_bytes_per_s = 1;
        pmx_call *call = NULL;
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL,
                                           &o, NULL, NULL, &call), PMX_OK);
        int r = pmx_call_wait(call);
        ck_assert_msg(r != PMX_OK, "reused %d: the stall limit did not end the call", reused);
        long sent = mock_count_requests(&g_mock, "POST", NULL);
        ck_assert_msg(sent == 1 && pmx_call_attempts(call) == 1,
                      "reused %d: the POST reached the server %ld times (%u attempts): %s", reused,
                      sent, pmx_call_attempts(call), pmx_call_error(call));
        pmx_call_unref(call);
        usleep(2000 * 1000); /* the mock's answers to what we left */
        mock_reset(&g_mock);
    }
    pmx_client_free(c);
}
END_TEST

/* ---- answers that come after the request went through: writes are not sent again ---- */

START_TEST(gateway_timeouts_not_resent_for_writes) {
    /* 596 is pveproxy's "no answer from the node it proxied to within 30 s" (the request was
     * sent there, pve-wire-protocol.md section 7); 504 and 502 are a front proxy's timeout and
     * bad answer from upstream: a write may have been carried out. A GET is retried. */
    static const int statuses[] = {596, 504, 502};
    pmx_client *c = test_client(&g_mock, "token");
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char f[160];
        snprintf(f, sizeof f, "{\"fail_5xx\":1,\"fail_status\":%d}", statuses[i]);
        mock_reset(&g_mock);
        mock_faults(&g_mock, f);
        pmx_call *call = NULL;
        ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL,
                                        NULL, NULL, &call), PMX_OK);
        ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
        ck_assert_int_eq(pmx_call_http_status(call), statuses[i]);
        ck_assert_msg(mock_count_requests(&g_mock, "POST", NULL) == 1,
                      "HTTP %d: the POST was sent %ld times", statuses[i],
                      mock_count_requests(&g_mock, "POST", NULL));
        pmx_call_unref(call);
        mock_reset(&g_mock);
        mock_faults(&g_mock, f);
        ck_assert_int_eq(get_cached(c, "/version"), 0); /* OK at the second attempt */
        ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/version"), 2);
    }
    /* "not now" answers stay safe for any call: 503 and 595 (the node could not be reached) */
    mock_reset(&g_mock);
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":595}");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", NULL), 2);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- a read callback that claims more bytes than it was asked for ---- */

static int64_t greedy_read(void *buf, size_t len, void *ud) {
    test_mem_src *m = ud;
    size_t k = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k ? (int64_t)k + 16 : 0; /* a buggy count: 16 more than it wrote (and was asked) */
}

START_TEST(upload_read_fn_overlong_count) {
    /* The library must not read past its buffers (the checksum pass did: ASan) nor send what
     * the callback did not give; the upload fails, saying why. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    static char data[1 << 20];
    for (int computed = 0; computed < 2; computed++) {
        test_mem_src m = {data, sizeof data, 0};
        pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
        o.read_fn = greedy_read;
        o.rewind_fn = test_mem_rewind;
        o.length = sizeof data;
        o.filename = "greedy.iso";
        o.checksum_algorithm = computed ? "sha256" : "none";
        pmx_task *t = NULL;
        ck_assert_int_eq(pmx_upload_start(c, "pve1", "local", &o, NULL, &m, &t), PMX_OK);
        int r = pmx_task_wait_sync(t);
        ck_assert_int_ne(r, PMX_OK);
        ck_assert_msg(pmx_task_error(t) && strstr(pmx_task_error(t), "more bytes than"),
                      "%s", pmx_task_error(t));
        pmx_task_unref(t);
    }
    client_still_works(c, 2);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- several endpoints: what one endpoint says about itself is not cached for others ---- */

START_TEST(upload_to_its_node_with_cluster_cache) {
    /* An upload learns which endpoint is which node from GET /cluster/status sent to each one
     * ("local":1 differs per endpoint). With a cache rule over /cluster, the second and third
     * endpoints were answered from the first one's cached answer: all three were taken for
     * pve1 and the upload for pve3 went elsewhere ("unable to proxy file uploads"). */
    mock_reset(&g_cluster);
    pmx_client *c = test_cluster_client(&g_cluster, "token");
    ck_assert_int_eq(pmx_client_cache(c, "/cluster", 60000), PMX_OK);
    char *path = test_make_file("node3-cached.iso", 100000, 0);
    pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
    o.path = path;
    pmx_task *t = NULL;
    ck_assert_int_eq(pmx_upload_start(c, g_cluster.nodes[2], "local", &o, NULL, NULL, &t), PMX_OK);
    int r = pmx_task_wait_sync(t);
    ck_assert_msg(r == PMX_OK, "upload: %s (HTTP %d)", pmx_task_error(t), pmx_task_http_status(t));
    pmx_task_unref(t);
    free(path);
    pmx_client_free(c);
    mock_reset(&g_cluster);
}
END_TEST

/* ---- a value with '/' is not one path segment on PVE ---- */

START_TEST(slash_in_path_value_refused) {
    /* PVE decodes the path once and then splits it on '/': an escaped slash in a value splits
     * it too. DELETE /access/users/{userid} with "victim@pve/token/x" would reach DELETE
     * /access/users/victim@pve/token/x, i.e. delete user victim's token x. */
    mock_reset(&g_mock);
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    ck_assert_int_eq(pve_access_users_userid_delete(c, "victim@pve/token/x", NULL, NULL, NULL,
                                                    &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EINVAL); /* with a message naming the parameter */
    ck_assert_msg(strstr(pmx_call_error(call), "userid"), "%s", pmx_call_error(call));
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_call_start(c, PMX_DELETE, "/access/users/victim%40pve%2Ftoken%2Fx", NULL,
                                    NULL, NULL, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_call_start(c, PMX_DELETE, "/access/users/victim%40pve%2ftoken%2fx", NULL,
                                    NULL, NULL, NULL), PMX_EINVAL);
    /* an upload's node and storage: refused at once, not after the checksum pass */
    char *file = test_make_file("slash.iso", 1000, 0);
    pmx_upload_opts uo = PMX_OPTS_INIT(pmx_upload_opts);
    uo.path = file;
    ck_assert_int_eq(pmx_upload_start(c, "pve1/x", "local", &uo, NULL, NULL, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_upload_start(c, "pve1", "local/x", &uo, NULL, NULL, NULL), PMX_EINVAL);
    free(file);
    ck_assert_int_eq(pmx_client_run(c, 5000), PMX_OK);
    ck_assert_int_eq(mock_count_requests(&g_mock, "DELETE", NULL), 0);
    /* A volume id takes the rest of the path on PVE: its slashes are fine. */
    ck_assert_int_eq(pve_nodes_storage_content_volume_get(c, "pve1", "local", "local:iso/x.iso",
                                                          NULL, NULL, NULL, &call), PMX_OK);
    pmx_call_wait(call);
    ck_assert_int_ne(pmx_call_result(call), PMX_EINVAL);
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET,
                                    "/nodes/pve1/storage/local/content/local%3Aiso%2Fx.iso", NULL,
                                    NULL, NULL, &call), PMX_OK);
    pmx_call_wait(call);
    ck_assert_int_ne(pmx_call_result(call), PMX_EINVAL);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/nodes/pve1/storage"), 2);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static Suite *hostile_suite(void) {
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("callbacks");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, write_cb_cancels_own_call);
    tcase_add_test(tc, write_cb_cancels_other_call);
    tcase_add_test(tc, write_cb_starts_call);
    suite_add_tcase(s, tc);
    tc = tcase_create("upload_cb");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_add_checked_fixture(tc, NULL, test_files_cleanup);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, upload_cancelled_from_progress);
    tcase_add_test(tc, upload_resent_after_401_from_the_start);
    tcase_add_test(tc, upload_read_fn_overlong_count);
    suite_add_tcase(s, tc);
    tc = tcase_create("cluster");
    tcase_add_unchecked_fixture(tc, mock_cluster_fixture_start, mock_cluster_fixture_stop);
    tcase_add_checked_fixture(tc, NULL, test_files_cleanup);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, upload_to_its_node_with_cluster_cache);
    suite_add_tcase(s, tc);
    tc = tcase_create("policy");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_add_checked_fixture(tc, NULL, test_files_cleanup);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cache_drops_answer_of_old_credentials);
    tcase_add_test(tc, cache_drops_answer_read_before_a_write);
    tcase_add_test(tc, cache_dropped_by_failed_write);
    tcase_add_test(tc, retry_policy_without_limits);
    tcase_add_test(tc, stalled_post_sent_once);
    tcase_add_test(tc, gateway_timeouts_not_resent_for_writes);
    tcase_add_test(tc, slash_in_path_value_refused);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(hostile_suite)
