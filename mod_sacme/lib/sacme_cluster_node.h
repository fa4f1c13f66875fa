/* This node of a cluster, inside the driving process (SacmeCluster): the
 * threads that keep its membership and campaign for the leadership
 * (sacme_cluster.h), that put the leader's store changes into etcd and take
 * the other nodes' copy of them (sacme_cluster_sync.h), and what the driver
 * asks of them: whether it may drive now, whether it must stop, whether a
 * certificate set came from the leader, whether every member has a
 * challenge answer before the CA is told to look.
 *
 * Every node has a driver; only the leader's hands domains to its workers.
 * A node that becomes the leader first takes the cluster's copy into its
 * store, so the orders in progress are resumed from their stored URLs. A
 * leader whose lease may run out (etcd out of reach) is told to stop
 * (sacme_cnode_lost): the driver ends, httpd starts another, which joins
 * again as a follower. The first node records the cluster key's id in etcd;
 * a node with another key joins nothing, takes nothing and writes nothing.
 *
 * Threads: a ticker (lease, leadership, pushing, the view for status), a
 * follower (pull, then a watch of the copy; acknowledgements), each with
 * etcd clients of its own; the driver's threads call the functions below.
 */
#ifndef SACME_CLUSTER_NODE_H
#define SACME_CLUSTER_NODE_H

#include "sacme_cluster.h"
#include "sacme_cluster_sync.h"
#include "sacme_drive.h"
#include "sacme_http.h"

typedef struct sacme_cnode_conf_t {
    const apr_array_header_t *endpoints;    /* const char *: the etcd members */
    const sacme_http_options_t *http;       /* TLS to etcd (read before the
                                               driver drops root); NULL: none */
    const char *name;                       /* SacmeClusterName */
    const char *node;                       /* SacmeClusterNode */
    apr_interval_time_t ttl;                /* SacmeClusterLease */
    const sacme_seal_key_t *key;            /* SacmeClusterKey */
    const sacme_log_t *log;
    sacme_store_t *store;                   /* this node's: its mirror is set */
    const apr_array_header_t *domains;      /* sacme_domain_t *: their serials
                                               in service, for the view */
} sacme_cnode_conf_t;

typedef struct sacme_cnode_t sacme_cnode_t;

/* Makes the node and its etcd clients (they read the TLS files now) and
 * sets the store's mirror. Nothing is sent yet. */
apr_status_t sacme_cnode_make(apr_pool_t *p, const sacme_cnode_conf_t *conf,
                              sacme_cnode_t **cn, sacme_result_t *res);

/* Starts the threads. */
apr_status_t sacme_cnode_start(sacme_cnode_t *cn, sacme_result_t *res);

/* Whether the driver may hand domains to its workers now: this node leads,
 * its lease surely lives, and it has taken the cluster's copy. */
int sacme_cnode_may_drive(sacme_cnode_t *cn);

/* Whether this node drove and may no longer (its lease could run out):
 * the driver must stop before another node can take over. */
int sacme_cnode_lost(sacme_cnode_t *cn);

/* The domains for which a certificate set came from the leader and is
 * complete in staging (nothing more arrived for a second), or NULL. */
const char *sacme_cnode_staged(sacme_cnode_t *cn, apr_pool_t *p);

/* A follower passes the admin's requests found in its store (sacmectl on
 * this node) to the leader through etcd; a leader does nothing. */
void sacme_cnode_forward_requests(sacme_cnode_t *cn, apr_pool_t *p);

/* For the driver's ready step (sacme_driver_t.cluster_ready): waits until
 * every other live member acknowledged the http-01 and tls-alpn-01
 * answers in published (sacme_chal_pub_t *), at most a lease; a member
 * that did not is named in a warning. Never fails the issuance. */
apr_status_t sacme_cnode_ready(void *cn, const apr_array_header_t *published,
                               apr_pool_t *p, sacme_result_t *res);

/* Gives up the lease (leadership and membership) at once: for a driver
 * that ends on purpose. */
void sacme_cnode_resign(sacme_cnode_t *cn);

#endif /* SACME_CLUSTER_NODE_H */
