/* dns-01 for the driver: see sacme_drive_dns.h. */
#include "sacme_drive_dns.h"

apr_status_t sacme_drive_dns_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                     int setup, const sacme_chal_pub_t *pub,
                                     apr_pool_t *p, sacme_result_t *res)
{
    (void)d; (void)setup; (void)p;
    return sacme_result_set(res, SACME_ECONFIG, "%s: dns-01 for %s is not available "
                            "in this build", dom->name, pub->name);
}

apr_status_t sacme_drive_dns_ready(sacme_driver_t *d, const sacme_domain_t *dom,
                                   const apr_array_header_t *published,
                                   apr_pool_t *p, sacme_result_t *res)
{
    (void)d; (void)dom; (void)published; (void)p; (void)res;
    return APR_SUCCESS;
}
