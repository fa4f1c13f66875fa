/* The cluster's copy of the driver's parts of the store, in etcd under
 * "<cluster prefix>store/<part>/<name>/<file>" (sacme_store_change_path):
 * the leader's store tells each change (sacme_store_set_mirror) and it is
 * put into etcd, a private key sealed with the cluster key (sacme_seal.h,
 * the etcd key as context); the other nodes read the copy at start
 * (sacme_sync_pull) and follow it (sacme_sync_follow), writing each change
 * into their own store through sacme_store_apply, which trusts nothing it
 * is given. */
#ifndef SACME_CLUSTER_SYNC_H
#define SACME_CLUSTER_SYNC_H

#include <apr_thread_mutex.h>

#include "sacme.h"
#include "sacme_etcd.h"
#include "sacme_log.h"
#include "sacme_seal.h"
#include "sacme_store.h"

/* Asked before a change of the copy is written into this node's store:
 * 0 passes it over (not counted as applied). */
typedef int sacme_sync_accept_fn(void *baton, const sacme_store_change_t *c,
                                 apr_pool_t *p);
/* Told after a change of the copy was written into this node's store. */
typedef void sacme_sync_applied_fn(void *baton, const sacme_store_change_t *c);

typedef struct sacme_sync_t {
    apr_pool_t *p;
    sacme_etcd_t *etcd;              /* this sync's own client: one request at a time */
    const char *prefix;              /* "<cluster prefix>store/" */
    const sacme_seal_key_t *key;
    const sacme_log_t *log;
    apr_thread_mutex_t *lock;        /* the mirror is told from several threads */
    sacme_store_mirror_t mirror;     /* for sacme_store_set_mirror */
    int unpushed;                    /* changes etcd did not take: the copy
                                        is behind until the next full push */
    sacme_sync_accept_fn *accept;    /* NULL: every change is taken */
    sacme_sync_applied_fn *applied;  /* NULL: nobody is told */
    void *baton;                     /* theirs */
} sacme_sync_t;

apr_status_t sacme_sync_make(apr_pool_t *p, sacme_etcd_t *etcd, const char *cluster_prefix,
                             const sacme_seal_key_t *key, const sacme_log_t *log,
                             sacme_sync_t **sync, sacme_result_t *res);

/* Puts one change into etcd (or removes it), sealing a secret one. */
apr_status_t sacme_sync_push(sacme_sync_t *s, const sacme_store_change_t *c,
                             sacme_result_t *res);

/* Puts every file of store's driver parts into the copy (a leader whose
 * changes etcd did not all take, or the first one with a store from
 * before the cluster); *pushed gets how many. Nothing is removed. */
apr_status_t sacme_sync_push_all(sacme_sync_t *s, const sacme_store_t *store,
                                 apr_pool_t *p, int *pushed, sacme_result_t *res);

/* Writes every file of the cluster's copy into store; *revision gets the
 * copy's revision (follow from *revision + 1), *applied how many files
 * were written. A value this node cannot open (another cluster key) stops
 * it with SACME_ESEALKEY before anything is written: a node with the
 * wrong key uses nothing and overwrites nothing. Other refusals are logged
 * and skipped. */
apr_status_t sacme_sync_pull(sacme_sync_t *s, const sacme_store_t *store, apr_pool_t *p,
                             apr_int64_t *revision, int *applied, sacme_result_t *res);

/* Follows the copy from revision start for up to timeout, writing each
 * change into store; *next is where to go on (0 after SACME_ETCD_ECOMPACTED:
 * pull again). watcher is a client of its own (a watch holds its client
 * for the whole time). */
apr_status_t sacme_sync_follow(sacme_sync_t *s, sacme_etcd_t *watcher,
                               const sacme_store_t *store,
                               apr_int64_t start, apr_interval_time_t timeout,
                               apr_pool_t *p, apr_int64_t *next, int *applied,
                               sacme_result_t *res);

#endif /* SACME_CLUSTER_SYNC_H */
