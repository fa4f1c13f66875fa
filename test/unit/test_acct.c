/* Unit tests: the admin's account changes (key rollover, deactivation,
 * fetch) and the recovery of an interrupted rollover, against recorded CA
 * answers (the scripted fake transport). Pebble is in test/e2e. */
#include <string.h>
#include <sys/stat.h>

#include "unit.h"
#include "unit_cert.h"
#include "unit_fake.h"
#include "sacme_acct.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_jws.h"
#include "sacme_problem.h"

#define DIR_URL  "https://ca.test/dir"
#define ACCT_URL "https://ca.test/acct/42"
#define KEYCHANGE_URL "https://ca.test/key-change"

static const char *DIRECTORY =
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
    "\"newOrder\":\"https://ca.test/order\",\"keyChange\":\"" KEYCHANGE_URL "\","
    "\"revokeCert\":\"https://ca.test/revoke\",\"meta\":{\"externalAccountRequired\":true}}";
#define JSON_HDR "Content-Type: application/json\n"
#define PROBLEM_HDR "Content-Type: application/problem+json\n"
#define NOT_FOUND "{\"type\":\"urn:ietf:params:acme:error:accountDoesNotExist\"}"
#define FOUND_HDR JSON_HDR "Replay-Nonce: nf\nLocation: " ACCT_URL "\n"

static sacme_acme_t *make_acme(unit_fake_t *fake, unit_scripted_t *script, int n)
{
    sacme_acme_t *acme;

    script[0].body = DIRECTORY;
    ck_assert_int_eq(sacme_acme_create(unit_pool, DIR_URL, unit_fake_http(fake, script, n),
                                       NULL, &acme, NULL), APR_SUCCESS);
    return acme;
}

/* An account directory as the driver leaves it; returns its path. */
static const char *account_dir(sacme_key_t *key, const char *extra_json)
{
    const char *dir = apr_pstrcat(unit_pool, unit_tmpdir(), "/acct", NULL);

    ck_assert_int_eq(sacme_file_mkdirs(dir, SACME_FPROT_DIR_PRIVATE, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_key_save(key, apr_pstrcat(unit_pool, dir, "/account.key", NULL),
                                    unit_pool, NULL), APR_SUCCESS);
    unit_write_text(apr_pstrcat(unit_pool, dir, "/account.json", NULL),
                    apr_pstrcat(unit_pool, "{\"url\":\"" ACCT_URL "\",\"server\":\"" DIR_URL
                                "\",\"eab-kid\":\"kid-1\"", extra_json, "}", NULL),
                    SACME_FPROT_PUBLIC);
    return dir;
}

static sacme_key_t *key_in(const char *dir, const char *file)
{
    sacme_key_t *key;
    ck_assert_int_eq(sacme_key_load(unit_pool, apr_pstrcat(unit_pool, dir, "/", file, NULL),
                                    &key, NULL), APR_SUCCESS);
    return key;
}

static int exists(const char *dir, const char *file)
{
    return sacme_file_exists(apr_pstrcat(unit_pool, dir, "/", file, NULL), unit_pool);
}

static json_t *stored(const char *dir)
{
    return sacme_json_read_file(unit_pool, apr_pstrcat(unit_pool, dir, "/account.json", NULL),
                                65536, NULL);
}

/* The parts of a flattened JWS. */
typedef struct {
    json_t *header, *payload;
    const char *signing_input, *signature;
} jws_parts_t;

static jws_parts_t parse_jws(const json_t *jws)
{
    const char *text = sacme_json_dump(unit_pool, jws);
    jws_parts_t parts;

    parts.header = unit_jws_member(text, "protected");
    parts.payload = unit_jws_member(text, "payload");
    parts.signing_input = apr_pstrcat(unit_pool, sacme_json_str(jws, "protected"), ".",
                                      sacme_json_str(jws, "payload"), NULL);
    parts.signature = sacme_json_str(jws, "signature");
    return parts;
}

static jws_parts_t parse_body(const char *body)
{
    return parse_jws(sacme_json_parse(unit_pool, body, strlen(body), 0, NULL));
}

/* An account directory whose rollover was interrupted: account.key.new
 * holds next. */
static const char *interrupted_dir(sacme_key_t *old, sacme_key_t *next)
{
    const char *dir = account_dir(old, "");

    ck_assert_int_eq(sacme_key_save(next, apr_pstrcat(unit_pool, dir, "/account.key.new",
                                                      NULL), unit_pool, NULL), APR_SUCCESS);
    return dir;
}

START_TEST(rollover_sends_inner_jws_of_new_key_inside_request_of_old_key)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n2\n", "{\"status\":\"valid\"}" },
    };
    sacme_key_t *old = unit_key(SACME_KEY_P256), *now;
    const char *dir = account_dir(old, "");
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 2);
    jws_parts_t outer, inner;
    struct stat st;

    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(acme->account_url, ACCT_URL);
    ck_assert_int_eq(sacme_acct_rollover(acme, unit_sdir(dir), SACME_KEY_P384, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 2);
    ck_assert_str_eq(fake.urls[1], KEYCHANGE_URL);

    /* the outer request: the old key, by account URL, with a nonce */
    outer = parse_body(fake.bodies[1]);
    ck_assert_str_eq(sacme_json_str(outer.header, "kid"), ACCT_URL);
    ck_assert_str_eq(sacme_json_str(outer.header, "url"), KEYCHANGE_URL);
    ck_assert_str_eq(sacme_json_str(outer.header, "nonce"), "n1");
    ck_assert_ptr_null(json_object_get(outer.header, "jwk"));
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, old, outer.signing_input,
                                            outer.signature), APR_SUCCESS);

    /* the inner JWS: the new key's JWK, the same URL, no nonce, no kid;
     * naming the account and the old key; signed by the new key */
    now = key_in(dir, SACME_ACCT_KEY_FILE);
    ck_assert_int_eq(sacme_key_type(now), SACME_KEY_P384);
    inner = parse_jws(outer.payload);
    ck_assert_str_eq(sacme_json_str(inner.header, "alg"), "ES384");
    ck_assert_str_eq(sacme_json_str(inner.header, "url"), KEYCHANGE_URL);
    ck_assert_ptr_null(json_object_get(inner.header, "nonce"));
    ck_assert_ptr_null(json_object_get(inner.header, "kid"));
    ck_assert_str_eq(sacme_jwk_thumbprint_of(json_object_get(inner.header, "jwk"), unit_pool),
                     sacme_jwk_thumbprint(now, unit_pool));
    ck_assert_str_eq(sacme_json_str(inner.payload, "account"), ACCT_URL);
    ck_assert_str_eq(sacme_jwk_thumbprint_of(json_object_get(inner.payload, "oldKey"),
                                             unit_pool),
                     sacme_jwk_thumbprint(old, unit_pool));
    ck_assert_int_eq(sacme_jws_verify_input(unit_pool, now, inner.signing_input,
                                            inner.signature), APR_SUCCESS);

    /* on disk: the new key in place (0600), no leftover, the URL kept */
    ck_assert(!exists(dir, SACME_ACCT_KEY_NEW_FILE));
    ck_assert_int_eq(stat(apr_pstrcat(unit_pool, dir, "/account.key", NULL), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_str_eq(sacme_json_str(stored(dir), "url"), ACCT_URL);
    ck_assert_str_eq(sacme_json_str(stored(dir), "key-type"), "p384");
    ck_assert_str_eq(sacme_json_str(stored(dir), "eab-kid"), "kid-1");
    ck_assert(sacme_key_same_public(acme->account_key, sacme_key_evp(now)));
}
END_TEST

START_TEST(rollover_refused_keeps_the_old_key)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 400, PROBLEM_HDR "Replay-Nonce: n2\n",
          "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"no\"}" },
        /* asked which key it has: the old one */
        { 200, FOUND_HDR, "{\"status\":\"valid\"}" },
    };
    sacme_key_t *old = unit_key(SACME_KEY_P256);
    const char *dir = account_dir(old, "");
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 3);
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert_int_ne(sacme_acct_rollover(acme, unit_sdir(dir), SACME_KEY_NONE, res), APR_SUCCESS);
    ck_assert_str_eq(res->problem, SACME_PROBLEM_NS "malformed");
    ck_assert_int_eq(fake.next, 3);
    ck_assert(json_is_true(json_object_get(parse_body(fake.bodies[2]).payload,
                                           "onlyReturnExisting")));
    ck_assert(sacme_key_same_public(key_in(dir, SACME_ACCT_KEY_FILE), sacme_key_evp(old)));
    ck_assert(sacme_key_same_public(acme->account_key, sacme_key_evp(old)));
    ck_assert(!exists(dir, SACME_ACCT_KEY_NEW_FILE));
}
END_TEST

START_TEST(rollover_the_ca_carried_out_despite_an_error_is_kept)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 409, "Replay-Nonce: n2\n", "conflict" },
        /* the old key is unknown now, the new one finds the account */
        { 400, PROBLEM_HDR "Replay-Nonce: n3\n", NOT_FOUND },
        { 200, FOUND_HDR, "{\"status\":\"valid\"}" },
    };
    sacme_key_t *old = unit_key(SACME_KEY_P256), *now;
    const char *dir = account_dir(old, "");
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 4);

    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_acct_rollover(acme, unit_sdir(dir), SACME_KEY_NONE, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 4);
    now = key_in(dir, SACME_ACCT_KEY_FILE);
    ck_assert(!sacme_key_same_public(now, sacme_key_evp(old)));
    ck_assert_str_eq(sacme_jwk_thumbprint_of(json_object_get(parse_body(fake.bodies[3]).header,
                                                             "jwk"), unit_pool),
                     sacme_jwk_thumbprint(now, unit_pool));
    ck_assert(!exists(dir, SACME_ACCT_KEY_NEW_FILE));
}
END_TEST

/* A crash after the CA took the new key, before the rename: the next
 * lookup finds the account with the new key and makes it account.key. */
START_TEST(interrupted_rollover_the_ca_took_is_finished)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 400, PROBLEM_HDR "Replay-Nonce: n2\n", NOT_FOUND },
        { 200, FOUND_HDR, "{\"status\":\"valid\"}" },
    };
    sacme_key_t *old = unit_key(SACME_KEY_P256), *next = unit_key(SACME_KEY_P256);
    const char *dir = interrupted_dir(old, next);
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 3);
    sacme_acct_opts_t opts;
    int registered;

    memset(&opts, 0, sizeof(opts));
    opts.dir = unit_sdir(dir);
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, &registered, NULL), APR_SUCCESS);
    ck_assert_int_eq(registered, 0);
    ck_assert_int_eq(fake.next, 3);
    ck_assert_str_eq(acme->account_url, ACCT_URL);
    ck_assert_str_eq(sacme_jwk_thumbprint_of(json_object_get(parse_body(fake.bodies[1]).header,
                                                             "jwk"), unit_pool),
                     sacme_jwk_thumbprint(old, unit_pool));
    ck_assert(sacme_key_same_public(key_in(dir, SACME_ACCT_KEY_FILE), sacme_key_evp(next)));
    ck_assert(!exists(dir, SACME_ACCT_KEY_NEW_FILE));
}
END_TEST

/* A crash before the CA answered, and it never took the new key: the old
 * key stays, the leftover goes. */
START_TEST(interrupted_rollover_the_ca_never_took_is_dropped)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, FOUND_HDR, "{\"status\":\"valid\"}" },
    };
    sacme_key_t *old = unit_key(SACME_KEY_P256), *next = unit_key(SACME_KEY_P256);
    const char *dir = interrupted_dir(old, next);
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 2);

    /* the admin command's load settles it the same way */
    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 2);
    ck_assert(sacme_key_same_public(key_in(dir, SACME_ACCT_KEY_FILE), sacme_key_evp(old)));
    ck_assert(!exists(dir, SACME_ACCT_KEY_NEW_FILE));
}
END_TEST

START_TEST(deactivation_is_recorded_and_then_refused)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n2\n", "{\"status\":\"deactivated\"}" },
    };
    unit_scripted_t s2[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
    };
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    const char *dir = account_dir(key, "");
    unit_fake_t fake, fake2;
    sacme_acme_t *acme = make_acme(&fake, s, 2);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_acct_opts_t opts;
    sacme_eab_t *eab;
    jws_parts_t req;

    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert(!sacme_acct_is_deactivated(unit_sdir(dir), unit_pool));
    ck_assert_int_eq(sacme_acct_deactivate(acme, unit_sdir(dir), "sacmectl account deactivate", NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(fake.urls[1], ACCT_URL);
    req = parse_body(fake.bodies[1]);
    ck_assert_str_eq(sacme_json_str(req.header, "kid"), ACCT_URL);
    ck_assert_str_eq(sacme_json_str(req.payload, "status"), "deactivated");
    ck_assert_uint_eq(json_object_size(req.payload), 1);
    ck_assert(sacme_acct_is_deactivated(unit_sdir(dir), unit_pool));
    ck_assert_str_eq(sacme_json_str(stored(dir), "deactivated-by"),
                     "sacmectl account deactivate");
    ck_assert_str_eq(sacme_json_str(stored(dir), "url"), ACCT_URL);

    /* The server's next set-up: even with EAB credentials at hand, no
     * request at all beyond the directory, and an error that says who did
     * it and what to do. */
    acme = make_acme(&fake2, s2, 1);
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-1", "c2VjcmV0LWtleS1vZi10aGUtdGVzdA",
                                    SACME_HMAC_HS256, &eab, NULL), APR_SUCCESS);
    memset(&opts, 0, sizeof(opts));
    opts.dir = unit_sdir(dir);
    opts.eab = eab;
    opts.tos_agreed = 1;
    ck_assert_int_eq(sacme_acct_ensure(acme, &opts, NULL, res), SACME_ECONFIG);
    ck_assert_int_eq(fake2.next, 1);
    ck_assert_ptr_nonnull(strstr(res->detail, "sacmectl account deactivate"));
    ck_assert_ptr_nonnull(strstr(res->detail, dir));
    ck_assert_ptr_nonnull(strstr(res->detail, "EAB"));
    /* nor can it be deactivated or rolled over again */
    ck_assert_int_eq(sacme_acct_rollover(acme, unit_sdir(dir), SACME_KEY_NONE, NULL), SACME_ECONFIG);
    ck_assert_int_eq(fake2.next, 1);
}
END_TEST

START_TEST(fetch_is_post_as_get_of_the_account)
{
    unit_scripted_t s[] = {
        { 200, JSON_HDR "Replay-Nonce: n1\n", NULL },
        { 200, JSON_HDR "Replay-Nonce: n2\n",
          "{\"status\":\"valid\",\"contact\":[\"mailto:a@example.test\"],"
          "\"orders\":\"https://ca.test/orders/42\"}" },
    };
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    const char *dir = account_dir(key, "");
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 2);
    sacme_acct_info_t *info;
    json_t *st;
    jws_parts_t req;

    ck_assert_int_eq(sacme_acct_load(acme, unit_sdir(dir), unit_pool, &st, NULL), APR_SUCCESS);
    ck_assert_str_eq(sacme_json_str(st, "eab-kid"), "kid-1");
    ck_assert_int_eq(sacme_acct_fetch(acme, unit_pool, &info, NULL), APR_SUCCESS);
    req = parse_body(fake.bodies[1]);
    ck_assert_ptr_null(req.payload);
    ck_assert_str_eq(fake.urls[1], ACCT_URL);
    ck_assert_str_eq(info->status, "valid");
    ck_assert_str_eq(info->orders, "https://ca.test/orders/42");
    ck_assert_int_eq(info->contacts->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(info->contacts, 0, const char *), "mailto:a@example.test");
}
END_TEST

START_TEST(load_without_account_is_enoent)
{
    unit_scripted_t s[] = { { 200, JSON_HDR, NULL } };
    unit_fake_t fake;
    sacme_acme_t *acme = make_acme(&fake, s, 1);
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert(APR_STATUS_IS_ENOENT(sacme_acct_load(acme,
                                                   unit_sdir(apr_pstrcat(unit_pool,
                                                                         unit_tmpdir(),
                                                                         "/none", NULL)),
                                                   unit_pool, NULL, res)));
    ck_assert_int_eq(fake.next, 0);
    ck_assert_ptr_nonnull(strstr(res->detail, "no ACME account"));
}
END_TEST

Suite *unit_suite_acct(void)
{
    Suite *s = suite_create("acct");
    TCase *tc = tcase_create("acct");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, rollover_sends_inner_jws_of_new_key_inside_request_of_old_key);
    tcase_add_test(tc, rollover_refused_keeps_the_old_key);
    tcase_add_test(tc, rollover_the_ca_carried_out_despite_an_error_is_kept);
    tcase_add_test(tc, interrupted_rollover_the_ca_took_is_finished);
    tcase_add_test(tc, interrupted_rollover_the_ca_never_took_is_dropped);
    tcase_add_test(tc, deactivation_is_recorded_and_then_refused);
    tcase_add_test(tc, fetch_is_post_as_get_of_the_account);
    tcase_add_test(tc, load_without_account_is_enoent);
    suite_add_tcase(s, tc);
    return s;
}
