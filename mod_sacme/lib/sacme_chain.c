/* Certificate chains from the CA: parsing, checks before staging, info.
 *
 * A chain is only ever stored after sacme_chain_check() passed, so that the
 * parent can trust what it promotes and admins never see httpd fail on a
 * certificate that does not match its key or names.
 */
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include <apr_cstr.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "sacme_ossl.h"
#include "sacme_chain.h"
#include "sacme_name.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

/* How far a CA's clock may run ahead of ours: a certificate issued a
 * moment ago can carry a notBefore slightly in our future. */
#define NOT_BEFORE_SKEW apr_time_from_sec(5 * 60)

/* memmem, without relying on a GNU extension; the data is not
 * NUL-terminated. */
static const char *find(const char *hay, apr_size_t hlen, const char *needle)
{
    apr_size_t nlen = strlen(needle), i;

    for (i = 0; hlen >= nlen && i <= hlen - nlen; ++i) {
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, nlen)) {
            return hay + i;
        }
    }
    return NULL;
}

static apr_status_t chain_cleanup(void *data)
{
    sacme_chain_t *chain = data;
    int i;

    for (i = 0; i < chain->certs->nelts; ++i) {
        X509_free(APR_ARRAY_IDX(chain->certs, i, X509 *));
    }
    chain->certs->nelts = 0;
    return APR_SUCCESS;
}

static apr_status_t add_cert(sacme_chain_t *chain, X509 *x, sacme_result_t *res)
{
    if (chain->certs->nelts >= SACME_MAX_CHAIN) {
        X509_free(x);
        return sacme_result_set(res, APR_EINVAL,
                                "certificate chain has more than %d certificates",
                                SACME_MAX_CHAIN);
    }
    APR_ARRAY_PUSH(chain->certs, X509 *) = x;
    return APR_SUCCESS;
}

/* One DER certificate that must fill exactly len bytes. */
static X509 *der_exact(const unsigned char *der, long len)
{
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, len);

    if (x && q != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Every "CERTIFICATE" block; the text around and between them (a CA's
 * comments, "subject=" lines from openssl) is not ours to judge. */
static apr_status_t parse_pem(apr_pool_t *p, const char *data, apr_size_t len,
                              int max, sacme_chain_t *chain, sacme_result_t *res)
{
    const char *begin, *end, *rest = data;
    apr_size_t left = len;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    BIO *bio;
    X509 *x;
    apr_status_t rv;
    int ok;

    while ((begin = find(rest, left, PEM_BEGIN)) != NULL) {
        left -= (apr_size_t)(begin - rest);
        end = find(begin, left, PEM_END);
        if (!end) {
            return sacme_result_set(res, APR_EINVAL,
                                    "PEM certificate %d has no END line",
                                    chain->certs->nelts + 1);
        }
        end += strlen(PEM_END);
        bio = BIO_new_mem_buf(begin, (int)(end - begin));
        if (!bio) {
            return sacme_result_set(res, APR_ENOMEM, "out of memory reading a chain");
        }
        /* PEM_read_bio rather than PEM_read_bio_X509: the latter ignores
         * bytes after the certificate inside the block. */
        ok = PEM_read_bio(bio, &name, &header, &der, &der_len);
        BIO_free(bio);
        x = ok ? der_exact(der, der_len) : NULL;
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        name = header = NULL;
        der = NULL;
        if (!x) {
            return sacme_result_set(res, APR_EINVAL,
                                    "PEM certificate %d does not parse: %s",
                                    chain->certs->nelts + 1, sacme_ossl_errors(p));
        }
        rv = add_cert(chain, x, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (max && chain->certs->nelts >= max) {
            break;
        }
        left -= (apr_size_t)(end - begin);
        rest = end;
    }
    return APR_SUCCESS;
}

/* Concatenated DER certificates (application/pkix-cert and friends), which
 * must account for every byte. */
static apr_status_t parse_der(apr_pool_t *p, const char *data, apr_size_t len,
                              int max, sacme_chain_t *chain, sacme_result_t *res)
{
    const unsigned char *start = (const unsigned char *)data, *q = start;
    const unsigned char *end = start + len;
    X509 *x;
    apr_status_t rv;

    while (q < end && (max == 0 || chain->certs->nelts < max)) {
        const unsigned char *before = q;

        x = d2i_X509(NULL, &q, (long)(end - q));
        if (!x || q <= before) {
            X509_free(x);
            if (chain->certs->nelts == 0) {
                return sacme_result_set(res, APR_EINVAL,
                                        "not a certificate chain (neither PEM nor "
                                        "DER): %s", sacme_ossl_errors(p));
            }
            return sacme_result_set(res, APR_EINVAL,
                                    "certificate chain: %lu bytes after certificate "
                                    "%d are not a certificate (truncated or junk)",
                                    (unsigned long)(end - before),
                                    chain->certs->nelts);
        }
        rv = add_cert(chain, x, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* The first max certificates (all with 0). */
static apr_status_t parse_chain(apr_pool_t *p, const char *data, apr_size_t len,
                                int max, sacme_chain_t **pchain, sacme_result_t *res)
{
    sacme_chain_t *chain;
    apr_status_t rv;

    if (!data || len == 0) {
        return sacme_result_set(res, APR_EINVAL, "certificate chain is empty");
    }
    if (len > SACME_MAX_RESPONSE) {
        return sacme_result_set(res, APR_EINVAL,
                                "certificate chain of %lu bytes is larger than "
                                "the %d allowed", (unsigned long)len,
                                SACME_MAX_RESPONSE);
    }
    chain = apr_pcalloc(p, sizeof(*chain));
    chain->certs = apr_array_make(p, 4, sizeof(X509 *));
    apr_pool_cleanup_register(p, chain, chain_cleanup, apr_pool_cleanup_null);
    ERR_clear_error();

    /* By content, not by Content-Type: CAs label chains in many ways. */
    if (find(data, len, PEM_BEGIN)) {
        rv = parse_pem(p, data, len, max, chain, res);
    }
    else {
        rv = parse_der(p, data, len, max, chain, res);
    }
    if (rv == APR_SUCCESS && chain->certs->nelts == 0) {
        rv = sacme_result_set(res, APR_EINVAL, "certificate chain holds no certificate");
    }
    if (rv != APR_SUCCESS) {
        /* Free what was parsed now rather than with a long-lived pool. */
        apr_pool_cleanup_run(p, chain, chain_cleanup);
        ERR_clear_error();
        return rv;
    }
    *pchain = chain;
    return APR_SUCCESS;
}

apr_status_t sacme_chain_parse(apr_pool_t *p, const char *data, apr_size_t len,
                               sacme_chain_t **chain, sacme_result_t *res)
{
    return parse_chain(p, data, len, 0, chain, res);
}

apr_status_t sacme_chain_parse_leaf(apr_pool_t *p, const char *data, apr_size_t len,
                                    sacme_chain_t **chain, sacme_result_t *res)
{
    return parse_chain(p, data, len, 1, chain, res);
}

void sacme_chain_add(sacme_chain_t *chain, X509 *cert)
{
    /* No bound here (the caller holds the reference and has no way to hear
     * "no"); sacme_chain_check refuses chains over SACME_MAX_CHAIN. */
    APR_ARRAY_PUSH(chain->certs, X509 *) = cert;
}

/* Certificates [from, to) as PEM; "" for none. */
static const char *certs_pem(const sacme_chain_t *chain, int from, int to,
                             apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *pem = NULL;
    char *mem;
    long n;
    int i;

    if (!bio) {
        return NULL;
    }
    for (i = from; i < to; ++i) {
        if (!PEM_write_bio_X509(bio, APR_ARRAY_IDX(chain->certs, i, X509 *))) {
            goto out;
        }
    }
    n = BIO_get_mem_data(bio, &mem);
    pem = apr_pstrmemdup(p, n > 0 ? mem : "", n > 0 ? (apr_size_t)n : 0);
out:
    BIO_free(bio);
    return pem;
}

const char *sacme_chain_leaf_pem(const sacme_chain_t *chain, apr_pool_t *p)
{
    return certs_pem(chain, 0, chain->certs->nelts > 0 ? 1 : 0, p);
}

const char *sacme_chain_issuers_pem(const sacme_chain_t *chain, apr_pool_t *p)
{
    return certs_pem(chain, chain->certs->nelts > 0 ? 1 : 0, chain->certs->nelts, p);
}

const char *sacme_chain_pem(const sacme_chain_t *chain, apr_pool_t *p)
{
    return certs_pem(chain, 0, chain->certs->nelts, p);
}

/* X509_NAME in the one-line RFC 2253 form admins know from openssl. */
static const char *name_text(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *s = "";
    char *mem;
    long n;

    if (!bio) {
        return s;
    }
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_get_mem_data(bio, &mem);
        if (n > 0) {
            s = apr_pstrmemdup(p, mem, (apr_size_t)n);
        }
    }
    BIO_free(bio);
    return s;
}

static const char *hex(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                       const char *digits)
{
    char *s = apr_palloc(p, len * 2 + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 0x0f];
    }
    s[2 * len] = '\0';
    return s;
}

/* A SAN entry as text; NULL for types we do not show. A dNSName with a NUL
 * byte in it is shown with the NUL escaped, so that it can never compare
 * equal to the shorter name before the NUL. */
static const char *san_text(apr_pool_t *p, const GENERAL_NAME *gn)
{
    const ASN1_STRING *s;
    const unsigned char *d;
    char buf[INET6_ADDRSTRLEN];
    int len, i;

    if (gn->type == GEN_DNS) {
        s = gn->d.dNSName;
        d = ASN1_STRING_get0_data(s);
        len = ASN1_STRING_length(s);
        if (memchr(d, '\0', (apr_size_t)len)) {
            char *t = apr_palloc(p, (apr_size_t)len * 2 + 1), *o = t;
            for (i = 0; i < len; ++i) {
                if (d[i]) {
                    *o++ = (char)d[i];
                }
                else {
                    *o++ = '\\';
                    *o++ = '0';
                }
            }
            *o = '\0';
            return t;
        }
        return apr_pstrmemdup(p, (const char *)d, (apr_size_t)len);
    }
    if (gn->type == GEN_IPADD) {
        s = gn->d.iPAddress;
        d = ASN1_STRING_get0_data(s);
        len = ASN1_STRING_length(s);
        if ((len == 4 && inet_ntop(AF_INET, d, buf, sizeof(buf)))
            || (len == 16 && inet_ntop(AF_INET6, d, buf, sizeof(buf)))) {
            return apr_pstrdup(p, buf);
        }
        return apr_pstrcat(p, "IP:", hex(p, d, (apr_size_t)len, "0123456789abcdef"),
                           NULL);
    }
    return NULL;
}

/* ASN1_TIME as apr_time_t; 0 if it cannot be read. */
static apr_time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    time_t secs;

    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return 0;
    }
    secs = timegm(&tm);
    if (secs == (time_t)-1) {
        return 0;
    }
    return apr_time_from_sec(secs);
}

/* RFC 3339 in UTC, for messages. */
static const char *time_text(apr_pool_t *p, apr_time_t t)
{
    time_t secs = (time_t)apr_time_sec(t);
    struct tm tm;
    char buf[32];

    if (!gmtime_r(&secs, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        return "(unknown time)";
    }
    return apr_pstrdup(p, buf);
}

apr_status_t sacme_cert_info(apr_pool_t *p, X509 *cert, sacme_cert_info_t **pinfo)
{
    sacme_cert_info_t *info;
    const ASN1_INTEGER *serial;
    GENERAL_NAMES *gens;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *s;
    int i;

    if (!cert) {
        return APR_EINVAL;
    }
    info = apr_pcalloc(p, sizeof(*info));
    info->subject = name_text(p, X509_get_subject_name(cert));
    info->issuer = name_text(p, X509_get_issuer_name(cert));

    /* The magnitude bytes, as `openssl x509 -serial` prints them. */
    serial = X509_get0_serialNumber(cert);
    if (ASN1_STRING_length(serial) > 0) {
        info->serial = apr_pstrcat(p,
                                   ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER
                                   ? "-" : "",
                                   hex(p, ASN1_STRING_get0_data(serial),
                                       (apr_size_t)ASN1_STRING_length(serial),
                                       "0123456789ABCDEF"), NULL);
    }
    else {
        info->serial = "00";
    }

    info->sans = apr_array_make(p, 4, sizeof(const char *));
    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        s = san_text(p, sk_GENERAL_NAME_value(gens, i));
        if (s) {
            APR_ARRAY_PUSH(info->sans, const char *) = s;
        }
    }
    GENERAL_NAMES_free(gens);

    info->not_before = asn1_time(X509_get0_notBefore(cert));
    info->not_after = asn1_time(X509_get0_notAfter(cert));

    if (!X509_digest(cert, EVP_sha256(), md, &md_len)) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    info->sha256 = hex(p, md, md_len, "0123456789abcdef");
    *pinfo = info;
    return APR_SUCCESS;
}

/* Does the certificate name `name`? IP literals compare as addresses (so
 * "2001:DB8::1" matches however the SAN would print), host names as
 * case-insensitive strings; a wildcard matches only the same wildcard,
 * because that is what the admin asked the CA for. */
static int covers(X509 *cert, const char *name, apr_pool_t *p)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    const GENERAL_NAME *gn;
    unsigned char addr[16];
    int iplen, i, found = 0;
    const char *s;

    iplen = sacme_name_ip_addr(name, addr);
    for (i = 0; !found && i < sk_GENERAL_NAME_num(gens); ++i) {
        gn = sk_GENERAL_NAME_value(gens, i);
        if (iplen && gn->type == GEN_IPADD) {
            found = ASN1_STRING_length(gn->d.iPAddress) == iplen
                    && !memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), addr,
                               (apr_size_t)iplen);
        }
        else if (!iplen && gn->type == GEN_DNS) {
            s = san_text(p, gn);
            found = s && !apr_cstr_casecmp(s, name);
        }
    }
    GENERAL_NAMES_free(gens);
    return found;
}

/* "a.example, b.example": what the certificate does cover. */
static const char *sans_list(apr_pool_t *p, X509 *cert)
{
    sacme_cert_info_t *info;
    const char *s;
    int i;

    if (sacme_cert_info(p, cert, &info) != APR_SUCCESS || info->sans->nelts == 0) {
        return "none";
    }
    s = APR_ARRAY_IDX(info->sans, 0, const char *);
    for (i = 1; i < info->sans->nelts; ++i) {
        s = apr_pstrcat(p, s, ", ", APR_ARRAY_IDX(info->sans, i, const char *), NULL);
    }
    return s;
}

static apr_status_t check_link(apr_pool_t *p, const sacme_chain_t *chain, int i,
                               sacme_result_t *res)
{
    X509 *cert = APR_ARRAY_IDX(chain->certs, i, X509 *);
    X509 *issuer = APR_ARRAY_IDX(chain->certs, i + 1, X509 *);
    EVP_PKEY *ikey;
    int rc;

    rc = X509_check_issued(issuer, cert);
    if (rc != X509_V_OK) {
        return sacme_result_set(res, APR_EINVAL,
                                "chain: certificate %d (subject %s) is not issued by "
                                "certificate %d (subject %s): %s",
                                i + 1, name_text(p, X509_get_subject_name(cert)),
                                i + 2, name_text(p, X509_get_subject_name(issuer)),
                                X509_verify_cert_error_string(rc));
    }
    ikey = X509_get0_pubkey(issuer);
    if (!ikey || X509_verify(cert, ikey) != 1) {
        ERR_clear_error();
        return sacme_result_set(res, APR_EINVAL,
                                "chain: the signature on certificate %d (subject %s) "
                                "does not verify with the key of certificate %d "
                                "(subject %s)",
                                i + 1, name_text(p, X509_get_subject_name(cert)),
                                i + 2, name_text(p, X509_get_subject_name(issuer)));
    }
    return APR_SUCCESS;
}

apr_status_t sacme_chain_check(const sacme_chain_t *chain,
                               const sacme_key_t *key,
                               const apr_array_header_t *names,
                               apr_time_t now, sacme_result_t *res)
{
    apr_pool_t *p;
    X509 *leaf;
    apr_time_t nb, na;
    const char *name;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (!chain || chain->certs->nelts < 1 || !key) {
        return sacme_result_set(res, APR_EINVAL, "no certificate chain or key to check");
    }
    if (chain->certs->nelts > SACME_MAX_CHAIN) {
        return sacme_result_set(res, APR_EINVAL,
                                "certificate chain has %d certificates, more than "
                                "the %d allowed", chain->certs->nelts, SACME_MAX_CHAIN);
    }
    /* Messages need a pool, and the result's lives as long as they must;
     * the scratch work goes into a subpool of it. */
    if (res) {
        apr_pool_create(&p, res->p);
    }
    else {
        apr_pool_create(&p, chain->certs->pool);
    }
    leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);

    if (!sacme_key_same_public(key, X509_get0_pubkey(leaf))) {
        rv = sacme_result_set(res, APR_EINVAL,
                              "certificate key does not match the private key");
        goto out;
    }
    for (i = 0; names && i < names->nelts; ++i) {
        name = APR_ARRAY_IDX(names, i, const char *);
        if (name && !covers(leaf, name, p)) {
            rv = sacme_result_set(res, APR_EINVAL,
                                  "certificate does not cover %s (SANs: %s)",
                                  name, sans_list(p, leaf));
            goto out;
        }
    }

    nb = asn1_time(X509_get0_notBefore(leaf));
    na = asn1_time(X509_get0_notAfter(leaf));
    if (!nb || !na) {
        rv = sacme_result_set(res, APR_EINVAL,
                              "certificate has an unreadable validity period");
        goto out;
    }
    if (na <= now) {
        rv = sacme_result_set(res, APR_EINVAL, "certificate expired at %s",
                              time_text(p, na));
        goto out;
    }
    if (nb > now + NOT_BEFORE_SKEW) {
        rv = sacme_result_set(res, APR_EINVAL,
                              "certificate is not valid before %s (is the clock "
                              "of this server or the CA's wrong?)", time_text(p, nb));
        goto out;
    }

    for (i = 0; i + 1 < chain->certs->nelts; ++i) {
        rv = check_link(p, chain, i, res);
        if (rv != APR_SUCCESS) {
            goto out;
        }
    }
out:
    ERR_clear_error();
    apr_pool_destroy(p);
    return rv;
}

int sacme_cert_info_covers(const sacme_cert_info_t *info, const apr_array_header_t *names)
{
    int i, j, found;

    for (i = 0; i < names->nelts; ++i) {
        const char *want = APR_ARRAY_IDX(names, i, const char *);
        for (found = 0, j = 0; !found && j < info->sans->nelts; ++j) {
            found = !strcasecmp(want, APR_ARRAY_IDX(info->sans, j, const char *));
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}
