/* The allocation-free JSON scanner: pmx__json_skip, pmx__json_string(_into),
 * pmx__json_object_each. Inputs are copied into exact-size heap blocks (no NUL after them), so
 * any read past `end` is caught under SAN=1. */
#include "testutil.h"

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An exact-size heap copy of n bytes of s. */
static char *dup_exact(const char *s, size_t n) {
    char *d = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(d);
    memcpy(d, s, n);
    return d;
}

/* pmx__json_skip over the whole text: returns the offset it stopped at, or -1 for NULL. */
static long skip_len(const char *s, size_t n) {
    char *d = dup_exact(s, n);
    const char *r = pmx__json_skip(d, d + n);
    long off = r ? (long)(r - d) : -1;
    free(d);
    return off;
}

/* A whole document: one value, then only white space. */
static int doc_valid(const char *s) {
    size_t n = strlen(s);
    char *d = dup_exact(s, n);
    const char *r = pmx__json_skip(d, d + n);
    int ok = r && pmx__json_ws(r, d + n) == d + n;
    free(d);
    return ok;
}

/* ---- values: valid / invalid ---- */

static const char *const valid_docs[] = {
    "0", "-0", "1", "-1", "123", "1.5", "-0.25", "1e5", "1E5", "1e+5", "1e-5", "1.5e10",
    "-1.25E-3", "0e0", "0.0", "12345678901234567890123",
    "true", "false", "null",
    "\"\"", "\"abc\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u00E9\"", "\"\xc3\xa9\"",
    "\"\x7f\"",
    "[]", "[ ]", "[1]", "[1,2,3]", "[ 1 , \"a\" , null , [ ] , { } ]",
    "{}", "{ }", "{\"a\":1}", "{\"a\" : [1, {\"b\": null}], \"c\":\"d\"}",
    "{\"\":0}", "{\"a\":1,\"a\":2}",
    "1 \t\r\n", "[1]\n", /* trailing white space */
};

START_TEST(json_valid_documents) {
    ck_assert_msg(doc_valid(valid_docs[_i]), "rejected: %s", valid_docs[_i]);
}
END_TEST

static const char *const invalid_docs[] = {
    "", "-", "+1", ".5", "1.", "1.e5", "1e", "1e+", "1E-", "-.5", "- 1", "0x10", "--1", "1e5.0",
    "tru", "fals", "nul", "True", "NULL", "nil", "undefined", "NaN", "Infinity", "-Infinity",
    "\"", "\"abc", "\"\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"\\'\"",
    "'a'", "[", "]", "[1", "[1,", "[1,]", "[,1]", "[1 2]", "[1;2]",
    "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{a:1}", "{'a':1}", "{\"a\" 1}",
    "{\"a\":1 \"b\":2}", "{1:2}", "{\"a\":1]", "[1}", "{\"a\"::1}",
    "\xef\xbb\xbf{}", /* BOM */
    "/* c */ 1", "[1] x",
};

START_TEST(json_invalid_documents) {
    ck_assert_msg(!doc_valid(invalid_docs[_i]), "accepted: %s", invalid_docs[_i]);
}
END_TEST

typedef struct {
    const char *text;
    long stop; /* where pmx__json_skip stops, -1 = NULL */
} stop_case;

static const stop_case stops[] = {
    /* Leading zeros: the value is "0" and the rest is not part of it. */
    {"01", 1},
    {"-01", 2},
    {"00", 1},
    {"0.5x", 3},
    {"1e5e5", 3},
    {"nullx", 4},
    {"true,", 4},
    {"[1] [2]", 3},
    {"\"a\"\"b\"", 3},
    {"{} ", 2},
    {"123", 3},
    {"-", -1},
    {"1.", -1},
    {"-x", -1},
    {" 1", -1}, /* the caller skips leading white space */
};

START_TEST(json_skip_stop_offset) {
    long got = skip_len(stops[_i].text, strlen(stops[_i].text));
    ck_assert_msg(got == stops[_i].stop, "%s: stopped at %ld, want %ld", stops[_i].text, got,
                  stops[_i].stop);
}
END_TEST

START_TEST(json_empty_range) {
    char c = '1';
    ck_assert_ptr_null(pmx__json_skip(&c, &c));
    ck_assert_ptr_eq(pmx__json_ws(&c, &c), &c);
    const char *ws = " \t\r\n\f1";
    ck_assert_ptr_eq(pmx__json_ws(ws, ws + 6), ws + 4); /* \f is not JSON white space */
}
END_TEST

/* A sample response with every kind of value; every proper prefix is incomplete. */
static const char sample[] =
    "{\"data\":[{\"vmid\":100,\"name\":\"web\\u00e9\\ud83d\\ude00\",\"cpu\":0.0123,"
    "\"maxmem\":-2.5e+9,\"template\":false,\"tags\":null,\"lock\":true,"
    "\"esc\":\"a\\\"b\\\\c\\/d\\n\",\"nested\":{\"x\":[[],{}],\"y\":\"\xe6\x97\xa5\"}}],"
    "\"total\":1}";

START_TEST(json_truncated_every_byte) {
    size_t n = sizeof sample - 1;
    ck_assert_int_eq(skip_len(sample, n), (long)n);
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(skip_len(sample, k) == -1, "prefix of %zu bytes accepted", k);
}
END_TEST

static int count_member(const char *key, const char *val, const char *val_end, void *ud) {
    (void)key;
    ck_assert_ptr_nonnull(val);
    ck_assert(val < val_end);
    ++*(int *)ud;
    return 0;
}

START_TEST(json_object_each_truncated_every_byte) {
    size_t n = sizeof sample - 1;
    for (size_t k = 0; k < n; k++) {
        char *d = dup_exact(sample, k);
        int calls = 0;
        int r = pmx__json_object_each(d, d + k, count_member, &calls);
        ck_assert_msg(r == -1, "prefix of %zu bytes gave %d", k, r);
        ck_assert_int_le(calls, 2); /* members complete before the cut are reported */
        free(d);
    }
    char *d = dup_exact(sample, n);
    int calls = 0;
    ck_assert_int_eq(pmx__json_object_each(d, d + n, count_member, &calls), 0);
    ck_assert_int_eq(calls, 2);
    free(d);
}
END_TEST

START_TEST(json_string_truncated_every_byte) {
    static const char s[] = "\"a\\u00e9\\ud83d\\ude00\\n\\\"\xe6\x97\xa5\"";
    size_t n = sizeof s - 1;
    for (size_t k = 0; k < n; k++) {
        char *d = dup_exact(s, k);
        char *out = (char *)0x1;
        ck_assert_ptr_null(pmx__json_string(d, d + k, &out));
        ck_assert_ptr_null(out);
        char dst[64];
        ck_assert_ptr_null(pmx__json_string_into(d, d + k, dst, NULL));
        free(d);
    }
}
END_TEST

/* ---- nesting ---- */

static char *nested(size_t depth, char open, char close, size_t *len) {
    char *s = malloc(depth * 2);
    ck_assert_ptr_nonnull(s);
    memset(s, open, depth);
    memset(s + depth, close, depth);
    *len = depth * 2;
    return s;
}

START_TEST(json_depth_limit) {
    size_t n;
    /* 512 levels are fine (the documented limit), 600 are refused. */
    char *s = nested(512, '[', ']', &n);
    ck_assert_ptr_eq(pmx__json_skip(s, s + n), s + n);
    free(s);
    s = nested(600, '[', ']', &n);
    ck_assert_ptr_null(pmx__json_skip(s, s + n));
    free(s);
}
END_TEST

START_TEST(json_depth_limit_unclosed) {
    /* 600 '[' and nothing else: NULL, no stack overflow. */
    char *s = malloc(600);
    ck_assert_ptr_nonnull(s);
    memset(s, '[', 600);
    ck_assert_ptr_null(pmx__json_skip(s, s + 600));
    free(s);
}
END_TEST

START_TEST(json_depth_huge) {
    /* A million levels must be refused quickly without recursing a million times. */
    size_t n;
    char *s = nested(1000000, '[', ']', &n);
    ck_assert_ptr_null(pmx__json_skip(s, s + n));
    free(s);
}
END_TEST

START_TEST(json_depth_objects) {
    /* {"a":{"a":...}} nesting counts the same way. */
    for (int depth = 510; depth <= 516; depth++) {
        size_t n = (size_t)depth * 6 + 1;
        char *s = malloc(n);
        ck_assert_ptr_nonnull(s);
        char *o = s;
        for (int i = 0; i < depth; i++) {
            memcpy(o, "{\"a\":", 5);
            o += 5;
        }
        *o++ = '1';
        memset(o, '}', (size_t)depth);
        const char *r = pmx__json_skip(s, s + n);
        if (depth <= 512) /* the innermost value sits at depth `depth` */
            ck_assert_msg(r == s + n, "depth %d refused", depth);
        else
            ck_assert_msg(r == NULL, "depth %d accepted", depth);
        free(s);
    }
}
END_TEST

START_TEST(json_depth_boundary) {
    /* Exact boundary for arrays: 513 nested arrays (depths 0..512) pass, 514 do not. */
    size_t n;
    char *s = nested(513, '[', ']', &n);
    ck_assert_ptr_eq(pmx__json_skip(s, s + n), s + n);
    free(s);
    s = nested(514, '[', ']', &n);
    ck_assert_ptr_null(pmx__json_skip(s, s + n));
    free(s);
}
END_TEST

/* ---- strings ---- */

typedef struct {
    const char *json;
    const char *text;
    size_t len; /* decoded length */
} str_case;

#define S(j, t) {j, t, sizeof(t) - 1}
static const str_case strings[] = {
    S("\"\"", ""),
    S("\"abc\"", "abc"),
    S("\"a\\\"b\"", "a\"b"),
    S("\"a\\\\b\"", "a\\b"),
    S("\"a\\/b\"", "a/b"),
    S("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t"),
    S("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9"),
    S("\"\\u65e5\\u672c\"", "\xe6\x97\xa5\xe6\x9c\xac"), /* 日本 */
    S("\"\\u07ff\\u0800\\uffff\"", "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"),
    S("\"\\u007f\\u0080\"", "\x7f\xc2\x80"),
    S("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"),     /* U+1F600 from a surrogate pair */
    S("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80"),     /* U+10000 */
    S("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"),     /* U+10FFFF */
    S("\"\\ud83d\"", "\xef\xbf\xbd"),                /* lone high surrogate */
    S("\"\\ude00\"", "\xef\xbf\xbd"),                /* lone low surrogate */
    S("\"\\ud83dx\"", "\xef\xbf\xbdx"),              /* high followed by text */
    S("\"\\ud83d\\n\"", "\xef\xbf\xbd\n"),           /* high followed by another escape */
    S("\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A"),     /* high followed by a non-surrogate */
    S("\"\\ud83d\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"), /* two highs */
    S("\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"), /* low then high */
    S("\"\\u0000\"", "\xef\xbf\xbd"),                /* NUL is not let into C strings */
    S("\"a\\u0000b\"", "a\xef\xbf\xbd" "b"),
    S("\"\xc3\xa9\xe6\x97\xa5\"", "\xc3\xa9\xe6\x97\xa5"), /* raw UTF-8 kept */
    S("\"\x7f\"", "\x7f"),
    S("\"mixed \\\"q\\\" \\u00e9 end\"", "mixed \"q\" \xc3\xa9 end"),
};

START_TEST(json_string_decode) {
    const str_case *t = &strings[_i];
    size_t n = strlen(t->json);
    char *d = dup_exact(t->json, n);
    char *out = NULL;
    const char *r = pmx__json_string(d, d + n, &out);
    ck_assert_msg(r == d + n, "%s: stopped at %ld", t->json, r ? (long)(r - d) : -1L);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(strlen(out), t->len);
    ck_assert_mem_eq(out, t->text, t->len);
    pmx_free(out);

    /* Into caller memory of exactly (closing quote - p) bytes. */
    size_t cap = n - 1;
    char *dst = malloc(cap);
    ck_assert_ptr_nonnull(dst);
    size_t len = 12345;
    r = pmx__json_string_into(d, d + n, dst, &len);
    ck_assert_ptr_eq(r, d + n);
    ck_assert_uint_eq(len, t->len);
    ck_assert_mem_eq(dst, t->text, t->len);
    ck_assert_int_eq(dst[len], 0);
    free(dst);
    free(d);
}
END_TEST

START_TEST(json_string_stops_after_quote) {
    static const char s[] = "\"ab\" : 1";
    char *out = NULL;
    ck_assert_ptr_eq(pmx__json_string(s, s + sizeof s - 1, &out), s + 4);
    ck_assert_str_eq(out, "ab");
    pmx_free(out);
}
END_TEST

static const char *const bad_strings[] = {
    "\"abc",       /* unterminated */
    "\"a\\\"",     /* escaped quote, then the end */
    "\"\\x\"",     /* unknown escape */
    "\"\\a\"",
    "\"\\0\"",
    "\"\\u\"",
    "\"\\u12\"",
    "\"\\u123\"",
    "\"\\u12g4\"",
    "\"\\u-123\"",
    "\"\\",
    "\"a\nb\"",    /* raw control characters */
    "\"a\rb\"",
    "\"a\tb\"",
    "\"\x01\"",
    "\"\x1f\"",
};

START_TEST(json_string_rejected) {
    const char *j = bad_strings[_i];
    size_t n = strlen(j);
    char *d = dup_exact(j, n);
    char *out = (char *)0x1;
    ck_assert_ptr_null(pmx__json_string(d, d + n, &out));
    ck_assert_ptr_null(out);
    char dst[32];
    ck_assert_ptr_null(pmx__json_string_into(d, d + n, dst, NULL));
    if (j[0] == '"')
        ck_assert_int_eq(skip_len(j, n), -1);
    free(d);
}
END_TEST

START_TEST(json_string_raw_nul_rejected) {
    static const char s[] = {'"', 'a', 0, 'b', '"'};
    char *out = (char *)0x1;
    ck_assert_ptr_null(pmx__json_string(s, s + sizeof s, &out));
    ck_assert_ptr_null(out);
}
END_TEST

/* ---- object iteration ---- */

typedef struct {
    int n;
    int stop_at; /* 1-based member index at which to return `stop_value`, 0 = never */
    int stop_value;
    char keys[8][160];
    char vals[8][64];
} walk;

static int record(const char *key, const char *val, const char *val_end, void *ud) {
    walk *w = ud;
    ck_assert_int_lt(w->n, 8);
    ck_assert_uint_lt(strlen(key), sizeof w->keys[0]);
    strcpy(w->keys[w->n], key);
    size_t vn = (size_t)(val_end - val);
    ck_assert_uint_lt(vn, sizeof w->vals[0]);
    memcpy(w->vals[w->n], val, vn);
    w->vals[w->n][vn] = 0;
    w->n++;
    return (w->stop_at && w->n == w->stop_at) ? w->stop_value : 0;
}

static int walk_obj(const char *s, walk *w) {
    size_t n = strlen(s);
    char *d = dup_exact(s, n);
    int r = pmx__json_object_each(d, d + n, record, w);
    free(d);
    return r;
}

START_TEST(json_object_members) {
    walk w = {0};
    int r = walk_obj(" {\"vmid\" : 100 , \"name\":\"web\",\"cfg\":{\"a\":[1,2]},"
                     "\"list\":[ 1 , 2 ],\"ok\":true,\"no\":null,\"f\":-1.5e3}",
                     &w);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(w.n, 7);
    static const char *const keys[] = {"vmid", "name", "cfg", "list", "ok", "no", "f"};
    static const char *const vals[] = {"100",       "\"web\"", "{\"a\":[1,2]}", "[ 1 , 2 ]",
                                       "true",      "null",    "-1.5e3"};
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(w.keys[i], keys[i]);
        ck_assert_str_eq(w.vals[i], vals[i]); /* exact span: no surrounding white space */
    }
}
END_TEST

START_TEST(json_object_empty) {
    walk w = {0};
    ck_assert_int_eq(walk_obj("{}", &w), 0);
    ck_assert_int_eq(walk_obj("  { \n }  ", &w), 0);
    ck_assert_int_eq(w.n, 0);
}
END_TEST

START_TEST(json_object_keys_decoded) {
    walk w = {0};
    ck_assert_int_eq(walk_obj("{\"a\\\"b\":1,\"\\u00e9\":2,\"\":3,\"\\ud83d\\ude00\":4,\"x\":5,"
                              "\"x\":6}",
                              &w),
                     0);
    ck_assert_int_eq(w.n, 6);
    ck_assert_str_eq(w.keys[0], "a\"b");
    ck_assert_str_eq(w.keys[1], "\xc3\xa9");
    ck_assert_str_eq(w.keys[2], "");
    ck_assert_str_eq(w.keys[3], "\xf0\x9f\x98\x80");
    ck_assert_str_eq(w.keys[4], "x"); /* duplicates are all reported, in order */
    ck_assert_str_eq(w.vals[4], "5");
    ck_assert_str_eq(w.keys[5], "x");
    ck_assert_str_eq(w.vals[5], "6");
}
END_TEST

START_TEST(json_object_long_keys) {
    /* Keys around the 128-byte stack buffer, plain and with escapes. */
    for (size_t klen = 120; klen <= 140; klen++) {
        char key[200], doc[300];
        memset(key, 'k', klen);
        key[klen] = 0;
        snprintf(doc, sizeof doc, "{\"%s\":1,\"b\":2}", key);
        walk w = {0};
        ck_assert_int_eq(walk_obj(doc, &w), 0);
        ck_assert_int_eq(w.n, 2);
        ck_assert_str_eq(w.keys[0], key);
        ck_assert_str_eq(w.keys[1], "b");
        /* The same with the first character escaped as \u006b (6 source bytes, 1 decoded). */
        snprintf(doc, sizeof doc, "{\"\\u006b%s\":1}", key + 1);
        memset(&w, 0, sizeof w);
        ck_assert_int_eq(walk_obj(doc, &w), 0);
        ck_assert_str_eq(w.keys[0], key);
    }
}
END_TEST

START_TEST(json_object_early_stop) {
    static const char doc[] = "{\"a\":1,\"b\":2,\"c\":3}";
    walk w = {0};
    w.stop_at = 2;
    w.stop_value = 42;
    ck_assert_int_eq(walk_obj(doc, &w), 42);
    ck_assert_int_eq(w.n, 2); /* "c" never seen */
    memset(&w, 0, sizeof w);
    w.stop_at = 1;
    w.stop_value = -7;
    ck_assert_int_eq(walk_obj(doc, &w), -7);
    ck_assert_int_eq(w.n, 1);
    memset(&w, 0, sizeof w);
    w.stop_at = 3;
    w.stop_value = 1;
    ck_assert_int_eq(walk_obj(doc, &w), 1);
    ck_assert_int_eq(w.n, 3);
}
END_TEST

START_TEST(json_object_early_stop_before_error) {
    /* Stopping returns the callback's value even when the rest is malformed. */
    walk w = {0};
    w.stop_at = 1;
    w.stop_value = 5;
    ck_assert_int_eq(walk_obj("{\"a\":1,\"b\":}", &w), 5);
}
END_TEST

static const char *const bad_objects[] = {
    "",          "[]",          "1",           "\"a\"",       "null",     "{",
    "{\"a\"",    "{\"a\":",     "{\"a\":1",    "{\"a\":1,",   "{\"a\":1,}", "{\"a\" 1}",
    "{a:1}",     "{\"a\":1]",   "{\"a\":tru}", "{\"a\":\"x}", "{,\"a\":1}", "{\"a\":1 \"b\":2}",
    "{\"a\":01}", "{\"\\x\":1}",
};

START_TEST(json_object_malformed) {
    walk w = {0};
    ck_assert_int_eq(walk_obj(bad_objects[_i], &w), -1);
}
END_TEST

START_TEST(json_object_trailing_ignored) {
    /* The walk ends at the closing brace; what follows is the caller's business. */
    walk w = {0};
    ck_assert_int_eq(walk_obj("{\"a\":1} trailing", &w), 0);
    ck_assert_int_eq(w.n, 1);
}
END_TEST

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof table / sizeof table[0]))


typedef struct items_seen {
    size_t n;
    char text[8][32];
} items_seen;

static int collect_item(const char *v, const char *vend, size_t i, void *ud) {
    items_seen *s = ud;
    ck_assert_uint_eq(i, s->n);
    snprintf(s->text[s->n++], sizeof s->text[0], "%.*s", (int)(vend - v), v);
    return s->n == 3 && v[0] == '9' ? 7 : 0;
}

START_TEST(json_array_items) {
    const char *doc = " [1, \"a,b\" ,{\"k\":[2]}, null] ";
    items_seen s = {0};
    ck_assert_int_eq(pmx__json_array_each(doc, doc + strlen(doc), collect_item, &s), 0);
    ck_assert_uint_eq(s.n, 4);
    ck_assert_str_eq(s.text[0], "1");
    ck_assert_str_eq(s.text[1], "\"a,b\"");
    ck_assert_str_eq(s.text[2], "{\"k\":[2]}");
    ck_assert_str_eq(s.text[3], "null");
    const char *empty = "[ ]";
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(pmx__json_array_each(empty, empty + 3, collect_item, &s), 0);
    ck_assert_uint_eq(s.n, 0);
    const char *stop = "[1,2,9,4]";
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(pmx__json_array_each(stop, stop + strlen(stop), collect_item, &s), 7);
    ck_assert_uint_eq(s.n, 3);
}
END_TEST

START_TEST(json_array_malformed) {
    static const char *const bad[] = {"", "{}", "[", "[1", "[1,]", "[,1]", "[1 2]", "[1,2", "1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pmx__json_array_each(bad[i], bad[i] + strlen(bad[i]), NULL, NULL) == -1,
                      "accepted '%s'", bad[i]);
}
END_TEST

static Suite *json_suite(void) {
    Suite *s = suite_create("json");

    TCase *tc = tcase_create("skip");
    LOOP(tc, json_valid_documents, valid_docs);
    LOOP(tc, json_invalid_documents, invalid_docs);
    LOOP(tc, json_skip_stop_offset, stops);
    tcase_add_test(tc, json_empty_range);
    tcase_add_test(tc, json_truncated_every_byte);
    tcase_add_test(tc, json_object_each_truncated_every_byte);
    tcase_add_test(tc, json_string_truncated_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("depth");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, json_depth_limit);
    tcase_add_test(tc, json_depth_limit_unclosed);
    tcase_add_test(tc, json_depth_huge);
    tcase_add_test(tc, json_depth_objects);
    tcase_add_test(tc, json_depth_boundary);
    suite_add_tcase(s, tc);

    tc = tcase_create("string");
    LOOP(tc, json_string_decode, strings);
    tcase_add_test(tc, json_string_stops_after_quote);
    LOOP(tc, json_string_rejected, bad_strings);
    tcase_add_test(tc, json_string_raw_nul_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("object");
    tcase_add_test(tc, json_object_members);
    tcase_add_test(tc, json_object_empty);
    tcase_add_test(tc, json_object_keys_decoded);
    tcase_add_test(tc, json_object_long_keys);
    tcase_add_test(tc, json_object_early_stop);
    tcase_add_test(tc, json_object_early_stop_before_error);
    LOOP(tc, json_object_malformed, bad_objects);
    tcase_add_test(tc, json_object_trailing_ignored);
    suite_add_tcase(s, tc);

    tc = tcase_create("array");
    tcase_add_test(tc, json_array_items);
    tcase_add_test(tc, json_array_malformed);
    suite_add_tcase(s, tc);
    return s;
}

PMX_TEST_SUITE(json_suite)
