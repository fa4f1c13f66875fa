/* Unit tests: sacme_time. */
#include "unit.h"
#include "sacme_time.h"

/* 2026-11-25T17:00:00Z, computed independently (date -u -d ... +%s). */
#define T_2026_11_25_17 ((apr_time_t)1795626000 * APR_USEC_PER_SEC)

START_TEST(retry_after_delta_seconds)
{
    apr_time_t now = T_2026_11_25_17;

    ck_assert_int_eq(sacme_time_retry_after("120", now), now + apr_time_from_sec(120));
    ck_assert_int_eq(sacme_time_retry_after(" 5 ", now), now + apr_time_from_sec(5));
    ck_assert_int_eq(sacme_time_retry_after("0", now), now);
}
END_TEST

START_TEST(retry_after_http_date)
{
    apr_time_t now = T_2026_11_25_17;

    /* RFC 1123, RFC 850 and asctime forms of the same instant. */
    ck_assert_int_eq(sacme_time_retry_after("Wed, 25 Nov 2026 17:00:30 GMT", now),
                     now + apr_time_from_sec(30));
    ck_assert_int_eq(sacme_time_retry_after("Wednesday, 25-Nov-26 17:00:30 GMT", now),
                     now + apr_time_from_sec(30));
    ck_assert_int_eq(sacme_time_retry_after("Wed Nov 25 17:00:30 2026", now),
                     now + apr_time_from_sec(30));
}
END_TEST

START_TEST(retry_after_garbage)
{
    apr_time_t now = T_2026_11_25_17;

    ck_assert_int_eq(sacme_time_retry_after(NULL, now), 0);
    ck_assert_int_eq(sacme_time_retry_after("", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("   ", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("-5", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("+5", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("1.5", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("10 seconds", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("soon", now), 0);
    ck_assert_int_eq(sacme_time_retry_after("Wed, 32 Nov 2026 17:00:30 GMT", now), 0);
}
END_TEST

START_TEST(retry_after_huge_does_not_overflow)
{
    apr_time_t now = T_2026_11_25_17;
    apr_time_t t = sacme_time_retry_after("99999999999999999999999999999", now);

    ck_assert(t > now);
    ck_assert(t < now + apr_time_from_sec((apr_int64_t)11 * 366 * 86400));
}
END_TEST

START_TEST(rfc3339_parse_basic)
{
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T17:00:00Z"), T_2026_11_25_17);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25t17:00:00z"), T_2026_11_25_17);
    ck_assert_int_eq(sacme_time_rfc3339_parse("1970-01-01T00:00:01Z"), APR_USEC_PER_SEC);
    /* leap day */
    ck_assert_int_eq(sacme_time_rfc3339_parse("2024-02-29T00:00:00Z"),
                     (apr_time_t)1709164800 * APR_USEC_PER_SEC);
}
END_TEST

START_TEST(rfc3339_parse_fraction_and_offset)
{
    /* Pebble sends nanoseconds: keep microseconds, drop the rest. */
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T17:00:00.123456789Z"),
                     T_2026_11_25_17 + 123456);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T17:00:00.5Z"),
                     T_2026_11_25_17 + 500000);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T18:30:00+01:30"), T_2026_11_25_17);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T12:00:00-05:00"), T_2026_11_25_17);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-25T17:00:00+00:00"), T_2026_11_25_17);
    ck_assert_int_eq(sacme_time_rfc3339_parse("2026-11-26T01:00:00.25+08:00"),
                     T_2026_11_25_17 + 250000);
}
END_TEST

START_TEST(rfc3339_parse_malformed)
{
    static const char *const bad[] = {
        "", "2026", "2026-11-25", "2026-11-25T17:00:00", /* no zone */
        "2026-11-25T17:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z",
        "2026-11-25T17:60:00Z", "2026-11-25T17:00:61Z", "2026-11-25T17:00:00.Z",
        "2026-11-25T17:00:00+0100", "2026-11-25T17:00:00+24:00",
        "2026-11-25T17:00:00Zjunk", "26-11-25T17:00:00Z", "2026/11/25T17:00:00Z",
        "1969-12-31T23:59:59Z", " 2026-11-25T17:00:00Z",
    };
    apr_size_t i;

    ck_assert_int_eq(sacme_time_rfc3339_parse(NULL), 0);
    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_time_rfc3339_parse(bad[i]) == 0, "accepted '%s'", bad[i]);
    }
}
END_TEST

START_TEST(rfc3339_format_round_trip)
{
    const char *s = sacme_time_rfc3339(unit_pool, T_2026_11_25_17 + 999999);

    /* Second precision, UTC, "Z". */
    ck_assert_str_eq(s, "2026-11-25T17:00:00Z");
    ck_assert_str_eq(sacme_time_rfc3339(unit_pool, 0), "1970-01-01T00:00:00Z");
    ck_assert_int_eq(sacme_time_rfc3339_parse(s), T_2026_11_25_17);
    s = sacme_time_rfc3339(unit_pool, sacme_time_rfc3339_parse("2026-11-26T01:00:00+08:00"));
    ck_assert_str_eq(s, "2026-11-25T17:00:00Z");
}
END_TEST

START_TEST(clamp)
{
    ck_assert_int_eq(sacme_time_clamp(5, 1, 10), 5);
    ck_assert_int_eq(sacme_time_clamp(0, 1, 10), 1);
    ck_assert_int_eq(sacme_time_clamp(-7, 1, 10), 1);
    ck_assert_int_eq(sacme_time_clamp(11, 1, 10), 10);
    ck_assert_int_eq(sacme_time_clamp(1, 1, 10), 1);
    ck_assert_int_eq(sacme_time_clamp(10, 1, 10), 10);
}
END_TEST

/* A configured or received delay added to now never wraps into the past
 * (which would make a domain due at once, in a loop). */
START_TEST(add_saturates)
{
    apr_time_t now = T_2026_11_25_17;

    ck_assert_int_eq(sacme_time_add(now, apr_time_from_sec(60)), now + apr_time_from_sec(60));
    ck_assert_int_eq(sacme_time_add(now, -apr_time_from_sec(60)), now - apr_time_from_sec(60));
    ck_assert_int_eq(sacme_time_add(now, 0), now);
    ck_assert_int_eq(sacme_time_add(now, APR_INT64_MAX), APR_INT64_MAX);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MAX, 1), APR_INT64_MAX);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MAX - 5, 5), APR_INT64_MAX);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MAX - 5, 6), APR_INT64_MAX);
    ck_assert_int_eq(sacme_time_add(-now, APR_INT64_MIN), APR_INT64_MIN);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MIN, -1), APR_INT64_MIN);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MIN + 5, -5), APR_INT64_MIN);
    ck_assert_int_eq(sacme_time_add(APR_INT64_MIN + 5, -6), APR_INT64_MIN);
}
END_TEST

Suite *unit_suite_time(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("time");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, retry_after_delta_seconds);
    tcase_add_test(tc, retry_after_http_date);
    tcase_add_test(tc, retry_after_garbage);
    tcase_add_test(tc, retry_after_huge_does_not_overflow);
    tcase_add_test(tc, rfc3339_parse_basic);
    tcase_add_test(tc, rfc3339_parse_fraction_and_offset);
    tcase_add_test(tc, rfc3339_parse_malformed);
    tcase_add_test(tc, rfc3339_format_round_trip);
    tcase_add_test(tc, clamp);
    tcase_add_test(tc, add_saturates);
    suite_add_tcase(s, tc);
    return s;
}
