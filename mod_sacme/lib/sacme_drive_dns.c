/* dns-01 for the driver (sacme_drive_dns.h). */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include <apr_strings.h>

#include "sacme_drive_dns.h"
#include "sacme_b64.h"
#include "sacme_dns.h"
#include "sacme_json.h"
#include "sacme_spawn.h"
#include "sacme_time.h"

#define DEFAULT_TIMEOUT apr_time_from_sec(120)
#define CHECK_EVERY     apr_time_from_sec(1)   /* between two looks at DNS */
#define QUERY_TIMEOUT   apr_time_from_sec(3)   /* one exchange with the resolver */
#define RECORDS_MAX     200                    /* entries of dns.json: 2 per name */
#define PREFIX          "_acme-challenge."

const char *sacme_dns01_value(apr_pool_t *p, const char *key_authz)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!EVP_Digest(key_authz, strlen(key_authz), md, &n, EVP_sha256(), NULL)) {
        return NULL;
    }
    return sacme_b64url_encode(p, md, n);
}

static apr_interval_time_t timeout_of(const sacme_domain_t *dom)
{
    return dom->dns_timeout > 0 ? dom->dns_timeout : DEFAULT_TIMEOUT;
}

/* The command line for the log: the program and its arguments. */
static const char *cmd_text(apr_pool_t *p, const char *const *cmd)
{
    const char *s = cmd[0];
    int i;

    for (i = 1; cmd[i]; ++i) {
        s = apr_pstrcat(p, s, " ", cmd[i], NULL);
    }
    return s;
}

/* --- dns.json ------------------------------------------------------------------ */

/* {"records": [{"name", "value", "command": [argv], "added"}]} */
static json_t *records_load(sacme_driver_t *d, const char *domain, apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(d->store, p, SACME_STATE_DNS, domain, NULL);

    if (!j || !json_is_array(sacme_json_arr(j, "records"))) {
        j = sacme_json_own(p, json_object());
        json_object_set_new(j, "records", json_array());
    }
    return j;
}

static apr_status_t records_save(sacme_driver_t *d, const char *domain, json_t *j,
                                 apr_pool_t *p, sacme_result_t *res)
{
    if (json_array_size(sacme_json_arr(j, "records")) == 0) {
        return sacme_store_state_remove(d->store, p, SACME_STATE_DNS, domain, res);
    }
    return sacme_store_state_save(d->store, p, SACME_STATE_DNS, domain, j, res);
}

static json_t *cmd_json(const char *const *cmd)
{
    json_t *a = json_array();
    int i;

    for (i = 0; cmd[i]; ++i) {
        json_array_append_new(a, json_string(cmd[i]));
    }
    return a;
}

static int cmd_equal(const json_t *a, const char *const *cmd)
{
    size_t i;

    if (!json_is_array(a) || !cmd) {
        return 0;
    }
    for (i = 0; i < json_array_size(a); ++i) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !cmd[i] || strcmp(s, cmd[i])) {
            return 0;
        }
    }
    return cmd[i] == NULL;
}

/* The index of the entry for name and value, or -1. */
static long record_find(const json_t *records, const char *name, const char *value)
{
    size_t i;

    for (i = 0; i < json_array_size(records); ++i) {
        const json_t *r = json_array_get(records, i);
        const char *n = sacme_json_str(r, "name"), *v = sacme_json_str(r, "value");
        if (n && v && !strcasecmp(n, name) && !strcmp(v, value)) {
            return (long)i;
        }
    }
    return -1;
}

/* --- running the command ------------------------------------------------------ */

/* Runs CMD... VERB NAME VALUE; NULL when it succeeded, else what went
 * wrong with its output, for the log and the result. */
static const char *run_cmd(const char *const *cmd, const char *verb, const char *name,
                           const char *value, apr_interval_time_t timeout,
                           apr_pool_t *p, apr_status_t *rv)
{
    apr_array_header_t *argv = apr_array_make(p, 8, sizeof(const char *));
    sacme_spawn_end_t end;
    const char *why = NULL, *what;
    int i;

    for (i = 0; cmd[i]; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = cmd[i];
    }
    APR_ARRAY_PUSH(argv, const char *) = verb;
    APR_ARRAY_PUSH(argv, const char *) = name;
    APR_ARRAY_PUSH(argv, const char *) = value;
    APR_ARRAY_PUSH(argv, const char *) = NULL;

    *rv = sacme_spawn_run(p, (const char *const *)argv->elts, timeout, &end, &why);
    if (*rv != APR_SUCCESS) {
        *rv = SACME_EDNS;
        return apr_psprintf(p, "cannot start it: %s", why);
    }
    if (end.timed_out) {
        what = apr_psprintf(p, "killed after the %" APR_TIME_T_FMT " s timeout "
                            "(SacmeDnsTimeout)", apr_time_sec(timeout + APR_USEC_PER_SEC - 1));
    }
    else if (end.signal) {
        what = apr_psprintf(p, "ended by signal %d", end.signal);
    }
    else if (end.code != 0) {
        what = apr_psprintf(p, "exited with %d", end.code);
    }
    else if (end.err_seen) {
        what = "exited with 0 but wrote to stderr";
    }
    else {
        return NULL;
    }
    *rv = SACME_EDNS;
    return apr_psprintf(p, "%s; stderr: %s; stdout: %s", what,
                        *end.err ? end.err : "(nothing)",
                        *end.out ? end.out : "(nothing)");
}

/* --- publishing ------------------------------------------------------------------ */

/* Whether name is one of dom's names, or the base of one of its wildcards
 * (a wildcard's authorization is for the base name, RFC 8555 §7.1.3). */
static int is_ours(const sacme_domain_t *dom, const char *name)
{
    int i;

    for (i = 0; i < dom->names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(dom->names, i, const char *);
        if (!strncmp(n, "*.", 2)) {
            n += 2;
        }
        if (!strcasecmp(n, name)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t sacme_drive_dns_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                     int setup, const sacme_chal_pub_t *pub,
                                     apr_pool_t *p, sacme_result_t *res)
{
    const char *name, *value, *failed;
    json_t *j, *records, *r;
    apr_status_t rv;
    long at;

    if (!dom->dns_cmd || !dom->dns_cmd[0]) {
        return sacme_result_set(res, SACME_ECONFIG, "dns-01 for %s needs a command "
                                "that sets up TXT records: configure SacmeDnsCmd",
                                pub->name);
    }
    /* The name comes from the CA: only one of ours reaches the command. */
    if (!is_ours(dom, pub->name)) {
        return sacme_result_set(res, APR_EINVAL, "the CA's dns-01 challenge is for "
                                "'%s', which is not a name of %s", pub->name, dom->name);
    }
    name = apr_pstrcat(p, PREFIX, pub->name, NULL);
    value = sacme_dns01_value(p, pub->key_authz);
    if (!value) {
        return sacme_result_set(res, APR_EGENERAL, "cannot compute the dns-01 value "
                                "for %s", pub->name);
    }
    j = records_load(d, dom->name, p);
    records = sacme_json_arr(j, "records");
    at = record_find(records, name, value);

    if (setup) {
        /* Recorded first: a kill during the command leaves the record known. */
        if (at < 0) {
            if (json_array_size(records) >= RECORDS_MAX) {
                return sacme_result_set(res, APR_ENOSPC, "%s already lists %d dns-01 "
                                        "records not yet torn down", "dns.json",
                                        RECORDS_MAX);
            }
            r = json_object();
            json_object_set_new(r, "name", json_string(name));
            json_object_set_new(r, "value", json_string(value));
            json_object_set_new(r, "command", cmd_json(dom->dns_cmd));
            json_object_set_new(r, "added",
                                json_string(sacme_time_rfc3339(p, apr_time_now())));
            json_array_append_new(records, r);
            if ((rv = records_save(d, dom->name, j, p, res)) != APR_SUCCESS) {
                sacme_result_prefix(res, "cannot record the TXT record %s before "
                                    "setting it up", name);
                return rv;
            }
        }
        failed = run_cmd(dom->dns_cmd, "setup", name, value, timeout_of(dom), p, &rv);
        if (failed) {
            sacme_log(d->log, SACME_LOG_ERR, 0, SACME_LOGNO(10470)
                      "%s: the DNS command could not set up TXT %s: %s %s; fix the "
                      "command (try it by hand as the driver's user: "
                      "env -i %s setup %s %s); the attempt is retried after the "
                      "backoff", dom->name, name, cmd_text(p, dom->dns_cmd), failed,
                      cmd_text(p, dom->dns_cmd), name, value);
            return sacme_result_set(res, rv, "the DNS command %s could not set up "
                                    "TXT %s: %s", dom->dns_cmd[0], name, failed);
        }
        sacme_log(d->log, SACME_LOG_INFO, 0, SACME_LOGNO(10472)
                  "%s: TXT %s set up by the DNS command", dom->name, name);
        return APR_SUCCESS;
    }

    failed = run_cmd(dom->dns_cmd, "teardown", name, value, timeout_of(dom), p, &rv);
    if (failed) {
        sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10471)
                  "%s: the DNS command could not tear down TXT %s (value %s): %s %s; "
                  "it stays recorded in dns.json and is tried again after this "
                  "attempt and at the driver's next start; remove it by hand if "
                  "the command cannot", dom->name,
                  name, value, cmd_text(p, dom->dns_cmd), failed);
        return sacme_result_set(res, rv, "the DNS command %s could not tear down TXT "
                                "%s: %s", dom->dns_cmd[0], name, failed);
    }
    sacme_log(d->log, SACME_LOG_INFO, 0, SACME_LOGNO(10473)
              "%s: TXT %s torn down by the DNS command", dom->name, name);
    if (at >= 0) {
        json_array_remove(records, (size_t)at);
        /* not fatal: a record torn down twice is harmless */
        records_save(d, dom->name, j, p, NULL);
    }
    return APR_SUCCESS;
}

/* --- waiting for DNS -------------------------------------------------------------- */

/* The dns-01 records of published DNS does not show yet, as a list for a
 * message; NULL when every one is there. */
static const char *missing_records(sacme_driver_t *d, const sacme_domain_t *dom,
                                   const char *host, apr_port_t port,
                                   const apr_array_header_t *published,
                                   apr_time_t deadline, apr_pool_t *p,
                                   const char **last_err)
{
    const char *missing = NULL;
    apr_interval_time_t wait;
    int i, k, found;

    for (i = 0; i < published->nelts; ++i) {
        const sacme_chal_pub_t *pub = APR_ARRAY_IDX(published, i, sacme_chal_pub_t *);
        apr_array_header_t *values;
        const char *name, *value, *why = NULL;

        if (strcmp(pub->type, "dns-01")) {
            continue;
        }
        name = apr_pstrcat(p, PREFIX, pub->name, NULL);
        value = sacme_dns01_value(p, pub->key_authz);
        found = 0;
        /* a silent server must not stretch a round past the deadline */
        wait = deadline - apr_time_now();
        if (wait > QUERY_TIMEOUT) {
            wait = QUERY_TIMEOUT;
        }
        if (wait <= 0) {
            missing = missing ? apr_pstrcat(p, missing, ", ", name, NULL) : name;
            continue;
        }
        if (sacme_dns_txt(p, host, port, name, wait, &values, &why) == APR_SUCCESS) {
            for (k = 0; k < values->nelts && !found; ++k) {
                found = value && !strcmp(APR_ARRAY_IDX(values, k, const char *), value);
            }
        }
        else {
            *last_err = apr_psprintf(p, "%s: %s", name, why);
            sacme_log(d->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10474)
                      "%s: SacmeDnsCheck %s about TXT %s: %s", dom->name,
                      dom->dns_check, name, why);
        }
        if (!found) {
            missing = missing ? apr_pstrcat(p, missing, ", ", name, NULL) : name;
        }
    }
    return missing;
}

apr_status_t sacme_drive_dns_ready(sacme_driver_t *d, const sacme_domain_t *dom,
                                   const apr_array_header_t *published,
                                   apr_pool_t *p, sacme_result_t *res)
{
    apr_time_t start = apr_time_now(), deadline = start + timeout_of(dom);
    apr_interval_time_t left;
    const char *host, *bad, *missing, *last_err = NULL;
    apr_port_t port;
    apr_pool_t *round;

    if (!dom->dns_check) {
        return APR_SUCCESS;
    }
    /* checked at start-up already (SacmeDnsCheck) */
    if ((bad = sacme_dns_parse_server(p, dom->dns_check, &host, &port))) {
        return sacme_result_set(res, SACME_ECONFIG, "SacmeDnsCheck: %s", bad);
    }
    apr_pool_create(&round, p);
    for (;;) {
        apr_pool_clear(round);
        last_err = NULL;            /* it lived in round: this round's only */
        missing = missing_records(d, dom, host, port, published, deadline, round,
                                  &last_err);
        if (!missing) {
            break;
        }
        if (apr_time_now() >= deadline) {
            missing = apr_pstrdup(p, missing);
            last_err = last_err ? apr_pstrdup(p, last_err) : NULL;
            sacme_log(d->log, SACME_LOG_ERR, 0, SACME_LOGNO(10475)
                      "%s: %s does not show TXT %s after %" APR_TIME_T_FMT " s "
                      "(SacmeDnsTimeout)%s%s; the records are torn down and the "
                      "attempt is retried after the backoff: check that the DNS "
                      "command updates the zone that server serves, or raise "
                      "SacmeDnsTimeout for a slow provider", dom->name,
                      dom->dns_check, missing, apr_time_sec(apr_time_now() - start),
                      last_err ? "; last error: " : "", last_err ? last_err : "");
            apr_pool_destroy(round);
            return sacme_result_set(res, SACME_EDNS, "SacmeDnsCheck: %s does not show "
                                    "TXT %s after %" APR_TIME_T_FMT " s", dom->dns_check,
                                    missing, apr_time_sec(apr_time_now() - start));
        }
        /* the last look is at the deadline itself */
        left = deadline - apr_time_now();
        if (left > 0) {
            apr_sleep(left < CHECK_EVERY ? left : CHECK_EVERY);
        }
    }
    apr_pool_destroy(round);
    sacme_log(d->log, SACME_LOG_INFO, 0, SACME_LOGNO(10476)
              "%s: %s shows every dns-01 record (after %" APR_TIME_T_FMT " s)",
              dom->name, dom->dns_check, apr_time_sec(apr_time_now() - start));
    return APR_SUCCESS;
}

/* --- leftovers ---------------------------------------------------------------------- */

/* A configured command equal to the recorded one, or NULL: only what the
 * admin configures now is run. domains NULL: dom's own command only. */
static const char *const *configured_cmd(const apr_array_header_t *domains,
                                         const json_t *recorded,
                                         const sacme_domain_t **owner)
{
    int i;

    if (!domains) {
        return cmd_equal(recorded, (*owner)->dns_cmd) ? (*owner)->dns_cmd : NULL;
    }
    for (i = 0; i < domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(domains, i, const sacme_domain_t *);
        if (cmd_equal(recorded, dom->dns_cmd)) {
            *owner = dom;
            return dom->dns_cmd;
        }
    }
    return NULL;
}

/* Tears down every record dom's dns.json lists, each with a command of
 * domains (NULL: dom's) equal to the recorded one; returns how many went. */
static int leftovers(sacme_driver_t *d, const sacme_domain_t *dom,
                     const apr_array_header_t *domains, apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(d->store, p, SACME_STATE_DNS, dom->name, NULL);
    json_t *records = sacme_json_arr(j, "records");
    size_t k;
    int done = 0;

    if (!records || !json_array_size(records)) {
        return 0;
    }
    for (k = 0; k < json_array_size(records);) {
        json_t *r = json_array_get(records, k);
        const char *name = sacme_json_str(r, "name");
        const char *value = sacme_json_str(r, "value");
        const sacme_domain_t *owner = dom;
        const char *const *cmd = configured_cmd(domains, json_object_get(r, "command"),
                                                &owner);
        const char *failed;
        apr_status_t rv;

        if (!name || !value || !cmd) {
            sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10477)
                      "%s: a dns-01 record left behind (TXT %s, value %s) was set up "
                      "by a command that is no longer configured; remove it from DNS "
                      "by hand", dom->name, name ? name : "?", value ? value : "?");
            json_array_remove(records, k);
            continue;
        }
        failed = run_cmd(cmd, "teardown", name, value, timeout_of(owner), p, &rv);
        if (failed) {
            sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10478)
                      "%s: the DNS command could not tear down TXT %s (value %s) "
                      "left behind: %s %s; it stays recorded and is tried again "
                      "after the domain's next attempt and at the driver's next "
                      "start", dom->name, name, value, cmd_text(p, cmd), failed);
            ++k;
            continue;
        }
        sacme_log(d->log, SACME_LOG_INFO, 0, SACME_LOGNO(10481)
                  "%s: TXT %s torn down by the DNS command (left behind)", dom->name,
                  name);
        ++done;
        json_array_remove(records, k);
    }
    records_save(d, dom->name, j, p, NULL);
    return done;
}

void sacme_drive_dns_sweep(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p)
{
    if (dom->dns_cmd) {
        leftovers(d, dom, NULL, p);
    }
}

/* The configured domain stored as name, or NULL. */
static const sacme_domain_t *configured(const apr_array_header_t *domains,
                                        const char *name)
{
    int i;

    for (i = 0; i < domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(domains, i, const sacme_domain_t *);
        if (!strcmp(dom->name, name)) {
            return dom;
        }
    }
    return NULL;
}

int sacme_drive_dns_cleanup(sacme_driver_t *d, const apr_array_header_t *domains,
                            apr_pool_t *p)
{
    apr_array_header_t *names;
    sacme_result_t *res = sacme_result_make(p);
    apr_pool_t *dp;
    int i, done = 0;

    /* every domain's, configured or not any more: a record of a domain
     * taken out of the configuration is still in DNS */
    if (sacme_store_state_names(d->store, p, SACME_STATE_DNS, 100000, &names, res)
            != APR_SUCCESS) {
        sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10482)
                  "driver: cannot look for dns-01 records left in the store: %s; "
                  "they are torn down at the next start that can",
                  sacme_result_message(res, p));
        return 0;
    }
    apr_pool_create(&dp, p);
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const sacme_domain_t *dom = configured(domains, name);
        sacme_domain_t *gone;

        apr_pool_clear(dp);
        if (!dom) {
            /* no longer configured: named for the log, torn down with a
             * configured command equal to the recorded one */
            gone = apr_pcalloc(dp, sizeof(*gone));
            gone->name = name;
            dom = gone;
        }
        /* An order in progress may be under validation right now: its
         * records stay, and its resumed issuance tears them down. */
        else if (sacme_store_state_load(d->store, dp, SACME_STATE_ORDER, dom->name,
                                        NULL)) {
            continue;
        }
        done += leftovers(d, dom, domains, dp);
    }
    apr_pool_destroy(dp);
    if (done) {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10479)
                  "driver: tore down %d dns-01 record(s) left by an earlier driver",
                  done);
    }
    return done;
}
