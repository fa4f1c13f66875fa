/* Expiry alerts (SacmeWarnWindow): thresholds of remaining validity below
 * which the certificate in service is reported, once per threshold and
 * certificate, at a severity that grows as the thresholds get smaller.
 *
 * Three rules decide when the alert of a threshold is due:
 *   - scaling: a set of thresholds is meant for certificates that live at
 *     least three times the largest threshold (90 days for the default
 *     30d 14d 7d: the largest then sits where the default renewal window
 *     of a third of the lifetime opens). For a shorter lifetime L every
 *     threshold is multiplied by L / (3 x largest), so a 7-day certificate
 *     is not born below all three thresholds;
 *   - the renewal comes first: an alert is never due before the renewal
 *     has been due for an hour, so a certificate that renews on time
 *     raises none (alerts are about renewals that did not happen);
 *   - once: the thresholds raised are recorded per certificate serial in
 *     the store (staging/<domain>/alerts.json); a new certificate starts
 *     with none raised, and a restart raises nothing again.
 * Everything here is pure computation on the configuration, the
 * certificate's dates and the recorded state, so it is tested without a
 * store or a clock.
 */
#ifndef SACME_WARN_H
#define SACME_WARN_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_log.h"

/* The recorded state, in staging/<domain>/: {"serial": "...", "raised":
 * [{"threshold": "30d", "seconds": 2592000, "at": RFC 3339}, ...]}. */
#define SACME_FILE_ALERTS "alerts.json"

#define SACME_WARN_MAX 8                        /* thresholds in one list */
#define SACME_WARN_LIMIT apr_time_from_sec(3650 * 86400) /* ten years */
#define SACME_WARN_GRACE apr_time_from_sec(3600) /* after the renewal is due */

typedef struct sacme_warn_t {
    int n;                                          /* 0: no alerts */
    apr_interval_time_t thresholds[SACME_WARN_MAX]; /* distinct, largest first */
} sacme_warn_t;

/* 30d 14d 7d (Sectigo's own reminders come at these). */
void sacme_warn_default(sacme_warn_t *w);

/* Parses argc durations (sacme_duration_parse: "30d", "36h", "14"). They
 * may come in any order; they are kept largest first. On failure returns
 * APR_EINVAL and sets *why to a sentence naming the offending value
 * (allocated from p): not a duration, zero, over ten years, given twice, or
 * more than SACME_WARN_MAX of them. */
apr_status_t sacme_warn_parse(int argc, const char *const *argv, sacme_warn_t *w,
                              apr_pool_t *p, const char **why);

/* The threshold i as the admin wrote it, normalised ("30d", "36h"). */
const char *sacme_warn_str(apr_pool_t *p, const sacme_warn_t *w, int i);

/* All thresholds as a JSON array of strings (["30d", "14d", "7d"]; [] for
 * none), for the status and managed.json; sacme_warn_from_json reads it
 * back (APR_EINVAL when it is not such a list). */
json_t *sacme_warn_json(const sacme_warn_t *w, apr_pool_t *p);
apr_status_t sacme_warn_from_json(const json_t *j, sacme_warn_t *w, apr_pool_t *p);

/* All thresholds, space separated ("30d 14d 7d"), for the log. */
const char *sacme_warn_list(apr_pool_t *p, const sacme_warn_t *w);

/* Threshold i for a certificate living `lifetime`: scaled down when the
 * lifetime is shorter than three times the largest threshold. */
apr_interval_time_t sacme_warn_effective(const sacme_warn_t *w, int i,
                                         apr_interval_time_t lifetime);

/* The log level of threshold i: the largest NOTICE, the smallest ERR, the
 * ones between WARNING; a single threshold WARNING. */
sacme_log_level_t sacme_warn_level(const sacme_warn_t *w, int i);

/* When the alert of threshold i becomes due for a certificate valid
 * [not_before, not_after) whose renewal is due at renew_at: when the time
 * left drops below the effective threshold, but not before renew_at +
 * SACME_WARN_GRACE. */
apr_time_t sacme_warn_due_at(const sacme_warn_t *w, int i, apr_time_t not_before,
                             apr_time_t not_after, apr_time_t renew_at);

/* Whether threshold i was raised for the certificate with this serial
 * according to state (alerts.json, may be NULL). */
int sacme_warn_was_raised(const json_t *state, const char *serial,
                          const sacme_warn_t *w, int i);

/* What is due now: stores in due[] (room for SACME_WARN_MAX) the indices of
 * thresholds whose alert is due at `now` and not yet raised for serial,
 * largest first, and returns how many. *next is set to the earliest due
 * time still to come (0 when none). */
int sacme_warn_pending(const sacme_warn_t *w, const json_t *state, const char *serial,
                       apr_time_t not_before, apr_time_t not_after,
                       apr_time_t renew_at, apr_time_t now, int *due,
                       apr_time_t *next);

/* Records threshold i as raised at `now` for serial, in a copy of state
 * (which may be NULL or of another serial: a new certificate starts
 * afresh). Returns the new state (a new reference; fields of state other
 * than the alerts are kept). */
json_t *sacme_warn_mark(const json_t *state, const char *serial, const sacme_warn_t *w,
                        int i, apr_time_t now, apr_pool_t *p);

#endif /* SACME_WARN_H */
