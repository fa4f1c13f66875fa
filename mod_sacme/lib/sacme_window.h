/* Renewal (and later warning) windows: "renew when 33% of the lifetime
 * remains" or "renew 30 days before expiry", and the time that gives for a
 * given certificate.
 */
#ifndef SACME_WINDOW_H
#define SACME_WINDOW_H

#include "sacme.h"

typedef struct sacme_window_t {
    int percent;                   /* 1..100 when given as a percentage, else 0 */
    apr_interval_time_t duration;  /* when given as a duration */
} sacme_window_t;

/* The default: a third of the lifetime remaining. */
#define SACME_WINDOW_DEFAULT_PERCENT 33

/* Parses a duration: a number with a unit d, h, m or s ("30d", "12h",
 * "90m", "45s"), or a bare number, read as days (admins write "30" for 30
 * days). Fractions are not accepted. APR_EINVAL for anything else
 * (negative, overflow, unknown unit). */
apr_status_t sacme_duration_parse(const char *s, apr_interval_time_t *d);

/* The largest value each duration setting takes. Parsing alone allows
 * ~292,000 years, which is never meant and which overflows apr_time_t once
 * added to now; each limit is far above any sensible value and documented
 * in docs/directives.md. */
#define SACME_MAX_RETRY_DELAY    apr_time_from_sec(86400)          /* 1d: the backoff's cap */
#define SACME_MAX_CHECK_INTERVAL apr_time_from_sec(7 * 86400)      /* 7d */
#define SACME_MAX_HTTP_TIMEOUT   apr_time_from_sec(3600)           /* 1h */
#define SACME_MAX_RETRY_AFTER    apr_time_from_sec(7 * 86400)      /* 7d */
#define SACME_MAX_WINDOW         apr_time_from_sec(3650 * 86400)   /* ten years */
#define SACME_MAX_ISSUE_TIMEOUT  apr_time_from_sec(86400)          /* 1d */

/* sacme_duration_parse, then a bound: APR_ERANGE when the duration is
 * larger than max (APR_EINVAL when it is no duration at all), so the
 * caller can tell the admin which limit was crossed. */
apr_status_t sacme_duration_parse_max(const char *s, apr_interval_time_t max,
                                      apr_interval_time_t *d);

/* Parses a window: a duration of at most SACME_MAX_WINDOW (APR_ERANGE
 * above it), or a percentage "N%" with 1 <= N <= 100. */
apr_status_t sacme_window_parse(const char *s, sacme_window_t *w);

/* The window as text ("33%", "30d", "36h", "90s"), for logs and status. */
const char *sacme_window_str(apr_pool_t *p, const sacme_window_t *w);

/* When a certificate valid [not_before, not_after) should be renewed:
 * not_after minus the window (percent of the lifetime, or the duration).
 * Never before not_before. */
apr_time_t sacme_window_start(const sacme_window_t *w, apr_time_t not_before,
                              apr_time_t not_after);

/* A stable jitter for a domain: a fraction (0..max_fraction) of the window's
 * length, derived from the name (hash), so renewals of many domains spread
 * out but a restart does not move them. Subtract it from the start. */
apr_interval_time_t sacme_window_jitter(const sacme_window_t *w,
                                        apr_time_t not_before,
                                        apr_time_t not_after,
                                        const char *name, double max_fraction);

#endif /* SACME_WINDOW_H */
