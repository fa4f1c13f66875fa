/* Unit tests: directory parsing, with and without the optional fields. */
#include <string.h>

#include "unit.h"
#include "sacme_directory.h"

static apr_status_t parse(const char *fixture, sacme_directory_t **dir,
                          sacme_result_t *res)
{
    apr_size_t len;
    const char *body = unit_fixture_read(fixture, &len);
    return sacme_directory_parse(unit_pool, body, len, dir, res);
}

START_TEST(pebble_directory)
{
    sacme_directory_t *dir;

    ck_assert_int_eq(parse("acme/directory-pebble.json", &dir, NULL), APR_SUCCESS);
    ck_assert_str_eq(dir->new_nonce, "https://127.0.0.1:14000/nonce-plz");
    ck_assert_str_eq(dir->new_account, "https://127.0.0.1:14000/sign-me-up");
    ck_assert_str_eq(dir->new_order, "https://127.0.0.1:14000/order-plz");
    ck_assert_str_eq(dir->key_change, "https://127.0.0.1:14000/rollover-account-key");
    ck_assert_int_eq(dir->eab_required, 1);
    ck_assert_str_eq(dir->terms_of_service, "data:text/plain,Do%20what%20thou%20wilt");
    ck_assert_ptr_null(dir->renewal_info);
    ck_assert_int_eq(dir->profiles->nelts, 0);
}
END_TEST

START_TEST(sectigo_enterprise_minimal)
{
    sacme_directory_t *dir;

    /* Sectigo's private ACME: hyphenated names at the root, no terms, no ARI */
    ck_assert_int_eq(parse("acme/directory-sectigo-enterprise.json", &dir, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(dir->new_nonce, "https://acme.enterprise.example/new-nonce");
    ck_assert_str_eq(dir->new_account, "https://acme.enterprise.example/new-account");
    ck_assert_int_eq(dir->eab_required, 1);
    ck_assert_ptr_null(dir->terms_of_service);
    ck_assert_ptr_null(dir->renewal_info);
    ck_assert_ptr_null(dir->new_authz);
    ck_assert_int_eq(dir->caa_identities->nelts, 0);
}
END_TEST

START_TEST(all_optional_fields)
{
    sacme_directory_t *dir;

    ck_assert_int_eq(parse("acme/directory-full.json", &dir, NULL), APR_SUCCESS);
    ck_assert_int_eq(dir->eab_required, 0);
    ck_assert_str_eq(dir->renewal_info, "https://ca.example/acme/renewal-info");
    ck_assert_str_eq(dir->new_authz, "https://ca.example/acme/new-authz");
    ck_assert_str_eq(dir->terms_of_service, "https://ca.example/terms.pdf");
    ck_assert_str_eq(dir->website, "https://ca.example/");
    ck_assert_int_eq(dir->caa_identities->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(dir->caa_identities, 1, const char *), "ca2.example");
    ck_assert_int_eq(dir->profiles->nelts, 2);
    ck_assert(sacme_directory_has_profile(dir, "shortlived"));
    ck_assert(!sacme_directory_has_profile(dir, "longlived"));
}
END_TEST

START_TEST(missing_required_url)
{
    sacme_directory_t *dir = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(parse("acme/directory-no-neworder.json", &dir, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "newOrder"));
}
END_TEST

START_TEST(html_instead_of_json)
{
    sacme_directory_t *dir = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(parse("acme/directory-html.txt", &dir, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "not JSON"));
    /* the start of the body is quoted so the admin sees what came back */
    ck_assert_ptr_nonnull(strstr(res->detail, "403 Forbidden"));
}
END_TEST

START_TEST(not_an_object)
{
    sacme_directory_t *dir = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_directory_parse(unit_pool, "[1,2]", 5, &dir, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "not a JSON object"));
}
END_TEST

START_TEST(nesting_bound)
{
    sacme_directory_t *dir = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);
    char body[200];
    int i;

    for (i = 0; i < 60; ++i) body[i] = '[';
    for (i = 60; i < 120; ++i) body[i] = ']';
    ck_assert_int_eq(sacme_directory_parse(unit_pool, body, 120, &dir, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "nested"));
}
END_TEST

Suite *unit_suite_directory(void)
{
    Suite *s = suite_create("directory");
    TCase *tc = tcase_create("directory");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, pebble_directory);
    tcase_add_test(tc, sectigo_enterprise_minimal);
    tcase_add_test(tc, all_optional_fields);
    tcase_add_test(tc, missing_required_url);
    tcase_add_test(tc, html_instead_of_json);
    tcase_add_test(tc, not_an_object);
    tcase_add_test(tc, nesting_bound);
    suite_add_tcase(s, tc);
    return s;
}
