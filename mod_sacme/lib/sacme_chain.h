/* Certificate chains as the CA delivers them, and the checks a chain must
 * pass before it may be stored as a result (and later served).
 */
#ifndef SACME_CHAIN_H
#define SACME_CHAIN_H

#include <openssl/x509.h>
#include "sacme.h"
#include "sacme_key.h"
#include "sacme_result.h"

typedef struct sacme_chain_t {
    apr_array_header_t *certs;   /* X509 *, [0] is the leaf; freed with the pool */
} sacme_chain_t;

/* Parses a chain from PEM or DER, detected by content (CAs label downloads
 * with odd content types). Leading/trailing text around PEM blocks is
 * tolerated, anything else is not: junk, truncated DER, zero certificates
 * or more than SACME_MAX_CHAIN are APR_EINVAL with a reason. */
apr_status_t sacme_chain_parse(apr_pool_t *p, const char *data, apr_size_t len,
                               sacme_chain_t **chain, sacme_result_t *res);

/* Only the first certificate (the leaf), for what needs no more: its names
 * and dates. The rest is not read, so not judged either. Parsing a
 * certificate is costly in OpenSSL 3.0 (its key goes through the decoder
 * framework), and the driver looks at every domain after every attempt. */
apr_status_t sacme_chain_parse_leaf(apr_pool_t *p, const char *data, apr_size_t len,
                                    sacme_chain_t **chain, sacme_result_t *res);

/* Appends a certificate; the chain takes over the reference (freed with
 * the chain's pool). */
void sacme_chain_add(sacme_chain_t *chain, X509 *cert);

/* The leaf, and the rest of the chain, as PEM text. */
const char *sacme_chain_leaf_pem(const sacme_chain_t *chain, apr_pool_t *p);
const char *sacme_chain_issuers_pem(const sacme_chain_t *chain, apr_pool_t *p);
const char *sacme_chain_pem(const sacme_chain_t *chain, apr_pool_t *p);

/* The checks before anything is stored as a result:
 *   - the leaf's public key matches key,
 *   - the leaf's SANs cover every name in names (const char *),
 *   - the leaf is valid at now (with a few minutes' allowance for clock skew
 *     on notBefore),
 *   - each certificate is issued by the next one in the chain.
 * The first failing check is reported in res. */
apr_status_t sacme_chain_check(const sacme_chain_t *chain,
                               const sacme_key_t *key,
                               const apr_array_header_t *names,
                               apr_time_t now, sacme_result_t *res);

/* What an admin wants to see of a certificate. */
typedef struct sacme_cert_info_t {
    const char *subject;        /* one-line RFC 2253 form */
    const char *issuer;
    const char *serial;         /* hex, upper case */
    apr_array_header_t *sans;   /* const char *, dNSName and iPAddress */
    apr_time_t not_before;
    apr_time_t not_after;
    const char *sha256;         /* fingerprint of the DER, hex */
} sacme_cert_info_t;

/* True when every name of names (const char *) is among info's SANs
 * (case-insensitive). */
int sacme_cert_info_covers(const sacme_cert_info_t *info, const apr_array_header_t *names);

apr_status_t sacme_cert_info(apr_pool_t *p, X509 *cert,
                             sacme_cert_info_t **info);

#endif /* SACME_CHAIN_H */
