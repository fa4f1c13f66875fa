/* ARI in the driver: what the CA's renewal information (sacme_ari.h) says
 * of each live certificate, kept in staging/<name>/ari.json, and when the
 * certificate is due because of it.
 *
 * ari.json (written by the driver only; readable by the status page):
 *
 *   { "serial": the live certificate it is about (hex),
 *     "cert-id": its ARI certID, "server": the CA asked,
 *     "polled": RFC 3339 of the last answer (or failure),
 *     "next-poll": RFC 3339 of the next poll,
 *     "window": { "start", "end" } of the last valid answer (kept through
 *               failed polls), or absent,
 *     "renew-at": the time picked in that window (kept while the window
 *                 stays the same: a restart or a failed poll does not pick
 *                 again),
 *     "explanation-url": the CA's explanationURL, or absent,
 *     "error": what went wrong at the last poll (the local window applies
 *              unless an earlier answer gave renew-at),
 *     "error-kind": its stable short form (sacme_ari_answer_t),
 *     "unsupported": true when the CA's directory has no renewalInfo }
 *
 * A record about another serial (the certificate was replaced since) is
 * stale: the new certificate is polled at once.
 */
#ifndef SACME_DRIVE_ARI_H
#define SACME_DRIVE_ARI_H

#include "sacme_drive.h"

/* When the live certificate info of dom is due, and why. */
typedef struct sacme_renewal_t {
    apr_time_t renew_at;             /* when a new certificate is ordered */
    const char *source;              /* "ari" (the CA's window) or "window" (the
                                        local SacmeRenewWindow) */
    const char *explanation_url;     /* the CA's, with source "ari", or NULL */
    apr_time_t next_poll;            /* the next ARI poll, 0: none recorded */
    int poll_due;                    /* ARI is on and the certificate is to be
                                        polled now (never polled, a stale
                                        record, or next_poll reached) */
} sacme_renewal_t;

/* Reads ari.json (no network): the CA's time while its last answer was
 * valid, else the local window (sacme_drive_renew_at). With SacmeARI off,
 * or a certificate from a file, always the local window and no poll. */
void sacme_drive_renewal(const sacme_store_t *store, const sacme_domain_t *dom,
                         const sacme_cert_info_t *info, apr_time_t now,
                         apr_pool_t *p, sacme_renewal_t *r);

/* Asks the CA that issued the live certificate of dom for its renewal
 * information and records the answer in ari.json, logging what changed
 * (a new window and the time picked in it, the CA's explanation, a failure
 * once, which never stops renewal by the local window). */
void sacme_drive_ari_poll(sacme_driver_t *d, sacme_clients_t *clients,
                          const sacme_domain_t *dom, apr_pool_t *p);

/* Makes dom's live certificate due for a poll now (sacmectl ari check). */
void sacme_drive_ari_due_now(sacme_driver_t *d, const sacme_domain_t *dom,
                             apr_pool_t *p);

/* The certID of dom's live certificate, for "replaces" in the newOrder of
 * its renewal; NULL when there is none, or with SacmeARI off. */
const char *sacme_drive_ari_replaces(sacme_driver_t *d, const sacme_domain_t *dom,
                                     apr_pool_t *p);

#endif /* SACME_DRIVE_ARI_H */
