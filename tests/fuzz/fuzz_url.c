/* Endpoint URLs: pmx_client_new with a fuzzed URL or comma-separated endpoint list, then
 * pmx_client_free. The parsers themselves (pmx__endpoints_parse, pmx__url_parse) are checked
 * too: what they accept, each endpoint's canonical base URL parses back to the same endpoint,
 * a single URL (no comma) reads the same through both, and pmx_client_new agrees with them. */
#include "core.h"

#include "fuzz_common.h"

/* u is a parsed endpoint: its canonical base is a fixed point of the parser. */
static void check_url(const pmx__url *u) {
    pmx__url u2;
    if (!u->host || !u->base || u->port < 1 || u->port > 65535 || !*u->host)
        abort();
    if (pmx__url_parse(u->base, &u2) != PMX_OK || u2.tls != u->tls || u2.port != u->port ||
        strcmp(u2.host, u->host) != 0 || strcmp(u2.base, u->base) != 0)
        abort(); /* the canonical base is not a fixed point */
    pmx__url_free(&u2);
}

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

    pmx__endpoint *eps = NULL;
    size_t n = 0;
    int r = pmx__endpoints_parse(url, &eps, &n);
    if ((r == PMX_OK) != (rc == PMX_OK) && r != PMX_ENOMEM && rc != PMX_ENOMEM)
        abort();
    if (r == PMX_OK) {
        if (n < 1 || n > 64)
            abort();
        for (size_t i = 0; i < n; i++) {
            check_url(&eps[i].url);
            if (eps[i].url.tls != eps[0].url.tls) /* https and http are never mixed */
                abort();
        }
        pmx__endpoints_free(eps, n);
    } else if (eps || n) {
        abort();
    }
    if (!strchr(url, ',')) { /* one URL: the list parser reads it as the URL parser does */
        pmx__url u;
        int r1 = pmx__url_parse(url, &u);
        if ((r1 == PMX_OK) != (r == PMX_OK) && r1 != PMX_ENOMEM && r != PMX_ENOMEM)
            abort();
        if (r1 == PMX_OK) {
            check_url(&u);
            pmx__url_free(&u);
        }
    }
    free(url);
    return 0;
}
