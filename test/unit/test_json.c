/* Unit tests: sacme_json. */
#include <string.h>

#include <apr_file_io.h>

#include "unit.h"
#include "sacme_json.h"

/* A JSON text of n nested arrays: "[[[...]]]". */
static const char *nested(int n)
{
    char *s = apr_palloc(unit_pool, (apr_size_t)n * 2 + 1);
    int i;

    for (i = 0; i < n; ++i) {
        s[i] = '[';
        s[n * 2 - 1 - i] = ']';
    }
    s[n * 2] = '\0';
    return s;
}

START_TEST(parse_object)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *text = "{\"status\":\"valid\",\"n\":3}";
    json_t *j = sacme_json_parse(unit_pool, text, strlen(text), 0, res);

    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(res->status, APR_SUCCESS);
    ck_assert_str_eq(sacme_json_str(j, "status"), "valid");
}
END_TEST

START_TEST(depth_bound)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *ok = nested(SACME_MAX_JSON_DEPTH);
    const char *deep = nested(SACME_MAX_JSON_DEPTH + 1);

    ck_assert_int_eq(sacme_json_depth(ok, strlen(ok)), SACME_MAX_JSON_DEPTH);
    ck_assert_ptr_nonnull(sacme_json_parse(unit_pool, ok, strlen(ok), 0, res));
    ck_assert_ptr_null(sacme_json_parse(unit_pool, deep, strlen(deep), 0, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "nested"));

    /* An explicit, smaller bound. */
    ck_assert_ptr_nonnull(sacme_json_parse(unit_pool, "[[1]]", 5, 2, res));
    ck_assert_ptr_null(sacme_json_parse(unit_pool, "[[[1]]]", 7, 2, res));
}
END_TEST

START_TEST(depth_ignores_brackets_in_strings)
{
    const char *text = "{\"a\":\"[[[[{{{{\\\"]]]]\"}";

    ck_assert_int_eq(sacme_json_depth(text, strlen(text)), 1);
}
END_TEST

START_TEST(duplicates_rejected)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *text = "{\"status\":\"valid\",\"status\":\"invalid\"}";

    ck_assert_ptr_null(sacme_json_parse(unit_pool, text, strlen(text), 0, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
}
END_TEST

START_TEST(invalid_has_excerpt)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *text = "<html><body>Service Unavailable</body></html>";

    ck_assert_ptr_null(sacme_json_parse(unit_pool, text, strlen(text), 0, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "invalid JSON"));
    ck_assert_ptr_nonnull(strstr(res->detail, "<html><body>Service Unavailable"));
}
END_TEST

START_TEST(invalid_excerpt_is_bounded_and_printable)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *text = apr_palloc(unit_pool, 1001);
    apr_size_t i;

    /* The control bytes come after jansson's "near '...'" token, which
     * echoes raw input: this checks our excerpt, not jansson's text. */
    for (i = 0; i < 1000; ++i) {
        text[i] = (i % 7 == 6) ? '\x01' : 'x';
    }
    text[1000] = '\0';
    ck_assert_ptr_null(sacme_json_parse(unit_pool, text, 1000, 0, res));
    ck_assert(strlen(res->detail) < 300);
    ck_assert_ptr_null(strchr(res->detail, '\x01'));
    ck_assert_ptr_nonnull(strstr(res->detail, "..."));
}
END_TEST

START_TEST(empty_refused)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_ptr_null(sacme_json_parse(unit_pool, "", 0, 0, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
    ck_assert_ptr_null(sacme_json_parse(unit_pool, NULL, 0, 0, res));
}
END_TEST

START_TEST(trailing_garbage_refused)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_ptr_null(sacme_json_parse(unit_pool, "{} {}", 5, 0, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
}
END_TEST

START_TEST(getters_wrong_types)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *text = "{\"s\":\"x\",\"n\":1,\"o\":{\"k\":true},\"a\":[1],\"t\":true,"
                       "\"f\":false,\"z\":null}";
    json_t *j = sacme_json_parse(unit_pool, text, strlen(text), 0, res);
    json_t *arr;

    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(sacme_json_str(j, "s"), "x");
    ck_assert_ptr_nonnull(sacme_json_obj(j, "o"));
    ck_assert_ptr_nonnull(sacme_json_arr(j, "a"));
    ck_assert_int_eq(sacme_json_bool(j, "t"), 1);
    ck_assert_int_eq(sacme_json_bool(sacme_json_obj(j, "o"), "k"), 1);

    /* Wrong types and missing keys: NULL / 0, never a crash. */
    ck_assert_ptr_null(sacme_json_str(j, "n"));
    ck_assert_ptr_null(sacme_json_str(j, "o"));
    ck_assert_ptr_null(sacme_json_str(j, "z"));
    ck_assert_ptr_null(sacme_json_str(j, "missing"));
    ck_assert_ptr_null(sacme_json_obj(j, "a"));
    ck_assert_ptr_null(sacme_json_obj(j, "s"));
    ck_assert_ptr_null(sacme_json_arr(j, "o"));
    ck_assert_ptr_null(sacme_json_arr(j, "z"));
    ck_assert_int_eq(sacme_json_bool(j, "f"), 0);
    ck_assert_int_eq(sacme_json_bool(j, "s"), 0);
    ck_assert_int_eq(sacme_json_bool(j, "n"), 0);
    ck_assert_int_eq(sacme_json_bool(j, "missing"), 0);

    /* Not an object at all (a CA sending an array), or NULL. */
    arr = sacme_json_arr(j, "a");
    ck_assert_ptr_null(sacme_json_str(arr, "s"));
    ck_assert_ptr_null(sacme_json_obj(arr, "o"));
    ck_assert_ptr_null(sacme_json_str(NULL, "s"));
    ck_assert_ptr_null(sacme_json_arr(NULL, "a"));
    ck_assert_int_eq(sacme_json_bool(NULL, "t"), 0);
}
END_TEST

START_TEST(dump_compact_sorted)
{
    json_t *j = sacme_json_own(unit_pool, json_object());
    json_t *inner = json_object();

    /* The RFC 7638 thumbprint input form: sorted, no whitespace. */
    json_object_set_new(j, "n", json_string("abc"));
    json_object_set_new(j, "kty", json_string("RSA"));
    json_object_set_new(j, "e", json_string("AQAB"));
    json_object_set_new(inner, "z", json_integer(1));
    json_object_set_new(inner, "a", json_array());
    json_object_set_new(j, "b", inner);
    ck_assert_str_eq(sacme_json_dump(unit_pool, j),
                     "{\"b\":{\"a\":[],\"z\":1},\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"abc\"}");
}
END_TEST

START_TEST(dump_scalar)
{
    json_t *s = sacme_json_own(unit_pool, json_string("a\"b"));

    ck_assert_str_eq(sacme_json_dump(unit_pool, s), "\"a\\\"b\"");
}
END_TEST

START_TEST(file_round_trip)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/x.json", NULL);
    json_t *j = sacme_json_own(unit_pool, json_pack("{s:s,s:i}", "url", "https://ca/acct/1", "n", 2));
    json_t *back;
    apr_finfo_t fi;

    ck_assert_int_eq(sacme_json_write_file(j, path, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                           unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_PROT, unit_pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, APR_FPROT_UREAD | APR_FPROT_UWRITE);
    back = sacme_json_read_file(unit_pool, path, 4096, res);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(sacme_json_str(back, "url"), "https://ca/acct/1");
    ck_assert(json_equal(j, back));
}
END_TEST

START_TEST(read_file_invalid_names_path)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/bad.json", NULL);
    apr_file_t *f;

    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                   APR_OS_DEFAULT, unit_pool), APR_SUCCESS);
    apr_file_puts("{\"a\":", f);
    apr_file_close(f);
    ck_assert_ptr_null(sacme_json_read_file(unit_pool, path, 4096, res));
    ck_assert_int_eq(res->status, APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
}
END_TEST

/* A record of the certificate before is not about the one in service. */
START_TEST(record_about_serial)
{
    json_t *rec = sacme_json_own(unit_pool, json_pack("{s:s}", "serial", "0A1b"));

    ck_assert(sacme_json_about_serial(rec, "0a1B"));
    ck_assert(!sacme_json_about_serial(rec, "0a1c"));
    ck_assert(!sacme_json_about_serial(rec, NULL));
    ck_assert(!sacme_json_about_serial(NULL, "0a1b"));
    ck_assert(!sacme_json_about_serial(sacme_json_own(unit_pool, json_object()), "0a1b"));
}
END_TEST

Suite *unit_suite_json(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, parse_object);
    tcase_add_test(tc, record_about_serial);
    tcase_add_test(tc, depth_bound);
    tcase_add_test(tc, depth_ignores_brackets_in_strings);
    tcase_add_test(tc, duplicates_rejected);
    tcase_add_test(tc, invalid_has_excerpt);
    tcase_add_test(tc, invalid_excerpt_is_bounded_and_printable);
    tcase_add_test(tc, empty_refused);
    tcase_add_test(tc, trailing_garbage_refused);
    tcase_add_test(tc, getters_wrong_types);
    tcase_add_test(tc, dump_compact_sorted);
    tcase_add_test(tc, dump_scalar);
    tcase_add_test(tc, file_round_trip);
    tcase_add_test(tc, read_file_invalid_names_path);
    suite_add_tcase(s, tc);
    return s;
}
