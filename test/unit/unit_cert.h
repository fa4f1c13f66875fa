/* Keys and certificates made by the unit tests themselves, with the names
 * and validity each test needs. */
#ifndef SACME_UNIT_CERT_H
#define SACME_UNIT_CERT_H

#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "sacme_key.h"

/* A fresh key of type (in unit_pool); fails the test on error. */
sacme_key_t *unit_key(sacme_key_type_t type);

/* A certificate for key with subject CN=cn, O=mod_sacme tests, the DNS
 * SANs names (may be NULL or empty: no SAN extension), valid [nb, na),
 * signed by issuer_key under issuer_cert's subject (issuer_cert NULL:
 * self-signed with key). ca marks a CA certificate. Freed with unit_pool. */
X509 *unit_cert_issue(const sacme_key_t *key, const char *cn,
                      const apr_array_header_t *names, apr_time_t nb, apr_time_t na,
                      const sacme_key_t *issuer_key, X509 *issuer_cert, int ca);

#endif /* SACME_UNIT_CERT_H */
