/* Certificate revocation (RFC 8555 §7.6), signed with the account key: the
 * account that obtained a certificate may revoke it, whatever happened to
 * the certificate's own key.
 *
 * Reasons are the RFC 5280 CRLReason codes a subscriber may give; the
 * others (cACompromise, certificateHold, ...) are for the CA itself.
 */
#ifndef SACME_REVOKE_H
#define SACME_REVOKE_H

#include <openssl/x509.h>
#include "sacme.h"
#include "sacme_acme.h"

typedef enum {
    SACME_REVOKE_UNSPECIFIED = 0,
    SACME_REVOKE_KEY_COMPROMISE = 1,
    SACME_REVOKE_AFFILIATION_CHANGED = 3,
    SACME_REVOKE_SUPERSEDED = 4,
    SACME_REVOKE_CESSATION = 5
} sacme_revoke_reason_t;

/* "unspecified", "keyCompromise", "affiliationChanged", "superseded",
 * "cessationOfOperation" (case-insensitive), or the code as a number.
 * APR_EINVAL for anything else. */
apr_status_t sacme_revoke_reason_parse(const char *s, sacme_revoke_reason_t *reason);

/* The RFC 5280 name of a reason, NULL for a code outside the list. */
const char *sacme_revoke_reason_name(sacme_revoke_reason_t reason);

/* The accepted names, comma-separated, for messages and --help. */
const char *sacme_revoke_reason_names(void);

/* Revokes cert at acme's CA with the account (acme->account_key and
 * account_url must be set). "unspecified" is sent as no reason at all,
 * which RFC 8555 defines as the same and which every CA accepts. A
 * certificate the CA reports as already revoked is APR_SUCCESS with
 * *already = 1 (may be NULL): what the admin wanted is the case. */
apr_status_t sacme_revoke(sacme_acme_t *acme, X509 *cert,
                          sacme_revoke_reason_t reason, int *already,
                          apr_pool_t *p, sacme_result_t *res);

#endif /* SACME_REVOKE_H */
