/* Unit tests: sacme_window (durations, windows, start and jitter), and
 * sacme_rand, the jitter's random source. */
#include "unit.h"
#include "sacme_rand.h"
#include "sacme_window.h"

#define DAY  apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)

/* A fixed, realistic validity: 2026-01-01T00:00:00Z plus 90 days. */
#define NB ((apr_time_t)1767225600 * APR_USEC_PER_SEC)
#define NA (NB + 90 * DAY)

START_TEST(duration_parse_forms)
{
    static const struct {
        const char *s;
        apr_int64_t secs;
    } ok[] = {
        { "30d", 30 * 86400 }, { "12h", 12 * 3600 }, { "90m", 90 * 60 },
        { "45s", 45 },         { "30", 30 * 86400 }, { "1", 86400 },
        { "0s", 0 },           { "0", 0 },           { "007d", 7 * 86400 },
        { "36h", 36 * 3600 },  { "100000d", (apr_int64_t)100000 * 86400 },
    };
    apr_interval_time_t d;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(ok); ++i) {
        d = -1;
        ck_assert_msg(sacme_duration_parse(ok[i].s, &d) == APR_SUCCESS,
                      "'%s' refused", ok[i].s);
        ck_assert_msg(d == apr_time_from_sec(ok[i].secs), "'%s' gave %" APR_INT64_T_FMT,
                      ok[i].s, (apr_int64_t)d);
    }
}
END_TEST

START_TEST(duration_parse_invalid)
{
    static const char *const bad[] = {
        "", "d", "-5d", "+5d", "5x", "1.5d", "1,5d", "99999999999999d",
        "99999999999999999999999", "5dd", "5 d", " 5d", "5d ", "5D", "5M",
        "0x10", "5ms", "%", "5%", "d5",
    };
    apr_interval_time_t d = 42;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_duration_parse(bad[i], &d) == APR_EINVAL,
                      "'%s' accepted", bad[i]);
    }
    ck_assert_int_eq(sacme_duration_parse(NULL, &d), APR_EINVAL);
    ck_assert_int_eq(d, 42);     /* untouched on failure */

    /* The edge of apr_interval_time_t: the largest number of seconds that
     * fits is accepted, one more is overflow. */
    ck_assert_int_eq(sacme_duration_parse("9223372036854s", &d), APR_SUCCESS);
    ck_assert_int_eq(sacme_duration_parse("9223372036855s", &d), APR_EINVAL);
    ck_assert_int_eq(sacme_duration_parse("106751991d", &d), APR_SUCCESS);
    ck_assert_int_eq(sacme_duration_parse("106751992d", &d), APR_EINVAL);
}
END_TEST

START_TEST(window_parse_forms)
{
    sacme_window_t w;

    ck_assert_int_eq(sacme_window_parse("33%", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 33);
    ck_assert_int_eq(w.duration, 0);
    ck_assert_int_eq(sacme_window_parse("1%", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 1);
    ck_assert_int_eq(sacme_window_parse("100%", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 100);

    ck_assert_int_eq(sacme_window_parse("30d", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 0);
    ck_assert_int_eq(w.duration, 30 * DAY);
    ck_assert_int_eq(sacme_window_parse("12h", &w), APR_SUCCESS);
    ck_assert_int_eq(w.duration, 12 * HOUR);
    ck_assert_int_eq(sacme_window_parse("90m", &w), APR_SUCCESS);
    ck_assert_int_eq(w.duration, apr_time_from_sec(90 * 60));
    ck_assert_int_eq(sacme_window_parse("45s", &w), APR_SUCCESS);
    ck_assert_int_eq(w.duration, apr_time_from_sec(45));
    ck_assert_int_eq(sacme_window_parse("21", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 0);
    ck_assert_int_eq(w.duration, 21 * DAY);

    /* A percentage after a duration clears the duration, and back. */
    ck_assert_int_eq(sacme_window_parse("50%", &w), APR_SUCCESS);
    ck_assert_int_eq(w.duration, 0);
    ck_assert_int_eq(sacme_window_parse("2d", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 0);
}
END_TEST

START_TEST(window_parse_invalid)
{
    static const char *const bad[] = {
        "", "d", "-5d", "5x", "0%", "101%", "1.5d", "99999999999999d",
        "%", "-5%", "5 %", "50%%", "50%d", "1.5%", "99999999999%", "1000%",
        "0d", "0", "0s", " 33%", "33% ",
    };
    sacme_window_t w = { 7, 0 };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_window_parse(bad[i], &w) == APR_EINVAL,
                      "'%s' accepted", bad[i]);
    }
    ck_assert_int_eq(sacme_window_parse(NULL, &w), APR_EINVAL);
    ck_assert_int_eq(w.percent, 7);
}
END_TEST

START_TEST(window_str_round_trip)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "33%", "33%" }, { "1%", "1%" }, { "100%", "100%" },
        { "30d", "30d" }, { "30", "30d" }, { "36h", "36h" }, { "48h", "2d" },
        { "90m", "90m" }, { "120m", "2h" }, { "90s", "90s" }, { "60s", "1m" },
        { "86400s", "1d" },
    };
    sacme_window_t w, back;
    apr_size_t i;
    const char *s;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        ck_assert_int_eq(sacme_window_parse(cases[i].in, &w), APR_SUCCESS);
        s = sacme_window_str(unit_pool, &w);
        ck_assert_str_eq(s, cases[i].out);
        ck_assert_int_eq(sacme_window_parse(s, &back), APR_SUCCESS);
        ck_assert_int_eq(back.percent, w.percent);
        ck_assert_int_eq(back.duration, w.duration);
    }
}
END_TEST

START_TEST(start_percent)
{
    sacme_window_t w = { SACME_WINDOW_DEFAULT_PERCENT, 0 };

    /* 33% of 90 days is 29.7 days before the end: 60.3 days after the
     * start, to the microsecond. */
    ck_assert_int_eq(sacme_window_start(&w, NB, NA),
                     NB + 60 * DAY + apr_time_from_sec(86400 * 3 / 10));
    w.percent = 50;
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);
    w.percent = 1;
    ck_assert_int_eq(sacme_window_start(&w, NB, NA),
                     NA - apr_time_from_sec(90 * 86400 / 100));
    /* More than half is cut to half: never renewed before half its life */
    w.percent = 100;
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);
    w.percent = 51;
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);

    /* Short-lived certificates (6 days, as some CAs now issue). */
    w.percent = 33;
    ck_assert_int_eq(sacme_window_start(&w, NB, NB + 6 * DAY),
                     NB + 6 * DAY - apr_time_from_sec(6 * 86400 * 33 / 100));

    /* A notAfter of 9999-12-31 (private CAs) must not overflow. */
    ck_assert(sacme_window_start(&w, NB, (apr_time_t)253402300799 * APR_USEC_PER_SEC)
              > NB);
}
END_TEST

START_TEST(start_duration)
{
    sacme_window_t w;

    ck_assert_int_eq(sacme_window_parse("30d", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 60 * DAY);
    ck_assert_int_eq(sacme_window_parse("36h", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NA - 36 * HOUR);
    ck_assert_int_eq(sacme_window_parse("90d", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);
}
END_TEST

/* Each setting's limit: the largest value passes, one second more is
 * APR_ERANGE (so the message can name the limit), and what is no duration
 * stays APR_EINVAL. Without the caps, values up to ~292,000 years passed. */
START_TEST(duration_parse_max_caps)
{
    static const struct {
        apr_interval_time_t max;
        const char *ok, *over;
    } cases[] = {
        { SACME_MAX_RETRY_DELAY,    "1d",    "86401s" },
        { SACME_MAX_CHECK_INTERVAL, "7d",    "604801s" },
        { SACME_MAX_HTTP_TIMEOUT,   "60m",   "3601s" },
        { SACME_MAX_RETRY_AFTER,    "168h",  "604801s" },
        { SACME_MAX_WINDOW,         "3650d", "315360001s" },
        { SACME_MAX_ISSUE_TIMEOUT,  "86400s", "2d" },
    };
    apr_interval_time_t d;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        d = 0;
        ck_assert_msg(sacme_duration_parse_max(cases[i].ok, cases[i].max, &d)
                      == APR_SUCCESS, "'%s' refused", cases[i].ok);
        ck_assert_int_eq(d, cases[i].max);
        d = 42;
        ck_assert_msg(sacme_duration_parse_max(cases[i].over, cases[i].max, &d)
                      == APR_ERANGE, "'%s' accepted", cases[i].over);
        ck_assert_int_eq(d, 42);
        ck_assert_int_eq(sacme_duration_parse_max("106751991d", cases[i].max, &d),
                         APR_ERANGE);
        ck_assert_int_eq(sacme_duration_parse_max("soon", cases[i].max, &d),
                         APR_EINVAL);
    }
    ck_assert_int_eq(sacme_duration_parse_max("169h", SACME_MAX_CHECK_INTERVAL, &d),
                     APR_ERANGE);
}
END_TEST

START_TEST(window_parse_capped)
{
    sacme_window_t w = { 7, 0 };

    ck_assert_int_eq(sacme_window_parse("3650d", &w), APR_SUCCESS);
    ck_assert_int_eq(w.duration, SACME_MAX_WINDOW);
    ck_assert_int_eq(sacme_window_parse("3651d", &w), APR_ERANGE);
    ck_assert_int_eq(sacme_window_parse("106751991d", &w), APR_ERANGE);
    ck_assert_int_eq(sacme_window_parse("100%", &w), APR_SUCCESS);
    ck_assert_int_eq(w.percent, 100);
    ck_assert_int_eq(sacme_window_parse("101%", &w), APR_EINVAL);
}
END_TEST

START_TEST(start_clamped)
{
    sacme_window_t w;

    /* Longer than half the lifetime: at half of it, never before (it was
     * "as soon as it is valid", so a new certificate was due at once). */
    ck_assert_int_eq(sacme_window_parse("120d", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);
    ck_assert(sacme_window_clamped(&w, NB, NA));
    ck_assert_int_eq(sacme_window_parse("30d", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NB + 7 * DAY), NB + 7 * DAY / 2);
    ck_assert(sacme_window_clamped(&w, NB, NB + 7 * DAY));
    ck_assert_int_eq(sacme_window_parse("3650d", &w), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_start(&w, NB, NA), NB + 45 * DAY);
    ck_assert_int_eq(sacme_window_length(&w, NB, NA), 45 * DAY);

    /* Nonsense validity (notAfter not after notBefore). */
    ck_assert_int_eq(sacme_window_start(&w, NB, NB), NB);
    ck_assert_int_eq(sacme_window_start(&w, NA, NB), NA);
}
END_TEST

START_TEST(jitter_stable_and_bounded)
{
    static const char *const names[] = {
        "example.org", "www.example.org", "example.com", "a.example",
        "b.example", "mail.example.net", "*.example.org", "xn--bcher-kva.example",
        "192.0.2.1", "",
    };
    sacme_window_t pct = { 33, 0 }, dur = { 0, 0 };
    apr_interval_time_t j, j2, bound;
    apr_size_t i;

    ck_assert_int_eq(sacme_window_parse("30d", &dur), APR_SUCCESS);
    for (i = 0; i < SACME_ARRAY_LEN(names); ++i) {
        /* percent: of 33% of the lifetime */
        j = sacme_window_jitter(&pct, NB, NA, names[i], 0, 0.1);
        j2 = sacme_window_jitter(&pct, NB, NA, names[i], 0, 0.1);
        ck_assert_int_eq(j, j2);
        bound = (90 * DAY / 100 * 33) / 10;
        ck_assert_msg(j >= 0 && j < bound, "%s: %" APR_INT64_T_FMT, names[i],
                      (apr_int64_t)j);
        /* duration: of the duration */
        j = sacme_window_jitter(&dur, NB, NA, names[i], 0, 0.25);
        ck_assert_int_eq(j, sacme_window_jitter(&dur, NB, NA, names[i], 0, 0.25));
        ck_assert(j >= 0 && j < 30 * DAY / 4);
        /* A larger max_fraction scales the same fraction. */
        j2 = sacme_window_jitter(&dur, NB, NA, names[i], 0, 0.5);
        ck_assert(j2 >= 2 * j - 1 && j2 <= 2 * j + 1);
        /* The jitter depends on the window's length, not on when the
         * certificate was issued. */
        ck_assert_int_eq(j, sacme_window_jitter(&dur, NB + 17 * DAY, NA + 17 * DAY,
                                                names[i], 0, 0.25));
    }
    /* Case does not make another domain. */
    ck_assert_int_eq(sacme_window_jitter(&pct, NB, NA, "Example.ORG", 0, 0.1),
                     sacme_window_jitter(&pct, NB, NA, "example.org", 0, 0.1));
    /* No jitter asked, or a nonsense validity: none. */
    ck_assert_int_eq(sacme_window_jitter(&pct, NB, NA, "example.org", 0, 0.0), 0);
    ck_assert_int_eq(sacme_window_jitter(&pct, NB, NA, "example.org", 0, -1.0), 0);
    ck_assert_int_eq(sacme_window_jitter(&pct, NA, NB, "example.org", 0, 0.1), 0);
    /* A window longer than half the lifetime: the jitter is a fraction of
     * the half, as the start is clamped to it. */
    ck_assert_int_eq(sacme_window_parse("365d", &dur), APR_SUCCESS);
    for (i = 0; i < SACME_ARRAY_LEN(names); ++i) {
        ck_assert(sacme_window_jitter(&dur, NB, NA, names[i], 0, 0.5) < 45 * DAY / 2);
    }
    /* max_fraction above 1 is taken as 1. */
    ck_assert(sacme_window_jitter(&pct, NB, NA, "example.org", 0, 7.0)
              < 90 * DAY / 100 * 33);
}
END_TEST

START_TEST(jitter_spreads_names)
{
    sacme_window_t w = { 33, 0 };
    apr_interval_time_t j[8], len = 90 * DAY / 100 * 33;
    char name[32];
    int i, k, low = 0, high = 0;

    for (i = 0; i < 8; ++i) {
        apr_snprintf(name, sizeof(name), "host%d.example.org", i);
        j[i] = sacme_window_jitter(&w, NB, NA, name, 0, 1.0);
        for (k = 0; k < i; ++k) {
            ck_assert_msg(j[i] != j[k], "%s collides with host%d", name, k);
        }
        if (j[i] < len / 2) {
            ++low;
        }
        else {
            ++high;
        }
    }
    /* Not a statistical test, just: not all on one side. */
    ck_assert_int_gt(low, 0);
    ck_assert_int_gt(high, 0);
    ck_assert_int_ne(sacme_window_jitter(&w, NB, NA, "example.org", 0, 0.1),
                     sacme_window_jitter(&w, NB, NA, "example.com", 0, 0.1));
    ck_assert_int_ne(sacme_window_jitter(&w, NB, NA, "a.example", 0, 0.1),
                     sacme_window_jitter(&w, NB, NA, "b.example", 0, 0.1));
}
END_TEST

/* The renewal time for the lifetimes CAs issue today and soon (6-day
 * short-lived, 47 days from 2029, 90 days, 200 days from 2026): the default
 * fits them all, a duration window is cut to half the lifetime, and no
 * name is ever renewed before half of the certificate's life. */
START_TEST(renew_at_lifetimes)
{
    static const int days[] = { 6, 47, 90, 200 };
    static const char *const names[] = {
        "example.org", "www.example.org", "a.example", "b.example", "c.example",
        "mail.example.net", "xn--bcher-kva.example", "192.0.2.1",
    };
    static const apr_uint64_t seeds[] = { 0, 1, APR_UINT64_C(0xdeadbeefcafef00d) };
    sacme_window_t dflt = { SACME_WINDOW_DEFAULT_PERCENT, 0 }, d30, p70;
    apr_size_t i, n, k;

    ck_assert_int_eq(sacme_window_parse("30d", &d30), APR_SUCCESS);
    ck_assert_int_eq(sacme_window_parse("70%", &p70), APR_SUCCESS);
    for (i = 0; i < SACME_ARRAY_LEN(days); ++i) {
        apr_interval_time_t life = days[i] * DAY, len = life / 100 * 33;
        apr_time_t na = NB + life, half = NB + life / 2;

        /* the default: a third left, never clamped */
        ck_assert(!sacme_window_clamped(&dflt, NB, na));
        ck_assert_int_eq(sacme_window_length(&dflt, NB, na), len);
        /* 30 days: clamped for 6 and 47 days, as written for 90 and 200 */
        ck_assert_int_eq(sacme_window_clamped(&d30, NB, na), days[i] < 60);
        ck_assert_int_eq(sacme_window_length(&d30, NB, na),
                         days[i] < 60 ? life / 2 : 30 * DAY);
        /* 70%: always clamped to half */
        ck_assert(sacme_window_clamped(&p70, NB, na));
        ck_assert_int_eq(sacme_window_length(&p70, NB, na), life / 2);

        for (n = 0; n < SACME_ARRAY_LEN(names); ++n) {
            for (k = 0; k < SACME_ARRAY_LEN(seeds); ++k) {
                apr_time_t at;

                /* default: up to a tenth of the window before its start */
                at = sacme_window_renew_at(&dflt, NB, na, names[n], seeds[k], 0.1);
                ck_assert_msg(at <= na - len && at > na - len - len / 10,
                              "%d days, %s: renewal %" APR_INT64_T_FMT " s after issue",
                              days[i], names[n], (apr_int64_t)apr_time_sec(at - NB));
                ck_assert(at >= half);
                /* stable: the same inputs give the same time */
                ck_assert_int_eq(at, sacme_window_renew_at(&dflt, NB, na, names[n],
                                                           seeds[k], 0.1));

                at = sacme_window_renew_at(&d30, NB, na, names[n], seeds[k], 0.1);
                if (days[i] < 60) {
                    /* clamped: at half, the jitter going later instead */
                    ck_assert_msg(at >= half && at < half + life / 20,
                                  "%d days, 30d, %s: %" APR_INT64_T_FMT " s after half",
                                  days[i], names[n], (apr_int64_t)apr_time_sec(at - half));
                }
                else {
                    ck_assert(at <= na - 30 * DAY && at > na - 33 * DAY);
                }

                at = sacme_window_renew_at(&p70, NB, na, names[n], seeds[k], 0.1);
                ck_assert(at >= half && at < half + life / 20);
            }
        }
    }
}
END_TEST

/* A window just under half: the jitter would reach before the half and
 * is mirrored after it; renewals stay spread, none before the half. */
START_TEST(renew_at_never_before_half)
{
    sacme_window_t w = { 48, 0 };
    apr_time_t half = NB + 45 * DAY, at, lo = NA, hi = NB;
    char name[32];
    int i;

    ck_assert(!sacme_window_clamped(&w, NB, NA));
    for (i = 0; i < 200; ++i) {
        apr_snprintf(name, sizeof(name), "host%d.example.org", i);
        at = sacme_window_renew_at(&w, NB, NA, name, 42, 0.1);
        ck_assert_msg(at >= half && at < NA, "%s: %" APR_INT64_T_FMT " s after half",
                      name, (apr_int64_t)apr_time_sec(at - half));
        lo = at < lo ? at : lo;
        hi = at > hi ? at : hi;
    }
    /* spread over hours, not piled up at the half */
    ck_assert(hi - lo > 12 * HOUR);
    /* even the whole window as jitter cannot go before the half */
    w.percent = 50;
    for (i = 0; i < 200; ++i) {
        apr_snprintf(name, sizeof(name), "host%d.example.org", i);
        at = sacme_window_renew_at(&w, NB, NA, name, 7, 1.0);
        ck_assert(at >= half && at < NA);
    }
    /* nonsense validity: at once, as the start says */
    ck_assert_int_eq(sacme_window_renew_at(&w, NB, NB, "example.org", 7, 0.1), NB);
    ck_assert_int_eq(sacme_window_renew_at(&w, NA, NB, "example.org", 7, 0.1), NA);
}
END_TEST

/* The seed (the store's) moves a name's jitter: servers of a fleet with
 * their own stores renew the same name at different moments; one server
 * keeps its moment. */
START_TEST(jitter_seeded)
{
    sacme_window_t w = { 33, 0 };
    apr_interval_time_t j0, j;
    int seed, differ = 0;

    j0 = sacme_window_jitter(&w, NB, NA, "example.org", 1, 0.1);
    ck_assert_int_eq(j0, sacme_window_jitter(&w, NB, NA, "example.org", 1, 0.1));
    ck_assert_int_eq(j0, sacme_window_jitter(&w, NB, NA, "EXAMPLE.org", 1, 0.1));
    for (seed = 2; seed < 12; ++seed) {
        j = sacme_window_jitter(&w, NB, NA, "example.org", (apr_uint64_t)seed, 0.1);
        ck_assert(j >= 0 && j < 90 * DAY / 100 * 33 / 10);
        differ += j != j0;
    }
    ck_assert_int_eq(differ, 10);
}
END_TEST

/* The random source of the retry and poll jitter: within its bounds, both
 * ends reached, and not the same sequence every time (rand() unseeded was). */
START_TEST(rand_range_bounds)
{
    int i, v, seen_lo = 0, seen_hi = 0;
    apr_uint64_t a = sacme_rand_u64(), b = sacme_rand_u64();

    for (i = 0; i < 2000; ++i) {
        v = sacme_rand_range(-10, 10);
        ck_assert(v >= -10 && v <= 10);
        seen_lo |= v == -10;
        seen_hi |= v == 10;
    }
    ck_assert(seen_lo && seen_hi);
    ck_assert_int_eq(sacme_rand_range(5, 5), 5);
    ck_assert_int_eq(sacme_rand_range(7, 3), 7);
    ck_assert(a != b);
}
END_TEST

Suite *unit_suite_window(void)
{
    Suite *s = suite_create("window");
    TCase *tc = tcase_create("window");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, duration_parse_forms);
    tcase_add_test(tc, duration_parse_invalid);
    tcase_add_test(tc, window_parse_forms);
    tcase_add_test(tc, window_parse_invalid);
    tcase_add_test(tc, window_str_round_trip);
    tcase_add_test(tc, start_percent);
    tcase_add_test(tc, start_duration);
    tcase_add_test(tc, start_clamped);
    tcase_add_test(tc, duration_parse_max_caps);
    tcase_add_test(tc, window_parse_capped);
    tcase_add_test(tc, jitter_stable_and_bounded);
    tcase_add_test(tc, jitter_spreads_names);
    tcase_add_test(tc, renew_at_lifetimes);
    tcase_add_test(tc, renew_at_never_before_half);
    tcase_add_test(tc, jitter_seeded);
    tcase_add_test(tc, rand_range_bounds);
    suite_add_tcase(s, tc);
    return s;
}
