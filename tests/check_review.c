/* Regression tests from the core review: lifetimes around callbacks, external-loop timer,
 * header injection through tickets, hostile or clock-skewed login answers. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct rcounter {
    int calls;
    int last_result;
} rcounter;

/* ---- pmx_client_free from callbacks run by pmx_client_free ---- */

static void free_again_cb(pmx_call *call, int result, void *ud) {
    rcounter *k = ud;
    k->calls++;
    k->last_result = result;
    /* A common pattern: give up on the client when a call fails. */
    pmx_client_free(pmx_call_client(call));
}

START_TEST(free_inside_destroy_callbacks) {
    /* Every pending call gets its PMX_EDESTROYED callback even when each callback frees the
     * client again (it is already being freed). */
    pmx_client *c = test_client(&g_mock, "token");
    mock_faults(&g_mock, "{\"latency_ms\":1000}");
    rcounter k = {0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, free_again_cb, &k, NULL),
                         PMX_OK);
    pmx_client_run(c, 30);
    pmx_client_free(c);
    ck_assert_int_eq(k.calls, 3);
    ck_assert_int_eq(k.last_result, PMX_EDESTROYED);
    mock_reset(&g_mock);
}
END_TEST

/* ---- external loop: the timer is cancelled when the client goes away ---- */

static void rec_timer(pmx_client *c, int64_t ms, void *ud) {
    (void)c;
    *(int64_t *)ud = ms;
}

static void count_only(pmx_call *call, int result, void *ud) {
    (void)call;
    rcounter *k = ud;
    k->calls++;
    k->last_result = result;
}

START_TEST(free_cancels_external_timer) {
    pmx_client *c = test_client(&g_mock, "token");
    int64_t last = -5;
    ck_assert_int_eq(pmx_client_set_timer_cb(c, rec_timer, &last, NULL), PMX_OK);
    rcounter k = {0};
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, count_only, &k, NULL), PMX_OK);
    pmx_client_free(c);
    ck_assert_int_eq(k.calls, 1);
    /* The loop must not be left with a timer that calls pmx_client_timeout_action(freed). */
    ck_assert_int_eq(last, -1);
}
END_TEST

/* ---- tickets and CSRF tokens must not carry header breaks ---- */

START_TEST(ticket_header_injection_refused) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_ticket(c, "PVE:root@pam:12345678::c2ln\r\nX-Injected: 1", NULL),
                     PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_ticket(c, "PVE:root@pam:12345678::c2ln",
                                           "1234ABCD:abc\r\nX-Injected: 1"),
                     PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_ticket(c, "PVE:root@pam:12345678::c2ln", "1234ABCD:abc"), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- a minimal plain-HTTP server with canned login answers ---- */

typedef struct mini {
    pid_t pid;
    char url[64];
    volatile int *logins; /* shared with the child */
} mini;

static void mini_serve(int ls, const char *login_json, volatile int *logins) {
    for (;;) {
        int s = accept(ls, NULL, NULL);
        if (s < 0)
            continue;
        char req[16384];
        size_t len = 0;
        char *hend = NULL;
        while (len < sizeof req - 1) {
            ssize_t r = read(s, req + len, sizeof req - 1 - len);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = 0;
            if ((hend = strstr(req, "\r\n\r\n"))) {
                const char *cl = strcasestr(req, "Content-Length:");
                size_t want = cl ? (size_t)atol(cl + 15) : 0;
                if (len >= (size_t)(hend + 4 - req) + want)
                    break;
            }
        }
        const char *body = "{\"data\":{\"ok\":1}}";
        if (strncmp(req, "POST /api2/json/access/ticket", 29) == 0) {
            body = login_json;
            (*logins)++;
        }
        char out[4096];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(body), body);
        if (write(s, out, (size_t)n) < 0) {
        }
        close(s);
    }
}

static void mini_start(mini *m, const char *login_json) {
    memset(m, 0, sizeof *m);
    m->logins = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(m->logins != MAP_FAILED);
    *m->logins = 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 16), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    m->pid = fork();
    ck_assert_int_ge(m->pid, 0);
    if (m->pid == 0) {
        mini_serve(ls, login_json, m->logins);
        _exit(0);
    }
    close(ls);
}

static void mini_stop(mini *m) {
    if (m->pid > 0) {
        kill(m->pid, SIGKILL);
        waitpid(m->pid, NULL, 0);
    }
    munmap((void *)m->logins, sizeof(int));
}

START_TEST(tfa_short_ticket_no_overread) {
    /* A server that says NeedTFA with a ticket shorter than "PVE:!tfa!": the challenge must
     * not be read past the end of the string (ASan: heap-buffer-overflow). */
    mini m;
    mini_start(&m, "{\"data\":{\"username\":\"root@pam\",\"ticket\":\"PVE:\",\"NeedTFA\":1}}");
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, m.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", "secret"), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EAUTH);
    pmx_call_unref(call);
    pmx_client_free(c);
    mini_stop(&m);
}
END_TEST

START_TEST(clock_skew_one_login) {
    /* The server's clock is 3 h behind ours: its fresh tickets carry an epoch that looks
     * expired here. The server still accepts them for 2 h, so one login must do. */
    char json[256];
    snprintf(json, sizeof json,
             "{\"data\":{\"username\":\"root@pam\",\"ticket\":\"PVE:root@pam:%08lX::c2lnbmF0dXJl\","
             "\"CSRFPreventionToken\":\"%08lX:Y3NyZg\"}}",
             (unsigned long)(time(NULL) - 3 * 3600), (unsigned long)(time(NULL) - 3 * 3600));
    mini m;
    mini_start(&m, json);
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, m.url), PMX_OK);
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", "secret"), PMX_OK);
    for (int i = 0; i < 4; i++) {
        pmx_call *call = NULL;
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
        ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
        pmx_call_unref(call);
    }
    ck_assert_int_eq(*m.logins, 1);
    pmx_client_free(c);
    mini_stop(&m);
}
END_TEST


/* ---- TFA: a call started from the TFA callback waits for the login in progress ---- */

typedef struct tfa_starter {
    int asked;
    rcounter k;
} tfa_starter;

static int tfa_start_cb(pmx_client *c, const char *challenge, char *out, size_t size, void *ud) {
    tfa_starter *t = ud;
    (void)challenge;
    if (t->asked++ == 0)
        ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, count_only, &t->k, NULL),
                         PMX_OK);
    char code[7];
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    snprintf(out, size, "%s", code);
    return 0;
}

START_TEST(tfa_callback_starts_call) {
    long before = mock_stat(&g_mock, "tfa_logins");
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    tfa_starter t = {0};
    ck_assert_int_eq(pmx_client_set_tfa_cb(c, tfa_start_cb, &t, NULL), PMX_OK);
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(pmx_client_run(c, 10000), PMX_OK);
    ck_assert_int_eq(t.k.calls, 1);
    ck_assert_int_eq(t.k.last_result, PMX_OK);
    ck_assert_int_eq(t.asked, 1);                                /* one prompt */
    ck_assert_int_eq(mock_stat(&g_mock, "tfa_logins") - before, 1); /* one login */
    pmx_client_free(c);
}
END_TEST

/* ---- second review (call lifecycle, login) ---- */

/* A call's userdata_free frees the client (a binding whose userdata held the last reference):
 * the free is deferred like any free from a callback, not done inside the dispatch loop. */
typedef struct owner {
    pmx_client *c;
    int freed;
} owner;

static void free_owned_client(void *p) {
    owner *o = p;
    o->freed++;
    pmx_client_free(o->c);
}

START_TEST(userdata_free_frees_client) {
    pmx_client *c = test_client(&g_mock, "token");
    owner o = {c, 0};
    pmx_call_opts opts = PMX_OPTS_INIT(pmx_call_opts);
    opts.userdata_free = free_owned_client;
    rcounter k = {0};
    ck_assert_int_eq(pmx_call_start_ex(c, PMX_GET, "/version", NULL, &opts, NULL, &o, NULL),
                     PMX_OK);
    /* a second call, so that dispatch goes on after the first (ASan: no use after free) */
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/version", NULL, free_again_cb, &k, NULL),
                     PMX_OK);
    pmx_client_run(c, 10000); /* (the client is gone when it returns) */
    ck_assert_int_eq(o.freed, 1);
    ck_assert_int_le(k.calls, 1);
}
END_TEST

/* A ticket believed expired, a password set, and a server that refuses the old ticket: one
 * login request (the password), not a renewal with the old ticket first. */
START_TEST(expired_ticket_with_password_one_login) {
    static const char *const args[] = {"--ticket-lifetime", "2", NULL};
    mock m;
    ck_assert_int_eq(mock_start(&m, args), 0);
    pmx_client *a = test_client(&m, "password");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(a, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    char *ticket = NULL, *csrf = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, &csrf), PMX_OK);
    pmx_client_free(a);
    sleep(3);
    pmx_client *e = test_client(&m, "password");
    ck_assert_int_eq(pmx_client_set_ticket_lifetime(e, 2), PMX_OK);
    ck_assert_int_eq(pmx_client_set_ticket(e, ticket, csrf), PMX_OK);
    long before = mock_count_requests(&m, "POST", "/api2/json/access/ticket");
    ck_assert_int_eq(pmx_call_start(e, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_count_requests(&m, "POST", "/api2/json/access/ticket") - before, 1);
    pmx_client_free(e);
    pmx_secret_free(ticket);
    pmx_secret_free(csrf);
    mock_stop(&m);
}
END_TEST

/* A ticket set without a CSRF token serves reads; a write the server refuses for the missing
 * token fails alone and does not retire the ticket: reads go on. */
START_TEST(csrf_refusal_keeps_reads) {
    pmx_client *a = test_client(&g_mock, "password");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(a, PMX_GET, "/version", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    char *ticket = NULL;
    ck_assert_int_eq(pmx_client_get_ticket(a, &ticket, NULL), PMX_OK);
    pmx_client *b = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_ticket(b, ticket, NULL), PMX_OK); /* reads only */
    ck_assert_int_eq(pmx_call_start(b, PMX_POST, "/nodes/pve1/qemu/101/status/stop", NULL, NULL,
                                    NULL, &call),
                     PMX_OK);
    ck_assert_int_eq(pmx_call_wait(call), PMX_EAUTH);
    ck_assert_int_eq(pmx_call_http_status(call), 401);
    pmx_call_unref(call);
    long before = mock_count_requests(&g_mock, "GET", "/api2/json/nodes");
    ck_assert_int_eq(pmx_call_start(b, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_msg(pmx_call_wait(call) == PMX_OK, "%s", pmx_call_error(call));
    pmx_call_unref(call);
    ck_assert_int_eq(mock_count_requests(&g_mock, "GET", "/api2/json/nodes") - before, 1);
    pmx_secret_free(ticket);
    pmx_client_free(a);
    pmx_client_free(b);
}
END_TEST

/* The second factor's answer is lost: the code (maybe a one-time recovery key) is not sent
 * again; the login fails. */
static int tfa_cut_answer(pmx_client *c, const char *challenge, char *out, size_t size,
                          void *ud) {
    (void)c;
    (void)challenge;
    (void)ud;
    mock_faults(&g_mock, "{\"close_mid_response\":1,\"match_path\":\"/access/ticket\"}");
    char code[7];
    test_totp(g_mock.totp_secret, (long)time(NULL), code);
    snprintf(out, size, "%s", code);
    return 0;
}

START_TEST(tfa_code_sent_once) {
    pmx_client *c = test_client(&g_mock, NULL);
    ck_assert_int_eq(pmx_client_set_password(c, g_mock.tfa_user, g_mock.tfa_password), PMX_OK);
    ck_assert_int_eq(pmx_client_set_tfa_cb(c, tfa_cut_answer, NULL, NULL), PMX_OK);
    long posts = mock_count_requests(&g_mock, "POST", "/api2/json/access/ticket");
    long accepted = mock_stat(&g_mock, "tfa_logins");
    pmx_call *call = NULL;
    ck_assert_int_eq(pmx_call_start(c, PMX_GET, "/nodes", NULL, NULL, NULL, &call), PMX_OK);
    ck_assert_int_ne(pmx_call_wait(call), PMX_OK);
    pmx_call_unref(call);
    ck_assert_int_eq(mock_stat(&g_mock, "tfa_logins") - accepted, 1);
    ck_assert_int_eq(mock_count_requests(&g_mock, "POST", "/api2/json/access/ticket") - posts, 2);
    pmx_client_free(c);
    mock_reset(&g_mock);
}
END_TEST

static Suite *review_suite(void) {
    Suite *s = suite_create("review");
    TCase *tc = tcase_create("mock");
    tcase_add_unchecked_fixture(tc, mock_fixture_start, mock_fixture_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, free_inside_destroy_callbacks);
    tcase_add_test(tc, free_cancels_external_timer);
    tcase_add_test(tc, ticket_header_injection_refused);
    tcase_add_test(tc, userdata_free_frees_client);
    tcase_add_test(tc, expired_ticket_with_password_one_login);
    tcase_add_test(tc, csrf_refusal_keeps_reads);
    suite_add_tcase(s, tc);
    tc = tcase_create("mini");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tfa_short_ticket_no_overread);
    tcase_add_test(tc, clock_skew_one_login);
    suite_add_tcase(s, tc);
    tc = tcase_create("tfa");
    tcase_add_unchecked_fixture(tc, mock_fixture_start_tfa, mock_fixture_stop);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tfa_callback_starts_call);
    tcase_add_test(tc, tfa_code_sent_once);
    suite_add_tcase(s, tc);
    return s;
}
PMX_TEST_SUITE(review_suite)
