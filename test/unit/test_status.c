/* Unit tests: sacme_status. Stores are built here by hand, the way the
 * driver and the parent leave them (live set, staged set, order.json,
 * job.json, a request), and the model is read at fixed times. */
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_request.h"
#include "sacme_status.h"
#include "sacme_time.h"

#define DAY apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)
#define NAME "status.example.org"
#define ORDER_URL "https://ca.test/my-order/abc123"

/* now, whole seconds (certificates have no finer times) */
static apr_time_t t0(void)
{
    return apr_time_from_sec(apr_time_sec(apr_time_now()));
}

static sacme_store_t *new_store(void)
{
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));
    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    return store;
}

/* NAME with two names, P-256, renewal when a third of the lifetime is left */
static sacme_domain_t *new_domain(const char *name)
{
    sacme_domain_t *dom = apr_pcalloc(unit_pool, sizeof(*dom));

    dom->name = name;
    dom->names = unit_names(name, apr_pstrcat(unit_pool, "www.", name, NULL), NULL);
    dom->key_type = SACME_KEY_P256;
    dom->renew_window.percent = 33;
    return dom;
}

static const char *in_store(const sacme_store_t *store, const char *group,
                            const char *name, const char *file)
{
    const char *dir = sacme_store_path(store, unit_pool, group, name, NULL);

    ck_assert_int_eq(sacme_file_mkdirs(dir, SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    return apr_pstrcat(unit_pool, dir, "/", file, NULL);
}

/* A certificate set in group/name (the key too: a set is both files);
 * returns what sacme_cert_info says of the leaf written. */
static sacme_cert_info_t *put_set(const sacme_store_t *store, const char *group,
                                  const char *name, sacme_key_type_t type,
                                  const apr_array_header_t *names, apr_time_t nb,
                                  apr_time_t na)
{
    sacme_key_t *key = unit_key(type);
    sacme_chain_t chain;
    sacme_cert_info_t *info;
    X509 *leaf = unit_cert_issue(key, APR_ARRAY_IDX(names, 0, const char *), names, nb, na,
                                 NULL, NULL, 0);

    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = leaf;
    unit_write_text(in_store(store, group, name, SACME_FILE_CHAIN),
                    sacme_chain_pem(&chain, unit_pool), SACME_FPROT_PUBLIC);
    ck_assert_int_eq(sacme_key_save(key, in_store(store, group, name, SACME_FILE_KEY),
                                    unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_cert_info(unit_pool, leaf, &info), APR_SUCCESS);
    return info;
}

static void put_json(const sacme_store_t *store, const char *name, const char *file,
                     const char *text)
{
    unit_write_text(in_store(store, SACME_GROUP_STAGING, name, file), text,
                    SACME_FPROT_PUBLIC);
}

static const char *s(const json_t *obj, const char *key)
{
    return sacme_json_str(obj, key);
}

static void assert_null(const json_t *obj, const char *key)
{
    ck_assert_msg(json_is_null(json_object_get(obj, key)), "%s is not null: %s", key,
                  sacme_json_dump(unit_pool, json_object_get(obj, key)));
}

static const char *rfc3339(apr_time_t t)
{
    return sacme_time_rfc3339(unit_pool, t);
}

static const char *state_at(const sacme_store_t *store, const sacme_domain_t *dom,
                            apr_time_t now)
{
    return s(sacme_status_domain(store, dom, now, unit_pool), "state");
}

/* A fresh store where NAME has a certificate in service since a day, for
 * 90 days: nothing due. */
static sacme_domain_t *serving(sacme_store_t **store, apr_time_t now)
{
    sacme_domain_t *dom = new_domain(NAME);

    *store = new_store();
    put_set(*store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256, dom->names, now - DAY,
            now + 89 * DAY);
    ck_assert_str_eq(state_at(*store, dom, now), SACME_STATE_OK);
    return dom;
}

/* --- states ----------------------------------------------------------------------- */

START_TEST(test_status_no_certificate)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    json_t *d = sacme_status_domain(store, dom, t0(), unit_pool);

    ck_assert_str_eq(s(d, "name"), NAME);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "names")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(sacme_json_arr(d, "names"), 1)),
                     "www." NAME);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "key-types")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(sacme_json_arr(d, "key-types"), 0)),
                     "p256");
    /* not there yet, so being obtained */
    ck_assert_str_eq(s(d, "state"), SACME_STATE_RENEWING);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "certificates")), 0);
    assert_null(d, "valid-until");
    assert_null(d, "days-left");
    assert_null(d, "renew-at");
    assert_null(d, "staged");
    assert_null(d, "order");
    assert_null(d, "error");
    assert_null(d, "next-attempt");
    assert_null(d, "request");
}
END_TEST

START_TEST(test_status_ok_and_certificate_fields)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0(), nb = now - 10 * DAY, na = now + 80 * DAY + 5 * HOUR;
    sacme_cert_info_t *info = put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256,
                                      dom->names, nb, na);
    json_t *d = sacme_status_domain(store, dom, now, unit_pool), *c;

    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "certificates")), 1);
    c = json_array_get(sacme_json_arr(d, "certificates"), 0);
    ck_assert_str_eq(s(c, "key-type"), "p256");
    ck_assert_str_eq(s(c, "serial"), info->serial);
    ck_assert_str_eq(s(c, "sha256"), info->sha256);
    ck_assert_int_eq(strlen(s(c, "sha256")), 64);
    ck_assert_str_eq(s(c, "issuer"), info->issuer);
    ck_assert_str_eq(s(c, "not-before"), rfc3339(nb));
    ck_assert_str_eq(s(c, "not-after"), rfc3339(na));
    ck_assert_int_eq(json_integer_value(json_object_get(c, "days-left")), 80);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "renewals")), 0);
    /* as the parent counts activations (sacme_store_promote) */
    unit_write_text(in_store(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_HISTORY),
                    "{\"activations\": 3}", SACME_FPROT_PUBLIC);
    c = json_array_get(sacme_json_arr(sacme_status_domain(store, dom, now, unit_pool),
                                      "certificates"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "renewals")), 2);
    ck_assert_int_eq(json_array_size(sacme_json_arr(c, "names")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(sacme_json_arr(c, "names"), 0)), NAME);

    ck_assert_str_eq(s(d, "valid-until"), rfc3339(na));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), 80);
    ck_assert_str_eq(s(d, "renew-at"), rfc3339(sacme_drive_renew_at(dom, info)));
    assert_null(d, "error");
    assert_null(d, "order");

    /* the private key is root's: the model must not need it */
    ck_assert_int_eq(apr_file_remove(sacme_store_path(store, unit_pool, SACME_GROUP_DOMAINS,
                                                      NAME, SACME_FILE_KEY), unit_pool),
                     APR_SUCCESS);
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
    c = json_array_get(sacme_json_arr(d, "certificates"), 0);
    ck_assert_str_eq(s(c, "serial"), info->serial);
}
END_TEST

START_TEST(test_status_days_left_rounds_down)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0(), na = now + 30 * DAY;
    json_t *d;

    put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256, dom->names, now - 60 * DAY, na);
    d = sacme_status_domain(store, dom, na - DAY - HOUR, unit_pool);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), 1);
    d = sacme_status_domain(store, dom, na - 23 * HOUR, unit_pool);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), 0);
    d = sacme_status_domain(store, dom, na, unit_pool);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), 0);
    /* expired an hour ago: -1, not 0 */
    d = sacme_status_domain(store, dom, na + HOUR, unit_pool);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), -1);
    ck_assert_int_eq(json_integer_value(json_object_get(
        json_array_get(sacme_json_arr(d, "certificates"), 0), "days-left")), -1);
    d = sacme_status_domain(store, dom, na + 2 * DAY, unit_pool);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), -2);
}
END_TEST

START_TEST(test_status_renewing_when_due_or_not_matching)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0(), nb = now - 10 * DAY, na = nb + 90 * DAY;
    sacme_cert_info_t *info = put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256,
                                      dom->names, nb, na);
    apr_time_t renew_at = sacme_drive_renew_at(dom, info);

    ck_assert(renew_at > now);
    ck_assert_str_eq(state_at(store, dom, renew_at - 1), SACME_STATE_OK);
    ck_assert_str_eq(state_at(store, dom, renew_at), SACME_STATE_RENEWING);

    /* a name added to the configuration: a new certificate is needed */
    dom->names = unit_names(NAME, "www." NAME, "api." NAME, NULL);
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_RENEWING);

    /* the key type changed in the configuration */
    dom = new_domain(NAME);
    dom->key_type = SACME_KEY_P384;
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_RENEWING);
}
END_TEST

/* The profile: configured, and per certificate as issued.json records it
 * for that serial; another configured profile is work to do. */
START_TEST(test_status_profile)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0();
    sacme_cert_info_t *info = put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256,
                                      dom->names, now - DAY, now + 89 * DAY);
    json_t *d, *c;

    /* nothing recorded, nothing configured: not due */
    d = sacme_status_domain(store, dom, now, unit_pool);
    assert_null(d, "profile");
    assert_null(json_array_get(sacme_json_arr(d, "certificates"), 0), "profile");
    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
    /* configured, and the certificate ordered without: due */
    dom->profile = "shortlived";
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_RENEWING);

    put_json(store, NAME, "issued.json", apr_psprintf(unit_pool,
             "{\"serial\": \"%s\", \"profile\": \"shortlived\", "
             "\"configured-profile\": \"shortlived\"}", info->serial));
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "profile"), "shortlived");
    c = json_array_get(sacme_json_arr(d, "certificates"), 0);
    ck_assert_str_eq(s(c, "profile"), "shortlived");
    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
    dom->profile = "tlsserver";
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_RENEWING);
    dom->profile = NULL;
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_RENEWING);

    /* a record of another certificate says nothing of this one */
    put_json(store, NAME, "issued.json",
             "{\"serial\": \"0BADC0DE\", \"profile\": \"shortlived\", "
             "\"configured-profile\": \"shortlived\"}");
    d = sacme_status_domain(store, dom, now, unit_pool);
    assert_null(json_array_get(sacme_json_arr(d, "certificates"), 0), "profile");
    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
}
END_TEST

START_TEST(test_status_renewing_with_order)
{
    sacme_store_t *store;
    apr_time_t now = t0();
    sacme_domain_t *dom = serving(&store, now);
    json_t *d, *order;

    put_json(store, NAME, SACME_FILE_ORDER,
             "{\"url\": \"" ORDER_URL "\", \"server\": \"https://ca.test/dir\","
             " \"names\": [\"" NAME "\", \"www." NAME "\"], \"key-type\": \"p256\","
             " \"updated\": \"2026-11-25T10:00:00Z\"}");
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_RENEWING);
    order = sacme_json_obj(d, "order");
    ck_assert_ptr_nonnull(order);
    ck_assert_str_eq(s(order, "url"), ORDER_URL);
    ck_assert_str_eq(s(order, "updated"), "2026-11-25T10:00:00Z");
    assert_null(order, "waiting");
    assert_null(d, "error");

    /* the CA is still processing: the driver's pacing job is no error */
    put_json(store, NAME, SACME_FILE_JOB,
             apr_psprintf(unit_pool, "{\"errors\": 0, \"next-attempt\": %" APR_TIME_T_FMT
                          ", \"waiting\": \"still waiting for the order\","
                          " \"updated\": \"2026-11-25T10:00:01Z\"}",
                          apr_time_sec(now) + 600));
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_RENEWING);
    assert_null(d, "error");
    ck_assert_str_eq(s(sacme_json_obj(d, "order"), "waiting"), "still waiting for the order");
    ck_assert_str_eq(s(d, "next-attempt"), rfc3339(now + apr_time_from_sec(600)));
}
END_TEST

START_TEST(test_status_pending_activation)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0();
    sacme_cert_info_t *live, *staged;
    json_t *d;

    live = put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256, dom->names,
                   now - 70 * DAY, now + 20 * DAY);
    staged = put_set(store, SACME_GROUP_STAGING, NAME, SACME_KEY_P256, dom->names,
                     now - HOUR, now + 90 * DAY);
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_PENDING_ACTIVATION);
    ck_assert_str_eq(s(sacme_json_obj(d, "staged"), "serial"), staged->serial);
    ck_assert_str_eq(s(sacme_json_obj(d, "staged"), "not-after"),
                     rfc3339(now + 90 * DAY));
    /* the old certificate still serves, and is the one reported as live */
    ck_assert_str_ne(staged->serial, live->serial);
    ck_assert_str_eq(s(json_array_get(sacme_json_arr(d, "certificates"), 0), "serial"),
                     live->serial);

    /* a chain without its key is no complete set: not pending */
    ck_assert_int_eq(apr_file_remove(sacme_store_path(store, unit_pool, SACME_GROUP_STAGING,
                                                      NAME, SACME_FILE_KEY), unit_pool),
                     APR_SUCCESS);
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_ne(s(d, "state"), SACME_STATE_PENDING_ACTIVATION);
    assert_null(d, "staged");
}
END_TEST

START_TEST(test_status_error)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME);
    apr_time_t now = t0();
    json_t *d, *err;

    /* what record_failure writes after three failures */
    put_json(store, NAME, SACME_FILE_JOB,
             apr_psprintf(unit_pool,
                          "{\"errors\": 3, \"next-attempt\": %" APR_TIME_T_FMT ","
                          " \"last\": {\"status\": 20014, \"problem\":"
                          " \"urn:ietf:params:acme:error:unauthorized\","
                          " \"detail\": \"EAB signature mismatch\","
                          " \"hint\": \"check the EAB values\", \"http-status\": 401},"
                          " \"updated\": \"2026-11-25T11:00:00Z\"}",
                          apr_time_sec(now) + 3600));
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_ERROR);
    err = sacme_json_obj(d, "error");
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(s(err, "problem"), "urn:ietf:params:acme:error:unauthorized");
    ck_assert_str_eq(s(err, "detail"), "EAB signature mismatch");
    ck_assert_str_eq(s(err, "hint"), "check the EAB values");
    ck_assert_str_eq(s(err, "at"), "2026-11-25T11:00:00Z");
    ck_assert_int_eq(json_integer_value(json_object_get(err, "errors")), 3);
    ck_assert_str_eq(s(d, "next-attempt"), rfc3339(now + HOUR));

    /* once the next attempt is due it is no longer announced; the error
     * stays until an attempt succeeds */
    d = sacme_status_domain(store, dom, now + 2 * HOUR, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_ERROR);
    assert_null(d, "next-attempt");

    /* an error without an ACME problem (the CA unreachable) */
    put_json(store, NAME, SACME_FILE_JOB,
             "{\"errors\": 1, \"next-attempt\": 0, \"last\": {\"status\": 111,"
             " \"detail\": \"connection refused\"}, \"updated\": \"2026-11-25T11:00:00Z\"}");
    err = sacme_json_obj(sacme_status_domain(store, dom, now, unit_pool), "error");
    assert_null(err, "problem");
    ck_assert_str_eq(s(err, "detail"), "connection refused");

    /* a staged set (a later attempt succeeded) wins over an old job */
    put_set(store, SACME_GROUP_STAGING, NAME, SACME_KEY_P256, dom->names, now - HOUR,
            now + 90 * DAY);
    ck_assert_str_eq(state_at(store, dom, now), SACME_STATE_PENDING_ACTIVATION);
}
END_TEST

START_TEST(test_status_request)
{
    sacme_store_t *store;
    apr_time_t now = t0();
    sacme_domain_t *dom = serving(&store, now);
    json_t *d, *req;

    ck_assert_int_eq(sacme_request_renew(store, unit_pool, NAME, "revoked", "keyCompromise",
                                         NULL), APR_SUCCESS);
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_RENEWING);
    req = sacme_json_obj(d, "request");
    ck_assert_str_eq(s(req, "action"), "renew");
    ck_assert_str_eq(s(req, "reason"), "revoked");
    ck_assert_str_eq(s(req, "revocation-reason"), "keyCompromise");
    ck_assert_ptr_nonnull(s(req, "requested"));

    /* only the fields a request has: nothing else a file may hold */
    unit_write_text(sacme_store_path(store, unit_pool, SACME_GROUP_REQUESTS,
                                     NAME ".json", NULL),
                    "{\"action\": \"renew\", \"reason\": \"forced\","
                    " \"hmac\": \"c2VjcmV0LWhtYWMta2V5\"}", SACME_FPROT_PUBLIC);
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_ptr_null(strstr(sacme_json_dump(unit_pool, d), "c2VjcmV0LWhtYWMta2V5"));
    ck_assert_str_eq(s(sacme_json_obj(d, "request"), "reason"), "forced");
}
END_TEST

START_TEST(test_status_all)
{
    sacme_store_t *store = new_store();
    apr_array_header_t *doms = apr_array_make(unit_pool, 2, sizeof(sacme_domain_t *));
    apr_time_t now = t0();
    json_t *all, *list;

    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("a.example.org");
    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("b.example.org");
    put_set(store, SACME_GROUP_DOMAINS, "b.example.org", SACME_KEY_P256,
            APR_ARRAY_IDX(doms, 1, sacme_domain_t *)->names, now - DAY, now + 89 * DAY);
    all = sacme_status_all(store, doms, now, unit_pool);
    ck_assert_str_eq(s(all, "generated"), rfc3339(now));
    list = sacme_json_arr(all, "domains");
    ck_assert_int_eq(json_array_size(list), 2);
    ck_assert_str_eq(s(json_array_get(list, 0), "name"), "a.example.org");
    ck_assert_str_eq(s(json_array_get(list, 0), "state"), SACME_STATE_RENEWING);
    ck_assert_str_eq(s(json_array_get(list, 1), "name"), "b.example.org");
    ck_assert_str_eq(s(json_array_get(list, 1), "state"), SACME_STATE_OK);
}
END_TEST

/* --- Prometheus ---------------------------------------------------------------------- */

static int count_lines(const char *text, const char *line)
{
    const char *p = text;
    apr_size_t n = strlen(line);
    int count = 0;

    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            ++count;
        }
        p += n;
    }
    return count;
}

static void assert_line(const char *text, const char *line)
{
    ck_assert_msg(count_lines(text, line) == 1, "'%s' is not a line (once) of:\n%s", line,
                  text);
}

START_TEST(test_status_prometheus)
{
    sacme_store_t *store = new_store();
    apr_array_header_t *doms = apr_array_make(unit_pool, 2, sizeof(sacme_domain_t *));
    apr_time_t now = t0(), na = now + 60 * DAY;
    sacme_cert_info_t *info;
    const char *text, *metric;
    static const char *const metrics[] = {
        "sacme_domain_state", "sacme_certificate_info",
        "sacme_certificate_not_before_seconds", "sacme_certificate_not_after_seconds",
        "sacme_certificate_days_left", "sacme_domain_renew_at_seconds",
        "sacme_domain_next_attempt_seconds", "sacme_domain_errors",
        "sacme_order_in_progress", "sacme_domain_request_pending",
    };
    apr_size_t i;

    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("a.example.org");
    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("b.example.org");
    info = put_set(store, SACME_GROUP_DOMAINS, "a.example.org", SACME_KEY_P256,
                   APR_ARRAY_IDX(doms, 0, sacme_domain_t *)->names, now - 30 * DAY, na);
    put_json(store, "b.example.org", SACME_FILE_ORDER, "{\"url\": \"" ORDER_URL "\"}");
    put_json(store, "b.example.org", SACME_FILE_JOB,
             apr_psprintf(unit_pool, "{\"errors\": 2, \"next-attempt\": %" APR_TIME_T_FMT
                          ", \"last\": {\"detail\": \"timeout\"}}", apr_time_sec(now) + 60));
    text = sacme_status_prometheus(sacme_status_all(store, doms, now, unit_pool), unit_pool);

    for (i = 0; i < SACME_ARRAY_LEN(metrics); ++i) {
        metric = metrics[i];
        ck_assert_int_eq(count_lines(text, apr_psprintf(unit_pool, "# TYPE %s gauge", metric)),
                         1);
        ck_assert_msg(strstr(text, apr_psprintf(unit_pool, "\n# HELP %s ", metric)) || i == 0,
                      "no HELP for %s", metric);
    }
    ck_assert_int_eq(strncmp(text, "# HELP sacme_domain_state ", 26), 0);
    assert_line(text, apr_psprintf(unit_pool, "sacme_certificate_not_after_seconds"
                                   "{domain=\"a.example.org\",key_type=\"p256\"} %"
                                   APR_TIME_T_FMT, apr_time_sec(na)));
    assert_line(text, "sacme_certificate_days_left{domain=\"a.example.org\",key_type=\"p256\"} 60");
    ck_assert_int_eq(count_lines(text, "# TYPE sacme_certificate_renewals_total counter"), 1);
    assert_line(text, "sacme_certificate_renewals_total{domain=\"a.example.org\",key_type=\"p256\"} 0");
    assert_line(text, apr_psprintf(unit_pool, "sacme_certificate_info{domain=\"a.example.org\","
                                   "key_type=\"p256\",serial=\"%s\",sha256=\"%s\",issuer="
                                   "\"%s\"} 1", info->serial, info->sha256, info->issuer));
    assert_line(text, "sacme_domain_state{domain=\"a.example.org\",state=\"ok\"} 1");
    assert_line(text, "sacme_domain_state{domain=\"a.example.org\",state=\"error\"} 0");
    assert_line(text, "sacme_domain_state{domain=\"b.example.org\",state=\"error\"} 1");
    assert_line(text, "sacme_domain_state{domain=\"b.example.org\",state=\"ok\"} 0");
    assert_line(text, "sacme_domain_errors{domain=\"a.example.org\"} 0");
    assert_line(text, "sacme_domain_errors{domain=\"b.example.org\"} 2");
    assert_line(text, "sacme_order_in_progress{domain=\"a.example.org\"} 0");
    assert_line(text, "sacme_order_in_progress{domain=\"b.example.org\"} 1");
    assert_line(text, apr_psprintf(unit_pool, "sacme_domain_next_attempt_seconds"
                                   "{domain=\"b.example.org\"} %" APR_TIME_T_FMT,
                                   apr_time_sec(now) + 60));
    /* no certificate, no certificate samples (rather than a fake 0) */
    ck_assert_ptr_null(strstr(text, "not_after_seconds{domain=\"b.example.org\""));
    ck_assert_ptr_null(strstr(text, "renew_at_seconds{domain=\"b.example.org\""));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
}
END_TEST

START_TEST(test_status_prometheus_escapes_labels)
{
    /* the model is JSON: a hand-made one with names no DNS name has */
    static const char model[] =
        "{\"domains\": [{\"name\": \"we\\\"ird\\\\na\\nme\", \"state\": \"ok\","
        " \"certificates\": [{\"key-type\": \"p256\", \"serial\": \"0A\", \"sha256\": \"ab\","
        " \"issuer\": \"CN=\\\"Q\\\" CA\", \"not-after\": \"2027-01-02T03:04:05Z\"}]}]}";
    json_t *all = sacme_json_parse(unit_pool, model, strlen(model), 0, NULL);
    const char *text;

    ck_assert_ptr_nonnull(all);
    text = sacme_status_prometheus(all, unit_pool);
    assert_line(text, "sacme_certificate_not_after_seconds{domain=\"we\\\"ird\\\\na\\nme\","
                      "key_type=\"p256\"} 1798859045");
    ck_assert_ptr_nonnull(strstr(text, "issuer=\"CN=\\\"Q\\\" CA\"} 1\n"));
}
END_TEST

/* --- server-status?auto ------------------------------------------------------------- */

START_TEST(test_status_auto)
{
    sacme_store_t *store = new_store();
    apr_array_header_t *doms = apr_array_make(unit_pool, 2, sizeof(sacme_domain_t *));
    apr_time_t now = t0(), na = now + 60 * DAY;
    const char *text;

    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("a.example.org");
    APR_ARRAY_PUSH(doms, sacme_domain_t *) = new_domain("b.example.org");
    put_set(store, SACME_GROUP_DOMAINS, "a.example.org", SACME_KEY_P256,
            APR_ARRAY_IDX(doms, 0, sacme_domain_t *)->names, now - 30 * DAY, na);
    put_json(store, "b.example.org", SACME_FILE_JOB,
             "{\"errors\": 1, \"last\": {\"problem\":"
             " \"urn:ietf:params:acme:error:rejectedIdentifier\","
             " \"detail\": \"no\\nway\"}}");
    text = sacme_status_auto(sacme_status_all(store, doms, now, unit_pool), unit_pool);

    assert_line(text, "SacmeDomains: 2");
    assert_line(text, "SacmeDomainsOk: 1");
    assert_line(text, "SacmeDomainsRenewing: 0");
    assert_line(text, "SacmeDomainsPendingActivation: 0");
    assert_line(text, "SacmeDomainsError: 1");
    assert_line(text, "SacmeDomain-a.example.org-State: ok");
    assert_line(text, "SacmeDomain-a.example.org-Names: a.example.org www.a.example.org");
    assert_line(text, "SacmeDomain-a.example.org-KeyTypes: p256");
    assert_line(text, apr_pstrcat(unit_pool, "SacmeDomain-a.example.org-ValidUntil: ",
                                  rfc3339(na), NULL));
    assert_line(text, "SacmeDomain-a.example.org-DaysLeft: 60");
    assert_line(text, "SacmeDomain-a.example.org-Errors: 0");
    assert_line(text, "SacmeDomain-b.example.org-State: error");
    assert_line(text, "SacmeDomain-b.example.org-Errors: 1");
    assert_line(text, "SacmeDomain-b.example.org-ErrorProblem: "
                      "urn:ietf:params:acme:error:rejectedIdentifier");
    /* one line per value, whatever the CA wrote */
    assert_line(text, "SacmeDomain-b.example.org-Error: no way");
    /* unknown values are left out, not written empty */
    ck_assert_ptr_null(strstr(text, "SacmeDomain-b.example.org-DaysLeft"));
    ck_assert_ptr_null(strstr(text, "SacmeDomain-a.example.org-Error:"));
}
END_TEST

/* Dual keys: a domain with a unit for a second key type shows as one entry
 * with both certificates, the earlier expiry, and the neediest state. */
START_TEST(test_status_dual_keys)
{
    sacme_store_t *store = new_store();
    sacme_domain_t *dom = new_domain(NAME), *unit;
    apr_array_header_t *doms = apr_array_make(unit_pool, 2, sizeof(sacme_domain_t *));
    apr_time_t now = t0();
    sacme_cert_info_t *ec, *rsa;
    json_t *d, *all, *certs;

    unit = sacme_domain_add_key(unit_pool, dom, SACME_KEY_RSA2048);
    ck_assert_str_eq(unit->name, NAME "+rsa2048");
    ck_assert_ptr_eq(unit->primary, dom);
    ck_assert_ptr_eq(dom->next_key, unit);
    ck_assert_ptr_eq(unit->names, dom->names);
    APR_ARRAY_PUSH(doms, sacme_domain_t *) = dom;
    APR_ARRAY_PUSH(doms, sacme_domain_t *) = unit;

    ec = put_set(store, SACME_GROUP_DOMAINS, NAME, SACME_KEY_P256, dom->names,
                 now - DAY, now + 89 * DAY);
    /* only the first key type is served yet: the domain is still being done */
    d = sacme_status_domain(store, dom, now, unit_pool);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_RENEWING);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "certificates")), 1);

    rsa = put_set(store, SACME_GROUP_DOMAINS, unit->name, SACME_KEY_RSA2048, dom->names,
                  now - DAY, now + 59 * DAY);
    d = sacme_status_domain(store, unit, now, unit_pool);   /* asked by the unit */
    ck_assert_str_eq(s(d, "name"), NAME);
    ck_assert_str_eq(s(d, "state"), SACME_STATE_OK);
    ck_assert_int_eq(json_array_size(sacme_json_arr(d, "key-types")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(sacme_json_arr(d, "key-types"), 1)),
                     "rsa2048");
    certs = sacme_json_arr(d, "certificates");
    ck_assert_int_eq(json_array_size(certs), 2);
    ck_assert_str_eq(s(json_array_get(certs, 0), "serial"), ec->serial);
    ck_assert_str_eq(s(json_array_get(certs, 1), "serial"), rsa->serial);
    ck_assert_str_eq(s(json_array_get(certs, 1), "key-type"), "rsa2048");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "days-left")), 59);
    ck_assert_str_eq(s(d, "valid-until"), rfc3339(rsa->not_after));

    /* an error of the second type shows on the domain */
    put_json(store, unit->name, SACME_FILE_JOB,
             "{\"errors\": 1, \"next-attempt\": 0, \"updated\": \"2026-01-01T00:00:00Z\", "
             "\"last\": {\"detail\": \"refused\"}}");
    if (strcmp(state_at(store, unit, now), SACME_STATE_ERROR)) {
        ck_abort_msg("the second key type's error is not shown: %s",
                     sacme_json_dump(unit_pool, sacme_status_domain(store, dom, now,
                                                                    unit_pool)));
    }

    /* listed once */
    all = sacme_status_all(store, doms, now, unit_pool);
    ck_assert_int_eq(json_array_size(sacme_json_arr(all, "domains")), 1);
}
END_TEST

Suite *unit_suite_status(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("status");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_status_no_certificate);
    tcase_add_test(tc, test_status_ok_and_certificate_fields);
    tcase_add_test(tc, test_status_days_left_rounds_down);
    tcase_add_test(tc, test_status_renewing_when_due_or_not_matching);
    tcase_add_test(tc, test_status_profile);
    tcase_add_test(tc, test_status_renewing_with_order);
    tcase_add_test(tc, test_status_pending_activation);
    tcase_add_test(tc, test_status_error);
    tcase_add_test(tc, test_status_request);
    tcase_add_test(tc, test_status_all);
    tcase_add_test(tc, test_status_prometheus);
    tcase_add_test(tc, test_status_prometheus_escapes_labels);
    tcase_add_test(tc, test_status_auto);
    tcase_add_test(tc, test_status_dual_keys);
    suite_add_tcase(s, tc);
    return s;
}
