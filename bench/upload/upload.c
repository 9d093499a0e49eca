/* make bench: upload a file to pve-mock with libproxmox (without and with a checksum) and with
 * `curl -F` in the same run, wall time, MB/s and peak RSS of each. Reports; never fails on the
 * figures. Usage: upload URL FINGERPRINT TOKEN FILE */
#include <proxmox/proxmox.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../measure.h"


/* One libproxmox upload in a child process, so each gets its own peak RSS. */
static int lib_upload(const char *url, const char *fp, const char *token, const char *file,
                      const char *algo, double *secs, long *rss_kb) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        pmx_client *c = NULL;
        if (pmx_client_new(&c, url) || pmx_client_set_fingerprint(c, fp) ||
            pmx_client_set_token(c, token))
            _exit(2);
        pmx_upload_opts o = PMX_OPTS_INIT(pmx_upload_opts);
        o.path = file;
        o.filename = "bench.iso";
        o.checksum_algorithm = algo;
        o.flags = PMX_UPLOAD_NO_WAIT; /* the transfer, not the server's copy task */
        double t0 = now_s();
        pmx_task *t = NULL;
        int r = pmx_upload_start(c, "pve1", "local", &o, NULL, NULL, &t);
        if (r == PMX_OK)
            r = pmx_task_wait_sync(t);
        double dt = now_s() - t0;
        if (r != PMX_OK)
            fprintf(stderr, "upload: %s\n", t ? pmx_task_error(t) : pmx_strerror(r));
        pmx_task_unref(t);
        pmx_client_free(c);
        if (write(fds[1], &dt, sizeof dt) != (ssize_t)sizeof dt)
            _exit(3);
        _exit(r == PMX_OK ? 0 : 1);
    }
    close(fds[1]);
    double dt = 0;
    ssize_t n = read(fds[0], &dt, sizeof dt);
    close(fds[0]);
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || n != (ssize_t)sizeof dt || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0)
        return -1;
    *secs = dt;
    *rss_kb = ru.ru_maxrss;
    return 0;
}

static int curl_upload(const char *url, const char *token, const char *file, double *secs,
                       long *rss_kb) {
    char target[512], auth[512], part[600];
    snprintf(target, sizeof target, "%s/api2/json/nodes/pve1/storage/local/upload", url);
    snprintf(auth, sizeof auth, "Authorization: PVEAPIToken=%s", token);
    snprintf(part, sizeof part, "filename=@%s;filename=bench.iso;type=application/octet-stream",
             file);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        execlp("curl", "curl", "-sk", "-o", "/dev/null", "-H", "Expect:", "-H", auth, "-F",
               "content=iso", "-F", part, target, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    *secs = now_s() - t0;
    *rss_kb = ru.ru_maxrss;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: upload URL FINGERPRINT TOKEN FILE\n");
        return 2;
    }
    struct stat st;
    if (stat(argv[4], &st) != 0)
        return 2;
    double mb = (double)st.st_size / 1e6;
    printf("upload of %.0f MB to pve-mock (loopback, TLS), one process each, best of 3 rounds "
           "taken in turn:\n", mb);
    printf("| %-34s | %8s | %8s | %10s |\n", "client", "seconds", "MB/s", "peak RSS");
    static const char *const names[3] = {"curl -F", "libproxmox, no checksum",
                                         "libproxmox, sha256 (two passes)"};
    static const char *const algos[3] = {NULL, "none", "sha256"};
    double best[3] = {0, 0, 0};
    long rss[3] = {0, 0, 0};
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 3; k++) {
            double s;
            long r;
            int rc = k == 0 ? curl_upload(argv[1], argv[3], argv[4], &s, &r)
                            : lib_upload(argv[1], argv[2], argv[3], argv[4], algos[k], &s, &r);
            if (rc == 0 && (best[k] == 0 || s < best[k])) {
                best[k] = s;
                rss[k] = r;
            }
        }
    }
    for (int k = 0; k < 3; k++) {
        if (best[k] > 0)
            printf("| %-34s | %8.2f | %8.0f | %7.1f MB |\n", names[k], best[k], mb / best[k],
                   rss[k] / 1024.0);
        else
            printf("| %-34s | failed%s |\n", names[k], k ? "" : " (is curl installed?)");
    }
    if (best[0] > 0 && best[1] > 0)
        printf("libproxmox (no checksum) / curl -F throughput: %.0f%% (target >= 90%%)\n",
               100.0 * best[0] / best[1]);
    return 0;
}
