/* The driver's side of tls-alpn-01 (RFC 8737): the challenge certificate
 * published in the store for the request children's responder
 * (mod_sacme_alpn.c) to present, and withdrawn. */
#ifndef SACME_DRIVE_ALPN_H
#define SACME_DRIVE_ALPN_H

#include "sacme_drive.h"
#include "sacme_issue.h"

/* setup: makes the certificate and key for pub (sacme_alpn_make) and
 * writes them to challenges/<pub->name>/tls-alpn-01.pem; teardown removes
 * that file (nothing there is no failure). */
apr_status_t sacme_drive_alpn_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                      int setup, const sacme_chal_pub_t *pub,
                                      apr_pool_t *p, sacme_result_t *res);

#endif /* SACME_DRIVE_ALPN_H */
