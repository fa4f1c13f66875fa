/* Random numbers for jitter: spreading retries, polls and renewals.
 *
 * rand() was used for this, never seeded: every server of a fleet drew
 * the same "random" offsets and reached the CA at the same moment. These
 * draw from OpenSSL's CSPRNG, which seeds itself from the system and is
 * safe to call from several threads (and after a fork: OpenSSL reseeds a
 * child). Nothing here is a secret; it only has to differ between servers
 * and between draws.
 */
#ifndef SACME_RAND_H
#define SACME_RAND_H

#include "sacme.h"

/* 64 random bits. */
apr_uint64_t sacme_rand_u64(void);

/* A uniform integer in [lo, hi] (lo <= hi; else lo). */
int sacme_rand_range(int lo, int hi);

#endif /* SACME_RAND_H */
