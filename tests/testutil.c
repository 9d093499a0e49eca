/* Shared test helpers: pve-mock process management and control-route access. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

mock g_mock;

const char *test_build_dir(void) {
    const char *b = getenv("PMX_BUILD");
    return b && *b ? b : "build";
}

static void copy_field(cJSON *j, const char *key, char *dst, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsString(v))
        snprintf(dst, n, "%s", v->valuestring);
}

int mock_start(mock *m, const char *const *extra) {
    memset(m, 0, sizeof *m);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/bin/pve-mock", test_build_dir());
    snprintf(m->ca_file, sizeof m->ca_file, "/tmp/pmx-test-ca-%d-%ld.pem", (int)getpid(),
             (long)random());
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    int own_listen = 0; /* --listen is repeatable: the caller's replace the default */
    for (int i = 0; extra && extra[i]; i++)
        own_listen |= strcmp(extra[i], "--listen") == 0 || strcmp(extra[i], "--nodes") == 0;
    if (!own_listen) {
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
    }
    argv[n++] = "--ca-out";
    argv[n++] = m->ca_file;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    m->pid = pid;
    char line[4096];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        line[len] = 0;
        if (strchr(line, '\n') || len == sizeof line - 1)
            break;
    }
    close(fds[0]);
    line[len] = 0;
    cJSON *j = cJSON_Parse(line);
    if (!j) {
        fprintf(stderr, "pve-mock gave no ready line: '%s'\n", line);
        mock_stop(m);
        return -1;
    }
    copy_field(j, "url", m->url, sizeof m->url);
    copy_field(j, "fingerprint", m->fingerprint, sizeof m->fingerprint);
    copy_field(j, "token", m->token, sizeof m->token);
    copy_field(j, "readonly_token", m->readonly_token, sizeof m->readonly_token);
    copy_field(j, "user", m->user, sizeof m->user);
    copy_field(j, "password", m->password, sizeof m->password);
    copy_field(j, "tfa_user", m->tfa_user, sizeof m->tfa_user);
    copy_field(j, "tfa_password", m->tfa_password, sizeof m->tfa_password);
    copy_field(j, "totp_secret", m->totp_secret, sizeof m->totp_secret);
    copy_field(j, "control_url", m->control_url, sizeof m->control_url);
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive(j, "urls");
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(j, "fingerprints");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j, "nodes");
    for (int i = 0; i < cJSON_GetArraySize(urls) && i < MOCK_MAX_URLS; i++) {
        const cJSON *u = cJSON_GetArrayItem(urls, i), *f = cJSON_GetArrayItem(fps, i),
                    *nd = cJSON_GetArrayItem(nodes, i);
        if (cJSON_IsString(u))
            snprintf(m->urls[i], sizeof m->urls[i], "%s", u->valuestring);
        if (cJSON_IsString(f))
            snprintf(m->fingerprints[i], sizeof m->fingerprints[i], "%s", f->valuestring);
        if (cJSON_IsString(nd))
            snprintf(m->nodes[i], sizeof m->nodes[i], "%s", nd->valuestring);
        m->nurls = i + 1;
    }
    cJSON_Delete(j);
    return m->url[0] ? 0 : -1;
}

int mock_stop_status(mock *m) {
    int status = -1;
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
                status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
                m->pid = 0;
                break;
            }
            usleep(10000);
        }
        if (m->pid > 0) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, &st, 0);
        }
        m->pid = 0;
    }
    if (m->ca_file[0])
        unlink(m->ca_file);
    return status;
}

void mock_stop(mock *m) { (void)mock_stop_status(m); }

static const char *const k_default_args[] = {"--auth-delay-ms", "50", "--task-ms", "300", NULL};
static const char *const k_tfa_args[] = {"--auth-delay-ms", "50", "--task-ms", "300", "--tfa",
                                         NULL};

void mock_fixture_start(void) {
    if (mock_start(&g_mock, k_default_args) != 0) {
        fprintf(stderr, "cannot start pve-mock from %s/bin\n", test_build_dir());
        exit(1);
    }
}

void mock_fixture_start_tfa(void) {
    if (mock_start(&g_mock, k_tfa_args) != 0) {
        fprintf(stderr, "cannot start pve-mock --tfa from %s/bin\n", test_build_dir());
        exit(1);
    }
}

void mock_fixture_stop(void) { mock_stop(&g_mock); }

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    char **acc = ud;
    size_t old = *acc ? strlen(*acc) : 0;
    char *nb = realloc(*acc, old + sz * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + old, p, sz * n);
    nb[old + sz * n] = 0;
    *acc = nb;
    return sz * n;
}

/* One request with libcurl; auth_header may be NULL. */
static int http_do(const char *url, const char *method, const char *ctype, const char *body_in,
                   const char *auth_header, char **body) {
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    char *acc = NULL;
    struct curl_slist *hdr = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &acc);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (auth_header)
        hdr = curl_slist_append(hdr, auth_header);
    if (body_in) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, ct);
        hdr = curl_slist_append(hdr, "Expect:");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_in);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    long code = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    if (body)
        *body = acc;
    else
        free(acc);
    return (int)code;
}

int mock_http(const mock *m, const char *method, const char *path, const char *json_body,
              char **body) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", m->control_url[0] ? m->control_url : m->url, path);
    return http_do(url, method, "application/json", json_body, NULL, body);
}

int mock_api(const mock *m, int listener, const char *method, const char *path, const char *form,
             char **body) {
    char url[1024], auth[512];
    const char *base = listener > 0 && listener < m->nurls ? m->urls[listener] : m->url;
    snprintf(url, sizeof url, "%s/api2/json%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: PVEAPIToken=%s", m->token);
    return http_do(url, method, "application/x-www-form-urlencoded", form, auth, body);
}

cJSON *mock_request_log(const mock *m, long since) {
    char path[64], *body = NULL;
    snprintf(path, sizeof path, "/_mock/requests?since=%ld", since);
    if (mock_http(m, "GET", path, NULL, &body) != 200) {
        free(body);
        return NULL;
    }
    cJSON *j = cJSON_Parse(body);
    free(body);
    cJSON *d = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
    cJSON_Delete(j);
    if (!cJSON_IsArray(d)) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

long mock_count_requests(const mock *m, const char *method, const char *path_prefix) {
    cJSON *log = mock_request_log(m, 0);
    if (!log)
        return -1;
    long n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, log) {
        const cJSON *mm = cJSON_GetObjectItemCaseSensitive(e, "method");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
        if (method && !(cJSON_IsString(mm) && strcmp(mm->valuestring, method) == 0))
            continue;
        if (path_prefix && !(cJSON_IsString(p) &&
                             strncmp(p->valuestring, path_prefix, strlen(path_prefix)) == 0))
            continue;
        n++;
    }
    cJSON_Delete(log);
    return n;
}

int mock_listener(const mock *m, int index, const char *action, int ms) {
    char json[160];
    snprintf(json, sizeof json, "{\"index\":%d,\"action\":\"%s\",\"ms\":%d}", index, action, ms);
    return mock_http(m, "POST", "/_mock/listener", json, NULL);
}

void mock_faults(const mock *m, const char *json) {
    int st = mock_http(m, "POST", "/_mock/faults", json, NULL);
    ck_assert_int_eq(st, 200);
}

void mock_reset(const mock *m) {
    int st = mock_http(m, "POST", "/_mock/reset", "{}", NULL);
    ck_assert_int_eq(st, 200);
}

long mock_stat(const mock *m, const char *name) {
    char *body = NULL;
    if (mock_http(m, "GET", "/_mock/stats", NULL, &body) != 200) {
        free(body);
        return -1;
    }
    long v = -1;
    cJSON *j = cJSON_Parse(body);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(d ? d : j, name);
    if (cJSON_IsNumber(x))
        v = (long)x->valuedouble;
    cJSON_Delete(j);
    free(body);
    return v;
}

pmx_client *test_client(const mock *m, const char *auth) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, m->url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, m->fingerprint), PMX_OK);
    if (auth && strcmp(auth, "token") == 0)
        ck_assert_int_eq(pmx_client_set_token(c, m->token), PMX_OK);
    else if (auth && strcmp(auth, "password") == 0)
        ck_assert_int_eq(pmx_client_set_password(c, m->user, m->password), PMX_OK);
    return c;
}

mock g_cluster;

void mock_cluster_fixture_start(void) {
    static const char *const args[] = {"--nodes", "3", "--auth-delay-ms", "50", "--task-ms", "300",
                                       NULL};
    if (mock_start(&g_cluster, args) != 0 || g_cluster.nurls != 3) {
        fprintf(stderr, "cannot start a 3-node pve-mock from %s/bin\n", test_build_dir());
        exit(1);
    }
}

void mock_cluster_fixture_stop(void) { mock_stop(&g_cluster); }

pmx_client *test_cluster_client(const mock *m, const char *auth) {
    char urls[MOCK_MAX_URLS * 258] = "", fps[MOCK_MAX_URLS * 130] = "";
    for (int i = 0; i < m->nurls; i++) {
        size_t u = strlen(urls), f = strlen(fps);
        snprintf(urls + u, sizeof urls - u, "%s%s", i ? "," : "", m->urls[i]);
        snprintf(fps + f, sizeof fps - f, "%s%s", i ? "," : "", m->fingerprints[i]);
    }
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, urls), PMX_OK);
    ck_assert_int_eq(pmx_client_endpoint_count(c), (size_t)m->nurls);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fps), PMX_OK);
    if (auth && strcmp(auth, "token") == 0)
        ck_assert_int_eq(pmx_client_set_token(c, m->token), PMX_OK);
    else if (auth && strcmp(auth, "password") == 0)
        ck_assert_int_eq(pmx_client_set_password(c, m->user, m->password), PMX_OK);
    return c;
}

static char g_files_dir[64];

char *test_make_file(const char *name, off_t size, int sparse) {
    if (!g_files_dir[0]) {
        snprintf(g_files_dir, sizeof g_files_dir, "/tmp/pmx-upload-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_files_dir));
    }
    char *path = malloc(256);
    ck_assert_ptr_nonnull(path);
    snprintf(path, 256, "%s/%s", g_files_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    if (sparse) {
        ck_assert_int_eq(ftruncate(fd, size), 0);
    } else {
        char buf[4096];
        for (off_t o = 0; o < size; o += (off_t)sizeof buf) {
            for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (char)((o + (off_t)i) * 31 % 251);
            size_t n = size - o < (off_t)sizeof buf ? (size_t)(size - o) : sizeof buf;
            ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
        }
    }
    close(fd);
    return path;
}

void test_files_cleanup(void) {
    if (g_files_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_files_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g_files_dir);
        g_files_dir[0] = 0;
    }
}

int test_volume_listed(pmx_client *c, const char *node, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "/nodes/%s/storage/local/content", node);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    size_t len;
    const char *d = pmx_call_data(call, &len);
    int found = d && memmem(d, len, name, strlen(name)) != NULL;
    pmx_call_unref(call);
    return found;
}

int64_t test_mem_read(void *buf, size_t len, void *userdata) {
    test_mem_src *m = userdata;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

int test_mem_rewind(void *userdata) {
    ((test_mem_src *)userdata)->pos = 0;
    return 0;
}

static int b32val(char ch) {
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a';
    if (ch >= '2' && ch <= '7')
        return ch - '2' + 26;
    return -1;
}

void test_totp(const char *secret, long t, char out[7]) {
    unsigned char key[128];
    size_t klen = 0;
    unsigned buf = 0;
    int bits = 0;
    for (const char *p = secret; *p && klen < sizeof key; p++) {
        int v = b32val(*p);
        if (v < 0)
            continue;
        buf = (buf << 5) | (unsigned)v;
        bits += 5;
        if (bits >= 8) {
            key[klen++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    unsigned long long counter = (unsigned long long)(t / 30);
    unsigned char msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    HMAC(EVP_sha1(), key, (int)klen, msg, sizeof msg, mac, &mlen);
    int off = mac[mlen - 1] & 0x0f;
    unsigned long code = ((unsigned long)(mac[off] & 0x7f) << 24) | ((unsigned long)mac[off + 1] << 16) |
                         ((unsigned long)mac[off + 2] << 8) | mac[off + 3];
    snprintf(out, 7, "%06lu", code % 1000000UL);
}

pmx_method_info test_method_info(const pmx_method_desc *d) {
    pmx_method_info i = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(d, &i), PMX_OK);
    return i;
}

pmx_param_info test_param_info(const pmx_param_desc *p) {
    pmx_param_info i = PMX_OPTS_INIT(pmx_param_info);
    ck_assert_int_eq(pmx_param_describe(p, &i), PMX_OK);
    return i;
}

/* ---- an allocator that looks for secrets left in freed memory ---- */

static char g_needles[2][128];
static int g_needle_seen[2];

static void *spy_malloc(size_t n) {
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p)
        return NULL;
    p[0] = n;
    return p + 2;
}

static void spy_free(void *q) {
    if (!q)
        return;
    size_t *p = (size_t *)q - 2;
    size_t n = p[0];
    for (int s = 0; s < 2; s++) {
        size_t k = strlen(g_needles[s]);
        for (size_t i = 0; k && i + k <= n; i++)
            if (memcmp((char *)q + i, g_needles[s], k) == 0)
                g_needle_seen[s] = 1;
    }
    free(p);
}

static void *spy_realloc(void *q, size_t n) {
    void *d = spy_malloc(n);
    if (d && q) {
        size_t old = ((size_t *)q - 2)[0];
        memcpy(d, q, old < n ? old : n);
        spy_free(q);
    }
    return d;
}

void spy_alloc_needle(int i, const char *needle) {
    snprintf(g_needles[i], sizeof g_needles[i], "%s", needle ? needle : "");
    g_needle_seen[i] = 0;
}

void spy_alloc_install(const char *needle0, const char *needle1) {
    spy_alloc_needle(0, needle0);
    spy_alloc_needle(1, needle1);
    ck_assert_int_eq(pmx_set_allocator(spy_malloc, spy_realloc, spy_free), PMX_OK);
}

int spy_alloc_found(int i) { return g_needle_seen[i]; }

void spy_alloc_remove(void) { ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK); }
