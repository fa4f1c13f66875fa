/* Keys and certificates for the unit tests (see unit_cert.h). */
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_cert.h"

static apr_status_t x509_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

sacme_key_t *unit_key(sacme_key_type_t type)
{
    sacme_key_t *key = NULL;

    ck_assert_int_eq(sacme_key_generate(unit_pool, type, &key, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(key);
    return key;
}

X509 *unit_cert_issue(const sacme_key_t *key, const char *cn,
                      const apr_array_header_t *names, apr_time_t nb, apr_time_t na,
                      const sacme_key_t *issuer_key, X509 *issuer_cert, int ca)
{
    static long serial = 1000;
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new();
    int i;

    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                                (const unsigned char *)"mod_sacme tests",
                                                -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_subject_name(x, subject), 1);
    ck_assert_int_eq(X509_set_issuer_name(x, issuer_cert ? X509_get_subject_name(issuer_cert)
                                                         : subject), 1);
    X509_NAME_free(subject);
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)apr_time_sec(nb)));
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)apr_time_sec(na)));
    ck_assert_int_eq(X509_set_pubkey(x, sacme_key_evp(key)), 1);
    if (names && names->nelts) {
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        for (i = 0; i < names->nelts; ++i) {
            GENERAL_NAME *gn = GENERAL_NAME_new();
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            ck_assert_int_eq(ASN1_STRING_set(s, APR_ARRAY_IDX(names, i, const char *), -1), 1);
            GENERAL_NAME_set0_value(gn, GEN_DNS, s);
            sk_GENERAL_NAME_push(gens, gn);
        }
        ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
        GENERAL_NAMES_free(gens);
    }
    if (ca) {
        BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
        bc->ca = 1;
        ck_assert_int_eq(X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0), 1);
        BASIC_CONSTRAINTS_free(bc);
    }
    ck_assert_int_gt(X509_sign(x, sacme_key_evp(issuer_key ? issuer_key : key),
                               EVP_sha256()), 0);
    apr_pool_cleanup_register(unit_pool, x, x509_cleanup, apr_pool_cleanup_null);
    return x;
}
