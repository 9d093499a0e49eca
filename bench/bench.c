/* make bench: calls per second, client CPU per call and memory, against pve-mock on loopback.
 * Reports figures; never fails on them. Usage: bench URL FINGERPRINT TOKEN */
#include <proxmox/proxmox.h>

#include "bind.h" /* pmx__bind_decode: the typed decoder alone, without the transfer */

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

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
    printf("| %-36s | %7d | %10.0f | %12.1f | %9ld | %9ld | %6d |\n", name, calls, calls / wall,
           cpu * 1e6 / calls, rss_kb(), peak_rss_kb(), failed);
}

static void run_flight(pmx_client *c, const char *name, const char *path, int total, int width) {
    flight f = {c, path, total - width, 0, 0};
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < width; i++)
        pmx_call_start(c, PMX_GET, path, NULL, again, &f, NULL);
    pmx_client_run(c, -1);
    row(name, f.done, now_s() - t0, cpu_s() - c0, f.failed);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench URL FINGERPRINT TOKEN\n");
        return 2;
    }
    pmx_client *c = NULL;
    if (pmx_client_new(&c, argv[1]) || pmx_client_set_fingerprint(c, argv[2]) ||
        pmx_client_set_token(c, argv[3])) {
        fprintf(stderr, "bench: bad arguments\n");
        return 2;
    }
    pmx_client_set_max_connections(c, 8);
    printf("| %-36s | %7s | %10s | %12s | %9s | %9s | %6s |\n", "scenario", "calls", "calls/s",
           "CPU us/call", "RSS KiB", "peak KiB", "failed");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "--------------------------------------", "---------",
           "------------", "--------------", "-----------", "-----------", "--------");
    run_flight(c, "warm-up", "/version", 200, 8);
    run_flight(c, "GET /version, 1 in flight", "/version", 3000, 1);
    run_flight(c, "GET /version, 64 in flight", "/version", 20000, 64);

    /* A large /cluster/resources: fetch, then parse its data. */
    int n = 20;
    double fetch_wall = 0, fetch_cpu = 0, parse_cpu = 0;
    size_t bytes = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        pmx_call *call = NULL;
        double t0 = now_s(), c0 = cpu_s();
        pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, NULL, NULL, &call);
        int r = pmx_call_wait(call);
        fetch_wall += now_s() - t0;
        fetch_cpu += cpu_s() - c0;
        size_t len = 0;
        const char *d = pmx_call_data(call, &len);
        if (r != PMX_OK || !d) {
            failed++;
            pmx_call_unref(call);
            continue;
        }
        bytes = len;
        double p0 = cpu_s();
        cJSON *j = cJSON_ParseWithLength(d, len);
        parse_cpu += cpu_s() - p0;
        cJSON_Delete(j);
        pmx_call_unref(call);
    }
    row("GET /cluster/resources (fetch)", n, fetch_wall, fetch_cpu, failed);

    /* The same bytes: cJSON tree parse vs the typed decode into result structs. */
    pmx_call *call = NULL;
    pmx_call_start(c, PMX_GET, "/cluster/resources", NULL, NULL, NULL, &call);
    double typed_mbs = 0, cjson_mbs = 0;
    size_t items = 0;
    if (pmx_call_wait(call) == PMX_OK) {
        size_t len = 0;
        const char *d = pmx_call_data(call, &len);
        const pmx_method_desc *desc = pmx_method_by_name("pve_cluster_resources_get");
        int reps = 20;
        double t0 = cpu_s();
        for (int i = 0; i < reps; i++) {
            cJSON *j = cJSON_ParseWithLength(d, len);
            cJSON_Delete(j);
        }
        double t1 = cpu_s();
        for (int i = 0; i < reps && desc; i++) {
            void *res = NULL;
            char *err = NULL;
            if (pmx__bind_decode(desc, d, len, &res, &err) == PMX_OK && res) {
                items = ((const pve_cluster_resources_get_result *)res)->n;
                pmx__bind_result_free(desc, res);
            }
            pmx_free(err);
        }
        double t2 = cpu_s();
        cjson_mbs = t1 > t0 ? len * (double)reps / 1e6 / (t1 - t0) : 0;
        typed_mbs = t2 > t1 ? len * (double)reps / 1e6 / (t2 - t1) : 0;
    }
    pmx_call_unref(call);
    printf("\n/cluster/resources data: %.2f MB, %zu items; fetch %.1f ms/call wall, %.1f ms CPU/call\n",
           bytes / 1e6, items, fetch_wall * 1e3 / n, fetch_cpu * 1e3 / n);
    printf("| %-52s | %8s |\n", "decode of the same bytes (CPU)", "MB/s");
    printf("|%s|%s|\n", "------------------------------------------------------", "----------");
    printf("| %-52s | %8.1f |\n", "cJSON tree parse (cJSON_Parse + cJSON_Delete)", cjson_mbs);
    printf("| %-52s | %8.1f |\n", "typed decode into pve_cluster_resources_get_result", typed_mbs);
    pmx_client_free(c);
    return 0;
}
