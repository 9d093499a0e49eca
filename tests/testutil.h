/* Shared test helpers: suite registration and a pve-mock instance per test case. */
#ifndef PMX_TESTUTIL_H
#define PMX_TESTUTIL_H

#include <check.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

#ifndef PROXMOX_COMPILATION
#define PROXMOX_COMPILATION 1
#endif
#include <proxmox/proxmox.h>

/* Register a suite builder; use PMX_TEST_SUITE(fn) once per test file. */
void pmx_test_register(Suite *(*make)(void));
#define PMX_TEST_SUITE(fn)                                                    \
    __attribute__((constructor)) static void pmx_test_reg_##fn(void) {        \
        pmx_test_register(fn);                                                \
    }

#define MOCK_MAX_URLS 16

/* A running pve-mock. */
typedef struct mock {
    pid_t pid;
    char url[256];
    char fingerprint[128];
    char token[256];
    char readonly_token[256]; /* a token allowed to read only */
    char user[64];
    char password[128];
    char tfa_user[64];
    char tfa_password[128];
    char totp_secret[128];
    char ca_file[256]; /* CA certificate PEM written by the mock */
    /* one entry per listener (node i is served by listener i); url/fingerprint = entry 0 */
    int nurls;
    char urls[MOCK_MAX_URLS][256];
    char fingerprints[MOCK_MAX_URLS][128];
    char nodes[MOCK_MAX_URLS][64];
    char control_url[256]; /* plain-HTTP listener for /_mock only; "" when started without */
} mock;

/* The mock shared by the tests of a TCase (started by mock_fixture_start). */
extern mock g_mock;

/* Start build/bin/pve-mock (PMX_BUILD env, default "build") with extra arguments
 * (NULL-terminated list, may be NULL); fills m. Returns 0 or -1. */
int mock_start(mock *m, const char *const *extra_args);
void mock_stop(mock *m);
/* Like mock_stop (SIGTERM), and returns the mock's exit status: 0 for a clean exit; under
 * SAN=1 a leak or sanitizer error makes it non-zero. -1 when it had to be killed. */
int mock_stop_status(mock *m);
/* Unchecked fixtures for tcase_add_unchecked_fixture: start/stop g_mock with the default
 * test arguments (--auth-delay-ms 50 --task-ms 300). */
void mock_fixture_start(void);
void mock_fixture_stop(void);
void mock_fixture_start_tfa(void);

/* Plain HTTP(S) helper to the mock's control routes, independent of libproxmox (uses libcurl);
 * goes to the control listener when there is one (it has no faults and never goes down).
 * Returns the HTTP status; *body (may be NULL) gets a malloc'd body. */
int mock_http(const mock *m, const char *method, const char *path, const char *json_body,
              char **body);
/* An API request to listener `listener` with the mock's API token, independent of libproxmox:
 * path below /api2/json, form = x-www-form-urlencoded body or NULL. Returns the HTTP status
 * (-1 when the transfer failed); *body (may be NULL) gets a malloc'd body. */
int mock_api(const mock *m, int listener, const char *method, const char *path, const char *form,
             char **body);
/* GET /_mock/requests?since=N: the "data" array of the request log (caller frees with
 * cJSON_Delete), NULL on failure. Entries: id, method, path, query, listener, node, conn,
 * status (0 = no answer, -1 = not answered yet), bytes_in, fault, auth. */
cJSON *mock_request_log(const mock *m, long since);
/* Entries of the request log since the last reset with this method (NULL = any) whose path
 * starts with path_prefix (NULL = any, e.g. "/api2/json/version"); -1 on failure. */
long mock_count_requests(const mock *m, const char *method, const char *path_prefix);
/* POST /_mock/listener {"index":index,"action":action,"ms":ms}: "down", "up", "reset", "die",
 * "drop". Returns the HTTP status. */
int mock_listener(const mock *m, int index, const char *action, int ms);
/* POST /_mock/faults with the JSON object text. ck_assert on failure. */
void mock_faults(const mock *m, const char *json);
void mock_reset(const mock *m);
/* A counter from GET /_mock/stats (e.g. "connections"), or -1. */
long mock_stat(const mock *m, const char *name);

/* A client for g_mock, pinned to its fingerprint; auth: "token", "password" or NULL. */
pmx_client *test_client(const mock *m, const char *auth);

/* An allocator for pmx_set_allocator() that scans every block the library frees for up to two
 * needles (secrets that should have been wiped). spy_alloc_install() sets the needles (NULL for
 * none, copied) and installs it; spy_alloc_found(i) tells whether needle i was seen in a freed
 * block; spy_alloc_remove() puts malloc back. */
void spy_alloc_install(const char *needle0, const char *needle1);
void spy_alloc_needle(int i, const char *needle);
int spy_alloc_found(int i);
void spy_alloc_remove(void);

/* A 3-node pve-mock (listener i serves node i) shared by the tests of a TCase, started and
 * stopped by these unchecked fixtures. */
extern mock g_cluster;
void mock_cluster_fixture_start(void);
void mock_cluster_fixture_stop(void);
/* A client for every listener of m, in order, pinned to their fingerprints; auth as for
 * test_client(). */
pmx_client *test_cluster_client(const mock *m, const char *auth);

/* A file for upload tests in a temp dir of this process: size bytes of a fixed pattern, or a
 * hole of that size (sparse). Returns its path (caller frees with free()).
 * test_files_cleanup() (a checked fixture) removes the dir. */
char *test_make_file(const char *name, off_t size, int sparse);
void test_files_cleanup(void);
/* Whether GET /nodes/{node}/storage/local/content lists a volume whose id holds name. */
int test_volume_listed(pmx_client *c, const char *node, const char *name);

/* An upload source in memory: pmx_upload_opts.read_fn / rewind_fn with userdata &src. */
typedef struct test_mem_src {
    const char *data;
    size_t len, pos;
} test_mem_src;
int64_t test_mem_read(void *buf, size_t len, void *userdata);
int test_mem_rewind(void *userdata);

/* RFC 6238 TOTP code (6 digits) for a base32 secret at time t. */
void test_totp(const char *base32_secret, long t, char out[7]);

/* tests/check_decode.c: decode a whole response body as the result of method (by function
 * name), at once and incrementally in pieces, and compare it member by member with cJSON's
 * reading, as well as @p typed (a call's result; may be NULL); ck_asserts on disagreement.
 * Returns 1 when both read it, 0 when the decoder refused it (with a message). */
int test_decode_diff(const char *method, const char *body, size_t len, const void *typed,
                     const char *label);

/* Descriptor attributes for tests (pmx_*_describe with the full info size; ck_assert on
 * failure). */
pmx_method_info test_method_info(const pmx_method_desc *d);
pmx_param_info test_param_info(const pmx_param_desc *p);

/* The build directory (PMX_BUILD, default "build"). */
const char *test_build_dir(void);

#endif
