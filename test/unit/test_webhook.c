/* Unit tests: events and the webhook. The event's two forms (environment
 * and JSON), the retry policy, one delivery against the scripted fake
 * transport, the queue that never blocks its caller, and the driver's
 * events arriving at the webhook ("revoked" once per request). No network:
 * transports are fakes. */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "unit.h"
#include "unit_fake.h"
#include "unit_log.h"
#include "sacme_drive.h"
#include "sacme_event.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_queue.h"
#include "sacme_request.h"
#include "sacme_webhook.h"

#define HOOK_URL "https://hooks.example.net:8443/services/T0/B0/Sekr1tT0ken?sig=Qu0kka"
#define NAME "events.example.org"

static sacme_event_t sample(void)
{
    sacme_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.event = "expiring";
    ev.domain = NAME;
    ev.names = unit_names(NAME, "www." NAME, NULL);
    ev.time = apr_time_from_sec(1795000000);
    ev.serial = "0A1B2C";
    ev.not_after = apr_time_from_sec(1796000000);
    ev.threshold = "14d";
    ev.has_days_left = 1;
    ev.days_left = 11;
    ev.detail = "expires in 11.6 days";
    return ev;
}

static json_t *parse(const char *body)
{
    json_t *j = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);

    ck_assert_msg(j != NULL, "not JSON: %s", body);
    return j;
}

/* --- the event's forms ------------------------------------------------------------ */

START_TEST(test_event_json)
{
    static const char *const keys[] = {
        "event", "domain", "names", "time", "serial", "not-after", "error", "detail",
        "threshold", "days-left", "reason",
    };
    sacme_event_t ev = sample();
    json_t *j = sacme_json_own(unit_pool, sacme_event_json(&ev, unit_pool));
    apr_size_t i;

    /* the same members every time, so receivers need no guessing */
    ck_assert_int_eq((int)json_object_size(j), (int)SACME_ARRAY_LEN(keys));
    for (i = 0; i < SACME_ARRAY_LEN(keys); ++i) {
        ck_assert_msg(json_object_get(j, keys[i]) != NULL, "no member %s", keys[i]);
    }
    ck_assert_str_eq(sacme_json_str(j, "event"), "expiring");
    ck_assert_str_eq(sacme_json_str(j, "domain"), NAME);
    ck_assert_int_eq((int)json_array_size(json_object_get(j, "names")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "names"), 1)),
                     "www." NAME);
    ck_assert_str_eq(sacme_json_str(j, "serial"), "0A1B2C");
    ck_assert_str_eq(sacme_json_str(j, "not-after"), "2026-11-30T00:53:20Z");
    ck_assert_str_eq(sacme_json_str(j, "time"), "2026-11-18T11:06:40Z");
    ck_assert_str_eq(sacme_json_str(j, "threshold"), "14d");
    ck_assert_int_eq((int)json_integer_value(json_object_get(j, "days-left")), 11);
    ck_assert(json_is_null(json_object_get(j, "error")));
    ck_assert(json_is_null(json_object_get(j, "reason")));

    /* what does not apply is null, not missing */
    memset(&ev, 0, sizeof(ev));
    ev.event = "account-deactivated";
    ev.domain = NAME;
    j = sacme_json_own(unit_pool, sacme_event_json(&ev, unit_pool));
    ck_assert_int_eq((int)json_object_size(j), (int)SACME_ARRAY_LEN(keys));
    ck_assert(json_is_null(json_object_get(j, "serial")));
    ck_assert(json_is_null(json_object_get(j, "not-after")));
    ck_assert(json_is_null(json_object_get(j, "days-left")));
    ck_assert_int_eq((int)json_array_size(json_object_get(j, "names")), 0);
    ck_assert_ptr_nonnull(sacme_json_str(j, "time"));
}
END_TEST

START_TEST(test_event_env)
{
    sacme_event_t ev = sample();
    apr_table_t *env = sacme_event_env(&ev, unit_pool);

    ck_assert_str_eq(apr_table_get(env, "SACME_NAMES"), NAME " www." NAME);
    ck_assert_str_eq(apr_table_get(env, "SACME_SERIAL"), "0A1B2C");
    ck_assert_str_eq(apr_table_get(env, "SACME_NOT_AFTER"), "2026-11-30T00:53:20Z");
    ck_assert_str_eq(apr_table_get(env, "SACME_DAYS_LEFT"), "11");
    ck_assert_str_eq(apr_table_get(env, "SACME_THRESHOLD"), "14d");
    ck_assert_str_eq(apr_table_get(env, "SACME_DETAIL"), "expires in 11.6 days");
    /* nothing set for what does not apply: scripts test with -n */
    ck_assert_ptr_null(apr_table_get(env, "SACME_ERROR"));
    ck_assert_ptr_null(apr_table_get(env, "SACME_REASON"));

    ev.event = "revoked";
    ev.has_days_left = 0;
    ev.threshold = NULL;
    ev.reason = "keyCompromise";
    env = sacme_event_env(&ev, unit_pool);
    ck_assert_str_eq(apr_table_get(env, "SACME_REASON"), "keyCompromise");
    ck_assert_ptr_null(apr_table_get(env, "SACME_DAYS_LEFT"));
    ck_assert_ptr_null(apr_table_get(env, "SACME_THRESHOLD"));
}
END_TEST

/* --- the policy ---------------------------------------------------------------------- */

START_TEST(test_webhook_verdicts)
{
    sacme_webhook_opts_t o;

    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 200, 1, 3), SACME_WEBHOOK_DELIVERED);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 204, 3, 3), SACME_WEBHOOK_DELIVERED);
    /* the receiver's trouble, or the network's: again, while attempts last */
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 500, 1, 3), SACME_WEBHOOK_RETRY);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 503, 2, 3), SACME_WEBHOOK_RETRY);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 502, 3, 3), SACME_WEBHOOK_EXHAUSTED);
    ck_assert_int_eq(sacme_webhook_verdict(APR_ECONNREFUSED, 0, 1, 3), SACME_WEBHOOK_RETRY);
    ck_assert_int_eq(sacme_webhook_verdict(APR_TIMEUP, 0, 3, 3), SACME_WEBHOOK_EXHAUSTED);
    /* a "no" is final: the same body would be refused again */
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 400, 1, 3), SACME_WEBHOOK_REFUSED);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 404, 1, 3), SACME_WEBHOOK_REFUSED);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 429, 1, 3), SACME_WEBHOOK_REFUSED);
    ck_assert_int_eq(sacme_webhook_verdict(APR_SUCCESS, 301, 1, 3), SACME_WEBHOOK_REFUSED);

    sacme_webhook_opts_default(&o);
    ck_assert_int_eq(o.attempts, 3);
    ck_assert(sacme_webhook_wait(&o, 1) == apr_time_from_sec(2));
    ck_assert(sacme_webhook_wait(&o, 2) == apr_time_from_sec(4));
    ck_assert_uint_eq(o.queue_size, 64);
}
END_TEST

START_TEST(test_webhook_url_for_log)
{
    /* path, query and user info often are the secret: only the origin */
    ck_assert_str_eq(sacme_webhook_url_for_log(unit_pool, HOOK_URL),
                     "https://hooks.example.net:8443/...");
    ck_assert_str_eq(sacme_webhook_url_for_log(unit_pool,
                                               "https://bot:pa55@chat.example.net/in"),
                     "https://chat.example.net/...");
    ck_assert_str_eq(sacme_webhook_url_for_log(unit_pool, "https://ops.example.net/"),
                     "https://ops.example.net");
    ck_assert_str_eq(sacme_webhook_url_for_log(unit_pool, "https://ops.example.net"),
                     "https://ops.example.net");
}
END_TEST

/* --- one delivery ---------------------------------------------------------------------- */

static sacme_webhook_opts_t no_waits(void)
{
    sacme_webhook_opts_t o;

    sacme_webhook_opts_default(&o);
    o.backoff = 0;
    return o;
}

static const char *sample_body(void)
{
    sacme_event_t ev = sample();

    return sacme_json_dump(unit_pool, sacme_json_own(unit_pool,
                                                     sacme_event_json(&ev, unit_pool)));
}

/* No line of the log shows the URL's secret parts. */
static void assert_url_hidden(unit_log_t *cap)
{
    ck_assert_ptr_null(unit_logged(cap, "Sekr1t", NULL));
    ck_assert_ptr_null(unit_logged(cap, "Qu0kka", NULL));
    ck_assert_ptr_null(unit_logged(cap, "/services", NULL));
}

/* What one delivery of the sample event sent and logged. */
typedef struct {
    unit_fake_t fake;
    unit_log_t *cap;
} sent_t;

/* Delivers the sample event to the fake answering with script, without
 * waits between attempts; `what` names the event in the log. */
static sacme_webhook_verdict_t send_sample(sent_t *s, const unit_scripted_t *script, int n,
                                           const char *what)
{
    sacme_webhook_opts_t o = no_waits();
    sacme_http_t *http = unit_fake_http(&s->fake, script, n);
    sacme_log_t *log;

    s->cap = unit_log_make(&log);
    return sacme_webhook_deliver(http, HOOK_URL, sample_body(), what, &o, log, unit_pool);
}

START_TEST(test_webhook_delivers_json)
{
    static const unit_scripted_t script[] = { { 200, NULL, "ok" } };
    sent_t sent;
    json_t *body;

    ck_assert_int_eq(send_sample(&sent, script, (int)SACME_ARRAY_LEN(script), "expiring of x"),
                     SACME_WEBHOOK_DELIVERED);
    ck_assert_int_eq(sent.fake.next, 1);
    ck_assert_str_eq(sent.fake.methods[0], "POST");
    ck_assert_str_eq(sent.fake.urls[0], HOOK_URL);
    ck_assert_str_eq(sent.fake.content_types[0], "application/json");
    body = parse(sent.fake.bodies[0]);
    ck_assert_str_eq(sacme_json_str(body, "event"), "expiring");
    ck_assert_str_eq(sacme_json_str(body, "serial"), "0A1B2C");
    ck_assert_ptr_null(unit_logged(sent.cap, "SACME10094", NULL));
    ck_assert_ptr_null(unit_logged(sent.cap, "SACME10095", NULL));
}
END_TEST

START_TEST(test_webhook_5xx_retried_then_given_up)
{
    static const unit_scripted_t script[] = {
        { 503, NULL, "busy" }, { 500, NULL, "oops" }, { 502, NULL, "bad gateway" },
    };
    sent_t sent;
    const char *last;
    int level;

    /* three attempts, no fourth (the fake fails on an unscripted one) */
    ck_assert_int_eq(send_sample(&sent, script, (int)SACME_ARRAY_LEN(script), "renewed of x"),
                     SACME_WEBHOOK_EXHAUSTED);
    ck_assert_int_eq(sent.fake.next, 3);
    ck_assert_str_eq(sent.fake.bodies[2], sent.fake.bodies[0]);
    ck_assert_int_eq(unit_log_count(sent.cap, "SACME10094: "), 2);
    ck_assert_ptr_nonnull(strstr(unit_logged(sent.cap, "SACME10094: ", NULL),
                                 "attempt 1 of 3 failed: HTTP 503"));
    last = unit_logged(sent.cap, "SACME10095: ", &level);
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(level, SACME_LOG_ERR);
    ck_assert_ptr_nonnull(strstr(last, "event renewed of x not delivered after 3 attempt(s)"));
    ck_assert_ptr_nonnull(strstr(last, "HTTP 502; giving up"));
    ck_assert_ptr_nonnull(strstr(last, "https://hooks.example.net:8443/..."));
    assert_url_hidden(sent.cap);
}
END_TEST

START_TEST(test_webhook_5xx_then_delivered)
{
    static const unit_scripted_t script[] = { { 500, NULL, "oops" }, { 202, NULL, "" } };
    sent_t sent;

    ck_assert_int_eq(send_sample(&sent, script, (int)SACME_ARRAY_LEN(script), "renewed of x"),
                     SACME_WEBHOOK_DELIVERED);
    ck_assert_int_eq(sent.fake.next, 2);
    ck_assert_int_eq(unit_log_count(sent.cap, "SACME10094: "), 1);
    ck_assert_ptr_null(unit_logged(sent.cap, "SACME10095: ", NULL));
}
END_TEST

START_TEST(test_webhook_4xx_not_retried)
{
    static const unit_scripted_t script[] = { { 404, NULL, "no such hook" } };
    sent_t sent;
    const char *line;

    ck_assert_int_eq(send_sample(&sent, script, (int)SACME_ARRAY_LEN(script), "errored of x"),
                     SACME_WEBHOOK_REFUSED);
    ck_assert_int_eq(sent.fake.next, 1);
    line = unit_logged(sent.cap, "SACME10096: ", NULL);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(line, "refused with HTTP 404; not tried again"));
    ck_assert_ptr_null(unit_logged(sent.cap, "SACME10094: ", NULL));
    assert_url_hidden(sent.cap);
}
END_TEST

START_TEST(test_webhook_network_error_retried)
{
    /* no answer twice (the fake fails like a refused connection), then 200 */
    static const unit_scripted_t script[] = {
        { 0, NULL, NULL }, { 0, NULL, NULL }, { 200, NULL, "" },
    };
    sent_t sent;
    const char *line;

    ck_assert_int_eq(send_sample(&sent, script, (int)SACME_ARRAY_LEN(script), "renewing of x"),
                     SACME_WEBHOOK_DELIVERED);
    ck_assert_int_eq(sent.fake.next, 3);
    ck_assert_int_eq(unit_log_count(sent.cap, "SACME10094: "), 2);
    /* the transport's words are kept, the URL in them is cut down */
    line = unit_logged(sent.cap, "attempt 2 of 3", NULL);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(line, "POST https://hooks.example.net:8443/...: "
                                       "Connection refused"));
    assert_url_hidden(sent.cap);
}
END_TEST

/* --- the queue --------------------------------------------------------------------------- */

/* A transport that records what it is sent and that the test can hold:
 * while `gate` is locked, a request waits inside perform. */
typedef struct {
    apr_thread_mutex_t *lock;      /* guards the fields below */
    apr_thread_mutex_t *gate;
    int entered;                   /* requests that reached perform */
    int done;                      /* requests answered */
    char bodies[16][2048];
} held_t;

static apr_status_t held_perform(sacme_http_t *http, const sacme_http_request_t *req,
                                 apr_pool_t *p, sacme_http_response_t **resp,
                                 sacme_result_t *res)
{
    held_t *h = http->baton;
    sacme_http_response_t *r = apr_pcalloc(p, sizeof(*r));

    (void)res;
    apr_thread_mutex_lock(h->lock);
    ++h->entered;
    apr_thread_mutex_unlock(h->lock);
    apr_thread_mutex_lock(h->gate);
    apr_thread_mutex_unlock(h->gate);
    apr_thread_mutex_lock(h->lock);
    if (h->done < 16) {
        apr_cpystrn(h->bodies[h->done], req->body, sizeof(h->bodies[0]));
    }
    ++h->done;
    apr_thread_mutex_unlock(h->lock);
    r->status = 200;
    r->headers = apr_table_make(p, 1);
    r->body = "";
    *resp = r;
    return APR_SUCCESS;
}

static const sacme_http_impl_t HELD = { "held", held_perform, NULL };

static int held_count(held_t *h, int entered)
{
    int n;

    apr_thread_mutex_lock(h->lock);
    n = entered ? h->entered : h->done;
    apr_thread_mutex_unlock(h->lock);
    return n;
}

/* Waits (bounded: a guard against a hang, not a timing claim) until the
 * transport saw n requests enter or finish. */
static void held_wait(held_t *h, int entered, int n)
{
    int i;

    for (i = 0; i < 1000 && held_count(h, entered) < n; ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    ck_assert_int_eq(held_count(h, entered), n);
}

/* A sender over the held transport (stopped with unit_pool), spooling to
 * spool when not NULL. */
static sacme_webhook_t *held_sender_spool(held_t *h, unsigned int queue_size,
                                          sacme_log_t *log, const char *spool)
{
    sacme_webhook_opts_t o = no_waits();
    sacme_webhook_t *wh;

    memset(h, 0, sizeof(*h));
    ck_assert_int_eq(apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, unit_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_mutex_create(&h->gate, APR_THREAD_MUTEX_DEFAULT, unit_pool),
                     APR_SUCCESS);
    o.queue_size = queue_size;
    o.spool = spool ? unit_sdir(spool) : NULL;
    ck_assert_int_eq(sacme_webhook_start(unit_pool, HOOK_URL,
                                         sacme_http_create(unit_pool, &HELD, h, NULL), &o, log,
                                         &wh, NULL), APR_SUCCESS);
    return wh;
}

static sacme_webhook_t *held_sender(held_t *h, unsigned int queue_size, sacme_log_t *log)
{
    return held_sender_spool(h, queue_size, log, NULL);
}

/* The name of some file in dir (the test puts one there). */
static const char *first_file(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    const char *name = NULL;

    ck_assert_int_eq(apr_dir_open(&d, dir, unit_pool), APR_SUCCESS);
    while (!name && apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        if (fi.filetype == APR_REG) {
            name = apr_pstrdup(unit_pool, fi.name);
        }
    }
    apr_dir_close(d);
    ck_assert_ptr_nonnull(name);
    return name;
}

/* Files in dir (0 when it does not exist). */
static int files_in(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    if (apr_dir_open(&d, dir, unit_pool) != APR_SUCCESS) {
        return 0;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        n += fi.filetype == APR_REG;
    }
    apr_dir_close(d);
    return n;
}

/* An event is on disk from its post until it is delivered: a driver
 * replaced meanwhile (a graceful restart) does not lose it. */
START_TEST(test_webhook_spool_holds_events_in_flight)
{
    const char *spool = apr_pstrcat(unit_pool, unit_tmpdir(), "/spool", NULL);
    sacme_event_t ev = sample();
    sacme_log_t *log;
    held_t h;
    sacme_webhook_t *wh;
    int i;

    unit_log_make(&log);
    wh = held_sender_spool(&h, 4, log, spool);
    apr_thread_mutex_lock(h.gate);
    ev.serial = "0A";
    ck_assert_int_eq(sacme_webhook_post(wh, &ev), 1);
    held_wait(&h, 1, 1);
    ck_assert_int_eq(files_in(spool), 1);
    ck_assert_ptr_nonnull(strstr(unit_read_text(apr_pstrcat(unit_pool, spool, "/",
                                                           first_file(spool), NULL)),
                                 "0A"));
    apr_thread_mutex_unlock(h.gate);
    held_wait(&h, 0, 1);
    for (i = 0; i < 1000 && files_in(spool) > 0; ++i) {   /* a guard, not a timing */
        apr_sleep(apr_time_from_msec(10));
    }
    ck_assert_int_eq(files_in(spool), 0);
}
END_TEST

/* What an earlier sender left in the spool is sent first by the next one,
 * oldest first, and then removed; a torn file is dropped. */
START_TEST(test_webhook_spool_resumed_by_the_next_sender)
{
    const char *spool = apr_pstrcat(unit_pool, unit_tmpdir(), "/spool", NULL);
    sacme_log_t *log;
    unit_log_t *cap = unit_log_make(&log);
    held_t h;
    int i;

    ck_assert_int_eq(sacme_file_mkdirs(spool, SACME_FPROT_DIR_PRIVATE, unit_pool, NULL),
                     APR_SUCCESS);
    unit_write_text(apr_pstrcat(unit_pool, spool, "/00000000000000000002-1-2.json", NULL),
                    "{\"what\": \"renewed of b\", \"body\": \"{\\\"n\\\": 2}\"}",
                    SACME_FPROT_PRIVATE);
    unit_write_text(apr_pstrcat(unit_pool, spool, "/00000000000000000001-1-1.json", NULL),
                    "{\"what\": \"renewed of a\", \"body\": \"{\\\"n\\\": 1}\"}",
                    SACME_FPROT_PRIVATE);
    unit_write_text(apr_pstrcat(unit_pool, spool, "/00000000000000000003-1-3.json", NULL),
                    "{\"what\": ", SACME_FPROT_PRIVATE);
    held_sender_spool(&h, 8, log, spool);
    held_wait(&h, 0, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(parse(h.bodies[0]), "n")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(parse(h.bodies[1]), "n")), 2);
    for (i = 0; i < 1000 && files_in(spool) > 0; ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    ck_assert_int_eq(files_in(spool), 0);
    ck_assert_ptr_nonnull(strstr(unit_logged(cap, "SACME10058: ", NULL),
                                 "sending 2 event(s) an earlier driver had not sent"));
}
END_TEST

START_TEST(test_webhook_queue_never_blocks)
{
    sacme_event_t ev = sample();
    sacme_log_t *log;
    unit_log_t *cap = unit_log_make(&log);
    held_t h;
    sacme_webhook_t *wh = held_sender(&h, 1, log);

    /* the receiver hangs on the first event... */
    apr_thread_mutex_lock(h.gate);
    ev.serial = "01";
    ck_assert_int_eq(sacme_webhook_post(wh, &ev), 1);
    held_wait(&h, 1, 1);
    /* ...one more waits in the queue, the next is dropped, and neither
     * post waited for the receiver */
    ev.serial = "02";
    ck_assert_int_eq(sacme_webhook_post(wh, &ev), 1);
    ev.serial = "03";
    ck_assert_int_eq(sacme_webhook_post(wh, &ev), 0);
    ck_assert_ptr_nonnull(strstr(unit_logged(cap, "SACME10097: ", NULL),
                                 "1 events are waiting already; event expiring of "
                                 NAME " dropped"));
    assert_url_hidden(cap);

    /* the receiver answers again: the two kept are delivered in order */
    apr_thread_mutex_unlock(h.gate);
    held_wait(&h, 0, 2);
    ck_assert_str_eq(sacme_json_str(parse(h.bodies[0]), "serial"), "01");
    ck_assert_str_eq(sacme_json_str(parse(h.bodies[1]), "serial"), "02");
    ck_assert_int_eq(held_count(&h, 1), 2);

    /* stopped: nothing more is taken, and that is said */
    sacme_webhook_stop(wh);
    ck_assert_int_eq(sacme_webhook_post(wh, &ev), 0);
    ck_assert_ptr_nonnull(unit_logged(cap, "the sender has stopped", NULL));
}
END_TEST

/* --- the driver's events ------------------------------------------------------------------- */

START_TEST(test_drive_events_reach_the_webhook)
{
    /* each attempt fails at once: the CA's directory is not found */
    static const unit_scripted_t script[] = {
        { 404, "Content-Type: text/html\n", "gone" },
        { 404, "Content-Type: text/html\n", "gone" },
        { 404, "Content-Type: text/html\n", "gone" },
    };
    sacme_driver_t *d = apr_pcalloc(unit_pool, sizeof(*d));
    sacme_domain_t dom;
    sacme_log_t *log;
    unit_fake_t fake;
    held_t h;
    json_t *req, *ev;
    const char *events = "";
    int i;

    unit_log_make(&log);
    d->p = unit_pool;
    d->store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(), "/store",
                                                       NULL));
    ck_assert_int_eq(sacme_store_setup(d->store, unit_pool, NULL, NULL), APR_SUCCESS);
    d->ca = sacme_ca_make(unit_pool, "https://ca.test/dir", NULL);
    d->http = unit_fake_http(&fake, script, 3);
    d->log = log;
    d->retry_delay = apr_time_from_sec(60);
    d->retry_max = apr_time_from_sec(86400);
    d->check_interval = apr_time_from_sec(3600);
    d->webhook = held_sender(&h, 16, log);
    memset(&dom, 0, sizeof(dom));
    dom.name = NAME;
    dom.names = unit_names(NAME, "www." NAME, NULL);
    dom.key_type = SACME_KEY_P256;
    dom.renew_window.percent = 33;

    /* sacmectl revoke: the certificate was revoked, a new one is wanted */
    ck_assert_int_eq(sacme_request_renew(d->store, unit_pool, NAME, "revoked",
                                         "keyCompromise", NULL), APR_SUCCESS);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_REQUESTED, unit_pool, NULL),
                     APR_SUCCESS);
    /* the next attempt for the same request does not say it again */
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_REQUESTED, unit_pool, NULL),
                     APR_SUCCESS);
    /* a later request (another revocation) does */
    req = sacme_request_get(d->store, unit_pool, NAME);
    json_object_set_new(req, "requested", json_string("2030-01-01T00:00:00Z"));
    ck_assert_int_eq(sacme_json_write_file(req, sacme_store_path(d->store, unit_pool,
                                                                 SACME_GROUP_REQUESTS,
                                                                 NAME ".json", NULL),
                                           SACME_FPROT_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_REQUESTED, unit_pool, NULL),
                     APR_SUCCESS);
    /* what the account helper raises */
    sacme_drive_notify(d, &dom, "account-deactivated", "the account was deactivated");

    held_wait(&h, 0, 9);
    for (i = 0; i < 9; ++i) {
        events = apr_pstrcat(unit_pool, events, i ? " " : "",
                             sacme_json_str(parse(h.bodies[i]), "event"), NULL);
    }
    ck_assert_str_eq(events, "revoked renewing errored renewing errored "
                             "revoked renewing errored account-deactivated");
    ev = parse(h.bodies[0]);
    ck_assert_str_eq(sacme_json_str(ev, "reason"), "keyCompromise");
    ck_assert_str_eq(sacme_json_str(ev, "domain"), NAME);
    ck_assert_int_eq((int)json_array_size(json_object_get(ev, "names")), 2);
    /* no certificate in service here: nothing to name */
    ck_assert(json_is_null(json_object_get(ev, "serial")));
    ev = parse(h.bodies[2]);
    ck_assert_ptr_nonnull(sacme_json_str(ev, "error"));
    ck_assert_ptr_nonnull(strstr(sacme_json_str(ev, "error"), "https://ca.test/dir"));
    ev = parse(h.bodies[8]);
    ck_assert_str_eq(sacme_json_str(ev, "detail"), "the account was deactivated");
    ck_assert(json_is_null(json_object_get(ev, "error")));
    sacme_webhook_stop(d->webhook);
}
END_TEST

/* A consumer waiting on the queue stays waiting through wakeups that find
 * it empty (apr_queue_pop's APR_EINTR, which interrupt_all gives at will):
 * before sacme_queue_pop, the driver's worker and the webhook sender ended
 * there, and a driver could silently be left with fewer workers. */
typedef struct {
    apr_queue_t *q;
    void *item;
    apr_status_t rv;
} popper_t;

static void *APR_THREAD_FUNC pop_one(apr_thread_t *t, void *data)
{
    popper_t *pp = data;

    (void)t;
    pp->rv = sacme_queue_pop(pp->q, &pp->item);
    return NULL;
}

START_TEST(test_queue_pop_waits_through_wakeups)
{
    popper_t pp = { NULL, NULL, APR_EGENERAL };
    apr_thread_t *t;
    apr_status_t trv;
    int i, item = 42;

    ck_assert_int_eq(apr_queue_create(&pp.q, 4, unit_pool), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_create(&t, NULL, pop_one, &pp, unit_pool), APR_SUCCESS);
    for (i = 0; i < 20; ++i) {          /* the popper is surely waiting in some */
        apr_sleep(apr_time_from_msec(10));
        apr_queue_interrupt_all(pp.q);
    }
    ck_assert_int_eq(apr_queue_push(pp.q, &item), APR_SUCCESS);
    apr_thread_join(&trv, t);
    ck_assert_int_eq(pp.rv, APR_SUCCESS);
    ck_assert_ptr_eq(pp.item, &item);
    /* a terminated queue still ends the wait */
    ck_assert_int_eq(apr_queue_term(pp.q), APR_SUCCESS);
    ck_assert_int_eq(sacme_queue_pop(pp.q, &pp.item), APR_EOF);
}
END_TEST

Suite *unit_suite_webhook(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("event");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_event_json);
    tcase_add_test(tc, test_queue_pop_waits_through_wakeups);
    tcase_add_test(tc, test_event_env);
    suite_add_tcase(s, tc);

    tc = tcase_create("send");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_webhook_verdicts);
    tcase_add_test(tc, test_webhook_url_for_log);
    tcase_add_test(tc, test_webhook_delivers_json);
    tcase_add_test(tc, test_webhook_5xx_retried_then_given_up);
    tcase_add_test(tc, test_webhook_5xx_then_delivered);
    tcase_add_test(tc, test_webhook_4xx_not_retried);
    tcase_add_test(tc, test_webhook_network_error_retried);
    tcase_add_test(tc, test_webhook_queue_never_blocks);
    tcase_add_test(tc, test_webhook_spool_holds_events_in_flight);
    tcase_add_test(tc, test_webhook_spool_resumed_by_the_next_sender);
    tcase_add_test(tc, test_drive_events_reach_the_webhook);
    suite_add_tcase(s, tc);
    return s;
}
