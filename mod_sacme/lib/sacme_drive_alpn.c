/* tls-alpn-01 for the driver: one file per identifier in the challenges
 * area, which the request children read (sacme_store_alpn_put says why
 * its key may be group-readable). The answer is named by the identifier
 * as the order wrote it (an IP address too: the responder maps the CA's
 * reverse-DNS SNI back to it). A new attempt makes a new key; the file
 * holds the certificate and key together, so the responder never pairs
 * one attempt's certificate with another's key. */
#include "sacme_alpn.h"
#include "sacme_drive_alpn.h"
#include "sacme_sdir.h"
#include "sacme_store.h"

apr_status_t sacme_drive_alpn_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                      int setup, const sacme_chal_pub_t *pub,
                                      apr_pool_t *p, sacme_result_t *res)
{
    apr_status_t rv;
    char *pem;

    (void)dom;
    /* The name becomes a directory of the store. */
    if (!pub || !pub->name || !sacme_sdir_name_ok(pub->name) || pub->wildcard) {
        return sacme_result_set(res, APR_EINVAL, "tls-alpn-01 cannot answer for '%s%s'",
                                pub && pub->wildcard ? "*." : "",
                                pub && pub->name ? pub->name : "(none)");
    }
    if (!setup) {
        return sacme_store_alpn_remove(d->store, p, pub->name, res);
    }
    if ((rv = sacme_alpn_make(p, pub->name, pub->ip, pub->key_authz, &pem, res))
            != APR_SUCCESS
        || (rv = sacme_store_alpn_put(d->store, p, pub->name, pem, res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "publishing the tls-alpn-01 challenge of %s", pub->name);
        return rv;
    }
    return APR_SUCCESS;
}
