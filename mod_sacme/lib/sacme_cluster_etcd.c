/* sacme_kv_impl_t over etcd (sacme_cluster_etcd.h): each call in a pool of
 * its own, so a cluster that ticks every second for months does not grow. */
#include <apr_strings.h>

#include "sacme_cluster_etcd.h"

/* etcd counts leases in whole seconds: a part of one is rounded up, so a
 * lease is never shorter than asked. */
static apr_int64_t seconds(apr_interval_time_t t)
{
    return (apr_int64_t)((t + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
}

static apr_status_t e_grant(void *b, apr_interval_time_t ttl, apr_int64_t *id,
                            sacme_result_t *res)
{
    apr_int64_t granted;
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = sacme_etcd_lease_grant(b, seconds(ttl), p, id, &granted, res);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t e_keepalive(void *b, apr_int64_t id, apr_interval_time_t *left,
                                sacme_result_t *res)
{
    apr_int64_t ttl = 0;
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = sacme_etcd_lease_keepalive(b, id, p, &ttl, res);
    apr_pool_destroy(p);
    if (rv == APR_NOTFOUND) {
        *left = 0;              /* gone at etcd: the caller takes a new one */
        if (res) {
            sacme_result_reset(res);
        }
        return APR_SUCCESS;
    }
    *left = rv == APR_SUCCESS ? apr_time_from_sec(ttl) : 0;
    return rv;
}

static apr_status_t e_revoke(void *b, apr_int64_t id, sacme_result_t *res)
{
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = sacme_etcd_lease_revoke(b, id, p, res);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t e_create(void *b, const char *key, const char *value,
                             apr_int64_t lease, apr_pool_t *p, int *created,
                             const char **holder, sacme_result_t *res)
{
    sacme_etcd_kv_t *current = NULL;
    apr_status_t rv;

    rv = sacme_etcd_put_if_absent(b, key, value, strlen(value), lease, p, created,
                                  &current, res);
    if (rv == APR_SUCCESS && !*created && holder) {
        /* An answer of ours that came too late to be seen: the key holds
         * our value under our lease, and it is ours. */
        if (current && current->lease == lease && !strcmp(current->value, value)) {
            *created = 1;
        }
        *holder = current ? current->value : NULL;
    }
    return rv;
}

static apr_status_t e_get(void *b, const char *key, apr_pool_t *p, const char **value,
                          sacme_result_t *res)
{
    sacme_etcd_kv_t *kv = NULL;
    apr_status_t rv = sacme_etcd_get(b, key, p, &kv, NULL, res);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!kv) {
        return APR_ENOENT;
    }
    *value = kv->value;
    return APR_SUCCESS;
}

static apr_status_t e_put(void *b, const char *key, const char *value, apr_int64_t lease,
                          sacme_result_t *res)
{
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = sacme_etcd_put(b, key, value, strlen(value), lease, p, NULL, res);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t e_del(void *b, const char *key, sacme_result_t *res)
{
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = sacme_etcd_delete(b, key, p, NULL, res);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t e_list(void *b, const char *prefix, apr_pool_t *p,
                           apr_array_header_t **pairs, sacme_result_t *res)
{
    apr_array_header_t *kvs;
    apr_status_t rv = sacme_etcd_range_prefix(b, prefix, p, &kvs, NULL, res);
    int i;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pairs = apr_array_make(p, kvs->nelts, sizeof(sacme_kv_pair_t));
    for (i = 0; i < kvs->nelts; ++i) {
        const sacme_etcd_kv_t *kv = APR_ARRAY_IDX(kvs, i, sacme_etcd_kv_t *);
        sacme_kv_pair_t *pair = apr_array_push(*pairs);
        pair->key = kv->key;
        pair->value = kv->value;
    }
    return APR_SUCCESS;
}

const sacme_kv_impl_t sacme_cluster_etcd_kv = {
    e_grant, e_keepalive, e_revoke, e_create, e_get, e_put, e_del, e_list
};
