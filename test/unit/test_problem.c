/* Unit tests: ACME problem documents -> results with hints. */
#include <string.h>

#include "unit.h"
#include "sacme_json.h"
#include "sacme_problem.h"

static json_t *problem(const char *type, const char *detail)
{
    json_t *j = sacme_json_own(unit_pool, json_object());
    if (type) {
        json_object_set_new(j, "type", json_string(type));
    }
    if (detail) {
        json_object_set_new(j, "detail", json_string(detail));
    }
    return j;
}

START_TEST(short_names)
{
    ck_assert_str_eq(sacme_problem_short("urn:ietf:params:acme:error:badNonce"), "badNonce");
    ck_assert_str_eq(sacme_problem_short("urn:acme:error:malformed"), "malformed");
    ck_assert_str_eq(sacme_problem_short("about:blank"), "about:blank");
    ck_assert_ptr_null(sacme_problem_short(NULL));
}
END_TEST

START_TEST(classes)
{
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "badNonce"), SACME_PROBLEM_NONCE);
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "rateLimited"), SACME_PROBLEM_RETRY);
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "serverInternal"), SACME_PROBLEM_RETRY);
    /* input errors must not be hammered */
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "badCSR"), SACME_PROBLEM_FATAL);
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "unauthorized"), SACME_PROBLEM_FATAL);
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "rejectedIdentifier"), SACME_PROBLEM_FATAL);
    ck_assert_int_eq(sacme_problem_class(SACME_PROBLEM_NS "externalAccountRequired"), SACME_PROBLEM_FATAL);
    ck_assert_int_eq(sacme_problem_class("urn:example:unknown"), SACME_PROBLEM_FATAL);
}
END_TEST

START_TEST(hints_for_common_types)
{
    static const char *const types[] = {
        "unauthorized", "externalAccountRequired", "badCSR", "rejectedIdentifier",
        "rateLimited", "caa", "userActionRequired", "badPublicKey"
    };
    apr_size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); ++i) {
        const char *t = apr_pstrcat(unit_pool, SACME_PROBLEM_NS, types[i], NULL);
        ck_assert_msg(sacme_problem_hint(t) != NULL, "no hint for %s", types[i]);
    }
    ck_assert_ptr_nonnull(strstr(sacme_problem_hint(SACME_PROBLEM_NS "rejectedIdentifier"),
                                 "Delegate"));
    ck_assert_ptr_nonnull(strstr(sacme_problem_hint(SACME_PROBLEM_NS "externalAccountRequired"),
                                 "SacmeEAB"));
    ck_assert_ptr_null(sacme_problem_hint("urn:example:unknown"));
}
END_TEST

START_TEST(apply_unauthorized)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv = sacme_problem_apply(res,
        problem(SACME_PROBLEM_NS "unauthorized", "JWS verification error"), 401);
    const char *msg;

    ck_assert_int_eq(rv, APR_EACCES);
    ck_assert_int_eq(res->status, APR_EACCES);
    ck_assert_str_eq(res->problem, SACME_PROBLEM_NS "unauthorized");
    ck_assert_int_eq(res->http_status, 401);
    ck_assert_ptr_nonnull(strstr(res->detail, "JWS verification error"));
    msg = sacme_result_message(res, unit_pool);
    ck_assert_ptr_nonnull(strstr(msg, "unauthorized"));
    ck_assert_ptr_nonnull(strstr(msg, "hint: "));
    ck_assert_ptr_nonnull(strstr(msg, "EAB"));
}
END_TEST

/* A failed validation points at what the CA could not reach, by type,
 * not at the account (the general "unauthorized" hint). */
START_TEST(validation_hints_by_challenge_type)
{
    const char *h;

    h = sacme_problem_validation_hint(unit_pool, SACME_PROBLEM_NS "unauthorized",
                                      "http-01", "a.test");
    ck_assert_ptr_nonnull(strstr(h, "port 80 of a.test"));
    ck_assert_ptr_null(strstr(h, "EAB"));
    h = sacme_problem_validation_hint(unit_pool, SACME_PROBLEM_NS "connection",
                                      "tls-alpn-01", "a.test");
    ck_assert_ptr_nonnull(strstr(h, "port 443 of a.test"));
    h = sacme_problem_validation_hint(unit_pool, SACME_PROBLEM_NS "unauthorized",
                                      "dns-01", "a.test");
    ck_assert_ptr_nonnull(strstr(h, "_acme-challenge.a.test"));
    ck_assert_ptr_nonnull(strstr(h, "SacmeDnsCmd"));
    /* problems with a hint of their own keep it */
    ck_assert_ptr_null(sacme_problem_validation_hint(unit_pool, SACME_PROBLEM_NS "caa",
                                                     "http-01", "a.test"));
    ck_assert_ptr_null(sacme_problem_validation_hint(unit_pool,
                                                     SACME_PROBLEM_NS "rateLimited",
                                                     "dns-01", "a.test"));
    ck_assert_ptr_null(sacme_problem_validation_hint(unit_pool, NULL, "http-01", "a"));
}
END_TEST

START_TEST(apply_retryable_and_fatal)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_problem_apply(res, problem(SACME_PROBLEM_NS "rateLimited",
                                                      "too many"), 429), APR_EAGAIN);
    ck_assert_int_eq(sacme_problem_apply(res, problem(SACME_PROBLEM_NS "badCSR",
                                                      "bad"), 400), APR_EINVAL);
    ck_assert_str_eq(res->problem, SACME_PROBLEM_NS "badCSR");
}
END_TEST

START_TEST(apply_without_type_or_detail)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_problem_apply(res, problem(NULL, NULL), 500), APR_EINVAL);
    ck_assert_str_eq(res->problem, "about:blank");
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_ptr_null(res->hint);
}
END_TEST

START_TEST(apply_subproblems)
{
    apr_size_t len;
    const char *body = unit_fixture_read("acme/problem-rejected.json", &len);
    json_t *j = sacme_json_parse(unit_pool, body, len, 0, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *msg;

    ck_assert_ptr_nonnull(j);
    sacme_problem_apply(res, j, 400);
    ck_assert_ptr_nonnull(res->subproblems);
    ck_assert_ptr_nonnull(strstr(res->subproblems,
        "rejectedIdentifier for www.example.org: not delegated to the organization"));
    ck_assert_ptr_nonnull(strstr(res->subproblems, "caa for mail.example.org"));
    msg = sacme_result_message(res, unit_pool);
    ck_assert_ptr_nonnull(strstr(msg, "www.example.org"));
    ck_assert_ptr_nonnull(strstr(msg, "SCM"));
}
END_TEST

START_TEST(eab_already_bound)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    /* Sectigo's answer to a second registration with a single-use EAB key */
    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "malformed",
        "[External Account Binding] The account is not awaiting external "
        "account binding"), 400);
    ck_assert_ptr_nonnull(res->hint);
    ck_assert_ptr_nonnull(strstr(res->hint, "new EAB credentials"));
}
END_TEST

/* Issue 16: a refusal SCM decides names the SCM step that fixes it, and
 * only such a refusal sends the driver to ask SCM. */
START_TEST(scm_refusals_name_the_scm_step)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "rejectedIdentifier",
                                     "Domain not allowed"), 400);
    ck_assert(sacme_problem_scm_refusal(res));
    ck_assert_ptr_nonnull(strstr(res->hint, "Delegate"));
    ck_assert_ptr_nonnull(strstr(res->hint, "sacmectl scm domains add"));

    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "unauthorized",
                                     "account not authorized for these names"), 403);
    ck_assert(sacme_problem_scm_refusal(res));
    ck_assert_ptr_nonnull(strstr(res->hint, "SCM"));

    /* Sectigo's OV/EV refusal, under whatever type it comes */
    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "malformed",
        "The identifiers are not all linked to the same preauthorized Subject "
        "organization name/address"), 400);
    ck_assert(sacme_problem_scm_refusal(res));
    ck_assert_ptr_nonnull(strstr(res->hint, "organization"));
    ck_assert_ptr_nonnull(strstr(res->hint, "OV/EV"));

    /* the same organization refusal as the error of an order gone invalid */
    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "serverInternal",
        "identifiers not linked to the same preauthorized Subject organization"), 0);
    ck_assert(sacme_problem_scm_refusal(res));

    /* a failed validation says "unauthorized" too: not SCM's to fix */
    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "unauthorized",
                                     "Invalid response from http://x/.well-known/"), 0);
    res->validation = 1;
    ck_assert(!sacme_problem_scm_refusal(res));

    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "rateLimited", "slow down"), 429);
    ck_assert(!sacme_problem_scm_refusal(res));
    sacme_result_set(res, APR_ECONNREFUSED, "cannot reach the CA");
    ck_assert(!sacme_problem_scm_refusal(res));
    ck_assert(!sacme_problem_scm_refusal(NULL));
}
END_TEST

/* Issue 11, defect 18: a log line carries a status (httpd prints it as
 * "(13)Permission denied: ") only when an OS or APR error is the cause. */
START_TEST(result_log_status)
{
    sacme_result_t *r = sacme_result_make(unit_pool);
    json_t *prob = sacme_json_own(unit_pool, json_pack("{s:s}", "type",
                                                       SACME_PROBLEM_NS "unauthorized"));

    ck_assert_int_eq(sacme_result_log_status(NULL), 0);
    ck_assert_int_eq(sacme_result_log_status(r), 0);
    sacme_result_set(r, APR_EACCES, "cannot write staging/x/job.json");
    ck_assert_int_eq(sacme_result_log_status(r), APR_EACCES);
    sacme_result_set(r, APR_ECONNREFUSED, "cannot reach the CA");
    ck_assert_int_eq(sacme_result_log_status(r), APR_ECONNREFUSED);
    sacme_problem_apply(r, prob, 403);          /* mapped to APR_EACCES */
    ck_assert_int_ne(r->status, 0);
    ck_assert_int_eq(sacme_result_log_status(r), 0);
    sacme_result_set(r, SACME_ECONFIG, "the CA requires EAB");
    ck_assert_int_eq(sacme_result_log_status(r), 0);
    sacme_result_set(r, APR_EGENERAL, "the CA answered 500");
    r->http_status = 500;
    ck_assert_int_eq(sacme_result_log_status(r), 0);
    /* a malformed CA answer without a problem document: no "(22)" */
    sacme_result_set(r, SACME_EPROTO, "https://ca.test/nonce gave no Replay-Nonce");
    ck_assert_int_eq(sacme_result_log_status(r), 0);
    ck_assert_str_eq(sacme_result_message(r, unit_pool),
                     "https://ca.test/nonce gave no Replay-Nonce");
    /* a local invalid argument keeps its status */
    sacme_result_set(r, APR_EINVAL, "an order needs 1 to 100 names");
    ck_assert_int_eq(sacme_result_log_status(r), APR_EINVAL);
}
END_TEST

START_TEST(result_json_has_no_surprises)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    json_t *j;

    sacme_problem_apply(res, problem(SACME_PROBLEM_NS "rateLimited", "slow down"), 429);
    res->retry_after = apr_time_from_sec(1800000000);
    j = sacme_json_own(unit_pool, sacme_result_to_json(res));
    ck_assert_str_eq(sacme_json_str(j, "problem"), SACME_PROBLEM_NS "rateLimited");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "http-status")), 429);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "retry-after")), 1800000000);
}
END_TEST

Suite *unit_suite_problem(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("problem");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, short_names);
    tcase_add_test(tc, classes);
    tcase_add_test(tc, hints_for_common_types);
    tcase_add_test(tc, apply_unauthorized);
    tcase_add_test(tc, validation_hints_by_challenge_type);
    tcase_add_test(tc, apply_retryable_and_fatal);
    tcase_add_test(tc, apply_without_type_or_detail);
    tcase_add_test(tc, apply_subproblems);
    tcase_add_test(tc, eab_already_bound);
    tcase_add_test(tc, scm_refusals_name_the_scm_step);
    tcase_add_test(tc, result_json_has_no_surprises);
    tcase_add_test(tc, result_log_status);
    suite_add_tcase(s, tc);
    return s;
}
