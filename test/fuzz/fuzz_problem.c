/* ACME problem documents (RFC 7807 / RFC 8555 §6.7) as a CA sends them:
 * parsed with the depth bound, then turned into a result, its log line and
 * its JSON form (what the store and the status page keep). */
#include "fuzz.h"
#include "sacme_json.h"
#include "sacme_problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    json_t *j = sacme_json_parse(p, (const char *)data, size, 0, res);

    if (j) {
        /* The status code is part of the input: a few bits of the first byte. */
        int status = 400 + (size ? data[0] % 200 : 0);
        json_t *out;
        const char *type = sacme_json_str(j, "type");

        (void)sacme_problem_apply(res, j, status);
        (void)sacme_result_message(res, p);
        out = sacme_result_to_json(res);
        json_decref(out);
        (void)sacme_problem_short(type);
        (void)sacme_problem_class(type);
        (void)sacme_problem_hint(type);
    }
    apr_pool_destroy(p);
    return 0;
}
