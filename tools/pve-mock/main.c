/* pve-mock: a mock Proxmox VE API server for libproxmox's tests.
 *
 * main.c parses the command line, builds the TLS material and the state,
 * runs the libevent loop and tears everything down on SIGINT/SIGTERM so
 * sanitizer runs see no leaks. */
#include "mock.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct mock g_mock;

void mock_log(const char *fmt, ...)
{
    if (!g_mock.cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pve-mock: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("pve-mock: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("pve-mock: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static void usage(FILE *f)
{
    fputs("usage: pve-mock [--listen ADDR:PORT]... [--nodes N] [--control ADDR:PORT|none]\n"
          "                [--fixture FILE] [--ticket-lifetime SEC] [--auth-delay-ms N]\n"
          "                [--task-ms N] [--latency-ms N] [--vms N] [--tfa] [--ca-out FILE]\n"
          "                [--upload-dir DIR] [--request-log N] [--quiet] [--verbose]\n",
          f);
}

static int int_arg(const char *opt, const char *v, int *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || n < 0 || n > 100000000) {
        fprintf(stderr, "pve-mock: %s needs a non-negative integer\n", opt);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static void on_signal(evutil_socket_t sig, short ev, void *arg)
{
    (void)sig, (void)ev, (void)arg;
    event_base_loopbreak(g_mock.base);
}

int main(int argc, char **argv)
{
    struct mock_config *cfg = &g_mock.cfg;
    cfg->ticket_lifetime = 7200;
    cfg->request_log = 10000;
    cfg->auth_delay_ms = 3000;
    cfg->task_ms = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, used = 1;
        if (!strcmp(a, "--listen") && v) {
            if (cfg->nlisten == MOCK_MAX_LISTENERS) {
                fprintf(stderr, "pve-mock: at most %d listeners\n", MOCK_MAX_LISTENERS);
                return 2;
            }
            cfg->listen[cfg->nlisten++] = v;
        } else if (!strcmp(a, "--nodes"))
            rc = int_arg(a, v, &cfg->nodes);
        else if (!strcmp(a, "--control") && v)
            cfg->control = v;
        else if (!strcmp(a, "--upload-dir") && v)
            cfg->upload_dir = v;
        else if (!strcmp(a, "--request-log"))
            rc = int_arg(a, v, &cfg->request_log);
        else if (!strcmp(a, "--fixture") && v)
            cfg->fixture = v;
        else if (!strcmp(a, "--ca-out") && v)
            cfg->ca_out = v;
        else if (!strcmp(a, "--ticket-lifetime"))
            rc = int_arg(a, v, &cfg->ticket_lifetime);
        else if (!strcmp(a, "--auth-delay-ms"))
            rc = int_arg(a, v, &cfg->auth_delay_ms);
        else if (!strcmp(a, "--task-ms"))
            rc = int_arg(a, v, &cfg->task_ms);
        else if (!strcmp(a, "--latency-ms"))
            rc = int_arg(a, v, &cfg->latency_ms);
        else if (!strcmp(a, "--vms"))
            rc = int_arg(a, v, &cfg->vms);
        else if (!strcmp(a, "--tfa"))
            cfg->tfa = 1, used = 0;
        else if (!strcmp(a, "--quiet"))
            cfg->verbose = 0, used = 0;
        else if (!strcmp(a, "--verbose"))
            cfg->verbose = 1, used = 0;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "pve-mock: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (rc)
            return 2;
        i += used;
    }

    if (cfg->nodes > MOCK_MAX_LISTENERS || (cfg->nodes && cfg->nlisten > 1 &&
                                             cfg->nodes != cfg->nlisten)) {
        fprintf(stderr, "pve-mock: --nodes N wants 1..%d, and as many --listen as N (or one)\n",
                MOCK_MAX_LISTENERS);
        return 2;
    }
    g_mock.nlisteners = cfg->nodes ? cfg->nodes : cfg->nlisten ? cfg->nlisten : 1;

    signal(SIGPIPE, SIG_IGN); /* peers that vanish mid-write must not kill us */
    auth_init();
    control_init();
    int rc = 1;
    struct event *sigint = NULL, *sigterm = NULL;
    g_mock.base = event_base_new();
    if (!g_mock.base || tls_setup(cfg->ca_out, g_mock.nlisteners) != 0)
        goto out;
    if (state_load(cfg->fixture, cfg->vms, g_mock.nlisteners) != 0 || transfer_init() != 0)
        goto out;
    sigint = evsignal_new(g_mock.base, SIGINT, on_signal, NULL);
    sigterm = evsignal_new(g_mock.base, SIGTERM, on_signal, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    if (server_start() != 0)
        goto out;
    event_base_dispatch(g_mock.base);
    rc = 0;
out:
    server_stop();
    faults_clear(); /* frees the fault strings */
    state_free(); /* tasks still running drop their upload files */
    transfer_free();
    reqlog_free();
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (g_mock.base)
        event_base_free(g_mock.base);
    tls_free();
    return rc;
}
