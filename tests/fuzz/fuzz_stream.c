/* The incremental decoder: a whole response body for a method chosen by the first two bytes
 * (big-endian index into the methods that declare a result), fed to pmx__stream_* in pieces
 * whose sizes come from the third byte (a seed), against the one-shot pmx__decode_body of the
 * same bytes: both accept or both refuse, and accepted results hold the same values, member by
 * member (and the same "total" and "data" span). Item mode with a callback that stops after a
 * number of elements (fourth byte) runs on the same input. */
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

/* The two decoders' results agree: a and b are values of kind k (element type et). */
static void same_value(uint32_t k, const pmx_type_desc *et, const char *a, const char *b);

static void same_object(const pmx_type_desc *t, const char *a, const char *b) {
    for (size_t i = 0; i < t->n_fields; i++) {
        const pmx_field_desc *f = &pmx__gen_fields[t->first_field + i];
        const pmx_type_desc *ft = pmx__type(f->type);
        if (f->count) { /* indexed: char *x[count] */
            for (size_t k = 0; k < f->count; k++)
                same_value(f->kind, ft, a + f->offset + k * sizeof(char *),
                           b + f->offset + k * sizeof(char *));
        } else if (f->kind == PMX_KIND_ARRAY) {
            size_t na, nb;
            const char *ia, *ib;
            memcpy(&na, a + f->count_offset, sizeof na);
            memcpy(&nb, b + f->count_offset, sizeof nb);
            memcpy(&ia, a + f->offset, sizeof ia);
            memcpy(&ib, b + f->offset, sizeof ib);
            if (na != nb || !ia != !ib)
                abort();
            uint32_t ek = ft ? ft->kind : PMX_KIND_RAW;
            for (size_t j = 0; j < na; j++)
                same_value(ek, ft, ia + j * pmx__elem_size(ek), ib + j * pmx__elem_size(ek));
        } else {
            same_value(f->kind, ft, a + f->offset, b + f->offset);
        }
    }
}

/* Two pmx_opt_* values agree: both unset, or both set to the same bits. */
#define SAME_OPT(T)                                                                                \
    do {                                                                                           \
        T u, v;                                                                                    \
        memcpy(&u, a, sizeof u);                                                                   \
        memcpy(&v, b, sizeof v);                                                                   \
        if (u.set != v.set || (u.set && memcmp(&u.v, &v.v, sizeof u.v) != 0))                     \
            abort();                                                                               \
        return;                                                                                    \
    } while (0)

static void same_value(uint32_t k, const pmx_type_desc *et, const char *a, const char *b) {
    const char *x, *y;
    switch (k) {
    case PMX_KIND_STRING:
    case PMX_KIND_RAW:
    case PMX_KIND_OBJECT:
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        if (!x != !y)
            abort();
        if (x && k == PMX_KIND_OBJECT)
            same_object(et, x, y);
        else if (x && strcmp(x, y) != 0)
            abort();
        return;
    case PMX_KIND_OPT_I64:
        SAME_OPT(pmx_opt_i64);
    case PMX_KIND_OPT_F64:
        SAME_OPT(pmx_opt_f64);
    case PMX_KIND_OPT_BOOL:
        SAME_OPT(pmx_opt_bool);
    default: /* int64_t, int, double */
        if (memcmp(a, b, pmx__elem_size(k)) != 0)
            abort();
        return;
    }
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
    if (r1 == PMX_OK && r2 == PMX_OK) {
        if (!b1.typed != !b2.typed || b1.total != b2.total)
            abort();
        if (b1.typed)
            same_object(pmx__type(d->result), b1.typed, b2.typed);
    }
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
