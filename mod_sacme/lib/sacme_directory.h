/* The ACME directory (RFC 8555 §7.1.1). Every URL the client uses comes from
 * here: never guess paths (Sectigo serves the directory at the configured
 * URL, with endpoint names that differ between its services).
 */
#ifndef SACME_DIRECTORY_H
#define SACME_DIRECTORY_H

#include "sacme.h"
#include "sacme_result.h"

typedef struct sacme_directory_t {
    const char *new_nonce;         /* required */
    const char *new_account;       /* required */
    const char *new_order;         /* required */
    const char *revoke_cert;       /* optional from here on */
    const char *key_change;
    const char *new_authz;
    const char *renewal_info;      /* ARI (RFC 9773) */
    const char *terms_of_service;  /* meta.termsOfService */
    const char *website;           /* meta.website */
    int eab_required;              /* meta.externalAccountRequired */
    apr_array_header_t *caa_identities;  /* const char * */
    apr_array_header_t *profiles;        /* const char *, names of meta.profiles */
} sacme_directory_t;

/* Parses a directory body. A body that is not a JSON object, or lacks
 * newNonce/newAccount/newOrder, is SACME_EPROTO with a message that names what
 * is missing and quotes the start of the body (a CA answering HTML at the
 * directory URL is a common misconfiguration). */
apr_status_t sacme_directory_parse(apr_pool_t *p, const char *body,
                                   apr_size_t len, sacme_directory_t **dir,
                                   sacme_result_t *res);

/* True when the directory offers this profile name. */
int sacme_directory_has_profile(const sacme_directory_t *dir,
                                const char *name);

#endif /* SACME_DIRECTORY_H */
