/* Unit tests: the etcd client (sacme_etcd.h) against answers recorded from
 * etcd 3.4's JSON gateway: the gateway's encoding (base64 keys and values,
 * integers as strings, zero values left out), every call's answer, etcd's
 * refusals, failover between members, the transactions' two outcomes and
 * the watch stream cut into pieces anywhere. No network: a scripted
 * transport that can also stream. */
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_log.h"
#include "sacme_etcd.h"
#include "sacme_etcd_int.h"
#include "sacme_json.h"

#define EP1 "http://127.0.0.1:2379"
#define EP2 "http://127.0.0.1:22379"
#define EP3 "https://etcd3.example.net:2379"
#define MAX_EXCHANGES 16

/* "/sacme/c/a" and its value "hello", as the gateway writes them. */
#define KEY_A_B64 "L3NhY21lL2MvYQ=="
#define HELLO_B64 "aGVsbG8="
#define HDR "\"header\":{\"cluster_id\":\"3249\",\"member_id\":\"3319\"," \
            "\"revision\":\"7\",\"raft_term\":\"2\"}"

typedef struct {
    int status;                 /* 0: no answer (connection refused) */
    const char *body;
    apr_size_t chunk;           /* a stream: pieces of this size (0: whole) */
    int closes;                 /* a stream: the member closes it after the body
                                   (otherwise it stays open until the watch's time) */
} scripted_t;

typedef struct {
    const scripted_t *script;
    int n, next;
    const char *urls[MAX_EXCHANGES];
    const char *bodies[MAX_EXCHANGES];
} fake_t;

static fake_t fake;

static const scripted_t *take(const sacme_http_request_t *req)
{
    ck_assert_msg(fake.next < fake.n, "unexpected request %s", req->url);
    ck_assert_str_eq(req->method, "POST");
    ck_assert_str_eq(req->content_type, "application/json");
    /* every call asks for a member with a leader (see sacme_etcd_int.h) */
    ck_assert_ptr_nonnull(req->headers);
    ck_assert_str_eq(req->headers[0], "Grpc-Metadata-hasleader: true");
    ck_assert_ptr_null(req->headers[1]);
    fake.urls[fake.next] = apr_pstrdup(unit_pool, req->url);
    fake.bodies[fake.next] = apr_pstrndup(unit_pool, req->body, req->body_len);
    return &fake.script[fake.next++];
}

static sacme_http_response_t *answer(const scripted_t *s, apr_pool_t *p)
{
    sacme_http_response_t *resp = apr_pcalloc(p, sizeof(*resp));

    resp->status = s->status;
    resp->headers = apr_table_make(p, 1);
    resp->body = s->body ? s->body : "";
    resp->body_len = strlen(resp->body);
    return resp;
}

static apr_status_t fake_perform(sacme_http_t *http, const sacme_http_request_t *req,
                                 apr_pool_t *p, sacme_http_response_t **resp,
                                 sacme_result_t *res)
{
    const scripted_t *s = take(req);

    if (!s->status) {
        return sacme_result_set(res, APR_ECONNREFUSED, "POST %s: Connection refused",
                                req->url);
    }
    *resp = answer(s, p);
    return APR_SUCCESS;
}

static apr_status_t fake_stream(sacme_http_t *http, const sacme_http_request_t *req,
                                apr_interval_time_t timeout, sacme_http_chunk_fn *fn,
                                void *baton, apr_pool_t *p,
                                sacme_http_response_t **resp, sacme_result_t *res)
{
    const scripted_t *s = take(req);
    apr_size_t len, off, step;
    int stopped = 0;

    if (!s->status) {
        return sacme_result_set(res, APR_ECONNREFUSED, "POST %s: Connection refused",
                                req->url);
    }
    *resp = answer(s, p);
    if (s->status < 200 || s->status > 299) {
        return APR_SUCCESS;
    }
    len = strlen(s->body);
    step = s->chunk ? s->chunk : len;
    for (off = 0; off < len && !stopped; off += step) {
        stopped = fn(baton, s->body + off, off + step > len ? len - off : step);
    }
    (*resp)->body = "";
    (*resp)->body_len = 0;
    if (!s->closes) {
        /* Open until the consumer stops (at the latest when its time is up),
         * with the idle ticks a real transport gives. */
        while (!stopped) {
            apr_sleep(apr_time_from_msec(10));
            stopped = fn(baton, NULL, 0);
        }
    }
    return APR_SUCCESS;
}

static const sacme_http_impl_t FAKE = { "fake-etcd", fake_perform, fake_stream };

static sacme_etcd_t *client(const scripted_t *script, int n, int endpoints,
                            sacme_log_t *log)
{
    apr_array_header_t *eps = unit_names(EP1, EP2, EP3, NULL);
    sacme_http_options_t opts;
    sacme_etcd_t *etcd;

    memset(&fake, 0, sizeof(fake));
    fake.script = script;
    fake.n = n;
    eps->nelts = endpoints;
    memset(&opts, 0, sizeof(opts));
    opts.max_response = 4096;
    ck_assert_int_eq(sacme_etcd_create(unit_pool, eps,
                                       sacme_http_create(unit_pool, &FAKE, NULL, &opts),
                                       log, &etcd, NULL), APR_SUCCESS);
    return etcd;
}

static json_t *sent(int i)
{
    json_t *j = sacme_json_parse(unit_pool, fake.bodies[i], strlen(fake.bodies[i]), 0, NULL);

    ck_assert_msg(j != NULL, "request %d is not JSON: %s", i, fake.bodies[i]);
    return j;
}

/* --- encoding ------------------------------------------------------------------ */

START_TEST(encoding)
{
    static const char ints[] = "{\"a\":\"42\",\"b\":7,\"c\":\"x1\",\"d\":\"\"}";
    json_t *j = sacme_json_parse(unit_pool, ints, strlen(ints), 0, NULL);

    ck_assert_str_eq(sacme_etcd_b64(unit_pool, "/sacme/c/a", 10), KEY_A_B64);
    ck_assert_str_eq(sacme_etcd_b64(unit_pool, "", 0), "");
    ck_assert_str_eq(sacme_etcd_b64(unit_pool, "\0", 1), "AA==");
    /* the first key after the prefix: "/sacme/" -> "/sacme0" */
    ck_assert_str_eq(sacme_etcd_prefix_end(unit_pool, "/sacme/"),
                     sacme_etcd_b64(unit_pool, "/sacme0", 7));
    ck_assert_str_eq(sacme_etcd_prefix_end(unit_pool, "a\xff"),
                     sacme_etcd_b64(unit_pool, "b", 1));
    ck_assert_str_eq(sacme_etcd_prefix_end(unit_pool, ""), "AA==");
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(sacme_etcd_int(j, "a"), 42);
    ck_assert_int_eq(sacme_etcd_int(j, "b"), 7);
    ck_assert_int_eq(sacme_etcd_int(j, "c"), -1);
    ck_assert_int_eq(sacme_etcd_int(j, "d"), -1);
    ck_assert_int_eq(sacme_etcd_int(j, "missing"), 0);
}
END_TEST

START_TEST(endpoints_checked)
{
    static const char *const good[] = {
        "https://etcd1.example.net:2379", "https://10.1.2.3:2379/", "http://127.0.0.1:2379",
        "http://127.8.9.10:2379", "http://[::1]:2379",
    };
    static const char *const bad[] = {
        "http://10.1.2.3:2379", "http://localhost:2379", "http://etcd.example.net:2379",
        "https://user:pw@etcd.example.net:2379", "https://etcd.example.net:2379/v3",
        "ftp://127.0.0.1/", "etcd.example.net:2379", "", "http://[::2]:2379",
    };
    apr_size_t i;
    sacme_result_t *res = sacme_result_make(unit_pool);

    for (i = 0; i < SACME_ARRAY_LEN(good); ++i) {
        ck_assert_msg(sacme_etcd_check_endpoint(unit_pool, good[i], res) == APR_SUCCESS,
                      "%s refused: %s", good[i], res->detail);
    }
    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_etcd_check_endpoint(unit_pool, bad[i], res) == SACME_ECONFIG,
                      "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(res->detail, bad[i]));
    }
    ck_assert(sacme_http_is_loopback_http(unit_pool, "http://127.0.0.1:1/x"));
    ck_assert(!sacme_http_is_loopback_http(unit_pool, "https://127.0.0.1:1/"));
    ck_assert(!sacme_http_is_loopback_http(unit_pool, "http://127.0.0.1@evil.example/"));
}
END_TEST

/* The libcurl transport lets plain http through only when asked, and then
 * only to a loopback address: checked before any connection is tried. */
START_TEST(curl_loopback_allowance)
{
    sacme_http_options_t opts;
    sacme_http_t *acme, *etcd;
    sacme_http_request_t req;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memset(&opts, 0, sizeof(opts));
    ck_assert_int_eq(sacme_http_curl_create(unit_pool, &opts, &acme, res), APR_SUCCESS);
    opts.allow_loopback_http = 1;
    ck_assert_int_eq(sacme_http_curl_create(unit_pool, &opts, &etcd, res), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    /* port 1 on loopback: nothing listens, so reaching it means refused */
    req.url = "http://127.0.0.1:1/v3/kv/range";
    ck_assert_int_eq(sacme_http_perform(acme, &req, unit_pool, &resp, res), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "only https URLs are allowed"));
    ck_assert_int_eq(sacme_http_perform(etcd, &req, unit_pool, &resp, res),
                     APR_ECONNREFUSED);
    req.url = "http://192.0.2.1:2379/v3/kv/range";
    ck_assert_int_eq(sacme_http_perform(etcd, &req, unit_pool, &resp, res), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "plain http to a loopback address"));
    req.url = "http://localhost:1/";
    ck_assert_int_eq(sacme_http_perform(etcd, &req, unit_pool, &resp, res), APR_EINVAL);
    req.url = "http://[::1]:1/";
    ck_assert_int_ne(sacme_http_perform(etcd, &req, unit_pool, &resp, res), APR_EINVAL);
}
END_TEST

/* --- kv ------------------------------------------------------------------------ */

START_TEST(get_one_key)
{
    static const scripted_t script[] = {
        { 200, "{" HDR ",\"kvs\":[{\"key\":\"" KEY_A_B64 "\",\"create_revision\":\"2\","
               "\"mod_revision\":\"5\",\"version\":\"3\",\"value\":\"" HELLO_B64 "\","
               "\"lease\":\"694d77aa9e38260f\"}],\"count\":\"1\"}", 0, 0 },
        { 200, "{" HDR ",\"kvs\":[{\"key\":\"" KEY_A_B64 "\",\"create_revision\":\"2\","
               "\"mod_revision\":\"5\",\"version\":\"1\",\"value\":\"" HELLO_B64 "\","
               "\"lease\":\"7587863040413443615\"}],\"count\":\"1\"}", 0, 0 },
        { 200, "{" HDR "}", 0, 0 },
        { 200, "{" HDR ",\"kvs\":[{\"key\":\"" KEY_A_B64 "\",\"value\":\"*!\"}]}", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 4, 1, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_etcd_kv_t *kv;
    apr_int64_t rev = 0;
    json_t *req;

    /* a lease that is no decimal number is the gateway misbehaving */
    ck_assert_int_eq(sacme_etcd_get(etcd, "/sacme/c/a", unit_pool, &kv, &rev, res),
                     SACME_EPROTO);
    ck_assert_int_eq(sacme_etcd_get(etcd, "/sacme/c/a", unit_pool, &kv, &rev, res),
                     APR_SUCCESS);
    ck_assert_str_eq(fake.urls[1], EP1 "/v3/kv/range");
    req = sent(1);
    ck_assert_str_eq(sacme_json_str(req, "key"), KEY_A_B64);
    ck_assert_ptr_null(json_object_get(req, "range_end"));
    ck_assert_ptr_nonnull(kv);
    ck_assert_str_eq(kv->key, "/sacme/c/a");
    ck_assert_str_eq(kv->value, "hello");
    ck_assert_uint_eq(kv->value_len, 5);
    ck_assert_int_eq(kv->create_revision, 2);
    ck_assert_int_eq(kv->mod_revision, 5);
    ck_assert_int_eq(kv->version, 1);
    ck_assert(kv->lease == APR_INT64_C(7587863040413443615));
    ck_assert_int_eq(rev, 7);
    /* missing: no kvs at all in the answer */
    ck_assert_int_eq(sacme_etcd_get(etcd, "/sacme/c/b", unit_pool, &kv, &rev, res),
                     APR_SUCCESS);
    ck_assert_ptr_null(kv);
    /* a value that is not base64 */
    ck_assert_int_eq(sacme_etcd_get(etcd, "/sacme/c/a", unit_pool, &kv, NULL, res),
                     SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "not base64"));
}
END_TEST

START_TEST(range_in_pages)
{
    static const scripted_t script[] = {
        { 200, "{" HDR ",\"kvs\":[{\"key\":\"L3AvYQ==\",\"mod_revision\":\"3\"},"
               "{\"key\":\"L3AvYg==\",\"mod_revision\":\"4\",\"value\":\"Yg==\"}],"
               "\"more\":true,\"count\":\"3\"}", 0, 0 },
        { 200, "{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L3AvYw==\","
               "\"mod_revision\":\"6\",\"value\":\"Yw==\"}],\"count\":\"3\"}", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 2, 1, NULL);
    apr_array_header_t *kvs;
    apr_int64_t rev = 0;
    json_t *first, *second;

    ck_assert_int_eq(sacme_etcd_range_prefix(etcd, "/p/", unit_pool, &kvs, &rev, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(kvs->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(kvs, 0, sacme_etcd_kv_t *)->key, "/p/a");
    ck_assert_str_eq(APR_ARRAY_IDX(kvs, 0, sacme_etcd_kv_t *)->value, "");
    ck_assert_str_eq(APR_ARRAY_IDX(kvs, 2, sacme_etcd_kv_t *)->value, "c");
    /* the snapshot of the first page */
    ck_assert_int_eq(rev, 7);
    first = sent(0);
    ck_assert_str_eq(sacme_json_str(first, "key"), "L3Av");                 /* "/p/" */
    ck_assert_str_eq(sacme_json_str(first, "range_end"), "L3Aw");           /* "/p0" */
    ck_assert_ptr_null(json_object_get(first, "revision"));
    second = sent(1);
    ck_assert_str_eq(sacme_json_str(second, "key"), "L3AvYgA=");            /* "/p/b\0" */
    ck_assert_str_eq(sacme_json_str(second, "range_end"), "L3Aw");
    ck_assert_str_eq(sacme_json_str(second, "revision"), "7");
    ck_assert_str_eq(sacme_json_str(second, "limit"), sacme_json_str(first, "limit"));
}
END_TEST

START_TEST(put_and_delete)
{
    static const scripted_t script[] = {
        { 200, "{\"header\":{\"revision\":\"12\"}}", 0, 0 },
        { 200, "{\"header\":{\"revision\":\"13\"},\"deleted\":\"4\"}", 0, 0 },
        { 200, "{\"header\":{\"revision\":\"13\"}}", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 3, 1, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_int64_t rev = 0, n = -1;
    json_t *req;

    ck_assert_int_eq(sacme_etcd_put(etcd, "/sacme/c/a", "hel\0lo", 6, 1234567890123, unit_pool,
                                    &rev, res), APR_SUCCESS);
    ck_assert_int_eq(rev, 12);
    ck_assert_str_eq(fake.urls[0], EP1 "/v3/kv/put");
    req = sent(0);
    ck_assert_str_eq(sacme_json_str(req, "key"), KEY_A_B64);
    ck_assert_str_eq(sacme_json_str(req, "value"), "aGVsAGxv");
    ck_assert_str_eq(sacme_json_str(req, "lease"), "1234567890123");
    ck_assert_int_eq(sacme_etcd_delete_prefix(etcd, "/p/", unit_pool, &n, res), APR_SUCCESS);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(fake.urls[1], EP1 "/v3/kv/deleterange");
    ck_assert_str_eq(sacme_json_str(sent(1), "range_end"), "L3Aw");
    /* nothing deleted: protobuf leaves the zero out */
    ck_assert_int_eq(sacme_etcd_delete(etcd, "/p/x", unit_pool, &n, res), APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(json_object_get(sent(2), "range_end"));
    /* never the whole key space */
    ck_assert_int_eq(sacme_etcd_delete_prefix(etcd, "", unit_pool, &n, res), APR_EINVAL);
}
END_TEST

/* --- errors and failover -------------------------------------------------------- */

START_TEST(refusal_is_not_failover)
{
    static const scripted_t script[] = {
        { 400, "{\"error\":\"illegal base64 data at input byte 0\",\"message\":"
               "\"illegal base64 data at input byte 0\",\"code\":3}", 0, 0 },
        { 404, "{\"error\":\"etcdserver: requested lease not found\",\"message\":"
               "\"etcdserver: requested lease not found\",\"code\":5}", 0, 0 },
        { 404, "{\"error\":\"etcdserver: requested lease not found\",\"code\":5}", 0, 0 },
        { 200, "not json", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 4, 2, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_int64_t rev;

    ck_assert_int_eq(sacme_etcd_put(etcd, "/k", "v", 1, 0, unit_pool, &rev, res), APR_EINVAL);
    ck_assert_str_eq(res->detail, "etcd at " EP1 " refused /v3/kv/put: illegal base64 data "
                     "at input byte 0 (HTTP 400, code 3)");
    ck_assert_int_eq(res->http_status, 400);
    /* a put bound to a lease that is gone */
    ck_assert_int_eq(sacme_etcd_put(etcd, "/k", "v", 1, 99, unit_pool, &rev, res),
                     APR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(res->detail, "requested lease not found"));
    /* revoking one that is gone is what was wanted */
    ck_assert_int_eq(sacme_etcd_lease_revoke(etcd, 99, unit_pool, res), APR_SUCCESS);
    ck_assert_ptr_null(res->detail);
    ck_assert_int_eq(sacme_etcd_put(etcd, "/k", "v", 1, 0, unit_pool, &rev, res),
                     SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, EP1));
    /* all at the first member: a 4xx is no reason to ask another */
    ck_assert_str_eq(fake.urls[3], EP1 "/v3/kv/put");
}
END_TEST

START_TEST(failover_to_next_member)
{
    static const scripted_t script[] = {
        { 0, NULL, 0, 0 },
        { 503, "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\","
               "\"code\":14}", 0, 0 },
        { 200, "{\"header\":{\"revision\":\"3\"}}", 0, 0 },
        { 200, "{\"header\":{\"revision\":\"4\"}}", 0, 0 },
    };
    sacme_log_t *log;
    unit_log_t *cap = unit_log_make(&log);
    sacme_etcd_t *etcd = client(script, 4, 3, log);
    apr_int64_t rev = 0;
    int level = 0;

    ck_assert_str_eq(sacme_etcd_endpoint(etcd), EP1);
    ck_assert_int_eq(sacme_etcd_put(etcd, "/k", "v", 1, 0, unit_pool, &rev, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(rev, 3);
    ck_assert_str_eq(fake.urls[0], EP1 "/v3/kv/put");
    ck_assert_str_eq(fake.urls[1], EP2 "/v3/kv/put");
    ck_assert_str_eq(fake.urls[2], EP3 "/v3/kv/put");
    ck_assert_str_eq(fake.bodies[0], fake.bodies[2]);
    ck_assert_ptr_nonnull(unit_logged(cap, "SACME10540: etcd member " EP1 " failed", &level));
    ck_assert_int_eq(level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(unit_logged(cap, "etcdserver: no leader", NULL));
    /* the client stays with the member that answered */
    ck_assert_str_eq(sacme_etcd_endpoint(etcd), EP3);
    ck_assert_int_eq(sacme_etcd_put(etcd, "/k", "v", 1, 0, unit_pool, &rev, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(fake.urls[3], EP3 "/v3/kv/put");
    ck_assert_int_eq(unit_log_count(cap, "SACME10540"), 2);
}
END_TEST

START_TEST(no_member_answers)
{
    static const scripted_t script[] = {
        { 504, "{\"error\":\"etcdserver: request timed out\",\"code\":4}", 0, 0 },
        { 0, NULL, 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 2, 2, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_int64_t id;

    ck_assert_int_eq(sacme_etcd_lease_grant(etcd, 15, unit_pool, &id, NULL, res),
                     APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(res->detail, "no etcd member answered /v3/lease/grant"));
    ck_assert_ptr_nonnull(strstr(res->detail, EP1 " refused /v3/lease/grant: etcdserver: "
                                 "request timed out (HTTP 504"));
    ck_assert_ptr_nonnull(strstr(res->detail, EP2 "/v3/lease/grant: Connection refused"));
    ck_assert_ptr_nonnull(res->hint);
    ck_assert_int_eq(id, 0);
}
END_TEST

/* --- transactions ------------------------------------------------------------- */

START_TEST(txn_outcomes)
{
    static const scripted_t script[] = {
        { 200, "{" HDR ",\"succeeded\":true,\"responses\":[{\"response_put\":"
               "{\"header\":{\"revision\":\"7\"}}}]}", 0, 0 },
        /* lost: protobuf leaves out "succeeded": false */
        { 200, "{" HDR ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"7\"},"
               "\"kvs\":[{\"key\":\"" KEY_A_B64 "\",\"create_revision\":\"3\","
               "\"mod_revision\":\"3\",\"version\":\"1\",\"value\":\"" HELLO_B64 "\","
               "\"lease\":\"77\"}],\"count\":\"1\"}}]}", 0, 0 },
        /* lost against a key that is gone by now */
        { 200, "{" HDR ",\"responses\":[{\"response_range\":{\"header\":"
               "{\"revision\":\"8\"}}}]}", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 3, 1, NULL);
    sacme_etcd_kv_t *cur = NULL;
    int done = -1;
    json_t *req, *cmp, *put;

    ck_assert_int_eq(sacme_etcd_put_if_absent(etcd, "/sacme/c/a", "node1", 5, 42, unit_pool,
                                              &done, &cur, NULL), APR_SUCCESS);
    ck_assert_int_eq(done, 1);
    ck_assert_ptr_null(cur);
    ck_assert_str_eq(fake.urls[0], EP1 "/v3/kv/txn");
    req = sent(0);
    cmp = json_array_get(sacme_json_arr(req, "compare"), 0);
    ck_assert_str_eq(sacme_json_str(cmp, "target"), "CREATE");
    ck_assert_str_eq(sacme_json_str(cmp, "result"), "EQUAL");
    ck_assert_str_eq(sacme_json_str(cmp, "create_revision"), "0");
    ck_assert_str_eq(sacme_json_str(cmp, "key"), KEY_A_B64);
    put = sacme_json_obj(json_array_get(sacme_json_arr(req, "success"), 0), "request_put");
    ck_assert_str_eq(sacme_json_str(put, "lease"), "42");
    ck_assert_str_eq(sacme_json_str(put, "value"), "bm9kZTE=");
    ck_assert_str_eq(sacme_json_str(sacme_json_obj(json_array_get(
        sacme_json_arr(req, "failure"), 0), "request_range"), "key"), KEY_A_B64);

    ck_assert_int_eq(sacme_etcd_put_if_mod_revision(etcd, "/sacme/c/a", "x", 1, 0, 2,
                                                    unit_pool, &done, &cur, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(done, 0);
    ck_assert_ptr_nonnull(cur);
    ck_assert_str_eq(cur->value, "hello");
    ck_assert_int_eq(cur->mod_revision, 3);
    ck_assert_int_eq(cur->lease, 77);
    cmp = json_array_get(sacme_json_arr(sent(1), "compare"), 0);
    ck_assert_str_eq(sacme_json_str(cmp, "target"), "MOD");
    ck_assert_str_eq(sacme_json_str(cmp, "mod_revision"), "2");
    ck_assert_ptr_null(json_object_get(sacme_json_obj(json_array_get(
        sacme_json_arr(sent(1), "success"), 0), "request_put"), "lease"));

    ck_assert_int_eq(sacme_etcd_put_if_absent(etcd, "/sacme/c/a", "n", 1, 0, unit_pool,
                                              &done, &cur, NULL), APR_SUCCESS);
    ck_assert_int_eq(done, 0);
    ck_assert_ptr_null(cur);
}
END_TEST

/* --- leases ------------------------------------------------------------------------ */

START_TEST(lease_calls)
{
    static const scripted_t script[] = {
        { 200, "{" HDR ",\"ID\":\"7587863040413443615\",\"TTL\":\"15\"}", 0, 0 },
        { 200, "{\"result\":{" HDR ",\"ID\":\"7587863040413443615\",\"TTL\":\"15\"}}", 0, 0 },
        /* expired: the gateway answers 200 with no TTL */
        { 200, "{\"result\":{" HDR ",\"ID\":\"7587863040413443615\"}}", 0, 0 },
        { 200, "{" HDR ",\"ID\":\"0\",\"TTL\":\"0\",\"error\":\"lease TTL too large\"}", 0, 0 },
        { 200, "{" HDR "}", 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 5, 1, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_int64_t id = 0, ttl = 0;

    ck_assert_int_eq(sacme_etcd_lease_grant(etcd, 15, unit_pool, &id, &ttl, res),
                     APR_SUCCESS);
    ck_assert(id == APR_INT64_C(7587863040413443615));
    ck_assert_int_eq(ttl, 15);
    ck_assert_str_eq(fake.urls[0], EP1 "/v3/lease/grant");
    ck_assert_str_eq(sacme_json_str(sent(0), "TTL"), "15");
    ck_assert_int_eq(sacme_etcd_lease_keepalive(etcd, id, unit_pool, &ttl, res), APR_SUCCESS);
    ck_assert_int_eq(ttl, 15);
    ck_assert_str_eq(fake.urls[1], EP1 "/v3/lease/keepalive");
    ck_assert_str_eq(sacme_json_str(sent(1), "ID"), "7587863040413443615");
    ck_assert_int_eq(sacme_etcd_lease_keepalive(etcd, id, unit_pool, &ttl, res),
                     APR_NOTFOUND);
    ck_assert_int_eq(ttl, 0);
    ck_assert_ptr_nonnull(strstr(res->detail, "has expired or was revoked"));
    ck_assert_int_eq(sacme_etcd_lease_grant(etcd, 999999999, unit_pool, &id, &ttl, res),
                     SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "lease TTL too large"));
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(sacme_etcd_lease_revoke(etcd, 5, unit_pool, res), APR_SUCCESS);
    ck_assert_str_eq(fake.urls[4], EP1 "/v3/lease/revoke");
}
END_TEST

/* --- the watch ---------------------------------------------------------------------- */

/* Two messages: a put of /p/a at 10 and, in one transaction at 11, a put of
 * /p/b and the deletion of /p/a. */
#define WATCH_CREATED "{\"result\":{" HDR ",\"created\":true}}\n"
#define WATCH_EVENTS \
    "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L3AvYQ==\",\"create_revision\":" \
    "\"10\",\"mod_revision\":\"10\",\"version\":\"1\",\"value\":\"MQ==\"}}]}}\n" \
    "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L3AvYg==\",\"create_revision\":" \
    "\"11\",\"mod_revision\":\"11\",\"version\":\"1\",\"value\":\"Mg==\"}}," \
    "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3AvYQ==\",\"mod_revision\":\"11\"}}]}}\n"

typedef struct {
    int events, ticks, stop_after;
    const char *seen[8];
    apr_int64_t revs[8];
    int types[8];
} collected_t;

static int collect(void *baton, const sacme_etcd_event_t *ev)
{
    collected_t *c = baton;

    if (!ev) {
        ++c->ticks;
        return 0;
    }
    ck_assert_int_lt(c->events, 8);
    c->seen[c->events] = apr_pstrcat(unit_pool, ev->kv->key, "=", ev->kv->value, NULL);
    c->revs[c->events] = ev->kv->mod_revision;
    c->types[c->events] = ev->type;
    ++c->events;
    return c->stop_after && c->events >= c->stop_after;
}

static void check_watch_pieces(apr_size_t chunk)
{
    scripted_t script[] = { { 200, WATCH_CREATED WATCH_EVENTS, 0, 0 } };
    collected_t c;
    apr_int64_t next = 0;
    sacme_etcd_t *etcd;
    json_t *create;

    script[0].chunk = chunk;
    etcd = client(script, 1, 1, NULL);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 10, apr_time_from_msec(100), collect,
                                      &c, unit_pool, &next, NULL), APR_SUCCESS);
    ck_assert_msg(c.events == 3, "pieces of %d: %d events", (int)chunk, c.events);
    ck_assert_str_eq(c.seen[0], "/p/a=1");
    ck_assert_int_eq(c.types[0], SACME_ETCD_PUT);
    ck_assert_int_eq(c.revs[0], 10);
    ck_assert_str_eq(c.seen[1], "/p/b=2");
    ck_assert_str_eq(c.seen[2], "/p/a=");
    ck_assert_int_eq(c.types[2], SACME_ETCD_DELETE);
    ck_assert_int_eq(c.revs[2], 11);
    ck_assert_int_eq(next, 12);
    ck_assert_str_eq(fake.urls[0], EP1 "/v3/watch");
    create = sacme_json_obj(sent(0), "create_request");
    ck_assert_str_eq(sacme_json_str(create, "key"), "L3Av");
    ck_assert_str_eq(sacme_json_str(create, "range_end"), "L3Aw");
    ck_assert_str_eq(sacme_json_str(create, "start_revision"), "10");
}

START_TEST(watch_stream_in_pieces)
{
    /* whole, byte by byte, and pieces that split messages anywhere */
    check_watch_pieces(0);
    check_watch_pieces(1);
    check_watch_pieces(7);
    check_watch_pieces(64);
}
END_TEST

START_TEST(watch_stops_and_resumes)
{
    static const scripted_t script[] = {
        { 200, WATCH_CREATED WATCH_EVENTS, 0, 0 },
        { 200, WATCH_CREATED WATCH_EVENTS, 0, 0 },
        { 200, WATCH_CREATED, 0, 0 },
    };
    sacme_etcd_t *etcd = client(script, 3, 1, NULL);
    collected_t c;
    apr_int64_t next = 0;

    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 0, apr_time_from_sec(30), collect, &c,
                                      unit_pool, &next, NULL), APR_SUCCESS);
    ck_assert_int_eq(c.events, 1);
    ck_assert_int_eq(next, 11);
    ck_assert_ptr_null(json_object_get(sacme_json_obj(sent(0), "create_request"),
                                       "start_revision"));
    /* stopped within a transaction: its revision comes again, not lost */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 10, apr_time_from_sec(30), collect, &c,
                                      unit_pool, &next, NULL), APR_SUCCESS);
    ck_assert_int_eq(next, 11);
    /* nothing happens: from now on is from the revision after the creation */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 0, apr_time_from_msec(100), collect, &c,
                                      unit_pool, &next, NULL), APR_SUCCESS);
    ck_assert_int_eq(c.events, 0);
    ck_assert_int_gt(c.ticks, 0);
    ck_assert_int_eq(next, 8);
}
END_TEST

START_TEST(watch_compacted)
{
    static const scripted_t script[] = {
        { 200, WATCH_CREATED "{\"result\":{\"header\":{\"cluster_id\":\"3249\","
               "\"raft_term\":\"2\"},\"canceled\":true,\"compact_revision\":\"5\"}}\n", 3, 0 },
    };
    sacme_etcd_t *etcd = client(script, 1, 1, NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    collected_t c;
    apr_int64_t next = 99;

    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 2, apr_time_from_sec(30), collect, &c,
                                      unit_pool, &next, res), SACME_ETCD_ECOMPACTED);
    ck_assert_int_eq(c.events, 0);
    ck_assert_ptr_nonnull(strstr(res->detail, "from revision 2 are compacted away (up to 5)"));
    ck_assert_ptr_nonnull(strstr(res->detail, EP1));
}
END_TEST

START_TEST(watch_fails_over)
{
    static const scripted_t script[] = {
        { 0, NULL, 0, 0 },
        /* the second member closes the stream after one event ... */
        { 200, WATCH_CREATED "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L3AvYQ==\","
               "\"mod_revision\":\"10\",\"value\":\"MQ==\"}}]}}\n", 5, 1 },
        /* ... the third goes on from there */
        { 200, WATCH_CREATED "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L3AvYg==\","
               "\"mod_revision\":\"12\",\"value\":\"Mg==\"}}]}}\n", 0, 0 },
    };
    sacme_log_t *log;
    unit_log_t *cap = unit_log_make(&log);
    sacme_etcd_t *etcd = client(script, 3, 3, log);
    collected_t c;
    apr_int64_t next = 0;

    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 9, apr_time_from_sec(30), collect, &c,
                                      unit_pool, &next, NULL), APR_SUCCESS);
    ck_assert_int_eq(c.events, 2);
    ck_assert_int_eq(next, 13);
    ck_assert_str_eq(fake.urls[1], EP2 "/v3/watch");
    ck_assert_str_eq(fake.urls[2], EP3 "/v3/watch");
    ck_assert_str_eq(sacme_json_str(sacme_json_obj(sent(2), "create_request"),
                                    "start_revision"), "11");
    ck_assert_int_eq(unit_log_count(cap, "SACME10540"), 2);
}
END_TEST

START_TEST(watch_errors)
{
    static const scripted_t script[] = {
        /* a message over the limit (4096 here) */
        { 200, NULL, 512, 0 },
        /* no member answers */
        { 0, NULL, 0, 0 },
        { 503, "{\"error\":\"etcdserver: no leader\",\"code\":14}", 0, 0 },
        /* not JSON */
        { 200, "{\"result\":\n", 0, 0 },
    };
    scripted_t s[SACME_ARRAY_LEN(script)];
    char *big = apr_palloc(unit_pool, 5000);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_etcd_t *etcd;
    collected_t c;

    memcpy(s, script, sizeof(s));
    memset(big, 'x', 4999);
    big[4999] = '\0';
    s[0].body = big;
    etcd = client(s, 1, 1, NULL);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 0, apr_time_from_sec(30), collect, &c,
                                      unit_pool, NULL, res), APR_ENOSPC);
    ck_assert_ptr_nonnull(strstr(res->detail, "4096 byte limit"));

    etcd = client(s + 1, 2, 2, NULL);
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 0, apr_time_from_sec(30), collect, &c,
                                      unit_pool, NULL, res), APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(res->detail, "no etcd member answered the watch of /p/"));
    ck_assert_ptr_nonnull(strstr(res->detail, "etcdserver: no leader"));

    etcd = client(s + 3, 1, 1, NULL);
    ck_assert_int_eq(sacme_etcd_watch(etcd, "/p/", 0, apr_time_from_sec(30), collect, &c,
                                      unit_pool, NULL, res), SACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res->detail, "not a JSON object"));
}
END_TEST

Suite *unit_suite_etcd(void)
{
    Suite *s = suite_create("etcd");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, encoding);
    tcase_add_test(tc, endpoints_checked);
    tcase_add_test(tc, curl_loopback_allowance);
    tcase_add_test(tc, get_one_key);
    tcase_add_test(tc, range_in_pages);
    tcase_add_test(tc, put_and_delete);
    tcase_add_test(tc, refusal_is_not_failover);
    tcase_add_test(tc, failover_to_next_member);
    tcase_add_test(tc, no_member_answers);
    tcase_add_test(tc, txn_outcomes);
    tcase_add_test(tc, lease_calls);
    tcase_add_test(tc, watch_stream_in_pieces);
    tcase_add_test(tc, watch_stops_and_resumes);
    tcase_add_test(tc, watch_compacted);
    tcase_add_test(tc, watch_fails_over);
    tcase_add_test(tc, watch_errors);
    suite_add_tcase(s, tc);
    return s;
}
