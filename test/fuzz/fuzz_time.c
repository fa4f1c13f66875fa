/* Times from outside: RFC 3339 (order "expires", ARI windows, the
 * store's own files) and Retry-After. A parsed RFC 3339 time printed again
 * must parse to the same second. */
#include "fuzz.h"
#include "sacme_time.h"

/* 10000-01-01T00:00:00Z */
#define LAST_4DIGIT apr_time_from_sec(APR_INT64_C(253402300800))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size);
    apr_time_t t = sacme_time_rfc3339_parse(s);

    if (t != 0) {
        const char *again = sacme_time_rfc3339(p, t);
        apr_time_t u = sacme_time_rfc3339_parse(again);

        /* Our own form must read back, for the times it can print with a
         * four-digit year: "9999-12-31T23:59:60-00:00" is valid input but
         * lands in year 10000, which RFC 3339 has no form for. */
        if (t > 0 && t < LAST_4DIGIT && apr_time_sec(u) != apr_time_sec(t)) {
            abort();
        }
    }
    (void)sacme_time_retry_after(s, apr_time_from_sec(1800000000));
    (void)sacme_time_retry_after(s, 0);
    apr_pool_destroy(p);
    free(s);
    return 0;
}
