/* OpenSSL's error queue in words, for result details. */
#ifndef SACME_OSSL_H
#define SACME_OSSL_H

#include "sacme.h"

/* Drains the calling thread's OpenSSL error queue into one string
 * ("...; ..."), so the next failure does not report stale errors. Never
 * NULL. */
const char *sacme_ossl_errors(apr_pool_t *p);

#endif /* SACME_OSSL_H */
