/* The store: the one module that knows where mod_sacme keeps its state, who
 * owns each part, and how to open, write, rename and remove it safely.
 * Callers say *what* they load or save (a job, an order, a staged key, a
 * challenge...), never where.
 *
 *   store.json                  format version, jitter seed        [root]
 *   managed.json, driver.pid    for sacmectl                       [root]
 *   sacme.lock                  account changes: sacmectl / driver [driver]
 *   accounts/<id>/              account.key (0600), account.json   [driver, 0700]
 *   staging/<domain>/           privkey.pem (0600), fullchain.pem,
 *                               order.json, job.json, alerts.json,
 *                               issued.json, ari.json, dns.json    [driver, 2750]
 *   staging/-webhook/           events not yet delivered           [driver]
 *   challenges/<name>/<token>   key authorizations                 [driver, 2750]
 *   challenges/<name>/tls-alpn-01.pem  tls-alpn-01 certificate + key (0640)
 *   requests/<domain>.json      an admin's request (sacmectl)      [driver, 2750]
 *   domains/<domain>/           privkey.pem (0600), fullchain.pem,
 *                               history.json: the live set         [root]
 *   archive/<domain>/<time>/    replaced and refused sets          [root, 0700]
 *   fallback/                   the self-signed fallback           [root]
 *
 * [driver] parts belong to the account the driving process runs as
 * (SacmeDriverUser, else the httpd User); the 2750 ones have the httpd
 * Group, so request children read challenges and status (never a private
 * key, 0600). [root] parts are written by the root parent only. Everything
 * goes through directory descriptors (sacme_sdir.h): a file or directory of
 * the wrong owner, type, mode or link count is refused, never followed.
 * Writes are atomic; durable unless said otherwise.
 */
#ifndef SACME_STORE_H
#define SACME_STORE_H

#include <apr_file_io.h>
#include <jansson.h>
#include "sacme.h"
#include "sacme_chain.h"
#include "sacme_key.h"
#include "sacme_result.h"
#include "sacme_sdir.h"

#define SACME_STORE_VERSION 1

/* The two places certificate sets live. */
#define SACME_GROUP_STAGING    "staging"
#define SACME_GROUP_DOMAINS    "domains"

/* Names of the store's parts, for messages and tests; nothing outside
 * the store opens them by these. */
#define SACME_GROUP_ACCOUNTS   "accounts"
#define SACME_GROUP_CHALLENGES "challenges"
#define SACME_GROUP_ARCHIVE    "archive"
#define SACME_GROUP_FALLBACK   "fallback"
#define SACME_GROUP_REQUESTS   "requests"

#define SACME_FILE_KEY       "privkey.pem"
#define SACME_FILE_CHAIN     "fullchain.pem"
#define SACME_FILE_ORDER     "order.json"
#define SACME_FILE_JOB       "job.json"
#define SACME_FILE_HISTORY   "history.json"
#define SACME_FILE_LOCK      "sacme.lock"
#define SACME_FILE_PID       "driver.pid"

/* staging/'s entry of the cluster's view (SACME_STATE_CLUSTER): no domain
 * name starts with '-', and such entries are not shared with the cluster. */
#define SACME_CLUSTER_ENTRY  "-cluster"

typedef struct sacme_store_mirror_t sacme_store_mirror_t;

typedef struct sacme_store_t {
    const char *base;
    uid_t driver_uid;          /* owner of the driver's parts */
    gid_t driver_gid;          /* group of accounts/ and the lock */
    gid_t web_gid;             /* group of what request children read */
    const sacme_store_mirror_t *mirror;   /* NULL: none (sacme_store_set_mirror) */
} sacme_store_t;

/* A store at base; its driver's parts are expected to belong to this
 * process's user until sacme_store_set_owners says otherwise. */
sacme_store_t *sacme_store_make(apr_pool_t *p, const char *base);

void sacme_store_set_owners(sacme_store_t *store, uid_t driver_uid, gid_t driver_gid,
                            gid_t web_gid);

/* base/group[/name[/file]] (NULL parts are left out): for messages, for
 * mod_ssl's file names (sacme_store_live_file) and for tests. */
const char *sacme_store_path(const sacme_store_t *store, apr_pool_t *p,
                             const char *group, const char *name,
                             const char *file);

/* Creates the base and every part, gives each its owner and mode (root
 * takes a part over, contents included, when the driver's account
 * changed), creates the lock file and the version file. Refuses a store of
 * a newer format or with a part that cannot be trusted. *taken_over (may
 * be NULL) tells whether a part was taken over from another account. */
apr_status_t sacme_store_setup(const sacme_store_t *store, apr_pool_t *p,
                               int *taken_over, sacme_result_t *res);

/* The store's jitter seed: a random number sacme_store_setup puts in
 * store.json once (root's; everyone reads it). Mixed into the per-name
 * renewal jitter (sacme_window_jitter), it makes the servers of a fleet
 * renew the same name at different moments, while each server keeps its
 * own moment across restarts; the driver and the status, reading the same
 * store, agree on it. 0 when there is none (store.json unreadable, or
 * made by an older mod_sacme and not set up since). */
apr_uint64_t sacme_store_jitter_seed(const sacme_store_t *store, apr_pool_t *p);

/* --- JSON state ------------------------------------------------------------- */

typedef enum {
    SACME_STATE_JOB = 0,       /* staging/<name>/job.json: last error, next attempt */
    SACME_STATE_ORDER,         /* staging/<name>/order.json: the order in progress */
    SACME_STATE_ALERTS,        /* staging/<name>/alerts.json: alerts raised */
    SACME_STATE_ISSUED,        /* staging/<name>/issued.json: the CA, account
                                  and profile of the last certificate staged */
    SACME_STATE_REQUEST,       /* requests/<name>.json: an admin's request */
    SACME_STATE_HISTORY,       /* domains/<name>/history.json: activations */
    SACME_STATE_MANAGED,       /* managed.json (name NULL) */
    SACME_STATE_VERSION,       /* store.json (name NULL) */
    SACME_STATE_ARI,           /* staging/<name>/ari.json: what the CA's renewal
                                  information (ARI) said of the live certificate */
    SACME_STATE_DNS,           /* staging/<name>/dns.json: the dns-01 TXT records
                                  set up and not yet torn down, each with
                                  its command (sacme_drive_dns.h) */
    SACME_STATE_CLUSTER        /* staging/-cluster/cluster.json (name
                                  SACME_CLUSTER_ENTRY): the cluster as this
                                  node's driver last saw it, for status */
} sacme_state_t;

/* The state, or NULL when there is none (res: APR_ENOENT) or it cannot be
 * read or trusted (res says why). */
json_t *sacme_store_state_load(const sacme_store_t *store, apr_pool_t *p,
                               sacme_state_t which, const char *name,
                               sacme_result_t *res);

/* Saves it; a domain's directory is made when needed. */
apr_status_t sacme_store_state_save(const sacme_store_t *store, apr_pool_t *p,
                                    sacme_state_t which, const char *name,
                                    const json_t *j, sacme_result_t *res);

/* Removes it (missing is fine). */
apr_status_t sacme_store_state_remove(const sacme_store_t *store, apr_pool_t *p,
                                      sacme_state_t which, const char *name,
                                      sacme_result_t *res);

/* The names (store entries: a domain, or its unit "<name>+<type>") whose
 * staging directory holds a state of this kind (a state kept in staging/,
 * such as SACME_STATE_DNS), at most max of them: what an earlier
 * configuration left there too. Entries that are not domains (the webhook
 * spools) are left out. */
apr_status_t sacme_store_state_names(const sacme_store_t *store, apr_pool_t *p,
                                     sacme_state_t which, int max,
                                     apr_array_header_t **names, sacme_result_t *res);

/* When requests/ last changed (a request added or removed), 0 if unknown. */
apr_time_t sacme_store_requests_stamp(const sacme_store_t *store, apr_pool_t *p);

/* --- certificate sets (group: SACME_GROUP_STAGING or SACME_GROUP_DOMAINS) ------ */

typedef struct sacme_certset_t {
    sacme_key_t *key;
    sacme_chain_t *chain;
} sacme_certset_t;

/* True when group/name holds a complete set (both files). */
int sacme_store_has_set(const sacme_store_t *store, apr_pool_t *p,
                        const char *group, const char *name);

/* Loads group/name's set; APR_ENOENT when there is none (a file missing). */
apr_status_t sacme_store_load_set(const sacme_store_t *store, apr_pool_t *p,
                                  const char *group, const char *name,
                                  sacme_certset_t **set, sacme_result_t *res);

/* Only the chain (the driver may not read live keys, which are root's). */
apr_status_t sacme_store_load_chain(const sacme_store_t *store, apr_pool_t *p,
                                    const char *group, const char *name,
                                    sacme_chain_t **chain, sacme_result_t *res);

/* Only the leaf of the chain (see sacme_chain_parse_leaf). */
apr_status_t sacme_store_load_leaf(const sacme_store_t *store, apr_pool_t *p,
                                   const char *group, const char *name,
                                   sacme_chain_t **chain, sacme_result_t *res);

/* The staged key of name (the driver's, made before the order). */
apr_status_t sacme_store_staged_key(const sacme_store_t *store, apr_pool_t *p,
                                    const char *name, sacme_key_t **key,
                                    sacme_result_t *res);
apr_status_t sacme_store_stage_key(const sacme_store_t *store, apr_pool_t *p,
                                   const char *name, const sacme_key_t *key,
                                   sacme_result_t *res);

/* Stages the chain: written last, so a complete pair means "ready". */
apr_status_t sacme_store_stage_chain(const sacme_store_t *store, apr_pool_t *p,
                                     const char *name, const sacme_chain_t *chain,
                                     sacme_result_t *res);

/* Removes staged parts of name (missing ones are fine). */
#define SACME_UNSTAGE_CHAIN 0x1
#define SACME_UNSTAGE_KEY   0x2
#define SACME_UNSTAGE_ORDER 0x4
void sacme_store_unstage(const sacme_store_t *store, apr_pool_t *p, const char *name,
                         int what);

/* The file of name's live set that mod_ssl is given (SACME_FILE_KEY or
 * SACME_FILE_CHAIN): in root's part of the store, read by root. */
const char *sacme_store_live_file(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, const char *file);

/* Checks a chain the parent is about to activate beyond sacme_chain_check
 * (a trust anchor, sacme_trust.h); NULL: none. */
typedef apr_status_t sacme_store_verify_fn(void *baton, const sacme_chain_t *chain,
                                           sacme_result_t *res);

/* What became of a staged set at sacme_store_promote. */
typedef enum {
    SACME_PROMOTE_FAILED = 0,   /* the store failed (no space, a read-only or
                                   immutable directory, ...): the set stays
                                   staged, to be promoted again */
    SACME_PROMOTE_DONE,         /* in service */
    SACME_PROMOTE_REFUSED       /* it failed the checks: moved aside */
} sacme_promote_t;

/* Makes the staged set of name live (the parent, at a restart). Nothing
 * staged is trusted: both files are read through the driver's directory
 * (no link, one link count, the driver's, the key 0600), then checked (key
 * matches, names covered, valid now, chain issued in order, and verify).
 * Only a set that passes is written anew by this process into domains/
 * (the key 0600) and swapped in, the old set going to the archive, and the
 * staged files are removed. A refused set's content is kept in
 * archive/<name>/refused-<time>/ and its staged files removed; a set the
 * store could not take stays staged. *outcome tells which; *live (may be
 * NULL) gets the set now in service. */
apr_status_t sacme_store_promote(const sacme_store_t *store, apr_pool_t *p,
                                 const char *name,
                                 const apr_array_header_t *names,
                                 sacme_store_verify_fn *verify, void *baton,
                                 sacme_promote_t *outcome, sacme_certset_t **live,
                                 sacme_result_t *res);

/* Which staged set of name waits (its chain file's inode, time and size, a
 * string), or NULL when none does: a set staged anew has another one, so
 * the parent tells a set it failed to activate from a newer one with a
 * stat, not by reading certificates. *staged_at (may be NULL) gets when it
 * was staged. */
const char *sacme_store_staged_id(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, apr_time_t *staged_at);

/* Finishes a promotion a crash interrupted: domains/<name>.new becomes
 * the live set if there is none, and is dropped otherwise (the staged set
 * is still there to be promoted again). */
void sacme_store_recover(const sacme_store_t *store, apr_pool_t *p,
                         const char *name);

/* --- challenges ------------------------------------------------------------- */

/* Publishes / withdraws / reads the key authorization of an http-01
 * challenge for name. Publishing skips the fsync: every attempt publishes
 * again, and only the atomic rename matters to readers. */
apr_status_t sacme_store_challenge_put(const sacme_store_t *store, apr_pool_t *p,
                                       const char *name, const char *token,
                                       const char *key_authz, sacme_result_t *res);
apr_status_t sacme_store_challenge_remove(const sacme_store_t *store, apr_pool_t *p,
                                          const char *name, const char *token,
                                          sacme_result_t *res);
apr_status_t sacme_store_challenge_get(const sacme_store_t *store, apr_pool_t *p,
                                       const char *name, const char *token,
                                       apr_size_t max, char **data, apr_size_t *len,
                                       sacme_result_t *res);

/* The tls-alpn-01 answer for name: the challenge certificate and its key
 * in one PEM file (sacme_alpn_make), challenges/<name>/tls-alpn-01.pem.
 * Unlike every other key in the store it is 0640 with the httpd Group:
 * mod_ssl presents it from a request child, which runs as the httpd User
 * and not as the driver's account. That is who must read it, and all who
 * can: it proves nothing beyond the one authorization it was made for.
 * The name cannot clash with an http-01 token (base64url has no '.'). */
#define SACME_FILE_ALPN "tls-alpn-01.pem"
#define SACME_MAX_ALPN_PEM (16 * 1024)

apr_status_t sacme_store_alpn_put(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, const char *pem,
                                  sacme_result_t *res);
apr_status_t sacme_store_alpn_remove(const sacme_store_t *store, apr_pool_t *p,
                                     const char *name, sacme_result_t *res);
/* APR_ENOENT (quietly, res untouched) when none is published for name. */
apr_status_t sacme_store_alpn_get(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, char **pem, sacme_result_t *res);

/* --- leftovers --------------------------------------------------------------- */

/* What sacme_store_sweep removed. */
typedef struct sacme_store_swept_t {
    int temporaries;           /* files of writes a killed process left */
    int challenges;            /* published challenge answers */
} sacme_store_swept_t;

/* Whether the challenge answers published for name (an identifier) must
 * stay: they may belong to an order in progress. */
typedef int sacme_store_keep_fn(void *baton, const char *name);

/* Removes what a driver killed in the middle of its work leaves in its
 * parts: the temporary files of interrupted writes (sacme_sdir_is_temporary;
 * some hold a key) in accounts/<id>/, staging/<name>/ (the webhook spool
 * among them) and requests/, and the challenge answers in challenges/<name>/
 * with the directories it empties, except those of the names keep (may be
 * NULL) says to keep: an order in progress may have them fetched by the CA
 * right now, before the resumed order publishes them again (a validation
 * that finds nothing fails the order). For the driver at its start, before
 * it drives anything: then no write is under way. The accounts are swept
 * under the store lock (waiting for it), since sacmectl writes there too.
 * Goes on past what it cannot open or remove; the first failure is
 * returned (res says what). *swept (may be NULL) counts what went. */
apr_status_t sacme_store_sweep_except(const sacme_store_t *store, apr_pool_t *p,
                                      sacme_store_keep_fn *keep, void *baton,
                                      sacme_store_swept_t *swept, sacme_result_t *res);

/* sacme_store_sweep_except keeping no answer. */
apr_status_t sacme_store_sweep(const sacme_store_t *store, apr_pool_t *p,
                               sacme_store_swept_t *swept, sacme_result_t *res);

/* --- accounts, the webhook spool, the fallback, the driver's pid -------------- */

/* The account directory's name for a CA and EAB key id: "<host>-<hash>",
 * stable, readable, and distinct per (directory URL, kid). */
const char *sacme_store_account_name(apr_pool_t *p, const char *server_url,
                                     const char *kid);

/* Its path, for messages and what sacmectl shows. */
const char *sacme_store_account_path(const sacme_store_t *store, apr_pool_t *p,
                                     const char *server_url, const char *kid);

/* Opens (with create: makes, 0700) the account directory of a CA + kid. */
apr_status_t sacme_store_account_open(const sacme_store_t *store, apr_pool_t *p,
                                      const char *server_url, const char *kid,
                                      int create, sacme_sdir_t **dir,
                                      sacme_result_t *res);

/* The driver's spool of webhook events, made 0700: staging/-webhook for
 * the server-wide SacmeNotifyURL (url NULL), staging/-webhook-<hash> for
 * the URL of a <SacmeDomainSet>, each sender its own. */
apr_status_t sacme_store_spool_open(const sacme_store_t *store, apr_pool_t *p,
                                    const char *url, sacme_sdir_t **dir,
                                    sacme_result_t *res);

/* The directory of the fallback certificate (root's). */
const char *sacme_store_fallback_dir(const sacme_store_t *store, apr_pool_t *p);

/* driver.pid: written by the parent, read by sacmectl (0: none). */
apr_status_t sacme_store_pid_save(const sacme_store_t *store, apr_pool_t *p,
                                  long pid, sacme_result_t *res);
long sacme_store_pid_load(const sacme_store_t *store, apr_pool_t *p);

/* --- the mirror: the driver's changes, for a cluster ----------------------------
 *
 * A cluster of servers (etcd) keeps a copy of the driver's parts of the
 * store: what one node's driver writes there, every node needs. The store
 * tells a mirror of each change to those parts, once it is made, and a node
 * writes the changes it receives into its own store with sacme_store_apply.
 * The cluster is thus another implementation behind the store, not a
 * second copy of its logic: every node still works from local files.
 *
 * Told: the files of staging/<name>/ (privkey.pem, fullchain.pem and the
 * JSON states: job, order, alerts, issued, ari, dns), requests/<name>.json,
 * challenges/<name>/<token> and tls-alpn-01.pem, accounts/<id>/ (account.key,
 * account.key.new, account.json): each write and each removal, one change
 * each, after it succeeded. Not told: root's parts (domains/, archive/,
 * fallback/, managed.json, store.json), the webhook spools, what a sweep
 * removes, and the promotion of a staged set (each node promotes its own
 * copy, at its own restart).
 */

/* One change. part/name/file name the file as the store keeps it:
 * <part>/<name>/<file>, except requests/<file> (file "<name>.json"). */
typedef struct sacme_store_change_t {
    const char *part;          /* SACME_GROUP_STAGING, _ACCOUNTS, _CHALLENGES,
                                  _REQUESTS */
    const char *name;          /* a domain (or unit), an account, an identifier */
    const char *file;
    const char *data;          /* the new content, len bytes; NULL: removed */
    apr_size_t len;
    int secret;                /* a private key: seal it before it leaves the node */
} sacme_store_change_t;

/* Called after each change, in the thread that made it (the driver's
 * threads: several at once); the change and its strings are valid for the
 * call only. A mirror that cannot pass a change on keeps or retries it
 * itself: the local write is done either way. It must not write to the
 * same store object (it would be told of its own writes). */
struct sacme_store_mirror_t {
    void *baton;
    void (*changed)(void *baton, const sacme_store_change_t *c);
};

/* Sets (NULL: removes) the mirror; before the store is used by several
 * threads. Without one, nothing is told and nothing costs more. */
void sacme_store_set_mirror(sacme_store_t *store, const sacme_store_mirror_t *mirror);

/* Where the change lies below the base: "<part>/<name>/<file>", or
 * "requests/<file>" (the key below the cluster's prefix in etcd). */
const char *sacme_store_change_path(apr_pool_t *p, const sacme_store_change_t *c);

/* The reverse: c's part, name and file from such a path (data left alone).
 * APR_EINVAL (res says why) for any path that is not a file of a driver's
 * part that sacme_store_apply takes. */
apr_status_t sacme_store_change_parse(apr_pool_t *p, const char *path,
                                      sacme_store_change_t *c, sacme_result_t *res);

/* Writes (or removes) a change received from the cluster into this store
 * through the store's own functions (same owners, modes, atomic writes),
 * with the mirror muted: it is not told again. What arrives is not
 * trusted: anything that is not a known file of a driver's part under a
 * usable name, is larger than the store allows for it, or does not parse
 * as what that file holds (a key, a chain, JSON, a key authorization) is
 * refused (APR_EINVAL, APR_ENOSPC; res says why) and nothing is written. */
apr_status_t sacme_store_apply(const sacme_store_t *store, apr_pool_t *p,
                               const sacme_store_change_t *c, sacme_result_t *res);

/* Every file of the driver's parts that sacme_store_apply would take, each
 * told to fn as a change holding its whole content (for a node that must
 * put its whole store into the cluster's copy). fn's error stops the walk
 * and is returned. */
typedef apr_status_t sacme_store_each_fn(void *baton, const sacme_store_change_t *c);
apr_status_t sacme_store_each(const sacme_store_t *store, apr_pool_t *p,
                              sacme_store_each_fn *fn, void *baton, sacme_result_t *res);

/* --- the lock --------------------------------------------------------------- */

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
