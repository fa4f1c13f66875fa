/* Driving managed domains to staged certificate sets. */
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "sacme_drive.h"
#include "sacme_acct.h"
#include "sacme_file.h"
#include "sacme_issue.h"
#include "sacme_json.h"
#include "sacme_problem.h"
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
    default:                 return "nothing to do";
    }
}

/* --- small helpers ---------------------------------------------------------- */

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

/* Every configured name among the certificate's SANs. */
static int covers(const sacme_cert_info_t *info, const apr_array_header_t *names)
{
    int i, j;

    for (i = 0; i < names->nelts; ++i) {
        const char *want = APR_ARRAY_IDX(names, i, const char *);
        int found = 0;
        for (j = 0; !found && j < info->sans->nelts; ++j) {
            found = !strcasecmp(want, APR_ARRAY_IDX(info->sans, j, const char *));
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

static json_t *read_json(sacme_driver_t *d, apr_pool_t *p, const char *name,
                         const char *file)
{
    const char *path = sacme_store_path(d->store, p, SACME_GROUP_STAGING, name, file);
    return sacme_file_exists(path, p) ? sacme_json_read_file(p, path, 256 * 1024, NULL)
                                      : NULL;
}

static apr_status_t write_json(sacme_driver_t *d, apr_pool_t *p, const char *name,
                               const char *file, json_t *j, sacme_result_t *res)
{
    return sacme_json_write_file(j, sacme_store_path(d->store, p, SACME_GROUP_STAGING,
                                                     name, file),
                                 SACME_FPROT_PUBLIC, p, res);
}

/* --- deciding --------------------------------------------------------------- */

/* A staged set that still fits the configuration waits for activation;
 * one that does not (names or key type changed since) is dropped. */
static int staged_fits(sacme_driver_t *d, const sacme_domain_t *dom,
                       apr_time_t now, apr_pool_t *p)
{
    sacme_certset_t *set;
    sacme_cert_info_t *info;

    if (!sacme_store_has_set(d->store, p, SACME_GROUP_STAGING, dom->name)) {
        return 0;
    }
    if (sacme_store_load_set(d->store, p, SACME_GROUP_STAGING, dom->name, &set,
                             NULL) == APR_SUCCESS
        && sacme_cert_info(p, APR_ARRAY_IDX(set->chain->certs, 0, X509 *),
                           &info) == APR_SUCCESS
        && covers(info, dom->names)
        && sacme_key_type(set->key) == dom->key_type
        && info->not_after > now) {
        return 1;
    }
    sacme_store_remove(d->store, p, SACME_GROUP_STAGING, dom->name, SACME_FILE_CHAIN);
    return 0;
}

apr_time_t sacme_drive_renew_at(const sacme_domain_t *dom,
                                const sacme_cert_info_t *info)
{
    /* A stable per-name jitter (up to a tenth of the window) spreads the
     * renewals of many domains without moving them at every restart. */
    return sacme_window_start(&dom->renew_window, info->not_before, info->not_after)
           - sacme_window_jitter(&dom->renew_window, info->not_before,
                                 info->not_after, dom->name, 0.1);
}

sacme_why_t sacme_drive_check(sacme_driver_t *d, const sacme_domain_t *dom,
                              apr_time_t now, apr_time_t *next_check,
                              apr_pool_t *p)
{
    sacme_chain_t *live;
    sacme_cert_info_t *info;
    sacme_key_t *pub;
    X509 *leaf;
    json_t *job;
    apr_time_t renew_at, next_attempt;

    *next_check = now + d->check_interval;
    if (staged_fits(d, dom, now, p)) {
        return SACME_WHY_STAGED;
    }
    /* The admin's request goes past an error backoff: someone is waiting. */
    if (sacme_request_get(d->store, p, dom->name)) {
        return SACME_WHY_REQUESTED;
    }
    job = read_json(d, p, dom->name, SACME_FILE_JOB);
    next_attempt = apr_time_from_sec(json_integer_value(json_object_get(job, "next-attempt")));
    if (next_attempt > now) {
        *next_check = next_attempt;
        return SACME_WHY_NONE;
    }
    if (read_json(d, p, dom->name, SACME_FILE_ORDER)) {
        return SACME_WHY_RESUME;
    }
    /* The live key is root's: the certificate's public key tells the type. */
    if (sacme_store_load_chain(d->store, p, SACME_GROUP_DOMAINS, dom->name, &live,
                               NULL) != APR_SUCCESS
        || sacme_cert_info(p, (leaf = APR_ARRAY_IDX(live->certs, 0, X509 *)),
                           &info) != APR_SUCCESS
        || !(pub = sacme_key_wrap(p, X509_get_pubkey(leaf)))) {
        return SACME_WHY_NO_CERT;
    }
    if (!covers(info, dom->names)) {
        return SACME_WHY_NAMES;
    }
    if (sacme_key_type(pub) != dom->key_type) {
        return SACME_WHY_KEY_TYPE;
    }
    renew_at = sacme_drive_renew_at(dom, info);
    if (renew_at <= now) {
        return SACME_WHY_RENEW;
    }
    if (renew_at < *next_check) {
        *next_check = renew_at;
    }
    return SACME_WHY_NONE;
}

/* --- driving ---------------------------------------------------------------- */

typedef struct {
    sacme_driver_t *d;
    const sacme_domain_t *dom;
    apr_pool_t *p;
} run_ctx_t;

/* RFC 8555 tokens are base64url; anything else from a CA is refused before
 * it becomes part of a file name. */
static int token_ok(const char *t)
{
    apr_size_t n = strlen(t), i;

    if (n < 16 || n > 256) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Publishes an http-01 key authorization where the request hook of every
 * httpd child finds it: challenges/<name>/<token>. */
static apr_status_t publish(void *baton, int setup, const char *type,
                            const char *name, const char *token,
                            const char *key_authz)
{
    run_ctx_t *ctx = baton;
    const sacme_store_t *store = ctx->d->store;
    const char *dir;

    if (strcmp(type, "http-01") || !token_ok(token) || strchr(name, '/')
        || name[0] == '.') {
        return APR_EINVAL;
    }
    dir = sacme_store_path(store, ctx->p, SACME_GROUP_CHALLENGES, name, NULL);
    if (!setup) {
        return sacme_store_remove(store, ctx->p, SACME_GROUP_CHALLENGES, name, token);
    }
    if (sacme_file_mkdirs(dir, SACME_FPROT_DIR_PUBLIC, ctx->p, NULL) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* Republished by every attempt, so no fsync: only the rename matters,
     * the children must never read half a response. */
    return sacme_file_write_ephemeral(apr_pstrcat(ctx->p, dir, "/", token, NULL),
                                      key_authz, strlen(key_authz),
                                      SACME_FPROT_PUBLIC, ctx->p, NULL);
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
    json_object_set_new(j, "server", json_string(ctx->d->server_url));
    json_object_set_new(j, "names", names);
    json_object_set_new(j, "key-type", json_string(sacme_key_type_name(ctx->dom->key_type)));
    json_object_set_new(j, "updated", json_string(sacme_time_rfc3339(ctx->p, apr_time_now())));
    return write_json(ctx->d, ctx->p, ctx->dom->name, SACME_FILE_ORDER, j, NULL);
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

/* Gives acme the account: found or registered once, then shared. */
static apr_status_t ensure_account(sacme_driver_t *d, sacme_acme_t *acme,
                                   sacme_result_t *res)
{
    sacme_acct_opts_t opts;
    apr_status_t rv = APR_SUCCESS;

    if (acme->account_url) {
        return APR_SUCCESS;
    }
    /* Every client reads the directory itself: the account is shared, the
     * client's view of the CA is not. */
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    lock(d);
    if (d->account_url) {
        rv = sacme_key_from_pem(acme->p, d->account_key_pem, strlen(d->account_key_pem),
                                &acme->account_key, res);
        if (rv == APR_SUCCESS) {
            acme->account_url = d->account_url;
        }
        unlock(d);
        return rv;
    }
    memset(&opts, 0, sizeof(opts));
    opts.dir = sacme_store_account_dir(d->store, acme->p, d->server_url,
                                       d->eab ? d->eab->kid : NULL);
    opts.contacts = d->contacts;
    opts.tos_agreed = d->tos_agreed;
    opts.eab = d->eab;
    rv = sacme_acct_ensure(acme, &opts, NULL, res);
    if (rv == APR_SUCCESS) {
        d->account_url = apr_pstrdup(d->p, acme->account_url);
        d->account_key_pem = sacme_key_to_pem(acme->account_key, d->p);
    }
    unlock(d);
    return rv;
}

/* The certificate key lives in staging from before the order is made:
 * finalize after a restart must use the same key as the CSR would have. */
static apr_status_t staged_key(sacme_driver_t *d, const sacme_domain_t *dom,
                               apr_pool_t *p, sacme_key_t **key, sacme_result_t *res)
{
    const char *path = sacme_store_path(d->store, p, SACME_GROUP_STAGING, dom->name,
                                        SACME_FILE_KEY);
    apr_status_t rv;

    if (sacme_file_exists(path, p)
        && sacme_key_load(p, path, key, NULL) == APR_SUCCESS
        && sacme_key_type(*key) == dom->key_type) {
        return APR_SUCCESS;
    }
    rv = sacme_key_generate(p, dom->key_type, key, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_key_save(*key, path, p, res);
    }
    return rv;
}

static apr_interval_time_t backoff(sacme_driver_t *d, int errors,
                                   const sacme_result_t *res)
{
    apr_interval_time_t delay = d->retry_delay;
    int i;

    for (i = 1; i < errors && delay < d->retry_max; ++i) {
        delay *= 2;
    }
    /* +-10%: domains that failed together do not retry in lockstep (the
     * floor and the cap below still hold) */
    delay += (apr_interval_time_t)((rand() % 21 - 10) * (delay / 100));
    /* Input errors (bad EAB, rejected names, bad CSR) will not fix
     * themselves: retrying soon only burns the CA's patience. */
    if (res->status == SACME_ECONFIG
        || (res->problem && sacme_problem_class(res->problem) == SACME_PROBLEM_FATAL)) {
        if (delay < apr_time_from_sec(3600)) {
            delay = apr_time_from_sec(3600);
        }
    }
    if (delay > d->retry_max) {
        delay = d->retry_max;
    }
    if (res->retry_after > apr_time_now() + delay) {
        /* the CA's Retry-After (429, 503), within the configured bounds */
        delay = res->retry_after - apr_time_now();
        if (d->retry_after_max && delay > d->retry_after_max) {
            delay = d->retry_after_max;
        }
    }
    return delay;
}

static void record_failure(sacme_driver_t *d, const sacme_domain_t *dom,
                           apr_pool_t *p, const sacme_result_t *res)
{
    json_t *old = read_json(d, p, dom->name, SACME_FILE_JOB);
    json_t *job = sacme_json_own(p, json_object());
    int errors = (int)json_integer_value(json_object_get(old, "errors")) + 1;
    apr_time_t next = apr_time_now() + backoff(d, errors, res);
    const char *msg = sacme_result_message(res, p);

    json_object_set_new(job, "errors", json_integer(errors));
    json_object_set_new(job, "next-attempt", json_integer((json_int_t)apr_time_sec(next)));
    json_object_set_new(job, "last", sacme_result_to_json(res));
    json_object_set_new(job, "updated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    write_json(d, p, dom->name, SACME_FILE_JOB, job, NULL);
    sacme_log(d->log, SACME_LOG_ERR, res->status, SACME_LOGNO(10024)
              "%s: %s; next attempt at %s", dom->name, msg,
              sacme_time_rfc3339(p, next));
    sacme_drive_notify(d, dom, "errored", msg);
}

/* The CA is still at work on the order: come back at its pace, without
 * counting an error (which would grow the backoff and delay the pick-up of
 * an approval that takes hours). The order stays recorded. */
static void record_waiting(sacme_driver_t *d, const sacme_domain_t *dom,
                           apr_pool_t *p, const sacme_result_t *res)
{
    json_t *old = read_json(d, p, dom->name, SACME_FILE_JOB);
    json_t *job = sacme_json_own(p, json_object());
    apr_time_t next = res->retry_after > apr_time_now() ? res->retry_after
                                                        : apr_time_now() + d->retry_delay;

    json_object_set_new(job, "errors",
                        json_integer(json_integer_value(json_object_get(old, "errors"))));
    json_object_set_new(job, "next-attempt", json_integer((json_int_t)apr_time_sec(next)));
    json_object_set_new(job, "waiting", json_string(res->detail ? res->detail : "the CA"));
    json_object_set_new(job, "waiting-pid", json_integer((json_int_t)getpid()));
    json_object_set_new(job, "updated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    write_json(d, p, dom->name, SACME_FILE_JOB, job, NULL);
    /* A CA that asks for a few seconds at a time would flood the log. */
    sacme_log(d->log, next - apr_time_now() >= apr_time_from_sec(60)
                      ? SACME_LOG_NOTICE : SACME_LOG_DEBUG, 0, SACME_LOGNO(10044)
              "%s: the CA is still working on the order (%s); looking again at %s",
              dom->name, res->detail ? res->detail : "no detail",
              sacme_time_rfc3339(p, next));
}

apr_status_t sacme_drive_run(sacme_driver_t *d, const sacme_domain_t *dom,
                             sacme_why_t why, apr_pool_t *p, sacme_result_t *res)
{
    if (!d->acme) {
        apr_status_t rv = sacme_acme_create(d->p, d->server_url, d->http, d->log,
                                            &d->acme, res);
        if (rv != APR_SUCCESS) {
            if (!res) {
                res = sacme_result_make(p);
                sacme_result_set(res, rv, "cannot set up the ACME client");
            }
            record_failure(d, dom, p, res);
            return rv;
        }
    }
    return sacme_drive_run_with(d, d->acme, dom, why, p, res);
}

apr_status_t sacme_drive_run_with(sacme_driver_t *d, sacme_acme_t *acme,
                                  const sacme_domain_t *dom, sacme_why_t why,
                                  apr_pool_t *p, sacme_result_t *res)
{
    run_ctx_t ctx = { d, dom, p };
    sacme_issue_opts_t opts;
    sacme_key_t *key;
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    json_t *order;
    apr_status_t rv;
    const char *chain_pem, *names_str = "";
    int i;

    if (!res) {
        res = sacme_result_make(p);    /* failures are recorded from it */
    }
    for (i = 0; i < dom->names->nelts; ++i) {
        names_str = apr_pstrcat(p, names_str, i ? " " : "",
                                APR_ARRAY_IDX(dom->names, i, const char *), NULL);
    }
    memset(&opts, 0, sizeof(opts));
    order = read_json(d, p, dom->name, SACME_FILE_ORDER);
    if (order && !strcmp(sacme_json_str(order, "server") ? sacme_json_str(order, "server") : "",
                         d->server_url)
        && names_equal(dom->names, json_object_get(order, "names"))
        && !strcmp(sacme_json_str(order, "key-type") ? sacme_json_str(order, "key-type") : "",
                   sacme_key_type_name(dom->key_type))) {
        opts.resume_url = sacme_json_str(order, "url");
    }
    if (opts.resume_url) {
        /* Loud when picking up what another process left (a restart, a
         * crash); quiet when this process only let a worker go meanwhile. */
        json_t *job = read_json(d, p, dom->name, SACME_FILE_JOB);
        int mine = json_integer_value(json_object_get(job, "waiting-pid")) == getpid();
        sacme_log(d->log, mine ? SACME_LOG_DEBUG : SACME_LOG_NOTICE, 0,
                  SACME_LOGNO(10022) "%s: resuming order %s", dom->name,
                  opts.resume_url);
    }
    else {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10021)
                  "%s: ordering a certificate for %s (%s)", dom->name, names_str,
                  sacme_why_str(why));
        sacme_drive_notify(d, dom, "renewing", sacme_why_str(why));
    }

    rv = sacme_file_mkdirs(sacme_store_path(d->store, p, SACME_GROUP_STAGING,
                                            dom->name, NULL),
                           SACME_FPROT_DIR_PUBLIC, p, res);
    if (rv == APR_SUCCESS) {
        rv = ensure_account(d, acme, res);
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
        opts.order_fn = record_order;
        opts.order_baton = &ctx;
        opts.poll_min = d->retry_after_min;
        opts.retry_after_max = d->retry_after_max;
        /* Longer waits hand the worker back: the domain is picked up again
         * when its time comes, and others are driven meanwhile. */
        opts.release_after = d->release_after;
        rv = sacme_issue(acme, &opts, p, &chain, res);
        if (rv == SACME_EORDERGONE) {
            sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10030)
                      "%s: %s", dom->name, sacme_result_message(res, p));
            sacme_store_remove(d->store, p, SACME_GROUP_STAGING, dom->name,
                               SACME_FILE_ORDER);
            opts.resume_url = NULL;
            sacme_result_reset(res);
            rv = sacme_issue(acme, &opts, p, &chain, res);
        }
    }
    if (rv == SACME_EWAITING) {
        record_waiting(d, dom, p, res);
        return rv;
    }
    if (rv == SACME_EBADCERT) {
        /* The order would give the same certificate again: forget it, so
         * the next attempt orders anew (after the backoff). */
        sacme_store_remove(d->store, p, SACME_GROUP_STAGING, dom->name,
                           SACME_FILE_ORDER);
    }
    if (rv != APR_SUCCESS) {
        record_failure(d, dom, p, res);
        return rv;
    }

    /* Staged: the chain goes last, so a complete pair means "ready". */
    chain_pem = sacme_chain_pem(chain, p);
    rv = sacme_file_write_atomic(sacme_store_path(d->store, p, SACME_GROUP_STAGING,
                                                  dom->name, SACME_FILE_CHAIN),
                                 chain_pem, strlen(chain_pem), SACME_FPROT_PUBLIC, p, res);
    if (rv != APR_SUCCESS) {
        record_failure(d, dom, p, res);
        return rv;
    }
    sacme_store_remove(d->store, p, SACME_GROUP_STAGING, dom->name, SACME_FILE_ORDER);
    sacme_store_remove(d->store, p, SACME_GROUP_STAGING, dom->name, SACME_FILE_JOB);
    sacme_request_done(d->store, p, dom->name);
    if (sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info) == APR_SUCCESS) {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10023)
                  "%s: certificate staged (serial %s, valid until %s); it is "
                  "activated at the next graceful restart", dom->name, info->serial,
                  sacme_time_rfc3339(p, info->not_after));
    }
    sacme_drive_notify(d, dom, "renewed", NULL);
    return APR_SUCCESS;
}

void sacme_drive_notify(sacme_driver_t *d, const sacme_domain_t *dom,
                        const char *event, const char *detail)
{
    apr_pool_t *p;
    apr_table_t *env;
    const char *names = "";
    int i;

    if (!d->hooks || !d->notify_cmd) {
        return;
    }
    /* d->p and the runner are shared by the worker threads. */
    lock(d);
    apr_pool_create(&p, d->p);
    env = apr_table_make(p, 4);
    for (i = 0; i < dom->names->nelts; ++i) {
        names = apr_pstrcat(p, names, i ? " " : "",
                            APR_ARRAY_IDX(dom->names, i, const char *), NULL);
    }
    apr_table_set(env, "SACME_NAMES", names);
    apr_table_set(env, "SACME_STORE", d->store->base);
    if (detail) {
        apr_table_set(env, "SACME_DETAIL", detail);
    }
    sacme_hooks_start(d->hooks, d->notify_cmd, event, dom->name, env, NULL);
    apr_pool_destroy(p);
    unlock(d);
}
