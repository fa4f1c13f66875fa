/* Certificate chains as a CA delivers them (PEM or DER, told apart by
 * content), the leaf-only reading the driver uses, and what an admin is
 * shown of each certificate. */
#include "fuzz.h"
#include "sacme_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    sacme_chain_t *chain = NULL;
    int i;

    if (sacme_chain_parse(p, (const char *)data, size, &chain, res) == APR_SUCCESS) {
        if (chain->certs->nelts < 1 || chain->certs->nelts > SACME_MAX_CHAIN) {
            abort();   /* the documented bounds */
        }
        for (i = 0; i < chain->certs->nelts; ++i) {
            sacme_cert_info_t *info = NULL;
            (void)sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, i, X509 *), &info);
        }
        (void)sacme_chain_pem(chain, p);
        (void)sacme_chain_leaf_pem(chain, p);
        (void)sacme_chain_issuers_pem(chain, p);
    }
    chain = NULL;
    if (sacme_chain_parse_leaf(p, (const char *)data, size, &chain, res) == APR_SUCCESS) {
        sacme_cert_info_t *info = NULL;
        if (sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info) == APR_SUCCESS) {
            apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
            APR_ARRAY_PUSH(names, const char *) = "www.example.org";
            (void)sacme_cert_info_covers(info, names);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
