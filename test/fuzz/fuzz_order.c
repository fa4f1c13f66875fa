/* Order and authorization objects (RFC 8555 §7.1.3, §7.1.4): parsed with
 * the depth bound, URLs resolved against the request's URL, the challenge
 * picked and its token checked, as the issuance does. */
#include "fuzz.h"
#include "sacme_json.h"
#include "sacme_order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    const char *base = "https://acme.example/acme/order/1";
    json_t *j = sacme_json_parse(p, (const char *)data, size, 0, res);

    if (j) {
        sacme_order_t *order = NULL;
        sacme_authz_t *authz = NULL;

        if (sacme_order_parse(p, j, base, base, &order, res) == APR_SUCCESS) {
            int i;
            for (i = 0; i < order->authorizations->nelts; ++i) {
                (void)strlen(APR_ARRAY_IDX(order->authorizations, i, const char *));
            }
        }
        if (sacme_authz_parse(p, j, base, base, &authz, res) == APR_SUCCESS) {
            apr_array_header_t *types = apr_array_make(p, 3, sizeof(const char *));
            sacme_challenge_t *ch;

            APR_ARRAY_PUSH(types, const char *) = "http-01";
            APR_ARRAY_PUSH(types, const char *) = "dns-01";
            APR_ARRAY_PUSH(types, const char *) = "sectigo-email-01";
            ch = sacme_authz_pick(authz, types);
            if (ch) {
                (void)sacme_token_ok(ch->token);
            }
        }
        (void)sacme_result_message(res, p);
    }
    apr_pool_destroy(p);
    return 0;
}
