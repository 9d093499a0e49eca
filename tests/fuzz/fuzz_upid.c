/* UPIDs: pmx_upid_parse / pmx_upid_format; format(parse(s)) == s whenever parse succeeds. */
#include "internal.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    pmx_upid *u = NULL;
    char *err = NULL;
    int rc = pmx_upid_parse(text, &u, &err);
    if (rc == PMX_OK) {
        if (!u || err)
            abort();
        char *s = NULL;
        if (pmx_upid_format(u, &s) != PMX_OK || !s || strcmp(s, text) != 0)
            abort(); /* round trip violated */
        pmx_upid *u2 = NULL;
        if (pmx_upid_parse(s, &u2, NULL) != PMX_OK)
            abort();
        pmx_upid_free(u2);
        pmx_free(s);
    } else {
        if (u)
            abort();
        if (rc == PMX_EINVAL && !err)
            abort(); /* every rejection says why */
    }
    pmx_free(err);
    pmx_upid_free(u);
    free(text);
    return 0;
}
