/* Linked against a libcurl whose TLS backend is not OpenSSL (Debian's libcurl3-gnutls): pinning
 * must fail closed, before anything is sent; other TLS modes must still work.
 * Usage: tls_backend URL FINGERPRINT TOKEN. Exit 0 when both hold, 1 otherwise. */
#include <proxmox/proxmox.h>
#include <stdio.h>
#include <string.h>

static int get(pmx_client *c, const char **err) {
    pmx_call *call = NULL;
    if (pmx_call_start(c, PMX_GET, "/version", NULL, NULL, NULL, &call) != PMX_OK)
        return -100;
    int r = pmx_call_wait(call);
    static char msg[300];
    snprintf(msg, sizeof msg, "%s", pmx_call_error(call) ? pmx_call_error(call) : "");
    *err = msg;
    pmx_call_unref(call);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL FINGERPRINT TOKEN\n", argv[0]);
        return 2;
    }
    pmx_client *c = NULL;
    if (pmx_client_new(&c, argv[1]) != PMX_OK || pmx_client_set_token(c, argv[3]) != PMX_OK ||
        pmx_client_set_fingerprint(c, argv[2]) != PMX_OK) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    const char *err = NULL;
    int r = get(c, &err);
    printf("pinned: %d (%s)\n", r, err);
    int ok = r == PMX_ETLS && strstr(err, "OpenSSL") != NULL;
    /* The same binary talks TLS fine when no pin is asked for. */
    if (pmx_client_set_fingerprint(c, NULL) != PMX_OK || pmx_client_set_insecure(c, 1) != PMX_OK) {
        fprintf(stderr, "cannot switch to insecure\n");
        return 1;
    }
    r = get(c, &err);
    printf("insecure: %d (%s)\n", r, err);
    ok &= r == PMX_OK;
    pmx_client_free(c);
    return ok ? 0 : 1;
}
