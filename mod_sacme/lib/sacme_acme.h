/* One ACME server as the engine sees it: its directory, a nonce, the
 * account key and URL once known, and signed requests with the retries
 * RFC 8555 expects of a client (badNonce with the fresh nonce).
 */
#ifndef SACME_ACME_H
#define SACME_ACME_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_log.h"
#include "sacme_result.h"
#include "sacme_http.h"
#include "sacme_key.h"
#include "sacme_directory.h"

typedef struct sacme_acme_t {
    apr_pool_t *p;
    const char *url;              /* the directory URL, verbatim */
    sacme_http_t *http;
    const sacme_log_t *log;
    sacme_directory_t *dir;       /* after sacme_acme_setup(); replaced by
                                     sacme_acme_refresh_directory() */
    apr_pool_t *dir_pool;         /* dir's memory, freed when it is replaced */
    const char *nonce;            /* the last Replay-Nonce seen, unused */
    char nonce_buf[256];          /* its storage: a long-lived client must not
                                     grow its pool with every response */
    sacme_key_t *account_key;     /* after the account is known */
    const char *account_url;      /* the "kid" of signed requests */
    int max_nonce_retries;        /* default SACME_MAX_NONCE_RETRIES */
} sacme_acme_t;

apr_status_t sacme_acme_create(apr_pool_t *p, const char *url,
                               sacme_http_t *http, const sacme_log_t *log,
                               sacme_acme_t **pacme, sacme_result_t *res);

/* Fetches and parses the directory (once; later calls are no-ops). */
apr_status_t sacme_acme_setup(sacme_acme_t *acme, sacme_result_t *res);

/* Reads the directory again, for a client that lives long (the driver's):
 * a CA may add endpoints (renewalInfo) or profiles, or move URLs, while the
 * client lives. When the new directory is fetched and parses, it takes the
 * old one's place: acme->dir and every URL in it change and the old one's
 * memory is freed, so callers read acme->dir's fields when they use them
 * and keep no pointer into it across this call (the client is used by one
 * thread at a time). When it cannot be fetched or does not parse now, the
 * old directory stays in use: the failure is returned (res filled, may be
 * NULL) and logged at info. Without a directory yet, this is
 * sacme_acme_setup(). Each call is a GET: callers decide how often. */
apr_status_t sacme_acme_refresh_directory(sacme_acme_t *acme, sacme_result_t *res);

/* The outcome of a signed request. */
typedef struct sacme_acme_response_t {
    sacme_http_response_t *http;
    json_t *json;            /* parsed body when it is JSON, else NULL */
    const char *location;    /* Location header resolved, or NULL */
} sacme_acme_response_t;

/* A URL a signed request was to go to is not on the directory's origin
 * (scheme, host, port): the CA's answer is not trusted that far. Every CA
 * we know serves its whole API from the directory's origin. */
#define SACME_EFOREIGN (APR_OS_START_USERERR + 20)

/* A signed POST (RFC 8555 §6.2). payload: a JSON value to send, or NULL for
 * POST-as-GET. With use_jwk the header carries the account key's JWK
 * (newAccount, revocation by cert key); otherwise "kid" = account URL.
 * A fresh nonce is fetched when none is held (a newNonce answer without
 * one is asked again twice, quickly); badNonce is retried at once with the
 * nonce from the error response, up to max_nonce_retries. A broken
 * connection or a passing 5xx is sent again twice, after 0.5 s and 1.5 s. A
 * malformed answer without a problem document is SACME_EPROTO. A problem
 * document becomes a non-success status with res filled (sacme_problem.h);
 * a non-2xx without a problem document is reported with its status and
 * body excerpt. 401 is treated like 403 (Sectigo answers 401). A url not on
 * the directory's origin is not signed nor sent: SACME_EFOREIGN, logged. */
apr_status_t sacme_acme_post(sacme_acme_t *acme, const char *url,
                             json_t *payload, int use_jwk, apr_pool_t *p,
                             sacme_acme_response_t **resp, sacme_result_t *res);

/* Like sacme_acme_post (kid, payload), but a request whose answer was lost
 * (reset, truncated, timed out) is not sent again: the CA may have carried
 * it out. The caller finds out from the CA what became of it (finalize:
 * the order's state) before deciding to send it again. */
apr_status_t sacme_acme_post_unrepeated(sacme_acme_t *acme, const char *url,
                                        json_t *payload, apr_pool_t *p,
                                        sacme_acme_response_t **resp,
                                        sacme_result_t *res);

/* Whether a failed request ended without a complete answer (connection
 * refused, reset, cut short, timed out), so the CA may or may not have
 * carried it out. */
int sacme_acme_answer_lost(apr_status_t rv, const sacme_result_t *res);

/* Like sacme_acme_post, but signs with another key (revocation with the
 * certificate key, key rollover); always sends the jwk. */
apr_status_t sacme_acme_post_with_key(sacme_acme_t *acme, const char *url,
                                      json_t *payload, const sacme_key_t *key,
                                      apr_pool_t *p,
                                      sacme_acme_response_t **resp,
                                      sacme_result_t *res);

/* Retry-After of a response as an absolute time, or 0. */
apr_time_t sacme_acme_retry_after(const sacme_acme_response_t *resp);

#endif /* SACME_ACME_H */
