/* The driver's look into Sectigo SCM when the CA refuses names
 * (SacmeSCM file:PATH): the CA says only that it will not issue; SCM
 * knows whether the names are in the ACME account's domain list. What it
 * says is added to the failure's hint (sacme_refusal_fn, sacme_drive.h),
 * so that the log line and the status name the missing names and the
 * command that adds them.
 */
#ifndef SACME_SCM_CHECK_H
#define SACME_SCM_CHECK_H

#include "sacme_drive.h"
#include "sacme_scm.h"

typedef struct sacme_scm_check_t sacme_scm_check_t;

/* A check over the client scm, which it then owns: its requests are made
 * one at a time, whichever worker asks. org_id is the organization whose
 * accounts are searched for the CA's EAB key id (0: not given, and the
 * check can only say so); file names the credentials file in messages. */
apr_status_t sacme_scm_check_make(apr_pool_t *p, sacme_scm_t *scm, long org_id,
                                  const char *file, sacme_scm_check_t **check,
                                  sacme_result_t *res);

/* The sacme_refusal_fn of the driver; baton is a sacme_scm_check_t. */
const char *sacme_scm_check_refusal(void *baton, const sacme_domain_t *dom,
                                    const sacme_ca_t *ca, const sacme_result_t *res,
                                    apr_pool_t *p);

#endif /* SACME_SCM_CHECK_H */
