/* Private keys with OpenSSL 3's EVP API; lifetime bound to a pool. */
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "sacme_ossl.h"
#include "sacme_key.h"
#include "sacme_file.h"

struct sacme_key_t {
    EVP_PKEY *pk;
    sacme_key_type_t type;
};

static const struct {
    const char *name;
    sacme_key_type_t type;
} KEY_NAMES[] = {
    { "p256",       SACME_KEY_P256 },
    { "p-256",      SACME_KEY_P256 },
    { "prime256v1", SACME_KEY_P256 },
    { "secp256r1",  SACME_KEY_P256 },
    { "p384",       SACME_KEY_P384 },
    { "p-384",      SACME_KEY_P384 },
    { "secp384r1",  SACME_KEY_P384 },
    { "rsa2048",    SACME_KEY_RSA2048 },
    { "rsa3072",    SACME_KEY_RSA3072 },
    { "rsa4096",    SACME_KEY_RSA4096 },
};

apr_status_t sacme_key_type_parse(const char *s, sacme_key_type_t *type)
{
    apr_size_t i;

    /* Plain case-insensitive equality: a "natural" comparison would skip
     * spaces and so accept "p 256" or " rsa2048". */
    for (i = 0; s && i < SACME_ARRAY_LEN(KEY_NAMES); ++i) {
        if (!strcasecmp(s, KEY_NAMES[i].name)) {
            *type = KEY_NAMES[i].type;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *sacme_key_type_name(sacme_key_type_t type)
{
    switch (type) {
    case SACME_KEY_P256:    return "p256";
    case SACME_KEY_P384:    return "p384";
    case SACME_KEY_RSA2048: return "rsa2048";
    case SACME_KEY_RSA3072: return "rsa3072";
    case SACME_KEY_RSA4096: return "rsa4096";
    default:                return "none";
    }
}

const char *sacme_key_type_alg(sacme_key_type_t type)
{
    switch (type) {
    case SACME_KEY_P256:
    case SACME_KEY_P384:    return "ECDSA";
    case SACME_KEY_RSA2048:
    case SACME_KEY_RSA3072:
    case SACME_KEY_RSA4096: return "RSA";
    default:                return NULL;
    }
}

const char *sacme_key_type_names(void)
{
    return "p256, p384, rsa2048, rsa3072, rsa4096";
}

static apr_status_t key_cleanup(void *data)
{
    sacme_key_t *key = data;
    EVP_PKEY_free(key->pk);
    key->pk = NULL;
    return APR_SUCCESS;
}

sacme_key_type_t sacme_key_type_of(EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;

    if (EVP_PKEY_is_a(pk, "RSA")) {
        switch (EVP_PKEY_get_bits(pk)) {
        case 2048: return SACME_KEY_RSA2048;
        case 3072: return SACME_KEY_RSA3072;
        case 4096: return SACME_KEY_RSA4096;
        default:   return SACME_KEY_NONE;
        }
    }
    if (EVP_PKEY_is_a(pk, "EC")
        && EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), &glen)) {
        if (!strcmp(group, "prime256v1")) {
            return SACME_KEY_P256;
        }
        if (!strcmp(group, "secp384r1")) {
            return SACME_KEY_P384;
        }
    }
    return SACME_KEY_NONE;
}

sacme_key_t *sacme_key_wrap(apr_pool_t *p, EVP_PKEY *pk)
{
    sacme_key_t *key = apr_pcalloc(p, sizeof(*key));

    key->pk = pk;
    key->type = sacme_key_type_of(pk);
    apr_pool_cleanup_register(p, key, key_cleanup, apr_pool_cleanup_null);
    return key;
}

EVP_PKEY *sacme_key_evp(const sacme_key_t *key)
{
    return key->pk;
}

sacme_key_type_t sacme_key_type(const sacme_key_t *key)
{
    return key->type;
}

apr_status_t sacme_key_generate(apr_pool_t *p, sacme_key_type_t type,
                                sacme_key_t **pkey, sacme_result_t *res)
{
    EVP_PKEY *pk = NULL;

    switch (type) {
    case SACME_KEY_P256:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case SACME_KEY_P384:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case SACME_KEY_RSA2048:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case SACME_KEY_RSA3072:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case SACME_KEY_RSA4096:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    default:
        return sacme_result_set(res, APR_EINVAL, "cannot generate a key of type %d",
                                (int)type);
    }
    if (!pk) {
        return sacme_result_set(res, APR_EGENERAL, "generating a %s key failed: %s",
                                sacme_key_type_name(type), sacme_ossl_errors(p));
    }
    *pkey = sacme_key_wrap(p, pk);
    return APR_SUCCESS;
}

apr_status_t sacme_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len,
                                sacme_key_t **pkey, sacme_result_t *res)
{
    BIO *bio;
    EVP_PKEY *pk;

    if (len > INT_MAX) {
        return sacme_result_set(res, APR_EINVAL, "key PEM too large");
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        return sacme_result_set(res, APR_ENOMEM, "out of memory reading a key");
    }
    /* No password callback: our keys are never encrypted, and OpenSSL must
     * not prompt on a terminal inside httpd. */
    pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (!pk) {
        return sacme_result_set(res, APR_EINVAL, "not a PEM private key: %s",
                                sacme_ossl_errors(p));
    }
    *pkey = sacme_key_wrap(p, pk);
    return APR_SUCCESS;
}

const char *sacme_key_to_pem(const sacme_key_t *key, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *pem = NULL;
    char *data;
    long n;

    if (!bio) {
        return NULL;
    }
    if (PEM_write_bio_PrivateKey(bio, key->pk, NULL, NULL, 0, NULL, NULL)) {
        n = BIO_get_mem_data(bio, &data);
        pem = apr_pstrndup(p, data, (apr_size_t)n);
    }
    BIO_free(bio);
    return pem;
}

apr_status_t sacme_key_load(apr_pool_t *p, const char *path,
                            sacme_key_t **pkey, sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_file_read(path, 64 * 1024, p, &data, &len, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_key_from_pem(p, data, len, pkey, res);
    OPENSSL_cleanse(data, len);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "%s", path);
    }
    return rv;
}

apr_status_t sacme_key_save(const sacme_key_t *key, const char *path,
                            apr_pool_t *p, sacme_result_t *res)
{
    const char *pem = sacme_key_to_pem(key, p);

    if (!pem) {
        return sacme_result_set(res, APR_EGENERAL, "cannot encode the key for %s: %s",
                                path, sacme_ossl_errors(p));
    }
    return sacme_file_write_atomic(path, pem, strlen(pem), SACME_FPROT_PRIVATE,
                                   p, res);
}

int sacme_key_same_public(const sacme_key_t *a, EVP_PKEY *b)
{
    return b && EVP_PKEY_eq(a->pk, b) == 1;
}
