/* tls-alpn-01 for the driver: see sacme_drive_alpn.h. */
#include "sacme_drive_alpn.h"

apr_status_t sacme_drive_alpn_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                      int setup, const sacme_chal_pub_t *pub,
                                      apr_pool_t *p, sacme_result_t *res)
{
    (void)d; (void)setup; (void)p;
    return sacme_result_set(res, SACME_ECONFIG, "%s: tls-alpn-01 for %s is not "
                            "available in this build", dom->name, pub->name);
}
