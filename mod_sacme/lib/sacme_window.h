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

/* The window as it applies to a certificate valid [not_before,
 * not_after): the percentage of its lifetime, or the duration, but never
 * more than half of the lifetime, so that no certificate is renewed before
 * half of its life has passed (a 6-day certificate with "30d" would
 * otherwise be due again the moment it is in service). 0 for a nonsense
 * validity (not_after not after not_before). */
apr_interval_time_t sacme_window_length(const sacme_window_t *w,
                                        apr_time_t not_before, apr_time_t not_after);

/* Whether sacme_window_length cut the window down to half the lifetime
 * (the admin is told, once: the window written does not apply). */
int sacme_window_clamped(const sacme_window_t *w, apr_time_t not_before,
                         apr_time_t not_after);

/* When a certificate valid [not_before, not_after) should be renewed,
 * without jitter: not_after minus sacme_window_length, so never before the
 * middle of the validity (not_before for a nonsense validity). */
apr_time_t sacme_window_start(const sacme_window_t *w, apr_time_t not_before,
                              apr_time_t not_after);

/* A stable jitter for a domain: a fraction (0..max_fraction) of the
 * window's length, derived from a hash of the name and the seed, so
 * renewals of many domains spread out but a restart does not move them.
 * The seed (the store's, sacme_store_jitter_seed) differs between the
 * servers of a fleet, so they do not all renew the same name at the same
 * moment; 0 gives the name alone. */
apr_interval_time_t sacme_window_jitter(const sacme_window_t *w,
                                        apr_time_t not_before,
                                        apr_time_t not_after,
                                        const char *name, apr_uint64_t seed,
                                        double max_fraction);

/* The renewal time: sacme_window_start less sacme_window_jitter, except
 * that the jitter never takes it before the middle of the validity (one
 * that would moves it as far after the middle instead). Always within
 * [not_before + lifetime/2, not_after). */
apr_time_t sacme_window_renew_at(const sacme_window_t *w, apr_time_t not_before,
                                 apr_time_t not_after, const char *name,
                                 apr_uint64_t seed, double max_fraction);

#endif /* SACME_WINDOW_H */
