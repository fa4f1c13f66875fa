/* A client of etcd's v3 API through its JSON gateway (the grpc-gateway
 * every etcd 3.4+ member serves on its client URLs: POST /v3/kv/range and
 * friends, keys and values base64 in JSON, 64-bit integers as strings).
 * The engine reaches it with the libcurl and jansson it already uses, over
 * the HTTP seam (sacme_http.h), so a cluster needs no new C library.
 *
 * Several endpoints (the members of one etcd cluster): a request that gets
 * no answer or a 5xx from one goes to the next, and the client stays with
 * the one that answered. TLS is verified (a CA file, optionally a client
 * certificate); plain http is accepted for loopback addresses only.
 *
 * A client serves one request at a time (one libcurl handle): a thread that
 * watches while another writes gives each its own client.
 *
 * Keys are text (our keys are paths like /sacme/NAME/leader); values are
 * bytes, handed back NUL-terminated for convenience.
 */
#ifndef SACME_ETCD_H
#define SACME_ETCD_H

#include "sacme.h"
#include "sacme_http.h"
#include "sacme_log.h"
#include "sacme_result.h"

/* A watch started at a revision etcd has compacted away: the history the
 * caller wanted is gone. Re-read the prefix (sacme_etcd_range_prefix) and
 * watch again from the revision that read returned, plus one. */
#define SACME_ETCD_ECOMPACTED (APR_OS_START_USERERR + 50)

typedef struct sacme_etcd_t sacme_etcd_t;

typedef struct sacme_etcd_kv_t {
    const char *key;
    const char *value;             /* NUL-terminated; "" for a deletion */
    apr_size_t value_len;
    apr_int64_t create_revision;
    apr_int64_t mod_revision;
    apr_int64_t version;
    apr_int64_t lease;             /* 0: none */
} sacme_etcd_kv_t;

typedef enum { SACME_ETCD_PUT, SACME_ETCD_DELETE } sacme_etcd_event_type_t;

typedef struct sacme_etcd_event_t {
    sacme_etcd_event_type_t type;
    const sacme_etcd_kv_t *kv;     /* a deletion carries key and mod_revision */
} sacme_etcd_event_t;

/* Checks one endpoint URL: https://HOST[:PORT], or http:// to a literal
 * loopback address; no path, query or credentials. For configuration
 * checks (apachectl -t) as well as for sacme_etcd_make. SACME_ECONFIG. */
apr_status_t sacme_etcd_check_endpoint(apr_pool_t *p, const char *url,
                                       sacme_result_t *res);

/* A client of the endpoints (const char *, at least one), each checked,
 * over the libcurl transport made with opts (CA file, client certificate;
 * NULL: defaults). Timeouts left 0 get the etcd client's own, shorter than
 * the ACME client's: connect 3 s, a request 10 s (a lease's keepalive must
 * fail well within the lease). log may be NULL. */
apr_status_t sacme_etcd_make(apr_pool_t *p, const apr_array_header_t *endpoints,
                             const sacme_http_options_t *opts,
                             const sacme_log_t *log, sacme_etcd_t **etcd,
                             sacme_result_t *res);

/* The same over a given transport (tests: recorded responses). */
apr_status_t sacme_etcd_create(apr_pool_t *p, const apr_array_header_t *endpoints,
                               sacme_http_t *http, const sacme_log_t *log,
                               sacme_etcd_t **etcd, sacme_result_t *res);

/* The endpoint the client currently uses (the last one that answered). */
const char *sacme_etcd_endpoint(const sacme_etcd_t *etcd);

/* One key: *kv is NULL when it does not exist. *revision (may be NULL) is
 * the store's revision at the time of the read. */
apr_status_t sacme_etcd_get(sacme_etcd_t *etcd, const char *key, apr_pool_t *p,
                            sacme_etcd_kv_t **kv, apr_int64_t *revision,
                            sacme_result_t *res);

/* Every key under prefix, in key order (sacme_etcd_kv_t *), read in pages
 * from one snapshot whose revision goes to *revision: watching from
 * *revision + 1 then misses nothing. */
apr_status_t sacme_etcd_range_prefix(sacme_etcd_t *etcd, const char *prefix,
                                     apr_pool_t *p, apr_array_header_t **kvs,
                                     apr_int64_t *revision, sacme_result_t *res);

/* Sets key to value, bound to lease when it is not 0 (the key goes when the
 * lease does). *revision (may be NULL) is the revision of the write. */
apr_status_t sacme_etcd_put(sacme_etcd_t *etcd, const char *key,
                            const char *value, apr_size_t len, apr_int64_t lease,
                            apr_pool_t *p, apr_int64_t *revision,
                            sacme_result_t *res);

/* Removes key, or every key under it with sacme_etcd_delete_prefix; a key
 * that is not there is no error. *deleted (may be NULL) counts them. */
apr_status_t sacme_etcd_delete(sacme_etcd_t *etcd, const char *key, apr_pool_t *p,
                               apr_int64_t *deleted, sacme_result_t *res);
apr_status_t sacme_etcd_delete_prefix(sacme_etcd_t *etcd, const char *prefix,
                                      apr_pool_t *p, apr_int64_t *deleted,
                                      sacme_result_t *res);

/* Transactions. Puts key (with lease, when not 0) only if it does not exist
 * (its create_revision is 0): the step of a leader election. *done says
 * whether it was written; if not, *current (may be NULL) is what holds the
 * key - a caller whose earlier attempt was answered too late for it to
 * see recognises its own value and lease there. */
apr_status_t sacme_etcd_put_if_absent(sacme_etcd_t *etcd, const char *key,
                                      const char *value, apr_size_t len,
                                      apr_int64_t lease, apr_pool_t *p, int *done,
                                      sacme_etcd_kv_t **current,
                                      sacme_result_t *res);

/* Puts key only if its mod_revision is still mod_revision (0: the key does
 * not exist): a write that loses no concurrent one. As above for *done and
 * *current (NULL when the key is gone). */
apr_status_t sacme_etcd_put_if_mod_revision(sacme_etcd_t *etcd, const char *key,
                                            const char *value, apr_size_t len,
                                            apr_int64_t lease,
                                            apr_int64_t mod_revision,
                                            apr_pool_t *p, int *done,
                                            sacme_etcd_kv_t **current,
                                            sacme_result_t *res);

/* Leases. Grant: a lease of ttl seconds; *granted is what etcd gave. */
apr_status_t sacme_etcd_lease_grant(sacme_etcd_t *etcd, apr_int64_t ttl,
                                    apr_pool_t *p, apr_int64_t *id,
                                    apr_int64_t *granted, sacme_result_t *res);

/* Renews the lease; *ttl is the seconds it now has. A lease that has
 * expired or was revoked is APR_NOTFOUND: its keys are gone. */
apr_status_t sacme_etcd_lease_keepalive(sacme_etcd_t *etcd, apr_int64_t id,
                                        apr_pool_t *p, apr_int64_t *ttl,
                                        sacme_result_t *res);

/* Ends the lease and removes its keys; one already gone is no error. */
apr_status_t sacme_etcd_lease_revoke(sacme_etcd_t *etcd, apr_int64_t id,
                                     apr_pool_t *p, sacme_result_t *res);

/* Receives one change; ev is NULL about once a second while nothing
 * happens. Returns non-zero to end the watch. ev and its strings last
 * until fn returns (a long watch frees each message after it): copy what
 * is kept. */
typedef int sacme_etcd_watch_fn(void *baton, const sacme_etcd_event_t *ev);

/* Watches every key under prefix from revision start (0: from now on),
 * handing each change to fn in revision order, until fn asks to stop or
 * timeout has elapsed; both end the watch with APR_SUCCESS. A member that
 * goes away mid-watch is replaced by the next endpoint, from where the
 * watch had come. *next (may be NULL) is the revision to watch from next
 * time: nothing before it is left unseen.
 * SACME_ETCD_ECOMPACTED: start is older than etcd's history (see there);
 * *next is then 0. */
apr_status_t sacme_etcd_watch(sacme_etcd_t *etcd, const char *prefix,
                              apr_int64_t start, apr_interval_time_t timeout,
                              sacme_etcd_watch_fn *fn, void *baton,
                              apr_pool_t *p, apr_int64_t *next,
                              sacme_result_t *res);

#endif /* SACME_ETCD_H */
