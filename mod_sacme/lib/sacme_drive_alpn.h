/* tls-alpn-01 for the driver: the challenge certificate in the store. */
#ifndef SACME_DRIVE_ALPN_H
#define SACME_DRIVE_ALPN_H

#include "sacme_drive.h"
#include "sacme_issue.h"

/* Writes (setup=1) or removes the tls-alpn-01 certificate and key of pub
 * where request children answer acme-tls/1 handshakes from. */
apr_status_t sacme_drive_alpn_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                      int setup, const sacme_chal_pub_t *pub,
                                      apr_pool_t *p, sacme_result_t *res);

#endif /* SACME_DRIVE_ALPN_H */
