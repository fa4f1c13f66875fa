/* Unit tests: sacme_ari (certID, renewalInfo answers, the pick, the poll). */
#include <string.h>
#include <openssl/pem.h>

#include "unit.h"
#include "unit_fake.h"
#include "sacme_ari.h"
#include "sacme_time.h"

#define MIN_ apr_time_from_sec(60)
#define HOUR apr_time_from_sec(3600)

static X509 *load_pem(const char *name)
{
    apr_size_t len;
    const char *pem = unit_fixture_read(name, &len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    ck_assert_ptr_nonnull(x);
    return x;
}

/* RFC 9773 Appendix A: its example certificate (AKI 69:88:5B:..:C8:D4,
 * serial 0x87654321, whose DER content is 00 87 65 43 21) and the certID
 * the RFC gives for it. */
START_TEST(cert_id_rfc_vector)
{
    X509 *x = load_pem("ari/rfc9773-example.pem");
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *id = NULL;

    ck_assert_int_eq(sacme_ari_cert_id(unit_pool, x, &id, res), APR_SUCCESS);
    ck_assert_str_eq(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    X509_free(x);
}
END_TEST

/* A certificate without an AKI (a self-signed one) has no certID. */
START_TEST(cert_id_needs_aki)
{
    X509 *x = X509_new();
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *id = NULL;

    ASN1_INTEGER_set(X509_get_serialNumber(x), 5);
    ck_assert_int_eq(sacme_ari_cert_id(unit_pool, x, &id, res), SACME_EPROTO);
    ck_assert_ptr_null(id);
    ck_assert_ptr_nonnull(strstr(res->detail, "Authority Key Identifier"));
    X509_free(x);
}
END_TEST

static apr_status_t parse(const char *body, sacme_ari_info_t *info, sacme_result_t *res)
{
    return sacme_ari_parse(unit_pool, body, strlen(body), info, res);
}

START_TEST(parse_window)
{
    sacme_ari_info_t info;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(parse("{\"suggestedWindow\": {\"start\": \"2026-03-01T00:00:00Z\","
                           " \"end\": \"2026-03-03T00:00:00Z\"},"
                           " \"explanationURL\": \"https://ca.example/incident/1\"}",
                           &info, res), APR_SUCCESS);
    ck_assert_int_eq(info.start, sacme_time_rfc3339_parse("2026-03-01T00:00:00Z"));
    ck_assert_int_eq(info.end, sacme_time_rfc3339_parse("2026-03-03T00:00:00Z"));
    ck_assert_str_eq(info.explanation_url, "https://ca.example/incident/1");

    /* a URL unfit for a log line is left out, the window is kept */
    ck_assert_int_eq(parse("{\"suggestedWindow\": {\"start\": \"2026-03-01T00:00:00Z\","
                           " \"end\": \"2026-03-01T00:00:00Z\"},"
                           " \"explanationURL\": \"javascript:alert(1)\"}",
                           &info, res), APR_SUCCESS);
    ck_assert_ptr_null(info.explanation_url);
}
END_TEST

START_TEST(parse_refuses_garbage)
{
    static const char *const bad[] = {
        "", "not json", "[]", "{}", "{\"suggestedWindow\": 5}",
        "{\"suggestedWindow\": {\"start\": \"2026-03-01T00:00:00Z\"}}",
        "{\"suggestedWindow\": {\"start\": \"yesterday\", \"end\": \"2026-03-01T00:00:00Z\"}}",
        "{\"suggestedWindow\": {\"start\": 1, \"end\": 2}}",
    };
    sacme_ari_info_t info;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        sacme_result_t *res = sacme_result_make(unit_pool);
        ck_assert_msg(parse(bad[i], &info, res) == SACME_EPROTO, "'%s' accepted", bad[i]);
        ck_assert_int_eq(res->status, SACME_EPROTO);
    }
}
END_TEST

START_TEST(parse_refuses_end_before_start)
{
    sacme_ari_info_t info;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(parse("{\"suggestedWindow\": {\"start\": \"2026-03-03T00:00:00Z\","
                           " \"end\": \"2026-03-01T00:00:00Z\"}}", &info, res),
                     SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "before it starts"));
}
END_TEST

/* The pick covers the window, both ends included, and nothing outside. */
START_TEST(pick_inside_window)
{
    sacme_ari_info_t info = { 1000 * HOUR, 1000 * HOUR + 48 * HOUR, NULL };
    apr_time_t t;
    int i, low = 0, high = 0;

    ck_assert_int_eq(sacme_ari_pick_with(&info, 0), info.start);
    ck_assert_int_eq(sacme_ari_pick_with(&info, (apr_uint64_t)(48 * HOUR)), info.end);
    ck_assert_int_eq(sacme_ari_pick_with(&info, (apr_uint64_t)(48 * HOUR) + 1), info.start);
    for (i = 0; i < 200; ++i) {
        t = sacme_ari_pick(&info);
        ck_assert_int_ge(t, info.start);
        ck_assert_int_le(t, info.end);
        low += t < info.start + 24 * HOUR;
        high += t >= info.start + 24 * HOUR;
    }
    /* uniform: both halves are hit (the chance of either being empty is 2^-199) */
    ck_assert_int_gt(low, 0);
    ck_assert_int_gt(high, 0);
    /* an empty window is its start */
    info.end = info.start;
    ck_assert_int_eq(sacme_ari_pick(&info), info.start);
}
END_TEST

START_TEST(next_poll_clamped)
{
    apr_time_t now = 5000 * HOUR;

    ck_assert_int_eq(sacme_ari_next_poll(0, now), now + SACME_ARI_POLL_DEFAULT);
    ck_assert_int_eq(sacme_ari_next_poll(now + apr_time_from_sec(1), now), now + MIN_);
    ck_assert_int_eq(sacme_ari_next_poll(now - HOUR, now), now + MIN_);
    ck_assert_int_eq(sacme_ari_next_poll(now + 3 * HOUR, now), now + 3 * HOUR);
    ck_assert_int_eq(sacme_ari_next_poll(now + 24 * 7 * HOUR, now), now + 24 * HOUR);
}
END_TEST

START_TEST(replaces_refusals)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert(!sacme_ari_replaces_refused(res));
    res->problem = "urn:ietf:params:acme:error:alreadyReplaced";
    ck_assert(sacme_ari_replaces_refused(res));
    res->problem = "urn:ietf:params:acme:error:conflict";
    ck_assert(sacme_ari_replaces_refused(res));
    res->problem = "urn:ietf:params:acme:error:malformed";
    res->detail = "bad identifiers";
    ck_assert(!sacme_ari_replaces_refused(res));
    res->detail = "the replaces field names an unknown certificate";
    ck_assert(sacme_ari_replaces_refused(res));
    res->problem = "urn:ietf:params:acme:error:rateLimited";
    ck_assert(!sacme_ari_replaces_refused(res));
}
END_TEST

#define DIR_URL "https://ca.test/dir"
#define ARI_DIR "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":" \
    "\"https://ca.test/acct\",\"newOrder\":\"https://ca.test/order\"," \
    "\"renewalInfo\":\"https://ca.test/renewal-info\"}"
#define JSON_HDR "Content-Type: application/json\n"

static sacme_acme_t *fake_acme(unit_fake_t *fake, const unit_scripted_t *script, int n)
{
    sacme_acme_t *acme;

    ck_assert_int_eq(sacme_acme_create(unit_pool, DIR_URL, unit_fake_http(fake, script, n),
                                       NULL, &acme, NULL), APR_SUCCESS);
    return acme;
}

/* An unauthenticated GET of renewalInfo/<certID>; its window and
 * Retry-After; a failure names its kind. */
START_TEST(fetch_window_and_failures)
{
    unit_scripted_t s[3] = {
        { 200, JSON_HDR, ARI_DIR },
        { 200, JSON_HDR "Retry-After: 3600\n",
          "{\"suggestedWindow\": {\"start\": \"2026-03-01T00:00:00Z\","
          " \"end\": \"2026-03-02T00:00:00Z\"}}" },
        { 404, "Content-Type: application/problem+json\n", "{}" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme = fake_acme(&fake, s, 3);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_ari_answer_t ans;
    apr_time_t before = apr_time_now();

    ck_assert_int_eq(sacme_ari_fetch(acme, "aYhb.AIdl", unit_pool, &ans, res), APR_SUCCESS);
    ck_assert_str_eq(fake.methods[1], "GET");
    ck_assert_str_eq(fake.urls[1], "https://ca.test/renewal-info/aYhb.AIdl");
    ck_assert_int_eq(ans.info.start, sacme_time_rfc3339_parse("2026-03-01T00:00:00Z"));
    ck_assert(ans.retry_after >= before + apr_time_from_sec(3600));
    ck_assert_ptr_null(ans.error_kind);

    ck_assert_int_eq(sacme_ari_fetch(acme, "aYhb.AIdl", unit_pool, &ans, res), SACME_EPROTO);
    ck_assert_str_eq(ans.error_kind, "http-404");
    ck_assert_int_eq(res->http_status, 404);
}
END_TEST

/* A directory without renewalInfo: nothing is asked. */
START_TEST(fetch_without_renewal_info)
{
    unit_scripted_t s[1] = {
        { 200, JSON_HDR, "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":"
          "\"https://ca.test/acct\",\"newOrder\":\"https://ca.test/order\"}" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme = fake_acme(&fake, s, 1);
    sacme_ari_answer_t ans;

    ck_assert_int_eq(sacme_ari_fetch(acme, "a.b", unit_pool, &ans, NULL), APR_ENOTIMPL);
    ck_assert_int_eq(fake.next, 1);
}
END_TEST

/* A CA that adds renewalInfo while the client lives: the directory read
 * before is read again before the answer "unsupported", once per fetch,
 * and the new renewalInfo is asked at once. One that cannot be read again
 * leaves the answer "unsupported", not a failure. */
START_TEST(fetch_reads_the_directory_again_before_unsupported)
{
#define NO_ARI_DIR "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":" \
    "\"https://ca.test/acct\",\"newOrder\":\"https://ca.test/order\"}"
    unit_scripted_t s[6] = {
        { 200, JSON_HDR, NO_ARI_DIR },             /* the first read */
        { 200, JSON_HDR, NO_ARI_DIR },             /* the next poll: still none */
        { 200, "Content-Type: text/html\n", "<html>maintenance</html>" },
        { 200, JSON_HDR, ARI_DIR },                /* the CA gained ARI */
        { 200, JSON_HDR, "{\"suggestedWindow\": {\"start\": \"2026-03-01T00:00:00Z\","
          " \"end\": \"2026-03-02T00:00:00Z\"}}" },
        { 404, "Content-Type: application/problem+json\n", "{}" },
    };
    unit_fake_t fake;
    sacme_acme_t *acme = fake_acme(&fake, s, 6);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_ari_answer_t ans;
    int i;

    /* read just now: not read again */
    ck_assert_int_eq(sacme_ari_fetch(acme, "a.b", unit_pool, &ans, res), APR_ENOTIMPL);
    ck_assert_int_eq(fake.next, 1);
    ck_assert_str_eq(ans.error_kind, "unsupported");
    /* read again, still none; then not readable: the old one answers */
    for (i = 2; i <= 3; ++i) {
        ck_assert_int_eq(sacme_ari_fetch(acme, "a.b", unit_pool, &ans, res), APR_ENOTIMPL);
        ck_assert_int_eq(fake.next, i);
        ck_assert_str_eq(fake.urls[i - 1], DIR_URL);
        ck_assert_str_eq(ans.error_kind, "unsupported");
    }
    /* now with renewalInfo: asked in the same fetch */
    ck_assert_int_eq(sacme_ari_fetch(acme, "a.b", unit_pool, &ans, res), APR_SUCCESS);
    ck_assert_int_eq(fake.next, 5);
    ck_assert_str_eq(fake.urls[3], DIR_URL);
    ck_assert_str_eq(fake.urls[4], "https://ca.test/renewal-info/a.b");
    ck_assert_int_eq(ans.info.start, sacme_time_rfc3339_parse("2026-03-01T00:00:00Z"));
    /* with renewalInfo known, a failed answer does not read the directory */
    ck_assert_int_eq(sacme_ari_fetch(acme, "a.b", unit_pool, &ans, res), SACME_EPROTO);
    ck_assert_int_eq(fake.next, 6);
    ck_assert_str_eq(ans.error_kind, "http-404");
#undef NO_ARI_DIR
}
END_TEST


Suite *unit_suite_ari(void)
{
    Suite *s = suite_create("ari");
    TCase *tc = tcase_create("ari");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, cert_id_rfc_vector);
    tcase_add_test(tc, cert_id_needs_aki);
    tcase_add_test(tc, parse_window);
    tcase_add_test(tc, parse_refuses_garbage);
    tcase_add_test(tc, parse_refuses_end_before_start);
    tcase_add_test(tc, pick_inside_window);
    tcase_add_test(tc, next_poll_clamped);
    tcase_add_test(tc, replaces_refusals);
    tcase_add_test(tc, fetch_window_and_failures);
    tcase_add_test(tc, fetch_without_renewal_info);
    tcase_add_test(tc, fetch_reads_the_directory_again_before_unsupported);
    suite_add_tcase(s, tc);
    return s;
}
