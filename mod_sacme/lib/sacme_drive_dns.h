/* dns-01 for the driver: TXT records through SacmeDnsCmd. */
#ifndef SACME_DRIVE_DNS_H
#define SACME_DRIVE_DNS_H

#include "sacme_drive.h"
#include "sacme_issue.h"

/* Sets up (setup=1) or tears down the TXT record of pub (a dns-01
 * challenge) for dom. */
apr_status_t sacme_drive_dns_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                     int setup, const sacme_chal_pub_t *pub,
                                     apr_pool_t *p, sacme_result_t *res);

/* Once every challenge of an order is published (sacme_ready_fn): waits,
 * where the domain asks for it, until DNS shows every record. */
apr_status_t sacme_drive_dns_ready(sacme_driver_t *d, const sacme_domain_t *dom,
                                   const apr_array_header_t *published,
                                   apr_pool_t *p, sacme_result_t *res);

#endif /* SACME_DRIVE_DNS_H */
