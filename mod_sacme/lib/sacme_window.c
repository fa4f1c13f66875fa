/* Renewal windows: parsing what admins write, and the moment it gives for a
 * certificate.
 *
 * Everything here is integer arithmetic on apr_time_t (microseconds), with
 * the overflow checks done while parsing, so that a window that parsed can
 * be applied to any certificate without further care.
 */
#include <apr_lib.h>

#include "sacme_window.h"

#define SEC_PER_MIN  ((apr_int64_t)60)
#define SEC_PER_HOUR ((apr_int64_t)3600)
#define SEC_PER_DAY  ((apr_int64_t)86400)

/* The largest number of seconds apr_time_from_sec() can take without
 * overflowing apr_interval_time_t. */
#define MAX_SECONDS (APR_INT64_MAX / APR_USEC_PER_SEC)

/* Reads 1*DIGIT into *n, refusing values above max (overflow is checked
 * before each step, so nothing wraps); returns the first byte after the
 * digits, or NULL. */
static const char *read_number(const char *s, apr_int64_t max, apr_int64_t *n)
{
    apr_int64_t v = 0;
    const char *c;

    for (c = s; apr_isdigit(*c); ++c) {
        int digit = *c - '0';
        if (v > (max - digit) / 10) {
            return NULL;
        }
        v = v * 10 + digit;
    }
    if (c == s) {
        return NULL;
    }
    *n = v;
    return c;
}

apr_status_t sacme_duration_parse(const char *s, apr_interval_time_t *d)
{
    apr_int64_t n, unit;
    const char *end;

    /* No sign, no blanks, no fraction: "-5d" or "1.5d" is more likely a
     * typo than an intent, and refusing it at config time is cheap. */
    if (!s || !(end = read_number(s, MAX_SECONDS, &n))) {
        return APR_EINVAL;
    }
    switch (*end) {
    case '\0':
        unit = SEC_PER_DAY;     /* a bare number: admins mean days */
        break;
    case 'd':
        unit = SEC_PER_DAY;
        break;
    case 'h':
        unit = SEC_PER_HOUR;
        break;
    case 'm':
        unit = SEC_PER_MIN;
        break;
    case 's':
        unit = 1;
        break;
    default:
        return APR_EINVAL;
    }
    if (*end && end[1] != '\0') {
        return APR_EINVAL;
    }
    if (n > MAX_SECONDS / unit) {
        return APR_EINVAL;
    }
    *d = apr_time_from_sec(n * unit);
    return APR_SUCCESS;
}

apr_status_t sacme_duration_parse_max(const char *s, apr_interval_time_t max,
                                      apr_interval_time_t *d)
{
    apr_interval_time_t v;

    if (sacme_duration_parse(s, &v) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (v > max) {
        return APR_ERANGE;
    }
    *d = v;
    return APR_SUCCESS;
}

apr_status_t sacme_window_parse(const char *s, sacme_window_t *w)
{
    apr_interval_time_t d;
    apr_status_t rv;
    apr_int64_t n;
    const char *end;

    if (!s) {
        return APR_EINVAL;
    }
    if (apr_isdigit(*s) && (end = read_number(s, 1000, &n)) && *end == '%') {
        if (end[1] != '\0' || n < 1 || n > 100) {
            return APR_EINVAL;
        }
        w->percent = (int)n;
        w->duration = 0;
        return APR_SUCCESS;
    }
    if ((rv = sacme_duration_parse_max(s, SACME_MAX_WINDOW, &d)) != APR_SUCCESS) {
        return rv;
    }
    /* A zero window would mean "renew at expiry", which is never what an
     * admin wants, and {0, 0} is also what an unset window looks like. */
    if (d <= 0) {
        return APR_EINVAL;
    }
    w->percent = 0;
    w->duration = d;
    return APR_SUCCESS;
}

const char *sacme_window_str(apr_pool_t *p, const sacme_window_t *w)
{
    apr_int64_t secs;

    if (w->percent > 0) {
        return apr_psprintf(p, "%d%%", w->percent);
    }
    /* The largest unit that represents the duration exactly, so the text
     * parses back to the same window. */
    secs = apr_time_sec(w->duration);
    if (secs > 0 && secs % SEC_PER_DAY == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "d", secs / SEC_PER_DAY);
    }
    if (secs > 0 && secs % SEC_PER_HOUR == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h", secs / SEC_PER_HOUR);
    }
    if (secs > 0 && secs % SEC_PER_MIN == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m", secs / SEC_PER_MIN);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", secs);
}

/* The window's length for a certificate of this lifetime as written,
 * never more than the lifetime itself (nor less than nothing). */
static apr_interval_time_t window_asked(const sacme_window_t *w,
                                        apr_interval_time_t lifetime)
{
    apr_interval_time_t len;

    if (lifetime <= 0) {
        return 0;
    }
    if (w->percent > 0) {
        /* Split so that lifetime * percent cannot overflow even for the
         * year-9999 notAfter some private CAs use. */
        len = lifetime / 100 * w->percent + lifetime % 100 * w->percent / 100;
    }
    else {
        len = w->duration;
    }
    return len > lifetime ? lifetime : (len < 0 ? 0 : len);
}

/* Half the lifetime: the longest window that applies. A longer one would
 * renew a certificate before half of its life has passed; with a window
 * near the whole lifetime the new certificate is due again as soon as it
 * is in service (a 6-day certificate and "30d": an order and a restart
 * every minute, forever). */
static apr_interval_time_t half_of(apr_interval_time_t lifetime)
{
    return lifetime > 0 ? lifetime / 2 : 0;
}

apr_interval_time_t sacme_window_length(const sacme_window_t *w,
                                        apr_time_t not_before, apr_time_t not_after)
{
    apr_interval_time_t lifetime = not_after - not_before;
    apr_interval_time_t len = window_asked(w, lifetime);

    return len > half_of(lifetime) ? half_of(lifetime) : len;
}

int sacme_window_clamped(const sacme_window_t *w, apr_time_t not_before,
                         apr_time_t not_after)
{
    apr_interval_time_t lifetime = not_after - not_before;

    return lifetime > 0 && window_asked(w, lifetime) > half_of(lifetime);
}

apr_time_t sacme_window_start(const sacme_window_t *w, apr_time_t not_before,
                              apr_time_t not_after)
{
    if (not_after <= not_before) {
        return not_before;      /* nonsense validity: renew as soon as possible */
    }
    return not_after - sacme_window_length(w, not_before, not_after);
}

/* FNV-1a, 64 bit, over the seed's bytes and then the lower-cased name:
 * tiny and stable across builds and platforms, so a restart does not move
 * a renewal; names differing in case are the same domain. The seed makes
 * the same name land elsewhere on another server of a fleet. Its quality
 * is ample for spreading renewals. */
static apr_uint64_t name_hash(const char *name, apr_uint64_t seed)
{
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    const unsigned char *c;
    int i;

    /* A zero seed (none known) leaves the hash of the name alone: what it
     * was before seeds existed. */
    for (i = 0; seed && i < 8; ++i) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= APR_UINT64_C(0x100000001b3);
    }
    for (c = (const unsigned char *)(name ? name : ""); *c; ++c) {
        h ^= (apr_uint64_t)apr_tolower(*c);
        h *= APR_UINT64_C(0x100000001b3);
    }
    return h;
}

apr_interval_time_t sacme_window_jitter(const sacme_window_t *w,
                                        apr_time_t not_before,
                                        apr_time_t not_after,
                                        const char *name, apr_uint64_t seed,
                                        double max_fraction)
{
    apr_interval_time_t len, j;
    double fraction, bound;

    if (not_after <= not_before || !(max_fraction > 0.0)) {   /* also NaN */
        return 0;
    }
    if (max_fraction > 1.0) {
        max_fraction = 1.0;
    }
    /* The window as it applies to this certificate (clamped to half the
     * lifetime, like the start). */
    len = sacme_window_length(w, not_before, not_after);
    bound = max_fraction * (double)len;
    /* The top 53 bits give a double in [0, 1) exactly. */
    fraction = (double)(name_hash(name, seed) >> 11) / 9007199254740992.0;
    j = (apr_interval_time_t)(fraction * bound);
    /* Rounding of the product may land on the bound itself; the contract
     * is a value strictly below it. */
    if (j > 0 && (double)j >= bound) {
        --j;
    }
    return j;
}

apr_time_t sacme_window_renew_at(const sacme_window_t *w, apr_time_t not_before,
                                 apr_time_t not_after, const char *name,
                                 apr_uint64_t seed, double max_fraction)
{
    apr_time_t half, at;

    if (not_after <= not_before) {
        return not_before;
    }
    at = sacme_window_start(w, not_before, not_after)
         - sacme_window_jitter(w, not_before, not_after, name, seed, max_fraction);
    /* The jitter moves the renewal earlier, but never before half of the
     * lifetime: one that would is mirrored to as much after it. So a window
     * clamped to half still spreads the renewals of many domains (after
     * the half, not all at it), and none is renewed younger. */
    half = not_before + half_of(not_after - not_before);
    return at >= half ? at : half + (half - at);
}
