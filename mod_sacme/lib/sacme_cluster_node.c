/* This node of a cluster, inside the driving process (sacme_cluster_node.h). */
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <openssl/x509.h>

#include "sacme_cluster_node.h"
#include "sacme_chaltype.h"
#include "sacme_cluster_etcd.h"
#include "sacme_json.h"
#include "sacme_key.h"
#include "sacme_time.h"

#define TICK          apr_time_from_sec(1)
#define VIEW_EVERY    apr_time_from_sec(5)
#define WATCH_FOR     apr_time_from_sec(30)
#define SETTLE        apr_time_from_sec(1)
#define WARN_AGAIN    apr_time_from_sec(600)
#define READY_STEP    apr_time_from_msec(200)
#define ALPN_ACK      "tls-alpn-01"
/* A new leader drives once the membership has not changed for this long
 * (at most a lease after it took the lead): nodes started together join
 * within a second or two of each other, and a challenge answered before
 * the last of them joined would not be waited for on it, while the load
 * balancer already sends it the CA's requests. */
#define MEMBERS_SETTLE apr_time_from_sec(3)

struct sacme_cnode_t {
    apr_pool_t *p;
    sacme_cnode_conf_t conf;
    const char *prefix;              /* "/sacme/<name>/" */
    sacme_etcd_t *tick_etcd;         /* the ticker's */
    sacme_etcd_t *follow_etcd;       /* the follower's: pull, acknowledgements */
    sacme_etcd_t *watch_etcd;        /* the follower's watch */
    sacme_etcd_t *ready_etcd;        /* the workers' ready step (ready_lock) */
    sacme_etcd_t *resign_etcd;       /* whoever ends the process */
    sacme_sync_t *lead_sync;         /* pushes (the mirror), the leader's pull */
    sacme_sync_t *follow_sync;       /* the follower's pull and watch */
    sacme_cluster_t *c;              /* the ticker's own */
    json_t *serials;                 /* (ticker) this node's in service: name ->
                                        serial; read at the first view */
    apr_hash_t *forwarded;           /* request file -> content passed on (main
                                        thread only) */
    sacme_store_mirror_t mirror;     /* set on the store: mirror_changed */
    apr_thread_mutex_t *ready_lock;
    apr_thread_mutex_t *lock;        /* guards what follows */
    sacme_cluster_t view;            /* *c after the ticker's last round */
    int key_checked;                 /* the key's id is the cluster's */
    int wrong_key;                   /* it is not: this node stays out */
    int driving;                     /* leader, with the copy taken */
    int drove;                       /* it was, in this process */
    int taken;                       /* (ticker) leads and took the copy */
    apr_time_t taken_at;             /* (ticker, mono) when */
    int skip_settle;                 /* (ticker) it led before this process:
                                        the members know it, no settling */
    apr_int64_t adopted;             /* (ticker) the lease taken over, or 0 */
    int members_seen;                /* (ticker) how many members last round */
    apr_time_t members_at;           /* (ticker, mono) since when that many */
    apr_time_t synced;               /* (wall) the copy last taken or followed */
    apr_time_t unreachable_since;    /* (wall) etcd out of reach since; 0: not */
    apr_time_t staged_at;            /* (mono) a set came from the leader */
};

/* --- what this node takes from the copy ------------------------------------ */

/* Whether a staged file of the copy belongs to the set this node already
 * has in service: the leader's copy keeps the last set it issued after
 * every node activated it, and staging it again here would make this node
 * restart for it again and again. */
static int already_live(sacme_cnode_t *cn, const sacme_store_change_t *c, apr_pool_t *p)
{
    sacme_chain_t *live, *staged;
    sacme_key_t *key;
    X509 *leaf;

    if (!c->data || strcmp(c->part, SACME_GROUP_STAGING)
        || (strcmp(c->file, SACME_FILE_CHAIN) && strcmp(c->file, SACME_FILE_KEY))
        || sacme_store_load_leaf(cn->conf.store, p, SACME_GROUP_DOMAINS, c->name, &live,
                                 NULL) != APR_SUCCESS) {
        return 0;
    }
    leaf = APR_ARRAY_IDX(live->certs, 0, X509 *);
    if (!strcmp(c->file, SACME_FILE_KEY)) {
        return sacme_key_from_pem(p, c->data, c->len, &key, NULL) == APR_SUCCESS
               && sacme_key_same_public(key, X509_get0_pubkey(leaf));
    }
    return sacme_chain_parse_leaf(p, c->data, c->len, &staged, NULL) == APR_SUCCESS
           && !X509_cmp(APR_ARRAY_IDX(staged->certs, 0, X509 *), leaf);
}

/* The leader's pull takes everything but what it has in service already. */
static int accept_lead(void *baton, const sacme_store_change_t *c, apr_pool_t *p)
{
    return !already_live(baton, c, p);
}

/* The follower's watch: a leader takes only what followers pass on (the
 * admin's requests; the rest is its own, echoed); a follower takes the
 * rest but the requests, which are the leader's to act on (its own went
 * there, sacme_cnode_forward_requests). */
static int accept_follow(void *baton, const sacme_store_change_t *c, apr_pool_t *p)
{
    sacme_cnode_t *cn = baton;
    int requests = !strcmp(c->part, SACME_GROUP_REQUESTS), driving;

    apr_thread_mutex_lock(cn->lock);
    driving = cn->driving;
    apr_thread_mutex_unlock(cn->lock);
    if (driving) {
        return requests;
    }
    return !requests && !already_live(cn, c, p);
}

/* The view of the cluster's struct for a thread other than the ticker's:
 * its own client and pool. */
static sacme_cluster_t view_for(sacme_cnode_t *cn, sacme_etcd_t *etcd, apr_pool_t *p)
{
    sacme_cluster_t v;

    apr_thread_mutex_lock(cn->lock);
    v = cn->view;
    apr_thread_mutex_unlock(cn->lock);
    v.kv_baton = etcd;
    v.p = p;
    return v;
}

/* A follower has the change in its store: an answer to a challenge is
 * acknowledged (the leader waits for every member's), a certificate set
 * is noted (the driver ends for its activation once it is complete). */
static void applied_follow(void *baton, const sacme_store_change_t *c)
{
    sacme_cnode_t *cn = baton;
    apr_pool_t *p;

    apr_thread_mutex_lock(cn->lock);
    cn->synced = apr_time_now();
    apr_thread_mutex_unlock(cn->lock);
    if (!c->data || !strcmp(c->part, SACME_GROUP_REQUESTS)) {
        return;
    }
    if (!strcmp(c->part, SACME_GROUP_CHALLENGES)) {
        sacme_result_t *res;
        sacme_cluster_t v;

        apr_pool_create(&p, NULL);
        res = sacme_result_make(p);
        v = view_for(cn, cn->follow_etcd, p);
        if (sacme_cluster_ack(&v, c->name, strcmp(c->file, SACME_FILE_ALPN) ? c->file
                              : ALPN_ACK, res) != APR_SUCCESS) {
            sacme_log(cn->conf.log, SACME_LOG_WARNING, sacme_result_log_status(res),
                      SACME_LOGNO(10613) "cluster %s: the answer to the CA's challenge "
                      "for %s is here, but telling the leader failed (%s): it waits for "
                      "this node up to its lease before it answers the CA", cn->conf.name,
                      c->name, sacme_result_message(res, p));
        }
        apr_pool_destroy(p);
    }
    else if (!strcmp(c->part, SACME_GROUP_STAGING) && !strcmp(c->file, SACME_FILE_CHAIN)) {
        sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10608)
                  "cluster %s: %s: a new certificate came from the leader; this node "
                  "activates it at its next graceful restart", cn->conf.name, c->name);
        apr_thread_mutex_lock(cn->lock);
        cn->staged_at = sacme_time_mono();
        apr_thread_mutex_unlock(cn->lock);
    }
}

/* --- the ticker -------------------------------------------------------------- */

/* etcd answered or not: said once when it stops (and every ten minutes
 * while it stays so), once when it is back. */
static void reachable(sacme_cnode_t *cn, apr_status_t rv, const sacme_result_t *res,
                      apr_time_t *warned, apr_pool_t *p)
{
    apr_time_t now = apr_time_now(), since;

    apr_thread_mutex_lock(cn->lock);
    since = cn->unreachable_since;
    if (rv != APR_SUCCESS && !since) {
        cn->unreachable_since = since = now;
    }
    else if (rv == APR_SUCCESS) {
        cn->unreachable_since = 0;
    }
    apr_thread_mutex_unlock(cn->lock);
    if (rv != APR_SUCCESS && now - *warned >= WARN_AGAIN) {
        *warned = now;
        sacme_log(cn->conf.log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10603) "cluster %s: etcd is out of reach since %s (%s); "
                  "this node keeps serving the certificates it has and does not drive "
                  "them; check the etcd members (etcdctl endpoint health) and the "
                  "network to them", cn->conf.name, sacme_time_rfc3339(p, since),
                  sacme_result_message(res, p));
    }
    else if (rv == APR_SUCCESS && since) {
        *warned = 0;
        sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10604)
                  "cluster %s: etcd is reachable again (out of reach since %s)",
                  cn->conf.name, sacme_time_rfc3339(p, since));
    }
}

/* The first node records the cluster key's id; a node with another key
 * stays out for good (this process): whatever it wrote would be sealed
 * with a key the others cannot open. */
static apr_status_t check_key(sacme_cnode_t *cn, apr_pool_t *p, sacme_result_t *res)
{
    const char *id = sacme_seal_key_id(cn->conf.key), *holder = NULL;
    int created = 0;
    apr_status_t rv;

    rv = cn->c->kv->create(cn->c->kv_baton, apr_pstrcat(p, cn->prefix, "keyid", NULL), id,
                           0, p, &created, &holder, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_thread_mutex_lock(cn->lock);
    cn->key_checked = created || (holder && !strcmp(holder, id));
    cn->wrong_key = !cn->key_checked;
    apr_thread_mutex_unlock(cn->lock);
    if (!cn->key_checked) {
        sacme_log(cn->conf.log, SACME_LOG_ERR, 0, SACME_LOGNO(10606)
                  "SacmeClusterKey: this node's key (id %s) is not the key of cluster %s "
                  "(id %s): it does not join, takes nothing from etcd and writes nothing "
                  "there, and serves the certificates it has. Install the cluster's key "
                  "file (the same on every node), then run 'apachectl graceful'",
                  id, cn->conf.name, holder ? holder : "?");
    }
    return APR_SUCCESS;
}

/* Puts the whole store into the copy; a failure is counted, so that the
 * ticker tries again while this node drives. */
static apr_status_t push_all(sacme_cnode_t *cn, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    int pushed = 0;
    apr_status_t rv = sacme_sync_push_all(cn->lead_sync, cn->conf.store, p, &pushed, res);

    if (rv != APR_SUCCESS) {
        apr_atomic_inc32(&cn->lead_sync->unpushed);
        sacme_log(cn->conf.log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10620) "cluster %s: the store could not be put into the "
                  "cluster's copy (%s); it is tried again while etcd is reachable",
                  cn->conf.name, sacme_result_message(res, p));
    }
    else if (pushed) {
        sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10612)
                  "cluster %s: this node put its store into the cluster's copy (%d file(s))",
                  cn->conf.name, pushed);
    }
    return rv;
}

/* This node won the leadership: it takes the cluster's copy (the orders
 * in progress, the account) before it drives; a copy with nothing in it
 * (the first leader, a store from before the cluster) or one behind this
 * node's store gets this node's whole store. */
static void take_lead(sacme_cnode_t *cn, apr_time_t now, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    apr_int64_t revision = 0;
    int taken = 0;
    apr_status_t rv;

    rv = sacme_sync_pull(cn->lead_sync, cn->conf.store, p, &revision, &taken, res);
    if (rv == SACME_ESEALKEY) {
        sacme_log(cn->conf.log, SACME_LOG_ERR, rv, SACME_LOGNO(10614)
                  "cluster %s: the copy in etcd is sealed with a key this node does not "
                  "have, though its id is recorded as this node's (%s); this node does "
                  "not drive. Remove the copy (etcdctl del --prefix %sstore/) or "
                  "install the key it was sealed with", cn->conf.name,
                  sacme_result_message(res, p), cn->prefix);
        sacme_cnode_resign(cn);
        return;
    }
    if (rv != APR_SUCCESS) {
        return;                         /* again at the next round */
    }
    if ((!taken || apr_atomic_xchg32(&cn->lead_sync->unpushed, 0))
        && push_all(cn, p) != APR_SUCCESS) {
        return;
    }
    apr_thread_mutex_lock(cn->lock);
    cn->synced = apr_time_now();
    apr_thread_mutex_unlock(cn->lock);
    cn->taken = 1;
    cn->taken_at = now;
    cn->members_seen = -1;
    cn->skip_settle = cn->adopted && cn->c->lease == cn->adopted;
    sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10601)
              "cluster %s: this node (%s) leads: it drives the certificates of the "
              "cluster once the members are settled (%d file(s) taken from the "
              "cluster's copy at revision %" APR_INT64_T_FMT ")", cn->conf.name,
              cn->conf.node, taken, revision);
}

/* Whether the leader that took the copy may drive now (MEMBERS_SETTLE). */
static int settled(sacme_cnode_t *cn, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *members;

    if (cn->skip_settle) {
        return 1;
    }
    if (sacme_cluster_members(cn->c, p, &members, NULL) == APR_SUCCESS
        && members->nelts != cn->members_seen) {
        cn->members_seen = members->nelts;
        cn->members_at = now;
    }
    return (cn->members_seen >= 0 && now - cn->members_at >= MEMBERS_SETTLE)
           || now - cn->taken_at >= cn->conf.ttl;
}

/* The serial of every domain's certificate in service: fixed for the
 * life of a driver (a new set is activated at a restart, with a new one). */
static json_t *serials_in_service(const sacme_cnode_conf_t *conf, apr_pool_t *p)
{
    json_t *serials = sacme_json_own(p, json_object());
    int i;

    for (i = 0; conf->domains && i < conf->domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        sacme_cert_info_t *info;
        sacme_chain_t *chain;
        if (sacme_store_load_leaf(conf->store, p, SACME_GROUP_DOMAINS, dom->name, &chain,
                                  NULL) == APR_SUCCESS
            && sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info)
               == APR_SUCCESS) {
            json_object_set_new(serials, dom->name, json_string(info->serial));
        }
    }
    return serials;
}

/* nodes/<node>: this node's certificates in service, bound to its lease;
 * then the whole view, saved for status and sacmectl. */
static void publish_view(sacme_cnode_t *cn, int reached, json_t **last_nodes,
                         json_t **last_members, apr_pool_t *keep, apr_pool_t *p)
{
    json_t *view = sacme_json_own(p, json_object()), *mine = json_object();
    apr_array_header_t *pairs, *members;
    sacme_cluster_t v;
    apr_time_t synced, since;
    int i;

    apr_thread_mutex_lock(cn->lock);
    v = cn->view;
    synced = cn->synced;
    since = cn->unreachable_since;
    apr_thread_mutex_unlock(cn->lock);
    if (!cn->serials) {
        /* read here, once, not before the driver may start: a thousand
         * certificates take a moment to parse, and nothing waits on them */
        cn->serials = serials_in_service(&cn->conf, keep);
    }
    json_object_set(mine, "serials", cn->serials);
    json_object_set_new(mine, "role", json_string(sacme_role_str(v.role)));
    json_object_set_new(mine, "seen", json_string(sacme_time_rfc3339(p, apr_time_now())));
    if (reached && v.lease) {
        char *text = json_dumps(mine, JSON_COMPACT);
        if (text) {
            cn->c->kv->put(cn->c->kv_baton, apr_pstrcat(p, cn->prefix, "nodes/",
                                                        cn->conf.node, NULL),
                           text, v.lease, NULL);
            free(text);
        }
        if (cn->c->kv->list(cn->c->kv_baton, apr_pstrcat(p, cn->prefix, "nodes/", NULL),
                            p, &pairs, NULL) == APR_SUCCESS) {
            json_t *nodes = json_object();
            apr_size_t n = strlen(cn->prefix) + strlen("nodes/");
            for (i = 0; i < pairs->nelts; ++i) {
                const sacme_kv_pair_t *kv = &APR_ARRAY_IDX(pairs, i, sacme_kv_pair_t);
                json_t *one = json_loads(kv->value, 0, NULL);
                if (one && strlen(kv->key) > n) {
                    json_object_set_new(nodes, kv->key + n, one);
                }
                else {
                    json_decref(one);
                }
            }
            json_decref(*last_nodes);
            *last_nodes = nodes;
        }
        if (sacme_cluster_members(cn->c, p, &members, NULL) == APR_SUCCESS) {
            json_t *list = json_array();
            for (i = 0; i < members->nelts; ++i) {
                json_array_append_new(list, json_string(APR_ARRAY_IDX(members, i,
                                                                      const char *)));
            }
            json_decref(*last_members);
            *last_members = list;
        }
    }
    json_decref(mine);
    json_object_set_new(view, "name", json_string(cn->conf.name));
    json_object_set_new(view, "node", json_string(cn->conf.node));
    json_object_set_new(view, "role", json_string(cn->wrong_key ? "refused"
                                                  : sacme_role_str(v.role)));
    json_object_set_new(view, "leader", sacme_json_str_or_null(v.leader));
    json_object_set(view, "members", *last_members ? *last_members : json_array());
    json_object_set(view, "nodes", *last_nodes ? *last_nodes : json_object());
    json_object_set_new(view, "serials", json_deep_copy(cn->serials));
    json_object_set_new(view, "last_sync", synced ? json_string(sacme_time_rfc3339(p, synced))
                                                  : json_null());
    json_object_set_new(view, "unreachable_since",
                        since ? json_string(sacme_time_rfc3339(p, since)) : json_null());
    json_object_set_new(view, "updated", json_string(sacme_time_rfc3339(p,
                                                                        apr_time_now())));
    sacme_store_state_save(cn->conf.store, p, SACME_STATE_CLUSTER,
                           SACME_CLUSTER_ENTRY, view, NULL);
}

/* The lease of this node's previous driver, taken over (see
 * sacme_cluster_adopt): a driver ends at every activation, and the next
 * one, a second later, goes on as the same member (and leader) instead of
 * leaving and joining again, which would hand the leadership around and
 * leave the node out of the challenges in between. */
static void adopt_lease(sacme_cnode_t *cn, apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(cn->conf.store, p, SACME_STATE_CLUSTER_LEASE,
                                       SACME_CLUSTER_ENTRY, NULL);
    const char *node = j ? sacme_json_str(j, "node") : NULL;
    const char *id = j ? sacme_json_str(j, "lease") : NULL;
    apr_int64_t lease = id ? apr_atoi64(id) : 0;

    if (node && !strcmp(node, cn->conf.node) && lease > 0) {
        sacme_cluster_adopt(cn->c, lease, sacme_time_mono());
        cn->adopted = lease;
    }
}

/* Records the lease for the next driver when it changed. */
static void save_lease(sacme_cnode_t *cn, apr_int64_t *saved, apr_pool_t *p)
{
    json_t *j;

    if (!cn->c->lease || cn->c->lease == *saved) {
        return;
    }
    j = sacme_json_own(p, json_pack("{s:s,s:s}", "node", cn->conf.node, "lease",
                                    apr_psprintf(p, "%" APR_INT64_T_FMT, cn->c->lease)));
    if (j && sacme_store_state_save(cn->conf.store, p, SACME_STATE_CLUSTER_LEASE,
                                    SACME_CLUSTER_ENTRY, j, NULL) == APR_SUCCESS) {
        *saved = cn->c->lease;
    }
}

static void *APR_THREAD_FUNC ticker_main(apr_thread_t *thread, void *data)
{
    sacme_cnode_t *cn = data;
    json_t *nodes = NULL, *members = NULL;
    apr_time_t warned = 0, viewed = 0;
    sacme_role_t viewed_role = SACME_ROLE_NONE;
    int viewed_synced = 0, synced;
    apr_int64_t saved;
    const char *told_leader = NULL;
    apr_pool_t *tp, *ip;

    (void)thread;
    apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    cn->c = sacme_cluster_make(tp, &sacme_cluster_etcd_kv, cn->tick_etcd, cn->prefix,
                               cn->conf.node, cn->conf.ttl);
    adopt_lease(cn, tp);
    saved = cn->adopted;
    for (;;) {
        sacme_result_t *res;
        apr_time_t now = sacme_time_mono();
        apr_status_t rv = APR_SUCCESS;
        int leading, wrong;

        apr_pool_create(&ip, tp);
        res = sacme_result_make(ip);
        apr_thread_mutex_lock(cn->lock);
        wrong = cn->wrong_key;
        apr_thread_mutex_unlock(cn->lock);
        if (!wrong && !cn->key_checked) {
            rv = check_key(cn, ip, res);
        }
        if (rv == APR_SUCCESS && cn->key_checked) {
            rv = sacme_cluster_tick(cn->c, now, res);
        }
        if (!cn->wrong_key) {
            reachable(cn, rv, res, &warned, ip);
        }
        leading = sacme_cluster_leading(cn->c, sacme_time_mono());
        apr_thread_mutex_lock(cn->lock);
        cn->view = *cn->c;
        apr_thread_mutex_unlock(cn->lock);
        save_lease(cn, &saved, ip);
        if (!leading) {
            cn->taken = 0;
        }
        else if (!cn->driving && !cn->taken) {
            take_lead(cn, now, ip);
        }
        if (leading && !cn->driving && cn->taken && settled(cn, now, ip)) {
            apr_thread_mutex_lock(cn->lock);
            cn->driving = cn->drove = 1;
            apr_thread_mutex_unlock(cn->lock);
        }
        else if (cn->driving && rv == APR_SUCCESS
                 && apr_atomic_xchg32(&cn->lead_sync->unpushed, 0)) {
            /* etcd missed changes: this store is newer than the copy (not
             * taken again: it would undo them), all of it goes there */
            sacme_cnode_push_store(cn, ip);
        }
        else if (!leading && cn->c->leader && cn->c->role == SACME_ROLE_FOLLOWER
                 && (!told_leader || strcmp(told_leader, cn->c->leader))) {
            told_leader = cn->c->leader;
            sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10602)
                      "cluster %s: node %s leads; this node (%s) follows: it takes the "
                      "certificates and challenge answers from the cluster's copy",
                      cn->conf.name, cn->c->leader, cn->conf.node);
        }
        /* every few seconds, and at once when the role changed or the
         * first copy was taken (status right after a restart) */
        apr_thread_mutex_lock(cn->lock);
        synced = cn->synced != 0;
        apr_thread_mutex_unlock(cn->lock);
        if (now - viewed >= VIEW_EVERY || !viewed || cn->c->role != viewed_role
            || synced != viewed_synced) {
            viewed = now;
            viewed_role = cn->c->role;
            viewed_synced = synced;
            publish_view(cn, rv == APR_SUCCESS && cn->key_checked, &nodes, &members, tp,
                         ip);
        }
        apr_pool_destroy(ip);
        apr_sleep(TICK);
    }
    return NULL;
}

/* --- the follower ----------------------------------------------------------- */

static void *APR_THREAD_FUNC follower_main(apr_thread_t *thread, void *data)
{
    sacme_cnode_t *cn = data;
    apr_int64_t from = 0, revision;
    apr_pool_t *tp, *ip;
    int pulled = 0, applied, checked;

    (void)thread;
    apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    for (;;) {
        sacme_result_t *res;
        apr_status_t rv;

        /* Once a member (a lease to acknowledge answers with): not yet, or
         * never (another key) */
        apr_thread_mutex_lock(cn->lock);
        checked = cn->key_checked && cn->view.lease;
        apr_thread_mutex_unlock(cn->lock);
        if (!checked) {
            apr_sleep(apr_time_from_msec(100));
            continue;
        }
        apr_pool_create(&ip, tp);
        res = sacme_result_make(ip);
        if (!pulled) {
            rv = sacme_sync_pull(cn->follow_sync, cn->conf.store, ip, &revision, &applied,
                                 res);
            if (rv == APR_SUCCESS) {
                pulled = 1;
                from = revision + 1;
                apr_thread_mutex_lock(cn->lock);
                cn->synced = apr_time_now();
                apr_thread_mutex_unlock(cn->lock);
                sacme_log(cn->conf.log, SACME_LOG_INFO, 0, SACME_LOGNO(10607)
                          "cluster %s: took %d file(s) of the cluster's copy (revision %"
                          APR_INT64_T_FMT ")", cn->conf.name, applied, revision);
            }
        }
        else {
            apr_int64_t next = 0;
            rv = sacme_sync_follow(cn->follow_sync, cn->watch_etcd, cn->conf.store, from,
                                   WATCH_FOR, ip, &next, &applied, res);
            if (next > 0) {
                from = next;
            }
            else if (rv == SACME_ETCD_ECOMPACTED) {
                pulled = 0;             /* too far behind: the whole copy again */
            }
        }
        apr_pool_destroy(ip);
        if (rv != APR_SUCCESS) {
            apr_sleep(TICK);            /* the ticker says why */
        }
    }
    return NULL;
}

/* --- the driver's side -------------------------------------------------------- */

/* The store's changes while this node drives go to the copy; a node that
 * does not drive writes only what it took from the copy (muted) and its
 * own housekeeping, which is not the cluster's. */
static void mirror_changed(void *baton, const sacme_store_change_t *c)
{
    sacme_cnode_t *cn = baton;
    int driving;

    apr_thread_mutex_lock(cn->lock);
    driving = cn->driving;
    apr_thread_mutex_unlock(cn->lock);
    if (!driving) {
        return;
    }
    cn->lead_sync->mirror.changed(cn->lead_sync->mirror.baton, c);
    /* A new key starts a new order: the chain the copy keeps from the last
     * one (after every node activated it) no longer goes with the staged
     * key, and a node joining now must not take the two as a set. */
    if (c->data && !strcmp(c->part, SACME_GROUP_STAGING) && !strcmp(c->file, SACME_FILE_KEY)) {
        sacme_store_change_t chain = *c;
        chain.file = SACME_FILE_CHAIN;
        chain.data = NULL;
        chain.len = 0;
        chain.secret = 0;
        cn->lead_sync->mirror.changed(cn->lead_sync->mirror.baton, &chain);
    }
}


apr_status_t sacme_cnode_make(apr_pool_t *p, const sacme_cnode_conf_t *conf,
                              sacme_cnode_t **out, sacme_result_t *res)
{
    sacme_cnode_t *cn = apr_pcalloc(p, sizeof(*cn));
    sacme_etcd_t *lead_etcd;
    sacme_http_options_t opts;
    sacme_etcd_t **clients[] = { &cn->tick_etcd, &cn->follow_etcd, &cn->watch_etcd,
                                 &cn->ready_etcd, &cn->resign_etcd, &lead_etcd };
    apr_status_t rv;
    size_t i;

    cn->p = p;
    cn->conf = *conf;
    cn->prefix = apr_pstrcat(p, "/sacme/", conf->name, "/", NULL);
    memset(&opts, 0, sizeof(opts));
    if (conf->http) {
        opts = *conf->http;
    }
    /* http:// was accepted at the configuration check for loopback only */
    opts.allow_loopback_http = 1;
    /* One client per thread that talks to etcd: a client does one request
     * at a time, and the watch holds its own for minutes. */
    for (i = 0; i < SACME_ARRAY_LEN(clients); ++i) {
        if ((rv = sacme_etcd_make(p, conf->endpoints, &opts, conf->log, clients[i], res))
                != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = sacme_sync_make(p, lead_etcd, cn->prefix, conf->key, conf->log,
                              &cn->lead_sync, res)) != APR_SUCCESS
        || (rv = sacme_sync_make(p, cn->follow_etcd, cn->prefix, conf->key, conf->log,
                                 &cn->follow_sync, res)) != APR_SUCCESS) {
        return rv;
    }
    cn->lead_sync->accept = accept_lead;
    cn->lead_sync->baton = cn;
    cn->follow_sync->accept = accept_follow;
    cn->follow_sync->applied = applied_follow;
    cn->follow_sync->baton = cn;
    if ((rv = apr_thread_mutex_create(&cn->lock, APR_THREAD_MUTEX_DEFAULT, p))
            != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&cn->ready_lock, APR_THREAD_MUTEX_DEFAULT, p))
            != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot make the cluster's locks");
    }
    cn->forwarded = apr_hash_make(p);
    cn->mirror.baton = cn;
    cn->mirror.changed = mirror_changed;
    sacme_store_set_mirror(conf->store, &cn->mirror);
    *out = cn;
    return APR_SUCCESS;
}

apr_status_t sacme_cnode_start(sacme_cnode_t *cn, sacme_result_t *res)
{
    apr_thread_start_t mains[] = { ticker_main, follower_main };
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(mains); ++i) {
        apr_threadattr_t *attr;
        apr_thread_t *t;
        apr_status_t rv;

        apr_threadattr_create(&attr, cn->p);
        apr_threadattr_detach_set(attr, 1);
        if ((rv = apr_thread_create(&t, attr, mains[i], cn, cn->p)) != APR_SUCCESS) {
            return sacme_result_set(res, rv, "cannot start the cluster's threads");
        }
    }
    return APR_SUCCESS;
}

int sacme_cnode_may_drive(sacme_cnode_t *cn)
{
    int may;

    apr_thread_mutex_lock(cn->lock);
    may = cn->driving && sacme_cluster_leading(&cn->view, sacme_time_mono());
    apr_thread_mutex_unlock(cn->lock);
    return may;
}

int sacme_cnode_lost(sacme_cnode_t *cn)
{
    int lost;

    apr_thread_mutex_lock(cn->lock);
    lost = cn->drove && !sacme_cluster_leading(&cn->view, sacme_time_mono());
    apr_thread_mutex_unlock(cn->lock);
    return lost;
}

const char *sacme_cnode_staged(sacme_cnode_t *cn, apr_pool_t *p)
{
    const char *names = NULL;
    apr_time_t at;
    int i;

    apr_thread_mutex_lock(cn->lock);
    at = cn->staged_at;
    apr_thread_mutex_unlock(cn->lock);
    if (!at || sacme_time_mono() - at < SETTLE) {
        return NULL;
    }
    for (i = 0; cn->conf.domains && i < cn->conf.domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(cn->conf.domains, i, sacme_domain_t *);
        sacme_certset_t *set;

        if (!sacme_store_has_set(cn->conf.store, p, SACME_GROUP_STAGING, dom->name)
            || sacme_store_load_set(cn->conf.store, p, SACME_GROUP_STAGING, dom->name, &set,
                                    NULL) != APR_SUCCESS) {
            continue;
        }
        if (!sacme_key_same_public(set->key, X509_get0_pubkey(APR_ARRAY_IDX(
                                       set->chain->certs, 0, X509 *)))) {
            /* two halves of different sets (the copy changed between them):
             * the parent would refuse it at every restart, and this node
             * take it again each time; the leader's next set replaces it */
            sacme_log(cn->conf.log, SACME_LOG_WARNING, 0, SACME_LOGNO(10622)
                      "cluster %s: %s: the certificate from the leader does not go with "
                      "the key staged with it; it is dropped, and this node waits for "
                      "the leader's next one", cn->conf.name, dom->name);
            sacme_store_unstage(cn->conf.store, p, dom->name, SACME_UNSTAGE_CHAIN);
            continue;
        }
        names = names ? apr_pstrcat(p, names, ", ", dom->name, NULL) : dom->name;
    }
    if (!names) {
        /* nothing complete (dropped, or taken away again): not looked at
         * again until another certificate arrives */
        apr_thread_mutex_lock(cn->lock);
        if (cn->staged_at == at) {
            cn->staged_at = 0;
        }
        apr_thread_mutex_unlock(cn->lock);
    }
    return names;
}

typedef struct {
    sacme_cnode_t *cn;
    apr_pool_t *p;
    int failed;
} forward_t;

static apr_status_t forward_one(void *baton, const sacme_store_change_t *c)
{
    forward_t *f = baton;
    sacme_cnode_t *cn = f->cn;
    const char *before;
    sacme_result_t *res;

    if (strcmp(c->part, SACME_GROUP_REQUESTS)) {
        return APR_SUCCESS;
    }
    before = apr_hash_get(cn->forwarded, c->file, APR_HASH_KEY_STRING);
    if (before && strlen(before) == c->len && !memcmp(before, c->data, c->len)) {
        return APR_SUCCESS;             /* passed on already */
    }
    res = sacme_result_make(f->p);
    if (sacme_sync_push(cn->lead_sync, c, res) != APR_SUCCESS) {
        sacme_log(cn->conf.log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10615) "cluster %s: the request for %s (sacmectl) could not "
                  "be passed to the leader (%s); it is tried again in a few seconds",
                  cn->conf.name, c->name, sacme_result_message(res, f->p));
        f->failed = 1;
        return APR_SUCCESS;
    }
    apr_hash_set(cn->forwarded, apr_pstrdup(cn->p, c->file), APR_HASH_KEY_STRING,
                 apr_pstrmemdup(cn->p, c->data, c->len));
    sacme_log(cn->conf.log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10611)
              "cluster %s: the request for %s (sacmectl on this node) is passed to the "
              "leader", cn->conf.name, c->name);
    /* It is the leader's now (sacmectl show there says it is pending): a
     * copy left here would be passed on again by this node's next driver,
     * long after the leader was done with it. */
    sacme_store_apply(cn->conf.store, f->p, &(sacme_store_change_t){ c->part, c->name,
                      c->file, NULL, 0, 0 }, NULL);
    return APR_SUCCESS;
}

int sacme_cnode_forward_requests(sacme_cnode_t *cn, apr_pool_t *p)
{
    forward_t f = { cn, p, 0 };
    int driving, checked;

    apr_thread_mutex_lock(cn->lock);
    driving = cn->driving;
    checked = cn->key_checked;
    apr_thread_mutex_unlock(cn->lock);
    if (driving) {
        return 1;
    }
    if (!checked || sacme_store_each(cn->conf.store, p, forward_one, &f, NULL)
                        != APR_SUCCESS) {
        return 0;
    }
    return !f.failed;
}

/* One answer the other members must have. */
typedef struct {
    const char *name;
    const char *token;
} answer_t;

apr_status_t sacme_cnode_ready(void *baton, const apr_array_header_t *published,
                               apr_pool_t *p, sacme_result_t *res)
{
    sacme_cnode_t *cn = baton;
    apr_array_header_t *answers = apr_array_make(p, published->nelts, sizeof(answer_t));
    apr_array_header_t *members = NULL, *others;
    apr_time_t start = apr_time_now(), deadline = start + cn->conf.ttl;
    const char *missing = NULL;
    sacme_cluster_t v;
    int i, j;

    (void)res;
    for (i = 0; i < published->nelts; ++i) {
        const sacme_chal_pub_t *pub = APR_ARRAY_IDX(published, i, sacme_chal_pub_t *);
        answer_t *a;
        if (strcmp(pub->type, SACME_CHAL_HTTP01) && strcmp(pub->type, SACME_CHAL_TLSALPN01)) {
            continue;                   /* dns-01: not in the nodes' stores */
        }
        a = apr_array_push(answers);
        a->name = pub->name;
        a->token = strcmp(pub->type, SACME_CHAL_HTTP01) ? ALPN_ACK : pub->token;
    }
    if (!answers->nelts) {
        return APR_SUCCESS;
    }
    v = view_for(cn, cn->ready_etcd, p);
    for (;;) {
        /* the client is the workers' together; not held while waiting */
        apr_thread_mutex_lock(cn->ready_lock);
        missing = NULL;
        if (sacme_cluster_members(&v, p, &members, NULL) != APR_SUCCESS) {
            missing = "(etcd out of reach)";
        }
        else {
            others = apr_array_make(p, members->nelts, sizeof(const char *));
            for (j = 0; j < members->nelts; ++j) {
                const char *node = APR_ARRAY_IDX(members, j, const char *);
                if (strcmp(node, cn->conf.node)) {
                    APR_ARRAY_PUSH(others, const char *) = node;
                }
            }
            for (i = 0; i < answers->nelts && !missing; ++i) {
                const answer_t *a = &APR_ARRAY_IDX(answers, i, answer_t);
                missing = sacme_cluster_unacked(&v, others, a->name, a->token, p, NULL);
            }
        }
        apr_thread_mutex_unlock(cn->ready_lock);
        if (!missing || apr_time_now() >= deadline) {
            break;
        }
        apr_sleep(READY_STEP);
    }
    if (missing) {
        sacme_log(cn->conf.log, SACME_LOG_WARNING, 0, SACME_LOGNO(10609)
                  "cluster %s: the CA is told to validate %s although node(s) %s did not "
                  "confirm having the answer within %" APR_TIME_T_FMT " s: a validation "
                  "request that reaches such a node fails, and the order is tried again",
                  cn->conf.name, APR_ARRAY_IDX(answers, 0, answer_t).name, missing,
                  apr_time_sec(apr_time_now() - start));
    }
    else {
        sacme_log(cn->conf.log, SACME_LOG_INFO, 0, SACME_LOGNO(10610)
                  "cluster %s: every member has the answers for %s (%d challenge(s), "
                  "after %" APR_TIME_T_FMT " ms)", cn->conf.name,
                  APR_ARRAY_IDX(answers, 0, answer_t).name, answers->nelts,
                  apr_time_as_msec(apr_time_now() - start));
    }
    /* The acknowledgements served their purpose; a tls-alpn-01 one, named
     * by the identifier alone, must not count for the next challenge. */
    apr_thread_mutex_lock(cn->ready_lock);
    for (i = 0; i < answers->nelts; ++i) {
        const answer_t *a = &APR_ARRAY_IDX(answers, i, answer_t);
        sacme_cluster_ack_clear(&v, a->name, a->token, NULL);
    }
    apr_thread_mutex_unlock(cn->ready_lock);
    return APR_SUCCESS;
}

void sacme_cnode_push_store(sacme_cnode_t *cn, apr_pool_t *p)
{
    int driving;

    apr_thread_mutex_lock(cn->lock);
    driving = cn->driving;
    apr_thread_mutex_unlock(cn->lock);
    if (driving) {
        push_all(cn, p);
    }
}

void sacme_cnode_resign(sacme_cnode_t *cn)
{
    apr_pool_t *p;
    sacme_cluster_t v;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    v = view_for(cn, cn->resign_etcd, p);
    apr_thread_mutex_lock(cn->lock);
    cn->driving = 0;
    apr_thread_mutex_unlock(cn->lock);
    if (v.lease) {
        sacme_cluster_resign(&v);
    }
    apr_pool_destroy(p);
}
