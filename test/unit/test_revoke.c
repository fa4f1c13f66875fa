/* Unit tests: revocation reasons and the revokeCert request (RFC 8555 §7.6)
 * against recorded CA answers. */
#include <string.h>

#include "unit.h"
#include "unit_cert.h"
#include "unit_fake.h"
#include "sacme_b64.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_revoke.h"

#define DIR_URL "https://ca.test/dir"
#define REVOKE_URL "https://ca.test/revoke"
#define JSON_HDR "Content-Type: application/json\n"

static const char *DIRECTORY =
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
    "\"newOrder\":\"https://ca.test/order\",\"revokeCert\":\"" REVOKE_URL "\"}";

START_TEST(reason_names_and_codes)
{
    static const struct { const char *in; int code; const char *name; } ok[] = {
        { "unspecified", 0, "unspecified" },
        { "keyCompromise", 1, "keyCompromise" },
        { "KEYCOMPROMISE", 1, "keyCompromise" },
        { "affiliationChanged", 3, "affiliationChanged" },
        { "superseded", 4, "superseded" },
        { "cessationOfOperation", 5, "cessationOfOperation" },
        { "4", 4, "superseded" },
    };
    /* the CA's own reasons, and codes no subscriber may give */
    static const char *const bad[] = { "cACompromise", "certificateHold", "2", "6", "7",
                                       "", "key-compromise" };
    sacme_revoke_reason_t r;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(ok); ++i) {
        ck_assert_int_eq(sacme_revoke_reason_parse(ok[i].in, &r), APR_SUCCESS);
        ck_assert_int_eq((int)r, ok[i].code);
        ck_assert_str_eq(sacme_revoke_reason_name(r), ok[i].name);
    }
    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_int_eq(sacme_revoke_reason_parse(bad[i], &r), APR_EINVAL);
    }
    ck_assert_ptr_null(sacme_revoke_reason_name((sacme_revoke_reason_t)2));
    ck_assert_ptr_nonnull(strstr(sacme_revoke_reason_names(), "cessationOfOperation"));
}
END_TEST

static X509 *a_cert(void)
{
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    apr_time_t now = apr_time_now();

    return unit_cert_issue(key, "a.example", unit_names("a.example", NULL),
                           now - apr_time_from_sec(60), now + apr_time_from_sec(86400),
                           key, NULL, 0);
}

START_TEST(revocation_request_carries_cert_and_reason)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, "Replay-Nonce: n2\n", "" },
        { 200, "Replay-Nonce: n3\n", "" },
        { 400, "Content-Type: application/problem+json\nReplay-Nonce: n4\n",
          "{\"type\":\"urn:ietf:params:acme:error:alreadyRevoked\"}" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme;
    X509 *cert = a_cert();
    unsigned char *der = NULL, *sent;
    apr_size_t sent_len;
    json_t *payload;
    int len, already;

    s[0].body = DIRECTORY;
    ck_assert_int_eq(sacme_acme_create(unit_pool, DIR_URL, unit_fake_http(&fake, s, 4),
                                       NULL, &acme, NULL), APR_SUCCESS);
    acme->account_key = unit_key(SACME_KEY_P256);
    acme->account_url = "https://ca.test/acct/1";

    ck_assert_int_eq(sacme_revoke(acme, cert, SACME_REVOKE_KEY_COMPROMISE, &already,
                                  unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(already, 0);
    ck_assert_str_eq(fake.urls[1], REVOKE_URL);
    /* signed with the account (kid), not with the certificate's key */
    ck_assert_str_eq(sacme_json_str(unit_jws_member(fake.bodies[1], "protected"), "kid"),
                     "https://ca.test/acct/1");
    payload = unit_jws_member(fake.bodies[1], "payload");
    ck_assert_int_eq(json_integer_value(json_object_get(payload, "reason")), 1);
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(payload, "certificate"),
                                         &sent, &sent_len), APR_SUCCESS);
    len = i2d_X509(cert, &der);
    ck_assert_int_eq((int)sent_len, len);
    ck_assert_int_eq(memcmp(sent, der, (size_t)len), 0);
    OPENSSL_free(der);

    /* unspecified: no reason member, which RFC 8555 defines as the same */
    ck_assert_int_eq(sacme_revoke(acme, cert, SACME_REVOKE_UNSPECIFIED, NULL, unit_pool,
                                  NULL), APR_SUCCESS);
    ck_assert_ptr_null(json_object_get(unit_jws_member(fake.bodies[2], "payload"), "reason"));

    /* already revoked: what the admin wanted is the case */
    ck_assert_int_eq(sacme_revoke(acme, cert, SACME_REVOKE_SUPERSEDED, &already, unit_pool,
                                  NULL), APR_SUCCESS);
    ck_assert_int_eq(already, 1);
    ck_assert_int_eq(fake.next, 4);
}
END_TEST

START_TEST(revocation_refused_is_reported)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 403, "Content-Type: application/problem+json\nReplay-Nonce: n2\n",
          "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"not yours\"}" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_result_t *res = sacme_result_make(unit_pool);

    s[0].body = DIRECTORY;
    ck_assert_int_eq(sacme_acme_create(unit_pool, DIR_URL, unit_fake_http(&fake, s, 2),
                                       NULL, &acme, NULL), APR_SUCCESS);
    acme->account_key = unit_key(SACME_KEY_P256);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_ne(sacme_revoke(acme, a_cert(), SACME_REVOKE_UNSPECIFIED, NULL,
                                  unit_pool, res), APR_SUCCESS);
    ck_assert_str_eq(res->problem, SACME_PROBLEM_NS "unauthorized");
    ck_assert_ptr_nonnull(strstr(res->detail, "not yours"));
    ck_assert_ptr_nonnull(strstr(res->detail, "serial"));
}
END_TEST

Suite *unit_suite_revoke(void)
{
    Suite *s = suite_create("revoke");
    TCase *tc = tcase_create("revoke");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, reason_names_and_codes);
    tcase_add_test(tc, revocation_request_carries_cert_and_reason);
    tcase_add_test(tc, revocation_refused_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
