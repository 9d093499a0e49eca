/* pmx: a remote, pvesh-style command line for the Proxmox VE API, built on libproxmox.
 *
 *   pmx [connection options] <get|create|set|delete|ls|usage> <path> [--param value ...]
 *
 * Parameters are checked against the method tables before anything is sent. */
#include <proxmox/proxmox.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
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
          "  --token-file FILE    the API token (USER@REALM!ID=SECRET) from the first line of FILE\n"
          "                       ('-': standard input); default PROXMOX_VE_API_TOKEN\n"
          "  --user USER          PROXMOX_VE_USERNAME, with PROXMOX_VE_PASSWORD (password login)\n"
          "  --fingerprint FP     PROXMOX_VE_FINGERPRINT, SHA-256 of the server certificate\n"
          "                       (one per node, comma-separated)\n"
          "  --ca-file FILE       trust the CAs in FILE\n"
          "  --insecure           PROXMOX_VE_INSECURE=1: no certificate checks (tests only)\n"
          "  --timeout SEC        per-call timeout, 1 to 31536000 (default 60)\n"
          "  --tfa-file FILE      the second factor of a TFA login from the first line of FILE\n"
          "                       ('-': standard input): a TOTP code, totp:CODE or recovery:KEY;\n"
          "                       without it pmx asks on the terminal when the server wants one\n"
          "  --verbose            log requests to stderr (never secrets); warnings are always shown\n"
          "secrets are never taken from the command line (other users see it in ps): the token\n"
          "comes from the environment or --token-file, the password from the environment\n"
          "after the path:\n"
          "  --output-format text|json|json-pretty   (default text: readable tables)\n"
          "  --wait               when the answer is a task (UPID), wait for it; exit 1 if it fails\n"
          "\n"
          "exit status: 0 ok, 1 the API or the task failed, 2 usage (unknown path, bad parameter),\n"
          "3 authentication, 4 TLS (certificate or fingerprint), 5 connection, 6 timeout;\n"
          "1 too when the output cannot be written\n",
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

/* The library's log: warnings and errors always (why an upload, a download or a path was
 * refused), everything with --verbose. Messages never hold a secret (the library's promise:
 * no password, ticket, CSRF token or token secret); they are escaped all the same. Without
 * --verbose the line the library logs for every failed call ("GET /path failed: ...") is left
 * out: pmx reports the failure itself. */
static void log_cb(pmx_client *c, pmx_log_level level, const char *msg, void *ud) {
    (void)c;
    const int *verbose = ud;
    static const char *const names[] = {"", "error", "warn", "info", "debug"};
    if (!*verbose && level == PMX_LOG_WARN && strstr(msg, " failed: "))
        for (size_t i = 0; i < 4; i++) {
            size_t n = strlen(cli_verbs[i].http);
            if (strncmp(msg, cli_verbs[i].http, n) == 0 && msg[n] == ' ' && msg[n + 1] == '/')
                return;
        }
    fprintf(stderr, "pmx: %s: ", names[level >= PMX_LOG_ERROR && level <= PMX_LOG_DEBUG ? level : 0]);
    cli_put(stderr, msg);
    fputc('\n', stderr);
}

/* The second factor asked on the terminal (without echo), when the server wants one and no
 * --tfa-file was given; only with standard error on a terminal. The call's timeout runs on
 * meanwhile. Non-zero: no answer, the login fails. */
static int tfa_prompt(pmx_client *c, const char *challenge, char *out, size_t size, void *ud) {
    (void)c;
    (void)challenge;
    const char *user = ud;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    struct termios old, quiet;
    int restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    char *u = cli_escape(user);
    int ok = dprintf(fd, "pmx: second factor for %s (TOTP code, totp:CODE or recovery:KEY): ",
                     u ? u : "?") > 0;
    free(u);
    size_t n = 0;
    while (ok) {
        char ch;
        ssize_t k = read(fd, &ch, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || ch == '\n')
            break;
        if (n + 1 < size)
            out[n++] = ch;
        else
            ok = 0; /* longer than any code */
    }
    if (n && out[n - 1] == '\r')
        n--;
    out[n] = 0;
    if (restore && tcsetattr(fd, TCSAFLUSH, &old) != 0)
        ok = 0;
    if (close(fd) != 0)
        ok = 0;
    if (!ok || !n) {
        explicit_bzero(out, size);
        return 1;
    }
    return 0;
}

/* The first line of FILE ('-': standard input) into buf, for a secret read from a file instead
 * of the command line; 0, or an exit code with the reason printed (never the content). */
static int read_secret(const char *what, const char *path, char *buf, size_t size) {
    int in = strcmp(path, "-") == 0;
    int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pmx: cannot open the %s file %s: %s\n", what, path, strerror(errno));
        return EXIT_USAGE;
    }
    size_t n = 0;
    int err = 0;
    while (n + 1 < size && !memchr(buf, '\n', n)) {
        ssize_t k = read(fd, buf + n, size - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            err = errno;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    if (!in && close(fd) != 0 && !err)
        err = errno;
    buf[n] = 0;
    size_t len = strcspn(buf, "\r\n");
    int too_long = len == n && n + 1 >= size;
    explicit_bzero(buf + len, size - len); /* the rest of the file: not ours to keep */
    if (err || too_long || !len) {
        explicit_bzero(buf, size);
        fprintf(stderr, "pmx: cannot read the %s from %s: %s\n", what, in ? "standard input" : path,
                err ? strerror(err) : too_long ? "its first line is too long" : "it is empty");
        return EXIT_USAGE;
    }
    return 0;
}

/* The endpoint for an error message. One holding an '@' is not shown at all: user info may be a
 * password, and where it ends cannot be told when it holds '#', '/', '?' or ','. */
static char *endpoint_for_message(const char *ep) {
    if (strchr(ep, '@'))
        return strdup("(not shown: it holds an '@', perhaps a password)");
    char *e = cli_escape(ep), *q = e ? malloc(strlen(e) + 3) : NULL;
    if (q)
        sprintf(q, "'%s'", e);
    free(e);
    return q;
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
        char *shown = endpoint_for_message(o->endpoint);
        fprintf(stderr, "pmx: bad endpoint %s: %s (expected https://host[:port]%s)\n",
                shown ? shown : "?", pmx_strerror(r),
                strchr(o->endpoint, '@') ? "; no user or password in the URL" : "");
        free(shown);
        return r == PMX_ENOMEM ? EXIT_API : EXIT_USAGE;
    }
    /* The log first: what the set-up below refuses is explained there. */
    r = pmx_client_set_log_cb(c, o->verbose ? PMX_LOG_DEBUG : PMX_LOG_WARN, log_cb,
                              (void *)&o->verbose, NULL);
    if (r) {
        fprintf(stderr, "pmx: cannot set up the client: %s\n", pmx_strerror(r));
        pmx_client_free(c);
        return EXIT_API;
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
    if (o->insecure && (r = pmx_client_set_insecure(c, 1)) != PMX_OK) {
        fprintf(stderr, "pmx: cannot switch certificate checks off: %s\n", pmx_strerror(r));
        pmx_client_free(c);
        return EXIT_API;
    }
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
    if (!o->token && o->tfa)
        r = pmx_client_set_tfa_response(c, o->tfa);
    else if (!o->token && isatty(STDERR_FILENO))
        r = pmx_client_set_tfa_cb(c, tfa_prompt, (void *)o->user, NULL);
    if (!r) /* timeout_s is 1 ... CLI_TIMEOUT_MAX: the product fits easily */
        r = pmx_client_set_timeouts(c, PMX_DEFAULT_CONNECT_MS, o->timeout_s * 1000);
    if (r) {
        fprintf(stderr, "pmx: cannot set up the client: %s\n", pmx_strerror(r));
        pmx_client_free(c);
        return r == PMX_EINVAL ? EXIT_USAGE : EXIT_API;
    }
    *out = c;
    return 0;
}

void cli_print_call_error(pmx_call *call, int r) {
    const char *msg = call ? pmx_call_error(call) : NULL;
    int st = call ? pmx_call_http_status(call) : 0;
    fputs("pmx: ", stderr);
    cli_put(stderr, msg ? msg : pmx_strerror(r)); /* the server's words: escaped */
    if (st)
        fprintf(stderr, " (HTTP %d)", st);
    fputc('\n', stderr);
    const char *name, *text;
    for (size_t i = 0; call && pmx_call_param_error(call, i, &name, &text) == PMX_OK; i++) {
        fputs("  ", stderr);
        cli_put(stderr, name);
        fputs(": ", stderr);
        cli_put(stderr, text);
        fputc('\n', stderr);
    }
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
        char *e = cli_escape(text);
        fprintf(stderr, "\r\033[K[%lld] %.*s", (long long)n, 100, e ? e : "?");
        free(e);
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
        fputs("pmx: cannot wait for ", stderr);
        cli_put(stderr, upid);
        fprintf(stderr, ": %s\n", pmx_strerror(r));
        return cli_exit_for(r);
    }
    r = pmx_task_wait_sync(t);
    if (p.shown)
        fputs("\r\033[K", stderr);
    const char *st = pmx_task_exitstatus(t);
    if (r == PMX_OK) {
        if (strcmp(o->format, "text") == 0) {
            cli_put(stdout, st ? st : "OK");
            fputs("  (task ", stdout);
            cli_put(stdout, upid);
            fputs(")\n", stdout);
        }
    } else {
        cli_print_task_failure(t, r, upid, NULL);
    }
    pmx_task_unref(t);
    return r == PMX_ETASK ? EXIT_API : cli_exit_for(r);
}

void cli_print_task_failure(pmx_task *t, int r, const char *upid, const char *upload) {
    const char *st = pmx_task_exitstatus(t), *err = pmx_task_error(t);
    int http = pmx_task_http_status(t);
    if (upload) {
        fputs("pmx: upload of ", stderr);
        cli_put(stderr, upload);
        fputs(" failed: ", stderr);
    } else {
        fputs("pmx: task ", stderr);
        cli_put(stderr, upid);
        fprintf(stderr, " %s: ", r == PMX_ETASK ? "failed" : "not finished");
    }
    /* the task's exit status, the failure's message or the code's: the server's words escaped */
    if (upload)
        cli_put(stderr, err ? err : st ? st : pmx_strerror(r));
    else
        cli_put(stderr, st ? st : err ? err : pmx_strerror(r));
    if (http)
        fprintf(stderr, " (HTTP %d)", http);
    fputc('\n', stderr);
    size_t n = pmx_task_log_count(t);
    if (n)
        fprintf(stderr, "last %zu lines of the task log:\n", n);
    for (size_t i = 0; i < n; i++) {
        int64_t ln;
        const char *line = pmx_task_log_line(t, i, &ln);
        fprintf(stderr, "  %lld: ", (long long)ln);
        cli_put(stderr, line ? line : "");
        fputc('\n', stderr);
    }
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
        int r = pmx_params_add_str(p, name, value);
        if (r != PMX_OK) {
            fprintf(stderr, "pmx: --%s: %s\n", name, pmx_strerror(r));
            return r == PMX_ENOMEM ? EXIT_API : EXIT_USAGE;
        }
        /* A secret parameter of the method (a new password): copied, its argv text wiped at once
         * so that it stays in /proc/PID/cmdline as short as can be. */
        if (pd && (pi.flags & PMX_PARAM_SECRET) && value == argv[i])
            explicit_bzero(argv[i], strlen(argv[i]));
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
    if (!p) {
        fprintf(stderr, "pmx: out of memory\n");
        return EXIT_API;
    }
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
                rc = cli_output(data, len, o.format, d);
            if (!upid)
                fprintf(stderr, "pmx: out of memory\n");
            if (!rc)
                rc = upid ? wait_task(c, upid, &o) : EXIT_API;
            free(upid);
        } else {
            rc = cli_output(data, len, o.format, d);
        }
    }
    pmx_call_unref(call);
    pmx_client_free(c);
    return rc;
}

/* The longest --timeout: a year, in seconds (times 1000 still far inside int64_t and long). */
#define CLI_TIMEOUT_MAX 31536000L

/* --timeout SEC: a whole number 1 ... CLI_TIMEOUT_MAX, nothing after it. */
static int parse_timeout(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > CLI_TIMEOUT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* Secrets read from files (--token-file, --tfa-file): wiped before exit. */
static char token_buf[1024], tfa_buf[256];

/* An option that used to take a secret on the command line: refused, and the value (the next
 * argument) overwritten at once so that it stays in /proc/PID/cmdline as short as can be. */
/* Whether option text @p a (after "--") is @p name, alone or as "name=value". */
static int option_is(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

static int refuse_secret_option(const char *name, int argc, char **argv, int i) {
    char *eq = strchr(argv[i], '=');
    if (eq) /* --token=VALUE */
        explicit_bzero(eq + 1, strlen(eq + 1));
    else if (i + 1 < argc) /* (even one starting with "--": a password may) */
        explicit_bzero(argv[i + 1], strlen(argv[i + 1]));
    const char *instead =
        strcmp(name, "password") == 0 ? "set PROXMOX_VE_PASSWORD"
        : strcmp(name, "token") == 0  ? "set PROXMOX_VE_API_TOKEN, or --token-file FILE ('-': standard input)"
                                      : "use --tfa-file FILE ('-': standard input), or answer pmx's prompt";
    fprintf(stderr, "pmx: --%s is not taken: the command line is visible to other users (ps); %s\n",
            name, instead);
    return EXIT_USAGE;
}

static int run(int argc, char **argv) {
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
    const char *token_file = NULL, *tfa_file = NULL;
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
        } else if (option_is(a, "token") || option_is(a, "password") || option_is(a, "tfa")) {
            char name[16];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(a, "="), a);
            return refuse_secret_option(name, argc, argv, i);
        } else if (strcmp(a, "endpoint") == 0) slot = &o.endpoint;
        else if (strcmp(a, "token-file") == 0) slot = &token_file;
        else if (strcmp(a, "user") == 0) slot = &o.user;
        else if (strcmp(a, "fingerprint") == 0) slot = &o.fingerprint;
        else if (strcmp(a, "ca-file") == 0) slot = &o.ca_file;
        else if (strcmp(a, "tfa-file") == 0) slot = &tfa_file;
        else if (strcmp(a, "output-format") == 0) slot = &o.format;
        else if (strcmp(a, "timeout") == 0) {
            if (i + 1 >= argc || parse_timeout(argv[++i], &o.timeout_s) != 0) {
                fprintf(stderr, "pmx: --timeout needs a whole number of seconds, 1 to %ld\n",
                        CLI_TIMEOUT_MAX);
                return EXIT_USAGE;
            }
            continue;
        } else { /* (the name only: what follows a '=' may be a secret) */
            fprintf(stderr, "pmx: unknown option --%.*s (see pmx --help)\n", (int)strcspn(a, "="), a);
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
    if (token_file && tfa_file && strcmp(token_file, "-") == 0 && strcmp(tfa_file, "-") == 0) {
        fprintf(stderr, "pmx: --token-file and --tfa-file cannot both read standard input\n");
        return EXIT_USAGE;
    }
    int rc;
    if (token_file) {
        if ((rc = read_secret("token", token_file, token_buf, sizeof token_buf)) != 0)
            return rc;
        o.token = token_buf;
    }
    if (tfa_file) {
        if ((rc = read_secret("second factor", tfa_file, tfa_buf, sizeof tfa_buf)) != 0)
            return rc;
        o.tfa = tfa_buf;
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
        if (!dummy) {
            fprintf(stderr, "pmx: out of memory\n");
            return EXIT_API;
        }
        rc = parse_params(NULL, argc - i - 2, argv + i + 2, dummy, &lo);
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

int main(int argc, char **argv) {
    /* the terminal's character widths for text tables (LC_CTYPE only: numbers stay C; the
     * library reads and writes its own in the C locale anyway); without it, one column a
     * character */
    (void)setlocale(LC_CTYPE, "");
    int rc = run(argc, argv);
    explicit_bzero(token_buf, sizeof token_buf);
    explicit_bzero(tfa_buf, sizeof tfa_buf);
    /* What was printed must have arrived: a full disk or a closed pipe is a failure, not 0. */
    errno = 0;
    int bad = fflush(stdout) != 0;
    int err = errno;
    bad |= ferror(stdout) != 0;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        fprintf(stderr, "pmx: cannot write the output: %s\n", err ? strerror(err) : "write error");
        return rc ? rc : EXIT_API;
    }
    return rc;
}
