/* Certificates from elsewhere: the start-up checks of a given pair. */
#include <strings.h>

#include <apr_strings.h>

#include "sacme_file.h"
#include "sacme_key.h"
#include "sacme_name.h"
#include "sacme_static.h"

/* A certificate file holds a chain of a few certificates: a megabyte is
 * more than any real one. */
#define MAX_PEM_FILE (1024 * 1024)

int sacme_static_name_covered(const char *san, const char *host)
{
    const char *rest;

    if (!strcasecmp(san, host)) {
        return 1;
    }
    /* "*.example.com": one whole left-most label, never a partial one
     * ("f*.example.com") and never several ("a.b.example.com"); an IP
     * address is no name under a wildcard ("*.0.0.1") */
    if (san[0] != '*' || san[1] != '.' || host[0] == '*' || sacme_name_is_ip(host)) {
        return 0;
    }
    rest = strchr(host, '.');
    return rest && rest != host && !strcasecmp(rest, san + 1);
}

/* The leaf of the certificate file, parsed as a whole chain (junk in the
 * file is refused here rather than by mod_ssl later). */
static apr_status_t load_leaf(apr_pool_t *p, const char *cert_file, X509 **leaf,
                              sacme_cert_info_t **info, const char **why)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_chain_t *chain;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_file_read(cert_file, MAX_PEM_FILE, p, &data, &len, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_chain_parse(p, data, len, &chain, res);
    }
    if (rv == APR_SUCCESS) {
        *leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
        rv = sacme_cert_info(p, *leaf, info);
        if (rv != APR_SUCCESS) {
            sacme_result_set(res, rv, "its certificate cannot be described");
        }
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot use the certificate file %s: %s", cert_file,
                            sacme_result_message(res, p));
    }
    return rv;
}

apr_status_t sacme_static_info(apr_pool_t *p, const char *cert_file,
                               sacme_cert_info_t **info, const char **why)
{
    X509 *leaf;
    return load_leaf(p, cert_file, &leaf, info, why);
}

apr_status_t sacme_static_check(apr_pool_t *p, const char *cert_file,
                                const char *key_file,
                                const apr_array_header_t *names,
                                sacme_cert_info_t **info, const char **why)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_key_t *key;
    X509 *leaf;
    apr_status_t rv;
    int i, j;

    if ((rv = load_leaf(p, cert_file, &leaf, info, why)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = sacme_key_load(p, key_file, &key, res)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot use the key file %s: %s", key_file,
                            sacme_result_message(res, p));
        return rv;
    }
    if (!sacme_key_same_public(key, X509_get0_pubkey(leaf))) {
        *why = apr_psprintf(p, "the key in %s is not the key of the certificate in %s "
                            "(serial %s)", key_file, cert_file, (*info)->serial);
        return APR_EINVAL;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        for (j = 0; j < (*info)->sans->nelts; ++j) {
            if (sacme_static_name_covered(APR_ARRAY_IDX((*info)->sans, j, const char *),
                                          name)) {
                break;
            }
        }
        if (j == (*info)->sans->nelts) {
            *why = apr_psprintf(p, "the certificate in %s (serial %s) does not cover "
                                "the name %s of the set (its names: %s)", cert_file,
                                (*info)->serial, name,
                                apr_array_pstrcat(p, (*info)->sans, ' '));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}
