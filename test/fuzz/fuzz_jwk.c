/* JWK parsing: the RFC 7638 thumbprint of a JWK object (the account
 * key's, as a stored account.json or a test vector holds it). The engine
 * only builds JWS, it never parses one from outside; the key PEM that
 * account and domain key files hold is fuzzed here too. */
#include "fuzz.h"
#include "sacme_json.h"
#include "sacme_jws.h"
#include "sacme_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    json_t *j;

    /* First byte chooses: the JWK JSON, or a PEM private key. */
    if (size && data[0] == 'P') {
        sacme_key_t *key = NULL;
        char *pem = fuzz_str(data + 1, size - 1);

        if (sacme_key_from_pem(p, pem, size - 1, &key, res) == APR_SUCCESS) {
            json_t *jwk = sacme_jwk_make(key, p);
            const char *a = sacme_jwk_thumbprint(key, p);
            const char *b = jwk ? sacme_jwk_thumbprint_of(jwk, p) : NULL;

            /* A key's thumbprint is its JWK's thumbprint. */
            if ((a == NULL) != (b == NULL) || (a && strcmp(a, b))) {
                abort();
            }
            (void)sacme_jws_alg(key);
        }
        free(pem);
    }
    else if ((j = sacme_json_parse(p, (const char *)data, size, 0, res))) {
        (void)sacme_jwk_thumbprint_of(j, p);
    }
    apr_pool_destroy(p);
    return 0;
}
