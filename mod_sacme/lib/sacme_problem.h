/* ACME problem documents (RFC 8555 §6.7, RFC 7807) turned into results an
 * admin can act on: the type, the CA's detail, subproblems, and our hint.
 */
#ifndef SACME_PROBLEM_H
#define SACME_PROBLEM_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_result.h"

#define SACME_PROBLEM_NS "urn:ietf:params:acme:error:"

/* How the engine treats a problem type. */
typedef enum {
    SACME_PROBLEM_FATAL = 0,   /* input error: retrying the same request won't help */
    SACME_PROBLEM_RETRY,       /* transient: retry later (with backoff) */
    SACME_PROBLEM_NONCE        /* badNonce: retry now with the fresh nonce */
} sacme_problem_class_t;

/* The short name of a type ("badNonce" for the URN), or the type itself
 * when it is not in the ACME namespace. NULL stays NULL. */
const char *sacme_problem_short(const char *type);

/* The class of a problem type; unknown types are FATAL. */
sacme_problem_class_t sacme_problem_class(const char *type);

/* Our hint for a type, or NULL. */
const char *sacme_problem_hint(const char *type);

/* The hint for a validation the CA failed (the problem of a challenge of
 * an authorization that went invalid), by challenge type: a failed
 * validation says "unauthorized" or "connection" at many CAs, and the
 * general hints of those (the EAB, the delegation) would send the admin
 * the wrong way. NULL for problems that keep their own hint (caa,
 * rateLimited, ...). */
const char *sacme_problem_validation_hint(apr_pool_t *p, const char *type,
                                          const char *challenge, const char *name);

/* Whether a failure is the CA refusing names for a reason its portal
 * decides (Sectigo SCM: delegation, approval, validation, the account's
 * domains, the organization of an OV/EV certificate): rejectedIdentifier
 * or unauthorized answered to a request (not a failed validation), or the
 * OV/EV organization refusal under any type. The driver then asks SCM,
 * when it may (SacmeSCM). */
int sacme_problem_scm_refusal(const sacme_result_t *res);

/* Fills res from a problem document (any JSON object; a missing type is
 * treated as "about:blank"). http_status is the response status. The APR
 * status chosen: APR_EACCES for unauthorized/EAB problems, APR_EAGAIN for
 * retryable ones, APR_EINVAL otherwise. The detail names the type, so a
 * log line is useful even when the CA sends no detail. Returns res->status. */
apr_status_t sacme_problem_apply(sacme_result_t *res, const json_t *problem,
                                 int http_status);

#endif /* SACME_PROBLEM_H */
