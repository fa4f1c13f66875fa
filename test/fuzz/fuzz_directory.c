/* The ACME directory: the first thing read from a CA, and what a
 * misconfigured URL (an HTML page) sends instead. */
#include "fuzz.h"
#include "sacme_directory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    sacme_directory_t *dir = NULL;

    if (sacme_directory_parse(p, (const char *)data, size, &dir, res) == APR_SUCCESS) {
        if (!dir || !dir->new_nonce || !dir->new_account || !dir->new_order) {
            abort();   /* success promises the three required URLs */
        }
        (void)sacme_directory_has_profile(dir, "tlsserver");
    }
    else {
        (void)sacme_result_message(res, p);
    }
    apr_pool_destroy(p);
    return 0;
}
