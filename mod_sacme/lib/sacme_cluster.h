/* One driver for a cluster of httpd nodes: leadership through a lease,
 * membership, and acknowledgements of published challenges, over a small
 * key-value seam (sacme_kv_impl_t) that etcd implements in production and a
 * map in memory in unit tests.
 *
 * Keys, under the cluster's prefix ("/sacme/<SacmeClusterName>/"):
 *   leader                     the leading node's id, bound to its lease
 *   members/<node>             every live node, bound to its lease
 *   acks/<name>/<token>/<node> a node mirrored that challenge answer
 *
 * Safety of the lease: a leader trusts its leadership only until the
 * lease, counted from the moment it sent its last successful grant or
 * keep-alive, less a margin, has run out (sacme_cluster_leading). etcd
 * counts the same lease from when it received that request, later, so the
 * node stops driving before etcd can have let the lease expire and given the
 * key to another node. Time here is a monotonic clock (sacme_time_mono):
 * a wall clock set back or forward must not stretch a lease.
 */
#ifndef SACME_CLUSTER_H
#define SACME_CLUSTER_H

#include "sacme.h"
#include "sacme_result.h"

/* One key and its value, as listed under a prefix. */
typedef struct sacme_kv_pair_t {
    const char *key;
    const char *value;
} sacme_kv_pair_t;

/* The key-value store the cluster is coordinated through. Every call
 * returns APR_SUCCESS or fills res; none blocks longer than the store's
 * own request timeout. */
typedef struct sacme_kv_impl_t {
    /* A lease of ttl; *id names it. */
    apr_status_t (*lease_grant)(void *baton, apr_interval_time_t ttl, apr_int64_t *id,
                                sacme_result_t *res);
    /* Renews it; *left: what the store says remains (0: it is gone). */
    apr_status_t (*lease_keepalive)(void *baton, apr_int64_t id,
                                    apr_interval_time_t *left, sacme_result_t *res);
    apr_status_t (*lease_revoke)(void *baton, apr_int64_t id, sacme_result_t *res);
    /* Puts key = value bound to lease (0: none) only if key does not exist;
     * *created says whether it did, or whether it holds this very value
     * under this very lease (the caller's: an answer that came too late,
     * a lease taken over); when not, *holder (may be NULL) gets the present
     * value. */
    apr_status_t (*create)(void *baton, const char *key, const char *value,
                           apr_int64_t lease, apr_pool_t *p, int *created,
                           const char **holder, sacme_result_t *res);
    /* The value of key; APR_ENOENT (res untouched) when there is none. */
    apr_status_t (*get)(void *baton, const char *key, apr_pool_t *p,
                        const char **value, sacme_result_t *res);
    apr_status_t (*put)(void *baton, const char *key, const char *value,
                        apr_int64_t lease, sacme_result_t *res);
    apr_status_t (*del)(void *baton, const char *key, sacme_result_t *res);
    /* The pairs under prefix (sacme_kv_pair_t), in key order. */
    apr_status_t (*list)(void *baton, const char *prefix, apr_pool_t *p,
                         apr_array_header_t **pairs, sacme_result_t *res);
} sacme_kv_impl_t;

typedef enum {
    SACME_ROLE_NONE = 0,       /* no lease: the store is out of reach */
    SACME_ROLE_FOLLOWER,       /* a member; another node leads */
    SACME_ROLE_LEADER
} sacme_role_t;

typedef struct sacme_cluster_t {
    apr_pool_t *p;
    const sacme_kv_impl_t *kv;
    void *kv_baton;
    const char *prefix;        /* ends with '/' */
    const char *node;          /* this node's id */
    apr_interval_time_t ttl;   /* SacmeClusterLease */
    apr_interval_time_t margin;/* stop leading this long before the lease
                                  could run out */
    apr_int64_t lease;         /* 0: none */
    apr_time_t valid_until;    /* (monotonic) the lease surely lives until */
    apr_time_t renewed_at;     /* (monotonic) when it was last renewed */
    sacme_role_t role;
    const char *leader;        /* the leading node's id as last seen, or NULL */
    apr_time_t lost_at;        /* (monotonic) when the store was last out of
                                  reach after being reached; 0: it is not */
    int adopted;               /* the lease is an earlier process's, not yet
                                  renewed by this one */
} sacme_cluster_t;

/* A cluster member for node under prefix (a '/' is added when missing),
 * with leases of ttl (at least 3 s). Nothing is sent yet. */
sacme_cluster_t *sacme_cluster_make(apr_pool_t *p, const sacme_kv_impl_t *kv,
                                    void *kv_baton, const char *prefix,
                                    const char *node, apr_interval_time_t ttl);

/* One round, at now (monotonic): gets or renews the lease (renewal every
 * third of it), keeps the membership key, campaigns for the leader key when
 * no node holds it. Call it at least every ttl/3. A failure to reach the
 * store is returned (res says why) and leaves the role as the lease allows:
 * a leader stays one only while sacme_cluster_leading says so. */
apr_status_t sacme_cluster_tick(sacme_cluster_t *c, apr_time_t now, sacme_result_t *res);

/* Takes over the lease of this node's previous process (its driver ended
 * to let httpd restart, and the new one goes on where it stopped): its
 * membership and, if it led, its leadership, with no gap for the others
 * to see. Nothing is trusted before the next tick renews it; a lease that
 * has run out meanwhile is replaced by a new one there. */
void sacme_cluster_adopt(sacme_cluster_t *c, apr_int64_t lease, apr_time_t now);

/* Whether this node may act as the leader at now: it won the leader key
 * and its lease surely still lives (less the margin). */
int sacme_cluster_leading(const sacme_cluster_t *c, apr_time_t now);

/* Gives the leadership up (revokes the lease: the leader and membership
 * keys go with it at once, and another node takes over without waiting for
 * the lease to run out). For a clean stop. */
void sacme_cluster_resign(sacme_cluster_t *c);

/* The ids of the live members (their membership keys), this node's
 * included once it has a lease. */
apr_status_t sacme_cluster_members(sacme_cluster_t *c, apr_pool_t *p,
                                   apr_array_header_t **nodes, sacme_result_t *res);

/* Records that this node mirrored the answer of (name, token), bound to
 * its lease: a member that dies takes its acknowledgements along. */
apr_status_t sacme_cluster_ack(sacme_cluster_t *c, const char *name, const char *token,
                               sacme_result_t *res);

/* The members of `members` that have not acknowledged (name, token) yet,
 * as a list for a message; NULL when every one has. */
const char *sacme_cluster_unacked(sacme_cluster_t *c, const apr_array_header_t *members,
                                  const char *name, const char *token, apr_pool_t *p,
                                  sacme_result_t *res);

/* Removes every acknowledgement of (name, token) (the challenge is over). */
apr_status_t sacme_cluster_ack_clear(sacme_cluster_t *c, const char *name,
                                     const char *token, sacme_result_t *res);

const char *sacme_role_str(sacme_role_t role);

#endif /* SACME_CLUSTER_H */
