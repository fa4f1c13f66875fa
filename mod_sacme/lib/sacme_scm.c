/* SCM REST API client: the credentials file, the requests with their
 * retries, and failures classified into messages that say what to do
 * (sacme_scm.h). The account calls are in sacme_scm_acct.c. */
#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "sacme_scm_int.h"
#include "sacme_eab.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_ossl.h"
#include "sacme_time.h"

#define DEFAULT_TIMEOUT apr_time_from_sec(30)
#define DEFAULT_RETRIES 2
#define DEFAULT_BACKOFF apr_time_from_sec(1)
#define MAX_RETRIES 10

static const char *const CLASS_NAMES[] = {
    [SACME_SCM_OK] = "ok",
    [SACME_SCM_AUTH] = "auth",
    [SACME_SCM_REFUSED] = "refused",
    [SACME_SCM_NOT_FOUND] = "not-found",
    [SACME_SCM_RATE_LIMITED] = "rate-limited",
    [SACME_SCM_SERVER] = "server",
    [SACME_SCM_NETWORK] = "network",
    [SACME_SCM_GARBAGE] = "garbage",
    [SACME_SCM_LOCAL] = "local",
};

sacme_scm_class_t sacme_scm_class(const sacme_result_t *res)
{
    if (!res || res->status == APR_SUCCESS) {
        return SACME_SCM_OK;
    }
    if (res->status > SACME_ESCM
        && res->status < SACME_ESCM + (apr_status_t)SACME_ARRAY_LEN(CLASS_NAMES)) {
        return (sacme_scm_class_t)(res->status - SACME_ESCM);
    }
    /* Not one of ours: something of this machine failed under us. */
    return SACME_SCM_LOCAL;
}

const char *sacme_scm_class_name(sacme_scm_class_t c)
{
    return (unsigned)c < SACME_ARRAY_LEN(CLASS_NAMES) ? CLASS_NAMES[c] : "unknown";
}

apr_status_t sacme_scm_fail(sacme_result_t *res, sacme_scm_class_t c,
                            const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(res->p, fmt, ap);
    va_end(ap);
    return sacme_result_set(res, SACME_ESCM + (apr_status_t)c, "%s", msg);
}

/* --- the credentials file --- */

typedef struct {
    apr_pool_t *p;
    const char *path;
    sacme_scm_creds_t *creds;
} creds_parse_t;

/* A header value must stay one header: no control characters. */
static int header_safe(const char *s)
{
    for (; *s; ++s) {
        if (iscntrl((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t creds_member(creds_parse_t *c, const json_t *j, const char *key,
                                 const char **out, sacme_result_t *res)
{
    const char *v = sacme_json_str(j, key);

    if (!v || !*v) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s "
                              "needs the string member \"%s\" (docs/scm.md shows the "
                              "file)", c->path, key);
    }
    if (!header_safe(v)) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s: "
                              "\"%s\" holds a control character (a line break?); "
                              "it must be one line", c->path, key);
    }
    *out = apr_pstrdup(c->p, v);
    return APR_SUCCESS;
}

static apr_status_t creds_from_json(void *baton, const json_t *j, sacme_result_t *res)
{
    creds_parse_t *c = baton;
    sacme_scm_creds_t *cr = c->creds;
    const json_t *org, *trust;
    const char *url;
    apr_size_t n;
    apr_status_t rv;

    if (!json_is_object(j)) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s is "
                              "not a JSON object", c->path);
    }
    if ((rv = creds_member(c, j, "url", &url, res)) != APR_SUCCESS
        || (rv = creds_member(c, j, "login", &cr->login, res)) != APR_SUCCESS
        || (rv = creds_member(c, j, "password", &cr->password, res)) != APR_SUCCESS
        || (rv = creds_member(c, j, "customerUri", &cr->customer_uri, res))
           != APR_SUCCESS) {
        return rv;
    }
    sacme_ossl_cleanse_later(c->p, (void *)cr->password, strlen(cr->password));
    if (strncasecmp(url, "https://", 8) || !url[8]) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s: "
                              "\"url\" must be an https URL, SCM's API base (e.g. "
                              "https://cert-manager.com/api)", c->path);
    }
    n = strlen(url);
    while (n > 8 && url[n - 1] == '/') {
        --n;
    }
    cr->url = apr_pstrmemdup(c->p, url, n);
    org = json_object_get(j, "organizationId");
    if (org && (!json_is_integer(org) || json_integer_value(org) <= 0)) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s: "
                              "\"organizationId\" must be a positive number (SCM's "
                              "id of the organization)", c->path);
    }
    cr->org_id = org ? (long)json_integer_value(org) : 0;
    trust = json_object_get(j, "trust");
    if (trust && (!json_is_string(trust) || !*json_string_value(trust))) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s: "
                              "\"trust\" must be the path of a PEM file of CA "
                              "certificates", c->path);
    }
    cr->trust = trust ? apr_pstrdup(c->p, json_string_value(trust)) : NULL;
    return APR_SUCCESS;
}

apr_status_t sacme_scm_creds_load(apr_pool_t *p, const char *path,
                                  sacme_scm_creds_t **pcreds, sacme_result_t *res)
{
    creds_parse_t c;
    const char *exposed;
    apr_pool_t *tmp;
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    *pcreds = NULL;
    if (!sacme_file_exists(path, p)) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s does "
                              "not exist: create it (root's, mode 0600) with url, "
                              "login, password and customerUri (docs/scm.md), or name "
                              "another with --credentials", path);
    }
    /* Checked before reading: a password others could read is refused, so
     * the admin learns of it before anyone else does. */
    if ((exposed = sacme_file_secret_exposure(path)) != NULL) {
        return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM credentials file %s is "
                              "%s: it holds the SCM API password; refused until it is "
                              "root's and readable by root only ('chown root:root %s; "
                              "chmod 0600 %s')", path, exposed, path, path);
    }
    c.p = p;
    c.path = path;
    c.creds = apr_pcalloc(p, sizeof(*c.creds));
    c.creds->file = apr_pstrdup(p, path);
    apr_pool_create(&tmp, p);
    rv = sacme_file_read(path, SACME_SCM_CREDS_MAX, tmp, &data, &len, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the SCM credentials file");
        rv = sacme_scm_fail(res, SACME_SCM_LOCAL, "%s", res->detail);
    }
    else {
        rv = sacme_secret_json_parse(apr_psprintf(tmp, "the SCM credentials file %s",
                                                  path),
                                     "{\"url\", \"login\", \"password\", "
                                     "\"customerUri\"}", data, len, creds_from_json,
                                     &c, res);
        if (rv != APR_SUCCESS && sacme_scm_class(res) != SACME_SCM_LOCAL) {
            rv = sacme_scm_fail(res, SACME_SCM_LOCAL, "%s", res->detail);
        }
        OPENSSL_cleanse(data, len);
    }
    apr_pool_destroy(tmp);
    if (rv == APR_SUCCESS) {
        *pcreds = c.creds;
    }
    return rv;
}

/* --- the client --- */

apr_status_t sacme_scm_make(apr_pool_t *p, const sacme_scm_creds_t *creds,
                            const sacme_scm_options_t *opts, sacme_scm_t **pscm,
                            sacme_result_t *res)
{
    sacme_scm_t *scm = apr_pcalloc(p, sizeof(*scm));
    sacme_http_options_t hopts;
    const char **h = apr_pcalloc(p, 5 * sizeof(*h));
    char *pw;

    scm->p = p;
    scm->creds = creds;
    if (opts) {
        scm->opts = *opts;
    }
    if (scm->opts.timeout <= 0) {
        scm->opts.timeout = DEFAULT_TIMEOUT;
    }
    if (scm->opts.retries == 0) {
        scm->opts.retries = DEFAULT_RETRIES;
    }
    else if (scm->opts.retries < 0) {
        scm->opts.retries = 0;
    }
    if (scm->opts.retries > MAX_RETRIES) {
        scm->opts.retries = MAX_RETRIES;
    }
    if (scm->opts.backoff <= 0) {
        scm->opts.backoff = DEFAULT_BACKOFF;
    }
    h[0] = apr_pstrcat(p, "login: ", creds->login, NULL);
    pw = apr_pstrcat(p, "password: ", creds->password, NULL);
    sacme_ossl_cleanse_later(p, pw, strlen(pw));
    h[1] = pw;
    h[2] = apr_pstrcat(p, "customerUri: ", creds->customer_uri, NULL);
    /* On every request, as SCM's examples send it (a GET too). */
    h[3] = "Content-Type: application/json;charset=utf-8";
    scm->headers = h;
    if (scm->opts.http) {
        scm->http = scm->opts.http;
    }
    else {
        memset(&hopts, 0, sizeof(hopts));
        hopts.ca_file = creds->trust;      /* added trust; never less checking */
        hopts.timeout = scm->opts.timeout;
        hopts.connect_timeout = scm->opts.timeout;
        if (sacme_http_curl_create(p, &hopts, &scm->http, res) != APR_SUCCESS) {
            return sacme_scm_fail(res, SACME_SCM_LOCAL, "the SCM client cannot start: "
                                  "%s (check \"trust\" in %s)", res->detail,
                                  creds->file);
        }
    }
    *pscm = scm;
    return APR_SUCCESS;
}

int sacme_scm_requests(const sacme_scm_t *scm)
{
    return scm->requests;
}

void sacme_scm_backoff(sacme_scm_t *scm, int n, const char *why)
{
    apr_interval_time_t wait = scm->opts.backoff << (n < 16 ? n : 16);

    sacme_log(scm->opts.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10640)
              "SCM: %s; trying again in %" APR_TIME_T_FMT " ms (retry %d of %d)",
              why, apr_time_as_msec(wait), n + 1, scm->opts.retries);
    apr_sleep(wait);
}

/* SCM's own words of an error answer: "; SCM error CODE: DESCRIPTION", or
 * "" when the body has none. */
static const char *scm_words(apr_pool_t *p, const json_t *doc)
{
    const char *desc = sacme_json_str(doc, "description");
    const json_t *code = json_object_get(doc, "code");

    if (!desc && !json_is_integer(code)) {
        return "";
    }
    return apr_psprintf(p, "; SCM error %s: %s",
                        json_is_integer(code)
                        ? apr_psprintf(p, "%ld", (long)json_integer_value(code))
                        : "?", desc ? desc : "no description");
}

static int has_word(const char *text, const char *word)
{
    apr_size_t n = strlen(word);

    for (; text && *text; ++text) {
        if (!strncasecmp(text, word, n)) {
            return 1;
        }
    }
    return 0;
}

/* What to do about a 4xx refusal, from what SCM said. Only -1001 is a code
 * documented by SCM's clients; the rest is read from the description. */
static const char *refusal_fix(apr_pool_t *p, const sacme_scm_t *scm, const json_t *doc)
{
    const char *desc = sacme_json_str(doc, "description");
    const json_t *code = json_object_get(doc, "code");

    if ((json_is_integer(code) && json_integer_value(code) == -1001)
        || (has_word(desc, "organization") && has_word(desc, "required"))) {
        return apr_psprintf(p, "give the organization: --org-id ID, or "
                            "\"organizationId\" in %s", scm->creds->file);
    }
    if (has_word(desc, "organization") && (has_word(desc, "not found")
                                           || has_word(desc, "unknown")
                                           || has_word(desc, "invalid")
                                           || has_word(desc, "does not exist"))) {
        return "check the organization (or department) id: SCM's Settings > "
               "Organizations shows the ids the API login may use";
    }
    if (has_word(desc, "already exists") || has_word(desc, "duplicate")) {
        return "choose another --name, or use the account that exists (sacmectl scm "
               "account list shows it)";
    }
    if (has_word(desc, "acme server") || has_word(desc, "acmeServer")) {
        return "give an ACME server URL that SCM offers the organization "
               "(Enrollment > ACME in SCM lists them)";
    }
    return "correct the request as SCM's description says";
}

/* Fills res for an answer that is not 2xx. */
static apr_status_t answer_failure(sacme_scm_t *scm, const char *method, const char *url,
                                   const char *what, int tries,
                                   const sacme_http_response_t *resp, apr_pool_t *p,
                                   sacme_result_t *res)
{
    json_t *doc = sacme_json_parse(p, resp->body, resp->body_len, 0, NULL);
    const char *words = scm_words(p, doc);
    const char *file = scm->creds->file;
    int st = resp->status;
    apr_time_t until;
    apr_status_t rv;

    if (st == 401 || st == 403) {
        rv = sacme_scm_fail(res, SACME_SCM_AUTH, "SCM refused the login at %s while "
                            "%s (HTTP %d%s): check login, password and customerUri in "
                            "%s, and that this API login may use the ACME API and "
                            "the organization", scm->creds->url, what, st, words, file);
    }
    else if (st == 404) {
        rv = sacme_scm_fail(res, SACME_SCM_NOT_FOUND, "SCM found nothing while %s "
                            "(HTTP 404 for %s %s%s): check the id (sacmectl scm "
                            "account list shows the accounts), and that \"url\" in %s "
                            "is SCM's API base (ending in /api)", what, method, url,
                            words, file);
    }
    else if (st == 429) {
        until = sacme_time_retry_after(sacme_http_header(resp, "Retry-After"),
                                       apr_time_now());
        rv = sacme_scm_fail(res, SACME_SCM_RATE_LIMITED, "SCM is rate-limiting this "
                            "login while %s (HTTP 429%s): wait %" APR_TIME_T_FMT
                            " s, then run it again", what, words,
                            until ? apr_time_sec(until - apr_time_now()) + 1 : 60);
        res->retry_after = until ? until : apr_time_now() + apr_time_from_sec(60);
    }
    else if (st >= 500) {
        rv = sacme_scm_fail(res, SACME_SCM_SERVER, "SCM failed while %s: HTTP %d for "
                            "%s %s%s, %d time%s in a row; SCM has trouble: try again "
                            "later (Sectigo's status page may say more)", what, st,
                            method, url, words, tries, tries == 1 ? "" : "s");
    }
    else if (st >= 400) {
        rv = sacme_scm_fail(res, SACME_SCM_REFUSED, "SCM refused %s (HTTP %d%s): %s",
                            what, st, words, refusal_fix(p, scm, doc));
    }
    else {
        rv = sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM answered %s %s with HTTP %d "
                            "while %s: not an answer of SCM's API; check that \"url\" "
                            "in %s is SCM's API base (ending in /api)", method, url, st,
                            what, file);
    }
    res->http_status = st;
    return rv;
}

apr_status_t sacme_scm_call(sacme_scm_t *scm, const char *method, const char *path,
                            const json_t *body, scm_retry_t retry, const char *what,
                            apr_pool_t *p, sacme_http_response_t **presp, json_t **pdoc,
                            int *transient, sacme_result_t *res)
{
    sacme_http_request_t req;
    sacme_http_response_t *resp = NULL;
    sacme_result_t *tres = sacme_result_make(p);
    json_t *doc = NULL;
    apr_status_t rv;
    int n;

    if (presp) {
        *presp = NULL;
    }
    if (pdoc) {
        *pdoc = NULL;
    }
    if (transient) {
        *transient = 0;
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = apr_pstrcat(p, scm->creds->url, "/acme/v1/", path, NULL);
    req.headers = scm->headers;
    if (body) {
        req.body = sacme_json_dump(p, body);
        req.body_len = strlen(req.body);
    }
    for (n = 0;; ++n) {
        sacme_result_reset(tres);
        resp = NULL;
        rv = sacme_http_perform(scm->http, &req, p, &resp, tres);
        ++scm->requests;
        if (rv == APR_SUCCESS && resp->status < 500) {
            break;
        }
        /* A response over the size limit or a URL refused will be the same
         * the next time. */
        if (rv == APR_ENOSPC || rv == APR_EINVAL || retry != SCM_RETRY
            || n >= scm->opts.retries) {
            break;
        }
        sacme_scm_backoff(scm, n, rv == APR_SUCCESS
                          ? apr_psprintf(p, "HTTP %d while %s", resp->status, what)
                          : apr_psprintf(p, "no answer while %s (%s)", what,
                                         tres->detail));
    }
    if (rv != APR_SUCCESS) {
        if (transient) {
            *transient = rv != APR_ENOSPC && rv != APR_EINVAL;
        }
        if (rv == APR_ENOSPC) {
            return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM's answer while %s is "
                                  "too big: %s", what, tres->detail);
        }
        return sacme_scm_fail(res, SACME_SCM_NETWORK, "no answer from SCM while %s, "
                              "%d attempt%s: %s; check that \"url\" in %s is right and "
                              "reachable from this host (firewall, proxy), or allow "
                              "more time", what, n + 1, n ? "s" : "", tres->detail,
                              scm->creds->file);
    }
    if (resp->status < 200 || resp->status >= 300) {
        if (transient) {
            *transient = resp->status >= 500;
        }
        return answer_failure(scm, method, req.url, what, n + 1, resp, p, res);
    }
    if (resp->body_len > 0) {
        /* No excerpt of it in the message: an account's body holds macKey. */
        doc = sacme_json_parse(p, resp->body, resp->body_len, 0, NULL);
        if (!doc) {
            return sacme_scm_fail(res, SACME_SCM_GARBAGE, "SCM's answer while %s is "
                                  "not JSON (HTTP %d, %" APR_SIZE_T_FMT " bytes): check "
                                  "that \"url\" in %s is SCM's API base (ending in "
                                  "/api)", what, resp->status, resp->body_len,
                                  scm->creds->file);
        }
    }
    if (presp) {
        *presp = resp;
    }
    if (pdoc) {
        *pdoc = doc;
    }
    return APR_SUCCESS;
}
