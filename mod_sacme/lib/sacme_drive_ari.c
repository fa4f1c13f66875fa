/* ARI in the driver (sacme_drive_ari.h). */
#include <string.h>

#include "sacme_drive_ari.h"
#include "sacme_ari.h"
#include "sacme_json.h"
#include "sacme_time.h"

/* How long a failed poll waits without a Retry-After: an hour, so a CA
 * whose ARI is down is not asked every minute, and one that recovers is
 * heard the same day. */
#define ARI_RETRY_DEFAULT apr_time_from_sec(3600)
/* A CA without renewalInfo is asked again daily: its directory may gain it. */
#define ARI_UNSUPPORTED_AGAIN apr_time_from_sec(24 * 3600)

static int ari_on(const sacme_domain_t *dom)
{
    return !dom->ari_off && !dom->cert_file;
}

/* ari.json when it is about the certificate of serial, else NULL. */
static json_t *record_of(const sacme_store_t *store, const sacme_domain_t *dom,
                         const char *serial, apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(store, p, SACME_STATE_ARI, dom->name, NULL);

    return sacme_json_about_serial(j, serial) ? j : NULL;
}

void sacme_drive_renewal(const sacme_store_t *store, const sacme_domain_t *dom,
                         const sacme_cert_info_t *info, apr_time_t now,
                         apr_pool_t *p, sacme_renewal_t *r)
{
    json_t *ari;
    apr_time_t at;

    memset(r, 0, sizeof(*r));
    r->renew_at = sacme_drive_renew_at(dom, info);
    r->source = "window";
    if (!ari_on(dom)) {
        return;
    }
    if (!(ari = record_of(store, dom, info->serial, p))) {
        r->poll_due = 1;
        return;
    }
    r->next_poll = sacme_time_rfc3339_parse(sacme_json_str(ari, "next-poll"));
    r->poll_due = r->next_poll <= now;
    /* renew-at is the CA's word on this certificate, kept through failed
     * polls (record_failure); without one, the local window applies. A time
     * after the expiry is no renewal at all: a CA's mistake the local
     * window makes up for. */
    at = sacme_time_rfc3339_parse(sacme_json_str(ari, "renew-at"));
    if (at && at < info->not_after) {
        r->renew_at = at;
        r->source = "ari";
        r->explanation_url = sacme_json_str(ari, "explanation-url");
    }
}

/* The CA to ask: the one that issued the certificate (issued.json, when it
 * is about this serial), else the one the domain orders from now. */
static const char *ca_of(sacme_driver_t *d, const sacme_domain_t *dom,
                         const sacme_cert_info_t *info, apr_pool_t *p)
{
    json_t *issued;
    const sacme_ca_t *ca;
    const char *server;

    issued = sacme_store_state_load(d->store, p, SACME_STATE_ISSUED, dom->name, NULL);
    server = sacme_json_str(issued, "server");
    if (server && sacme_json_about_serial(issued, info->serial)) {
        return server;
    }
    ca = sacme_drive_ca(d, dom, p);
    return ca ? ca->url : NULL;
}

static void save(sacme_driver_t *d, const sacme_domain_t *dom, json_t *j, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);

    if (sacme_store_state_save(d->store, p, SACME_STATE_ARI, dom->name, j, res)
            != APR_SUCCESS) {
        sacme_log(d->log, SACME_LOG_WARNING, sacme_result_log_status(res),
                  SACME_LOGNO(10408) "%s: cannot record the CA's renewal information "
                  "in ari.json (%s): it is asked again at the next check; make the "
                  "domain's staging directory writable for the driver", dom->name,
                  sacme_result_message(res, p));
    }
}

/* The live certificate of dom: its leaf and what it says. */
static int live_leaf(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p,
                     X509 **leaf, sacme_cert_info_t **info)
{
    sacme_chain_t *chain;

    if (sacme_store_load_leaf(d->store, p, SACME_GROUP_DOMAINS, dom->name, &chain,
                              NULL) != APR_SUCCESS) {
        return 0;
    }
    *leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    return sacme_cert_info(p, *leaf, info) == APR_SUCCESS;
}

/* A failed poll: recorded, and logged once per kind of failure and
 * certificate (a CA whose ARI is down for a day is not a line an hour).
 * The window and the time picked in it at the last answer stay: they are
 * the CA's word on this certificate (during an incident, a window it moved
 * early), and an outage of its renewal information does not take it back
 * (RFC 9773 §4.3.3 lets clients keep it). Only without one does the local
 * window apply. */
static void record_failure(sacme_driver_t *d, const sacme_domain_t *dom,
                           const sacme_cert_info_t *info, json_t *old, json_t *j,
                           const char *kind, const char *msg, apr_time_t next,
                           apr_pool_t *p)
{
    static const char *const kept[] = { "window", "renew-at", "explanation-url", NULL };
    const char *was = sacme_json_str(old, "error-kind");
    const char *renew_at = sacme_json_str(old, "renew-at");
    int i;

    for (i = 0; renew_at && kept[i]; ++i) {
        if (json_object_get(old, kept[i])) {
            json_object_set(j, kept[i], json_object_get(old, kept[i]));
        }
    }
    json_object_set_new(j, "error", json_string(msg));
    json_object_set_new(j, "error-kind", json_string(kind));
    json_object_set_new(j, "next-poll", json_string(sacme_time_rfc3339(p, next)));
    sacme_log(d->log, was && !strcmp(was, kind) ? SACME_LOG_DEBUG : SACME_LOG_WARNING,
              0, SACME_LOGNO(10402) "%s: the CA's renewal information for the "
              "certificate (serial %s) is not usable: %s. Renewal is not held up: %s, "
              "renewal at %s; asked again at %s. If this persists, tell the CA, or "
              "set 'SacmeARI off' for it", dom->name, info->serial, msg,
              renew_at ? "the time picked in the window the CA suggested last stays"
                       : "the local window (SacmeRenewWindow) applies",
              renew_at ? renew_at
                       : sacme_time_rfc3339(p, sacme_drive_renew_at(dom, info)),
              sacme_time_rfc3339(p, next));
}

static int str_is(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* A valid answer: the window, and the time in it, kept while the window
 * stays the same (a restart or a repeated poll does not pick again). */
static void record_window(sacme_driver_t *d, const sacme_domain_t *dom,
                          const sacme_cert_info_t *info, json_t *old, json_t *j,
                          const sacme_ari_answer_t *ans, apr_time_t now, apr_pool_t *p)
{
    json_t *w = json_object(), *ow = sacme_json_obj(old, "window");
    const char *start = sacme_time_rfc3339(p, ans->info.start);
    const char *end = sacme_time_rfc3339(p, ans->info.end);
    const char *kept = sacme_json_str(old, "renew-at");
    const char *old_url = sacme_json_str(old, "explanation-url");
    apr_time_t at, next = sacme_ari_next_poll(ans->retry_after, now);
    int same = kept && str_is(sacme_json_str(ow, "start"), start)
               && str_is(sacme_json_str(ow, "end"), end);

    json_object_set_new(w, "start", json_string(start));
    json_object_set_new(w, "end", json_string(end));
    json_object_set_new(j, "window", w);
    at = same ? sacme_time_rfc3339_parse(kept) : sacme_ari_pick(&ans->info);
    json_object_set_new(j, "renew-at", json_string(sacme_time_rfc3339(p, at)));
    if (ans->info.explanation_url) {
        json_object_set_new(j, "explanation-url", json_string(ans->info.explanation_url));
    }
    json_object_set_new(j, "next-poll", json_string(sacme_time_rfc3339(p, next)));
    if (old && json_object_get(old, "error")) {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10403)
                  "%s: the CA's renewal information is usable again", dom->name);
    }
    if (!same) {
        sacme_log(d->log, ans->info.end <= now ? SACME_LOG_WARNING : SACME_LOG_NOTICE, 0,
                  SACME_LOGNO(10400) "%s: the CA suggests renewing the certificate "
                  "(serial %s, valid until %s) between %s and %s: %s; its renewal "
                  "information is asked again at %s", dom->name, info->serial,
                  sacme_time_rfc3339(p, info->not_after), start, end,
                  at <= now ? "renewing now"
                            : apr_psprintf(p, "renewal at %s", sacme_time_rfc3339(p, at)),
                  sacme_time_rfc3339(p, next));
    }
    else {
        sacme_log(d->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10409)
                  "%s: the CA's renewal window is unchanged (%s to %s); renewal at %s, "
                  "asked again at %s", dom->name, start, end,
                  sacme_time_rfc3339(p, at), sacme_time_rfc3339(p, next));
    }
    if (ans->info.explanation_url
        && (!same || !old_url || strcmp(old_url, ans->info.explanation_url))) {
        sacme_log(d->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10401)
                  "%s: the CA explains its renewal window for the certificate "
                  "(serial %s) at %s", dom->name, info->serial,
                  ans->info.explanation_url);
    }
}

void sacme_drive_ari_poll(sacme_driver_t *d, sacme_clients_t *clients,
                          const sacme_domain_t *dom, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_cert_info_t *info;
    sacme_ari_answer_t ans;
    sacme_acme_t *acme;
    json_t *old, *j;
    const char *id, *url;
    apr_time_t now;
    apr_status_t rv;
    X509 *leaf;

    if (!ari_on(dom) || !live_leaf(d, dom, p, &leaf, &info)) {
        return;
    }
    old = record_of(d->store, dom, info->serial, p);
    j = sacme_json_own(p, json_object());
    json_object_set_new(j, "serial", json_string(info->serial));
    now = apr_time_now();
    if (sacme_ari_cert_id(p, leaf, &id, res) != APR_SUCCESS) {
        json_object_set_new(j, "polled", json_string(sacme_time_rfc3339(p, now)));
        /* Not the CA's fault nor ours: nothing to ask, ever, for this one. */
        record_failure(d, dom, info, old, j, "no-cert-id", sacme_result_message(res, p),
                       sacme_time_add(now, SACME_ARI_POLL_MAX), p);
        save(d, dom, j, p);
        return;
    }
    json_object_set_new(j, "cert-id", json_string(id));
    if (!(url = ca_of(d, dom, info, p))) {
        return;
    }
    json_object_set_new(j, "server", json_string(url));
    rv = sacme_clients_get(clients, url, &acme, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_ari_fetch(acme, id, p, &ans, res);
    }
    else {
        memset(&ans, 0, sizeof(ans));
        ans.error_kind = "unreachable";
    }
    now = apr_time_now();
    json_object_set_new(j, "polled", json_string(sacme_time_rfc3339(p, now)));
    if (rv == APR_ENOTIMPL) {
        json_object_set_new(j, "unsupported", json_true());
        json_object_set_new(j, "next-poll", json_string(sacme_time_rfc3339(
                                p, sacme_time_add(now, ARI_UNSUPPORTED_AGAIN))));
        sacme_log(d->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10404)
                  "%s: %s offers no renewal information (ARI); the local window "
                  "applies", dom->name, url);
    }
    else if (rv != APR_SUCCESS) {
        record_failure(d, dom, info, old, j, ans.error_kind ? ans.error_kind : "failed",
                       sacme_result_message(res, p),
                       ans.retry_after ? sacme_ari_next_poll(ans.retry_after, now)
                                       : sacme_time_add(now, ARI_RETRY_DEFAULT), p);
    }
    else {
        record_window(d, dom, info, old, j, &ans, now, p);
    }
    save(d, dom, j, p);
}

void sacme_drive_ari_due_now(sacme_driver_t *d, const sacme_domain_t *dom,
                             apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(d->store, p, SACME_STATE_ARI, dom->name, NULL);

    if (!ari_on(dom) || !json_is_object(j)) {
        return;                 /* never polled: due anyway */
    }
    json_object_set_new(j, "next-poll",
                        json_string(sacme_time_rfc3339(p, apr_time_now())));
    save(d, dom, j, p);
}

const char *sacme_drive_ari_replaces(sacme_driver_t *d, const sacme_domain_t *dom,
                                     apr_pool_t *p)
{
    sacme_cert_info_t *info;
    const char *id;
    X509 *leaf;

    if (!ari_on(dom) || !live_leaf(d, dom, p, &leaf, &info)
        || sacme_ari_cert_id(p, leaf, &id, NULL) != APR_SUCCESS) {
        return NULL;
    }
    return id;
}
