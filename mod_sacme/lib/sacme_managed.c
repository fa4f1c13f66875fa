/* managed.json: the running configuration, for sacmectl (sacme_managed.h). */
#include <strings.h>

#include "sacme_managed.h"
#include "sacme_name.h"
#include "sacme_chaltype.h"
#include "sacme_json.h"

/* A few hundred bytes per domain: room for tens of thousands. */
apr_status_t sacme_managed_write(const sacme_store_t *store, apr_pool_t *p,
                                 const sacme_managed_t *m, sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object()), *doms = json_array(), *old;
    json_t *cas = json_array();
    int i, k, c;

    for (c = 0; m->cas && c < m->cas->nelts; ++c) {
        const sacme_ca_t *ca = APR_ARRAY_IDX(m->cas, c, sacme_ca_t *);
        const char *kid = ca->eab ? ca->eab->kid : NULL;
        json_t *one = json_object();
        json_object_set_new(one, "server", json_string(ca->url));
        json_object_set_new(one, "eab-kid", sacme_json_str_or_null(kid));
        json_object_set_new(one, "account-dir", json_string(
            sacme_store_account_path(store, p, ca->url, kid)));
        json_array_append_new(cas, one);
    }
    json_object_set_new(j, "cas", cas);
    json_object_set_new(j, "ca-file", sacme_json_str_or_null(m->ca_file));
    json_object_set_new(j, "http-proxy", sacme_json_str_or_null(m->proxy_url));
    json_object_set_new(j, "http-proxy-auth-file",
                        sacme_json_str_or_null(m->proxy_auth_file));
    for (i = 0; i < m->domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(m->domains, i, sacme_domain_t *);
        json_t *d = json_object(), *names = json_array(), *mine = json_array();
        for (k = 0; k < dom->names->nelts; ++k) {
            json_array_append_new(names, json_string(APR_ARRAY_IDX(dom->names, k,
                                                                   const char *)));
        }
        json_object_set_new(d, "name", json_string(dom->name));
        json_object_set_new(d, "names", names);
        json_object_set_new(d, "key-type", json_string(sacme_key_type_name(dom->key_type)));
        json_object_set_new(d, "challenge",
                            json_string(sacme_chaltype_of(p, dom->challenge_none,
                                                          dom->challenges)));
        json_object_set_new(d, "renew-window",
                            json_string(sacme_window_str(p, &dom->renew_window)));
        if (dom->warn) {
            json_object_set_new(d, "warn-window", sacme_warn_json(dom->warn, p));
        }
        if (dom->profile) {
            json_object_set_new(d, "profile", json_string(dom->profile));
        }
        if (dom->cert_file) {
            /* the path only: sacmectl reads the certificate itself */
            json_object_set_new(d, "certificate-file", json_string(dom->cert_file));
        }
        if (dom->primary) {
            json_object_set_new(d, "primary", json_string(dom->primary->name));
        }
        /* by their place in "cas": a shared account is written once */
        for (k = 0; dom->cas && k < dom->cas->nelts; ++k) {
            for (c = 0; m->cas && c < m->cas->nelts; ++c) {
                if (APR_ARRAY_IDX(m->cas, c, sacme_ca_t *)
                        == APR_ARRAY_IDX(dom->cas, k, sacme_ca_t *)) {
                    json_array_append_new(mine, json_integer(c));
                }
            }
        }
        json_object_set_new(d, "cas", mine);
        if (dom->failover) {
            json_object_set_new(d, "failover", json_integer(dom->failover));
        }
        if (dom->ari_off) {
            /* so that sacmectl does not take a leftover ari.json for news */
            json_object_set_new(d, "ari", json_false());
        }
        json_array_append_new(doms, d);
    }
    json_object_set_new(j, "domains", doms);
    json_object_set_new(j, "driver-uid", json_integer((json_int_t)store->driver_uid));
    json_object_set_new(j, "driver-gid", json_integer((json_int_t)store->driver_gid));
    json_object_set_new(j, "web-gid", json_integer((json_int_t)store->web_gid));
    /* Unchanged across most restarts: no durable write (and its fsync) on
     * the way to serving then, whatever the number of domains. */
    old = sacme_store_state_load(store, p, SACME_STATE_MANAGED, NULL, NULL);
    if (old && json_equal(old, j)) {
        return APR_SUCCESS;
    }
    return sacme_store_state_save(store, p, SACME_STATE_MANAGED, NULL, j, res);
}

static apr_status_t bad(sacme_result_t *res, const char *path, const char *what)
{
    return sacme_result_set(res, APR_EINVAL, "%s: %s", path, what);
}

/* Links the entry of a further key type to its domain, listed before it. */
static int link_unit(sacme_managed_t *m, sacme_domain_t *unit, const char *primary)
{
    sacme_domain_t *dom = NULL, *last;
    int i;

    for (i = 0; i < m->domains->nelts && !dom; ++i) {
        dom = APR_ARRAY_IDX(m->domains, i, sacme_domain_t *);
        if (dom->primary || strcmp(dom->name, primary)) {
            dom = NULL;
        }
    }
    if (!dom) {
        return 0;
    }
    for (last = dom; last->next_key; last = last->next_key) {
    }
    last->next_key = unit;
    unit->primary = dom;
    return 1;
}

/* The CAs: "cas", or the one "server" (and "eab-kid") of a file written
 * before several CAs. */
static apr_status_t read_cas(sacme_managed_t *m, json_t *j, apr_pool_t *p)
{
    json_t *cas = json_object_get(j, "cas"), *one;
    size_t i;

    m->cas = apr_array_make(p, 2, sizeof(sacme_ca_t *));
    if (!json_is_array(cas)) {
        cas = json_array();
        if (sacme_json_str(j, "server")) {
            json_array_append(cas, j);
        }
        sacme_json_own(p, cas);
    }
    json_array_foreach(cas, i, one) {
        const char *url = sacme_json_str(one, "server");
        const char *kid = sacme_json_str(one, "eab-kid");
        if (!url) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(m->cas, sacme_ca_t *) = sacme_ca_make(
            p, apr_pstrdup(p, url), kid ? sacme_eab_kid_only(p, kid) : NULL);
    }
    return APR_SUCCESS;
}

/* A domain's CAs by their places in m->cas; without a list (an older
 * file), the only one there is. */
static apr_status_t domain_cas(sacme_managed_t *m, sacme_domain_t *dom, json_t *list,
                               apr_pool_t *p)
{
    json_t *v;
    size_t i;

    dom->cas = apr_array_make(p, 2, sizeof(sacme_ca_t *));
    if (!json_is_array(list)) {
        if (m->cas->nelts) {
            APR_ARRAY_PUSH(dom->cas, sacme_ca_t *) = APR_ARRAY_IDX(m->cas, 0, sacme_ca_t *);
        }
        return APR_SUCCESS;
    }
    json_array_foreach(list, i, v) {
        json_int_t at = json_integer_value(v);
        if (!json_is_integer(v) || at < 0 || at >= m->cas->nelts) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(dom->cas, sacme_ca_t *) = APR_ARRAY_IDX(m->cas, (int)at, sacme_ca_t *);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_managed_read(const sacme_store_t *store, apr_pool_t *p,
                                sacme_managed_t **pm, sacme_result_t *res)
{
    const char *path = sacme_store_path(store, p, SACME_FILE_MANAGED, NULL, NULL);
    sacme_result_t *why = sacme_result_make(p);
    sacme_managed_t *m;
    json_t *j, *doms, *d;
    apr_uint64_t seed;
    size_t i;

    if (!(j = sacme_store_state_load(store, p, SACME_STATE_MANAGED, NULL, why))) {
        if (APR_STATUS_IS_ENOENT(why->status)) {
            return sacme_result_set(res, APR_ENOENT,
                                    "%s does not exist: is this the store of a server "
                                    "with mod_sacme and SacmeDomain, started at least "
                                    "once? (see SacmeStoreDir)", path);
        }
        return sacme_result_set(res, why->status, "%s", sacme_result_message(why, p));
    }
    m = apr_pcalloc(p, sizeof(*m));
    if (read_cas(m, j, p) != APR_SUCCESS) {
        return bad(res, path, "a CA without its server URL");
    }
    m->ca_file = sacme_json_str(j, "ca-file");
    m->proxy_url = sacme_json_str(j, "http-proxy");
    m->proxy_auth_file = sacme_json_str(j, "http-proxy-auth-file");
    m->driver_uid = json_is_integer(json_object_get(j, "driver-uid"))
                    ? (long)json_integer_value(json_object_get(j, "driver-uid")) : -1;
    m->driver_gid = json_is_integer(json_object_get(j, "driver-gid"))
                    ? (long)json_integer_value(json_object_get(j, "driver-gid")) : -1;
    m->web_gid = json_is_integer(json_object_get(j, "web-gid"))
                 ? (long)json_integer_value(json_object_get(j, "web-gid")) : -1;
    doms = json_object_get(j, "domains");
    if (!json_is_array(doms)) {
        return bad(res, path, "no domains");
    }
    m->domains = apr_array_make(p, (int)json_array_size(doms) + 1, sizeof(sacme_domain_t *));
    /* the seed the driver's renewal times were computed with */
    seed = sacme_store_jitter_seed(store, p);
    json_array_foreach(doms, i, d) {
        sacme_domain_t *dom = apr_pcalloc(p, sizeof(*dom));
        json_t *names = json_object_get(d, "names"), *n;
        const char *kt = sacme_json_str(d, "key-type");
        const char *win = sacme_json_str(d, "renew-window");
        const char *chal = sacme_json_str(d, "challenge");
        size_t k;

        dom->name = sacme_json_str(d, "name");
        if (!dom->name || !json_is_array(names) || !kt
            || sacme_key_type_parse(kt, &dom->key_type) != APR_SUCCESS) {
            return bad(res, path, "a domain without name, names or key type");
        }
        dom->names = apr_array_make(p, (int)json_array_size(names) + 1, sizeof(const char *));
        json_array_foreach(names, k, n) {
            if (json_is_string(n)) {
                APR_ARRAY_PUSH(dom->names, const char *) = apr_pstrdup(p, json_string_value(n));
            }
        }
        dom->challenge_none = chal && !strcmp(chal, "none");
        dom->challenges = sacme_chaltype_parse(p, chal);
        dom->cert_file = sacme_json_str(d, "certificate-file");
        dom->profile = sacme_json_str(d, "profile");
        dom->jitter_seed = seed;
        if (!win || sacme_window_parse(win, &dom->renew_window) != APR_SUCCESS) {
            dom->renew_window.percent = SACME_WINDOW_DEFAULT_PERCENT;
        }
        if (json_object_get(d, "warn-window")) {
            sacme_warn_t *w = apr_pcalloc(p, sizeof(*w));
            if (sacme_warn_from_json(json_object_get(d, "warn-window"), w, p)
                != APR_SUCCESS) {
                return bad(res, path, "a domain with an unreadable warn-window");
            }
            dom->warn = w;
        }
        if (domain_cas(m, dom, json_object_get(d, "cas"), p) != APR_SUCCESS) {
            return bad(res, path, "a domain with a CA that is not listed");
        }
        dom->failover = (int)json_integer_value(json_object_get(d, "failover"));
        dom->ari_off = json_is_false(json_object_get(d, "ari"));
        if (sacme_json_str(d, "primary") && !link_unit(m, dom, sacme_json_str(d, "primary"))) {
            return bad(res, path, "a key type's entry without its domain");
        }
        APR_ARRAY_PUSH(m->domains, sacme_domain_t *) = dom;
    }
    *pm = m;
    return APR_SUCCESS;
}

sacme_domain_t *sacme_managed_find(const sacme_managed_t *m, const char *name)
{
    char ipbuf[SACME_IP_TEXT_MAX];
    const char *ip = sacme_name_ip_canonical(name, 1, ipbuf);
    int i, k;

    /* an address as the configuration keeps it ("[0::1]" is "::1") */
    if (ip) {
        name = ip;
    }

    for (i = 0; i < m->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(m->domains, i, sacme_domain_t *);
        if (dom->primary) {
            continue;            /* found through its domain */
        }
        for (k = 0; k < dom->names->nelts; ++k) {
            if (!strcasecmp(APR_ARRAY_IDX(dom->names, k, const char *), name)) {
                return dom;
            }
        }
    }
    return NULL;
}
