/* Tests of pve-mock itself, not of libproxmox: every fault switch, transfer and listener
 * control must be observable on the wire. Driven with a raw TLS client (exact bytes, how the
 * connection ended: close_notify, EOF or reset) and with plain libcurl. */
#include "testutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static mock g_m;            /* this suite's mock (its uploads go to g_updir) */
static char g_updir[256];

/* ---- a raw TLS client --------------------------------------------------------------------- */

enum { END_NONE, END_NOTIFY, END_EOF, END_RESET, END_TIMEOUT, END_REFUSED, END_TLS };

typedef struct raw {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *data; /* everything read, NUL-terminated */
    size_t len;
    int end;    /* END_*: how the server ended the connection */
    int reads;  /* SSL_read calls that returned data */
    char fp[128];
} raw;

static void raw_append(raw *r, const char *p, size_t n) {
    char *d = realloc(r->data, r->len + n + 1);
    ck_assert_ptr_nonnull(d);
    memcpy(d + r->len, p, n);
    r->len += n;
    d[r->len] = 0;
    r->data = d;
}

/* A plain TCP connection to url (no TLS handshake), with 10 s send and receive timeouts; -1
 * when it fails, errno saying why. */
static int tcp_connect(const char *url) {
    signal(SIGPIPE, SIG_IGN);
    const char *h = strstr(url, "://"), *colon = strrchr(url, ':');
    ck_assert_ptr_nonnull(h);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - h - 3), h + 3);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Connects and does the TLS handshake; r->end says why when it fails (returns -1). */
static int raw_open(raw *r, const char *url) {
    memset(r, 0, sizeof *r);
    r->fd = tcp_connect(url);
    if (r->fd < 0) {
        r->end = errno == ECONNREFUSED ? END_REFUSED : END_RESET;
        return -1;
    }
    r->ctx = SSL_CTX_new(TLS_client_method());
    r->ssl = SSL_new(r->ctx);
    SSL_set_fd(r->ssl, r->fd);
    errno = 0;
    ERR_clear_error();
    if (SSL_connect(r->ssl) != 1) {
        r->end = errno == ECONNRESET || errno == EPIPE ? END_RESET : END_TLS;
        return -1;
    }
    X509 *cert = SSL_get1_peer_certificate(r->ssl);
    ck_assert_ptr_nonnull(cert);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    X509_digest(cert, EVP_sha256(), md, &mdlen);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(r->fp + 3 * i, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
    X509_free(cert);
    return 0;
}

static void raw_send(raw *r, const char *req, size_t n) {
    ck_assert_int_eq(SSL_write(r->ssl, req, (int)n), (int)n);
}

/* Reads until the server ends the connection (or `until` bytes are in, when > 0). */
static void raw_read(raw *r, size_t until) {
    char buf[65536];
    while (!until || r->len < until) {
        errno = 0;
        ERR_clear_error();
        int n = SSL_read(r->ssl, buf, sizeof buf);
        if (n > 0) {
            raw_append(r, buf, (size_t)n);
            r->reads++;
            continue;
        }
        int e = SSL_get_error(r->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN)
            r->end = END_NOTIFY;
        else if (errno == ECONNRESET)
            r->end = END_RESET;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            r->end = END_TIMEOUT;
        else
            r->end = END_EOF;
        return;
    }
}

static void raw_close(raw *r) {
    if (r->ssl)
        SSL_free(r->ssl);
    if (r->ctx)
        SSL_CTX_free(r->ctx);
    if (r->fd >= 0)
        close(r->fd);
    free(r->data);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

/* One request on a new connection, read to the end. */
static void raw_exchange(raw *r, const char *url, const char *req, size_t n) {
    if (raw_open(r, url) != 0)
        return;
    raw_send(r, req, n);
    raw_read(r, 0);
}

static int raw_status(const raw *r) {
    return r->len >= 12 && strncmp(r->data, "HTTP/1.", 7) == 0 ? atoi(r->data + 9) : -1;
}

/* The reason phrase (malloc'd). */
static char *raw_reason(const raw *r) {
    ck_assert_int_gt(raw_status(r), 0);
    const char *p = r->data + 13, *e = strstr(p, "\r\n");
    ck_assert_ptr_nonnull(e);
    char *s = malloc((size_t)(e - p) + 1);
    memcpy(s, p, (size_t)(e - p));
    s[e - p] = 0;
    return s;
}

/* The status (when want_status >= 0) and the exact reason phrase of an answer. */
static void assert_reason(const raw *r, int want_status, const char *want) {
    if (want_status >= 0)
        ck_assert_int_eq(raw_status(r), want_status);
    char *reason = raw_reason(r);
    ck_assert_str_eq(reason, want);
    free(reason);
}

static const char *raw_body(const raw *r, size_t *n) {
    const char *b = r->data ? strstr(r->data, "\r\n\r\n") : NULL;
    if (!b) {
        *n = 0;
        return NULL;
    }
    *n = r->len - (size_t)(b + 4 - r->data);
    return b + 4;
}

/* A header's value (malloc'd) or NULL; the name is matched without case. */
static char *raw_header(const raw *r, const char *name) {
    const char *end = r->data ? strstr(r->data, "\r\n\r\n") : NULL;
    size_t k = strlen(name);
    for (const char *p = r->data ? strstr(r->data, "\r\n") : NULL; p && p < end;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, k) == 0 && line[k] == ':') {
            const char *v = line + k + 1 + strspn(line + k + 1, " ");
            const char *e = strstr(v, "\r\n");
            char *s = malloc((size_t)(e - v) + 1);
            memcpy(s, v, (size_t)(e - v));
            s[e - v] = 0;
            return s;
        }
    }
    return NULL;
}

static char *get_req(const mock *m, const char *path, int keep_alive) {
    char *s = NULL;
    ck_assert_int_gt(asprintf(&s,
                              "GET /api2/json%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: PVEAPIToken=%s\r\nConnection: %s\r\n\r\n",
                              path, m->token, keep_alive ? "keep-alive" : "close"),
                     0);
    return s;
}

/* Opens a connection to m's first listener and sends GET path with the token. */
static void raw_start_get(raw *r, const mock *m, const char *path, int keep_alive) {
    ck_assert_int_eq(raw_open(r, m->url), 0);
    char *req = get_req(m, path, keep_alive);
    raw_send(r, req, strlen(req));
    free(req);
}

/* GET path with the token on listener 0, read to the end. */
static void raw_get(raw *r, const mock *m, const char *path) {
    char *req = get_req(m, path, 0);
    raw_exchange(r, m->url, req, strlen(req));
    free(req);
}

/* ---- helpers on the mock ------------------------------------------------------------------ */

static void faults(const char *json) { mock_faults(&g_m, json); }

static cJSON *last_log_entry(const mock *m) {
    cJSON *log = mock_request_log(m, 0);
    ck_assert_ptr_nonnull(log);
    int n = cJSON_GetArraySize(log);
    ck_assert_int_gt(n, 0);
    cJSON *e = cJSON_DetachItemFromArray(log, n - 1);
    cJSON_Delete(log);
    return e;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(x), "no number %s", k);
    return x->valuedouble;
}

/* The "data" string of an API answer body (malloc'd). */
static char *data_string(const char *body) {
    cJSON *j = cJSON_Parse(body);
    const char *s = jstr(j, "data");
    ck_assert_msg(s != NULL, "no data string in %s", body);
    char *out = strdup(s);
    cJSON_Delete(j);
    return out;
}

/* Waits (up to 15 s) for a task to stop; returns its exit status (malloc'd). */
static char *task_wait(const mock *m, int listener, const char *node, const char *upid) {
    char path[512];
    snprintf(path, sizeof path, "/nodes/%s/tasks/%s/status", node, upid);
    for (int i = 0; i < 300; i++) {
        char *body = NULL;
        ck_assert_int_eq(mock_api(m, listener, "GET", path, NULL, &body), 200);
        cJSON *j = cJSON_Parse(body);
        free(body);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
        const char *st = jstr(d, "status");
        if (st && strcmp(st, "stopped") == 0) {
            char *es = strdup(jstr(d, "exitstatus"));
            cJSON_Delete(j);
            return es;
        }
        cJSON_Delete(j);
        usleep(50000);
    }
    ck_abort_msg("task %s did not stop", upid);
    return NULL;
}

/* ---- uploads with libcurl ----------------------------------------------------------------- */

static size_t sink(char *p, size_t sz, size_t n, void *ud) {
    raw *acc = ud;
    raw_append(acc, p, sz * n);
    return sz * n;
}

/* Multipart upload as `curl -F` does it; algo/sum may be NULL. Returns the HTTP status. */
static int upload(const mock *m, int listener, const char *node, const char *file,
                  const char *content, const char *name, const char *algo, const char *sum,
                  char **body) {
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    char url[512], auth[512];
    snprintf(url, sizeof url, "%s/api2/json/nodes/%s/storage/local/upload",
             listener ? m->urls[listener] : m->url, node);
    snprintf(auth, sizeof auth, "Authorization: PVEAPIToken=%s", m->token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Expect:");
    curl_mime *mime = curl_mime_init(h);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "content");
    curl_mime_data(part, content, CURL_ZERO_TERMINATED);
    if (algo) {
        part = curl_mime_addpart(mime);
        curl_mime_name(part, "checksum-algorithm");
        curl_mime_data(part, algo, CURL_ZERO_TERMINATED);
        part = curl_mime_addpart(mime);
        curl_mime_name(part, "checksum");
        curl_mime_data(part, sum, CURL_ZERO_TERMINATED);
    }
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "filename");
    ck_assert_int_eq(curl_mime_filedata(part, file), CURLE_OK);
    curl_mime_filename(part, name);
    curl_mime_type(part, "application/octet-stream");
    raw acc;
    memset(&acc, 0, sizeof acc);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &acc);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    long code = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_mime_free(mime);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (body)
        *body = acc.data ? acc.data : strdup("");
    else
        free(acc.data);
    return (int)code;
}

/* A test file of n bytes: pseudo-random, with a 1 MiB zero run when n is large enough. */
static void make_file(const char *path, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        int zero = n > (3u << 20) && i >= (1u << 20) && i < (2u << 20);
        fputc(zero ? 0 : (int)(x >> 16) & 0xff, f);
    }
    fclose(f);
}

static void file_hash(const char *path, const char *algo, char out[129]) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_get_digestbyname(algo), NULL), 1);
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(c, buf, k);
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    fclose(f);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static char *tmp_file(const char *tag) {
    char *p = NULL;
    ck_assert_int_gt(asprintf(&p, "/tmp/pmx-mock-%s-%d.bin", tag, (int)getpid()), 0);
    return p;
}

/* The volume of `volid` in GET …/content of node, its size; -1 when not listed. */
static double content_size(const mock *m, int listener, const char *node, const char *volid) {
    char path[256], *body = NULL;
    snprintf(path, sizeof path, "/nodes/%s/storage/local/content", node);
    ck_assert_int_eq(mock_api(m, listener, "GET", path, NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    free(body);
    double size = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "data")) {
        if (jstr(e, "volid") && strcmp(jstr(e, "volid"), volid) == 0)
            size = jnum(e, "size");
    }
    cJSON_Delete(j);
    return size;
}

/* Files in the mock's temp dir (<upload-dir>/pve-mock-XXXXXX/) whose name starts with
 * prefix (and whose size is `size`, when >= 0); *st gets the last one's stat. */
static int updir_files(const char *prefix, long size, struct stat *st) {
    int found = 0;
    DIR *top = opendir(g_updir);
    struct dirent *d;
    while (top && (d = readdir(top))) {
        if (strncmp(d->d_name, "pve-mock-", 9) != 0)
            continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", g_updir, d->d_name);
        DIR *in = opendir(sub);
        struct dirent *v;
        while (in && (v = readdir(in))) {
            char p[1024];
            struct stat s;
            snprintf(p, sizeof p, "%s/%s", sub, v->d_name);
            if (strncmp(v->d_name, prefix, strlen(prefix)) == 0 && stat(p, &s) == 0 &&
                (size < 0 || s.st_size == size)) {
                if (st)
                    *st = s;
                found++;
            }
        }
        if (in)
            closedir(in);
    }
    if (top)
        closedir(top);
    return found;
}

/* ---- fixture ------------------------------------------------------------------------------ */

static void suite_start(void) {
    snprintf(g_updir, sizeof g_updir, "/tmp/pmx-mock-up-XXXXXX");
    if (!mkdtemp(g_updir)) {
        perror("mkdtemp");
        exit(1);
    }
    const char *args[] = {"--auth-delay-ms", "50", "--task-ms", "300", "--tfa", "--upload-dir",
                          g_updir, NULL};
    if (mock_start(&g_m, args) != 0) {
        fprintf(stderr, "cannot start pve-mock\n");
        exit(1);
    }
}

static void suite_stop(void) {
    mock_stop(&g_m);
    rmdir(g_updir); /* the mock removed its own directory under it */
}

static void each_start(void) { mock_reset(&g_m); }

/* ---- the ready line and the request log --------------------------------------------------- */

START_TEST(ready_line_has_lists) {
    ck_assert_int_eq(g_m.nurls, 1);
    ck_assert_str_eq(g_m.urls[0], g_m.url);
    ck_assert_str_eq(g_m.fingerprints[0], g_m.fingerprint);
    ck_assert_str_eq(g_m.nodes[0], "pve1");
    ck_assert_ptr_nonnull(strstr(g_m.control_url, "http://127.0.0.1:"));
    /* the control listener answers /_mock only */
    ck_assert_int_eq(mock_http(&g_m, "GET", "/_mock/stats", NULL, NULL), 200);
    char url[512];
    snprintf(url, sizeof url, "%s/api2/json/version", g_m.control_url);
    mock other = g_m;
    snprintf(other.url, sizeof other.url, "%s", g_m.control_url);
    other.nurls = 0;
    ck_assert_int_eq(mock_api(&other, 0, "GET", "/version", NULL, NULL), 501);
}
END_TEST

START_TEST(request_log_counts) {
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes?_dc=1", NULL, NULL), 200);
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid=abc", NULL), 400);
    cJSON *log = mock_request_log(&g_m, 0);
    ck_assert_ptr_nonnull(log);
    ck_assert_int_eq(cJSON_GetArraySize(log), 3);
    cJSON *e0 = cJSON_GetArrayItem(log, 0), *e1 = cJSON_GetArrayItem(log, 1),
          *e2 = cJSON_GetArrayItem(log, 2);
    ck_assert_str_eq(jstr(e0, "method"), "GET");
    ck_assert_str_eq(jstr(e0, "path"), "/api2/json/version");
    ck_assert_int_eq((int)jnum(e0, "status"), 200);
    ck_assert_str_eq(jstr(e0, "auth"), "token");
    ck_assert_int_eq((int)jnum(e0, "listener"), 0);
    ck_assert_str_eq(jstr(e0, "node"), "pve1");
    ck_assert(jnum(e0, "ms") >= 0 && jnum(e1, "at_ms") >= jnum(e0, "at_ms"));
    ck_assert_str_eq(jstr(e1, "query"), "_dc=1");
    ck_assert_str_eq(jstr(e2, "method"), "POST");
    ck_assert_int_eq((int)jnum(e2, "status"), 400);
    ck_assert_int_eq((int)jnum(e2, "bytes_in"), 8);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e2, "fault")));
    long last = (long)jnum(e2, "id");
    cJSON_Delete(log);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
    log = mock_request_log(&g_m, last); /* since: only what came after */
    ck_assert_int_eq(cJSON_GetArraySize(log), 1);
    cJSON_Delete(log);
    ck_assert_int_eq(mock_count_requests(&g_m, "GET", "/api2/json/version"), 2);
    mock_reset(&g_m);
    ck_assert_int_eq(mock_count_requests(&g_m, NULL, NULL), 0);
    /* /_mock requests are never logged */
    ck_assert_int_eq(mock_stat(&g_m, "requests"), 0);
}
END_TEST

START_TEST(request_log_masks_secrets) {
    /* a login with its password in the query: the log keeps the names, never the values */
    ck_assert_int_eq(mock_api(&g_m, 0, "POST",
                              "/access/ticket?username=root%40pam&password=hunter2&otp=123456"
                              "&new-password=n3w;tfa-challenge=PVE%3A!tfa!x&response=r1"
                              "&pass%77ord=enc&vmid=100&realm=",
                              NULL, NULL),
                     400); /* new-password, response, vmid: not in the schema */
    cJSON *e = last_log_entry(&g_m);
    ck_assert_str_eq(jstr(e, "query"),
                     "username=root%40pam&password=***&otp=***&new-password=***;"
                     "tfa-challenge=***&response=***&pass%77ord=***&vmid=100&realm=");
    cJSON_Delete(e);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version?password=x", NULL, NULL), 400);
    e = last_log_entry(&g_m);
    ck_assert_str_eq(jstr(e, "query"), "password=***");
    cJSON_Delete(e);
    /* secret keys: OpenID's client-key, ACME's eab-hmac-key; a name too long to read whole */
    ck_assert_int_eq(mock_api(&g_m, 0, "GET",
                              "/version?client-key=s1&eab-hmac-key=s2&node=pve1&"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaapassword=s3",
                              NULL, NULL),
                     400);
    e = last_log_entry(&g_m);
    ck_assert_str_eq(jstr(e, "query"),
                     "client-key=***&eab-hmac-key=***&node=pve1&"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaapassword=***");
    cJSON_Delete(e);
}
END_TEST

START_TEST(fault_values_capped) {
    /* sizes the mock would allocate, and settings stored in an int: out of range -> 400 */
    static const char *const bad[] = {
        "{\"oversize_bytes\":100000000000000}", "{\"oversize_bytes\":1073741825}",
        "{\"header_size\":1000000000000000}", "{\"auth_delay_ms\":4294967296}",
        "{\"ticket_lifetime\":2147483648}", "{\"task_ms\":1000000000000}",
        "{\"task_ms\":100000001}", "{\"latency_ms\":1000000000}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(mock_http(&g_m, "POST", "/_mock/faults", bad[i], NULL) == 400, "%s", bad[i]);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
    faults("{\"oversize_bytes\":1073741824,\"header_size\":1073741824,\"task_ms\":100000000,"
           "\"auth_delay_ms\":100000000,\"ticket_lifetime\":100000000}");
    mock_reset(&g_m);
    faults("{\"oversize_bytes\":1048576}");
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, &body), 200);
    ck_assert_uint_eq(strlen(body), 1048576 + 11);
    free(body);
}
END_TEST

START_TEST(unknown_fault_key_refused) {
    char *body = NULL;
    ck_assert_int_eq(mock_http(&g_m, "POST", "/_mock/faults", "{\"fail_5xxx\":1}", &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "unknown key 'fail_5xxx'"));
    free(body);
    ck_assert_int_eq(mock_http(&g_m, "POST", "/_mock/faults", "{\"fail_5xx\":\"2\"}", NULL), 400);
    ck_assert_int_eq(mock_http(&g_m, "POST", "/_mock/faults", "{\"fail_5xx\":1,\"x\":1}", NULL),
                     400);
    /* nothing of a refused body applies */
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
}
END_TEST

/* ---- connection faults -------------------------------------------------------------------- */

START_TEST(reset_before_response) {
    faults("{\"reset_before_response\":1}");
    raw r;
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_RESET);
    ck_assert_uint_eq(r.len, 0);
    raw_close(&r);
    cJSON *e = last_log_entry(&g_m);
    ck_assert_int_eq((int)jnum(e, "status"), 0);
    ck_assert_str_eq(jstr(e, "fault"), "reset_before_response");
    cJSON_Delete(e);
    raw_get(&r, &g_m, "/version"); /* one shot */
    ck_assert_int_eq(raw_status(&r), 200);
    ck_assert_int_eq(r.end, END_NOTIFY);
    raw_close(&r);
}
END_TEST

START_TEST(close_after_request) {
    faults("{\"close_after_request\":1}");
    raw r;
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_EOF); /* FIN, no answer, no close_notify */
    ck_assert_uint_eq(r.len, 0);
    raw_close(&r);
    ck_assert_int_eq(mock_count_requests(&g_m, "GET", "/api2/json/version"), 1);
}
END_TEST

START_TEST(reset_mid_body) {
    faults("{\"reset_mid_body\":1}");
    raw r;
    raw_get(&r, &g_m, "/nodes");
    ck_assert_int_eq(raw_status(&r), 200);
    char *cl = raw_header(&r, "Content-Length");
    ck_assert_ptr_nonnull(cl);
    size_t n;
    raw_body(&r, &n);
    ck_assert_uint_eq(n, (size_t)atol(cl) / 2); /* half of what was promised */
    ck_assert_int_eq(r.end, END_RESET);
    free(cl);
    raw_close(&r);
}
END_TEST

START_TEST(close_mid_response) {
    faults("{\"close_mid_response\":1}");
    raw r;
    raw_get(&r, &g_m, "/nodes");
    ck_assert_int_eq(raw_status(&r), 200);
    char *cl = raw_header(&r, "Content-Length"), *conn = raw_header(&r, "Connection");
    size_t n;
    raw_body(&r, &n);
    ck_assert_uint_eq(n, (size_t)atol(cl) / 2);
    ck_assert_str_eq(conn, "close");
    ck_assert_int_eq(r.end, END_EOF);
    free(cl);
    free(conn);
    raw_close(&r);
}
END_TEST

START_TEST(close_after_headers) {
    faults("{\"close_after_headers\":1}");
    raw r;
    raw_get(&r, &g_m, "/nodes");
    ck_assert_int_eq(raw_status(&r), 200);
    char *cl = raw_header(&r, "Content-Length");
    ck_assert_int_gt(atol(cl), 10);
    size_t n;
    ck_assert_ptr_nonnull(raw_body(&r, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(r.end, END_EOF);
    free(cl);
    raw_close(&r);
}
END_TEST

START_TEST(long_content_length) {
    faults("{\"long_content_length\":1}");
    raw r;
    raw_get(&r, &g_m, "/version");
    char *cl = raw_header(&r, "Content-Length");
    size_t n;
    const char *b = raw_body(&r, &n);
    ck_assert_uint_eq((size_t)atol(cl), n + 100);
    ck_assert_ptr_nonnull(strstr(b, "\"version\"")); /* the whole body came */
    ck_assert_int_eq(r.end, END_EOF);
    free(cl);
    raw_close(&r);
}
END_TEST

START_TEST(slow_answer_trickles_without_blocking) {
    faults("{\"slow\":1,\"slow_bps\":400}");
    raw r;
    raw_start_get(&r, &g_m, "/version", 0);
    raw_read(&r, 20); /* the first bytes arrive ... */
    ck_assert_uint_lt(r.len, 100);
    /* ... while another connection is served at full speed */
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes", NULL, NULL), 200);
    raw_read(&r, 0);
    ck_assert_int_eq(raw_status(&r), 200);
    size_t n;
    const char *b = raw_body(&r, &n);
    ck_assert_ptr_nonnull(strstr(b, "\"version\""));
    ck_assert_int_ge(r.reads, 20); /* 4 bytes every 10 ms: many small records */
    ck_assert_int_eq(r.end, END_NOTIFY);
    raw_close(&r);
}
END_TEST

START_TEST(slow_body_only) {
    faults("{\"slow\":1,\"slow_bps\":500,\"slow_body_only\":true}");
    raw r;
    raw_start_get(&r, &g_m, "/version", 0);
    while (!r.data || !strstr(r.data, "\r\n\r\n"))
        raw_read(&r, r.len + 1);
    /* the headers come at full speed, the body trickles: little of it is here yet */
    size_t n;
    raw_body(&r, &n);
    ck_assert_uint_lt(n, 20);
    raw_read(&r, 0);
    ck_assert_int_ge(r.reads, 10);
    raw_close(&r);
}
END_TEST

START_TEST(reset_accept_then_accept) {
    long before = mock_stat(&g_m, "accepted_total");
    faults("{\"reset_accept\":1}");
    raw r;
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_RESET);
    ck_assert_uint_eq(r.len, 0);
    raw_close(&r);
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(raw_status(&r), 200);
    raw_close(&r);
    ck_assert_int_eq(mock_stat(&g_m, "accepted_total") - before, 2);
    ck_assert_int_eq(mock_count_requests(&g_m, NULL, NULL), 1); /* the reset one sent none */
}
END_TEST

/* ---- substitute answers ------------------------------------------------------------------- */

START_TEST(status_595_596_empty) {
    faults("{\"fail_5xx\":1,\"fail_status\":595}");
    raw r;
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(raw_status(&r), 595);
    char *reason = raw_reason(&r), *cl = raw_header(&r, "Content-Length"),
         *ct = raw_header(&r, "Content-Type"), *conn = raw_header(&r, "Connection");
    ck_assert_str_eq(reason, "No route to host");
    ck_assert_ptr_null(cl);
    ck_assert_ptr_null(ct);
    ck_assert_str_eq(conn, "close");
    size_t n;
    raw_body(&r, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(r.end, END_NOTIFY);
    free(reason), free(cl), free(ct), free(conn);
    raw_close(&r);
    faults("{\"fail_5xx\":1,\"fail_status\":596}");
    raw_get(&r, &g_m, "/version");
    assert_reason(&r, 596, "Connection timed out");
    raw_close(&r);
}
END_TEST

START_TEST(status_503_retry_after_then_success) {
    faults("{\"fail_5xx\":2,\"fail_status\":503,\"retry_after\":7}");
    for (int i = 0; i < 2; i++) {
        raw r;
        raw_get(&r, &g_m, "/version");
        ck_assert_int_eq(raw_status(&r), 503);
        char *ra = raw_header(&r, "Retry-After");
        ck_assert_str_eq(ra, "7");
        size_t n;
        const char *b = raw_body(&r, &n);
        ck_assert_ptr_nonnull(strstr(b, "\"message\":\"mock fault\\n\""));
        free(ra);
        raw_close(&r);
    }
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, &body), 200);
    free(body);
    ck_assert_int_eq(mock_count_requests(&g_m, "GET", "/api2/json/version"), 3);
    faults("{\"fail_5xx\":1,\"fail_status\":502,\"fail_reason\":\"Bad Gateway\"}");
    raw r;
    raw_get(&r, &g_m, "/version");
    assert_reason(&r, -1, "Bad Gateway");
    raw_close(&r);
}
END_TEST

START_TEST(lock_timeout_500) {
    long tasks = mock_stat(&g_m, "tasks");
    faults("{\"lock_timeout\":1}");
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu/101/status/start", "", &body),
                     500);
    ck_assert_ptr_nonnull(strstr(body, "can't lock file '/var/lock/qemu-server/lock-101.conf' - got "
                                       "timeout\\n"));
    free(body);
    faults("{\"lock_timeout\":1}");
    raw r;
    raw_get(&r, &g_m, "/version");
    assert_reason(&r, -1, "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout");
    raw_close(&r);
    /* the handler did not run: no task started */
    ck_assert_int_eq(mock_stat(&g_m, "tasks"), tasks);
}
END_TEST

START_TEST(fault_filter_by_path_and_method) {
    faults("{\"fail_5xx\":-1,\"fail_status\":503,\"match_path\":\"/nodes\",\"match_method\":\"GET\"}");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes", NULL, NULL), 503);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid=abc", NULL), 400);
    faults("{\"match_path\":null,\"match_method\":null}");
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 503);
    mock_reset(&g_m);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
}
END_TEST

/* ---- answer shapes ------------------------------------------------------------------------ */

START_TEST(wrong_type_scalar_and_member) {
    faults("{\"wrong_type\":1}");
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes", NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data"))); /* array → string */
    cJSON_Delete(j);
    free(body);
    faults("{\"wrong_type\":1,\"wrong_type_member\":true}");
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes", NULL, &body), 200);
    j = cJSON_Parse(body);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "data"), 0);
    ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(first, "cpu"))); /* its first number */
    cJSON_Delete(j);
    free(body);
    faults("{\"wrong_type\":1}");
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/access/ticket", NULL, &body), 200);
    j = cJSON_Parse(body); /* null → object */
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "data")));
    cJSON_Delete(j);
    free(body);
}
END_TEST

START_TEST(malformed_and_header_bytes) {
    faults("{\"malformed\":1}");
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes", NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    ck_assert_ptr_null(j);
    free(body);
    faults("{\"header_bytes\":1,\"header_size\":20000}");
    raw r;
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(raw_status(&r), 200);
    char *pad = raw_header(&r, "X-Mock-Padding");
    ck_assert_ptr_nonnull(pad);
    ck_assert_uint_eq(strlen(pad), 20000);
    free(pad);
    raw_close(&r);
}
END_TEST

START_TEST(reason_with_control_chars) {
    faults("{\"reason_ctl\":1}");
    raw r;
    raw_get(&r, &g_m, "/no/such/path");
    ck_assert_int_eq(raw_status(&r), 501);
    char *reason = raw_reason(&r);
    ck_assert_ptr_nonnull(strchr(reason, '\x1b'));
    ck_assert_ptr_nonnull(strchr(reason, '\x07'));
    ck_assert_ptr_nonnull(strstr(reason, "not implemented"));
    free(reason);
    raw_close(&r);
}
END_TEST

/* ---- login and ticket faults -------------------------------------------------------------- */

/* POST /access/ticket over a raw connection; returns the raw answer in r. */
static void login_raw(raw *r, const char *user, const char *password, const char *extra) {
    char form[1024], *req = NULL;
    snprintf(form, sizeof form, "username=%s&password=%s%s", user, password, extra ? extra : "");
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/access/ticket HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/x-www-form-urlencoded\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                              strlen(form), form),
                     0);
    raw_exchange(r, g_m.url, req, strlen(req));
    free(req);
}

static char *login_field(const raw *r, const char *k) {
    size_t n;
    cJSON *j = cJSON_Parse(raw_body(r, &n));
    const char *v = jstr(cJSON_GetObjectItemCaseSensitive(j, "data"), k);
    char *s = v ? strdup(v) : NULL;
    cJSON_Delete(j);
    return s;
}

/* A ticket of the mock's user, from a login over a raw connection (caller frees). */
static char *login_ticket(void) {
    raw r;
    login_raw(&r, g_m.user, g_m.password, NULL);
    char *ticket = login_field(&r, "ticket");
    ck_assert_ptr_nonnull(ticket);
    raw_close(&r);
    return ticket;
}

START_TEST(login_refuse_loop) {
    faults("{\"login_refuse\":2}");
    for (int i = 0; i < 2; i++) {
        raw r;
        login_raw(&r, g_m.user, g_m.password, NULL);
        ck_assert_int_eq(raw_status(&r), 401);
        size_t n;
        ck_assert_ptr_nonnull(strstr(raw_body(&r, &n), "authentication failure"));
        raw_close(&r);
    }
    raw r;
    login_raw(&r, g_m.user, g_m.password, NULL);
    ck_assert_int_eq(raw_status(&r), 200);
    raw_close(&r);
    ck_assert_int_eq(mock_stat(&g_m, "logins"), 1);
}
END_TEST

START_TEST(ticket_refused_after_login) {
    raw r;
    char *ticket = login_ticket();
    faults("{\"ticket_refuse\":-1}");
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req, "GET /api2/json/version HTTP/1.1\r\nHost: x\r\n"
                                    "Cookie: PVEAuthCookie=%s\r\n\r\n", ticket), 0);
    for (int i = 0; i < 2; i++) {
        raw_exchange(&r, g_m.url, req, strlen(req));
        assert_reason(&r, 401, "Authentication failed!");
        raw_close(&r);
    }
    /* a token is not a ticket */
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version", NULL, NULL), 200);
    cJSON *e = last_log_entry(&g_m);
    ck_assert_str_eq(jstr(e, "auth"), "token");
    cJSON_Delete(e);
    free(req);
    free(ticket);
}
END_TEST

/* GET /version with the given header lines; the status, and the reason in *reason. */
static int auth_headers_status(const char *headers, char **reason) {
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req, "GET /api2/json/version HTTP/1.1\r\nHost: x\r\n%s"
                                    "Connection: close\r\n\r\n", headers), 0);
    raw r;
    raw_exchange(&r, g_m.url, req, strlen(req));
    free(req);
    int st = raw_status(&r);
    if (reason)
        *reason = raw_reason(&r);
    raw_close(&r);
    return st;
}

START_TEST(auth_header_forms) {
    char *ticket = login_ticket();
    char *h = NULL, *why = NULL;
    /* PVE's extract_auth_value: /(?:^|\s)NAME(?:=| )([^;]*)/ */
    ck_assert_int_gt(asprintf(&h, "Cookie: PVEAuthCookie %s\r\n", ticket), 0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200); /* a space after the name */
    free(h);
    ck_assert_int_gt(asprintf(&h, "Cookie: a=b;\tPVEAuthCookie=%s\r\n", ticket), 0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200);
    free(h);
    ck_assert_int_gt(asprintf(&h, "Authorization: Foo PVEAuthCookie=%s\r\n", ticket), 0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200); /* after whitespace in Authorization */
    free(h);
    ck_assert_int_gt(asprintf(&h, "Authorization: Bearer PVEAPIToken=%s\r\n", g_m.token), 0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200);
    free(h);
    ck_assert_int_gt(asprintf(&h, "Authorization: XPVEAPIToken=%s\r\n", g_m.token), 0);
    ck_assert_int_eq(auth_headers_status(h, &why), 401); /* not after whitespace */
    ck_assert_str_eq(why, "No ticket");
    free(why), free(h);
    /* an empty ticket is no ticket: the token in Authorization is used */
    ck_assert_int_gt(asprintf(&h, "Cookie: PVEAuthCookie=\r\nAuthorization: PVEAPIToken=%s\r\n",
                              g_m.token), 0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200);
    free(h);
    ck_assert_int_gt(asprintf(&h, "Authorization: PVEAuthCookie=; PVEAPIToken=%s\r\n", g_m.token),
                     0);
    ck_assert_int_eq(auth_headers_status(h, NULL), 200);
    free(h);
    /* the first match counts, even when empty */
    ck_assert_int_gt(asprintf(&h, "Cookie: PVEAuthCookie=; PVEAuthCookie=%s\r\n", ticket), 0);
    ck_assert_int_eq(auth_headers_status(h, &why), 401);
    ck_assert_str_eq(why, "No ticket");
    free(why), free(h);
    free(ticket);
}
END_TEST

/* POST path with a form and no credentials at all; the status. */
static int post_noauth(const char *path, const char *form) {
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json%s HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/x-www-form-urlencoded\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                              path, strlen(form), form), 0);
    raw r;
    raw_exchange(&r, g_m.url, req, strlen(req));
    free(req);
    int st = raw_status(&r);
    raw_close(&r);
    return st;
}

START_TEST(noauth_vncticket_openid) {
    /* pve-manager's auth_handler lets these through without a ticket or token */
    ck_assert_int_eq(post_noauth("/access/vncticket",
                                 "authid=root%40pam&vncticket=PVEVNC%3Ax&path=%2Fvms%2F100"
                                 "&privs=VM.Console"), 200);
    ck_assert_int_eq(post_noauth("/access/openid/auth-url",
                                 "realm=oidc&redirect-url=https%3A%2F%2Fx"), 200);
    ck_assert_int_eq(post_noauth("/access/openid/login",
                                 "state=s&code=c&redirect-url=https%3A%2F%2Fx"), 200);
    /* their GET neighbours and the rest still need one */
    ck_assert_int_eq(post_noauth("/access/openid", ""), 401);
    ck_assert_int_eq(post_noauth("/nodes/pve1/qemu/100/vncproxy", ""), 401);
}
END_TEST

START_TEST(need_tfa_and_tfa_loop) {
    faults("{\"need_tfa\":1,\"tfa_loop\":1}");
    raw r;
    login_raw(&r, g_m.user, g_m.password, NULL);
    ck_assert_int_eq(raw_status(&r), 200);
    char *half = login_field(&r, "ticket");
    ck_assert_ptr_nonnull(strstr(r.data, "\"NeedTFA\":1"));
    raw_close(&r);
    for (int step = 0; step < 2; step++) {
        char code[7], extra[1024], *esc = curl_easy_escape(NULL, half, 0);
        test_totp(g_m.totp_secret, (long)time(NULL), code);
        snprintf(extra, sizeof extra, "&tfa-challenge=%s", esc);
        curl_free(esc);
        char pw[32];
        snprintf(pw, sizeof pw, "totp%%3A%s", code);
        login_raw(&r, g_m.user, pw, extra);
        ck_assert_int_eq(raw_status(&r), 200);
        free(half);
        half = login_field(&r, "ticket");
        if (step == 0) /* the loop: NeedTFA once more after a valid second factor */
            ck_assert_ptr_nonnull(strstr(r.data, "\"NeedTFA\":1"));
        else
            ck_assert_ptr_null(strstr(r.data, "NeedTFA"));
        raw_close(&r);
    }
    ck_assert_int_eq(strncmp(half, "PVE:root@pam:", 13), 0);
    free(half);
}
END_TEST

START_TEST(login_duplicate_members) {
    faults("{\"login_dup\":1}");
    raw r;
    login_raw(&r, g_m.user, g_m.password, NULL);
    ck_assert_int_eq(raw_status(&r), 200);
    size_t n;
    const char *b = raw_body(&r, &n);
    const char *t1 = strstr(b, "\"ticket\":"), *t2 = t1 ? strstr(t1 + 1, "\"ticket\":") : NULL;
    const char *c1 = strstr(b, "\"CSRFPreventionToken\":");
    const char *c2 = c1 ? strstr(c1 + 1, "\"CSRFPreventionToken\":") : NULL;
    ck_assert_ptr_nonnull(t2);
    ck_assert_ptr_nonnull(c2);
    raw_close(&r);
}
END_TEST

/* ---- task log faults ---------------------------------------------------------------------- */

static char *start_task(void) {
    char *body = NULL;
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu/101/status/stop", "", &body),
                     200);
    char *upid = data_string(body);
    free(body);
    return upid;
}

START_TEST(task_log_stale_and_dup) {
    char *upid = start_task();
    free(task_wait(&g_m, 0, "pve1", upid));
    faults("{\"task_log_stale\":2}");
    char path[512], *body = NULL;
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?start=2&limit=2", upid);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &body), 200);
        cJSON *j = cJSON_Parse(body);
        const cJSON *e, *d = cJSON_GetObjectItemCaseSensitive(j, "data");
        ck_assert_int_eq(cJSON_GetArraySize(d), 2); /* a full page ... */
        cJSON_ArrayForEach(e, d) ck_assert_int_le((int)jnum(e, "n"), 2); /* ... of old lines */
        cJSON_Delete(j);
        free(body);
    }
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    ck_assert_int_eq((int)jnum(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "data"), 0),
                               "n"),
                     3);
    cJSON_Delete(j);
    free(body);
    faults("{\"task_log_dup\":1}");
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?limit=1", upid);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &body), 200);
    const char *n1 = strstr(body, "\"n\":1"), *n2 = n1 ? strstr(n1 + 1, "\"n\":1") : NULL;
    ck_assert_ptr_nonnull(n2);
    free(body);
    free(upid);
}
END_TEST

/* ---- task endpoints as Tasks.pm ------------------------------------------------------------ */

/* An API call with the token; the status, and the parsed answer in *j (caller frees). */
static int api_json(const mock *m, const char *method, const char *path, cJSON **j) {
    char *body = NULL;
    int st = mock_api(m, 0, method, path, NULL, &body);
    *j = body ? cJSON_Parse(body) : NULL;
    ck_assert_msg(*j != NULL, "%s %s: no JSON answer (%d)", method, path, st);
    free(body);
    return st;
}

/* errors.upid of a 400 answer */
static void assert_upid_error(const char *method, const char *path, const char *want) {
    cJSON *j = NULL;
    ck_assert_int_eq(api_json(&g_m, method, path, &j), 400);
    const char *e = jstr(cJSON_GetObjectItemCaseSensitive(j, "errors"), "upid");
    ck_assert_msg(e && strcmp(e, want) == 0, "%s %s: errors.upid '%s', want '%s'", method, path,
                  e ? e : "(none)", want);
    cJSON_Delete(j);
}

START_TEST(task_status_and_unknown_tasks) {
    /* read_task_status: a token task's user is split into user and tokenid */
    char *upid = start_task(), path[512];
    free(task_wait(&g_m, 0, "pve1", upid));
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/status", upid);
    cJSON *j = NULL;
    ck_assert_int_eq(api_json(&g_m, "GET", path, &j), 200);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    ck_assert_str_eq(jstr(d, "user"), "root@pam");
    ck_assert_str_eq(jstr(d, "tokenid"), "mock");
    ck_assert_str_eq(jstr(d, "upid"), upid);
    cJSON_Delete(j);
    /* a task is found on its own node only: another node has no log file for it */
    snprintf(path, sizeof path, "/nodes/pve2/tasks/%s/status", upid);
    assert_upid_error("GET", path, "no such task");
    free(upid);

    /* well-formed, no task: raise_param_exc upid "no such task" (was 500) */
    const char *none = "UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:";
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/status", none);
    assert_upid_error("GET", path, "no such task");
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s", none);
    assert_upid_error("DELETE", path, "no such task");
    /* Perl's $ takes a final newline: it parses, and its file does not exist */
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s%%0A/status", none);
    assert_upid_error("GET", path, "no such task");
    /* malformed: "unable to parse worker upid", without the UPID; a node name as
     * PVE::UPID::decode takes it (letters, digits, inner '-') */
    const char *bad[] = {"UPID:bad", "UPID:pve_1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:",
                         "UPID:-pve1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/status", bad[i]);
        assert_upid_error("GET", path, "unable to parse worker upid");
        snprintf(path, sizeof path, "/nodes/pve1/tasks/%s", bad[i]);
        assert_upid_error("DELETE", path, "unable to parse worker upid");
        snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log", bad[i]);
        assert_upid_error("GET", path, "unable to parse worker upid");
    }

    /* the log of no task: dump_logfile's one line about the file it could not open */
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?start=3&limit=1", none);
    ck_assert_int_eq(api_json(&g_m, "GET", path, &j), 200);
    ck_assert_int_eq((int)jnum(j, "total"), 1);
    d = cJSON_GetObjectItemCaseSensitive(j, "data");
    ck_assert_int_eq(cJSON_GetArraySize(d), 1);
    ck_assert_int_eq((int)jnum(cJSON_GetArrayItem(d, 0), "n"), 1);
    ck_assert_str_eq(jstr(cJSON_GetArrayItem(d, 0), "t"),
                     "unable to open file - No such file or directory");
    cJSON_Delete(j);
    /* and its download dies opening /var/log/pve/tasks/<last STARTTIME digit>/<UPID> */
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?download=1", none);
    ck_assert_int_eq(api_json(&g_m, "GET", path, &j), 500);
    ck_assert_str_eq(jstr(j, "message"),
                     "Could not open file '/var/log/pve/tasks/2/"
                     "UPID:pve1:00001234:00ABCDEF:65F0A1B2:qmstart:100:root@pam:' - No such file "
                     "or directory\n");
    cJSON_Delete(j);
}
END_TEST

/* GET /nodes/pve1/tasks<query> on m: the number of items (and *total, *first the first item,
 * caller frees). */
static int list_tasks(const mock *m, const char *query, long *total, cJSON **first) {
    char path[512];
    snprintf(path, sizeof path, "/nodes/pve1/tasks%s", query);
    cJSON *j = NULL;
    ck_assert_int_eq(api_json(m, "GET", path, &j), 200);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    int n = cJSON_GetArraySize(d);
    if (total) { /* PVE leaves out a zero total */
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "total");
        *total = cJSON_IsNumber(t) ? (long)t->valuedouble : 0;
    }
    if (first)
        *first = n ? cJSON_Duplicate(cJSON_GetArrayItem(d, 0), 1) : NULL;
    cJSON_Delete(j);
    return n;
}

static void post_task(const mock *m, const char *path) {
    ck_assert_int_eq(mock_api(m, 0, "POST", path, "", NULL), 200);
}

START_TEST(task_list_filters) {
    /* a mock of its own: a known set of tasks on pve1, one on pve2 */
    const char *args[] = {"--nodes", "2", "--task-ms", "0", "--quiet", NULL};
    mock m;
    ck_assert_int_eq(mock_start(&m, args), 0);
    post_task(&m, "/nodes/pve1/qemu/101/status/start");                 /* OK */
    mock_faults(&m, "{\"task_exitstatus\":\"WARNINGS: 1\"}");
    post_task(&m, "/nodes/pve1/qemu/101/status/stop");                  /* WARNINGS: 1 */
    mock_faults(&m, "{\"task_exitstatus\":\"boom\"}");
    post_task(&m, "/nodes/pve1/qemu/101/status/start");                 /* boom */
    mock_faults(&m, "{\"task_exitstatus\":\"\"}");
    post_task(&m, "/nodes/pve1/qemu/100/status/shutdown");              /* OK */
    post_task(&m, "/nodes/pve2/qemu/200/status/start");                 /* another node */
    mock_faults(&m, "{\"task_ms\":600000}");
    post_task(&m, "/nodes/pve1/qemu/101/status/start");                 /* running */

    /* source=archive by default: the 4 finished ones, from the index (user without the token
     * part, tokenid, endtime, exit status as status) */
    long total = 0;
    cJSON *first = NULL;
    ck_assert_int_eq(list_tasks(&m, "", &total, &first), 4);
    ck_assert_int_eq(total, 4);
    ck_assert_str_eq(jstr(first, "user"), "root@pam");
    ck_assert_str_eq(jstr(first, "tokenid"), "mock");
    ck_assert_str_eq(jstr(first, "status"), "OK");
    ck_assert(jnum(first, "endtime") >= jnum(first, "starttime"));
    long t0 = (long)jnum(first, "starttime");
    cJSON_Delete(first);
    /* limit=0 lists none, total still counts every match; start skips */
    ck_assert_int_eq(list_tasks(&m, "?limit=0", &total, NULL), 0);
    ck_assert_int_eq(total, 4);
    ck_assert_int_eq(list_tasks(&m, "?start=1&limit=2", &total, NULL), 2);
    ck_assert_int_eq(total, 4);
    ck_assert_int_eq(list_tasks(&m, "?start=3&limit=2", &total, NULL), 1);
    /* typefilter: exact; "0" is false to Perl (no filter) */
    ck_assert_int_eq(list_tasks(&m, "?typefilter=qmstart", &total, NULL), 2);
    ck_assert_int_eq(list_tasks(&m, "?typefilter=qm", &total, NULL), 0);
    ck_assert_int_eq(list_tasks(&m, "?typefilter=0", &total, NULL), 4);
    /* userfilter: case-insensitive substring of the user, the token part cut off in the index
     * (not in the active file) */
    ck_assert_int_eq(list_tasks(&m, "?userfilter=ROOT%40P", &total, NULL), 4);
    ck_assert_int_eq(list_tasks(&m, "?userfilter=mock", &total, NULL), 0);
    ck_assert_int_eq(list_tasks(&m, "?userfilter=mock&source=all", &total, NULL), 1);
    /* vmid; since/until on the start time */
    ck_assert_int_eq(list_tasks(&m, "?vmid=101", &total, NULL), 3);
    char q[128];
    snprintf(q, sizeof q, "?since=%ld", t0 + 100);
    ck_assert_int_eq(list_tasks(&m, q, &total, NULL), 0);
    snprintf(q, sizeof q, "?until=%ld", t0 - 100);
    ck_assert_int_eq(list_tasks(&m, q, &total, NULL), 0);
    snprintf(q, sizeof q, "?since=%ld&until=%ld", t0 - 100, t0 + 100);
    ck_assert_int_eq(list_tasks(&m, q, &total, NULL), 4);
    /* statusfilter: ok, warning, error, unknown (any case; a running task is unknown) */
    ck_assert_int_eq(list_tasks(&m, "?statusfilter=ok", &total, NULL), 2);
    ck_assert_int_eq(list_tasks(&m, "?statusfilter=warning,ERROR", &total, NULL), 2);
    ck_assert_int_eq(list_tasks(&m, "?statusfilter=ok%00error", &total, NULL), 3);
    ck_assert_int_eq(list_tasks(&m, "?statusfilter=unknown", &total, NULL), 0);
    ck_assert_int_eq(list_tasks(&m, "?statusfilter=unknown&source=all", &total, NULL), 1);
    cJSON *j = NULL;
    ck_assert_int_eq(api_json(&m, "GET", "/nodes/pve1/tasks?statusfilter=ok,running", &j), 400);
    ck_assert_str_eq(jstr(cJSON_GetObjectItemCaseSensitive(j, "errors"), "statusfilter"),
                     "invalid format - invalid status 'running'\n");
    cJSON_Delete(j);
    /* errors=1 turns ok off, and statusfilter is ignored then */
    ck_assert_int_eq(list_tasks(&m, "?errors=1", &total, NULL), 2);
    ck_assert_int_eq(list_tasks(&m, "?errors=1&statusfilter=ok", &total, NULL), 2);
    ck_assert_int_eq(list_tasks(&m, "?errors=1&source=all", &total, NULL), 3);
    /* active: the running task, status RUNNING, its user as in the UPID; all: running first */
    ck_assert_int_eq(list_tasks(&m, "?source=active", &total, &first), 1);
    ck_assert_int_eq(total, 1);
    ck_assert_str_eq(jstr(first, "status"), "RUNNING");
    ck_assert_str_eq(jstr(first, "user"), "root@pam!mock");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(first, "tokenid"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(first, "endtime"));
    cJSON_Delete(first);
    ck_assert_int_eq(list_tasks(&m, "?source=all&limit=2", &total, &first), 2);
    ck_assert_int_eq(total, 5);
    ck_assert_str_eq(jstr(first, "status"), "RUNNING");
    cJSON_Delete(first);
    ck_assert_int_eq(mock_stop_status(&m), 0);
}
END_TEST

/* ---- the HTTP layer ----------------------------------------------------------------------- */

START_TEST(http_layer_refusals) {
    raw r;
    const char *head = "HEAD /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_exchange(&r, g_m.url, head, strlen(head));
    assert_reason(&r, 501, "method 'HEAD' not available");
    raw_close(&r);
    const char *bad = "GARBAGE\r\n\r\n";
    raw_exchange(&r, g_m.url, bad, strlen(bad));
    ck_assert_int_eq(raw_status(&r), 400);
    raw_close(&r);
    const char *v2 = "GET /api2/json/version HTTP/2.0\r\n\r\n";
    raw_exchange(&r, g_m.url, v2, strlen(v2));
    ck_assert_int_eq(raw_status(&r), 506);
    raw_close(&r);
    const char *chunked = "POST /api2/json/nodes/pve1/qemu HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n5\r\nvmid=\r\n0\r\n\r\n";
    raw_exchange(&r, g_m.url, chunked, strlen(chunked));
    assert_reason(&r, 501, "chunked transfer encoding not supported");
    raw_close(&r);
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req, "GET /api2/json/version HTTP/1.1\r\nAuthorization: "
                                    "PVEAPIToken=%s\r\nContent-Length: 3\r\n\r\nabc", g_m.token), 0);
    raw_exchange(&r, g_m.url, req, strlen(req));
    assert_reason(&r, 501, "Unexpected content for method 'GET'");
    free(req);
    raw_close(&r);
}
END_TEST

/* errors.<param> of an answer body, or NULL (malloc'd). */
static char *param_error(const char *body, const char *param) {
    cJSON *j = cJSON_Parse(body);
    const char *s = jstr(cJSON_GetObjectItemCaseSensitive(j, "errors"), param);
    char *out = s ? strdup(s) : NULL;
    cJSON_Delete(j);
    return out;
}

START_TEST(form_nul_never_truncates) {
    char *body = NULL, *err;
    /* a -list format splits on NUL (PVE split_list): the pieces are its items */
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/vzdump", "vmid=100%00101", &body), 200);
    ck_assert_msg(strstr(body, ":vzdump:100,101:") != NULL, "%s", body);
    free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "PUT", "/nodes/pve1/qemu/100/config",
                              "delete=net0%00ide2", &body), 200);
    free(body);
    /* anywhere else the value is refused whole, never cut at the NUL */
    ck_assert_int_eq(mock_api(&g_m, 0, "PUT", "/nodes/pve1/qemu/100/config",
                              "description=abc%00def", &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, "description"));
    ck_assert_str_eq(err, "value contains a NUL byte (%00)");
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid=170&name=a%00b", &body),
                     400);
    ck_assert_ptr_nonnull(err = param_error(body, "name"));
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes/pve1/qemu/100/config?node=pve1%00x", NULL,
                              &body), 400);
    free(body);
    /* a name with NUL is no known parameter */
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid%00x=171", &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, "vmid%00x"));
    free(err), free(body);
}
END_TEST

START_TEST(pve_texts_and_form_pieces) {
    char *body = NULL, *err;
    /* pve-manager rest_handler: a body/query value against a path parameter */
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes/pve1/qemu?node=pve2", NULL, &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, "node"));
    ck_assert_str_eq(err, "duplicate parameter (already defined in URI) with conflicting values!");
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/nodes/pve1/network?node=pve2", NULL, &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, "node"));
    ck_assert_str_eq(err, "duplicate parameter (already defined in URI) with conflicting values!");
    free(err), free(body);
    /* a token on an allowtoken=0 method: raise_perm_exc's text, a newline inside */
    ck_assert_int_eq(mock_api(&g_m, 0, "PUT", "/access/password",
                              "userid=root%40pam&password=xxxxxxxx", &body), 403);
    cJSON *j = cJSON_Parse(body);
    ck_assert_str_eq(jstr(j, "message"), "Permission check failed (URI '/access/password' not "
                                         "available with API token, need proper ticket.\n)\n");
    cJSON_Delete(j);
    free(body);
    /* decode_urlencoded: "k=" is undef and replaces an earlier value; "k==x" is ""; "=v" is
     * a parameter named "" */
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid=172&vmid=", &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, "vmid"));
    ck_assert_str_eq(err, "property is missing and it is not optional");
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "POST", "/nodes/pve1/qemu", "vmid=173&cores==4", &body),
                     400);
    ck_assert_ptr_nonnull(err = param_error(body, "cores"));
    ck_assert_str_eq(err, "type check ('integer') failed - got ''");
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version?=v", NULL, &body), 400);
    ck_assert_ptr_nonnull(err = param_error(body, ""));
    free(err), free(body);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", "/version?_dc=&x=", NULL, NULL), 200);
}
END_TEST

START_TEST(header_limit_drops_request) {
    char *req = malloc(64 * 32 + 256), *p = req;
    p += sprintf(p, "GET /api2/json/version HTTP/1.1\r\n");
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "X-H%d: v\r\n", i);
    p += sprintf(p, "\r\n");
    raw r;
    raw_exchange(&r, g_m.url, req, (size_t)(p - req));
    ck_assert_uint_eq(r.len, 0); /* pveproxy answers nothing */
    ck_assert(r.end == END_EOF || r.end == END_RESET);
    raw_close(&r);
    free(req);
}
END_TEST

/* GET with a request line of `len` bytes (the _dc value pads it), sent in `pieces` writes
 * 100 ms apart; the status of the answer, 0 when the connection ended without one. */
static int long_line_status(size_t len, int pieces) {
    const char *pre = "GET /api2/json/cluster/resources?type=vm&_dc=", *post = " HTTP/1.1";
    size_t pad = len - strlen(pre) - strlen(post);
    char *tail = NULL;
    ck_assert_int_gt(asprintf(&tail, "%s\r\nHost: x\r\nAuthorization: PVEAPIToken=%s\r\n"
                                     "Connection: close\r\n\r\n", post, g_m.token), 0);
    size_t n = strlen(pre) + pad + strlen(tail);
    char *req = malloc(n + 1);
    strcpy(req, pre);
    memset(req + strlen(pre), '1', pad);
    strcpy(req + strlen(pre) + pad, tail);
    free(tail);
    raw r;
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    size_t step = (n + (size_t)pieces - 1) / (size_t)pieces;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        if (SSL_write(r.ssl, req + off, (int)k) != (int)k)
            break; /* the mock closed: the read below says how */
        if (pieces > 1)
            usleep(100000);
    }
    free(req);
    raw_read(&r, 0);
    int st = r.len ? raw_status(&r) : 0;
    raw_close(&r);
    return st;
}

START_TEST(request_line_limit_own) {
    /* pveproxy: the request line is limited by its read buffer (512 KiB + 8 KiB), not by the
     * 8 KiB of header lines; how the bytes arrive changes nothing */
    ck_assert_int_eq(long_line_status(30000, 1), 200);
    ck_assert_int_eq(long_line_status(30000, 3), 200);
    ck_assert_int_eq(long_line_status(100000, 1), 200);
    ck_assert_int_eq(long_line_status(100000, 7), 200);
    ck_assert_int_eq(long_line_status(512 * 1024 + 8 * 1024, 1), 200);
    ck_assert_int_eq(long_line_status(512 * 1024 + 8 * 1024, 5), 200);
    ck_assert_int_eq(long_line_status(512 * 1024 + 8 * 1024 + 1, 1), 0); /* dropped, unanswered */
    ck_assert_int_eq(long_line_status(600 * 1024, 4), 0);
}
END_TEST

START_TEST(expect_continue_unanswered_and_pipelining) {
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/pve1/qemu HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: PVEAPIToken=%s\r\nExpect: 100-continue\r\n"
                              "Content-Type: application/x-www-form-urlencoded\r\n"
                              "Content-Length: 8\r\n\r\nvmid=abc"
                              "GET /api2/json/version HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: PVEAPIToken=%s\r\nConnection: close\r\n\r\n",
                              g_m.token, g_m.token),
                     0);
    raw r;
    raw_exchange(&r, g_m.url, req, strlen(req));
    free(req);
    ck_assert_ptr_null(strstr(r.data, "100 Continue"));
    ck_assert_int_eq(raw_status(&r), 400); /* the first answer; a 400 closes the connection */
    raw_close(&r);
    const char *two = "GET /api2/json/access/domains HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /api2/json/access/domains HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    raw_exchange(&r, g_m.url, two, strlen(two));
    const char *a = strstr(r.data, "HTTP/1.1 200 OK"), *b = a ? strstr(a + 1, "HTTP/1.1 200 OK") : 0;
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(r.end, END_NOTIFY);
    raw_close(&r);
}
END_TEST

/* ---- uploads ------------------------------------------------------------------------------ */

START_TEST(upload_checksum_ok_and_listed) {
    char *f = tmp_file("ok");
    make_file(f, (3u << 20) + 4321); /* 3 MiB with a 1 MiB run of zeros */
    char sum[129], *body = NULL;
    file_hash(f, "sha256", sum);
    ck_assert_int_eq(upload(&g_m, 0, "pve1", f, "iso", "a b.iso", "sha256", sum, &body), 200);
    char *upid = data_string(body);
    free(body);
    ck_assert_ptr_nonnull(strstr(upid, ":imgcopy::"));
    char *es = task_wait(&g_m, 0, "pve1", upid);
    ck_assert_str_eq(es, "OK");
    free(es);
    /* the name is normalized like pve-storage does it */
    ck_assert_int_eq((long)content_size(&g_m, 0, "pve1", "local:iso/a_b.iso"), (3 << 20) + 4321);
    cJSON *log = mock_request_log(&g_m, 0);
    const cJSON *e = cJSON_GetArrayItem(log, 0);
    ck_assert_str_eq(jstr(e, "path"), "/api2/json/nodes/pve1/storage/local/upload");
    ck_assert_int_eq((int)jnum(e, "status"), 200);
    ck_assert_int_gt((long)jnum(e, "bytes_in"), (3 << 20) + 4321);
    cJSON_Delete(log);
    /* the task log tells what PVE's tells */
    char path[512];
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?limit=0", upid);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "calculating checksum...OK, checksum verified"));
    ck_assert_ptr_nonnull(strstr(body, "target file: /var/lib/vz/template/iso/a_b.iso"));
    ck_assert_ptr_nonnull(strstr(body, "finished file import successfully"));
    free(body);
    free(upid);
    unlink(f);
    free(f);
}
END_TEST

START_TEST(upload_checksum_mismatch) {
    char *f = tmp_file("bad");
    make_file(f, 200000);
    char sum[129], *body = NULL;
    file_hash(f, "sha256", sum);
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    ck_assert_int_eq(upload(&g_m, 0, "pve1", f, "iso", "bad.iso", "sha256", wrong, &body), 200);
    char *upid = data_string(body);
    free(body);
    char *es = task_wait(&g_m, 0, "pve1", upid), want[512];
    snprintf(want, sizeof want, "checksum mismatch: got '%s' != expect '%s'", sum, wrong);
    ck_assert_str_eq(es, want);
    ck_assert_int_eq((int)content_size(&g_m, 0, "pve1", "local:iso/bad.iso"), -1);
    free(es);
    free(upid);
    unlink(f);
    free(f);
}
END_TEST

START_TEST(upload_every_algorithm) {
    faults("{\"task_ms\":0}");
    static const char *const algos[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"};
    char *f = tmp_file("algo");
    make_file(f, 70000);
    for (size_t i = 0; i < 6; i++) {
        char sum[129], name[64], *body = NULL;
        file_hash(f, algos[i], sum);
        for (char *p = sum; *p; p++) /* PVE compares without case */
            *p = (char)toupper((unsigned char)*p);
        snprintf(name, sizeof name, "t-%s.tar.gz", algos[i]);
        ck_assert_int_eq(upload(&g_m, 0, "pve1", f, "vztmpl", name, algos[i], sum, &body), 200);
        char *upid = data_string(body);
        char *es = task_wait(&g_m, 0, "pve1", upid);
        ck_assert_msg(strcmp(es, "OK") == 0, "%s: %s", algos[i], es);
        char volid[128];
        snprintf(volid, sizeof volid, "local:vztmpl/%s", name);
        ck_assert_int_eq((int)content_size(&g_m, 0, "pve1", volid), 70000);
        free(es), free(upid), free(body);
    }
    unlink(f);
    free(f);
}
END_TEST

START_TEST(upload_is_sparse_on_disk) {
    faults("{\"task_ms\":0}");
    char *f = tmp_file("sparse");
    FILE *fp = fopen(f, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 8 << 20, SEEK_SET), 0); /* 8 MiB of zeros, then 5 bytes */
    fputs("tail!", fp);
    fclose(fp);
    char *body = NULL;
    ck_assert_int_eq(upload(&g_m, 0, "pve1", f, "import", "disk.raw", NULL, NULL, &body), 200);
    char *upid = data_string(body);
    char *es = task_wait(&g_m, 0, "pve1", upid);
    ck_assert_str_eq(es, "OK");
    ck_assert_int_eq((long)content_size(&g_m, 0, "pve1", "local:import/disk.raw"), (8 << 20) + 5);
    /* the stored file: <upload-dir>/pve-mock-XXXXXX/volume-N */
    struct stat st;
    ck_assert_int_ge(updir_files("volume-", (8 << 20) + 5, &st), 1);
    ck_assert_int_lt((long)st.st_blocks * 512, 1 << 20); /* holes, not zeros */
    free(es), free(upid), free(body);
    unlink(f);
    free(f);
}
END_TEST

/* A hand-made multipart body to the upload URL; returns the raw answer. */
static void upload_raw(raw *r, const char *node, const char *ctype, const char *body) {
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/%s/storage/local/upload HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: PVEAPIToken=%s\r\nContent-Type: %s\r\n"
                              "Content-Length: %zu\r\n\r\n%s",
                              node, g_m.token, ctype, strlen(body), body),
                     0);
    raw_exchange(r, g_m.url, req, strlen(req));
    free(req);
}

#define MP "multipart/form-data; boundary=XyZ"
#define PART(name, value) "--XyZ\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" value "\r\n"
#define FILEPART(field, fname) \
    "--XyZ\r\nContent-Disposition: form-data; name=\"" field "\"; filename=\"" fname "\"\r\n" \
    "Content-Type: application/octet-stream\r\n\r\n"

START_TEST(upload_multipart_rules) {
    raw r;
    /* pveproxy's order: content, checksum-algorithm, checksum, then the file */
    upload_raw(&r, "pve1", MP,
               PART("checksum-algorithm", "md5") PART("content", "iso") PART("checksum", "x")
                   FILEPART("filename", "a.iso") "DATA\r\n--XyZ--\r\n");
    /* pveproxy dies with "wrong Content-Disposition 'form-data; name=\"checksum-algorithm\"\r\n…";
     * a reason phrase with a CR in it becomes 400 "Bad Request" with an empty body */
    assert_reason(&r, 400, "Bad Request");
    size_t blen;
    raw_body(&r, &blen);
    ck_assert_uint_eq(blen, 0);
    raw_close(&r);
    /* the same with bare LF line ends: the message's first line is the reason */
    upload_raw(&r, "pve1", MP,
               "--XyZ\nContent-Disposition: form-data; name=\"checksum\"\n\nx\n"
               "--XyZ\nContent-Disposition: form-data; name=\"content\"\n\niso\n"
               "--XyZ\nContent-Disposition: form-data; name=\"filename\"; filename=\"a.iso\"\n"
               "Content-Type: application/octet-stream\n\nDATA\n--XyZ--\n");
    assert_reason(&r, 500, "wrong Content-Disposition 'form-data; name=\"checksum\"");
    raw_close(&r);
    /* the file field must be called filename */
    upload_raw(&r, "pve1", MP, PART("content", "iso") FILEPART("file", "a.iso") "D\r\n--XyZ--\r\n");
    assert_reason(&r, 500, "wrong field name 'file' for file upload, expected 'filename' at "
                           "/usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1325.");
    raw_close(&r);
    /* no close delimiter: the body ends before the upload does */
    upload_raw(&r, "pve1", MP, PART("content", "iso") FILEPART("filename", "a.iso") "DATA");
    assert_reason(&r, 500, "upload failed at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1370.");
    raw_close(&r);
    /* not multipart */
    upload_raw(&r, "pve1", "application/x-www-form-urlencoded", "content=iso&filename=a.iso");
    ck_assert_int_eq(raw_status(&r), 501);
    raw_close(&r);
    /* a parameter the method checks: the extension */
    upload_raw(&r, "pve1", MP, PART("content", "iso") FILEPART("filename", "a.txt") "D\r\n--XyZ--\r\n");
    ck_assert_int_eq(raw_status(&r), 400);
    ck_assert_ptr_nonnull(strstr(r.data, "\"filename\":\"wrong file extension\""));
    raw_close(&r);
    /* a good one, with the data bytes exactly as sent (CRLF inside the file kept) */
    upload_raw(&r, "pve1", MP,
               PART("content", "iso") FILEPART("filename", "ok.iso") "AB\r\n\r\nCD\r\n--XyZ--\r\n");
    ck_assert_int_eq(raw_status(&r), 200);
    char *conn = raw_header(&r, "Connection");
    ck_assert_str_eq(conn, "close"); /* pveproxy: no keep-alive after an upload */
    free(conn);
    size_t n;
    char *upid = data_string(raw_body(&r, &n));
    raw_close(&r);
    char *es = task_wait(&g_m, 0, "pve1", upid);
    ck_assert_str_eq(es, "OK");
    ck_assert_int_eq((int)content_size(&g_m, 0, "pve1", "local:iso/ok.iso"), 8);
    free(es);
    free(upid);
}
END_TEST

START_TEST(upload_auth_and_node) {
    raw r;
    /* to another node than the one this listener serves */
    upload_raw(&r, "pve2", MP, PART("content", "iso") FILEPART("filename", "a.iso") "D\r\n--XyZ--\r\n");
    assert_reason(&r, 500, "unable to proxy file uploads at /usr/share/perl5/PVE/HTTPServer.pm "
                             "line 185.");
    raw_close(&r);
    /* chunked: refused before anything */
    const char *chunked = "POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: chunked\r\nContent-Type: " MP "\r\n\r\n"
                          "3\r\nabc\r\n0\r\n\r\n";
    raw_exchange(&r, g_m.url, chunked, strlen(chunked));
    ck_assert_int_eq(raw_status(&r), 501);
    raw_close(&r);
    /* a ticket without CSRF token is enough for an upload */
    char *ticket = login_ticket();
    const char *body = PART("content", "iso") FILEPART("filename", "t.iso") "T\r\n--XyZ--\r\n";
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\n"
                              "Host: x\r\nCookie: PVEAuthCookie=%s\r\nContent-Type: " MP "\r\n"
                              "Content-Length: %zu\r\n\r\n%s",
                              ticket, strlen(body), body),
                     0);
    raw_exchange(&r, g_m.url, req, strlen(req));
    ck_assert_int_eq(raw_status(&r), 200);
    raw_close(&r);
    free(req);
    free(ticket);
    /* no credentials at all */
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\n"
                              "Host: x\r\nContent-Type: " MP "\r\nContent-Length: %zu\r\n\r\n%s",
                              strlen(body), body),
                     0);
    raw_exchange(&r, g_m.url, req, strlen(req));
    ck_assert_int_eq(raw_status(&r), 401);
    raw_close(&r);
    free(req);
}
END_TEST

START_TEST(upload_aborted_by_client) {
    char *req = NULL;
    const char *part = PART("content", "iso") FILEPART("filename", "gone.iso") "some file bytes";
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\n"
                              "Authorization: PVEAPIToken=%s\r\nContent-Type: " MP "\r\n"
                              "Content-Length: 10000000\r\n\r\n%s",
                              g_m.token, part),
                     0);
    /* tasks of earlier tests still hold their upload files for a moment */
    for (int i = 0; i < 250 && updir_files("pveupload-", -1, NULL) > 0; i++)
        usleep(20000);
    raw r;
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    raw_send(&r, req, strlen(req));
    free(req);
    cJSON *e = NULL;
    for (int i = 0; i < 100 && updir_files("pveupload-", -1, NULL) == 0; i++)
        usleep(20000); /* the upload file exists while the body comes */
    ck_assert_int_eq(updir_files("pveupload-", -1, NULL), 1);
    raw_close(&r); /* the client goes away mid-body */
    for (int i = 0; i < 250; i++) {
        cJSON_Delete(e);
        e = last_log_entry(&g_m);
        if (jnum(e, "status") >= 0)
            break;
        usleep(20000);
    }
    ck_assert_int_eq((int)jnum(e, "status"), 0);
    ck_assert_str_eq(jstr(e, "fault"), "client_gone");
    ck_assert_int_eq((long)jnum(e, "bytes_in"), (long)strlen(part));
    cJSON_Delete(e);
    ck_assert_int_eq(updir_files("pveupload-", -1, NULL), 0); /* and its file is gone */
}
END_TEST

/* ---- downloads ---------------------------------------------------------------------------- */

START_TEST(download_streams_pattern) {
    faults("{\"download_size\":3145735}");
    raw r;
    char *req = get_req(&g_m, "/nodes/pve1/storage/local/file-restore/download?volume=x&filepath=Lw==",
                        1);
    raw_exchange(&r, g_m.url, req, strlen(req));
    free(req);
    ck_assert_int_eq(raw_status(&r), 200);
    char *cl = raw_header(&r, "Content-Length"), *conn = raw_header(&r, "Connection"),
         *ct = raw_header(&r, "Content-Type");
    ck_assert_ptr_null(cl);
    ck_assert_str_eq(conn, "Keep-Alive"); /* as pveproxy says it, before it closes */
    ck_assert_str_eq(ct, "application/octet-stream");
    size_t n;
    const unsigned char *b = (const unsigned char *)raw_body(&r, &n);
    ck_assert_uint_eq(n, 3145735);
    for (size_t i = 0; i < n; i++)
        if (b[i] != i % 251)
            ck_abort_msg("byte %zu is %d", i, b[i]);
    /* pveproxy's response_stream ends with push_shutdown: a FIN, no close_notify */
    ck_assert_int_eq(r.end, END_EOF);
    free(conn), free(ct);
    raw_close(&r);
    /* with Connection: close, finish_response disconnects: close_notify, then FIN */
    faults("{\"download_size\":1000}");
    raw_get(&r, &g_m, "/nodes/pve1/storage/local/file-restore/download?volume=x&filepath=Lw==");
    conn = raw_header(&r, "Connection");
    ck_assert_str_eq(conn, "close");
    free(conn);
    raw_body(&r, &n);
    ck_assert_uint_eq(n, 1000);
    ck_assert_int_eq(r.end, END_NOTIFY);
    raw_close(&r);
    /* cut mid-way: half the bytes, then FIN without close_notify */
    faults("{\"close_mid_response\":1,\"download_size\":3145735}");
    raw_get(&r, &g_m, "/nodes/pve1/storage/local/file-restore/download?volume=x&filepath=Lw==");
    raw_body(&r, &n);
    ck_assert_uint_eq(n, 3145735 / 2);
    ck_assert_int_eq(r.end, END_EOF);
    raw_close(&r);
}
END_TEST

START_TEST(task_log_download) {
    faults("{\"task_ms\":0,\"task_exitstatus\":\"WARNINGS: 60\"}"); /* a log over 1 KiB */
    char *upid = start_task();
    free(task_wait(&g_m, 0, "pve1", upid));
    char path[512], *text = NULL, *body = NULL;
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?download=1", upid);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &text), 200); /* curl un-gzips */
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?limit=0", upid);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    const cJSON *e;
    size_t off = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "data")) {
        const char *t = jstr(e, "t");
        ck_assert_int_eq(strncmp(text + off, t, strlen(t)), 0);
        off += strlen(t);
        ck_assert_int_eq(text[off], '\n');
        off++;
    }
    ck_assert_uint_eq(off, strlen(text));
    cJSON_Delete(j);
    free(body), free(text);
    raw r;
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?download=1", upid);
    raw_get(&r, &g_m, path);
    char *ce = raw_header(&r, "Content-Encoding"), *cd = raw_header(&r, "Content-Disposition");
    ck_assert_str_eq(ce, "gzip");
    ck_assert_ptr_nonnull(strstr(cd, "attachment; filename=\"task-pve1-qmstop-"));
    free(ce), free(cd);
    raw_close(&r);
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/log?download=1&start=0", upid);
    ck_assert_int_eq(mock_api(&g_m, 0, "GET", path, NULL, NULL), 500);
    free(upid);
}
END_TEST

/* ---- listeners and certificates ----------------------------------------------------------- */

START_TEST(listener_down_up_reset) {
    raw r;
    ck_assert_int_eq(mock_listener(&g_m, 0, "down", 0), 200);
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_REFUSED);
    raw_close(&r);
    ck_assert_int_eq(mock_listener(&g_m, 0, "up", 0), 200);
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(raw_status(&r), 200);
    raw_close(&r);
    ck_assert_int_eq(mock_listener(&g_m, 0, "reset", 0), 200);
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_RESET);
    raw_close(&r);
    /* down for a while: it comes back by itself */
    ck_assert_int_eq(mock_listener(&g_m, 0, "down", 300), 200);
    raw_get(&r, &g_m, "/version");
    ck_assert_int_eq(r.end, END_REFUSED);
    raw_close(&r);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        usleep(50000);
        raw_get(&r, &g_m, "/version");
        up = raw_status(&r) == 200;
        raw_close(&r);
    }
    ck_assert(up);
    ck_assert_int_eq(mock_http(&g_m, "POST", "/_mock/listener", "{\"index\":5,\"action\":\"up\"}",
                               NULL),
                     400);
}
END_TEST

START_TEST(listener_die_and_drop) {
    for (int k = 0; k < 2; k++) {
        const char *action = k ? "drop" : "die";
        raw r;
        raw_start_get(&r, &g_m, "/version", 1);
        raw_read(&r, 150); /* the keep-alive answer (its headers at least) */
        ck_assert_int_eq(raw_status(&r), 200);
        usleep(100000);
        ck_assert_int_eq(mock_listener(&g_m, 0, action, 0), 200);
        size_t before = r.len;
        raw_read(&r, 0);
        ck_assert_int_eq(r.end, k ? END_EOF : END_RESET);
        (void)before;
        raw_close(&r);
        raw_get(&r, &g_m, "/version"); /* die also went down; drop did not */
        if (k)
            ck_assert_int_eq(raw_status(&r), 200);
        else
            ck_assert_int_eq(r.end, END_REFUSED);
        raw_close(&r);
        mock_reset(&g_m); /* up again */
    }
}
END_TEST

static int curl_with_ca(const char *url, const char *ca) {
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    raw acc;
    memset(&acc, 0, sizeof acc);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &acc);
    int rc = (int)curl_easy_perform(h);
    curl_easy_cleanup(h);
    free(acc.data);
    return rc;
}

START_TEST(certificate_switch) {
    char *body = NULL;
    ck_assert_int_eq(mock_http(&g_m, "GET", "/_mock/listeners", NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    free(body);
    char same[128], foreign[128], url[512];
    snprintf(same, sizeof same, "%s", jstr(j, "same_ca_fingerprint"));
    snprintf(foreign, sizeof foreign, "%s", jstr(j, "foreign_ca_fingerprint"));
    cJSON_Delete(j);
    ck_assert_str_ne(same, g_m.fingerprint);
    ck_assert_str_ne(foreign, g_m.fingerprint);
    snprintf(url, sizeof url, "%s/api2/json/access/domains", g_m.url);
    raw r;
    faults("{\"tls_cert\":\"same_ca\"}");
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    ck_assert_str_eq(r.fp, same);
    raw_close(&r);
    ck_assert_int_eq(curl_with_ca(url, g_m.ca_file), CURLE_OK); /* the chain still verifies */
    faults("{\"tls_cert\":\"foreign_ca\"}");
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    ck_assert_str_eq(r.fp, foreign);
    raw_close(&r);
    ck_assert_int_eq(curl_with_ca(url, g_m.ca_file), CURLE_PEER_FAILED_VERIFICATION);
    faults("{\"tls_cert\":\"normal\"}");
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    ck_assert_str_eq(r.fp, g_m.fingerprint);
    raw_close(&r);
    faults("{\"tls_cert\":\"foreign_ca\"}");
    mock_reset(&g_m); /* the reset restores it too */
    ck_assert_int_eq(raw_open(&r, g_m.url), 0);
    ck_assert_str_eq(r.fp, g_m.fingerprint);
    raw_close(&r);
}
END_TEST

/* ---- several listeners (one per node) ----------------------------------------------------- */

START_TEST(three_listeners_one_cluster) {
    static const char *const args[] = {"--nodes", "3", "--auth-delay-ms", "50", "--task-ms", "0",
                                       NULL};
    mock m;
    ck_assert_int_eq(mock_start(&m, args), 0);
    ck_assert_int_eq(m.nurls, 3);
    ck_assert_str_eq(m.nodes[2], "pve3");
    ck_assert_str_ne(m.fingerprints[0], m.fingerprints[1]);
    ck_assert_str_ne(m.fingerprints[1], m.fingerprints[2]);
    for (int i = 0; i < 3; i++) { /* each presents its own certificate */
        raw r;
        ck_assert_int_eq(raw_open(&r, m.urls[i]), 0);
        ck_assert_str_eq(r.fp, m.fingerprints[i]);
        raw_close(&r);
        ck_assert_int_eq(mock_api(&m, i, "GET", "/version", NULL, NULL), 200);
    }
    cJSON *log = mock_request_log(&m, 0);
    ck_assert_int_eq(cJSON_GetArraySize(log), 3);
    ck_assert_str_eq(jstr(cJSON_GetArrayItem(log, 2), "node"), "pve3");
    ck_assert_int_eq((int)jnum(cJSON_GetArrayItem(log, 1), "listener"), 1);
    cJSON_Delete(log);
    /* one cluster: a VM made through one node is seen through another */
    ck_assert_int_eq(mock_api(&m, 0, "POST", "/nodes/pve2/qemu", "vmid=777", NULL), 200);
    char *body = NULL;
    ck_assert_int_eq(mock_api(&m, 2, "GET", "/nodes/pve2/qemu", NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"vmid\":777"));
    free(body);
    /* /cluster/status: "local" marks the node of the listener that answers */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mock_api(&m, i, "GET", "/cluster/status", NULL, &body), 200);
        cJSON *j = cJSON_Parse(body);
        const cJSON *e;
        int locals = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "data")) {
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(e, "local");
            if (cJSON_IsNumber(l) && l->valueint == 1) {
                ck_assert_str_eq(jstr(e, "name"), m.nodes[i]);
                locals++;
            }
        }
        ck_assert_int_eq(locals, 1);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "data")), 4);
        cJSON_Delete(j);
        free(body);
    }
    /* the node list names each node's own fingerprint */
    ck_assert_int_eq(mock_api(&m, 1, "GET", "/nodes", NULL, &body), 200);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(strstr(body, m.fingerprints[i]));
    free(body);
    /* uploads go to the node's own listener */
    char *f = tmp_file("multi");
    make_file(f, 1000);
    ck_assert_int_eq(upload(&m, 1, "pve2", f, "iso", "n2.iso", NULL, NULL, &body), 200);
    char *upid = data_string(body);
    ck_assert_ptr_nonnull(strstr(upid, "UPID:pve2:"));
    free(body);
    char *es = task_wait(&m, 1, "pve2", upid);
    ck_assert_str_eq(es, "OK");
    ck_assert_int_eq((int)content_size(&m, 0, "pve2", "local:iso/n2.iso"), 1000);
    free(es), free(upid);
    ck_assert_int_eq(upload(&m, 0, "pve2", f, "iso", "n2.iso", NULL, NULL, &body), 500);
    ck_assert_ptr_nonnull(strstr(body, "unable to proxy file uploads"));
    free(body);
    unlink(f);
    free(f);
    /* faults for one listener only; the others keep answering */
    mock_faults(&m, "{\"fail_5xx\":-1,\"fail_status\":595,\"match_listener\":1}");
    ck_assert_int_eq(mock_api(&m, 1, "GET", "/version", NULL, NULL), 595);
    ck_assert_int_eq(mock_api(&m, 0, "GET", "/version", NULL, NULL), 200);
    ck_assert_int_eq(mock_api(&m, 2, "GET", "/version", NULL, NULL), 200);
    ck_assert_int_eq(mock_listener(&m, 1, "die", 0), 200);
    ck_assert_int_eq(mock_api(&m, 1, "GET", "/version", NULL, NULL), -1);
    ck_assert_int_eq(mock_api(&m, 2, "GET", "/version", NULL, NULL), 200);
    body = NULL;
    ck_assert_int_eq(mock_http(&m, "GET", "/_mock/listeners", NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"state\":\"down\""));
    free(body);
    ck_assert_int_eq(mock_stop_status(&m), 0);
}
END_TEST

/* ---- a clean exit with work in flight ----------------------------------------------------- */


/* CPU time (user + system, clock ticks) a process has used so far. */
static long proc_cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* fields after the command name: state is field 3 */
    ck_assert_ptr_nonnull(p);
    unsigned long ut = 0, st = 0;
    ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st),
                     2);
    return (long)(ut + st);
}

START_TEST(out_of_descriptors_pauses_accept) {
    /* a mock with few descriptors, and more connections waiting than it can take */
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 48;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    const char *args[] = {"--quiet", NULL};
    mock m;
    int started = mock_start(&m, args);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(started, 0);
    enum { N = 80 };
    int fds[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_ge(fds[i] = tcp_connect(m.url), 0); /* the kernel's backlog takes them */
    usleep(300000);
    /* the listener rests while accept() fails with EMFILE: no busy loop */
    long t0 = proc_cpu_ticks(m.pid);
    usleep(1000000);
    long used = proc_cpu_ticks(m.pid) - t0;
    ck_assert_msg(used < 10, "the mock used %ld ticks of CPU in 1 s with no descriptor left", used);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    /* descriptors free again: it accepts and answers */
    ck_assert_int_eq(mock_api(&m, 0, "GET", "/version", NULL, NULL), 200);
    ck_assert_int_eq(mock_stop_status(&m), 0);
}
END_TEST

START_TEST(clean_exit_with_work_in_flight) {
    char dir[] = "/tmp/pmx-mock-exit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *args[] = {"--auth-delay-ms", "3000", "--upload-dir", dir, NULL};
    mock m;
    ck_assert_int_eq(mock_start(&m, args), 0);
    /* an upload cut mid-body, a delayed 401, a slow answer, a stream: all in flight */
    raw up, unauth, slow, dl;
    char *req = NULL;
    ck_assert_int_gt(asprintf(&req,
                              "POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\n"
                              "Authorization: PVEAPIToken=%s\r\nContent-Type: " MP "\r\n"
                              "Content-Length: 100000000\r\n\r\n" PART("content", "iso")
                                  FILEPART("filename", "x.iso") "partial",
                              m.token),
                     0);
    ck_assert_int_eq(raw_open(&up, m.url), 0);
    raw_send(&up, req, strlen(req));
    free(req);
    ck_assert_int_eq(raw_open(&unauth, m.url), 0);
    const char *noauth = "GET /api2/json/version HTTP/1.1\r\n\r\n";
    raw_send(&unauth, noauth, strlen(noauth));
    mock_faults(&m, "{\"slow\":1,\"download_size\":100000000}");
    raw_start_get(&slow, &m, "/version", 0);
    raw_start_get(&dl, &m, "/nodes/pve1/storage/local/file-restore/download?volume=x&filepath=Lw==", 0);
    raw_read(&dl, 100000);
    raw_read(&slow, 1);
    ck_assert_int_eq(mock_stop_status(&m), 0); /* under SAN=1: no leak, no error */
    raw_close(&up), raw_close(&unauth), raw_close(&slow), raw_close(&dl);
    DIR *d = opendir(dir);
    struct dirent *e;
    int left = 0;
    while (d && (e = readdir(d)))
        left += e->d_name[0] != '.';
    if (d)
        closedir(d);
    ck_assert_int_eq(left, 0); /* its temp dir and the partial upload are gone */
    rmdir(dir);
}
END_TEST

static Suite *mock_suite(void) {
    Suite *s = suite_create("mock");
    TCase *t = tcase_create("faults");
    tcase_add_unchecked_fixture(t, suite_start, suite_stop);
    tcase_add_checked_fixture(t, each_start, NULL);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, ready_line_has_lists);
    tcase_add_test(t, request_log_counts);
    tcase_add_test(t, request_log_masks_secrets);
    tcase_add_test(t, unknown_fault_key_refused);
    tcase_add_test(t, fault_values_capped);
    tcase_add_test(t, reset_before_response);
    tcase_add_test(t, close_after_request);
    tcase_add_test(t, reset_mid_body);
    tcase_add_test(t, close_mid_response);
    tcase_add_test(t, close_after_headers);
    tcase_add_test(t, long_content_length);
    tcase_add_test(t, slow_answer_trickles_without_blocking);
    tcase_add_test(t, slow_body_only);
    tcase_add_test(t, reset_accept_then_accept);
    tcase_add_test(t, status_595_596_empty);
    tcase_add_test(t, status_503_retry_after_then_success);
    tcase_add_test(t, lock_timeout_500);
    tcase_add_test(t, fault_filter_by_path_and_method);
    tcase_add_test(t, wrong_type_scalar_and_member);
    tcase_add_test(t, malformed_and_header_bytes);
    tcase_add_test(t, reason_with_control_chars);
    tcase_add_test(t, login_refuse_loop);
    tcase_add_test(t, ticket_refused_after_login);
    tcase_add_test(t, auth_header_forms);
    tcase_add_test(t, noauth_vncticket_openid);
    tcase_add_test(t, need_tfa_and_tfa_loop);
    tcase_add_test(t, login_duplicate_members);
    tcase_add_test(t, task_log_stale_and_dup);
    tcase_add_test(t, task_status_and_unknown_tasks);
    tcase_add_test(t, task_list_filters);
    tcase_add_test(t, http_layer_refusals);
    tcase_add_test(t, form_nul_never_truncates);
    tcase_add_test(t, pve_texts_and_form_pieces);
    tcase_add_test(t, header_limit_drops_request);
    tcase_add_test(t, request_line_limit_own);
    tcase_add_test(t, expect_continue_unanswered_and_pipelining);
    tcase_add_test(t, listener_down_up_reset);
    tcase_add_test(t, listener_die_and_drop);
    tcase_add_test(t, certificate_switch);
    suite_add_tcase(s, t);
    TCase *x = tcase_create("transfers");
    tcase_add_unchecked_fixture(x, suite_start, suite_stop);
    tcase_add_checked_fixture(x, each_start, NULL);
    tcase_set_timeout(x, 120);
    tcase_add_test(x, upload_checksum_ok_and_listed);
    tcase_add_test(x, upload_checksum_mismatch);
    tcase_add_test(x, upload_every_algorithm);
    tcase_add_test(x, upload_is_sparse_on_disk);
    tcase_add_test(x, upload_multipart_rules);
    tcase_add_test(x, upload_auth_and_node);
    tcase_add_test(x, upload_aborted_by_client);
    tcase_add_test(x, download_streams_pattern);
    tcase_add_test(x, task_log_download);
    suite_add_tcase(s, x);
    TCase *c = tcase_create("cluster");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, three_listeners_one_cluster);
    tcase_add_test(c, clean_exit_with_work_in_flight);
    tcase_add_test(c, out_of_descriptors_pauses_accept);
    suite_add_tcase(s, c);
    return s;
}

PMX_TEST_SUITE(mock_suite)
