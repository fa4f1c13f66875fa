/* The CAs of a domain and their accounts (sacme_ca.h). */
#include <apr_strings.h>

#include "sacme_ca.h"

sacme_ca_t *sacme_ca_make(apr_pool_t *p, const char *url, sacme_eab_t *eab)
{
    sacme_ca_t *ca = apr_pcalloc(p, sizeof(*ca));

    ca->url = url;
    ca->eab = eab;
    return ca;
}

const char *sacme_ca_account_id(apr_pool_t *p, const char *url, const char *kid)
{
    /* A newline is in neither a URL nor a key id the configuration takes. */
    return apr_pstrcat(p, url, "\n", kid ? kid : "", NULL);
}

int sacme_ca_pick(int n, int errors, int failover)
{
    if (n < 2 || failover < 1 || errors < 0) {
        return 0;
    }
    return (errors / failover) % n;
}

int sacme_ca_next_boundary(int errors, int failover)
{
    if (failover < 1 || errors < 0) {
        return errors;
    }
    return (errors / failover + 1) * failover;
}
