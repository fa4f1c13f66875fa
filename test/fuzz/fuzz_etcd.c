/* What an etcd member sends the client (sacme_etcd.h): the watch stream,
 * cut into pieces of a size from the input, and the same bytes as the
 * answer of a get, a prefix read and a transaction.
 * Input: byte 1 the piece size (0: the whole stream at once), the rest the
 * body. */
#include "fuzz.h"
#include "sacme_etcd.h"

typedef struct {
    const char *body;            /* malloc'd, exactly len + 1 bytes */
    size_t len, piece;
    int answers;                 /* unary answers left */
} feed_t;

static feed_t feed;

static sacme_http_response_t *response(apr_pool_t *p, const char *body, size_t len)
{
    sacme_http_response_t *r = apr_pcalloc(p, sizeof(*r));

    r->status = 200;
    r->headers = apr_table_make(p, 1);
    r->body = body;
    r->body_len = len;
    return r;
}

static apr_status_t perform(sacme_http_t *http, const sacme_http_request_t *req,
                            apr_pool_t *p, sacme_http_response_t **resp,
                            sacme_result_t *res)
{
    (void)http;
    if (feed.answers-- <= 0) {
        /* a range whose every page says "more" must still end */
        return sacme_result_set(res, APR_ECONNREFUSED, "%s: refused", req->url);
    }
    *resp = response(p, feed.body, feed.len);
    return APR_SUCCESS;
}

static apr_status_t stream(sacme_http_t *http, const sacme_http_request_t *req,
                           apr_interval_time_t timeout, sacme_http_chunk_fn *fn,
                           void *baton, apr_pool_t *p, sacme_http_response_t **resp,
                           sacme_result_t *res)
{
    size_t off, step = feed.piece ? feed.piece : feed.len;
    int stopped = 0;

    (void)http; (void)req; (void)timeout; (void)res;
    for (off = 0; off < feed.len && !stopped; off += step) {
        stopped = fn(baton, feed.body + off, off + step > feed.len ? feed.len - off : step);
    }
    if (!stopped) {
        (void)fn(baton, NULL, 0);   /* idle: the consumer below stops */
    }
    *resp = response(p, "", 0);
    return APR_SUCCESS;
}

static const sacme_http_impl_t FEED = { "fuzz", perform, stream };

static int on_event(void *baton, const sacme_etcd_event_t *ev)
{
    apr_int64_t *last = baton;

    if (!ev) {
        return 1;
    }
    if (!ev->kv || !ev->kv->key || !ev->kv->value
        || strlen(ev->kv->value) > ev->kv->value_len) {
        abort();                    /* an event always carries a key-value */
    }
    *last = ev->kv->mod_revision;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *eps;
    sacme_etcd_t *etcd;
    sacme_etcd_kv_t *kv;
    apr_array_header_t *kvs;
    apr_int64_t next = 0, last = 0, rev;
    int done;
    char *body;

    if (size < 1) {
        return 0;
    }
    p = fuzz_pool();
    body = fuzz_str(data + 1, size - 1);
    feed.body = body;
    feed.len = size - 1;
    feed.piece = data[0];
    feed.answers = 4;
    eps = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(eps, const char *) = "http://127.0.0.1:2379";
    if (sacme_etcd_create(p, eps, sacme_http_create(p, &FEED, NULL, NULL), NULL, &etcd,
                          NULL) != APR_SUCCESS) {
        abort();
    }
    if (sacme_etcd_watch(etcd, "/sacme/x/", 5, apr_time_from_sec(60), on_event, &last, p,
                         &next, NULL) == APR_SUCCESS && last && next <= last && next) {
        abort();                    /* never resumes before a change it delivered */
    }
    (void)sacme_etcd_get(etcd, "/sacme/x/a", p, &kv, &rev, NULL);
    (void)sacme_etcd_range_prefix(etcd, "/sacme/x/", p, &kvs, &rev, NULL);
    (void)sacme_etcd_put_if_absent(etcd, "/sacme/x/a", "v", 1, 7, p, &done, &kv, NULL);
    apr_pool_destroy(p);
    free(body);
    return 0;
}
