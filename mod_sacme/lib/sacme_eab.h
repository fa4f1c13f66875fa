/* External Account Binding (RFC 8555 §7.3.4): the account key's JWK signed
 * with a MAC key the CA issued out of band (Sectigo SCM's "HMAC key").
 *
 * The HMAC key is a secret: it lives in memory only; no function here logs
 * it, and sacme_eab_t never serialises it.
 */
#ifndef SACME_EAB_H
#define SACME_EAB_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_key.h"
#include "sacme_result.h"

typedef enum {
    SACME_HMAC_HS256 = 0,   /* the default, what every CA accepts */
    SACME_HMAC_HS384,
    SACME_HMAC_HS512
} sacme_hmac_alg_t;

typedef struct sacme_eab_t {
    const char *kid;              /* key identifier, as issued */
    const unsigned char *hmac;    /* decoded MAC key bytes */
    apr_size_t hmac_len;
    sacme_hmac_alg_t alg;
} sacme_eab_t;

/* "HS256" / "HS384" / "HS512" (case-insensitive). */
apr_status_t sacme_hmac_alg_parse(const char *s, sacme_hmac_alg_t *alg);
const char *sacme_hmac_alg_name(sacme_hmac_alg_t alg);

/* Builds an EAB from the strings an admin configures: the HMAC key is
 * decoded leniently (base64url or base64, padded or not). On a key that does
 * not decode, APR_EINVAL with a message that never repeats the key. */
apr_status_t sacme_eab_make(apr_pool_t *p, const char *kid,
                            const char *hmac_b64, sacme_hmac_alg_t alg,
                            sacme_eab_t **eab, sacme_result_t *res);

/* HMAC signature (base64url) over a JWS signing input. */
apr_status_t sacme_eab_sign_input(apr_pool_t *p, sacme_hmac_alg_t alg,
                                  const unsigned char *key, apr_size_t key_len,
                                  const char *signing_input,
                                  const char **sig_b64, sacme_result_t *res);

/* The externalAccountBinding member of a newAccount payload: a flattened JWS
 * with protected {"alg","kid","url"} over the account key's JWK. */
apr_status_t sacme_eab_jws(apr_pool_t *p, const sacme_eab_t *eab,
                           const sacme_key_t *account_key,
                           const char *new_account_url, json_t **jws,
                           sacme_result_t *res);

#endif /* SACME_EAB_H */
