/* The SCM REST API client (sacme_scm.c, sacme_scm_acct.c): the credentials
 * file, the classes of failure and their messages, retries (never on a
 * 4xx), the create that is not sent twice, Location, domain matching. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "unit_fake.h"
#include "sacme_file.h"
#include "sacme_scm.h"

#define PASSWORD "Pa55-w0rd-unit"
#define CREDS "{\"url\": \"https://scm.example/api/\", \"login\": \"api\", " \
              "\"password\": \"" PASSWORD "\", \"customerUri\": \"cust\", " \
              "\"organizationId\": 6339}"

static const char *creds_file(const char *text, mode_t mode)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/scm.json", NULL);

    unit_write_text(path, text, SACME_FPROT_PRIVATE);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static sacme_scm_creds_t *load(const char *text, mode_t mode, sacme_result_t *res,
                               apr_status_t *rv)
{
    sacme_scm_creds_t *creds = NULL;

    *rv = sacme_scm_creds_load(unit_pool, creds_file(text, mode), &creds, res);
    return creds;
}

START_TEST(test_scm_creds_file)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_scm_creds_t *creds;
    apr_status_t rv;

    creds = load(CREDS, 0600, res, &rv);
    if (geteuid() != 0) {
        /* not root's: refused, which is what a root run checks below */
        ck_assert_int_ne(rv, APR_SUCCESS);
        ck_assert_ptr_nonnull(strstr(res->detail, "not owned by root"));
        return;
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s", res->detail);
    ck_assert_str_eq(creds->url, "https://scm.example/api");   /* no trailing / */
    ck_assert_str_eq(creds->login, "api");
    ck_assert_str_eq(creds->password, PASSWORD);
    ck_assert_str_eq(creds->customer_uri, "cust");
    ck_assert_int_eq(creds->org_id, 6339);
    ck_assert_ptr_null(creds->trust);
}
END_TEST

START_TEST(test_scm_creds_file_refused)
{
    static const struct {
        const char *text;
        mode_t mode;
        const char *says;
    } cases[] = {
        { CREDS, 0640, "chmod 0600" },
        { CREDS, 0604, "readable or writable by group or others" },
        { CREDS, 0620, "chown root:root" },
        { "{\"url\": \"https://x/api\", \"login\": \"a\", \"password\": \"" PASSWORD
          "\"", 0600, "not valid JSON" },
        { "{\"url\": \"https://x/api\", \"login\": \"a\", \"password\": \"" PASSWORD
          "\"}", 0600, "\"customerUri\"" },
        { "{\"url\": \"http://x/api\", \"login\": \"a\", \"password\": \"" PASSWORD
          "\", \"customerUri\": \"c\"}", 0600, "https URL" },
        { "{\"url\": \"https://x/api\", \"login\": \"a\", \"password\": \"" PASSWORD
          "\\r\\nX: y\", \"customerUri\": \"c\"}", 0600, "control character" },
        { "{\"url\": \"https://x/api\", \"login\": \"a\", \"password\": \"" PASSWORD
          "\", \"customerUri\": \"c\", \"organizationId\": \"6339\"}", 0600,
          "positive number" },
        { "", 0600, "empty" },
    };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        sacme_result_t *res = sacme_result_make(unit_pool);
        apr_status_t rv;

        load(cases[i].text, cases[i].mode, res, &rv);
        ck_assert_msg(rv != APR_SUCCESS, "case %d accepted", (int)i);
        ck_assert_int_eq(sacme_scm_class(res), SACME_SCM_LOCAL);
        ck_assert_msg(strstr(res->detail, cases[i].says), "case %d: %s", (int)i,
                      res->detail);
        ck_assert_msg(strstr(res->detail, "scm.json"), "%s", res->detail);
        ck_assert_msg(!strstr(res->detail, PASSWORD), "%s", res->detail);
    }
}
END_TEST

/* A client over scripted answers, with fast retries. */
static sacme_scm_t *client(unit_fake_t *fake, const unit_scripted_t *script, int n,
                           int retries)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_scm_creds_t *creds = apr_pcalloc(unit_pool, sizeof(*creds));
    sacme_scm_options_t opts;
    sacme_scm_t *scm;

    creds->file = "/etc/apache2/sacme-scm.json";
    creds->url = "https://scm.example/api";
    creds->login = "api";
    creds->password = PASSWORD;
    creds->customer_uri = "cust";
    memset(&opts, 0, sizeof(opts));
    opts.http = unit_fake_http(fake, script, n);
    opts.retries = retries;
    opts.backoff = 1;
    ck_assert_int_eq(sacme_scm_make(unit_pool, creds, &opts, &scm, res), APR_SUCCESS);
    return scm;
}

#define ERR(code, desc) "{\"code\": " #code ", \"description\": \"" desc "\"}"

START_TEST(test_scm_failure_classes)
{
    static const struct {
        unit_scripted_t answer;
        sacme_scm_class_t cls;
        int requests;          /* with 2 retries */
        const char *says[3];
    } cases[] = {
        { { 401, NULL, ERR(-16, "Invalid authentication") }, SACME_SCM_AUTH, 1,
          { "login, password and customerUri", "sacme-scm.json", "-16" } },
        { { 403, NULL, "" }, SACME_SCM_AUTH, 1, { "HTTP 403", "customerUri", NULL } },
        { { 400, NULL, ERR(-5, "Organization 4242 not found") }, SACME_SCM_REFUSED, 1,
          { "Organization 4242 not found", "organization (or department) id", NULL } },
        { { 400, NULL, ERR(-6, "ACME account with name 'x' already exists") },
          SACME_SCM_REFUSED, 1, { "already exists", "choose another --name", NULL } },
        { { 400, NULL, ERR(-1001, "whatever") }, SACME_SCM_REFUSED, 1,
          { "--org-id", "organizationId", NULL } },
        { { 404, NULL, ERR(-4, "ACME account 7 not found") }, SACME_SCM_NOT_FOUND, 1,
          { "account list", NULL, NULL } },
        { { 429, "Retry-After: 7", ERR(-9, "slow down") }, SACME_SCM_RATE_LIMITED, 1,
          { "wait ", " s, then", "slow down" } },
        { { 503, NULL, ERR(-1, "down") }, SACME_SCM_SERVER, 3,
          { "HTTP 503", "3 times in a row", "try again later" } },
        { { 0, NULL, NULL }, SACME_SCM_NETWORK, 3,
          { "no answer from SCM", "3 attempts", "reachable" } },
        { { 200, NULL, "<html>" }, SACME_SCM_GARBAGE, 1, { "not JSON", "/api", NULL } },
        { { 302, "Location: https://login", "" }, SACME_SCM_GARBAGE, 1,
          { "HTTP 302", NULL, NULL } },
    };
    apr_size_t i, k;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        sacme_result_t *res = sacme_result_make(unit_pool);
        unit_scripted_t script[3] = { cases[i].answer, cases[i].answer, cases[i].answer };
        unit_fake_t fake;
        sacme_scm_t *scm = client(&fake, script, 3, 2);
        json_t *acct;

        ck_assert_int_ne(sacme_scm_account_get(scm, 7, unit_pool, &acct, res),
                         APR_SUCCESS);
        ck_assert_msg(sacme_scm_class(res) == cases[i].cls, "case %d: class %s: %s",
                      (int)i, sacme_scm_class_name(sacme_scm_class(res)), res->detail);
        ck_assert_msg(fake.next == cases[i].requests, "case %d: %d requests", (int)i,
                      fake.next);
        ck_assert_int_eq(sacme_scm_requests(scm), cases[i].requests);
        for (k = 0; k < 3 && cases[i].says[k]; ++k) {
            ck_assert_msg(strstr(res->detail, cases[i].says[k]), "case %d: '%s' not in: "
                          "%s", (int)i, cases[i].says[k], res->detail);
        }
        ck_assert_msg(!strstr(res->detail, PASSWORD), "%s", res->detail);
        if (cases[i].cls == SACME_SCM_RATE_LIMITED) {
            ck_assert(res->retry_after > apr_time_now());
        }
    }
}
END_TEST

START_TEST(test_scm_503_retried_then_answered)
{
    static const unit_scripted_t script[] = {
        { 503, NULL, ERR(-1, "down") },
        { 0, NULL, NULL },
        { 200, NULL, "[{\"id\": 5, \"name\": \"a\", \"macId\": \"k5\"}]" },
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    sacme_scm_t *scm = client(&fake, script, 3, 2);
    json_t *list;

    ck_assert_int_eq(sacme_scm_accounts_list(scm, 6339, "a b", unit_pool, &list, res),
                     APR_SUCCESS);
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_int_eq(fake.next, 3);
    ck_assert_str_eq(fake.urls[2],
                     "https://scm.example/api/acme/v1/account?organizationId=6339&name=a+b");
    /* the headers of every request */
    ck_assert_str_eq(fake.headers[0], "login: api\npassword: " PASSWORD
                     "\ncustomerUri: cust\nContent-Type: application/json;charset=utf-8\n");
}
END_TEST

START_TEST(test_scm_create_location)
{
    static const unit_scripted_t script[] = {
        { 201, "Location: https://scm.example/api/acme/v1/account/4711", "" },
        { 201, "", "" },
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_scm_new_account_t na = { "www.example", "https://acme.example/v2/DV", 6339, 0 };
    unit_fake_t fake;
    sacme_scm_t *scm = client(&fake, script, 2, 2);
    json_t *body;
    long id;
    int found = -1;

    ck_assert_int_eq(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_int_eq(id, 4711);
    ck_assert_int_eq(found, 0);
    ck_assert_str_eq(fake.methods[0], "POST");
    body = json_loads(fake.bodies[0], 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "name")), "www.example");
    ck_assert_int_eq(json_integer_value(json_object_get(body, "organizationId")), 6339);
    json_decref(body);
    /* no Location: no id to go on */
    ck_assert_int_ne(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_scm_class(res), SACME_SCM_GARBAGE);
    ck_assert_ptr_nonnull(strstr(res->detail, "account list"));
}
END_TEST

/* An unanswered create is looked up by name before it is sent again. */
START_TEST(test_scm_create_unanswered_is_looked_up)
{
    static const unit_scripted_t found_it[] = {
        { 0, NULL, NULL },
        { 200, NULL, "[{\"id\": 12, \"name\": \"www.example\"}]" },
    };
    static const unit_scripted_t not_made[] = {
        { 503, NULL, ERR(-1, "down") },
        { 200, NULL, "[]" },
        { 201, "Location: https://scm.example/api/acme/v1/account/13", "" },
    };
    static const unit_scripted_t refused[] = {
        { 400, NULL, ERR(-6, "ACME account with name 'www.example' already exists") },
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_scm_new_account_t na = { "www.example", "https://acme.example/v2/DV", 6339, 0 };
    unit_fake_t fake;
    sacme_scm_t *scm;
    long id;
    int found;

    scm = client(&fake, found_it, 2, 2);
    ck_assert_int_eq(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_int_eq(id, 12);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(fake.methods[1], "GET");
    ck_assert_str_eq(fake.urls[1], "https://scm.example/api/acme/v1/account?"
                     "organizationId=6339&name=www.example");

    scm = client(&fake, not_made, 3, 2);
    ck_assert_int_eq(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_int_eq(id, 13);
    ck_assert_int_eq(found, 0);

    /* unanswered, not listed yet, sent again: "exists already" is the first
     * create's doing, and the list then shows it */
    {
        static const unit_scripted_t late[] = {
            { 0, NULL, NULL },
            { 200, NULL, "[]" },
            { 400, NULL, ERR(-6, "ACME account with name 'www.example' already exists") },
            { 200, NULL, "[{\"id\": 14, \"name\": \"www.example\"}]" },
        };
        scm = client(&fake, late, 4, 2);
        ck_assert_int_eq(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                         APR_SUCCESS);
        ck_assert_int_eq(id, 14);
        ck_assert_int_eq(found, 1);
    }

    /* a 4xx: no look-up, no second POST */
    scm = client(&fake, refused, 1, 2);
    ck_assert_int_ne(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_scm_class(res), SACME_SCM_REFUSED);
    ck_assert_int_eq(fake.next, 1);

    /* a department: created (and looked up) there */
    na.department_id = 77;
    scm = client(&fake, found_it, 2, 2);
    ck_assert_int_eq(sacme_scm_account_create(scm, &na, unit_pool, &id, &found, res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(fake.bodies[0], "\"organizationId\":77"));
    ck_assert_ptr_nonnull(strstr(fake.urls[1], "organizationId=77"));
}
END_TEST

START_TEST(test_scm_location_id)
{
    ck_assert_int_eq(sacme_scm_location_id("https://x/api/acme/v1/account/1001"), 1001);
    ck_assert_int_eq(sacme_scm_location_id("https://x/api/acme/v1/account/1001/"), 1001);
    ck_assert_int_eq(sacme_scm_location_id("/api/acme/v1/account/9?x=1"), 9);
    ck_assert_int_eq(sacme_scm_location_id("https://x/api/acme/v1/account/"), 0);
    ck_assert_int_eq(sacme_scm_location_id("https://x/api/acme/v1/account/a12"), 0);
    ck_assert_int_eq(sacme_scm_location_id("https://x/api/acme/v1/account/0"), 0);
    ck_assert_int_eq(sacme_scm_location_id("https://x/account/99999999999999999999"), 0);
    ck_assert_int_eq(sacme_scm_location_id(""), 0);
    ck_assert_int_eq(sacme_scm_location_id(NULL), 0);
}
END_TEST

START_TEST(test_scm_domain_covers)
{
    static const struct {
        const char *entry, *name;
        int covers;
    } cases[] = {
        { "example.com", "example.com", 1 },
        { "Example.COM.", "example.com", 1 },
        { "example.com", "www.example.com", 0 },
        { "www.example.com", "example.com", 0 },
        { "*.example.com", "www.example.com", 1 },
        { "*.example.com", "a.b.example.com", 1 },
        { "*.example.com", "example.com", 1 },
        { "*.example.com", "*.example.com", 1 },
        { "*.example.com", "*.www.example.com", 1 },
        { "*.example.com", "badexample.com", 0 },
        { "*.example.com", "example.org", 0 },
        { "example.com", "*.example.com", 0 },
        { "*.", "example.com", 0 },
        { "", "example.com", 0 },
    };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        ck_assert_msg(sacme_scm_domain_covers(cases[i].entry, cases[i].name)
                      == cases[i].covers, "%s covers %s", cases[i].entry, cases[i].name);
    }
}
END_TEST

START_TEST(test_scm_account_domains_and_secret)
{
    json_t *acct = json_loads("{\"id\": 3, \"macId\": \"k\", \"macKey\": \"SECRET\", "
                              "\"domains\": [{\"name\": \"a.test\"}, "
                              "{\"name\": \"*.b.test\"}]}", 0, NULL);
    const char *entry = NULL;
    json_t *pub;

    ck_assert(sacme_scm_account_has_domain(acct, "A.test", &entry));
    ck_assert_str_eq(entry, "a.test");
    ck_assert(sacme_scm_account_has_domain(acct, "www.b.test", &entry));
    ck_assert_str_eq(entry, "*.b.test");
    ck_assert(!sacme_scm_account_has_domain(acct, "www.a.test", NULL));
    pub = sacme_scm_account_public(unit_pool, acct);
    ck_assert_ptr_null(json_object_get(pub, "macKey"));
    ck_assert_str_eq(json_string_value(json_object_get(pub, "macId")), "k");
    ck_assert_ptr_nonnull(json_object_get(acct, "macKey"));   /* a copy */
    json_decref(acct);
}
END_TEST

START_TEST(test_scm_by_kid_and_domains)
{
    static const unit_scripted_t script[] = {
        { 200, NULL, "[{\"id\": 1, \"macId\": \"k1\"}, {\"id\": 2, \"macId\": \"k2\"}]" },
        { 200, NULL, "[{\"id\": 1, \"macId\": \"k1\"}]" },
        { 200, NULL, "{\"notAddedDomains\": [\"b.test\", {\"name\": \"c.test\"}]}" },
        { 200, NULL, "{\"notRemovedDomains\": []}" },
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    sacme_scm_t *scm = client(&fake, script, 4, 2);
    apr_array_header_t *left;
    json_t *acct;

    ck_assert_int_eq(sacme_scm_account_by_kid(scm, 6339, "k2", unit_pool, &acct, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_scm_account_id(acct), 2);
    ck_assert_int_ne(sacme_scm_account_by_kid(scm, 6339, "k9", unit_pool, &acct, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_scm_class(res), SACME_SCM_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(res->detail, "k9"));
    ck_assert_ptr_nonnull(strstr(res->detail, "6339"));

    ck_assert_int_eq(sacme_scm_domains_change(scm, 2, 1, unit_names("a.test", "b.test",
                                                                    "c.test", NULL),
                                              unit_pool, &left, res), APR_SUCCESS);
    ck_assert_int_eq(left->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(left, 1, const char *), "c.test");
    ck_assert_str_eq(fake.methods[2], "POST");
    ck_assert_str_eq(fake.urls[2], "https://scm.example/api/acme/v1/account/2/domains");
    ck_assert_str_eq(fake.bodies[2], "{\"domains\":[{\"name\":\"a.test\"},"
                     "{\"name\":\"b.test\"},{\"name\":\"c.test\"}]}");
    ck_assert_int_eq(sacme_scm_domains_change(scm, 2, 0, unit_names("a.test", NULL),
                                              unit_pool, &left, res), APR_SUCCESS);
    ck_assert_int_eq(left->nelts, 0);
    ck_assert_str_eq(fake.methods[3], "DELETE");
}
END_TEST

Suite *unit_suite_scm(void)
{
    Suite *s = suite_create("scm");
    TCase *tc = tcase_create("scm");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_scm_creds_file);
    tcase_add_test(tc, test_scm_creds_file_refused);
    tcase_add_test(tc, test_scm_failure_classes);
    tcase_add_test(tc, test_scm_503_retried_then_answered);
    tcase_add_test(tc, test_scm_create_location);
    tcase_add_test(tc, test_scm_create_unanswered_is_looked_up);
    tcase_add_test(tc, test_scm_location_id);
    tcase_add_test(tc, test_scm_domain_covers);
    tcase_add_test(tc, test_scm_account_domains_and_secret);
    tcase_add_test(tc, test_scm_by_kid_and_domains);
    suite_add_tcase(s, tc);
    return s;
}
