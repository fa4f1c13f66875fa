/* Talking to one ACME server: directory, nonces, signed requests. */
#include <stdlib.h>

#include "sacme_acme.h"
#include "sacme_jws.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_rand.h"
#include "sacme_time.h"

#define JOSE_TYPE "application/jose+json"

apr_status_t sacme_acme_create(apr_pool_t *p, const char *url,
                               sacme_http_t *http, const sacme_log_t *log,
                               sacme_acme_t **pacme, sacme_result_t *res)
{
    sacme_acme_t *acme;

    if (!url || strncmp(url, "https://", 8) != 0) {
        return sacme_result_set(res, SACME_ECONFIG,
                                "the ACME server URL must start with https:// "
                                "(got '%s')", url ? url : "");
    }
    acme = apr_pcalloc(p, sizeof(*acme));
    acme->p = p;
    acme->url = apr_pstrdup(p, url);
    acme->http = http;
    acme->log = log;
    acme->max_nonce_retries = SACME_MAX_NONCE_RETRIES;
    *pacme = acme;
    return APR_SUCCESS;
}

/* Keeps the newest nonce a response carries: every response may hold one,
 * and using it saves a round trip to newNonce. */
static void take_nonce(sacme_acme_t *acme, const sacme_http_response_t *resp)
{
    const char *nonce = sacme_http_header(resp, "Replay-Nonce");

    if (nonce && *nonce && strlen(nonce) < sizeof(acme->nonce_buf)) {
        apr_cpystrn(acme->nonce_buf, nonce, sizeof(acme->nonce_buf));
        acme->nonce = acme->nonce_buf;
    }
}

static int is_json_type(const char *media)
{
    return !strcmp(media, "application/json")
        || !strcmp(media, "application/problem+json");
}

/* A short printable start of a body for error messages. */
static const char *body_excerpt(apr_pool_t *p, const sacme_http_response_t *resp)
{
    apr_size_t n = resp->body_len < 120 ? resp->body_len : 120, i;
    char *s = apr_pstrndup(p, resp->body, n);

    for (i = 0; i < n; ++i) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            s[i] = ' ';
        }
    }
    return n ? s : "(empty body)";
}

/* Turns a non-2xx response into a result. A problem document is preferred;
 * otherwise the status and body excerpt are all we can report. Returns the
 * parsed problem (or NULL). */
static json_t *fail_response(sacme_acme_t *acme, const char *method,
                             const char *url, const sacme_http_response_t *resp,
                             apr_pool_t *p, sacme_result_t *res)
{
    json_t *problem = NULL;
    const char *media = sacme_http_media_type(resp, p);

    if (resp->body_len && (is_json_type(media) || resp->body[0] == '{')) {
        problem = sacme_json_parse(p, resp->body, resp->body_len, 0, NULL);
    }
    if (json_is_object(problem)) {
        sacme_problem_apply(res, problem, resp->status);
        sacme_result_prefix(res, "%s %s", method, url);
    }
    else {
        problem = NULL;
        sacme_result_set(res, resp->status >= 500 ? APR_EAGAIN : SACME_EPROTO,
                         "%s %s: HTTP %d without a problem document: %s",
                         method, url, resp->status, body_excerpt(p, resp));
        if (res) {
            res->http_status = resp->status;
        }
    }
    if (res) {
        res->retry_after = sacme_time_retry_after(
            sacme_http_header(resp, "Retry-After"), apr_time_now());
    }
    return problem;
}

/* A fault worth one more try right away: the connection broke (reset,
 * truncated body, timeout) or the CA had a passing 5xx. A second try a
 * moment later usually works, and costs a second instead of a whole retry
 * cycle. A 5xx with a Retry-After further away is left to the caller's
 * backoff. */
static int is_transient(apr_status_t rv, const sacme_result_t *res, int http_failed)
{
    if (!http_failed) {
        return APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_TIMEUP(rv)
            || APR_STATUS_IS_ECONNREFUSED(rv) || APR_STATUS_IS_ECONNABORTED(rv)
            || rv == APR_EGENERAL;
    }
    return res && res->http_status >= 500
        && (!res->retry_after || res->retry_after - apr_time_now() <= apr_time_from_sec(3));
}

int sacme_acme_answer_lost(apr_status_t rv, const sacme_result_t *res)
{
    return rv != APR_SUCCESS && is_transient(rv, res, 0)
        && !(res && (res->http_status || res->problem));
}

/* Waits before quick retry n (1, 2, ...): 0.5 s, 1.5 s, with jitter. */
static void quick_pause(sacme_acme_t *acme, int n, const char *url,
                        const sacme_result_t *res)
{
    apr_interval_time_t wait = apr_time_from_msec(n == 1 ? 500 : 1500);

    wait += apr_time_from_msec(sacme_rand_range(0, 199));
    sacme_log(acme->log, SACME_LOG_INFO, sacme_result_log_status(res), SACME_LOGNO(10014)
              "%s: transient fault (%s); trying again in %" APR_TIME_T_FMT " ms",
              url, res && res->detail ? res->detail : "no detail",
              apr_time_as_msec(wait));
    apr_sleep(wait);
}

/* GETs and parses the directory into p (a pool of its own, freed with
 * the directory it holds), with the quick retries of a passing fault. */
static apr_status_t fetch_directory(sacme_acme_t *acme, apr_pool_t *p,
                                    sacme_directory_t **dir, sacme_result_t *res)
{
    sacme_http_request_t req = { .method = "GET", .url = acme->url };
    sacme_http_response_t *resp;
    apr_status_t rv;
    int quick;

    for (quick = 0; ; ) {
        rv = sacme_http_perform(acme->http, &req, p, &resp, res);
        if (rv != APR_SUCCESS) {
            if (is_transient(rv, res, 0) && quick < SACME_MAX_QUICK_RETRIES) {
                quick_pause(acme, ++quick, acme->url, res);
                continue;
            }
            sacme_result_prefix(res, "cannot fetch the ACME directory");
            return rv;
        }
        if (resp->status == 200) {
            break;
        }
        fail_response(acme, "GET", acme->url, resp, p, res);
        if (is_transient(0, res, 1) && quick < SACME_MAX_QUICK_RETRIES) {
            quick_pause(acme, ++quick, acme->url, res);
            continue;
        }
        sacme_result_prefix(res, "cannot fetch the ACME directory");
        return res->status;
    }
    rv = sacme_directory_parse(p, resp->body, resp->body_len, dir, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "%s (Content-Type '%s')", acme->url,
                            sacme_http_media_type(resp, p));
        return rv;
    }
    take_nonce(acme, resp);
    return APR_SUCCESS;
}

/* A new directory in its own pool, or APR's error with res filled (the
 * pool is then gone). */
static apr_status_t read_directory(sacme_acme_t *acme, apr_pool_t **pp,
                                   sacme_directory_t **dir, sacme_result_t *res)
{
    apr_status_t rv;

    if ((rv = apr_pool_create(pp, acme->p)) != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot fetch the ACME directory: out of "
                                "memory");
    }
    if ((rv = fetch_directory(acme, *pp, dir, res)) != APR_SUCCESS) {
        apr_pool_destroy(*pp);
        *pp = NULL;
    }
    return rv;
}

apr_status_t sacme_acme_setup(sacme_acme_t *acme, sacme_result_t *res)
{
    apr_status_t rv;

    if (acme->dir) {
        return APR_SUCCESS;
    }
    if (!res) {
        res = sacme_result_make(acme->p);
    }
    if ((rv = read_directory(acme, &acme->dir_pool, &acme->dir, res)) != APR_SUCCESS) {
        return rv;
    }
    sacme_log(acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10002)
              "directory of %s: externalAccountRequired=%s, terms of service %s",
              acme->url, acme->dir->eab_required ? "true" : "false",
              acme->dir->terms_of_service ? acme->dir->terms_of_service : "none");
    return APR_SUCCESS;
}

apr_status_t sacme_acme_refresh_directory(sacme_acme_t *acme, sacme_result_t *res)
{
    apr_pool_t *p, *own = NULL;
    sacme_directory_t *dir;
    apr_status_t rv;

    if (!acme->dir) {
        return sacme_acme_setup(acme, res);
    }
    if (!res) {
        /* The failure is logged here even when the caller does not want it:
         * its words live in a pool of their own, gone with them. */
        if (apr_pool_create(&own, acme->p) != APR_SUCCESS) {
            return APR_ENOMEM;
        }
        res = sacme_result_make(own);
    }
    rv = read_directory(acme, &p, &dir, res);
    if (rv != APR_SUCCESS) {
        sacme_log(acme->log, SACME_LOG_INFO, sacme_result_log_status(res),
                  SACME_LOGNO(10670) "reading the directory of %s again failed (%s); "
                  "the one read before stays in use and is read again when next "
                  "needed; if this persists, check that the CA is reachable",
                  acme->url, sacme_result_message(res, res->p));
    }
    else {
        sacme_log(acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10671)
                  "directory of %s read again: renewalInfo %s (was %s), "
                  "%d profile(s) (were %d)", acme->url,
                  dir->renewal_info ? dir->renewal_info : "none",
                  acme->dir->renewal_info ? acme->dir->renewal_info : "none",
                  dir->profiles->nelts, acme->dir->profiles->nelts);
        if (acme->dir_pool) {
            apr_pool_destroy(acme->dir_pool);
        }
        acme->dir_pool = p;
        acme->dir = dir;
    }
    if (own) {
        apr_pool_destroy(own);
    }
    return rv;
}

/* Fetches a nonce from newNonce (HEAD, as RFC 8555 §7.2 prefers; GET if
 * a server refuses HEAD). */
static apr_status_t fetch_nonce_once(sacme_acme_t *acme, apr_pool_t *p,
                                     sacme_result_t *res)
{
    static const char *const methods[] = { "HEAD", "GET" };
    apr_size_t i;
    apr_status_t rv = APR_EGENERAL;

    for (i = 0; i < SACME_ARRAY_LEN(methods); ++i) {
        sacme_http_request_t req = { .method = methods[i],
                                     .url = acme->dir->new_nonce };
        sacme_http_response_t *resp;

        rv = sacme_http_perform(acme->http, &req, p, &resp, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        take_nonce(acme, resp);
        if (acme->nonce) {
            return APR_SUCCESS;
        }
        if (resp->status != 405) {
            break;
        }
    }
    return sacme_result_set(res, SACME_EPROTO, "%s gave no Replay-Nonce",
                            acme->dir->new_nonce);
}

/* An answer without a nonce is the CA's passing trouble (a proxy that
 * dropped the header, a node that had none at hand): another one a moment
 * later comes with a nonce, where failing the attempt would cost a whole
 * retry delay. Broken connections are retried by the caller. */
static apr_status_t fetch_nonce(sacme_acme_t *acme, apr_pool_t *p,
                                sacme_result_t *res)
{
    apr_status_t rv;
    int quick = 0;

    while ((rv = fetch_nonce_once(acme, p, res)) == SACME_EPROTO
           && quick < SACME_MAX_QUICK_RETRIES) {
        quick_pause(acme, ++quick, acme->dir->new_nonce, res);
    }
    return rv;
}

/* One signed POST: header {url, nonce, kid|jwk} over payload. */
static apr_status_t post_once(sacme_acme_t *acme, const char *url,
                              json_t *payload, const sacme_key_t *key,
                              int use_jwk, apr_pool_t *p,
                              sacme_http_response_t **resp, sacme_result_t *res)
{
    json_t *header = sacme_json_own(p, json_object()), *jws;
    const char *body, *data = NULL;
    apr_size_t data_len = 0;
    sacme_http_request_t req;
    apr_status_t rv;

    if (!acme->nonce && (rv = fetch_nonce(acme, p, res)) != APR_SUCCESS) {
        return rv;
    }
    json_object_set_new(header, "url", json_string(url));
    json_object_set_new(header, "nonce", json_string(acme->nonce));  /* copies */
    acme->nonce = NULL;          /* a nonce is good for one request only */
    if (use_jwk) {
        json_object_set_new(header, "jwk", json_incref(sacme_jwk_make(key, p)));
    }
    else {
        json_object_set_new(header, "kid", json_string(acme->account_url));
    }
    if (payload) {
        data = sacme_json_dump(p, payload);
        data_len = strlen(data);
    }
    rv = sacme_jws_make(p, key, header, data, data_len, &jws, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    body = sacme_json_dump(p, jws);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.content_type = JOSE_TYPE;
    req.body = body;
    req.body_len = strlen(body);
    rv = sacme_http_perform(acme->http, &req, p, resp, res);
    if (rv == APR_SUCCESS) {
        take_nonce(acme, *resp);
        sacme_log(acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10003)
                  "POST %s -> %d", url, (*resp)->status);
    }
    return rv;
}

/* resend: whether a request whose answer was lost (reset, truncated,
 * timed out) may simply be sent again. */
static apr_status_t post_signed(sacme_acme_t *acme, const char *url,
                                json_t *payload, const sacme_key_t *key,
                                int use_jwk, int resend, apr_pool_t *p,
                                sacme_acme_response_t **presp,
                                sacme_result_t *res)
{
    sacme_acme_response_t *out = apr_pcalloc(p, sizeof(*out));
    sacme_http_response_t *resp;
    apr_status_t rv;
    int attempt, quick = 0;

    if (!res) {
        res = sacme_result_make(p);   /* the retry decisions read it */
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    /* Every URL we sign for came from the CA (the directory, a Location,
     * an order, a Link): one that leaves the directory's origin would have
     * us send signed requests, and follow answers, wherever a response
     * (or whoever altered it) pointed. */
    if (!url || !sacme_http_same_origin(p, acme->url, url)) {
        sacme_log(acme->log, SACME_LOG_ERR, 0, SACME_LOGNO(10191)
                  "refusing to send a signed request to %s: not on the origin of "
                  "the CA's directory %s", url ? url : "(no URL)", acme->url);
        return sacme_result_set(res, SACME_EFOREIGN, "the CA named %s, which is not on "
                                "the origin (scheme, host, port) of its directory %s: "
                                "refused", url ? url : "(no URL)", acme->url);
    }
    if (!key) {
        return sacme_result_set(res, APR_EINVAL, "no account key to sign %s", url);
    }
    if (!use_jwk && !acme->account_url) {
        return sacme_result_set(res, APR_EINVAL, "no account URL to sign %s", url);
    }
    for (attempt = 0; ; ++attempt) {
        json_t *problem;

        rv = post_once(acme, url, payload, key, use_jwk, p, &resp, res);
        if (rv != APR_SUCCESS) {
            acme->nonce = NULL;         /* the request may have used it up */
            if (resend && is_transient(rv, res, 0) && quick < SACME_MAX_QUICK_RETRIES) {
                quick_pause(acme, ++quick, url, res);
                continue;
            }
            sacme_result_prefix(res, "POST %s", url);
            return rv;
        }
        if (resp->status >= 200 && resp->status < 300) {
            break;
        }
        problem = fail_response(acme, "POST", url, resp, p, res);
        /* badNonce is expected now and then (RFC 8555 §6.5): the error
         * response carries a fresh nonce, so retry at once, a few times. */
        if (problem && sacme_problem_class(sacme_json_str(problem, "type"))
                       == SACME_PROBLEM_NONCE
            && attempt < acme->max_nonce_retries) {
            sacme_log(acme->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10004)
                      "POST %s: badNonce, retrying with a fresh nonce (%d of %d)",
                      url, attempt + 1, acme->max_nonce_retries);
            continue;
        }
        if (is_transient(0, res, 1) && quick < SACME_MAX_QUICK_RETRIES) {
            quick_pause(acme, ++quick, url, res);
            continue;
        }
        return res ? res->status : APR_EINVAL;
    }
    out->http = resp;
    /* Some CAs label JSON oddly; an object is an object. */
    if (resp->body_len && (is_json_type(sacme_http_media_type(resp, p))
                           || resp->body[0] == '{')) {
        out->json = sacme_json_parse(p, resp->body, resp->body_len, 0, res);
        if (!out->json) {
            sacme_result_prefix(res, "POST %s", url);
            res->status = SACME_EPROTO;     /* the CA's body, not our input */
            return SACME_EPROTO;
        }
    }
    if (sacme_http_header(resp, "Location")) {
        out->location = sacme_http_resolve(p, url, sacme_http_header(resp, "Location"));
    }
    *presp = out;
    return APR_SUCCESS;
}

apr_status_t sacme_acme_post(sacme_acme_t *acme, const char *url,
                             json_t *payload, int use_jwk, apr_pool_t *p,
                             sacme_acme_response_t **resp, sacme_result_t *res)
{
    return post_signed(acme, url, payload, acme->account_key, use_jwk, 1, p,
                       resp, res);
}

apr_status_t sacme_acme_post_unrepeated(sacme_acme_t *acme, const char *url,
                                        json_t *payload, apr_pool_t *p,
                                        sacme_acme_response_t **resp,
                                        sacme_result_t *res)
{
    return post_signed(acme, url, payload, acme->account_key, 0, 0, p, resp, res);
}

apr_status_t sacme_acme_post_with_key(sacme_acme_t *acme, const char *url,
                                      json_t *payload, const sacme_key_t *key,
                                      apr_pool_t *p,
                                      sacme_acme_response_t **resp,
                                      sacme_result_t *res)
{
    return post_signed(acme, url, payload, key, 1, 1, p, resp, res);
}

apr_time_t sacme_acme_retry_after(const sacme_acme_response_t *resp)
{
    return sacme_time_retry_after(sacme_http_header(resp->http, "Retry-After"),
                                  apr_time_now());
}
