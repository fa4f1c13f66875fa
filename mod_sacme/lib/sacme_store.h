/* The store: a directory tree under the ServerRoot (SacmeStoreDir).
 *
 *   store.json                  format version, for later migrations
 *   accounts/<id>/              account.key (0600), account.json    [driver]
 *   staging/<domain>/           privkey.pem (0600), fullchain.pem,
 *                               order.json (order in progress), job.json
 *                               (last error, next attempt)          [driver]
 *   challenges/<name>/<token>   key authorizations of open challenges [driver]
 *   domains/<domain>/           privkey.pem (0600), fullchain.pem: the live
 *                               set mod_ssl serves; history.json: how many
 *                               sets were activated so far          [parent, root]
 *   archive/<domain>/<time>/    sets replaced by a newer one        [parent]
 *   fallback/                   the self-signed fallback certificate [parent]
 *   requests/<domain>.json      an admin's request (sacmectl renew --force,
 *                               revoke): written by sacmectl, removed by the
 *                               driver once a new set is staged    [both]
 *   managed.json                what the running configuration manages
 *                               (no secret), for sacmectl           [parent]
 *   sacme.lock                  serialises account changes between
 *                               sacmectl and the driver (created by the
 *                               parent, owned by the httpd User)   [both]
 *
 * [driver] areas are written by the unprivileged driving process (owned by
 * the httpd User); the others only by the root parent. Every write is atomic
 * and durable (sacme_file.h).
 */
#ifndef SACME_STORE_H
#define SACME_STORE_H

#include <apr_file_io.h>
#include "sacme.h"
#include "sacme_chain.h"
#include "sacme_key.h"
#include "sacme_result.h"
#include "sacme_trust.h"

#define SACME_STORE_VERSION 1

#define SACME_GROUP_ACCOUNTS   "accounts"
#define SACME_GROUP_STAGING    "staging"
#define SACME_GROUP_CHALLENGES "challenges"
#define SACME_GROUP_DOMAINS    "domains"
#define SACME_GROUP_ARCHIVE    "archive"
#define SACME_GROUP_FALLBACK   "fallback"
#define SACME_GROUP_REQUESTS   "requests"

#define SACME_FILE_KEY       "privkey.pem"
#define SACME_FILE_CHAIN     "fullchain.pem"
#define SACME_FILE_ORDER     "order.json"
#define SACME_FILE_JOB       "job.json"
#define SACME_FILE_HISTORY   "history.json"  /* in domains/<d>/: activations so far */
#define SACME_FILE_LOCK      "sacme.lock"

typedef struct sacme_store_t {
    const char *base;
} sacme_store_t;

sacme_store_t *sacme_store_make(apr_pool_t *p, const char *base);

/* base/group[/name[/file]] (NULL parts are left out). */
const char *sacme_store_path(const sacme_store_t *store, apr_pool_t *p,
                             const char *group, const char *name,
                             const char *file);

/* Creates the base and every group (0755; keys inside are 0600), the
 * version file and the lock file. Refuses a store of a newer format. */
apr_status_t sacme_store_setup(const sacme_store_t *store, apr_pool_t *p,
                               sacme_result_t *res);

/* The account directory for a CA and EAB key id: "<host>-<hash>", stable,
 * readable, and distinct per (directory URL, kid). */
const char *sacme_store_account_dir(const sacme_store_t *store, apr_pool_t *p,
                                    const char *server_url, const char *kid);

/* A certificate set: key + chain. */
typedef struct sacme_certset_t {
    sacme_key_t *key;
    sacme_chain_t *chain;
    const char *key_file, *chain_file;
} sacme_certset_t;

/* Loads group/name's set; APR_ENOENT when there is none (either file
 * missing). */
apr_status_t sacme_store_load_set(const sacme_store_t *store, apr_pool_t *p,
                                  const char *group, const char *name,
                                  sacme_certset_t **set, sacme_result_t *res);

/* Loads only the chain of group/name (the driver may not read live keys,
 * which are root's). */
apr_status_t sacme_store_load_chain(const sacme_store_t *store, apr_pool_t *p,
                                    const char *group, const char *name,
                                    sacme_chain_t **chain, sacme_result_t *res);

/* Loads only the leaf of group/name's chain (see sacme_chain_parse_leaf). */
apr_status_t sacme_store_load_leaf(const sacme_store_t *store, apr_pool_t *p,
                                   const char *group, const char *name,
                                   sacme_chain_t **chain, sacme_result_t *res);

/* True when group/name holds a complete set (both files). */
int sacme_store_has_set(const sacme_store_t *store, apr_pool_t *p,
                        const char *group, const char *name);

/* Makes the staged set of name live: checks it (key matches, names
 * covered, valid now, chain issued in order, and reaching an anchor of
 * trust: whoever can write staging can make a chain of their own; a NULL
 * trust refuses every set) and, only if it passes, moves
 * the current live set to the archive and installs the new one (written
 * fresh by the caller, i.e. root-owned). The staged files are removed
 * either way: a refused set is kept as staging/<name>/refused-<time>/ for
 * inspection. *promoted tells what happened. */
apr_status_t sacme_store_promote(const sacme_store_t *store, apr_pool_t *p,
                                 const char *name,
                                 const apr_array_header_t *names,
                                 const sacme_trust_t *trust,
                                 int *promoted, sacme_certset_t **live,
                                 sacme_result_t *res);

/* Finishes a promotion a crash interrupted: domains/<name>.new becomes
 * the live set if there is none, and is dropped otherwise (the staged set
 * is still there to be promoted again). */
void sacme_store_recover(const sacme_store_t *store, apr_pool_t *p,
                         const char *name);

/* Removes a file if it exists (missing is fine). */
apr_status_t sacme_store_remove(const sacme_store_t *store, apr_pool_t *p,
                                const char *group, const char *name,
                                const char *file);

/* The store lock: an exclusive fcntl lock on base/sacme.lock, held by
 * sacmectl while it changes the account (key rollover, deactivation) and by
 * the driver while it sets the account up, so neither sees the other's
 * half-done change. Being a process lock, it does not serialise threads of
 * one process (the driver has its own mutex for that). With wait=0 a held
 * lock is APR_EAGAIN (APR_STATUS_IS_EAGAIN) at once. *lock is released by
 * sacme_store_unlock() or with p. */
apr_status_t sacme_store_lock(const sacme_store_t *store, apr_pool_t *p,
                              int wait, apr_file_t **lock, sacme_result_t *res);
void sacme_store_unlock(apr_file_t *lock);

#endif /* SACME_STORE_H */
