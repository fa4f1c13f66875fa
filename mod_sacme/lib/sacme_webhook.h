/* The webhook (SacmeNotifyURL): every event POSTed as JSON
 * (sacme_event_json) to one https URL, with TLS verified like every
 * connection of the engine (the system's trust plus SacmeCACertificate).
 *
 * Delivery must never hold up a renewal, so events go through a bounded
 * queue to a sender thread of their own; when the queue is full the event
 * is dropped and that is logged. Each event is tried a few times: a network
 * error or a 5xx is tried again after a doubling wait, any other answer
 * (3xx, 4xx) is final, since sending the same body again would be refused
 * again. Log lines name the URL's scheme, host and port only: the path and
 * query of a webhook URL are often its secret (chat services put the token
 * there).
 *
 * With a spool directory, every queued event is also a file there until it
 * is delivered or given up: the driver is replaced at every graceful
 * restart, and the events it had not sent yet (a receiver that was down)
 * are sent by the next one. Delivery is therefore at least once: an event
 * sent just before the process ended may come twice.
 */
#ifndef SACME_WEBHOOK_H
#define SACME_WEBHOOK_H

#include "sacme.h"
#include "sacme_event.h"
#include "sacme_http.h"
#include "sacme_log.h"
#include "sacme_result.h"
#include "sacme_sdir.h"

#define SACME_WEBHOOK_TIMEOUT apr_time_from_sec(10)  /* one attempt, all in */

typedef struct sacme_webhook_opts_t {
    int attempts;                 /* tries per event, at least 1 */
    apr_interval_time_t backoff;  /* wait after the first failure; doubles */
    unsigned int queue_size;      /* events waiting at most */
    const sacme_sdir_t *spool;    /* NULL: events live in memory only; the
                                     store's spool (sacme_store_spool_open) */
} sacme_webhook_opts_t;

/* 3 attempts, 2 s then 4 s apart, 64 events waiting, no spool. */
void sacme_webhook_opts_default(sacme_webhook_opts_t *o);

typedef enum {
    SACME_WEBHOOK_DELIVERED,      /* 2xx */
    SACME_WEBHOOK_RETRY,          /* network error or 5xx, attempts left */
    SACME_WEBHOOK_EXHAUSTED,      /* network error or 5xx at the last attempt */
    SACME_WEBHOOK_REFUSED         /* any other answer: final */
} sacme_webhook_verdict_t;

/* What to do after attempt number `attempt` (from 1) of `attempts` ended
 * with rv (a transport failure when not APR_SUCCESS) and HTTP status. */
sacme_webhook_verdict_t sacme_webhook_verdict(apr_status_t rv, int status, int attempt,
                                              int attempts);

/* The wait after failed attempt number `attempt` (from 1). */
apr_interval_time_t sacme_webhook_wait(const sacme_webhook_opts_t *o, int attempt);

/* "https://host[:port]", with "/..." when the URL has a path or query: the
 * form log lines use. */
const char *sacme_webhook_url_for_log(apr_pool_t *p, const char *url);

/* POSTs body (JSON) to url through http, with the retries of o, waiting
 * between attempts; logs every failure and the final outcome, `what`
 * naming the event ("renewed of example.org"). Returns the last verdict:
 * DELIVERED, EXHAUSTED or REFUSED. Blocks: for the sender thread (and
 * tests), never for a renewal. */
sacme_webhook_verdict_t sacme_webhook_deliver(sacme_http_t *http, const char *url,
                                              const char *body, const char *what,
                                              const sacme_webhook_opts_t *o,
                                              const sacme_log_t *log, apr_pool_t *p);

typedef struct sacme_webhook_t sacme_webhook_t;

/* Starts the sender thread for url, sending through http (used by that
 * thread only from now on). The thread runs until sacme_webhook_stop(),
 * which the destruction of p calls. Events left in o->spool by an
 * earlier sender are queued first, oldest first. */
apr_status_t sacme_webhook_start(apr_pool_t *p, const char *url, sacme_http_t *http,
                                 const sacme_webhook_opts_t *o, const sacme_log_t *log,
                                 sacme_webhook_t **wh, sacme_result_t *res);

/* The same over libcurl with the default options and the spool directory
 * spool (may be NULL): hopts give the trust (the system's CAs plus
 * ca_file/ca_pem, as for the CA) and the user agent; the timeouts become
 * SACME_WEBHOOK_TIMEOUT. */
apr_status_t sacme_webhook_create(apr_pool_t *p, const char *url,
                                  const sacme_http_options_t *hopts,
                                  const sacme_sdir_t *spool, const sacme_log_t *log,
                                  sacme_webhook_t **wh, sacme_result_t *res);

/* Ends the sender: events still queued are dropped; the one being sent is
 * finished first, its remaining attempts included. */
void sacme_webhook_stop(sacme_webhook_t *wh);

/* Queues the event for sending; never blocks. Returns 1 when queued, 0
 * when the queue was full and the event is dropped (and logged). Safe from
 * any thread. */
int sacme_webhook_post(sacme_webhook_t *wh, const sacme_event_t *ev);

#endif /* SACME_WEBHOOK_H */
