/* OpenSSL's error queue in words; secrets cleansed with their pool. */
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "sacme_ossl.h"

const char *sacme_ossl_errors(apr_pool_t *p)
{
    const char *s = NULL;
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        s = s ? apr_pstrcat(p, s, "; ", buf, NULL) : apr_pstrdup(p, buf);
    }
    return s ? s : "no OpenSSL error reported";
}

typedef struct {
    void *data;
    apr_size_t len;
} secret_t;

static apr_status_t cleanse(void *baton)
{
    secret_t *sec = baton;

    OPENSSL_cleanse(sec->data, sec->len);
    return APR_SUCCESS;
}

void sacme_ossl_cleanse_later(apr_pool_t *p, void *data, apr_size_t len)
{
    secret_t *sec = apr_palloc(p, sizeof(*sec));

    sec->data = data;
    sec->len = len;
    apr_pool_cleanup_register(p, sec, cleanse, apr_pool_cleanup_null);
}
