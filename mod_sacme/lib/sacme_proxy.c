/* SacmeHttpProxy's URL and credentials file (sacme_proxy.h). */
#include <stdlib.h>
#include <strings.h>

#include <apr_uri.h>
#include <openssl/crypto.h>

#include "sacme_proxy.h"
#include "sacme_file.h"
#include "sacme_ossl.h"

apr_status_t sacme_proxy_check_url(apr_pool_t *p, const char *url,
                                   sacme_result_t *res)
{
    apr_uri_t u;

    if (!url || !*url) {
        return sacme_result_set(res, APR_EINVAL, "the proxy URL is empty");
    }
    /* Before anything quotes the URL: it may hold a password. */
    if (apr_uri_parse(p, url, &u) == APR_SUCCESS && (u.user || u.password)) {
        return sacme_result_set(res, APR_EINVAL, "the proxy URL holds a user name "
                                "or password (not repeated here); give the URL "
                                "without them and the credentials in a file "
                                "(file:PATH, holding user:password)");
    }
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS) {
        /* apr_uri_parse refuses little but a port that is not a number. */
        return sacme_result_set(res, APR_EINVAL, "'%s' is not a URL (is its port "
                                "a number?)", url);
    }
    if (!u.scheme || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https"))) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is not an http:// or "
                                "https:// URL (e.g. http://proxy.example:3128)", url);
    }
    if (!u.hostname || !*u.hostname) {
        return sacme_result_set(res, APR_EINVAL, "'%s' names no host", url);
    }
    /* apr_uri_parse reads a port beyond 65535 or of "0" as 0. */
    if (u.port_str && (!*u.port_str || u.port == 0
                       || strspn(u.port_str, "0123456789") != strlen(u.port_str)
                       || strlen(u.port_str) > 5 || atoi(u.port_str) > 65535)) {
        return sacme_result_set(res, APR_EINVAL, "'%s' has no valid port (1 to "
                                "65535)", url);
    }
    if ((u.path && *u.path && strcmp(u.path, "/")) || u.query || u.fragment) {
        return sacme_result_set(res, APR_EINVAL, "'%s' has a path, query or "
                                "fragment; a proxy is named by scheme, host and "
                                "port only", url);
    }
    return APR_SUCCESS;
}

/* Why a credentials file's text is not "user:password", in words that
 * never contain any of it; NULL when it is. */
static const char *why_not_userpwd(const char *data, apr_size_t len)
{
    const char *colon = memchr(data, ':', len);
    apr_size_t i;

    if (len == 0) {
        return "is empty";
    }
    for (i = 0; i < len; ++i) {
        if (data[i] == '\n' || data[i] == '\r') {
            return "has more than one line";
        }
        if ((unsigned char)data[i] < 0x20 || data[i] == 0x7f) {
            return "holds a control character";
        }
    }
    if (!colon) {
        return "has no ':' between the user name and the password";
    }
    if (colon == data) {
        return "has an empty user name";
    }
    return NULL;
}

apr_status_t sacme_proxy_read_auth(apr_pool_t *p, const char *path,
                                   char **userpwd, sacme_result_t *res)
{
    apr_pool_t *tmp;
    char *data = NULL;
    apr_size_t len = 0, n;
    const char *why;
    apr_status_t rv;

    *userpwd = NULL;
    apr_pool_create(&tmp, p);
    rv = sacme_file_read(path, SACME_PROXY_AUTH_MAX, tmp, &data, &len, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the proxy credentials file");
        apr_pool_destroy(tmp);
        return rv;
    }
    n = len;
    if (n > 0 && data[n - 1] == '\n') {
        --n;
    }
    if (n > 0 && data[n - 1] == '\r') {
        --n;
    }
    if ((why = why_not_userpwd(data, n)) != NULL) {
        rv = sacme_result_set(res, APR_EINVAL, "the proxy credentials file %s %s; "
                              "it must hold one line user:password", path, why);
    }
    else {
        *userpwd = apr_pstrmemdup(p, data, n);
        sacme_ossl_cleanse_later(p, *userpwd, n);
    }
    OPENSSL_cleanse(data, len);
    apr_pool_destroy(tmp);
    return rv;
}
