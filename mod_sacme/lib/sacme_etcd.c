/* The etcd client: endpoints and failover, the JSON gateway's encoding,
 * and the unary calls (kv, txn, lease). The watch is sacme_etcd_watch.c.
 *
 * Why failover only on "no answer" and 5xx: a 4xx is etcd's verdict on the
 * request (a lease that is gone, a malformed key), which another member of
 * the same cluster would give as well. A 5xx is the member's own trouble
 * (no leader, a timed-out proposal): the next one may have a quorum.
 *
 * A put resent to the next member after an answer was lost may be applied
 * twice: harmless for a put of the same value, and the transactions hand
 * back what holds the key so their caller can recognise its own write.
 */
#include <errno.h>
#include <strings.h>

#include <apr_base64.h>
#include <apr_uri.h>

#include "sacme_b64.h"
#include "sacme_etcd_int.h"
#include "sacme_json.h"

#define DEFAULT_CONNECT_TIMEOUT apr_time_from_sec(3)
#define DEFAULT_TIMEOUT         apr_time_from_sec(10)
/* One answer: a page of a range (RANGE_PAGE keys), a watch message. The
 * cluster's values are certificates, sealed keys and small JSON files. */
#define DEFAULT_MAX_RESPONSE    (4 * 1024 * 1024)
#define RANGE_PAGE              32
/* A bound on a prefix read (DESIGN §8.8): 100 domains hold well under a
 * thousand keys. */
#define MAX_RANGE_KEYS          100000

/* gRPC status codes the gateway puts in its error answers. */
#define GRPC_INVALID_ARGUMENT   3
#define GRPC_NOT_FOUND          5
#define GRPC_PERMISSION_DENIED  7
#define GRPC_UNAUTHENTICATED    16

const char *const sacme_etcd_headers[] = { "Grpc-Metadata-hasleader: true", NULL };

/* ---- encoding ---------------------------------------------------------- */

const char *sacme_etcd_b64(apr_pool_t *p, const char *data, apr_size_t len)
{
    char *out = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));

    apr_base64_encode(out, data, (int)len);
    return out;
}

const char *sacme_etcd_prefix_end(apr_pool_t *p, const char *prefix)
{
    apr_size_t n = strlen(prefix);
    char *end = apr_pstrmemdup(p, prefix, n);

    /* The first key after every key with this prefix: the last byte that
     * can grow, grown, and what follows it cut off. */
    while (n > 0) {
        if ((unsigned char)end[n - 1] < 0xff) {
            end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
            return sacme_etcd_b64(p, end, n);
        }
        --n;
    }
    return sacme_etcd_b64(p, "", 1);   /* "\0": to the end of the key space */
}

apr_int64_t sacme_etcd_int(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    const char *s;
    char *end;
    apr_int64_t n;

    if (!v) {
        return 0;
    }
    if (json_is_integer(v)) {
        return (apr_int64_t)json_integer_value(v);
    }
    if (!json_is_string(v) || !*(s = json_string_value(v))) {
        return -1;
    }
    errno = 0;
    n = apr_strtoi64(s, &end, 10);
    return errno || *end ? -1 : n;
}

static apr_status_t decode(apr_pool_t *p, const json_t *obj, const char *member,
                           const char **out, apr_size_t *len, sacme_result_t *res)
{
    json_t *v = json_object_get(obj, member);
    unsigned char *raw;
    apr_size_t n;

    if (!v) {
        *out = "";          /* protobuf leaves out empty bytes */
        *len = 0;
        return APR_SUCCESS;
    }
    if (!json_is_string(v)
        || sacme_b64_decode_lenient(p, json_string_value(v), &raw, &n) != APR_SUCCESS) {
        return sacme_result_set(res, SACME_EPROTO, "etcd sent a %s that is not base64",
                                member);
    }
    *out = (const char *)raw;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t sacme_etcd_parse_kv(apr_pool_t *p, const json_t *j,
                                 sacme_etcd_kv_t **kv, sacme_result_t *res)
{
    sacme_etcd_kv_t *r = apr_pcalloc(p, sizeof(*r));
    apr_size_t klen;
    apr_status_t rv;

    *kv = NULL;
    if (!json_is_object(j)) {
        return sacme_result_set(res, SACME_EPROTO, "etcd sent a key-value that is "
                                "not an object");
    }
    if ((rv = decode(p, j, "key", &r->key, &klen, res)) != APR_SUCCESS
        || (rv = decode(p, j, "value", &r->value, &r->value_len, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!klen || memchr(r->key, '\0', klen)) {
        return sacme_result_set(res, SACME_EPROTO, "etcd sent an empty key or one "
                                "that is not text");
    }
    r->create_revision = sacme_etcd_int(j, "create_revision");
    r->mod_revision = sacme_etcd_int(j, "mod_revision");
    r->version = sacme_etcd_int(j, "version");
    r->lease = sacme_etcd_int(j, "lease");
    if (r->create_revision < 0 || r->mod_revision < 0 || r->version < 0 || r->lease < 0) {
        return sacme_result_set(res, SACME_EPROTO, "etcd sent a revision of the key "
                                "%s that is no number", r->key);
    }
    *kv = r;
    return APR_SUCCESS;
}

/* ---- endpoints and calls ----------------------------------------------- */

apr_status_t sacme_etcd_check_endpoint(apr_pool_t *p, const char *url,
                                       sacme_result_t *res)
{
    apr_uri_t u;

    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || !*u.hostname) {
        return sacme_result_set(res, SACME_ECONFIG, "the etcd endpoint '%s' is not a "
                                "URL like https://etcd1.example.org:2379",
                                url ? url : "");
    }
    if (u.user || u.password || (u.path && strcmp(u.path, "/")) || u.query
        || u.fragment) {
        return sacme_result_set(res, SACME_ECONFIG, "the etcd endpoint '%s' must be "
                                "scheme, host and port only (no credentials, path "
                                "or query)", url);
    }
    if (!strcasecmp(u.scheme, "https")) {
        return APR_SUCCESS;
    }
    if (!strcasecmp(u.scheme, "http") && sacme_http_is_loopback_http(p, url)) {
        return APR_SUCCESS;
    }
    return sacme_result_set(res, SACME_ECONFIG, "the etcd endpoint '%s' must use "
                            "https (plain http only to a loopback address such as "
                            "http://127.0.0.1:2379, where no network carries it)", url);
}

apr_status_t sacme_etcd_create(apr_pool_t *p, const apr_array_header_t *endpoints,
                               sacme_http_t *http, const sacme_log_t *log,
                               sacme_etcd_t **etcd, sacme_result_t *res)
{
    sacme_etcd_t *e;
    int i;

    *etcd = NULL;
    if (!endpoints || endpoints->nelts < 1) {
        return sacme_result_set(res, SACME_ECONFIG, "no etcd endpoint given");
    }
    e = apr_pcalloc(p, sizeof(*e));
    e->p = p;
    e->http = http;
    e->log = log;
    e->endpoints = apr_array_make(p, endpoints->nelts, sizeof(const char *));
    for (i = 0; i < endpoints->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(endpoints, i, const char *);
        apr_size_t n;
        apr_status_t rv = sacme_etcd_check_endpoint(p, url, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        n = strlen(url);
        while (n > 0 && url[n - 1] == '/') {
            --n;
        }
        APR_ARRAY_PUSH(e->endpoints, const char *) = apr_pstrmemdup(p, url, n);
    }
    *etcd = e;
    return APR_SUCCESS;
}

apr_status_t sacme_etcd_make(apr_pool_t *p, const apr_array_header_t *endpoints,
                             const sacme_http_options_t *opts,
                             const sacme_log_t *log, sacme_etcd_t **etcd,
                             sacme_result_t *res)
{
    sacme_http_options_t o;
    sacme_http_t *http;
    apr_status_t rv;

    *etcd = NULL;
    memset(&o, 0, sizeof(o));
    if (opts) {
        o = *opts;
    }
    /* Checked by sacme_etcd_create for every endpoint, and by the
     * transport again for every request. */
    o.allow_loopback_http = 1;
    /* etcd is a peer on our own network, never reached through the CA's
     * outbound proxy. */
    o.proxy = NULL;
    o.proxy_userpwd = NULL;
    if (o.connect_timeout <= 0) {
        o.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    }
    if (o.timeout <= 0) {
        o.timeout = DEFAULT_TIMEOUT;
    }
    if (o.max_response == 0) {
        o.max_response = DEFAULT_MAX_RESPONSE;
    }
    if ((rv = sacme_http_curl_create(p, &o, &http, res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "etcd client");
        return rv;
    }
    return sacme_etcd_create(p, endpoints, http, log, etcd, res);
}

const char *sacme_etcd_endpoint(const sacme_etcd_t *etcd)
{
    return APR_ARRAY_IDX(etcd->endpoints, etcd->current, const char *);
}

int sacme_etcd_failover(apr_status_t rv, const sacme_http_response_t *resp)
{
    return rv != APR_SUCCESS || !resp || resp->status >= 500;
}

void sacme_etcd_next_endpoint(sacme_etcd_t *etcd, const char *call,
                              const sacme_result_t *res, apr_pool_t *p)
{
    const char *failed = sacme_etcd_endpoint(etcd);

    etcd->current = (etcd->current + 1) % etcd->endpoints->nelts;
    if (etcd->endpoints->nelts > 1) {
        sacme_log(etcd->log, SACME_LOG_WARNING, 0,
                  SACME_LOGNO(10540) "etcd member %s failed %s: %s; using %s now. "
                  "Check that member: the cluster goes on while most of its "
                  "members run", failed, call, sacme_result_message(res, p),
                  sacme_etcd_endpoint(etcd));
    }
}

apr_status_t sacme_etcd_refusal(const char *endpoint, const char *path,
                                const sacme_http_response_t *resp, apr_pool_t *p,
                                sacme_result_t *res)
{
    json_t *j = sacme_json_parse(p, resp->body, resp->body_len, 0, NULL);
    const char *msg = NULL;
    apr_int64_t code = 0;
    apr_status_t rv;

    if (j) {
        json_t *err = json_object_get(j, "error");
        /* unary calls: {"error": "text", "code": N}; streams: {"error":
         * {"grpc_code": N, "message": "text"}} */
        if (json_is_object(err)) {
            j = err;
            code = sacme_etcd_int(j, "grpc_code");
        }
        else {
            code = sacme_etcd_int(j, "code");
        }
        msg = sacme_json_str(j, "message");
        if (!msg) {
            msg = sacme_json_str(j, "error");
        }
    }
    switch (code) {
    case GRPC_NOT_FOUND:         rv = APR_NOTFOUND; break;
    case GRPC_INVALID_ARGUMENT:  rv = APR_EINVAL; break;
    case GRPC_PERMISSION_DENIED:
    case GRPC_UNAUTHENTICATED:   rv = APR_EACCES; break;
    default:                     rv = SACME_EPROTO; break;
    }
    sacme_result_set(res, rv, "etcd at %s refused %s: %s (HTTP %d, code %" APR_INT64_T_FMT
                     ")", endpoint, path,
                     msg ? msg : apr_pstrndup(p, resp->body,
                                              resp->body_len > 200 ? 200 : resp->body_len),
                     resp->status, code);
    if (res) {
        res->http_status = resp->status;
    }
    return rv;
}

/* POSTs body to path at the current endpoint, and to the next ones as long
 * as they fail (sacme_etcd_failover); *answer is the JSON of a 2xx. */
static apr_status_t call(sacme_etcd_t *etcd, const char *path, json_t *body,
                         apr_pool_t *p, json_t **answer, sacme_result_t *res)
{
    sacme_http_request_t req;
    const char *failures = NULL;
    apr_status_t last = APR_EAGAIN;
    int i;

    *answer = NULL;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.content_type = "application/json";
    req.headers = sacme_etcd_headers;
    req.body = sacme_json_dump(p, body);
    req.body_len = strlen(req.body);
    json_decref(body);
    for (i = 0; i < etcd->endpoints->nelts; ++i) {
        const char *ep = sacme_etcd_endpoint(etcd);
        sacme_result_t *r = sacme_result_make(p);
        sacme_http_response_t *resp;
        apr_status_t rv;

        req.url = apr_pstrcat(p, ep, path, NULL);
        rv = sacme_http_perform(etcd->http, &req, p, &resp, r);
        if (sacme_etcd_failover(rv, resp)) {
            if (rv == APR_SUCCESS) {
                sacme_etcd_refusal(ep, path, resp, p, r);
            }
            else {
                last = rv;
            }
            failures = apr_pstrcat(p, failures ? failures : "", failures ? "; " : "",
                                   r->detail, NULL);
            sacme_etcd_next_endpoint(etcd, path, r, p);
            continue;
        }
        if (resp->status < 200 || resp->status > 299) {
            return sacme_etcd_refusal(ep, path, resp, p, res);
        }
        *answer = sacme_json_parse(p, resp->body, resp->body_len, 0, res);
        if (!*answer || !json_is_object(*answer)) {
            *answer = NULL;
            return sacme_result_set(res, SACME_EPROTO, "etcd at %s answered %s with "
                                    "something other than a JSON object", ep, path);
        }
        return APR_SUCCESS;
    }
    sacme_result_set(res, last, "no etcd member answered %s: %s", path, failures);
    if (res) {
        res->hint = "check that the etcd cluster runs, has a majority of its members "
                    "up, and is reachable from this host";
    }
    return last;
}

static apr_int64_t header_revision(const json_t *answer)
{
    return sacme_etcd_int(sacme_json_obj(answer, "header"), "revision");
}

/* ---- kv ------------------------------------------------------------------ */

static apr_status_t range_page(sacme_etcd_t *etcd, const char *key_b64,
                               const char *end_b64, apr_int64_t limit,
                               apr_int64_t revision, apr_pool_t *p,
                               json_t **answer, sacme_result_t *res)
{
    json_t *body = json_pack("{s:s}", "key", key_b64);

    if (end_b64) {
        json_object_set_new(body, "range_end", json_string(end_b64));
    }
    if (limit) {
        json_object_set_new(body, "limit",
                            json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, limit)));
    }
    if (revision) {
        json_object_set_new(body, "revision",
                            json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, revision)));
    }
    return call(etcd, "/v3/kv/range", body, p, answer, res);
}

apr_status_t sacme_etcd_get(sacme_etcd_t *etcd, const char *key, apr_pool_t *p,
                            sacme_etcd_kv_t **kv, apr_int64_t *revision,
                            sacme_result_t *res)
{
    json_t *answer, *kvs;
    apr_status_t rv;

    *kv = NULL;
    rv = range_page(etcd, sacme_etcd_b64(p, key, strlen(key)), NULL, 0, 0, p,
                    &answer, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (revision) {
        *revision = header_revision(answer);
    }
    kvs = sacme_json_arr(answer, "kvs");
    if (kvs && json_array_size(kvs) > 0) {
        rv = sacme_etcd_parse_kv(p, json_array_get(kvs, 0), kv, res);
    }
    return rv;
}

apr_status_t sacme_etcd_range_prefix(sacme_etcd_t *etcd, const char *prefix,
                                     apr_pool_t *p, apr_array_header_t **kvs,
                                     apr_int64_t *revision, sacme_result_t *res)
{
    const char *end = sacme_etcd_prefix_end(p, prefix);
    const char *from = sacme_etcd_b64(p, prefix, strlen(prefix));
    apr_int64_t rev = 0;
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(sacme_etcd_kv_t *));

    *kvs = NULL;
    for (;;) {
        json_t *answer, *page;
        size_t i;
        sacme_etcd_kv_t *kv = NULL;
        apr_status_t rv = range_page(etcd, from, end, RANGE_PAGE, rev, p, &answer, res);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!rev) {
            /* Every further page from the snapshot of the first. */
            rev = header_revision(answer);
        }
        page = sacme_json_arr(answer, "kvs");
        for (i = 0; page && i < json_array_size(page); ++i) {
            if ((rv = sacme_etcd_parse_kv(p, json_array_get(page, i), &kv, res))
                != APR_SUCCESS) {
                return rv;
            }
            APR_ARRAY_PUSH(out, sacme_etcd_kv_t *) = kv;
        }
        if (!sacme_json_bool(answer, "more") || !kv) {
            break;
        }
        if (out->nelts >= MAX_RANGE_KEYS) {
            return sacme_result_set(res, APR_ENOSPC, "etcd holds more than %d keys "
                                    "under %s", MAX_RANGE_KEYS, prefix);
        }
        /* The next page starts just after the last key: key + "\0". */
        from = sacme_etcd_b64(p, kv->key, strlen(kv->key) + 1);
    }
    if (rev <= 0) {
        return sacme_result_set(res, SACME_EPROTO, "etcd at %s answered a range "
                                "without the store's revision",
                                sacme_etcd_endpoint(etcd));
    }
    *kvs = out;
    if (revision) {
        *revision = rev;
    }
    return APR_SUCCESS;
}

static json_t *put_request(apr_pool_t *p, const char *key, const char *value,
                           apr_size_t len, apr_int64_t lease)
{
    json_t *put = json_pack("{s:s, s:s}", "key", sacme_etcd_b64(p, key, strlen(key)),
                            "value", sacme_etcd_b64(p, value, len));

    if (lease) {
        json_object_set_new(put, "lease",
                            json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, lease)));
    }
    return put;
}

apr_status_t sacme_etcd_put(sacme_etcd_t *etcd, const char *key,
                            const char *value, apr_size_t len, apr_int64_t lease,
                            apr_pool_t *p, apr_int64_t *revision,
                            sacme_result_t *res)
{
    json_t *answer;
    apr_status_t rv = call(etcd, "/v3/kv/put", put_request(p, key, value, len, lease),
                           p, &answer, res);

    if (rv == APR_SUCCESS && revision) {
        *revision = header_revision(answer);
    }
    return rv;
}

static apr_status_t delete_range(sacme_etcd_t *etcd, const char *key, int prefix,
                                 apr_pool_t *p, apr_int64_t *deleted,
                                 sacme_result_t *res)
{
    json_t *answer, *body = json_pack("{s:s}", "key", sacme_etcd_b64(p, key, strlen(key)));
    apr_status_t rv;

    if (prefix) {
        json_object_set_new(body, "range_end", json_string(sacme_etcd_prefix_end(p, key)));
    }
    rv = call(etcd, "/v3/kv/deleterange", body, p, &answer, res);
    if (rv == APR_SUCCESS && deleted) {
        *deleted = sacme_etcd_int(answer, "deleted");
    }
    return rv;
}

apr_status_t sacme_etcd_delete(sacme_etcd_t *etcd, const char *key, apr_pool_t *p,
                               apr_int64_t *deleted, sacme_result_t *res)
{
    return delete_range(etcd, key, 0, p, deleted, res);
}

apr_status_t sacme_etcd_delete_prefix(sacme_etcd_t *etcd, const char *prefix,
                                      apr_pool_t *p, apr_int64_t *deleted,
                                      sacme_result_t *res)
{
    if (!*prefix) {
        /* An empty prefix would be everything in etcd, other users' too. */
        return sacme_result_set(res, APR_EINVAL, "refusing to delete every key of etcd");
    }
    return delete_range(etcd, prefix, 1, p, deleted, res);
}

/* ---- transactions ------------------------------------------------------- */

/* Puts key if its target ("CREATE" or "MOD") revision equals expected;
 * otherwise reads it. */
static apr_status_t put_if(sacme_etcd_t *etcd, const char *key, const char *value,
                           apr_size_t len, apr_int64_t lease, const char *target,
                           apr_int64_t expected, apr_pool_t *p, int *done,
                           sacme_etcd_kv_t **current, sacme_result_t *res)
{
    const char *k64 = sacme_etcd_b64(p, key, strlen(key));
    const char *field = !strcmp(target, "CREATE") ? "create_revision" : "mod_revision";
    json_t *answer, *responses, *kvs, *body;
    apr_status_t rv;

    *done = 0;
    if (current) {
        *current = NULL;
    }
    body = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:o}], s:[{s:{s:s}}]}",
                     "compare", "target", target, "result", "EQUAL", "key", k64,
                     field, apr_psprintf(p, "%" APR_INT64_T_FMT, expected),
                     "success", "request_put", put_request(p, key, value, len, lease),
                     "failure", "request_range", "key", k64);
    rv = call(etcd, "/v3/kv/txn", body, p, &answer, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (sacme_json_bool(answer, "succeeded")) {
        *done = 1;
        return APR_SUCCESS;
    }
    /* Lost: responses[0].response_range.kvs[0] is what holds the key. */
    responses = sacme_json_arr(answer, "responses");
    kvs = sacme_json_arr(sacme_json_obj(json_array_get(responses, 0), "response_range"),
                         "kvs");
    if (current && kvs && json_array_size(kvs) > 0) {
        return sacme_etcd_parse_kv(p, json_array_get(kvs, 0), current, res);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_etcd_put_if_absent(sacme_etcd_t *etcd, const char *key,
                                      const char *value, apr_size_t len,
                                      apr_int64_t lease, apr_pool_t *p, int *done,
                                      sacme_etcd_kv_t **current,
                                      sacme_result_t *res)
{
    return put_if(etcd, key, value, len, lease, "CREATE", 0, p, done, current, res);
}

apr_status_t sacme_etcd_put_if_mod_revision(sacme_etcd_t *etcd, const char *key,
                                            const char *value, apr_size_t len,
                                            apr_int64_t lease,
                                            apr_int64_t mod_revision,
                                            apr_pool_t *p, int *done,
                                            sacme_etcd_kv_t **current,
                                            sacme_result_t *res)
{
    return put_if(etcd, key, value, len, lease, "MOD", mod_revision, p, done, current,
                  res);
}

/* ---- leases ----------------------------------------------------------------- */

static json_t *lease_body(apr_pool_t *p, const char *member, apr_int64_t n)
{
    return json_pack("{s:s}", member, apr_psprintf(p, "%" APR_INT64_T_FMT, n));
}

apr_status_t sacme_etcd_lease_grant(sacme_etcd_t *etcd, apr_int64_t ttl,
                                    apr_pool_t *p, apr_int64_t *id,
                                    apr_int64_t *granted, sacme_result_t *res)
{
    json_t *answer;
    const char *err;
    apr_status_t rv = call(etcd, "/v3/lease/grant", lease_body(p, "TTL", ttl), p,
                           &answer, res);

    *id = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((err = sacme_json_str(answer, "error")) && *err) {
        return sacme_result_set(res, SACME_EPROTO, "etcd at %s refused a lease of %"
                                APR_INT64_T_FMT " s: %s", sacme_etcd_endpoint(etcd),
                                ttl, err);
    }
    *id = sacme_etcd_int(answer, "ID");
    if (granted) {
        *granted = sacme_etcd_int(answer, "TTL");
    }
    if (*id <= 0) {
        *id = 0;
        return sacme_result_set(res, SACME_EPROTO, "etcd at %s granted a lease "
                                "without an ID", sacme_etcd_endpoint(etcd));
    }
    return APR_SUCCESS;
}

apr_status_t sacme_etcd_lease_keepalive(sacme_etcd_t *etcd, apr_int64_t id,
                                        apr_pool_t *p, apr_int64_t *ttl,
                                        sacme_result_t *res)
{
    json_t *answer, *result;
    apr_status_t rv = call(etcd, "/v3/lease/keepalive", lease_body(p, "ID", id), p,
                           &answer, res);

    *ttl = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* A stream method: its one message comes as {"result": ...}. */
    if (!(result = sacme_json_obj(answer, "result"))) {
        json_t *err = sacme_json_obj(answer, "error");
        return sacme_result_set(res, SACME_EPROTO, "etcd at %s did not renew lease %"
                                APR_INT64_T_FMT ": %s", sacme_etcd_endpoint(etcd), id,
                                err && sacme_json_str(err, "message")
                                ? sacme_json_str(err, "message") : "no result");
    }
    *ttl = sacme_etcd_int(result, "TTL");
    if (*ttl <= 0) {
        *ttl = 0;
        return sacme_result_set(res, APR_NOTFOUND, "etcd lease %" APR_INT64_T_FMT
                                " has expired or was revoked: the keys bound to it "
                                "are gone", id);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_etcd_lease_revoke(sacme_etcd_t *etcd, apr_int64_t id,
                                     apr_pool_t *p, sacme_result_t *res)
{
    json_t *answer;
    apr_status_t rv = call(etcd, "/v3/lease/revoke", lease_body(p, "ID", id), p,
                           &answer, res);

    if (rv == APR_NOTFOUND) {
        sacme_result_reset(res);     /* gone already: what revoking wanted */
        return APR_SUCCESS;
    }
    return rv;
}
