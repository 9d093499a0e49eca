/* pmx: a remote, pvesh-style command line for the Proxmox VE API, built on libproxmox.
 *
 *   pmx [connection options] <get|create|set|delete|ls|usage> <path> [--param value ...]
 *
 * Parameters are checked against the method tables before anything is sent. */
#include <proxmox/proxmox.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmx.h"

static void help(FILE *f) {
    fputs("usage: pmx [options] <verb> <path> [--<param> <value> ...] [--output-format F] [--wait]\n"
          "\n"
          "verbs:\n"
          "  get PATH       GET: read (pvesh get)\n"
          "  create PATH    POST: create or act (pvesh create)\n"
          "  set PATH       PUT: change (pvesh set)\n"
          "  delete PATH    DELETE: remove (pvesh delete)\n"
          "  ls PATH        list what is below PATH, with the verbs each entry takes\n"
          "  usage PATH     the methods at PATH: parameters and result shape\n"
          "  upload NODE STORAGE FILE [--content iso|vztmpl|import] [--filename NAME]\n"
          "                 [--checksum-algorithm sha256|...|none]: stream FILE to the storage\n"
          "                 (checksum verified by the server), wait for its task\n"
          "  download PATH FILE [--param value ...]: GET PATH, the answer's body into FILE\n"
          "                 (e.g. a task log with --download 1)\n"
          "\n"
          "options (before the verb; the environment gives the defaults):\n"
          "  --endpoint URL[,URL] PROXMOX_VE_ENDPOINT, e.g. https://pve1:8006 (several nodes of a\n"
          "                       cluster, comma-separated: calls fail over between them)\n"
          "  --token TOKEN        PROXMOX_VE_API_TOKEN, USER@REALM!ID=SECRET\n"
          "  --user USER          PROXMOX_VE_USERNAME, with PROXMOX_VE_PASSWORD (password login)\n"
          "  --fingerprint FP     PROXMOX_VE_FINGERPRINT, SHA-256 of the server certificate\n"
          "                       (one per node, comma-separated)\n"
          "  --ca-file FILE       trust the CAs in FILE\n"
          "  --insecure           PROXMOX_VE_INSECURE=1: no certificate checks (tests only)\n"
          "  --timeout SEC        per-call timeout (default 60)\n"
          "  --tfa CODE           second factor for a TFA login (TOTP code, or totp:/recovery:...)\n"
          "  --verbose            log requests to stderr (never secrets)\n"
          "after the path:\n"
          "  --output-format text|json|json-pretty   (default text: readable tables)\n"
          "  --wait               when the answer is a task (UPID), wait for it; exit 1 if it fails\n"
          "\n"
          "exit status: 0 ok, 1 the API or the task failed, 2 usage (unknown path, bad parameter),\n"
          "3 authentication, 4 TLS (certificate or fingerprint), 5 connection, 6 timeout\n",
          f);
}

int cli_exit_for(int r) {
    switch (r) {
    case PMX_OK: return 0;
    case PMX_EINVAL: return EXIT_USAGE;
    case PMX_EAUTH: return EXIT_AUTH;
    case PMX_ETLS: return EXIT_TLS;
    case PMX_ETRANSPORT: return EXIT_CONNECT;
    case PMX_ETIMEOUT: return EXIT_TIMEOUT;
    default: return EXIT_API;
    }
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void log_cb(pmx_client *c, pmx_log_level level, const char *msg, void *ud) {
    (void)c;
    (void)ud;
    static const char *const names[] = {"", "error", "warn", "info", "debug"};
    fprintf(stderr, "pmx: %s: %s\n", names[level], msg);
}

const cli_verb cli_verbs[4] = {{PMX_GET, "GET", "get", 'G'},
                                {PMX_POST, "POST", "create", 'C'},
                                {PMX_PUT, "PUT", "set", 'S'},
                                {PMX_DELETE, "DELETE", "delete", 'D'}};

static int verb_method(const char *verb, pmx_method *m) {
    for (size_t i = 0; i < 4; i++)
        if (strcmp(verb, cli_verbs[i].cli) == 0) {
            *m = cli_verbs[i].method;
            return 1;
        }
    return 0;
}

static const char *method_name(pmx_method m) { return cli_verbs[m - 1].http; }

int cli_make_client(const opts *o, pmx_client **out) {
    *out = NULL;
    if (!o->endpoint) {
        fprintf(stderr, "pmx: no endpoint: set PROXMOX_VE_ENDPOINT or --endpoint\n");
        return EXIT_USAGE;
    }
    pmx_client *c = NULL;
    int r = pmx_client_new(&c, o->endpoint);
    if (r) {
        fprintf(stderr, "pmx: bad endpoint '%s': %s (expected https://host[:port])\n", o->endpoint,
                pmx_strerror(r));
        return EXIT_USAGE;
    }
    if (o->fingerprint && pmx_client_set_fingerprint(c, o->fingerprint)) {
        fprintf(stderr, "pmx: bad fingerprint: expected 32 hex bytes separated by ':'\n");
        pmx_client_free(c);
        return EXIT_USAGE;
    }
    if (o->ca_file && pmx_client_set_ca_file(c, o->ca_file)) {
        fprintf(stderr, "pmx: cannot read CA file %s\n", o->ca_file);
        pmx_client_free(c);
        return EXIT_USAGE;
    }
    if (o->insecure)
        pmx_client_set_insecure(c, 1);
    if (o->token)
        r = pmx_client_set_token(c, o->token);
    else if (o->user && o->password)
        r = pmx_client_set_password(c, o->user, o->password);
    else
        r = PMX_EAUTH;
    if (r) {
        fprintf(stderr, "pmx: %s\n", r == PMX_EAUTH
                    ? "no credentials: set PROXMOX_VE_API_TOKEN, or PROXMOX_VE_USERNAME and PROXMOX_VE_PASSWORD"
                    : "malformed credentials (token USER@REALM!ID=SECRET, user USER@REALM)");
        pmx_client_free(c);
        return EXIT_USAGE;
    }
    if (o->tfa)
        pmx_client_set_tfa_response(c, o->tfa);
    pmx_client_set_timeouts(c, 10000, o->timeout_s * 1000);
    if (o->verbose)
        pmx_client_set_log_cb(c, PMX_LOG_DEBUG, log_cb, NULL, NULL);
    *out = c;
    return 0;
}

void cli_print_call_error(pmx_call *call, int r) {
    const char *msg = pmx_call_error(call);
    int st = pmx_call_http_status(call);
    if (st)
        fprintf(stderr, "pmx: %s (HTTP %d)\n", msg ? msg : pmx_strerror(r), st);
    else
        fprintf(stderr, "pmx: %s\n", msg ? msg : pmx_strerror(r));
    const char *name, *text;
    for (size_t i = 0; pmx_call_param_error(call, i, &name, &text) == PMX_OK; i++)
        fprintf(stderr, "  %s: %s\n", name, text);
}

/* --wait: follow the task, a progress line on a terminal, the log tail on failure. */
typedef struct progress {
    int tty;
    int shown;
} progress;

static void on_line(pmx_task *t, int64_t n, const char *text, void *ud) {
    progress *p = ud;
    (void)t;
    if (p->tty) {
        fprintf(stderr, "\r\033[K[%lld] %.*s", (long long)n, 100, text);
        p->shown = 1;
    }
}

static int wait_task(pmx_client *c, const char *upid, const opts *o) {
    progress p = {isatty(2), 0};
    pmx_task_opts to = PMX_OPTS_INIT(pmx_task_opts);
    to.first_interval_ms = 500;
    to.max_interval_ms = 5000;
    pmx_task *t = NULL;
    int r = pmx_task_follow(c, upid, &to, on_line, NULL, &p, &t);
    if (r) {
        fprintf(stderr, "pmx: cannot wait for %s: %s\n", upid, pmx_strerror(r));
        return cli_exit_for(r);
    }
    r = pmx_task_wait_sync(t);
    if (p.shown)
        fputs("\r\033[K", stderr);
    const char *st = pmx_task_exitstatus(t);
    if (r == PMX_OK) {
        if (strcmp(o->format, "text") == 0)
            printf("%s  (task %s)\n", st ? st : "OK", upid);
    } else {
        fprintf(stderr, "pmx: task %s %s: %s\n", upid, r == PMX_ETASK ? "failed" : "not finished",
                st ? st : pmx_task_error(t) ? pmx_task_error(t) : pmx_strerror(r));
        size_t n = pmx_task_log_count(t);
        if (n)
            fprintf(stderr, "last %zu lines of the task log:\n", n);
        for (size_t i = 0; i < n; i++) {
            int64_t ln;
            const char *line = pmx_task_log_line(t, i, &ln);
            fprintf(stderr, "  %lld: %s\n", (long long)ln, line ? line : "");
        }
    }
    pmx_task_unref(t);
    return r == PMX_ETASK ? EXIT_API : cli_exit_for(r);
}

/* Read "--name value" API parameters; a boolean may stand alone ("--force"). */
static int parse_params(const pmx_method_desc *d, int argc, char **argv, pmx_params *p, opts *o) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "pmx: unexpected argument '%s' (parameters are --name value)\n", a);
            return EXIT_USAGE;
        }
        const char *name = a + 2;
        if (strcmp(name, "wait") == 0) {
            o->wait = 1;
            continue;
        }
        if (strcmp(name, "output-format") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pmx: --output-format needs text, json or json-pretty\n");
                return EXIT_USAGE;
            }
            o->format = argv[++i];
            continue;
        }
        const pmx_param_desc *pd = d ? pmx_method_param(d, name) : NULL;
        pmx_param_info pi = PMX_OPTS_INIT(pmx_param_info);
        int is_bool = pd && pmx_param_describe(pd, &pi) == PMX_OK && pi.type == PMX_PARAM_BOOLEAN;
        const char *value;
        if (i + 1 < argc && (strncmp(argv[i + 1], "--", 2) != 0 || !is_bool))
            value = argv[++i];
        else if (is_bool)
            value = "1";
        else {
            fprintf(stderr, "pmx: --%s needs a value\n", name);
            return EXIT_USAGE;
        }
        if (pmx_params_add_str(p, name, value) != PMX_OK)
            return EXIT_USAGE;
    }
    if (strcmp(o->format, "text") && strcmp(o->format, "json") && strcmp(o->format, "json-pretty")) {
        fprintf(stderr, "pmx: unknown output format '%s' (text, json, json-pretty)\n", o->format);
        return EXIT_USAGE;
    }
    return 0;
}

static int report_invalid(const char *name, const char *message, void *ud) {
    (void)ud;
    fprintf(stderr, "  --%s: %s\n", name, message);
    return 0;
}

static int do_call(const opts *o0, pmx_method m, const char *path, int argc, char **argv) {
    opts o = *o0;
    const pmx_method_desc *d = pmx_method_find(m, path);
    if (!d) {
        fprintf(stderr, "pmx: no method '%s %s' in the API%s\n", method_name(m), path,
                "; see 'pmx ls' and 'pmx usage'");
        return EXIT_USAGE;
    }
    pmx_params *p = pmx_params_new();
    int rc = parse_params(d, argc, argv, p, &o);
    if (!rc) {
        int bad = pmx_method_validate_each(d, p, 0, report_invalid, NULL);
        if (bad > 0) {
            fprintf(stderr, "pmx: %d invalid parameter%s for %s %s (see 'pmx usage %s')\n", bad,
                    bad > 1 ? "s" : "", method_name(m), pmx_method_path(d), path);
            rc = EXIT_USAGE;
        }
    }
    pmx_client *c = NULL;
    if (!rc)
        rc = cli_make_client(&o, &c);
    if (rc) {
        pmx_params_free(p);
        return rc;
    }
    pmx_call *call = NULL;
    int r = pmx_call_start(c, m, path, p, NULL, NULL, &call);
    pmx_params_free(p);
    if (!r)
        r = pmx_call_wait(call);
    if (r) {
        cli_print_call_error(call, r);
        rc = cli_exit_for(r);
    } else {
        size_t len;
        const char *data = pmx_call_data(call, &len);
        int is_upid = data && len > 7 && strncmp(data, "\"UPID:", 6) == 0;
        if (o.wait && is_upid) {
            char *upid = strndup(data + 1, len - 2);
            if (strcmp(o.format, "text") != 0)
                cli_output(data, len, o.format, d);
            rc = upid ? wait_task(c, upid, &o) : EXIT_API;
            free(upid);
        } else {
            cli_output(data, len, o.format, d);
        }
    }
    pmx_call_unref(call);
    pmx_client_free(c);
    return rc;
}

int main(int argc, char **argv) {
    opts o = {0};
    o.endpoint = env("PROXMOX_VE_ENDPOINT");
    o.token = env("PROXMOX_VE_API_TOKEN");
    o.user = env("PROXMOX_VE_USERNAME");
    o.password = env("PROXMOX_VE_PASSWORD");
    o.fingerprint = env("PROXMOX_VE_FINGERPRINT");
    const char *ins = env("PROXMOX_VE_INSECURE");
    o.insecure = ins && (strcmp(ins, "1") == 0 || strcmp(ins, "true") == 0);
    o.timeout_s = 60;
    o.format = "text";
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i] + 2;
        const char **slot = NULL;
        if (strcmp(a, "help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "insecure") == 0) {
            o.insecure = 1;
            continue;
        } else if (strcmp(a, "verbose") == 0) {
            o.verbose = 1;
            continue;
        } else if (strcmp(a, "endpoint") == 0) slot = &o.endpoint;
        else if (strcmp(a, "token") == 0) slot = &o.token;
        else if (strcmp(a, "user") == 0) slot = &o.user;
        else if (strcmp(a, "password") == 0) slot = &o.password;
        else if (strcmp(a, "fingerprint") == 0) slot = &o.fingerprint;
        else if (strcmp(a, "ca-file") == 0) slot = &o.ca_file;
        else if (strcmp(a, "tfa") == 0) slot = &o.tfa;
        else if (strcmp(a, "output-format") == 0) slot = &o.format;
        else if (strcmp(a, "timeout") == 0) {
            if (i + 1 >= argc || (o.timeout_s = atoi(argv[++i])) <= 0) {
                fprintf(stderr, "pmx: --timeout needs a number of seconds\n");
                return EXIT_USAGE;
            }
            continue;
        } else {
            fprintf(stderr, "pmx: unknown option --%s (see pmx --help)\n", a);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "pmx: --%s needs a value\n", a);
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (argc - i < 2) {
        help(stderr);
        return EXIT_USAGE;
    }
    const char *verb = argv[i], *path = argv[i + 1];
    if (path[0] != '/' && strcmp(verb, "upload") != 0) {
        fprintf(stderr, "pmx: the path must start with '/', e.g. /nodes\n");
        return EXIT_USAGE;
    }
    pmx_method m;
    if (verb_method(verb, &m))
        return do_call(&o, m, path, argc - i - 2, argv + i + 2);
    if (strcmp(verb, "upload") == 0)
        return cli_upload(&o, argc - i - 1, argv + i + 1);
    if (strcmp(verb, "download") == 0)
        return cli_download(&o, argc - i - 1, argv + i + 1);
    if (strcmp(verb, "usage") == 0)
        return cli_usage(path);
    if (strcmp(verb, "ls") == 0) {
        pmx_client *c = NULL;
        opts lo = o;
        pmx_params *dummy = pmx_params_new();
        int rc = parse_params(NULL, argc - i - 2, argv + i + 2, dummy, &lo);
        pmx_params_free(dummy);
        if (!rc)
            rc = cli_make_client(&lo, &c);
        if (rc)
            return rc;
        rc = cli_ls(c, path, lo.format);
        pmx_client_free(c);
        return rc;
    }
    fprintf(stderr, "pmx: unknown verb '%s' (get, create, set, delete, ls, usage, upload, download)\n",
            verb);
    return EXIT_USAGE;
}
