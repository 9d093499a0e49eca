/* Endpoint URLs: pmx_client_new with a fuzzed URL, then pmx_client_free. The parser itself
 * (pmx__url_parse) is checked too: what it accepts, its canonical base URL parses back to the
 * same endpoint, and pmx_client_new agrees with it. */
#include "core.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *url = fuzz_cstr(data, size);
    pmx_client *c = NULL;
    int rc = pmx_client_new(&c, url);
    if (rc == PMX_OK) {
        if (!c)
            abort();
    } else if (c) {
        abort();
    }
    pmx_client_free(c);

    pmx__url u, u2;
    int r = pmx__url_parse(url, &u);
    if ((r == PMX_OK) != (rc == PMX_OK) && r != PMX_ENOMEM && rc != PMX_ENOMEM)
        abort();
    if (r == PMX_OK) {
        if (!u.host || !u.base || u.port < 1 || u.port > 65535 || !*u.host)
            abort();
        if (pmx__url_parse(u.base, &u2) != PMX_OK || u2.tls != u.tls || u2.port != u.port ||
            strcmp(u2.host, u.host) != 0 || strcmp(u2.base, u.base) != 0)
            abort(); /* the canonical base is not a fixed point */
        pmx__url_free(&u2);
        pmx__url_free(&u);
    }
    free(url);
    return 0;
}
