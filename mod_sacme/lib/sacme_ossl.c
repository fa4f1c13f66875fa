/* OpenSSL's error queue in words. */
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
