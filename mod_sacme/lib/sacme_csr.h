/* Certificate signing requests for ACME finalize (RFC 8555 §7.4). */
#ifndef SACME_CSR_H
#define SACME_CSR_H

#include "sacme.h"
#include "sacme_key.h"
#include "sacme_result.h"

/* The longest commonName RFC 5280 allows (ub-common-name). */
#define SACME_CN_MAX 64

/* Builds a DER CSR signed by key: every name as a dNSName SAN (in order),
 * the first name as subject CN only when it fits in 64 bytes (otherwise an
 * empty subject, which CAs accept when SANs are present). names holds
 * const char *; at least one, at most SACME_MAX_NAMES. */
apr_status_t sacme_csr_make(apr_pool_t *p, const sacme_key_t *key,
                            const apr_array_header_t *names,
                            unsigned char **der, apr_size_t *der_len,
                            sacme_result_t *res);

#endif /* SACME_CSR_H */
