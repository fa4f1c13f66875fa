/* Unit tests: sacme_selfsigned (the fallback certificate and its files). */
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_file.h"
#include "sacme_selfsigned.h"

#define DAY_SEC 86400

static apr_array_header_t *names_of(const char *a, const char *b)
{
    apr_array_header_t *names = apr_array_make(unit_pool, 2, sizeof(const char *));

    if (a) {
        APR_ARRAY_PUSH(names, const char *) = a;
    }
    if (b) {
        APR_ARRAY_PUSH(names, const char *) = b;
    }
    return names;
}

/* One attribute of a name, or NULL. */
static const char *name_entry(X509_NAME *name, int nid)
{
    char buf[256];
    int n = X509_NAME_get_text_by_NID(name, nid, buf, sizeof(buf));

    return n < 0 ? NULL : apr_pstrdup(unit_pool, buf);
}

static X509 *read_cert(const char *path)
{
    sacme_chain_t *chain;
    char *data;
    apr_size_t len;

    ck_assert_int_eq(sacme_file_read(path, 65536, unit_pool, &data, &len, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_chain_parse(unit_pool, data, len, &chain, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(chain->certs->nelts, 1);
    return APR_ARRAY_IDX(chain->certs, 0, X509 *);
}

static const char *serial_of(X509 *x)
{
    sacme_cert_info_t *info;

    ck_assert_int_eq(sacme_cert_info(unit_pool, x, &info), APR_SUCCESS);
    return info->serial;
}

START_TEST(make_fields)
{
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    apr_array_header_t *names = names_of("a.example", "www.a.example");
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_cert_info_t *info;
    sacme_chain_t *chain;
    const char *pem;
    apr_time_t now = apr_time_now();
    X509 *x, *back;
    BIGNUM *serial;

    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example", names, 0,
                                           &x, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(x);

    /* It survives a PEM round trip through our own parser. */
    chain = apr_pcalloc(unit_pool, sizeof(*chain));
    chain->certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain->certs, X509 *) = x;
    pem = sacme_chain_leaf_pem(chain, unit_pool);
    ck_assert_ptr_nonnull(pem);
    ck_assert_int_eq(sacme_chain_parse(unit_pool, pem, strlen(pem), &chain, res),
                     APR_SUCCESS);
    back = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    ck_assert_int_eq(X509_cmp(x, back), 0);

    /* Self-signed, by this key, with SHA-256. */
    ck_assert_int_eq(X509_verify(back, sacme_key_evp(key)), 1);
    /* Self-issued; not a valid issuer of itself as far as OpenSSL's chain
     * building goes (keyUsage lacks keyCertSign), which is right for a
     * leaf that must never sign anything. */
    ck_assert(X509_get_extension_flags(back) & EXFLAG_SI);
    ck_assert_int_eq(X509_check_issued(back, back), X509_V_ERR_KEYUSAGE_NO_CERTSIGN);
    ck_assert_int_eq(X509_check_private_key(back, sacme_key_evp(key)), 1);
    ck_assert_int_eq(X509_get_signature_nid(back), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(X509_get_version(back), X509_VERSION_3);

    ck_assert_str_eq(name_entry(X509_get_subject_name(back), NID_commonName),
                     "a.example");
    ck_assert_str_eq(name_entry(X509_get_subject_name(back), NID_organizationName),
                     "mod_sacme fallback (no certificate yet)");
    ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(back),
                                   X509_get_issuer_name(back)), 0);

    /* A server certificate, not a CA. */
    ck_assert(X509_get_extension_flags(back) & EXFLAG_BCONS);
    ck_assert(!(X509_get_extension_flags(back) & EXFLAG_CA));
    ck_assert_int_eq(X509_check_ca(back), 0);
    ck_assert_uint_eq(X509_get_key_usage(back), KU_DIGITAL_SIGNATURE);
    ck_assert_uint_eq(X509_get_extended_key_usage(back), XKU_SSL_SERVER);
    ck_assert_int_eq(X509_check_purpose(back, X509_PURPOSE_SSL_SERVER, 0), 1);

    ck_assert_int_eq(sacme_cert_info(unit_pool, back, &info), APR_SUCCESS);
    ck_assert_int_eq(info->sans->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 0, const char *), "a.example");
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 1, const char *), "www.a.example");
    ck_assert_int_eq(X509_check_host(back, "www.a.example", 0, 0, NULL), 1);

    /* Valid from an hour ago, for 30 days. */
    ck_assert_int_eq(info->not_after - info->not_before,
                     apr_time_from_sec(30 * DAY_SEC));
    ck_assert(info->not_before <= now - apr_time_from_sec(3600 - 5));
    ck_assert(info->not_before >= now - apr_time_from_sec(3600 + 5));

    /* 128 random bits of serial, positive. */
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(back), NULL);
    ck_assert_ptr_nonnull(serial);
    ck_assert(!BN_is_negative(serial) && !BN_is_zero(serial));
    ck_assert_int_le(BN_num_bits(serial), 128);
    ck_assert_int_gt(BN_num_bits(serial), 64);  /* fails once in 2^64 runs */
    BN_free(serial);

    /* And it passes the checks the real certificates pass. */
    ck_assert_int_eq(sacme_chain_check(chain, key, names, now, res), APR_SUCCESS);
}
END_TEST

START_TEST(make_options)
{
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_cert_info_t *info;
    X509 *x, *y;

    /* No names: no SAN extension at all, rather than an empty one. */
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "fallback", NULL,
                                           apr_time_from_sec(7200), &x, NULL),
                     APR_SUCCESS);
    ck_assert_int_lt(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), 0);
    ck_assert_int_eq(sacme_cert_info(unit_pool, x, &info), APR_SUCCESS);
    ck_assert_int_eq(info->not_after - info->not_before, apr_time_from_sec(7200));
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "fallback",
                                           names_of(NULL, NULL), 0, &y, NULL),
                     APR_SUCCESS);
    ck_assert_int_lt(X509_get_ext_by_NID(y, NID_subject_alt_name, -1), 0);

    /* Same key, two certificates: different serials. */
    ck_assert_str_ne(serial_of(x), serial_of(y));
    ck_assert_int_eq(X509_verify(y, sacme_key_evp(key)), 1);

    /* Other key types work too. */
    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P384, &key, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "p384.example",
                                           names_of("p384.example", NULL), 0, &x,
                                           NULL), APR_SUCCESS);
    ck_assert_int_eq(X509_verify(x, sacme_key_evp(key)), 1);
}
END_TEST

/* A fallback for an IP address (RFC 8738 name) names it in an iPAddress
 * SAN, which is what the chain check and a client of the address look at. */
START_TEST(make_ip_sans)
{
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    apr_array_header_t *names = names_of("::1", "a.example");
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_chain_t chain;
    GENERAL_NAMES *gens;
    X509 *x;

    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "::1", names, 0, &x, res),
                     APR_SUCCESS);
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 2);
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 0)->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 0)->d.iPAddress), 16);
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 1)->type, GEN_DNS);
    GENERAL_NAMES_free(gens);
    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = x;
    ck_assert_int_eq(sacme_chain_check(&chain, key, names, apr_time_now(), res),
                     APR_SUCCESS);
}
END_TEST

START_TEST(make_refuses)
{
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char cn[80];
    X509 *x = NULL;

    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, NULL, "a.example", NULL, 0,
                                           &x, res), APR_EINVAL);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, NULL, NULL, 0, &x, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "", NULL, 0, &x, res),
                     APR_EINVAL);
    memset(cn, 'a', 65);
    cn[65] = '\0';
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, cn, NULL, 0, &x, res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "64"));
    cn[64] = '\0';
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, cn, NULL, 0, &x, res),
                     APR_SUCCESS);

    /* A name that would inject another SAN through OpenSSL's text form,
     * blanks, control characters and non-ASCII are refused. */
    x = NULL;
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example",
                                           names_of("a.example", "b.example,IP:1.2.3.4"),
                                           0, &x, res), APR_SUCCESS);
    ck_assert_int_eq(X509_check_ip_asc(x, "1.2.3.4", 0), 0);
    x = NULL;
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example",
                                           names_of("a.example", "b example"),
                                           0, &x, res), APR_EINVAL);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example",
                                           names_of("a\n.example", NULL),
                                           0, &x, res), APR_EINVAL);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example",
                                           names_of("b\xc3\xbc" "cher.example", NULL),
                                           0, &x, res), APR_EINVAL);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "a.example",
                                           names_of("", NULL), 0, &x, res),
                     APR_EINVAL);
    ck_assert_ptr_null(x);
}
END_TEST

/* stat() of a file that must exist. */
static struct stat stat_of(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
    return st;
}

START_TEST(ensure_creates_then_reuses)
{
    const char *dir = apr_pstrcat(unit_pool, unit_tmpdir(), "/fallback/sub", NULL);
    const char *cert_file = NULL, *key_file = NULL, *c2, *k2;
    sacme_result_t *res = sacme_result_make(unit_pool);
    struct stat cst, kst, cst2, kst2;
    sacme_cert_info_t *info;
    sacme_key_t *key;
    X509 *x;

    /* The directory is created (with parents). */
    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             res), APR_SUCCESS);
    ck_assert_str_eq(cert_file, apr_pstrcat(unit_pool, dir, "/cert.pem", NULL));
    ck_assert_str_eq(key_file, apr_pstrcat(unit_pool, dir, "/privkey.pem", NULL));

    cst = stat_of(cert_file);
    kst = stat_of(key_file);
    ck_assert_uint_eq(cst.st_mode & 07777, 0644);
    ck_assert_uint_eq(kst.st_mode & 07777, 0600);
    ck_assert_uint_eq(stat_of(dir).st_mode & 0077, 0);   /* holds a key */

    x = read_cert(cert_file);
    ck_assert_int_eq(sacme_key_load(unit_pool, key_file, &key, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_key_type(key), SACME_KEY_P256);
    ck_assert_int_eq(X509_check_private_key(x, sacme_key_evp(key)), 1);
    ck_assert_int_eq(X509_verify(x, sacme_key_evp(key)), 1);
    ck_assert_int_eq(sacme_cert_info(unit_pool, x, &info), APR_SUCCESS);
    ck_assert_int_eq(info->not_after - info->not_before,
                     apr_time_from_sec(30 * DAY_SEC));
    ck_assert_ptr_nonnull(name_entry(X509_get_subject_name(x), NID_commonName));
    ck_assert_str_eq(name_entry(X509_get_subject_name(x), NID_organizationName),
                     "mod_sacme fallback (no certificate yet)");

    /* A second call (the next startup) touches nothing. */
    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &c2, &k2, res),
                     APR_SUCCESS);
    ck_assert_str_eq(c2, cert_file);
    ck_assert_str_eq(k2, key_file);
    cst2 = stat_of(cert_file);
    kst2 = stat_of(key_file);
    ck_assert_uint_eq(cst2.st_ino, cst.st_ino);
    ck_assert_uint_eq(kst2.st_ino, kst.st_ino);
    ck_assert(cst2.st_mtim.tv_sec == cst.st_mtim.tv_sec
              && cst2.st_mtim.tv_nsec == cst.st_mtim.tv_nsec);
    ck_assert(kst2.st_mtim.tv_sec == kst.st_mtim.tv_sec
              && kst2.st_mtim.tv_nsec == kst.st_mtim.tv_nsec);
    ck_assert_str_eq(serial_of(read_cert(cert_file)), serial_of(x));
}
END_TEST

/* Ensures once, then damages the pair (cert.pem replaced by cert_pem
 * unless NULL, privkey.pem by another key if replace_key) and checks that
 * the next ensure replaces it with a valid one. */
static void check_replaced(const char *cert_pem, int replace_key)
{
    const char *dir = unit_tmpdir(), *cert_file, *key_file;
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_cert_info_t *info;
    const char *old_serial;
    sacme_key_t *key;
    apr_time_t now;
    X509 *x;

    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             res), APR_SUCCESS);
    old_serial = serial_of(read_cert(cert_file));
    if (cert_pem) {
        ck_assert_int_eq(sacme_file_write_atomic(cert_file, cert_pem,
                                                 strlen(cert_pem),
                                                 SACME_FPROT_PUBLIC, unit_pool,
                                                 NULL), APR_SUCCESS);
    }
    if (replace_key) {
        ck_assert_int_eq(sacme_key_save(unit_key(SACME_KEY_P256), key_file, unit_pool,
                                        NULL), APR_SUCCESS);
    }

    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             res), APR_SUCCESS);
    now = apr_time_now();
    x = read_cert(cert_file);
    ck_assert_str_ne(serial_of(x), old_serial);
    ck_assert_int_eq(sacme_key_load(unit_pool, key_file, &key, NULL), APR_SUCCESS);
    ck_assert_int_eq(X509_check_private_key(x, sacme_key_evp(key)), 1);
    ck_assert_int_eq(sacme_cert_info(unit_pool, x, &info), APR_SUCCESS);
    ck_assert(info->not_after > now + apr_time_from_sec(29 * DAY_SEC));
    ck_assert_uint_eq(stat_of(cert_file).st_mode & 07777, 0644);
    ck_assert_uint_eq(stat_of(key_file).st_mode & 07777, 0600);
}

/* A certificate for the key in dir/privkey.pem, valid for `valid` from an
 * hour ago, as PEM. */
static const char *cert_for_dir_key(apr_interval_time_t valid)
{
    const char *key_file = apr_pstrcat(unit_pool, unit_tmpdir(), "/privkey.pem",
                                       NULL);
    sacme_chain_t chain;
    sacme_key_t *key;
    X509 *x;

    ck_assert_int_eq(sacme_key_load(unit_pool, key_file, &key, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_selfsigned_make(unit_pool, key, "old", NULL, valid, &x,
                                           NULL), APR_SUCCESS);
    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = x;
    return sacme_chain_leaf_pem(&chain, unit_pool);
}

START_TEST(ensure_replaces_expired)
{
    const char *cert_file, *key_file;

    /* Make the files, then an expired certificate for the same key (valid
     * from an hour ago for half an hour). */
    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, unit_tmpdir(), &cert_file,
                                             &key_file, NULL), APR_SUCCESS);
    check_replaced(cert_for_dir_key(apr_time_from_sec(1800)), 0);
}
END_TEST

START_TEST(ensure_replaces_expiring_within_a_day)
{
    const char *cert_file, *key_file;

    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, unit_tmpdir(), &cert_file,
                                             &key_file, NULL), APR_SUCCESS);
    check_replaced(cert_for_dir_key(apr_time_from_sec(20 * 3600)), 0);
}
END_TEST

START_TEST(ensure_replaces_corrupt)
{
    check_replaced("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                   "-----END CERTIFICATE-----\n", 0);
}
END_TEST

START_TEST(ensure_replaces_garbage)
{
    check_replaced("garbage", 0);
}
END_TEST

START_TEST(ensure_replaces_mismatched_key)
{
    check_replaced(NULL, 1);
}
END_TEST

START_TEST(ensure_replaces_missing_cert)
{
    const char *dir = unit_tmpdir(), *cert_file, *key_file;
    const char *serial;

    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             NULL), APR_SUCCESS);
    serial = serial_of(read_cert(cert_file));
    ck_assert_int_eq(apr_file_remove(cert_file, unit_pool), APR_SUCCESS);
    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             NULL), APR_SUCCESS);
    ck_assert_str_ne(serial_of(read_cert(cert_file)), serial);
}
END_TEST

START_TEST(ensure_fails_cleanly)
{
    const char *dir = apr_pstrcat(unit_pool, unit_tmpdir(), "/file", NULL);
    const char *cert_file = NULL, *key_file = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    /* "dir" is a file: nothing can be created under it. */
    ck_assert_int_eq(sacme_file_write_atomic(dir, "x", 1, SACME_FPROT_PUBLIC,
                                             unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_ne(sacme_selfsigned_ensure(unit_pool, dir, &cert_file, &key_file,
                                             res), APR_SUCCESS);
    ck_assert_ptr_null(cert_file);
    ck_assert_ptr_null(key_file);
    ck_assert_ptr_nonnull(strstr(res->detail, dir));
    ck_assert_int_eq(sacme_selfsigned_ensure(unit_pool, "", &cert_file, &key_file,
                                             res), APR_EINVAL);
}
END_TEST

Suite *unit_suite_selfsigned(void)
{
    Suite *s = suite_create("selfsigned");
    TCase *tc = tcase_create("selfsigned");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, make_fields);
    tcase_add_test(tc, make_options);
    tcase_add_test(tc, make_ip_sans);
    tcase_add_test(tc, make_refuses);
    tcase_add_test(tc, ensure_creates_then_reuses);
    tcase_add_test(tc, ensure_replaces_expired);
    tcase_add_test(tc, ensure_replaces_expiring_within_a_day);
    tcase_add_test(tc, ensure_replaces_corrupt);
    tcase_add_test(tc, ensure_replaces_garbage);
    tcase_add_test(tc, ensure_replaces_mismatched_key);
    tcase_add_test(tc, ensure_replaces_missing_cert);
    tcase_add_test(tc, ensure_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
