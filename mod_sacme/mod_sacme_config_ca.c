/* The CAs and accounts of the configured domains: SacmeServer, SacmeEAB,
 * SacmeContact, SacmeAgreement and SacmeRetryFailover, each taken from the
 * domain's <SacmeDomainSet> or else from the lines outside any set, made
 * into the list of CAs a domain is ordered from (sacme_ca.h).
 *
 * Domains that name the same CA with the same EAB key id share one
 * sacme_ca_t, and so one account: the driver finds or registers it once.
 * Such domains must then agree on what the account is registered with
 * (contacts, the terms): the first to be ordered would decide otherwise,
 * silently.
 */
#include <strings.h>

#include <apr_strings.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"

static int same_contacts(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i, na = a ? a->nelts : 0, nb = b ? b->nelts : 0;

    if (na != nb) {
        return 0;
    }
    for (i = 0; i < na; ++i) {
        if (strcasecmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* An account as the configuration found it: the CA, and the domain that
 * named it first (for the messages). */
typedef struct {
    sacme_ca_t *ca;
    const char *first;
} known_t;

/* The shared CA for (url, eab), made on first use; NULL with *err when a
 * domain before asked for the same account with other contacts or terms. */
static sacme_ca_t *shared_ca(sacme_conf_t *conf, apr_hash_t *by_id, apr_pool_t *p,
                             const sacme_domain_t *dom, const char *url,
                             sacme_eab_t *eab, apr_array_header_t *contacts,
                             int agreed, const char **err)
{
    const char *id = sacme_ca_account_id(p, url, eab ? eab->kid : NULL);
    known_t *known = apr_hash_get(by_id, id, APR_HASH_KEY_STRING);
    sacme_ca_t *ca = known ? known->ca : NULL;
    const char *first = known ? known->first : NULL;

    if (ca) {
        if (!same_contacts(ca->contacts, contacts)) {
            *err = apr_psprintf(p, "SacmeContact: the domains %s and %s use the same "
                                "account (CA %s%s%s) with different contacts; an "
                                "account has one list: give both the same SacmeContact "
                                "lines, or give one of them its own SacmeEAB "
                                "credentials", first, dom->name, url,
                                eab ? ", EAB key id " : "", eab ? eab->kid : "");
            return NULL;
        }
        if (ca->tos_agreed != agreed) {
            *err = apr_psprintf(p, "SacmeAgreement: the domains %s and %s use the same "
                                "account (CA %s%s%s), but only one of them accepts the "
                                "CA's terms: give both the same SacmeAgreement",
                                first, dom->name, url, eab ? ", EAB key id " : "",
                                eab ? eab->kid : "");
            return NULL;
        }
        return ca;
    }
    ca = sacme_ca_make(p, url, eab);
    ca->contacts = contacts;
    ca->tos_agreed = agreed;
    known = apr_palloc(p, sizeof(*known));
    known->ca = ca;
    known->first = dom->name;
    apr_hash_set(by_id, id, APR_HASH_KEY_STRING, known);
    APR_ARRAY_PUSH(conf->cas, sacme_ca_t *) = ca;
    return ca;
}

const char *sacme_conf_domain_cas(sacme_conf_t *conf, apr_hash_t *by_id,
                                  sacme_domain_t *dom, const sacme_dconf_t *set,
                                  apr_pool_t *p)
{
    const sacme_dconf_t *dflt = &conf->dflt;
    const apr_array_header_t *servers = PICK(set, dflt, servers)->servers;
    const apr_array_header_t *eabs = PICK(set, dflt, eabs)->eabs;
    apr_array_header_t *contacts = PICK(set, dflt, contacts)->contacts;
    int agreed = PICK(set, dflt, agreement != SACME_UNSET)->agreement;
    const char *err = NULL;
    int i;

    dom->failover = PICK(set, dflt, failover)->failover;
    dom->cas = NULL;
    if (!servers) {
        return NULL;                /* the caller says whether one is needed */
    }
    if (eabs && eabs->nelts != servers->nelts) {
        return apr_psprintf(p, "SacmeEAB gives %d credential(s) for the %d URL(s) of "
                            "SacmeServer of the domain %s: give one per URL, in the "
                            "same order (file:PATH, or 'none' for a CA that needs "
                            "none)", eabs->nelts, servers->nelts, dom->name);
    }
    dom->cas = apr_array_make(p, servers->nelts, sizeof(sacme_ca_t *));
    for (i = 0; i < servers->nelts; ++i) {
        sacme_ca_t *ca = shared_ca(conf, by_id, p, dom,
                                   APR_ARRAY_IDX(servers, i, const char *),
                                   eabs ? APR_ARRAY_IDX(eabs, i, sacme_eab_t *) : NULL,
                                   contacts, agreed == 1, &err);
        if (!ca) {
            return err;
        }
        APR_ARRAY_PUSH(dom->cas, sacme_ca_t *) = ca;
    }
    return NULL;
}

/* Said once per httpd process, not at every graceful restart: a flag in
 * the process pool, which outlives the configuration (and the module's
 * statics, which are reloaded with it). */
#define INLINE_EAB_TOLD "mod_sacme-inline-eab-told"

void sacme_conf_warn_secrets(const sacme_conf_t *conf, server_rec *s)
{
    const sacme_eab_t *eab = NULL;
    void *told = NULL;
    int i;

    for (i = 0; conf && i < conf->cas->nelts && !eab; ++i) {
        eab = APR_ARRAY_IDX(conf->cas, i, sacme_ca_t *)->eab;
        if (eab && eab->file) {
            eab = NULL;             /* file: the key is not here */
        }
    }
    if (!eab) {
        return;
    }
    apr_pool_userdata_get(&told, INLINE_EAB_TOLD, s->process->pool);
    if (told) {
        return;
    }
    apr_pool_userdata_set((void *)1, INLINE_EAB_TOLD, apr_pool_cleanup_null,
                          s->process->pool);
    /* The key id only: the line must not become one more copy. */
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SACME_LOGNO(10142)
                 "SacmeEAB: the HMAC key of key id %s is written in the "
                 "configuration: anyone who can read the configuration files or "
                 "run apachectl -S, -DDUMP_CONFIG or mod_info can see it, and "
                 "every request child holds it in memory. Put it into a file "
                 "instead, mode 0600 and owned by root, and use "
                 "'SacmeEAB file:/etc/apache2/sacme-eab.json' "
                 "(the file holds {\"kid\": ..., \"hmac\": ...})", eab->kid);
}
