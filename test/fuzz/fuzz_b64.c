/* base64: the strict base64url of JOSE and the lenient decoder for EAB
 * HMAC keys pasted from a CA's portal (through sacme_eab_make, as the
 * directives and the EAB file reach it). Decoded bytes re-encoded must
 * decode to the same bytes. */
#include "fuzz.h"
#include "sacme_b64.h"
#include "sacme_eab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    char *s = fuzz_str(data, size);
    unsigned char *out = NULL, *back = NULL;
    apr_size_t outlen = 0, backlen = 0;
    sacme_eab_t *eab = NULL;

    if (sacme_b64url_decode(p, s, &out, &outlen) == APR_SUCCESS) {
        const char *enc = sacme_b64url_encode(p, out, outlen);
        if (sacme_b64url_decode(p, enc, &back, &backlen) != APR_SUCCESS
            || backlen != outlen || memcmp(back, out, outlen)) {
            abort();
        }
    }
    if (sacme_b64_decode_lenient(p, s, &out, &outlen) == APR_SUCCESS) {
        const char *enc = sacme_b64url_encode(p, out, outlen);
        if (sacme_b64_decode_lenient(p, enc, &back, &backlen) != APR_SUCCESS
            || backlen != outlen || memcmp(back, out, outlen)) {
            abort();
        }
    }
    if (sacme_eab_make(p, "kid-1", s, SACME_HMAC_HS256, &eab, res) == APR_SUCCESS) {
        (void)sacme_eab_check_key(eab, res);
    }
    else {
        (void)sacme_result_message(res, p);
    }
    apr_pool_destroy(p);
    free(s);
    return 0;
}
