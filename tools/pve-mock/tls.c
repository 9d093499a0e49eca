/* pve-mock: TLS material made at start-up.
 *
 * Like a fresh PVE node: a self-signed CA (pve-root-ca.pem) signs the leaf
 * (pve-ssl.pem). EC P-256 instead of RSA keeps start-up fast. The leaf's
 * SHA-256 fingerprint is what clients pin. Every listener (one per node) has its own leaf
 * under the same CA, as the nodes of a cluster do; two more leaves, one with a new key under
 * the same CA and one under another CA, serve the "wrong certificate" switch. */
#include "mock.h"

#include <stdio.h>
#include <stdlib.h>
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

/* One leaf: its certificate, key and the context that serves it. */
struct leaf {
    SSL_CTX *ctx;
    char fingerprint[100];
};

static struct leaf *leaves; /* one per API listener */
static int nleaves;
static struct leaf same_ca, foreign_ca;

static void fingerprint_of(X509 *cert, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    X509_digest(cert, EVP_sha256(), md, &mdlen);
    for (unsigned i = 0; i < mdlen; i++)
        out += sprintf(out, i ? ":%02X" : "%02X", md[i]);
}

/* A leaf signed by (ca, ca_key), served with ca in its chain. */
static int leaf_make(struct leaf *lf, X509 *ca, EVP_PKEY *ca_key)
{
    int rc = -1;
    EVP_PKEY *key = make_key();
    X509 *cert = key ? make_cert(key, "localhost", "PVE Cluster Node", ca, ca_key, 365, 0) : NULL;
    SSL_CTX *ctx = cert ? SSL_CTX_new(TLS_server_method()) : NULL;
    if (!ctx)
        goto out;
    /* pveproxy: TLS 1.3 at most; we keep the floor at 1.2 (OpenSSL 3 default policy). */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_add1_chain_cert(ctx, ca) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        goto out;
    }
    lf->ctx = ctx;
    fingerprint_of(cert, lf->fingerprint);
    rc = 0;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int tls_setup(const char *ca_out, int n)
{
    int rc = -1;
    EVP_PKEY *ca_key = make_key(), *other_key = make_key();
    X509 *ca = NULL, *other = NULL;
    if (!ca_key || !other_key)
        goto out;
    ca = make_cert(ca_key, "Proxmox Virtual Environment", "PVE Cluster Manager CA", NULL, NULL,
                   3650, 1);
    /* a CA of another cluster, for the "wrong certificate" switch */
    other = make_cert(other_key, "Proxmox Virtual Environment", "Other Cluster CA", NULL, NULL,
                      3650, 1);
    if (!ca || !other)
        goto out;
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
    leaves = calloc((size_t)n, sizeof *leaves);
    if (!leaves)
        goto out;
    nleaves = n;
    for (int i = 0; i < n; i++)
        if (leaf_make(&leaves[i], ca, ca_key) != 0)
            goto out;
    if (leaf_make(&same_ca, ca, ca_key) != 0 || leaf_make(&foreign_ca, other, other_key) != 0)
        goto out;
    rc = 0;
out:
    if (rc)
        ERR_print_errors_fp(stderr);
    X509_free(ca);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    return rc;
}

static const struct leaf *leaf_for(int i, int mode)
{
    if (mode == CERT_SAME_CA)
        return &same_ca;
    if (mode == CERT_FOREIGN_CA)
        return &foreign_ca;
    return &leaves[i >= 0 && i < nleaves ? i : 0];
}

SSL_CTX *tls_ctx(int i, int mode)
{
    return leaf_for(i, mode)->ctx;
}

const char *tls_fingerprint(int i, int mode)
{
    return leaf_for(i, mode)->fingerprint;
}

void tls_free(void)
{
    for (int i = 0; i < nleaves; i++)
        SSL_CTX_free(leaves[i].ctx);
    free(leaves);
    leaves = NULL;
    nleaves = 0;
    SSL_CTX_free(same_ca.ctx);
    SSL_CTX_free(foreign_ca.ctx);
    memset(&same_ca, 0, sizeof same_ca);
    memset(&foreign_ca, 0, sizeof foreign_ca);
}
