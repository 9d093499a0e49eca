/* The incremental decoder: a whole response body for a method chosen by the first two bytes
 * (big-endian index into the methods that declare a result), fed to pmx__stream_* in pieces
 * whose sizes come from the third byte (a seed), against the one-shot pmx__decode_body of the
 * same bytes: both accept or both refuse, and accepted results are read back (ASan). Item mode
 * with a callback that stops after a number of elements (fourth byte) runs on the same input. */
#include "bind.h"

#include "fuzz_common.h"

typedef struct stopper {
    size_t seen, stop_at;
} stopper;

static int on_item(pmx_call *call, const void *item, size_t index, void *ud) {
    stopper *s = ud;
    (void)call;
    (void)item;
    if (index != s->seen)
        abort(); /* elements arrive in order, each once */
    s->seen++;
    return s->stop_at && s->seen >= s->stop_at;
}

/* Feed [p, p+n) in pieces from a small PRNG; returns the finish rc (or PMX_ECANCELLED). */
static int feed(pmx__stream *s, const char *p, size_t n, uint32_t seed, pmx__body *b, char **err) {
    uint32_t r = seed * 2654435761u + 7;
    size_t o = 0;
    *err = NULL;
    while (o < n) {
        r = r * 1103515245u + 12345u;
        size_t k = 1 + (r >> 16) % (seed % 4 == 0 ? 4 : 300);
        if (k > n - o)
            k = n - o;
        char *piece = fuzz_span((const uint8_t *)p + o, k); /* exact size */
        int rc = pmx__stream_feed(s, piece, k);
        free(piece);
        if (rc == PMX_ECANCELLED)
            return rc;
        o += k;
    }
    return pmx__stream_finish(s, NULL, b, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n_methods;
    const pmx_method_desc **methods = fuzz_result_methods(&n_methods);
    if (size < 4 || !n_methods)
        return 0;
    const pmx_method_desc *d = methods[((size_t)data[0] << 8 | data[1]) % n_methods];
    uint32_t seed = data[2];
    size_t stop_at = data[3] % 8;
    const char *body = (const char *)data + 4;
    size_t len = size - 4;
    char *whole = fuzz_span((const uint8_t *)body, len);

    pmx__body b1, b2;
    char *e1 = NULL, *e2 = NULL;
    int r1 = pmx__decode_body(d, whole, len, &b1, &e1);
    pmx__stream *s = pmx__stream_new(d, NULL, NULL, NULL, 0);
    if (!s)
        abort();
    int r2 = feed(s, body, len, seed, &b2, &e2);
    if ((r1 == PMX_OK) != (r2 == PMX_OK) && r1 != PMX_ENOMEM && r2 != PMX_ENOMEM)
        abort(); /* the two decoders disagree */
    if (r2 == PMX_EDECODE && !e2)
        abort();
    if (r2 == PMX_OK && e2)
        abort();
    if (b2.typed && r2 == PMX_OK && (b1.typed == NULL) != (b2.typed == NULL))
        abort();
    pmx__bind_result_free(d, b1.typed);
    pmx__bind_result_free(d, r2 == PMX_OK ? b2.typed : NULL);
    pmx__stream_free(s);
    pmx__free(e1);
    pmx__free(e2);

    /* item mode */
    stopper st = {0, stop_at};
    s = pmx__stream_new(d, NULL, on_item, &st, 0);
    if (!s)
        abort();
    char *e3 = NULL;
    pmx__body b3;
    int r3 = feed(s, body, len, seed + 1, &b3, &e3);
    if (r3 == PMX_OK)
        pmx__bind_result_free(d, b3.typed);
    pmx__free(e3);
    pmx__stream_free(s);
    free(whole);
    return 0;
}
