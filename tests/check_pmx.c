/* The pmx command line, end to end against pve-mock. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

typedef struct run {
    int status;
    char out[65536];
    char err[16384];
} run;

static void slurp(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* Run pmx with `env` (shell assignments) and `args`, its standard output to `to` (NULL: kept
 * in r->out); the connection to g_mock comes from the environment unless `env` overrides it. */
static void pmx_to(run *r, const char *env, const char *args, const char *to) {
    char out[64], err[64], cmd[4096];
    snprintf(out, sizeof out, "/tmp/pmx-out-%d", (int)getpid());
    snprintf(err, sizeof err, "/tmp/pmx-err-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "PROXMOX_VE_ENDPOINT='%s' PROXMOX_VE_API_TOKEN='%s' PROXMOX_VE_FINGERPRINT='%s' "
             "PROXMOX_VE_USERNAME= PROXMOX_VE_PASSWORD= PROXMOX_VE_INSECURE= %s %s/bin/pmx %s >%s 2>%s",
             g_mock.url, g_mock.token, g_mock.fingerprint, env ? env : "", test_build_dir(), args,
             to ? to : out, err);
    int st = system(cmd);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    unlink(out);
    unlink(err);
}

static void pmx(run *r, const char *env, const char *args) { pmx_to(r, env, args, NULL); }

/* Text meant for a terminal holds no control character but line ends and tabs (json-pretty
 * indents with them): no other C0, no DEL, no C1 (raw or as UTF-8), no bidirectional override. */
static int terminal_safe(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f || (p[i] >= 0x80 && p[i] <= 0x9f &&
                                                             (i == 0 || p[i - 1] == 0xc2)))
            return 0;
        if (p[i] == 0xe2 && p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae)
            return 0;
    }
    return 1;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(get_text_table) {
    run r;
    pmx(&r, NULL, "get /nodes");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "node"));
    ck_assert_ptr_nonnull(strstr(r.out, "pve1"));
    ck_assert_ptr_nonnull(strstr(r.out, "pve2"));
    ck_assert_ptr_nonnull(strstr(r.out, "-+-")); /* a table rule */
}
END_TEST

START_TEST(get_json_formats) {
    run r;
    pmx(&r, NULL, "get /version --output-format json");
    ck_assert_int_eq(r.status, 0);
    ck_assert(r.out[0] == '{');
    ck_assert_ptr_nonnull(strstr(r.out, "\"version\":\"9."));
    ck_assert_ptr_null(strchr(r.out, '\n') == r.out + strlen(r.out) - 1 ? NULL : strchr(r.out, '\n'));
    pmx(&r, NULL, "get /version --output-format json-pretty");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\n\t\"release\""));
    pmx(&r, NULL, "get /version --output-format yaml");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(ls_lists_children) {
    run r;
    pmx(&r, NULL, "ls /nodes");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "pve1"));
    ck_assert_ptr_nonnull(strstr(r.out, "pve2"));
    pmx(&r, NULL, "ls /nodes/pve1/qemu/100");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "config"));
    ck_assert_ptr_nonnull(strstr(r.out, "status"));
}
END_TEST

START_TEST(usage_shows_parameters) {
    run r;
    pmx(&r, NULL, "usage /nodes/pve1/qemu");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "POST /nodes/{node}/qemu"));
    ck_assert_ptr_nonnull(strstr(r.out, "--vmid"));
    ck_assert_ptr_nonnull(strstr(r.out, "GET /nodes/{node}/qemu"));
    ck_assert_ptr_nonnull(strstr(r.out, "returns"));
    pmx(&r, NULL, "usage /no/such");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(wait_for_task_ok) {
    run r;
    pmx(&r, NULL, "create /nodes/pve1/qemu/100/status/stop --wait");
    ck_assert_msg(r.status == 0, "status %d, stderr %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "UPID:pve1:"));
    ck_assert_ptr_nonnull(strstr(r.out, "OK"));
}
END_TEST

START_TEST(wait_for_task_failure) {
    mock_faults(&g_mock, "{\"task_exitstatus\":\"disk on fire\"}");
    run r;
    pmx(&r, NULL, "create /nodes/pve1/qemu/101/status/stop --wait");
    mock_reset(&g_mock);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "disk on fire"));
    ck_assert_ptr_nonnull(strstr(r.err, "task log")); /* the tail is shown */
}
END_TEST

START_TEST(parameters_checked_before_sending) {
    long before = mock_stat(&g_mock, "requests");
    run r;
    pmx(&r, NULL, "create /nodes/pve1/qemu --vmid 5");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--vmid"));
    ck_assert_ptr_nonnull(strstr(r.err, "minimum"));
    pmx(&r, NULL, "create /nodes/pve1/qemu --name x");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "vmid"));
    pmx(&r, NULL, "get /nodes --bogus 1");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "bogus"));
    ck_assert_int_eq(mock_stat(&g_mock, "requests"), before); /* nothing reached the server */
}
END_TEST

START_TEST(unknown_path_and_verb) {
    run r;
    pmx(&r, NULL, "get /no/such/path");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no method"));
    pmx(&r, NULL, "frobnicate /nodes");
    ck_assert_int_eq(r.status, 2);
    pmx(&r, NULL, "get nodes");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(server_errors_reported) {
    run r;
    pmx(&r, NULL, "get /nodes/pve1/qemu/999/status/current");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "999"));
    ck_assert_ptr_nonnull(strstr(r.err, "HTTP 500"));
}
END_TEST

START_TEST(auth_failure_exit_3) {
    run r;
    pmx(&r, "PROXMOX_VE_API_TOKEN='root@pam!mock=00000000-0000-0000-0000-000000000000'", "get /nodes");
    ck_assert_int_eq(r.status, 3);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", "get /nodes");
    ck_assert_int_eq(r.status, 2); /* no credentials at all */
    ck_assert_ptr_nonnull(strstr(r.err, "PROXMOX_VE_API_TOKEN"));
}
END_TEST

START_TEST(tls_mismatch_exit_4) {
    run r;
    pmx(&r, "PROXMOX_VE_FINGERPRINT='00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF'",
        "get /nodes");
    ck_assert_int_eq(r.status, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "fingerprint"));
    char env[512];
    snprintf(env, sizeof env, "PROXMOX_VE_FINGERPRINT= ");
    pmx(&r, env, "get /nodes");
    ck_assert_int_eq(r.status, 4); /* verification on, the mock's CA unknown */
    pmx(&r, "PROXMOX_VE_FINGERPRINT= PROXMOX_VE_INSECURE=1", "get /nodes");
    ck_assert_int_eq(r.status, 0);
    snprintf(env, sizeof env, "PROXMOX_VE_FINGERPRINT=");
    char args[512];
    snprintf(args, sizeof args, "--ca-file %s get /nodes", g_mock.ca_file);
    pmx(&r, env, args);
    ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(unreachable_exit_5) {
    run r;
    pmx(&r, "PROXMOX_VE_ENDPOINT=https://127.0.0.1:1", "get /nodes");
    ck_assert_int_eq(r.status, 5);
    pmx(&r, "PROXMOX_VE_ENDPOINT=notaurl", "get /nodes");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

START_TEST(password_login_never_prints_secrets) {
    char env[512];
    snprintf(env, sizeof env, "PROXMOX_VE_API_TOKEN= PROXMOX_VE_USERNAME='%s' PROXMOX_VE_PASSWORD='%s'",
             g_mock.user, g_mock.password);
    run r;
    pmx(&r, env, "--verbose create /nodes/pve1/qemu/101/status/stop");
    ck_assert_msg(r.status == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "logged in")); /* verbose logging is on */
    ck_assert_ptr_null(strstr(r.out, g_mock.password));
    ck_assert_ptr_null(strstr(r.err, g_mock.password));
    ck_assert_ptr_null(strstr(r.err, "PVE:root@pam:"));
    ck_assert_ptr_null(strstr(r.err, strchr(g_mock.token, '=') + 1));
}
END_TEST

/* ---- upload, download, endpoint lists ---- */

START_TEST(upload_and_download) {
    char file[64], out[64];
    snprintf(file, sizeof file, "/tmp/pmx-up-%d.iso", (int)getpid());
    snprintf(out, sizeof out, "/tmp/pmx-dl-%d", (int)getpid());
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 100000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    run r;
    char args[512];
    snprintf(args, sizeof args, "upload pve1 local %s", file);
    pmx(&r, NULL, args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "OK"));
    ck_assert_ptr_nonnull(strstr(r.out, ":imgcopy:"));
    ck_assert_ptr_null(strstr(r.err, "\r")); /* no progress bar when stderr is not a terminal */
    /* the server's task fails: exit 1, with its log */
    mock_faults(&g_mock, "{\"task_exitstatus\":\"disk full\"}");
    snprintf(args, sizeof args, "upload pve1 local %s --filename other.iso", file);
    pmx(&r, NULL, args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "disk full"));
    mock_reset(&g_mock);
    /* usage errors */
    snprintf(args, sizeof args, "upload pve1 local %s --content backup", file);
    pmx(&r, NULL, args);
    ck_assert_int_eq(r.status, 2);
    pmx(&r, NULL, "upload pve1 local /nonexistent.iso");
    ck_assert_int_eq(r.status, 2);
    /* download: the answer's body into a file */
    snprintf(args, sizeof args, "download /version %s", out);
    pmx(&r, NULL, args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char buf[256] = "";
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\"version\""));
    unlink(out);
    snprintf(args, sizeof args, "download /nodes/nosuch/x %s", out);
    pmx(&r, NULL, args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_int_ne(access(out, F_OK), 0); /* no file left behind */
    unlink(file);
}
END_TEST

START_TEST(endpoint_list_from_environment) {
    /* The first endpoint refuses connections: pmx goes on with the second. */
    run r;
    char env[1024];
    snprintf(env, sizeof env, "PROXMOX_VE_ENDPOINT='https://127.0.0.1:1,%s' "
                              "PROXMOX_VE_FINGERPRINT='%s,%s'",
             g_mock.url, g_mock.fingerprint, g_mock.fingerprint);
    pmx(&r, env, "get /version --output-format json");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"version\""));
}
END_TEST


/* ---- review fixes ---- */

/* Secrets stay off the command line (other users read it in ps and /proc/PID/cmdline): --token,
 * --password and --tfa are refused before anything is sent; the token comes from the
 * environment or --token-file (a file or standard input). */
START_TEST(secrets_not_taken_from_argv) {
    long before = mock_stat(&g_mock, "requests");
    run r;
    pmx(&r, NULL, "--password hunter2-argv get /version");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "PROXMOX_VE_PASSWORD"));
    ck_assert_ptr_null(strstr(r.err, "hunter2-argv"));
    char args[512];
    snprintf(args, sizeof args, "--token '%s' get /version", g_mock.token);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--token-file"));
    ck_assert_ptr_null(strstr(r.err, strchr(g_mock.token, '=') + 1));
    pmx(&r, NULL, "--tfa recovery:abcd-efgh get /version");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--tfa-file"));
    ck_assert_ptr_null(strstr(r.err, "abcd-efgh"));
    /* the --name=value spelling too, and no "unknown option" echo of the value */
    static const char *const eq_forms[] = {"--token=root@pam!x=sekrit-eq1 get /version",
                                           "--password=sekrit-eq2 get /version",
                                           "--tfa=recovery:sekrit-eq3 get /version",
                                           "--tokenx=sekrit-eq4 get /version"};
    for (size_t i = 0; i < sizeof eq_forms / sizeof *eq_forms; i++) {
        pmx(&r, NULL, eq_forms[i]);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(!strstr(r.err, "sekrit"), "%s: %s", eq_forms[i], r.err);
    }
    ck_assert_int_eq(mock_stat(&g_mock, "requests"), before); /* nothing was sent */

    char file[64];
    snprintf(file, sizeof file, "/tmp/pmx-token-%d", (int)getpid());
    char line[300];
    snprintf(line, sizeof line, "%s\n", g_mock.token);
    write_file(file, line);
    snprintf(args, sizeof args, "--token-file %s get /version --output-format json", file);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"version\""));
    snprintf(args, sizeof args, "--token-file - get /version --output-format json <%s", file);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    /* the file wins over the environment */
    pmx(&r, "PROXMOX_VE_API_TOKEN='root@pam!mock=00000000-0000-0000-0000-000000000000'", args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    write_file(file, "\n");
    snprintf(args, sizeof args, "--token-file %s get /version", file);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "empty"));
    unlink(file);
    pmx(&r, "PROXMOX_VE_API_TOKEN=", args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, file));
}
END_TEST

/* The second factor from --tfa-file (a file or standard input); without one and no terminal to
 * ask on, the login fails (exit 3) instead of waiting. */
START_TEST(tfa_code_from_file) {
    char env[512], file[64], line[32], code[7], args[256];
    snprintf(env, sizeof env, "PROXMOX_VE_API_TOKEN= PROXMOX_VE_USERNAME='%s' PROXMOX_VE_PASSWORD='%s'",
             g_mock.tfa_user, g_mock.tfa_password);
    snprintf(file, sizeof file, "/tmp/pmx-tfa-%d", (int)getpid());
    run r;
    pmx(&r, env, "get /version");
    ck_assert_int_eq(r.status, 3);
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    snprintf(line, sizeof line, "totp:%s\n", code);
    write_file(file, line);
    snprintf(args, sizeof args, "--tfa-file %s get /version --output-format json", file);
    pmx(&r, env, args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"version\""));
    snprintf(args, sizeof args, "--tfa-file - get /version --output-format json <%s", file);
    pmx(&r, env, args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    test_totp(g_mock.totp_secret, (long)time(NULL) + 3600, code); /* an hour off */
    snprintf(line, sizeof line, "%s\n", code);
    write_file(file, line);
    snprintf(args, sizeof args, "--tfa-file %s get /version", file);
    pmx(&r, env, args);
    ck_assert_int_eq(r.status, 3);
    ck_assert_ptr_null(strstr(r.err, code));
    unlink(file);
}
END_TEST

/* The display column where the k-th " | " of line starts, under the UTF-8 locale. */
static int separator_column(const char *line, int k) {
    const char *p = line;
    for (int i = 0; i <= k; i++) {
        p = strstr(i ? p + 3 : p, " | ");
        if (!p)
            return -1;
    }
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(p - line), line);
    wchar_t wide[4096];
    size_t n = mbstowcs(wide, prefix, 4096);
    ck_assert_int_ne((long)n, -1);
    return wcswidth(wide, n);
}

/* Control characters in the server's text (a VM name with ESC sequences, a newline, DEL, C1, a
 * bidi override) are escaped in text output; JSON output is still JSON with the same value; wide
 * characters count as two columns. */
START_TEST(server_text_escaped_in_tables) {
    run r;
    pmx(&r, "LC_ALL=C.UTF-8", "get /nodes/pve1/qemu");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(terminal_safe(r.out), "raw control characters in: %s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "web\\x1b]0;PWNED-TITLE\\x07\\x1b[2J\\nfake | row\\x7f\\u009b31m\\u202e"));
    ck_assert_ptr_nonnull(strstr(r.out, "db\xc3\xa9\xe2\x82\xac\xe6\xbc\xa2\xe5\xad\x97")); /* UTF-8 as it is */
    /* header, rule, two rows: the newline in the name made no line of its own */
    int lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 4);
    /* the columns after the name line up: "漢字" takes four columns, not six bytes */
    if (setlocale(LC_CTYPE, "C.UTF-8")) {
        char *row[4], *save = NULL;
        int n = 0;
        for (char *l = strtok_r(r.out, "\n", &save); l && n < 4; l = strtok_r(NULL, "\n", &save))
            row[n++] = l;
        ck_assert_int_eq(n, 4);
        int name_col = 8; /* cpu cpus disk diskread diskwrite maxdisk maxmem mem | name | netin */
        int want = separator_column(row[0], name_col);
        ck_assert_int_gt(want, 0);
        ck_assert_int_eq(separator_column(row[2], name_col + 1), want); /* "fake | row" has one more */
        ck_assert_int_eq(separator_column(row[3], name_col), want);
        ck_assert_ptr_nonnull(setlocale(LC_CTYPE, "C"));
    }
    pmx(&r, NULL, "get /nodes/pve1/qemu --output-format json");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(terminal_safe(r.out), "raw control characters in: %s", r.out);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "name");
    ck_assert_str_eq(cJSON_GetStringValue(name),
                     "web\x1b]0;PWNED-TITLE\x07\x1b[2J\nfake | row\x7f\xc2\x9b" "31m\xe2\x80\xae");
    cJSON_Delete(j);
    pmx(&r, NULL, "get /nodes/pve1/qemu --output-format json-pretty");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(terminal_safe(r.out), "raw control characters in: %s", r.out);
    j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    name = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 1), "name");
    ck_assert_str_eq(cJSON_GetStringValue(name), "db\xc3\xa9\xe2\x82\xac\xe6\xbc\xa2\xe5\xad\x97");
    cJSON_Delete(j);
}
END_TEST

/* A task's exit status and log lines reach standard error escaped (--wait and upload). */
START_TEST(server_text_escaped_on_stderr) {
    mock_faults(&g_mock, "{\"task_exitstatus\":\"bad\\u001b]0;T\\u0007\\u001b[2J\\u009bthing\"}");
    run r;
    pmx(&r, NULL, "create /nodes/pve1/qemu/100/status/stop --wait");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(terminal_safe(r.err), "raw control characters in: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "bad\\x1b]0;T\\x07\\x1b[2J\\u009bthing"));
    char file[64], args[256];
    snprintf(file, sizeof file, "/tmp/pmx-esc-%d.iso", (int)getpid());
    write_file(file, "iso");
    snprintf(args, sizeof args, "upload pve1 local %s", file);
    pmx(&r, NULL, args);
    mock_reset(&g_mock);
    unlink(file);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(terminal_safe(r.err), "raw control characters in: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "bad\\x1b]0;T"));
}
END_TEST

/* Output that cannot be written is a failure (exit 1 with the reason), not 0. */
START_TEST(stdout_write_error_fails) {
    if (access("/dev/full", W_OK) != 0)
        return;
    run r;
    pmx_to(&r, NULL, "get /version", "/dev/full");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write the output"));
    pmx_to(&r, NULL, "get /version --output-format json", "/dev/full");
    ck_assert_int_eq(r.status, 1);
    pmx_to(&r, NULL, "--help", "/dev/full");
    ck_assert_int_eq(r.status, 1);
}
END_TEST

/* --timeout: a whole number of seconds in range; 4294968 s is 4294968 s (it was multiplied in
 * int: 704 ms), "10abc" and 0 are refused. */
START_TEST(timeout_parsed_and_in_range) {
    run r;
    const char *bad[] = {"10abc", "0", "-5", "", "99999999999999999999", "31536001", " 5x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[128];
        snprintf(args, sizeof args, "--timeout '%s' get /version", bad[i]);
        pmx(&r, NULL, args);
        ck_assert_msg(r.status == 2, "--timeout '%s': %d", bad[i], r.status);
        ck_assert_ptr_nonnull(strstr(r.err, "--timeout"));
    }
    mock_faults(&g_mock, "{\"latency_ms\":1500}");
    pmx(&r, NULL, "--timeout 4294968 get /version");
    int big = r.status;
    pmx(&r, NULL, "--timeout 1 get /version");
    mock_reset(&g_mock);
    ck_assert_msg(big == 0, "--timeout 4294968: %d", big);
    ck_assert_int_eq(r.status, 6);
}
END_TEST

/* Why an upload, a download or a path is refused is said without --verbose (the library's
 * warnings); a failed call is not reported twice; no secret in what is logged. */
START_TEST(local_refusals_say_why) {
    run r;
    pmx(&r, NULL, "upload pve1 local /nonexistent.iso");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "No such file"));
    pmx(&r, NULL, "get '/nodes/pve 1/qemu'");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "escaped"));
    pmx(&r, NULL, "download /version /nonexistent/x");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "No such file"));
    pmx(&r, NULL, "get /nodes/pve1/qemu/999/status/current");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_null(strstr(r.err, "warn")); /* the failure once, from pmx */
    char env[512];
    snprintf(env, sizeof env, "PROXMOX_VE_API_TOKEN= PROXMOX_VE_USERNAME='%s' "
                              "PROXMOX_VE_PASSWORD='wrong-%s'", g_mock.user, g_mock.password);
    pmx(&r, env, "get /version");
    ck_assert_int_eq(r.status, 3);
    ck_assert_ptr_null(strstr(r.err, g_mock.password));
    pmx(&r, "PROXMOX_VE_API_TOKEN='root@pam!mock=00000000-0000-0000-0000-000000000000'", "get /nodes");
    ck_assert_int_eq(r.status, 3);
    ck_assert_ptr_null(strstr(r.err, "00000000-0000"));
}
END_TEST

/* ls exits like the other verbs: a timeout is 6, a refused path 2. */
START_TEST(ls_exit_codes) {
    mock_faults(&g_mock, "{\"latency_ms\":1500}");
    run r;
    pmx(&r, NULL, "--timeout 1 ls /nodes");
    mock_reset(&g_mock);
    ck_assert_int_eq(r.status, 6);
    pmx(&r, NULL, "ls '/nodes/pve 1/qemu'");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* A secret parameter of the method (PMX_PARAM_SECRET: a new password) given on the command
 * line is copied and its text in argv wiped at once: /proc/PID/cmdline, read while the call is
 * in flight, no longer shows it. */
START_TEST(secret_parameter_wiped_from_argv) {
    mock_faults(&g_mock, "{\"latency_ms\":1500}");
    char cmd[4096], pidfile[64], cmdfile[64];
    snprintf(pidfile, sizeof pidfile, "/tmp/pmx-pid-%d", (int)getpid());
    snprintf(cmdfile, sizeof cmdfile, "/tmp/pmx-cmdline-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "PROXMOX_VE_ENDPOINT='%s' PROXMOX_VE_API_TOKEN='%s' PROXMOX_VE_FINGERPRINT='%s' "
             "%s/bin/pmx set /access/password --userid joe@pve --password sekrit-param-9 "
             ">/dev/null 2>&1 & echo $! >%s; sleep 0.7; tr '\\0' ' ' </proc/$(cat %s)/cmdline >%s; wait",
             g_mock.url, g_mock.token, g_mock.fingerprint, test_build_dir(), pidfile, pidfile,
             cmdfile);
    ck_assert_int_eq(system(cmd), 0);
    char seen[4096];
    slurp(cmdfile, seen, sizeof seen);
    unlink(pidfile);
    unlink(cmdfile);
    mock_reset(&g_mock);
    ck_assert_ptr_nonnull(strstr(seen, "--userid joe@pve --password")); /* (it was read) */
    ck_assert_msg(!strstr(seen, "sekrit"), "cmdline: %s", seen);
}
END_TEST

/* A bad endpoint is named, unless it holds an '@': user info may be a password, and where it
 * ends cannot be told ('#', '/', ',' in it). No password echoed. */
START_TEST(bad_endpoint_hides_userinfo) {
    run r;
    pmx(&r, "PROXMOX_VE_ENDPOINT='https://root%40pam:s3cret@127.0.0.1:8006'", "get /version");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "bad endpoint (not shown"));
    ck_assert_ptr_null(strstr(r.err, "s3cret"));
    ck_assert_ptr_null(strstr(r.err, "root%40pam"));
    static const char *const eps[] = {
        "PROXMOX_VE_ENDPOINT='https://127.0.0.1:1,u:pw1@h:8006,https://v:pw2@[::1]/x@y'",
        "PROXMOX_VE_ENDPOINT='https://root:pa#pw3@host:8006'",
        "PROXMOX_VE_ENDPOINT='https://root:pa/pw4@host:8006'",
        "PROXMOX_VE_ENDPOINT='https://root:pa,pw5@host:8006'"};
    for (size_t i = 0; i < sizeof eps / sizeof *eps; i++) {
        pmx(&r, eps[i], "get /version");
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(!strstr(r.err, "pw"), "%s: %s", eps[i], r.err);
    }
    /* one without user info is shown, escaped */
    pmx(&r, "PROXMOX_VE_ENDPOINT='https://bad host'", "get /version");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "bad endpoint 'https://bad host'"));
}
END_TEST

static void ctrl_fixture_start(void) {
    const char *const args[] = {"--auth-delay-ms", "50", "--task-ms", "300", "--fixture",
                                "tests/data/pmx_ctrl.json", NULL};
    if (mock_start(&g_mock, args) != 0) {
        fprintf(stderr, "cannot start pve-mock --fixture tests/data/pmx_ctrl.json\n");
        exit(1);
    }
}

static Suite *pmx_cli_suite(void) {
    Suite *s = suite_create("pmx");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, get_text_table);
    tcase_add_test(tc, get_json_formats);
    tcase_add_test(tc, ls_lists_children);
    tcase_add_test(tc, usage_shows_parameters);
    tcase_add_test(tc, wait_for_task_ok);
    tcase_add_test(tc, wait_for_task_failure);
    tcase_add_test(tc, parameters_checked_before_sending);
    tcase_add_test(tc, unknown_path_and_verb);
    tcase_add_test(tc, server_errors_reported);
    tcase_add_test(tc, auth_failure_exit_3);
    tcase_add_test(tc, tls_mismatch_exit_4);
    tcase_add_test(tc, unreachable_exit_5);
    tcase_add_test(tc, password_login_never_prints_secrets);
    tcase_add_test(tc, upload_and_download);
    tcase_add_test(tc, endpoint_list_from_environment);
    tcase_add_test(tc, secrets_not_taken_from_argv);
    tcase_add_test(tc, server_text_escaped_on_stderr);
    tcase_add_test(tc, stdout_write_error_fails);
    tcase_add_test(tc, timeout_parsed_and_in_range);
    tcase_add_test(tc, local_refusals_say_why);
    tcase_add_test(tc, ls_exit_codes);
    tcase_add_test(tc, bad_endpoint_hides_userinfo);
    tcase_add_test(tc, secret_parameter_wiped_from_argv);
    suite_add_tcase(s, tc);
    tc = tcase_create("tfa");
    tcase_add_unchecked_fixture(tc, mock_fixture_start_tfa, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tfa_code_from_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("control_characters");
    tcase_add_unchecked_fixture(tc, ctrl_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, server_text_escaped_in_tables);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(pmx_cli_suite)
