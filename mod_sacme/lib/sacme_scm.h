/* A client of Sectigo Certificate Manager's REST API for ACME accounts
 * (SCM: cert-manager.com or an own instance), for `sacmectl scm` and for
 * the driver's hints when the CA refuses a name.
 *
 * What the API looks like (docs/scm.md; the public SCM clients, Sectigo's
 * curl examples): every request carries the headers login, password and
 * customerUri; under BASE/acme/v1/ are
 *   GET    account?organizationId=N[&name=NAME]   the organization's accounts
 *   POST   account                                create: 201, Location
 *   GET    account/ID  /  DELETE account/ID
 *   POST   account/ID/domains  {"domains": [{"name": N}]}  -> notAddedDomains
 *   DELETE account/ID/domains  (the same body)             -> notRemovedDomains
 * and errors come as {"code": N, "description": TEXT}.
 *
 * The password is a secret: no message, log line or JSON made here holds
 * it, and its copies in our memory are cleansed when their pool goes. An
 * account's macKey (the EAB HMAC) is a secret too: sacme_scm_account_public()
 * gives an account without it, for anything that is shown.
 *
 * Every failure is classified (sacme_scm_class) and its message names the
 * cause and what to do. 5xx answers and transport failures are retried with
 * backoff; a 4xx never is (a wrong password fails at once, one request).
 *
 * Threads: a sacme_scm_t is one libcurl handle; use it from one thread at
 * a time (or make one per thread). sacme_scm_creds_load swaps jansson's
 * allocator while it parses: call it before threads start (the driver) or
 * in a single-threaded process (sacmectl).
 */
#ifndef SACME_SCM_H
#define SACME_SCM_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_http.h"
#include "sacme_log.h"
#include "sacme_result.h"

/* The default place of the credentials file (Debian's ServerRoot). */
#define SACME_SCM_CREDENTIALS_DEFAULT "/etc/apache2/sacme-scm.json"

/* Bound on the credentials file. */
#define SACME_SCM_CREDS_MAX (64 * 1024)

/* The credentials file, a JSON object:
 *   {"url": "https://cert-manager.com/api", "login": ..., "password": ...,
 *    "customerUri": ..., optional "organizationId": N,
 *    optional "trust": "/path/ca.pem"}
 * It must be root's and readable by root only (mode 0600 or less). */
typedef struct sacme_scm_creds_t {
    const char *file;             /* where it was read from */
    const char *url;              /* the API base, without a trailing '/' */
    const char *login;
    const char *password;         /* the secret: cleansed when the pool goes */
    const char *customer_uri;
    long org_id;                  /* organizationId, or 0: not given */
    const char *trust;            /* a CA bundle to trust besides the system's
                                     (a private SCM instance), or NULL */
} sacme_scm_creds_t;

/* The class of a failure: what the admin has to do about it. */
typedef enum {
    SACME_SCM_OK = 0,
    SACME_SCM_AUTH,          /* 401/403: login, password or customerUri wrong */
    SACME_SCM_REFUSED,       /* another 4xx: validation, unknown organization,
                                duplicate name, unknown ACME server */
    SACME_SCM_NOT_FOUND,     /* 404: no such account */
    SACME_SCM_RATE_LIMITED,  /* 429: res->retry_after says until when */
    SACME_SCM_SERVER,        /* 5xx, still after the retries */
    SACME_SCM_NETWORK,       /* no connection, TLS, timeout, after the retries */
    SACME_SCM_GARBAGE,       /* an answer we cannot use (not JSON, no Location) */
    SACME_SCM_LOCAL          /* a local file: the credentials file (missing,
                                unsafe, malformed), the trust file */
} sacme_scm_class_t;

/* The status of a failed sacme_scm_* call: SACME_ESCM + its class. Like
 * the other SACME_E* codes it is no OS error: a log line shows the message
 * alone (sacme_result_log_status gives 0). */
#define SACME_ESCM (APR_OS_START_USERERR + 60)

/* The class of a failed result of any sacme_scm_* call (SACME_SCM_OK for
 * success). Worked out from res alone (HTTP status, status code), so that
 * a caller can classify a result it only stored. */
sacme_scm_class_t sacme_scm_class(const sacme_result_t *res);

/* "auth", "refused", "not-found", "rate-limited", "server", "network",
 * "garbage", "local" (and "ok"): for JSON output. */
const char *sacme_scm_class_name(sacme_scm_class_t c);

typedef struct sacme_scm_options_t {
    apr_interval_time_t timeout;  /* each request, connecting included;
                                     0: 30 s */
    int retries;                  /* after a 5xx or a transport failure;
                                     -1: none; 0: 2 */
    apr_interval_time_t backoff;  /* the first wait before a retry, doubled
                                     each time; 0: 1 s (unit tests: 1 us) */
    sacme_http_t *http;           /* a transport to use instead of libcurl
                                     (unit tests); NULL: libcurl with the
                                     credentials' trust */
    const sacme_log_t *log;       /* retries are told here (NOTICE); may be
                                     NULL */
} sacme_scm_options_t;

typedef struct sacme_scm_t sacme_scm_t;

/* Reads the credentials file. Refused (SACME_ECONFIG, class LOCAL) when it
 * is not root's or group/others have any bit on it, naming the file and
 * the chown/chmod that fixes it; when it is not JSON, or a member is
 * missing or of the wrong type. Messages never quote the content. The
 * password is parsed with an allocator that cleanses what it frees
 * (sacme_secret_json_parse), so read it single-threaded. */
apr_status_t sacme_scm_creds_load(apr_pool_t *p, const char *path,
                                  sacme_scm_creds_t **creds, sacme_result_t *res);

/* A client for creds with opts (NULL: the defaults). The client keeps
 * creds (not a copy): they must live as long as it. Fails only on a trust
 * file that cannot be used (class LOCAL). */
apr_status_t sacme_scm_make(apr_pool_t *p, const sacme_scm_creds_t *creds,
                            const sacme_scm_options_t *opts, sacme_scm_t **scm,
                            sacme_result_t *res);

/* How many requests the client sent (retries counted), for messages. */
int sacme_scm_requests(const sacme_scm_t *scm);

/* --- accounts (sacme_scm_acct.c) --- */

/* The organization's ACME accounts (name: only those of that name; NULL:
 * all), as SCM gives them: a JSON array of account objects, owned by p.
 * They hold macKey: show them through sacme_scm_account_public(). */
apr_status_t sacme_scm_accounts_list(sacme_scm_t *scm, long org_id, const char *name,
                                     apr_pool_t *p, json_t **accounts,
                                     sacme_result_t *res);

/* The account of that id (404: class NOT_FOUND). */
apr_status_t sacme_scm_account_get(sacme_scm_t *scm, long id, apr_pool_t *p,
                                   json_t **account, sacme_result_t *res);

typedef struct sacme_scm_new_account_t {
    const char *name;
    const char *acme_server;      /* the ACME directory URL SCM knows */
    long org_id;
    long department_id;           /* 0: none (see sacme_scm_account_create) */
} sacme_scm_new_account_t;

/* Creates an ACME account; *id gets its id from the Location of SCM's 201.
 * *found (may be NULL) is set when the create was not answered (timeout,
 * connection dropped, 5xx) and the account was then found by its name in
 * the organization: SCM had created it. Such a create is never sent again
 * before that look-up, so an unanswered request does not make two
 * accounts.
 *
 * department_id: which body field SCM takes a department in is not
 * documented where we looked (the research, Sectigo's guides); in SCM a
 * department is an organization of its own with its own id, so the
 * account is created with organizationId = the department's id, and it is
 * looked up there. */
apr_status_t sacme_scm_account_create(sacme_scm_t *scm,
                                      const sacme_scm_new_account_t *acct,
                                      apr_pool_t *p, long *id, int *found,
                                      sacme_result_t *res);

apr_status_t sacme_scm_account_delete(sacme_scm_t *scm, long id, sacme_result_t *res);

/* Adds (add != 0) or removes names (const char *) to/from the account's
 * domains; *left gets the names SCM did not add (notAddedDomains) or did
 * not remove (notRemovedDomains), an empty array when it took them all. */
apr_status_t sacme_scm_domains_change(sacme_scm_t *scm, long id, int add,
                                      const apr_array_header_t *names, apr_pool_t *p,
                                      apr_array_header_t **left, sacme_result_t *res);

/* The organization's account whose macId is kid (the EAB key id the CA
 * knows the server's account by); APR_ENOENT (class NOT_FOUND) with a
 * message naming the organization when none has it. */
apr_status_t sacme_scm_account_by_kid(sacme_scm_t *scm, long org_id, const char *kid,
                                      apr_pool_t *p, json_t **account,
                                      sacme_result_t *res);

/* Whether the account's domains list covers name (the entry that does in
 * *entry, may be NULL): sacme_scm_domain_covers() for each entry. */
int sacme_scm_account_has_domain(const json_t *account, const char *name,
                                 const char **entry);

/* Whether one entry of an account's domains list covers name. Our reading
 * of SCM's delegation (its documentation does not spell it out): names
 * compare without regard to case and a trailing dot; an entry "*.x"
 * covers x itself, every name below x at any depth and the wildcards
 * below x ("*.x", "*.a.x"), since a wildcard delegation in SCM is one of
 * the domain and its subdomains; a plain entry covers that name only. */
int sacme_scm_domain_covers(const char *entry, const char *name);

/* An account without its secret (macKey removed): what may be shown or
 * written anywhere. A new object owned by p. */
json_t *sacme_scm_account_public(apr_pool_t *p, const json_t *account);

/* The id of an account object (0 if it has none). */
long sacme_scm_account_id(const json_t *account);

/* The account id at the end of a Location URL (BASE/acme/v1/account/ID),
 * or 0 when it does not end in a positive number. */
long sacme_scm_location_id(const char *location);

#endif /* SACME_SCM_H */
