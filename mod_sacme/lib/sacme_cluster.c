/* Leadership, membership and challenge acknowledgements (sacme_cluster.h). */
#include <apr_strings.h>

#include "sacme_cluster.h"

#define LEADER_KEY  "leader"
#define MEMBERS     "members/"
#define ACKS        "acks/"
#define MIN_TTL     apr_time_from_sec(3)

sacme_cluster_t *sacme_cluster_make(apr_pool_t *p, const sacme_kv_impl_t *kv,
                                    void *kv_baton, const char *prefix,
                                    const char *node, apr_interval_time_t ttl)
{
    sacme_cluster_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t n = strlen(prefix);

    c->p = p;
    c->kv = kv;
    c->kv_baton = kv_baton;
    c->prefix = n && prefix[n - 1] == '/' ? apr_pstrdup(p, prefix)
                                          : apr_pstrcat(p, prefix, "/", NULL);
    c->node = apr_pstrdup(p, node);
    c->ttl = ttl < MIN_TTL ? MIN_TTL : ttl;
    /* A fifth of the lease, at least a second: room for a keep-alive that
     * was slow to come back, and for the driver to notice between two
     * looks at its role. */
    c->margin = c->ttl / 5 < APR_USEC_PER_SEC ? APR_USEC_PER_SEC : c->ttl / 5;
    return c;
}

static const char *key_of(const sacme_cluster_t *c, apr_pool_t *p, const char *a,
                          const char *b, const char *d, const char *e)
{
    return apr_pstrcat(p, c->prefix, a, b, d ? "/" : NULL, d, e ? "/" : NULL, e, NULL);
}

/* The lease is gone, or was never there: no role until a new one. */
static void lose_lease(sacme_cluster_t *c)
{
    c->lease = 0;
    c->valid_until = 0;
    c->role = SACME_ROLE_NONE;
}

static void unreachable(sacme_cluster_t *c, apr_time_t now)
{
    if (!c->lost_at) {
        c->lost_at = now;
    }
    if (c->lease && now >= c->valid_until) {
        lose_lease(c);
    }
}

/* A lease, new or renewed; its membership key goes with a new one. */
static apr_status_t hold_lease(sacme_cluster_t *c, apr_time_t now, sacme_result_t *res)
{
    apr_interval_time_t left;
    apr_status_t rv;
    apr_int64_t id;

    if (c->lease && now >= c->valid_until) {
        lose_lease(c);             /* it may have run out at the store */
    }
    if (c->lease) {
        if (now - c->renewed_at < c->ttl / 3) {
            return APR_SUCCESS;
        }
        /* counted from before the request: the store counts from later */
        rv = c->kv->lease_keepalive(c->kv_baton, c->lease, &left, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (left > 0) {
            c->valid_until = now + (left < c->ttl ? left : c->ttl);
            c->renewed_at = now;
            return APR_SUCCESS;
        }
        lose_lease(c);             /* the store let it go: a new one */
    }
    rv = c->kv->lease_grant(c->kv_baton, c->ttl, &id, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c->lease = id;
    c->valid_until = now + c->ttl;
    c->renewed_at = now;
    c->role = SACME_ROLE_FOLLOWER;
    return c->kv->put(c->kv_baton, key_of(c, c->p, MEMBERS, c->node, NULL, NULL),
                      c->node, c->lease, res);
}

apr_status_t sacme_cluster_tick(sacme_cluster_t *c, apr_time_t now, sacme_result_t *res)
{
    const char *holder = NULL;
    apr_pool_t *p;
    apr_status_t rv;
    int created = 0;

    if ((rv = hold_lease(c, now, res)) != APR_SUCCESS) {
        unreachable(c, now);
        return rv;
    }
    apr_pool_create(&p, c->p);
    if (c->role == SACME_ROLE_LEADER) {
        /* still ours? (only an admin deleting it could take it away) */
        rv = c->kv->get(c->kv_baton, key_of(c, p, LEADER_KEY, NULL, NULL, NULL), p,
                        &holder, res);
        if (rv == APR_SUCCESS && holder && !strcmp(holder, c->node)) {
            goto done;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            unreachable(c, now);
            goto done;
        }
        c->role = SACME_ROLE_FOLLOWER;
    }
    /* A key of this node's id under an older lease (this node's previous
     * process) is not ours: it goes with that lease. */
    rv = c->kv->create(c->kv_baton, key_of(c, p, LEADER_KEY, NULL, NULL, NULL), c->node,
                       c->lease, p, &created, &holder, res);
    if (rv != APR_SUCCESS) {
        unreachable(c, now);
        goto done;
    }
    c->role = created ? SACME_ROLE_LEADER : SACME_ROLE_FOLLOWER;
    holder = created ? c->node : holder;
done:
    if (rv == APR_SUCCESS) {
        c->lost_at = 0;
        /* copied only when it changed: ticked every second for months */
        if (!holder) {
            c->leader = NULL;
        }
        else if (!c->leader || strcmp(c->leader, holder)) {
            c->leader = apr_pstrdup(c->p, holder);
        }
    }
    apr_pool_destroy(p);
    return rv;
}

int sacme_cluster_leading(const sacme_cluster_t *c, apr_time_t now)
{
    return c->role == SACME_ROLE_LEADER && c->lease && now < c->valid_until - c->margin;
}

void sacme_cluster_resign(sacme_cluster_t *c)
{
    if (c->lease) {
        c->kv->lease_revoke(c->kv_baton, c->lease, NULL);
    }
    lose_lease(c);
}

apr_status_t sacme_cluster_members(sacme_cluster_t *c, apr_pool_t *p,
                                   apr_array_header_t **nodes, sacme_result_t *res)
{
    const char *prefix = key_of(c, p, MEMBERS, NULL, NULL, NULL);
    apr_size_t n = strlen(prefix);
    apr_array_header_t *pairs;
    apr_status_t rv;
    int i;

    if ((rv = c->kv->list(c->kv_baton, prefix, p, &pairs, res)) != APR_SUCCESS) {
        return rv;
    }
    *nodes = apr_array_make(p, pairs->nelts, sizeof(const char *));
    for (i = 0; i < pairs->nelts; ++i) {
        const sacme_kv_pair_t *kv = &APR_ARRAY_IDX(pairs, i, sacme_kv_pair_t);
        if (strlen(kv->key) > n && !strchr(kv->key + n, '/')) {
            APR_ARRAY_PUSH(*nodes, const char *) = kv->key + n;
        }
    }
    return APR_SUCCESS;
}

apr_status_t sacme_cluster_ack(sacme_cluster_t *c, const char *name, const char *token,
                               sacme_result_t *res)
{
    apr_pool_t *p;
    apr_status_t rv;

    if (!c->lease) {
        return sacme_result_set(res, APR_EINVAL, "no lease to acknowledge the answer "
                                "for %s with: the cluster's store is out of reach", name);
    }
    apr_pool_create(&p, c->p);
    rv = c->kv->put(c->kv_baton, key_of(c, p, ACKS, name, token, c->node), c->node,
                    c->lease, res);
    apr_pool_destroy(p);
    return rv;
}

const char *sacme_cluster_unacked(sacme_cluster_t *c, const apr_array_header_t *members,
                                  const char *name, const char *token, apr_pool_t *p,
                                  sacme_result_t *res)
{
    const char *prefix = apr_pstrcat(p, key_of(c, p, ACKS, name, token, NULL), "/", NULL);
    apr_size_t n = strlen(prefix);
    apr_array_header_t *pairs;
    const char *missing = NULL;
    int i, j, acked;

    if (c->kv->list(c->kv_baton, prefix, p, &pairs, res) != APR_SUCCESS) {
        /* unknown: every member counts as missing */
        pairs = apr_array_make(p, 1, sizeof(sacme_kv_pair_t));
    }
    for (i = 0; i < members->nelts; ++i) {
        const char *node = APR_ARRAY_IDX(members, i, const char *);
        for (acked = 0, j = 0; j < pairs->nelts && !acked; ++j) {
            const char *key = APR_ARRAY_IDX(pairs, j, sacme_kv_pair_t).key;
            acked = strlen(key) > n && !strcmp(key + n, node);
        }
        if (!acked) {
            missing = missing ? apr_pstrcat(p, missing, ", ", node, NULL) : node;
        }
    }
    return missing;
}

apr_status_t sacme_cluster_ack_clear(sacme_cluster_t *c, const char *name,
                                     const char *token, sacme_result_t *res)
{
    apr_array_header_t *pairs;
    apr_status_t rv;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, c->p);
    rv = c->kv->list(c->kv_baton,
                     apr_pstrcat(p, key_of(c, p, ACKS, name, token, NULL), "/", NULL),
                     p, &pairs, res);
    for (i = 0; rv == APR_SUCCESS && i < pairs->nelts; ++i) {
        rv = c->kv->del(c->kv_baton, APR_ARRAY_IDX(pairs, i, sacme_kv_pair_t).key, res);
    }
    apr_pool_destroy(p);
    return rv;
}

const char *sacme_role_str(sacme_role_t role)
{
    switch (role) {
    case SACME_ROLE_LEADER:   return "leader";
    case SACME_ROLE_FOLLOWER: return "follower";
    default:                  return "none";
    }
}
