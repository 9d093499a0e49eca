/* Core client against pve-mock: auth, TLS, transport, loop integration, lifetimes. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

typedef struct counter {
    int calls, ok, failed;
    int last_result;
    int in_start; /* set while inside pmx_call_start: a callback must never see it */
    int saw_in_start;
} counter;

static void count_cb(pmx_call *call, int result, void *ud) {
    counter *k = ud;
    (void)call;
    k->calls++;
    k->last_result = result;
    if (result == PMX_OK)
        k->ok++;
    else
        k->failed++;
    if (k->in_start)
        k->saw_in_start = 1;
}

static int get_sync(pmx_client *c, const char *path, pmx_call **out) {
    pmx_call *call = NULL;
    int r = pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call);
    ck_assert_int_eq(r, PMX_OK);
    r = pmx_call_wait(call);
    if (out)
        *out = call;
    else
        pmx_call_unref(call);
    return r;
}

static int data_contains(const pmx_call *call, const char *needle) {
    size_t len;
    const char *d = pmx_call_data(call, &len);
    if (!d)
        return 0;
    char *copy = strndup(d, len);
    int found = strstr(copy, needle) != NULL;
    free(copy);
    return found;
}

/* ---- token auth and basic calls ---- */

START_TEST(token_get_version) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_OK);
    ck_assert_int_eq(pmx_call_http_status(call), 200);
    ck_assert(data_contains(call, "\"version\""));
    ck_assert_ptr_null(pmx_call_error(call));
    size_t blen;
    const char *body = pmx_call_body(call, &blen);
    ck_assert_ptr_nonnull(body);
    ck_assert_uint_eq(strlen(body), blen);
    ck_assert(strncmp(body, "{", 1) == 0);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(token_write_without_csrf) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/100/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    ck_assert(data_contains(call, "UPID:pve1:"));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(no_auth_is_401) {
    pmx_client *c = test_client(&g_mock, NULL);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/nodes", &call), PMX_EAUTH);
    ck_assert_int_eq(pmx_call_http_status(call), 401);
    ck_assert_ptr_nonnull(pmx_call_error(call));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(bad_token_is_401) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_token(c, "root@pam!mock=00000000-0000-0000-0000-000000000000"),
                     PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/nodes", &call), PMX_EAUTH);
    ck_assert_int_eq(pmx_call_http_status(call), 401);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(callback_once_never_in_start) {
    pmx_client *c = test_client(&g_mock, "token");
    counter k = {0};
    for (int i = 0; i < 20; i++) {
        k.in_start = 1;
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, count_cb, &k, NULL), PMX_OK);
        k.in_start = 0;
    }
    ck_assert_int_eq(k.calls, 0);
    ck_assert_int_eq(pmx_client_pending(c), 20);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(k.calls, 20);
    ck_assert_int_eq(k.ok, 20);
    ck_assert_int_eq(k.saw_in_start, 0);
    ck_assert_int_eq(pmx_client_pending(c), 0);
    pmx_client_free(c);
}
END_TEST

START_TEST(bad_arguments) {
    pmx_client *c = test_client(&g_mock, "token");
    counter k = {0};
    ck_assert_int_eq(pmx_call_start(NULL, PMX_GET, "/version", NULL, count_cb, &k, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, NULL, NULL, count_cb, &k, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "version", NULL, count_cb, &k, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_call_start(c, (pmx_method)9, "/version", NULL, count_cb, &k, NULL), PMX_EINVAL);
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.flags = 0x80;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, count_cb, &k, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_run(c, 100), PMX_OK);
    ck_assert_int_eq(k.calls, 0); /* refused calls never call back */
    pmx_client_free(c);
}
END_TEST

/* ---- HTTP errors from the server ---- */

START_TEST(unknown_path_501) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/no/such/thing", &call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 501);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "not implemented"));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(param_errors_400) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "vmid", "abc");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu", p, NULL, NULL, &call), PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 400);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "Parameter verification failed"));
    const char *name = NULL, *msg = NULL;
    ck_assert_int_eq(pmx_call_param_error(call, 0, &name, &msg), PMX_OK);
    ck_assert_str_eq(name, "vmid");
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(pmx_call_param_error(call, 1, &name, &msg), PMX_ENOTFOUND);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(server_5xx) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"fail_5xx\":1,\"fail_status\":500}");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_EHTTP);
    ck_assert_int_eq(pmx_call_http_status(call), 500);
    ck_assert_str_eq(pmx_call_error(call), "mock fault");
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK); /* the next one is fine */
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(malformed_body) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"malformed\":1}");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_EDECODE);
    ck_assert_int_eq(pmx_call_http_status(call), 200);
    ck_assert_ptr_null(pmx_call_data(call, NULL));
    ck_assert_ptr_nonnull(pmx_call_error(call));
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(oversized_body) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_max_response(c, 4096), PMX_OK);
    mock_faults(&g_mock, "{\"oversize_bytes\":200000}");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "4096"));
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

START_TEST(connection_dropped_mid_response) {
    /* Retries off: the broken answer is the call's failure. */
    pmx_client *c = test_client(&g_mock, "token");
    pmx_retry_opts once = PMX_OPTS_INIT(pmx_retry_opts);
    once.max_attempts = 1;
    ck_assert_int_eq(pmx_client_set_retry(c, &once), PMX_OK);
    mock_faults(&g_mock, "{\"close_mid_response\":1}");
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/cluster/resources", &call), PMX_ETRANSPORT);
    ck_assert_ptr_nonnull(pmx_call_error(call));
    ck_assert_uint_eq(pmx_call_attempts(call), 1);
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    /* With the default policy a GET that lost its answer is sent again. */
    ck_assert_int_eq(pmx_client_set_retry(c, NULL), PMX_OK);
    long before = mock_stat(&g_mock, "requests");
    mock_faults(&g_mock, "{\"close_mid_response\":1}");
    ck_assert_int_eq(get_sync(c, "/cluster/resources", &call), PMX_OK);
    ck_assert_uint_eq(pmx_call_attempts(call), 2);
    ck_assert_int_eq(mock_stat(&g_mock, "requests") - before, 2);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

/* ---- encoding, end to end ---- */

START_TEST(encoding_roundtrip) {
    /* A value with every form-encoding trap survives the trip: the mock stores net0 verbatim. */
    const char *net0 = "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0;tag=5&x+y z=%20 \xc3\xa9";
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = pmx_params_new();
    pmx_params_set_int(p, "vmid", 4242);
    pmx_params_set_str(p, "name", "enc-test");
    pmx_params_set_str(p, "net0", net0);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu", p, NULL, NULL, &call), PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/nodes/pve1/qemu/4242/config", &call), PMX_OK);
    size_t len;
    const char *d = pmx_call_data(call, &len);
    char *copy = strndup(d, len);
    /* JSON-escaped form of the value as the mock returns it */
    ck_assert_msg(strstr(copy, "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0;tag=5&x+y z=%20 \xc3\xa9") != NULL,
                  "net0 came back as %s", copy);
    free(copy);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

/* ---- tickets ---- */

START_TEST(password_login_once_for_many) {
    long before = mock_stat(&g_mock, "logins");
    pmx_client *c = test_client(&g_mock, "password");
    counter k = {0};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, count_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(k.ok, 10);
    ck_assert_int_eq(mock_stat(&g_mock, "logins") - before, 1);
    /* a write carries the CSRF token */
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/100/status/start", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(wrong_password) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.user, "wrong"), PMX_OK);
    counter k = {0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, count_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(k.calls, 3);
    ck_assert_int_eq(k.failed, 3);
    ck_assert_int_eq(k.last_result, PMX_EAUTH);
    pmx_client_free(c);
}
END_TEST

START_TEST(ticket_export_import) {
    pmx_client *a = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(a, "/version", NULL), PMX_OK);
    char *ticket = NULL, *csrf = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, &csrf), PMX_OK);
    ck_assert(strncmp(ticket, "PVE:root@pam:", 13) == 0);
    ck_assert_ptr_nonnull(csrf);
    long logins = mock_stat(&g_mock, "logins");
    pmx_client *b = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_ticket(b, ticket, csrf), PMX_OK);
    ck_assert_int_eq(get_sync(b, "/nodes", NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(b, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_stat(&g_mock, "logins"), logins);
    ck_assert_int_eq(pmx_client_set_ticket(b, "garbage", NULL), PMX_EINVAL);
    pmx_secret_free(ticket);
    pmx_secret_free(csrf);
    pmx_client_free(a);
    pmx_client_free(b);
}
END_TEST

START_TEST(ticket_without_csrf_refused_on_write) {
    pmx_client *a = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(a, "/version", NULL), PMX_OK);
    char *ticket = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, NULL), PMX_OK);
    pmx_client *b = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_ticket(b, ticket, NULL), PMX_OK);
    ck_assert_int_eq(get_sync(b, "/nodes", NULL), PMX_OK); /* reads need no CSRF token */
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(b, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EAUTH);
    ck_assert_int_eq(pmx_call_http_status(call), 401);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "csrf"));
    pmx_call_unref(call);
    pmx_secret_free(ticket);
    pmx_client_free(a);
    pmx_client_free(b);
}
END_TEST

typedef struct secrets {
    char password[128];
    char *ticket, *csrf;
    int leaked;
    int messages;
} secrets;

static void log_cb(pmx_client *c, pmx_log_level level, const char *msg, void *ud) {
    secrets *s = ud;
    (void)c;
    (void)level;
    s->messages++;
    if (strstr(msg, s->password) || (s->ticket && strstr(msg, s->ticket + 20)) ||
        (s->csrf && strstr(msg, s->csrf)))
        s->leaked = 1;
}

START_TEST(logs_carry_no_secrets) {
    secrets s = {0};
    snprintf(s.password, sizeof s.password, "%s", g_mock.password);
    pmx_client *c = test_client(&g_mock, "password");
    ck_assert_int_eq(pmx_client_set_log_cb(c, PMX_LOG_DEBUG, log_cb, &s, NULL), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_get_ticket(c, &s.ticket, &s.csrf), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/nothing/here", NULL), PMX_EHTTP);
    ck_assert_int_gt(s.messages, 2);
    ck_assert_int_eq(s.leaked, 0);
    pmx_secret_free(s.ticket);
    pmx_secret_free(s.csrf);
    pmx_client_free(c);
}
END_TEST

/* ---- TLS ---- */

START_TEST(fingerprint_mismatch) {
    pmx_client *c = test_client(&g_mock, "token");
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s", g_mock.fingerprint);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(pmx_client_set_fingerprint(c, wrong), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETLS);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "fingerprint"));
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), g_mock.fingerprint + 3));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_lowercase_and_bare) {
    char fp[128], bare[128];
    size_t j = 0;
    for (size_t i = 0; g_mock.fingerprint[i]; i++) {
        char ch = g_mock.fingerprint[i];
        fp[i] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
        fp[i + 1] = 0;
        if (ch != ':')
            bare[j++] = ch;
    }
    bare[j] = 0;
    const char *pins[] = {fp, bare};
    for (int i = 0; i < 2; i++) {
        pmx_client *c = NULL;
        ck_assert_int_eq(pmx_client_new(&c, g_mock.url), PMX_OK);
        ck_assert_int_eq(pmx_client_set_fingerprint(c, pins[i]), PMX_OK);
        ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
        ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
        pmx_client_free(c);
    }
}
END_TEST

START_TEST(verification_on_by_default) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, g_mock.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETLS); /* the mock's CA is not trusted */
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(ca_file_verifies) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, g_mock.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ca_file(c, g_mock.ca_file), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ca_file(c, "/nonexistent/ca.pem"), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* Copy file @p from to @p to; 0 on success. */
static int copy_file(const char *from, const char *to, const char *mode) {
    FILE *in = fopen(from, "r"), *out = fopen(to, mode);
    int bad = !in || !out;
    char buf[4096];
    size_t n;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    if (in)
        fclose(in);
    if (out && fclose(out))
        bad = 1;
    return bad ? -1 : 0;
}

/* Write a self-signed CA certificate of a name no mock uses to @p path; 0 on success. (A CA of
 * the mock's own name would hide the directory's: OpenSSL looks names up in the file first.) */
static int write_unrelated_ca(const char *path) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int bad = !key || !x;
    if (!bad) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_set_pubkey(x, key);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Unrelated CA",
                                   -1, -1, 0);
        X509_set_issuer_name(x, n);
        bad = !X509_sign(x, key, EVP_sha256());
    }
    FILE *f = bad ? NULL : fopen(path, "w");
    bad = !f || !PEM_write_X509(f, x);
    if (f && fclose(f))
        bad = 1;
    X509_free(x);
    EVP_PKEY_free(key);
    return bad ? -1 : 0;
}

/* In a child with its own mount namespace whose system CA directory trusts the mock's CA:
 * 0 when a client trusting @p ca_file alone refuses the mock, 77 when the namespace cannot be
 * made here, other values on failure. */
static int system_store_ignored(const char *ca_file) {
    if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 77;
    char dir[] = "/tmp/pmx-capath-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    FILE *f = fopen(g_mock.ca_file, "r");
    X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!ca)
        return 3;
    char hashed[300], bundle[300];
    snprintf(hashed, sizeof hashed, "%s/%08lx.0", dir, X509_subject_name_hash(ca));
    snprintf(bundle, sizeof bundle, "%s/ca-certificates.crt", dir);
    X509_free(ca);
    if (copy_file(g_mock.ca_file, hashed, "w") || copy_file(g_mock.ca_file, bundle, "w"))
        return 4;
    if (mount(dir, "/etc/ssl/certs", NULL, MS_BIND, NULL) != 0)
        return 77;
    int rc = 0;
    pmx_client *c = NULL;
    /* the namespace works: the system store now trusts the mock */
    if (pmx_client_new(&c, g_mock.url) || pmx_client_set_token(c, g_mock.token) ||
        get_sync(c, "/version", NULL) != PMX_OK)
        rc = 5;
    /* the CA file replaces the whole system store: its directory too */
    pmx_call *call = NULL;
    if (!rc && (pmx_client_set_ca_file(c, ca_file) || get_sync(c, "/version", &call) != PMX_ETLS))
        rc = 6;
    pmx_call_unref(call);
    pmx_client_free(c);
    umount("/etc/ssl/certs");
    unlink(hashed), unlink(bundle), rmdir(dir);
    return rc;
}

START_TEST(ca_file_replaces_system_store) {
    char ca[128];
    snprintf(ca, sizeof ca, "/tmp/pmx-test-unrelated-%d.pem", (int)getpid());
    ck_assert_int_eq(write_unrelated_ca(ca), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(system_store_ignored(ca));
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    unlink(ca);
    ck_assert(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        fprintf(stderr, "ca_file_replaces_system_store: no mount namespace here, not checked\n");
    else
        ck_assert_msg(WEXITSTATUS(st) == 0, "child failed at step %d", WEXITSTATUS(st));
}
END_TEST

START_TEST(ca_file_read_for_each_connection) {
    /* Two nodes with their own CAs, both in the file; B's CA is then taken out of it and A goes
     * down: the failover connection to B is checked against the file as it is now. */
    static const char *const args[] = {"--listen", "127.0.0.1:0", NULL};
    mock a, b;
    ck_assert_int_eq(mock_start(&a, args), 0);
    ck_assert_int_eq(mock_start(&b, args), 0);
    char file[128], urls[600];
    snprintf(file, sizeof file, "/tmp/pmx-test-cas-%d.pem", (int)getpid());
    ck_assert_int_eq(copy_file(a.ca_file, file, "w"), 0);
    ck_assert_int_eq(copy_file(b.ca_file, file, "a"), 0);
    snprintf(urls, sizeof urls, "%s,%s", a.url, b.url);
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, urls), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ca_file(c, file), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, a.token), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(copy_file(a.ca_file, file, "w"), 0);
    mock_stop(&a);
    pmx_call *call = NULL;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETLS);
    pmx_call_unref(call);
    pmx_client_free(c);
    mock_stop(&b);
    unlink(file);
}
END_TEST

START_TEST(ca_file_checks_hostname) {
    /* A mock on 127.0.0.2 still presents a certificate for 127.0.0.1 and localhost only. */
    static const char *const args[] = {"--listen", "127.0.0.2:0", NULL};
    mock other;
    ck_assert_int_eq(mock_start(&other, args), 0);
    ck_assert_ptr_nonnull(strstr(other.url, "127.0.0.2"));
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, other.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ca_file(c, other.ca_file), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, other.token), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETLS);
    pmx_call_unref(call);
    /* pinned, the same server is fine: a pin replaces the chain and hostname checks */
    ck_assert_int_eq(pmx_client_set_fingerprint(c, other.fingerprint), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_client_free(c);
    mock_stop(&other);
}
END_TEST

START_TEST(insecure_when_asked) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, g_mock.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_insecure(c, 1), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- timeouts, cancel, reuse ---- */

START_TEST(call_timeout) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"latency_ms\":3000}");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 200;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_ETIMEOUT);
    pmx_call_unref(call);
    mock_reset(&g_mock);
    pmx_client_free(c);
}
END_TEST

START_TEST(connect_timeout) {
    /* A listener that never accepts: TCP connects, TLS never starts. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s, 1), 0);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", ntohs(a.sin_port));
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_timeouts(c, 300, 0), PMX_OK);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.token), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_ETIMEOUT);
    pmx_client_free(c);
    close(s);
}
END_TEST

START_TEST(connection_refused) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s); /* the port is now closed */
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", ntohs(a.sin_port));
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, url), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/version", &call), PMX_ETRANSPORT);
    ck_assert_ptr_nonnull(pmx_call_error(call));
    ck_assert_int_eq(pmx_call_http_status(call), 0);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(cancel_pending) {
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"latency_ms\":2000}");
    counter k = {0};
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, count_cb, &k, &call), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 50), PMX_ETIMEOUT);
    ck_assert_int_eq(pmx_call_result(call), PMX_EPENDING);
    ck_assert_int_eq(pmx_call_cancel(call), PMX_OK);
    ck_assert_int_eq(pmx_call_cancel(call), PMX_OK); /* twice is harmless */
    ck_assert_int_eq(k.calls, 0);                      /* not inside cancel */
    ck_assert_int_eq(pmx_client_run(c, 5000), PMX_OK);
    ck_assert_int_eq(k.calls, 1);
    ck_assert_int_eq(k.last_result, PMX_ECANCELLED);
    ck_assert_int_eq(pmx_call_result(call), PMX_ECANCELLED);
    pmx_call_unref(call);
    mock_reset(&g_mock);
    pmx_client_free(c);
}
END_TEST

START_TEST(connection_reuse) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    long before = mock_stat(&g_mock, "connections");
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(mock_stat(&g_mock, "connections") - before, 0);
    pmx_client_free(c);
}
END_TEST

START_TEST(connection_cap) {
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(pmx_client_set_max_connections(c, 3), PMX_OK);
    mock_faults(&g_mock, "{\"latency_ms\":20}");
    long before = mock_stat(&g_mock, "connections");
    counter k = {0};
    for (int i = 0; i < 60; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, count_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 30000), PMX_OK);
    ck_assert_int_eq(k.ok, 60);
    long used = mock_stat(&g_mock, "connections") - before;
    ck_assert_int_le(used, 3);
    ck_assert_int_ge(used, 1);
    mock_reset(&g_mock);
    pmx_client_free(c);
}
END_TEST

START_TEST(error_response_closes_then_recovers) {
    /* pveproxy closes after every error: the next call needs (and gets) a new connection. */
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(get_sync(c, "/nope", NULL), PMX_EHTTP);
        ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    }
    pmx_client_free(c);
}
END_TEST

/* ---- loop integration ---- */

typedef struct ext_loop {
    struct pollfd fds[64];
    int n;
    int64_t timer_ms; /* -1 none */
    int sock_calls, timer_calls;
} ext_loop;

static void ext_sock(pmx_client *c, int fd, int events, void *ud) {
    ext_loop *l = ud;
    (void)c;
    l->sock_calls++;
    int i;
    for (i = 0; i < l->n && l->fds[i].fd != fd; i++)
        ;
    if (events & PMX_POLL_REMOVE) {
        if (i < l->n)
            l->fds[i] = l->fds[--l->n];
        return;
    }
    if (i == l->n)
        l->n++;
    l->fds[i].fd = fd;
    l->fds[i].events = (short)((events & PMX_POLL_IN ? POLLIN : 0) | (events & PMX_POLL_OUT ? POLLOUT : 0));
}

static void ext_timer(pmx_client *c, int64_t ms, void *ud) {
    ext_loop *l = ud;
    (void)c;
    l->timer_calls++;
    l->timer_ms = ms;
}

START_TEST(external_loop) {
    pmx_client *c = test_client(&g_mock, "password");
    ext_loop l = {.timer_ms = -1};
    ck_assert_int_eq(pmx_client_set_socket_cb(c, ext_sock, &l, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_set_timer_cb(c, ext_timer, &l, NULL), PMX_OK);
    counter k = {0};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, count_cb, &k, NULL), PMX_OK);
    for (int spins = 0; k.calls < 20 && spins < 100000; spins++) {
        int wait = l.timer_ms < 0 ? 1000 : (int)l.timer_ms;
        struct pollfd fds[64];
        int n = l.n;
        memcpy(fds, l.fds, sizeof fds);
        int r = poll(fds, (nfds_t)n, wait);
        if (r == 0 || l.timer_ms == 0) {
            l.timer_ms = -1;
            ck_assert_int_eq(pmx_client_timeout_action(c), PMX_OK);
        }
        for (int i = 0; r > 0 && i < n; i++) {
            if (!fds[i].revents)
                continue;
            int ev = (fds[i].revents & POLLIN ? PMX_POLL_IN : 0) |
                     (fds[i].revents & POLLOUT ? PMX_POLL_OUT : 0) |
                     (fds[i].revents & (POLLERR | POLLHUP) ? PMX_POLL_ERR : 0);
            ck_assert_int_eq(pmx_client_socket_action(c, fds[i].fd, ev), PMX_OK);
        }
    }
    ck_assert_int_eq(k.ok, 20);
    ck_assert_int_gt(l.sock_calls, 0);
    ck_assert_int_gt(l.timer_calls, 0);
    pmx_client_free(c);
    ck_assert_int_eq(l.n, 0); /* every socket was handed back */
}
END_TEST

static void recursive_cb(pmx_call *call, int result, void *ud) {
    int *out = ud;
    pmx_client *c = pmx_call_client(call);
    (void)result;
    out[0] = pmx_client_run(c, 0);
    out[1] = pmx_call_wait(call);
    out[2] = pmx_client_timeout_action(c);
}

START_TEST(recursion_refused) {
    pmx_client *c = test_client(&g_mock, "token");
    int out[3] = {0, 0, 0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, recursive_cb, out, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    ck_assert_int_eq(out[0], PMX_ERECURSIVE);
    ck_assert_int_eq(out[2], PMX_ERECURSIVE);
    pmx_client_free(c);
}
END_TEST

typedef struct chain {
    int started, done, failed;
    int target;
} chain;

static void chain_cb(pmx_call *call, int result, void *ud) {
    chain *ch = ud;
    ch->done++;
    if (result != PMX_OK)
        ch->failed++;
    if (ch->started < ch->target) {
        ch->started++;
        ck_assert_int_eq(pmx_call_start(pmx_call_client(call), PMX_GET, "/version", NULL, chain_cb,
                                        ch, NULL), PMX_OK);
    }
}

START_TEST(start_from_callback) {
    pmx_client *c = test_client(&g_mock, "token");
    chain ch = {.started = 1, .target = 30};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, chain_cb, &ch, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 30000), PMX_OK);
    ck_assert_int_eq(ch.done, 30);
    ck_assert_int_eq(ch.failed, 0);
    pmx_client_free(c);
}
END_TEST

START_TEST(free_with_calls_pending) {
    pmx_client *c = test_client(&g_mock, "password");
    mock_faults(&g_mock, "{\"latency_ms\":1000}");
    counter k = {0};
    pmx_call *kept = NULL;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, count_cb, &k, i ? NULL : &kept),
                         PMX_OK);
    pmx_client_run(c, 30);
    pmx_client_free(c);
    ck_assert_int_eq(k.calls, 10);
    ck_assert_int_eq(k.last_result, PMX_EDESTROYED);
    ck_assert_int_eq(pmx_call_result(kept), PMX_EDESTROYED);
    ck_assert_ptr_null(pmx_call_client(kept));
    pmx_call_unref(kept);
    mock_reset(&g_mock);
}
END_TEST

typedef struct freer {
    int calls;
    int results[8];
} freer;

static void free_in_cb(pmx_call *call, int result, void *ud) {
    freer *f = ud;
    f->results[f->calls++] = result;
    if (f->calls == 1)
        pmx_client_free(pmx_call_client(call)); /* deferred until we return */
}

START_TEST(free_from_callback) {
    pmx_client *c = test_client(&g_mock, "token");
    freer f = {0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, free_in_cb, &f, NULL), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    /* the first call finished; the client is gone now */
    ck_assert_int_eq(f.calls, 1);
    ck_assert_int_eq(f.results[0], PMX_OK);
}
END_TEST

typedef struct pair_free {
    pmx_call *other;
    int calls;
    int first_result, other_result;
} pair_free;

static void pair_free_cb(pmx_call *call, int result, void *ud) {
    pair_free *f = ud;
    if (call == f->other)
        f->other_result = result;
    if (f->calls++ == 0) {
        f->first_result = result;
        pmx_client_free(pmx_call_client(call)); /* deferred until we return */
    }
}

START_TEST(free_from_callback_others_destroyed) {
    /* The first callback frees the client while the other call is pending or queued: that one
     * still gets exactly one callback, with the same result pmx_call_wait reports (OK when it
     * had already finished, else PMX_EDESTROYED). Either call may finish first. */
    pmx_client *c = test_client(&g_mock, "token");
    pair_free f = {0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, pair_free_cb, &f, NULL), PMX_OK);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, pair_free_cb, &f,
                                    &f.other), PMX_OK);
    int r = pmx_call_wait(f.other);
    ck_assert_int_eq(f.calls, 2);
    ck_assert_int_eq(f.first_result, PMX_OK);
    ck_assert(f.other_result == PMX_EDESTROYED || f.other_result == PMX_OK);
    ck_assert_int_eq(r, f.other_result);
    pmx_call_unref(f.other);
}
END_TEST

START_TEST(unref_pending_keeps_running) {
    pmx_client *c = test_client(&g_mock, "token");
    counter k = {0};
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, count_cb, &k, &call), PMX_OK);
    pmx_call_unref(call); /* the client keeps its own reference until the callback ran */
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    ck_assert_int_eq(k.ok, 1);
    pmx_client_free(c);
}
END_TEST

START_TEST(hundred_requests_per_connection) {
    /* pveproxy closes a connection after 100 requests: 150 calls in a row need exactly two. */
    pmx_client *c = test_client(&g_mock, "token");
    long before = mock_stat(&g_mock, "connections");
    for (int i = 0; i < 150; i++)
        ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(mock_stat(&g_mock, "connections") - before, 2);
    pmx_client_free(c);
}
END_TEST

START_TEST(idle_connection_dropped_by_server) {
    /* pveproxy drops connections idle for 5 s; the next call must not fail on the dead one. */
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    sleep(6);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    pmx_client_free(c);
}
END_TEST

START_TEST(json_body_option) {
    pmx_client *c = test_client(&g_mock, "token");
    pmx_params *p = pmx_params_new();
    pmx_params_set_int(p, "vmid", 4343);
    pmx_params_set_str(p, "name", "json-body");
    pmx_params_set_str(p, "net0", "virtio,bridge=vmbr0,tag=7");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.flags = PMX_CALL_JSON_BODY;
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_POST, "/nodes/pve1/qemu", p, &o, NULL, NULL, &call),
                     PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(get_sync(c, "/nodes/pve1/qemu/4343/config", &call), PMX_OK);
    ck_assert(data_contains(call, "virtio,bridge=vmbr0,tag=7"));
    ck_assert(data_contains(call, "json-body"));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

typedef struct canceller {
    pmx_call *victim;
    int victim_result;
    int calls;
} canceller;

static void cancel_other_cb(pmx_call *call, int result, void *ud) {
    canceller *k = ud;
    if (!k->victim)
        return; /* the warm-up call */
    k->calls++;
    if (call == k->victim) {
        k->victim_result = result;
        return;
    }
    ck_assert_int_eq(pmx_call_cancel(k->victim), PMX_OK);
}

START_TEST(cancel_from_callback) {
    pmx_client *c = test_client(&g_mock, "token");
    canceller k = {0};
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 30000;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, cancel_other_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK); /* warm-up: one connection open */
    mock_faults(&g_mock, "{\"latency_ms\":1500}");
    k.calls = 0;
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/nodes", NULL, &o, cancel_other_cb, &k,
                                       &k.victim), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 300), PMX_ETIMEOUT); /* the victim is at the server now */
    mock_reset(&g_mock);
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, cancel_other_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    ck_assert_int_eq(k.calls, 2);
    ck_assert_int_eq(k.victim_result, PMX_ECANCELLED);
    pmx_call_unref(k.victim);
    pmx_client_free(c);
}
END_TEST

START_TEST(thousands_in_flight) {
    /* One thread, one client, 3000 calls started at once through an 8-connection pool. */
    pmx_client *c = test_client(&g_mock, "token");
    counter k = {0};
    for (int i = 0; i < 3000; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, i % 3 ? "/version" : "/nodes", NULL, count_cb, &k,
                                        NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_pending(c), 3000);
    ck_assert_int_eq(pmx_client_run(c, 120000), PMX_OK);
    ck_assert_int_eq(k.calls, 3000);
    ck_assert_int_eq(k.ok, 3000);
    ck_assert_int_eq(pmx_client_pending(c), 0);
    pmx_client_free(c);
}
END_TEST

START_TEST(forbidden_403) {
    /* A read-only token: reads work, writes are refused with 403 -> PMX_EPERM. */
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_token(c, g_mock.readonly_token), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EPERM);
    ck_assert_int_eq(pmx_call_http_status(call), 403);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "Permission check failed"));
    pmx_call_unref(call);
    pmx_client_free(c);

    /* Methods marked allowtoken=0 refuse every token. */
    c = test_client(&g_mock, "token");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "userid", "root@pam");
    pmx_params_set_str(p, "password", "new-password-123");
    ck_assert_int_eq(pmx_call_start(c, PMX_PUT, "/access/password", p, NULL, NULL, &call), PMX_OK);
    pmx_params_free(p);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EPERM);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "not available with API token"));
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(tls_change_rechecks_pin) {
    /* A connection and a TLS session are cached after the first call; a new (wrong) pin must
     * still be checked on the next call, not bypassed by reuse or session resumption. */
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s", g_mock.fingerprint);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(pmx_client_set_fingerprint(c, wrong), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_ETLS);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, g_mock.fingerprint), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    /* insecure -> verifying: the cached insecure connection must not carry on */
    ck_assert_int_eq(pmx_client_set_fingerprint(c, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_set_insecure(c, 1), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_set_insecure(c, 0), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_ETLS);
    /* not while calls are pending */
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_client_set_insecure(c, 1), PMX_EBUSY);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, g_mock.fingerprint), PMX_EBUSY);
    ck_assert_int_eq(pmx_client_set_ca_file(c, g_mock.ca_file), PMX_EBUSY);
    pmx_call_wait(call);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(queue_time_counts_toward_timeout) {
    /* One connection, 200 ms per answer, 700 ms per call: the first call is fine; the fifth
     * would need about a second in line, so it times out instead of waiting unbounded. */
    pmx_client *c = test_client(&g_mock, "token");
    ck_assert_int_eq(get_sync(c, "/version", NULL), PMX_OK); /* connected */
    ck_assert_int_eq(pmx_client_set_max_connections(c, 1), PMX_OK);
    mock_faults(&g_mock, "{\"latency_ms\":200}");
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 700;
    pmx_call *calls[5];
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &o, NULL, NULL, &calls[i]),
                         PMX_OK);
    ck_assert_int_eq(pmx_client_run(c, 20000), PMX_OK);
    mock_reset(&g_mock);
    ck_assert_int_eq(pmx_call_result(calls[0]), PMX_OK);
    ck_assert_int_eq(pmx_call_result(calls[4]), PMX_ETIMEOUT);
    for (int i = 0; i < 5; i++)
        pmx_call_unref(calls[i]);
    pmx_client_free(c);
}
END_TEST

START_TEST(no_secret_left_in_freed_memory) {
    /* Every block the library frees is scanned for the password and for the ticket's
     * signature: growing buffers and freed requests must have been wiped. */
    spy_alloc_install(g_mock.password, NULL);
    pmx_client *c = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    char *ticket = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(c, &ticket, NULL), PMX_OK);
    static char sig[64];
    snprintf(sig, sizeof sig, "%.24s", strstr(ticket, "::") + 2);
    pmx_secret_free(ticket);
    pmx_client_free(c);
    ck_assert_msg(!spy_alloc_found(0), "a freed block still held the password");
    /* the ticket: a renewal-free second client, then free everything */
    spy_alloc_needle(0, sig);
    c = test_client(&g_mock, "password");
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK);
    pmx_client_free(c);
    ck_assert_msg(!spy_alloc_found(0), "a freed block still held the ticket");
    spy_alloc_remove();
}
END_TEST

static Suite *client_suite(void) {
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("mock");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, token_get_version);
    tcase_add_test(tc, token_write_without_csrf);
    tcase_add_test(tc, no_auth_is_401);
    tcase_add_test(tc, bad_token_is_401);
    tcase_add_test(tc, callback_once_never_in_start);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, unknown_path_501);
    tcase_add_test(tc, param_errors_400);
    tcase_add_test(tc, server_5xx);
    tcase_add_test(tc, malformed_body);
    tcase_add_test(tc, oversized_body);
    tcase_add_test(tc, connection_dropped_mid_response);
    tcase_add_test(tc, encoding_roundtrip);
    tcase_add_test(tc, password_login_once_for_many);
    tcase_add_test(tc, wrong_password);
    tcase_add_test(tc, ticket_export_import);
    tcase_add_test(tc, ticket_without_csrf_refused_on_write);
    tcase_add_test(tc, logs_carry_no_secrets);
    tcase_add_test(tc, fingerprint_mismatch);
    tcase_add_test(tc, fingerprint_lowercase_and_bare);
    tcase_add_test(tc, verification_on_by_default);
    tcase_add_test(tc, ca_file_verifies);
    tcase_add_test(tc, ca_file_checks_hostname);
    tcase_add_test(tc, ca_file_replaces_system_store);
    tcase_add_test(tc, ca_file_read_for_each_connection);
    tcase_add_test(tc, insecure_when_asked);
    tcase_add_test(tc, call_timeout);
    tcase_add_test(tc, connect_timeout);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, cancel_pending);
    tcase_add_test(tc, connection_reuse);
    tcase_add_test(tc, connection_cap);
    tcase_add_test(tc, error_response_closes_then_recovers);
    tcase_add_test(tc, external_loop);
    tcase_add_test(tc, recursion_refused);
    tcase_add_test(tc, start_from_callback);
    tcase_add_test(tc, free_with_calls_pending);
    tcase_add_test(tc, free_from_callback);
    tcase_add_test(tc, free_from_callback_others_destroyed);
    tcase_add_test(tc, unref_pending_keeps_running);
    tcase_add_test(tc, hundred_requests_per_connection);
    tcase_add_test(tc, idle_connection_dropped_by_server);
    tcase_add_test(tc, json_body_option);
    tcase_add_test(tc, cancel_from_callback);
    tcase_add_test(tc, thousands_in_flight);
    tcase_add_test(tc, forbidden_403);
    tcase_add_test(tc, tls_change_rechecks_pin);
    tcase_add_test(tc, queue_time_counts_toward_timeout);
    tcase_add_test(tc, no_secret_left_in_freed_memory);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(client_suite)

/* ---- ticket lifetime: renewal under load, expiry, 401 ---- */

static mock g_short; /* tickets live 6 s */

static void short_start(void) {
    static const char *const args[] = {"--ticket-lifetime", "6", "--auth-delay-ms", "50", NULL};
    if (mock_start(&g_short, args) != 0)
        exit(1);
}
static void short_stop(void) { mock_stop(&g_short); }

typedef struct load {
    pmx_client *c;
    int64_t until_ms;
    int done, failed;
    int first_error;
} load;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void load_cb(pmx_call *call, int result, void *ud) {
    load *l = ud;
    (void)call;
    l->done++;
    if (result != PMX_OK) {
        if (!l->failed)
            l->first_error = result;
        l->failed++;
    }
    if (now_ms() < l->until_ms)
        pmx_call_start(l->c, l->done % 5 ? PMX_GET : PMX_POST,
                       l->done % 5 ? "/nodes" : "/nodes/pve1/qemu/101/status/stop", NULL, load_cb,
                       l, NULL);
}

START_TEST(renewal_under_load) {
    /* 200 calls in flight, continuously, across the renewal point (half of 6 s): none fails,
     * one login, at least one renewal. */
    long logins = mock_stat(&g_short, "logins"), renewals = mock_stat(&g_short, "renewals");
    mock_faults(&g_short, "{\"latency_ms\":20}");
    load l = {0};
    l.c = test_client(&g_short, "password");
    ck_assert_int_eq(pmx_client_set_ticket_lifetime(l.c, 6), PMX_OK);
    l.until_ms = now_ms() + 4500;
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(pmx_call_start(l.c, PMX_GET, "/nodes", NULL, load_cb, &l, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(l.c, 60000), PMX_OK);
    ck_assert_msg(l.failed == 0, "%d of %d calls failed, first with %s", l.failed, l.done,
                  pmx_strerror(l.first_error));
    ck_assert_int_gt(l.done, 400);
    ck_assert_int_eq(mock_stat(&g_short, "logins") - logins, 1);
    ck_assert_int_ge(mock_stat(&g_short, "renewals") - renewals, 1);
    pmx_client_free(l.c);
    mock_reset(&g_short);
}
END_TEST

START_TEST(expired_ticket_401) {
    pmx_client *a = test_client(&g_short, "password");
    ck_assert_int_eq(get_sync(a, "/version", NULL), PMX_OK);
    char *ticket = NULL, *csrf = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, &csrf), PMX_OK);
    pmx_client_free(a);
    sleep(7); /* past the server's 6 s lifetime */

    /* Only the stale ticket (the client assumes PVE's 2 h): refused with 401, no way to log in. */
    pmx_client *b = test_client(&g_short, NULL);
    ck_assert_int_eq(pmx_client_set_ticket(b, ticket, csrf), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(b, "/nodes", &call), PMX_EAUTH);
    ck_assert_int_eq(pmx_call_http_status(call), 401);
    pmx_call_unref(call);
    pmx_client_free(b);

    /* With the password too: the 401 triggers one fresh login and the call is sent again. */
    long logins = mock_stat(&g_short, "logins");
    pmx_client *d = test_client(&g_short, "password");
    ck_assert_int_eq(pmx_client_set_ticket(d, ticket, csrf), PMX_OK);
    counter k = {0};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pmx_call_start(d, i % 2 ? PMX_POST : PMX_GET,
                                        i % 2 ? "/nodes/pve1/qemu/101/status/stop" : "/nodes",
                                        NULL, count_cb, &k, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(d, 30000), PMX_OK);
    ck_assert_int_eq(k.ok, 5);
    ck_assert_int_eq(mock_stat(&g_short, "logins") - logins, 1);
    pmx_client_free(d);

    /* Queued calls never go out with a ticket already refused: one connection, ten calls,
     * one 401, one login, ten answers = 12 requests at the server. */
    long requests = mock_stat(&g_short, "requests");
    logins = mock_stat(&g_short, "logins");
    pmx_client *q = test_client(&g_short, "password");
    ck_assert_int_eq(pmx_client_set_ticket(q, ticket, csrf), PMX_OK);
    ck_assert_int_eq(pmx_client_set_max_connections(q, 1), PMX_OK);
    counter kq = {0};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(pmx_call_start(q, PMX_GET, "/nodes", NULL, count_cb, &kq, NULL), PMX_OK);
    ck_assert_int_eq(pmx_client_run(q, 30000), PMX_OK);
    ck_assert_int_eq(kq.ok, 10);
    ck_assert_int_eq(mock_stat(&g_short, "logins") - logins, 1);
    ck_assert_int_eq(mock_stat(&g_short, "requests") - requests, 12);
    pmx_client_free(q);

    /* A client that knows the lifetime logs in again before sending at all. */
    pmx_client *e = test_client(&g_short, "password");
    ck_assert_int_eq(pmx_client_set_ticket_lifetime(e, 6), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ticket(e, ticket, csrf), PMX_OK);
    ck_assert_int_eq(get_sync(e, "/nodes", NULL), PMX_OK);
    pmx_client_free(e);
    pmx_secret_free(ticket);
    pmx_secret_free(csrf);
}
END_TEST

/* ---- two-factor login ---- */

static int totp_cb(pmx_client *c, const char *challenge, char *out, size_t size, void *ud) {
    int *asked = ud;
    (void)c;
    (*asked)++;
    ck_assert_ptr_nonnull(strstr(challenge, "totp"));
    char code[7];
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    snprintf(out, size, "%s", code);
    return 0;
}

START_TEST(tfa_with_callback) {
    long before = mock_stat(&g_mock, "tfa_logins");
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    int asked = 0;
    ck_assert_int_eq(pmx_client_set_tfa_cb(c, totp_cb, &asked, NULL), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK);
    ck_assert_int_eq(asked, 1);
    ck_assert_int_eq(mock_stat(&g_mock, "tfa_logins") - before, 1);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    pmx_client_free(c);
}
END_TEST

START_TEST(tfa_with_preset_code) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    char code[7], resp[16];
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    snprintf(resp, sizeof resp, "totp:%s", code);
    ck_assert_int_eq(pmx_client_set_tfa_response(c, resp), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_OK);
    pmx_client_free(c);
}
END_TEST

START_TEST(tfa_missing_or_wrong) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    pmx_call *call;
    ck_assert_int_eq(get_sync(c, "/nodes", &call), PMX_EAUTH);
    ck_assert_ptr_nonnull(strstr(pmx_call_error(call), "two-factor"));
    pmx_call_unref(call);
    pmx_client_free(c);

    c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    char code[7];
    test_totp(g_mock.totp_secret, (long)time(NULL) + 3600, code); /* an hour off */
    ck_assert_int_eq(pmx_client_set_tfa_response(c, code), PMX_OK);
    ck_assert_int_eq(get_sync(c, "/nodes", NULL), PMX_EAUTH);
    pmx_client_free(c);
}
END_TEST

static Suite *auth_suite(void) {
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("short-tickets");
    tcase_add_unchecked_fixture(tc, short_start, short_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, renewal_under_load);
    tcase_add_test(tc, expired_ticket_401);
    suite_add_tcase(s, tc);
    tc = tcase_create("tfa");
    tcase_add_unchecked_fixture(tc, mock_fixture_start_tfa, mock_fixture_stop);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tfa_with_callback);
    tcase_add_test(tc, tfa_with_preset_code);
    tcase_add_test(tc, tfa_missing_or_wrong);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(auth_suite)
