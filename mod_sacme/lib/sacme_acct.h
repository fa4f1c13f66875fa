/* ACME accounts (RFC 8555 §7.3): find the account of a stored key, or
 * register a new one (with External Account Binding when the CA asks for
 * it), and keep key and URL on disk atomically and durably.
 *
 * The account key is kept forever once it exists: with Sectigo's single-use
 * EAB keys, losing it means asking the CA admin for new credentials. It is
 * written to disk *before* registration, so a crash between the CA's answer
 * and our write still leaves a key that onlyReturnExisting finds again.
 */
#ifndef SACME_ACCT_H
#define SACME_ACCT_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_eab.h"
#include "sacme_sdir.h"

/* Files in an account directory. */
#define SACME_ACCT_KEY_FILE  "account.key"   /* 0600 */
#define SACME_ACCT_KEY_NEW_FILE "account.key.new"  /* 0600: the next key, while
                                                      a rollover is under way */
#define SACME_ACCT_JSON_FILE "account.json"  /* url, server, kid, contact,
                                                status; no secret */

/* account.json "status" once the account is deactivated at the CA. */
#define SACME_ACCT_DEACTIVATED "deactivated"

typedef struct sacme_acct_opts_t {
    const sacme_sdir_t *dir;       /* the account directory, opened */
    apr_array_header_t *contacts;  /* const char *, "mailto:..." or addresses */
    int tos_agreed;                /* the admin accepted the CA's terms */
    const sacme_eab_t *eab;        /* NULL: none configured */
    sacme_key_type_t key_type;     /* for a new account key; NONE: P-256 */
} sacme_acct_opts_t;

/* Makes acme->account_key/account_url usable:
 *   0. an account recorded as deactivated is refused (SACME_ECONFIG, saying
 *      who deactivated it and how to start over): a CA that no longer knows
 *      the key must not make us register a new account in its place;
 *   1. a stored key: look the account up with onlyReturnExisting (no EAB
 *      is spent); found -> done (the stored URL is refreshed if it moved).
 *      A leftover account.key.new (a rollover interrupted by a crash) is
 *      settled first: the CA knows the current key or the new one, and
 *      account.key becomes the one it knows;
 *   2. no stored key, or the CA does not know it: generate one if needed,
 *      save it, then newAccount with contact, terms and EAB.
 * If the directory says EAB is required and none is configured, fails
 * before contacting newAccount, naming the missing setting. On success
 * *registered tells whether a new account was created (may be NULL). */
apr_status_t sacme_acct_ensure(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                               int *registered, sacme_result_t *res);

/* Loads the account stored in dir into acme (key and URL) and never
 * registers one: the admin commands work on the account the server uses.
 * An interrupted rollover is settled as in sacme_acct_ensure (which asks
 * the CA). No account yet is APR_ENOENT. *stored (may be NULL) receives
 * account.json as it is afterwards, or NULL when there is none. */
apr_status_t sacme_acct_load(sacme_acme_t *acme, const sacme_sdir_t *dir, apr_pool_t *p,
                             json_t **stored, sacme_result_t *res);

/* True when dir's account.json records the account as deactivated. */
int sacme_acct_is_deactivated(const sacme_sdir_t *dir, apr_pool_t *p);

/* The account as the CA describes it (POST-as-GET of its URL). */
typedef struct sacme_acct_info_t {
    const char *status;             /* "valid", "deactivated", "revoked" */
    apr_array_header_t *contacts;   /* const char *, as the CA lists them */
    const char *orders;             /* URL of the orders list, or NULL */
} sacme_acct_info_t;

apr_status_t sacme_acct_fetch(sacme_acme_t *acme, apr_pool_t *p,
                              sacme_acct_info_t **info, sacme_result_t *res);

/* Deactivates the loaded account at the CA (RFC 8555 §7.3.6) and records
 * it in account.json with the time and who did it (by, e.g. the command),
 * so that sacme_acct_ensure refuses to go on with it. There is no way back:
 * the CA refuses every later request signed by the account. */
apr_status_t sacme_acct_deactivate(sacme_acme_t *acme, const sacme_sdir_t *dir,
                                   const char *by, sacme_result_t *res);

/* Replaces the loaded account's key (RFC 8555 §7.3.5); the account URL
 * stays. type NONE keeps the current key type. The new key is written to
 * account.key.new (0600) before the CA is asked and replaces account.key
 * (atomically, durably) once the CA took it. When the request fails, the
 * CA is asked which key it holds before anything is removed: a refusal
 * removes account.key.new; no answer keeps it for the next use of the
 * account to settle. The account is never left without the key the CA
 * knows. acme->account_key is the key in force afterwards. */
apr_status_t sacme_acct_rollover(sacme_acme_t *acme, const sacme_sdir_t *dir,
                                 sacme_key_type_t type, sacme_result_t *res);

#endif /* SACME_ACCT_H */
