/* pmx upload and pmx download: files to and from PVE, with a progress bar on a terminal and
 * nothing of the kind otherwise. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmx.h"

typedef struct bar {
    int tty;
    int shown;
    const char *what;
} bar;

static void human(char *out, size_t n, double v) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void draw(bar *b, const char *phase, int64_t now, int64_t total) {
    if (!b->tty)
        return;
    char a[32], t[32];
    human(a, sizeof a, (double)now);
    if (total > 0) {
        human(t, sizeof t, (double)total);
        int pct = (int)(now * 100 / total);
        int fill = pct * 30 / 100;
        fprintf(stderr, "\r\033[K%s %s [%.*s%*s] %3d%%  %s / %s", phase, b->what, fill,
                "==============================", 30 - fill, "", pct, a, t);
    } else {
        fprintf(stderr, "\r\033[K%s %s  %s", phase, b->what, a);
    }
    b->shown = 1;
}

static void clear(bar *b) {
    if (b->shown)
        fputs("\r\033[K", stderr);
    b->shown = 0;
}

static void on_upload_progress(pmx_call *call, int64_t down, int64_t down_total, int64_t up,
                               int64_t up_total, void *ud) {
    (void)down;
    (void)down_total;
    draw(ud, call ? "sending" : "checksum", up, up_total);
}

static void on_download_progress(pmx_call *call, int64_t down, int64_t down_total, int64_t up,
                                 int64_t up_total, void *ud) {
    (void)call;
    (void)up;
    (void)up_total;
    draw(ud, "receiving", down, down_total);
}

static int usage_upload(void) {
    fprintf(stderr, "usage: pmx upload NODE STORAGE FILE [--content iso|vztmpl|import] "
                    "[--filename NAME] [--checksum-algorithm ALGO]\n");
    return EXIT_USAGE;
}

int cli_upload(const opts *o, int argc, char **argv) {
    if (argc < 3)
        return usage_upload();
    const char *node = argv[0], *storage = argv[1], *file = argv[2];
    pmx_upload_opts uo = PMX_OPTS_INIT(pmx_upload_opts);
    uo.path = file;
    for (int i = 3; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--content") == 0              ? &uo.content
                            : strcmp(argv[i], "--filename") == 0           ? &uo.filename
                            : strcmp(argv[i], "--checksum-algorithm") == 0 ? &uo.checksum_algorithm
                                                                          : NULL;
        if (!slot || i + 1 >= argc)
            return usage_upload();
        *slot = argv[++i];
    }
    pmx_client *c = NULL;
    int rc = cli_make_client(o, &c);
    if (rc)
        return rc;
    bar b = {isatty(2), 0, file};
    uo.progress_fn = on_upload_progress;
    pmx_task_opts to = PMX_OPTS_INIT(pmx_task_opts);
    to.first_interval_ms = 500;
    to.max_interval_ms = 5000;
    uo.task = &to;
    pmx_task *t = NULL;
    int r = pmx_upload_start(c, node, storage, &uo, NULL, &b, &t);
    if (r) {
        /* the reason (no such file, a bad node name...) was logged just before */
        fputs("pmx: cannot upload ", stderr);
        cli_put(stderr, file);
        fprintf(stderr, ": %s (node, storage, --content iso|vztmpl|import, --filename, "
                        "--checksum-algorithm; a readable regular file)\n", pmx_strerror(r));
        pmx_client_free(c);
        return cli_exit_for(r);
    }
    r = pmx_task_wait_sync(t);
    clear(&b);
    const char *upid = pmx_task_upid(t);
    if (r == PMX_OK) {
        if (strcmp(o->format, "text") == 0) {
            cli_put(stdout, pmx_task_exitstatus(t) ? pmx_task_exitstatus(t) : "OK");
            fputs("  (task ", stdout);
            cli_put(stdout, upid ? upid : "");
            fputs(")\n", stdout);
        } else {
            /* the UPID as a JSON string, escaped as JSON */
            cJSON *j = cJSON_CreateString(upid ? upid : "");
            char *text = j ? cJSON_PrintUnformatted(j) : NULL;
            int orc = text ? cli_output(text, strlen(text), o->format, NULL) : EXIT_API;
            if (!text)
                fprintf(stderr, "pmx: out of memory\n");
            free(text);
            cJSON_Delete(j);
            if (orc) {
                pmx_task_unref(t);
                pmx_client_free(c);
                return orc;
            }
        }
    } else {
        cli_print_task_failure(t, r, upid, file);
    }
    pmx_task_unref(t);
    pmx_client_free(c);
    return r == PMX_ETASK ? EXIT_API : cli_exit_for(r);
}

int cli_download(const opts *o, int argc, char **argv) {
    if (argc < 2 || argv[0][0] != '/') {
        fprintf(stderr, "usage: pmx download PATH FILE [--param value ...]\n");
        return EXIT_USAGE;
    }
    const char *path = argv[0], *file = argv[1];
    pmx_params *p = pmx_params_new();
    if (!p) {
        fprintf(stderr, "pmx: out of memory\n");
        return EXIT_API;
    }
    for (int i = 2; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2] || i + 1 >= argc) {
            fprintf(stderr, "pmx: parameters are --name value\n");
            pmx_params_free(p);
            return EXIT_USAGE;
        }
        int r = pmx_params_add_str(p, argv[i] + 2, argv[i + 1]);
        if (r) {
            fprintf(stderr, "pmx: %s: %s\n", argv[i], pmx_strerror(r));
            pmx_params_free(p);
            return r == PMX_ENOMEM ? EXIT_API : EXIT_USAGE;
        }
    }
    pmx_client *c = NULL;
    int rc = cli_make_client(o, &c);
    if (rc) {
        pmx_params_free(p);
        return rc;
    }
    /* A long download is fine as long as it moves: no total timeout, the stall limit stays. */
    rc = pmx_client_set_timeouts(c, PMX_DEFAULT_CONNECT_MS, 0);
    if (rc) {
        fprintf(stderr, "pmx: cannot set up the client: %s\n", pmx_strerror(rc));
        pmx_params_free(p);
        pmx_client_free(c);
        return EXIT_API;
    }
    bar b = {isatty(2), 0, file};
    pmx_call_opts co = PMX_OPTS_INIT(pmx_call_opts);
    co.output_path = file;
    co.progress_fn = on_download_progress;
    pmx_call *call = NULL;
    int r = pmx_call_start_ex(c, PMX_GET, path, p, &co, NULL, &b, &call);
    pmx_params_free(p);
    if (r) {
        /* the reason (a bad path, a file that cannot be created) was logged just before */
        fputs("pmx: cannot download ", stderr);
        cli_put(stderr, path);
        fputs(" to ", stderr);
        cli_put(stderr, file);
        fprintf(stderr, ": %s\n", pmx_strerror(r));
        pmx_client_free(c);
        return cli_exit_for(r);
    }
    r = pmx_call_wait(call);
    clear(&b);
    if (r)
        cli_print_call_error(call, r);
    pmx_call_unref(call);
    pmx_client_free(c);
    return cli_exit_for(r);
}
