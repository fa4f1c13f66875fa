/* Unit tests: sacme_drive_dns (dns-01 in the driver) with small shell
 * scripts as SacmeDnsCmd: the command's argv and value, the record written
 * to dns.json before the setup runs and forgotten after its teardown, a
 * failed setup's log line and result, the leftovers a driver's start and
 * an issuance's end tear down, and what is never run. */
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_log.h"
#include "sacme_drive_dns.h"
#include "sacme_file.h"
#include "sacme_json.h"

#define NAME "dns.example.org"
/* base64url(SHA-256("tok-123.thumb-456")), computed elsewhere (Python) */
#define KEY_AUTHZ "tok-123.thumb-456"
#define VALUE "ZTwE3nVy-WOGF-_45ji-qJFMt-weaHuzJFOheU24ZEs"
#define RECORD "_acme-challenge." NAME

static unit_log_t *cap;

/* A command that appends its arguments to calls.txt and a copy of the
 * domain's dns.json as it is while it runs; "fail" as its first argument
 * makes its setup fail. */
static const char *hook(void)
{
    const char *dir = unit_tmpdir();
    const char *path = apr_pstrcat(unit_pool, dir, "/hook.sh", NULL);

    unit_write_text(path, apr_pstrcat(unit_pool,
        "#!/bin/sh\n"
        "mode=$1; shift\n"
        "echo \"$*\" >> '", dir, "/calls.txt'\n"
        "cat '", dir, "/store/staging/" NAME "/dns.json' > '", dir, "/seen.json' "
        "2>/dev/null\n"
        "if [ \"$mode\" = fail ] && [ \"$1\" = setup ]; then\n"
        "  echo 'refused by the provider' >&2; echo 'some progress'; exit 7\n"
        "fi\n", NULL), SACME_FPROT_PUBLIC);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}

static sacme_driver_t *new_driver(sacme_domain_t *dom, const char *mode)
{
    sacme_driver_t *d = apr_pcalloc(unit_pool, sizeof(*d));
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));
    const char **cmd = apr_pcalloc(unit_pool, 3 * sizeof(*cmd));
    sacme_log_t *log;

    cap = unit_log_make(&log);
    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    d->p = unit_pool;
    d->store = store;
    d->log = log;
    memset(dom, 0, sizeof(*dom));
    dom->name = NAME;
    dom->names = unit_names(NAME, "*." NAME, NULL);
    cmd[0] = hook();
    cmd[1] = mode;
    dom->dns_cmd = cmd;
    dom->dns_timeout = apr_time_from_sec(20);
    return d;
}

static sacme_chal_pub_t *pub_for(const char *name)
{
    sacme_chal_pub_t *pub = apr_pcalloc(unit_pool, sizeof(*pub));

    pub->type = "dns-01";
    pub->name = name;
    pub->token = "tok-123";
    pub->key_authz = KEY_AUTHZ;
    return pub;
}

static const char *tmp_file(const char *name)
{
    return apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);
}

static const char *calls(void)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, tmp_file("calls.txt"), APR_FINFO_SIZE, unit_pool) != APR_SUCCESS) {
        return "";
    }
    return unit_read_text(tmp_file("calls.txt"));
}

static json_t *records(sacme_driver_t *d)
{
    json_t *j = sacme_store_state_load(d->store, unit_pool, SACME_STATE_DNS, NAME, NULL);

    return j ? sacme_json_arr(j, "records") : NULL;
}

START_TEST(test_dns01_value)
{
    ck_assert_str_eq(sacme_dns01_value(unit_pool, KEY_AUTHZ), VALUE);
}
END_TEST

START_TEST(test_setup_recorded_first_and_teardown_forgets)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");
    sacme_result_t *res = sacme_result_make(unit_pool);
    json_t *seen, *r;

    ck_assert_int_eq(sacme_drive_dns_publish(d, &dom, 1, pub_for(NAME), unit_pool, res),
                     APR_SUCCESS);
    ck_assert_str_eq(calls(), "setup " RECORD " " VALUE "\n");
    /* while the setup ran, the store named the record and its command */
    seen = sacme_json_parse(unit_pool, unit_read_text(tmp_file("seen.json")),
                            strlen(unit_read_text(tmp_file("seen.json"))), 0, NULL);
    r = json_array_get(sacme_json_arr(seen, "records"), 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(sacme_json_str(r, "name"), RECORD);
    ck_assert_str_eq(sacme_json_str(r, "value"), VALUE);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "command"), 1)),
                     "ok");
    ck_assert_ptr_nonnull(unit_logged(cap, "SACME10472", NULL));

    /* the same record again (a resumed order): one entry still */
    ck_assert_int_eq(sacme_drive_dns_publish(d, &dom, 1, pub_for(NAME), unit_pool, res),
                     APR_SUCCESS);
    ck_assert_uint_eq(json_array_size(records(d)), 1);

    ck_assert_int_eq(sacme_drive_dns_publish(d, &dom, 0, pub_for(NAME), unit_pool, res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(calls(), "teardown " RECORD " " VALUE "\n"));
    ck_assert_ptr_null(records(d));          /* dns.json is gone */
}
END_TEST

START_TEST(test_failed_setup_logged_with_output)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "fail");
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *line;

    ck_assert_int_eq(sacme_drive_dns_publish(d, &dom, 1, pub_for(NAME), unit_pool, res),
                     SACME_EDNS);
    line = unit_logged(cap, "SACME10470", NULL);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(line, "exited with 7"));
    ck_assert_ptr_nonnull(strstr(line, "refused by the provider"));
    ck_assert_ptr_nonnull(strstr(line, "some progress"));
    ck_assert_ptr_nonnull(strstr(res->detail, "refused by the provider"));
    /* recorded until its teardown, which the issuance runs for it too */
    ck_assert_uint_eq(json_array_size(records(d)), 1);
    ck_assert_int_eq(sacme_drive_dns_publish(d, &dom, 0, pub_for(NAME), unit_pool, res),
                     APR_SUCCESS);
    ck_assert_ptr_null(records(d));
}
END_TEST

START_TEST(test_name_not_ours_never_reaches_the_command)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_ne(sacme_drive_dns_publish(d, &dom, 1, pub_for("evil.example.net"),
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_ne(sacme_drive_dns_publish(d, &dom, 1, pub_for("-k /etc/shadow"),
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_str_eq(calls(), "");
    ck_assert_ptr_null(records(d));
}
END_TEST

/* A record left in dns.json as a killed driver leaves it. */
static void leave_record_of(sacme_driver_t *d, const char *domain, const char *record,
                            const char *const *cmd)
{
    json_t *j = sacme_json_own(unit_pool, json_object()), *list = json_array();
    json_t *r = json_object(), *c = json_array();
    int i;

    for (i = 0; cmd[i]; ++i) {
        json_array_append_new(c, json_string(cmd[i]));
    }
    json_object_set_new(r, "name", json_string(record));
    json_object_set_new(r, "value", json_string(VALUE));
    json_object_set_new(r, "command", c);
    json_array_append_new(list, r);
    json_object_set_new(j, "records", list);
    ck_assert_int_eq(sacme_store_state_save(d->store, unit_pool, SACME_STATE_DNS, domain,
                                            j, NULL), APR_SUCCESS);
}

static void leave_record(sacme_driver_t *d, const char *const *cmd)
{
    leave_record_of(d, NAME, RECORD, cmd);
}

static apr_array_header_t *domains_of(sacme_domain_t *dom)
{
    apr_array_header_t *a = apr_array_make(unit_pool, 1, sizeof(sacme_domain_t *));

    APR_ARRAY_PUSH(a, sacme_domain_t *) = dom;
    return a;
}

START_TEST(test_cleanup_at_start)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");
    json_t *order = sacme_json_own(unit_pool, json_object());

    /* an order in progress keeps its records: the CA may be looking */
    leave_record(d, dom.dns_cmd);
    json_object_set_new(order, "url", json_string("https://ca.test/order/1"));
    ck_assert_int_eq(sacme_store_state_save(d->store, unit_pool, SACME_STATE_ORDER, NAME,
                                            order, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_drive_dns_cleanup(d, domains_of(&dom), unit_pool), 0);
    ck_assert_str_eq(calls(), "");
    ck_assert_uint_eq(json_array_size(records(d)), 1);

    /* without one, they are torn down before anything else */
    ck_assert_int_eq(sacme_store_state_remove(d->store, unit_pool, SACME_STATE_ORDER, NAME,
                                              NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_drive_dns_cleanup(d, domains_of(&dom), unit_pool), 1);
    ck_assert_str_eq(calls(), "teardown " RECORD " " VALUE "\n");
    ck_assert_ptr_nonnull(unit_logged(cap, "SACME10479", NULL));
    ck_assert_ptr_null(records(d));
}
END_TEST

START_TEST(test_cleanup_of_a_domain_no_longer_configured)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");
    json_t *order = sacme_json_own(unit_pool, json_object());

    /* its order will never be resumed: torn down, with the command the
     * configuration still has */
    leave_record_of(d, "old.example.org", "_acme-challenge.old.example.org", dom.dns_cmd);
    json_object_set_new(order, "url", json_string("https://ca.test/order/2"));
    ck_assert_int_eq(sacme_store_state_save(d->store, unit_pool, SACME_STATE_ORDER,
                                            "old.example.org", order, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_drive_dns_cleanup(d, domains_of(&dom), unit_pool), 1);
    ck_assert_str_eq(calls(), "teardown _acme-challenge.old.example.org " VALUE "\n");
    ck_assert_ptr_null(sacme_store_state_load(d->store, unit_pool, SACME_STATE_DNS,
                                              "old.example.org", NULL));
}
END_TEST

START_TEST(test_unconfigured_command_never_run)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");
    const char *other[] = { "/bin/sh", "-c", "echo ran > /tmp/never", NULL };
    const char *line;

    /* whoever can write dns.json (the driver's account) cannot make the
     * driver run a command the configuration does not name */
    leave_record(d, other);
    ck_assert_int_eq(sacme_drive_dns_cleanup(d, domains_of(&dom), unit_pool), 0);
    ck_assert_str_eq(calls(), "");
    line = unit_logged(cap, "SACME10477", NULL);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(line, RECORD));
    ck_assert_ptr_null(records(d));
}
END_TEST

START_TEST(test_sweep_after_an_issuance)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom, "ok");

    leave_record(d, dom.dns_cmd);
    sacme_drive_dns_sweep(d, &dom, unit_pool);
    ck_assert_str_eq(calls(), "teardown " RECORD " " VALUE "\n");
    ck_assert_ptr_nonnull(unit_logged(cap, "SACME10481", NULL));
    ck_assert_ptr_null(records(d));
}
END_TEST

Suite *unit_suite_drive_dns(void)
{
    Suite *s = suite_create("drive_dns");
    TCase *tc = tcase_create("drive_dns");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dns01_value);
    tcase_add_test(tc, test_setup_recorded_first_and_teardown_forgets);
    tcase_add_test(tc, test_failed_setup_logged_with_output);
    tcase_add_test(tc, test_name_not_ours_never_reaches_the_command);
    tcase_add_test(tc, test_cleanup_at_start);
    tcase_add_test(tc, test_cleanup_of_a_domain_no_longer_configured);
    tcase_add_test(tc, test_unconfigured_command_never_run);
    tcase_add_test(tc, test_sweep_after_an_issuance);
    suite_add_tcase(s, tc);
    return s;
}
