/* Unit tests: sacme_chain, against the certificates in test/fixtures/chain
 * (made once by make-fixtures.sh there; valid 2020-01-01 .. 2100-01-01, the
 * expired leaf only during 2020). */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "unit.h"
#include "sacme_chain.h"

/* The fixed validity of the fixtures (see make-fixtures.sh). */
#define T_2020 apr_time_from_sec(1577836800)   /* 2020-01-01T00:00:00Z */
#define T_2021 apr_time_from_sec(1609459200)   /* 2021-01-01T00:00:00Z */
#define T_2100 apr_time_from_sec(4102444800)   /* 2100-01-01T00:00:00Z */

#define INT_SUBJECT  "CN=Sacme Test Intermediate CA,O=mod_sacme tests"
#define ROOT_SUBJECT "CN=Sacme Test Root CA,O=mod_sacme tests"
#define LEAF_SUBJECT "CN=a.example,O=mod_sacme tests"

static const char *fixture(const char *name, apr_size_t *len)
{
    return unit_fixture_read(apr_pstrcat(unit_pool, "chain/", name, NULL), len);
}

/* The concatenation of fixture files, NULL-terminated. */
static const char *fixtures(const char *first, ...)
{
    const char *s = "", *name;
    va_list ap;

    va_start(ap, first);
    for (name = first; name; name = va_arg(ap, const char *)) {
        s = apr_pstrcat(unit_pool, s, fixture(name, NULL), NULL);
    }
    va_end(ap);
    return s;
}

static sacme_chain_t *parse_ok(const char *data, apr_size_t len, int count)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_chain_t *chain = NULL;

    ck_assert_msg(sacme_chain_parse(unit_pool, data, len, &chain, res) == APR_SUCCESS,
                  "parse: %s", sacme_result_message(res, unit_pool));
    ck_assert_ptr_nonnull(chain);
    ck_assert_int_eq(chain->certs->nelts, count);
    return chain;
}

static void parse_fails(const char *data, apr_size_t len, const char *needle)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_chain_t *chain = NULL;
    const char *msg;

    ck_assert_int_eq(sacme_chain_parse(unit_pool, data, len, &chain, res), APR_EINVAL);
    ck_assert_ptr_null(chain);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
}

static sacme_cert_info_t *info_of(sacme_chain_t *chain, int i)
{
    sacme_cert_info_t *info = NULL;

    ck_assert_int_eq(sacme_cert_info(unit_pool, APR_ARRAY_IDX(chain->certs, i, X509 *),
                                     &info), APR_SUCCESS);
    return info;
}

static sacme_key_t *load_key(const char *name)
{
    apr_size_t len;
    const char *pem = fixture(name, &len);
    sacme_key_t *key = NULL;

    ck_assert_int_eq(sacme_key_from_pem(unit_pool, pem, len, &key, NULL), APR_SUCCESS);
    return key;
}

/* --- parsing ---------------------------------------------------------------- */

START_TEST(test_chain_parse_pem)
{
    apr_size_t len;
    const char *pem = fixture("chain.pem", &len);
    sacme_chain_t *chain = parse_ok(pem, len, 3);

    ck_assert_str_eq(info_of(chain, 0)->subject, LEAF_SUBJECT);
    ck_assert_str_eq(info_of(chain, 1)->subject, INT_SUBJECT);
    ck_assert_str_eq(info_of(chain, 2)->subject, ROOT_SUBJECT);
}
END_TEST

START_TEST(test_chain_parse_der)
{
    apr_size_t len, plen;
    const char *der = fixture("chain.der", &len);
    const char *pem = fixture("chain.pem", &plen);
    sacme_chain_t *dchain = parse_ok(der, len, 3);
    sacme_chain_t *pchain = parse_ok(pem, plen, 3);
    int i;

    for (i = 0; i < 3; ++i) {
        ck_assert_str_eq(info_of(dchain, i)->sha256, info_of(pchain, i)->sha256);
    }
    /* One DER certificate alone, as application/pkix-cert delivers it: its
     * length is in the SEQUENCE header (30 82 hi lo). */
    ck_assert_int_eq((unsigned char)der[0], 0x30);
    ck_assert_int_eq((unsigned char)der[1], 0x82);
    len = 4 + ((apr_size_t)(unsigned char)der[2] << 8) + (unsigned char)der[3];
    ck_assert_str_eq(info_of(parse_ok(der, len, 1), 0)->subject, LEAF_SUBJECT);
}
END_TEST

START_TEST(test_chain_parse_pem_with_text)
{
    const char *pem = apr_pstrcat(unit_pool,
                                  "Certificate for a.example\nsubject=" LEAF_SUBJECT "\n",
                                  fixture("leaf.pem", NULL),
                                  "\n-- issued by --\n\n",
                                  fixture("int.pem", NULL),
                                  "trailing words, no newline", NULL);
    const char *crlf = "", *s;
    sacme_chain_t *chain = parse_ok(pem, strlen(pem), 2);

    ck_assert_str_eq(info_of(chain, 1)->subject, INT_SUBJECT);

    /* Windows line ends, and no newline after the last END line. */
    for (s = fixture("chain.pem", NULL); *s; ++s) {
        crlf = apr_pstrcat(unit_pool, crlf, *s == '\n' ? "\r\n" : apr_pstrndup(unit_pool, s, 1),
                           NULL);
    }
    crlf = apr_pstrndup(unit_pool, crlf, strlen(crlf) - 2);
    parse_ok(crlf, strlen(crlf), 3);
}
END_TEST

/* The driver's checks read only the leaf: the first certificate, from PEM
 * or DER, and never the ones after it; junk is still refused. */
START_TEST(test_chain_parse_leaf)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t len, dlen;
    const char *pem = fixture("chain.pem", &len);
    const char *der = fixture("chain.der", &dlen);
    const char *html = "<html>502</html>";
    sacme_chain_t *chain = NULL;

    ck_assert_int_eq(sacme_chain_parse_leaf(unit_pool, pem, len, &chain, res), APR_SUCCESS);
    ck_assert_int_eq(chain->certs->nelts, 1);
    ck_assert_str_eq(info_of(chain, 0)->subject, LEAF_SUBJECT);
    chain = NULL;
    ck_assert_int_eq(sacme_chain_parse_leaf(unit_pool, der, dlen, &chain, res), APR_SUCCESS);
    ck_assert_int_eq(chain->certs->nelts, 1);
    ck_assert_str_eq(info_of(chain, 0)->subject, LEAF_SUBJECT);
    chain = NULL;
    ck_assert_int_eq(sacme_chain_parse_leaf(unit_pool, html, strlen(html), &chain, res),
                     APR_EINVAL);
    ck_assert_ptr_null(chain);
}
END_TEST

START_TEST(test_chain_parse_junk)
{
    const char *html = "<html><body><h1>502 Bad Gateway</h1></body></html>\n";

    parse_fails(html, strlen(html), "neither PEM nor DER");
    parse_fails("", 0, "empty");
    parse_fails(NULL, 0, "empty");
}
END_TEST

START_TEST(test_chain_parse_truncated_der)
{
    apr_size_t len;
    const char *der = fixture("chain.der", &len);
    char *junk;

    /* The last certificate cut short: the first two parse, the rest must not
     * be silently dropped. */
    parse_fails(der, len - 10, "bytes after certificate 2 are not a certificate");
    parse_fails(der, 100, "neither PEM nor DER");
    /* A stray newline after DER is junk too. */
    junk = apr_palloc(unit_pool, len + 1);
    memcpy(junk, der, len);
    junk[len] = '\n';
    parse_fails(junk, len + 1, "1 bytes after certificate 3");
}
END_TEST

START_TEST(test_chain_parse_corrupt_pem)
{
    const char *leaf = fixture("leaf.pem", NULL);
    char *bad = apr_pstrdup(unit_pool, leaf);
    char *body = bad + strlen("-----BEGIN CERTIFICATE-----\n");
    const char *s;

    /* Valid base64, but the outer SEQUENCE's length no longer fits. */
    memcpy(body + 4, "////", 4);
    s = apr_pstrcat(unit_pool, fixture("root.pem", NULL), bad, NULL);
    parse_fails(s, strlen(s), "PEM certificate 2 does not parse");

    /* Not base64 at all. */
    bad = apr_pstrdup(unit_pool, leaf);
    body = bad + strlen("-----BEGIN CERTIFICATE-----\n");
    memcpy(body + 10, "!!!!", 4);
    parse_fails(bad, strlen(bad), "PEM certificate 1 does not parse");

    /* Cut off before the END line. */
    s = apr_pstrndup(unit_pool, leaf, strlen(leaf) / 2);
    parse_fails(s, strlen(s), "PEM certificate 1 has no END line");
}
END_TEST

START_TEST(test_chain_parse_bound)
{
    const char *leaf = fixture("leaf.pem", NULL);
    const char *ten = "", *eleven;
    int i;

    for (i = 0; i < SACME_MAX_CHAIN; ++i) {
        ten = apr_pstrcat(unit_pool, ten, leaf, NULL);
    }
    parse_ok(ten, strlen(ten), SACME_MAX_CHAIN);
    eleven = apr_pstrcat(unit_pool, ten, leaf, NULL);
    parse_fails(eleven, strlen(eleven), "more than 10 certificates");
}
END_TEST

START_TEST(test_chain_pem_out)
{
    apr_size_t len;
    const char *pem = fixture("chain.pem", &len);
    sacme_chain_t *chain = parse_ok(pem, len, 3);

    ck_assert_str_eq(sacme_chain_pem(chain, unit_pool), pem);
    ck_assert_str_eq(sacme_chain_leaf_pem(chain, unit_pool), fixture("leaf.pem", NULL));
    ck_assert_str_eq(sacme_chain_issuers_pem(chain, unit_pool),
                     fixtures("int.pem", "root.pem", NULL));

    chain = parse_ok(fixture("leaf.pem", NULL), strlen(fixture("leaf.pem", NULL)), 1);
    ck_assert_str_eq(sacme_chain_issuers_pem(chain, unit_pool), "");
}
END_TEST

/* --- checks ----------------------------------------------------------------- */

static const char *check(const char *pem, const char *keyfile,
                         apr_array_header_t *names, apr_time_t now)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_chain_t *chain = NULL;
    apr_status_t rv;

    ck_assert_int_eq(sacme_chain_parse(unit_pool, pem, strlen(pem), &chain, res),
                     APR_SUCCESS);
    rv = sacme_chain_check(chain, load_key(keyfile), names, now, res);
    ck_assert_int_eq(rv == APR_SUCCESS, res->status == APR_SUCCESS);
    return rv == APR_SUCCESS ? NULL : sacme_result_message(res, unit_pool);
}

#define assert_check_ok(pem, key, names, now) do { \
    const char *msg_ = check(pem, key, names, now); \
    ck_assert_msg(msg_ == NULL, "check failed: %s", msg_); \
} while (0)

#define assert_check_fails(pem, key, names, now, want) do { \
    const char *msg_ = check(pem, key, names, now); \
    ck_assert_msg(msg_ != NULL, "check passed, wanted '%s'", want); \
    ck_assert_str_eq(msg_, want); \
} while (0)

START_TEST(test_chain_check_good)
{
    apr_time_t now = apr_time_now();

    assert_check_ok(fixtures("chain.pem", NULL), "leaf.key",
                    unit_names("a.example", "b.example", NULL), now);
    assert_check_ok(fixtures("leaf.pem", "int.pem", NULL), "leaf.key",
                    unit_names("B.Example", NULL), now);
    assert_check_ok(fixtures("leaf.pem", NULL), "leaf.key", unit_names("a.example", NULL), now);
    /* A CA clock a little ahead of ours is no reason to refuse. */
    assert_check_ok(fixtures("leaf.pem", NULL), "leaf.key", unit_names("a.example", NULL),
                    T_2020 - apr_time_from_sec(4 * 60));
}
END_TEST

START_TEST(test_chain_check_wrong_key)
{
    assert_check_fails(fixtures("otherkey-leaf.pem", "int.pem", "root.pem", NULL),
                       "leaf.key", unit_names("a.example", "b.example", NULL),
                       apr_time_now(),
                       "certificate key does not match the private key");
}
END_TEST

START_TEST(test_chain_check_missing_name)
{
    assert_check_fails(fixtures("chain.pem", NULL), "leaf.key",
                       unit_names("a.example", "www.example.com", NULL), apr_time_now(),
                       "certificate does not cover www.example.com "
                       "(SANs: a.example, b.example)");
    /* A name is matched exactly, not by a wildcard, and a wildcard only by
     * the same wildcard. */
    assert_check_ok(fixtures("mixed-leaf.pem", "int.pem", NULL), "leaf.key",
                    unit_names("*.A.example", "192.0.2.1", "2001:DB8:0::1", NULL),
                    apr_time_now());
    assert_check_fails(fixtures("mixed-leaf.pem", NULL), "leaf.key",
                       unit_names("x.a.example", NULL), apr_time_now(),
                       "certificate does not cover x.a.example "
                       "(SANs: *.a.example, 192.0.2.1, 2001:db8::1)");
    assert_check_fails(fixtures("leaf.pem", NULL), "leaf.key",
                       unit_names("*.a.example", NULL), apr_time_now(),
                       "certificate does not cover *.a.example "
                       "(SANs: a.example, b.example)");
    assert_check_fails(fixtures("mixed-leaf.pem", NULL), "leaf.key",
                       unit_names("192.0.2.2", NULL), apr_time_now(),
                       "certificate does not cover 192.0.2.2 "
                       "(SANs: *.a.example, 192.0.2.1, 2001:db8::1)");
}
END_TEST

START_TEST(test_chain_check_expired)
{
    assert_check_fails(fixtures("expired-leaf.pem", "int.pem", NULL), "leaf.key",
                       unit_names("a.example", NULL), apr_time_now(),
                       "certificate expired at 2021-01-01T00:00:00Z");
    /* ... and was fine while it lasted. */
    assert_check_ok(fixtures("expired-leaf.pem", "int.pem", NULL), "leaf.key",
                    unit_names("a.example", NULL), T_2021 - apr_time_from_sec(1));
    assert_check_fails(fixtures("leaf.pem", NULL), "leaf.key",
                       unit_names("a.example", NULL), T_2100,
                       "certificate expired at 2100-01-01T00:00:00Z");
}
END_TEST

START_TEST(test_chain_check_not_yet_valid)
{
    const char *msg = check(fixtures("leaf.pem", NULL), "leaf.key",
                            unit_names("a.example", NULL),
                            T_2020 - apr_time_from_sec(10 * 60));

    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "certificate is not valid before 2020-01-01T00:00:00Z"),
                  "got '%s'", msg);
}
END_TEST

START_TEST(test_chain_check_wrong_issuer)
{
    const char *msg;

    msg = check(fixtures("otherca-leaf.pem", "int.pem", "root.pem", NULL), "leaf.key",
                unit_names("a.example", "b.example", NULL), apr_time_now());
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "chain: certificate 1 (subject " LEAF_SUBJECT ") is not "
                         "issued by certificate 2 (subject " INT_SUBJECT ")") == msg,
                  "got '%s'", msg);

    /* Out of order. */
    msg = check(fixtures("leaf.pem", "root.pem", "int.pem", NULL), "leaf.key",
                unit_names("a.example", NULL), apr_time_now());
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "chain: certificate 1 (subject " LEAF_SUBJECT ") is not "
                         "issued by certificate 2 (subject " ROOT_SUBJECT ")") == msg,
                  "got '%s'", msg);

    /* Further up. */
    msg = check(fixtures("leaf.pem", "int.pem", "otherca.pem", NULL), "leaf.key",
                unit_names("a.example", NULL), apr_time_now());
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "chain: certificate 2 (subject " INT_SUBJECT ") is not "
                         "issued by certificate 3 (subject CN=Sacme Other CA,"
                         "O=mod_sacme tests)") == msg, "got '%s'", msg);

    /* Same issuer name, another key: only the signature tells. */
    assert_check_fails(fixtures("forged-leaf.pem", "int.pem", NULL), "leaf.key",
                       unit_names("a.example", NULL), apr_time_now(),
                       "chain: the signature on certificate 1 (subject " LEAF_SUBJECT
                       ") does not verify with the key of certificate 2 (subject "
                       INT_SUBJECT ")");
}
END_TEST

START_TEST(test_chain_check_bound)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *pem = fixtures("chain.pem", NULL);
    sacme_chain_t *chain = parse_ok(pem, strlen(pem), 3);
    X509 *x;
    int i;

    /* Chains grown along rel="up" links are bounded by the check. */
    for (i = 0; i < SACME_MAX_CHAIN - 2; ++i) {
        x = APR_ARRAY_IDX(chain->certs, 2, X509 *);
        ck_assert_int_eq(X509_up_ref(x), 1);
        sacme_chain_add(chain, x);
    }
    ck_assert_int_eq(chain->certs->nelts, SACME_MAX_CHAIN + 1);
    ck_assert_int_eq(sacme_chain_check(chain, load_key("leaf.key"),
                                       unit_names("a.example", NULL), apr_time_now(), res),
                     APR_EINVAL);
    ck_assert_str_eq(res->detail, "certificate chain has 11 certificates, more than "
                     "the 10 allowed");
}
END_TEST

/* --- info ------------------------------------------------------------------- */

/* The value of "key=value" in leaf.info, as openssl printed it. */
static const char *info_line(const char *info, const char *key)
{
    const char *s = strstr(info, apr_pstrcat(unit_pool, key, "=", NULL));
    const char *e;

    ck_assert_msg(s != NULL, "leaf.info has no %s", key);
    s += strlen(key) + 1;
    e = strchr(s, '\n');
    return apr_pstrndup(unit_pool, s, e ? (apr_size_t)(e - s) : strlen(s));
}

START_TEST(test_chain_info)
{
    const char *openssl = fixture("leaf.info", NULL);
    const char *pem = fixtures("leaf.pem", NULL);
    sacme_cert_info_t *info = info_of(parse_ok(pem, strlen(pem), 1), 0);
    char *fp = apr_pstrdup(unit_pool, info_line(openssl, "sha256 Fingerprint"));
    char *o = fp, *s;

    /* openssl prints AB:CD:..., we print abcd... */
    for (s = fp; *s; ++s) {
        if (*s != ':') {
            *o++ = (char)tolower((unsigned char)*s);
        }
    }
    *o = '\0';

    ck_assert_str_eq(info->subject, info_line(openssl, "subject"));
    ck_assert_str_eq(info->subject, LEAF_SUBJECT);
    ck_assert_str_eq(info->issuer, info_line(openssl, "issuer"));
    ck_assert_str_eq(info->serial, info_line(openssl, "serial"));
    ck_assert_str_eq(info->sha256, fp);
    ck_assert_uint_eq(strlen(info->sha256), 64);
    ck_assert_int_eq(info->sans->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 0, const char *), "a.example");
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 1, const char *), "b.example");
    ck_assert_str_eq(info_line(openssl, "notBefore"), "Jan  1 00:00:00 2020 GMT");
    ck_assert_str_eq(info_line(openssl, "notAfter"), "Jan  1 00:00:00 2100 GMT");
    ck_assert(info->not_before == T_2020);
    ck_assert(info->not_after == T_2100);

    pem = fixtures("mixed-leaf.pem", NULL);
    info = info_of(parse_ok(pem, strlen(pem), 1), 0);
    ck_assert_int_eq(info->sans->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 0, const char *), "*.a.example");
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 1, const char *), "192.0.2.1");
    ck_assert_str_eq(APR_ARRAY_IDX(info->sans, 2, const char *), "2001:db8::1");

    pem = fixtures("expired-leaf.pem", NULL);
    info = info_of(parse_ok(pem, strlen(pem), 1), 0);
    ck_assert(info->not_after == T_2021);
}
END_TEST

Suite *unit_suite_chain(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_chain_parse_pem);
    tcase_add_test(tc, test_chain_parse_der);
    tcase_add_test(tc, test_chain_parse_pem_with_text);
    tcase_add_test(tc, test_chain_parse_leaf);
    tcase_add_test(tc, test_chain_parse_junk);
    tcase_add_test(tc, test_chain_parse_truncated_der);
    tcase_add_test(tc, test_chain_parse_corrupt_pem);
    tcase_add_test(tc, test_chain_parse_bound);
    tcase_add_test(tc, test_chain_pem_out);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_chain_check_good);
    tcase_add_test(tc, test_chain_check_wrong_key);
    tcase_add_test(tc, test_chain_check_missing_name);
    tcase_add_test(tc, test_chain_check_expired);
    tcase_add_test(tc, test_chain_check_not_yet_valid);
    tcase_add_test(tc, test_chain_check_wrong_issuer);
    tcase_add_test(tc, test_chain_check_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("info");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_chain_info);
    suite_add_tcase(s, tc);
    return s;
}
