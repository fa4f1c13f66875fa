/* Which managed domain serves a vhost, and the start-up check that no vhost
 * with SSL needs two of them.
 *
 * A vhost is given one certificate (one per key type) by mod_ssl, the one
 * of the domain its names lead to: a name of the domain, else a wildcard
 * name of a domain covering it (exact names first, so a domain of its own
 * for c.example.com wins over one for *.example.com). Names of another
 * domain in the same vhost would be served a certificate that does not
 * cover them, so `apachectl -t` refuses such a vhost, when it has SSL,
 * rather than let clients find out. */
#include <strings.h>

#include <http_core.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"

/* The idx-th name of vhost s that may be managed: its ServerName, then its
 * ServerAlias names, then the aliases httpd keeps apart for their
 * wildcard characters (only "*.example.com" can match, as a wildcard name
 * of a domain). NULL for an index without a name; *n is the count. */
static const char *vhost_name(const server_rec *s, int idx, int *n)
{
    int names = s->names ? s->names->nelts : 0;
    int wild = s->wild_names ? s->wild_names->nelts : 0;

    *n = 1 + names + wild;
    if (idx == 0) {
        return s->server_hostname;
    }
    if (idx <= names) {
        return APR_ARRAY_IDX(s->names, idx - 1, const char *);
    }
    return idx < *n ? APR_ARRAY_IDX(s->wild_names, idx - 1 - names, const char *) : NULL;
}

sacme_domain_t *sacme_vhost_domain(const sacme_conf_t *conf, const server_rec *s)
{
    sacme_domain_t *dom;
    const char *name;
    int i, n = 1;

    for (i = 0; i < n; ++i) {
        if ((name = vhost_name(s, i, &n))
            && (dom = sacme_conf_domain_serving(conf, name, NULL))) {
            return dom;
        }
    }
    return NULL;
}

/* The last SSLEngine among the directives from first on (not looking into
 * sections: httpd has already put the lines of the <IfModule>, <IfDefine>
 * and Include that apply in their place), or NULL. */
static const char *ssl_engine(const ap_directive_t *first)
{
    const char *value = NULL;

    for (; first; first = first->next) {
        if (!strcasecmp(first->directive, "SSLEngine")) {
            value = first->args;
        }
    }
    return value;
}

/* Whether mod_ssl serves TLS on vhost s: the SSLEngine of its
 * <VirtualHost> section, else the server-wide one. A vhost for plain HTTP
 * needs no certificate (a port 80 vhost that sends every name to HTTPS
 * often carries the names of several domains), and is left alone. The
 * section is found by where it was defined; one that cannot be found is
 * counted as TLS. mod_tls, which has no SSLEngine, is not looked at: its
 * vhosts are not checked. */
static int serves_tls(const server_rec *s)
{
    const ap_directive_t *d;
    const char *value = NULL;

    for (d = ap_conftree; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost") && s->defn_name && d->filename
            && (long)d->line_num == (long)s->defn_line_number
            && !strcmp(d->filename, s->defn_name)) {
            break;
        }
    }
    if (!d) {
        return 1;
    }
    if (!(value = ssl_engine(d->first_child))) {
        value = ssl_engine(ap_conftree);
    }
    return value && strcasecmp(value, "off");
}

/* "'a.example.com' (under the wildcard *.example.com of the domain
 * example.com)" or "'c.example.com' (a name of the domain c.example.com)". */
static const char *describe(apr_pool_t *p, const char *name, const sacme_domain_t *dom,
                            sacme_name_match_t how)
{
    if (how == SACME_NAME_WILDCARD) {
        return apr_psprintf(p, "'%s' (under the wildcard *%s of the managed domain %s)",
                            name, ap_strchr_c(name, '.'), dom->name);
    }
    return apr_psprintf(p, "'%s' (a name of the managed domain %s)", name, dom->name);
}

int sacme_vhost_check(const sacme_conf_t *conf, apr_pool_t *p, server_rec *main_server)
{
    server_rec *s;

    if (!conf || conf->domains->nelts == 0) {
        return OK;
    }
    /* the main server has one name, the ServerName: nothing to compare */
    for (s = main_server->next; s; s = s->next) {
        sacme_domain_t *first = NULL, *dom;
        sacme_name_match_t first_how = SACME_NAME_NONE, how;
        const char *first_name = NULL, *name;
        int i, n = 1;

        for (i = 0; i < n; ++i) {
            if (!(name = vhost_name(s, i, &n))
                || !(dom = sacme_conf_domain_serving(conf, name, &how))) {
                continue;
            }
            if (!first) {
                first = dom;
                first_name = name;
                first_how = how;
            }
            else if (dom != first && serves_tls(s)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server, SACME_LOGNO(10370)
                             "vhost %s (%s:%d) would need two certificates: its names "
                             "%s and %s belong to different domains, and a vhost is "
                             "served one certificate, which would not cover one of "
                             "them. Put all of the vhost's names into one SacmeDomain "
                             "(or <SacmeDomainSet>), or split the vhost into one "
                             "<VirtualHost> per domain",
                             s->server_hostname ? s->server_hostname : "?",
                             s->defn_name ? s->defn_name : "?", s->defn_line_number,
                             describe(p, first_name, first, first_how),
                             describe(p, name, dom, how));
                return !OK;
            }
        }
    }
    return OK;
}
