/* Driving managed domains: decide what each needs (a first certificate, a
 * new one because names or key type changed, a renewal), and run the order
 * to a staged set, persisting its state at every step so that any restart
 * or crash resumes it instead of starting over.
 *
 * Runs in the unprivileged driving process; writes only to the accounts,
 * staging and challenges areas of the store.
 */
#ifndef SACME_DRIVE_H
#define SACME_DRIVE_H

#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <apr_thread_rwlock.h>
#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_ca.h"
#include "sacme_chain.h"
#include "sacme_eab.h"
#include "sacme_event.h"
#include "sacme_hook.h"
#include "sacme_issue.h"
#include "sacme_store.h"
#include "sacme_trust.h"
#include "sacme_warn.h"
#include "sacme_webhook.h"
#include "sacme_window.h"

/* One managed domain as configured, for one key type.
 *
 * A domain with two key types (SacmeKeyType rsa2048 p256) is two of these:
 * the domain itself, for the first type, named by its primary name, and a
 * unit for the second type, named "<primary>+<type>" (a '+' never occurs in
 * a host name, so the store entries cannot collide). Each is driven,
 * staged, activated and alerted on by itself, as any domain; they share
 * the names, and mod_ssl is given both certificates for the vhost. */
typedef struct sacme_domain_t sacme_domain_t;
struct sacme_domain_t {
    const char *name;                /* names the store entries and log lines */
    apr_array_header_t *names;       /* const char *, the primary name first */
    sacme_key_type_t key_type;
    int challenge_none;              /* pre-validated names: never answer challenges */
    apr_array_header_t *challenges;  /* the types to answer (const char *,
                                        sacme_chaltype.h), in order of
                                        preference; NULL: http-01 */
    sacme_window_t renew_window;
    apr_uint64_t jitter_seed;        /* the store's (sacme_store_jitter_seed):
                                        set by whoever loads the domains, so
                                        the driver and the status agree on
                                        renew-at; 0: the name alone */
    int require_https;               /* httpd glue: 0, or the status (302, 301) of
                                        the redirect of plain HTTP requests once
                                        a certificate is live */
    const sacme_warn_t *warn;        /* its expiry alerts; NULL: the driver's */
    const char *const *notify_cmd;   /* its notify command (argv, NULL-
                                        terminated); NULL: the driver's */
    const char *notify_url;          /* its SacmeNotifyURL, or NULL: the
                                        driver's webhook, if any */
    sacme_webhook_t *webhook;        /* with notify_url: the sender for it
                                        (set by the driver; NULL: none) */
    const char *cert_file;           /* SacmeCertificateFile: a pair from elsewhere,
                                        served and watched for expiry, never
                                        ordered; NULL: mod_sacme orders it */
    const char *key_file;            /* SacmeCertificateKeyFile */
    const sacme_cert_info_t *file_info; /* cert_file's leaf, read at start */
    apr_array_header_t *cas;         /* sacme_ca_t *, in failover order (shared
                                        with every domain of the same CA and
                                        EAB key id); NULL: the driver's ca */
    int failover;                    /* SacmeRetryFailover; 0: the default */
    const char *profile;             /* SacmeProfile: the profile newOrder asks
                                        for (sacme_profile.h), or NULL: the
                                        CA's default */
    int ari_off;                     /* SacmeARI off: the CA's renewal
                                        information is not asked (0: on) */
    const char *const *dns_cmd;      /* SacmeDnsCmd: argv (NULL-terminated) of
                                        the command that sets up and tears
                                        down dns-01 TXT records; NULL: none */
    apr_interval_time_t dns_timeout; /* SacmeDnsTimeout: the most one run of
                                        dns_cmd, and the wait for
                                        SacmeDnsCheck, may take (0: 120 s) */
    const char *dns_check;           /* SacmeDnsCheck: IP[:PORT] of the DNS
                                        server asked whether the records are
                                        there before the CA is told to look;
                                        NULL: not asked */
    sacme_domain_t *primary;         /* for a further key type's unit: its domain */
    sacme_domain_t *next_key;        /* the unit of the next key type, or NULL */
};

/* The store name of the unit for a further key type of domain `name`. */
const char *sacme_domain_unit_name(apr_pool_t *p, const char *name,
                                   sacme_key_type_t type);

/* Adds the unit for key type `type` to dom (after any there is), a copy of
 * dom otherwise; returns it. The caller lists it with its domains. */
sacme_domain_t *sacme_domain_add_key(apr_pool_t *p, sacme_domain_t *dom,
                                     sacme_key_type_t type);

/* Why a domain needs driving. */
typedef enum {
    SACME_WHY_NONE = 0,              /* nothing to do until next_check */
    SACME_WHY_STAGED,                /* a set waits for activation */
    SACME_WHY_NO_CERT,
    SACME_WHY_NAMES,                 /* the live certificate lacks a configured name */
    SACME_WHY_KEY_TYPE,              /* the live key is of another type */
    SACME_WHY_RENEW,                 /* in the renewal window */
    SACME_WHY_RESUME,                /* an order is in progress */
    SACME_WHY_REQUESTED,             /* the admin asked (sacme_request.h) */
    SACME_WHY_PROFILE,               /* the live certificate was ordered for
                                        another SacmeProfile (issued.json) */
    SACME_WHY_ARI                    /* the CA's renewal information is to be
                                        asked (sacme_drive_ari.h); no order */
} sacme_why_t;

const char *sacme_why_str(sacme_why_t why);

/* One thread's clients: one per CA URL (a client holds a connection, a
 * nonce and its view of the CA's directory), made on first use. */
typedef struct sacme_clients_t {
    apr_pool_t *p;
    sacme_http_t *http;
    const sacme_log_t *log;
    apr_hash_t *by_url;                 /* URL -> sacme_acme_t * */
} sacme_clients_t;

sacme_clients_t *sacme_clients_make(apr_pool_t *p, sacme_http_t *http,
                                    const sacme_log_t *log);

/* The client for the CA at url, made when there is none yet (no network:
 * the directory is read at the first request). */
apr_status_t sacme_clients_get(sacme_clients_t *clients, const char *url,
                               sacme_acme_t **acme, sacme_result_t *res);

/* Asked when the CA refused a domain's order for a reason its portal
 * decides (sacme_problem_scm_refusal): what the portal says of the names
 * (SacmeSCM: whether each is in the ACME account's domain list), as text
 * for the admin added to the failure's hint, or NULL when there is nothing
 * to add. ca is the CA the attempt went to. Runs in a worker thread; it
 * may take the network, bounded. */
typedef const char *sacme_refusal_fn(void *baton, const sacme_domain_t *dom,
                                     const sacme_ca_t *ca, const sacme_result_t *res,
                                     apr_pool_t *p);

typedef struct sacme_driver_t {
    apr_pool_t *p;
    const sacme_store_t *store;
    sacme_ca_t *ca;                     /* the CA of a domain that lists none
                                           (dom->cas NULL) */
    apr_array_header_t *cas;            /* sacme_ca_t *: every CA any domain
                                           uses, each once (NULL: ca alone).
                                           Each one's eab is the driver's own
                                           copy: its HMAC key is wiped (under
                                           lock) once the account is found or
                                           registered; the kid stays */
    sacme_http_t *http;
    const sacme_trust_t *trust;         /* anchors a new chain must reach to be
                                           staged, as the parent's activation
                                           requires; NULL: not checked here */
    const sacme_log_t *log;
    apr_interval_time_t retry_delay;    /* first retry after an error; doubles */
    apr_interval_time_t retry_max;      /* cap of the backoff */
    apr_interval_time_t check_interval; /* how often an idle domain is looked at */
    apr_interval_time_t retry_after_min; /* bounds of the CA's Retry-After */
    apr_interval_time_t retry_after_max; /* (0: the engine's defaults) */
    apr_interval_time_t release_after;  /* waits this long free the worker (0: never) */
    sacme_hooks_t *hooks;               /* NULL: no notify command */
    const char *const *notify_cmd;      /* NULL-terminated argv, or NULL */
    sacme_webhook_t *webhook;           /* SacmeNotifyURL's sender, or NULL */
    const sacme_warn_t *warn;           /* expiry alerts; NULL: none */
    sacme_clients_t *clients;           /* made on first use (sacme_drive_run) */
    apr_thread_mutex_t *lock;           /* when several threads drive: guards the
                                           accounts of the CAs (each one's
                                           account_url and account_key: one
                                           parsed key, shared by every client
                                           of every thread, signing from
                                           several threads is safe; each client
                                           holds that very account_url pointer,
                                           so setting both NULL, after sacmectl
                                           changed the account, makes every
                                           client read the account from the
                                           store again; a dropped key stays
                                           allocated in p, a client may still
                                           be signing) and the notify runner */
    apr_hash_t *unsaved;                /* domain name -> the next attempt that
                                           job.json could not hold (a full
                                           disk, an unwritable directory): kept
                                           here so the backoff still holds.
                                           Made in p on first use */
    apr_thread_rwlock_t *commit;        /* NULL, or read-held by a run while it
                                           writes what belongs together (a chain
                                           staged and its order forgotten; a key
                                           and its order dropped; a new order
                                           and its record): whoever ends
                                           the process at once takes it to write
                                           first, so no such pair is cut in two */
    apr_hash_t *clamp_told;             /* domain name -> "" once the admin was
                                           told its window is cut to half the
                                           lifetime (SACME10390): once per
                                           domain, key type and driver run.
                                           Made in p on first use, under
                                           unsaved_lock */
    sacme_ready_fn *cluster_ready;      /* NULL, or (SacmeCluster) waits until
                                           every node has the answers of an
                                           order before the CA is told to look */
    void *cluster_baton;
    sacme_refusal_fn *refusal_check;    /* NULL, or (SacmeSCM) asks the CA's
                                           portal about a refusal */
    void *refusal_baton;
    apr_thread_mutex_t *unsaved_lock;   /* guards unsaved when several threads
                                           drive (not lock: that one is held
                                           while the account is registered,
                                           and deciding must not wait on it) */
} sacme_driver_t;

/* The CA the domain's next attempt goes to: its first, or a further one
 * after SacmeRetryFailover consecutive failed attempts (job.json). */
sacme_ca_t *sacme_drive_ca(sacme_driver_t *d, const sacme_domain_t *dom,
                           apr_pool_t *p);

/* The same from a count of consecutive failed attempts. */
sacme_ca_t *sacme_domain_ca(const sacme_domain_t *dom, sacme_ca_t *dflt, int errors);

/* Drops the account of every CA (under d->lock): each is read from the
 * store again at the next request (sacmectl changed one). */
void sacme_drive_forget_accounts(sacme_driver_t *d);

/* Looks at a domain without touching the network: what it needs now, and
 * when to look again (*next_check, absolute; now when it needs work now). Respects the backoff of a
 * previous error: the one recorded in job.json, or the one kept in memory
 * when job.json could not be written. A staged set that no longer fits the configuration is
 * dropped. */
sacme_why_t sacme_drive_check(sacme_driver_t *d, const sacme_domain_t *dom,
                              apr_time_t now, apr_time_t *next_check,
                              apr_pool_t *p);

/* When the live certificate described by info is due for renewal: the
 * domain's window (at most half the lifetime), less a stable jitter of the
 * name and the store's seed (sacme_window_renew_at). */
apr_time_t sacme_drive_renew_at(const sacme_domain_t *dom,
                                const sacme_cert_info_t *info);

/* Drives the domain to a staged set. On failure the error is recorded in
 * the domain's job.json with the time of the next attempt (backoff) and
 * logged; an order in progress is kept for the next attempt. */
apr_status_t sacme_drive_run(sacme_driver_t *d, const sacme_domain_t *dom,
                             sacme_why_t why, apr_pool_t *p, sacme_result_t *res);

/* The same with clients of the caller's (one set per thread). Each CA's
 * account is set up once for all clients: registration is serialised
 * through d->lock, so two threads can never spend a single-use EAB key
 * twice. */
apr_status_t sacme_drive_run_with(sacme_driver_t *d, sacme_clients_t *clients,
                                  const sacme_domain_t *dom, sacme_why_t why,
                                  apr_pool_t *p, sacme_result_t *res);

/* Raises an event: runs the notify command and queues the webhook (each
 * when configured); neither waits for the other end. detail (may be NULL)
 * is words for a human; for "errored" it is also the event's error. The
 * certificate in service gives the serial and expiry, except for
 * account-deactivated, which is about no certificate. Safe from any
 * thread. */
void sacme_drive_notify(sacme_driver_t *d, const sacme_domain_t *dom,
                        const char *event, const char *detail);

/* The same with the event's fields given: domain and names come from dom,
 * time is now when 0, and a NULL serial is taken from the certificate in
 * service, as above. */
void sacme_drive_raise(sacme_driver_t *d, const sacme_domain_t *dom,
                       const sacme_event_t *ev);

#endif /* SACME_DRIVE_H */
