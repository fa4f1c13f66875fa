/* What sacme_scm.c (credentials, requests, failures) shares with
 * sacme_scm_acct.c (the account calls). Not for other callers. */
#ifndef SACME_SCM_INT_H
#define SACME_SCM_INT_H

#include "sacme_scm.h"

struct sacme_scm_t {
    apr_pool_t *p;
    const sacme_scm_creds_t *creds;
    sacme_http_t *http;
    sacme_scm_options_t opts;        /* defaults filled in */
    const char *const *headers;      /* login, password, customerUri, ... */
    int requests;                    /* sent so far, retries included */
};

/* Whether an exchange is sent again after a 5xx or a transport failure. */
typedef enum { SCM_ONCE = 0, SCM_RETRY = 1 } scm_retry_t;

/* One call of the API: method on BASE/acme/v1/path with body (NULL: none)
 * as JSON, retried as retry says. A 2xx answer is success: *resp (may be
 * NULL) gets it, *doc (may be NULL) its JSON body (NULL when empty).
 * Anything else fails with res set as sacme_scm_class() reads it and a
 * message that says what was asked (what: "listing the ACME accounts of
 * organization 6339") and what to do. *transient (may be NULL) is set
 * when the failure was a 5xx or no answer at all: SCM may have run the
 * request. */
apr_status_t sacme_scm_call(sacme_scm_t *scm, const char *method, const char *path,
                            const json_t *body, scm_retry_t retry, const char *what,
                            apr_pool_t *p, sacme_http_response_t **resp, json_t **doc,
                            int *transient, sacme_result_t *res);

/* A failure of class c with a formatted message (status SACME_ESCM + c). */
apr_status_t sacme_scm_fail(sacme_result_t *res, sacme_scm_class_t c,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Waits before retry number n (0: the first): the backoff, doubled each
 * time, and says so in the log. */
void sacme_scm_backoff(sacme_scm_t *scm, int n, const char *why);

#endif /* SACME_SCM_INT_H */
