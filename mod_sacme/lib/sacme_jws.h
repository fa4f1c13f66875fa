/* JOSE for ACME: JWK of an account key, RFC 7638 thumbprints, and JWS in
 * the flattened JSON serialisation (RFC 7515 §7.2.2, RFC 8555 §6.2).
 *
 * Account keys sign with ES256 (P-256), ES384 (P-384) or RS256 (RSA).
 * ECDSA signatures are the fixed-size R||S form JOSE requires, not DER.
 */
#ifndef SACME_JWS_H
#define SACME_JWS_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_key.h"
#include "sacme_result.h"

/* "ES256", "ES384" or "RS256"; NULL for a key that cannot sign JWS. */
const char *sacme_jws_alg(const sacme_key_t *key);

/* The public JWK: {"crv","kty","x","y"} or {"e","kty","n"}. Owned by p. */
json_t *sacme_jwk_make(const sacme_key_t *key, apr_pool_t *p);

/* RFC 7638 thumbprint (SHA-256, base64url) of a JWK / of a key's JWK. */
const char *sacme_jwk_thumbprint_of(const json_t *jwk, apr_pool_t *p);
const char *sacme_jwk_thumbprint(const sacme_key_t *key, apr_pool_t *p);

/* Signs "signing_input" (ASCII "b64(protected).b64(payload)") with key and
 * returns the base64url signature. This is the primitive the RFC 7515
 * vectors test. */
apr_status_t sacme_jws_sign_input(apr_pool_t *p, const sacme_key_t *key,
                                  const char *signing_input,
                                  const char **sig_b64, sacme_result_t *res);

/* Verifies a base64url signature over signing_input with key's public half
 * (tests use it; the engine never needs to verify). APR_SUCCESS when valid. */
apr_status_t sacme_jws_verify_input(apr_pool_t *p, const sacme_key_t *key,
                                    const char *signing_input,
                                    const char *sig_b64);

/* Builds a flattened JWS {"protected","payload","signature"}.
 * header: the protected header members (url, nonce, kid or jwk); "alg" is
 * added from the key. payload: the payload bytes; NULL means the empty
 * payload of a POST-as-GET (RFC 8555 §6.3). The result is owned by p. */
apr_status_t sacme_jws_make(apr_pool_t *p, const sacme_key_t *key,
                            json_t *header, const char *payload,
                            apr_size_t payload_len, json_t **jws,
                            sacme_result_t *res);

/* The key authorization of a challenge token (RFC 8555 §8.1). */
const char *sacme_key_authorization(apr_pool_t *p, const char *token,
                                    const sacme_key_t *account_key);

#endif /* SACME_JWS_H */
