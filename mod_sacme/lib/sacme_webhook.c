/* The webhook sender: retry policy, one delivery, and the queue and thread
 * that keep deliveries away from the renewals (see sacme_webhook.h). */
#include <stdlib.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_queue.h>
#include <apr_thread_proc.h>
#include <apr_uri.h>

#include "sacme_json.h"
#include "sacme_queue.h"
#include "sacme_webhook.h"

struct sacme_webhook_t {
    const char *url;
    const char *url_log;
    sacme_http_t *http;
    sacme_webhook_opts_t opts;
    const sacme_log_t *log;
    apr_queue_t *queue;            /* item_t *, malloc'ed: freed by the sender */
    apr_thread_t *thread;          /* NULL once stopped */
    volatile apr_uint32_t seq;     /* spool file names, with the time */
};

/* One queued event. Allocated with malloc, not from a pool: it is made in
 * one thread and freed in another, and pools are not shared across threads. */
typedef struct {
    char *body;
    char *what;                    /* "renewed of example.org" */
    char *spooled;                 /* its file in the spool, or NULL */
} item_t;

void sacme_webhook_opts_default(sacme_webhook_opts_t *o)
{
    o->attempts = 3;
    o->backoff = apr_time_from_sec(2);
    o->queue_size = 64;
    o->spool = NULL;
}

sacme_webhook_verdict_t sacme_webhook_verdict(apr_status_t rv, int status, int attempt,
                                              int attempts)
{
    int transient = rv != APR_SUCCESS || status >= 500;

    if (!transient) {
        return status >= 200 && status < 300 ? SACME_WEBHOOK_DELIVERED
                                             : SACME_WEBHOOK_REFUSED;
    }
    return attempt < attempts ? SACME_WEBHOOK_RETRY : SACME_WEBHOOK_EXHAUSTED;
}

apr_interval_time_t sacme_webhook_wait(const sacme_webhook_opts_t *o, int attempt)
{
    apr_interval_time_t w = o->backoff;
    int i;

    /* attempts are few (a handful at most), so this cannot overflow */
    for (i = 1; i < attempt; ++i) {
        w *= 2;
    }
    return w;
}

const char *sacme_webhook_url_for_log(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    const char *origin;

    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname) {
        return "(an unparsable URL)";
    }
    origin = u.port_str ? apr_pstrcat(p, u.scheme, "://", u.hostname, ":", u.port_str, NULL)
                        : apr_pstrcat(p, u.scheme, "://", u.hostname, NULL);
    if ((u.path && strcmp(u.path, "/") && *u.path) || u.query || u.fragment) {
        return apr_pstrcat(p, origin, "/...", NULL);
    }
    return origin;
}

/* A transport failure in words, with the URL (which curl's message quotes
 * in full) cut down to its loggable form. */
static const char *failure_text(const sacme_result_t *res, const char *url,
                                const char *url_log, apr_pool_t *p)
{
    const char *msg = sacme_result_message(res, p), *at;
    apr_size_t n = strlen(url);

    while ((at = strstr(msg, url)) != NULL) {
        msg = apr_pstrcat(p, apr_pstrmemdup(p, msg, (apr_size_t)(at - msg)), url_log,
                          at + n, NULL);
    }
    return msg;
}

sacme_webhook_verdict_t sacme_webhook_deliver(sacme_http_t *http, const char *url,
                                              const char *body, const char *what,
                                              const sacme_webhook_opts_t *o,
                                              const sacme_log_t *log, apr_pool_t *p)
{
    const char *url_log = sacme_webhook_url_for_log(p, url);
    sacme_http_request_t req;
    sacme_webhook_verdict_t v;
    int attempt;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.content_type = "application/json";
    req.body = body;
    req.body_len = strlen(body);
    for (attempt = 1;; ++attempt) {
        apr_pool_t *ap;
        sacme_result_t *res;
        sacme_http_response_t *resp = NULL;
        apr_status_t rv;
        const char *why;
        int status;

        apr_pool_create(&ap, p);
        res = sacme_result_make(ap);
        rv = sacme_http_perform(http, &req, ap, &resp, res);
        status = rv == APR_SUCCESS ? resp->status : 0;
        v = sacme_webhook_verdict(rv, status, attempt, o->attempts);
        why = rv != APR_SUCCESS ? failure_text(res, url, url_log, ap)
                                : apr_psprintf(ap, "HTTP %d", status);
        switch (v) {
        case SACME_WEBHOOK_DELIVERED:
            sacme_log(log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10098)
                      "webhook %s: event %s delivered (HTTP %d)", url_log, what, status);
            break;
        case SACME_WEBHOOK_RETRY:
            sacme_log(log, SACME_LOG_WARNING, rv, SACME_LOGNO(10094)
                      "webhook %s: event %s, attempt %d of %d failed: %s; trying "
                      "again in %" APR_TIME_T_FMT " s", url_log, what, attempt,
                      o->attempts, why, apr_time_sec(sacme_webhook_wait(o, attempt)));
            break;
        case SACME_WEBHOOK_EXHAUSTED:
            sacme_log(log, SACME_LOG_ERR, rv, SACME_LOGNO(10095)
                      "webhook %s: event %s not delivered after %d attempt(s), the "
                      "last one failed: %s; giving up", url_log, what, attempt, why);
            break;
        case SACME_WEBHOOK_REFUSED:
            sacme_log(log, SACME_LOG_ERR, 0, SACME_LOGNO(10096)
                      "webhook %s: event %s refused with %s; not tried again (check "
                      "SacmeNotifyURL and the receiver)", url_log, what, why);
            break;
        }
        apr_pool_destroy(ap);
        if (v != SACME_WEBHOOK_RETRY) {
            return v;
        }
        apr_sleep(sacme_webhook_wait(o, attempt));
    }
}

static void item_free(item_t *item)
{
    if (item) {
        free(item->body);
        free(item->what);
        free(item->spooled);
        free(item);
    }
}

static void *APR_THREAD_FUNC sender_main(apr_thread_t *thread, void *data)
{
    sacme_webhook_t *wh = data;
    apr_pool_t *tp;
    void *pop;

    (void)thread;
    /* Unmanaged: nothing shared with the pools of other threads. */
    apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    while (sacme_queue_pop(wh->queue, &pop) == APR_SUCCESS) {
        item_t *item = pop;
        apr_pool_t *ep;

        apr_pool_create(&ep, tp);
        sacme_webhook_deliver(wh->http, wh->url, item->body, item->what, &wh->opts,
                              wh->log, ep);
        if (item->spooled) {       /* delivered or given up: done either way */
            sacme_sdir_remove(wh->opts.spool, item->spooled, NULL);
        }
        apr_pool_destroy(ep);
        item_free(item);
    }
    apr_pool_destroy(tp);
    return NULL;
}

static item_t *item_make(const char *body, const char *what, const char *spooled)
{
    item_t *item = calloc(1, sizeof(*item));

    if (item) {
        item->body = strdup(body);
        item->what = strdup(what);
        item->spooled = spooled ? strdup(spooled) : NULL;
        if (!item->body || !item->what || (spooled && !item->spooled)) {
            item_free(item);
            item = NULL;
        }
    }
    return item;
}

/* Writes the event to the spool, durably: it must outlive this process.
 * Returns the file, or NULL (then the event lives in memory only). */
static const char *spool_put(sacme_webhook_t *wh, const char *body, const char *what,
                             apr_pool_t *p)
{
    json_t *j = sacme_json_own(p, json_object());
    const char *name, *text;
    sacme_result_t *res = sacme_result_make(p);

    if (!wh->opts.spool) {
        return NULL;
    }
    /* names sort in the order the events were raised */
    name = apr_psprintf(p, "%020" APR_TIME_T_FMT "-%010" APR_PID_T_FMT "-%010u.json",
                        apr_time_now(), getpid(), apr_atomic_inc32(&wh->seq));
    json_object_set_new(j, "what", json_string(what));
    json_object_set_new(j, "body", json_string(body));
    text = sacme_json_dump(p, j);
    if (!text || sacme_sdir_write(wh->opts.spool, name, text, strlen(text), 0600,
                                  SACME_SDIR_DURABLE, p, res) != APR_SUCCESS) {
        sacme_log(wh->log, SACME_LOG_WARNING,
                  sacme_result_log_status(res), SACME_LOGNO(10057)
                  "webhook %s: cannot keep event %s in the spool (%s); it is sent "
                  "from memory only", wh->url_log, what, sacme_result_message(res, p));
        return NULL;
    }
    return name;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Queues what an earlier sender left in the spool, oldest first; what does
 * not fit waits there for a later start. */
static void spool_resume(sacme_webhook_t *wh, apr_pool_t *p)
{
    apr_array_header_t *all, *names = apr_array_make(p, 8, sizeof(const char *));
    int i, queued = 0;

    if (sacme_sdir_list(wh->opts.spool, p, 100000, &all, NULL) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < all->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(all, i, const char *);
        apr_size_t n = strlen(name);
        if (n > 5 && !strcmp(name + n - 5, ".json")
            && sacme_sdir_has_file(wh->opts.spool, name)) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
    for (i = 0; i < names->nelts && (unsigned int)queued < wh->opts.queue_size / 2; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        char *data;
        apr_size_t len;
        json_t *j = NULL;
        const char *body, *what;
        item_t *item;

        if (sacme_sdir_read(wh->opts.spool, name, 1024 * 1024, 0, p, &data, &len, NULL)
                == APR_SUCCESS) {
            j = sacme_json_parse(p, data, len, 0, NULL);
        }
        body = sacme_json_str(j, "body");
        what = sacme_json_str(j, "what");
        if (!body || !what) {
            sacme_sdir_remove(wh->opts.spool, name, NULL);   /* a torn or foreign file */
            continue;
        }
        if ((item = item_make(body, what, name))
            && apr_queue_trypush(wh->queue, item) == APR_SUCCESS) {
            ++queued;
        }
        else {
            item_free(item);
        }
    }
    if (queued) {
        sacme_log(wh->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10058)
                  "webhook %s: sending %d event(s) an earlier driver had not sent",
                  wh->url_log, queued);
    }
}

void sacme_webhook_stop(sacme_webhook_t *wh)
{
    apr_status_t ignored;
    void *pop;

    if (!wh || !wh->thread) {
        return;
    }
    /* What is still queued is dropped (it is ours to free); the event in
     * flight is finished, then the thread sees the end. */
    while (apr_queue_trypop(wh->queue, &pop) == APR_SUCCESS) {
        item_free(pop);
    }
    apr_queue_term(wh->queue);
    apr_thread_join(&ignored, wh->thread);
    wh->thread = NULL;
}

/* Before the pool's subpools go (the thread's among them). */
static apr_status_t webhook_cleanup(void *data)
{
    sacme_webhook_stop(data);
    return APR_SUCCESS;
}

apr_status_t sacme_webhook_start(apr_pool_t *p, const char *url, sacme_http_t *http,
                                 const sacme_webhook_opts_t *o, const sacme_log_t *log,
                                 sacme_webhook_t **wh, sacme_result_t *res)
{
    sacme_webhook_t *w = apr_pcalloc(p, sizeof(*w));
    apr_threadattr_t *attr;
    apr_status_t rv;

    *wh = NULL;
    w->url = apr_pstrdup(p, url);
    w->url_log = sacme_webhook_url_for_log(p, url);
    w->http = http;
    w->opts = *o;
    if (w->opts.attempts < 1) {
        w->opts.attempts = 1;
    }
    if (w->opts.queue_size < 1) {
        w->opts.queue_size = 1;
    }
    w->log = log;
    if ((rv = apr_queue_create(&w->queue, w->opts.queue_size, p)) != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot start the webhook sender for %s",
                                w->url_log);
    }
    if (w->opts.spool) {
        spool_resume(w, p);
    }
    if ((rv = apr_threadattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_thread_create(&w->thread, attr, sender_main, w, p)) != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot start the webhook sender for %s",
                                w->url_log);
    }
    apr_pool_pre_cleanup_register(p, w, webhook_cleanup);
    *wh = w;
    return APR_SUCCESS;
}

int sacme_webhook_post(sacme_webhook_t *wh, const sacme_event_t *ev)
{
    apr_pool_t *p;
    item_t *item;
    const char *body, *what, *spooled;
    apr_status_t rv;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    body = sacme_json_dump(p, sacme_json_own(p, sacme_event_json(ev, p)));
    what = apr_pstrcat(p, ev->event, " of ", ev->domain ? ev->domain : "-", NULL);
    spooled = spool_put(wh, body, what, p);
    if (!(item = item_make(body, what, spooled))) {
        rv = APR_ENOMEM;
    }
    else {
        rv = apr_queue_trypush(wh->queue, item);
    }
    if (rv != APR_SUCCESS) {
        /* Better one event lost, and said so, than a renewal waiting for a
         * receiver that does not answer. */
        sacme_log(wh->log, SACME_LOG_ERR, rv, SACME_LOGNO(10097)
                  "webhook %s: %s; event %s dropped", wh->url_log,
                  APR_STATUS_IS_EAGAIN(rv)
                      ? apr_psprintf(p, "%u events are waiting already",
                                     wh->opts.queue_size)
                      : rv == APR_ENOMEM ? "out of memory" : "the sender has stopped",
                  what);
        if (spooled) {
            sacme_sdir_remove(wh->opts.spool, spooled, NULL);
        }
        item_free(item);
    }
    apr_pool_destroy(p);
    return rv == APR_SUCCESS;
}

apr_status_t sacme_webhook_create(apr_pool_t *p, const char *url,
                                  const sacme_http_options_t *hopts,
                                  const sacme_sdir_t *spool, const sacme_log_t *log,
                                  sacme_webhook_t **wh, sacme_result_t *res)
{
    sacme_http_options_t ho;
    sacme_webhook_opts_t o;
    sacme_http_t *http;
    apr_status_t rv;

    *wh = NULL;
    memset(&ho, 0, sizeof(ho));
    if (hopts) {
        ho = *hopts;
    }
    /* A receiver is not a CA: it gets seconds, not the CA's minute. */
    ho.connect_timeout = SACME_WEBHOOK_TIMEOUT;
    ho.timeout = SACME_WEBHOOK_TIMEOUT;
    sacme_webhook_opts_default(&o);
    o.spool = spool;
    rv = sacme_http_curl_create(p, &ho, &http, res);
    return rv != APR_SUCCESS ? rv : sacme_webhook_start(p, url, http, &o, log, wh, res);
}
