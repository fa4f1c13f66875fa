/* Unit tests: sacme_alpn (the tls-alpn-01 certificate, RFC 8737; reverse
 * SNI names of IP identifiers, RFC 8738) and its files in the store. */
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_alpn.h"
#include "sacme_drive_alpn.h"
#include "sacme_file.h"
#include "sacme_key.h"
#include "sacme_store.h"

#define KEY_AUTHZ "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

typedef struct {
    X509 *cert;
    EVP_PKEY *key;
} pair_t;

static apr_status_t pair_cleanup(void *data)
{
    pair_t *pair = data;

    X509_free(pair->cert);
    EVP_PKEY_free(pair->key);
    return APR_SUCCESS;
}

/* The certificate and the key out of the one PEM text, as mod_ssl reads
 * it when it is given no separate key. */
static pair_t *parse_pair(const char *pem)
{
    pair_t *pair = apr_pcalloc(unit_pool, sizeof(*pair));
    BIO *bio = BIO_new_mem_buf(pem, -1);

    ck_assert_ptr_nonnull(bio);
    pair->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    pair->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    apr_pool_cleanup_register(unit_pool, pair, pair_cleanup, apr_pool_cleanup_null);
    ck_assert_ptr_nonnull(pair->cert);
    ck_assert_ptr_nonnull(pair->key);
    return pair;
}

/* The DER content (extnValue's octets) of the acmeIdentifier extension,
 * with its criticality. */
static const ASN1_OCTET_STRING *acme_identifier(X509 *x, int *critical)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(SACME_ALPN_OID, 1);
    int i = X509_get_ext_by_OBJ(x, oid, -1);
    X509_EXTENSION *ext;

    ASN1_OBJECT_free(oid);
    ck_assert_int_ge(i, 0);
    ext = X509_get_ext(x, i);
    *critical = X509_EXTENSION_get_critical(ext);
    return X509_EXTENSION_get_data(ext);
}

/* The SANs: how many, and the first one's type and bytes. */
static int sans(X509 *x, int *type, const unsigned char **data, int *len)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    const GENERAL_NAME *gn;
    int n;

    ck_assert_ptr_nonnull(gens);
    n = sk_GENERAL_NAME_num(gens);
    gn = sk_GENERAL_NAME_value(gens, 0);
    *type = gn->type;
    *len = ASN1_STRING_length(gn->d.ia5);
    *data = apr_pmemdup(unit_pool, ASN1_STRING_get0_data(gn->d.ia5), (apr_size_t)*len);
    GENERAL_NAMES_free(gens);
    return n;
}

/* RFC 8737 §3: the extension is critical and holds the DER of an OCTET
 * STRING of SHA-256(key authorization); one SAN, the dNSName; self-signed
 * with the key that comes with it. */
START_TEST(test_alpn_cert_dns)
{
    char *pem;
    pair_t *pair;
    const ASN1_OCTET_STRING *ext;
    unsigned char want[2 + SHA256_DIGEST_LENGTH];
    const unsigned char *san;
    int critical, type, len;

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "www.example.org", 0, KEY_AUTHZ, &pem, NULL),
                     APR_SUCCESS);
    pair = parse_pair(pem);
    ext = acme_identifier(pair->cert, &critical);
    ck_assert_int_eq(critical, 1);
    want[0] = 0x04;
    want[1] = 0x20;
    SHA256((const unsigned char *)KEY_AUTHZ, strlen(KEY_AUTHZ), want + 2);
    ck_assert_int_eq(ASN1_STRING_length(ext), sizeof(want));
    ck_assert(memcmp(ASN1_STRING_get0_data(ext), want, sizeof(want)) == 0);

    ck_assert_int_eq(sans(pair->cert, &type, &san, &len), 1);
    ck_assert_int_eq(type, GEN_DNS);
    ck_assert_int_eq(len, strlen("www.example.org"));
    ck_assert(memcmp(san, "www.example.org", (size_t)len) == 0);

    ck_assert_int_eq(X509_check_private_key(pair->cert, pair->key), 1);
    ck_assert_int_eq(X509_verify(pair->cert, pair->key), 1);
    ck_assert_int_eq(EVP_PKEY_get_base_id(pair->key), EVP_PKEY_EC);
}
END_TEST

/* RFC 8738 §6: for an IP identifier the SAN is the iPAddress. */
START_TEST(test_alpn_cert_ip)
{
    static const unsigned char v4[] = { 192, 0, 2, 10 };
    static const unsigned char v6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0x10 };
    const unsigned char *san;
    char *pem;
    int type, len, critical;

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "192.0.2.10", 1, KEY_AUTHZ, &pem, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sans(parse_pair(pem)->cert, &type, &san, &len), 1);
    ck_assert_int_eq(type, GEN_IPADD);
    ck_assert_int_eq(len, 4);
    ck_assert(memcmp(san, v4, 4) == 0);
    acme_identifier(parse_pair(pem)->cert, &critical);
    ck_assert_int_eq(critical, 1);

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "2001:db8::10", 1, KEY_AUTHZ, &pem, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sans(parse_pair(pem)->cert, &type, &san, &len), 1);
    ck_assert_int_eq(type, GEN_IPADD);
    ck_assert_int_eq(len, 16);
    ck_assert(memcmp(san, v6, 16) == 0);
}
END_TEST

/* Every attempt has a key of its own; nonsense is refused with a reason. */
START_TEST(test_alpn_cert_fresh_key_and_refusals)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *a, *b;

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "a.example", 0, KEY_AUTHZ, &a, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_alpn_make(unit_pool, "a.example", 0, KEY_AUTHZ, &b, NULL),
                     APR_SUCCESS);
    ck_assert_int_ne(EVP_PKEY_eq(parse_pair(a)->key, parse_pair(b)->key), 1);

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "not-an-ip", 1, KEY_AUTHZ, &a, res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), "not-an-ip"));
    ck_assert_int_eq(sacme_alpn_make(unit_pool, "a.example", 0, "", &a, NULL), APR_EINVAL);
}
END_TEST

START_TEST(test_alpn_sni_ip)
{
    const char *v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

    ck_assert_str_eq(sacme_alpn_sni_ip(unit_pool, "10.2.0.192.in-addr.arpa"), "192.0.2.10");
    ck_assert_str_eq(sacme_alpn_sni_ip(unit_pool, "1.0.0.127.IN-ADDR.ARPA."), "127.0.0.1");
    ck_assert_str_eq(sacme_alpn_sni_ip(unit_pool, v6), "2001:db8::10");
    ck_assert_str_eq(sacme_alpn_sni_ip(unit_pool,
                                       "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
                                       ".0.0.0.0.ip6.arpa"), "::1");
    /* not reverse names of an address */
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "www.example.org"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "2.0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "5.10.2.0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "256.2.0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "01.2.0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "1..0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "x.2.0.192.in-addr.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, "10.0.1.0.0.2.ip6.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool,
                                         "g.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d"
                                         ".0.1.0.0.2.ip6.arpa"));
    ck_assert_ptr_null(sacme_alpn_sni_ip(unit_pool, NULL));

    /* the configured text of the address need not be inet_ntop's */
    ck_assert(sacme_alpn_same_ip("2001:DB8:0::10", "2001:db8::10"));
    ck_assert(sacme_alpn_same_ip("127.0.0.1", "127.0.0.1"));
    ck_assert(!sacme_alpn_same_ip("127.0.0.1", "127.0.0.2"));
    ck_assert(!sacme_alpn_same_ip("::ffff:127.0.0.1", "127.0.0.1"));
    ck_assert(!sacme_alpn_same_ip("www.example.org", "www.example.org"));
    ck_assert(!sacme_alpn_same_ip(NULL, "127.0.0.1"));
}
END_TEST

static sacme_store_t *new_store(void)
{
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));

    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    return store;
}

/* The pair is one file of the challenges area, 0640 and of the store's
 * web group (request children present it), removed by teardown and by the
 * start-up sweep. */
START_TEST(test_alpn_store_files)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_store_swept_t swept;
    const char *path;
    struct stat st;
    char *pem, *got;

    ck_assert_int_eq(sacme_alpn_make(unit_pool, "www.example.org", 0, KEY_AUTHZ, &pem, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_alpn_get(store, unit_pool, "www.example.org", &got, res),
                     APR_ENOENT);
    ck_assert_int_eq(sacme_store_alpn_put(store, unit_pool, "www.example.org", pem, res),
                     APR_SUCCESS);
    path = sacme_store_path(store, unit_pool, SACME_GROUP_CHALLENGES, "www.example.org",
                            SACME_FILE_ALPN);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    ck_assert_int_eq(sacme_store_alpn_get(store, unit_pool, "www.example.org", &got, res),
                     APR_SUCCESS);
    ck_assert_str_eq(got, pem);

    ck_assert_int_eq(sacme_store_alpn_remove(store, unit_pool, "www.example.org", res),
                     APR_SUCCESS);
    ck_assert_int_ne(stat(path, &st), 0);
    /* removing what is not there is no failure (teardown after a crash) */
    ck_assert_int_eq(sacme_store_alpn_remove(store, unit_pool, "www.example.org", res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_alpn_remove(store, unit_pool, "other.example.org", res),
                     APR_SUCCESS);

    ck_assert_int_eq(sacme_store_alpn_put(store, unit_pool, "www.example.org", pem, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_sweep(store, unit_pool, &swept, res), APR_SUCCESS);
    ck_assert_int_eq(swept.challenges, 1);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

/* The driver's publisher: setup writes the pair made for the identifier
 * and its key authorization, teardown removes it; a wildcard or a name
 * that cannot be a directory of the store is refused. */
START_TEST(test_alpn_drive_publish)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_driver_t d;
    sacme_domain_t dom;
    sacme_chal_pub_t pub = { "tls-alpn-01", "www.example.org", 0, 0, "tok", KEY_AUTHZ };
    const ASN1_OCTET_STRING *ext;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    const unsigned char *san;
    char *pem;
    int critical, type, len;

    memset(&d, 0, sizeof(d));
    memset(&dom, 0, sizeof(dom));
    d.store = store;
    dom.name = "www.example.org";
    ck_assert_msg(sacme_drive_alpn_publish(&d, &dom, 1, &pub, unit_pool, res) == APR_SUCCESS,
                  "%s", sacme_result_message(res, unit_pool));
    ck_assert_int_eq(sacme_store_alpn_get(store, unit_pool, pub.name, &pem, res), APR_SUCCESS);
    ext = acme_identifier(parse_pair(pem)->cert, &critical);
    SHA256((const unsigned char *)KEY_AUTHZ, strlen(KEY_AUTHZ), digest);
    ck_assert(memcmp(ASN1_STRING_get0_data(ext) + 2, digest, sizeof(digest)) == 0);
    ck_assert_int_eq(sans(parse_pair(pem)->cert, &type, &san, &len), 1);
    ck_assert_int_eq(type, GEN_DNS);

    ck_assert_int_eq(sacme_drive_alpn_publish(&d, &dom, 0, &pub, unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_store_alpn_get(store, unit_pool, pub.name, &pem, res), APR_ENOENT);

    pub.wildcard = 1;
    ck_assert_int_eq(sacme_drive_alpn_publish(&d, &dom, 1, &pub, unit_pool, res), APR_EINVAL);
    pub.wildcard = 0;
    pub.name = "../escape";
    ck_assert_int_eq(sacme_drive_alpn_publish(&d, &dom, 1, &pub, unit_pool, res), APR_EINVAL);
}
END_TEST

Suite *unit_suite_alpn(void)
{
    Suite *s = suite_create("alpn");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_alpn_cert_dns);
    tcase_add_test(tc, test_alpn_cert_ip);
    tcase_add_test(tc, test_alpn_cert_fresh_key_and_refusals);
    tcase_add_test(tc, test_alpn_sni_ip);
    tcase_add_test(tc, test_alpn_store_files);
    tcase_add_test(tc, test_alpn_drive_publish);
    suite_add_tcase(s, tc);
    return s;
}
