/* TLS policy: system CAs, a CA file, SHA-256 leaf pinning (checked with OpenSSL), insecure. */
#include "core.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

int pmx__fingerprint_parse(const char *s, unsigned char out[32]) {
    size_t n = 0;
    int hi = -1;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        int v;
        if (ch >= '0' && ch <= '9')
            v = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            v = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            v = ch - 'A' + 10;
        else if (ch == ':' && hi < 0 && n > 0 && p[-1] != ':' && p[1])
            continue; /* single separators between bytes only */
        else
            return PMX_EINVAL;
        if (hi < 0) {
            hi = v;
        } else {
            if (n == 32)
                return PMX_EINVAL;
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    return (n == 32 && hi < 0) ? PMX_OK : PMX_EINVAL;
}

static int g_ctx_index = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_index(void) { g_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

/* Pinned mode: the chain and the host name are not checked (like PVE's own clients); the leaf
 * certificate's SHA-256 must equal the pin, or the handshake is aborted. */
static int verify_pin(int preverify_ok, X509_STORE_CTX *x) {
    (void)preverify_ok;
    if (X509_STORE_CTX_get_error_depth(x) > 0)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    pmx_client *c = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!c || !cert || !X509_digest(cert, EVP_sha256(), md, &len) || len != 32)
        return 0;
    for (size_t i = 0; i < c->n_pins; i++) {
        if (memcmp(md, c->pins[i], 32) == 0) {
            X509_STORE_CTX_set_error(x, X509_V_OK);
            return 1;
        }
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(c->pin_seen + i * 3, sizeof c->pin_seen - i * 3, i < 31 ? "%02X:" : "%02X", md[i]);
    return 0;
}

static CURLcode ssl_ctx_cb(CURL *easy, void *sslctx, void *ud) {
    (void)easy;
    SSL_CTX *ctx = sslctx;
    pthread_once(&g_once, init_index);
    if (g_ctx_index < 0 || !SSL_CTX_set_ex_data(ctx, g_ctx_index, ud))
        return CURLE_SSL_CERTPROBLEM;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pin);
    return CURLE_OK;
}

/* Pinning hands curl an OpenSSL SSL_CTX callback: only libcurl built on OpenSSL calls it with
 * an OpenSSL context. Another backend (Debian's libcurl3-gnutls, a multi-SSL build switched to
 * another one) refuses the option, or would hand us a context of another library. */
int pmx__tls_pin_backend_ok(const char *ssl, unsigned long ours, const char **why) {
    if (ssl && strncmp(ssl, "OpenSSL/", 8) == 0) {
        /* and the same major version as ours: a context of OpenSSL 1.1 is not one of 3 */
        unsigned long major = 0;
        const char *d = ssl + 8;
        while (*d >= '0' && *d <= '9' && major < 1000)
            major = major * 10 + (unsigned long)(*d++ - '0');
        if (d > ssl + 8 && *d == '.' && major == (ours >> 28))
            return 1;
        if (why)
            *why = "certificate pinning needs libcurl and libproxmox on the same OpenSSL major "
                   "version, and they are not: the call was not sent";
        return 0;
    }
    if (why)
        *why = ssl ? "certificate pinning needs libcurl built with OpenSSL, but its TLS backend "
                     "is another one: the call was not sent"
                   : "libcurl has no TLS support: the call was not sent";
    return 0;
}

int pmx__tls_can_pin(const char **why) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return pmx__tls_pin_backend_ok(v ? v->ssl_version : NULL, OpenSSL_version_num(), why);
}

/* Pinned mode trusts the pin alone: curl need not load the system CA bundle for each connection
 * (about 140 certificates, most of a megabyte once parsed). */
static int no_ca_store(CURL *e) {
    return curl_easy_setopt(e, CURLOPT_CAINFO, NULL) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK;
}

/* Trust the CA file alone. libcurl's built-in CA directory (Debian's: /etc/ssl/certs, every
 * public CA) stays in force unless switched off too. Its CA store cache (libcurl 7.87 and later:
 * 24 hours) would keep trusting a CA removed from the file: off, so each new connection reads it. */
static int only_ca_file(CURL *e, const char *path) {
    if (curl_easy_setopt(e, CURLOPT_CAINFO, path) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK)
        return 0;
#if LIBCURL_VERSION_NUM >= 0x075700
    CURLcode r = curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
    return r == CURLE_OK || r == CURLE_UNKNOWN_OPTION; /* (an older libcurl keeps no cache) */
#else
    return 1;
#endif
}

int pmx__tls_setup(pmx_client *c, CURL *e, const char **msg) {
    if (!c->tls)
        return PMX_OK;
    int ok;
    if (c->pinned) {
        /* curl must not apply its own verdict; our verify callback decides. Fail closed: the
         * pin is installed before verification is switched off, and any refusal stops here. */
        if (!pmx__tls_can_pin(msg))
            return PMX_ETLS;
        ok = curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, c) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK &&
             no_ca_store(e);
        if (!ok)
            *msg = "libcurl refused the certificate pinning options: the call was not sent";
    } else if (c->insecure) {
        ok = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
        if (!ok)
            *msg = "libcurl refused to switch certificate checks off";
    } else {
        ok = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
             (!c->ca_file || only_ca_file(e, c->ca_file));
        if (!ok)
            *msg = "libcurl refused the certificate verification options: the call was not sent";
    }
    return ok ? PMX_OK : PMX_ETLS;
}
