/* Certificates from elsewhere (SacmeCertificateFile and
 * SacmeCertificateKeyFile in a <SacmeDomainSet>): a pair bought or issued
 * outside mod_sacme, served for the set's names and watched for expiry,
 * never ordered. The checks here run in the root parent at start, so that
 * a pair that cannot serve the names stops httpd with a reason rather than
 * handing clients a certificate they refuse.
 */
#ifndef SACME_STATIC_H
#define SACME_STATIC_H

#include "sacme.h"
#include "sacme_chain.h"

/* True when the certificate name san (a dNSName) covers host: equal
 * (case-insensitive), or a wildcard "*.rest" whose rest equals host minus
 * its first label (RFC 6125 6.4.3: the wildcard stands for exactly one
 * whole label, the left-most). host may itself be a wildcard name, which
 * only the same wildcard covers. */
int sacme_static_name_covered(const char *san, const char *host);

/* Reads the certificate file (PEM; the first certificate is the leaf) and
 * the key file, and checks that the key is the leaf's and that the leaf's
 * SANs cover every name of names (const char *). On success *info
 * describes the leaf. On failure returns APR_EINVAL (or the read error)
 * with *why a sentence naming the file at fault (allocated from p). */
apr_status_t sacme_static_check(apr_pool_t *p, const char *cert_file,
                                const char *key_file,
                                const apr_array_header_t *names,
                                sacme_cert_info_t **info, const char **why);

/* The leaf of the certificate file alone (for sacmectl, which has no key to
 * check and may not read it). APR_SUCCESS or an error with *why. */
apr_status_t sacme_static_info(apr_pool_t *p, const char *cert_file,
                               sacme_cert_info_t **info, const char **why);

#endif /* SACME_STATIC_H */
