/* One whole issuance, blocking: order, authorize, finalize, download, check.
 * Polling honours Retry-After, clamped to [poll_min, retry_after_max];
 * without it, polling backs off from poll_start, doubling up to poll_max,
 * with jitter (a fast CA is not kept waiting, a slow one not hammered). A wait that would pass the issuance's timeout ends the call with
 * SACME_EWAITING and the time to come back, so a slow CA never holds the
 * caller for long.
 */
#ifndef SACME_ISSUE_H
#define SACME_ISSUE_H

#include <apr_thread_rwlock.h>

#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_chain.h"

/* One challenge as the server must publish it. */
typedef struct sacme_chal_pub_t {
    const char *type;       /* "http-01", "dns-01", "tls-alpn-01" */
    const char *name;       /* the identifier's value: a DNS name (for a
                               wildcard authorization the base name, without
                               "*.") or an IP address */
    int ip;                 /* identifier type "ip" (RFC 8738) */
    int wildcard;           /* the authorization is for "*.name" */
    const char *token;
    const char *key_authz;  /* token "." thumbprint (RFC 8555 §8.1) */
} sacme_chal_pub_t;

/* Publishes (setup=1) or withdraws (setup=0) a challenge response: the key
 * authorization at /.well-known/acme-challenge/<token> for http-01, a TXT
 * record for dns-01, a certificate for tls-alpn-01. A failed setup fails
 * the issuance with what res says. */
typedef apr_status_t sacme_challenge_fn(void *baton, int setup,
                                        const sacme_chal_pub_t *pub,
                                        apr_pool_t *p, sacme_result_t *res);

/* Called once the challenges of every pending authorization of the order are
 * published, before any is answered (and only when one was published): the
 * place to wait until DNS shows every record, since the CA may look at once
 * and an invalid authorization cannot be tried again. published holds
 * sacme_chal_pub_t *. */
typedef apr_status_t sacme_ready_fn(void *baton, const apr_array_header_t *published,
                                    apr_pool_t *p, sacme_result_t *res);

/* Called once the order URL is known (new or resumed), so the caller can
 * persist it before anything else happens: after a crash, the order is
 * resumed instead of started over. An error aborts the issuance. */
typedef apr_status_t sacme_order_fn(void *baton, const char *order_url);

typedef struct sacme_issue_opts_t {
    apr_array_header_t *names;        /* const char *, the first is the primary */
    const sacme_key_t *cert_key;      /* the certificate's key (never the account key) */
    apr_array_header_t *challenge_types; /* preference; NULL: {"http-01"} */
    sacme_challenge_fn *challenge_fn; /* NULL: authorizations must be valid already,
                                         or the CA validates without our help */
    void *challenge_baton;
    sacme_ready_fn *ready_fn;         /* NULL: answer at once */
    void *ready_baton;
    apr_interval_time_t poll_min;     /* least Retry-After followed; 0: 1 s */
    apr_interval_time_t poll_start;   /* first wait without Retry-After; 0: 20 ms */
    apr_interval_time_t poll_max;     /* backoff cap; 0: 10 s */
    apr_interval_time_t release_after;/* a wait this long ends the call with
                                         SACME_EWAITING at once, so the caller
                                         can use its thread elsewhere meanwhile;
                                         0: never */
    apr_interval_time_t retry_after_max; /* clamp of the CA's Retry-After; 0: 1 h */
    apr_interval_time_t timeout;      /* whole issuance; 0: 10 min */
    const char *resume_url;           /* an order to pick up again, or NULL */
    sacme_order_fn *order_fn;         /* NULL: nothing to persist */
    void *order_baton;
    apr_thread_rwlock_t *order_guard; /* NULL, or read-held from a new order's
                                         request until order_fn recorded it: a
                                         process that ends holding it for
                                         writing leaves no order at the CA
                                         that it has not recorded */
    const char *replaces;             /* the ARI certID of the certificate a
                                         new order renews ("replaces", RFC
                                         9773), or NULL; sent only to a CA
                                         with renewalInfo, and dropped once
                                         if the CA refuses it */
    int challenge_none;               /* names must be pre-validated: never
                                         answer a challenge */
    const char *profile;              /* the profile a new order asks for
                                         (sacme_profile_choose), or NULL */
} sacme_issue_opts_t;

/* A resumed order the CA no longer has, or that went invalid: the caller
 * should forget it and order anew. */
#define SACME_EORDERGONE (APR_OS_START_USERERR + 2)

/* The CA is still working on the order (an authorization or the order is
 * pending/processing) when the issuance's time is up: not an error, the
 * order is to be picked up again at res->retry_after. OV/EV approvals can
 * take hours. */
#define SACME_EWAITING (APR_OS_START_USERERR + 3)

/* The CA issued a certificate that fails our checks (wrong key, a name
 * missing, not valid, a broken chain). It is never kept; since the order
 * would hand out the same certificate again, the caller should order anew
 * next time. */
#define SACME_EBADCERT (APR_OS_START_USERERR + 4)

/* Issues a certificate for opts->names with the account already set up
 * (sacme_acct_ensure). The chain is checked with sacme_chain_check before
 * it is returned. */
apr_status_t sacme_issue(sacme_acme_t *acme, const sacme_issue_opts_t *opts,
                         apr_pool_t *p, sacme_chain_t **chain,
                         sacme_result_t *res);

#endif /* SACME_ISSUE_H */
