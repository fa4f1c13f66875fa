/* Unit tests: what the driver adds to a refusal after asking SCM
 * (sacme_scm_check.c), over recorded SCM answers. */
#include <string.h>

#include "unit.h"
#include "unit_fake.h"
#include "sacme_scm_check.h"

static const char *LIST =
    "[{\"id\": 1001, \"name\": \"web-1\", \"macId\": \"kid-web\", "
    "\"macKey\": \"SECRET-MAC\", \"domains\": [{\"name\": \"example.com\"}, "
    "{\"name\": \"*.shop.example.com\"}]},"
    " {\"id\": 1002, \"name\": \"other\", \"macId\": \"kid-other\", "
    "\"macKey\": \"SECRET-2\", \"domains\": [{\"name\": \"www.example.com\"}]}]";

static sacme_scm_check_t *check_over(unit_fake_t *fake, const unit_scripted_t *script,
                                     int n, long org)
{
    /* the client keeps the credentials: they must outlive this call */
    sacme_scm_creds_t *creds = apr_pcalloc(unit_pool, sizeof(*creds));
    sacme_scm_options_t opts;
    sacme_scm_t *scm;
    sacme_scm_check_t *check;
    sacme_result_t *res = sacme_result_make(unit_pool);

    creds->file = "/etc/apache2/sacme-scm.json";
    creds->url = "https://scm.example/api";
    creds->login = "api";
    creds->password = "pw-not-to-be-seen";
    creds->customer_uri = "cust";
    creds->org_id = org;
    memset(&opts, 0, sizeof(opts));
    opts.http = unit_fake_http(fake, script, n);
    opts.retries = -1;
    ck_assert_int_eq(sacme_scm_make(unit_pool, creds, &opts, &scm, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_scm_check_make(unit_pool, scm, org, creds->file, &check, res),
                     APR_SUCCESS);
    return check;
}

static sacme_domain_t *domain(const char *const *names)
{
    sacme_domain_t *dom = apr_pcalloc(unit_pool, sizeof(*dom));
    dom->names = apr_array_make(unit_pool, 4, sizeof(const char *));
    for (; *names; ++names) {
        APR_ARRAY_PUSH(dom->names, const char *) = *names;
    }
    dom->name = APR_ARRAY_IDX(dom->names, 0, const char *);
    return dom;
}

static sacme_ca_t *ca_with_kid(const char *kid)
{
    sacme_eab_t *eab = kid ? sacme_eab_kid_only(unit_pool, kid) : NULL;
    return sacme_ca_make(unit_pool, "https://acme.example/dir", eab);
}

START_TEST(names_the_missing_names_and_the_command)
{
    static const char *const names[] = {
        "example.com", "a.shop.example.com", "www.example.com", NULL
    };
    unit_scripted_t script[] = {{ 200, "Content-Type: application/json\n", LIST }};
    unit_fake_t fake;
    sacme_scm_check_t *c = check_over(&fake, script, 1, 6339);
    const char *said = sacme_scm_check_refusal(c, domain(names), ca_with_kid("kid-web"),
                                               NULL, unit_pool);

    ck_assert_ptr_nonnull(said);
    ck_assert_msg(strstr(said, "the ACME account 1001 (web-1) does not have "
                         "www.example.com in its domains") != NULL, "%s", said);
    ck_assert_msg(strstr(said, "'sacmectl scm domains add --account 1001 "
                         "www.example.com'") != NULL, "%s", said);
    /* covered by the account: example.com itself, and *.shop.example.com */
    ck_assert_ptr_null(strstr(said, "have example.com"));
    ck_assert_ptr_null(strstr(said, "a.shop.example.com"));
    ck_assert_ptr_null(strstr(said, "SECRET"));
    ck_assert_ptr_nonnull(strstr(fake.urls[0], "organizationId=6339"));
}
END_TEST

START_TEST(every_name_present_points_past_the_domain_list)
{
    static const char *const names[] = { "example.com", NULL };
    unit_scripted_t script[] = {{ 200, "Content-Type: application/json\n", LIST }};
    unit_fake_t fake;
    sacme_scm_check_t *c = check_over(&fake, script, 1, 6339);
    const char *said = sacme_scm_check_refusal(c, domain(names), ca_with_kid("kid-web"),
                                               NULL, unit_pool);

    ck_assert_msg(strstr(said, "has every name of this domain") != NULL, "%s", said);
    ck_assert_ptr_nonnull(strstr(said, "(DCV)"));
}
END_TEST

START_TEST(scm_that_refuses_is_said_without_secrets)
{
    static const char *const names[] = { "example.com", NULL };
    unit_scripted_t script[] = {{ 401, "Content-Type: application/json\n",
        "{\"code\": -16, \"description\": \"Invalid authentication\"}" }};
    unit_fake_t fake;
    sacme_scm_check_t *c = check_over(&fake, script, 1, 6339);
    const char *said = sacme_scm_check_refusal(c, domain(names), ca_with_kid("kid-web"),
                                               NULL, unit_pool);

    ck_assert_msg(strstr(said, "SCM could not tell whether the names are in the "
                         "ACME account's domains") != NULL, "%s", said);
    ck_assert_ptr_null(strstr(said, "pw-not-to-be-seen"));
    ck_assert_int_eq(fake.next, 1);    /* asked once: a 401 is not retried */
}
END_TEST

START_TEST(unknown_kid_and_missing_settings_are_said_without_asking)
{
    static const char *const names[] = { "example.com", NULL };
    unit_scripted_t script[] = {{ 200, "Content-Type: application/json\n", LIST }};
    unit_fake_t fake;
    sacme_scm_check_t *c = check_over(&fake, script, 1, 6339);
    const char *said = sacme_scm_check_refusal(c, domain(names), ca_with_kid("kid-gone"),
                                               NULL, unit_pool);

    ck_assert_msg(strstr(said, "SCM could not tell") != NULL, "%s", said);
    ck_assert_msg(strstr(said, "kid-gone") != NULL, "%s", said);

    c = check_over(&fake, script, 1, 0);
    said = sacme_scm_check_refusal(c, domain(names), ca_with_kid("kid-web"), NULL,
                                   unit_pool);
    ck_assert_msg(strstr(said, "give \"organizationId\" in "
                         "/etc/apache2/sacme-scm.json") != NULL, "%s", said);
    ck_assert_int_eq(fake.next, 0);

    said = sacme_scm_check_refusal(c, domain(names), ca_with_kid(NULL), NULL, unit_pool);
    ck_assert_ptr_nonnull(strstr(said, "no EAB key id"));
    ck_assert_int_eq(fake.next, 0);
}
END_TEST

Suite *unit_suite_scm_check(void)
{
    Suite *s = suite_create("scm_check");
    TCase *tc = tcase_create("scm_check");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, names_the_missing_names_and_the_command);
    tcase_add_test(tc, every_name_present_points_past_the_domain_list);
    tcase_add_test(tc, scm_that_refuses_is_said_without_secrets);
    tcase_add_test(tc, unknown_kid_and_missing_settings_are_said_without_asking);
    suite_add_tcase(s, tc);
    return s;
}
