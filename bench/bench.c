/* make bench: calls per second, client CPU per call and memory, against pve-mock on loopback.
 * Reports figures; never fails on them (bench/run.sh runs each mode in its own process, so
 * that peak RSS belongs to one scenario).
 *   bench main  URL FINGERPRINT TOKEN SO      calls/s, decode MB/s, load + first call
 *   bench w2    MODE ZIP URL FINGERPRINT TOKEN
 *               MODE: curl (a plain libcurl multi loop + cJSON_Parse) or typed (the typed
 *               call, 4 in flight, PMX_CALL_NO_BODY); ZIP: gzip or plain
 *   bench items URL FINGERPRINT TOKEN         a large listing element by element
 *   bench floor URL TOKEN                     one GET /version through plain libcurl: the peak
 *                                             RSS under every row (libcurl, OpenSSL, one TLS
 *                                             connection) */
#include <proxmox/proxmox.h>

#include "bind.h" /* pmx__decode_body, pmx__stream_*: the decoder alone, without the transfer */

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"





static pmx_client *client(const char *url, const char *fp, const char *token) {
    pmx_client *c = NULL;
    if (pmx_client_new(&c, url) || pmx_client_set_fingerprint(c, fp) ||
        pmx_client_set_token(c, token)) {
        fprintf(stderr, "bench: bad arguments\n");
        exit(2);
    }
    pmx_client_set_max_connections(c, 8);
    return c;
}

/* ---- calls per second ---------------------------------------------------------------------- */

typedef struct flight {
    pmx_client *c;
    const char *path;
    int remaining, done, failed;
} flight;

static void again(pmx_call *call, int result, void *ud) {
    flight *f = ud;
    (void)call;
    f->done++;
    if (result != PMX_OK)
        f->failed++;
    if (f->remaining > 0) {
        f->remaining--;
        pmx_call_start(f->c, PMX_GET, f->path, NULL, again, f, NULL);
    }
}

static void row(const char *name, int calls, double wall, double cpu, int failed) {
    printf("| %-44s | %6d | %8.0f | %11.1f | %8ld | %8ld | %6d |\n", name, calls, calls / wall,
           cpu * 1e6 / calls, rss_kb(), peak_rss_kb(), failed);
}

static void header(void) {
    printf("| %-44s | %6s | %8s | %11s | %8s | %8s | %6s |\n", "scenario", "calls", "calls/s",
           "CPU us/call", "RSS KiB", "peak KiB", "failed");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------------------------",
           "--------", "----------", "-------------", "----------", "----------", "--------");
}

static void run_flight(pmx_client *c, const char *name, const char *path, int total, int width) {
    flight f = {c, path, total - width, 0, 0};
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < width; i++)
        pmx_call_start(c, PMX_GET, path, NULL, again, &f, NULL);
    pmx_client_run(c, -1);
    row(name, f.done, now_s() - t0, cpu_s() - c0, f.failed);
}

/* ---- library size, load and first call ------------------------------------------------------- */

static void load_first_call(const char *so) {
    /* a fresh process would show the same: the loader maps the library and applies its
     * relocations, then the first lookup and validation touch the tables */
    double t0 = now_s();
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    double t1 = now_s();
    if (!h) {
        printf("load: dlopen(%s) failed: %s\n", so, dlerror());
        return;
    }
    const void *(*by_name)(const char *) = (const void *(*)(const char *))dlsym(h, "pmx_method_by_name");
    pmx_params *(*pnew)(void) = (pmx_params * (*)(void)) dlsym(h, "pmx_params_new");
    int (*pset)(pmx_params *, const char *, const char *) =
        (int (*)(pmx_params *, const char *, const char *))dlsym(h, "pmx_params_set_str");
    int (*validate)(const void *, const pmx_params *, unsigned, char **) =
        (int (*)(const void *, const pmx_params *, unsigned, char **))dlsym(h, "pmx_method_validate");
    void (*pfree)(pmx_params *) = (void (*)(pmx_params *))dlsym(h, "pmx_params_free");
    int errors = -1;
    double t2 = t1;
    if (by_name && pnew && pset && validate && pfree) {
        const void *d = by_name("pve_nodes_qemu_post");
        pmx_params *p = pnew();
        pset(p, "node", "pve1");
        pset(p, "vmid", "100");
        pset(p, "net0", "virtio,bridge=vmbr0");
        errors = validate(d, p, 1, NULL);
        pfree(p);
        t2 = now_s();
    }
    printf("load (dlopen, RTLD_NOW) %.3f ms; first call (lookup + validation of "
           "pve_nodes_qemu_post) %.3f ms%s\n",
           (t1 - t0) * 1e3, (t2 - t1) * 1e3, errors == 0 ? "" : " (validation failed?)");
    dlclose(h);
}

/* ---- main: calls per second and decode speed ----------------------------------------------------- */

static int bench_main(const char *url, const char *fp, const char *token, const char *so) {
    load_first_call(so);
    pmx_client *c = client(url, fp, token);
    printf("\n");
    header();
    run_flight(c, "warm-up", "/version", 200, 8);
    run_flight(c, "GET /version, 1 in flight", "/version", 3000, 1);
    run_flight(c, "GET /version, 64 in flight", "/version", 20000, 64);

    /* /cluster/resources: the same bytes, cJSON tree vs the typed decode */
    pmx_call *call = NULL;
    pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, NULL, NULL, &call);
    if (pmx_call_wait(call) == PMX_OK) {
        size_t len = 0, items = 0;
        const char *body = pmx_call_body(call, &len);
        const pmx_method_desc *d = pmx_method_by_name("pve_cluster_resources_get");
        int reps = 30;
        double t0 = cpu_s();
        for (int i = 0; i < reps; i++)
            cJSON_Delete(cJSON_ParseWithLength(body, len));
        double t1 = cpu_s();
        for (int i = 0; i < reps; i++) {
            pmx__body b;
            char *err = NULL;
            if (pmx__decode_body(d, body, len, &b, &err) == PMX_OK && b.typed) {
                items = ((const pve_cluster_resources_get_result *)b.typed)->n;
                pmx__bind_result_free(d, b.typed);
            }
            pmx_free(err);
        }
        double t2 = cpu_s();
        /* in pieces of 16 KiB, as curl hands them over */
        for (int i = 0; i < reps; i++) {
            pmx__stream *s = pmx__stream_new(d, NULL, NULL, NULL, 0);
            for (size_t o = 0; o < len; o += 16384)
                pmx__stream_feed(s, body + o, len - o < 16384 ? len - o : 16384);
            pmx__body b;
            char *err = NULL;
            if (pmx__stream_finish(s, NULL, &b, &err) == PMX_OK)
                pmx__bind_result_free(d, b.typed);
            pmx_free(err);
            pmx__stream_free(s);
        }
        double t3 = cpu_s();
        printf("\n/cluster/resources body: %.2f MB, %zu items\n", len / 1e6, items);
        printf("| %-58s | %8s |\n", "decode of the same bytes (CPU)", "MB/s");
        printf("|%s|%s|\n", "------------------------------------------------------------",
               "----------");
        printf("| %-58s | %8.0f |\n", "cJSON tree (cJSON_Parse + cJSON_Delete)",
               len * (double)reps / 1e6 / (t1 - t0));
        printf("| %-58s | %8.0f |\n", "typed decode into pve_cluster_resources_get_result",
               len * (double)reps / 1e6 / (t2 - t1));
        printf("| %-58s | %8.0f |\n", "typed decode, incremental in 16 KiB pieces",
               len * (double)reps / 1e6 / (t3 - t2));
    }
    pmx_call_unref(call);
    pmx_client_free(c);
    return 0;
}

/* ---- W2: fetch + decode, 4 in flight -------------------------------------------------------------- */

#define W2_CALLS 40
#define W2_WIDTH 4

typedef struct cbuf {
    char *d;
    size_t n, cap;
} cbuf;

static size_t cb_write(char *p, size_t sz, size_t n, void *ud) {
    cbuf *b = ud;
    size_t len = sz * n;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            return 0;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, len);
    b->n += len;
    return len;
}

/* Plain libcurl: initialised, full (of size n) set to the URL of path, the token header. */
static struct curl_slist *plain_setup(const char *url, const char *path, const char *token,
                                      char *full, size_t n) {
    char auth[512];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(full, n, "%s/api2/json%s", url, path);
    snprintf(auth, sizeof auth, "Authorization: PVEAPIToken=%s", token);
    return curl_slist_append(NULL, auth);
}

/* A plain libcurl handle for that URL, its body into b. */
static void plain_easy(CURL *e, const char *full, struct curl_slist *hdr, cbuf *b) {
    curl_easy_setopt(e, CURLOPT_URL, full);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L); /* loopback mock, self-signed */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cb_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
}

/* The plain way: libcurl multi, 4 transfers at a time, each body parsed with cJSON. */
static void w2_curl(const char *url, const char *token, int gzip, double *wall, double *cpu,
                    int *failed) {
    char full[512];
    struct curl_slist *hdr = plain_setup(url, "/cluster/resources", token, full, sizeof full);
    CURLM *m = curl_multi_init();
    CURL *e[W2_WIDTH];
    cbuf bufs[W2_WIDTH];
    memset(bufs, 0, sizeof bufs);
    int started = 0, done = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < W2_WIDTH; i++) {
        e[i] = curl_easy_init();
        plain_easy(e[i], full, hdr, &bufs[i]);
        curl_easy_setopt(e[i], CURLOPT_ACCEPT_ENCODING, gzip ? "gzip" : NULL);
        curl_easy_setopt(e[i], CURLOPT_PRIVATE, (char *)&bufs[i]);
        curl_multi_add_handle(m, e[i]);
        started++;
    }
    while (done < W2_CALLS) {
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            cbuf *b;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&b);
            cJSON *j = msg->data.result == CURLE_OK ? cJSON_ParseWithLength(b->d, b->n) : NULL;
            if (!j || !cJSON_GetObjectItemCaseSensitive(j, "data"))
                (*failed)++;
            cJSON_Delete(j);
            b->n = 0;
            done++;
            curl_multi_remove_handle(m, h);
            if (started < W2_CALLS) {
                curl_multi_add_handle(m, h);
                started++;
            }
        }
        if (done < W2_CALLS)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    *wall = now_s() - t0;
    *cpu = cpu_s() - c0;
    for (int i = 0; i < W2_WIDTH; i++) {
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
        free(bufs[i].d);
    }
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
}

typedef struct w2 {
    pmx_client *c;
    const pmx_method_desc *d;
    pmx_call_opts o;
    int started, done, failed;
} w2;

static void w2_done(pmx_call *call, int result, void *ud) {
    w2 *s = ud;
    const pve_cluster_resources_get_result *r = pve_cluster_resources_get_result_of(call);
    if (result != PMX_OK || !r || !r->n)
        s->failed++;
    s->done++;
    if (s->started < W2_CALLS) {
        s->started++;
        pmx_method_start(s->c, s->d, NULL, NULL, &s->o, w2_done, s, NULL);
    }
}

static int bench_w2(const char *mode, const char *zip, const char *url, const char *fp,
                    const char *token) {
    int gzip = !strcmp(zip, "gzip");
    double wall = 0, cpu = 0;
    int failed = 0;
    char name[128];
    if (!strcmp(mode, "curl")) {
        w2_curl(url, token, gzip, &wall, &cpu, &failed);
        snprintf(name, sizeof name, "libcurl + cJSON_Parse, %s", zip);
    } else {
        w2 s = {client(url, fp, token), pmx_method_by_name("pve_cluster_resources_get"),
                PMX_OPTS_INIT(pmx_call_opts), 0, 0, 0};
        s.o.flags = PMX_CALL_NO_BODY;
        pmx_client_set_compression(s.c, gzip);
        double t0 = now_s(), c0 = cpu_s();
        for (int i = 0; i < W2_WIDTH; i++) {
            s.started++;
            pmx_method_start(s.c, s.d, NULL, NULL, &s.o, w2_done, &s, NULL);
        }
        pmx_client_run(s.c, -1);
        wall = now_s() - t0;
        cpu = cpu_s() - c0;
        failed = s.failed;
        pmx_client_free(s.c);
        snprintf(name, sizeof name, "typed call (NO_BODY), %s", zip);
    }
    row(name, W2_CALLS, wall, cpu, failed);
    return 0;
}

/* ---- a large listing, element by element ---------------------------------------------------------- */

static int count_item(pmx_call *call, const void *item, size_t index, void *ud) {
    (void)call;
    (void)index;
    const pve_cluster_resources_get_item *it = item;
    size_t *n = ud;
    if (it && it->id)
        (*n)++;
    return 0;
}

/* The floor: libcurl and OpenSSL loaded, one TLS connection, one small answer. */
static int bench_floor(const char *url, const char *token) {
    char full[512];
    struct curl_slist *hdr = plain_setup(url, "/version", token, full, sizeof full);
    CURL *e = curl_easy_init();
    cbuf b = {0};
    plain_easy(e, full, hdr, &b);
    double t0 = now_s(), c0 = cpu_s();
    int failed = curl_easy_perform(e) != CURLE_OK;
    row("floor: one GET /version with plain libcurl", 1, now_s() - t0, cpu_s() - c0, failed);
    free(b.d);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(e);
    return 0;
}

static int bench_items(const char *url, const char *fp, const char *token) {
    pmx_client *c = client(url, fp, token);
    pmx_client_set_max_response(c, (size_t)1 << 30);
    pmx_client_set_compression(c, 0);
    size_t n = 0;
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.flags = PMX_CALL_NO_BODY;
    o.on_item = count_item;
    o.item_userdata = &n;
    o.timeout_ms = 600000;
    pmx_call *call = NULL;
    double t0 = now_s(), c0 = cpu_s();
    long rss0 = rss_kb();
    pmx_method_start(c, pmx_method_by_name("pve_cluster_resources_get"), NULL, NULL, &o, NULL,
                     NULL, &call);
    int r = pmx_call_wait(call);
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    /* the body size: the items were counted, the bytes arrived through the stream */
    printf("item by item: %zu elements in %.2f s (%.0f ms CPU), result %s; RSS before %ld KiB, "
           "peak %ld KiB\n",
           n, wall, cpu * 1e3, r == PMX_OK ? "ok" : pmx_call_error(call), rss0, peak_rss_kb());
    pmx_call_unref(call);
    pmx_client_free(c);
    return r == PMX_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "main"))
        return bench_main(argv[2], argv[3], argv[4], argv[5]);
    if (argc >= 7 && !strcmp(argv[1], "w2"))
        return bench_w2(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc >= 5 && !strcmp(argv[1], "items"))
        return bench_items(argv[2], argv[3], argv[4]);
    if (argc >= 4 && !strcmp(argv[1], "floor"))
        return bench_floor(argv[2], argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "header")) {
        header();
        return 0;
    }
    fprintf(stderr, "usage: bench main URL FP TOKEN SO | w2 curl|typed gzip|plain URL FP TOKEN | "
                    "items URL FP TOKEN | floor URL TOKEN | header\n");
    return 2;
}
