/* What a DNS server (or anyone who can send a datagram to the driver's
 * port) answers to SacmeDnsCheck's TXT question: sacme_dns_answer_parse
 * with the message id taken from the first two bytes, so most inputs get
 * past the id check. Also the resolver's address as SacmeDnsCheck takes it
 * (sacme_dns_parse_server) and a name as a query (sacme_dns_query_make).
 * Every value returned must be a string inside the pool, and a query that
 * is made must fit the buffer and end with the question's type and class. */
#include "fuzz.h"
#include "sacme_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    unsigned char *msg = malloc(size ? size : 1), q[SACME_DNS_UDP_MAX];
    char *s = fuzz_str(data, size);
    apr_array_header_t *values = NULL;
    const char *why = NULL, *host = NULL;
    apr_uint16_t id = size >= 2 ? (apr_uint16_t)((data[0] << 8) | data[1]) : 0;
    apr_port_t port = 0;
    apr_size_t qlen = 0;
    int i, truncated = 0;

    if (!msg) {
        abort();
    }
    memcpy(msg, data, size);
    if (sacme_dns_answer_parse(p, msg, size, id, &values, &truncated, &why)
            == APR_SUCCESS) {
        for (i = 0; i < values->nelts; ++i) {
            if (strlen(APR_ARRAY_IDX(values, i, const char *)) > size) {
                abort();
            }
        }
    }
    else if (!why) {
        abort();
    }
    if (!sacme_dns_parse_server(p, s, &host, &port) && (!host || port == 0)) {
        abort();
    }
    if (sacme_dns_query_make(s, id, q, sizeof(q), &qlen) == APR_SUCCESS
        && (qlen > sizeof(q) || q[qlen - 3] != 16 || q[qlen - 1] != 1)) {
        abort();
    }
    apr_pool_destroy(p);
    free(msg);
    free(s);
    return 0;
}
