/* How names are proven to the CA: SacmeChallenge (the types, in order of
 * preference, per domain) and SacmePortMap (which local ports the CA's
 * validation reaches), the default list from the server's listeners, and
 * the start-up checks of lists that can never work. */
#include <apr_strings.h>
#include <ap_listen.h>
#include <http_log.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "sacme_chaltype.h"

/* SacmeChallenge TYPE [TYPE ...] | none */
const char *sacme_cmd_challenge(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    apr_array_header_t *types;
    int i;

    (void)dc;
    if (!conf) {
        return err;
    }
    if (argc < 1) {
        return "SacmeChallenge needs one or more of http-01, tls-alpn-01, dns-01 (in "
               "order of preference), or none";
    }
    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        conf->cur->challenge_none = 1;
        conf->cur->challenges = NULL;
        return NULL;
    }
    types = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        const char *type = sacme_chaltype_known(argv[i]);
        if (!strcasecmp(argv[i], "none")) {
            return "SacmeChallenge: 'none' (names pre-validated at the CA) stands "
                   "alone; it cannot be combined with challenge types";
        }
        if (!type) {
            return apr_psprintf(cmd->pool, "SacmeChallenge: '%s' is not a challenge "
                                "type this server can answer; use http-01, "
                                "tls-alpn-01 or dns-01 (in order of preference), or "
                                "none for names the CA has pre-validated", argv[i]);
        }
        if (sacme_chaltype_has(types, type)) {
            return apr_psprintf(cmd->pool, "SacmeChallenge: %s is listed twice", type);
        }
        APR_ARRAY_PUSH(types, const char *) = type;
    }
    conf->cur->challenge_none = 0;
    conf->cur->challenges = types;
    return NULL;
}

/* SacmePortMap http:PORT [https:PORT]: the local ports that the CA's
 * requests to port 80 and 443 of the public address arrive at. */
const char *sacme_cmd_port_map(cmd_parms *cmd, void *dc, const char *a, const char *b)
{
    const char *err, *args[2] = { a, b };
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    int i;

    (void)dc;
    if (!conf) {
        return err;
    }
    for (i = 0; i < 2 && args[i]; ++i) {
        const char *colon = strchr(args[i], ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        int *slot = NULL;
        if (colon && (apr_size_t)(colon - args[i]) == 4 && !strncasecmp(args[i], "http", 4)) {
            slot = &conf->port_map_http;
        }
        else if (colon && (apr_size_t)(colon - args[i]) == 5
                 && !strncasecmp(args[i], "https", 5)) {
            slot = &conf->port_map_https;
        }
        if (!slot || !colon[1] || *end || port < 1 || port > 65535) {
            return apr_psprintf(cmd->pool, "SacmePortMap: '%s' is not http:PORT or "
                                "https:PORT (the local port, 1-65535, that the CA's "
                                "requests to port 80 or 443 arrive at)", args[i]);
        }
        if (*slot) {
            return apr_psprintf(cmd->pool, "SacmePortMap: the %s port is given twice",
                                slot == &conf->port_map_http ? "http" : "https");
        }
        *slot = (int)port;
    }
    return NULL;
}

/* Whether httpd listens on port (on any address). */
static int listens_on(int port)
{
    ap_listen_rec *lr;

    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port) {
            return 1;
        }
    }
    return 0;
}

static int have_ssl(void)
{
    return ap_find_linked_module("mod_ssl.c") != NULL;
}

/* The list of a domain without SacmeChallenge, as mod_md does it: http-01
 * where the CA's requests to port 80 arrive, tls-alpn-01 where those to
 * 443 reach mod_ssl; http-01 when neither (port forwarding the server
 * cannot see), which sacme_conf_tell_challenges says once the log is open. */
static apr_array_header_t *default_types(sacme_conf_t *conf, apr_pool_t *p)
{
    apr_array_header_t *types = apr_array_make(p, 2, sizeof(const char *));
    int http = conf->port_map_http ? conf->port_map_http : 80;
    int https = conf->port_map_https ? conf->port_map_https : 443;

    if (listens_on(http)) {
        APR_ARRAY_PUSH(types, const char *) = SACME_CHAL_HTTP01;
    }
    if (have_ssl() && listens_on(https)) {
        APR_ARRAY_PUSH(types, const char *) = SACME_CHAL_TLSALPN01;
    }
    if (!types->nelts) {
        APR_ARRAY_PUSH(types, const char *) = SACME_CHAL_HTTP01;
        conf->no_challenge_port = 1;
    }
    return types;
}

void sacme_conf_tell_challenges(const sacme_conf_t *conf, server_rec *s)
{
    if (conf && conf->no_challenge_port) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10450)
                     "httpd listens on neither port %d nor port %d with mod_ssl: "
                     "domains without SacmeChallenge use http-01, which works only "
                     "if the CA's requests to port 80 are forwarded here; name the "
                     "local ports with SacmePortMap, or set SacmeChallenge",
                     conf->port_map_http ? conf->port_map_http : 80,
                     conf->port_map_https ? conf->port_map_https : 443);
    }
}

int sacme_conf_challenges(sacme_conf_t *conf, apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *dflt = NULL;
    int i, j;

    if (conf->port_map_http && !listens_on(conf->port_map_http)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10451)
                     "SacmePortMap http:%d: httpd does not listen on port %d, so the "
                     "CA's http-01 requests forwarded there would find nothing; add "
                     "'Listen %d' or correct the port", conf->port_map_http,
                     conf->port_map_http, conf->port_map_http);
        return !OK;
    }
    if (conf->port_map_https && !listens_on(conf->port_map_https)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10452)
                     "SacmePortMap https:%d: httpd does not listen on port %d, so the "
                     "CA's tls-alpn-01 handshakes forwarded there would find nothing; "
                     "add 'Listen %d' or correct the port", conf->port_map_https,
                     conf->port_map_https, conf->port_map_https);
        return !OK;
    }
    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        if (dom->cert_file || dom->challenge_none) {
            continue;   /* nothing to prove here */
        }
        if (!dom->challenges) {
            if (!dflt) {
                dflt = default_types(conf, p);
            }
            dom->challenges = dflt;
        }
        else if (sacme_chaltype_has(dom->challenges, SACME_CHAL_TLSALPN01) && !have_ssl()) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10453)
                         "SacmeChallenge tls-alpn-01 (domain %s) is answered in the "
                         "TLS handshake by mod_ssl, which is not loaded: load it, or "
                         "choose another type", dom->name);
            return !OK;
        }
        for (j = 0; j < dom->names->nelts; ++j) {
            const char *name = APR_ARRAY_IDX(dom->names, j, const char *);
            if (name[0] == '*' && !sacme_chaltype_has(dom->challenges, SACME_CHAL_DNS01)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10041)
                             "SacmeDomain %s: the wildcard '%s' cannot be validated "
                             "with SacmeChallenge %s (CAs validate wildcards over DNS "
                             "only): add dns-01 to SacmeChallenge (with SacmeDnsCmd), "
                             "or pre-validate it at the CA and set 'SacmeChallenge "
                             "none', or list the names", dom->name, name,
                             sacme_chaltype_str(p, dom->challenges));
                return !OK;
            }
            if (sacme_name_is_ip(name)
                && !sacme_chaltype_has(dom->challenges, SACME_CHAL_HTTP01)
                && !sacme_chaltype_has(dom->challenges, SACME_CHAL_TLSALPN01)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10520)
                             "SacmeDomain %s: the IP address '%s' cannot be validated "
                             "with SacmeChallenge %s (an address has no DNS name for "
                             "dns-01's TXT record, RFC 8738): add http-01 or "
                             "tls-alpn-01 to SacmeChallenge, or give the address a "
                             "<SacmeDomainSet> of its own with one of them",
                             dom->name, name, sacme_chaltype_str(p, dom->challenges));
                return !OK;
            }
        }
    }
    return OK;
}
