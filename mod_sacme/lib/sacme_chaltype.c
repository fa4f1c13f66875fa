/* Challenge type lists: see sacme_chaltype.h. */
#include <apr_strings.h>

#include "sacme_chaltype.h"

static const char *const known[] = {
    SACME_CHAL_HTTP01, SACME_CHAL_TLSALPN01, SACME_CHAL_DNS01, NULL
};

const char *sacme_chaltype_known(const char *name)
{
    int i;

    for (i = 0; name && known[i]; ++i) {
        if (!strcasecmp(name, known[i])) {
            return known[i];
        }
    }
    return NULL;
}

int sacme_chaltype_has(const apr_array_header_t *types, const char *type)
{
    int i;

    for (i = 0; types && i < types->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(types, i, const char *), type)) {
            return 1;
        }
    }
    return 0;
}

const char *sacme_chaltype_str(apr_pool_t *p, const apr_array_header_t *types)
{
    if (!types || !types->nelts) {
        return "none";
    }
    return apr_array_pstrcat(p, types, ' ');
}

const char *sacme_chaltype_of(apr_pool_t *p, int none, const apr_array_header_t *types)
{
    if (none) {
        return "none";
    }
    return types ? sacme_chaltype_str(p, types) : SACME_CHAL_HTTP01;
}

apr_array_header_t *sacme_chaltype_parse(apr_pool_t *p, const char *text)
{
    apr_array_header_t *types = apr_array_make(p, 3, sizeof(const char *));
    char *copy = apr_pstrdup(p, text ? text : ""), *last, *word;

    for (word = apr_strtok(copy, " ,", &last); word;
         word = apr_strtok(NULL, " ,", &last)) {
        const char *type = sacme_chaltype_known(word);
        if (type && !sacme_chaltype_has(types, type)) {
            APR_ARRAY_PUSH(types, const char *) = type;
        }
    }
    return types->nelts ? types : NULL;
}
