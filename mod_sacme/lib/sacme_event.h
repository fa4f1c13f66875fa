/* A certificate event (renewing, renewed, installed, errored, expiring,
 * revoked, account-deactivated) and its two outside forms: the SACME_*
 * environment of the notify command (SacmeNotifyCmd) and the JSON body of
 * the webhook (SacmeNotifyURL). Both carry the same facts, never a secret:
 * no key, no EAB value, only what an admin's log or chat may show.
 */
#ifndef SACME_EVENT_H
#define SACME_EVENT_H

#include <jansson.h>
#include "sacme.h"

typedef struct sacme_event_t {
    const char *event;               /* the name, as above */
    const char *domain;              /* the SacmeDomain's first name */
    const apr_array_header_t *names; /* const char *, all names; may be NULL */
    apr_time_t time;                 /* when it happened */
    /* What applies to the event; NULL / 0 / has_days_left == 0 otherwise. */
    const char *serial;              /* the certificate concerned, hex */
    apr_time_t not_after;
    const char *error;               /* errored: what failed */
    const char *detail;              /* words for a human */
    const char *threshold;           /* expiring: the threshold crossed ("30d") */
    int has_days_left;
    int days_left;                   /* expiring: whole days left (0: under one) */
    const char *reason;              /* revoked: the revocation reason */
} sacme_event_t;

/* The variables for the notify command, SACME_EVENT and SACME_DOMAIN aside
 * (the runner sets those): SACME_NAMES (space separated), and when they
 * apply SACME_DETAIL, SACME_ERROR, SACME_SERIAL, SACME_NOT_AFTER (RFC 3339),
 * SACME_DAYS_LEFT, SACME_THRESHOLD, SACME_REASON. */
apr_table_t *sacme_event_env(const sacme_event_t *ev, apr_pool_t *p);

/* {"event", "domain", "names", "time", "serial", "not-after", "error",
 *  "detail", "threshold", "days-left", "reason"}: every member always
 * present, null where it does not apply. A new reference. */
json_t *sacme_event_json(const sacme_event_t *ev, apr_pool_t *p);

#endif /* SACME_EVENT_H */
