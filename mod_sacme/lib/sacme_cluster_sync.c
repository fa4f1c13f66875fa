/* The cluster's copy of the store (sacme_cluster_sync.h). */
#include <apr_strings.h>

#include "sacme_cluster_sync.h"

static void told(void *baton, const sacme_store_change_t *c)
{
    sacme_sync_t *s = baton;
    apr_pool_t *p;
    sacme_result_t *res;

    apr_pool_create(&p, NULL);
    res = sacme_result_make(p);
    if (sacme_sync_push(s, c, res) != APR_SUCCESS) {
        ++s->unpushed;
        sacme_log(s->log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10595) "the cluster's copy of %s could not be updated "
                  "in etcd (%s): the other nodes see it once etcd is reachable again "
                  "and the leader pushes its store", sacme_store_change_path(p, c),
                  sacme_result_message(res, p));
    }
    apr_pool_destroy(p);
}

apr_status_t sacme_sync_make(apr_pool_t *p, sacme_etcd_t *etcd, const char *cluster_prefix,
                             const sacme_seal_key_t *key, const sacme_log_t *log,
                             sacme_sync_t **sync, sacme_result_t *res)
{
    sacme_sync_t *s = apr_pcalloc(p, sizeof(*s));
    apr_size_t n = strlen(cluster_prefix);
    apr_status_t rv;

    s->p = p;
    s->etcd = etcd;
    s->prefix = apr_pstrcat(p, cluster_prefix, n && cluster_prefix[n - 1] == '/' ? "" : "/",
                            "store/", NULL);
    s->key = key;
    s->log = log;
    if ((rv = apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p))
        != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot make the cluster copy's lock");
    }
    s->mirror.baton = s;
    s->mirror.changed = told;
    *sync = s;
    return APR_SUCCESS;
}

apr_status_t sacme_sync_push(sacme_sync_t *s, const sacme_store_change_t *c,
                             sacme_result_t *res)
{
    apr_pool_t *p;
    const char *key, *value;
    apr_size_t len;
    apr_status_t rv;

    apr_pool_create(&p, NULL);
    key = apr_pstrcat(p, s->prefix, sacme_store_change_path(p, c), NULL);
    value = c->data;
    len = c->len;
    if (c->data && c->secret) {
        rv = sacme_seal(p, s->key, key, c->data, c->len, &value, res);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(p);
            return rv;
        }
        len = strlen(value);
    }
    apr_thread_mutex_lock(s->lock);
    rv = c->data ? sacme_etcd_put(s->etcd, key, value, len, 0, p, NULL, res)
                 : sacme_etcd_delete(s->etcd, key, p, NULL, res);
    apr_thread_mutex_unlock(s->lock);
    apr_pool_destroy(p);
    return rv;
}

/* The change a key and value of the copy stand for, opened when sealed;
 * a secret file must come sealed (whoever can write to etcd without the
 * key must not be able to hand a node a private key of their choosing). */
static apr_status_t change_of(sacme_sync_t *s, const char *key, const char *value,
                              apr_size_t len, apr_pool_t *p, sacme_store_change_t *c,
                              sacme_result_t *res)
{
    apr_status_t rv;

    memset(c, 0, sizeof(*c));
    if (strncmp(key, s->prefix, strlen(s->prefix))) {
        return sacme_result_set(res, APR_EINVAL, "%s is not in the cluster's copy", key);
    }
    if ((rv = sacme_store_change_parse(p, key + strlen(s->prefix), c, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!value) {
        return APR_SUCCESS;              /* a removal */
    }
    if (sacme_seal_is_sealed(value)) {
        unsigned char *plain;
        rv = sacme_seal_open(p, s->key, key, value, &plain, &c->len, res);
        c->data = (const char *)plain;
        return rv;
    }
    if (c->secret) {
        return sacme_result_set(res, APR_EINVAL, "%s holds a private key that is not "
                                "sealed with the cluster key: refused", key);
    }
    c->data = value;
    c->len = len;
    return APR_SUCCESS;
}

/* Applies one key of the copy; a refusal other than the wrong key is
 * logged and skipped (one bad value must not stop the rest). */
static apr_status_t apply_one(sacme_sync_t *s, const sacme_store_t *store, const char *key,
                              const char *value, apr_size_t len, int *applied,
                              sacme_result_t *res)
{
    sacme_store_change_t c;
    apr_status_t rv;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    rv = change_of(s, key, value, len, p, &c, res);
    if (rv == APR_SUCCESS && s->accept && !s->accept(s->baton, &c, p)) {
        apr_pool_destroy(p);
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        rv = sacme_store_apply(store, p, &c, res);
    }
    if (rv == APR_SUCCESS) {
        ++*applied;
        if (s->applied) {
            s->applied(s->baton, &c);
        }
    }
    else if (rv != SACME_ESEALKEY) {
        sacme_log(s->log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10596) "the cluster's copy of %s is not taken: %s", key,
                  sacme_result_message(res, p));
        if (res) {
            sacme_result_reset(res);
        }
        rv = APR_SUCCESS;
    }
    apr_pool_destroy(p);
    return rv;
}

typedef struct {
    sacme_sync_t *s;
    int *pushed;
    sacme_result_t *res;
} push_all_t;

static apr_status_t push_one(void *baton, const sacme_store_change_t *c)
{
    push_all_t *pa = baton;
    apr_status_t rv = sacme_sync_push(pa->s, c, pa->res);

    if (rv == APR_SUCCESS) {
        ++*pa->pushed;
    }
    return rv;
}

apr_status_t sacme_sync_push_all(sacme_sync_t *s, const sacme_store_t *store,
                                 apr_pool_t *p, int *pushed, sacme_result_t *res)
{
    push_all_t pa = { s, pushed, res };

    *pushed = 0;
    return sacme_store_each(store, p, push_one, &pa, res);
}

apr_status_t sacme_sync_pull(sacme_sync_t *s, const sacme_store_t *store, apr_pool_t *p,
                             apr_int64_t *revision, int *applied, sacme_result_t *res)
{
    apr_array_header_t *kvs;
    sacme_store_change_t c;
    apr_status_t rv;
    int i;

    *applied = 0;
    apr_thread_mutex_lock(s->lock);
    rv = sacme_etcd_range_prefix(s->etcd, s->prefix, p, &kvs, revision, res);
    apr_thread_mutex_unlock(s->lock);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Every sealed value opens, or nothing is written: a node given
     * another key must not take half of the copy. */
    for (i = 0; i < kvs->nelts; ++i) {
        const sacme_etcd_kv_t *kv = APR_ARRAY_IDX(kvs, i, sacme_etcd_kv_t *);
        if (sacme_seal_is_sealed(kv->value)
            && (rv = change_of(s, kv->key, kv->value, kv->value_len, p, &c, res))
               == SACME_ESEALKEY) {
            return rv;
        }
        if (res) {
            sacme_result_reset(res);
        }
    }
    for (i = 0; i < kvs->nelts; ++i) {
        const sacme_etcd_kv_t *kv = APR_ARRAY_IDX(kvs, i, sacme_etcd_kv_t *);
        if ((rv = apply_one(s, store, kv->key, kv->value, kv->value_len, applied, res))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

typedef struct {
    sacme_sync_t *s;
    const sacme_store_t *store;
    int *applied;
    apr_status_t rv;
    sacme_result_t *res;
} follow_t;

static int on_event(void *baton, const sacme_etcd_event_t *ev)
{
    follow_t *f = baton;

    if (!ev) {
        return 0;
    }
    f->rv = apply_one(f->s, f->store, ev->kv->key,
                      ev->type == SACME_ETCD_PUT ? ev->kv->value : NULL,
                      ev->kv->value_len, f->applied, f->res);
    return f->rv != APR_SUCCESS;
}

apr_status_t sacme_sync_follow(sacme_sync_t *s, sacme_etcd_t *watcher,
                               const sacme_store_t *store,
                               apr_int64_t start, apr_interval_time_t timeout,
                               apr_pool_t *p, apr_int64_t *next, int *applied,
                               sacme_result_t *res)
{
    follow_t f = { s, store, applied, APR_SUCCESS, res };
    apr_status_t rv;

    *applied = 0;
    rv = sacme_etcd_watch(watcher, s->prefix, start, timeout, on_event, &f, p, next, res);
    return f.rv != APR_SUCCESS ? f.rv : rv;
}
