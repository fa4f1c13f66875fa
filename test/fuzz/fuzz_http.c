/* Response headers the engine interprets: Link (RFC 8288, the chain's
 * "alternate" and "up" links, the ToS), Retry-After (delta or HTTP-date),
 * Content-Type, and the URL resolution every CA URL goes through.
 * Input: line 1 the base URL, line 2 Content-Type and Retry-After, each
 * further line one Link header. */
#include "fuzz.h"
#include "sacme_http.h"
#include "sacme_time.h"

#define MAX_LINES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size);
    char *parts[MAX_LINES];
    int n = fuzz_split(s, parts, MAX_LINES), i;
    sacme_http_response_t resp;
    apr_array_header_t *links;
    apr_time_t now = apr_time_from_sec(1800000000);

    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    resp.headers = apr_table_make(p, n);
    resp.body = "";
    if (n > 1) {
        /* addn: the table keeps our malloc'd strings, so ASan watches them. */
        apr_table_addn(resp.headers, "Content-Type", parts[1]);
        apr_table_addn(resp.headers, "Retry-After", parts[1]);
    }
    for (i = 2; i < n; ++i) {
        apr_table_addn(resp.headers, "Link", parts[i]);
    }
    (void)sacme_http_media_type(&resp, p);
    (void)sacme_time_retry_after(sacme_http_header(&resp, "Retry-After"), now);
    links = sacme_http_links(&resp, "alternate", parts[0], p);
    for (i = 0; i < links->nelts; ++i) {
        (void)strlen(APR_ARRAY_IDX(links, i, const char *));
    }
    (void)sacme_http_links(&resp, "up", NULL, p);
    (void)sacme_http_links(&resp, "terms-of-service", parts[0], p);
    if (n > 1) {
        (void)sacme_http_resolve(p, parts[0], parts[1]);
    }
    apr_pool_destroy(p);
    free(s);
    return 0;
}
