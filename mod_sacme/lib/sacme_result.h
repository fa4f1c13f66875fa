/* The result of an engine operation: an APR status plus what an admin needs
 * to act on it (the ACME problem, the CA's detail, our hint, when to retry).
 * Functions return apr_status_t and fill a sacme_result_t passed by the
 * caller; the status page and the store serialise it to JSON.
 */
#ifndef SACME_RESULT_H
#define SACME_RESULT_H

#include <jansson.h>
#include "sacme.h"

typedef struct sacme_result_t {
    apr_pool_t *p;            /* strings below live here */
    apr_status_t status;      /* APR_SUCCESS or the failure */
    const char *problem;      /* ACME problem type URN, or NULL */
    const char *detail;       /* what happened, in words */
    const char *subproblems;  /* ACME subproblems rendered as text, or NULL */
    const char *hint;         /* what the admin can do about it, or NULL */
    int http_status;          /* HTTP status of the failing response, or 0 */
    apr_time_t retry_after;   /* absolute time the CA asked us to wait until, or 0 */
    int validation;           /* the problem is the CA's validation of a
                                 challenge (about reaching this server), not
                                 a refusal of a request or of the order */
} sacme_result_t;

sacme_result_t *sacme_result_make(apr_pool_t *p);

/* Back to success, all fields cleared. */
void sacme_result_reset(sacme_result_t *r);

/* Records a failure (or success) with a formatted detail; clears problem,
 * subproblems, hint and http status. Returns rv so callers can
 * `return sacme_result_set(res, APR_EINVAL, "...")`. A NULL result is allowed. */
apr_status_t sacme_result_set(sacme_result_t *r, apr_status_t rv,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the current detail with context: "context: detail". */
void sacme_result_prefix(sacme_result_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The status to give a log call next to sacme_result_message(): the
 * failure's own status when an OS or APR error is its cause, 0 when the
 * result speaks for itself (an ACME problem, an HTTP status from the CA,
 * one of our SACME_E* codes). httpd prints a non-zero status as
 * "(13)Permission denied: " before the message, which for a CA's refusal
 * only misleads. */
apr_status_t sacme_result_log_status(const sacme_result_t *r);

/* One line for a log: "detail [problem type] subproblems (hint: ...)". */
const char *sacme_result_message(const sacme_result_t *r, apr_pool_t *p);

/* JSON form for the store and status page; the result never holds secrets. */
json_t *sacme_result_to_json(const sacme_result_t *r);

#endif /* SACME_RESULT_H */
