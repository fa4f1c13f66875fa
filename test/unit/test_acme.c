/* Unit tests: the ACME client against recorded responses (a scripted fake
 * transport behind the sacme_http_t seam). The real CA is in test/e2e. */
#include <string.h>

#include "unit.h"
#include "unit_fake.h"
#include "sacme_chaltype.h"
#include "sacme_acct.h"
#include "sacme_file.h"
#include "sacme_b64.h"
#include "sacme_json.h"
#include "sacme_order.h"
#include "sacme_issue.h"
#include "sacme_problem.h"

#define DIR_URL "https://ca.test/dir"

static const char *DIRECTORY =
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
    "\"newOrder\":\"https://ca.test/order\",\"meta\":{\"externalAccountRequired\":true}}";
#define JSON_HDR "Content-Type: application/json\n"
#define PROBLEM_HDR "Content-Type: application/problem+json\n"

static sacme_acme_t *make_acme(unit_fake_t *fake, const unit_scripted_t *script, int n)
{
    sacme_http_t *http;
    sacme_acme_t *acme;

    http = unit_fake_http(fake, script, n);
    ck_assert_int_eq(sacme_acme_create(unit_pool, DIR_URL, http, NULL, &acme, NULL),
                     APR_SUCCESS);
    return acme;
}

/* The protected header of a JWS request body. */
static json_t *protected_of(const char *body)
{
    json_t *jws = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    unsigned char *raw;
    apr_size_t len;

    ck_assert_ptr_nonnull(jws);
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(jws, "protected"),
                                         &raw, &len), APR_SUCCESS);
    return sacme_json_parse(unit_pool, (const char *)raw, len, 0, NULL);
}

static json_t *payload_of(const char *body)
{
    json_t *jws = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    unsigned char *raw;
    apr_size_t len;

    ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(jws, "payload"),
                                         &raw, &len), APR_SUCCESS);
    return len ? sacme_json_parse(unit_pool, (const char *)raw, len, 0, NULL) : NULL;
}

START_TEST(refuses_plain_http)
{
    sacme_acme_t *acme;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_acme_create(unit_pool, "http://ca.test/dir", NULL, NULL,
                                       &acme, res), SACME_ECONFIG);
    ck_assert_ptr_nonnull(strstr(res->detail, "https://"));
}
END_TEST

START_TEST(bad_nonce_is_retried_with_the_fresh_nonce)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 400, PROBLEM_HDR "Replay-Nonce: n2\n",
          "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"stale\"}" },
        { 200, JSON_HDR "Replay-Nonce: n3\n", "{\"status\":\"valid\"}" },
    };
    unit_scripted_t s[3];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 3);
    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL),
                     APR_SUCCESS);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_eq(sacme_acme_post(acme, "https://ca.test/x", NULL, 0, unit_pool,
                                     &resp, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 3);
    /* first POST used the directory's nonce, the retry the error's */
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[1]), "nonce"), "n1");
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[2]), "nonce"), "n2");
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[2]), "kid"),
                     "https://ca.test/acct/1");
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[2]), "url"), "https://ca.test/x");
    ck_assert_str_eq(sacme_json_str(resp->json, "status"), "valid");
    ck_assert_str_eq(acme->nonce, "n3");
}
END_TEST

START_TEST(bad_nonce_retries_are_bounded)
{
    unit_scripted_t s[1 + SACME_MAX_NONCE_RETRIES + 1];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    int i;

    s[0].status = 200; s[0].headers = JSON_HDR "Replay-Nonce: n0\n"; s[0].body = DIRECTORY;
    for (i = 1; i < (int)(sizeof(s) / sizeof(s[0])); ++i) {
        s[i].status = 400;
        s[i].headers = PROBLEM_HDR "Replay-Nonce: again\n";
        s[i].body = "{\"type\":\"urn:ietf:params:acme:error:badNonce\"}";
    }
    acme = make_acme(&fake, s, (int)(sizeof(s) / sizeof(s[0])));
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_ne(sacme_acme_post(acme, "https://ca.test/x", NULL, 0, unit_pool,
                                     &resp, res), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 1 + SACME_MAX_NONCE_RETRIES + 1);
    ck_assert_str_eq(res->problem, SACME_PROBLEM_NS "badNonce");
}
END_TEST

START_TEST(nonce_fetched_with_head_when_none_held)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR, NULL },                   /* directory, no nonce */
        { 200, "Replay-Nonce: fresh\n", "" },       /* HEAD newNonce */
        { 201, JSON_HDR "Location: /acct/7\n", "{\"status\":\"valid\"}" },
    };
    unit_scripted_t s[3];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 3);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    ck_assert_int_eq(sacme_acme_post(acme, "https://ca.test/acct", NULL, 1, unit_pool,
                                     &resp, NULL), APR_SUCCESS);
    ck_assert_str_eq(fake.methods[1], "HEAD");
    ck_assert_str_eq(fake.urls[1], "https://ca.test/nonce");
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[2]), "nonce"), "fresh");
    /* newAccount is signed with the JWK, not a kid */
    ck_assert_ptr_nonnull(json_object_get(protected_of(fake.bodies[2]), "jwk"));
    ck_assert_ptr_null(json_object_get(protected_of(fake.bodies[2]), "kid"));
    /* relative Location resolved against the request URL */
    ck_assert_str_eq(resp->location, "https://ca.test/acct/7");
}
END_TEST

START_TEST(server_error_without_problem)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 502, "Content-Type: text/html\nRetry-After: 120\n", "<html>Bad gateway</html>" },
    };
    unit_scripted_t s[2];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 2);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_eq(sacme_acme_post(acme, "https://ca.test/x", NULL, 0, unit_pool,
                                     &resp, res), APR_EAGAIN);
    ck_assert_ptr_nonnull(strstr(res->detail, "HTTP 502"));
    ck_assert_ptr_nonnull(strstr(res->detail, "Bad gateway"));
    ck_assert_int_eq(res->http_status, 502);
    ck_assert(res->retry_after > apr_time_now());
}
END_TEST

START_TEST(one_server_error_costs_a_quick_retry)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 500, PROBLEM_HDR "Replay-Nonce: n2\n",
          "{\"type\":\"urn:ietf:params:acme:error:serverInternal\"}" },
        { 200, JSON_HDR "Replay-Nonce: n3\n", "{\"status\":\"valid\"}" },
    };
    unit_scripted_t s[3];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;
    apr_time_t start = apr_time_now();

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 3);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_eq(sacme_acme_post(acme, "https://ca.test/x", NULL, 0, unit_pool,
                                     &resp, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 3);
    ck_assert_str_eq(sacme_json_str(resp->json, "status"), "valid");
    /* the retry used the nonce of the error response */
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[2]), "nonce"), "n2");
    /* a moment, not a retry cycle */
    ck_assert(apr_time_now() - start < apr_time_from_sec(5));
}
END_TEST

START_TEST(persistent_server_errors_give_up_after_quick_retries)
{
    unit_scripted_t s[1 + 1 + SACME_MAX_QUICK_RETRIES];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acme_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    int i;

    s[0].status = 200; s[0].headers = JSON_HDR "Replay-Nonce: n0\n"; s[0].body = DIRECTORY;
    for (i = 1; i < (int)(sizeof(s) / sizeof(s[0])); ++i) {
        s[i].status = 503;
        s[i].headers = "Content-Type: text/plain\nReplay-Nonce: nx\n";
        s[i].body = "down for maintenance";
    }
    acme = make_acme(&fake, s, (int)(sizeof(s) / sizeof(s[0])));
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    ck_assert_int_eq(sacme_acme_post(acme, "https://ca.test/x", NULL, 0, unit_pool,
                                     &resp, res), APR_EAGAIN);
    ck_assert_int_eq(fake.next, 1 + 1 + SACME_MAX_QUICK_RETRIES);
    ck_assert_int_eq(res->http_status, 503);
}
END_TEST

START_TEST(order_still_processing_is_waiting_not_failed)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 201, JSON_HDR "Replay-Nonce: n2\nLocation: https://ca.test/o/9\nRetry-After: 120\n",
          "{\"status\":\"processing\",\"finalize\":\"https://ca.test/o/9/fin\","
          "\"authorizations\":[]}" },
    };
    unit_scripted_t s[2];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_issue_opts_t opts;
    sacme_chain_t *chain;
    sacme_key_t *key;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_array_header_t *names = apr_array_make(unit_pool, 1, sizeof(const char *));
    apr_time_t start = apr_time_now();

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 2);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    memset(&opts, 0, sizeof(opts));
    opts.names = names;
    opts.cert_key = key;
    opts.timeout = apr_time_from_msec(300);   /* shorter than the CA's Retry-After */
    ck_assert_int_eq(sacme_issue(acme, &opts, unit_pool, &chain, res), SACME_EWAITING);
    /* no sleeping through the CA's 120 s: back at once, with the time to return */
    ck_assert(apr_time_now() - start < apr_time_from_sec(5));
    ck_assert(res->retry_after >= start + apr_time_from_sec(60));
    ck_assert_ptr_nonnull(strstr(res->detail, "processing"));
    ck_assert_int_eq(fake.next, 2);
}
END_TEST

START_TEST(eab_required_but_missing_fails_before_new_account)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
    };
    unit_scripted_t s[1];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acct_opts_t opts;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 1);
    memset(&opts, 0, sizeof(opts));
    opts.dir = unit_sdir(apr_pstrcat(unit_pool, unit_tmpdir(), "/acct", NULL));
    opts.tos_agreed = 1;
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, NULL, res), SACME_ECONFIG);
    ck_assert_int_eq(fake.next, 1);          /* only the directory was fetched */
    ck_assert_ptr_nonnull(strstr(res->detail, "External Account Binding"));
    ck_assert_ptr_nonnull(strstr(res->detail, "SacmeEAB"));
}
END_TEST

START_TEST(register_with_eab_then_find_without)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 201, JSON_HDR "Replay-Nonce: n2\nLocation: https://ca.test/acct/42\n",
          "{\"status\":\"valid\"}" },
        /* second run: onlyReturnExisting */
        { 200, JSON_HDR "Replay-Nonce: n3\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n4\nLocation: https://ca.test/acct/42\n",
          "{\"status\":\"valid\"}" },
    };
    unit_scripted_t s[4];
    unit_fake_t fake, fake2;
    sacme_acme_t *acme;
    sacme_acct_opts_t opts;
    sacme_eab_t *eab;
    json_t *payload, *eab_jws, *eab_hdr;
    unsigned char *raw;
    apr_size_t len;
    int registered;

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    s[2].body = DIRECTORY;
    acme = make_acme(&fake, s, 2);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-1",
                                    "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
                                    SACME_HMAC_HS256, &eab, NULL), APR_SUCCESS);
    memset(&opts, 0, sizeof(opts));
    opts.dir = unit_sdir(apr_pstrcat(unit_pool, unit_tmpdir(), "/acct", NULL));
    opts.eab = eab;
    opts.contacts = apr_array_make(unit_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(opts.contacts, const char *) = "admin@example.org";
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, &registered, NULL), APR_SUCCESS);
    ck_assert_int_eq(registered, 1);
    ck_assert_str_eq(acme->account_url, "https://ca.test/acct/42");

    payload = payload_of(fake.bodies[1]);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(payload, "contact"), 0)),
                     "mailto:admin@example.org");
    eab_jws = json_object_get(payload, "externalAccountBinding");
    ck_assert_ptr_nonnull(eab_jws);
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(eab_jws, "protected"),
                                         &raw, &len), APR_SUCCESS);
    eab_hdr = sacme_json_parse(unit_pool, (const char *)raw, len, 0, NULL);
    ck_assert_str_eq(sacme_json_str(eab_hdr, "kid"), "kid-1");
    ck_assert_str_eq(sacme_json_str(eab_hdr, "url"), "https://ca.test/acct");
    ck_assert_str_eq(sacme_json_str(eab_hdr, "alg"), "HS256");

    /* A fresh client with the same account directory and no EAB at all. */
    acme = make_acme(&fake2, s + 2, 2);
    opts.eab = NULL;
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, &registered, NULL), APR_SUCCESS);
    ck_assert_int_eq(registered, 0);
    ck_assert_str_eq(acme->account_url, "https://ca.test/acct/42");
    payload = payload_of(fake2.bodies[1]);
    ck_assert(json_is_true(json_object_get(payload, "onlyReturnExisting")));
    ck_assert_ptr_null(json_object_get(payload, "externalAccountBinding"));
}
END_TEST

START_TEST(account_dir_of_another_ca_is_refused)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
    };
    unit_scripted_t s[1];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_acct_opts_t opts;
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *dir = apr_pstrcat(unit_pool, unit_tmpdir(), "/acct", NULL);
    const char *other = "{\"url\":\"https://other.test/acct/1\",\"server\":\"https://other.test/dir\"}";

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 1);
    ck_assert_int_eq(sacme_file_mkdirs(dir, SACME_FPROT_DIR_PRIVATE, unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_write_atomic(apr_pstrcat(unit_pool, dir, "/account.json", NULL),
                                             other, strlen(other), SACME_FPROT_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    memset(&opts, 0, sizeof(opts));
    opts.dir = unit_sdir(dir);
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, NULL, res), SACME_ECONFIG);
    ck_assert_ptr_nonnull(strstr(res->detail, "https://other.test/dir"));
}
END_TEST

/* A token from the CA becomes a file name: base64url of a sane length only. */
START_TEST(token_check)
{
    char longest[258];

    ck_assert(sacme_token_ok("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    ck_assert(sacme_token_ok("0123456789abcdef"));
    ck_assert(!sacme_token_ok("0123456789abcde"));            /* 15: too short */
    ck_assert(!sacme_token_ok("../../../../etc/passwd-xxxx"));
    ck_assert(!sacme_token_ok("abcdefghijklmnop/q"));
    ck_assert(!sacme_token_ok("abcdefghijklmnop.q"));
    ck_assert(!sacme_token_ok("abcdefghijklmnop q"));
    ck_assert(!sacme_token_ok(""));
    ck_assert(!sacme_token_ok(NULL));
    memset(longest, 'A', sizeof(longest) - 1);
    longest[256] = '\0';
    ck_assert(sacme_token_ok(longest));
    longest[256] = 'A';
    longest[257] = '\0';
    ck_assert(!sacme_token_ok(longest));
}
END_TEST

START_TEST(authz_with_unknown_challenge_types)
{
    const char *body =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
        "\"challenges\":["
        "{\"type\":\"sectigo-email-01\",\"url\":\"https://ca.test/c/1\",\"status\":\"pending\"},"
        "{\"type\":\"dns-01\",\"url\":\"https://ca.test/c/2\",\"token\":\"t2\",\"status\":\"pending\"},"
        "{\"type\":\"http-01\",\"url\":\"/c/3\",\"token\":\"t3\",\"status\":\"pending\"},"
        "{\"url\":\"https://ca.test/c/4\"}]}";
    json_t *j = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    sacme_authz_t *authz;
    sacme_challenge_t *c;
    apr_array_header_t *types = apr_array_make(unit_pool, 2, sizeof(const char *));

    ck_assert_int_eq(sacme_authz_parse(unit_pool, j, "https://ca.test/authz/1",
                                       "https://ca.test/authz/1", &authz, NULL), APR_SUCCESS);
    ck_assert_str_eq(authz->identifier, "a.example");
    ck_assert_int_eq(authz->ip, 0);
    ck_assert_int_eq(authz->challenges->nelts, 3);   /* the typeless one dropped */
    APR_ARRAY_PUSH(types, const char *) = "tls-alpn-01";
    ck_assert_ptr_null(sacme_authz_pick(authz, types));
    APR_ARRAY_PUSH(types, const char *) = "http-01";
    c = sacme_authz_pick(authz, types);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->token, "t3");
    ck_assert_str_eq(c->url, "https://ca.test/c/3");
}
END_TEST

/* An authorization of the identifier in json_ident, offering every type. */
static sacme_authz_t *authz_offering_all(const char *json_ident, int wildcard)
{
    const char *body = apr_psprintf(unit_pool,
        "{\"status\":\"pending\",\"identifier\":%s,%s\"challenges\":["
        "{\"type\":\"http-01\",\"url\":\"https://ca.test/c/1\",\"token\":\"t1\"},"
        "{\"type\":\"dns-01\",\"url\":\"https://ca.test/c/2\",\"token\":\"t2\"},"
        "{\"type\":\"tls-alpn-01\",\"url\":\"https://ca.test/c/3\",\"token\":\"t3\"}]}",
        json_ident, wildcard ? "\"wildcard\":true," : "");
    json_t *j = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    sacme_authz_t *authz;

    ck_assert_int_eq(sacme_authz_parse(unit_pool, j, "https://ca.test/authz/1",
                                       "https://ca.test/authz/1", &authz, NULL), APR_SUCCESS);
    return authz;
}

/* The first listed type the CA offers, except that a wildcard is proven
 * over DNS only and an IP address never over DNS. */
START_TEST(authz_pick_follows_the_preference_within_what_the_identifier_allows)
{
    apr_array_header_t *all = sacme_chaltype_parse(unit_pool, "dns-01 tls-alpn-01 http-01");
    apr_array_header_t *alpn_http = sacme_chaltype_parse(unit_pool, "tls-alpn-01,http-01");
    sacme_authz_t *name = authz_offering_all("{\"type\":\"dns\",\"value\":\"a.test\"}", 0);
    sacme_authz_t *wild = authz_offering_all("{\"type\":\"dns\",\"value\":\"a.test\"}", 1);
    sacme_authz_t *ip = authz_offering_all("{\"type\":\"ip\",\"value\":\"192.0.2.1\"}", 0);

    ck_assert(!name->ip && !name->wildcard && wild->wildcard && ip->ip);
    ck_assert_str_eq(sacme_authz_pick(name, all)->type, "dns-01");
    ck_assert_str_eq(sacme_authz_pick(name, alpn_http)->type, "tls-alpn-01");
    ck_assert_str_eq(sacme_authz_pick(wild, all)->type, "dns-01");
    ck_assert_ptr_null(sacme_authz_pick(wild, alpn_http));
    ck_assert_str_eq(sacme_authz_pick(ip, all)->type, "tls-alpn-01");
    ck_assert_ptr_null(sacme_authz_pick(ip, sacme_chaltype_parse(unit_pool, "dns-01")));
}
END_TEST

START_TEST(challenge_type_lists)
{
    apr_array_header_t *t = sacme_chaltype_parse(unit_pool, "HTTP-01, dns-01 bogus http-01");

    ck_assert_int_eq(t->nelts, 2);
    ck_assert_str_eq(sacme_chaltype_str(unit_pool, t), "http-01 dns-01");
    ck_assert(sacme_chaltype_has(t, "dns-01") && !sacme_chaltype_has(t, "tls-alpn-01"));
    ck_assert_ptr_null(sacme_chaltype_parse(unit_pool, "none"));
    ck_assert_ptr_null(sacme_chaltype_known("none"));
    ck_assert_str_eq(sacme_chaltype_of(unit_pool, 1, t), "none");
    ck_assert_str_eq(sacme_chaltype_of(unit_pool, 0, NULL), "http-01");
    ck_assert_str_eq(sacme_chaltype_of(unit_pool, 0, t), "http-01 dns-01");
}
END_TEST

/* RFC 8738: an IP address is ordered as an "ip" identifier, everything
 * else as "dns"; an authorization tells its type. */
static sacme_acme_t *account_acme(unit_fake_t *fake, unit_scripted_t *script, int n);

START_TEST(ip_names_are_ip_identifiers)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 201, JSON_HDR "Replay-Nonce: n2\nLocation: https://ca.test/o/5\n",
          "{\"status\":\"pending\",\"finalize\":\"https://ca.test/o/5/fin\","
          "\"authorizations\":[]}" },
    };
    static const char *const names_in[] = { "www.example", "192.0.2.10", "2001:db8::10" };
    static const char *const types[] = { "dns", "ip", "ip" };
    const char *authz_body =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":\"::1\"},"
        "\"challenges\":[]}";
    unit_scripted_t s[2];
    unit_fake_t fake;
    sacme_order_t *order;
    sacme_authz_t *authz;
    apr_array_header_t *names = apr_array_make(unit_pool, 3, sizeof(const char *));
    json_t *idents, *j;
    apr_size_t i;

    memcpy(s, script, sizeof(s));
    for (i = 0; i < SACME_ARRAY_LEN(names_in); ++i) {
        APR_ARRAY_PUSH(names, const char *) = names_in[i];
    }
    ck_assert_int_eq(sacme_order_new(account_acme(&fake, s, 2), names, NULL, unit_pool,
                                     &order, NULL), APR_SUCCESS);
    idents = sacme_json_arr(payload_of(fake.bodies[1]), "identifiers");
    ck_assert_uint_eq(json_array_size(idents), 3);
    for (i = 0; i < SACME_ARRAY_LEN(names_in); ++i) {
        ck_assert_str_eq(sacme_json_str(json_array_get(idents, i), "type"), types[i]);
        ck_assert_str_eq(sacme_json_str(json_array_get(idents, i), "value"), names_in[i]);
    }
    j = sacme_json_parse(unit_pool, authz_body, strlen(authz_body), 0, NULL);
    ck_assert_int_eq(sacme_authz_parse(unit_pool, j, "https://ca.test/a/1",
                                       "https://ca.test/a/1", &authz, NULL), APR_SUCCESS);
    ck_assert_int_eq(authz->ip, 1);
    ck_assert_str_eq(authz->identifier, "::1");
}
END_TEST

START_TEST(order_parse)
{
    const char *body =
        "{\"status\":\"processing\",\"finalize\":\"https://ca.test/o/1/fin\","
        "\"authorizations\":[\"https://ca.test/a/1\",\"https://ca.test/a/2\"],"
        "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}";
    json_t *j = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    sacme_order_t *order;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_order_parse(unit_pool, j, "https://ca.test/o/1",
                                       "https://ca.test/o/1", &order, NULL), APR_SUCCESS);
    ck_assert_str_eq(order->status, "processing");
    ck_assert_int_eq(order->authorizations->nelts, 2);
    ck_assert_ptr_null(order->certificate);
    j = sacme_json_parse(unit_pool, "{\"status\":\"pending\"}", 20, 0, NULL);
    ck_assert_int_eq(sacme_order_parse(unit_pool, j, "https://ca.test/o/2",
                                       "https://ca.test/o/2", &order, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "finalize"));
}
END_TEST

START_TEST(finalize_201_without_location)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 201, JSON_HDR "Replay-Nonce: n2\n",
          "{\"status\":\"processing\",\"finalize\":\"https://ca.test/o/1/fin\","
          "\"authorizations\":[]}" },
    };
    unit_scripted_t s[2];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_order_t order, *updated;
    unsigned char csr[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    json_t *payload;

    memcpy(s, script, sizeof(s));
    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 2);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    memset(&order, 0, sizeof(order));
    order.url = "https://ca.test/o/1";
    order.finalize = "https://ca.test/o/1/fin";
    ck_assert_int_eq(sacme_order_finalize(acme, &order, csr, sizeof(csr), unit_pool,
                                          &updated, NULL), APR_SUCCESS);
    ck_assert_str_eq(updated->url, "https://ca.test/o/1");
    ck_assert_str_eq(updated->status, "processing");
    payload = payload_of(fake.bodies[1]);
    ck_assert_str_eq(sacme_json_str(payload, "csr"), "MAMCAQA");
}
END_TEST

/* A client of the scripted CA (script[0] is given the directory) with an
 * account: key and URL. */
static sacme_acme_t *account_acme(unit_fake_t *fake, unit_scripted_t *script, int n)
{
    sacme_acme_t *acme;

    script[0].body = DIRECTORY;
    acme = make_acme(fake, script, n);
    sacme_key_generate(unit_pool, SACME_KEY_P256, &acme->account_key, NULL);
    acme->account_url = "https://ca.test/acct/1";
    return acme;
}

static apr_status_t publish_nothing(void *baton, int setup, const sacme_chal_pub_t *pub,
                                    apr_pool_t *p, sacme_result_t *res)
{
    (void)baton; (void)setup; (void)pub; (void)p; (void)res;
    return APR_SUCCESS;
}

/* A resumed order finds its challenge pending while the CA still validates
 * the answer an earlier run gave; by the POST it is valid, and the CA
 * refuses to take the answer again (Pebble: "malformed", "Cannot update
 * challenge with status valid"). The order goes on: the authorization is
 * asked, and it is valid. It once failed the order, and the domain waited
 * for its backoff. */
START_TEST(challenge_answered_meanwhile_does_not_fail_the_order)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n2\n",
          "{\"status\":\"pending\",\"finalize\":\"https://ca.test/o/1/fin\","
          "\"authorizations\":[\"https://ca.test/authz/1\"]}" },
        { 200, JSON_HDR "Replay-Nonce: n3\n",
          "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
          "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca.test/c/1\","
          "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\",\"status\":\"pending\"}]}" },
        { 400, PROBLEM_HDR "Replay-Nonce: n4\n",
          "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"Cannot update "
          "challenge with status valid, only status pending\"}" },
        { 200, JSON_HDR "Replay-Nonce: n5\n",
          "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
          "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca.test/c/1\","
          "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\",\"status\":\"valid\"}]}" },
        { 200, JSON_HDR "Replay-Nonce: n6\n",
          "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
          "\"challenges\":[]}" },
        /* then the order: gone bad for a reason of its own, to end here */
        { 200, JSON_HDR "Replay-Nonce: n7\n",
          "{\"status\":\"invalid\",\"finalize\":\"https://ca.test/o/1/fin\","
          "\"authorizations\":[\"https://ca.test/authz/1\"]}" },
    };
    unit_scripted_t s[7];
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_issue_opts_t opts;
    sacme_chain_t *chain = NULL;
    sacme_key_t *key;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memcpy(s, script, sizeof(s));
    acme = account_acme(&fake, s, 7);
    memset(&opts, 0, sizeof(opts));
    opts.names = apr_array_make(unit_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(opts.names, const char *) = "a.example";
    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &key, NULL), APR_SUCCESS);
    opts.cert_key = key;
    opts.challenge_fn = publish_nothing;
    opts.resume_url = "https://ca.test/o/1";
    ck_assert_int_ne(sacme_issue(acme, &opts, unit_pool, &chain, res), APR_SUCCESS);
    /* past the refused answer: the authorization asked and found valid,
     * then the order looked at */
    ck_assert_int_eq(fake.next, 7);
    ck_assert_str_eq(fake.urls[3], "https://ca.test/c/1");
    ck_assert_str_eq(fake.urls[4], "https://ca.test/authz/1");
    ck_assert_str_eq(fake.urls[6], "https://ca.test/o/1");
    ck_assert(!res->problem || strcmp(res->problem, SACME_PROBLEM_NS "malformed"));
}
END_TEST

/* Issue 11, defect 17c: a newNonce answer without Replay-Nonce is asked
 * again at once; the request goes out with the next one's nonce. */
START_TEST(nonce_answer_without_nonce_is_asked_again)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR, NULL },                   /* directory, no nonce */
        { 200, "Cache-Control: no-store\n", "" },  /* HEAD newNonce, none */
        { 200, "Replay-Nonce: second\n", "" },     /* HEAD newNonce */
        { 200, JSON_HDR "Replay-Nonce: n3\n", "{\"status\":\"valid\"}" },
    };
    unit_scripted_t s[4];
    unit_fake_t fake;
    sacme_acme_response_t *resp;

    memcpy(s, script, sizeof(s));
    ck_assert_int_eq(sacme_acme_post(account_acme(&fake, s, 4), "https://ca.test/x",
                                     NULL, 0, unit_pool, &resp, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 4);
    ck_assert_str_eq(sacme_json_str(protected_of(fake.bodies[3]), "nonce"), "second");
}
END_TEST

/* Issue 11, defect 18: a CA that never gives a nonce is a protocol error
 * of the CA (SACME_EPROTO, logged without an OS error), after the quick
 * retries. */
START_TEST(nonce_never_given_is_a_protocol_error)
{
    unit_scripted_t s[1 + 1 + SACME_MAX_QUICK_RETRIES];
    unit_fake_t fake;
    sacme_acme_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    int i;

    s[0].status = 200; s[0].headers = JSON_HDR;
    for (i = 1; i < (int)SACME_ARRAY_LEN(s); ++i) {
        s[i].status = 200;
        s[i].headers = "";
        s[i].body = "";
    }
    ck_assert_int_eq(sacme_acme_post(account_acme(&fake, s, (int)SACME_ARRAY_LEN(s)),
                                     "https://ca.test/x", NULL, 0, unit_pool, &resp, res),
                     SACME_EPROTO);
    ck_assert_int_eq(fake.next, (int)SACME_ARRAY_LEN(s));
    ck_assert_ptr_nonnull(strstr(res->detail, "gave no Replay-Nonce"));
    ck_assert_int_eq(sacme_result_log_status(res), 0);
}
END_TEST

/* A body that is not JSON where the CA must send JSON: SACME_EPROTO. */
START_TEST(garbage_json_is_a_protocol_error)
{
    static const unit_scripted_t script[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n2\n", "{not json" },
    };
    unit_scripted_t s[2];
    unit_fake_t fake;
    sacme_acme_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memcpy(s, script, sizeof(s));
    ck_assert_int_eq(sacme_acme_post(account_acme(&fake, s, 2), "https://ca.test/o/1",
                                     NULL, 0, unit_pool, &resp, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "invalid JSON"));
    ck_assert_int_eq(sacme_result_log_status(res), 0);
}
END_TEST

#define ORDER_JSON(status) \
    "{\"status\":\"" status "\",\"finalize\":\"https://ca.test/o/1/fin\"," \
    "\"authorizations\":[]}"

/* Issue 11, defect 17d: the finalize's answer is lost. The order is asked
 * before anything else: `processing` (the CA had taken the CSR) is where
 * the issue goes on, no second finalize (the CA would refuse it); `ready`
 * (the finalize never reached the CA) has it sent again. */
START_TEST(lost_finalize_answer_asks_the_order)
{
    static const unsigned char csr[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    static const struct {
        const char *state;      /* the order after the lost finalize */
        int requests;           /* all the client sends */
        const char *ends;       /* the order's status returned */
    } cases[] = {
        { ORDER_JSON("processing"), 4, "processing" },
        { ORDER_JSON("ready"), 5, "valid" },
    };
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        unit_scripted_t s[] = {
            { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
            { 0, NULL, NULL },                                  /* finalize: lost */
            { 200, "Replay-Nonce: n2\n", "" },                  /* HEAD newNonce */
            { 200, JSON_HDR "Replay-Nonce: n3\n", cases[i].state },
            { 200, JSON_HDR "Replay-Nonce: n4\n", ORDER_JSON("valid") },
        };
        unit_fake_t fake;
        sacme_order_t order, *updated;

        memset(&order, 0, sizeof(order));
        order.url = "https://ca.test/o/1";
        order.finalize = "https://ca.test/o/1/fin";
        ck_assert_int_eq(sacme_order_finalize(account_acme(&fake, s, (int)SACME_ARRAY_LEN(s)),
                                              &order, csr, sizeof(csr), unit_pool,
                                              &updated, NULL), APR_SUCCESS);
        ck_assert_int_eq(fake.next, cases[i].requests);
        ck_assert_str_eq(fake.urls[1], "https://ca.test/o/1/fin");
        ck_assert_str_eq(fake.urls[3], "https://ca.test/o/1");
        ck_assert_ptr_null(payload_of(fake.bodies[3]));      /* POST-as-GET */
        if (cases[i].requests == 5) {
            ck_assert_str_eq(fake.urls[4], "https://ca.test/o/1/fin");
            ck_assert_str_eq(sacme_json_str(payload_of(fake.bodies[4]), "csr"), "MAMCAQA");
        }
        ck_assert_str_eq(updated->status, cases[i].ends);
    }
}
END_TEST

/* A long-lived client reads the directory again: a directory that parses
 * takes the old one's place (URLs, renewalInfo, profiles, its nonce); one
 * that does not (an HTML maintenance page) leaves the last good one in use. */
START_TEST(directory_refresh_replaces_or_keeps)
{
    unit_scripted_t s[3] = {
        { 200, JSON_HDR "Replay-Nonce: nonce-1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: nonce-2\n",
          "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
          "\"newOrder\":\"https://ca.test/order2\","
          "\"renewalInfo\":\"https://ca.test/renewal-info\","
          "\"meta\":{\"profiles\":{\"short\":\"6 days\"}}}" },
        { 200, "Content-Type: text/html\n", "<html>down for maintenance</html>" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_result_t *res = sacme_result_make(unit_pool);

    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 3);
    ck_assert_int_eq(sacme_acme_setup(acme, res), APR_SUCCESS);
    ck_assert_ptr_null(acme->dir->renewal_info);
    ck_assert_str_eq(acme->nonce, "nonce-1");

    ck_assert_int_eq(sacme_acme_refresh_directory(acme, res), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 2);
    ck_assert_str_eq(fake.methods[1], "GET");
    ck_assert_str_eq(fake.urls[1], DIR_URL);
    ck_assert_str_eq(acme->dir->new_order, "https://ca.test/order2");
    ck_assert_str_eq(acme->dir->renewal_info, "https://ca.test/renewal-info");
    ck_assert(sacme_directory_has_profile(acme->dir, "short"));
    ck_assert(!acme->dir->eab_required);
    ck_assert_str_eq(acme->nonce, "nonce-2");

    /* without a result of the caller's: the failure is still only logged */
    ck_assert_int_eq(sacme_acme_refresh_directory(acme, NULL), SACME_EPROTO);
    ck_assert_int_eq(fake.next, 3);
    ck_assert_str_eq(acme->dir->new_order, "https://ca.test/order2");
    ck_assert_str_eq(acme->dir->renewal_info, "https://ca.test/renewal-info");
    ck_assert_str_eq(acme->nonce, "nonce-2");
}
END_TEST

/* The refresh of a client that never read its directory is the first read;
 * a failed refresh says why. */
START_TEST(directory_refresh_without_directory_is_setup)
{
    unit_scripted_t s[2] = {
        { 200, JSON_HDR, NULL },
        { 200, "Content-Type: text/html\n", "<html>down for maintenance</html>" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme;
    sacme_result_t *res = sacme_result_make(unit_pool);

    s[0].body = DIRECTORY;
    acme = make_acme(&fake, s, 2);
    ck_assert_int_eq(sacme_acme_refresh_directory(acme, res), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 1);
    ck_assert_str_eq(acme->dir->new_order, "https://ca.test/order");
    ck_assert(acme->dir->eab_required);

    ck_assert_int_eq(sacme_acme_refresh_directory(acme, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "not JSON"));
    ck_assert_str_eq(acme->dir->new_order, "https://ca.test/order");
    ck_assert(acme->dir->eab_required);
}
END_TEST

Suite *unit_suite_acme(void)
{
    Suite *s = suite_create("acme");
    TCase *tc = tcase_create("acme");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_set_timeout(tc, 30);   /* quick retries pause a second or two */
    tcase_add_test(tc, refuses_plain_http);
    tcase_add_test(tc, bad_nonce_is_retried_with_the_fresh_nonce);
    tcase_add_test(tc, bad_nonce_retries_are_bounded);
    tcase_add_test(tc, nonce_fetched_with_head_when_none_held);
    tcase_add_test(tc, server_error_without_problem);
    tcase_add_test(tc, one_server_error_costs_a_quick_retry);
    tcase_add_test(tc, persistent_server_errors_give_up_after_quick_retries);
    tcase_add_test(tc, order_still_processing_is_waiting_not_failed);
    tcase_add_test(tc, eab_required_but_missing_fails_before_new_account);
    tcase_add_test(tc, register_with_eab_then_find_without);
    tcase_add_test(tc, account_dir_of_another_ca_is_refused);
    tcase_add_test(tc, authz_with_unknown_challenge_types);
    tcase_add_test(tc, authz_pick_follows_the_preference_within_what_the_identifier_allows);
    tcase_add_test(tc, challenge_type_lists);
    tcase_add_test(tc, token_check);
    tcase_add_test(tc, order_parse);
    tcase_add_test(tc, ip_names_are_ip_identifiers);
    tcase_add_test(tc, finalize_201_without_location);
    tcase_add_test(tc, nonce_answer_without_nonce_is_asked_again);
    tcase_add_test(tc, challenge_answered_meanwhile_does_not_fail_the_order);
    tcase_add_test(tc, nonce_never_given_is_a_protocol_error);
    tcase_add_test(tc, garbage_json_is_a_protocol_error);
    tcase_add_test(tc, lost_finalize_answer_asks_the_order);
    tcase_add_test(tc, directory_refresh_replaces_or_keeps);
    tcase_add_test(tc, directory_refresh_without_directory_is_setup);
    suite_add_tcase(s, tc);
    return s;
}
