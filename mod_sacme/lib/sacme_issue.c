/* One whole issuance: order -> authorize -> finalize -> download -> check.
 *
 * This is the blocking form, used by sacmectl and the engine tests; every
 * step is a function of sacme_order.h, so a driver that persists the URLs in
 * between can resume an order instead of starting over. */
#include <stdlib.h>

#include "sacme_issue.h"
#include "sacme_ari.h"
#include "sacme_chaltype.h"
#include "sacme_order.h"
#include "sacme_csr.h"
#include "sacme_jws.h"
#include "sacme_problem.h"
#include "sacme_rand.h"
#include "sacme_time.h"

typedef struct {
    sacme_acme_t *acme;
    apr_pool_t *p;                 /* the issuance's pool */
    const sacme_issue_opts_t *opts;
    apr_time_t deadline;
    apr_interval_time_t backoff;   /* next wait without Retry-After */
    apr_array_header_t *published; /* sacme_chal_pub_t *, for teardown */
} issue_ctx_t;

/* A challenge published and still to be answered. */
typedef struct {
    const char *identifier;
    const char *authz_url;
    const sacme_challenge_t *chal;
} answer_t;

/* Whether a challenge the CA refused to take the answer for was taken
 * meanwhile: a resumed order finds it pending while the CA is still
 * validating an earlier answer (a slow CA, or a driver restarted in the
 * middle), and by the time of the POST it is valid, which the CA refuses
 * to update ("malformed"). The authorization tells. */
static int answered_meanwhile(sacme_acme_t *acme, const answer_t *answer, apr_pool_t *p)
{
    sacme_authz_t *authz;
    int i;

    if (sacme_authz_get(acme, answer->authz_url, p, &authz, NULL) != APR_SUCCESS) {
        return 0;
    }
    if (!strcmp(authz->status, "valid")) {
        return 1;
    }
    for (i = 0; authz->challenges && i < authz->challenges->nelts; ++i) {
        const sacme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, i,
                                                   sacme_challenge_t *);
        if (c->url && !strcmp(c->url, answer->chal->url) && c->status
            && (!strcmp(c->status, "processing") || !strcmp(c->status, "valid"))) {
            return 1;
        }
    }
    return 0;
}

/* Waits before the next poll: the CA's Retry-After when given (clamped to
 * the configured bounds), else an exponential backoff with jitter, so a
 * slow CA is not hammered and a fast one not kept waiting. */
static apr_status_t wait_poll(issue_ctx_t *ctx, apr_time_t retry_after,
                              const char *what, sacme_result_t *res)
{
    apr_time_t now = apr_time_now();
    apr_interval_time_t wait;

    if (retry_after > now) {
        wait = sacme_time_clamp(retry_after - now, ctx->opts->poll_min,
                                ctx->opts->retry_after_max);
    }
    else {
        wait = ctx->backoff;
        /* +-20% jitter keeps many domains from polling in lockstep */
        wait += (apr_interval_time_t)(sacme_rand_range(-20, 20) * (wait / 100));
        ctx->backoff = sacme_time_clamp(ctx->backoff * 2, ctx->opts->poll_start,
                                        ctx->opts->poll_max);
    }
    if (sacme_time_add(now, wait) > ctx->deadline
        || (ctx->opts->release_after && wait >= ctx->opts->release_after)) {
        sacme_result_set(res, SACME_EWAITING, "still waiting for %s", what);
        if (res) {
            res->retry_after = sacme_time_add(now, wait);
        }
        return SACME_EWAITING;
    }
    sacme_log(ctx->acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10008)
              "waiting %" APR_TIME_T_FMT " ms for %s", apr_time_as_msec(wait), what);
    apr_sleep(wait);
    return APR_SUCCESS;
}

/* The error of an invalid authorization: the failed challenge's problem. */
static apr_status_t authz_failed(const sacme_authz_t *authz, sacme_result_t *res)
{
    int i;

    for (i = 0; i < authz->challenges->nelts; ++i) {
        sacme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, i, sacme_challenge_t *);
        if (c->error) {
            sacme_problem_apply(res, c->error, 0);
            if (res) {
                res->validation = 1;
                const char *hint = sacme_problem_validation_hint(
                    res->p, res->problem, c->type, authz->identifier);
                res->hint = hint ? hint : res->hint;
            }
            sacme_result_prefix(res, "authorization of %s failed (%s)",
                                authz->identifier, c->type);
            return res ? res->status : APR_EINVAL;
        }
    }
    return sacme_result_set(res, SACME_EPROTO, "authorization of %s is %s",
                            authz->identifier, authz->status);
}

static const char *offered_types(apr_pool_t *p, const sacme_authz_t *authz)
{
    const char *s = "";
    int i;

    for (i = 0; i < authz->challenges->nelts; ++i) {
        sacme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, i, sacme_challenge_t *);
        s = apr_pstrcat(p, s, i ? ", " : "", c->type, NULL);
    }
    return *s ? s : "none";
}

/* Starts one authorization: skip it when already valid (pre-validated
 * names, Sectigo SCM), otherwise publish a supported challenge; *answer
 * gets it when it is still to be answered. Nothing is answered here: every
 * challenge of the order is published first (sacme_ready_fn). */
static apr_status_t start_authz(issue_ctx_t *ctx, const char *url, apr_pool_t *p,
                                int *pending, answer_t **answer, sacme_result_t *res)
{
    sacme_acme_t *acme = ctx->acme;
    sacme_authz_t *authz;
    sacme_challenge_t *chal;
    apr_status_t rv;

    *pending = 0;
    *answer = NULL;
    if ((rv = sacme_authz_get(acme, url, p, &authz, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(authz->status, "valid")) {
        sacme_log(acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10009)
                  "%s: authorization already valid, no challenge needed",
                  authz->identifier);
        return APR_SUCCESS;
    }
    if (strcmp(authz->status, "pending")) {
        return authz_failed(authz, res);
    }
    if (ctx->opts->challenge_none) {
        return sacme_result_set(res, SACME_EPROTO,
                                "%s is not pre-validated for this ACME account "
                                "(its authorization is '%s', and challenges are "
                                "turned off): validate the domain at the CA "
                                "(Sectigo SCM: domain validation and delegation "
                                "to the account's organization), or use http-01",
                                authz->identifier, authz->status);
    }
    chal = sacme_authz_pick(authz, ctx->opts->challenge_types);
    if (!chal) {
        return sacme_result_set(res, SACME_EPROTO,
                                "%s%s: the CA offers no challenge this server can "
                                "answer (offered: %s; SacmeChallenge allows: %s%s)",
                                authz->wildcard ? "*." : "", authz->identifier,
                                offered_types(p, authz),
                                sacme_chaltype_str(p, ctx->opts->challenge_types),
                                authz->wildcard ? "; a wildcard needs dns-01"
                                : authz->ip ? "; an IP address cannot use dns-01" : "");
    }
    *pending = 1;
    /* Published even when it was answered before (a resumed order): the CA
     * may still be validating, and the earlier copy may be gone. */
    if (ctx->opts->challenge_fn) {
        /* In the issuance's pool: the teardown runs before it goes. */
        sacme_chal_pub_t *pub = apr_pcalloc(ctx->p, sizeof(*pub));
        pub->type = apr_pstrdup(ctx->p, chal->type);
        pub->name = apr_pstrdup(ctx->p, authz->identifier);
        pub->ip = authz->ip;
        pub->wildcard = authz->wildcard;
        pub->token = apr_pstrdup(ctx->p, chal->token ? chal->token : "");
        pub->key_authz = sacme_key_authorization(ctx->p, pub->token,
                                                 acme->account_key);
        rv = ctx->opts->challenge_fn(ctx->opts->challenge_baton, 1, pub, ctx->p, res);
        if (rv != APR_SUCCESS) {
            /* what failed may have left something half done: torn down too */
            APR_ARRAY_PUSH(ctx->published, sacme_chal_pub_t *) = pub;
            if (res && res->status == APR_SUCCESS) {
                res->status = rv;
            }
            sacme_result_prefix(res, "%s%s: cannot publish the %s challenge",
                                pub->wildcard ? "*." : "", pub->name, pub->type);
            return rv;
        }
        APR_ARRAY_PUSH(ctx->published, sacme_chal_pub_t *) = pub;
    }
    if (!chal->status || !strcmp(chal->status, "pending")) {
        /* otherwise already answered (a resumed order) */
        *answer = apr_pcalloc(p, sizeof(**answer));
        (*answer)->identifier = authz->identifier;
        (*answer)->authz_url = url;
        (*answer)->chal = chal;
    }
    return APR_SUCCESS;
}

/* Polls one authorization until it is valid. */
static apr_status_t await_authz(issue_ctx_t *ctx, const char *url, apr_pool_t *p,
                                sacme_result_t *res)
{
    sacme_authz_t *authz;
    apr_status_t rv;

    ctx->backoff = ctx->opts->poll_start;
    for (;;) {
        if ((rv = sacme_authz_get(ctx->acme, url, p, &authz, res)) != APR_SUCCESS) {
            return rv;
        }
        if (!strcmp(authz->status, "valid")) {
            return APR_SUCCESS;
        }
        if (strcmp(authz->status, "pending")) {
            return authz_failed(authz, res);
        }
        rv = wait_poll(ctx, authz->retry_after,
                       apr_psprintf(p, "the authorization of %s", authz->identifier),
                       res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
}

/* Polls the order until its status leaves `from` (pending or processing). */
static apr_status_t await_order(issue_ctx_t *ctx, sacme_order_t **porder,
                                const char *from, apr_pool_t *p,
                                sacme_result_t *res)
{
    sacme_order_t *order = *porder;
    apr_status_t rv;

    ctx->backoff = ctx->opts->poll_start;
    while (!strcmp(order->status, from)) {
        rv = wait_poll(ctx, order->retry_after,
                       apr_psprintf(p, "the order to leave '%s'", from), res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = sacme_order_get(ctx->acme, order->url, p, &order, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    *porder = order;
    if (!strcmp(order->status, "invalid")) {
        if (order->error) {
            sacme_problem_apply(res, order->error, 0);
            sacme_result_prefix(res, "the order %s became invalid", order->url);
            return res ? res->status : APR_EINVAL;
        }
        return sacme_result_set(res, SACME_EPROTO, "the order %s became invalid",
                                order->url);
    }
    return APR_SUCCESS;
}

static void teardown(issue_ctx_t *ctx)
{
    int i;

    apr_pool_t *p;

    if (!ctx->opts->challenge_fn || !ctx->published->nelts) {
        return;
    }
    /* A failed teardown must not hide the issuance's own result. */
    apr_pool_create(&p, ctx->p);
    for (i = 0; i < ctx->published->nelts; ++i) {
        sacme_chal_pub_t *pub = APR_ARRAY_IDX(ctx->published, i, sacme_chal_pub_t *);
        ctx->opts->challenge_fn(ctx->opts->challenge_baton, 0, pub, p,
                                sacme_result_make(p));
    }
    apr_pool_destroy(p);
}

/* newOrder, with "replaces" when the order renews a certificate and the CA
 * speaks ARI (a CA without renewalInfo would not know the field). A CA that
 * refuses it (the certificate was already replaced by another order, or it
 * does not know it) gets the order once more without: the renewal matters,
 * the link between the two certificates does not. */
static apr_status_t new_order(sacme_acme_t *acme, const sacme_issue_opts_t *opts,
                              apr_pool_t *p, sacme_order_t **order, sacme_result_t *res)
{
    const char *replaces = opts->replaces;
    apr_status_t rv;

    if (replaces && (!acme->dir || !acme->dir->renewal_info)) {
        replaces = NULL;
    }
    rv = sacme_order_new_replacing(acme, opts->names, opts->profile, replaces, p, order,
                                   res);
    if (rv != APR_SUCCESS && replaces && sacme_ari_replaces_refused(res)) {
        sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10406)
                  "the CA refused the new order for %s as the replacement of "
                  "certificate %s (%s); ordering again without naming the "
                  "certificate it replaces", APR_ARRAY_IDX(opts->names, 0, const char *),
                  replaces, sacme_result_message(res, p));
        sacme_result_reset(res);
        rv = sacme_order_new_replacing(acme, opts->names, opts->profile, NULL, p, order,
                                       res);
    }
    return rv;
}

apr_status_t sacme_issue(sacme_acme_t *acme, const sacme_issue_opts_t *in,
                         apr_pool_t *p, sacme_chain_t **pchain,
                         sacme_result_t *res)
{
    sacme_issue_opts_t opts = *in;
    issue_ctx_t ctx;
    sacme_order_t *order;
    sacme_chain_t *chain;
    unsigned char *csr;
    apr_size_t csr_len;
    apr_status_t rv;
    int i, pending;

    if (!opts.challenge_types) {
        opts.challenge_types = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(opts.challenge_types, const char *) = "http-01";
    }
    if (!opts.poll_min) opts.poll_min = apr_time_from_sec(1);
    /* A CA that validates at once answers within a few tens of ms; starting
     * lower than that only wastes its CPU, starting at 100 ms made such an
     * order wait ~0.2 s in all. A slow CA costs two polls more than from
     * 100 ms, and its Retry-After, when sent, is followed instead. */
    if (!opts.poll_start) opts.poll_start = apr_time_from_msec(20);
    if (!opts.poll_max) opts.poll_max = apr_time_from_sec(10);
    if (!opts.retry_after_max) opts.retry_after_max = apr_time_from_sec(3600);
    if (!opts.timeout) opts.timeout = apr_time_from_sec(600);
    memset(&ctx, 0, sizeof(ctx));
    ctx.acme = acme;
    ctx.p = p;
    ctx.opts = &opts;
    ctx.deadline = sacme_time_add(apr_time_now(), opts.timeout);
    ctx.published = apr_array_make(p, 4, sizeof(sacme_chal_pub_t *));

    /*1: the order (resumed or new), persisted before anything else */
    if (opts.resume_url) {
        rv = sacme_order_get(acme, opts.resume_url, p, &order, res);
        if (rv != APR_SUCCESS) {
            /* Orders expire and CAs forget them (404, or 401/403 at Sectigo):
             * nothing to resume then, but the error is not the admin's. */
            if (res && (res->http_status == 404 || res->http_status == 401
                        || res->http_status == 403)) {
                sacme_result_prefix(res, "the order %s cannot be resumed",
                                    opts.resume_url);
                res->status = SACME_EORDERGONE;
                return SACME_EORDERGONE;
            }
            return rv;
        }
        if (!strcmp(order->status, "invalid")) {
            return sacme_result_set(res, SACME_EORDERGONE,
                                    "the order %s became invalid; ordering anew",
                                    opts.resume_url);
        }
        sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10013)
                  "resuming order %s (%s)", order->url, order->status);
    }
    else {
        if (opts.order_guard) {
            apr_thread_rwlock_rdlock(opts.order_guard);
        }
        rv = new_order(acme, &opts, p, &order, res);
        if (rv != APR_SUCCESS) {
            if (opts.order_guard) {
                apr_thread_rwlock_unlock(opts.order_guard);
            }
            return rv;
        }
        sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10011)
                  "order %s for %d name(s) starting with %s: %s", order->url,
                  opts.names->nelts, APR_ARRAY_IDX(opts.names, 0, const char *),
                  order->status);
    }
    if (opts.order_fn) {
        rv = opts.order_fn(opts.order_baton, order->url);
    }
    if (!opts.resume_url && opts.order_guard) {
        apr_thread_rwlock_unlock(opts.order_guard);
    }
    if (rv != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot record the order %s", order->url);
    }
    if (!strcmp(order->status, "pending")) {
        apr_array_header_t *waiting = apr_array_make(p, 4, sizeof(const char *));
        apr_array_header_t *answers = apr_array_make(p, 4, sizeof(answer_t *));
        answer_t *answer;
        for (i = 0; i < order->authorizations->nelts; ++i) {
            const char *url = APR_ARRAY_IDX(order->authorizations, i, const char *);
            if ((rv = start_authz(&ctx, url, p, &pending, &answer, res)) != APR_SUCCESS) {
                goto leave;
            }
            if (pending) {
                APR_ARRAY_PUSH(waiting, const char *) = url;
            }
            if (answer) {
                APR_ARRAY_PUSH(answers, answer_t *) = answer;
            }
        }
        /* Everything published before anything is answered: a CA may look
         * at once, and a look that fails makes the authorization invalid
         * for good. */
        if (answers->nelts && ctx.published->nelts && opts.ready_fn
            && (rv = opts.ready_fn(opts.ready_baton, ctx.published, p,
                                   res)) != APR_SUCCESS) {
            goto leave;
        }
        for (i = 0; i < answers->nelts; ++i) {
            answer = APR_ARRAY_IDX(answers, i, answer_t *);
            /* info: which type proved a name is what to look at first when
             * the CA says it could not verify it */
            sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10010)
                      "%s: answering the %s challenge", answer->identifier,
                      answer->chal->type);
            rv = sacme_challenge_respond(acme, answer->chal, p, res);
            if (rv != APR_SUCCESS && res && res->problem
                && answered_meanwhile(acme, answer, p)) {
                sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10623)
                          "%s: the CA had the answer to the %s challenge already (%s)",
                          answer->identifier, answer->chal->type,
                          sacme_result_message(res, p));
                sacme_result_reset(res);
                rv = APR_SUCCESS;
            }
            if (rv != APR_SUCCESS) {
                goto leave;
            }
        }
        /*2: every authorization valid */
        for (i = 0; i < waiting->nelts; ++i) {
            rv = await_authz(&ctx, APR_ARRAY_IDX(waiting, i, const char *), p, res);
            if (rv != APR_SUCCESS) {
                goto leave;
            }
        }
        /*3: the order ready (authorizations done, the CA may lag a little) */
        if ((rv = sacme_order_get(acme, order->url, p, &order, res)) != APR_SUCCESS
            || (rv = await_order(&ctx, &order, "pending", p, res)) != APR_SUCCESS) {
            goto leave;
        }
    }
    /*4: finalize with a CSR of the certificate key */
    if (!strcmp(order->status, "ready")) {
        rv = sacme_csr_make(p, opts.cert_key, opts.names, &csr, &csr_len, res);
        if (rv != APR_SUCCESS
            || (rv = sacme_order_finalize(acme, order, csr, csr_len, p, &order,
                                          res)) != APR_SUCCESS) {
            goto leave;
        }
    }
    /*5: issued */
    if ((rv = await_order(&ctx, &order, "ready", p, res)) != APR_SUCCESS
        || (rv = await_order(&ctx, &order, "processing", p, res)) != APR_SUCCESS) {
        goto leave;
    }
    if (strcmp(order->status, "valid") || !order->certificate) {
        rv = sacme_result_set(res, SACME_EPROTO,
                              "the order %s is '%s' without a certificate URL",
                              order->url, order->status);
        goto leave;
    }
    /*6: download and check before anyone may use it */
    rv = sacme_cert_download(acme, order->certificate, p, &chain, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = sacme_chain_check(chain, opts.cert_key, opts.names, apr_time_now(), res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the CA's certificate from %s was refused",
                            order->certificate);
        if (res) {
            res->status = SACME_EBADCERT;
        }
        rv = SACME_EBADCERT;
        goto leave;
    }
    sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10012)
              "certificate for %s issued: %s", APR_ARRAY_IDX(opts.names, 0, const char *),
              order->certificate);
    *pchain = chain;
leave:
    /* A call that only hands its thread back leaves the challenges up: the
     * CA may be validating them right now. */
    if (rv != SACME_EWAITING) {
        teardown(&ctx);
    }
    return rv;
}
