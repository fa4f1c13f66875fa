/* Unit tests: sacme_eab (HMAC JWS, key decoding, no key in messages). */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_b64.h"
#include "sacme_eab.h"
#include "sacme_json.h"
#include "sacme_jws.h"

/* RFC 7515 A.1: the HMAC key ("k" of the JWK), the exact signing input and
 * the HS256 signature the RFC prints. */
#define A1_K \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_INPUT \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" \
    "." \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define A1_HS256 "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

/* Same key and input with SHA-384 / SHA-512, computed independently with
 * `openssl dgst -sha384 -mac HMAC -macopt hexkey:...` and Python's hmac. */
#define A1_HS384 "azVX8-2q_DEdR5zRuXcG0qXAudGzchZHmWo-uKNQi_S5q9lpGrlH7hnDyIKEhZmX"
#define A1_HS512 \
    "MNHB8V8aB0FknfHyFENJHJkpilOknuKGNCH5xJc_m1eUHtYzi0zNjSqbQ5IK9BYQb9_dyIzws4Zjt3AcsuKZAg"

#define NEW_ACCOUNT "https://ca.example/acme/new-acct"

static unsigned char *b64(const char *s, apr_size_t *len)
{
    unsigned char *out;
    ck_assert_msg(sacme_b64url_decode(unit_pool, s, &out, len) == APR_SUCCESS,
                  "not base64url: %s", s);
    return out;
}

START_TEST(rfc7515_a1_hs256)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t klen;
    unsigned char *k = b64(A1_K, &klen);
    const char *sig = NULL;

    ck_assert_uint_eq(klen, 64);
    ck_assert_int_eq(sacme_eab_sign_input(unit_pool, SACME_HMAC_HS256, k, klen, A1_INPUT,
                                          &sig, res), APR_SUCCESS);
    ck_assert_str_eq(sig, A1_HS256);
}
END_TEST

START_TEST(hs384_hs512)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t klen;
    unsigned char *k = b64(A1_K, &klen);
    const char *sig = NULL;

    ck_assert_int_eq(sacme_eab_sign_input(unit_pool, SACME_HMAC_HS384, k, klen, A1_INPUT,
                                          &sig, res), APR_SUCCESS);
    ck_assert_str_eq(sig, A1_HS384);
    ck_assert_int_eq(sacme_eab_sign_input(unit_pool, SACME_HMAC_HS512, k, klen, A1_INPUT,
                                          &sig, res), APR_SUCCESS);
    ck_assert_str_eq(sig, A1_HS512);
}
END_TEST

START_TEST(sign_input_refuses)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *sig = NULL;
    static const unsigned char k[] = { 1, 2, 3 };

    ck_assert_int_eq(sacme_eab_sign_input(unit_pool, SACME_HMAC_HS256, k, 0, "a.b",
                                          &sig, res), APR_EINVAL);
    ck_assert_int_eq(sacme_eab_sign_input(unit_pool, (sacme_hmac_alg_t)7, k, sizeof(k),
                                          "a.b", &sig, res), APR_EINVAL);
    ck_assert_ptr_null(sig);
}
END_TEST

START_TEST(hmac_alg_parse_name)
{
    sacme_hmac_alg_t alg;

    ck_assert_int_eq(sacme_hmac_alg_parse("HS256", &alg), APR_SUCCESS);
    ck_assert_int_eq(alg, SACME_HMAC_HS256);
    ck_assert_int_eq(sacme_hmac_alg_parse("hs384", &alg), APR_SUCCESS);
    ck_assert_int_eq(alg, SACME_HMAC_HS384);
    ck_assert_int_eq(sacme_hmac_alg_parse("Hs512", &alg), APR_SUCCESS);
    ck_assert_int_eq(alg, SACME_HMAC_HS512);
    ck_assert_int_eq(sacme_hmac_alg_parse("HS1", &alg), APR_EINVAL);
    ck_assert_int_eq(sacme_hmac_alg_parse("RS256", &alg), APR_EINVAL);
    ck_assert_int_eq(sacme_hmac_alg_parse("HS256 ", &alg), APR_EINVAL);
    ck_assert_int_eq(sacme_hmac_alg_parse("", &alg), APR_EINVAL);
    ck_assert_int_eq(sacme_hmac_alg_parse(NULL, &alg), APR_EINVAL);

    ck_assert_str_eq(sacme_hmac_alg_name(SACME_HMAC_HS256), "HS256");
    ck_assert_str_eq(sacme_hmac_alg_name(SACME_HMAC_HS384), "HS384");
    ck_assert_str_eq(sacme_hmac_alg_name(SACME_HMAC_HS512), "HS512");
    ck_assert_ptr_null(sacme_hmac_alg_name((sacme_hmac_alg_t)42));
}
END_TEST

static const EVP_MD *md_of(sacme_hmac_alg_t alg)
{
    switch (alg) {
    case SACME_HMAC_HS384: return EVP_sha384();
    case SACME_HMAC_HS512: return EVP_sha512();
    default:               return EVP_sha256();
    }
}

static void check_eab_jws(sacme_hmac_alg_t alg, sacme_key_type_t type)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key;
    sacme_eab_t *eab;
    json_t *jws = NULL, *prot, *payload;
    const char *text, *input;
    unsigned char *sig, mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    apr_size_t len, siglen;

    ck_assert_int_eq(sacme_key_generate(unit_pool, type, &key, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-1234", A1_K, alg, &eab, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_eab_jws(unit_pool, eab, key, NEW_ACCOUNT, &jws, res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(jws);
    ck_assert_uint_eq(json_object_size(jws), 3);

    /* Protected header: exactly alg, kid and url (RFC 8555 §7.3.4). */
    text = (const char *)b64(sacme_json_str(jws, "protected"), &len);
    prot = sacme_json_parse(unit_pool, text, len, 0, res);
    ck_assert_ptr_nonnull(prot);
    ck_assert_uint_eq(json_object_size(prot), 3);
    ck_assert_str_eq(sacme_json_str(prot, "alg"), sacme_hmac_alg_name(alg));
    ck_assert_str_eq(sacme_json_str(prot, "kid"), "kid-1234");
    ck_assert_str_eq(sacme_json_str(prot, "url"), NEW_ACCOUNT);

    /* Payload: the account key's public JWK. */
    text = (const char *)b64(sacme_json_str(jws, "payload"), &len);
    payload = sacme_json_parse(unit_pool, text, len, 0, res);
    ck_assert_ptr_nonnull(payload);
    ck_assert(json_equal(payload, sacme_jwk_make(key, unit_pool)));

    /* Signature: HMAC over protected.payload with the decoded key,
     * recomputed here through OpenSSL's one-shot HMAC(). */
    input = apr_pstrcat(unit_pool, sacme_json_str(jws, "protected"), ".",
                        sacme_json_str(jws, "payload"), NULL);
    ck_assert_ptr_nonnull(HMAC(md_of(alg), eab->hmac, (int)eab->hmac_len,
                               (const unsigned char *)input, strlen(input), mac, &maclen));
    sig = b64(sacme_json_str(jws, "signature"), &siglen);
    ck_assert_uint_eq(siglen, maclen);
    ck_assert_mem_eq(sig, mac, siglen);
}

START_TEST(eab_jws_structure)
{
    check_eab_jws(SACME_HMAC_HS256, SACME_KEY_P256);
    check_eab_jws(SACME_HMAC_HS384, SACME_KEY_P384);
    check_eab_jws(SACME_HMAC_HS512, SACME_KEY_P256);
    check_eab_jws(SACME_HMAC_HS256, SACME_KEY_RSA2048);
}
END_TEST

START_TEST(eab_jws_refuses)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_key_t *key;
    sacme_eab_t *eab;
    json_t *jws = NULL;

    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &key, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid", A1_K, SACME_HMAC_HS256, &eab, res),
                     APR_SUCCESS);
    ck_assert_int_ne(sacme_eab_jws(unit_pool, eab, key, NULL, &jws, res), APR_SUCCESS);
    ck_assert_int_ne(sacme_eab_jws(unit_pool, NULL, key, NEW_ACCOUNT, &jws, res),
                     APR_SUCCESS);
    ck_assert_ptr_null(jws);
}
END_TEST

/* Standard base64 with padding, built independently of sacme_b64. */
static const char *std_b64(const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(unit_pool, (len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static const char *without(const char *s, char c)
{
    char *out = apr_pstrdup(unit_pool, s), *o = out;
    for (; *s; ++s) {
        if (*s != c) {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static const char *translate(const char *s, char from1, char to1, char from2, char to2)
{
    char *out = apr_pstrdup(unit_pool, s), *o;
    for (o = out; *o; ++o) {
        if (*o == from1) {
            *o = to1;
        }
        else if (*o == from2) {
            *o = to2;
        }
    }
    return out;
}

static void check_variants(apr_size_t keylen)
{
    unsigned char key[40];
    const char *std, *variants[8], *want = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t i;

    /* Bytes that put both 62 and 63 into the encoding ('+' '/' vs '-' '_'). */
    for (i = 0; i < keylen; ++i) {
        key[i] = (unsigned char)(i % 3 == 0 ? 0xfb : i % 3 == 1 ? 0xff : 0xbf) ^ (unsigned char)i;
    }
    std = std_b64(key, keylen);
    ck_assert_ptr_nonnull(strpbrk(std, "+"));
    ck_assert_ptr_nonnull(strpbrk(std, "/"));
    ck_assert_ptr_nonnull(strchr(std, '='));

    variants[0] = without(translate(std, '+', '-', '/', '_'), '=');  /* JOSE form */
    variants[1] = translate(std, '+', '-', '/', '_');                /* padded url */
    variants[2] = std;                                               /* std padded */
    variants[3] = without(std, '=');                                 /* std unpadded */
    variants[4] = apr_pstrcat(unit_pool, "  ", variants[0], "\n", NULL);
    variants[5] = apr_pstrcat(unit_pool, "\t", std, " \r\n", NULL);
    variants[6] = apr_pstrcat(unit_pool, " ", variants[1], NULL);
    variants[7] = apr_pstrcat(unit_pool, variants[3], "\n", NULL);
    ck_assert_str_eq(variants[0], sacme_b64url_encode(unit_pool, key, keylen));

    for (i = 0; i < SACME_ARRAY_LEN(variants); ++i) {
        sacme_eab_t *eab = NULL;
        const char *sig = NULL;

        ck_assert_msg(sacme_eab_make(unit_pool, "kid", variants[i], SACME_HMAC_HS256,
                                     &eab, res) == APR_SUCCESS,
                      "variant %d refused", (int)i);
        ck_assert_uint_eq(eab->hmac_len, keylen);
        ck_assert_mem_eq(eab->hmac, key, keylen);
        ck_assert_int_eq(sacme_eab_sign_input(unit_pool, eab->alg, eab->hmac,
                                              eab->hmac_len, A1_INPUT, &sig, res),
                         APR_SUCCESS);
        if (!want) {
            want = sig;
        }
        ck_assert_str_eq(sig, want);
    }
}

START_TEST(key_encoding_variants)
{
    check_variants(32);     /* one '=' of padding */
    check_variants(31);     /* two */
}
END_TEST

START_TEST(eab_make_fields)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    apr_size_t klen;
    unsigned char *k = b64(A1_K, &klen);

    ck_assert_int_eq(sacme_eab_make(unit_pool, "my-kid", A1_K, SACME_HMAC_HS512, &eab, res),
                     APR_SUCCESS);
    ck_assert_str_eq(eab->kid, "my-kid");
    ck_assert_int_eq(eab->alg, SACME_HMAC_HS512);
    ck_assert_uint_eq(eab->hmac_len, klen);
    ck_assert_mem_eq(eab->hmac, k, klen);
}
END_TEST

/* A refused key: APR_EINVAL, and neither the detail nor the log line nor the
 * JSON form repeats it (nor a recognisable piece of it). */
/* A refused key: APR_EINVAL with a detail that says why (contains why),
 * and neither the detail nor the log line nor the JSON form repeats the key
 * (nor any recognisable piece of it). */
static void check_bad_key(const char *key, const char *why)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    const char *msg;
    char *json_s;
    json_t *j;
    apr_size_t i;

    ck_assert_msg(sacme_eab_make(unit_pool, "kid-9", key, SACME_HMAC_HS256, &eab, res)
                  == APR_EINVAL, "key '%s' accepted", key);
    ck_assert_ptr_null(eab);
    ck_assert_int_eq(res->status, APR_EINVAL);
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_msg(strstr(res->detail, "HMAC key") && strstr(res->detail, why),
                  "detail '%s' does not say '%s'", res->detail, why);
    msg = sacme_result_message(res, unit_pool);
    j = sacme_result_to_json(res);
    json_s = json_dumps(j, 0);
    ck_assert_ptr_nonnull(json_s);
    /* Any 6-character run of the key would be a leak. */
    for (i = 0; i + 6 <= strlen(key); ++i) {
        const char *piece = apr_pstrndup(unit_pool, key + i, 6);
        ck_assert_msg(!strstr(res->detail, piece), "detail leaks the key: %s",
                      res->detail);
        ck_assert_ptr_null(strstr(msg, piece));
        ck_assert_ptr_null(strstr(json_s, piece));
    }
    free(json_s);
    json_decref(j);
}

/* 40 characters that decode: each bad key below breaks it in one way. */
#define GOOD_KEY "S3cr3tValueThatMustNeverLeak0123456789AB"

START_TEST(bad_keys_refused_without_leaking)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;

    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-9", GOOD_KEY, SACME_HMAC_HS256, &eab,
                                    res), APR_SUCCESS);
    ck_assert_uint_eq(eab->hmac_len, 30);

    check_bad_key("S3cr3tValue!hatMustNeverLeak0123456789AB", "not base64");
    check_bad_key("S3cr3tValue\xc3\xa9" "atMustNeverLeak0123456789AB", "not base64");
    check_bad_key("S3cr3tValue-hatMust+everLeak0123456789AB", "mixes");
    check_bad_key("S3cr3tValue_hatMust/everLeak0123456789AB", "mixes");
    check_bad_key("S3cr3tValueTh==MustNeverLeak0123456789AB", "padding");
    check_bad_key(GOOD_KEY "C", "length");
    check_bad_key(GOOD_KEY "=", "length");
    check_bad_key(GOOD_KEY "==AB", "padding");
    check_bad_key(GOOD_KEY "AB", "bits");
    check_bad_key("S3cr3tValue hatMustNeverLeak0123456789AB", "not base64");
    check_bad_key("", "empty");
    check_bad_key("   ", "empty");
}
END_TEST

/* An HMAC key that decodes to fewer than SACME_EAB_MIN_HMAC bytes is a key
 * cut short: refused, without repeating it; 16 bytes pass. */
START_TEST(short_hmac_refused)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;

    /* 15 bytes "0123456789abcde", base64url */
    check_bad_key("MDEyMzQ1Njc4OWFiY2Rl", "15 bytes");
    check_bad_key("c2hvcnQ", "5 bytes");
    /* 16 bytes "0123456789abcdef" */
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid", "MDEyMzQ1Njc4OWFiY2RlZg", SACME_HMAC_HS256,
                                    &eab, res), APR_SUCCESS);
    ck_assert_int_eq(eab->hmac_len, 16);
}
END_TEST

START_TEST(bad_kid_refused)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;

    ck_assert_int_eq(sacme_eab_make(unit_pool, "", A1_K, SACME_HMAC_HS256, &eab, res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "kid"));
    ck_assert_ptr_null(strstr(res->detail, A1_K));
    ck_assert_int_eq(sacme_eab_make(unit_pool, NULL, A1_K, SACME_HMAC_HS256, &eab, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid", NULL, SACME_HMAC_HS256, &eab, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid", A1_K, (sacme_hmac_alg_t)9, &eab, res),
                     APR_EINVAL);
    ck_assert_ptr_null(eab);
}
END_TEST

Suite *unit_suite_eab(void)
{
    Suite *s = suite_create("eab");
    TCase *tc = tcase_create("eab");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc7515_a1_hs256);
    tcase_add_test(tc, hs384_hs512);
    tcase_add_test(tc, sign_input_refuses);
    tcase_add_test(tc, hmac_alg_parse_name);
    tcase_add_test(tc, eab_jws_structure);
    tcase_add_test(tc, eab_jws_refuses);
    tcase_add_test(tc, key_encoding_variants);
    tcase_add_test(tc, eab_make_fields);
    tcase_add_test(tc, bad_keys_refused_without_leaking);
    tcase_add_test(tc, bad_kid_refused);
    tcase_add_test(tc, short_hmac_refused);
    suite_add_tcase(s, tc);
    return s;
}
