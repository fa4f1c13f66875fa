/* Driving managed domains to staged certificate sets. */
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <apr_atomic.h>

#include "sacme_drive.h"
#include "sacme_drive_ari.h"
#include "sacme_drive_alpn.h"
#include "sacme_drive_dns.h"
#include "sacme_chaltype.h"
#include "sacme_acct.h"
#include "sacme_issue.h"
#include "sacme_order.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_profile.h"
#include "sacme_rand.h"
#include "sacme_request.h"
#include "sacme_time.h"

const char *sacme_why_str(sacme_why_t why)
{
    switch (why) {
    case SACME_WHY_STAGED:   return "staged, waiting for activation";
    case SACME_WHY_NO_CERT:  return "no certificate yet";
    case SACME_WHY_NAMES:    return "the certificate lacks a configured name";
    case SACME_WHY_KEY_TYPE: return "the key type changed";
    case SACME_WHY_RENEW:    return "renewal window reached";
    case SACME_WHY_RESUME:   return "order in progress";
    case SACME_WHY_REQUESTED: return "a new certificate was requested";
    case SACME_WHY_PROFILE:  return "the profile changed";
    case SACME_WHY_ARI:      return "the CA's renewal information is due";
    default:                 return "nothing to do";
    }
}

/* --- small helpers ---------------------------------------------------------- */

const char *sacme_domain_unit_name(apr_pool_t *p, const char *name,
                                   sacme_key_type_t type)
{
    return apr_pstrcat(p, name, "+", sacme_key_type_name(type), NULL);
}

sacme_domain_t *sacme_domain_add_key(apr_pool_t *p, sacme_domain_t *dom,
                                     sacme_key_type_t type)
{
    sacme_domain_t *unit = apr_pmemdup(p, dom, sizeof(*dom)), *last = dom;

    while (last->next_key) {
        last = last->next_key;
    }
    unit->name = sacme_domain_unit_name(p, dom->name, type);
    unit->key_type = type;
    unit->primary = dom;
    unit->next_key = NULL;
    last->next_key = unit;
    return unit;
}

static int names_equal(const apr_array_header_t *a, const json_t *b)
{
    int i;

    if (!json_is_array(b) || (size_t)a->nelts != json_array_size(b)) {
        return 0;
    }
    for (i = 0; i < a->nelts; ++i) {
        const char *s = json_string_value(json_array_get(b, (size_t)i));
        if (!s || strcasecmp(s, APR_ARRAY_IDX(a, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

static json_t *read_json(sacme_driver_t *d, apr_pool_t *p, const char *name,
                         sacme_state_t which)
{
    return sacme_store_state_load(d->store, p, which, name, NULL);
}

static apr_status_t write_json(sacme_driver_t *d, apr_pool_t *p, const char *name,
                               sacme_state_t which, json_t *j, sacme_result_t *res)
{
    return sacme_store_state_save(d->store, p, which, name, j, res);
}

/* --- the next attempt that job.json could not hold ------------------------- */

/* When job.json cannot be written (a full disk, an unwritable directory),
 * the backoff must still hold: without it the domain would be looked at
 * again only after the check interval (12 h by default), or, with an admin
 * request pending, at every pass. The driver keeps the time in memory
 * instead; a driver restart forgets it, which only brings the next attempt
 * forward. */
typedef struct {
    apr_time_t next;           /* 0: nothing kept, job.json is the truth */
    apr_time_t updated;        /* when it was decided (job.json's "updated") */
    int errors;
} unsaved_t;

static void unsaved_lock(sacme_driver_t *d)
{
    if (d->unsaved_lock) {
        apr_thread_mutex_lock(d->unsaved_lock);
    }
}

static void unsaved_unlock(sacme_driver_t *d)
{
    if (d->unsaved_lock) {
        apr_thread_mutex_unlock(d->unsaved_lock);
    }
}

/* A copy of what is kept for name (next 0: nothing). */
static unsaved_t unsaved_get(sacme_driver_t *d, const char *name)
{
    unsaved_t copy = { 0, 0, 0 }, *u;

    unsaved_lock(d);
    if (d->unsaved && (u = apr_hash_get(d->unsaved, name, APR_HASH_KEY_STRING))) {
        copy = *u;
    }
    unsaved_unlock(d);
    return copy;
}

/* Keeps it (next > 0) or forgets it (next 0). An entry is made once per
 * domain and reused, so a long stretch of failed writes costs no memory. */
static void unsaved_set(sacme_driver_t *d, const char *name, apr_time_t next,
                        apr_time_t updated, int errors)
{
    unsaved_t *u;

    unsaved_lock(d);
    if (!d->unsaved && next) {
        d->unsaved = apr_hash_make(d->p);
    }
    u = d->unsaved ? apr_hash_get(d->unsaved, name, APR_HASH_KEY_STRING) : NULL;
    if (!u && next) {
        u = apr_pcalloc(d->p, sizeof(*u));
        apr_hash_set(d->unsaved, apr_pstrdup(d->p, name), APR_HASH_KEY_STRING, u);
    }
    if (u) {
        u->next = next;
        u->updated = updated;
        u->errors = errors;
    }
    unsaved_unlock(d);
}

/* Writes job.json; when that fails, the next attempt is kept in memory and
 * the log says so, with the error, so the admin knows what to fix and that
 * the backoff holds. */
static void save_job(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p,
                     json_t *job, apr_time_t next, apr_time_t updated, int errors)
{
    sacme_result_t *wres = sacme_result_make(p);

    if (write_json(d, p, dom->name, SACME_STATE_JOB, job, wres) == APR_SUCCESS) {
        unsaved_set(d, dom->name, 0, 0, 0);
        return;
    }
    unsaved_set(d, dom->name, next, updated, errors);
    sacme_log(d->log, SACME_LOG_ERR, wres->status, SACME_LOGNO(10200)
              "%s: cannot record the next attempt in job.json (%s): it is kept in "
              "the driver's memory (next attempt at %s; a driver restart forgets it "
              "and tries at once); free space in the store or make the domain's "
              "staging directory writable for the driver", dom->name,
              sacme_result_message(wres, p), sacme_time_rfc3339(p, next));
}

/* --- deciding --------------------------------------------------------------- */

/* A staged set that still fits the configuration waits for activation;
 * one that does not (names, key type or profile changed since) is dropped. Only the
 * leaf is read: the key type is its public key's, which was checked against
 * the private key when the set was staged and is checked again by the
 * parent before activation. Parsing a private key costs more in OpenSSL 3
 * than the rest of this check, which runs after every attempt. */
static int staged_fits(sacme_driver_t *d, const sacme_domain_t *dom,
                       apr_time_t now, apr_pool_t *p)
{
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    X509 *leaf;

    if (!sacme_store_has_set(d->store, p, SACME_GROUP_STAGING, dom->name)) {
        return 0;
    }
    if (sacme_store_load_leaf(d->store, p, SACME_GROUP_STAGING, dom->name, &chain,
                              NULL) == APR_SUCCESS
        && sacme_cert_info(p, (leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *)),
                           &info) == APR_SUCCESS
        && sacme_cert_info_covers(info, dom->names)
        && sacme_key_type_of(X509_get0_pubkey(leaf)) == dom->key_type
        && info->not_after > now
        && !sacme_profile_changed(dom->profile, read_json(d, p, dom->name,
                                                          SACME_STATE_ISSUED),
                                  info->serial)) {
        return 1;
    }
    sacme_store_unstage(d->store, p, dom->name, SACME_UNSTAGE_CHAIN);
    return 0;
}

apr_time_t sacme_drive_renew_at(const sacme_domain_t *dom,
                                const sacme_cert_info_t *info)
{
    /* A stable per-name jitter (up to a tenth of the window) spreads the
     * renewals of many domains without moving them at every restart. */
    return sacme_window_renew_at(&dom->renew_window, info->not_before,
                                 info->not_after, dom->name, dom->jitter_seed, 0.1);
}

static const char *human(apr_pool_t *p, apr_interval_time_t t);

/* Tells the admin, once per domain and key type in this driver's life (a
 * graceful restart starts a new driver, so it comes again after each
 * activation, not at every look), that the window written is longer than
 * half of the certificate's lifetime and what applies instead. Without it
 * a renewal later than configured would be a mystery. */
static void tell_clamped(sacme_driver_t *d, const sacme_domain_t *dom,
                         const sacme_cert_info_t *info, apr_pool_t *p)
{
    int told;

    if (!sacme_window_clamped(&dom->renew_window, info->not_before, info->not_after)) {
        return;
    }
    unsaved_lock(d);
    if (!d->clamp_told) {
        d->clamp_told = apr_hash_make(d->p);
    }
    told = apr_hash_get(d->clamp_told, dom->name, APR_HASH_KEY_STRING) != NULL;
    if (!told) {
        apr_hash_set(d->clamp_told, apr_pstrdup(d->p, dom->name), APR_HASH_KEY_STRING, "");
    }
    unsaved_unlock(d);
    if (told) {
        return;
    }
    sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10390)
              "%s: SacmeRenewWindow %s is longer than half of the lifetime of the "
              "certificate in service (%s, serial %s); renewing it %s before expiry "
              "instead (at %s), so that no certificate is renewed before half of "
              "its life has passed. Set SacmeRenewWindow to at most half the "
              "lifetime, or to a percentage like the default 33%%, to silence this",
              dom->name, sacme_window_str(p, &dom->renew_window),
              human(p, info->not_after - info->not_before), info->serial,
              human(p, sacme_window_length(&dom->renew_window, info->not_before,
                                           info->not_after)),
              sacme_time_rfc3339(p, sacme_drive_renew_at(dom, info)));
}

/* What the domain needs (see sacme_drive_check); *live_info is the
 * certificate in service when it was read on the way, NULL otherwise. */
static sacme_why_t decide(sacme_driver_t *d, const sacme_domain_t *dom,
                          apr_time_t now, apr_time_t *next_check, apr_pool_t *p,
                          const sacme_cert_info_t **live_info)
{
    sacme_chain_t *live;
    sacme_cert_info_t *info;
    X509 *leaf;
    json_t *job, *req;
    apr_time_t renew_at, next_attempt, updated;
    sacme_renewal_t ren;
    unsaved_t kept;

    *next_check = sacme_time_add(now, d->check_interval);
    if (staged_fits(d, dom, now, p)) {
        return SACME_WHY_STAGED;
    }
    req = sacme_request_get(d->store, p, dom->name);
    job = read_json(d, p, dom->name, SACME_STATE_JOB);
    next_attempt = apr_time_from_sec(json_integer_value(json_object_get(job, "next-attempt")));
    updated = sacme_time_rfc3339_parse(sacme_json_str(job, "updated"));
    /* The last attempt's outcome could not be written: what job.json says
     * (if anything) is older than what the driver remembers. */
    kept = unsaved_get(d, dom->name);
    if (kept.next) {
        next_attempt = kept.next;
        updated = kept.updated;
    }
    /* The admin's request goes past an error backoff once (someone is
     * waiting); an attempt for it that failed backs off like any other, so
     * a request the CA keeps refusing is not retried at every pass. */
    if (req && (next_attempt <= now
                || sacme_time_rfc3339_parse(sacme_json_str(req, "requested")) >= updated)) {
        return SACME_WHY_REQUESTED;
    }
    if (next_attempt > now) {
        *next_check = next_attempt;
        return SACME_WHY_NONE;
    }
    if (read_json(d, p, dom->name, SACME_STATE_ORDER)) {
        return SACME_WHY_RESUME;
    }
    /* The live key is root's: the certificate's public key tells the type. */
    if (sacme_store_load_leaf(d->store, p, SACME_GROUP_DOMAINS, dom->name, &live,
                              NULL) != APR_SUCCESS
        || sacme_cert_info(p, (leaf = APR_ARRAY_IDX(live->certs, 0, X509 *)),
                           &info) != APR_SUCCESS) {
        return SACME_WHY_NO_CERT;
    }
    *live_info = info;
    if (!sacme_cert_info_covers(info, dom->names)) {
        return SACME_WHY_NAMES;
    }
    if (sacme_key_type_of(X509_get0_pubkey(leaf)) != dom->key_type) {
        return SACME_WHY_KEY_TYPE;
    }
    /* The certificate does not say which profile it was ordered for: the
     * record written when it was staged does. */
    if (sacme_profile_changed(dom->profile,
                              read_json(d, p, dom->name, SACME_STATE_ISSUED),
                              info->serial)) {
        return SACME_WHY_PROFILE;
    }
    tell_clamped(d, dom, info, p);
    /* The CA's renewal information (ARI), where it has any, else the
     * local window. */
    sacme_drive_renewal(d->store, dom, info, now, p, &ren);
    renew_at = ren.renew_at;
    if (renew_at <= now) {
        return SACME_WHY_RENEW;
    }
    if (ren.poll_due) {
        return SACME_WHY_ARI;
    }
    if (renew_at < *next_check) {
        *next_check = renew_at;
    }
    if (ren.next_poll && ren.next_poll < *next_check) {
        *next_check = ren.next_poll;
    }
    return SACME_WHY_NONE;
}

/* --- expiry alerts ---------------------------------------------------------- */

/* Records what was raised (alerts.json); the store makes the domain's
 * staging directory if it was never driven (a certificate put in place by
 * hand). */
static void save_alerts(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p,
                        json_t *state)
{
    sacme_result_t *res = sacme_result_make(p);

    if (write_json(d, p, dom->name, SACME_STATE_ALERTS, state, res) != APR_SUCCESS) {
        /* Raised all the same: an alert repeated is better than one lost. */
        sacme_log(d->log, SACME_LOG_WARNING,
                  sacme_result_log_status(res), SACME_LOGNO(10092)
                  "%s: cannot record the alerts raised, they may be raised again: %s",
                  dom->name, sacme_result_message(res, p));
    }
}

/* A length of time for a log line: "9.5 days", "13.0 hours". */
static const char *human(apr_pool_t *p, apr_interval_time_t t)
{
    double secs = (double)t / APR_USEC_PER_SEC;

    return secs >= 86400.0 ? apr_psprintf(p, "%.1f days", secs / 86400.0)
                           : apr_psprintf(p, "%.1f hours", secs / 3600.0);
}

/* What the admin can do about a certificate running out, from what the
 * store says about its renewal. */
static const char *expiry_hint(sacme_driver_t *d, const sacme_domain_t *dom,
                               sacme_why_t why, apr_pool_t *p)
{
    json_t *job = read_json(d, p, dom->name, SACME_STATE_JOB);
    const char *waiting = sacme_json_str(job, "waiting");
    const char *last = sacme_json_str(sacme_json_obj(job, "last"), "detail");
    const char *next = sacme_time_rfc3339(p, apr_time_from_sec(json_integer_value(
                                                 json_object_get(job, "next-attempt"))));

    if (why == SACME_WHY_STAGED) {
        return "a renewed certificate is staged and goes into service at the next "
               "graceful restart (apachectl graceful)";
    }
    if (dom->cert_file) {
        return apr_psprintf(p, "the certificate comes from SacmeCertificateFile %s, "
                            "which mod_sacme does not renew: put a renewed pair in "
                            "its place and restart httpd gracefully (apachectl "
                            "graceful)", dom->cert_file);
    }
    if (waiting) {
        return apr_psprintf(p, "the CA is still working on the renewal order (%s); "
                            "looking again at %s", waiting, next);
    }
    if (job && json_object_get(job, "last")) {
        return apr_psprintf(p, "the renewal keeps failing (last: %s); next attempt at "
                            "%s; the SACME10024 lines tell why",
                            last ? last : "see SACME10024", next);
    }
    return "the renewal is due but has not succeeded yet: check that the driver "
           "runs (SACME10020) and look for SACME10024 lines";
}

/* The domain's own expiry alerts (a <SacmeDomainSet>'s), else the
 * driver's. */
static const sacme_warn_t *warn_of(const sacme_driver_t *d, const sacme_domain_t *dom)
{
    return dom->warn ? dom->warn : d->warn;
}

/* Logs and raises the expiring alerts that are due for the certificate in
 * service, each once (sacme_warn.h), and brings the next check forward to
 * the next alert to come. */
static void check_expiry(sacme_driver_t *d, const sacme_domain_t *dom, sacme_why_t why,
                         const sacme_cert_info_t *info, apr_time_t now,
                         apr_time_t *next_check, apr_pool_t *p)
{
    const sacme_warn_t *w = warn_of(d, dom);
    sacme_chain_t *chain;
    sacme_cert_info_t *loaded;
    json_t *state;
    apr_time_t next;
    apr_interval_time_t lifetime, left;
    const char *hint;
    int due[SACME_WARN_MAX], n, k;

    if (!info && dom->file_info) {
        info = dom->file_info;
    }
    if (!info) {
        if (sacme_store_load_leaf(d->store, p, SACME_GROUP_DOMAINS, dom->name, &chain,
                                  NULL) != APR_SUCCESS
            || sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &loaded)
                   != APR_SUCCESS) {
            return;             /* nothing in service, nothing expires */
        }
        info = loaded;
    }
    state = read_json(d, p, dom->name, SACME_STATE_ALERTS);
    n = sacme_warn_pending(w, state, info->serial, info->not_before, info->not_after,
                           /* no renewal of ours to wait for */
                           dom->cert_file ? info->not_before
                                          : sacme_drive_renew_at(dom, info),
                           now, due, &next);
    if (next && next < *next_check) {
        *next_check = next;
    }
    if (n == 0) {
        return;
    }
    /* Recorded before raised: a driver stopped in between (every restart
     * stops it) must not raise them again. */
    for (k = 0; k < n; ++k) {
        state = sacme_json_own(p, sacme_warn_mark(state, info->serial, w, due[k], now, p));
    }
    save_alerts(d, dom, p, state);

    hint = expiry_hint(d, dom, why, p);
    lifetime = info->not_after - info->not_before;
    left = info->not_after - now;
    for (k = 0; k < n; ++k) {
        int i = due[k];
        apr_interval_time_t eff = sacme_warn_effective(w, i, lifetime);
        const char *threshold = sacme_warn_str(p, w, i);
        sacme_event_t ev;

        memset(&ev, 0, sizeof(ev));
        ev.event = "expiring";
        ev.serial = info->serial;
        ev.not_after = info->not_after;
        ev.threshold = threshold;
        ev.has_days_left = 1;
        ev.days_left = (int)(left / apr_time_from_sec(86400));
        if (left <= 0) {
            ev.detail = apr_psprintf(p, "expired at %s; %s",
                                     sacme_time_rfc3339(p, info->not_after), hint);
            sacme_log(d->log, SACME_LOG_ERR, 0, SACME_LOGNO(10091)
                      "%s: the certificate in service (serial %s) EXPIRED at %s "
                      "(alert threshold %s); %s", dom->name, info->serial,
                      sacme_time_rfc3339(p, info->not_after), threshold, hint);
        }
        else {
            ev.detail = apr_psprintf(p, "expires in %s; %s", human(p, left), hint);
            sacme_log(d->log, sacme_warn_level(w, i), 0, SACME_LOGNO(10090)
                      "%s: the certificate in service (serial %s) expires in %s, at "
                      "%s: below the %s alert threshold%s; %s", dom->name,
                      info->serial, human(p, left),
                      sacme_time_rfc3339(p, info->not_after), threshold,
                      eff == w->thresholds[i] ? ""
                          : apr_psprintf(p, " (%s for its lifetime of %s)",
                                         human(p, eff), human(p, lifetime)),
                      hint);
        }
        sacme_drive_raise(d, dom, &ev);
    }
}

sacme_why_t sacme_drive_check(sacme_driver_t *d, const sacme_domain_t *dom,
                              apr_time_t now, apr_time_t *next_check,
                              apr_pool_t *p)
{
    const sacme_cert_info_t *live = NULL;
    const sacme_warn_t *w = warn_of(d, dom);
    sacme_why_t why;

    /* A pair from elsewhere (SacmeCertificateFile) is never ordered: it is
     * only watched for expiry. */
    if (dom->cert_file) {
        *next_check = sacme_time_add(now, d->check_interval);
        why = SACME_WHY_NONE;
    }
    else {
        why = decide(d, dom, now, next_check, p, &live);
    }
    /* Work due now is looked at again now, not after the idle interval: a
     * worker that finds its domain due again after a run (a Retry-After or
     * a retry delay of a second, outlasted by the run's own bookkeeping on
     * a loaded machine) would otherwise leave it for SacmeCheckInterval. */
    if (why >= SACME_WHY_NO_CERT) {
        *next_check = now;
    }

    /* Whatever the domain waits for (a backoff, the CA, a restart), the
     * certificate in service keeps ageing. */
    if (w && w->n > 0) {
        check_expiry(d, dom, why, live, now, next_check, p);
    }
    return why;
}

/* --- driving ---------------------------------------------------------------- */

typedef struct {
    sacme_driver_t *d;
    const sacme_domain_t *dom;
    apr_pool_t *p;
    const sacme_ca_t *ca;            /* where the order is */
} run_ctx_t;

/* Publishes a challenge answer: an http-01 key authorization where the
 * request hook of every httpd child finds it (challenges/<name>/<token>),
 * a dns-01 record through SacmeDnsCmd, a tls-alpn-01 certificate. */
static apr_status_t publish(void *baton, int setup, const sacme_chal_pub_t *pub,
                            apr_pool_t *p, sacme_result_t *res)
{
    run_ctx_t *ctx = baton;
    const sacme_store_t *store = ctx->d->store;

    if (!strcmp(pub->type, SACME_CHAL_DNS01)) {
        return sacme_drive_dns_publish(ctx->d, ctx->dom, setup, pub, p, res);
    }
    if (!strcmp(pub->type, SACME_CHAL_TLSALPN01)) {
        return sacme_drive_alpn_publish(ctx->d, ctx->dom, setup, pub, p, res);
    }
    if (strcmp(pub->type, SACME_CHAL_HTTP01) || !sacme_token_ok(pub->token)
        || !sacme_sdir_name_ok(pub->name)) {
        return sacme_result_set(res, APR_EINVAL, "the CA's %s challenge for %s cannot "
                                "be published (token or name not acceptable)",
                                pub->type, pub->name);
    }
    if (!setup) {
        return sacme_store_challenge_remove(store, p, pub->name, pub->token, res);
    }
    return sacme_store_challenge_put(store, p, pub->name, pub->token, pub->key_authz,
                                     res);
}

/* Every challenge of the order is published: dns-01 records may need to be
 * seen by DNS before the CA is told to look. */
static apr_status_t published_all(void *baton, const apr_array_header_t *published,
                                  apr_pool_t *p, sacme_result_t *res)
{
    run_ctx_t *ctx = baton;
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < published->nelts; ++i) {
        const sacme_chal_pub_t *pub = APR_ARRAY_IDX(published, i, sacme_chal_pub_t *);
        if (!strcmp(pub->type, SACME_CHAL_DNS01)) {
            rv = sacme_drive_dns_ready(ctx->d, ctx->dom, published, p, res);
            break;
        }
    }
    /* In a cluster the CA's request may reach any node: each must have
     * the answers first. */
    if (rv == APR_SUCCESS && ctx->d->cluster_ready) {
        rv = ctx->d->cluster_ready(ctx->d->cluster_baton, published, p, res);
    }
    return rv;
}

/* Persists the order URL with what it was made for, so a restart resumes it
 * only if the configuration still asks for the same thing. */
static apr_status_t record_order(void *baton, const char *url)
{
    run_ctx_t *ctx = baton;
    json_t *j = sacme_json_own(ctx->p, json_object()), *names = json_array();
    int i;

    for (i = 0; i < ctx->dom->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(ctx->dom->names, i,
                                                               const char *)));
    }
    json_object_set_new(j, "url", json_string(url));
    json_object_set_new(j, "server", json_string(ctx->ca->url));
    json_object_set_new(j, "names", names);
    json_object_set_new(j, "key-type", json_string(sacme_key_type_name(ctx->dom->key_type)));
    json_object_set_new(j, "profile", sacme_json_str_or_null(ctx->dom->profile));
    json_object_set_new(j, "updated", json_string(sacme_time_rfc3339(ctx->p, apr_time_now())));
    return write_json(ctx->d, ctx->p, ctx->dom->name, SACME_STATE_ORDER, j, NULL);
}

static void lock(sacme_driver_t *d)
{
    if (d->lock) {
        apr_thread_mutex_lock(d->lock);
    }
}

static void unlock(sacme_driver_t *d)
{
    if (d->lock) {
        apr_thread_mutex_unlock(d->lock);
    }
}

/* The EAB HMAC key is needed only to register an account: once the account
 * is there (found or registered), the driver forgets it, so that nothing
 * that later reads the driver's memory finds it. A registration needed
 * again in this run (the account directory removed) fails with what to do
 * (sacme_eab_check_key). The kid stays: it names the account directory.
 * Called under d->lock: every use of the key is in ensure_account. */
static void wipe_eab(sacme_driver_t *d, sacme_ca_t *ca)
{
    if (!ca->eab || !ca->eab->hmac) {
        return;
    }
    sacme_eab_wipe(ca->eab);
    sacme_log(d->log, SACME_LOG_INFO, 0, SACME_LOGNO(10143)
              "the EAB HMAC key (key id %s) is wiped from the driver's memory: "
              "the account is there and needs it no more", ca->eab->kid);
}

sacme_clients_t *sacme_clients_make(apr_pool_t *p, sacme_http_t *http,
                                    const sacme_log_t *log)
{
    sacme_clients_t *clients = apr_pcalloc(p, sizeof(*clients));

    clients->p = p;
    clients->http = http;
    clients->log = log;
    clients->by_url = apr_hash_make(p);
    return clients;
}

apr_status_t sacme_clients_get(sacme_clients_t *clients, const char *url,
                               sacme_acme_t **acme, sacme_result_t *res)
{
    apr_status_t rv;

    *acme = apr_hash_get(clients->by_url, url, APR_HASH_KEY_STRING);
    if (*acme) {
        return APR_SUCCESS;
    }
    rv = sacme_acme_create(clients->p, url, clients->http, clients->log, acme, res);
    if (rv == APR_SUCCESS) {
        apr_hash_set(clients->by_url, apr_pstrdup(clients->p, url), APR_HASH_KEY_STRING,
                     *acme);
    }
    return rv;
}

sacme_ca_t *sacme_domain_ca(const sacme_domain_t *dom, sacme_ca_t *dflt, int errors)
{
    if (!dom->cas || dom->cas->nelts == 0) {
        return dflt;
    }
    return APR_ARRAY_IDX(dom->cas, sacme_ca_pick(dom->cas->nelts, errors, dom->failover
                                                 ? dom->failover
                                                 : SACME_FAILOVER_DEFAULT),
                         sacme_ca_t *);
}

/* The consecutive failed attempts of the domain: job.json's count, or the
 * one kept in memory while job.json cannot be written. */
static int errors_of(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p)
{
    json_t *job = read_json(d, p, dom->name, SACME_STATE_JOB);
    unsaved_t kept = unsaved_get(d, dom->name);
    int errors = (int)json_integer_value(json_object_get(job, "errors"));

    return kept.next && kept.errors > errors ? kept.errors : errors;
}

sacme_ca_t *sacme_drive_ca(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p)
{
    if (!dom->cas || dom->cas->nelts < 2) {
        return sacme_domain_ca(dom, d->ca, 0);
    }
    return sacme_domain_ca(dom, d->ca, errors_of(d, dom, p));
}

void sacme_drive_forget_accounts(sacme_driver_t *d)
{
    int i;

    lock(d);
    if (d->ca) {
        d->ca->account_url = NULL;
        d->ca->account_key = NULL;
    }
    for (i = 0; d->cas && i < d->cas->nelts; ++i) {
        sacme_ca_t *ca = APR_ARRAY_IDX(d->cas, i, sacme_ca_t *);
        ca->account_url = NULL;
        ca->account_key = NULL;
    }
    unlock(d);
}

/* Gives acme the account of ca: found or registered once, then shared. A
 * client holds the account URL of the CA itself (the same pointer), so when
 * the driver drops the account after sacmectl changed it (key rollover,
 * deactivation), every client sees its copy is stale and takes the new one. */
static apr_status_t ensure_account(sacme_driver_t *d, sacme_acme_t *acme,
                                   sacme_ca_t *ca, sacme_result_t *res)
{
    sacme_acct_opts_t opts;
    apr_status_t rv = APR_SUCCESS;
    apr_file_t *store_lock;
    sacme_sdir_t *dir;
    apr_pool_t *lp;

    /* Every client reads the directory itself: the account is shared, the
     * client's view of the CA is not. */
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    lock(d);
    if (acme->account_url && acme->account_url == ca->account_url) {
        unlock(d);
        return APR_SUCCESS;
    }
    acme->account_url = NULL;
    if (ca->account_url) {
        acme->account_key = ca->account_key;
        acme->account_url = ca->account_url;
        unlock(d);
        return APR_SUCCESS;
    }
    /* Under the store lock: sacmectl changes the account under it, and
     * neither may see the other's change half-done. */
    apr_pool_create(&lp, acme->p);
    rv = sacme_store_lock(d->store, lp, 1, &store_lock, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_store_account_open(d->store, lp, ca->url,
                                      ca->eab ? ca->eab->kid : NULL, 1, &dir, res);
        if (rv != APR_SUCCESS) {
            sacme_store_unlock(store_lock);
        }
    }
    if (rv == APR_SUCCESS) {
        memset(&opts, 0, sizeof(opts));
        opts.dir = dir;
        opts.contacts = ca->contacts;
        opts.tos_agreed = ca->tos_agreed;
        opts.eab = ca->eab;
        rv = sacme_acct_ensure(acme, &opts, NULL, res);
        sacme_store_unlock(store_lock);
    }
    if (rv == APR_SUCCESS) {
        /* The driver's own reference: the key outlives this client. */
        EVP_PKEY_up_ref(sacme_key_evp(acme->account_key));
        ca->account_key = sacme_key_wrap(d->p, sacme_key_evp(acme->account_key));
        ca->account_url = apr_pstrdup(d->p, acme->account_url);
        acme->account_url = ca->account_url;
        wipe_eab(d, ca);
    }
    apr_pool_destroy(lp);
    unlock(d);
    return rv;
}

/* The certificate key lives in staging from before the order is made:
 * finalize after a restart must use the same key as the CSR would have. */
static apr_status_t staged_key(sacme_driver_t *d, const sacme_domain_t *dom,
                               apr_pool_t *p, sacme_key_t **key, sacme_result_t *res)
{
    apr_status_t rv;

    if (sacme_store_staged_key(d->store, p, dom->name, key, NULL) == APR_SUCCESS
        && sacme_key_type(*key) == dom->key_type) {
        return APR_SUCCESS;
    }
    rv = sacme_key_generate(p, dom->key_type, key, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_store_stage_key(d->store, p, dom->name, *key, res);
    }
    return rv;
}

/* Whether the CA refused the certificate key itself (badPublicKey) or the
 * CSR made with it (badCSR), rather than anything else of the order. */
static int key_refused(const sacme_result_t *res)
{
    const char *type = res->problem ? sacme_problem_short(res->problem) : NULL;

    return type && (!strcmp(type, "badPublicKey") || !strcmp(type, "badCSR"));
}

/* The least wait before the next attempt: the CA's bound on its own
 * Retry-After (SacmeRetryAfterBounds MIN), at least a second. */
static apr_interval_time_t least_wait(const sacme_driver_t *d)
{
    return d->retry_after_min > apr_time_from_sec(1) ? d->retry_after_min
                                                     : apr_time_from_sec(1);
}

/* Whether retrying the same request at the same CA cannot help: an input
 * error (a refused EAB, names the CA will not issue for, a bad CSR) or a
 * chain nobody trusts. */
static int is_fatal(const sacme_result_t *res)
{
    return res->status == SACME_ECONFIG || res->status == SACME_EUNTRUSTED
        || (res->problem && sacme_problem_class(res->problem) == SACME_PROBLEM_FATAL);
}

static apr_interval_time_t backoff(sacme_driver_t *d, int errors,
                                   const sacme_result_t *res)
{
    apr_interval_time_t delay = d->retry_delay;
    int fatal = is_fatal(res);
    int i;

    /* A run of badNonce answers long enough to use up a request's retries
     * is the CA's noise (a node restarted, a nonce store lost), not a
     * failure of ours: the next attempt comes promptly, the first few
     * times. A CA that never takes a nonce gets the backoff after that. */
    if (res->problem && sacme_problem_class(res->problem) == SACME_PROBLEM_NONCE
        && errors <= SACME_MAX_NONCE_ATTEMPTS) {
        return least_wait(d);
    }
    /* The CA said when to come back (429, 503): that, within the bounds
     * of SacmeRetryAfterBounds, rather than our own guess, shorter or
     * longer. A problem retrying cannot fix keeps its long wait. */
    if (res->retry_after && !fatal) {
        delay = res->retry_after - apr_time_now();
        return sacme_time_clamp(delay, least_wait(d), d->retry_after_max
                                ? d->retry_after_max : apr_time_from_sec(3600));
    }
    for (i = 1; i < errors && delay < d->retry_max; ++i) {
        delay *= 2;
    }
    /* +-10%: domains that failed together do not retry in lockstep (the
     * floor and the cap below still hold) */
    delay += (apr_interval_time_t)(sacme_rand_range(-10, 10) * (delay / 100));
    /* Input errors (bad EAB, rejected names, bad CSR) will not fix
     * themselves: retrying soon only burns the CA's patience. */
    if (fatal && delay < apr_time_from_sec(3600)) {
        delay = apr_time_from_sec(3600);
    }
    if (delay > d->retry_max) {
        delay = d->retry_max;
    }
    if (res->retry_after > sacme_time_add(apr_time_now(), delay)) {
        /* never before the CA's Retry-After, within the configured bounds */
        delay = res->retry_after - apr_time_now();
        if (d->retry_after_max && delay > d->retry_after_max) {
            delay = d->retry_after_max;
        }
    }
    return delay;
}

/* With several CAs (SacmeServer URL URL...), the count of consecutive
 * failed attempts says which one is used (sacme_ca_pick): after `failover`
 * of them the next. A refusal that retrying there cannot fix moves on at
 * once rather than after the whole count; from the last CA it wraps around
 * to the first only after its count, with the long wait of such errors, so
 * no CA is hammered for a mistake of the configuration. Returns the count
 * to record. *turn is what the backoff grows from: the attempts made at
 * the CA in turn, and 0 when the next attempt goes to another CA, which is
 * then tried after SacmeRetryDelay, not after a delay doubled by the
 * failures elsewhere. */
static int failover(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p,
                    int errors, const sacme_result_t *res, int *turn)
{
    int every = dom->failover ? dom->failover : SACME_FAILOVER_DEFAULT;
    int n = dom->cas ? dom->cas->nelts : 0, at, next, refused = 0;

    *turn = errors;
    if (n < 2) {
        return errors;
    }
    at = sacme_ca_pick(n, errors - 1, every);
    if (is_fatal(res) && at + 1 < n) {
        errors = sacme_ca_next_boundary(errors - 1, every);
        refused = 1;
    }
    next = sacme_ca_pick(n, errors, every);
    *turn = (errors - 1) % every + 1;
    if (next != at) {
        sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10330)
                  "%s: %s at %s; the next attempt goes to %s, the next CA of "
                  "SacmeServer", dom->name,
                  refused ? "a refusal that retrying there cannot fix"
                          : apr_psprintf(p, "%d consecutive attempts failed "
                                         "(SacmeRetryFailover)", every),
                  APR_ARRAY_IDX(dom->cas, at, sacme_ca_t *)->url,
                  APR_ARRAY_IDX(dom->cas, next, sacme_ca_t *)->url);
        *turn = 0;
    }
    return errors;
}

/* A refusal the CA's portal decides, with what the portal says of it
 * (SacmeSCM) added to the hint, so that the log line, the status and the
 * event all carry it; res itself is left as it is. */
static const sacme_result_t *with_portal_view(sacme_driver_t *d,
                                              const sacme_domain_t *dom,
                                              apr_pool_t *p, const sacme_ca_t *ca,
                                              const sacme_result_t *res)
{
    sacme_result_t *more;
    const char *said;

    if (!d->refusal_check || !ca || !sacme_problem_scm_refusal(res)) {
        return res;
    }
    said = d->refusal_check(d->refusal_baton, dom, ca, res, p);
    if (!said) {
        return res;
    }
    more = apr_pmemdup(p, res, sizeof(*res));
    more->hint = res->hint ? apr_pstrcat(p, res->hint, "; ", said, NULL) : said;
    return more;
}

/* ca: the CA the attempt went to (NULL: none configured). */
static void record_failure(sacme_driver_t *d, const sacme_domain_t *dom,
                           apr_pool_t *p, const sacme_ca_t *ca,
                           const sacme_result_t *res)
{
    json_t *old = read_json(d, p, dom->name, SACME_STATE_JOB);
    json_t *job = sacme_json_own(p, json_object());
    unsaved_t kept = unsaved_get(d, dom->name);
    int errors = (int)json_integer_value(json_object_get(old, "errors")), turn;
    apr_time_t now = apr_time_now(), next;
    const char *msg;

    res = with_portal_view(d, dom, p, ca, res);
    msg = sacme_result_message(res, p);
    /* The count goes on growing while job.json cannot be written. */
    if (kept.next && kept.errors > errors) {
        errors = kept.errors;
    }
    ++errors;
    errors = failover(d, dom, p, errors, res, &turn);
    next = sacme_time_add(now, turn ? backoff(d, turn, res) : d->retry_delay);
    json_object_set_new(job, "errors", json_integer(errors));
    json_object_set_new(job, "next-attempt", json_integer((json_int_t)apr_time_sec(next)));
    json_object_set_new(job, "last", sacme_result_to_json(res));
    json_object_set_new(job, "updated", json_string(sacme_time_rfc3339(p, now)));
    sacme_log(d->log, SACME_LOG_ERR, sacme_result_log_status(res), SACME_LOGNO(10024)
              "%s: %s; next attempt at %s", dom->name, msg,
              sacme_time_rfc3339(p, next));
    save_job(d, dom, p, job, next, now, errors);
    sacme_drive_notify(d, dom, "errored", msg);
}

/* The CA is still at work on the order: come back at its pace, without
 * counting an error (which would grow the backoff and delay the pick-up of
 * an approval that takes hours). The order stays recorded. */
static void record_waiting(sacme_driver_t *d, const sacme_domain_t *dom,
                           apr_pool_t *p, const sacme_result_t *res)
{
    json_t *old = read_json(d, p, dom->name, SACME_STATE_JOB);
    json_t *job = sacme_json_own(p, json_object());
    unsaved_t kept = unsaved_get(d, dom->name);
    apr_time_t now = apr_time_now();
    apr_time_t next = res->retry_after > now ? res->retry_after
                                             : sacme_time_add(now, d->retry_delay);
    int errors = (int)json_integer_value(json_object_get(old, "errors"));

    if (kept.next && kept.errors > errors) {
        errors = kept.errors;
    }
    json_object_set_new(job, "errors", json_integer(errors));
    json_object_set_new(job, "next-attempt", json_integer((json_int_t)apr_time_sec(next)));
    json_object_set_new(job, "waiting", json_string(res->detail ? res->detail : "the CA"));
    json_object_set_new(job, "waiting-pid", json_integer((json_int_t)getpid()));
    json_object_set_new(job, "updated", json_string(sacme_time_rfc3339(p, now)));
    save_job(d, dom, p, job, next, now, errors);
    /* A CA that asks for a few seconds at a time would flood the log. */
    sacme_log(d->log, next - apr_time_now() >= apr_time_from_sec(60)
                      ? SACME_LOG_NOTICE : SACME_LOG_DEBUG, 0, SACME_LOGNO(10044)
              "%s: the CA is still working on the order (%s); looking again at %s",
              dom->name, res->detail ? res->detail : "no detail",
              sacme_time_rfc3339(p, next));
}

/* Which CA and account the certificate staged now came from, for status
 * and sacmectl (revocation goes to the CA that issued it), and for which
 * profile: the one its order carried (profile, NULL: none) and the one
 * configured (the driver compares the configuration with that, to know
 * when SacmeProfile changed: sacme_profile_changed). Before the chain: a
 * staged set always has its record. Without it the certificate would
 * count as ordered without a profile, and be ordered again and again for
 * a domain with one; so a record that cannot be written fails the
 * attempt, as the chain would. */
static apr_status_t record_issued(sacme_driver_t *d, const sacme_domain_t *dom,
                                  apr_pool_t *p, const sacme_ca_t *ca,
                                  const sacme_acme_t *acme,
                                  const sacme_cert_info_t *info, const char *profile,
                                  sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object());

    json_object_set_new(j, "serial", sacme_json_str_or_null(info ? info->serial : NULL));
    json_object_set_new(j, "server", json_string(ca->url));
    json_object_set_new(j, "eab-kid", sacme_json_str_or_null(ca->eab ? ca->eab->kid : NULL));
    json_object_set_new(j, "account", sacme_json_str_or_null(acme->account_url));
    json_object_set_new(j, "issued", json_string(sacme_time_rfc3339(p, apr_time_now())));
    json_object_set_new(j, "profile", sacme_json_str_or_null(profile));
    json_object_set_new(j, "configured-profile", sacme_json_str_or_null(dom->profile));
    return write_json(d, p, dom->name, SACME_STATE_ISSUED, j, res);
}

/* The profile a new order asks for (*send), from SacmeProfile and the
 * profiles the CA's directory offers. Read before any account is made: a
 * name the CA does not know is the admin's to fix, waited out as long as
 * any configuration error (is_fatal), and with several CAs the next one
 * is tried. A CA without profiles gets the order without one, which it
 * answers with its default certificate; the driver says so once per run
 * and CA, not at every attempt. */
static apr_status_t choose_profile(sacme_driver_t *d, const sacme_domain_t *dom,
                                   sacme_ca_t *ca, sacme_acme_t *acme, apr_pool_t *p,
                                   const char **send, sacme_result_t *res)
{
    apr_status_t rv;

    *send = NULL;
    if (!dom->profile) {
        return APR_SUCCESS;
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_profile_choose(p, acme->dir, dom->profile, send, res);
    if (rv != APR_SUCCESS) {
        sacme_log(d->log, SACME_LOG_ERR, 0, SACME_LOGNO(10430)
                  "%s: SacmeProfile %s is not a profile of the CA %s, which offers: "
                  "%s; nothing is ordered until SacmeProfile names one of these (or "
                  "is removed, for the CA's default)", dom->name, dom->profile,
                  ca->url, sacme_profile_offered(p, acme->dir));
        return rv;
    }
    if (!*send && apr_atomic_cas32(&ca->profiles_warned, 1, 0) == 0) {
        sacme_log(d->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10431)
                  "the CA %s offers no profiles (its directory has no meta.profiles): "
                  "orders for SacmeProfile %s (domain %s, and any other with a "
                  "profile) go out without one, and the CA issues its default "
                  "certificate; check the CA's documentation, or remove "
                  "SacmeProfile for this CA", ca->url, dom->profile, dom->name);
    }
    return APR_SUCCESS;
}

/* The admin revoked the certificate (sacmectl revoke) and asked for a new
 * one: "revoked" is raised when the driver takes the request up, once per
 * request (its time is recorded), however many attempts the new
 * certificate takes. */
static void notify_revoked(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p)
{
    json_t *req = sacme_request_get(d->store, p, dom->name), *state;
    const char *reason = sacme_json_str(req, "reason");
    const char *requested = sacme_json_str(req, "requested");
    const char *told;
    sacme_event_t ev;

    if (!reason || strcmp(reason, "revoked")) {
        return;
    }
    requested = requested ? requested : "";
    state = read_json(d, p, dom->name, SACME_STATE_ALERTS);
    told = sacme_json_str(state, "revoked-request");
    if (told && !strcmp(told, requested)) {
        return;
    }
    state = sacme_json_own(p, json_is_object(state) ? json_deep_copy(state) : json_object());
    json_object_set_new(state, "revoked-request", json_string(requested));
    save_alerts(d, dom, p, state);

    memset(&ev, 0, sizeof(ev));
    ev.event = "revoked";
    ev.reason = sacme_json_str(req, "revocation-reason");
    ev.reason = ev.reason ? ev.reason : "unspecified";
    ev.detail = "the certificate was revoked at the CA; a new one is ordered";
    sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10093)
              "%s: the certificate was revoked (reason %s, requested %s); ordering a "
              "new one", dom->name, ev.reason, *requested ? requested : "at an unknown time");
    sacme_drive_raise(d, dom, &ev);
}

static void commit_begin(sacme_driver_t *d)
{
    if (d->commit) {
        apr_thread_rwlock_rdlock(d->commit);
    }
}

static void commit_end(sacme_driver_t *d)
{
    if (d->commit) {
        apr_thread_rwlock_unlock(d->commit);
    }
}

apr_status_t sacme_drive_run(sacme_driver_t *d, const sacme_domain_t *dom,
                             sacme_why_t why, apr_pool_t *p, sacme_result_t *res)
{
    if (!d->clients) {
        d->clients = sacme_clients_make(d->p, d->http, d->log);
    }
    return sacme_drive_run_with(d, d->clients, dom, why, p, res);
}

apr_status_t sacme_drive_run_with(sacme_driver_t *d, sacme_clients_t *clients,
                                  const sacme_domain_t *dom, sacme_why_t why,
                                  apr_pool_t *p, sacme_result_t *res)
{
    run_ctx_t ctx = { d, dom, p, NULL };
    sacme_issue_opts_t opts;
    sacme_acme_t *acme;
    sacme_ca_t *ca;
    sacme_key_t *key;
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    sacme_event_t ev;
    json_t *order;
    apr_status_t rv;
    const char *names_str = "";
    int i;

    if (!res) {
        res = sacme_result_make(p);    /* failures are recorded from it */
    }
    for (i = 0; i < dom->names->nelts; ++i) {
        names_str = apr_pstrcat(p, names_str, i ? " " : "",
                                APR_ARRAY_IDX(dom->names, i, const char *), NULL);
    }
    if (why == SACME_WHY_REQUESTED) {
        notify_revoked(d, dom, p);
    }
    memset(&opts, 0, sizeof(opts));
    ctx.ca = ca = sacme_drive_ca(d, dom, p);
    if (!ca) {
        /* the configuration check requires one for every ordered domain */
        sacme_result_set(res, SACME_ECONFIG, "no CA is configured for %s (SacmeServer)",
                         dom->name);
        record_failure(d, dom, p, ca, res);
        return res->status;
    }
    order = read_json(d, p, dom->name, SACME_STATE_ORDER);
    /* An order at another CA (before a failover) is left to lapse there. */
    if (order && !strcmp(sacme_json_str(order, "server") ? sacme_json_str(order, "server") : "",
                         ca->url)
        && names_equal(dom->names, json_object_get(order, "names"))
        && !strcmp(sacme_json_str(order, "key-type") ? sacme_json_str(order, "key-type") : "",
                   sacme_key_type_name(dom->key_type))
        /* an order for another profile would give the old kind */
        && !strcmp(sacme_json_str(order, "profile") ? sacme_json_str(order, "profile") : "",
                   dom->profile ? dom->profile : "")) {
        opts.resume_url = sacme_json_str(order, "url");
    }
    if (opts.resume_url) {
        /* Loud when picking up what another process left (a restart, a
         * crash); quiet when this process only let a worker go meanwhile. */
        json_t *job = read_json(d, p, dom->name, SACME_STATE_JOB);
        int mine = json_integer_value(json_object_get(job, "waiting-pid")) == getpid();
        sacme_log(d->log, mine ? SACME_LOG_DEBUG : SACME_LOG_NOTICE, 0,
                  SACME_LOGNO(10022) "%s: resuming order %s", dom->name,
                  opts.resume_url);
    }
    else {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10021)
                  "%s: ordering a certificate for %s (%s) from %s%s", dom->name,
                  names_str, sacme_why_str(why), ca->url,
                  dom->profile ? apr_psprintf(p, ", profile %s", dom->profile) : "");
        sacme_drive_notify(d, dom, "renewing", sacme_why_str(why));
    }

    rv = sacme_clients_get(clients, ca->url, &acme, res);
    if (rv == APR_SUCCESS) {
        rv = choose_profile(d, dom, ca, acme, p, &opts.profile, res);
    }
    if (rv == APR_SUCCESS) {
        rv = ensure_account(d, acme, ca, res);
    }
    if (rv == APR_SUCCESS) {
        rv = staged_key(d, dom, p, &key, res);
    }
    if (rv == APR_SUCCESS) {
        opts.names = dom->names;
        opts.cert_key = key;
        opts.challenge_fn = dom->challenge_none ? NULL : publish;
        opts.challenge_baton = &ctx;
        opts.challenge_none = dom->challenge_none;
        opts.challenge_types = dom->challenges;
        opts.ready_fn = published_all;
        opts.ready_baton = &ctx;
        /* A renewal names the certificate it replaces (ARI). */
        if (why == SACME_WHY_RENEW || why == SACME_WHY_REQUESTED) {
            opts.replaces = sacme_drive_ari_replaces(d, dom, p);
        }
        opts.order_fn = record_order;
        opts.order_baton = &ctx;
        /* A driver ending for a staged set (d->commit) waits for a new
         * order to be recorded: never one at the CA it does not know of. */
        opts.order_guard = d->commit;
        opts.poll_min = d->retry_after_min;
        opts.retry_after_max = d->retry_after_max;
        /* Longer waits hand the worker back: the domain is picked up again
         * when its time comes, and others are driven meanwhile. */
        opts.release_after = d->release_after;
        rv = sacme_issue(acme, &opts, p, &chain, res);
        if (rv == SACME_EORDERGONE) {
            sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10030)
                      "%s: %s", dom->name, sacme_result_message(res, p));
            sacme_store_unstage(d->store, p, dom->name, SACME_UNSTAGE_ORDER);
            opts.resume_url = NULL;
            sacme_result_reset(res);
            rv = sacme_issue(acme, &opts, p, &chain, res);
        }
    }
    if (rv == SACME_EWAITING) {
        record_waiting(d, dom, p, res);
        return rv;
    }
    /* dns-01 records of earlier attempts the issuance did not publish */
    sacme_drive_dns_sweep(d, dom, p);
    if (rv == SACME_EBADCERT) {
        /* The order would give the same certificate again: forget it, so
         * the next attempt orders anew (after the backoff). */
        sacme_store_unstage(d->store, p, dom->name, SACME_UNSTAGE_ORDER);
    }
    if (rv != APR_SUCCESS && key_refused(res)) {
        /* The CA will not certify this key (weak, blocklisted, of a type
         * it refuses) or the request made with it: the same key would be
         * refused at every attempt, forever. A new key, in a new order (the
         * old one is tied to the refused finalize), at the next attempt. */
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10190)
                  "%s: the CA refused the certificate key or its request (%s); the "
                  "next attempt uses a new key", dom->name,
                  sacme_problem_short(res->problem));
        commit_begin(d);
        sacme_store_unstage(d->store, p, dom->name,
                            SACME_UNSTAGE_KEY | SACME_UNSTAGE_ORDER);
        commit_end(d);
    }
    if (rv != APR_SUCCESS) {
        record_failure(d, dom, p, ca, res);
        return rv;
    }

    /* The parent activates only a chain that reaches a trust anchor; one
     * that does not would be refused at every restart and ordered again
     * here. An input error, waited out as long: the admin must name the
     * CA's root. The order and the key stay, so once the root is trusted
     * the next attempt fetches this very certificate. */
    if (d->trust
        && (rv = sacme_trust_verify(d->trust, chain, apr_time_now(), res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "the CA's certificate is not staged");
        record_failure(d, dom, p, ca, res);
        return rv;
    }
    /* Staged: the chain goes last, so a complete pair means "ready". The
     * order, the job and the admin's request go with it: a set activated
     * with its order still recorded would have that order resumed, and its
     * certificate refused for the key the activation took away. */
    info = NULL;
    sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info);
    commit_begin(d);
    rv = record_issued(d, dom, p, ca, acme, info, opts.profile, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_store_stage_chain(d->store, p, dom->name, chain, res);
    }
    if (rv != APR_SUCCESS) {
        commit_end(d);
        record_failure(d, dom, p, ca, res);
        return rv;
    }
    sacme_store_unstage(d->store, p, dom->name, SACME_UNSTAGE_ORDER);
    sacme_store_state_remove(d->store, p, SACME_STATE_JOB, dom->name, NULL);
    unsaved_set(d, dom->name, 0, 0, 0);
    sacme_request_done(d->store, p, dom->name);
    /* Still inside: a driver that ends for the activation of another
     * domain's set (d->commit) waits for this one's news as well, or the
     * set would be activated with its "renewed" never raised. Raising
     * does not wait: the webhook spools and queues, a command is only
     * started. */
    memset(&ev, 0, sizeof(ev));
    ev.event = "renewed";
    if (info) {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10023)
                  "%s: certificate staged (serial %s, valid until %s, from %s); it "
                  "is activated at the next graceful restart", dom->name, info->serial,
                  sacme_time_rfc3339(p, info->not_after), ca->url);
        ev.serial = info->serial;
        ev.not_after = info->not_after;
    }
    sacme_drive_raise(d, dom, &ev);
    commit_end(d);
    return APR_SUCCESS;
}

void sacme_drive_notify(sacme_driver_t *d, const sacme_domain_t *dom,
                        const char *event, const char *detail)
{
    sacme_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.event = event;
    ev.detail = detail;
    if (!strcmp(event, "errored")) {
        ev.error = detail;
    }
    sacme_drive_raise(d, dom, &ev);
}

/* The certificate an event is about: "renewed" brings its own (the new
 * one), "account-deactivated" is about none, the others are about the one
 * in service. */
static void event_cert(sacme_driver_t *d, const sacme_domain_t *dom, sacme_event_t *ev,
                       apr_pool_t *p)
{
    sacme_chain_t *chain;
    sacme_cert_info_t *info;

    if (ev->serial || !strcmp(ev->event, "renewed")
        || !strcmp(ev->event, "account-deactivated")) {
        return;
    }
    if (sacme_store_load_leaf(d->store, p, SACME_GROUP_DOMAINS, dom->name, &chain,
                              NULL) == APR_SUCCESS
        && sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info)
               == APR_SUCCESS) {
        ev->serial = info->serial;
        ev->not_after = info->not_after;
    }
}

void sacme_drive_raise(sacme_driver_t *d, const sacme_domain_t *dom,
                       const sacme_event_t *ev)
{
    sacme_event_t e = *ev;
    apr_pool_t *p;
    apr_table_t *env;
    const char *const *cmd = dom->notify_cmd ? dom->notify_cmd : d->notify_cmd;
    /* a domain with a SacmeNotifyURL has its sender (NULL: none could be
     * set up), the others the driver's, if any */
    sacme_webhook_t *webhook = dom->notify_url ? dom->webhook : d->webhook;

    if (!(d->hooks && cmd) && !webhook) {
        return;
    }
    /* A pool of this call's own: d->p is shared by the worker threads. */
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    e.domain = dom->name;
    e.names = dom->names;
    if (!e.time) {
        e.time = apr_time_now();
    }
    event_cert(d, dom, &e, p);
    if (webhook) {
        sacme_webhook_post(webhook, &e);        /* queued: never waits */
    }
    if (d->hooks && cmd) {
        env = sacme_event_env(&e, p);
        apr_table_set(env, "SACME_STORE", d->store->base);
        /* The runner (and its pool, d->p) serve one thread at a time. */
        lock(d);
        sacme_hooks_start(d->hooks, cmd, e.event, dom->name, env, NULL);
        unlock(d);
    }
    apr_pool_destroy(p);
}
