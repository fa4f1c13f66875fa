/* Private keys: account keys and certificate keys.
 *
 * Types are the ones CAs accept and admins ask for: EC P-256 (the default,
 * as certbot >= 2.0, lego and Caddy), P-384, RSA 2048/3072/4096. Keys are
 * stored as unencrypted PKCS#8 PEM in files of mode 0600.
 */
#ifndef SACME_KEY_H
#define SACME_KEY_H

#include <openssl/evp.h>
#include "sacme.h"
#include "sacme_result.h"

typedef enum {
    SACME_KEY_NONE = 0,
    SACME_KEY_P256,
    SACME_KEY_P384,
    SACME_KEY_RSA2048,
    SACME_KEY_RSA3072,
    SACME_KEY_RSA4096
} sacme_key_type_t;

#define SACME_KEY_DEFAULT SACME_KEY_P256

typedef struct sacme_key_t sacme_key_t;

/* "p256", "p384", "rsa2048", "rsa3072", "rsa4096" (case-insensitive; also
 * "P-256", "P-384", "secp384r1", "prime256v1"). APR_EINVAL if unknown. */
apr_status_t sacme_key_type_parse(const char *s, sacme_key_type_t *type);

/* The canonical name ("p256", ...), "none" for SACME_KEY_NONE. */
const char *sacme_key_type_name(sacme_key_type_t type);

/* The signature algorithm a key type's certificate is chosen by in a TLS
 * handshake: "ECDSA" or "RSA" (NULL for SACME_KEY_NONE). A server holds one
 * certificate per algorithm, so two key types of one domain must differ. */
const char *sacme_key_type_alg(sacme_key_type_t type);

/* A comma-separated list of accepted names, for error messages. */
const char *sacme_key_type_names(void);

/* Generates a fresh key; the key is freed with the pool. */
apr_status_t sacme_key_generate(apr_pool_t *p, sacme_key_type_t type,
                                sacme_key_t **pkey, sacme_result_t *res);

/* Takes ownership of an EVP_PKEY (freed with the pool). Keys of a type
 * outside sacme_key_type_t are accepted with type SACME_KEY_NONE. */
sacme_key_t *sacme_key_wrap(apr_pool_t *p, EVP_PKEY *pk);

EVP_PKEY *sacme_key_evp(const sacme_key_t *key);
sacme_key_type_t sacme_key_type(const sacme_key_t *key);
/* What type a key is, from its algorithm and size (SACME_KEY_NONE when it
 * is none of ours); public keys too, e.g. a certificate's. */
sacme_key_type_t sacme_key_type_of(EVP_PKEY *pk);

/* PEM (PKCS#8, unencrypted) in and out. */
apr_status_t sacme_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len,
                                sacme_key_t **pkey, sacme_result_t *res);
const char *sacme_key_to_pem(const sacme_key_t *key, apr_pool_t *p);

/* Load from / save to a file; saving is atomic and durable with mode 0600. */
apr_status_t sacme_key_load(apr_pool_t *p, const char *path,
                            sacme_key_t **pkey, sacme_result_t *res);
apr_status_t sacme_key_save(const sacme_key_t *key, const char *path,
                            apr_pool_t *p, sacme_result_t *res);

/* True when both hold the same public key. */
int sacme_key_same_public(const sacme_key_t *a, EVP_PKEY *b);

#endif /* SACME_KEY_H */
