/* Internals shared by the etcd client (sacme_etcd.c: endpoints, failover
 * and the unary calls; sacme_etcd_watch.c: the streamed watch). Not an
 * API: include sacme_etcd.h instead.
 */
#ifndef SACME_ETCD_INT_H
#define SACME_ETCD_INT_H

#include <jansson.h>

#include "sacme_etcd.h"

struct sacme_etcd_t {
    apr_pool_t *p;
    apr_array_header_t *endpoints;  /* const char *, without trailing '/' */
    int current;                    /* index of the one in use */
    sacme_http_t *http;
    const sacme_log_t *log;
};

/* The header every request carries: the gateway passes it on as gRPC
 * metadata "hasleader", with which a member that has lost its leader (cut
 * off from the majority) refuses at once - and ends a watch - instead of
 * answering from a copy that no longer changes. */
extern const char *const sacme_etcd_headers[];

/* The bytes as standard base64 with padding, as the gateway wants them. */
const char *sacme_etcd_b64(apr_pool_t *p, const char *data, apr_size_t len);

/* The base64 range end that makes a range or watch cover every key
 * starting with prefix ("\0": every key, for an empty prefix). */
const char *sacme_etcd_prefix_end(apr_pool_t *p, const char *prefix);

/* A 64-bit integer member, which the gateway writes as a string (a number
 * is accepted too); 0 when absent, as protobuf leaves out zero values;
 * -1 when present but no integer. */
apr_int64_t sacme_etcd_int(const json_t *obj, const char *key);

/* A key-value of an answer ("kv" of an event, an element of "kvs"). */
apr_status_t sacme_etcd_parse_kv(apr_pool_t *p, const json_t *j,
                                 sacme_etcd_kv_t **kv, sacme_result_t *res);

/* An error answer (4xx, 5xx) in the admin's terms: the endpoint, the call,
 * etcd's own message; NotFound is APR_NOTFOUND. */
apr_status_t sacme_etcd_refusal(const char *endpoint, const char *path,
                                const sacme_http_response_t *resp, apr_pool_t *p,
                                sacme_result_t *res);

/* Whether a failed exchange is the member's fault (no answer, 5xx), so the
 * next endpoint may do better. */
int sacme_etcd_failover(apr_status_t rv, const sacme_http_response_t *resp);

/* Moves to the next endpoint after endpoint failed with res; logs it. */
void sacme_etcd_next_endpoint(sacme_etcd_t *etcd, const char *call,
                              const sacme_result_t *res, apr_pool_t *p);

#endif /* SACME_ETCD_INT_H */
