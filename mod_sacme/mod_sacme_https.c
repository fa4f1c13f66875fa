/* SacmeRequireHttps: plain HTTP requests for a managed name (or a name
 * under a wildcard name of a domain, which its certificate covers as well)
 * are redirected to HTTPS once the name's certificate is in service, and
 * with "permanent"
 * its HTTPS responses carry Strict-Transport-Security.
 *
 * The parent decides at post_config which domains qualify (a certificate
 * activated, not the fallback, the setting on) and which HTTPS port serves
 * each (the port of the vhost mod_ssl or mod_tls enables SSL for and that
 * serves a name of the domain). The children only look that up: nothing
 * is read from the store per request. ACME challenge paths are never
 * redirected, so that HTTP-01 validation keeps working over plain HTTP. */
#include "mod_sacme_private.h"
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "mod_sacme_config.h"
#include "sacme_store.h"

/* Six months, the common choice for sites that mean to stay on HTTPS. */
#define HSTS_VALUE "max-age=15768000"
#define HTTPS_PORT 443

typedef struct {
    int status;                      /* 302 or 301 (for GET and HEAD) */
    apr_port_t port;                 /* of the HTTPS vhost; 0: none found */
} https_t;

/* primary sacme_domain_t * -> https_t *, of this generation (pconf); NULL
 * when no domain is redirected. */
static apr_hash_t *redirected;

static int has_live_set(const sacme_store_t *store, const sacme_domain_t *dom,
                        apr_pool_t *ptemp)
{
    for (; dom; dom = dom->next_key) {
        if (dom->cert_file
            || sacme_store_has_set(store, ptemp, SACME_GROUP_DOMAINS, dom->name)) {
            return 1;
        }
    }
    return 0;
}

void sacme_https_plan(const sacme_conf_t *conf, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    int i;

    redirected = NULL;
    if (!conf || !conf->store) {
        return;
    }
    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        https_t *h;

        /* a further key type's unit is looked at through its domain: the
         * names map to the domain, which is live if any of its units is */
        if (dom->primary || !dom->require_https
            || !has_live_set(conf->store, dom, ptemp)) {
            continue;
        }
        if (!redirected) {
            redirected = apr_hash_make(pconf);
        }
        h = apr_pcalloc(pconf, sizeof(*h));
        h->status = dom->require_https;
        apr_hash_set(redirected, apr_pmemdup(pconf, &dom, sizeof(dom)), sizeof(dom), h);
    }
}

/* The port a vhost listens on: 443 if it is one of them, else the first. */
static apr_port_t vhost_port(const server_rec *s)
{
    const server_addr_rec *a;
    apr_port_t first = 0;

    for (a = s->addrs; a; a = a->next) {
        if (a->host_port == HTTPS_PORT) {
            return HTTPS_PORT;
        }
        if (!first) {
            first = a->host_port;
        }
    }
    return first ? first : (s->port ? s->port : HTTPS_PORT);
}

/* mod_ssl and mod_tls run this hook for every vhost they enable SSL for,
 * after post_config planned: the one place that tells a vhost with SSL
 * from one without. Only notes the port; never gives files. */
static int note_https_vhost(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                            apr_array_header_t *key_files)
{
    sacme_domain_t *dom;
    https_t *h;
    apr_port_t port;

    if (!redirected || !(dom = sacme_domain_of_server(s))
        || !(h = apr_hash_get(redirected, &dom, sizeof(dom)))) {
        return DECLINED;
    }
    port = vhost_port(s);
    if (!h->port || port == HTTPS_PORT) {
        h->port = port;
    }
    return DECLINED;
}

static https_t *https_of(request_rec *r)
{
    sacme_conf_t *conf = sacme_live_conf();
    sacme_domain_t *dom;

    if (!redirected || !conf || !r->hostname
        || !(dom = sacme_conf_domain_serving(conf, r->hostname, NULL))) {
        return NULL;
    }
    return apr_hash_get(redirected, &dom, sizeof(dom));
}

/* After the HTTP-01 responder (APR_HOOK_FIRST), before authentication and
 * rewrites: a redirect that depends on nothing else. */
static int require_https(request_rec *r)
{
    https_t *h = https_of(r);
    const char *path = r->parsed_uri.path, *port = "", *query = r->parsed_uri.query, *host;
    int status;

    if (!h) {
        return DECLINED;
    }
    if (ap_ssl_conn_is_ssl(r->connection)) {
        if (h->status == HTTP_MOVED_PERMANENTLY) {
            /* err_headers_out: error responses carry it too */
            apr_table_setn(r->err_headers_out, "Strict-Transport-Security", HSTS_VALUE);
        }
        return DECLINED;
    }
    if (!path || path[0] != '/'
        || !strncmp(path, SACME_CHALLENGE_PREFIX, sizeof(SACME_CHALLENGE_PREFIX) - 1)) {
        return DECLINED;
    }
    if (!h->port) {
        /* No vhost serves the name over HTTPS: a redirect would lose it. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SACME_LOGNO(10300)
                      "SacmeRequireHttps: no vhost with SSL serves %s, so plain HTTP "
                      "is not redirected", r->hostname);
        return DECLINED;
    }
    if (h->port != HTTPS_PORT) {
        port = apr_psprintf(r->pool, ":%u", (unsigned)h->port);
    }
    /* httpd keeps an IPv6 Host without its brackets; a URL needs them */
    host = strchr(r->hostname, ':') ? apr_pstrcat(r->pool, "[", r->hostname, "]", NULL)
                                    : r->hostname;
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, "https://", host, port, path,
                               query ? "?" : "", query ? query : "", NULL));
    /* 301 and 302 let clients turn other methods into GET: 307 and 308
     * keep the method and the body. */
    status = h->status;
    if (r->method_number != M_GET) {
        status = status == HTTP_MOVED_PERMANENTLY ? HTTP_PERMANENT_REDIRECT
                                                  : HTTP_TEMPORARY_REDIRECT;
    }
    return status;
}

void sacme_https_register_hooks(void)
{
    ap_hook_post_read_request(require_https, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_cert_files(note_https_vhost, NULL, NULL, APR_HOOK_FIRST);
}
