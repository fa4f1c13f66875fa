/* Orders, authorizations and challenges (RFC 8555 §7.4, §7.5) as small
 * steps; sacme_issue.c composes them into a whole issuance, and the httpd
 * driver can persist the URLs between steps to resume after a restart.
 */
#ifndef SACME_ORDER_H
#define SACME_ORDER_H

#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_chain.h"

typedef struct sacme_order_t {
    const char *url;              /* the order URL (Location of newOrder) */
    const char *status;           /* pending, ready, processing, valid, invalid */
    const char *finalize;
    const char *certificate;      /* once valid */
    apr_array_header_t *authorizations;   /* const char * URLs */
    apr_time_t retry_after;       /* from the last response, or 0 */
    json_t *error;                /* problem document of an invalid order, or NULL */
    const char *profile;          /* the profile the CA says the order is for
                                     (draft-ietf-acme-profiles), or NULL */
} sacme_order_t;

typedef struct sacme_challenge_t {
    const char *type;             /* "http-01", "dns-01", "sectigo-email-01", ... */
    const char *url;
    const char *token;
    const char *status;
    json_t *error;
} sacme_challenge_t;

typedef struct sacme_authz_t {
    const char *url;
    const char *status;           /* pending, valid, invalid, deactivated, expired, revoked */
    const char *identifier;       /* the identifier's value: a name (for a
                                     wildcard, the base name) or an IP */
    int ip;                       /* identifier type "ip" (RFC 8738) */
    int wildcard;
    apr_array_header_t *challenges;   /* sacme_challenge_t * */
    apr_time_t retry_after;
} sacme_authz_t;

/* newOrder for names, with "profile" when profile is not NULL
 * (sacme_profile.h: only one the directory offers). A name that is an IP
 * address (sacme_name_is_ip) is an "ip" identifier (RFC 8738), every other
 * one a "dns" identifier. */
apr_status_t sacme_order_new(sacme_acme_t *acme, const apr_array_header_t *names,
                             const char *profile, apr_pool_t *p,
                             sacme_order_t **order, sacme_result_t *res);

/* The same with "replaces" (RFC 9773 §5): the ARI certID of the
 * certificate this order renews, or NULL for none. */
apr_status_t sacme_order_new_replacing(sacme_acme_t *acme,
                                       const apr_array_header_t *names,
                                       const char *profile, const char *replaces,
                                       apr_pool_t *p, sacme_order_t **order,
                                       sacme_result_t *res);

/* POST-as-GET of an order URL. */
apr_status_t sacme_order_get(sacme_acme_t *acme, const char *url, apr_pool_t *p,
                             sacme_order_t **order, sacme_result_t *res);

/* Parses an order object (tests use it on recorded responses). */
apr_status_t sacme_order_parse(apr_pool_t *p, const json_t *json,
                               const char *url, const char *base,
                               sacme_order_t **order, sacme_result_t *res);

apr_status_t sacme_authz_get(sacme_acme_t *acme, const char *url, apr_pool_t *p,
                             sacme_authz_t **authz, sacme_result_t *res);
apr_status_t sacme_authz_parse(apr_pool_t *p, const json_t *json,
                               const char *url, const char *base,
                               sacme_authz_t **authz, sacme_result_t *res);

/* The first challenge whose type is in types (const char *, in order of
 * preference); unknown types are ignored. A wildcard authorization can only
 * be proven over DNS (RFC 8555 §7.1.3), an IP address never over DNS (RFC
 * 8738 §7): other types are passed over. NULL when none fits. */
sacme_challenge_t *sacme_authz_pick(const sacme_authz_t *authz,
                                    const apr_array_header_t *types);

/* Tells the CA the challenge is ready to be validated (POST {}). */
apr_status_t sacme_challenge_respond(sacme_acme_t *acme,
                                     const sacme_challenge_t *chal,
                                     apr_pool_t *p, sacme_result_t *res);

/* finalize with a DER CSR; returns the order as the CA answered (200 or
 * 201, with or without Location: the order URL stays the one we know). */
apr_status_t sacme_order_finalize(sacme_acme_t *acme, sacme_order_t *order,
                                  const unsigned char *csr, apr_size_t csr_len,
                                  apr_pool_t *p, sacme_order_t **updated,
                                  sacme_result_t *res);

/* Downloads the certificate chain (POST-as-GET), PEM or DER by content;
 * when only a leaf arrives, follows Link rel="up" (bounded). */
apr_status_t sacme_cert_download(sacme_acme_t *acme, const char *url,
                                 apr_pool_t *p, sacme_chain_t **chain,
                                 sacme_result_t *res);

/* A challenge token as RFC 8555 makes them: base64url, 16 to 256
 * characters. Anything else from a CA is refused before it becomes part of
 * a file name (it could leave the directory) or of a URL we answer. */
int sacme_token_ok(const char *token);

#endif /* SACME_ORDER_H */
