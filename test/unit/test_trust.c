/* Unit tests: sacme_trust, against the certificates in test/fixtures/chain
 * (valid 2020-01-01 .. 2100-01-01, see make-fixtures.sh: leaf <- int <-
 * root, and otherca-leaf <- otherca) and certificates made here. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_thread_proc.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_trust.h"

#define DAY    apr_time_from_sec(86400)
#define T_2020 apr_time_from_sec(1577836800)   /* 2020-01-01T00:00:00Z */
#define T_2021 apr_time_from_sec(1609459200)   /* 2021-01-01T00:00:00Z */
#define T_2100 apr_time_from_sec(4102444800)   /* 2100-01-01T00:00:00Z */
#define NOW    (T_2020 + 100 * DAY)            /* every fixture is valid */

#define HINT "add the CA's root certificate to SacmeTrustedRoots"

/* The concatenation of fixture files of test/fixtures/chain, NULL-terminated. */
static const char *fixtures(const char *first, ...)
{
    const char *s = "", *name;
    va_list ap;

    va_start(ap, first);
    for (name = first; name; name = va_arg(ap, const char *)) {
        s = apr_pstrcat(unit_pool, s,
                        unit_fixture_read(apr_pstrcat(unit_pool, "chain/", name, NULL),
                                          NULL), NULL);
    }
    va_end(ap);
    return s;
}

static sacme_chain_t *chain_of(const char *pem)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_chain_t *chain = NULL;

    ck_assert_msg(sacme_chain_parse(unit_pool, pem, strlen(pem), &chain, res) == APR_SUCCESS,
                  "parse: %s", sacme_result_message(res, unit_pool));
    return chain;
}

static sacme_trust_t *trust_of(const char *pem, int flags)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_trust_t *trust = NULL;

    ck_assert_msg(sacme_trust_make(unit_pool, pem, pem ? strlen(pem) : 0, "roots.pem",
                                   flags, &trust, res) == APR_SUCCESS,
                  "make: %s", sacme_result_message(res, unit_pool));
    ck_assert_ptr_nonnull(trust);
    return trust;
}

static void verify_ok(const sacme_trust_t *trust, const sacme_chain_t *chain, apr_time_t now)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_msg(sacme_trust_verify(trust, chain, now, res) == APR_SUCCESS,
                  "verify: %s", sacme_result_message(res, unit_pool));
}

/* Refused with SACME_EUNTRUSTED; the message holds every needle given
 * (NULL-terminated) and the hint only when hint is set. Returns it. */
static const char *verify_fails(const sacme_trust_t *trust, const sacme_chain_t *chain,
                                apr_time_t now, int hint, ...)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *msg, *needle;
    va_list ap;

    ck_assert_int_eq(sacme_trust_verify(trust, chain, now, res), SACME_EUNTRUSTED);
    ck_assert_int_eq(res->status, SACME_EUNTRUSTED);
    msg = sacme_result_message(res, unit_pool);
    va_start(ap, hint);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    }
    va_end(ap);
    ck_assert_msg(hint ? strstr(msg, HINT) != NULL : strstr(msg, HINT) == NULL,
                  "message '%s' %s the hint", msg, hint ? "lacks" : "has");
    return msg;
}

static void make_fails(const char *pem, apr_size_t len, const char *needle)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_trust_t *trust = NULL;
    const char *msg;

    ck_assert_int_eq(sacme_trust_make(unit_pool, pem, len, "/etc/roots.pem",
                                      SACME_TRUST_SYSTEM, &trust, res), SACME_ECONFIG);
    ck_assert_ptr_null(trust);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    ck_assert_msg(strstr(msg, "/etc/roots.pem") != NULL, "message '%s' lacks the file", msg);
}

/* --- anchors ------------------------------------------------------------------ */

START_TEST(test_trust_root_in_file)
{
    sacme_trust_t *trust = trust_of(fixtures("root.pem", NULL), 0);

    ck_assert_int_eq(sacme_trust_count(trust), 1);
    /* as a CA sends it: with or without the root */
    verify_ok(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW);
    verify_ok(trust, chain_of(fixtures("chain.pem", NULL)), NOW);
    /* with the system's certificates as well */
    trust = trust_of(fixtures("root.pem", NULL), SACME_TRUST_SYSTEM);
    ck_assert_int_eq(sacme_trust_count(trust), 1);
    verify_ok(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW);
}
END_TEST

START_TEST(test_trust_bundle_with_text)
{
    /* a bundle: comments and several roots */
    const char *pem = apr_pstrcat(unit_pool, "# private CAs\n", fixtures("root.pem", NULL),
                                  "\nsubject=CN=Sacme Other CA\n",
                                  fixtures("otherca.pem", "root.pem", NULL), "# end\n",
                                  NULL);
    sacme_trust_t *trust = trust_of(pem, 0);

    ck_assert_int_eq(sacme_trust_count(trust), 3);
    verify_ok(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW);
    verify_ok(trust, chain_of(fixtures("otherca-leaf.pem", NULL)), NOW);
}
END_TEST

START_TEST(test_trust_intermediate_as_anchor)
{
    /* the admin names the issuing CA only: its root is known nowhere */
    sacme_trust_t *trust = trust_of(fixtures("int.pem", NULL), SACME_TRUST_SYSTEM);

    verify_ok(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW);
    verify_ok(trust, chain_of(fixtures("leaf.pem", NULL)), NOW);
    /* the root the CA sends along changes nothing */
    verify_ok(trust, chain_of(fixtures("chain.pem", NULL)), NOW);
}
END_TEST

/* --- refusals ----------------------------------------------------------------- */

START_TEST(test_trust_self_signed_leaf)
{
    /* what code running as the httpd User can make: a pair of its own */
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_chain_t *chain = apr_pcalloc(unit_pool, sizeof(*chain));
    apr_time_t now = apr_time_now();

    chain->certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain->certs, X509 *) =
        unit_cert_issue(key, "a.example", unit_names("a.example", NULL), now - DAY,
                        now + 30 * DAY, NULL, NULL, 0);
    verify_fails(trust_of(fixtures("root.pem", NULL), SACME_TRUST_SYSTEM), chain, now, 0,
                 "does not reach a trusted root", "self-signed", "depth 0",
                 "CN=a.example", NULL);
    verify_fails(trust_of(NULL, SACME_TRUST_SYSTEM), chain, now, 0, "self-signed", NULL);
}
END_TEST

START_TEST(test_trust_unknown_root)
{
    sacme_trust_t *trust = trust_of(fixtures("root.pem", NULL), SACME_TRUST_SYSTEM);
    sacme_trust_t *system = trust_of(NULL, SACME_TRUST_SYSTEM);

    /* another CA's chain, its root sent along or not */
    verify_fails(trust, chain_of(fixtures("otherca-leaf.pem", "otherca.pem", NULL)), NOW, 1,
                 "self-signed certificate in certificate chain", "depth 1",
                 "CN=Sacme Other CA", "the system's CA certificates and the 1 of roots.pem",
                 NULL);
    verify_fails(trust, chain_of(fixtures("otherca-leaf.pem", NULL)), NOW, 1,
                 "unable to get local issuer certificate", "depth 0", NULL);
    /* a private CA without SacmeTrustedRoots */
    ck_assert_int_eq(sacme_trust_count(system), 0);
    verify_fails(system, chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW, 1,
                 "unable to get local issuer certificate", "depth 1",
                 "no SacmeTrustedRoots", NULL);
}
END_TEST

START_TEST(test_trust_forged_issuer)
{
    /* the issuer's name is right, its key is not */
    verify_fails(trust_of(fixtures("root.pem", NULL), 0),
                 chain_of(fixtures("forged-leaf.pem", "int.pem", NULL)), NOW, 0,
                 "signature", "depth 0", NULL);
}
END_TEST

START_TEST(test_trust_expired)
{
    sacme_trust_t *trust = trust_of(fixtures("root.pem", NULL), SACME_TRUST_SYSTEM);

    verify_fails(trust, chain_of(fixtures("expired-leaf.pem", "int.pem", NULL)),
                 T_2021 + DAY, 0, "expired", "depth 0", NULL);
    /* the whole chain, past its end */
    verify_fails(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), T_2100 + DAY, 0,
                 "expired", NULL);
    /* and before its start, beyond the clock skew allowed */
    verify_fails(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)), T_2020 - DAY, 0,
                 "not yet valid", NULL);
}
END_TEST

START_TEST(test_trust_clock_skew)
{
    /* a certificate issued a moment ago by a CA whose clock is ahead */
    sacme_trust_t *trust = trust_of(fixtures("root.pem", NULL), 0);

    verify_ok(trust, chain_of(fixtures("leaf.pem", "int.pem", NULL)),
              T_2020 - apr_time_from_sec(60));
}
END_TEST

/* A leaf for key issued by a CA made here, with an extendedKeyUsage of
 * eku_nid unless 0; *ca_pem is the CA as PEM. */
static sacme_chain_t *runtime_chain(int eku_nid, const char **ca_pem)
{
    sacme_key_t *ca_key = unit_key(SACME_KEY_P256), *key = unit_key(SACME_KEY_P256);
    apr_time_t now = apr_time_now();
    X509 *ca = unit_cert_issue(ca_key, "Runtime CA", NULL, now - DAY, now + 90 * DAY, NULL,
                               NULL, 1);
    X509 *leaf = unit_cert_issue(key, "a.example", unit_names("a.example", NULL), now - DAY,
                                 now + 30 * DAY, ca_key, ca, 0);
    sacme_chain_t *chain = apr_pcalloc(unit_pool, sizeof(*chain));

    if (eku_nid) {
        EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
        sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(eku_nid));
        ck_assert_int_eq(X509_add1_ext_i2d(leaf, NID_ext_key_usage, eku, 0, 0), 1);
        sk_ASN1_OBJECT_free(eku);
        ck_assert_int_gt(X509_sign(leaf, sacme_key_evp(ca_key), EVP_sha256()), 0);
    }
    chain->certs = apr_array_make(unit_pool, 2, sizeof(X509 *));
    APR_ARRAY_PUSH(chain->certs, X509 *) = ca;
    *ca_pem = sacme_chain_pem(chain, unit_pool);
    chain->certs->nelts = 0;
    APR_ARRAY_PUSH(chain->certs, X509 *) = leaf;
    APR_ARRAY_PUSH(chain->certs, X509 *) = ca;
    return chain;
}

START_TEST(test_trust_purpose_tls_server)
{
    const char *ca_pem;
    sacme_chain_t *chain;

    chain = runtime_chain(0, &ca_pem);
    verify_ok(trust_of(ca_pem, 0), chain, apr_time_now());
    chain = runtime_chain(NID_server_auth, &ca_pem);
    verify_ok(trust_of(ca_pem, 0), chain, apr_time_now());
    /* a client certificate is no server's */
    chain = runtime_chain(NID_client_auth, &ca_pem);
    verify_fails(trust_of(ca_pem, 0), chain, apr_time_now(), 0, "purpose", NULL);
}
END_TEST

START_TEST(test_trust_none_given)
{
    /* there is no unchecked activation */
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_trust_verify(NULL, chain_of(fixtures("chain.pem", NULL)), NOW,
                                        res), SACME_EUNTRUSTED);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), "no trust anchors"));
    ck_assert_int_eq(sacme_trust_verify(trust_of(fixtures("root.pem", NULL), 0), NULL, NOW,
                                        res), APR_EINVAL);
}
END_TEST

START_TEST(test_trust_system_locations)
{
    /* SSL_CERT_FILE/SSL_CERT_DIR stand in for the system's bundle: a chain
     * to the fixtures' root passes with no file of the admin's */
    const char *empty = unit_tmpdir();

    setenv("SSL_CERT_FILE", unit_fixture("chain/root.pem"), 1);
    setenv("SSL_CERT_DIR", empty, 1);
    verify_ok(trust_of(NULL, SACME_TRUST_SYSTEM),
              chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW);
    verify_fails(trust_of(NULL, 0), chain_of(fixtures("leaf.pem", "int.pem", NULL)), NOW,
                 1, "trusted are none", NULL);
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
}
END_TEST

/* --- the admin's file ---------------------------------------------------------- */

START_TEST(test_trust_garbage_refused)
{
    const char *root = fixtures("root.pem", NULL);
    const char *key = fixtures("leaf.key", NULL);
    char *bad = apr_pstrdup(unit_pool, root), *body, *big;
    const char *both;

    make_fails("this is not a certificate\n", 26, "holds no PEM certificate");
    make_fails("", 0, "holds no PEM certificate");
    /* a key where a certificate belongs */
    make_fails(key, strlen(key), "PEM block 1 is a PRIVATE KEY, not a CERTIFICATE");
    /* not base64 */
    body = bad + strlen("-----BEGIN CERTIFICATE-----\n");
    body[10] = '*';
    body[11] = '!';
    make_fails(bad, strlen(bad), "PEM block 1 is broken");
    /* a block without its END line, after a good one */
    both = apr_pstrcat(unit_pool, root, apr_pstrndup(unit_pool, root, strlen(root) - 30),
                       NULL);
    make_fails(both, strlen(both), "PEM block 2 is broken");
    /* base64 of something that is no certificate */
    both = "-----BEGIN CERTIFICATE-----\nMIIBCgKCAQEAwzU=\n-----END CERTIFICATE-----\n";
    make_fails(both, strlen(both), "certificate 1 does not parse");
    /* the bound */
    big = apr_pcalloc(unit_pool, SACME_MAX_RESPONSE + 2);
    memset(big, ' ', SACME_MAX_RESPONSE + 1);
    memcpy(big, root, strlen(root));
    make_fails(big, SACME_MAX_RESPONSE + 1, "more than");
}
END_TEST

/* --- threads -------------------------------------------------------------------- */

typedef struct {
    const sacme_trust_t *trust;
    const sacme_chain_t *good, *bad;
    int failures;
} verifier_t;

static void *APR_THREAD_FUNC verifier(apr_thread_t *thread, void *data)
{
    verifier_t *v = data;
    apr_pool_t *p;
    int i;

    (void)thread;
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 200; ++i) {
        sacme_result_t *res = sacme_result_make(p);
        if (sacme_trust_verify(v->trust, v->good, NOW, res) != APR_SUCCESS
            || sacme_trust_verify(v->trust, v->bad, NOW, res) != SACME_EUNTRUSTED
            || !strstr(sacme_result_message(res, p), HINT)) {
            ++v->failures;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(test_trust_threads)
{
    /* one trust for every worker of the driver; the unknown issuer is
     * looked up in the system's hashed directory while others verify */
    sacme_trust_t *trust = trust_of(fixtures("root.pem", NULL), SACME_TRUST_SYSTEM);
    sacme_chain_t *good = chain_of(fixtures("leaf.pem", "int.pem", NULL));
    sacme_chain_t *bad = chain_of(fixtures("otherca-leaf.pem", NULL));
    apr_thread_t *threads[4];
    verifier_t v[4];
    apr_status_t trv;
    int i;

    for (i = 0; i < 4; ++i) {
        v[i].trust = trust;
        v[i].good = good;
        v[i].bad = bad;
        v[i].failures = 0;
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, verifier, &v[i], unit_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 4; ++i) {
        apr_thread_join(&trv, threads[i]);
        ck_assert_int_eq(v[i].failures, 0);
    }
}
END_TEST

Suite *unit_suite_trust(void)
{
    Suite *s = suite_create("trust");
    TCase *tc = tcase_create("verify");

    /* four threads verifying 1600 chains against the system store: seconds
     * under ASan on a loaded machine, past check's default of 4 s */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_trust_root_in_file);
    tcase_add_test(tc, test_trust_bundle_with_text);
    tcase_add_test(tc, test_trust_intermediate_as_anchor);
    tcase_add_test(tc, test_trust_self_signed_leaf);
    tcase_add_test(tc, test_trust_unknown_root);
    tcase_add_test(tc, test_trust_forged_issuer);
    tcase_add_test(tc, test_trust_expired);
    tcase_add_test(tc, test_trust_clock_skew);
    tcase_add_test(tc, test_trust_purpose_tls_server);
    tcase_add_test(tc, test_trust_none_given);
    tcase_add_test(tc, test_trust_system_locations);
    tcase_add_test(tc, test_trust_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("anchors");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_trust_garbage_refused);
    suite_add_tcase(s, tc);
    return s;
}
