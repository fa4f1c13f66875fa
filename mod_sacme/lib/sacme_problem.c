/* ACME problem types: how we treat them and what we tell the admin.
 *
 * The hints are written for the Sectigo deployments this module is built
 * for first (SCM delegation and approval, single-use EAB keys), and stay
 * true for any RFC 8555 CA. */
#include "sacme_problem.h"
#include "sacme_json.h"

typedef struct {
    const char *name;              /* short type, after SACME_PROBLEM_NS */
    sacme_problem_class_t cls;
    const char *hint;
} problem_info_t;

static const problem_info_t PROBLEMS[] = {
    { "accountDoesNotExist", SACME_PROBLEM_FATAL,
      "the CA does not know this account key; a new account will be registered "
      "(which needs EAB credentials if the CA requires them)" },
    { "alreadyRevoked", SACME_PROBLEM_FATAL,
      "the certificate is already revoked" },
    { "badCSR", SACME_PROBLEM_FATAL,
      "the CA refused the certificate request: check the names and the key type "
      "(SacmeKeyType) against what the CA profile allows" },
    { "badNonce", SACME_PROBLEM_NONCE, NULL },
    { "badPublicKey", SACME_PROBLEM_FATAL,
      "the CA does not accept this key type; choose another with SacmeKeyType" },
    { "badRevocationReason", SACME_PROBLEM_FATAL,
      "the CA does not accept this revocation reason" },
    { "badSignatureAlgorithm", SACME_PROBLEM_FATAL,
      "the CA does not accept the account key's signature algorithm" },
    { "caa", SACME_PROBLEM_FATAL,
      "a DNS CAA record forbids this CA from issuing for the name: add the CA's "
      "CAA identifier to the domain's CAA records" },
    { "compound", SACME_PROBLEM_FATAL, NULL },
    { "connection", SACME_PROBLEM_RETRY,
      "the CA could not connect to this server to validate the challenge: is "
      "port 80 reachable from the internet for this name?" },
    { "dns", SACME_PROBLEM_RETRY,
      "the CA could not resolve the name: check its DNS records" },
    { "externalAccountRequired", SACME_PROBLEM_FATAL,
      "this CA requires External Account Binding: configure the EAB key id and "
      "HMAC key from your CA account (Sectigo: SCM > ACME accounts) with SacmeEAB" },
    { "incorrectResponse", SACME_PROBLEM_FATAL,
      "the CA saw a wrong challenge response: is another server or a proxy "
      "answering /.well-known/acme-challenge/ for this name?" },
    { "invalidContact", SACME_PROBLEM_FATAL,
      "the CA refused the contact address: check SacmeContact" },
    { "malformed", SACME_PROBLEM_FATAL, NULL },
    { "orderNotReady", SACME_PROBLEM_RETRY,
      "the order is not ready to be finalized yet" },
    { "rateLimited", SACME_PROBLEM_RETRY,
      "the CA rate-limits this account or these names; the next attempt waits "
      "for the time the CA asked for" },
    { "rejectedIdentifier", SACME_PROBLEM_FATAL,
      "the CA will not issue for this name. In Sectigo SCM: Domains, select "
      "the name, Delegate it to the ACME account's organization (or "
      "department), have the delegation approved (Approve Delegations) and, "
      "for a public CA, Validate it (DCV); then add it to the ACME account "
      "('sacmectl scm domains add', or Enrollment > ACME > the account)" },
    { "serverInternal", SACME_PROBLEM_RETRY,
      "the CA had an internal error; it will be retried later" },
    { "tls", SACME_PROBLEM_RETRY,
      "the CA had a TLS problem validating the name" },
    { "unauthorized", SACME_PROBLEM_FATAL,
      "the CA refused the request: check that the EAB key id and HMAC key are "
      "right and still valid (Sectigo SCM: Enrollment > ACME > the account), "
      "and that the names are delegated to the ACME account's organization "
      "(SCM: Domains > Delegate, delegation approved, domain validated, name "
      "in the account's domains: 'sacmectl scm domains add')" },
    { "unsupportedContact", SACME_PROBLEM_FATAL,
      "the CA does not accept this contact scheme: use an e-mail address" },
    { "unsupportedIdentifier", SACME_PROBLEM_FATAL,
      "the CA does not issue for this kind of name" },
    { "userActionRequired", SACME_PROBLEM_FATAL,
      "the CA needs you to act first (often: accept new terms of service); see "
      "the instance link in the detail" },
};

static const problem_info_t *lookup(const char *type)
{
    const char *name = sacme_problem_short(type);
    apr_size_t i;

    for (i = 0; name && i < SACME_ARRAY_LEN(PROBLEMS); ++i) {
        if (!strcmp(name, PROBLEMS[i].name)) {
            return &PROBLEMS[i];
        }
    }
    return NULL;
}

const char *sacme_problem_short(const char *type)
{
    apr_size_t n = sizeof(SACME_PROBLEM_NS) - 1;

    if (type && !strncmp(type, SACME_PROBLEM_NS, n)) {
        return type + n;
    }
    /* Draft-era servers used this namespace; treat it the same. */
    if (type && !strncmp(type, "urn:acme:error:", 15)) {
        return type + 15;
    }
    return type;
}

sacme_problem_class_t sacme_problem_class(const char *type)
{
    const problem_info_t *info = lookup(type);
    return info ? info->cls : SACME_PROBLEM_FATAL;
}

const char *sacme_problem_hint(const char *type)
{
    const problem_info_t *info = lookup(type);
    return info ? info->hint : NULL;
}

/* Sectigo's refusal of an OV or EV order whose names SCM does not tie to
 * the one organization the account's certificate would name (win-acme
 * #1644, #2374: "not all linked to the same preauthorized Subject
 * organization"). Whatever type carries it, the fix is in SCM. */
static int is_organization_mismatch(const char *detail)
{
    return detail && strstr(detail, "preauthorized") && strstr(detail, "rganization");
}

#define ORGANIZATION_HINT \
    "the CA issues an OV or EV certificate only for names that SCM ties to the " \
    "one organization the certificate names: in Sectigo SCM, delegate every " \
    "name of this domain to the ACME account's organization and have it " \
    "validated for OV/EV there (Domains > Delegate, then Validate); names of " \
    "different organizations need SacmeDomain lines of their own, each with the " \
    "EAB of an ACME account of that organization"

/* Sectigo reuses "malformed" for an EAB key that was already bound to an
 * account (single-use EAB). That needs new credentials, not a retry. */
static const char *special_hint(const char *type, const char *detail)
{
    const char *name = sacme_problem_short(type);

    if (is_organization_mismatch(detail)) {
        return ORGANIZATION_HINT;
    }

    if (name && detail && !strcmp(name, "malformed")
        && strstr(detail, "not awaiting external account binding")) {
        return "this EAB key id was already used to register an account, and "
               "the CA allows it only once: create new EAB credentials in the CA "
               "portal (Sectigo SCM), or ask for EAB reuse to be enabled, and "
               "keep the account directory so this never happens again";
    }
    return NULL;
}

/* "rejectedIdentifier for x.example: detail; ..." from subproblems. */
static const char *render_subproblems(apr_pool_t *p, const json_t *problem)
{
    json_t *subs = sacme_json_arr(problem, "subproblems");
    const char *out = NULL;
    size_t i;
    json_t *sub;

    json_array_foreach(subs, i, sub) {
        const char *stype = sacme_problem_short(sacme_json_str(sub, "type"));
        const char *sdetail = sacme_json_str(sub, "detail");
        json_t *ident = sacme_json_obj(sub, "identifier");
        const char *value = sacme_json_str(ident, "value");
        const char *one = apr_psprintf(p, "%s%s%s: %s",
                                       stype ? stype : "problem",
                                       value ? " for " : "", value ? value : "",
                                       sdetail ? sdetail : "(no detail)");
        out = out ? apr_pstrcat(p, out, "; ", one, NULL) : one;
        if (i >= 20) {          /* bound the text; a log line is not a report */
            out = apr_pstrcat(p, out, "; ...", NULL);
            break;
        }
    }
    return out;
}

const char *sacme_problem_validation_hint(apr_pool_t *p, const char *type,
                                          const char *challenge, const char *name)
{
    static const char *const about_reach[] = {
        "unauthorized", "connection", "dns", "tls", "incorrectResponse", NULL
    };
    const char *short_type = sacme_problem_short(type);
    int i;

    for (i = 0; short_type && about_reach[i]; ++i) {
        if (!strcmp(short_type, about_reach[i])) {
            break;
        }
    }
    if (!short_type || !about_reach[i] || !challenge) {
        return NULL;
    }
    if (!strcmp(challenge, "http-01")) {
        return apr_psprintf(p, "the CA could not verify %s over http-01: port 80 of "
                            "%s, at the address the CA resolves it to, must reach "
                            "this httpd (behind port forwarding: SacmePortMap), and "
                            "nothing in front of it may answer "
                            "/.well-known/acme-challenge/ itself", name, name);
    }
    if (!strcmp(challenge, "tls-alpn-01")) {
        return apr_psprintf(p, "the CA could not verify %s over tls-alpn-01: port 443 "
                            "of %s must reach this httpd's mod_ssl directly (a proxy "
                            "or load balancer that ends TLS itself cannot pass the "
                            "acme-tls/1 handshake on; behind port forwarding: "
                            "SacmePortMap)", name, name);
    }
    if (!strcmp(challenge, "dns-01")) {
        return apr_psprintf(p, "the CA could not find the TXT record "
                            "_acme-challenge.%s: check that SacmeDnsCmd updates the "
                            "zone the world sees, and let SacmeDnsCheck wait for it "
                            "where the DNS takes a while to publish", name);
    }
    return NULL;
}

int sacme_problem_scm_refusal(const sacme_result_t *res)
{
    const char *name;

    if (!res || res->status == APR_SUCCESS) {
        return 0;
    }
    if (is_organization_mismatch(res->detail)
        || is_organization_mismatch(res->subproblems)) {
        return 1;
    }
    name = sacme_problem_short(res->problem);
    /* A failed validation's "unauthorized" is about reaching this server,
     * which no portal setting fixes. */
    return name && !res->validation
           && (!strcmp(name, "rejectedIdentifier") || !strcmp(name, "unauthorized"));
}

apr_status_t sacme_problem_apply(sacme_result_t *res, const json_t *problem,
                                 int http_status)
{
    const char *type = sacme_json_str(problem, "type");
    const char *detail = sacme_json_str(problem, "detail");
    const char *name;
    apr_status_t rv;

    if (!type) {
        type = "about:blank";
    }
    name = sacme_problem_short(type);
    if (!strcmp(name, "unauthorized") || !strcmp(name, "externalAccountRequired")
        || !strcmp(name, "accountDoesNotExist")) {
        rv = APR_EACCES;
    }
    else if (sacme_problem_class(type) != SACME_PROBLEM_FATAL) {
        rv = APR_EAGAIN;
    }
    else {
        rv = APR_EINVAL;
    }
    sacme_result_set(res, rv, "the CA answered %s%s%s", name,
                     detail ? ": " : "", detail ? detail : "");
    if (res) {
        res->problem = apr_pstrdup(res->p, type);
        res->http_status = http_status;
        res->subproblems = render_subproblems(res->p, problem);
        res->hint = special_hint(type, detail);
        if (!res->hint) {
            res->hint = sacme_problem_hint(type);
        }
    }
    return rv;
}
