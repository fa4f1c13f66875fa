/* Trust anchors: does a chain reach one? See sacme_trust.h. */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "sacme_ossl.h"
#include "sacme_trust.h"

/* As in sacme_chain.c: a certificate issued a moment ago by a CA whose
 * clock runs ahead may carry a notBefore slightly in our future. */
#define NOT_BEFORE_SKEW (5 * 60)

struct sacme_trust_t {
    X509_STORE *store;     /* only read once built (OpenSSL locks its lookups) */
    const char *name;      /* where the admin's certificates came from, or NULL */
    int count;             /* how many they are */
    int system;            /* the system's CA certificates are in store too */
};

static apr_status_t trust_cleanup(void *data)
{
    sacme_trust_t *trust = data;

    X509_STORE_free(trust->store);
    trust->store = NULL;
    return APR_SUCCESS;
}

/* One PEM block's content, which must be a certificate and nothing else. */
static apr_status_t add_block(sacme_trust_t *trust, apr_pool_t *p, const char *type,
                              const unsigned char *der, long der_len,
                              sacme_result_t *res)
{
    const unsigned char *q = der;
    X509 *x;
    int ok;

    if (strcmp(type, "CERTIFICATE")) {
        return sacme_result_set(res, SACME_ECONFIG,
                                "%s: PEM block %d is a %s, not a CERTIFICATE (only "
                                "certificates belong there)", trust->name,
                                trust->count + 1, type);
    }
    x = d2i_X509(NULL, &q, der_len);
    if (!x || q != der + der_len) {
        X509_free(x);
        return sacme_result_set(res, SACME_ECONFIG, "%s: certificate %d does not parse: %s",
                                trust->name, trust->count + 1, sacme_ossl_errors(p));
    }
    /* The store takes its own reference; a certificate given twice is
     * fine (OpenSSL keeps one). */
    ok = X509_STORE_add_cert(trust->store, x);
    X509_free(x);
    if (!ok) {
        return sacme_result_set(res, APR_ENOMEM, "%s: cannot add certificate %d: %s",
                                trust->name, trust->count + 1, sacme_ossl_errors(p));
    }
    ++trust->count;
    return APR_SUCCESS;
}

/* Every PEM block of pem; the text around them (a bundle's comments) is
 * not ours to judge. */
static apr_status_t add_pem(sacme_trust_t *trust, apr_pool_t *p, const char *pem,
                            apr_size_t len, sacme_result_t *res)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    char *type = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    unsigned long e;
    apr_status_t rv = APR_SUCCESS;

    if (!bio) {
        return sacme_result_set(res, APR_ENOMEM, "out of memory reading %s", trust->name);
    }
    while (rv == APR_SUCCESS) {
        if (!PEM_read_bio(bio, &type, &header, &der, &der_len)) {
            /* "no start line" is the end of the data; anything else is a
             * block that begins but is broken (bad base64, no END line). */
            e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;
            }
            rv = sacme_result_set(res, SACME_ECONFIG, "%s: PEM block %d is broken: %s",
                                  trust->name, trust->count + 1, sacme_ossl_errors(p));
            break;
        }
        rv = add_block(trust, p, type, der, der_len, res);
        OPENSSL_free(type);
        OPENSSL_free(header);
        OPENSSL_free(der);
        type = header = NULL;
        der = NULL;
    }
    BIO_free(bio);
    if (rv == APR_SUCCESS && trust->count == 0) {
        rv = sacme_result_set(res, SACME_ECONFIG, "%s holds no PEM certificate",
                              trust->name);
    }
    return rv;
}

apr_status_t sacme_trust_make(apr_pool_t *p, const char *pem, apr_size_t len,
                              const char *name, int flags, sacme_trust_t **ptrust,
                              sacme_result_t *res)
{
    sacme_trust_t *trust = apr_pcalloc(p, sizeof(*trust));
    apr_status_t rv = APR_SUCCESS;

    trust->name = apr_pstrdup(p, name ? name : "the trusted roots");
    if (pem && len > SACME_MAX_RESPONSE) {
        return sacme_result_set(res, SACME_ECONFIG, "%s has %lu bytes, more than the %d "
                                "allowed", trust->name, (unsigned long)len,
                                SACME_MAX_RESPONSE);
    }
    ERR_clear_error();
    trust->store = X509_STORE_new();
    if (!trust->store) {
        return sacme_result_set(res, APR_ENOMEM, "cannot make a certificate store: %s",
                                sacme_ossl_errors(p));
    }
    apr_pool_cleanup_register(p, trust, trust_cleanup, apr_pool_cleanup_null);
    /* Any certificate of the store ends a chain, not only a self-signed
     * root: the admin may name a private CA's issuing certificate. */
    X509_STORE_set_flags(trust->store, X509_V_FLAG_PARTIAL_CHAIN);
    if (pem) {
        rv = add_pem(trust, p, pem, len, res);
    }
    if (rv == APR_SUCCESS && (flags & SACME_TRUST_SYSTEM)) {
        /* Missing default locations are no error (OpenSSL ignores them):
         * a system without a CA bundle trusts only the admin's file. */
        if (!X509_STORE_set_default_paths(trust->store)) {
            rv = sacme_result_set(res, APR_EGENERAL, "cannot use the system's CA "
                                  "certificates: %s", sacme_ossl_errors(p));
        }
        trust->system = 1;
    }
    if (rv != APR_SUCCESS) {
        apr_pool_cleanup_run(p, trust, trust_cleanup);
        ERR_clear_error();
        return rv;
    }
    *ptrust = trust;
    return APR_SUCCESS;
}

int sacme_trust_count(const sacme_trust_t *trust)
{
    return trust ? trust->count : 0;
}

/* The verification time: now, or a little later for a leaf whose notBefore
 * is just ahead of us (within the skew sacme_chain_check allows). */
static time_t verify_time(X509 *leaf, apr_time_t now)
{
    time_t t = (time_t)apr_time_sec(now), later = t + NOT_BEFORE_SKEW;
    const ASN1_TIME *nb = X509_get0_notBefore(leaf);

    if (X509_cmp_time(nb, &t) > 0 && X509_cmp_time(nb, &later) < 0) {
        return later;
    }
    return t;
}

/* Errors that mean "the issuer is not one we know": the admin may have
 * to name the CA's root. */
static int issuer_unknown(int err)
{
    return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
           || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
           || err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

/* What the chain was checked against, for the message. */
static const char *anchors_text(const sacme_trust_t *trust, apr_pool_t *p)
{
    if (trust->count && trust->system) {
        return apr_psprintf(p, "the system's CA certificates and the %d of %s "
                            "(SacmeTrustedRoots)", trust->count, trust->name);
    }
    if (trust->count) {
        return apr_psprintf(p, "the %d certificate(s) of %s (SacmeTrustedRoots)",
                            trust->count, trust->name);
    }
    return trust->system ? "the system's CA certificates (no SacmeTrustedRoots)" : "none";
}

static apr_status_t refuse(const sacme_trust_t *trust, const sacme_chain_t *chain,
                           X509_STORE_CTX *ctx, sacme_result_t *res)
{
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
    sacme_cert_info_t *info = NULL;
    const char *about = "";

    if (!res) {
        return SACME_EUNTRUSTED;
    }
    if (!cert && depth >= 0 && depth < chain->certs->nelts) {
        cert = APR_ARRAY_IDX(chain->certs, depth, X509 *);
    }
    if (cert && sacme_cert_info(res->p, cert, &info) == APR_SUCCESS) {
        about = apr_psprintf(res->p, " (subject %s, issuer %s)", info->subject,
                             info->issuer);
    }
    sacme_result_set(res, SACME_EUNTRUSTED,
                     "the certificate chain does not reach a trusted root: %s at depth "
                     "%d%s; trusted are %s", X509_verify_cert_error_string(err), depth,
                     about, anchors_text(trust, res->p));
    if (issuer_unknown(err)) {
        res->hint = "if this CA is to be trusted, add the CA's root certificate to "
                    "SacmeTrustedRoots";
    }
    return SACME_EUNTRUSTED;
}

apr_status_t sacme_trust_verify(const sacme_trust_t *trust, const sacme_chain_t *chain,
                                apr_time_t now, sacme_result_t *res)
{
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    X509 *leaf;
    apr_status_t rv;
    int i;

    if (!trust) {
        return sacme_result_set(res, SACME_EUNTRUSTED, "no trust anchors to verify the "
                                "certificate chain against");
    }
    if (!chain || chain->certs->nelts < 1) {
        return sacme_result_set(res, APR_EINVAL, "no certificate chain to verify");
    }
    leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    ERR_clear_error();
    ctx = X509_STORE_CTX_new();
    untrusted = sk_X509_new_null();
    if (!ctx || !untrusted) {
        rv = sacme_result_set(res, APR_ENOMEM, "out of memory verifying a chain");
        goto out;
    }
    /* The chain keeps its references for the call: no up-ref needed. */
    for (i = 1; i < chain->certs->nelts; ++i) {
        if (!sk_X509_push(untrusted, APR_ARRAY_IDX(chain->certs, i, X509 *))) {
            rv = sacme_result_set(res, APR_ENOMEM, "out of memory verifying a chain");
            goto out;
        }
    }
    /* A context of our own per call over the shared store: this is what
     * makes concurrent calls safe. */
    if (!X509_STORE_CTX_init(ctx, trust->store, leaf, untrusted)
        || !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)) {
        rv = sacme_result_set(res, APR_ENOMEM, "cannot set up the chain's verification");
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, verify_time(leaf, now));
    rv = X509_verify_cert(ctx) == 1 ? APR_SUCCESS : refuse(trust, chain, ctx, res);
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    ERR_clear_error();
    return rv;
}

apr_status_t sacme_trust_verify_now(void *trust, const sacme_chain_t *chain,
                                    sacme_result_t *res)
{
    return sacme_trust_verify(trust, chain, apr_time_now(), res);
}
