/* The etcd watch: one POST /v3/watch whose answer is a stream. The gateway
 * writes one JSON object per message, each ending with a newline:
 *   {"result": {"header": {...}, "created": true}}
 *   {"result": {"header": {...}, "events": [{"type": "DELETE", "kv": {...}}]}}
 *   {"result": {..., "canceled": true, "compact_revision": "N"}}
 *   {"error": {"grpc_code": N, "message": "..."}}
 * (a put has no "type": protobuf leaves out the zero value).
 *
 * The stream is cut into messages here as the pieces arrive, each bounded
 * by the transport's max_response, and each parsed in a pool cleared after
 * it: a watch may run for hours.
 */
#include "sacme_etcd_int.h"
#include "sacme_json.h"

/* Streams opened by one sacme_etcd_watch, per endpoint: a member that
 * accepts and at once closes again must not keep us spinning. */
#define MAX_STREAMS_PER_ENDPOINT 3

typedef struct {
    sacme_etcd_t *etcd;
    apr_pool_t *p;               /* the watch's: the message buffer */
    const char *endpoint;
    apr_pool_t *scratch;         /* one message's parse, cleared after it */
    sacme_etcd_watch_fn *fn;
    void *baton;
    char *buf;                   /* the unfinished message */
    apr_size_t len, cap, max;
    apr_time_t deadline;
    apr_int64_t next;            /* the revision to resume from */
    int created;                 /* etcd confirmed this stream's watch */
    int stop;                    /* fn asked to end */
    int failed;                  /* the member failed the stream: next one */
    apr_status_t rv;             /* an end that is the caller's to know */
    sacme_result_t *res;
} watch_t;

static int deliver_events(watch_t *w, const json_t *events)
{
    size_t i, n = json_array_size(events);

    for (i = 0; i < n; ++i) {
        const json_t *e = json_array_get(events, i);
        const char *type = sacme_json_str(e, "type");
        sacme_etcd_event_t ev;
        sacme_etcd_kv_t *kv;

        if (sacme_etcd_parse_kv(w->scratch, json_object_get(e, "kv"), &kv, w->res)
            != APR_SUCCESS) {
            w->rv = w->res->status;
            sacme_result_prefix(w->res, "etcd at %s, watch", w->endpoint);
            return 1;
        }
        if (kv->mod_revision >= APR_INT64_MAX) {
            w->rv = sacme_result_set(w->res, SACME_EPROTO, "etcd at %s sent a change "
                                     "at an impossible revision", w->endpoint);
            return 1;
        }
        ev.type = type && !strcmp(type, "DELETE") ? SACME_ETCD_DELETE : SACME_ETCD_PUT;
        ev.kv = kv;
        w->next = kv->mod_revision + 1;
        if (w->fn(w->baton, &ev)) {
            /* One transaction's events share a revision: if more of it are
             * left in this message, the next watch starts at it again
             * (a change seen twice rather than one never seen). */
            const json_t *after = json_object_get(json_array_get(events, i + 1), "kv");
            if (after && sacme_etcd_int(after, "mod_revision") == kv->mod_revision) {
                w->next = kv->mod_revision;
            }
            w->stop = 1;
            return 1;
        }
    }
    return 0;
}

/* Handles one message; non-zero ends the stream. */
static int on_message(watch_t *w, const char *text, apr_size_t len)
{
    sacme_result_t *r = sacme_result_make(w->scratch);
    json_t *j = sacme_json_parse(w->scratch, text, len, 0, r), *result, *err;

    if (!j || !json_is_object(j)) {
        w->rv = sacme_result_set(w->res, SACME_EPROTO, "etcd at %s sent a watch "
                                 "message that is not a JSON object: %s", w->endpoint,
                                 r->detail ? r->detail : "");
        return 1;
    }
    if ((err = sacme_json_obj(j, "error"))) {
        /* The member's trouble (it lost its leader, it shuts down). */
        sacme_result_set(w->res, SACME_EPROTO, "etcd at %s ended the watch: %s",
                         w->endpoint, sacme_json_str(err, "message")
                         ? sacme_json_str(err, "message") : "no reason given");
        w->failed = 1;
        return 1;
    }
    if (!(result = sacme_json_obj(j, "result"))) {
        return 0;               /* nothing we know: not ours to judge */
    }
    if (sacme_json_bool(result, "created")) {
        w->created = 1;
        if (w->next <= 0) {
            /* From now on: from the revision after the one it was created at. */
            apr_int64_t rev = sacme_etcd_int(sacme_json_obj(result, "header"), "revision");
            if (rev < 0 || rev >= APR_INT64_MAX) {
                w->rv = sacme_result_set(w->res, SACME_EPROTO, "etcd at %s created the "
                                         "watch at an impossible revision", w->endpoint);
                return 1;
            }
            w->next = rev + 1;
        }
    }
    if (sacme_json_bool(result, "canceled")) {
        apr_int64_t compacted = sacme_etcd_int(result, "compact_revision");
        const char *why = sacme_json_str(result, "cancel_reason");
        if (compacted > 0) {
            w->rv = sacme_result_set(w->res, SACME_ETCD_ECOMPACTED, "etcd at %s: "
                                     "the changes from revision %" APR_INT64_T_FMT
                                     " are compacted away (up to %" APR_INT64_T_FMT
                                     "); the keys must be read again", w->endpoint,
                                     w->next, compacted);
            w->next = 0;
        }
        else {
            w->rv = sacme_result_set(w->res, SACME_EPROTO, "etcd at %s cancelled the "
                                     "watch: %s", w->endpoint,
                                     why && *why ? why : "no reason given");
        }
        return 1;
    }
    return deliver_events(w, sacme_json_arr(result, "events"));
}

static int on_chunk(void *baton, const char *data, apr_size_t len)
{
    watch_t *w = baton;
    apr_size_t start = 0, i;

    if (!data) {
        /* Idle: the caller's chance to stop. */
        if (w->fn(w->baton, NULL)) {
            w->stop = 1;
            return 1;
        }
        return apr_time_now() >= w->deadline;
    }
    if (len > w->max - w->len) {
        w->rv = sacme_result_set(w->res, APR_ENOSPC, "etcd at %s sent a watch message "
                                 "over the %" APR_SIZE_T_FMT " byte limit", w->endpoint,
                                 w->max);
        return 1;
    }
    if (w->len + len > w->cap) {
        apr_size_t cap = w->cap ? w->cap : 4096;
        char *nb;
        while (cap < w->len + len) {
            cap *= 2;
        }
        nb = apr_palloc(w->p, cap);
        if (w->len) {
            memcpy(nb, w->buf, w->len);
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, len);
    /* What was kept holds no newline: look at the new bytes only. */
    i = w->len;
    w->len += len;
    for (; i < w->len; ++i) {
        if (w->buf[i] == '\n') {
            const char *msg = w->buf + start;
            apr_size_t n = i - start;
            int end;
            while (n > 0 && (msg[n - 1] == '\r' || msg[n - 1] == ' ')) {
                --n;
            }
            end = n > 0 && on_message(w, msg, n);
            apr_pool_clear(w->scratch);
            start = i + 1;
            if (end) {
                return 1;
            }
        }
    }
    if (start) {
        memmove(w->buf, w->buf + start, w->len - start);
        w->len -= start;
    }
    return 0;
}

apr_status_t sacme_etcd_watch(sacme_etcd_t *etcd, const char *prefix,
                              apr_int64_t start, apr_interval_time_t timeout,
                              sacme_etcd_watch_fn *fn, void *baton,
                              apr_pool_t *p, apr_int64_t *next,
                              sacme_result_t *res)
{
    watch_t w;
    sacme_http_request_t req;
    const char *failures = NULL;
    apr_status_t last = APR_EAGAIN;
    int streams = 0, failed_in_row = 0;

    memset(&w, 0, sizeof(w));
    w.etcd = etcd;
    w.p = p;
    w.fn = fn;
    w.baton = baton;
    w.max = etcd->http->opts.max_response;
    w.deadline = apr_time_now() + timeout;
    w.next = start > 0 ? start : 0;
    w.res = res ? res : sacme_result_make(p);
    apr_pool_create(&w.scratch, p);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.content_type = "application/json";
    req.headers = sacme_etcd_headers;

    while (apr_time_now() < w.deadline
           && streams < MAX_STREAMS_PER_ENDPOINT * etcd->endpoints->nelts) {
        json_t *create = json_pack("{s:s, s:s}",
                                   "key", sacme_etcd_b64(p, prefix, strlen(prefix)),
                                   "range_end", sacme_etcd_prefix_end(p, prefix));
        json_t *body;
        sacme_http_response_t *resp;
        sacme_result_t *r = sacme_result_make(p);
        apr_status_t rv;

        if (w.next > 0) {
            json_object_set_new(create, "start_revision",
                                json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, w.next)));
        }
        body = json_pack("{s:o}", "create_request", create);
        req.body = sacme_json_dump(p, body);
        req.body_len = strlen(req.body);
        json_decref(body);
        w.endpoint = sacme_etcd_endpoint(etcd);
        req.url = apr_pstrcat(p, w.endpoint, "/v3/watch", NULL);
        w.created = w.failed = 0;
        w.len = 0;
        ++streams;

        rv = sacme_http_perform_stream(etcd->http, &req, w.deadline - apr_time_now(),
                                       on_chunk, &w, p, &resp, r);
        if (w.rv != APR_SUCCESS) {
            return w.rv;            /* compacted, cancelled, malformed */
        }
        if (w.stop) {
            break;
        }
        if (w.failed || sacme_etcd_failover(rv, resp)) {
            if (w.failed) {
                r = w.res;
            }
            else if (rv == APR_SUCCESS) {
                sacme_etcd_refusal(w.endpoint, "/v3/watch", resp, p, r);
            }
            else {
                last = rv;
            }
            failed_in_row = w.created ? 0 : failed_in_row + 1;
            failures = apr_pstrcat(p, failures ? failures : "", failures ? "; " : "",
                                   r->detail, NULL);
            if (failed_in_row >= etcd->endpoints->nelts) {
                sacme_result_set(w.res, last, "no etcd member answered the watch of "
                                 "%s: %s", prefix, failures);
                w.res->hint = "check that the etcd cluster runs, has a majority of "
                              "its members up, and is reachable from this host";
                return last;
            }
            sacme_etcd_next_endpoint(etcd, "the watch", r, p);
            sacme_result_reset(w.res);
            continue;
        }
        if (resp->status < 200 || resp->status > 299) {
            return sacme_etcd_refusal(w.endpoint, "/v3/watch", resp, p, res);
        }
        /* A stream that ended by itself before our time: the member closed
         * it (shutting down); the next one carries on from w.next. */
        if (apr_time_now() + apr_time_from_msec(100) < w.deadline) {
            sacme_result_set(r, APR_ECONNRESET, "etcd at %s closed the watch",
                             w.endpoint);
            sacme_etcd_next_endpoint(etcd, "the watch", r, p);
        }
    }
    apr_pool_destroy(w.scratch);
    if (!w.stop && apr_time_now() + apr_time_from_msec(100) < w.deadline) {
        return sacme_result_set(res, APR_ECONNRESET, "etcd members keep closing the "
                                "watch of %s (%d streams): %s", prefix, streams,
                                failures ? failures : "closed without a reason");
    }
    if (next) {
        *next = w.next;
    }
    sacme_result_reset(w.res);
    return APR_SUCCESS;
}
