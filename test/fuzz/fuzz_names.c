/* Names as SacmeDomain and sacmectl take them, checked where the engine
 * checks them: building the CSR (host names, "*." wildcards, IPv4 and IPv6
 * literals, duplicates, the bound on the number of names). Input: names
 * separated by blanks. A CSR that is made must parse back as one whole DER request.
 * The key is made once: generating one per input would be all the work. */
#include <openssl/x509.h>
#include <apr_general.h>
#include "sacme_csr.h"
#include "sacme_key.h"

static void make_key(void);
#define FUZZ_INIT make_key
#include "fuzz.h"

static apr_pool_t *key_pool;
static sacme_key_t *key;

/* APR may keep pools in mmap'd memory, which LeakSanitizer does not scan:
 * the key would look leaked at exit unless its pool is gone by then. */
static void drop_key(void)
{
    apr_pool_destroy(key_pool);
}

static void make_key(void)
{
    if (apr_pool_create(&key_pool, NULL) != APR_SUCCESS
        || sacme_key_generate(key_pool, SACME_KEY_P256, &key,
                              sacme_result_make(key_pool)) != APR_SUCCESS) {
        abort();
    }
    atexit(drop_key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    char *s = fuzz_str(data, size), *n, *save = NULL;
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    unsigned char *der = NULL;
    apr_size_t der_len = 0;

    for (n = apr_strtok(s, " \t", &save); n; n = apr_strtok(NULL, " \t", &save)) {
        APR_ARRAY_PUSH(names, const char *) = n;
    }
    if (sacme_csr_make(p, key, names, &der, &der_len, res) == APR_SUCCESS) {
        const unsigned char *q = der;
        X509_REQ *req = d2i_X509_REQ(NULL, &q, (long)der_len);

        if (!req || q != der + der_len || names->nelts < 1
            || names->nelts > SACME_MAX_NAMES) {
            abort();
        }
        X509_REQ_free(req);
    }
    else {
        (void)sacme_result_message(res, p);
    }
    apr_pool_destroy(p);
    free(s);
    return 0;
}
