/* Time helpers: Retry-After, RFC 3339, clamps.
 *
 * Everything here parses values a CA sends us, so every parser refuses
 * rather than guesses: a malformed value yields 0 and the caller falls back
 * to its own schedule.
 */
#include <time.h>

#include <apr_date.h>
#include <apr_lib.h>

#include "sacme_time.h"

/* A CA asking us to wait longer than this is treated as asking for this;
 * the cap keeps the arithmetic far from apr_time_t overflow. Callers clamp
 * to their own, much shorter, bounds anyway. */
#define MAX_DELTA_SEC ((apr_int64_t)10 * 366 * 24 * 3600)

apr_time_t sacme_time_retry_after(const char *value, apr_time_t now)
{
    const char *s, *end, *c;
    apr_int64_t secs = 0;

    if (!value) {
        return 0;
    }
    s = value;
    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
        --end;
    }
    if (s == end) {
        return 0;
    }
    if (!apr_isdigit(*s)) {
        /* An HTTP-date. apr_date_parse_http accepts the RFC 1123, RFC 850
         * and asctime forms, as RFC 9110 asks recipients to, and returns
         * APR_DATE_BAD (0) for anything else. A date in the past is returned
         * as is: it means "now", and the caller's clamp sees that. */
        return apr_date_parse_http(s);
    }
    /* delta-seconds = 1*DIGIT (RFC 9110 §10.2.3): a fraction or trailing
     * text is neither a delay nor a date. */
    for (c = s; c < end; ++c) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
        if (secs <= MAX_DELTA_SEC) {
            secs = secs * 10 + (*c - '0');
        }
    }
    if (secs > MAX_DELTA_SEC) {
        secs = MAX_DELTA_SEC;
    }
    return sacme_time_add(now, apr_time_from_sec(secs));
}

apr_time_t sacme_time_add(apr_time_t t, apr_interval_time_t d)
{
    if (d > 0 && t > APR_INT64_MAX - d) {
        return APR_INT64_MAX;
    }
    if (d < 0 && t < APR_INT64_MIN - d) {
        return APR_INT64_MIN;
    }
    return t + d;
}

/* Reads exactly n digits; 0 when they are not all there. */
static int read_digits(const char **ps, int n, int *out)
{
    const char *s = *ps;
    int v = 0, i;

    for (i = 0; i < n; ++i) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ps = s + n;
    *out = v;
    return 1;
}

static int expect_char(const char **ps, char c)
{
    if (**ps != c) {
        return 0;
    }
    ++*ps;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

apr_time_t sacme_time_rfc3339_parse(const char *s)
{
    int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
    apr_int64_t usec = 0, scale = 100000;
    apr_time_exp_t xt;
    apr_time_t t;

    if (!s) {
        return 0;
    }
    if (!read_digits(&s, 4, &year) || !expect_char(&s, '-')
        || !read_digits(&s, 2, &mon) || !expect_char(&s, '-')
        || !read_digits(&s, 2, &day)) {
        return 0;
    }
    /* RFC 3339 §5.6 allows a lower-case "t", and notes that a space is
     * common; CAs emit "T", but being lenient here costs nothing. */
    if (*s != 'T' && *s != 't' && *s != ' ') {
        return 0;
    }
    ++s;
    if (!read_digits(&s, 2, &hour) || !expect_char(&s, ':')
        || !read_digits(&s, 2, &min) || !expect_char(&s, ':')
        || !read_digits(&s, 2, &sec)) {
        return 0;
    }
    if (*s == '.') {
        ++s;
        if (!apr_isdigit(*s)) {
            return 0;
        }
        /* Go-based CAs (Pebble, Boulder) send nanoseconds; keep microseconds. */
        for (; apr_isdigit(*s); ++s) {
            usec += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        ++s;
    }
    else if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        ++s;
        if (!read_digits(&s, 2, &off_h) || !expect_char(&s, ':')
            || !read_digits(&s, 2, &off_m)) {
            return 0;
        }
    }
    else {
        return 0;
    }
    if (*s != '\0'
        || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon)
        || hour > 23 || min > 59 || sec > 60 || off_h > 23 || off_m > 59) {
        return 0;
    }

    memset(&xt, 0, sizeof(xt));
    xt.tm_year = year - 1900;
    xt.tm_mon = mon - 1;
    xt.tm_mday = day;
    xt.tm_hour = hour;
    xt.tm_min = min;
    /* A leap second (":60") becomes the first second of the next minute,
     * which is what every clock we compare against will show. */
    xt.tm_sec = sec;
    xt.tm_usec = (apr_int32_t)usec;
    if (apr_time_exp_gmt_get(&t, &xt) != APR_SUCCESS) {
        return 0;               /* before 1970 */
    }
    /* local = UTC + offset, so UTC = local - offset */
    t -= sign * apr_time_from_sec((apr_int64_t)off_h * 3600 + off_m * 60);
    return t > 0 ? t : 0;
}

const char *sacme_time_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t xt;

    if (apr_time_exp_gmt(&xt, t) != APR_SUCCESS) {
        return apr_pstrdup(p, "1970-01-01T00:00:00Z");
    }
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                        xt.tm_year + 1900, xt.tm_mon + 1, xt.tm_mday,
                        xt.tm_hour, xt.tm_min, xt.tm_sec);
}

apr_interval_time_t sacme_time_clamp(apr_interval_time_t v,
                                     apr_interval_time_t lo,
                                     apr_interval_time_t hi)
{
    if (v < lo) {
        return lo;
    }
    if (v > hi) {
        return hi;
    }
    return v;
}

apr_time_t sacme_time_mono(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return apr_time_now();      /* not on Linux: never fails there */
    }
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}
