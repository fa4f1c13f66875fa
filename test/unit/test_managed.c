/* Unit tests: managed.json (what the running configuration manages, for
 * sacmectl) and admin requests (sacmectl -> driver). */
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_managed.h"
#include "sacme_request.h"

static sacme_store_t *new_store(void)
{
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));
    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    return store;
}

static sacme_domain_t *domain(const char *name, const char *alias, sacme_key_type_t type)
{
    sacme_domain_t *dom = apr_pcalloc(unit_pool, sizeof(*dom));

    dom->name = name;
    dom->names = unit_names(name, alias, NULL);
    dom->key_type = type;
    dom->renew_window.duration = apr_time_from_sec(30 * 86400);
    return dom;
}

static apr_time_t mtime(const char *path)
{
    apr_finfo_t fi;

    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_MTIME, unit_pool), APR_SUCCESS);
    return fi.mtime;
}

/* Written by the parent, read back by sacmectl: domains, their key types
 * (a dual-key unit linked to its domain), windows, challenge; no secret. */
START_TEST(test_managed_round_trip)
{
    sacme_store_t *store = new_store();
    sacme_managed_t m, *back;
    sacme_ca_t *ca;
    sacme_domain_t *a = domain("a.example", "www.a.example", SACME_KEY_RSA2048);
    sacme_domain_t *b = domain("b.example", "api.b.example", SACME_KEY_P384), *got;
    const char *path = sacme_store_path(store, unit_pool, SACME_FILE_MANAGED, NULL, NULL);
    sacme_warn_t none = { 0, { 0 } }, two;
    static const char *const two_args[] = { "7d", "21d" };
    const char *why;

    b->challenge_none = 1;
    a->profile = "shortlived";        /* b asks for none */
    /* a's alerts are its set's, b has none; the unit of a's second type
     * (added below) carries a's */
    ck_assert_int_eq(sacme_warn_parse(2, two_args, &two, unit_pool, &why), APR_SUCCESS);
    a->warn = &two;
    b->warn = &none;
    memset(&m, 0, sizeof(m));
    /* a from the first CA; b from the second, failing over to the first */
    m.cas = apr_array_make(unit_pool, 2, sizeof(sacme_ca_t *));
    APR_ARRAY_PUSH(m.cas, sacme_ca_t *) = sacme_ca_make(unit_pool, "https://ca.example/dir",
                                                        sacme_eab_kid_only(unit_pool, "kid-7"));
    APR_ARRAY_PUSH(m.cas, sacme_ca_t *) = sacme_ca_make(unit_pool, "https://two.example/dir",
                                                        NULL);
    a->cas = apr_array_make(unit_pool, 1, sizeof(sacme_ca_t *));
    APR_ARRAY_PUSH(a->cas, sacme_ca_t *) = APR_ARRAY_IDX(m.cas, 0, sacme_ca_t *);
    b->cas = apr_array_make(unit_pool, 2, sizeof(sacme_ca_t *));
    APR_ARRAY_PUSH(b->cas, sacme_ca_t *) = APR_ARRAY_IDX(m.cas, 1, sacme_ca_t *);
    APR_ARRAY_PUSH(b->cas, sacme_ca_t *) = APR_ARRAY_IDX(m.cas, 0, sacme_ca_t *);
    b->failover = 4;
    b->ari_off = 1;
    m.proxy_url = "http://proxy.example:3128";
    m.proxy_auth_file = "/etc/apache2/sacme-proxy.auth";
    m.domains = apr_array_make(unit_pool, 3, sizeof(sacme_domain_t *));
    APR_ARRAY_PUSH(m.domains, sacme_domain_t *) = a;
    APR_ARRAY_PUSH(m.domains, sacme_domain_t *) = b;
    APR_ARRAY_PUSH(m.domains, sacme_domain_t *) = sacme_domain_add_key(unit_pool, a,
                                                                       SACME_KEY_P256);
    ck_assert_int_eq(sacme_managed_write(store, unit_pool, &m, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_managed_read(store, unit_pool, &back, NULL), APR_SUCCESS);

    ck_assert_int_eq(back->cas->nelts, 2);
    ca = APR_ARRAY_IDX(back->cas, 0, sacme_ca_t *);
    ck_assert_str_eq(ca->url, "https://ca.example/dir");
    ck_assert_str_eq(ca->eab->kid, "kid-7");
    ck_assert_ptr_null(ca->eab->hmac);
    ck_assert_str_eq(APR_ARRAY_IDX(back->cas, 1, sacme_ca_t *)->url,
                     "https://two.example/dir");
    ck_assert_ptr_null(APR_ARRAY_IDX(back->cas, 1, sacme_ca_t *)->eab);
    ck_assert_ptr_nonnull(strstr(unit_read_text(path), sacme_store_account_path(
        store, unit_pool, "https://ca.example/dir", "kid-7")));
    ck_assert_ptr_null(back->ca_file);
    ck_assert_str_eq(back->proxy_url, m.proxy_url);
    ck_assert_str_eq(back->proxy_auth_file, m.proxy_auth_file);
    ck_assert_int_eq(back->domains->nelts, 3);
    got = sacme_managed_find(back, "WWW.A.example");
    ck_assert_ptr_nonnull(got);
    /* the store's jitter seed, so sacmectl's renew-at is the driver's */
    ck_assert(got->jitter_seed != 0);
    ck_assert(got->jitter_seed == sacme_store_jitter_seed(store, unit_pool));
    /* the same account is one object, shared */
    ck_assert_int_eq(got->cas->nelts, 1);
    ck_assert_ptr_eq(APR_ARRAY_IDX(got->cas, 0, sacme_ca_t *), ca);
    ck_assert_ptr_eq(APR_ARRAY_IDX(got->next_key->cas, 0, sacme_ca_t *), ca);
    ck_assert_int_eq(got->ari_off, 0);
    ck_assert_str_eq(got->name, "a.example");
    ck_assert_int_eq(got->key_type, SACME_KEY_RSA2048);
    ck_assert_int_eq(got->renew_window.duration, apr_time_from_sec(30 * 86400));
    ck_assert_str_eq(got->profile, "shortlived");
    ck_assert_ptr_nonnull(got->next_key);
    ck_assert_str_eq(got->next_key->profile, "shortlived");
    ck_assert_str_eq(got->next_key->name, "a.example+p256");
    ck_assert_int_eq(got->next_key->key_type, SACME_KEY_P256);
    ck_assert_str_eq(sacme_warn_list(unit_pool, got->warn), "21d 7d");
    ck_assert_str_eq(sacme_warn_list(unit_pool, got->next_key->warn), "21d 7d");
    ck_assert_ptr_eq(got->next_key->primary, got);
    got = sacme_managed_find(back, "api.b.example");
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->challenge_none, 1);
    ck_assert_ptr_null(got->profile);
    ck_assert_int_eq(got->cas->nelts, 2);
    ck_assert_ptr_eq(APR_ARRAY_IDX(got->cas, 0, sacme_ca_t *),
                     APR_ARRAY_IDX(back->cas, 1, sacme_ca_t *));
    ck_assert_ptr_eq(APR_ARRAY_IDX(got->cas, 1, sacme_ca_t *), ca);
    ck_assert_int_eq(got->failover, 4);
    ck_assert_int_eq(got->ari_off, 1);
    ck_assert_ptr_nonnull(got->warn);
    ck_assert_int_eq(got->warn->n, 0);
    ck_assert_ptr_null(got->next_key);
    ck_assert_ptr_null(sacme_managed_find(back, "c.example"));
    ck_assert_ptr_null(sacme_managed_find(back, "a.example+p256"));
    ck_assert_msg(!strstr(unit_read_text(path), "hmac"), "managed.json mentions an HMAC");
}
END_TEST

/* The same content again is not rewritten (no durable write at every
 * restart); a change is. */
START_TEST(test_managed_unchanged_not_rewritten)
{
    sacme_store_t *store = new_store();
    sacme_managed_t m;
    const char *path = sacme_store_path(store, unit_pool, SACME_FILE_MANAGED, NULL, NULL);
    apr_time_t first;

    memset(&m, 0, sizeof(m));
    m.cas = apr_array_make(unit_pool, 1, sizeof(sacme_ca_t *));
    APR_ARRAY_PUSH(m.cas, sacme_ca_t *) = sacme_ca_make(unit_pool, "https://ca.example/dir",
                                                        NULL);
    m.domains = apr_array_make(unit_pool, 1, sizeof(sacme_domain_t *));
    APR_ARRAY_PUSH(m.domains, sacme_domain_t *) = domain("a.example", "b.example",
                                                         SACME_KEY_P256);
    ck_assert_int_eq(sacme_managed_write(store, unit_pool, &m, NULL), APR_SUCCESS);
    /* an old time, so a rewrite would show */
    ck_assert_int_eq(apr_file_mtime_set(path, apr_time_from_sec(1000000), unit_pool),
                     APR_SUCCESS);
    first = mtime(path);
    ck_assert_int_eq(sacme_managed_write(store, unit_pool, &m, NULL), APR_SUCCESS);
    ck_assert_int_eq(mtime(path), first);
    APR_ARRAY_IDX(m.cas, 0, sacme_ca_t *)->url = "https://other.example/dir";
    ck_assert_int_eq(sacme_managed_write(store, unit_pool, &m, NULL), APR_SUCCESS);
    ck_assert_int_ne(mtime(path), first);
}
END_TEST

/* A file from before several CAs: its one server and key id are the CA of
 * every domain (sacmectl keeps working across the upgrade). */
START_TEST(test_managed_single_server_file)
{
    sacme_store_t *store = new_store();
    sacme_managed_t *back;
    sacme_domain_t *got;
    json_t *j = json_pack("{s:s, s:s, s:[{s:s, s:[s], s:s}]}",
                          "server", "https://old.example/dir", "eab-kid", "kid-1",
                          "domains", "name", "a.example", "names", "a.example",
                          "key-type", "p256");

    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_MANAGED, NULL, j,
                                            NULL), APR_SUCCESS);
    json_decref(j);
    ck_assert_int_eq(sacme_managed_read(store, unit_pool, &back, NULL), APR_SUCCESS);
    ck_assert_int_eq(back->cas->nelts, 1);
    got = sacme_managed_find(back, "a.example");
    ck_assert_int_eq(got->cas->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(got->cas, 0, sacme_ca_t *)->url, "https://old.example/dir");
    ck_assert_str_eq(APR_ARRAY_IDX(got->cas, 0, sacme_ca_t *)->eab->kid, "kid-1");
}
END_TEST

/* Failover: the first CA until `failover` attempts in a row failed there,
 * then the next, and round again; a refusal jumps to the next boundary. */
START_TEST(test_ca_pick)
{
    ck_assert_int_eq(sacme_ca_pick(1, 50, 13), 0);
    ck_assert_int_eq(sacme_ca_pick(2, 0, 13), 0);
    ck_assert_int_eq(sacme_ca_pick(2, 12, 13), 0);
    ck_assert_int_eq(sacme_ca_pick(2, 13, 13), 1);
    ck_assert_int_eq(sacme_ca_pick(2, 25, 13), 1);
    ck_assert_int_eq(sacme_ca_pick(2, 26, 13), 0);
    ck_assert_int_eq(sacme_ca_pick(3, 4, 2), 2);
    ck_assert_int_eq(sacme_ca_pick(3, 6, 2), 0);
    ck_assert_int_eq(sacme_ca_pick(2, 5, 0), 0);
    ck_assert_int_eq(sacme_ca_next_boundary(0, 13), 13);
    ck_assert_int_eq(sacme_ca_next_boundary(12, 13), 13);
    ck_assert_int_eq(sacme_ca_next_boundary(13, 13), 26);
    ck_assert_str_eq(sacme_ca_account_id(unit_pool, "https://a/dir", NULL), "https://a/dir\n");
    ck_assert_str_ne(sacme_ca_account_id(unit_pool, "https://a/dir", "k1"),
                     sacme_ca_account_id(unit_pool, "https://a/dir", "k2"));
}
END_TEST

START_TEST(test_managed_missing_says_what_to_do)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_managed_t *m;

    ck_assert_int_eq(sacme_managed_read(store, unit_pool, &m, res), APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), "SacmeStoreDir"));
}
END_TEST

/* A request is written, found, noticed through the directory's time, and
 * removed when done. */
START_TEST(test_request_life)
{
    sacme_store_t *store = new_store();
    apr_time_t before = sacme_request_stamp(store, unit_pool);
    json_t *req;

    ck_assert_ptr_null(sacme_request_get(store, unit_pool, "a.example"));
    /* the directory's time must move even within the same second */
    ck_assert_int_eq(apr_file_mtime_set(sacme_store_path(store, unit_pool,
                                                         SACME_GROUP_REQUESTS, NULL, NULL),
                                        apr_time_from_sec(1000000), unit_pool),
                     APR_SUCCESS);
    before = sacme_request_stamp(store, unit_pool);
    ck_assert_int_eq(sacme_request_renew(store, unit_pool, "a.example", "revoked",
                                         "keyCompromise", NULL), APR_SUCCESS);
    ck_assert_int_ne(sacme_request_stamp(store, unit_pool), before);
    req = sacme_request_get(store, unit_pool, "a.example");
    ck_assert_ptr_nonnull(req);
    ck_assert_str_eq(sacme_json_str(req, "action"), "renew");
    ck_assert_str_eq(sacme_json_str(req, "reason"), "revoked");
    ck_assert_str_eq(sacme_json_str(req, "revocation-reason"), "keyCompromise");
    ck_assert_ptr_nonnull(sacme_json_str(req, "requested"));
    ck_assert_ptr_null(sacme_request_get(store, unit_pool, "b.example"));
    ck_assert_int_eq(sacme_request_done(store, unit_pool, "a.example"), APR_SUCCESS);
    ck_assert_ptr_null(sacme_request_get(store, unit_pool, "a.example"));
    ck_assert_int_eq(sacme_request_done(store, unit_pool, "a.example"), APR_SUCCESS);
}
END_TEST

Suite *unit_suite_managed(void)
{
    Suite *s = suite_create("managed");
    TCase *tc = tcase_create("managed");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_managed_round_trip);
    tcase_add_test(tc, test_managed_unchanged_not_rewritten);
    tcase_add_test(tc, test_managed_missing_says_what_to_do);
    tcase_add_test(tc, test_managed_single_server_file);
    tcase_add_test(tc, test_ca_pick);
    tcase_add_test(tc, test_request_life);
    suite_add_tcase(s, tc);
    return s;
}
