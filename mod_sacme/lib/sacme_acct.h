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

#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_eab.h"

/* Files in an account directory. */
#define SACME_ACCT_KEY_FILE  "account.key"   /* 0600 */
#define SACME_ACCT_JSON_FILE "account.json"  /* url, server, kid, contact; no secret */

typedef struct sacme_acct_opts_t {
    const char *dir;               /* account directory (created 0700) */
    apr_array_header_t *contacts;  /* const char *, "mailto:..." or addresses */
    int tos_agreed;                /* the admin accepted the CA's terms */
    const sacme_eab_t *eab;        /* NULL: none configured */
    sacme_key_type_t key_type;     /* for a new account key; NONE: P-256 */
} sacme_acct_opts_t;

/* Makes acme->account_key/account_url usable:
 *   1. a stored key: look the account up with onlyReturnExisting (no EAB
 *      is spent); found -> done (the stored URL is refreshed if it moved);
 *   2. no stored key, or the CA does not know it: generate one if needed,
 *      save it, then newAccount with contact, terms and EAB.
 * If the directory says EAB is required and none is configured, fails
 * before contacting newAccount, naming the missing setting. On success
 * *registered tells whether a new account was created (may be NULL). */
apr_status_t sacme_acct_ensure(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                               int *registered, sacme_result_t *res);

#endif /* SACME_ACCT_H */
