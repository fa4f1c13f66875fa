/* ACME Renewal Information (ARI, RFC 9773): the CA says when a certificate
 * should be renewed, and in an incident that it should be renewed now.
 *
 * The engine's part: the certificate's identifier (certID), the GET of
 * renewalInfo/<certID> (unauthenticated, no nonce), its answer checked, a
 * time picked in the suggested window, and when to ask again. What the
 * driver keeps of it (ari.json) and acts on is in sacme_drive_ari.c.
 */
#ifndef SACME_ARI_H
#define SACME_ARI_H

#include <openssl/x509.h>
#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_result.h"

/* Bounds of the wait before the next poll, whatever Retry-After says: a CA
 * that says "1" is not asked every second, one that says "a week" is still
 * asked daily (an incident does not wait a week). */
#define SACME_ARI_POLL_MIN      apr_time_from_sec(60)
#define SACME_ARI_POLL_MAX      apr_time_from_sec(24 * 3600)
/* The wait when the answer has no Retry-After. */
#define SACME_ARI_POLL_DEFAULT  apr_time_from_sec(6 * 3600)

/* The certID of cert: base64url (no padding) of its Authority Key
 * Identifier's keyIdentifier, ".", base64url of the serial number's DER
 * content octets (with the leading 0x00 of a serial whose top bit is set).
 * A certificate without an AKI keyIdentifier, or with a negative serial,
 * has none: SACME_EPROTO with res saying why. */
apr_status_t sacme_ari_cert_id(apr_pool_t *p, X509 *cert, const char **id,
                               sacme_result_t *res);

/* A renewalInfo answer (RFC 9773 §4.2). */
typedef struct sacme_ari_info_t {
    apr_time_t start;                /* suggestedWindow.start */
    apr_time_t end;                  /* suggestedWindow.end, never before start */
    const char *explanation_url;     /* an http(s) URL, or NULL */
} sacme_ari_info_t;

/* Parses a renewalInfo body. Not a JSON object, no suggestedWindow, a start
 * or end that is not RFC 3339, or an end before the start: SACME_EPROTO,
 * with res naming what is wrong. An explanationURL that is not a plain
 * http(s) URL (it is logged and shown in status) is left out. */
apr_status_t sacme_ari_parse(apr_pool_t *p, const char *body, apr_size_t len,
                             sacme_ari_info_t *info, sacme_result_t *res);

/* A time in [start, end] from the 64 random bits r, uniformly. */
apr_time_t sacme_ari_pick_with(const sacme_ari_info_t *info, apr_uint64_t r);

/* The same with fresh random bits (OpenSSL's generator, seeded by the
 * system: servers of a fleet do not pick the same moment). */
apr_time_t sacme_ari_pick(const sacme_ari_info_t *info);

/* When to poll again after an answer at now with Retry-After retry_after
 * (absolute, 0: none): within [SACME_ARI_POLL_MIN, SACME_ARI_POLL_MAX] of
 * now; without one, SACME_ARI_POLL_DEFAULT. */
apr_time_t sacme_ari_next_poll(apr_time_t retry_after, apr_time_t now);

/* What a poll brought. */
typedef struct sacme_ari_answer_t {
    int status;                      /* HTTP status, 0 when no answer came */
    apr_time_t retry_after;          /* absolute, or 0 */
    sacme_ari_info_t info;           /* with APR_SUCCESS */
    const char *error_kind;          /* on failure: "unreachable", "http-404",
                                        "http-5xx", "http-<status>", "malformed",
                                        "window": stable words, so a failure
                                        that repeats is told once */
} sacme_ari_answer_t;

/* GET <renewalInfo>/<cert_id> at the CA of acme (its directory is read
 * first if it was not yet; a directory read before, without renewalInfo,
 * is read again, as the CA may have added it since: see
 * sacme_acme_refresh_directory). Still without renewalInfo: APR_ENOTIMPL.
 * Any other failure (no answer, a status other than 200, a body
 * sacme_ari_parse refuses) is non-success with res and ans->error_kind
 * set; ans->retry_after is filled whenever the CA answered. */
apr_status_t sacme_ari_fetch(sacme_acme_t *acme, const char *cert_id, apr_pool_t *p,
                             sacme_ari_answer_t *ans, sacme_result_t *res);

/* Whether a refused newOrder was refused for its "replaces" field
 * (alreadyReplaced; conflict; malformed naming "replaces"), so that it
 * may be sent again without it. */
int sacme_ari_replaces_refused(const sacme_result_t *res);

#endif /* SACME_ARI_H */
