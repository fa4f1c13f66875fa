/* Requests from the admin to the running driver, through the store.
 *
 * sacmectl (root) writes requests/<domain>.json; the driver looks at the
 * directory every pass, drives a domain with a request at once (past any
 * error backoff), and removes the request when the new set is staged. A
 * request survives restarts and crashes until it is done.
 *
 *   { "action": "renew", "reason": "forced" | "revoked",
 *     "revocation-reason": "keyCompromise" (when revoked),
 *     "requested": "2026-11-25T20:00:00Z" }
 *
 * After an account change (key rollover, deactivation) sacmectl writes
 * requests/-account.json ({"action": "reload-account", "reason": ...}), a
 * name no DNS name can have: the driver drops the account it holds in
 * memory and removes the request, so its next job reads the store again.
 */
#ifndef SACME_REQUEST_H
#define SACME_REQUEST_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_result.h"
#include "sacme_store.h"

/* Asks for a new certificate for domain; reason "forced" or "revoked";
 * detail (may be NULL) is kept as "revocation-reason". Replaces an earlier
 * request of the same domain. */
apr_status_t sacme_request_renew(const sacme_store_t *store, apr_pool_t *p,
                                 const char *domain, const char *reason,
                                 const char *detail, sacme_result_t *res);

/* The name of the account request in the requests directory. */
#define SACME_REQUEST_ACCOUNT "-account"

/* Asks the running driver to forget its copy of the account; reason
 * "rollover" or "deactivated". sacme_request_get/done with
 * SACME_REQUEST_ACCOUNT read and remove it. */
apr_status_t sacme_request_account(const sacme_store_t *store, apr_pool_t *p,
                                   const char *reason, sacme_result_t *res);

/* The name of the ARI check request (sacmectl ari check):
 * requests/-ari.json, {"action": "ari-check", "domains": [names] or absent
 * for all}. The driver marks those certificates due for a poll of the
 * CA's renewal information and removes the request. */
#define SACME_REQUEST_ARI "-ari"

/* Asks the running driver to poll the CA's renewal information of the
 * domains given (const char *; NULL or empty: every domain) now. */
apr_status_t sacme_request_ari_check(const sacme_store_t *store, apr_pool_t *p,
                                     const apr_array_header_t *domains,
                                     sacme_result_t *res);

/* The domain's pending request, or NULL (none, or unreadable). */
json_t *sacme_request_get(const sacme_store_t *store, apr_pool_t *p,
                          const char *domain);

/* Removes the domain's request (missing is fine). */
apr_status_t sacme_request_done(const sacme_store_t *store, apr_pool_t *p,
                                const char *domain);

/* The requests directory's modification time (0 when missing): the driver
 * compares it between passes to notice a new request without reading
 * every domain's file. */
apr_time_t sacme_request_stamp(const sacme_store_t *store, apr_pool_t *p);

#endif /* SACME_REQUEST_H */
