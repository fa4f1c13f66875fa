/* <SacmeDomainSet NAME...> ... </SacmeDomainSet>: a managed domain with
 * settings of its own (the counterpart of mod_md's <MDomainSet>). The
 * lines inside are read by the ordinary directive handlers while
 * conf->cur points at the set: the per-domain ones write there, every
 * other one refuses (mod_sacme_config.c, global_conf). What a domain does
 * not set it takes from the lines outside any set, at the end of the
 * configuration, so the order of the lines does not matter. */
#include <strings.h>

#include <apr_strings.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "sacme_static.h"

#define SET_NAME "<SacmeDomainSet>"

/* A line of another module inside a set would take effect for the whole
 * server, not for the set: refused, so nobody believes otherwise. */
static const char *foreign_line(cmd_parms *cmd, const ap_directive_t *first)
{
    const ap_directive_t *d;

    for (d = first; d; d = d->next) {
        const char *name = d->directive[0] == '<' ? d->directive + 1 : d->directive;
        if (strncasecmp(name, "Sacme", 5)) {
            return apr_psprintf(cmd->pool, SET_NAME ": '%s' (line %d) is not a "
                                "mod_sacme directive, and would apply to the whole "
                                "server; a set takes only SacmeServer, SacmeEAB, "
                                "SacmeContact, SacmeAgreement, SacmeRetryFailover, "
                                "SacmeKeyType, SacmeChallenge, SacmeRenewWindow, "
                                "SacmeWarnWindow, SacmeNotifyCmd, SacmeNotifyURL, "
                                "SacmeRequireHttps, SacmeProfile, "
                                "SacmeCertificateFile and SacmeCertificateKeyFile",
                                d->directive, d->line_num);
        }
    }
    return NULL;
}

const char *sacme_cmd_domain_set(cmd_parms *cmd, void *dc, const char *args)
{
    sacme_conf_t *conf = sacme_conf_get(cmd->server);
    const char *err, *end = ap_strrchr_c(args, '>');
    sacme_dconf_t *set;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY))) {
        return err;
    }
    /* httpd hands a nested one to this handler while the outer one is read */
    if (conf->cur != &conf->dflt) {
        return apr_psprintf(cmd->pool, SET_NAME " cannot be nested: this one is "
                            "inside the set of %s; close that one first",
                            conf->cur->where);
    }
    if (!end) {
        return SET_NAME " lacks the closing '>' of its first line";
    }
    set = apr_pcalloc(cmd->pool, sizeof(*set));
    set->seen = apr_hash_make(cmd->pool);
    set->challenge_none = SACME_UNSET;
    set->ari = SACME_UNSET;
    set->require_https = SACME_UNSET;
    set->agreement = SACME_UNSET;
    set->where = cmd->directive
                 ? apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                                cmd->directive->filename)
                 : "a " SET_NAME;
    if ((err = sacme_conf_add_domain(cmd, conf, SET_NAME,
                                     apr_pstrmemdup(cmd->temp_pool, args,
                                                    (apr_size_t)(end - args)),
                                     set))
        || !cmd->directive
        || (err = foreign_line(cmd, cmd->directive->first_child))) {
        return err;
    }
    conf->cur = set;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    conf->cur = &conf->dflt;
    return err ? err : sacme_conf_first_name(cmd, APR_ARRAY_IDX(conf->domains,
                                                                 conf->domains->nelts - 1,
                                                                 sacme_domain_t *),
                                             SET_NAME, set);
}

const char *sacme_conf_resolve_domains(sacme_conf_t *conf, apr_pool_t *p)
{
    const sacme_dconf_t *dflt = &conf->dflt, *s;
    apr_hash_t *cas = apr_hash_make(p);
    const char *err;
    int i, n = conf->dconfs->nelts;

    for (i = 0; i < n; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        const sacme_dconf_t *set = APR_ARRAY_IDX(conf->dconfs, i, sacme_dconf_t *);

        /* SacmeKeyType in a set gives the whole list: one type there means
         * one certificate, whatever the default's second type */
        s = PICK(set, dflt, key_type != SACME_KEY_NONE);
        dom->key_type = s->key_type;
        /* SacmeChallenge in a set gives the whole list, or none */
        s = PICK(set, dflt, challenge_none != SACME_UNSET);
        dom->challenge_none = s->challenge_none == 1;
        dom->challenges = s->challenges;
        s = PICK(set, dflt, key_type != SACME_KEY_NONE);
        dom->ari_off = !PICK(set, dflt, ari != SACME_UNSET)->ari;
        dom->renew_window = PICK(set, dflt, renew_window_set)->renew_window;
        dom->warn = &PICK(set, dflt, warn_set)->warn;
        dom->notify_cmd = PICK(set, dflt, notify_cmd)->notify_cmd;
        dom->notify_url = PICK(set, dflt, notify_url)->notify_url;
        dom->require_https = PICK(set, dflt, require_https != SACME_UNSET)->require_https;
        dom->profile = PICK(set, dflt, profile)->profile;
        if (dom->profile && !*dom->profile) {
            dom->profile = NULL;         /* 'none' */
        }
        /* a pair from elsewhere belongs to its set alone */
        dom->cert_file = set ? set->cert_file : NULL;
        dom->key_file = set ? set->key_file : NULL;
        if ((err = sacme_conf_domain_cas(conf, cas, dom, set, p))) {
            return err;
        }
        /* The second key type's certificate is driven as a domain of its
         * own; the names map to dom, which leads to it (next_key). */
        if (s->key_type2 != SACME_KEY_NONE && !dom->cert_file && !dom->key_file) {
            APR_ARRAY_PUSH(conf->domains, sacme_domain_t *) =
                sacme_domain_add_key(p, dom, s->key_type2);
        }
    }
    return NULL;
}

/* SacmeCertificateFile PATH, SacmeCertificateKeyFile PATH: a pair from
 * elsewhere for the set's names. Outside a set it would have no names to
 * serve. The files are checked at the end (sacme_conf_check_files), once
 * both are known. */
const char *sacme_cmd_cert_file(cmd_parms *cmd, void *dc, const char *path)
{
    sacme_conf_t *conf = sacme_conf_get(cmd->server);
    const char *err, *name = cmd->cmd->name, **slot, *abs;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY))) {
        return err;
    }
    if (conf->cur == &conf->dflt) {
        return apr_psprintf(cmd->pool, "%s is only allowed inside " SET_NAME ": it "
                            "gives the certificate of that set's names", name);
    }
    slot = strcasecmp(name, "SacmeCertificateFile") ? &conf->cur->key_file
                                                     : &conf->cur->cert_file;
    if (*slot) {
        return apr_psprintf(cmd->pool, "%s is given twice in the " SET_NAME " of %s; it takes "
                            "one file: remove one of the lines", name,
                            conf->cur->where);
    }
    abs = ap_server_root_relative(cmd->pool, path);
    if (!abs) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path", name, path);
    }
    *slot = abs;
    return NULL;
}

const char *sacme_conf_check_files(sacme_conf_t *conf, apr_pool_t *p)
{
    int i;

    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        sacme_cert_info_t *info;
        const char *why;

        if (dom->primary || (!dom->cert_file && !dom->key_file)) {
            continue;
        }
        if (!dom->cert_file || !dom->key_file) {
            return apr_psprintf(p, "%s %s in the set of %s lacks its %s: both are "
                                "needed, the certificate and its key",
                                dom->cert_file ? "SacmeCertificateFile"
                                               : "SacmeCertificateKeyFile",
                                dom->cert_file ? dom->cert_file : dom->key_file,
                                dom->name,
                                dom->cert_file ? "SacmeCertificateKeyFile"
                                               : "SacmeCertificateFile");
        }
        if (sacme_static_check(p, dom->cert_file, dom->key_file, dom->names, &info,
                               &why) != APR_SUCCESS) {
            return apr_psprintf(p, "SacmeCertificateFile/SacmeCertificateKeyFile of "
                                "the set of %s: %s", dom->name, why);
        }
        dom->file_info = info;
    }
    return NULL;
}
