/* JSON scanner (lib/json.c): pmx__json_skip, pmx__json_string, pmx__json_object_each,
 * pmx__json_array_each on an exact-size, unterminated buffer. */
#include "internal.h"

#include "fuzz_common.h"

static int member_fn(const char *key, const char *val, const char *val_end, void *ud) {
    const char *end = ud;
    if (!key || val > val_end || val_end > end)
        abort();
    (void)strlen(key);
    /* Every member value is a complete value: skipping it again lands on val_end. */
    if (pmx__json_skip(val, val_end) != val_end)
        abort();
    /* Nested walks, as the typed decoder does. */
    if (val < val_end && *val == '{')
        (void)pmx__json_object_each(val, val_end, member_fn, (void *)val_end);
    else if (val < val_end && *val == '[')
        (void)pmx__json_array_each(val, val_end, NULL, NULL);
    return 0;
}

static int item_fn(const char *val, const char *val_end, size_t i, void *ud) {
    const char *end = ud;
    if (val > val_end || val_end > end)
        abort();
    if (pmx__json_skip(val, val_end) != val_end)
        abort();
    if (val < val_end && *val == '"') {
        char *s = NULL;
        if (pmx__json_string(val, val_end, &s) != val_end)
            abort();
        pmx__free(s);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = fuzz_span(data, size);
    const char *end = buf + size;
    const char *p = pmx__json_ws(buf, end);

    const char *q = pmx__json_skip(p, end);
    if (q && (q <= p || q > end))
        abort();

    if (p < end && *p == '"') {
        char *s = NULL;
        const char *r = pmx__json_string(p, end, &s);
        /* The string decoder and the validator agree on where the string ends. */
        if (r != q)
            abort();
        if (r) {
            size_t n = strlen(s);
            if (n > (size_t)(r - p))
                abort();
            /* Decoding into caller memory gives the same text. */
            char *d = malloc((size_t)(r - p));
            size_t len = 0;
            if (pmx__json_string_into(p, end, d, &len) != r || len != n || memcmp(d, s, n))
                abort();
            free(d);
        } else if (s) {
            abort();
        }
        pmx__free(s);
    }

    int ro = pmx__json_object_each(buf, end, member_fn, (void *)end);
    int ra = pmx__json_array_each(buf, end, item_fn, (void *)end);
    /* A well-formed object / array is walked to its end (member/item fns return 0). */
    if (q && *p == '{' && ro != 0)
        abort();
    if (q && *p == '[' && ra != 0)
        abort();
    (void)pmx__json_array_each(buf, end, NULL, NULL);
    free(buf);
    return 0;
}
