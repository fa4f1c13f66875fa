/* Random numbers for jitter (sacme_rand.h). */
#include <unistd.h>
#include <openssl/rand.h>

#include "sacme_rand.h"

apr_uint64_t sacme_rand_u64(void)
{
    unsigned char b[8];
    apr_uint64_t v = 0;
    int i;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        /* OpenSSL could not get entropy (a broken /dev/urandom in a
         * chroot): a jitter still has to come out, and one that differs
         * between processes and moments is all it needs. Not the place
         * to fail an order. */
        apr_uint64_t t = (apr_uint64_t)apr_time_now();
        return (t * APR_UINT64_C(0x9e3779b97f4a7c15)) ^ (apr_uint64_t)getpid();
    }
    for (i = 0; i < 8; ++i) {
        v = v << 8 | b[i];
    }
    return v;
}

int sacme_rand_range(int lo, int hi)
{
    apr_uint64_t span;

    if (hi <= lo) {
        return lo;
    }
    span = (apr_uint64_t)((apr_int64_t)hi - lo) + 1;
    /* The bias of a modulo over 64 bits is below 2^-32 for any int span:
     * far under anything a jitter can tell. */
    return (int)((apr_int64_t)lo + (apr_int64_t)(sacme_rand_u64() % span));
}
