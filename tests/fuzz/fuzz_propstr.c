/* Property strings: pmx_propstr_decode / encode / check for a format chosen by the first byte
 * (modulo pmx_propstr_count()). Invariants: check agrees with decode; a decoded value encodes;
 * decode(encode(x)) succeeds and encodes to the same canonical text. */
#include "tables.h"

#include "fuzz_common.h"

#include <stdio.h>

static void fail(const char *what, const pmx_propstr_desc *d, const char *a, const char *b) {
    fprintf(stderr, "propstr %s: %s\n  input:  '%s'\n  other:  '%s'\n", pmx__str(d->name), what, a,
            b ? b : "(null)");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t nfmt = pmx_propstr_count();
    if (size < 1 || !nfmt)
        return 0;
    const pmx_propstr_desc *d = pmx_propstr_at(data[0] % nfmt);
    char *text = fuzz_cstr(data + 1, size - 1);

    void *v = NULL;
    char *err = NULL;
    int rc = pmx_propstr_decode(d, text, &v, &err);
    char buf[256];
    const char *chk = pmx_propstr_check(d, text, buf, sizeof buf);
    if (rc == PMX_OK) {
        if (!v || err)
            fail("decode OK with an error or without a value", d, text, err);
        if (chk)
            fail("check rejects what decode accepts", d, text, chk);
        char *enc = NULL, *eerr = NULL;
        int erc = pmx_propstr_encode(d, v, &enc, &eerr);
        /* A value containing ',' cannot have been decoded, so every decoded struct encodes. */
        if (erc != PMX_OK)
            fail("decoded value does not encode", d, text, eerr);
        void *v2 = NULL;
        char *err2 = NULL;
        if (pmx_propstr_decode(d, enc, &v2, &err2) != PMX_OK)
            fail("decode(encode(x)) fails", d, enc, err2);
        char *enc2 = NULL;
        if (pmx_propstr_encode(d, v2, &enc2, NULL) != PMX_OK || strcmp(enc, enc2) != 0)
            fail("encoding is not canonical", d, enc, enc2);
        if (pmx_propstr_check(d, enc, buf, sizeof buf))
            fail("check rejects an encoded value", d, enc, buf);
        pmx_free(enc2);
        pmx_free(err2);
        pmx_propstr_free(d, v2);
        pmx_free(enc);
        pmx_free(eerr);
    } else {
        if (v)
            fail("failed decode left a value", d, text, NULL);
        if (rc == PMX_EINVAL && (!err || !chk))
            fail("rejection without a message / check accepts", d, text, err);
        if (chk && strlen(chk) >= sizeof buf)
            abort();
    }
    pmx_free(err);
    pmx_propstr_free(d, v);
    free(text);
    return 0;
}
