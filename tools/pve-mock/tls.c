/* pve-mock: TLS material made at start-up.
 *
 * Like a fresh PVE node: a self-signed CA (pve-root-ca.pem) signs the leaf
 * (pve-ssl.pem). EC P-256 instead of RSA keeps start-up fast. The leaf's
 * SHA-256 fingerprint is what clients pin. */
#include "mock.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static EVP_PKEY *make_key(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int rc = X509_add_ext(cert, ext, -1) ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org, X509 *issuer,
                       EVP_PKEY *issuer_key, long days, int is_ca)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    X509_set_version(cert, 2);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    /* Backdate a little so clients with a skewed clock still accept it. */
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400L);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : cert;
    int bad = 0;
    if (is_ca) {
        bad |= add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE");
        bad |= add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        bad |= add_ext(cert, iss, NID_subject_key_identifier, "hash");
    } else {
        bad |= add_ext(cert, iss, NID_basic_constraints, "CA:FALSE");
        bad |= add_ext(cert, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        bad |= add_ext(cert, iss, NID_ext_key_usage, "serverAuth");
        bad |= add_ext(cert, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
        bad |= add_ext(cert, iss, NID_authority_key_identifier, "keyid:always");
    }
    if (bad || !X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

int tls_setup(const char *ca_out)
{
    int rc = -1;
    EVP_PKEY *ca_key = make_key(), *leaf_key = make_key();
    X509 *ca = NULL, *leaf = NULL;
    if (!ca_key || !leaf_key)
        goto out;
    ca = make_cert(ca_key, "Proxmox Virtual Environment", "PVE Cluster Manager CA", NULL, NULL,
                   3650, 1);
    if (!ca)
        goto out;
    leaf = make_cert(leaf_key, "localhost", "PVE Cluster Node", ca, ca_key, 365, 0);
    if (!leaf)
        goto out;

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    X509_digest(leaf, EVP_sha256(), md, &mdlen);
    char *p = g_mock.fingerprint;
    for (unsigned i = 0; i < mdlen; i++)
        p += sprintf(p, i ? ":%02X" : "%02X", md[i]);

    if (ca_out) {
        FILE *f = fopen(ca_out, "w");
        if (!f || !PEM_write_X509(f, ca)) {
            if (f)
                fclose(f);
            fprintf(stderr, "pve-mock: cannot write %s\n", ca_out);
            goto out;
        }
        fclose(f);
    }

    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        goto out;
    /* pveproxy: TLS 1.3 at most; we keep the floor at 1.2 (OpenSSL 3 default policy). */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    if (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_add1_chain_cert(ctx, ca) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, leaf_key) != 1) {
        SSL_CTX_free(ctx);
        goto out;
    }
    g_mock.ssl_ctx = ctx;
    rc = 0;
out:
    if (rc)
        ERR_print_errors_fp(stderr);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    return rc;
}

void tls_free(void)
{
    SSL_CTX_free(g_mock.ssl_ctx);
    g_mock.ssl_ctx = NULL;
}
