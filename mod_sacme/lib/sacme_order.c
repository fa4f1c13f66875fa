/* Orders, authorizations, challenges, finalize and download. */
#include "sacme_order.h"
#include "sacme_b64.h"
#include "sacme_json.h"
#include "sacme_name.h"
#include "sacme_problem.h"

static const char *str_dup(apr_pool_t *p, const json_t *obj, const char *key)
{
    const char *s = sacme_json_str(obj, key);
    return s ? apr_pstrdup(p, s) : NULL;
}

/* URLs in objects may be relative in theory; resolve them once here. */
static const char *url_dup(apr_pool_t *p, const json_t *obj, const char *key,
                           const char *base)
{
    const char *s = sacme_json_str(obj, key);
    return s ? sacme_http_resolve(p, base, s) : NULL;
}

static json_t *obj_copy(apr_pool_t *p, json_t *j)
{
    return j ? sacme_json_own(p, json_deep_copy(j)) : NULL;
}

apr_status_t sacme_order_parse(apr_pool_t *p, const json_t *json,
                               const char *url, const char *base,
                               sacme_order_t **porder, sacme_result_t *res)
{
    sacme_order_t *order;
    json_t *authzs, *v;
    size_t i;

    if (!json_is_object(json)) {
        return sacme_result_set(res, SACME_EPROTO, "the order %s is not a JSON object",
                                url ? url : "");
    }
    order = apr_pcalloc(p, sizeof(*order));
    order->url = url ? apr_pstrdup(p, url) : NULL;
    order->status = str_dup(p, json, "status");
    order->finalize = url_dup(p, json, "finalize", base);
    order->certificate = url_dup(p, json, "certificate", base);
    order->error = obj_copy(p, sacme_json_obj(json, "error"));
    order->profile = str_dup(p, json, "profile");
    order->authorizations = apr_array_make(p, 4, sizeof(const char *));
    authzs = sacme_json_arr(json, "authorizations");
    json_array_foreach(authzs, i, v) {
        if (json_is_string(v)) {
            APR_ARRAY_PUSH(order->authorizations, const char *) =
                sacme_http_resolve(p, base, json_string_value(v));
        }
    }
    if (!order->status) {
        return sacme_result_set(res, SACME_EPROTO, "the order %s has no status",
                                url ? url : "");
    }
    if (!order->finalize) {
        return sacme_result_set(res, SACME_EPROTO, "the order %s has no finalize URL",
                                url ? url : "");
    }
    *porder = order;
    return APR_SUCCESS;
}

apr_status_t sacme_order_new(sacme_acme_t *acme, const apr_array_header_t *names,
                             const char *profile, apr_pool_t *p,
                             sacme_order_t **order, sacme_result_t *res)
{
    return sacme_order_new_replacing(acme, names, profile, NULL, p, order, res);
}

apr_status_t sacme_order_new_replacing(sacme_acme_t *acme,
                                       const apr_array_header_t *names,
                                       const char *profile, const char *replaces,
                                       apr_pool_t *p, sacme_order_t **order,
                                       sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object()), *idents = json_array();
    sacme_acme_response_t *resp;
    apr_status_t rv;
    int i;

    if (!names || names->nelts < 1 || names->nelts > SACME_MAX_NAMES) {
        return sacme_result_set(res, APR_EINVAL, "an order needs 1 to %d names",
                                SACME_MAX_NAMES);
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;   /* newOrder's URL comes from the directory */
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        json_t *ident = json_object();
        json_object_set_new(ident, "type",
                            json_string(sacme_name_is_ip(name) ? "ip" : "dns"));
        json_object_set_new(ident, "value", json_string(name));
        json_array_append_new(idents, ident);
    }
    json_object_set_new(payload, "identifiers", idents);
    if (profile) {
        json_object_set_new(payload, "profile", json_string(profile));
    }
    if (replaces) {
        json_object_set_new(payload, "replaces", json_string(replaces));
    }
    rv = sacme_acme_post(acme, acme->dir->new_order, payload, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "new order for %s", APR_ARRAY_IDX(names, 0, const char *));
        return rv;
    }
    if (!resp->location) {
        return sacme_result_set(res, SACME_EPROTO,
                                "the CA created an order but gave no order URL "
                                "(no Location header)");
    }
    rv = sacme_order_parse(p, resp->json, resp->location, resp->location, order, res);
    if (rv == APR_SUCCESS) {
        (*order)->retry_after = sacme_acme_retry_after(resp);
    }
    return rv;
}

apr_status_t sacme_order_get(sacme_acme_t *acme, const char *url, apr_pool_t *p,
                             sacme_order_t **order, sacme_result_t *res)
{
    sacme_acme_response_t *resp;
    apr_status_t rv;

    rv = sacme_acme_post(acme, url, NULL, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_order_parse(p, resp->json, url, url, order, res);
    if (rv == APR_SUCCESS) {
        (*order)->retry_after = sacme_acme_retry_after(resp);
    }
    return rv;
}

apr_status_t sacme_authz_parse(apr_pool_t *p, const json_t *json,
                               const char *url, const char *base,
                               sacme_authz_t **pauthz, sacme_result_t *res)
{
    sacme_authz_t *authz;
    json_t *chals, *v;
    size_t i;

    if (!json_is_object(json)) {
        return sacme_result_set(res, SACME_EPROTO,
                                "the authorization %s is not a JSON object", url);
    }
    authz = apr_pcalloc(p, sizeof(*authz));
    authz->url = apr_pstrdup(p, url);
    authz->status = str_dup(p, json, "status");
    authz->identifier = str_dup(p, sacme_json_obj(json, "identifier"), "value");
    authz->ip = sacme_json_str(sacme_json_obj(json, "identifier"), "type")
                && !strcmp(sacme_json_str(sacme_json_obj(json, "identifier"), "type"),
                           "ip");
    authz->wildcard = sacme_json_bool(json, "wildcard");
    authz->challenges = apr_array_make(p, 4, sizeof(sacme_challenge_t *));
    chals = sacme_json_arr(json, "challenges");
    json_array_foreach(chals, i, v) {
        sacme_challenge_t *c = apr_pcalloc(p, sizeof(*c));
        c->type = str_dup(p, v, "type");
        c->url = url_dup(p, v, "url", base);
        c->token = str_dup(p, v, "token");
        c->status = str_dup(p, v, "status");
        c->error = obj_copy(p, sacme_json_obj(v, "error"));
        /* A challenge we cannot address is no challenge; keep the rest
         * (unknown types such as sectigo-email-01 are skipped at pick). */
        if (c->type && c->url) {
            APR_ARRAY_PUSH(authz->challenges, sacme_challenge_t *) = c;
        }
    }
    if (!authz->status || !authz->identifier) {
        return sacme_result_set(res, SACME_EPROTO,
                                "the authorization %s lacks status or identifier", url);
    }
    *pauthz = authz;
    return APR_SUCCESS;
}

apr_status_t sacme_authz_get(sacme_acme_t *acme, const char *url, apr_pool_t *p,
                             sacme_authz_t **authz, sacme_result_t *res)
{
    sacme_acme_response_t *resp;
    apr_status_t rv;

    rv = sacme_acme_post(acme, url, NULL, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_authz_parse(p, resp->json, url, url, authz, res);
    if (rv == APR_SUCCESS) {
        (*authz)->retry_after = sacme_acme_retry_after(resp);
    }
    return rv;
}

sacme_challenge_t *sacme_authz_pick(const sacme_authz_t *authz,
                                    const apr_array_header_t *types)
{
    int i, j;

    for (i = 0; types && i < types->nelts; ++i) {
        const char *want = APR_ARRAY_IDX(types, i, const char *);
        int dns = !strcmp(want, "dns-01");
        if ((authz->wildcard && !dns) || (authz->ip && dns)) {
            continue;
        }
        for (j = 0; j < authz->challenges->nelts; ++j) {
            sacme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, j,
                                                 sacme_challenge_t *);
            if (!strcmp(c->type, want) && c->token) {
                return c;
            }
        }
    }
    return NULL;
}

apr_status_t sacme_challenge_respond(sacme_acme_t *acme,
                                     const sacme_challenge_t *chal,
                                     apr_pool_t *p, sacme_result_t *res)
{
    json_t *empty = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;

    return sacme_acme_post(acme, chal->url, empty, 0, p, &resp, res);
}

apr_status_t sacme_order_finalize(sacme_acme_t *acme, sacme_order_t *order,
                                  const unsigned char *csr, apr_size_t csr_len,
                                  apr_pool_t *p, sacme_order_t **updated,
                                  sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;
    apr_status_t rv;
    int lost = 0;

    json_object_set_new(payload, "csr",
                        json_string(sacme_b64url_encode(p, csr, csr_len)));
    for (;;) {
        rv = sacme_acme_post_unrepeated(acme, order->finalize, payload, p, &resp, res);
        if (rv == APR_SUCCESS) {
            break;
        }
        if (!sacme_acme_answer_lost(rv, res) || lost++ >= SACME_MAX_QUICK_RETRIES) {
            sacme_result_prefix(res, "finalizing the order %s", order->url);
            return rv;
        }
        /* The CA may have taken the CSR before the answer was lost: sent
         * again, it would refuse the finalize (orderNotReady) of an order
         * that is on its way. Its state says whether to send it again. */
        sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10210)
                  "finalizing the order %s: no complete answer (%s); asking the "
                  "CA for the order's state", order->url,
                  res && res->detail ? res->detail : "no detail");
        rv = sacme_order_get(acme, order->url, p, updated, res);
        if (rv != APR_SUCCESS || strcmp((*updated)->status, "ready")) {
            return rv;
        }
    }
    /* 200 or 201, Location or not: the order URL we already have stays the
     * one to poll (RFC 8555 §7.4; Sectigo and others differ here). */
    if (!resp->json) {
        return sacme_order_get(acme, order->url, p, updated, res);
    }
    rv = sacme_order_parse(p, resp->json, order->url, order->url, updated, res);
    if (rv == APR_SUCCESS) {
        (*updated)->retry_after = sacme_acme_retry_after(resp);
    }
    return rv;
}

apr_status_t sacme_cert_download(sacme_acme_t *acme, const char *url,
                                 apr_pool_t *p, sacme_chain_t **pchain,
                                 sacme_result_t *res)
{
    sacme_acme_response_t *resp;
    sacme_chain_t *chain;
    apr_status_t rv;
    const char *at = url;

    rv = sacme_acme_post(acme, url, NULL, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "downloading the certificate");
        return rv;
    }
    rv = sacme_chain_parse(p, resp->http->body, resp->http->body_len, &chain, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the certificate at %s (Content-Type '%s')", url,
                            sacme_http_media_type(resp->http, p));
        if (rv == APR_EINVAL) {
            rv = SACME_EPROTO;      /* the CA's download, not our input */
            if (res) {
                res->status = rv;
            }
        }
        return rv;
    }
    /* Only a leaf: collect issuers along rel="up" (RFC 8555 §7.4.2), bounded
     * by the chain limit. */
    while (chain->certs->nelts < SACME_MAX_CHAIN) {
        apr_array_header_t *ups = sacme_http_links(resp->http, "up", at, p);
        sacme_chain_t *more;
        int i;

        if (ups->nelts == 0 || (at == url && chain->certs->nelts > 1)) {
            break;
        }
        at = APR_ARRAY_IDX(ups, 0, const char *);
        rv = sacme_acme_post(acme, at, NULL, 0, p, &resp, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "fetching the issuer certificate");
            return rv;
        }
        rv = sacme_chain_parse(p, resp->http->body, resp->http->body_len, &more, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "the issuer certificate at %s", at);
            return rv;
        }
        for (i = 0; i < more->certs->nelts; ++i) {
            X509 *issuer = APR_ARRAY_IDX(more->certs, i, X509 *);
            if (!X509_up_ref(issuer)) {
                return sacme_result_set(res, APR_ENOMEM, "out of memory");
            }
            sacme_chain_add(chain, issuer);
        }
    }
    *pchain = chain;
    return APR_SUCCESS;
}

int sacme_token_ok(const char *t)
{
    apr_size_t n = t ? strlen(t) : 0, i;

    if (n < 16 || n > 256) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}
