/* The fallback certificate: self-signed, served until a managed name has a
 * real certificate (mod_ssl answers 503 for such vhosts). One P-256 key and
 * certificate are enough for every domain, which keeps startup flat in the
 * number of domains.
 */
#ifndef SACME_SELFSIGNED_H
#define SACME_SELFSIGNED_H

#include "sacme.h"
#include "sacme_chain.h"
#include "sacme_key.h"
#include "sacme_result.h"

/* The files of the fallback in its directory. */
#define SACME_SELFSIGNED_CERT "cert.pem"
#define SACME_SELFSIGNED_KEY  "privkey.pem"

/* Makes a self-signed certificate for key: subject CN=cn, O="mod_sacme
 * fallback (no certificate yet)", SANs names (may be NULL or empty), valid
 * from now-1h for `valid` (0: 30 days), random 128-bit serial. The
 * certificate is freed with p. */
apr_status_t sacme_selfsigned_make(apr_pool_t *p, const sacme_key_t *key,
                                   const char *cn, const apr_array_header_t *names,
                                   apr_interval_time_t valid, X509 **cert,
                                   sacme_result_t *res);

/* What sacme_selfsigned_make builds on, for other self-signed certificates
 * (the tls-alpn-01 one, sacme_alpn.c): a certificate for key with subject
 * CN=cn (left out when NULL) O=org, the same validity, serial and server
 * extensions (not a CA, digitalSignature, serverAuth), not yet signed: the
 * caller adds its own extensions, then signs with sacme_selfsigned_sign
 * (SHA-256). The certificate is freed with p. */
apr_status_t sacme_selfsigned_begin(apr_pool_t *p, const sacme_key_t *key,
                                    const char *cn, const char *org,
                                    apr_interval_time_t valid, X509 **cert,
                                    sacme_result_t *res);
apr_status_t sacme_selfsigned_sign(apr_pool_t *p, const sacme_key_t *key, X509 *cert,
                                   sacme_result_t *res);

/* Ensures dir holds privkey.pem (0600) and cert.pem (0644) of a fallback
 * certificate that is still valid for at least a day; creates or renews them
 * otherwise. Returns the two paths. */
apr_status_t sacme_selfsigned_ensure(apr_pool_t *p, const char *dir,
                                     const char **cert_file,
                                     const char **key_file, sacme_result_t *res);

#endif /* SACME_SELFSIGNED_H */
