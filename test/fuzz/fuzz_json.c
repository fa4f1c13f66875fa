/* sacme_json_parse with its depth bound: every CA response body goes
 * through it. Checks the bound holds (nothing deeper than the limit is
 * returned) and that what parses survives a dump/parse round trip. */
#include "fuzz.h"
#include "sacme_json.h"

static int depth_of(const json_t *j)
{
    int d = 0, m = 0;
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) {
            d = depth_of(v);
            m = d > m ? d : m;
        }
        return m + 1;
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            d = depth_of(v);
            m = d > m ? d : m;
        }
        return m + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    /* A small bound as well as the default, so inputs reach the refusal. */
    int bound = size ? 1 + data[0] % 4 : 1;
    json_t *j;

    (void)sacme_json_depth((const char *)data, size);
    j = sacme_json_parse(p, (const char *)data, size, bound, res);
    if (j && depth_of(j) > bound) {
        abort();   /* the bound let a deeper document through */
    }
    j = sacme_json_parse(p, (const char *)data, size, 0, res);
    if (j) {
        const char *dump;
        json_t *again;

        if (depth_of(j) > SACME_MAX_JSON_DEPTH) {
            abort();
        }
        (void)sacme_json_str(j, "type");
        (void)sacme_json_obj(j, "meta");
        (void)sacme_json_arr(j, "identifiers");
        (void)sacme_json_bool(j, "externalAccountRequired");
        dump = sacme_json_dump(p, j);
        if (dump) {
            again = sacme_json_parse(p, dump, strlen(dump), 0, res);
            if (!again || !json_equal(j, again)) {
                abort();   /* our own output does not read back */
            }
        }
    }
    else {
        (void)sacme_result_message(res, p);
    }
    apr_pool_destroy(p);
    return 0;
}
