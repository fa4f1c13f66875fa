/* Time helpers: Retry-After, RFC 3339, clamps. */
#ifndef SACME_TIME_H
#define SACME_TIME_H

#include "sacme.h"

/* Parses an HTTP Retry-After value: delta-seconds or an HTTP-date.
 * Returns the absolute time, or 0 when the value is missing or malformed. */
apr_time_t sacme_time_retry_after(const char *value, apr_time_t now);

/* Parses an RFC 3339 timestamp ("2026-11-25T17:00:00Z", fractions and
 * offsets allowed). Returns 0 when malformed. */
apr_time_t sacme_time_rfc3339_parse(const char *s);

/* Formats as RFC 3339 in UTC with second precision. */
const char *sacme_time_rfc3339(apr_pool_t *p, apr_time_t t);

/* Clamps v into [lo, hi]. */
apr_interval_time_t sacme_time_clamp(apr_interval_time_t v,
                                     apr_interval_time_t lo,
                                     apr_interval_time_t hi);

/* t + d, saturated: APR_INT64_MAX (or APR_INT64_MIN) instead of an
 * overflow, which would be undefined and in practice a time in the past,
 * i.e. "due now" in a loop. Every "now + a configured or received delay"
 * goes through this. */
apr_time_t sacme_time_add(apr_time_t t, apr_interval_time_t d);

/* A monotonic clock in apr_time_t units (microseconds from an arbitrary
 * start): for durations that a wall clock set back or forward must not
 * change, such as how long a lease surely lives. */
apr_time_t sacme_time_mono(void);

#endif /* SACME_TIME_H */
