/* SCM's ACME accounts: list, show, create (never twice for one unanswered
 * request), delete, their domains, and the look-ups the driver makes
 * (sacme_scm.h). */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include <apr_escape.h>

#include "sacme_scm_int.h"
#include "sacme_json.h"

long sacme_scm_account_id(const json_t *account)
{
    const json_t *id = json_object_get(account, "id");

    return json_is_integer(id) && json_integer_value(id) > 0
           ? (long)json_integer_value(id) : 0;
}

long sacme_scm_location_id(const char *location)
{
    const char *end, *start;
    char *stop;
    long id;

    if (!location || !*location) {
        return 0;
    }
    end = location + strcspn(location, "?#");
    while (end > location && end[-1] == '/') {
        --end;
    }
    start = end;
    while (start > location && start[-1] >= '0' && start[-1] <= '9') {
        --start;
    }
    /* The id is the whole last segment: ".../account/12" */
    if (start == end || (start > location && start[-1] != '/') || end - start > 18) {
        return 0;
    }
    errno = 0;
    id = strtol(start, &stop, 10);
    return (stop == end && errno == 0 && id > 0) ? id : 0;
}

json_t *sacme_scm_account_public(apr_pool_t *p, const json_t *account)
{
    json_t *copy = json_deep_copy(account);

    if (json_is_object(copy)) {
        json_object_del(copy, "macKey");
    }
    return sacme_json_own(p, copy);
}

apr_status_t sacme_scm_accounts_list(sacme_scm_t *scm, long org_id, const char *name,
                                     apr_pool_t *p, json_t **accounts,
                                     sacme_result_t *res)
{
    const char *path = apr_psprintf(p, "account?organizationId=%ld", org_id);
    json_t *doc;
    apr_status_t rv;

    *accounts = NULL;
    if (name) {
        path = apr_pstrcat(p, path, "&name=", apr_pescape_urlencoded(p, name), NULL);
    }
    rv = sacme_scm_call(scm, "GET", path, NULL, SCM_RETRY,
                        apr_psprintf(p, "listing the ACME accounts of organization %ld",
                                     org_id), p, NULL, &doc, NULL, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_array(doc)) {
        return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM's list of the ACME accounts "
                              "of organization %ld is not a JSON array: check that "
                              "\"url\" in %s is SCM's API base (ending in /api)",
                              org_id, scm->creds->file);
    }
    *accounts = doc;
    return APR_SUCCESS;
}

apr_status_t sacme_scm_account_get(sacme_scm_t *scm, long id, apr_pool_t *p,
                                   json_t **account, sacme_result_t *res)
{
    json_t *doc;
    apr_status_t rv;

    *account = NULL;
    rv = sacme_scm_call(scm, "GET", apr_psprintf(p, "account/%ld", id), NULL, SCM_RETRY,
                        apr_psprintf(p, "reading ACME account %ld", id), p, NULL, &doc,
                        NULL, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_object(doc) || sacme_scm_account_id(doc) != id) {
        return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM's answer for ACME account "
                              "%ld is not that account: check that \"url\" in %s is "
                              "SCM's API base (ending in /api)", id, scm->creds->file);
    }
    *account = doc;
    return APR_SUCCESS;
}

/* The account named name in the list, or NULL. */
static const json_t *named(const json_t *accounts, const char *name)
{
    const json_t *a;
    const char *n;
    size_t i;

    json_array_foreach(accounts, i, a) {
        if ((n = sacme_json_str(a, "name")) && !strcmp(n, name)
            && sacme_scm_account_id(a)) {
            return a;
        }
    }
    return NULL;
}

apr_status_t sacme_scm_account_create(sacme_scm_t *scm,
                                      const sacme_scm_new_account_t *acct,
                                      apr_pool_t *p, long *id, int *found,
                                      sacme_result_t *res)
{
    /* A department is an organization of its own in SCM, with its own id
     * (see sacme_scm.h): the account is created, and looked up, there. */
    long org = acct->department_id > 0 ? acct->department_id : acct->org_id;
    const char *what = apr_psprintf(p, "creating ACME account '%s' in organization %ld",
                                    acct->name, org);
    sacme_result_t *lres = sacme_result_make(p);
    sacme_http_response_t *resp;
    json_t *body, *list;
    const json_t *a;
    const char *loc;
    apr_status_t rv;
    int n, transient, unanswered = 0;

    *id = 0;
    if (found) {
        *found = 0;
    }
    body = sacme_json_own(p, json_pack("{s:s, s:s, s:I}", "name", acct->name,
                                       "acmeServer", acct->acme_server,
                                       "organizationId", (json_int_t)org));
    if (!body) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "creating ACME account: the name "
                              "and the ACME server URL must be UTF-8 text");
    }
    for (n = 0;; ++n) {
        /* Never sent again by the call itself: SCM may have created the
         * account although we heard nothing. */
        rv = sacme_scm_call(scm, "POST", "account", body, SCM_ONCE, what, p, &resp,
                            NULL, &transient, res);
        if (rv == APR_SUCCESS) {
            loc = sacme_http_header(resp, "Location");
            if (!(*id = sacme_scm_location_id(loc))) {
                return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM answered the create "
                                      "of ACME account '%s' with HTTP %d but %s: look "
                                      "for the account with sacmectl scm account list "
                                      "--org-id %ld before creating it again",
                                      acct->name, resp->status,
                                      loc ? apr_psprintf(p, "a Location without an "
                                                         "account id (%s)", loc)
                                          : "no Location", org);
            }
            return APR_SUCCESS;
        }
        /* A refusal after an unanswered create may be SCM saying the name
         * is taken, by that create: the list tells. */
        if (!transient && !(unanswered && sacme_scm_class(res) == SACME_SCM_REFUSED)) {
            return rv;
        }
        /* Unanswered (or 5xx): whether SCM made the account, its list says. */
        if (transient) {
            sacme_scm_backoff(scm, n,
                              apr_psprintf(p, "the create of ACME account '%s' was not "
                                           "answered; looking it up by name first",
                                           acct->name));
        }
        sacme_result_reset(lres);
        if (sacme_scm_accounts_list(scm, org, acct->name, p, &list, lres)
            != APR_SUCCESS) {
            sacme_result_prefix(lres, "the create of ACME account '%s' was not "
                                "answered (%s), and whether SCM made it is unknown: "
                                "run sacmectl scm account list --org-id %ld before "
                                "creating it again", acct->name, res->detail, org);
            return sacme_scm_fail(res, sacme_scm_class(lres), "%s", lres->detail);
        }
        if ((a = named(list, acct->name)) != NULL) {
            *id = sacme_scm_account_id(a);
            if (found) {
                *found = 1;
            }
            sacme_result_reset(res);
            return APR_SUCCESS;
        }
        if (!transient) {
            return rv;                 /* refused, and not there: SCM's word stands */
        }
        unanswered = 1;
        if (n >= scm->opts.retries) {
            sacme_result_prefix(res, "SCM did not list the account afterwards either "
                                "(it may still make it: look with sacmectl scm account "
                                "list --org-id %ld before creating it again)", org);
            return res->status;
        }
    }
}

apr_status_t sacme_scm_account_delete(sacme_scm_t *scm, long id, sacme_result_t *res)
{
    apr_pool_t *p = res->p;

    return sacme_scm_call(scm, "DELETE", apr_psprintf(p, "account/%ld", id), NULL,
                          SCM_RETRY, apr_psprintf(p, "deleting ACME account %ld", id),
                          p, NULL, NULL, NULL, res);
}

apr_status_t sacme_scm_domains_change(sacme_scm_t *scm, long id, int add,
                                      const apr_array_header_t *names, apr_pool_t *p,
                                      apr_array_header_t **left, sacme_result_t *res)
{
    const char *member = add ? "notAddedDomains" : "notRemovedDomains";
    json_t *body, *list = json_array(), *doc, *v;
    const char *name;
    apr_status_t rv;
    size_t i;
    int k;

    *left = apr_array_make(p, 2, sizeof(const char *));
    for (k = 0; k < names->nelts; ++k) {
        json_array_append_new(list, json_pack("{s:s}", "name",
                                              APR_ARRAY_IDX(names, k, const char *)));
    }
    body = sacme_json_own(p, json_pack("{s:o}", "domains", list));
    /* Sent again after a failure: adding a name the account has is no
     * error. (A removal sent again reports a name the first one removed as
     * not removed; said in docs/scm.md.) */
    rv = sacme_scm_call(scm, add ? "POST" : "DELETE",
                        apr_psprintf(p, "account/%ld/domains", id), body, SCM_RETRY,
                        apr_psprintf(p, "%s the domains of ACME account %ld",
                                     add ? "adding to" : "removing from", id),
                        p, NULL, &doc, NULL, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (doc && !json_is_object(doc)) {
        return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM's answer to the change of "
                              "the domains of ACME account %ld is not a JSON object",
                              id);
    }
    /* Names, or {"name": N} objects: either is taken. */
    json_array_foreach(json_object_get(doc, member), i, v) {
        name = json_is_string(v) ? json_string_value(v) : sacme_json_str(v, "name");
        if (name) {
            APR_ARRAY_PUSH(*left, const char *) = apr_pstrdup(p, name);
        }
    }
    return APR_SUCCESS;
}

apr_status_t sacme_scm_account_by_kid(sacme_scm_t *scm, long org_id, const char *kid,
                                      apr_pool_t *p, json_t **account,
                                      sacme_result_t *res)
{
    json_t *list, *a;
    const char *mac;
    apr_status_t rv;
    size_t i;

    *account = NULL;
    if ((rv = sacme_scm_accounts_list(scm, org_id, NULL, p, &list, res)) != APR_SUCCESS) {
        return rv;
    }
    json_array_foreach(list, i, a) {
        if ((mac = sacme_json_str(a, "macId")) && !strcmp(mac, kid)) {
            *account = a;
            return APR_SUCCESS;
        }
    }
    return sacme_scm_fail(res, SACME_SCM_NOT_FOUND, "no ACME account of SCM "
                          "organization %ld has the EAB key id %s (its macId): the "
                          "account is in another organization or department (name it "
                          "with --org-id), or the key id of SacmeEAB is not SCM's "
                          "(sacmectl scm account list shows the accounts)",
                          org_id, kid);
}

/* The length of name without trailing dots. */
static apr_size_t bare_len(const char *name)
{
    apr_size_t n = strlen(name);

    while (n > 0 && name[n - 1] == '.') {
        --n;
    }
    return n;
}

int sacme_scm_domain_covers(const char *entry, const char *name)
{
    apr_size_t el, nl;

    if (!entry || !name) {
        return 0;
    }
    el = bare_len(entry);
    nl = bare_len(name);
    if (el == 0 || nl == 0) {
        return 0;
    }
    if (el == nl && !strncasecmp(entry, name, el)) {
        return 1;
    }
    if (el < 3 || strncmp(entry, "*.", 2)) {
        return 0;
    }
    /* *.x covers x and everything below it (wildcards included). */
    entry += 2;
    el -= 2;
    if (nl > 2 && !strncmp(name, "*.", 2)) {
        name += 2;
        nl -= 2;
    }
    if (nl == el) {
        return !strncasecmp(entry, name, el);
    }
    return nl > el && name[nl - el - 1] == '.' && !strncasecmp(name + nl - el, entry, el);
}

int sacme_scm_account_has_domain(const json_t *account, const char *name,
                                 const char **entry)
{
    const json_t *d;
    const char *e;
    size_t i;

    json_array_foreach(json_object_get(account, "domains"), i, d) {
        e = json_is_string(d) ? json_string_value(d) : sacme_json_str(d, "name");
        if (e && sacme_scm_domain_covers(e, name)) {
            if (entry) {
                *entry = e;
            }
            return 1;
        }
    }
    return 0;
}
