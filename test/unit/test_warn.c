/* Unit tests: expiry alerts. sacme_warn's rules on their own (parsing,
 * severity, scaling, which threshold is due, once per certificate), then
 * the driver raising them from the store: the log line, the "expiring"
 * event seen by a notify command, and nothing raised twice, not even by a
 * new driver over the same store. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "unit_log.h"
#include "sacme_drive.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_time.h"
#include "sacme_warn.h"

#define DAY apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)
#define NAME "alerts.example.org"

static sacme_warn_t parsed(const char *list)
{
    char *copy = apr_pstrdup(unit_pool, list), *state, *tok;
    const char *argv[SACME_WARN_MAX + 4];
    const char *why = NULL;
    sacme_warn_t w;
    int argc = 0;

    for (tok = apr_strtok(copy, " ", &state); tok; tok = apr_strtok(NULL, " ", &state)) {
        argv[argc++] = tok;
    }
    ck_assert_msg(sacme_warn_parse(argc, argv, &w, unit_pool, &why) == APR_SUCCESS,
                  "'%s' refused: %s", list, why);
    return w;
}

/* The reason a list is refused. */
static const char *refused(int argc, const char *const *argv)
{
    const char *why = NULL;
    sacme_warn_t w;

    ck_assert_int_eq(sacme_warn_parse(argc, argv, &w, unit_pool, &why), APR_EINVAL);
    ck_assert_ptr_nonnull(why);
    return why;
}

/* --- the rules --------------------------------------------------------------- */

START_TEST(test_warn_defaults)
{
    sacme_warn_t w;

    sacme_warn_default(&w);
    ck_assert_int_eq(w.n, 3);
    ck_assert_str_eq(sacme_warn_list(unit_pool, &w), "30d 14d 7d");
    ck_assert(w.thresholds[0] == 30 * DAY);
    ck_assert(w.thresholds[2] == 7 * DAY);
}
END_TEST

START_TEST(test_warn_parse)
{
    sacme_warn_t w = parsed("7d 30d 14d");

    /* any order in, largest first out */
    ck_assert_str_eq(sacme_warn_list(unit_pool, &w), "30d 14d 7d");
    w = parsed("36h");
    ck_assert_int_eq(w.n, 1);
    ck_assert_str_eq(sacme_warn_str(unit_pool, &w, 0), "36h");
    /* a bare number is days, as everywhere */
    w = parsed("10 90m 2h");
    ck_assert_str_eq(sacme_warn_list(unit_pool, &w), "10d 2h 90m");
}
END_TEST

START_TEST(test_warn_parse_refuses)
{
    static const char *const soon[] = { "30d", "soon" };
    static const char *const zero[] = { "0d" };
    static const char *const neg[] = { "-7d" };
    static const char *const twice[] = { "14d", "30d", "14d" };
    static const char *const decades[] = { "30d", "4000d" };
    static const char *const many[] = { "1d", "2d", "3d", "4d", "5d", "6d", "7d", "8d", "9d" };

    ck_assert_ptr_nonnull(strstr(refused(2, soon), "'soon'"));
    ck_assert_ptr_nonnull(strstr(refused(1, zero), "'0d'"));
    ck_assert_ptr_nonnull(strstr(refused(1, neg), "'-7d'"));
    ck_assert_ptr_nonnull(strstr(refused(3, twice), "'14d' is given twice"));
    ck_assert_ptr_nonnull(strstr(refused(2, decades), "'4000d'"));
    ck_assert_ptr_nonnull(strstr(refused(9, many), "9 thresholds"));
    ck_assert_ptr_nonnull(refused(0, soon));
}
END_TEST

START_TEST(test_warn_levels)
{
    sacme_warn_t w;

    /* the closer to expiry, the louder */
    sacme_warn_default(&w);
    ck_assert_int_eq(sacme_warn_level(&w, 0), SACME_LOG_NOTICE);
    ck_assert_int_eq(sacme_warn_level(&w, 1), SACME_LOG_WARNING);
    ck_assert_int_eq(sacme_warn_level(&w, 2), SACME_LOG_ERR);
    w = parsed("30d 7d");
    ck_assert_int_eq(sacme_warn_level(&w, 0), SACME_LOG_NOTICE);
    ck_assert_int_eq(sacme_warn_level(&w, 1), SACME_LOG_ERR);
    w = parsed("10d");
    ck_assert_int_eq(sacme_warn_level(&w, 0), SACME_LOG_WARNING);
}
END_TEST

START_TEST(test_warn_scaling)
{
    sacme_warn_t w;
    int i;

    sacme_warn_default(&w);
    /* 90 days is what 30d 14d 7d are meant for: unchanged, and longer
     * lives too */
    for (i = 0; i < 3; ++i) {
        ck_assert(sacme_warn_effective(&w, i, 90 * DAY) == w.thresholds[i]);
        ck_assert(sacme_warn_effective(&w, i, 397 * DAY) == w.thresholds[i]);
    }
    /* a 7-day certificate: each threshold times 7/90, so a fresh one is
     * below none of them (30d -> 56 h, 14d -> 26.13 h, 7d -> 13.07 h) */
    ck_assert(sacme_warn_effective(&w, 0, 7 * DAY) == 56 * HOUR);
    ck_assert(sacme_warn_effective(&w, 1, 7 * DAY) / apr_time_from_sec(60) == 26 * 60 + 8);
    ck_assert(sacme_warn_effective(&w, 2, 7 * DAY) / apr_time_from_sec(60) == 13 * 60 + 4);
    for (i = 0; i < 3; ++i) {
        ck_assert(sacme_warn_effective(&w, i, 7 * DAY) < 7 * DAY / 3 + 1);
    }
    /* the bound follows the largest threshold: 60d is meant for 180 days,
     * so a 90-day certificate halves it */
    w = parsed("60d 10d");
    ck_assert(sacme_warn_effective(&w, 0, 90 * DAY) == 30 * DAY);
    ck_assert(sacme_warn_effective(&w, 1, 90 * DAY) == 5 * DAY);
    ck_assert(sacme_warn_effective(&w, 0, 180 * DAY) == 60 * DAY);
}
END_TEST

START_TEST(test_warn_pending_once_per_threshold)
{
    sacme_warn_t w;
    apr_time_t na = apr_time_from_sec(2000000000), nb = na - 90 * DAY;
    apr_time_t renew_at = na - 30 * DAY - 2 * DAY, next;
    json_t *state = NULL;
    int due[SACME_WARN_MAX];

    sacme_warn_default(&w);
    /* 31 days left: nothing yet, the 30d alert comes next */
    ck_assert_int_eq(sacme_warn_pending(&w, state, "AA01", nb, na, renew_at, na - 31 * DAY,
                                        due, &next), 0);
    ck_assert(next == na - 30 * DAY);

    /* 20 days left: the 30d alert only */
    ck_assert_int_eq(sacme_warn_pending(&w, state, "AA01", nb, na, renew_at, na - 20 * DAY,
                                        due, &next), 1);
    ck_assert_int_eq(due[0], 0);
    ck_assert(next == na - 14 * DAY);

    /* raised: not due again, at the same time or later */
    state = sacme_json_own(unit_pool, sacme_warn_mark(state, "AA01", &w, 0, na - 20 * DAY,
                                                      unit_pool));
    ck_assert(sacme_warn_was_raised(state, "AA01", &w, 0));
    ck_assert_int_eq(sacme_warn_pending(&w, state, "AA01", nb, na, renew_at, na - 20 * DAY,
                                        due, &next), 0);
    ck_assert(next == na - 14 * DAY);

    /* 5 days left (say the driver was down): 14d and 7d together, largest
     * first; the 30d one stays raised */
    ck_assert_int_eq(sacme_warn_pending(&w, state, "AA01", nb, na, renew_at, na - 5 * DAY,
                                        due, &next), 2);
    ck_assert_int_eq(due[0], 1);
    ck_assert_int_eq(due[1], 2);
    ck_assert(next == 0);
}
END_TEST

START_TEST(test_warn_new_certificate_resets)
{
    sacme_warn_t w;
    apr_time_t na = apr_time_from_sec(2000000000), nb = na - 90 * DAY, next;
    json_t *state = NULL;
    int due[SACME_WARN_MAX];

    sacme_warn_default(&w);
    state = sacme_json_own(unit_pool, json_pack("{s:s}", "revoked-request", "T1"));
    state = sacme_json_own(unit_pool, sacme_warn_mark(state, "AA01", &w, 0, nb, unit_pool));
    state = sacme_json_own(unit_pool, sacme_warn_mark(state, "AA01", &w, 1, nb, unit_pool));
    ck_assert_int_eq((int)json_array_size(json_object_get(state, "raised")), 2);

    /* another serial: nothing was raised for it */
    ck_assert(!sacme_warn_was_raised(state, "BB02", &w, 0));
    ck_assert_int_eq(sacme_warn_pending(&w, state, "BB02", nb, na, nb, na - 10 * DAY,
                                        due, &next), 2);
    /* marking it drops the old certificate's alerts, keeps the rest */
    state = sacme_json_own(unit_pool, sacme_warn_mark(state, "BB02", &w, 0, nb, unit_pool));
    ck_assert_str_eq(sacme_json_str(state, "serial"), "BB02");
    ck_assert_int_eq((int)json_array_size(json_object_get(state, "raised")), 1);
    ck_assert(!sacme_warn_was_raised(state, "AA01", &w, 0));
    ck_assert(!sacme_warn_was_raised(state, "BB02", &w, 1));
    ck_assert_str_eq(sacme_json_str(state, "revoked-request"), "T1");
}
END_TEST

START_TEST(test_warn_waits_for_the_renewal)
{
    sacme_warn_t w;
    apr_time_t na = apr_time_from_sec(2000000000), nb = na - 90 * DAY, next;
    apr_time_t renew_at = na - 10 * DAY;     /* SacmeRenewWindow 10d */
    int due[SACME_WARN_MAX];

    sacme_warn_default(&w);
    /* 20 days left, below 30d, but the renewal is ten days off: the module
     * has not had its chance yet */
    ck_assert_int_eq(sacme_warn_pending(&w, NULL, "AA01", nb, na, renew_at, na - 20 * DAY,
                                        due, &next), 0);
    ck_assert(next == renew_at + SACME_WARN_GRACE);
    /* just renewed-due: a renewal that works takes less than the grace */
    ck_assert_int_eq(sacme_warn_pending(&w, NULL, "AA01", nb, na, renew_at,
                                        renew_at + SACME_WARN_GRACE / 2, due, &next), 0);
    /* an hour after it was due and still in service: 30d and 14d */
    ck_assert_int_eq(sacme_warn_pending(&w, NULL, "AA01", nb, na, renew_at,
                                        renew_at + SACME_WARN_GRACE, due, &next), 2);
    ck_assert(next == na - 7 * DAY);
}
END_TEST

/* --- the driver raising them ---------------------------------------------------- */

typedef struct {
    sacme_driver_t *d;
    sacme_domain_t dom;
    unit_log_t *log;
    const char *out;              /* what the notify command recorded */
} rig_t;

/* Where the tests' store lives, and now in whole seconds (certificates
 * have no finer times). */
static const char *rig_store(void)
{
    return apr_pstrcat(unit_pool, unit_tmpdir(), "/store", NULL);
}

static apr_time_t rig_now(void)
{
    return apr_time_sec(apr_time_now()) * APR_USEC_PER_SEC;
}

/* A driver over a fresh store with the default thresholds, a capturing
 * log and a notify command that appends one line per event:
 * "EVENT DOMAIN|THRESHOLD|SERIAL|DAYS_LEFT|NOT_AFTER". */
static void rig_make(rig_t *r, const char *store_dir)
{
    static sacme_warn_t warn;
    const char *script = apr_pstrcat(unit_pool, unit_tmpdir(), "/notify.sh", NULL);
    const char **cmd = apr_pcalloc(unit_pool, 2 * sizeof(*cmd));
    sacme_log_t *log;

    memset(r, 0, sizeof(*r));
    r->out = apr_pstrcat(unit_pool, unit_tmpdir(), "/events.txt", NULL);
    unit_write_text(script, apr_pstrcat(unit_pool, "#!/bin/sh\n"
                                        "echo \"$1 $2|$SACME_THRESHOLD|$SACME_SERIAL|"
                                        "$SACME_DAYS_LEFT|$SACME_NOT_AFTER\" >> ",
                                        r->out, "\n", NULL), 0755);
    cmd[0] = script;
    r->log = unit_log_make(&log);
    r->d = apr_pcalloc(unit_pool, sizeof(*r->d));
    r->d->p = unit_pool;
    r->d->store = sacme_store_make(unit_pool, store_dir);
    ck_assert_int_eq(sacme_store_setup(r->d->store, unit_pool, NULL, NULL), APR_SUCCESS);
    r->d->ca = sacme_ca_make(unit_pool, "https://ca.test/dir", NULL);
    r->d->log = log;
    r->d->check_interval = 400 * DAY;
    r->d->retry_delay = apr_time_from_sec(60);
    r->d->retry_max = DAY;
    r->d->hooks = sacme_hooks_make(unit_pool, log, 0);
    r->d->notify_cmd = cmd;
    sacme_warn_default(&warn);
    r->d->warn = &warn;
    r->dom.name = NAME;
    r->dom.names = unit_names(NAME, NULL);
    r->dom.key_type = SACME_KEY_P256;
    r->dom.renew_window.percent = 33;
    r->dom.ari_off = 1;
}

/* Puts a certificate valid [nb, na) in service; returns its serial. */
static const char *rig_live(rig_t *r, apr_time_t nb, apr_time_t na)
{
    sacme_chain_t chain;
    sacme_cert_info_t *info;
    const char *path = sacme_store_path(r->d->store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                        SACME_FILE_CHAIN);
    sacme_key_t *key = unit_key(SACME_KEY_P256);

    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, NAME, r->dom.names, nb, na,
                                                          NULL, NULL, 0);
    ck_assert_int_eq(sacme_file_mkdirs(sacme_store_path(r->d->store, unit_pool,
                                                        SACME_GROUP_DOMAINS, NAME, NULL),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    unit_write_text(path, sacme_chain_pem(&chain, unit_pool), SACME_FPROT_PUBLIC);
    ck_assert_int_eq(sacme_cert_info(unit_pool, APR_ARRAY_IDX(chain.certs, 0, X509 *), &info),
                     APR_SUCCESS);
    return info->serial;
}

/* The path of a file in the domain's staging directory, made first. */
static const char *rig_staging(rig_t *r, const char *file)
{
    ck_assert_int_eq(sacme_file_mkdirs(sacme_store_path(r->d->store, unit_pool,
                                                        SACME_GROUP_STAGING, NAME, NULL),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    return sacme_store_path(r->d->store, unit_pool, SACME_GROUP_STAGING, NAME, file);
}

/* Checks the domain at now and waits for the notify commands it started. */
static sacme_why_t rig_check(rig_t *r, apr_time_t now, apr_time_t *next)
{
    sacme_why_t why = sacme_drive_check(r->d, &r->dom, now, next, unit_pool);

    sacme_hooks_drain(r->d->hooks);
    return why;
}

/* The lines the notify command recorded so far. */
static apr_array_header_t *rig_events(rig_t *r)
{
    apr_array_header_t *lines = apr_array_make(unit_pool, 4, sizeof(const char *));
    char *text, *state, *line;

    if (!sacme_file_exists(r->out, unit_pool)) {
        return lines;
    }
    text = apr_pstrdup(unit_pool, unit_read_text(r->out));
    for (line = apr_strtok(text, "\n", &state); line; line = apr_strtok(NULL, "\n", &state)) {
        APR_ARRAY_PUSH(lines, const char *) = line;
    }
    return lines;
}

/* How many recorded events contain each of the two strings (the commands
 * of one check run side by side, so their lines come in any order). */
static int count_events(apr_array_header_t *events, const char *a, const char *b)
{
    int i, n = 0;

    for (i = 0; i < events->nelts; ++i) {
        const char *line = APR_ARRAY_IDX(events, i, const char *);
        n += strstr(line, a) && (!b || strstr(line, b));
    }
    return n;
}

START_TEST(test_drive_alerts_raised_once)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next;
    apr_time_t na = now + 10 * DAY, nb = na - 90 * DAY;
    apr_array_header_t *events;
    const char *serial, *line;
    rig_t r;
    int level = 0;

    rig_make(&r, store);
    serial = rig_live(&r, nb, na);

    /* 10 of 90 days left and the renewal long overdue: 30d and 14d */
    ck_assert_int_eq(rig_check(&r, now, &next), SACME_WHY_RENEW);
    events = rig_events(&r);
    ck_assert_int_eq(events->nelts, 2);
    ck_assert_int_eq(count_events(events, apr_psprintf(
                         unit_pool, "expiring " NAME "|30d|%s|10|%s", serial,
                         sacme_time_rfc3339(unit_pool, na)), NULL), 1);
    ck_assert_int_eq(count_events(events, apr_psprintf(
                         unit_pool, "expiring " NAME "|14d|%s|10|%s", serial,
                         sacme_time_rfc3339(unit_pool, na)), NULL), 1);
    /* due now: looked at again now (the renewal is the work); the 7d
     * alert's time matters once nothing is due (below) */
    ck_assert(next == now);

    /* logged with the serial, the threshold, rising severity, and what to do */
    ck_assert_int_eq(unit_log_count(r.log, "SACME10090: "), 2);
    line = unit_logged(r.log, "the 30d alert threshold", &level);
    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(level, SACME_LOG_NOTICE);
    ck_assert_ptr_nonnull(strstr(line, serial));
    ck_assert_ptr_nonnull(strstr(line, "expires in 10.0 days"));
    ck_assert_ptr_nonnull(strstr(line, "the renewal is due but has not succeeded yet"));
    ck_assert_ptr_nonnull(unit_logged(r.log, "the 14d alert threshold", &level));
    ck_assert_int_eq(level, SACME_LOG_WARNING);

    /* checked again, and by a new driver over the same store (a restart):
     * nothing more */
    ck_assert_int_eq(rig_check(&r, now + HOUR, &next), SACME_WHY_RENEW);
    rig_make(&r, store);
    ck_assert_int_eq(rig_check(&r, now + 2 * HOUR, &next), SACME_WHY_RENEW);
    ck_assert_int_eq(rig_events(&r)->nelts, 2);
    ck_assert_int_eq(unit_log_count(r.log, "SACME10090: "), 0);

    /* 7d, when its time comes, at ERROR */
    ck_assert_int_eq(rig_check(&r, na - 7 * DAY, &next), SACME_WHY_RENEW);
    events = rig_events(&r);
    ck_assert_int_eq(events->nelts, 3);
    ck_assert_int_eq(count_events(events, apr_psprintf(
                         unit_pool, "expiring " NAME "|7d|%s|7|%s", serial,
                         sacme_time_rfc3339(unit_pool, na)), NULL), 1);
    ck_assert_ptr_nonnull(unit_logged(r.log, "the 7d alert threshold", &level));
    ck_assert_int_eq(level, SACME_LOG_ERR);
}
END_TEST

START_TEST(test_drive_alerts_new_certificate)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next;
    apr_array_header_t *events;
    const char *second;
    rig_t r;

    rig_make(&r, store);
    rig_live(&r, now - 80 * DAY, now + 10 * DAY);
    rig_check(&r, now, &next);
    ck_assert_int_eq(rig_events(&r)->nelts, 2);

    /* a fresh certificate in service raises nothing... */
    rig_live(&r, now - HOUR, now + 90 * DAY - HOUR);
    ck_assert_int_eq(rig_check(&r, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(rig_events(&r)->nelts, 2);

    /* ...and one that runs out starts from none raised: all three */
    second = rig_live(&r, now - 85 * DAY, now + 5 * DAY);
    rig_check(&r, now, &next);
    events = rig_events(&r);
    ck_assert_int_eq(events->nelts, 5);
    ck_assert_int_eq(count_events(events, "|30d|", second), 1);
    ck_assert_int_eq(count_events(events, "|14d|", second), 1);
    ck_assert_int_eq(count_events(events, "|7d|", second), 1);
}
END_TEST

START_TEST(test_drive_alerts_wait_for_the_renewal)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next, renew_at;
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    rig_t r;

    rig_make(&r, store);
    r.dom.renew_window.percent = 0;
    r.dom.renew_window.duration = 10 * DAY;
    rig_live(&r, now - 70 * DAY, now + 20 * DAY);
    ck_assert_int_eq(sacme_store_load_chain(r.d->store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                            &chain, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_cert_info(unit_pool, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info),
                     APR_SUCCESS);
    renew_at = sacme_drive_renew_at(&r.dom, info);

    /* below 30d, but renewing at 10 days left is what the admin asked for */
    ck_assert_int_eq(rig_check(&r, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(rig_events(&r)->nelts, 0);
    /* looked at again when renewing, and an hour later for the alerts */
    ck_assert(next == renew_at);
    ck_assert_int_eq(rig_check(&r, renew_at, &next), SACME_WHY_RENEW);
    ck_assert(next == renew_at);
    ck_assert_int_eq(rig_events(&r)->nelts, 0);
    rig_check(&r, renew_at + SACME_WARN_GRACE, &next);
    ck_assert_int_eq(rig_events(&r)->nelts, 2);
}
END_TEST

START_TEST(test_drive_alerts_short_lived)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next;
    apr_array_header_t *events;
    const char *line;
    rig_t r;

    /* a 7-day certificate with 2 days left: below 30d scaled (56 h), not
     * below 14d scaled (26 h); unscaled it would be below all three */
    rig_make(&r, store);
    rig_live(&r, now - 5 * DAY, now + 2 * DAY);
    rig_check(&r, now, &next);
    events = rig_events(&r);
    ck_assert_int_eq(events->nelts, 1);
    ck_assert_int_eq(count_events(events, "|30d|", "|2|"), 1);
    line = unit_logged(r.log, "SACME10090: ", NULL);
    ck_assert_ptr_nonnull(strstr(line, "(2.3 days for its lifetime of 7.0 days)"));
}
END_TEST

START_TEST(test_drive_alerts_say_what_to_do)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next;
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_chain_t chain;
    rig_t r;
    int level;

    /* renewals failing: the CA's words and the next attempt */
    rig_make(&r, store);
    rig_live(&r, now - 80 * DAY, now + 10 * DAY);
    unit_write_text(rig_staging(&r, SACME_FILE_JOB),
                    "{\"errors\": 4, \"next-attempt\": 1, \"last\": {\"status\": 20014, "
                    "\"detail\": \"the CA said no to quokkas\"}}", SACME_FPROT_PUBLIC);
    rig_check(&r, now, &next);
    ck_assert_ptr_nonnull(strstr(unit_logged(r.log, "SACME10090: ", NULL),
                                 "the renewal keeps failing (last: the CA said no to "
                                 "quokkas)"));

    /* a new certificate waits for a restart */
    rig_make(&r, apr_pstrcat(unit_pool, store, "-2", NULL));
    rig_live(&r, now - 80 * DAY, now + 10 * DAY);
    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, NAME, r.dom.names, now - HOUR,
                                                          now + 90 * DAY, NULL, NULL, 0);
    ck_assert_int_eq(sacme_key_save(key, rig_staging(&r, SACME_FILE_KEY), unit_pool, NULL),
                     APR_SUCCESS);
    unit_write_text(rig_staging(&r, SACME_FILE_CHAIN), sacme_chain_pem(&chain, unit_pool),
                    SACME_FPROT_PUBLIC);
    ck_assert_int_eq(rig_check(&r, now, &next), SACME_WHY_STAGED);
    ck_assert_ptr_nonnull(strstr(unit_logged(r.log, "SACME10090: ", NULL),
                                 "staged and goes into service at the next graceful restart"));

    /* expired: said so, at ERROR, whatever the threshold */
    rig_make(&r, apr_pstrcat(unit_pool, store, "-3", NULL));
    rig_live(&r, now - 91 * DAY, now - DAY);
    rig_check(&r, now, &next);
    ck_assert_int_eq(unit_log_count(r.log, "SACME10091: "), 3);
    ck_assert_ptr_nonnull(unit_logged(r.log, "EXPIRED", &level));
    ck_assert_int_eq(level, SACME_LOG_ERR);
}
END_TEST

START_TEST(test_drive_alerts_off)
{
    const char *store = rig_store();
    apr_time_t now = rig_now(), next;
    sacme_warn_t none = { 0, { 0 } };
    rig_t r;

    /* SacmeWarnWindow none */
    rig_make(&r, store);
    r.d->warn = &none;
    rig_live(&r, now - 85 * DAY, now + 5 * DAY);
    rig_check(&r, now, &next);
    ck_assert_int_eq(rig_events(&r)->nelts, 0);
    ck_assert_int_eq(unit_log_count(r.log, "SACME1009"), 0);
    ck_assert(!sacme_file_exists(sacme_store_path(r.d->store, unit_pool, SACME_GROUP_STAGING,
                                                  NAME, SACME_FILE_ALERTS), unit_pool));
}
END_TEST

/* A <SacmeDomainSet>'s own alerts and notify command take the place of
 * the driver's (the defaults) for its domain. */
START_TEST(test_drive_alerts_per_domain)
{
    static const char *const ten[] = { "10d" };
    const char *store = rig_store(), *why, *driver_out;
    const char *script = apr_pstrcat(unit_pool, unit_tmpdir(), "/notify-own.sh", NULL);
    const char **cmd = apr_pcalloc(unit_pool, 2 * sizeof(*cmd));
    apr_time_t now = rig_now(), next;
    sacme_warn_t none = { 0, { 0 } }, own;
    apr_array_header_t *events;
    rig_t r;

    /* its "none" silences the driver's default thresholds */
    rig_make(&r, store);
    r.dom.warn = &none;
    rig_live(&r, now - 85 * DAY, now + 5 * DAY);
    rig_check(&r, now, &next);
    ck_assert_int_eq(rig_events(&r)->nelts, 0);
    ck_assert_int_eq(unit_log_count(r.log, "SACME1009"), 0);

    /* its thresholds and its command, where the driver has neither */
    rig_make(&r, apr_pstrcat(unit_pool, store, "-2", NULL));
    ck_assert_int_eq(sacme_warn_parse(1, ten, &own, unit_pool, &why), APR_SUCCESS);
    r.d->warn = &none;
    r.dom.warn = &own;
    driver_out = r.out;
    r.out = apr_pstrcat(unit_pool, unit_tmpdir(), "/events-own.txt", NULL);
    unit_write_text(script, apr_pstrcat(unit_pool, "#!/bin/sh\n"
                                        "echo \"$1 $2|$SACME_THRESHOLD\" >> ", r.out,
                                        "\n", NULL), 0755);
    cmd[0] = script;
    r.dom.notify_cmd = cmd;
    rig_live(&r, now - 85 * DAY, now + 5 * DAY);
    rig_check(&r, now, &next);
    events = rig_events(&r);
    ck_assert_int_eq(events->nelts, 1);
    ck_assert_int_eq(count_events(events, "expiring " NAME, "|10d"), 1);
    ck_assert(!sacme_file_exists(driver_out, unit_pool));
}
END_TEST

Suite *unit_suite_warn(void)
{
    Suite *s = suite_create("warn");
    TCase *tc = tcase_create("rules");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_warn_defaults);
    tcase_add_test(tc, test_warn_parse);
    tcase_add_test(tc, test_warn_parse_refuses);
    tcase_add_test(tc, test_warn_levels);
    tcase_add_test(tc, test_warn_scaling);
    tcase_add_test(tc, test_warn_pending_once_per_threshold);
    tcase_add_test(tc, test_warn_new_certificate_resets);
    tcase_add_test(tc, test_warn_waits_for_the_renewal);
    suite_add_tcase(s, tc);

    tc = tcase_create("driver");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_drive_alerts_raised_once);
    tcase_add_test(tc, test_drive_alerts_new_certificate);
    tcase_add_test(tc, test_drive_alerts_wait_for_the_renewal);
    tcase_add_test(tc, test_drive_alerts_short_lived);
    tcase_add_test(tc, test_drive_alerts_say_what_to_do);
    tcase_add_test(tc, test_drive_alerts_off);
    tcase_add_test(tc, test_drive_alerts_per_domain);
    suite_add_tcase(s, tc);
    return s;
}
