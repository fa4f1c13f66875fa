/* What SCM says of names the CA refused (sacme_scm_check.h). */
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "sacme_scm_check.h"
#include "sacme_json.h"

struct sacme_scm_check_t {
    sacme_scm_t *scm;
    long org_id;
    const char *file;
    apr_thread_mutex_t *lock;   /* one libcurl handle: one request at a time */
};

apr_status_t sacme_scm_check_make(apr_pool_t *p, sacme_scm_t *scm, long org_id,
                                  const char *file, sacme_scm_check_t **check,
                                  sacme_result_t *res)
{
    sacme_scm_check_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    c->scm = scm;
    c->org_id = org_id;
    c->file = file;
    rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return sacme_result_set(res, rv, "SacmeSCM: cannot make a lock");
    }
    *check = c;
    return APR_SUCCESS;
}

/* "a b c" of the names */
static const char *joined(apr_pool_t *p, const apr_array_header_t *names)
{
    return names->nelts ? apr_array_pstrcat(p, names, ' ') : "";
}

/* What the account's domain list says of the domain's names. */
static const char *judge(apr_pool_t *p, const sacme_domain_t *dom, const json_t *acct)
{
    apr_array_header_t *lacking = apr_array_make(p, 4, sizeof(const char *));
    long id = sacme_scm_account_id(acct);
    const char *name = sacme_json_str(acct, "name");
    const char *who;
    int i;

    for (i = 0; i < dom->names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(dom->names, i, const char *);
        if (!sacme_scm_account_has_domain(acct, n, NULL)) {
            APR_ARRAY_PUSH(lacking, const char *) = n;
        }
    }
    who = apr_psprintf(p, "SCM: the ACME account %ld%s%s%s", id, name ? " (" : "",
                       name ? name : "", name ? ")" : "");
    if (lacking->nelts) {
        return apr_psprintf(p, "%s does not have %s in its domains: add %s with "
                            "'sacmectl scm domains add --account %ld %s', then have "
                            "the delegation approved in SCM", who, joined(p, lacking),
                            lacking->nelts > 1 ? "them" : "it", id, joined(p, lacking));
    }
    return apr_psprintf(p, "%s has every name of this domain in its domains, so "
                        "look in SCM at what comes after: the delegation's "
                        "approval, the domain's validation (DCV) and, for OV/EV, "
                        "the organization the names are validated for", who);
}

const char *sacme_scm_check_refusal(void *baton, const sacme_domain_t *dom,
                                    const sacme_ca_t *ca, const sacme_result_t *res,
                                    apr_pool_t *p)
{
    sacme_scm_check_t *c = baton;
    sacme_result_t *r = sacme_result_make(p);
    json_t *acct = NULL;
    const char *said;
    apr_status_t rv;

    (void)res;
    if (!ca->eab || !ca->eab->kid) {
        return "SacmeSCM: this CA's account has no EAB key id, by which the "
               "driver would find the ACME account in SCM";
    }
    if (!c->org_id) {
        return apr_psprintf(p, "SacmeSCM: give \"organizationId\" in %s, so that "
                            "the driver can find the ACME account of EAB key id "
                            "%s in SCM and say which names it lacks", c->file,
                            ca->eab->kid);
    }
    apr_thread_mutex_lock(c->lock);
    rv = sacme_scm_account_by_kid(c->scm, c->org_id, ca->eab->kid, p, &acct, r);
    apr_thread_mutex_unlock(c->lock);
    if (rv != APR_SUCCESS) {
        said = apr_psprintf(p, "SacmeSCM: SCM could not tell whether the names are "
                            "in the ACME account's domains: %s",
                            sacme_result_message(r, p));
    }
    else {
        said = judge(p, dom, acct);
    }
    return said;        /* acct is p's */
}
