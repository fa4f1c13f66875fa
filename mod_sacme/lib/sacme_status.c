/* The status model of managed domains, from the store alone (sacme_status.h). */
#include <strings.h>

#include "sacme_status.h"
#include "sacme_json.h"
#include "sacme_profile.h"
#include "sacme_chaltype.h"
#include "sacme_request.h"
#include "sacme_static.h"
#include "sacme_drive_ari.h"
#include "sacme_time.h"

#define DAY apr_time_from_sec(86400)

/* job.json and order.json are a few hundred bytes; anything much larger is
 * not ours and is not parsed. */

/* --- small helpers ------------------------------------------------------------ */

static json_t *time_or_null(apr_pool_t *p, apr_time_t t)
{
    return t ? json_string(sacme_time_rfc3339(p, t)) : json_null();
}

static json_t *strings(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;

    for (i = 0; i < a->nelts; ++i) {
        json_array_append_new(j, json_string(APR_ARRAY_IDX(a, i, const char *)));
    }
    return j;
}

/* Whole days left, rounded down: a certificate expiring in 23 hours has 0
 * days left, one expired an hour ago -1 (C's division would say 0). */
static json_int_t days_left(apr_time_t not_after, apr_time_t now)
{
    apr_time_t d = not_after - now;
    json_int_t days = (json_int_t)(d / DAY);

    if (d < 0 && d % DAY) {
        --days;
    }
    return days;
}

/* A domain's state as JSON, or NULL when missing or unreadable: the
 * driver may be rewriting it (atomically) right now; the next look sees it. */
static json_t *staging_json(const sacme_store_t *store, apr_pool_t *p,
                            const char *name, sacme_state_t which)
{
    return sacme_store_state_load(store, p, which, name, NULL);
}

/* Every configured name among the certificate's SANs (as the driver decides
 * whether a new certificate is needed). */
/* --- the live certificates ------------------------------------------------------ */

/* What the live certificates tell about the domain's state. */
typedef struct {
    const sacme_cert_info_t *earliest;  /* the first to expire, or NULL: none */
    apr_time_t renew_at;                /* the earliest renewal time, or 0 */
    const char *renew_source;           /* where it comes from (sacme_renewal_t) */
    const char *explanation_url;        /* the CA's, for an ARI time */
    int mismatch;                       /* a name or key type the config differs in */
} live_t;

static json_t *cert_json(const sacme_cert_info_t *info, sacme_key_type_t type,
                         apr_time_t now, apr_pool_t *p)
{
    json_t *c = json_object();

    json_object_set_new(c, "key-type", json_string(sacme_key_type_name(type)));
    json_object_set_new(c, "serial", json_string(info->serial));
    json_object_set_new(c, "not-before", time_or_null(p, info->not_before));
    json_object_set_new(c, "not-after", time_or_null(p, info->not_after));
    json_object_set_new(c, "issuer", sacme_json_str_or_null(info->issuer));
    json_object_set_new(c, "sha256", json_string(info->sha256));
    json_object_set_new(c, "days-left", json_integer(days_left(info->not_after, now)));
    json_object_set_new(c, "names", strings(info->sans));
    return c;
}

/* The live set of each key type, from the certificate only (the live key
 * is root's, and the status page runs as the User). Today a domain has one
 * set, domains/<name>/. */
/* Certificates activated for the domain's key type after its first. */
static json_int_t renewals(const sacme_store_t *store, const sacme_domain_t *dom,
                           apr_pool_t *p)
{
    json_t *h = sacme_store_state_load(store, p, SACME_STATE_HISTORY, dom->name, NULL);
    json_int_t n = json_integer_value(json_object_get(h, "activations"));

    return n > 1 ? n - 1 : 0;
}

/* A pair from elsewhere (SacmeCertificateFile): what httpd read at start,
 * or (sacmectl) the file now. Never renewed by mod_sacme: no renew-at. */
static json_t *file_certificate(const sacme_domain_t *dom, apr_time_t now,
                                apr_pool_t *p, live_t *live, json_t *certs)
{
    json_t *c;
    sacme_cert_info_t *read;
    const sacme_cert_info_t *info = dom->file_info;
    const char *why;

    if (!info && sacme_static_info(p, dom->cert_file, &read, &why) == APR_SUCCESS) {
        info = read;
    }
    if (!info) {
        return certs;
    }
    c = cert_json(info, dom->key_type, now, p);
    /* the key type is the file's, which status readers cannot tell */
    json_object_set_new(c, "key-type", json_null());
    json_object_set_new(c, "source", json_string("file"));
    json_object_set_new(c, "file", json_string(dom->cert_file));
    json_array_append_new(certs, c);
    live->earliest = info;
    return certs;
}

static json_t *live_certificates(const sacme_store_t *store, const sacme_domain_t *dom,
                                 apr_time_t now, apr_pool_t *p, live_t *live)
{
    json_t *certs = json_array(), *c;
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    sacme_key_t *pub;
    X509 *leaf;
    sacme_renewal_t ren;

    memset(live, 0, sizeof(*live));
    if (dom->cert_file) {
        return file_certificate(dom, now, p, live, certs);
    }
    if (sacme_store_load_chain(store, p, SACME_GROUP_DOMAINS, dom->name, &chain,
                               NULL) != APR_SUCCESS
        || sacme_cert_info(p, (leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *)),
                           &info) != APR_SUCCESS
        || !(pub = sacme_key_wrap(p, X509_get_pubkey(leaf)))) {
        return certs;
    }
    c = cert_json(info, sacme_key_type(pub), now, p);
    json_array_append_new(certs, c);
    json_object_set_new(c, "renewals", json_integer(renewals(store, dom, p)));
    if (!live->earliest || info->not_after < live->earliest->not_after) {
        live->earliest = info;
    }
    /* the CA's time (ARI) where it gave one, else the local window */
    sacme_drive_renewal(store, dom, info, now, p, &ren);
    json_object_set_new(c, "renew-at", time_or_null(p, ren.renew_at));
    json_object_set_new(c, "renew-source", json_string(ren.source));
    json_object_set_new(c, "explanation-url", sacme_json_str_or_null(ren.explanation_url));
    json_object_set_new(c, "ari-next-poll",
                        ren.next_poll ? time_or_null(p, ren.next_poll) : json_null());
    if (!live->renew_at || ren.renew_at < live->renew_at) {
        live->renew_at = ren.renew_at;
        live->renew_source = ren.source;
        live->explanation_url = ren.explanation_url;
    }
    if (!sacme_cert_info_covers(info, dom->names) || sacme_key_type(pub) != dom->key_type) {
        live->mismatch = 1;
    }
    return certs;
}

/* --- what waits, what runs, what failed -------------------------------------------- */

/* A complete staged set (the monitor's own test: both files) waits for the
 * next graceful restart; its certificate tells which one it is. */
static json_t *staged_json(const sacme_store_t *store, const sacme_domain_t *dom,
                           apr_pool_t *p)
{
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    json_t *s;

    if (!sacme_store_has_set(store, p, SACME_GROUP_STAGING, dom->name)) {
        return NULL;
    }
    s = json_object();
    if (sacme_store_load_chain(store, p, SACME_GROUP_STAGING, dom->name, &chain,
                               NULL) == APR_SUCCESS
        && sacme_cert_info(p, APR_ARRAY_IDX(chain->certs, 0, X509 *), &info)
           == APR_SUCCESS) {
        json_object_set_new(s, "serial", json_string(info->serial));
        json_object_set_new(s, "not-after", time_or_null(p, info->not_after));
    }
    else {
        json_object_set_new(s, "serial", json_null());
        json_object_set_new(s, "not-after", json_null());
    }
    return s;
}

static json_t *order_json(const json_t *order, const json_t *job)
{
    json_t *o;

    if (!order) {
        return NULL;
    }
    o = json_object();
    json_object_set_new(o, "url", sacme_json_str_or_null(sacme_json_str(order, "url")));
    json_object_set_new(o, "updated", sacme_json_str_or_null(sacme_json_str(order, "updated")));
    /* the driver's note while the CA works on it (an approval, processing) */
    json_object_set_new(o, "waiting", sacme_json_str_or_null(sacme_json_str(job, "waiting")));
    return o;
}

/* The last failed attempt, as the driver recorded it (record_failure in
 * sacme_drive.c): "last" is the result's JSON, which never holds a secret.
 * A job without "last" only paces an order the CA is still working on. */
static json_t *error_json(const json_t *job)
{
    const json_t *last = sacme_json_obj(job, "last");
    json_t *e;

    if (!last) {
        return NULL;
    }
    e = json_object();
    json_object_set_new(e, "detail", sacme_json_str_or_null(sacme_json_str(last, "detail")));
    json_object_set_new(e, "problem", sacme_json_str_or_null(sacme_json_str(last, "problem")));
    json_object_set_new(e, "hint", sacme_json_str_or_null(sacme_json_str(last, "hint")));
    json_object_set_new(e, "at", sacme_json_str_or_null(sacme_json_str(job, "updated")));
    json_object_set_new(e, "errors",
                        json_integer(json_integer_value(json_object_get(job, "errors"))));
    return e;
}

/* Only the fields sacme_request.h defines: the file is the admin's, but
 * the page shows what the module knows, not whatever a file holds. */
static json_t *request_json(const json_t *req)
{
    static const char *const fields[] = {
        "action", "reason", "revocation-reason", "requested"
    };
    json_t *r;
    apr_size_t i;

    if (!req) {
        return NULL;
    }
    r = json_object();
    for (i = 0; i < SACME_ARRAY_LEN(fields); ++i) {
        json_object_set_new(r, fields[i], sacme_json_str_or_null(sacme_json_str(req, fields[i])));
    }
    return r;
}

/* The state, most pressing first: a set waiting for activation is news
 * the admin can act on (a restart); a failure needs attention even while
 * the old certificate still serves; anything the driver is about to do or
 * doing is "renewing"; otherwise all is well. */
static const char *state_of(int staged, int failed, int busy)
{
    if (staged) {
        return SACME_STATE_PENDING_ACTIVATION;
    }
    if (failed) {
        return SACME_STATE_ERROR;
    }
    return busy ? SACME_STATE_RENEWING : SACME_STATE_OK;
}

/* --- the model ----------------------------------------------------------------- */

/* The CAs of the domain in failover order, each with its EAB key id (which
 * account), and the one its next attempt goes to. */
static json_t *cas_json(const sacme_domain_t *dom, const json_t *job, json_t **in_use)
{
    json_t *cas = json_array();
    const sacme_ca_t *now;
    int i;

    *in_use = json_null();
    if (!dom->cas || dom->cert_file) {
        return cas;
    }
    now = sacme_domain_ca(dom, NULL,
                          (int)json_integer_value(json_object_get(job, "errors")));
    for (i = 0; i < dom->cas->nelts; ++i) {
        const sacme_ca_t *ca = APR_ARRAY_IDX(dom->cas, i, sacme_ca_t *);
        json_t *c = json_object();
        json_object_set_new(c, "server", json_string(ca->url));
        json_object_set_new(c, "eab-kid", sacme_json_str_or_null(ca->eab ? ca->eab->kid
                                                                          : NULL));
        json_array_append_new(cas, c);
    }
    if (now) {
        json_decref(*in_use);
        *in_use = json_string(now->url);
    }
    return cas;
}

/* Names the CA a certificate (of certs, or the staged one) came from, where
 * issued.json, written when it was staged, is about that very serial. */
static void mark_ca(json_t *cert, const json_t *issued)
{
    if (json_is_object(cert)) {
        json_object_set_new(cert, "ca",
                            sacme_json_about_serial(issued, sacme_json_str(cert, "serial"))
                            ? json_string(sacme_json_str(issued, "server")) : json_null());
    }
}

/* The profile a certificate (of certs, or the staged one) was ordered
 * with, where issued.json is about that very serial: null when its order
 * carried none, or nothing is known of it. */
static void mark_profile(json_t *cert, const json_t *issued)
{
    if (json_is_object(cert)) {
        json_object_set_new(cert, "profile", sacme_json_str_or_null(
            sacme_profile_sent(issued, sacme_json_str(cert, "serial"))));
    }
}

/* Whether a live certificate was ordered for another SacmeProfile: the
 * driver orders a new one (sacme_drive.c, SACME_WHY_PROFILE). */
static int profile_mismatch(const sacme_domain_t *dom, const json_t *certs,
                            const json_t *issued)
{
    const json_t *c;
    size_t i;

    json_array_foreach(certs, i, c) {
        if (sacme_profile_changed(dom->profile, issued, sacme_json_str(c, "serial"))) {
            return 1;
        }
    }
    return 0;
}

/* The status of one key type's certificate of a domain. */
static json_t *unit_status(const sacme_store_t *store, const sacme_domain_t *dom,
                           apr_time_t now, apr_pool_t *p)
{
    json_t *d = sacme_json_own(p, json_object()), *types = json_array();
    json_t *certs, *staged, *order, *job, *error, *request, *issued, *cas, *ca, *c;
    apr_time_t next_attempt;
    live_t live;
    size_t i;
    int busy;

    json_array_append_new(types, json_string(sacme_key_type_name(dom->key_type)));
    certs = live_certificates(store, dom, now, p, &live);
    staged = staged_json(store, dom, p);
    job = staging_json(store, p, dom->name, SACME_STATE_JOB);
    order = order_json(staging_json(store, p, dom->name, SACME_STATE_ORDER), job);
    error = error_json(job);
    request = request_json(sacme_request_get(store, p, dom->name));
    next_attempt = apr_time_from_sec(json_integer_value(json_object_get(job,
                                                                        "next-attempt")));
    issued = dom->cert_file ? NULL : staging_json(store, p, dom->name, SACME_STATE_ISSUED);
    json_array_foreach(certs, i, c) {
        if (issued) {
            mark_ca(c, issued);
        }
    }
    if (staged) {
        mark_ca(staged, issued);
    }
    if (!dom->cert_file) {
        json_array_foreach(certs, i, c) {
            mark_profile(c, issued);
        }
        mark_profile(staged, issued);
        live.mismatch |= profile_mismatch(dom, certs, issued);
    }
    cas = cas_json(dom, job, &ca);
    busy = order || request || !live.earliest || live.mismatch
           || (!dom->cert_file && live.renew_at <= now);

    json_object_set_new(d, "name", json_string(dom->name));
    json_object_set_new(d, "names", strings(dom->names));
    json_object_set_new(d, "key-types", types);
    json_object_set_new(d, "source", json_string(dom->cert_file ? "file" : "acme"));
    json_object_set_new(d, "ca", ca);
    json_object_set_new(d, "cas", cas);
    json_object_set_new(d, "profile", sacme_json_str_or_null(dom->profile));
    json_object_set_new(d, "challenges",
                        dom->cert_file ? json_null()
                        : json_string(sacme_chaltype_of(p, dom->challenge_none,
                                                        dom->challenges)));
    json_object_set_new(d, "renew-window",
                        json_string(sacme_window_str(p, &dom->renew_window)));
    json_object_set_new(d, "warn-window",
                        dom->warn ? sacme_warn_json(dom->warn, p) : json_null());
    json_object_set_new(d, "state", json_string(state_of(staged != NULL, error != NULL,
                                                         busy)));
    json_object_set_new(d, "certificates", certs);
    json_object_set_new(d, "valid-until",
                        live.earliest ? time_or_null(p, live.earliest->not_after)
                                      : json_null());
    json_object_set_new(d, "days-left",
                        live.earliest ? json_integer(days_left(live.earliest->not_after,
                                                               now))
                                      : json_null());
    json_object_set_new(d, "renew-at", time_or_null(p, live.renew_at));
    /* An admin's request renews now, whatever the window said. */
    if (request && sacme_json_str(request, "reason")) {
        live.renew_source = sacme_json_str(request, "reason");
        json_array_foreach(certs, i, c) {
            json_object_set_new(c, "renew-source", json_string(live.renew_source));
        }
    }
    json_object_set_new(d, "renew-source", live.renew_at
                        ? sacme_json_str_or_null(live.renew_source) : json_null());
    json_object_set_new(d, "explanation-url", sacme_json_str_or_null(live.explanation_url));
    json_object_set_new(d, "staged", staged ? staged : json_null());
    json_object_set_new(d, "order", order ? order : json_null());
    json_object_set_new(d, "error", error ? error : json_null());
    json_object_set_new(d, "next-attempt",
                        next_attempt > now ? time_or_null(p, next_attempt) : json_null());
    json_object_set_new(d, "request", request ? request : json_null());
    return d;
}

/* How much a state asks of the admin, to show the domain by its neediest
 * key type. */
static int state_rank(const char *state)
{
    static const char *const order[] = {
        SACME_STATE_OK, SACME_STATE_PENDING_ACTIVATION, SACME_STATE_RENEWING,
        SACME_STATE_ERROR
    };
    int i;

    for (i = (int)SACME_ARRAY_LEN(order) - 1; i > 0; --i) {
        if (state && !strcmp(state, order[i])) {
            break;
        }
    }
    return i;
}

/* Folds the status of a further key type into the domain's: both
 * certificates, the earlier expiry and renewal, the neediest state; of the
 * progress fields (staged, order, error, request) the first found. */
static void merge_unit(json_t *d, json_t *u)
{
    static const char *const first_of[] = {
        "staged", "order", "error", "next-attempt", "request", "explanation-url"
    };
    json_t *ud = json_object_get(u, "days-left"), *dd = json_object_get(d, "days-left");
    const char *ur = sacme_json_str(u, "renew-at"), *dr = sacme_json_str(d, "renew-at");
    apr_size_t i;

    json_array_extend(json_object_get(d, "key-types"), json_object_get(u, "key-types"));
    json_array_extend(json_object_get(d, "certificates"), json_object_get(u, "certificates"));
    if (json_is_integer(ud) && (!json_is_integer(dd)
                                || json_integer_value(ud) < json_integer_value(dd))) {
        json_object_set(d, "valid-until", json_object_get(u, "valid-until"));
        json_object_set(d, "days-left", ud);
    }
    if (ur && (!dr || strcmp(ur, dr) < 0)) {    /* RFC 3339 in UTC sorts as text */
        json_object_set(d, "renew-at", json_object_get(u, "renew-at"));
        json_object_set(d, "renew-source", json_object_get(u, "renew-source"));
    }
    if (state_rank(sacme_json_str(u, "state")) > state_rank(sacme_json_str(d, "state"))) {
        json_object_set(d, "state", json_object_get(u, "state"));
    }
    for (i = 0; i < SACME_ARRAY_LEN(first_of); ++i) {
        if (json_is_null(json_object_get(d, first_of[i]))) {
            json_object_set(d, first_of[i], json_object_get(u, first_of[i]));
        }
    }
}

json_t *sacme_status_domain(const sacme_store_t *store, const sacme_domain_t *dom,
                            apr_time_t now, apr_pool_t *p)
{
    const sacme_domain_t *unit;
    json_t *d;

    if (dom->primary) {
        dom = dom->primary;      /* a further key type shows as its domain */
    }
    d = unit_status(store, dom, now, p);
    for (unit = dom->next_key; unit; unit = unit->next_key) {
        merge_unit(d, unit_status(store, unit, now, p));
    }
    return d;
}

json_t *sacme_status_all(const sacme_store_t *store, const apr_array_header_t *domains,
                         apr_time_t now, apr_pool_t *p)
{
    json_t *all = sacme_json_own(p, json_object()), *list = json_array(), *cluster;
    int i;

    for (i = 0; domains && i < domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(domains, i, sacme_domain_t *);
        if (!dom->primary) {     /* its key types are folded into the domain */
            json_array_append(list, sacme_status_domain(store, dom, now, p));
        }
    }
    json_object_set_new(all, "generated", json_string(sacme_time_rfc3339(p, now)));
    json_object_set_new(all, "domains", list);
    /* the cluster as this node's driver last saw it (SacmeCluster) */
    if (store && (cluster = sacme_store_state_load(store, p, SACME_STATE_CLUSTER,
                                                   SACME_CLUSTER_ENTRY, NULL)) != NULL) {
        json_object_set(all, "cluster", cluster);
    }
    return all;
}
