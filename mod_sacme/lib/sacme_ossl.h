/* OpenSSL's error queue in words, for result details; secrets in memory
 * cleansed when their pool goes. */
#ifndef SACME_OSSL_H
#define SACME_OSSL_H

#include "sacme.h"

/* Drains the calling thread's OpenSSL error queue into one string
 * ("...; ..."), so the next failure does not report stale errors. Never
 * NULL. */
const char *sacme_ossl_errors(apr_pool_t *p);

/* Cleanses (OPENSSL_cleanse) the len bytes at data when p is cleared or
 * destroyed: for a secret that lives as long as its pool (data must live
 * at least as long). */
void sacme_ossl_cleanse_later(apr_pool_t *p, void *data, apr_size_t len);

#endif /* SACME_OSSL_H */
