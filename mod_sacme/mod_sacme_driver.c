/* The driving process.
 *
 * Why a dedicated child process instead of mod_watchdog's singleton thread
 * (what mod_md uses): it never serves requests, so load cannot starve it and
 * a crash in it (or in libcurl/OpenSSL below it) never takes a request down;
 * it exists once whatever the MPM; the parent supervises it like mod_cgid's
 * daemon and starts a fresh one at every restart, with the new config. See
 * docs/architecture.md.
 *
 * The process runs as SacmeDriverUser (else the httpd User), holds the EAB
 * HMAC key in memory (read by itself before it drops root; wiped once the
 * account is there), and writes only to the driver's parts of the store
 * (accounts, staging, challenges, requests). Every step of an order is
 * persisted, so it may be killed at any moment: SIGTERM is not caught. It
 * leaves with _exit(): exit() would run the parent's atexit handlers and
 * pool cleanups (scoreboard, pid file, our own) in the wrong process.
 */
#include "mod_sacme_private.h"
#include <grp.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_queue.h>
#include <apr_signal.h>
#include <apr_thread_mutex.h>
#include <apr_thread_rwlock.h>
#include <apr_thread_proc.h>
#include <apr_thread_proc.h>
#include <ap_listen.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>

#include <curl/curl.h>

#include "mod_sacme_driver.h"
#include "sacme_acct.h"
#include "sacme_cluster_node.h"
#include "sacme_drive_dns.h"
#include "sacme_queue.h"
#include "sacme_drive_ari.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_request.h"
#include "sacme_scm_check.h"

typedef struct {
    server_rec *s;
    apr_pool_t *pconf;
    sacme_conf_t *conf;
    apr_array_header_t *installed;
    apr_proc_t proc;
    int running;
    int registered;                  /* known to APR's other-child list */
    apr_time_t started;              /* when the current process was forked */
    apr_time_t restart_at;           /* a delayed restart, or 0 */
    apr_interval_time_t restart_delay;
} driver_t;

/* The driver of this generation, for the parent's monitor hook. */
static driver_t *current;

/* A driver that dies right after starting (an unreadable file, a broken
 * setup) is restarted with a growing delay, not in a tight loop. */
#define QUICK_DEATH     apr_time_from_sec(10)
#define MIN_RESTART     apr_time_from_sec(10)
#define MAX_RESTART     apr_time_from_sec(600)

/* The exit status of a driver that staged a set (SacmeAutoRestart on): the
 * parent restarts gracefully at once to activate it, rather than at its
 * next monitor round, up to ten seconds later. Above every signal number
 * (a death by signal reaches driver_maint as the signal's number) and none
 * of httpd's own APEXIT_ codes, which its MPM would act on. */
#define STAGED_EXIT     83

/* The exit status of a driver that led a cluster and may no longer (its
 * lease could run out): restarted at once, it joins again as a follower. */
#define CLUSTER_EXIT    84

/* A follower that could not pass sacmectl's request on tries again after. */
#define FORWARD_RETRY   apr_time_from_sec(2)

/* This driver's node of the cluster (SacmeCluster), or NULL; made in the
 * driving process before it drops root. */
static sacme_cnode_t *cluster;
/* SacmeSCM: asked when the CA refuses names, or NULL. */
static sacme_scm_check_t *scm_check;

static void log_to_httpd(void *baton, sacme_log_level_t level, apr_status_t rv,
                         const char *msg)
{
    server_rec *s = baton;
    ap_log_error(APLOG_MARK, (int)level, rv, s, "%s", msg);
}

/* Domains are driven concurrently by a few worker threads, each with its
 * own CA client (connection, nonce): an order that sits in "processing" for
 * an hour, or a CA that is slow for one name, holds one worker, not every
 * domain. The main thread decides what is due and hands it out; a domain is
 * never driven by two workers at once. */
typedef struct {
    sacme_domain_t *dom;
    int busy;                        /* queued or being driven */
    apr_time_t next;                 /* when to look at it again */
    int told_deactivated;            /* account-deactivated raised (once a run) */
} slot_t;

typedef struct {
    driver_t *drv;
    sacme_driver_t *d;
    apr_queue_t *queue;              /* slot_t * to drive */
    apr_thread_mutex_t *lock;        /* guards the slots' busy/next */
    pid_t parent;                    /* the httpd parent, at the start */
    sacme_http_options_t hopts;
} pool_t;

/* A deactivated account fails every attempt of every domain, each logged
 * with what to do; the account-deactivated event is raised once per domain
 * and driver run, not at every retry. */
static void tell_deactivated(pool_t *wp, slot_t *slot, const sacme_result_t *res,
                             apr_pool_t *p)
{
    sacme_driver_t *d = wp->d;
    sacme_ca_t *ca = sacme_drive_ca(d, slot->dom, p);
    sacme_sdir_t *dir;

    if (slot->told_deactivated || !ca
        || sacme_store_account_open(d->store, p, ca->url,
                                    ca->eab ? ca->eab->kid : NULL, 0, &dir,
                                    NULL) != APR_SUCCESS
        || !sacme_acct_is_deactivated(dir, p)) {
        return;
    }
    slot->told_deactivated = 1;
    sacme_drive_notify(d, slot->dom, "account-deactivated", sacme_result_message(res, p));
}

/* sacmectl changed the account (rollover, deactivation): drop the copy every
 * client uses (sacme_driver_t.account_url), so the next request to the CA
 * reads the account from the store again; then the request is done. */
static void take_account_request(driver_t *drv, sacme_driver_t *d, apr_pool_t *p)
{
    json_t *req = sacme_request_get(d->store, p, SACME_REQUEST_ACCOUNT);

    if (!req) {
        return;
    }
    sacme_drive_forget_accounts(d);
    if (cluster) {
        /* sacmectl wrote the account here, not through the driver: the
         * other nodes get it through the cluster's copy */
        sacme_cnode_push_store(cluster, p);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s, SACME_LOGNO(10076)
                 "the ACME account was changed (%s, by sacmectl): it is read from the "
                 "store again at the next request to the CA",
                 sacme_json_str(req, "reason") ? sacme_json_str(req, "reason") : "?");
    sacme_request_done(d->store, p, SACME_REQUEST_ACCOUNT);
}

/* Whether the ARI check request (its "domains", absent: all) names dom:
 * by its primary name, or any of its names; a further key type's unit goes
 * with its domain. */
static int ari_request_names(const json_t *req, const sacme_domain_t *dom)
{
    const json_t *names = json_object_get(req, "domains");
    const sacme_domain_t *primary = dom->primary ? dom->primary : dom;
    size_t i;
    int j;

    if (!json_is_array(names)) {
        return 1;
    }
    for (i = 0; i < json_array_size(names); ++i) {
        const char *want = json_string_value(json_array_get(names, i));
        for (j = 0; want && j < primary->names->nelts; ++j) {
            if (!strcasecmp(want, APR_ARRAY_IDX(primary->names, j, const char *))) {
                return 1;
            }
        }
    }
    return 0;
}

/* sacmectl ari check: the certificates it names are due for a poll of the
 * CA's renewal information now; the slots are looked at right away (the
 * caller resets them), and the poll's answer is acted on as any other. */
static void take_ari_request(driver_t *drv, sacme_driver_t *d, slot_t *slots, int n,
                             apr_pool_t *p)
{
    json_t *req = sacme_request_get(d->store, p, SACME_REQUEST_ARI);
    int i, count = 0;

    if (!req) {
        return;
    }
    for (i = 0; i < n; ++i) {
        if (ari_request_names(req, slots[i].dom)) {
            sacme_drive_ari_due_now(d, slots[i].dom, p);
            ++count;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s, SACME_LOGNO(10407)
                 "the CA's renewal information (ARI) of %d certificate(s) is asked "
                 "now (sacmectl ari check); the SACME10400 and SACME10402 lines tell "
                 "what it says", count);
    sacme_request_done(d->store, p, SACME_REQUEST_ARI);
}

/* A worker staged a set and SacmeAutoRestart is on: this driver ends with
 * STAGED_EXIT, right from that worker, and the parent reaps it within a
 * second and answers with the graceful restart that activates the set
 * (and starts the next driver). A parent gone meanwhile gets nothing.
 * What it leaves is what a restart always leaves: the orders of the other
 * workers are persisted at every step and resumed by the next driver from
 * their stored URLs; the webhook's events wait in its spool. The notify
 * commands it started ("renewed") are waited for, up to their timeout:
 * their output comes through this process. */
static void exit_staged(driver_t *drv, sacme_driver_t *d, pid_t parent)
{
    /* Never between a chain staged and its order forgotten (d->commit),
     * nor before the "renewed" of a set staged meanwhile is raised: held
     * until the end, so no run starts such a pair again. */
    apr_thread_rwlock_wrlock(d->commit);
    /* then the commands started so far, those events' among them */
    if (d->hooks) {
        apr_thread_mutex_lock(d->lock);
        sacme_hooks_drain(d->hooks);
        apr_thread_mutex_unlock(d->lock);
    }
    /* In a cluster, its lease stays: the next driver, a second from now,
     * takes it over and goes on as the same member (and leader). */
    if (getppid() != parent) {
        _exit(0);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, drv->s, SACME_LOGNO(10234)
                 "driver: certificate(s) staged; exiting so that httpd activates "
                 "them now");
    _exit(STAGED_EXIT);
}

static void *APR_THREAD_FUNC worker_main(apr_thread_t *thread, void *data)
{
    pool_t *wp = data;
    apr_pool_t *tp;
    sacme_result_t *res;
    sacme_http_t *http;
    sacme_clients_t *clients;
    void *item;

    /* An unmanaged pool: nothing shared with other threads' pools. */
    apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    res = sacme_result_make(tp);
    if (sacme_http_curl_create(tp, &wp->hopts, &http, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR,
                     sacme_result_log_status(res), wp->drv->s, SACME_LOGNO(10031)
                     "cannot set up a client for the CA: %s",
                     sacme_result_message(res, tp));
        _exit(1);
    }
    /* one connection (and nonce) per CA this thread talks to */
    clients = sacme_clients_make(tp, http, wp->d->log);
    while (sacme_queue_pop(wp->queue, &item) == APR_SUCCESS) {
        slot_t *slot = item;
        apr_pool_t *iter;
        apr_time_t when;
        sacme_why_t why;

        apr_pool_create(&iter, tp);
        why = sacme_drive_check(wp->d, slot->dom, apr_time_now(), &when, iter);
        if (why == SACME_WHY_ARI) {
            /* The CA's answer may make the certificate due right now. */
            sacme_drive_ari_poll(wp->d, clients, slot->dom, iter);
            why = sacme_drive_check(wp->d, slot->dom, apr_time_now(), &when, iter);
        }
        if (why >= SACME_WHY_NO_CERT && why != SACME_WHY_ARI) {
            sacme_result_t *outcome = sacme_result_make(iter);
            if (sacme_drive_run_with(wp->d, clients, slot->dom, why, iter, outcome)
                    != APR_SUCCESS) {
                tell_deactivated(wp, slot, outcome, iter);
            }
            else if (wp->drv->conf->auto_restart) {
                /* Staged, every file of it written: straight from here,
                 * not at the main loop's next pass. */
                exit_staged(wp->drv, wp->d, wp->parent);
            }
            /* Also after a success: the certificate in service keeps
             * ageing until the new one is activated (expiry alerts). */
            sacme_drive_check(wp->d, slot->dom, apr_time_now(), &when, iter);
        }
        apr_pool_destroy(iter);
        apr_thread_mutex_lock(wp->lock);
        slot->next = when;
        slot->busy = 0;
        apr_thread_mutex_unlock(wp->lock);
    }
    return NULL;
}

/* Whether name is one of the names of a domain with an order recorded in
 * staging/: the answers for it may be what the CA is fetching right now,
 * while the order waits for its validation (the driver that published
 * them gave its worker back, then was replaced). The order publishes them
 * again when it is resumed, but that may be minutes away (its next
 * attempt, a Retry-After): a validation finding nothing fails the order. */
typedef struct {
    const sacme_conf_t *conf;
    apr_pool_t *p;
} keep_ctx_t;

static int order_may_need(void *baton, const char *name)
{
    keep_ctx_t *k = baton;
    int i, j;

    for (i = 0; i < k->conf->domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(k->conf->domains, i, sacme_domain_t *);
        for (j = 0; j < dom->names->nelts; ++j) {
            if (!strcasecmp(name, APR_ARRAY_IDX(dom->names, j, const char *))
                && sacme_store_state_load(k->conf->store, k->p, SACME_STATE_ORDER,
                                          dom->name, NULL)) {
                return 1;
            }
        }
    }
    return 0;
}

/* What a driver killed in the middle of its work left behind: temporary
 * files of interrupted writes (one may hold a key) and the challenge
 * answers of orders that were abandoned since. Now, before any worker
 * runs, none of it is in use (sacme_store_sweep_except), but the answers
 * of an order in progress may still be (order_may_need). */
static void sweep_store(driver_t *drv, const sacme_store_t *store, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_store_swept_t swept;
    keep_ctx_t keep;
    apr_pool_t *sp;

    apr_pool_create(&sp, p);
    keep.conf = drv->conf;
    keep.p = sp;
    if (sacme_store_sweep_except(store, sp, order_may_need, &keep, &swept, res)
            != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, res->status, drv->s, SACME_LOGNO(10202)
                     "driver: could not remove everything left over in the store: "
                     "%s", sacme_result_message(res, sp));
    }
    if (swept.temporaries || swept.challenges) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s, SACME_LOGNO(10201)
                     "driver: removed %d temporary file(s) of interrupted writes and "
                     "%d stale challenge answer(s) from the store", swept.temporaries,
                     swept.challenges);
    }
    apr_pool_destroy(sp);
}

/* The CAs for the log: each URL once, with its EAB key id where a URL has
 * several accounts. */
static const char *ca_list(const sacme_conf_t *conf, apr_pool_t *p)
{
    const char *out = NULL;
    int i;

    for (i = 0; i < conf->cas->nelts; ++i) {
        const sacme_ca_t *ca = APR_ARRAY_IDX(conf->cas, i, sacme_ca_t *);
        const char *one = ca->eab ? apr_psprintf(p, "%s (EAB key id %s)", ca->url,
                                                 ca->eab->kid) : ca->url;
        out = out ? apr_pstrcat(p, out, ", ", one, NULL) : one;
    }
    return out ? out : "no CA (certificates from files only)";
}

/* A sender for SacmeNotifyURL url, with its spool (spool_id NULL: the
 * server-wide one's); NULL without a URL or when it cannot be set up. A
 * sender thread with a queue: the webhook never holds a renewal. */
static sacme_webhook_t *webhook_for(driver_t *drv, sacme_driver_t *d,
                                    const sacme_http_options_t *hopts, const char *url,
                                    const char *spool_id, apr_pool_t *p)
{
    sacme_result_t *wres = sacme_result_make(p);
    sacme_webhook_t *webhook = NULL;
    sacme_sdir_t *spool = NULL;

    if (!url) {
        return NULL;
    }
    if (sacme_store_spool_open(d->store, p, spool_id, &spool, wres) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, sacme_result_log_status(wres), drv->s,
                     SACME_LOGNO(10116) "SacmeNotifyURL: no spool for events (%s): "
                     "events not yet sent are lost at a restart",
                     sacme_result_message(wres, p));
        spool = NULL;
        sacme_result_reset(wres);
    }
    if (sacme_webhook_create(p, url, hopts, spool, d->log, &webhook, wres) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(wres), drv->s,
                     SACME_LOGNO(10099) "SacmeNotifyURL: cannot set up the webhook, "
                     "events are not sent there: %s", sacme_result_message(wres, p));
        return NULL;
    }
    return webhook;
}

/* The sender of each domain with a SacmeNotifyURL: the driver's for the
 * server-wide URL, and one per URL of the sets, however many domains name
 * it, each with a spool of its own. One that cannot be set up leaves its
 * domains' dom->webhook NULL: their events go nowhere, never to another
 * domain's receiver. */
static void webhooks_of_sets(driver_t *drv, sacme_driver_t *d,
                             const sacme_http_options_t *hopts, apr_pool_t *p)
{
    const sacme_conf_t *conf = drv->conf;
    apr_hash_t *by_url = apr_hash_make(p);
    int i;

    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        sacme_webhook_t *webhook;

        if (!dom->notify_url) {
            continue;
        }
        if (conf->dflt.notify_url && !strcmp(dom->notify_url, conf->dflt.notify_url)) {
            dom->webhook = d->webhook;
            continue;
        }
        webhook = apr_hash_get(by_url, dom->notify_url, APR_HASH_KEY_STRING);
        if (!webhook) {
            webhook = webhook_for(drv, d, hopts, dom->notify_url, dom->notify_url, p);
            if (!webhook) {
                continue;       /* logged */
            }
            apr_hash_set(by_url, dom->notify_url, APR_HASH_KEY_STRING, webhook);
        }
        dom->webhook = webhook;
    }
}

/* The loop of the driving process; never returns. */
static void driver_main(driver_t *drv, apr_pool_t *p, const sacme_http_options_t *hopts,
                        const sacme_trust_t *trust)
{
    sacme_conf_t *conf = drv->conf;
    sacme_log_t *log = apr_pcalloc(p, sizeof(*log));
    sacme_driver_t *d = apr_pcalloc(p, sizeof(*d));
    pool_t *wp = apr_pcalloc(p, sizeof(*wp));
    slot_t *slots;
    apr_pool_t *mainp;
    pid_t parent = getppid();
    apr_time_t stamp, req_stamp, forward_at = 0;
    int i, n = conf->domains->nelts, was_driving = 0;

    log->fn = log_to_httpd;
    log->baton = drv->s;
    log->max = SACME_LOG_TRACE;
    d->p = p;
    d->store = conf->store;
    /* Every domain names its CAs; this one is only a default that none
     * ordered needs (sacme_drive_ca). */
    d->cas = conf->cas;
    d->ca = conf->cas->nelts ? APR_ARRAY_IDX(conf->cas, 0, sacme_ca_t *) : NULL;
    d->trust = trust;
    d->log = log;
    d->retry_delay = conf->retry_delay;
    d->retry_max = apr_time_from_sec(24 * 3600);
    d->check_interval = conf->check_interval;
    d->retry_after_min = conf->retry_after_min;
    d->retry_after_max = conf->retry_after_max;
    d->release_after = apr_time_from_sec(1);
    for (i = 0; i < n && !d->hooks; ++i) {
        /* a <SacmeDomainSet> may have a command where the default has none */
        if (APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *)->notify_cmd) {
            d->hooks = sacme_hooks_make(p, log, 0);
        }
    }
    d->notify_cmd = conf->dflt.notify_cmd;
    d->warn = &conf->dflt.warn;
    d->webhook = webhook_for(drv, d, hopts, conf->dflt.notify_url, NULL, p);
    webhooks_of_sets(drv, d, hopts, p);
    wp->drv = drv;
    wp->d = d;
    wp->parent = parent;
    wp->hopts = *hopts;
    if (apr_thread_mutex_create(&d->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS
        || apr_thread_mutex_create(&d->unsaved_lock, APR_THREAD_MUTEX_DEFAULT, p)
               != APR_SUCCESS
        || apr_thread_mutex_create(&wp->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS
        || apr_thread_rwlock_create(&d->commit, p) != APR_SUCCESS
        || apr_queue_create(&wp->queue, (unsigned int)n + 1, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, drv->s, SACME_LOGNO(10039)
                     "driver: cannot set up its threads");
        _exit(1);
    }
    if (cluster) {
        d->cluster_ready = sacme_cnode_ready;
        d->cluster_baton = cluster;
    }
    if (scm_check) {
        d->refusal_check = sacme_scm_check_refusal;
        d->refusal_baton = scm_check;
    }
    sweep_store(drv, d->store, p);
    if (!cluster) {
        /* a cluster's view left by an earlier configuration: status must
         * not show a cluster this server is no longer in */
        sacme_store_state_remove(d->store, p, SACME_STATE_CLUSTER, SACME_CLUSTER_ENTRY,
                                 NULL);
    }
    /* dns-01 records a killed driver left in DNS (dns.json): before any
     * worker sets up new ones */
    sacme_drive_dns_cleanup(d, conf->domains, p);
    slots = apr_pcalloc(p, sizeof(*slots) * (apr_size_t)n);
    for (i = 0; i < n; ++i) {
        slots[i].dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
    }
    for (i = 0; i < conf->max_parallel && i < n; ++i) {
        apr_thread_t *t;
        apr_threadattr_t *attr;
        apr_threadattr_create(&attr, p);
        apr_threadattr_detach_set(attr, 1);
        if (apr_thread_create(&t, attr, worker_main, wp, p) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, drv->s, SACME_LOGNO(10042)
                         "driver: cannot start worker thread %d", i + 1);
            _exit(1);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s, SACME_LOGNO(10020)
                 "driver started (pid %" APR_PID_T_FMT ") for %d domain(s) at %s, "
                 "up to %d at a time", getpid(), n, ca_list(conf, p),
                 conf->max_parallel < n ? conf->max_parallel : n);
    for (i = 0; drv->installed && i < drv->installed->nelts; ++i) {
        sacme_drive_notify(d, APR_ARRAY_IDX(drv->installed, i, sacme_domain_t *),
                           "installed", NULL);
    }
    if (cluster) {
        sacme_result_t *cres = sacme_result_make(p);
        if (sacme_cnode_start(cluster, cres) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(cres), drv->s,
                         SACME_LOGNO(10616) "driver: %s", sacme_result_message(cres, p));
            _exit(1);
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, drv->s, SACME_LOGNO(10600)
                     "cluster %s: node %s joins through etcd (%s); only the node that "
                     "leads drives the certificates", conf->cluster_name,
                     conf->cluster_node, apr_array_pstrcat(p, conf->cluster_urls, ' '));
    }

    /* Every 200 ms: hand out what is due, reap notify commands, notice a
     * parent that went away. Deciding reads only the store. The main thread
     * has a pool of its own: p (d->p) is shared with the workers. */
    apr_pool_create_unmanaged_ex(&mainp, NULL, NULL);
    req_stamp = -1;                  /* the first pass looks at the requests */
    for (;;) {
        apr_time_t now = apr_time_now();
        apr_pool_t *iter;
        const char *from_leader;
        int driving = 1;

        if (getppid() != parent) {
            _exit(0);
        }
        apr_pool_create(&iter, mainp);
        if (cluster) {
            /* Stop before the lease can run out at etcd and another node
             * take over: never two nodes talking to the CA for the cluster. */
            if (sacme_cnode_lost(cluster)) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s, SACME_LOGNO(10605)
                             "cluster %s: this node can no longer be sure that it leads "
                             "(etcd did not renew its lease in time): the driver stops "
                             "now and starts again as a follower; orders in progress "
                             "are resumed by the next leader", conf->cluster_name);
                _exit(CLUSTER_EXIT);
            }
            driving = sacme_cnode_may_drive(cluster);
            if (driving && !was_driving) {
                req_stamp = -1;      /* requests taken while it followed */
            }
            was_driving = driving;
            /* A set from the leader: activated at once, as one staged here
             * (also by a node that has led since it took the set). */
            if (conf->auto_restart
                && (from_leader = sacme_cnode_staged(cluster, iter)) != NULL) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, drv->s, SACME_LOGNO(10617)
                             "cluster %s: the certificate(s) of %s came from the leader",
                             conf->cluster_name, from_leader);
                exit_staged(drv, d, parent);
            }
        }
        /* A new (or finished) admin request: look at every idle domain now
         * rather than at its next check, which may be hours away. */
        stamp = sacme_request_stamp(d->store, iter);
        if (stamp != req_stamp && !driving && now >= forward_at) {
            /* sacmectl on a follower: the leader is to act on it (once this
             * node has joined; again a little later when etcd failed) */
            if (sacme_cnode_forward_requests(cluster, iter)) {
                req_stamp = stamp;
            }
            else {
                forward_at = now + FORWARD_RETRY;
            }
        }
        if (stamp != req_stamp && driving) {
            req_stamp = stamp;
            take_account_request(drv, d, iter);
            take_ari_request(drv, d, slots, n, iter);
            apr_thread_mutex_lock(wp->lock);
            for (i = 0; i < n; ++i) {
                if (!slots[i].busy) {
                    slots[i].next = now;
                }
            }
            apr_thread_mutex_unlock(wp->lock);
        }
        for (i = 0; i < n && driving; ++i) {
            slot_t *slot = &slots[i];
            int due;

            apr_thread_mutex_lock(wp->lock);
            due = !slot->busy && slot->next <= now;
            if (due) {
                slot->busy = 1;
            }
            apr_thread_mutex_unlock(wp->lock);
            if (due) {
                apr_time_t when;
                if (sacme_drive_check(d, slot->dom, now, &when, iter) >= SACME_WHY_NO_CERT) {
                    apr_queue_push(wp->queue, slot);
                }
                else {
                    apr_thread_mutex_lock(wp->lock);
                    slot->next = when;
                    slot->busy = 0;
                    apr_thread_mutex_unlock(wp->lock);
                }
            }
        }
        apr_pool_destroy(iter);
        if (d->hooks) {
            apr_thread_mutex_lock(d->lock);
            sacme_hooks_poll(d->hooks);
            apr_thread_mutex_unlock(d->lock);
        }
        /* Short steps: a domain a worker released for a few seconds is
         * handed out again close to its time. The pass is cheap: memory,
         * and the store only for domains whose time has come. */
        apr_sleep(apr_time_from_msec(200));
    }
}

static apr_status_t fork_driver(driver_t *drv);

/* The EAB of this driver, its own copy. SacmeEAB file: is read here, by the
 * process that needs the key, while it is still root (the file may be
 * root's only): the parent's configuration holds only the key id and the
 * path, so request children never see the key. The inline form's key is in
 * the configuration anyway; it is copied. Either copy is wiped once the
 * account is there (sacme_drive.c). A file that is gone or broken now
 * stops this driver: the parent restarts it with a growing delay, and the
 * log says what to do. */
static sacme_eab_t *driver_eab(driver_t *drv, const sacme_eab_t *conf_eab, apr_pool_t *p)
{
    sacme_result_t *res;
    sacme_eab_t *eab;

    if (!conf_eab || !conf_eab->file) {
        return sacme_eab_copy(p, conf_eab);
    }
    res = sacme_result_make(p);
    if (sacme_eab_read_file(p, conf_eab->file, &eab, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR,
                     sacme_result_log_status(res), drv->s, SACME_LOGNO(10140)
                     "SacmeEAB: the driver cannot read its EAB key, so it does not "
                     "drive: %s. Restore %s ({\"kid\": ..., \"hmac\": ...}, mode "
                     "0600, owned by root), then run 'apachectl -t' and "
                     "'apachectl graceful'", sacme_result_message(res, p),
                     conf_eab->file);
        _exit(1);
    }
    /* The account directory and the parent's view were made with the key id
     * read at configuration time: another one now would mix two accounts. */
    if (strcmp(eab->kid, conf_eab->kid)) {
        sacme_eab_wipe(eab);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, drv->s, SACME_LOGNO(10141)
                     "SacmeEAB: %s now holds key id %s, but httpd was configured "
                     "with key id %s; the driver does not drive. Run "
                     "'apachectl graceful' to use the new credentials",
                     conf_eab->file, eab->kid, conf_eab->kid);
        _exit(1);
    }
    return eab;
}

/* Each CA's EAB, in this process's memory only (the configuration is the
 * parent's, copied at the fork: the parent and the request children keep
 * what they had, the key id and the file). */
static void driver_eabs(driver_t *drv, apr_pool_t *p)
{
    int i;

    for (i = 0; i < drv->conf->cas->nelts; ++i) {
        sacme_ca_t *ca = APR_ARRAY_IDX(drv->conf->cas, i, sacme_ca_t *);
        ca->eab = driver_eab(drv, ca->eab, p);
    }
}

/* The parent learns of the driver's death from the MPM's reaping: start a
 * new one, unless httpd itself is going down. */
static void driver_maint(int reason, void *data, int status)
{
    driver_t *drv = data;
    int state = AP_MPMQ_RUNNING;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        drv->running = 0;
        if (drv->registered) {
            drv->registered = 0;
            apr_proc_other_child_unregister(drv);
        }
        ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
        if (state == AP_MPMQ_STOPPING) {
            break;
        }
        if (reason == APR_OC_REASON_DEATH && status == CLUSTER_EXIT) {
            drv->restart_delay = 0;     /* said why (SACME10605) */
            fork_driver(drv);
            break;
        }
        if (reason == APR_OC_REASON_DEATH && status == STAGED_EXIT) {
            /* Its work done, not a crash: no backoff. The restart starts
             * the next driver; without one (every staged set is held back
             * after a failed activation), it is started here. */
            drv->restart_delay = 0;
            if (!sacme_restart_for_staged(drv->s, drv->pconf, 1)) {
                fork_driver(drv);
            }
            break;
        }
        if (apr_time_now() - drv->started < QUICK_DEATH) {
            drv->restart_delay = drv->restart_delay ? drv->restart_delay * 2 : MIN_RESTART;
            if (drv->restart_delay > MAX_RESTART) {
                drv->restart_delay = MAX_RESTART;
            }
            drv->restart_at = apr_time_now() + drv->restart_delay;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s, SACME_LOGNO(10038)
                         "driver process %" APR_PID_T_FMT " died right after "
                         "starting (status %d); restarting it in %" APR_TIME_T_FMT
                         " s", drv->proc.pid, status,
                         apr_time_sec(drv->restart_delay));
            break;
        }
        drv->restart_delay = 0;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, drv->s, SACME_LOGNO(10029)
                     "driver process %" APR_PID_T_FMT " died (status %d); "
                     "restarting it", drv->proc.pid, status);
        fork_driver(drv);
        break;
    case APR_OC_REASON_UNREGISTER:
        /* APR's own pool cleanup may unregister us first: unregistering
         * twice would crash the parent. */
        drv->registered = 0;
        break;
    case APR_OC_REASON_RESTART:
    case APR_OC_REASON_UNWRITABLE:
    default:
        break;
    }
}

/* At restart or stop the configuration pool goes, and the driver with it:
 * the next generation starts its own with the new configuration. */
static apr_status_t driver_cleanup(void *data)
{
    driver_t *drv = data;
    int i;

    if (current == drv) {
        current = NULL;
    }
    if (!drv->running) {
        return APR_SUCCESS;
    }
    drv->running = 0;
    if (drv->registered) {
        drv->registered = 0;
        apr_proc_other_child_unregister(drv);
    }
    /* A restart (not a stop) lets a cluster node's driver leave its lease
     * to the next one (cluster_stopper); without a cluster both end it. */
    kill(drv->proc.pid, drv->conf->cluster_urls
                        && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_EXITING
                        ? SIGINT : SIGTERM);
    for (i = 0; i < 30; ++i) {
        apr_exit_why_e why;
        int code;
        if (apr_proc_wait(&drv->proc, &code, &why, APR_NOWAIT) != APR_CHILD_NOTDONE) {
            return APR_SUCCESS;
        }
        apr_sleep(apr_time_from_msec(100));
    }
    kill(drv->proc.pid, SIGKILL);
    apr_proc_wait(&drv->proc, NULL, NULL, APR_WAIT);
    return APR_SUCCESS;
}

/* The driver becomes SacmeDriverUser, or the httpd User like a request
 * child. Its supplementary groups go too: root's groups would open doors
 * the account does not have. */
static apr_status_t drop_privileges(driver_t *drv, apr_pool_t *p)
{
    const sacme_conf_t *conf = drv->conf;

    if (!conf->driver_user || geteuid() != 0) {
        if (ap_run_drop_privileges(p, drv->s)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, drv->s, SACME_LOGNO(10032)
                         "driver: cannot drop privileges; not driving");
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
    if (initgroups(conf->driver_user, conf->driver_gid) != 0
        || setgid(conf->driver_gid) != 0 || setuid(conf->driver_uid) != 0
        || getuid() != conf->driver_uid || geteuid() != conf->driver_uid
        || setuid(0) == 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), drv->s,
                     SACME_LOGNO(10113) "driver: cannot become SacmeDriverUser %s "
                     "(uid %ld); not driving", conf->driver_user, (long)conf->driver_uid);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* A clustered driver told to stop: SIGTERM (httpd stops) gives its lease
 * up first, so another node leads at once instead of after the lease;
 * SIGINT (a restart: the next driver follows at once) leaves it to the
 * next driver (sacme_cluster_adopt). The signals are blocked in every
 * thread and taken here. */
static void *APR_THREAD_FUNC cluster_stopper(apr_thread_t *thread, void *data)
{
    sigset_t set;
    int sig = 0;

    (void)thread;
    (void)data;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (sigwait(&set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT)) {
        ;
    }
    if (sig == SIGTERM) {
        sacme_cnode_resign(cluster);
    }
    _exit(0);
    return NULL;
}

/* The cluster node of this driver, made while it is still root: the key
 * file and the client certificate for etcd are root's. Exits when it
 * cannot: the parent restarts it with a growing delay. */
static void driver_cluster(driver_t *drv, apr_pool_t *p)
{
    sacme_log_t *log = apr_pcalloc(p, sizeof(*log));
    const sacme_conf_t *conf = drv->conf;
    sacme_result_t *res = sacme_result_make(p);
    sacme_http_options_t *hopts = apr_pcalloc(p, sizeof(*hopts));
    sacme_cnode_conf_t cc;
    sacme_seal_key_t *key;
    apr_threadattr_t *attr;
    apr_thread_t *t;
    sigset_t set;

    log->fn = log_to_httpd;
    log->baton = drv->s;
    log->max = SACME_LOG_TRACE;
    if (sacme_seal_key_read(p, conf->cluster_key_path, 0, &key, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), drv->s,
                     SACME_LOGNO(10618) "SacmeClusterKey: the driver cannot read the "
                     "cluster key, so this node does not join the cluster: %s",
                     sacme_result_message(res, p));
        _exit(1);
    }
    hopts->ca_file = conf->cluster_ca;
    hopts->client_cert_file = conf->cluster_cert;
    hopts->client_key_file = conf->cluster_key_file_tls;
    memset(&cc, 0, sizeof(cc));
    cc.endpoints = conf->cluster_urls;
    cc.http = hopts;
    cc.name = conf->cluster_name;
    cc.node = conf->cluster_node;
    cc.ttl = conf->cluster_lease;
    cc.key = key;
    cc.log = log;
    cc.store = conf->store;
    cc.domains = conf->domains;
    if (sacme_cnode_make(p, &cc, &cluster, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), drv->s,
                     SACME_LOGNO(10619) "SacmeCluster: the driver cannot set up its etcd "
                     "clients (SacmeClusterTLS files?), so this node does not join the "
                     "cluster: %s", sacme_result_message(res, p));
        _exit(1);
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    apr_threadattr_create(&attr, p);
    apr_threadattr_detach_set(attr, 1);
    if (apr_thread_create(&t, attr, cluster_stopper, NULL, p) != APR_SUCCESS) {
        _exit(1);
    }
}

static apr_status_t fork_driver(driver_t *drv)
{
    apr_status_t rv;
    apr_pool_t *pchild;
    sacme_http_options_t hopts;
    sacme_result_t *res;
    sacme_trust_t *trust;
    apr_pool_t *ptemp;

    rv = apr_proc_fork(&drv->proc, drv->pconf);
    if (rv == APR_INCHILD) {
        /* The parent's handlers would only set flags here. Die on the
         * stop/restart signals httpd sends its process group; on a graceful
         * one (sent to the group too) keep going until the parent, with
         * the new configuration, stops us; ignore SIGPIPE (libcurl runs
         * with NOSIGNAL). */
        apr_signal(SIGTERM, SIG_DFL);
        apr_signal(SIGHUP, SIG_DFL);
        apr_signal(SIGINT, SIG_DFL);
        apr_signal(AP_SIG_GRACEFUL, SIG_IGN);
        apr_signal(SIGWINCH, SIG_IGN);
        apr_signal(SIGCHLD, SIG_DFL);
        apr_signal(SIGPIPE, SIG_IGN);
        /* What the driver makes in the store gets exactly the modes the
         * store asks for (directories the web group must reach among
         * them), whatever umask httpd was started with. */
        umask(022);
        ap_close_listeners();
        apr_pool_create(&pchild, drv->pconf);
        /* The CA file (SacmeCACertificate) is read now, while still root:
         * it may be readable by root only. The workers share its content. */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        memset(&hopts, 0, sizeof(hopts));
        hopts.ca_file = drv->conf->ca_file;
        hopts.timeout = drv->conf->http_timeout;   /* 0: the engine's default */
        res = sacme_result_make(pchild);
        if (hopts.ca_file) {
            char *pem;
            if (sacme_file_read(hopts.ca_file, SACME_MAX_RESPONSE, pchild, &pem,
                                &hopts.ca_pem_len, res) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), drv->s,
                             SACME_LOGNO(10043) "cannot read SacmeCACertificate: %s",
                             sacme_result_message(res, pchild));
                _exit(1);
            }
            hopts.ca_pem = pem;
        }
        /* The anchors a new chain must reach before it is staged: the
         * parent would refuse any other at activation, and we would order
         * again and again. Loaded once for all workers, before the drop
         * (the system's CA files are world-readable; the admin's file was
         * read with the configuration). */
        if (sacme_conf_trust(drv->conf, pchild, &trust, res) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR,
                         sacme_result_log_status(res), drv->s, SACME_LOGNO(10151)
                         "driver: cannot load the trust anchors (system CAs, "
                         "SacmeTrustedRoots): %s", sacme_result_message(res, pchild));
            _exit(1);
        }
        /* The proxy's credentials too are read while still root. */
        if (!sacme_driver_proxy(drv->conf, drv->s, pchild, &hopts)) {
            _exit(1);
        }
        driver_eabs(drv, pchild);
        scm_check = sacme_driver_scm(drv->conf, drv->s, &hopts, pchild);
        if (drv->conf->cluster_urls) {
            driver_cluster(drv, pchild);
        }
        if (drop_privileges(drv, pchild) != APR_SUCCESS) {
            _exit(1);
        }
        driver_main(drv, pchild, &hopts, trust);
        _exit(0);
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, drv->s, SACME_LOGNO(10033)
                     "cannot fork the driver process; certificates are not renewed");
        return rv;
    }
    drv->running = 1;
    drv->started = apr_time_now();
    drv->restart_at = 0;
    apr_proc_other_child_register(&drv->proc, driver_maint, drv, NULL, drv->pconf);
    drv->registered = 1;
    /* For admins and tests: which process talks to the CA. In a pool of its
     * own: a driver restarted many times in one generation must not leave
     * the store's descriptors open in the configuration pool. */
    if (apr_pool_create(&ptemp, drv->pconf) == APR_SUCCESS) {
        sacme_store_pid_save(drv->conf->store, ptemp, (long)drv->proc.pid, NULL);
        apr_pool_destroy(ptemp);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_driver_start(server_rec *s, apr_pool_t *pconf,
                                sacme_conf_t *conf, apr_array_header_t *installed)
{
    driver_t *drv = apr_pcalloc(pconf, sizeof(*drv));

    drv->s = s;
    drv->pconf = pconf;
    drv->conf = conf;
    drv->installed = installed;
    apr_pool_cleanup_register(pconf, drv, driver_cleanup, apr_pool_cleanup_null);
    current = drv;
    return fork_driver(drv);
}

void sacme_driver_maintain(void)
{
    if (current && !current->running && current->restart_at
        && apr_time_now() >= current->restart_at) {
        fork_driver(current);
    }
}
