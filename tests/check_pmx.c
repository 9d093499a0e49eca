/* The pmx command line, end to end against pve-mock. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Run pmx with `env` (shell assignments) and `args`; the connection to g_mock comes from the
 * environment unless `env` overrides it. */
static void pmx(run *r, const char *env, const char *args) {
    char out[64], err[64], cmd[4096];
    snprintf(out, sizeof out, "/tmp/pmx-out-%d", (int)getpid());
    snprintf(err, sizeof err, "/tmp/pmx-err-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "PROXMOX_VE_ENDPOINT='%s' PROXMOX_VE_API_TOKEN='%s' PROXMOX_VE_FINGERPRINT='%s' "
             "PROXMOX_VE_USERNAME= PROXMOX_VE_PASSWORD= PROXMOX_VE_INSECURE= %s %s/bin/pmx %s >%s 2>%s",
             g_mock.url, g_mock.token, g_mock.fingerprint, env ? env : "", test_build_dir(), args,
             out, err);
    int st = system(cmd);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    unlink(out);
    unlink(err);
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
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(pmx_cli_suite)
