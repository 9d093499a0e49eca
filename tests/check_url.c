/* Endpoint URL parsing (pmx_client_new / pmx_client_url), error texts and version. */
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A URL that must parse, and the canonical base pmx_client_url() must give for it. */
typedef struct {
    const char *url;
    const char *base;
} url_ok;

static int new_client(const char *url, pmx_client **out) {
    *out = (pmx_client *)0x1; /* must be reset by pmx_client_new */
    return pmx_client_new(out, url);
}

static void expect_ok(const char *url, const char *base) {
    pmx_client *c;
    int r = new_client(url, &c);
    ck_assert_msg(r == PMX_OK, "%s: got %d", url, r);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(pmx_client_url(c), base);
    pmx_client_free(c);
}

static void expect_einval(const char *url) {
    pmx_client *c;
    int r = new_client(url, &c);
    ck_assert_msg(r == PMX_EINVAL, "%s: expected PMX_EINVAL, got %d", url ? url : "(null)", r);
    ck_assert_msg(c == NULL, "%s: *out not reset to NULL", url ? url : "(null)");
}

/* ---- schemes and default port ---- */

static const url_ok schemes[] = {
    {"https://pve.example.com", "https://pve.example.com:8006"},
    {"http://pve.example.com", "http://pve.example.com:8006"},
    {"HTTPS://pve1", "https://pve1:8006"},
    {"Http://pve1", "http://pve1:8006"},
    {"https://10.0.0.1", "https://10.0.0.1:8006"},
    {"https://localhost", "https://localhost:8006"},
    {"https://my_host-1.lan", "https://my_host-1.lan:8006"},
};

START_TEST(url_scheme_default_port) {
    expect_ok(schemes[_i].url, schemes[_i].base);
}
END_TEST

static const char *const bad_schemes[] = {
    "ftp://pve", "pve.example.com", "pve:8006", "https:/pve", "https:pve", "//pve", "httpss://pve",
    "https//pve", "", " https://pve", "wss://pve",
};

START_TEST(url_scheme_rejected) {
    expect_einval(bad_schemes[_i]);
}
END_TEST

/* ---- ports ---- */

static const url_ok ports[] = {
    {"https://pve:8006", "https://pve:8006"},
    {"https://pve:443", "https://pve:443"},
    {"http://pve:80", "http://pve:80"},
    {"https://pve:1", "https://pve:1"},
    {"https://pve:65535", "https://pve:65535"},
    {"https://pve:08006", "https://pve:8006"},
    {"http://127.0.0.1:18006/", "http://127.0.0.1:18006"},
};

START_TEST(url_port_explicit) {
    expect_ok(ports[_i].url, ports[_i].base);
}
END_TEST

static const char *const bad_ports[] = {
    "https://pve:0",      "https://pve:00000",  "https://pve:65536", "https://pve:99999",
    "https://pve:100000", "https://pve:000001", "https://pve:",      "https://pve:/",
    "https://pve:abc",    "https://pve:80a",    "https://pve:8 0",   "https://pve:+80",
    "https://pve:-1",     "https://pve: 80",    "https://pve:0x50",  "https://pve:8006:8007",
    "https://pve:99999999999999999999999",
};

START_TEST(url_port_rejected) {
    expect_einval(bad_ports[_i]);
}
END_TEST

/* ---- IPv6 literals ---- */

static const url_ok v6[] = {
    {"https://[::1]:8006", "https://[::1]:8006"},
    {"https://[fe80::1]", "https://[fe80::1]:8006"},
    {"http://[::1]", "http://[::1]:8006"},
    {"https://[2001:db8::42]:443/", "https://[2001:db8::42]:443"},
    {"https://[::ffff:10.0.0.1]:8006", "https://[::ffff:10.0.0.1]:8006"},
    {"https://[2001:0db8:0000:0000:0000:0000:0000:0001]",
     "https://[2001:0db8:0000:0000:0000:0000:0000:0001]:8006"},
};

START_TEST(url_ipv6_literal) {
    expect_ok(v6[_i].url, v6[_i].base);
}
END_TEST

static const char *const bad_v6[] = {
    "https://[::1",        "https://[::1:8006",  "https://::1]",         "https://::1",
    "https://[]",          "https://[]:8006",    "https://[::1]]",       "https://[[::1]]",
    "https://[::1]x",      "https://[::1]8006",  "https://[::1]:",       "https://[::1]:65536",
    "https://[zz::1]",     "https://[10.0.0.1]", "https://[pve]",        "https://[fe80::1%eth0]",
    "https://[::1]@host",  "https://[1:2:3:4:5:6:7:8:9]",
    "https://[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:1]",
};

START_TEST(url_ipv6_rejected) {
    expect_einval(bad_v6[_i]);
}
END_TEST

/* ---- host names ---- */

static const char *const bad_hosts[] = {
    "https://pve host",  "https://pve%20host", "https://pve!",      "https://pve*",
    "https://p\xc3\xa9", "https://.pve",       "https://pve..lan",  "https://pve\\lan",
    "https://pve\tlan",  "https://pve\"",      "https://<pve>",     "https://pve,lan",
    "https://pve;x",     "https://pve$",       "https://pve=1",     "https://pve+1",
};

START_TEST(url_host_bad_chars) {
    expect_einval(bad_hosts[_i]);
}
END_TEST

/* Numbers the resolver would read as another address than the text shows (octal, hex, one
 * 32-bit number, fewer than four parts, leading zeros). */
static const char *const odd_ipv4[] = {
    "https://010.0.0.1", "https://0x7f.1",     "https://2130706433", "https://127.000.000.001",
    "https://127.1",     "https://1.2.3.0x4",  "https://1.2.3.4.5",  "https://192.168.010.020",
    "https://256.1.1.1", "https://pve.0x10",   "https://pve.1",      "https://1.2.3.04.",
};

START_TEST(url_ipv4_odd_forms) {
    expect_einval(odd_ipv4[_i]);
}
END_TEST

START_TEST(url_ipv4_and_names_with_digits) {
    expect_ok("https://127.0.0.1", "https://127.0.0.1:8006");
    expect_ok("https://10.0.0.1:8007/", "https://10.0.0.1:8007");
    expect_ok("https://pve1", "https://pve1:8006");
    expect_ok("https://1pve.lan", "https://1pve.lan:8006");
    expect_ok("https://node-2.example.com", "https://node-2.example.com:8006");
    expect_ok("https://0x1f.lan", "https://0x1f.lan:8006"); /* (a name: its last label is not a number) */
}
END_TEST

START_TEST(url_host_label_lengths) {
    char url[400];
    char label[70];
    /* 63-character label: accepted. */
    memset(label, 'a', 63);
    label[63] = 0;
    snprintf(url, sizeof url, "https://%s.lan", label);
    char base[420];
    snprintf(base, sizeof base, "https://%s.lan:8006", label);
    expect_ok(url, base);
    /* 64: rejected. */
    memset(label, 'a', 64);
    label[64] = 0;
    snprintf(url, sizeof url, "https://%s.lan", label);
    expect_einval(url);
    /* 253-character name (labels of 49 + dots): accepted; 254: rejected. */
    char host[300];
    size_t n = 0;
    while (n < 253) {
        host[n] = (n % 50 == 49) ? '.' : 'h';
        n++;
    }
    host[252] = 'h';
    host[253] = 0;
    snprintf(url, sizeof url, "https://%s", host);
    snprintf(base, sizeof base, "https://%s:8006", host);
    expect_ok(url, base);
    host[253] = 'h';
    host[254] = 0;
    snprintf(url, sizeof url, "https://%s", host);
    expect_einval(url);
}
END_TEST

START_TEST(url_empty_host) {
    expect_einval("https://");
    expect_einval("http://");
    expect_einval("https://:8006");
    expect_einval("https:///");
    expect_einval("https:///api2/json");
}
END_TEST

/* ---- user info, query, fragment, path ---- */

static const char *const userinfo[] = {
    "https://root@pve",           "https://root@pam@pve",     "https://root:secret@pve",
    "https://root:secret@pve:8006", "https://root:8006@pve",  "https://@pve",
    "https://root@[::1]:8006",
};

START_TEST(url_userinfo_rejected) {
    expect_einval(userinfo[_i]);
}
END_TEST

static const char *const query_frag[] = {
    "https://pve?x=1",         "https://pve/?x=1",           "https://pve:8006?x",
    "https://pve#frag",        "https://pve/#frag",          "https://pve:8006/#",
    "https://pve/api2/json?x", "https://pve/api2/json#x",    "https://[::1]?x",
    "https://[::1]:8006#f",    "https://pve?",
};

START_TEST(url_query_fragment_rejected) {
    expect_einval(query_frag[_i]);
}
END_TEST

static const url_ok paths_ok[] = {
    {"https://pve/", "https://pve:8006"},
    {"https://pve:8006/", "https://pve:8006"},
    {"https://pve/api2/json", "https://pve:8006"},
    {"https://pve/api2/json/", "https://pve:8006"},
    {"https://pve:9000/api2/json", "https://pve:9000"},
    {"https://[::1]/api2/json/", "https://[::1]:8006"},
    {"http://[::1]:18006/", "http://[::1]:18006"},
};

START_TEST(url_trailing_slash_and_api_root) {
    expect_ok(paths_ok[_i].url, paths_ok[_i].base);
}
END_TEST

static const char *const bad_paths[] = {
    "https://pve//",           "https://pve/api2",        "https://pve/api2/",
    "https://pve/api2/json//", "https://pve/api2/extjs",  "https://pve/nodes",
    "https://pve/api2/json/nodes", "https://pve:8006/x",  "https://pve/ ",
    "https://pve/API2/JSON",
};

START_TEST(url_path_rejected) {
    expect_einval(bad_paths[_i]);
}
END_TEST

START_TEST(url_null_arguments) {
    pmx_client *c = (pmx_client *)0x1;
    ck_assert_int_eq(pmx_client_new(&c, NULL), PMX_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(pmx_client_new(NULL, "https://pve"), PMX_EINVAL);
    ck_assert_ptr_null(pmx_client_url(NULL));
    pmx_client_free(NULL); /* no-op */
}
END_TEST

START_TEST(url_is_copied) {
    char buf[64];
    strcpy(buf, "https://pve1:8006");
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, buf), PMX_OK);
    memset(buf, 'x', sizeof buf - 1);
    ck_assert_str_eq(pmx_client_url(c), "https://pve1:8006");
    /* Static for the client's lifetime: the same pointer every time. */
    ck_assert_ptr_eq(pmx_client_url(c), pmx_client_url(c));
    pmx_client_free(c);
}
END_TEST

/* ---- fingerprints ---- */

static const char fp_lower[] = "0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9:"
                               "0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9";
static const char fp_upper[] = "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:"
                               "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9";
static const char fp_mixed[] = "0a:1B:2c:3D:4e:5F:60:71:82:93:a4:B5:c6:D7:e8:F9:"
                               "0A:1b:2C:3d:4E:5f:60:71:82:93:A4:b5:C6:d7:E8:f9";
static const char fp_plain[] = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

static pmx_client *plain_client(void) {
    pmx_client *c = NULL;
    ck_assert_int_eq(pmx_client_new(&c, "https://pve"), PMX_OK);
    return c;
}

START_TEST(fingerprint_accepted) {
    pmx_client *c = plain_client();
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp_lower), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp_upper), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp_mixed), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp_plain), PMX_OK);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, NULL), PMX_OK); /* removes the pin */
    ck_assert_int_eq(pmx_client_set_fingerprint(NULL, fp_upper), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

/* Build a fingerprint of nbytes bytes, "AB" each, joined with sep (may be ""). */
static void make_fp(char *out, size_t nbytes, const char *sep) {
    out[0] = 0;
    for (size_t i = 0; i < nbytes; i++) {
        if (i)
            strcat(out, sep);
        strcat(out, "AB");
    }
}

START_TEST(fingerprint_length) {
    pmx_client *c = plain_client();
    char fp[200];
    make_fp(fp, 32, ":");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_OK);
    make_fp(fp, 32, "");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_OK);
    make_fp(fp, 31, ":");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    make_fp(fp, 33, ":");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    make_fp(fp, 31, "");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    make_fp(fp, 33, "");
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    make_fp(fp, 32, "");
    strcat(fp, "A"); /* 65 hex digits */
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    fp[63] = 0; /* 63 hex digits */
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, ""), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_bad_hex) {
    pmx_client *c = plain_client();
    char fp[200];
    static const char bad[] = {'G', 'g', 'z', ' ', '-', '.', '\n', 'x'};
    for (size_t i = 0; i < sizeof bad; i++) {
        strcpy(fp, fp_upper);
        fp[3 * 10 + 1] = bad[i]; /* second digit of byte 11 */
        ck_assert_msg(pmx_client_set_fingerprint(c, fp) == PMX_EINVAL, "'%c' accepted", bad[i]);
    }
    strcpy(fp, fp_upper);
    fp[2] = '-'; /* wrong separator */
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    /* Separators in the middle of a byte. */
    ck_assert_int_eq(pmx_client_set_fingerprint(
                         c, "A:BAB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB"
                            ":AB:AB:AB:AB:AB:AB:AB:AB:AB"),
                     PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_leading_colon) {
    pmx_client *c = plain_client();
    char fp[200];
    snprintf(fp, sizeof fp, ":%s", fp_upper);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_trailing_colon) {
    pmx_client *c = plain_client();
    char fp[200];
    snprintf(fp, sizeof fp, "%s:", fp_upper);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_doubled_colon) {
    pmx_client *c = plain_client();
    char fp[200];
    /* "0A::1B:..." */
    snprintf(fp, sizeof fp, "%.3s:%s", fp_upper, fp_upper + 3);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(fingerprint_bad_keeps_pin_state) {
    /* A rejected pin must not disturb the client: a good one is still accepted after it. */
    pmx_client *c = plain_client();
    ck_assert_int_eq(pmx_client_set_fingerprint(c, "nope"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_fingerprint(c, fp_upper), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- token and password formats ---- */

static const char *const tokens_ok[] = {
    "root@pam!mock=uuid",
    "root@pam!mock=0b0b9c0e-4b5e-4f3a-9f1e-2d0c7a1c2f3e",
    "automation@pve!ci-token=a=b", /* the secret is after the last '=' */
    "user.name@ldap-realm!t1=s",
};

START_TEST(token_accepted) {
    pmx_client *c = plain_client();
    ck_assert_msg(pmx_client_set_token(c, tokens_ok[_i]) == PMX_OK, "%s", tokens_ok[_i]);
    /* Replacing a token with another is fine. */
    ck_assert_int_eq(pmx_client_set_token(c, "root@pam!other=x"), PMX_OK);
    pmx_client_free(c);
}
END_TEST

static const char *const tokens_bad[] = {
    "rootpam!mock=uuid",  /* no '@' */
    "@pam!mock=uuid",     /* empty user */
    "root@pammock=uuid",  /* no '!' */
    "root@pam!mockuuid",  /* no '=' */
    "root@pam!mock=",     /* empty secret */
    "root@pam!=uuid",     /* empty token id */
    "root!mock@pam=uuid", /* '!' before '@' */
    "",
    "root@pam!mock=uu id",
    "root@pam!mock=uuid\n",
    "root@pam!mock=uu;id",
};

START_TEST(token_rejected) {
    pmx_client *c = plain_client();
    ck_assert_msg(pmx_client_set_token(c, tokens_bad[_i]) == PMX_EINVAL, "accepted: %s",
                  tokens_bad[_i]);
    pmx_client_free(c);
}
END_TEST

START_TEST(token_null) {
    pmx_client *c = plain_client();
    ck_assert_int_eq(pmx_client_set_token(c, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_token(NULL, "root@pam!mock=uuid"), PMX_EINVAL);
    pmx_client_free(c);
}
END_TEST

START_TEST(password_userid) {
    pmx_client *c = plain_client();
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", "secret"), PMX_OK);
    ck_assert_int_eq(pmx_client_set_password(c, "alice@pve", "p@ss:w=rd"), PMX_OK);
    ck_assert_int_eq(pmx_client_set_password(c, "root", "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "@pam", "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "root@", "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "", "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "ro ot@pam", "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, NULL, "secret"), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", ""), PMX_EINVAL);
    ck_assert_int_eq(pmx_client_set_password(NULL, "root@pam", "secret"), PMX_EINVAL);
    /* Switching between token and password auth. */
    ck_assert_int_eq(pmx_client_set_token(c, "root@pam!mock=uuid"), PMX_OK);
    ck_assert_int_eq(pmx_client_set_password(c, "root@pam", "secret"), PMX_OK);
    pmx_client_free(c);
}
END_TEST

/* ---- pmx_strerror, pmx_version ---- */

static const int all_codes[] = {
    PMX_OK,       PMX_EINVAL,     PMX_ENOMEM,     PMX_ETRANSPORT, PMX_ETLS,     PMX_EHTTP,
    PMX_EAUTH,    PMX_EDECODE,    PMX_ETIMEOUT,   PMX_ECANCELLED, PMX_EDESTROYED,
    PMX_ERECURSIVE, PMX_ETOOBIG,  PMX_EPENDING,   PMX_ETASK,    PMX_ENOTFOUND, PMX_EPERM, PMX_EBUSY,
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

START_TEST(strerror_every_code) {
    ck_assert_uint_eq(N_CODES, 18);
    for (size_t i = 0; i < N_CODES; i++) {
        ck_assert_int_eq(all_codes[i], -(int)i); /* numbers are fixed: 0, -1, ..., -17 */
        const char *s = pmx_strerror(all_codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        ck_assert_str_ne(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, pmx_strerror(all_codes[j])) != 0, "%d and %d share \"%s\"",
                          all_codes[i], all_codes[j], s);
    }
    ck_assert_str_eq(pmx_strerror(PMX_OK), "success");
    ck_assert_str_eq(pmx_strerror(PMX_EINVAL), "invalid argument");
    ck_assert_str_eq(pmx_strerror(PMX_ENOMEM), "out of memory");
}
END_TEST

START_TEST(strerror_unknown) {
    static const int unknown[] = {1, 2, 100, -19, -20, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        ck_assert_str_eq(pmx_strerror(unknown[i]), "unknown error");
}
END_TEST

START_TEST(version_numbers) {
    const char *s = NULL;
    uint32_t v = pmx_version(&s);
    ck_assert_uint_eq(v, PMX_VERSION_NUM);
    ck_assert_uint_eq(v, ((uint32_t)PMX_VERSION_MAJOR << 16) | (PMX_VERSION_MINOR << 8) |
                             PMX_VERSION_PATCH);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, PMX_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    ck_assert_str_eq(s, want);
    ck_assert_uint_eq(pmx_version(NULL), v);
    ck_assert(PMX_VERSION_AT_LEAST(1, 0, 0));
    ck_assert(!PMX_VERSION_AT_LEAST(PMX_VERSION_MAJOR + 1, 0, 0));
}
END_TEST

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof table / sizeof table[0]))

static Suite *url_suite(void) {
    Suite *s = suite_create("url");

    TCase *tc = tcase_create("parse");
    LOOP(tc, url_scheme_default_port, schemes);
    LOOP(tc, url_scheme_rejected, bad_schemes);
    LOOP(tc, url_port_explicit, ports);
    LOOP(tc, url_port_rejected, bad_ports);
    LOOP(tc, url_ipv6_literal, v6);
    LOOP(tc, url_ipv6_rejected, bad_v6);
    LOOP(tc, url_host_bad_chars, bad_hosts);
    LOOP(tc, url_ipv4_odd_forms, odd_ipv4);
    tcase_add_test(tc, url_ipv4_and_names_with_digits);
    tcase_add_test(tc, url_host_label_lengths);
    tcase_add_test(tc, url_empty_host);
    LOOP(tc, url_userinfo_rejected, userinfo);
    LOOP(tc, url_query_fragment_rejected, query_frag);
    LOOP(tc, url_trailing_slash_and_api_root, paths_ok);
    LOOP(tc, url_path_rejected, bad_paths);
    tcase_add_test(tc, url_null_arguments);
    tcase_add_test(tc, url_is_copied);
    suite_add_tcase(s, tc);

    tc = tcase_create("credentials");
    tcase_add_test(tc, fingerprint_accepted);
    tcase_add_test(tc, fingerprint_length);
    tcase_add_test(tc, fingerprint_bad_hex);
    tcase_add_test(tc, fingerprint_leading_colon);
    tcase_add_test(tc, fingerprint_trailing_colon);
    tcase_add_test(tc, fingerprint_doubled_colon);
    tcase_add_test(tc, fingerprint_bad_keeps_pin_state);
    LOOP(tc, token_accepted, tokens_ok);
    LOOP(tc, token_rejected, tokens_bad);
    tcase_add_test(tc, token_null);
    tcase_add_test(tc, password_userid);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, strerror_every_code);
    tcase_add_test(tc, strerror_unknown);
    tcase_add_test(tc, version_numbers);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(url_suite)
