/* The cluster's key-value seam (sacme_kv_impl_t) over an etcd client. */
#ifndef SACME_CLUSTER_ETCD_H
#define SACME_CLUSTER_ETCD_H

#include "sacme_cluster.h"
#include "sacme_etcd.h"

/* The implementation; its baton is the sacme_etcd_t *. */
extern const sacme_kv_impl_t sacme_cluster_etcd_kv;

#endif /* SACME_CLUSTER_ETCD_H */
