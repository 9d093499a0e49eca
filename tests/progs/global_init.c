/* pmx_global_init(PMX_GLOBAL_WIPE_ALLOCATORS) in a fresh process: it must come first, installs
 * wiping allocators into libcurl and OpenSSL (their frees go through the library's wiping free),
 * and a second call is refused. Usage: global_init URL FINGERPRINT TOKEN. Exit 0 when all holds. */
#include "internal.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL FINGERPRINT TOKEN\n", argv[0]);
        return 2;
    }
    int ok = 1;
    if (pmx_global_init(1u << 30) != PMX_EINVAL) {
        fprintf(stderr, "unknown flag accepted\n");
        ok = 0;
    }
    int r = pmx_global_init(PMX_GLOBAL_WIPE_ALLOCATORS);
    printf("global_init: %d\n", r);
    ok &= r == PMX_OK;
    ok &= pmx_global_init(PMX_GLOBAL_WIPE_ALLOCATORS) == PMX_EBUSY;
    size_t before = pmx__wiping_frees();
    pmx_client *c = NULL;
    if (pmx_client_new(&c, argv[1]) != PMX_OK || pmx_client_set_fingerprint(c, argv[2]) ||
        pmx_client_set_token(c, argv[3])) {
        fprintf(stderr, "client set-up failed\n");
        return 1;
    }
    pmx_call *call = NULL;
    if (pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call) != PMX_OK)
        return 1;
    r = pmx_call_wait(call);
    printf("call: %d\n", r);
    ok &= r == PMX_OK;
    pmx_call_unref(call);
    pmx_client_free(c);
    size_t frees = pmx__wiping_frees() - before;
    printf("blocks libcurl/OpenSSL freed through the wiping allocator: %zu\n", frees);
    ok &= frees > 100; /* a TLS connection alone frees hundreds of blocks */
    pmx_global_cleanup();
    return ok ? 0 : 1;
}
