/* The tls-alpn-01 responder (RFC 8737): a CA connects to the HTTPS port
 * with ALPN "acme-tls/1" and the identifier as SNI, and must be shown the
 * challenge certificate the driver published in the store.
 *
 * httpd's core does the negotiation, mod_ssl the handshake:
 *   protocol_propose  we propose "acme-tls/1" only when the client offers
 *                     it and an answer is published for its SNI name (read
 *                     now and kept with the connection);
 *   protocol_switch   mod_ssl switches to it (the protocol must be in the
 *                     vhost's Protocols: sacme_alpn_plan adds it);
 *   ssl_answer_challenge  mod_ssl asks for the certificate to present
 *                     instead of the vhost's: the one we kept;
 *   process_connection  after the handshake, the connection is closed: no
 *                     HTTP is spoken on acme-tls/1 (RFC 8737 §3).
 * Every other connection, including one offering acme-tls/1 for a name
 * with nothing published, gets what it would get without mod_sacme.
 */
#include "mod_sacme_private.h"
#include <apr_strings.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <util_filter.h>

#include "mod_sacme_config.h"
#include "sacme_alpn.h"
#include "sacme_chaltype.h"
#include "sacme_store.h"

/* What a connection offering acme-tls/1 holds (in its conn_config). */
typedef struct {
    const char *name;        /* the identifier answered for */
    const char *pem;         /* its certificate and key, read at propose */
    int switched;            /* mod_ssl switched the connection to acme-tls/1 */
} alpn_conn_t;

/* Whether some domain of this generation may be validated by tls-alpn-01:
 * without one, none of the hooks below looks at a connection. */
static int alpn_enabled;

static alpn_conn_t *conn_state(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &sacme_module);
}

/* Whether a domain may be validated by tls-alpn-01. */
static int domain_uses_alpn(const sacme_domain_t *dom)
{
    return !dom->challenge_none && sacme_chaltype_has(dom->challenges, SACME_CHAL_TLSALPN01);
}

/* mod_ssl only switches to a protocol the vhost's Protocols directive
 * lists (core: ap_select_protocol). Rather than have every admin add
 * acme-tls/1 there, it is appended to each server's list: last, so it is
 * never preferred over what the admin listed, and never announced in an
 * Upgrade header (core announces only protocols preferred to the current
 * one). An empty list means "http/1.1 only" and stays that. The list may
 * be shared with the main server's, so it is copied first. */
static void allow_protocol(server_rec *s, apr_pool_t *pconf)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    apr_array_header_t *protocols;

    if (ap_array_str_contains(core->protocols, SACME_ALPN_PROTOCOL)) {
        return;
    }
    protocols = apr_array_copy(pconf, core->protocols);
    if (protocols->nelts == 0) {
        APR_ARRAY_PUSH(protocols, const char *) = AP_PROTOCOL_HTTP1;
    }
    APR_ARRAY_PUSH(protocols, const char *) = SACME_ALPN_PROTOCOL;
    core->protocols = protocols;
}

void sacme_alpn_plan(const sacme_conf_t *conf, server_rec *s, apr_pool_t *pconf)
{
    server_rec *vs;
    int i;

    alpn_enabled = 0;
    if (!conf || !conf->store) {
        return;
    }
    for (i = 0; i < conf->domains->nelts && !alpn_enabled; ++i) {
        alpn_enabled = domain_uses_alpn(APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *));
    }
    if (!alpn_enabled) {
        return;
    }
    /* Every server: the CA's SNI picks the vhost of the name, and for an
     * IP identifier (a reverse-DNS SNI no vhost names) the default vhost of
     * the address and port. */
    for (vs = s; vs; vs = vs->next) {
        allow_protocol(vs, pconf);
    }
}

/* The identifier an SNI name stands for, as the driver names its answer
 * in the store: the name in lower case, or for a reverse-DNS name (RFC 8738
 * §6) the configured name that is that IP address, however it is written
 * there (the order, and so the store, carries the configured text). */
static const char *sni_identifier(const sacme_conf_t *conf, const char *sni, apr_pool_t *p)
{
    const char *ip = sacme_alpn_sni_ip(p, sni);
    char *name;
    int i, j;

    if (ip) {
        for (i = 0; i < conf->domains->nelts; ++i) {
            const sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);

            for (j = 0; j < dom->names->nelts; ++j) {
                const char *n = APR_ARRAY_IDX(dom->names, j, const char *);

                if (sacme_alpn_same_ip(n, ip)) {
                    return n;
                }
            }
        }
        return NULL;
    }
    name = apr_pstrdup(p, sni);
    ap_str_tolower(name);
    return name;
}

static int alpn_propose(conn_rec *c, request_rec *r, server_rec *s,
                        const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    sacme_conf_t *conf = sacme_live_conf();
    const sacme_domain_t *dom;
    const char *sni, *name;
    sacme_result_t *res;
    alpn_conn_t *st;
    apr_status_t rv;
    char *pem;

    /* Only in the TLS handshake (no request yet), only when offered. */
    if (!alpn_enabled || r || !conf || !conf->store
        || !ap_array_str_contains(offers, SACME_ALPN_PROTOCOL) || !ap_ssl_conn_is_ssl(c)) {
        return DECLINED;
    }
    sni = ap_ssl_var_lookup(c->pool, s, c, NULL, "SSL_TLS_SNI");
    if (!sni || !*sni || !(name = sni_identifier(conf, sni, c->pool))
        || !(dom = sacme_conf_domain_of(conf, name)) || !domain_uses_alpn(dom)) {
        return DECLINED;
    }
    /* Read now, not when the certificate is asked for: what is proposed is
     * then surely what is presented, even if the driver withdraws it in
     * between. */
    res = sacme_result_make(c->pool);
    rv = sacme_store_alpn_get(conf->store, c->pool, name, &pem, res);
    if (APR_STATUS_IS_ENOENT(rv)) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, SACME_LOGNO(10500)
                      "acme-tls/1 offered for %s, but no tls-alpn-01 challenge of it "
                      "is open: not proposed, the handshake goes on as for any client "
                      "(nothing to do unless the CA reports a failed tls-alpn-01 "
                      "validation of %s)", name, name);
        return DECLINED;
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, sacme_result_log_status(res), c,
                      SACME_LOGNO(10503)
                      "cannot read the tls-alpn-01 answer for %s: %s; the CA's "
                      "validation of %s fails. Check the owner and mode of the "
                      "store's challenges/%s (the driver's, group of the httpd User, "
                      "files 0640)", name, sacme_result_message(res, c->pool), name,
                      name);
        return DECLINED;
    }
    st = apr_pcalloc(c->pool, sizeof(*st));
    st->name = name;
    st->pem = pem;
    ap_set_module_config(c->conn_config, &sacme_module, st);
    APR_ARRAY_PUSH(proposals, const char *) = SACME_ALPN_PROTOCOL;
    return OK;
}

static int alpn_switch(conn_rec *c, request_rec *r, server_rec *s, const char *protocol)
{
    alpn_conn_t *st = conn_state(c);

    if (!st || r || strcmp(protocol, SACME_ALPN_PROTOCOL)) {
        return DECLINED;
    }
    st->switched = 1;
    return DONE;
}

static const char *alpn_get(const conn_rec *c)
{
    alpn_conn_t *st = conn_state(c);

    return st && st->switched ? SACME_ALPN_PROTOCOL : NULL;
}

static int alpn_answer(conn_rec *c, const char *server_name, const char **cert_pem,
                       const char **key_pem)
{
    alpn_conn_t *st = conn_state(c);

    if (!st || !st->switched) {
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, SACME_LOGNO(10501)
                  "answering the tls-alpn-01 challenge for %s (SNI %s)", st->name,
                  server_name ? server_name : "none");
    *cert_pem = st->pem;
    *key_pem = NULL;          /* in the same PEM text */
    return OK;
}

/* Before HTTP/1 reads a request: a connection the handshake switched to
 * acme-tls/1 ends with it. The handshake happens at the first read, so it
 * is done here (mode INIT reads no data) for TLS connections while
 * tls-alpn-01 is in use; every other connection goes on to HTTP as before. */
static int alpn_process_connection(conn_rec *c)
{
    apr_bucket_brigade *bb;
    apr_status_t rv;
    alpn_conn_t *st;

    if (!alpn_enabled || c->master || c->keepalives > 0 || !ap_ssl_conn_is_ssl(c)) {
        return DECLINED;
    }
    bb = apr_brigade_create(c->pool, c->bucket_alloc);
    rv = ap_get_brigade(c->input_filters, bb, AP_MODE_INIT, APR_BLOCK_READ, 0);
    apr_brigade_destroy(bb);
    st = conn_state(c);
    if (rv != APR_SUCCESS || !st || !st->switched) {
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, SACME_LOGNO(10502)
                  "tls-alpn-01 handshake for %s done; closing the connection", st->name);
    c->keepalive = AP_CONN_CLOSE;
    return OK;
}

void sacme_alpn_register_hooks(void)
{
    ap_hook_protocol_propose(alpn_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(alpn_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(alpn_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(alpn_answer, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_process_connection(alpn_process_connection, NULL, NULL, APR_HOOK_FIRST);
}
