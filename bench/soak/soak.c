/* Soak run (make bench; not make check): N calls in flight for a long time against pve-mock,
 * with ticket renewals and faults switched on and off, to show that nothing leaks or hangs:
 * every call ends (exactly one callback), failures are counted by cause, and RSS stays flat.
 *
 * Usage: soak URL FINGERPRINT USER PASSWORD SECONDS IN_FLIGHT TICKET_LIFETIME
 * Reports; never fails on the figures (exit 1 only when calls went missing). */
#include <proxmox/proxmox.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../measure.h"



/* The mock's fault switches (plain libcurl: /_mock is outside the API). */
static void mock_control(const char *base, const char *path, const char *json) {
    CURL *h = curl_easy_init();
    if (!h)
        return;
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    if (curl_easy_perform(h) != CURLE_OK)
        fprintf(stderr, "soak: cannot reach %s\n", url);
    if (devnull)
        fclose(devnull);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

typedef struct soak {
    pmx_client *c;
    double end;
    long started, finished;
    long by_code[32]; /* index -code */
    long ok;
} soak;

static const char *const paths[] = {"/version", "/nodes", "/nodes/pve1/qemu", "/cluster/resources",
                                    "/access/domains"};

static void start_one(soak *s);

static void done(pmx_call *call, int result, void *ud) {
    (void)call;
    soak *s = ud;
    s->finished++;
    if (result == PMX_OK)
        s->ok++;
    else if (-result < 32)
        s->by_code[-result]++;
    if (now_s() < s->end)
        start_one(s);
}

static void start_one(soak *s) {
    static unsigned n;
    n++;
    pmx_call_opts o = PMX_OPTS_INIT(pmx_call_opts);
    o.timeout_ms = 15000;
    int r;
    if (n % 10 == 0) { /* a write now and then: synchronous PUT (CSRF with the ticket) */
        pmx_params *p = pmx_params_new();
        pmx_params_set_str(p, "description", "soak");
        r = pmx_call_start_ex(s->c, PMX_PUT, "/nodes/pve1/qemu/100/config", p, &o, done, s, NULL);
        pmx_params_free(p);
    } else {
        r = pmx_call_start_ex(s->c, PMX_GET, paths[n % 5], NULL, &o, done, s, NULL);
    }
    if (r == PMX_OK)
        s->started++;
}

static const char *const faults[] = {
    "{\"latency_ms\":300}",        "{\"fail_5xx\":200,\"fail_status\":503}",
    "{\"close_mid_response\":100}", "{\"malformed\":100}",
    "{\"fail_5xx\":100,\"fail_status\":500}",
};

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: soak URL FINGERPRINT USER PASSWORD SECONDS IN_FLIGHT TICKET_LIFETIME\n");
        return 2;
    }
    double seconds = atof(argv[5]);
    int width = atoi(argv[6]);
    int lifetime = atoi(argv[7]);
    soak s = {0};
    if (pmx_client_new(&s.c, argv[1]) || pmx_client_set_fingerprint(s.c, argv[2]) ||
        pmx_client_set_password(s.c, argv[3], argv[4]) ||
        pmx_client_set_ticket_lifetime(s.c, lifetime) || pmx_client_set_max_connections(s.c, 16)) {
        fprintf(stderr, "soak: client set-up failed\n");
        return 2;
    }
    printf("soak: %d calls in flight for %.0f s, tickets of %d s, faults switched every 20 s\n",
           width, seconds, lifetime);
    printf("| %6s | %9s | %8s | %8s | %9s |\n", "t (s)", "calls", "calls/s", "failed", "RSS KiB");
    double t0 = now_s();
    s.end = t0 + seconds;
    for (int i = 0; i < width; i++)
        start_one(&s);
    long rss_warm = -1, rss_max = 0;
    double next_report = t0 + 30, next_fault = t0 + 20;
    int fault_on = 0, fault_i = 0;
    long last_finished = 0;
    double last_t = t0;
    while (pmx_client_pending(s.c)) {
        pmx_client_run(s.c, 250);
        double t = now_s();
        long rss = rss_kb();
        if (rss > rss_max)
            rss_max = rss;
        if (rss_warm < 0 && t - t0 >= 30)
            rss_warm = rss;
        if (t >= next_fault && t < s.end) {
            if (fault_on)
                mock_control(argv[1], "/_mock/reset", "{}");
            else
                mock_control(argv[1], "/_mock/faults", faults[fault_i++ % 5]);
            fault_on = !fault_on;
            next_fault = t + (fault_on ? 5 : 15);
        }
        if (t >= next_report) {
            long failed = s.finished - s.ok;
            printf("| %6.0f | %9ld | %8.0f | %8ld | %9ld |\n", t - t0, s.finished,
                   (double)(s.finished - last_finished) / (t - last_t), failed, rss);
            fflush(stdout);
            last_finished = s.finished;
            last_t = t;
            next_report = t + 60;
        }
    }
    mock_control(argv[1], "/_mock/reset", "{}");
    double wall = now_s() - t0;
    long rss_end = rss_kb();
    printf("\nsoak: %ld calls started, %ld finished (%.0f calls/s), %ld ok\n", s.started, s.finished,
           (double)s.finished / wall, s.ok);
    printf("failures by cause:");
    for (int i = 1; i < 32; i++)
        if (s.by_code[i])
            printf(" %s %ld;", pmx_strerror(-i), s.by_code[i]);
    printf("\nRSS: %ld KiB after 30 s, %ld KiB at the end, %ld KiB at most\n", rss_warm, rss_end,
           rss_max);
    pmx_client_free(s.c);
    if (s.started != s.finished) {
        printf("soak: %ld calls never ended\n", s.started - s.finished);
        return 1;
    }
    return 0;
}
