/* The status of managed domains, as an admin (or a monitoring system) wants
 * to see it: what is served, until when, what happens next, what went wrong.
 *
 * Built from the store alone: no network, and no private key is read (the
 * httpd children that answer the status page run as the unprivileged User;
 * key types come from the certificates' public keys). The same model feeds
 * the sacme-status handler (JSON, Prometheus), mod_status's server-status
 * section and `sacmectl list|show`. Nothing secret is in it: no key
 * material, no EAB HMAC (the store never holds one).
 *
 * One domain's object (keys in kebab-case, like the rest of the store):
 *
 *   name            the primary name (names the store entries)
 *   names           [ configured names ]
 *   key-types       [ configured key types, e.g. "p256" ]
 *   profile         the configured SacmeProfile, or null (the CA's default)
 *   renew-window    the configured renewal window ("33%", "30d")
 *   warn-window     [ the expiry alert thresholds, e.g. "30d" ] ([] for
 *                     none), or null when not known
 *   state           the first that applies (SACME_STATE_*):
 *                   "pending-activation": a complete staged set waits for
 *                     the next graceful restart;
 *                   "error": the last attempt failed (job.json has one),
 *                     none succeeded since;
 *                   "renewing": no certificate yet, an order in progress,
 *                     an admin's request, the renewal due, or the live
 *                     certificate lacks a configured name or key type, or
 *                     was ordered for another profile;
 *                   "ok": otherwise
 *   certificates    [ per live certificate: key-type, serial (hex, upper
 *                     case), not-before, not-after (RFC 3339), issuer,
 *                     sha256 (hex, of the leaf's DER), days-left (floor,
 *                     negative once expired), names (SANs), renewals
 *                     (activations after the first, history.json),
 *                     profile (what its order asked for, from issued.json;
 *                     null: none, or not known), renew-at, renew-source,
 *                     explanation-url as below for this certificate,
 *                     ari-next-poll (RFC 3339 of the next poll of the CA's
 *                     renewal information, or null) ]
 *   valid-until     not-after of the earliest-expiring live certificate, or null
 *   days-left       its days-left, or null
 *   renew-at        when the renewal is due (RFC 3339), or null without a certificate
 *   renew-source    where renew-at comes from: "ari" (a time picked in the CA's
 *                     renewal window), "window" (SacmeRenewWindow), "forced"
 *                     or "revoked" (an admin's request); null with renew-at
 *   explanation-url the CA's explanationURL of its window (ARI), or null
 *   staged          null, or { serial, not-after, profile } of the set waiting for
 *                   the next graceful restart
 *   order           null, or { url, updated, waiting (what the CA is still
 *                   doing, or null) } of the order in progress
 *   error           null, or { detail, problem (ACME problem type or null),
 *                   hint (or null), at (RFC 3339), errors (failed attempts
 *                   in a row) } of the last failed attempt
 *   next-attempt    RFC 3339 when the driver waits before the next attempt
 *                   (error backoff, or the CA's pace for an order), else null
 *   request         null, or the admin's pending request (sacme_request.h):
 *                   { action, reason, revocation-reason, requested }
 */
#ifndef SACME_STATUS_H
#define SACME_STATUS_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_drive.h"
#include "sacme_store.h"

#define SACME_STATE_OK                 "ok"
#define SACME_STATE_RENEWING           "renewing"
#define SACME_STATE_PENDING_ACTIVATION "pending-activation"
#define SACME_STATE_ERROR              "error"

/* One domain's status as a JSON object owned by pool p (sacme_json_own). */
json_t *sacme_status_domain(const sacme_store_t *store, const sacme_domain_t *dom,
                            apr_time_t now, apr_pool_t *p);

/* {"generated": RFC 3339, "domains": [ one object per domain ]}, owned by
 * p. domains holds sacme_domain_t *. */
json_t *sacme_status_all(const sacme_store_t *store, const apr_array_header_t *domains,
                         apr_time_t now, apr_pool_t *p);

/* Prometheus text exposition (format 0.0.4) of sacme_status_all()'s
 * result: one HELP and TYPE line per metric, label values escaped. */
const char *sacme_status_prometheus(const json_t *all, apr_pool_t *p);

/* The short, line-oriented form of mod_status's "?auto" page:
 *   SacmeDomains: N, SacmeDomainsOk: N, ... then per domain
 *   SacmeDomain-<name>-State: ok, -KeyTypes, -ValidUntil, -DaysLeft,
 *   -RenewAt, -RenewSource, -ExplanationURL, -CA, -Profile, -Errors, -Error
 *   (lines of null values are left out). */
const char *sacme_status_auto(const json_t *all, apr_pool_t *p);

#endif /* SACME_STATUS_H */
