/* Unit tests: sacme_jws against the published JOSE vectors (RFC 7515
 * Appendix A, RFC 7638 §3.1) and the shape ACME needs (RFC 8555 §6.2). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_b64.h"
#include "sacme_json.h"
#include "sacme_jws.h"

/* RFC 7515 A.2.1: the RSA key of the RS256 example, as JWK members. */
#define A2_N \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx" \
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs" \
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH" \
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV" \
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8" \
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A2_E "AQAB"
#define A2_D \
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97I" \
    "jlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0" \
    "BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn" \
    "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYT" \
    "CBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLh" \
    "BOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
#define A2_P \
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdi" \
    "YrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPG" \
    "BY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
#define A2_Q \
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxa" \
    "ewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA" \
    "-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
#define A2_DP \
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3Q" \
    "CLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb" \
    "34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
#define A2_DQ \
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa" \
    "7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-ky" \
    "NlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
#define A2_QI \
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2o" \
    "y26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLU" \
    "W0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"

/* The example payload {"iss":"joe",\r\n "exp":1300819380,\r\n
 * "http://example.com/is_root":true}, base64url as printed in the RFC. */
#define RFC7515_PAYLOAD \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

/* A.2.1: protected header {"alg":"RS256"}; the exact signature. */
#define A2_INPUT "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD
#define A2_SIG \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZ" \
    "mh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjb" \
    "KBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHl" \
    "b1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZES" \
    "c6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AX" \
    "LIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

/* A.3.1: the P-256 key and ({"alg":"ES256"}) signature of the ES256 example. */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_INPUT "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD
#define A3_SIG \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8IS" \
    "lSApmWQxfKTUJqPP3-Kg6NU1Q"

/* A.4.1: the P-521 key of the ES512 example. */
#define A4_X \
    "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_" \
    "NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk"
#define A4_Y \
    "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDl" \
    "y79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"
#define A4_D \
    "AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPA" \
    "xerEzgdRhajnu0ferB0d53vM9mE15j2C"

/* RFC 7638 §3.1: the RSA key whose thumbprint the RFC computes. */
#define T_N \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define T_E "AQAB"
#define T_THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static unsigned char *b64(const char *s, apr_size_t *len)
{
    unsigned char *out;
    ck_assert_msg(sacme_b64url_decode(unit_pool, s, &out, len) == APR_SUCCESS,
                  "test vector is not base64url: %s", s);
    return out;
}

/* Pushes a base64url big-endian integer; the builder keeps the BIGNUM until
 * it is freed, so the caller frees it after OSSL_PARAM_BLD_to_param. */
static BIGNUM *push_bn(OSSL_PARAM_BLD *bld, const char *name, const char *s)
{
    apr_size_t len;
    unsigned char *bytes = b64(s, &len);
    BIGNUM *bn = BN_bin2bn(bytes, (int)len, NULL);

    ck_assert_ptr_nonnull(bn);
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, name, bn));
    return bn;
}

static sacme_key_t *from_params(const char *type, OSSL_PARAM_BLD *bld, int selection)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pk, selection, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return sacme_key_wrap(unit_pool, pk);
}

static sacme_key_t *rfc_rsa_key(void)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn[8];
    sacme_key_t *key;
    int i;

    bn[0] = push_bn(bld, OSSL_PKEY_PARAM_RSA_N, A2_N);
    bn[1] = push_bn(bld, OSSL_PKEY_PARAM_RSA_E, A2_E);
    bn[2] = push_bn(bld, OSSL_PKEY_PARAM_RSA_D, A2_D);
    bn[3] = push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, A2_P);
    bn[4] = push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, A2_Q);
    bn[5] = push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, A2_DP);
    bn[6] = push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, A2_DQ);
    bn[7] = push_bn(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, A2_QI);
    key = from_params("RSA", bld, EVP_PKEY_KEYPAIR);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < 8; ++i) {
        BN_free(bn[i]);
    }
    return key;
}

static sacme_key_t *ec_key(const char *group, const char *x, const char *y,
                           const char *d)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    apr_size_t xlen, ylen;
    unsigned char *xb = b64(x, &xlen), *yb = b64(y, &ylen);
    unsigned char *point = apr_palloc(unit_pool, 1 + xlen + ylen);
    BIGNUM *priv;
    sacme_key_t *key;

    /* Uncompressed point: 0x04 || X || Y (SEC 1 §2.3.3). */
    point[0] = 0x04;
    memcpy(point + 1, xb, xlen);
    memcpy(point + 1 + xlen, yb, ylen);
    ck_assert(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0));
    ck_assert(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                               1 + xlen + ylen));
    priv = push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, d);
    key = from_params("EC", bld, EVP_PKEY_KEYPAIR);
    OSSL_PARAM_BLD_free(bld);
    BN_free(priv);
    return key;
}

static sacme_key_t *rfc7638_key(void)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = push_bn(bld, OSSL_PKEY_PARAM_RSA_N, T_N);
    BIGNUM *e = push_bn(bld, OSSL_PKEY_PARAM_RSA_E, T_E);
    sacme_key_t *key = from_params("RSA", bld, EVP_PKEY_PUBLIC_KEY);

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return key;
}

static sacme_key_t *gen(sacme_key_type_t type)
{
    sacme_key_t *key;
    ck_assert_int_eq(sacme_key_generate(unit_pool, type, &key, NULL), APR_SUCCESS);
    return key;
}

START_TEST(rfc7515_a2_rs256)
{
    sacme_key_t *key = rfc_rsa_key();
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *sig = NULL;
    json_t *jwk;

    ck_assert_int_eq(sacme_key_type(key), SACME_KEY_RSA2048);
    ck_assert_str_eq(sacme_jws_alg(key), "RS256");
    /* PKCS#1 v1.5 is deterministic: the RFC's bytes, exactly. */
    ck_assert_int_eq(sacme_jws_sign_input(unit_pool, key, A2_INPUT, &sig, res), APR_SUCCESS);
    ck_assert_str_eq(sig, A2_SIG);
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, key, A2_INPUT, A2_SIG), APR_SUCCESS);

    /* The public JWK gives n and e back exactly as the RFC prints them. */
    jwk = sacme_jwk_make(key, unit_pool);
    ck_assert_ptr_nonnull(jwk);
    ck_assert_str_eq(sacme_json_str(jwk, "kty"), "RSA");
    ck_assert_str_eq(sacme_json_str(jwk, "n"), A2_N);
    ck_assert_str_eq(sacme_json_str(jwk, "e"), A2_E);
    ck_assert_uint_eq(json_object_size(jwk), 3);
}
END_TEST

START_TEST(rfc7515_a3_es256)
{
    sacme_key_t *key = ec_key("prime256v1", A3_X, A3_Y, A3_D);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *sig = NULL;
    apr_size_t len;
    json_t *jwk;

    ck_assert_int_eq(sacme_key_type(key), SACME_KEY_P256);
    ck_assert_str_eq(sacme_jws_alg(key), "ES256");
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, key, A3_INPUT, A3_SIG), APR_SUCCESS);

    /* ECDSA is randomized: sign, then check ours verifies and has the
     * fixed R||S length. */
    ck_assert_int_eq(sacme_jws_sign_input(unit_pool, key, A3_INPUT, &sig, res), APR_SUCCESS);
    ck_assert_uint_eq(strlen(sig), 86);
    b64(sig, &len);
    ck_assert_uint_eq(len, 64);
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, key, A3_INPUT, sig), APR_SUCCESS);

    /* The RFC's signature is not valid for another input or another key. */
    ck_assert_int_ne(sacme_jws_verify_input(unit_pool, key, A2_INPUT, A3_SIG), APR_SUCCESS);
    ck_assert_int_ne(sacme_jws_verify_input(unit_pool, gen(SACME_KEY_P256), A3_INPUT,
                                            A3_SIG), APR_SUCCESS);

    jwk = sacme_jwk_make(key, unit_pool);
    ck_assert_str_eq(sacme_json_str(jwk, "kty"), "EC");
    ck_assert_str_eq(sacme_json_str(jwk, "crv"), "P-256");
    ck_assert_str_eq(sacme_json_str(jwk, "x"), A3_X);
    ck_assert_str_eq(sacme_json_str(jwk, "y"), A3_Y);
    ck_assert_uint_eq(json_object_size(jwk), 4);
}
END_TEST

START_TEST(rfc7515_a4_es512_unsupported)
{
    sacme_key_t *key = ec_key("secp521r1", A4_X, A4_Y, A4_D);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *sig = NULL;
    json_t *jws = NULL, *hdr = json_pack("{s:s}", "url", "https://ca.example/acct");

    ck_assert_ptr_null(sacme_jws_alg(key));
    ck_assert_ptr_null(sacme_jwk_make(key, unit_pool));
    ck_assert_ptr_null(sacme_jwk_thumbprint(key, unit_pool));
    ck_assert_ptr_null(sacme_key_authorization(unit_pool, "token", key));
    ck_assert_int_ne(sacme_jws_sign_input(unit_pool, key, "a.b", &sig, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_int_ne(sacme_jws_make(unit_pool, key, hdr, "{}", 2, &jws, res), APR_SUCCESS);
    ck_assert_ptr_null(jws);
    json_decref(hdr);
}
END_TEST

START_TEST(rfc7638_thumbprint)
{
    sacme_key_t *key = rfc7638_key();
    json_t *jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", T_N,
                            "e", T_E, "alg", "RS256", "kid", "2011-04-29");

    ck_assert_str_eq(sacme_jwk_thumbprint(key, unit_pool), T_THUMB);
    /* Members other than the required ones do not take part. */
    ck_assert_str_eq(sacme_jwk_thumbprint_of(jwk, unit_pool), T_THUMB);
    json_decref(jwk);

    /* Not a JWK we can digest. */
    jwk = json_pack("{s:s, s:s}", "kty", "oct", "k", "AAAA");
    ck_assert_ptr_null(sacme_jwk_thumbprint_of(jwk, unit_pool));
    json_decref(jwk);
    jwk = json_pack("{s:s, s:s}", "kty", "RSA", "n", T_N);
    ck_assert_ptr_null(sacme_jwk_thumbprint_of(jwk, unit_pool));
    json_decref(jwk);
}
END_TEST

START_TEST(rfc7638_thumbprint_ec)
{
    /* The EC member set is {crv,kty,x,y}; recompute by hand. */
    sacme_key_t *key = ec_key("prime256v1", A3_X, A3_Y, A3_D);
    const char *canon = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" A3_X
                        "\",\"y\":\"" A3_Y "\"}";
    unsigned char md[32];
    unsigned int mdlen = 0;

    ck_assert(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL));
    ck_assert_str_eq(sacme_jwk_thumbprint(key, unit_pool),
                     sacme_b64url_encode(unit_pool, md, mdlen));
}
END_TEST

static void check_ec_jwk(sacme_key_type_t type, const char *crv, apr_size_t coord_chars)
{
    sacme_key_t *key = gen(type);
    json_t *jwk = sacme_jwk_make(key, unit_pool);
    const char *tp;

    ck_assert_ptr_nonnull(jwk);
    ck_assert_uint_eq(json_object_size(jwk), 4);
    ck_assert_str_eq(sacme_json_str(jwk, "kty"), "EC");
    ck_assert_str_eq(sacme_json_str(jwk, "crv"), crv);
    ck_assert_uint_eq(strlen(sacme_json_str(jwk, "x")), coord_chars);
    ck_assert_uint_eq(strlen(sacme_json_str(jwk, "y")), coord_chars);
    tp = sacme_jwk_thumbprint(key, unit_pool);
    ck_assert_uint_eq(strlen(tp), 43);
    ck_assert_str_eq(tp, sacme_jwk_thumbprint_of(jwk, unit_pool));
}

START_TEST(jwk_ec)
{
    check_ec_jwk(SACME_KEY_P256, "P-256", 43);
    check_ec_jwk(SACME_KEY_P384, "P-384", 64);
}
END_TEST

START_TEST(jwk_ec_leading_zero_padded)
{
    /* About one P-256 key in 128 has a coordinate below 2^248; such a
     * coordinate must still be sent as 32 bytes (RFC 7518 §6.2.1.2). */
    int i, found = 0;

    for (i = 0; i < 5000 && !found; ++i) {
        sacme_key_t *key = gen(SACME_KEY_P256);
        json_t *jwk = sacme_jwk_make(key, unit_pool);
        const char *x = sacme_json_str(jwk, "x"), *y = sacme_json_str(jwk, "y");
        apr_size_t len;

        ck_assert_uint_eq(strlen(x), 43);
        ck_assert_uint_eq(strlen(y), 43);
        if (b64(x, &len)[0] == 0 || b64(y, &len)[0] == 0) {
            found = 1;
        }
    }
    ck_assert_msg(found, "no P-256 key with a leading zero byte in 5000 tries");
}
END_TEST

START_TEST(jwk_rsa)
{
    sacme_key_t *key = rfc7638_key();
    json_t *jwk = sacme_jwk_make(key, unit_pool);
    apr_size_t len;

    ck_assert_ptr_nonnull(jwk);
    ck_assert_uint_eq(json_object_size(jwk), 3);
    ck_assert_str_eq(sacme_json_str(jwk, "kty"), "RSA");
    ck_assert_str_eq(sacme_json_str(jwk, "e"), "AQAB");
    ck_assert_str_eq(sacme_json_str(jwk, "n"), T_N);
    /* No leading zero byte on n, even though its top bit is set. */
    ck_assert_uint_eq(b64(sacme_json_str(jwk, "n"), &len)[0] & 0x80, 0x80);
    ck_assert_uint_eq(len, 256);
    ck_assert_str_eq(sacme_jws_alg(key), "RS256");
}
END_TEST

/* Decodes a base64url member of a JWS to text. */
static const char *member_text(json_t *jws, const char *name, apr_size_t *len)
{
    const char *v = sacme_json_str(jws, name);

    ck_assert_ptr_nonnull(v);
    return (const char *)b64(v, len);
}

static void check_make(sacme_key_t *key, const char *alg)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "url", "https://ca.example/acme/new-order",
                            "nonce", "oFvnlFP1wIhRlYS2jTaXbA",
                            "kid", "https://ca.example/acme/acct/17");
    const char *payload = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.org\"}]}";
    json_t *jws = NULL, *prot;
    const char *text, *input, *tampered;
    apr_size_t len;

    ck_assert_int_eq(sacme_jws_make(unit_pool, key, hdr, payload, strlen(payload),
                                    &jws, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(jws);
    ck_assert_uint_eq(json_object_size(jws), 3);
    /* The caller's header is not modified. */
    ck_assert_ptr_null(json_object_get(hdr, "alg"));

    text = member_text(jws, "protected", &len);
    prot = sacme_json_parse(unit_pool, text, len, 0, res);
    ck_assert_ptr_nonnull(prot);
    ck_assert_uint_eq(json_object_size(prot), 4);
    ck_assert_str_eq(sacme_json_str(prot, "alg"), alg);
    ck_assert_str_eq(sacme_json_str(prot, "url"), "https://ca.example/acme/new-order");
    ck_assert_str_eq(sacme_json_str(prot, "nonce"), "oFvnlFP1wIhRlYS2jTaXbA");
    ck_assert_str_eq(sacme_json_str(prot, "kid"), "https://ca.example/acme/acct/17");

    text = member_text(jws, "payload", &len);
    ck_assert_uint_eq(len, strlen(payload));
    ck_assert_mem_eq(text, payload, len);

    input = apr_pstrcat(unit_pool, sacme_json_str(jws, "protected"), ".",
                        sacme_json_str(jws, "payload"), NULL);
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, key, input,
                                            sacme_json_str(jws, "signature")),
                     APR_SUCCESS);

    /* Another payload under the same signature must not verify. */
    tampered = apr_pstrcat(unit_pool, sacme_json_str(jws, "protected"), ".",
                           sacme_b64url_encode(unit_pool, (const unsigned char *)"{}", 2),
                           NULL);
    ck_assert_int_ne(sacme_jws_verify_input(unit_pool, key, tampered,
                                            sacme_json_str(jws, "signature")),
                     APR_SUCCESS);
    /* Nor a garbled signature. */
    ck_assert_int_ne(sacme_jws_verify_input(unit_pool, key, input, "AAAA"), APR_SUCCESS);
    ck_assert_int_ne(sacme_jws_verify_input(unit_pool, key, input, "not base64!"),
                     APR_SUCCESS);

    /* POST-as-GET: empty payload, still signed. */
    jws = NULL;
    ck_assert_int_eq(sacme_jws_make(unit_pool, key, hdr, NULL, 0, &jws, res), APR_SUCCESS);
    ck_assert_str_eq(sacme_json_str(jws, "payload"), "");
    input = apr_pstrcat(unit_pool, sacme_json_str(jws, "protected"), ".", NULL);
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, key, input,
                                            sacme_json_str(jws, "signature")),
                     APR_SUCCESS);
    json_decref(hdr);
}

START_TEST(make_es256)
{
    check_make(gen(SACME_KEY_P256), "ES256");
}
END_TEST

START_TEST(make_es384)
{
    sacme_key_t *key = gen(SACME_KEY_P384);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *sig = NULL;
    apr_size_t len;

    check_make(key, "ES384");
    ck_assert_int_eq(sacme_jws_sign_input(unit_pool, key, "e30.e30", &sig, res),
                     APR_SUCCESS);
    b64(sig, &len);
    ck_assert_uint_eq(len, 96);
}
END_TEST

START_TEST(make_rs256)
{
    check_make(rfc_rsa_key(), "RS256");
}
END_TEST

START_TEST(make_with_jwk_header)
{
    /* newAccount carries the JWK instead of a kid (RFC 8555 §6.2). */
    sacme_key_t *key = gen(SACME_KEY_P256);
    sacme_result_t *res = sacme_result_make(unit_pool);
    json_t *hdr = json_pack("{s:s, s:s, s:O}", "url", "https://ca.example/new-acct",
                            "nonce", "n0nce", "jwk", sacme_jwk_make(key, unit_pool));
    json_t *jws = NULL, *prot;
    const char *text;
    apr_size_t len;

    ck_assert_int_eq(sacme_jws_make(unit_pool, key, hdr, "{}", 2, &jws, res), APR_SUCCESS);
    text = member_text(jws, "protected", &len);
    prot = sacme_json_parse(unit_pool, text, len, 0, res);
    ck_assert_ptr_nonnull(prot);
    ck_assert(json_equal(sacme_json_obj(prot, "jwk"), sacme_jwk_make(key, unit_pool)));
    ck_assert_ptr_null(sacme_json_str(prot, "kid"));
    json_decref(hdr);

    /* A header that is not an object is refused. */
    hdr = json_string("url");
    ck_assert_int_eq(sacme_jws_make(unit_pool, key, hdr, "{}", 2, &jws, res), APR_EINVAL);
    json_decref(hdr);
}
END_TEST

START_TEST(key_authorization)
{
    sacme_key_t *key = rfc7638_key();
    sacme_key_t *ec = gen(SACME_KEY_P256);
    const char *token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

    ck_assert_str_eq(sacme_key_authorization(unit_pool, token, key),
                     "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." T_THUMB);
    ck_assert_str_eq(sacme_key_authorization(unit_pool, token, ec),
                     apr_pstrcat(unit_pool, token, ".",
                                 sacme_jwk_thumbprint(ec, unit_pool), NULL));
}
END_TEST

Suite *unit_suite_jws(void)
{
    Suite *s = suite_create("jws");
    TCase *tc = tcase_create("rfc");
    TCase *tc2 = tcase_create("jws");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, rfc7515_a2_rs256);
    tcase_add_test(tc, rfc7515_a3_es256);
    tcase_add_test(tc, rfc7515_a4_es512_unsupported);
    tcase_add_test(tc, rfc7638_thumbprint);
    tcase_add_test(tc, rfc7638_thumbprint_ec);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tc2, unit_setup, unit_teardown);
    tcase_set_timeout(tc2, 120);
    tcase_add_test(tc2, jwk_ec);
    tcase_add_test(tc2, jwk_ec_leading_zero_padded);
    tcase_add_test(tc2, jwk_rsa);
    tcase_add_test(tc2, make_es256);
    tcase_add_test(tc2, make_es384);
    tcase_add_test(tc2, make_rs256);
    tcase_add_test(tc2, make_with_jwk_header);
    tcase_add_test(tc2, key_authorization);
    suite_add_tcase(s, tc2);
    return s;
}
