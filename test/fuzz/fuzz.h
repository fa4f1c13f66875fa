/* Shared pieces of the libFuzzer targets (test/fuzz/README in docs/fuzzing.md).
 *
 * Each target includes only lib/ headers and this file. One APR pool per
 * input, destroyed before returning, so ASan's leak check at exit sees
 * anything a parser allocated outside a pool and forgot.
 */
#ifndef SACME_FUZZ_H
#define SACME_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "sacme.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
#ifdef FUZZ_INIT
    /* A target's one-time setup (a key): done before the first input, so
     * libFuzzer's per-input leak check does not count it. */
    FUZZ_INIT();
#endif
    return 0;
}

/* A NUL-terminated copy in a malloc block of exactly size + 1 bytes. Not
 * from the pool: a pool hands out pieces of large blocks, so ASan would not
 * see a parser reading past the end of its string. Free with free(). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s) {
        abort();
    }
    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/* Splits a malloc'd string in place at each '\n', up to max parts; returns
 * the number of parts (at least 1). The last part keeps any further
 * newlines. Lets one input carry several fields. */
static inline int fuzz_split(char *s, char **parts, int max)
{
    int n = 0;

    parts[n++] = s;
    while (n < max) {
        char *nl = strchr(parts[n - 1], '\n');
        if (!nl) {
            break;
        }
        *nl = '\0';
        parts[n++] = nl + 1;
    }
    return n;
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        abort();
    }
    return p;
}

#endif /* SACME_FUZZ_H */
