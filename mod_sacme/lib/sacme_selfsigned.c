/* The fallback certificate, served until a managed name has a real one.
 *
 * It is never trusted by anyone, so it only has to be well-formed enough
 * for mod_ssl to load it and for clients to complete a handshake (and then
 * see a 503 rather than a connection error). Startup must stay fast: an
 * existing, still valid pair is reused without generating anything.
 */
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sacme_name.h"
#include "sacme_ossl.h"
#include "sacme_file.h"
#include "sacme_selfsigned.h"

#define FALLBACK_ORG "mod_sacme fallback (no certificate yet)"

/* The name the shared fallback certificate is made for. ".invalid" is
 * reserved (RFC 6761): it can never match a real host, which is the truth
 * about this certificate, and it tells an admin looking at it what it is. */
#define FALLBACK_CN "fallback.mod-sacme.invalid"

#define DEFAULT_VALID apr_time_from_sec(30 * 24 * 3600)
#define BACKDATE_SEC  3600              /* clients with a slow clock */
#define MIN_LEFT      apr_time_from_sec(24 * 3600)
#define MAX_PEM       (64 * 1024)
#define CERT_FILE     SACME_SELFSIGNED_CERT
#define KEY_FILE      SACME_SELFSIGNED_KEY

static apr_status_t x509_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

/* 128 random bits: RFC 5280 asks for unpredictable serials of at most 20
 * octets, and browsers remember (issuer, serial) pairs, so two fallback
 * certificates must never share one. */
static int set_random_serial(X509 *x)
{
    unsigned char bytes[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return 0;
    }
    bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    if (!bn) {
        return 0;
    }
    if (BN_is_zero(bn)) {
        BN_one(bn);             /* a serial must be positive */
    }
    ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* One extension from its OpenSSL text form. Only used with our constant
 * values; names go through add_sans, never through this parser. */
static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) {
        return 0;
    }
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A host name fit for a dNSName (IA5String): printable ASCII, no blanks. */
static int name_ok(const char *name)
{
    const unsigned char *c;

    if (!name || !*name || strlen(name) > 253) {
        return 0;
    }
    for (c = (const unsigned char *)name; *c; ++c) {
        if (*c <= 0x20 || *c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The SANs are built as GENERAL_NAMEs rather than as "DNS:a,DNS:b" text:
 * the text form would let a name containing a comma add entries of its own. */
static apr_status_t add_sans(X509 *x, const apr_array_header_t *names,
                             apr_pool_t *p, sacme_result_t *res)
{
    GENERAL_NAMES *gens;
    GENERAL_NAME *gn;
    ASN1_STRING *value;
    const char *name;
    unsigned char addr[16];
    apr_status_t rv = APR_SUCCESS;
    int i, iplen;

    if (!names || names->nelts == 0) {
        return APR_SUCCESS;
    }
    if (names->nelts > SACME_MAX_NAMES) {
        return sacme_result_set(res, APR_EINVAL,
                                "%d names for a fallback certificate, more than "
                                "the %d allowed", names->nelts, SACME_MAX_NAMES);
    }
    gens = sk_GENERAL_NAME_new_null();
    if (!gens) {
        return sacme_result_set(res, APR_ENOMEM, "out of memory making SANs");
    }
    for (i = 0; i < names->nelts; ++i) {
        name = APR_ARRAY_IDX(names, i, const char *);
        if (!name_ok(name)) {
            rv = sacme_result_set(res, APR_EINVAL,
                                  "'%s' cannot be a name in a certificate",
                                  name ? name : "(null)");
            goto out;
        }
        /* an IP address (RFC 8738 names) is an iPAddress entry: a client
         * that connects to the address checks those only */
        iplen = sacme_name_ip_addr(name, addr);
        gn = GENERAL_NAME_new();
        value = iplen ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        if (!gn || !value || !ASN1_STRING_set(value, iplen ? (const char *)addr : name,
                                            iplen ? iplen : (int)strlen(name))) {
            GENERAL_NAME_free(gn);
            ASN1_STRING_free(value);
            rv = sacme_result_set(res, APR_ENOMEM, "out of memory making SANs");
            goto out;
        }
        GENERAL_NAME_set0_value(gn, iplen ? GEN_IPADD : GEN_DNS, value);
        if (!sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            rv = sacme_result_set(res, APR_ENOMEM, "out of memory making SANs");
            goto out;
        }
    }
    if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) {
        rv = sacme_result_set(res, APR_EGENERAL, "cannot add the SANs: %s",
                              sacme_ossl_errors(p));
    }
out:
    GENERAL_NAMES_free(gens);
    return rv;
}

apr_status_t sacme_selfsigned_begin(apr_pool_t *p, const sacme_key_t *key,
                                    const char *cn, const char *org,
                                    apr_interval_time_t valid, X509 **pcert,
                                    sacme_result_t *res)
{
    X509 *x;
    X509_NAME *subject;
    EVP_PKEY *pk = key ? sacme_key_evp(key) : NULL;
    const char *what = cn ? cn : org;
    time_t from;
    apr_status_t rv;

    if (!pk || !org || !*org || (cn && !*cn)) {
        return sacme_result_set(res, APR_EINVAL,
                                "a self-signed certificate needs a key and a name");
    }
    /* ub-common-name (RFC 5280); OpenSSL would refuse it with a less
     * helpful message. */
    if (cn && strlen(cn) > 64) {
        return sacme_result_set(res, APR_EINVAL,
                                "'%s' is longer than the 64 bytes a CN may have", cn);
    }
    if (valid <= 0) {
        valid = DEFAULT_VALID;
    }
    ERR_clear_error();
    x = X509_new();
    if (!x) {
        return sacme_result_set(res, APR_ENOMEM, "out of memory making a certificate");
    }
    /* From here the pool owns the certificate, on success and on failure. */
    apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);

    from = (time_t)apr_time_sec(apr_time_now()) - BACKDATE_SEC;
    subject = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3)
        || !set_random_serial(x)
        || !ASN1_TIME_set(X509_getm_notBefore(x), from)
        || !ASN1_TIME_set(X509_getm_notAfter(x),
                          from + (time_t)apr_time_sec(valid))
        || (cn && !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                              (const unsigned char *)cn, -1, -1, 0))
        || !X509_NAME_add_entry_by_NID(subject, NID_organizationName,
                                       MBSTRING_UTF8, (const unsigned char *)org,
                                       -1, -1, 0)
        || !X509_set_issuer_name(x, subject)
        || !X509_set_pubkey(x, pk)) {
        rv = sacme_result_set(res, APR_EGENERAL,
                              "cannot fill in the self-signed certificate for %s: %s",
                              what, sacme_ossl_errors(p));
        goto fail;
    }
    /* What a TLS server certificate looks like to a picky client: not a
     * CA, usable for signatures (ECDHE with an EC key), for servers. */
    if (!add_ext(x, NID_basic_constraints, "critical,CA:FALSE")
        || !add_ext(x, NID_key_usage, "critical,digitalSignature")
        || !add_ext(x, NID_ext_key_usage, "serverAuth")
        || !add_ext(x, NID_subject_key_identifier, "hash")) {
        rv = sacme_result_set(res, APR_EGENERAL,
                              "cannot add extensions to the certificate for %s: %s",
                              what, sacme_ossl_errors(p));
        goto fail;
    }
    *pcert = x;
    return APR_SUCCESS;

fail:
    /* Free it now rather than with a long-lived pool. */
    apr_pool_cleanup_run(p, x, x509_cleanup);
    ERR_clear_error();
    return rv;
}

apr_status_t sacme_selfsigned_sign(apr_pool_t *p, const sacme_key_t *key, X509 *x,
                                   sacme_result_t *res)
{
    if (X509_sign(x, sacme_key_evp(key), EVP_sha256()) <= 0) {
        return sacme_result_set(res, APR_EGENERAL, "cannot sign a self-signed "
                                "certificate: %s", sacme_ossl_errors(p));
    }
    return APR_SUCCESS;
}

apr_status_t sacme_selfsigned_make(apr_pool_t *p, const sacme_key_t *key,
                                   const char *cn, const apr_array_header_t *names,
                                   apr_interval_time_t valid, X509 **pcert,
                                   sacme_result_t *res)
{
    X509 *x;
    apr_status_t rv;

    if (!cn || !*cn) {
        return sacme_result_set(res, APR_EINVAL,
                                "a self-signed certificate needs a key and a name");
    }
    if ((rv = sacme_selfsigned_begin(p, key, cn, FALLBACK_ORG, valid, &x, res))
            != APR_SUCCESS) {
        return rv;
    }
    if ((rv = add_sans(x, names, p, res)) != APR_SUCCESS
        || (rv = sacme_selfsigned_sign(p, key, x, res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "certificate for %s", cn);
        /* Free it now rather than with a long-lived pool. */
        apr_pool_cleanup_run(p, x, x509_cleanup);
        ERR_clear_error();
        return rv;
    }
    *pcert = x;
    return APR_SUCCESS;
}

/* Is the pair in the files usable for at least another day? Any failure
 * (missing, unreadable, unparsable, mismatched) is just "no": the caller
 * makes a new pair, and only that can fail loudly. */
static int pair_usable(apr_pool_t *p, const char *cert_file, const char *key_file,
                       apr_time_t now)
{
    sacme_result_t *scratch = sacme_result_make(p);
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    sacme_key_t *key;
    char *data;
    apr_size_t len;
    X509 *leaf;

    if (sacme_file_read(cert_file, MAX_PEM, p, &data, &len, scratch) != APR_SUCCESS
        || sacme_chain_parse(p, data, len, &chain, scratch) != APR_SUCCESS
        || sacme_key_load(p, key_file, &key, scratch) != APR_SUCCESS) {
        return 0;
    }
    leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    if (!sacme_key_same_public(key, X509_get0_pubkey(leaf))
        || sacme_cert_info(p, leaf, &info) != APR_SUCCESS) {
        return 0;
    }
    /* A notBefore in the future means the clock was wrong when it was made
     * (or is now); clients would refuse it, so renew. */
    return info->not_before <= now && info->not_after > now + MIN_LEFT;
}

apr_status_t sacme_selfsigned_ensure(apr_pool_t *p, const char *dir,
                                     const char **cert_file,
                                     const char **key_file, sacme_result_t *res)
{
    const char *cfile, *kfile, *pem;
    apr_pool_t *ptemp;
    sacme_key_t *key;
    sacme_chain_t chain;
    X509 *x;
    apr_status_t rv;

    if (!dir || !*dir) {
        return sacme_result_set(res, APR_EINVAL, "no directory for the fallback "
                                "certificate");
    }
    cfile = apr_pstrcat(p, dir, "/" CERT_FILE, NULL);
    kfile = apr_pstrcat(p, dir, "/" KEY_FILE, NULL);

    /* Keys, parsed certificates and PEM copies of the key live only as
     * long as this call. */
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot create a pool");
    }
    if (pair_usable(ptemp, cfile, kfile, apr_time_now())) {
        rv = APR_SUCCESS;
        goto done;
    }

    rv = sacme_file_mkdirs(dir, SACME_FPROT_DIR_PRIVATE, ptemp, res);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = sacme_key_generate(ptemp, SACME_KEY_P256, &key, res);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = sacme_selfsigned_make(ptemp, key, FALLBACK_CN, NULL, 0, &x, res);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    /* A chain that does not own x (no cleanup registered): only for the
     * PEM encoder. */
    chain.certs = apr_array_make(ptemp, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = x;
    pem = sacme_chain_leaf_pem(&chain, ptemp);
    if (!pem) {
        rv = sacme_result_set(res, APR_EGENERAL, "cannot encode the fallback "
                              "certificate: %s", sacme_ossl_errors(ptemp));
        goto out;
    }
    /* Each write is atomic, the pair is not: a crash between the two
     * leaves a key and a certificate that do not match, which the next
     * call detects (pair_usable) and replaces before mod_ssl sees it. */
    rv = sacme_key_save(key, kfile, ptemp, res);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = sacme_file_write_atomic(cfile, pem, strlen(pem), SACME_FPROT_PUBLIC,
                                 ptemp, res);
    if (rv != APR_SUCCESS) {
        goto out;
    }

done:
    *cert_file = cfile;
    *key_file = kfile;
out:
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "fallback certificate in %s", dir);
    }
    apr_pool_destroy(ptemp);
    return rv;
}
