/* The HTTP-01 responder: answers GET /.well-known/acme-challenge/<token>
 * for a managed name with the key authorization the driver published.
 *
 * It runs in post_read_request, before authentication, rewrites and
 * redirects (which would otherwise hide the answer from the CA), and
 * answers only for an exact token published for that very host. Everything
 * else - a foreign host, an unknown or malformed token, an encoded or
 * traversing path - declines and is served as httpd would anyway. */
#include "mod_sacme_private.h"
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_log.h>

#include "mod_sacme_config.h"
#include "sacme_order.h"
#include "sacme_store.h"

#define MAX_KEY_AUTHZ 1024

int sacme_challenge_answer(request_rec *r)
{
    sacme_conf_t *conf = sacme_conf_get(r->server);
    sacme_domain_t *dom;
    const char *path = r->parsed_uri.path, *token, *ip;
    char *data, *host, ipbuf[SACME_IP_TEXT_MAX];
    apr_size_t len;

    if (!conf || !conf->domains->nelts || !path || r->parsed_uri.query
        || strncmp(path, SACME_CHALLENGE_PREFIX, sizeof(SACME_CHALLENGE_PREFIX) - 1)) {
        return DECLINED;
    }
    token = path + sizeof(SACME_CHALLENGE_PREFIX) - 1;
    /* base64url only: nothing that could leave the challenges directory */
    if (!sacme_token_ok(token) || !r->hostname) {
        return DECLINED;
    }
    /* Exact names only: a host that a wildcard name merely covers is in no
     * order (CAs validate wildcards over DNS), so nothing is answered for
     * it over HTTP. A managed IP address is answered for when the CA's
     * request names it (RFC 8738 §3: Host is the address, an IPv6 one in
     * brackets). */
    dom = sacme_conf_domain_of(conf, r->hostname);
    if (!dom || dom->challenge_none) {
        return DECLINED;
    }
    /* the store knows an address by its canonical text (a Host of
     * "[0:0::1]" is the managed name "::1") */
    if ((ip = sacme_name_ip_canonical(r->hostname, 1, ipbuf))) {
        host = apr_pstrdup(r->pool, ip);
    }
    else {
        host = apr_pstrdup(r->pool, r->hostname);
        ap_str_tolower(host);
    }
    if (!conf->store || sacme_store_challenge_get(conf->store, r->pool, host, token,
                                                  MAX_KEY_AUTHZ, &data, &len, NULL)
                            != APR_SUCCESS) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SACME_LOGNO(10034)
                  "answering the http-01 challenge %s for %s", token, host);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rwrite(data, (int)len, r);
    ap_finalize_request_protocol(r);
    return DONE;
}
