/* What an SCM instance answers the client of its REST API (sacme_scm.h):
 * the same status and body for every request of an account list, a
 * look-up by EAB key id, a show, a create (whose Location comes from the
 * input too) and a domain change; then what is shown of the accounts.
 * Input: byte 1 picks the HTTP status, then "LOCATION\nBODY". */
#include "fuzz.h"
#include "sacme_scm.h"

static const int STATUSES[] = { 200, 201, 204, 400, 401, 403, 404, 429, 500, 503 };

typedef struct {
    int status;
    const char *location;
    const char *body;            /* malloc'd (fuzz_str) */
    size_t len;
} feed_t;

static feed_t feed;

static apr_status_t perform(sacme_http_t *http, const sacme_http_request_t *req,
                            apr_pool_t *p, sacme_http_response_t **resp,
                            sacme_result_t *res)
{
    sacme_http_response_t *r = apr_pcalloc(p, sizeof(*r));

    (void)http; (void)req; (void)res;
    r->status = feed.status;
    r->headers = apr_table_make(p, 4);
    apr_table_set(r->headers, "Content-Type", "application/json");
    apr_table_set(r->headers, "Location", feed.location);
    apr_table_set(r->headers, "Retry-After", feed.location);
    r->body = feed.body;
    r->body_len = feed.len;
    *resp = r;
    return APR_SUCCESS;
}

static const sacme_http_impl_t FEED = { "fuzz", perform, NULL };

/* A failure always has a class and words; a success none. */
static void check(apr_status_t rv, const sacme_result_t *res)
{
    if ((rv == APR_SUCCESS) != (sacme_scm_class(res) == SACME_SCM_OK)) {
        abort();
    }
    if (rv != APR_SUCCESS && !res->detail) {
        abort();
    }
}

/* What is shown of an account holds no macKey. */
static void shown(apr_pool_t *p, const json_t *acct)
{
    json_t *pub = sacme_scm_account_public(p, acct);

    if (pub && json_is_object(pub) && json_object_get(pub, "macKey")) {
        abort();
    }
    (void)sacme_scm_account_has_domain(acct, "www.example.com", NULL);
    (void)sacme_scm_account_id(acct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sacme_scm_creds_t creds;
    sacme_scm_options_t opts;
    sacme_scm_new_account_t na;
    sacme_scm_t *scm;
    sacme_result_t *res;
    apr_array_header_t *names, *left;
    json_t *list = NULL, *acct = NULL, *one;
    apr_pool_t *p;
    char *in, *parts[2];
    long id = 0;
    int found = 0;
    size_t i;

    if (size < 1) {
        return 0;
    }
    p = fuzz_pool();
    in = fuzz_str(data + 1, size - 1);
    feed.status = STATUSES[data[0] % (sizeof(STATUSES) / sizeof(STATUSES[0]))];
    if (fuzz_split(in, parts, 2) == 2) {
        feed.location = parts[0];
        feed.body = parts[1];
    }
    else {
        feed.location = "";
        feed.body = parts[0];
    }
    feed.len = strlen(feed.body);
    memset(&creds, 0, sizeof(creds));
    creds.file = "/etc/apache2/sacme-scm.json";
    creds.url = "https://scm.example/api";
    creds.login = "api";
    creds.password = "pw";
    creds.customer_uri = "cust";
    memset(&opts, 0, sizeof(opts));
    opts.http = sacme_http_create(p, &FEED, NULL, NULL);
    opts.retries = -1;          /* one answer per request */
    opts.backoff = 1;           /* 1 us: a create looked up after a 5xx waits */
    res = sacme_result_make(p);
    if (sacme_scm_make(p, &creds, &opts, &scm, res) != APR_SUCCESS) {
        abort();
    }

    check(sacme_scm_accounts_list(scm, 6339, NULL, p, &list, res), res);
    json_array_foreach(list, i, one) {
        shown(p, one);
    }
    check(sacme_scm_account_by_kid(scm, 6339, "kid-1", p, &acct, res), res);
    if (acct) {
        shown(p, acct);
    }
    acct = NULL;
    check(sacme_scm_account_get(scm, 1001, p, &acct, res), res);
    if (acct) {
        shown(p, acct);
    }
    memset(&na, 0, sizeof(na));
    na.name = "web-1";
    na.acme_server = "https://acme.example/dir";
    na.org_id = 6339;
    if (sacme_scm_account_create(scm, &na, p, &id, &found, res) == APR_SUCCESS
        && id <= 0) {
        abort();                /* a created account has an id */
    }
    names = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = "example.com";
    APR_ARRAY_PUSH(names, const char *) = "www.example.com";
    left = NULL;
    if (sacme_scm_domains_change(scm, 1001, 1, names, p, &left, res) == APR_SUCCESS
        && !left) {
        abort();
    }
    (void)sacme_scm_location_id(feed.location);
    apr_pool_destroy(p);
    free(in);
    return 0;
}
