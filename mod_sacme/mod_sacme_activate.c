/* Activation: the root parent makes staged certificate sets live.
 *
 * At every (re)start post_config promotes what the driver staged
 * (sacme_activate_staged); while the server runs, a set staged is activated
 * by a graceful restart, triggered the moment the driver exits for it
 * (sacme_restart_for_staged, from the driver's other-child callback) or by
 * the monitor for what the driver did not announce. A set the store cannot
 * take (no space, an immutable directory) stays staged and is held back:
 * the parent does not restart for it again until it changes or its delay,
 * growing with every failure, has passed. That state lives in the process
 * pool, so it outlives the graceful restarts it governs.
 */
#include <httpd.h>
#include <http_log.h>
#include <mpm_common.h>

#include <signal.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "sacme_store.h"
#include "sacme_time.h"

/* A staged set the parent failed to activate for the store's sake (no
 * space, a read-only or immutable directory): the monitor does not restart
 * for it again until it changes (a newer set is staged) or its delay,
 * growing with every failure, has passed. */
typedef struct {
    char id[96];                     /* sacme_store_staged_id; "" when none */
    apr_time_t retry_at;
    apr_interval_time_t delay;
} held_t;

/* The longest wait between two attempts at a set that fails to activate
 * (or SacmeRetryDelay, when that is longer): each is only a graceful
 * restart, and a store fixed without telling httpd should not wait long. */
#define MAX_HOLD apr_time_from_sec(3600)

parent_state_t *sacme_parent_state(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;

    apr_pool_userdata_get(&data, "sacme-parent-state", pp);
    if (!data) {
        parent_state_t *st = apr_pcalloc(pp, sizeof(*st));
        st->held = apr_hash_make(pp);
        data = st;
        apr_pool_userdata_set(data, "sacme-parent-state", apr_pool_cleanup_null, pp);
    }
    return data;
}

/* Holds back the staged set id of name; returns when it is tried again.
 * The same set failing again waits twice as long as before; another set
 * starts over with the first delay. An entry, once made, stays (reused):
 * the process pool never frees, so nothing is made per attempt. */
static apr_time_t hold_set(server_rec *s, const char *name, const char *id,
                           apr_interval_time_t first)
{
    parent_state_t *st = sacme_parent_state(s);
    held_t *h = apr_hash_get(st->held, name, APR_HASH_KEY_STRING);
    apr_interval_time_t max = first > MAX_HOLD ? first : MAX_HOLD;

    if (!h) {
        apr_pool_t *pp = s->process->pool;
        h = apr_pcalloc(pp, sizeof(*h));
        apr_hash_set(st->held, apr_pstrdup(pp, name), APR_HASH_KEY_STRING, h);
    }
    if (h->delay && !strcmp(h->id, id)) {
        h->delay = h->delay * 2 > max ? max : h->delay * 2;
    }
    else {
        h->delay = first;
        apr_cpystrn(h->id, id, sizeof(h->id));
    }
    h->retry_at = apr_time_now() + h->delay;
    return h->retry_at;
}

static void release_set(server_rec *s, const char *name)
{
    held_t *h = apr_hash_get(sacme_parent_state(s)->held, name, APR_HASH_KEY_STRING);

    if (h) {
        h->id[0] = '\0';
        h->delay = 0;
    }
}

/* Whether the staged set id of name is held back at now; *retry tells
 * whether it failed before (its delay has passed). */
static int set_held(server_rec *s, const char *name, const char *id, apr_time_t now,
                    int *retry)
{
    held_t *h = apr_hash_get(sacme_parent_state(s)->held, name, APR_HASH_KEY_STRING);

    if (!h || !h->delay || strcmp(h->id, id)) {
        return 0;
    }
    *retry = 1;
    return now < h->retry_at;
}

/* What the admin does about a store that could not take a set. */
static const char *store_advice(apr_status_t rv, const char *store_dir, apr_pool_t *p)
{
    if (APR_STATUS_IS_ENOSPC(rv)
#ifdef EDQUOT
        || rv == APR_FROM_OS_ERROR(EDQUOT)
#endif
        ) {
        return apr_psprintf(p, "free space on the filesystem of %s (df %s)", store_dir,
                            store_dir);
    }
    if (rv == APR_FROM_OS_ERROR(EROFS)) {
        return apr_psprintf(p, "make the filesystem of %s writable", store_dir);
    }
    if (APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM)) {
        return "make the directory named above writable by root again (an immutable "
               "attribute? lsattr -d, chattr -i)";
    }
    return apr_psprintf(p, "fix the cause named above (the store is %s)", store_dir);
}

/* A staged set that stays staged after an activation attempt is held back
 * (so a failure cannot turn into a restart loop) and the admin told what
 * to do and when it is tried again. why is NULL when the set was activated
 * but its staged copy could not be removed. */
static void hold_staged(const sacme_conf_t *conf, server_rec *s, const char *name,
                        const char *id, const sacme_result_t *why, apr_pool_t *p)
{
    apr_time_t at = hold_set(s, name, id, conf->retry_delay);
    const char *when = conf->auto_restart
        ? apr_psprintf(p, "or wait: it is tried again in %" APR_TIME_T_FMT " s, at %s",
                       apr_time_sec(at - apr_time_now() + apr_time_from_msec(500)),
                       sacme_time_rfc3339(p, at))
        : "(SacmeAutoRestart is off: it is not tried again by itself)";

    if (!why) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SACME_LOGNO(10233)
                     "%s: the staged copy of the certificate just activated could not "
                     "be removed from %s/staging; httpd does not restart for it again "
                     "before %s", name, conf->store_dir, sacme_time_rfc3339(p, at));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(why), s, SACME_LOGNO(10230)
                 "%s: the staged certificate could not be activated: %s. The "
                 "current certificate stays in service and the new one stays staged: "
                 "%s, then run 'apachectl graceful', %s", name,
                 sacme_result_message(why, p), store_advice(why->status, conf->store_dir, p),
                 when);
}

/* Promotes each staged set that passes the checks; a refused one is logged
 * and moved aside, the live set stays. A set that stays staged (the store
 * failed) is held back from the monitor's restarts (hold_staged). Returns
 * the domains activated now. The trust anchors are loaded only when a set
 * is staged, i.e. rarely. */
apr_array_header_t *sacme_activate_staged(sacme_conf_t *conf, const sacme_store_t *store,
                                          apr_pool_t *pconf, apr_pool_t *ptemp,
                                          server_rec *s)
{
    apr_array_header_t *installed = apr_array_make(pconf, 2, sizeof(sacme_domain_t *));
    sacme_trust_t *trust = NULL;
    sacme_result_t *trust_res = NULL;
    int i;

    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        sacme_result_t *res = sacme_result_make(ptemp);
        sacme_certset_t *live;
        sacme_cert_info_t *info;
        sacme_promote_t outcome = SACME_PROMOTE_FAILED;
        const char *id;

        sacme_store_recover(store, ptemp, dom->name);
        if (!(id = sacme_store_staged_id(store, ptemp, dom->name, NULL))) {
            release_set(s, dom->name);
            continue;
        }
        /* Our failure, not the sets': they stay staged, held back. */
        if (!trust && !trust_res && sacme_conf_trust(conf, ptemp, &trust, res) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), s,
                         SACME_LOGNO(10150) "cannot load the trust anchors; staged "
                         "certificates are not activated: %s",
                         sacme_result_message(res, ptemp));
            trust_res = res;
        }
        if (trust_res) {
            hold_set(s, dom->name, id, conf->retry_delay);
            continue;
        }
        /* Beyond the set's own consistency, its chain must reach an
         * anchor: the User can write staging, and make a well-formed chain. */
        if (sacme_store_promote(store, ptemp, dom->name, dom->names, sacme_trust_verify_now,
                                trust, &outcome, &live, res) != APR_SUCCESS
            && outcome == SACME_PROMOTE_REFUSED) {
            ap_log_error(APLOG_MARK, APLOG_ERR,
                         sacme_result_log_status(res), s, SACME_LOGNO(10028)
                         "%s: staged certificate refused: %s; the current certificate "
                         "stays in service", dom->name, sacme_result_message(res, ptemp));
        }
        if (outcome == SACME_PROMOTE_DONE
            && sacme_cert_info(ptemp, APR_ARRAY_IDX(live->chain->certs, 0, X509 *),
                               &info) == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10027)
                         "%s: activated certificate (serial %s, valid until %s)",
                         dom->name, info->serial, sacme_time_rfc3339(ptemp, info->not_after));
            APR_ARRAY_PUSH(installed, sacme_domain_t *) = dom;
        }
        if (!(id = sacme_store_staged_id(store, ptemp, dom->name, NULL))) {
            release_set(s, dom->name);
        }
        else if (outcome == SACME_PROMOTE_REFUSED) {
            /* refused (said above), but its files could not be removed */
            hold_set(s, dom->name, id, conf->retry_delay);
        }
        else {
            hold_staged(conf, s, dom->name, id,
                        outcome == SACME_PROMOTE_FAILED ? res : NULL, ptemp);
        }
    }
    return installed;
}

/* How long the monitor leaves a set just staged to the driver, which
 * exits for it (sacme_restart_for_staged) as soon as it has finished with
 * it: a restart of the monitor's meanwhile would kill it half-way. */
#define DRIVER_GRACE apr_time_from_sec(10)

/* The staged sets that a restart would activate now: all but those held
 * back after a failed activation, and (for the monitor) those the driver
 * staged a moment ago. Returns their names (NULL: none); *retries tells
 * whether one of them failed before. */
static const char *ready_sets(const sacme_conf_t *conf, server_rec *s, apr_pool_t *p,
                              int by_driver, int *retries)
{
    const char *ready = NULL;
    apr_time_t now = apr_time_now(), at;
    int i, retry;

    *retries = 0;
    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        const char *id = sacme_store_staged_id(conf->store, p, dom->name, &at);
        retry = 0;
        if (!id || set_held(s, dom->name, id, now, &retry)
            || (!by_driver && !retry && now >= at && now - at < DRIVER_GRACE)) {
            continue;
        }
        *retries |= retry;
        ready = ready ? apr_pstrcat(p, ready, ", ", dom->name, NULL) : dom->name;
    }
    return ready;
}

int sacme_restart_for_staged(server_rec *s, apr_pool_t *pool, int by_driver)
{
    const sacme_conf_t *conf = sacme_live_conf();
    apr_pool_t *p;
    const char *ready;
    int retries, restart = 0;

    if (!conf || !conf->auto_restart || conf->store_down
        || conf->store_unsafe || apr_pool_create(&p, pool) != APR_SUCCESS) {
        return 0;
    }
    ready = ready_sets(conf, s, p, by_driver, &retries);
    if (ready) {
        restart = 1;
        if (retries) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10231)
                         "trying again to activate the certificate(s) staged for %s, "
                         "held back since a failed activation: triggering a graceful "
                         "restart", ready);
        }
        else if (by_driver) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10232)
                         "the driver staged new certificate(s) for %s: triggering a "
                         "graceful restart to activate them now", ready);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10025)
                         "new certificate(s) staged for %s: triggering a graceful "
                         "restart to activate them", ready);
        }
        kill(getpid(), AP_SIG_GRACEFUL);
    }
    apr_pool_destroy(p);
    return restart;
}

/* One round of the monitor: a set staged and not activated (a driver that
 * was killed before it could say so, a set held back whose delay has
 * passed) is activated with a graceful restart, or a restart is asked for.
 * A set the driver staged has usually been activated already: the driver
 * exits for it (sacme_restart_for_staged). Everything it allocates, and
 * every directory it opens, goes with p at the end of the round. */
void sacme_monitor_round(apr_pool_t *p, server_rec *s)
{
    const sacme_conf_t *conf = sacme_live_conf();
    parent_state_t *st;
    const char *ready = NULL;
    int i;
    apr_time_t now = apr_time_now();

    if (conf->auto_restart) {
        sacme_restart_for_staged(s, p, 0);
        return;
    }
    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        if (sacme_store_has_set(conf->store, p, SACME_GROUP_STAGING, dom->name)) {
            ready = ready ? apr_pstrcat(p, ready, ", ", dom->name, NULL) : dom->name;
        }
    }
    st = sacme_parent_state(s);
    if (ready && now - st->last_notice > apr_time_from_sec(3600)) {
        st->last_notice = now;
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10026)
                     "new certificate(s) staged for %s: a graceful restart "
                     "(apachectl graceful) is needed to activate them "
                     "(SacmeAutoRestart is off)", ready);
    }
}
