/* Parameter lists and their encodings: form (pmx_params_encode), pmx_escape, JSON
 * (pmx__params_json). */
#include "testutil.h"

#include "core.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static pmx_params *g_p;

static void params_setup(void) {
    g_p = pmx_params_new();
    ck_assert_ptr_nonnull(g_p);
}

static void params_teardown(void) {
    pmx_params_free(g_p);
    g_p = NULL;
}

/* Form-encode g_p and compare. */
static void expect_form(const char *want) {
    char *s = (char *)0x1;
    ck_assert_int_eq(pmx_params_encode(g_p, &s), PMX_OK);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    pmx_free(s);
}

/* JSON-encode g_p and compare. */
static void expect_json(const char *want) {
    pmx__buf b = {0};
    ck_assert_int_eq(pmx__params_json(g_p, &b), PMX_OK);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, want);
    ck_assert_uint_eq(b.len, strlen(want));
    pmx__buf_free(&b);
}

static void expect_entry(size_t i, const char *name, const char *value) {
    const char *n = NULL, *v = NULL;
    ck_assert_int_eq(pmx_params_get(g_p, i, &n, &v), PMX_OK);
    ck_assert_str_eq(n, name);
    ck_assert_str_eq(v, value);
}

/* ---- escaping ---- */

typedef struct {
    const char *in;
    const char *out;
} esc_case;

static const esc_case escapes[] = {
    {"abcXYZ019", "abcXYZ019"},
    {"-._~", "-._~"},
    {"a=b", "a%3Db"},
    {"a,b", "a%2Cb"},
    {"a;b", "a%3Bb"},
    {"a&b", "a%26b"},
    {"a+b", "a%2Bb"},
    {"a b", "a%20b"},
    {"100%", "100%25"},
    {"%41", "%2541"},
    {"line\nbreak", "line%0Abreak"},
    {"cr\r\ttab", "cr%0D%09tab"},
    {"\xc3\xa9", "%C3%A9"},                   /* é */
    {"\xe6\x97\xa5\xe6\x9c\xac", "%E6%97%A5%E6%9C%AC"}, /* 日本 */
    {"\xff\x80\x7f\x01", "%FF%80%7F%01"},
    {"/nodes/pve1", "%2Fnodes%2Fpve1"},
    {"UPID:pve1:0000AB12:0001F2C3:6543ABCD:qmstart:100:root@pam:",
     "UPID%3Apve1%3A0000AB12%3A0001F2C3%3A6543ABCD%3Aqmstart%3A100%3Aroot%40pam%3A"},
    {"local:iso/debian 12.iso", "local%3Aiso%2Fdebian%2012.iso"},
    {"!*'()[]{}<>\"#$?@|\\^`", "%21%2A%27%28%29%5B%5D%7B%7D%3C%3E%22%23%24%3F%40%7C%5C%5E%60"},
    {"virtio,bridge=vmbr0", "virtio%2Cbridge%3Dvmbr0"},
};

START_TEST(escape_segment) {
    char *s = pmx_escape(escapes[_i].in);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, escapes[_i].out);
    pmx_free(s);
}
END_TEST

/* "", "." and ".." would be an empty or dot segment: another resource than meant. */
START_TEST(escape_refuses_dot_segments) {
    ck_assert_ptr_null(pmx_escape(""));
    ck_assert_ptr_null(pmx_escape("."));
    ck_assert_ptr_null(pmx_escape(".."));
    ck_assert_ptr_null(pmx_escape(NULL));
    char *s = pmx_escape("...");
    ck_assert_str_eq(s, "...");
    pmx_free(s);
    s = pmx_escape("../x");
    ck_assert_str_eq(s, "..%2Fx");
    pmx_free(s);
}
END_TEST

START_TEST(escape_every_byte) {
    /* Every byte 1..255: unreserved ones stay, the rest become %XX with upper-case hex. */
    char in[256], want[256 * 3 + 1];
    size_t w = 0;
    for (int i = 1; i < 256; i++) {
        in[i - 1] = (char)i;
        int keep = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') ||
                   i == '-' || i == '.' || i == '_' || i == '~';
        if (keep)
            want[w++] = (char)i;
        else
            w += (size_t)snprintf(want + w, sizeof want - w, "%%%02X", i);
    }
    in[255] = 0;
    want[w] = 0;
    char *s = pmx_escape(in);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    ck_assert_uint_eq(strlen(s), 66 + (255 - 66) * 3);
    pmx_free(s);
}
END_TEST

START_TEST(escape_null) {
    ck_assert_ptr_null(pmx_escape(NULL));
}
END_TEST

/* The same table through the form encoder, as a value and as a name. */
START_TEST(form_value_escaped) {
    if (!escapes[_i].in[0])
        return; /* empty values are covered by form_empty_value */
    ck_assert_int_eq(pmx_params_set_str(g_p, "v", escapes[_i].in), PMX_OK);
    char want[512];
    snprintf(want, sizeof want, "v=%s", escapes[_i].out);
    expect_form(want);
    expect_entry(0, "v", escapes[_i].in); /* stored unescaped */
}
END_TEST

START_TEST(form_name_escaped) {
    if (!escapes[_i].in[0])
        return;
    ck_assert_int_eq(pmx_params_set_str(g_p, escapes[_i].in, "x y"), PMX_OK);
    char want[512];
    snprintf(want, sizeof want, "%s=x%%20y", escapes[_i].out);
    expect_form(want);
}
END_TEST

START_TEST(form_empty_list) {
    expect_form("");
    char *s = (char *)0x1;
    ck_assert_int_eq(pmx_params_encode(NULL, &s), PMX_OK);
    ck_assert_str_eq(s, "");
    pmx_free(s);
}
END_TEST

START_TEST(form_null_out) {
    ck_assert_int_eq(pmx_params_encode(g_p, NULL), PMX_EINVAL);
}
END_TEST

START_TEST(form_empty_value) {
    /* "" is accepted and kept; JSON bodies carry it (a form cannot: "key=" means absent). */
    ck_assert_int_eq(pmx_params_set_str(g_p, "description", ""), PMX_OK);
    expect_entry(0, "description", "");
    expect_json("{\"description\":\"\"}");
}
END_TEST

START_TEST(form_several_pairs) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "net0", "virtio,bridge=vmbr0"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_int(g_p, "vmid", 100), PMX_OK);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "start", 1), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "name", "web 01"), PMX_OK);
    expect_form("net0=virtio%2Cbridge%3Dvmbr0&vmid=100&start=1&name=web%2001");
    ck_assert_uint_eq(pmx_params_count(g_p), 4);
}
END_TEST

/* ---- set / add / unset ---- */

START_TEST(set_replaces) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "a", "1"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "b", "2"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "a", "3"), PMX_OK);
    ck_assert_uint_eq(pmx_params_count(g_p), 2);
    expect_form("b=2&a=3");
    /* set also replaces every value added with add_str, and values of other kinds. */
    ck_assert_int_eq(pmx_params_add_str(g_p, "b", "4"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_int(g_p, "b", 5), PMX_OK);
    expect_form("a=3&b=5");
    ck_assert_int_eq(pmx_params_set_bool(g_p, "a", 0), PMX_OK);
    expect_form("b=5&a=0");
}
END_TEST

START_TEST(add_appends_in_order) {
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "net1"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "x", "y"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "scsi0"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "net1"), PMX_OK); /* duplicates kept */
    ck_assert_uint_eq(pmx_params_count(g_p), 4);
    expect_entry(0, "delete", "net1");
    expect_entry(1, "x", "y");
    expect_entry(2, "delete", "scsi0");
    expect_entry(3, "delete", "net1");
    expect_form("delete=net1&x=y&delete=scsi0&delete=net1");
}
END_TEST

START_TEST(unset_removes_all) {
    ck_assert_int_eq(pmx_params_add_str(g_p, "k", "1"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "j", "2"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "k", "3"), PMX_OK);
    ck_assert_int_eq(pmx_params_unset(g_p, "k"), PMX_OK);
    ck_assert_uint_eq(pmx_params_count(g_p), 1);
    expect_form("j=2");
    ck_assert_int_eq(pmx_params_unset(g_p, "k"), PMX_ENOTFOUND);
    ck_assert_int_eq(pmx_params_unset(g_p, "J"), PMX_ENOTFOUND); /* names are case-sensitive */
    ck_assert_int_eq(pmx_params_unset(g_p, ""), PMX_ENOTFOUND);
    ck_assert_int_eq(pmx_params_unset(g_p, "j"), PMX_OK);
    ck_assert_uint_eq(pmx_params_count(g_p), 0);
    expect_form("");
    ck_assert_int_eq(pmx_params_unset(g_p, NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_unset(NULL, "j"), PMX_EINVAL);
}
END_TEST

START_TEST(get_bounds) {
    const char *n = "x", *v = "x";
    ck_assert_int_eq(pmx_params_get(g_p, 0, &n, &v), PMX_ENOTFOUND);
    ck_assert_int_eq(pmx_params_set_str(g_p, "a", "b"), PMX_OK);
    ck_assert_int_eq(pmx_params_get(g_p, 0, NULL, NULL), PMX_OK);
    ck_assert_int_eq(pmx_params_get(g_p, 1, &n, &v), PMX_ENOTFOUND);
    ck_assert_int_eq(pmx_params_get(g_p, SIZE_MAX, &n, &v), PMX_ENOTFOUND);
    ck_assert_int_eq(pmx_params_get(NULL, 0, &n, &v), PMX_ENOTFOUND);
    ck_assert_uint_eq(pmx_params_count(NULL), 0);
}
END_TEST

START_TEST(many_entries_grow) {
    char name[16], want[8];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "k%d", i);
        ck_assert_int_eq(pmx_params_add_str(g_p, name, name + 1), PMX_OK);
    }
    ck_assert_uint_eq(pmx_params_count(g_p), 1000);
    for (size_t i = 0; i < 1000; i += 97) {
        snprintf(name, sizeof name, "k%zu", i);
        snprintf(want, sizeof want, "%zu", i);
        expect_entry(i, name, want);
    }
}
END_TEST

START_TEST(values_copied) {
    char name[8] = "name", val[8] = "val";
    ck_assert_int_eq(pmx_params_set_str(g_p, name, val), PMX_OK);
    strcpy(name, "zzz");
    strcpy(val, "zzz");
    expect_entry(0, "name", "val");
}
END_TEST

/* ---- typed values ---- */

START_TEST(bool_as_digit) {
    ck_assert_int_eq(pmx_params_set_bool(g_p, "t", 1), PMX_OK);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "f", 0), PMX_OK);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "big", 42), PMX_OK);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "neg", -1), PMX_OK);
    expect_form("t=1&f=0&big=1&neg=1");
    expect_json("{\"t\":true,\"f\":false,\"big\":true,\"neg\":true}");
}
END_TEST

typedef struct {
    int64_t v;
    const char *text;
} int_case;

static const int_case ints[] = {
    {0, "0"},
    {1, "1"},
    {-1, "-1"},
    {100, "100"},
    {2147483647, "2147483647"},
    {2147483648LL, "2147483648"},
    {-2147483648LL, "-2147483648"},
    {INT64_MAX, "9223372036854775807"},
    {INT64_MIN, "-9223372036854775808"},
};

START_TEST(int_decimal) {
    ck_assert_int_eq(pmx_params_set_int(g_p, "n", ints[_i].v), PMX_OK);
    expect_entry(0, "n", ints[_i].text);
    char want[64];
    snprintf(want, sizeof want, "n=%s", ints[_i].text);
    expect_form(want);
    snprintf(want, sizeof want, "{\"n\":%s}", ints[_i].text);
    expect_json(want); /* a bare JSON number */
}
END_TEST

typedef struct {
    double v;
    const char *text;
} dbl_case;

static const dbl_case dbls[] = {
    {0.1, "0.1"},
    {0.5, "0.5"},
    {1.0, "1"},
    {0.0, "0"},
    {-2.5, "-2.5"},
    {1e300, "1e+300"},
    {1e-300, "1e-300"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1.0 / 3.0, "0.3333333333333333"},
    {123456789.125, "123456789.125"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {-0.0, "-0"},
};

START_TEST(double_shortest_text) {
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", dbls[_i].v), PMX_OK);
    expect_entry(0, "d", dbls[_i].text);
    const char *v = NULL;
    ck_assert_int_eq(pmx_params_get(g_p, 0, NULL, &v), PMX_OK);
    ck_assert(strtod(v, NULL) == dbls[_i].v); /* reads back exactly */
    char want[80];
    snprintf(want, sizeof want, "{\"d\":%s}", dbls[_i].text);
    expect_json(want);
}
END_TEST

START_TEST(double_round_trips) {
    /* Subnormals, extremes and awkward fractions read back as the same double. */
    static const double v[] = {5e-324, 2.2250738585072014e-308, 1e-7, 123.456, -9007199254740993.0,
                               3.141592653589793, 1e21, 1e-5, 6.02214076e23};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ck_assert_int_eq(pmx_params_set_double(g_p, "d", v[i]), PMX_OK);
        const char *t = NULL;
        ck_assert_int_eq(pmx_params_get(g_p, 0, NULL, &t), PMX_OK);
        ck_assert_msg(strtod(t, NULL) == v[i], "%.17g gave \"%s\"", v[i], t);
        ck_assert_uint_le(strlen(t), 24);
        ck_assert_uint_eq(pmx_params_count(g_p), 1);
    }
}
END_TEST

START_TEST(double_form_escaped) {
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", 1e300), PMX_OK);
    expect_form("d=1e%2B300"); /* '+' of the exponent must not turn into a space */
}
END_TEST

START_TEST(double_non_finite_rejected) {
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", NAN), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", INFINITY), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", -INFINITY), PMX_EINVAL);
    ck_assert_uint_eq(pmx_params_count(g_p), 0);
    /* A rejected value leaves an earlier one in place. */
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", 2.0), PMX_OK);
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", NAN), PMX_EINVAL);
    expect_entry(0, "d", "2");
    ck_assert_uint_eq(pmx_params_count(g_p), 1);
}
END_TEST

/* ---- argument checks ---- */

START_TEST(empty_name_rejected) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "", "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_add_str(g_p, "", "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_int(g_p, "", 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "", 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_double(g_p, "", 1.5), PMX_EINVAL);
    ck_assert_uint_eq(pmx_params_count(g_p), 0);
}
END_TEST

START_TEST(null_arguments) {
    ck_assert_int_eq(pmx_params_set_str(g_p, NULL, "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_str(g_p, "n", NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_add_str(g_p, NULL, "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_add_str(g_p, "n", NULL), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_int(g_p, NULL, 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_bool(g_p, NULL, 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_double(g_p, NULL, 1.0), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_str(NULL, "n", "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_add_str(NULL, "n", "v"), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_int(NULL, "n", 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_bool(NULL, "n", 1), PMX_EINVAL);
    ck_assert_int_eq(pmx_params_set_double(NULL, "n", 1.0), PMX_EINVAL);
    ck_assert_uint_eq(pmx_params_count(g_p), 0);
    pmx_params_free(NULL); /* no-op */
}
END_TEST

START_TEST(set_null_value_keeps_old) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "n", "old"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "n", NULL), PMX_EINVAL);
    ck_assert_uint_eq(pmx_params_count(g_p), 1);
    expect_entry(0, "n", "old");
}
END_TEST

/* ---- JSON encoding ---- */

START_TEST(json_empty) {
    expect_json("{}");
    pmx__buf b = {0};
    ck_assert_int_eq(pmx__params_json(NULL, &b), PMX_OK);
    ck_assert_str_eq(b.data, "{}");
    pmx__buf_free(&b);
}
END_TEST

START_TEST(json_kinds) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "s", "text"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "num_as_str", "100"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_int(g_p, "i", -7), PMX_OK);
    ck_assert_int_eq(pmx_params_set_bool(g_p, "b", 0), PMX_OK);
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", 0.25), PMX_OK);
    ck_assert_int_eq(pmx_params_set_str(g_p, "bool_as_str", "1"), PMX_OK);
    expect_json("{\"s\":\"text\",\"num_as_str\":\"100\",\"i\":-7,\"b\":false,\"d\":0.25,"
                "\"bool_as_str\":\"1\"}");
}
END_TEST

START_TEST(json_repeated_names_array) {
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "net1"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_int(g_p, "vmid", 100), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "scsi0"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "tag", "a"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "delete", "net1"), PMX_OK);
    expect_json("{\"delete\":[\"net1\",\"scsi0\",\"net1\"],\"vmid\":100,\"tag\":\"a\"}");
}
END_TEST

typedef struct {
    const char *in;
    const char *json; /* the quoted JSON text */
} json_str_case;

static const json_str_case json_strs[] = {
    {"plain", "\"plain\""},
    {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"C:\\path\\x", "\"C:\\\\path\\\\x\""},
    {"a\nb\rc\td", "\"a\\nb\\rc\\td\""},
    {"\x01\x02\x1f", "\"\\u0001\\u0002\\u001f\""},
    {"\b\f", "\"\\u0008\\u000c\""},
    {"\x7f", "\"\x7f\""},
    {"/slash", "\"/slash\""},
    {"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac", "\"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\""}, /* UTF-8 kept */
    {"virtio,bridge=vmbr0;x&y+z %", "\"virtio,bridge=vmbr0;x&y+z %\""},
};

START_TEST(json_string_escaping) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "v", json_strs[_i].in), PMX_OK);
    char want[256];
    snprintf(want, sizeof want, "{\"v\":%s}", json_strs[_i].json);
    expect_json(want);
}
END_TEST

START_TEST(json_name_escaping) {
    ck_assert_int_eq(pmx_params_set_str(g_p, "we\"ird\\\n", "v"), PMX_OK);
    expect_json("{\"we\\\"ird\\\\\\n\":\"v\"}");
}
END_TEST

START_TEST(json_output_parses) {
    /* The JSON text is valid for our own scanner and for the member walk. */
    ck_assert_int_eq(pmx_params_set_str(g_p, "a", "\x01\"\\\n\xc3\xa9"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "l", "1"), PMX_OK);
    ck_assert_int_eq(pmx_params_add_str(g_p, "l", "2"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_double(g_p, "d", 1e-300), PMX_OK);
    pmx__buf b = {0};
    ck_assert_int_eq(pmx__params_json(g_p, &b), PMX_OK);
    const char *end = b.data + b.len;
    ck_assert_ptr_eq(pmx__json_skip(b.data, end), end);
    pmx__buf_free(&b);
}
END_TEST

START_TEST(json_appends_to_buffer) {
    pmx__buf b = {0};
    ck_assert_int_eq(pmx__buf_puts(&b, "prefix:"), PMX_OK);
    ck_assert_int_eq(pmx_params_set_int(g_p, "x", 1), PMX_OK);
    ck_assert_int_eq(pmx__params_json(g_p, &b), PMX_OK);
    ck_assert_str_eq(b.data, "prefix:{\"x\":1}");
    pmx__buf_free(&b);
}
END_TEST

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof table / sizeof table[0]))

static Suite *params_suite(void) {
    Suite *s = suite_create("params");

    TCase *tc = tcase_create("escape");
    tcase_add_checked_fixture(tc, params_setup, params_teardown);
    LOOP(tc, escape_segment, escapes);
    tcase_add_test(tc, escape_every_byte);
    tcase_add_test(tc, escape_refuses_dot_segments);
    tcase_add_test(tc, escape_null);
    LOOP(tc, form_value_escaped, escapes);
    LOOP(tc, form_name_escaped, escapes);
    tcase_add_test(tc, form_empty_list);
    tcase_add_test(tc, form_null_out);
    tcase_add_test(tc, form_empty_value);
    tcase_add_test(tc, form_several_pairs);
    suite_add_tcase(s, tc);

    tc = tcase_create("list");
    tcase_add_checked_fixture(tc, params_setup, params_teardown);
    tcase_add_test(tc, set_replaces);
    tcase_add_test(tc, add_appends_in_order);
    tcase_add_test(tc, unset_removes_all);
    tcase_add_test(tc, get_bounds);
    tcase_add_test(tc, many_entries_grow);
    tcase_add_test(tc, values_copied);
    tcase_add_test(tc, bool_as_digit);
    LOOP(tc, int_decimal, ints);
    LOOP(tc, double_shortest_text, dbls);
    tcase_add_test(tc, double_round_trips);
    tcase_add_test(tc, double_form_escaped);
    tcase_add_test(tc, double_non_finite_rejected);
    tcase_add_test(tc, empty_name_rejected);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, set_null_value_keeps_old);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_checked_fixture(tc, params_setup, params_teardown);
    tcase_add_test(tc, json_empty);
    tcase_add_test(tc, json_kinds);
    tcase_add_test(tc, json_repeated_names_array);
    LOOP(tc, json_string_escaping, json_strs);
    tcase_add_test(tc, json_name_escaping);
    tcase_add_test(tc, json_output_parses);
    tcase_add_test(tc, json_appends_to_buffer);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(params_suite)
