/* The CSR sent to finalize an order (RFC 8555 §7.4).
 *
 * CAs take the identifiers from the subjectAltName extension and mostly
 * ignore the rest, so the request carries as little as possible: every name
 * as a SAN in the admin's order, the first one as CN when it fits (certbot
 * and the Sectigo guides show certificates that way, and some old clients
 * still look at the CN), and nothing else in the subject.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <apr_cstr.h>

#include "sacme_ossl.h"
#include "sacme_csr.h"
#include "sacme_name.h"

/* RFC 1035 limits; a CA refuses longer names anyway, but it is kinder to
 * say so before an order is placed. */
#define DNS_NAME_MAX  253
#define DNS_LABEL_MAX 63

/* Letters, digits and hyphen, in ASCII whatever the locale says. */
static int is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-';
}

/* NULL when name is a host name we may put in a CSR, else why not. */
static const char *dns_name_problem(const char *name)
{
    const char *s = name, *label;
    apr_size_t len = strlen(name);

    if (len > DNS_NAME_MAX) {
        return "longer than 253 characters";
    }
    /* A wildcard is only ever the whole leftmost label (RFC 8555 §7.1.3). */
    if (s[0] == '*' && s[1] == '.') {
        s += 2;
    }
    for (label = s; ; ++s) {
        if (*s == '.' || *s == '\0') {
            if (s == label) {
                return "has an empty label (leading, trailing or double dot)";
            }
            if (s - label > DNS_LABEL_MAX) {
                return "has a label longer than 63 characters";
            }
            if (*label == '-' || s[-1] == '-') {
                return "has a label that starts or ends with '-'";
            }
            if (*s == '\0') {
                return NULL;
            }
            label = s + 1;
        }
        else if (*s == '*') {
            return "has a '*' that is not a leading \"*.\" wildcard label";
        }
        else if (!is_ldh(*s)) {
            return "has a character other than letters, digits, '-' and '.'";
        }
    }
}

/* Checks the names and tells which of them are IP literals: ips[i] is the
 * address length (4 or 16) or 0 for a DNS name; addrs holds the bytes. */
static apr_status_t check_names(const apr_array_header_t *names,
                                int *ips, unsigned char (*addrs)[16],
                                sacme_result_t *res)
{
    const char *name, *why;
    int i, j;

    if (!names || names->nelts < 1) {
        return sacme_result_set(res, APR_EINVAL, "CSR: no names given");
    }
    if (names->nelts > SACME_MAX_NAMES) {
        return sacme_result_set(res, APR_EINVAL,
                                "CSR: %d names, at most %d are allowed",
                                names->nelts, SACME_MAX_NAMES);
    }
    for (i = 0; i < names->nelts; ++i) {
        name = APR_ARRAY_IDX(names, i, const char *);
        if (!name || !*name) {
            return sacme_result_set(res, APR_EINVAL, "CSR: name %d is empty", i + 1);
        }
        /* RFC 8738 identifiers are plain literals (no brackets); inet_pton
         * is strict (no "1.2.3.4x", no octal), which keeps "is this an IP"
         * unambiguous */
        ips[i] = sacme_name_ip_addr(name, addrs[i]);
        if (!ips[i] && (why = dns_name_problem(name)) != NULL) {
            return sacme_result_set(res, APR_EINVAL, "CSR: invalid name '%s': %s",
                                    name, why);
        }
        /* Plain ASCII case folding ("natural" comparison would call
         * "a01.example" and "a1.example" the same); IPs by address, since
         * "2001:db8::1" and "2001:DB8:0::1" are one identifier. */
        for (j = 0; j < i; ++j) {
            if (ips[i] ? (ips[j] == ips[i] && !memcmp(addrs[i], addrs[j], 16))
                       : !apr_cstr_casecmp(name, APR_ARRAY_IDX(names, j, const char *))) {
                return sacme_result_set(res, APR_EINVAL,
                                        "CSR: name '%s' is given more than once",
                                        name);
            }
        }
    }
    return APR_SUCCESS;
}

/* One SAN entry: dNSName for host names, iPAddress for IP literals. */
static GENERAL_NAME *san_entry(const char *name, int iplen, const unsigned char *addr)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *value;

    if (!gn) {
        return NULL;
    }
    if (iplen) {
        value = ASN1_OCTET_STRING_new();
        if (!value || !ASN1_OCTET_STRING_set(value, addr, iplen)) {
            ASN1_OCTET_STRING_free(value);
            GENERAL_NAME_free(gn);
            return NULL;
        }
        GENERAL_NAME_set0_value(gn, GEN_IPADD, value);
    }
    else {
        value = ASN1_IA5STRING_new();
        if (!value || !ASN1_STRING_set(value, name, (int)strlen(name))) {
            ASN1_IA5STRING_free(value);
            GENERAL_NAME_free(gn);
            return NULL;
        }
        GENERAL_NAME_set0_value(gn, GEN_DNS, value);
    }
    return gn;
}

/* The subjectAltName extension request. RFC 5280 §4.2.1.6 wants the
 * extension critical when the subject is empty; CAs copy what they accept
 * from the request, so we ask for the form a certificate must have. */
static int add_sans(X509_REQ *req, const apr_array_header_t *names,
                    const int *ips, unsigned char (*addrs)[16], int critical)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    GENERAL_NAME *gn;
    int i, ok = 0;

    if (!gens) {
        return 0;
    }
    for (i = 0; i < names->nelts; ++i) {
        gn = san_entry(APR_ARRAY_IDX(names, i, const char *), ips[i], addrs[i]);
        if (!gn || !sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            goto out;
        }
    }
    ext = X509V3_EXT_i2d(NID_subject_alt_name, critical, gens);
    exts = sk_X509_EXTENSION_new_null();
    if (ext && exts && sk_X509_EXTENSION_push(exts, ext)) {
        ext = NULL;   /* now owned by exts */
        ok = X509_REQ_add_extensions(req, exts);
    }
out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* The digest that matches the key's strength: SHA-384 for P-384 (as
 * RFC 5480 recommends and CAs expect), none for EdDSA (which signs the
 * message itself), SHA-256 for everything else. */
static const EVP_MD *sign_digest(const sacme_key_t *key)
{
    EVP_PKEY *pk = sacme_key_evp(key);

    if (sacme_key_type(key) == SACME_KEY_P384) {
        return EVP_sha384();
    }
    if (EVP_PKEY_is_a(pk, "ED25519") || EVP_PKEY_is_a(pk, "ED448")) {
        return NULL;
    }
    return EVP_sha256();
}

apr_status_t sacme_csr_make(apr_pool_t *p, const sacme_key_t *key,
                            const apr_array_header_t *names,
                            unsigned char **der, apr_size_t *der_len,
                            sacme_result_t *res)
{
    X509_REQ *req = NULL;
    X509_NAME *subject = NULL;
    unsigned char (*addrs)[16];
    unsigned char *buf = NULL, *q;
    const char *first;
    int *ips, n, have_cn;
    apr_status_t rv;

    if (!key || !sacme_key_evp(key)) {
        return sacme_result_set(res, APR_EINVAL, "CSR: no key given");
    }
    if (names && names->nelts > 0 && names->nelts <= SACME_MAX_NAMES) {
        ips = apr_pcalloc(p, sizeof(*ips) * (apr_size_t)names->nelts);
        addrs = apr_pcalloc(p, sizeof(*addrs) * (apr_size_t)names->nelts);
    }
    else {
        ips = NULL;
        addrs = NULL;
    }
    rv = check_names(names, ips, addrs, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ERR_clear_error();

    /* The CN is the first name when RFC 5280's 64-byte limit allows. An IP
     * literal never goes there: CAs (Boulder, Pebble) require a CN to be
     * one of the dNSName SANs, and RFC 8738 puts IPs in iPAddress only. */
    first = APR_ARRAY_IDX(names, 0, const char *);
    have_cn = !ips[0] && strlen(first) <= SACME_CN_MAX;

    req = X509_REQ_new();
    subject = X509_NAME_new();
    if (!req || !subject
        || !X509_REQ_set_version(req, X509_REQ_VERSION_1)
        || (have_cn && !X509_NAME_add_entry_by_NID(subject, NID_commonName,
                                                   MBSTRING_UTF8,
                                                   (const unsigned char *)first,
                                                   -1, -1, 0))
        || !X509_REQ_set_subject_name(req, subject)
        || !X509_REQ_set_pubkey(req, sacme_key_evp(key))
        || !add_sans(req, names, ips, addrs, !have_cn)) {
        rv = sacme_result_set(res, APR_EGENERAL, "CSR: building the request failed: %s",
                              sacme_ossl_errors(p));
        goto out;
    }
    if (X509_REQ_sign(req, sacme_key_evp(key), sign_digest(key)) <= 0) {
        rv = sacme_result_set(res, APR_EGENERAL, "CSR: signing with the %s key failed: %s",
                              sacme_key_type_name(sacme_key_type(key)), sacme_ossl_errors(p));
        goto out;
    }
    n = i2d_X509_REQ(req, NULL);
    if (n <= 0) {
        rv = sacme_result_set(res, APR_EGENERAL, "CSR: encoding failed: %s",
                              sacme_ossl_errors(p));
        goto out;
    }
    buf = apr_palloc(p, (apr_size_t)n);
    q = buf;   /* i2d advances the pointer it is given */
    if (i2d_X509_REQ(req, &q) != n) {
        rv = sacme_result_set(res, APR_EGENERAL, "CSR: encoding failed: %s",
                              sacme_ossl_errors(p));
        goto out;
    }
    *der = buf;
    *der_len = (apr_size_t)n;
    rv = APR_SUCCESS;
out:
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return rv;
}
