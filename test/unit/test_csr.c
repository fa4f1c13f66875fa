/* Unit tests: sacme_csr. Every CSR is parsed back with OpenSSL and looked at
 * the way a CA would. */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_csr.h"

/* A DNS name of exactly len bytes, in labels of at most 63. */
static const char *long_name(apr_size_t len)
{
    char *s = apr_palloc(unit_pool, len + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        s[i] = (i % 20 == 19 && i + 1 < len) ? '.' : 'a';
    }
    s[len] = '\0';
    return s;
}

static apr_status_t req_free(void *req)
{
    X509_REQ_free(req);
    return APR_SUCCESS;
}

/* Makes the CSR and parses it back; the request is freed at teardown. */
static X509_REQ *make_req(const sacme_key_t *key, const apr_array_header_t *names)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    unsigned char *der = NULL;
    const unsigned char *q;
    apr_size_t len = 0;
    X509_REQ *req;

    ck_assert_msg(sacme_csr_make(unit_pool, key, names, &der, &len, res) == APR_SUCCESS,
                  "csr_make: %s", sacme_result_message(res, unit_pool));
    ck_assert_ptr_nonnull(der);
    q = der;
    req = d2i_X509_REQ(NULL, &q, (long)len);
    ck_assert_ptr_nonnull(req);
    ck_assert_msg(q == der + len, "trailing bytes after the CSR");
    apr_pool_cleanup_register(unit_pool, req, req_free, apr_pool_cleanup_null);
    return req;
}

/* The request's SANs as "DNS:x" / "IP:y" strings, in order; sets *critical. */
static apr_array_header_t *req_sans(X509_REQ *req, int *critical)
{
    apr_array_header_t *out = apr_array_make(unit_pool, 4, sizeof(const char *));
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens;
    int i, idx;

    ck_assert_ptr_nonnull(exts);
    idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
    ck_assert_int_ge(idx, 0);
    ck_assert_int_lt(X509v3_get_ext_by_NID(exts, NID_subject_alt_name, idx), 0);
    *critical = X509_EXTENSION_get_critical(sk_X509_EXTENSION_value(exts, idx));
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        const ASN1_STRING *s;
        if (gn->type == GEN_DNS) {
            s = gn->d.dNSName;
            APR_ARRAY_PUSH(out, const char *) =
                apr_pstrcat(unit_pool, "DNS:",
                            apr_pstrmemdup(unit_pool,
                                           (const char *)ASN1_STRING_get0_data(s),
                                           (apr_size_t)ASN1_STRING_length(s)), NULL);
        }
        else if (gn->type == GEN_IPADD) {
            s = gn->d.iPAddress;
            APR_ARRAY_PUSH(out, const char *) =
                apr_psprintf(unit_pool, "IP:%d bytes", ASN1_STRING_length(s));
        }
        else {
            APR_ARRAY_PUSH(out, const char *) = "other";
        }
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return out;
}

/* The subject CN, or NULL when the subject has none. */
static const char *req_cn(X509_REQ *req)
{
    const X509_NAME *subject = X509_REQ_get_subject_name(req);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    const ASN1_STRING *s;

    if (idx < 0) {
        return NULL;
    }
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    return apr_pstrmemdup(unit_pool, (const char *)ASN1_STRING_get0_data(s),
                          (apr_size_t)ASN1_STRING_length(s));
}

static void assert_sans(apr_array_header_t *sans, const char *const *want, int n)
{
    int i;

    ck_assert_int_eq(sans->nelts, n);
    for (i = 0; i < n; ++i) {
        ck_assert_str_eq(APR_ARRAY_IDX(sans, i, const char *), want[i]);
    }
}

START_TEST(test_csr_one_name)
{
    X509_REQ *req = make_req(unit_key(SACME_KEY_P256), unit_names("example.com", NULL));
    static const char *const want[] = { "DNS:example.com" };
    int critical;

    ck_assert_int_eq(X509_REQ_get_version(req), 0);
    assert_sans(req_sans(req, &critical), want, 1);
    ck_assert_int_eq(critical, 0);
    ck_assert_str_eq(req_cn(req), "example.com");
    ck_assert_int_eq(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 1);
}
END_TEST

START_TEST(test_csr_three_names_in_order)
{
    X509_REQ *req = make_req(unit_key(SACME_KEY_P256),
                             unit_names("www.example.com", "example.com",
                                        "*.shop.example.com", NULL));
    static const char *const want[] = {
        "DNS:www.example.com", "DNS:example.com", "DNS:*.shop.example.com"
    };
    int critical;

    assert_sans(req_sans(req, &critical), want, 3);
    ck_assert_str_eq(req_cn(req), "www.example.com");
}
END_TEST

START_TEST(test_csr_long_first_name_no_cn)
{
    const char *n65 = long_name(65);
    X509_REQ *req = make_req(unit_key(SACME_KEY_P256), unit_names(n65, "example.com", NULL));
    apr_array_header_t *sans;
    int critical;

    ck_assert_uint_eq(strlen(n65), 65);
    ck_assert_ptr_null(req_cn(req));
    ck_assert_int_eq(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
    sans = req_sans(req, &critical);
    ck_assert_int_eq(sans->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(sans, 0, const char *),
                     apr_pstrcat(unit_pool, "DNS:", n65, NULL));
    /* RFC 5280 §4.2.1.6: an empty subject makes the SAN critical. */
    ck_assert_int_eq(critical, 1);
}
END_TEST

START_TEST(test_csr_64_byte_first_name_is_cn)
{
    const char *n64 = long_name(SACME_CN_MAX);
    X509_REQ *req = make_req(unit_key(SACME_KEY_P256), unit_names(n64, NULL));

    ck_assert_uint_eq(strlen(n64), 64);
    ck_assert_str_eq(req_cn(req), n64);
}
END_TEST

/* The signature verifies, with the digest that fits the key. */
static void check_signed(sacme_key_type_t type, int sig_nid)
{
    sacme_key_t *key = unit_key(type);
    X509_REQ *req = make_req(key, unit_names("a.example", "b.example", NULL));

    ck_assert_int_eq(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    ck_assert_int_eq(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), sacme_key_evp(key)), 1);
    ck_assert_str_eq(OBJ_nid2sn(X509_REQ_get_signature_nid(req)), OBJ_nid2sn(sig_nid));
}

START_TEST(test_csr_signed_p256)
{
    check_signed(SACME_KEY_P256, NID_ecdsa_with_SHA256);
}
END_TEST

START_TEST(test_csr_signed_p384)
{
    check_signed(SACME_KEY_P384, NID_ecdsa_with_SHA384);
}
END_TEST

START_TEST(test_csr_signed_rsa2048)
{
    check_signed(SACME_KEY_RSA2048, NID_sha256WithRSAEncryption);
}
END_TEST

START_TEST(test_csr_ip_literals)
{
    X509_REQ *req = make_req(unit_key(SACME_KEY_P256),
                             unit_names("192.0.2.1", "example.com", "2001:db8::1", NULL));
    static const char *const want[] = { "IP:4 bytes", "DNS:example.com", "IP:16 bytes" };
    int critical;

    assert_sans(req_sans(req, &critical), want, 3);
    /* An IP never goes into the CN (CAs want a CN among the dNSNames). */
    ck_assert_ptr_null(req_cn(req));
}
END_TEST

/* sacme_csr_make must fail with a message that contains `needle`. */
static void check_refused(const apr_array_header_t *names, const char *needle)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    unsigned char *der = NULL;
    apr_size_t len = 0;
    const char *msg;

    ck_assert_int_eq(sacme_csr_make(unit_pool, unit_key(SACME_KEY_P256), names,
                                    &der, &len, res), APR_EINVAL);
    ck_assert_ptr_null(der);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
}

START_TEST(test_csr_invalid_names)
{
    apr_array_header_t *many = apr_array_make(unit_pool, 101, sizeof(const char *));
    int i;

    check_refused(unit_names(NULL), "no names");
    check_refused(NULL, "no names");
    check_refused(unit_names("a.example", "b.example", "A.Example", NULL), "'A.Example'");
    check_refused(unit_names("2001:db8::1", "2001:DB8:0::1", NULL), "'2001:DB8:0::1'");
    check_refused(unit_names("a.example", "", NULL), "name 2 is empty");
    check_refused(unit_names("a.example", "bad_name.example", NULL), "'bad_name.example'");
    check_refused(unit_names("exa mple.com", NULL), "'exa mple.com'");
    check_refused(unit_names("a.*.example", NULL), "'a.*.example'");
    check_refused(unit_names("*example.com", NULL), "'*example.com'");
    check_refused(unit_names("a..example", NULL), "'a..example'");
    check_refused(unit_names(".example", NULL), "'.example'");
    check_refused(unit_names("example.com.", NULL), "'example.com.'");
    check_refused(unit_names("-a.example", NULL), "'-a.example'");
    check_refused(unit_names("fe80::1%eth0", NULL), "'fe80::1%eth0'");
    check_refused(unit_names(apr_pstrcat(unit_pool, "a.", apr_psprintf(unit_pool, "%064d", 0),
                                       NULL), NULL),
                  "longer than 63");
    check_refused(unit_names(apr_pstrcat(unit_pool, long_name(250), ".com", NULL), NULL),
                  "longer than 253");
    for (i = 0; i < SACME_MAX_NAMES + 1; ++i) {
        APR_ARRAY_PUSH(many, const char *) = apr_psprintf(unit_pool, "n%d.example", i);
    }
    check_refused(many, "at most 100");
}
END_TEST

START_TEST(test_csr_max_names)
{
    apr_array_header_t *names = apr_array_make(unit_pool, 100, sizeof(const char *));
    apr_array_header_t *sans;
    int i, critical;

    for (i = 0; i < SACME_MAX_NAMES; ++i) {
        APR_ARRAY_PUSH(names, const char *) = apr_psprintf(unit_pool, "n%d.example", i);
    }
    sans = req_sans(make_req(unit_key(SACME_KEY_P256), names), &critical);
    ck_assert_int_eq(sans->nelts, SACME_MAX_NAMES);
    ck_assert_str_eq(APR_ARRAY_IDX(sans, 99, const char *), "DNS:n99.example");
}
END_TEST

Suite *unit_suite_csr(void)
{
    Suite *s = suite_create("csr");
    TCase *tc = tcase_create("csr");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_csr_one_name);
    tcase_add_test(tc, test_csr_three_names_in_order);
    tcase_add_test(tc, test_csr_long_first_name_no_cn);
    tcase_add_test(tc, test_csr_64_byte_first_name_is_cn);
    tcase_add_test(tc, test_csr_signed_p256);
    tcase_add_test(tc, test_csr_signed_p384);
    tcase_add_test(tc, test_csr_signed_rsa2048);
    tcase_add_test(tc, test_csr_ip_literals);
    tcase_add_test(tc, test_csr_invalid_names);
    tcase_add_test(tc, test_csr_max_names);
    suite_add_tcase(s, tc);
    return s;
}
