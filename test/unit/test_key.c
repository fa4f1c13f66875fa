/* Unit tests: sacme_key (types, generation, PEM files). */
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "sacme_key.h"
#include "sacme_file.h"

START_TEST(type_parse_names)
{
    static const struct {
        const char *s;
        sacme_key_type_t type;
    } ok[] = {
        { "p256", SACME_KEY_P256 },       { "P256", SACME_KEY_P256 },
        { "p-256", SACME_KEY_P256 },      { "P-256", SACME_KEY_P256 },
        { "prime256v1", SACME_KEY_P256 }, { "secp256r1", SACME_KEY_P256 },
        { "p384", SACME_KEY_P384 },       { "P-384", SACME_KEY_P384 },
        { "p-384", SACME_KEY_P384 },      { "secp384r1", SACME_KEY_P384 },
        { "SECP384R1", SACME_KEY_P384 },
        { "rsa2048", SACME_KEY_RSA2048 }, { "RSA2048", SACME_KEY_RSA2048 },
        { "rsa3072", SACME_KEY_RSA3072 }, { "rsa4096", SACME_KEY_RSA4096 },
        { "Rsa4096", SACME_KEY_RSA4096 },
    };
    static const char *const bad[] = {
        "", "p521", "P-521", "rsa1024", "rsa", "ed25519", "p25", "p2560",
        "p 256", " p256", "p256 ", "p0256", "rsa02048",
    };
    sacme_key_type_t t;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(ok); ++i) {
        t = SACME_KEY_NONE;
        ck_assert_msg(sacme_key_type_parse(ok[i].s, &t) == APR_SUCCESS,
                      "'%s' refused", ok[i].s);
        ck_assert_int_eq(t, ok[i].type);
    }
    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_key_type_parse(bad[i], &t) == APR_EINVAL,
                      "'%s' accepted", bad[i]);
    }
    ck_assert_int_eq(sacme_key_type_parse(NULL, &t), APR_EINVAL);

    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_P256), "p256");
    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_P384), "p384");
    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_RSA2048), "rsa2048");
    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_RSA3072), "rsa3072");
    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_RSA4096), "rsa4096");
    ck_assert_str_eq(sacme_key_type_name(SACME_KEY_NONE), "none");
    ck_assert_int_eq(SACME_KEY_DEFAULT, SACME_KEY_P256);

    /* Every canonical name parses back to its type and is listed. */
    for (t = SACME_KEY_P256; t <= SACME_KEY_RSA4096; ++t) {
        sacme_key_type_t back = SACME_KEY_NONE;
        ck_assert_int_eq(sacme_key_type_parse(sacme_key_type_name(t), &back), APR_SUCCESS);
        ck_assert_int_eq(back, t);
        ck_assert_ptr_nonnull(strstr(sacme_key_type_names(), sacme_key_type_name(t)));
    }
}
END_TEST

static const char *group_of(EVP_PKEY *pk)
{
    static char group[64];
    size_t len = 0;

    ck_assert(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
                                             group, sizeof(group), &len));
    return group;
}

static void check_generated(sacme_key_type_t type, const char *alg, int bits,
                            const char *group)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key = NULL;
    EVP_PKEY *pk;

    ck_assert_int_eq(sacme_key_generate(unit_pool, type, &key, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(sacme_key_type(key), type);
    pk = sacme_key_evp(key);
    ck_assert(EVP_PKEY_is_a(pk, alg));
    ck_assert_int_eq(EVP_PKEY_get_bits(pk), bits);
    if (group) {
        ck_assert_str_eq(group_of(pk), group);
    }
}

START_TEST(generate_ec)
{
    check_generated(SACME_KEY_P256, "EC", 256, "prime256v1");
    check_generated(SACME_KEY_P384, "EC", 384, "secp384r1");
}
END_TEST

START_TEST(generate_rsa)
{
    check_generated(SACME_KEY_RSA2048, "RSA", 2048, NULL);
    check_generated(SACME_KEY_RSA3072, "RSA", 3072, NULL);
    check_generated(SACME_KEY_RSA4096, "RSA", 4096, NULL);
}
END_TEST

START_TEST(generate_none_refused)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key = NULL;

    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_NONE, &key, res), APR_EINVAL);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(res->detail);
}
END_TEST

static void save_load(sacme_key_type_t type)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/",
                                   sacme_key_type_name(type), ".pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key, *loaded;
    struct stat st;

    ck_assert_int_eq(sacme_key_generate(unit_pool, type, &key, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_key_save(key, path, unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);

    ck_assert_int_eq(sacme_key_load(unit_pool, path, &loaded, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_key_type(loaded), type);
    ck_assert_int_eq(EVP_PKEY_eq(sacme_key_evp(key), sacme_key_evp(loaded)), 1);
    ck_assert(sacme_key_same_public(key, sacme_key_evp(loaded)));
    /* The private half survives too: the PEM is byte-identical. */
    ck_assert_str_eq(sacme_key_to_pem(key, unit_pool), sacme_key_to_pem(loaded, unit_pool));
}

START_TEST(save_load_ec)
{
    save_load(SACME_KEY_P256);
    save_load(SACME_KEY_P384);
}
END_TEST

START_TEST(save_load_rsa)
{
    save_load(SACME_KEY_RSA2048);
}
END_TEST

START_TEST(pem_round_trip)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key, *back, *other;
    const char *pem;

    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &key, res), APR_SUCCESS);
    pem = sacme_key_to_pem(key, unit_pool);
    ck_assert_ptr_nonnull(pem);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    ck_assert_int_eq(sacme_key_from_pem(unit_pool, pem, strlen(pem), &back, res),
                     APR_SUCCESS);
    ck_assert(sacme_key_same_public(key, sacme_key_evp(back)));

    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &other, res),
                     APR_SUCCESS);
    ck_assert(!sacme_key_same_public(key, sacme_key_evp(other)));
    ck_assert(!sacme_key_same_public(key, NULL));
}
END_TEST

START_TEST(load_junk_fails)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/junk.pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key = NULL;
    static const char junk[] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
                               "-----END PRIVATE KEY-----\n";

    ck_assert_int_eq(sacme_file_write_atomic(path, junk, strlen(junk),
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_ne(sacme_key_load(unit_pool, path, &key, res), APR_SUCCESS);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_ptr_nonnull(strstr(res->detail, path));

    ck_assert_int_eq(sacme_file_write_atomic(path, "hello", 5,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_ne(sacme_key_load(unit_pool, path, &key, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
}
END_TEST

START_TEST(load_missing_fails)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/missing.pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key = NULL;
    apr_status_t rv;

    rv = sacme_key_load(unit_pool, path, &key, res);
    ck_assert(APR_STATUS_IS_ENOENT(rv));
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
}
END_TEST

START_TEST(save_replaces_atomically)
{
    const char *dir = unit_tmpdir();
    const char *path = apr_pstrcat(unit_pool, dir, "/account.pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key, *loaded;
    apr_dir_t *d;
    apr_finfo_t fi;
    char *data;
    apr_size_t len;
    int entries = 0;
    struct stat st;

    ck_assert_int_eq(sacme_file_write_atomic(path, "old content", 11,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE
                                             | APR_FPROT_GREAD | APR_FPROT_WREAD,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &key, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_key_save(key, path, unit_pool, res), APR_SUCCESS);

    ck_assert_int_eq(sacme_file_read(path, 65536, unit_pool, &data, &len, res), APR_SUCCESS);
    ck_assert_ptr_null(strstr(data, "old content"));
    ck_assert_str_eq(data, sacme_key_to_pem(key, unit_pool));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(sacme_key_load(unit_pool, path, &loaded, res), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_eq(sacme_key_evp(key), sacme_key_evp(loaded)), 1);

    /* Only the key file: no temp file left behind. */
    ck_assert_int_eq(apr_dir_open(&d, dir, unit_pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
            ck_assert_str_eq(fi.name, "account.pem");
            ++entries;
        }
    }
    apr_dir_close(d);
    ck_assert_int_eq(entries, 1);
}
END_TEST

Suite *unit_suite_key(void)
{
    Suite *s = suite_create("key");
    TCase *tc = tcase_create("key");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    /* RSA 4096 generation takes seconds, more under the sanitizers. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, type_parse_names);
    tcase_add_test(tc, generate_ec);
    tcase_add_test(tc, generate_rsa);
    tcase_add_test(tc, generate_none_refused);
    tcase_add_test(tc, save_load_ec);
    tcase_add_test(tc, save_load_rsa);
    tcase_add_test(tc, pem_round_trip);
    tcase_add_test(tc, load_junk_fails);
    tcase_add_test(tc, load_missing_fails);
    tcase_add_test(tc, save_replaces_atomically);
    suite_add_tcase(s, tc);
    return s;
}
