/* JOSE for ACME: JWK, RFC 7638 thumbprints and flattened JWS.
 *
 * Only what ACME account keys need: ES256, ES384 and RS256. Everything goes
 * through OpenSSL 3's provider-neutral EVP API (no EC_KEY / RSA structs), so
 * keys from any provider work the same way. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "sacme_ossl.h"
#include "sacme_jws.h"
#include "sacme_b64.h"
#include "sacme_json.h"

/* What a key signs with. coord_len is the byte length of one EC field
 * element (and so of R and S), 0 for RSA. */
typedef struct {
    const char *alg;
    const char *md;
    const char *crv;
    apr_size_t coord_len;
} jws_alg_t;

static const jws_alg_t ALG_ES256 = { "ES256", "SHA256", "P-256", 32 };
static const jws_alg_t ALG_ES384 = { "ES384", "SHA384", "P-384", 48 };
static const jws_alg_t ALG_RS256 = { "RS256", "SHA256", NULL, 0 };

/* Decided from the key itself rather than sacme_key_type(), so an RSA key of
 * an unusual size still signs RS256 (the CA decides whether it is big
 * enough), while EC curves outside JOSE-for-ACME (P-521: ES512) stay out. */
static const jws_alg_t *alg_of(const sacme_key_t *key)
{
    EVP_PKEY *pk = key ? sacme_key_evp(key) : NULL;
    char group[64];
    size_t glen = 0;

    if (!pk) {
        return NULL;
    }
    if (EVP_PKEY_is_a(pk, "RSA")) {
        return &ALG_RS256;
    }
    if (EVP_PKEY_is_a(pk, "EC")
        && EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), &glen)) {
        if (!strcmp(group, "prime256v1")) {
            return &ALG_ES256;
        }
        if (!strcmp(group, "secp384r1")) {
            return &ALG_ES384;
        }
    }
    return NULL;
}

const char *sacme_jws_alg(const sacme_key_t *key)
{
    const jws_alg_t *a = alg_of(key);
    return a ? a->alg : NULL;
}

/* A BIGNUM parameter of the key as base64url. pad > 0 left-pads to exactly
 * pad bytes (EC coordinates, RFC 7518 §6.2.1.2); pad == 0 gives the minimal
 * big-endian form without leading zeros (RSA n and e, RFC 7518 §6.3.1). */
static const char *bn_param_b64(apr_pool_t *p, EVP_PKEY *pk, const char *name,
                                apr_size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int n;
    const char *s = NULL;

    if (!EVP_PKEY_get_bn_param(pk, name, &bn)) {
        return NULL;
    }
    n = BN_num_bytes(bn);
    if (pad > 0 && (apr_size_t)n > pad) {
        goto leave;
    }
    buf = apr_palloc(p, pad > 0 ? pad : (apr_size_t)n + 1);
    if (pad > 0) {
        if (BN_bn2binpad(bn, buf, (int)pad) != (int)pad) {
            goto leave;
        }
        s = sacme_b64url_encode(p, buf, pad);
    }
    else {
        n = BN_bn2bin(bn, buf);
        s = sacme_b64url_encode(p, buf, (apr_size_t)n);
    }
leave:
    BN_free(bn);
    return s;
}

json_t *sacme_jwk_make(const sacme_key_t *key, apr_pool_t *p)
{
    const jws_alg_t *a = alg_of(key);
    EVP_PKEY *pk;
    json_t *jwk;

    if (!a) {
        return NULL;
    }
    pk = sacme_key_evp(key);
    if (a->coord_len > 0) {
        const char *x = bn_param_b64(p, pk, OSSL_PKEY_PARAM_EC_PUB_X, a->coord_len);
        const char *y = bn_param_b64(p, pk, OSSL_PKEY_PARAM_EC_PUB_Y, a->coord_len);
        if (!x || !y) {
            return NULL;
        }
        jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", a->crv,
                        "x", x, "y", y);
    }
    else {
        const char *n = bn_param_b64(p, pk, OSSL_PKEY_PARAM_RSA_N, 0);
        const char *e = bn_param_b64(p, pk, OSSL_PKEY_PARAM_RSA_E, 0);
        if (!n || !e) {
            return NULL;
        }
        jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", n, "e", e);
    }
    return sacme_json_own(p, jwk);
}

/* Copies the string member name of src into dst; false when missing. */
static int copy_member(json_t *dst, const json_t *src, const char *name)
{
    const char *v = sacme_json_str(src, name);
    return v && json_object_set_new(dst, name, json_string(v)) == 0;
}

const char *sacme_jwk_thumbprint_of(const json_t *jwk, apr_pool_t *p)
{
    const char *kty = sacme_json_str(jwk, "kty"), *canon = NULL, *out = NULL;
    json_t *req = json_object();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = 0;

    /* RFC 7638 §3.2: only the required members take part, so "alg", "kid"
     * or private members in the input do not change the thumbprint. */
    if (req && kty && !strcmp(kty, "EC")) {
        ok = copy_member(req, jwk, "crv") && copy_member(req, jwk, "kty")
             && copy_member(req, jwk, "x") && copy_member(req, jwk, "y");
    }
    else if (req && kty && !strcmp(kty, "RSA")) {
        ok = copy_member(req, jwk, "e") && copy_member(req, jwk, "kty")
             && copy_member(req, jwk, "n");
    }
    if (ok) {
        /* Compact with sorted keys is exactly RFC 7638's canonical form for
         * these members: all values are base64url or fixed ASCII names, so
         * no escaping question arises. */
        canon = sacme_json_dump(p, req);
    }
    if (canon && EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL)) {
        out = sacme_b64url_encode(p, md, mdlen);
    }
    json_decref(req);
    return out;
}

const char *sacme_jwk_thumbprint(const sacme_key_t *key, apr_pool_t *p)
{
    json_t *jwk = sacme_jwk_make(key, p);
    return jwk ? sacme_jwk_thumbprint_of(jwk, p) : NULL;
}

/* DER ECDSA-Sig-Value to JOSE's R||S, each left-padded to coord_len
 * (RFC 7518 §3.4). */
static int der_to_raw(const unsigned char *der, size_t derlen,
                      unsigned char *raw, apr_size_t coord_len)
{
    const unsigned char *q = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
    const BIGNUM *r, *s;
    int ok;

    if (!sig) {
        return 0;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, raw, (int)coord_len) == (int)coord_len
         && BN_bn2binpad(s, raw + coord_len, (int)coord_len) == (int)coord_len;
    ECDSA_SIG_free(sig);
    return ok;
}

apr_status_t sacme_jws_sign_input(apr_pool_t *p, const sacme_key_t *key,
                                  const char *signing_input,
                                  const char **sig_b64, sacme_result_t *res)
{
    const jws_alg_t *a = alg_of(key);
    EVP_MD_CTX *ctx = NULL;
    unsigned char *sig = NULL, *raw;
    size_t siglen = 0;
    apr_status_t rv = APR_EGENERAL;

    if (!a) {
        return sacme_result_set(res, APR_ENOTIMPL,
                                "the key cannot sign a JWS (supported: EC P-256, "
                                "EC P-384, RSA)");
    }
    if (!signing_input) {
        return sacme_result_set(res, APR_EINVAL, "nothing to sign");
    }
    ctx = EVP_MD_CTX_new();
    /* For RSA keys the default padding is PKCS#1 v1.5, which is RS256. */
    if (!ctx
        || EVP_DigestSignInit_ex(ctx, NULL, a->md, NULL, NULL,
                                 sacme_key_evp(key), NULL) != 1
        || EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)signing_input,
                          strlen(signing_input)) != 1) {
        sacme_result_set(res, rv, "%s signing failed: %s", a->alg, sacme_ossl_errors(p));
        goto leave;
    }
    sig = apr_palloc(p, siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)signing_input,
                       strlen(signing_input)) != 1) {
        sacme_result_set(res, rv, "%s signing failed: %s", a->alg, sacme_ossl_errors(p));
        goto leave;
    }
    if (a->coord_len > 0) {
        raw = apr_palloc(p, 2 * a->coord_len);
        if (!der_to_raw(sig, siglen, raw, a->coord_len)) {
            sacme_result_set(res, rv, "%s: cannot convert the ECDSA signature: %s",
                             a->alg, sacme_ossl_errors(p));
            goto leave;
        }
        sig = raw;
        siglen = 2 * a->coord_len;
    }
    *sig_b64 = sacme_b64url_encode(p, sig, siglen);
    rv = APR_SUCCESS;
leave:
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* JOSE R||S back to DER for OpenSSL's verifier. Returns the length, 0 on
 * error; *der is allocated by OpenSSL. */
static int raw_to_der(const unsigned char *raw, apr_size_t coord_len,
                      unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coord_len, NULL);
    BIGNUM *s = BN_bin2bn(raw + coord_len, (int)coord_len, NULL);
    int len = 0;

    if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL;           /* owned by sig now */
        *der = NULL;
        len = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return len > 0 ? len : 0;
}

apr_status_t sacme_jws_verify_input(apr_pool_t *p, const sacme_key_t *key,
                                    const char *signing_input,
                                    const char *sig_b64)
{
    const jws_alg_t *a = alg_of(key);
    unsigned char *sig, *der = NULL;
    apr_size_t siglen;
    EVP_MD_CTX *ctx;
    apr_status_t rv = APR_EGENERAL;
    int derlen;

    if (!a || !signing_input) {
        return APR_EINVAL;
    }
    if (sacme_b64url_decode(p, sig_b64, &sig, &siglen) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (a->coord_len > 0) {
        if (siglen != 2 * a->coord_len
            || (derlen = raw_to_der(sig, a->coord_len, &der)) == 0) {
            return APR_EGENERAL;
        }
        sig = der;
        siglen = (apr_size_t)derlen;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx
        && EVP_DigestVerifyInit_ex(ctx, NULL, a->md, NULL, NULL,
                                   sacme_key_evp(key), NULL) == 1
        && EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)signing_input,
                            strlen(signing_input)) == 1) {
        rv = APR_SUCCESS;
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ERR_clear_error();      /* a bad signature is an answer, not an error */
    return rv;
}

apr_status_t sacme_jws_make(apr_pool_t *p, const sacme_key_t *key,
                            json_t *header, const char *payload,
                            apr_size_t payload_len, json_t **jws,
                            sacme_result_t *res)
{
    const char *alg = sacme_jws_alg(key), *hdr, *prot_b64, *payload_b64, *sig;
    json_t *prot;
    apr_status_t rv;

    if (!alg) {
        return sacme_result_set(res, APR_ENOTIMPL,
                                "the key cannot sign a JWS (supported: EC P-256, "
                                "EC P-384, RSA)");
    }
    if (!json_is_object(header)) {
        return sacme_result_set(res, APR_EINVAL, "JWS protected header is not an object");
    }
    /* A copy, so the caller's header object stays as it gave it to us. */
    prot = json_copy(header);
    if (!prot || json_object_set_new(prot, "alg", json_string(alg)) != 0) {
        json_decref(prot);
        return sacme_result_set(res, APR_ENOMEM, "cannot build the JWS header");
    }
    hdr = sacme_json_dump(p, prot);
    json_decref(prot);
    if (!hdr) {
        return sacme_result_set(res, APR_ENOMEM, "cannot serialise the JWS header");
    }
    prot_b64 = sacme_b64url_encode(p, (const unsigned char *)hdr, strlen(hdr));
    /* POST-as-GET (RFC 8555 §6.3) signs the empty payload "", not "{}". */
    payload_b64 = payload
        ? sacme_b64url_encode(p, (const unsigned char *)payload, payload_len) : "";

    rv = sacme_jws_sign_input(p, key, apr_pstrcat(p, prot_b64, ".", payload_b64, NULL),
                              &sig, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *jws = sacme_json_own(p, json_pack("{s:s, s:s, s:s}", "protected", prot_b64,
                                       "payload", payload_b64, "signature", sig));
    if (!*jws) {
        return sacme_result_set(res, APR_ENOMEM, "cannot build the JWS");
    }
    return APR_SUCCESS;
}

const char *sacme_key_authorization(apr_pool_t *p, const char *token,
                                    const sacme_key_t *account_key)
{
    const char *tp = sacme_jwk_thumbprint(account_key, p);

    if (!token || !tp) {
        return NULL;
    }
    return apr_pstrcat(p, token, ".", tp, NULL);
}
