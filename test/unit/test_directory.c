/* Unit tests: directory parsing, with and without the optional fields. */
#include <string.h>

#include "unit.h"
#include "sacme_directory.h"
#include "sacme_json.h"
#include "sacme_profile.h"

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

/* SacmeProfile's names: short words; anything else is a typo. */
START_TEST(profile_names)
{
    char longest[SACME_PROFILE_MAX + 2];

    ck_assert(sacme_profile_name_ok("shortlived"));
    ck_assert(sacme_profile_name_ok("tls-server_v2.1"));
    ck_assert(!sacme_profile_name_ok(""));
    ck_assert(!sacme_profile_name_ok(NULL));
    ck_assert(!sacme_profile_name_ok("short lived"));
    ck_assert(!sacme_profile_name_ok("\"x\""));
    ck_assert(!sacme_profile_name_ok("caf\xc3\xa9"));
    memset(longest, 'a', sizeof(longest));
    longest[SACME_PROFILE_MAX] = '\0';
    ck_assert(sacme_profile_name_ok(longest));
    longest[SACME_PROFILE_MAX] = 'a';
    longest[SACME_PROFILE_MAX + 1] = '\0';
    ck_assert(!sacme_profile_name_ok(longest));
}
END_TEST

/* What newOrder carries: the profile when offered, none from a CA without
 * profiles, an error naming the offered ones otherwise. */
START_TEST(profile_choose)
{
    sacme_directory_t *full, *pebble;
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *send = "unset";

    ck_assert_int_eq(parse("acme/directory-full.json", &full, NULL), APR_SUCCESS);
    ck_assert_int_eq(parse("acme/directory-pebble.json", &pebble, NULL), APR_SUCCESS);
    ck_assert_str_eq(sacme_profile_offered(unit_pool, full), "classic, shortlived");
    ck_assert_str_eq(sacme_profile_offered(unit_pool, pebble), "none");

    ck_assert_int_eq(sacme_profile_choose(unit_pool, full, "shortlived", &send, res),
                     APR_SUCCESS);
    ck_assert_str_eq(send, "shortlived");
    ck_assert_int_eq(sacme_profile_choose(unit_pool, full, NULL, &send, res), APR_SUCCESS);
    ck_assert_ptr_null(send);
    send = "unset";
    ck_assert_int_eq(sacme_profile_choose(unit_pool, pebble, "shortlived", &send, res),
                     APR_SUCCESS);
    ck_assert_ptr_null(send);

    ck_assert_int_eq(sacme_profile_choose(unit_pool, full, "longlived", &send, res),
                     SACME_ECONFIG);
    ck_assert_ptr_null(send);
    ck_assert_ptr_nonnull(strstr(res->detail, "'longlived'"));
    ck_assert_ptr_nonnull(strstr(res->detail, "classic, shortlived"));
}
END_TEST

/* issued.json decides whether the live certificate was ordered for the
 * configured profile; a record of another serial says nothing. */
START_TEST(profile_changed)
{
    json_t *j = sacme_json_own(unit_pool, json_pack(
        "{s:s, s:s, s:s}", "serial", "0A1B", "profile", "tlsserver",
        "configured-profile", "tlsserver"));
    json_t *no_ca = sacme_json_own(unit_pool, json_pack(
        "{s:s, s:n, s:s}", "serial", "0A1B", "profile", "configured-profile",
        "shortlived"));
    json_t *old = sacme_json_own(unit_pool, json_pack("{s:s}", "serial", "0A1B"));

    ck_assert_str_eq(sacme_profile_sent(j, "0a1b"), "tlsserver");
    ck_assert_ptr_null(sacme_profile_sent(j, "FFFF"));
    ck_assert(!sacme_profile_changed("tlsserver", j, "0A1B"));
    ck_assert(sacme_profile_changed("shortlived", j, "0A1B"));
    ck_assert(sacme_profile_changed(NULL, j, "0A1B"));
    /* a CA without profiles: ordered without one, yet what was configured */
    ck_assert_ptr_null(sacme_profile_sent(no_ca, "0A1B"));
    ck_assert(!sacme_profile_changed("shortlived", no_ca, "0A1B"));
    /* a record from before profiles, or of another certificate, or none */
    ck_assert(!sacme_profile_changed(NULL, old, "0A1B"));
    ck_assert(sacme_profile_changed("shortlived", old, "0A1B"));
    ck_assert(!sacme_profile_changed(NULL, j, "FFFF"));
    ck_assert(sacme_profile_changed("tlsserver", j, "FFFF"));
    ck_assert(!sacme_profile_changed(NULL, NULL, "0A1B"));
    ck_assert(sacme_profile_changed("tlsserver", NULL, "0A1B"));
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
    tcase_add_test(tc, profile_names);
    tcase_add_test(tc, profile_choose);
    tcase_add_test(tc, profile_changed);
    suite_add_tcase(s, tc);
    return s;
}
