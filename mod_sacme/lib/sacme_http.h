/* HTTP seam: the engine speaks to the CA through a small vtable, so the
 * libcurl implementation (sacme_http_curl.c, the only file that includes
 * curl.h) can be replaced by recorded responses in unit tests.
 *
 * TLS to the CA is always verified; ca_file adds trust for private CAs and
 * tests, it never turns verification off. Through a proxy too: the CA's TLS
 * runs inside a CONNECT tunnel, end to end, and an https:// proxy's own
 * certificate is verified with the same trust as the CA's.
 */
#ifndef SACME_HTTP_H
#define SACME_HTTP_H

#include "sacme.h"
#include "sacme_result.h"

typedef struct sacme_http_options_t {
    const char *ca_file;                  /* PEM bundle to trust, NULL: system store */
    apr_interval_time_t connect_timeout;  /* 0: 30 s */
    apr_interval_time_t timeout;          /* whole request; 0: 60 s */
    apr_size_t max_response;              /* body bytes; 0: SACME_MAX_RESPONSE */
    const char *user_agent;               /* NULL: SACME_USER_AGENT */
    const char *ca_pem;                   /* or the bundle's content, already read
                                             (wins over ca_file, which then only
                                             names it in messages) */
    apr_size_t ca_pem_len;
    const char *proxy;                    /* http:// or https:// proxy URL without
                                             credentials (sacme_proxy.h); NULL:
                                             direct, and the *_proxy environment
                                             variables are ignored */
    const char *proxy_userpwd;            /* "user:password" for the proxy, or
                                             NULL; a secret, never in messages */
    const char *client_cert_file;         /* PEM certificate to present (TLS
                                             client authentication), or NULL */
    const char *client_key_file;          /* its private key (PEM), read with
                                             the certificate when the client
                                             is created */
    int allow_loopback_http;              /* also plain http, to a literal
                                             loopback address only (127.0.0.0/8,
                                             ::1): for the etcd client on the
                                             same host. The ACME client never
                                             sets it. */
} sacme_http_options_t;

typedef struct sacme_http_request_t {
    const char *method;          /* "GET", "HEAD", "POST", "DELETE" (with
                                    or without a body) */
    const char *url;
    const char *content_type;    /* for POST and DELETE */
    const char *body;
    apr_size_t body_len;
    const char *const *headers;  /* more header lines ("Name: value"),
                                    NULL-terminated; or NULL */
} sacme_http_request_t;

typedef struct sacme_http_response_t {
    int status;
    apr_table_t *headers;        /* case-insensitive; repeated headers kept */
    const char *body;            /* NUL-terminated, may be empty */
    apr_size_t body_len;
} sacme_http_response_t;

typedef struct sacme_http_t sacme_http_t;

/* Receives the body of a streamed 2xx response as it arrives: (data, len)
 * for each piece, and (NULL, 0) about once a second while nothing comes,
 * so that the consumer can decide to stop. Returns non-zero to end the
 * exchange, which is then no failure. */
typedef int sacme_http_chunk_fn(void *baton, const char *data, apr_size_t len);

typedef struct sacme_http_impl_t {
    const char *name;
    /* Performs one exchange. A transport failure (no connection, TLS error,
     * timeout, body over the limit) returns non-success with res set; any
     * HTTP status, 5xx included, is a response. */
    apr_status_t (*perform)(sacme_http_t *http, const sacme_http_request_t *req,
                            apr_pool_t *p, sacme_http_response_t **resp,
                            sacme_result_t *res);
    /* Optional (NULL: not supported). Like perform, but a 2xx body goes to
     * fn piece by piece instead of into resp (whose body is then empty);
     * any other status is a whole, bounded response as with perform. The
     * exchange ends when the server ends it, when fn asks, or when timeout
     * has elapsed: a 2xx stream that ran its time ends normally. */
    apr_status_t (*perform_stream)(sacme_http_t *http,
                                   const sacme_http_request_t *req,
                                   apr_interval_time_t timeout,
                                   sacme_http_chunk_fn *fn, void *baton,
                                   apr_pool_t *p, sacme_http_response_t **resp,
                                   sacme_result_t *res);
} sacme_http_impl_t;

struct sacme_http_t {
    const sacme_http_impl_t *impl;
    void *baton;                 /* implementation state */
    sacme_http_options_t opts;   /* with defaults filled in */
};

/* The libcurl transport; its handle is reused across requests (keep-alive)
 * and cleaned up with the pool. */
apr_status_t sacme_http_curl_create(apr_pool_t *p,
                                    const sacme_http_options_t *opts,
                                    sacme_http_t **http,
                                    sacme_result_t *res);

/* Wraps another implementation (tests: recorded responses). */
sacme_http_t *sacme_http_create(apr_pool_t *p, const sacme_http_impl_t *impl,
                                void *baton, const sacme_http_options_t *opts);

apr_status_t sacme_http_perform(sacme_http_t *http,
                                const sacme_http_request_t *req, apr_pool_t *p,
                                sacme_http_response_t **resp,
                                sacme_result_t *res);

/* A streamed exchange (perform_stream above); APR_ENOTIMPL when the
 * transport cannot stream. */
apr_status_t sacme_http_perform_stream(sacme_http_t *http,
                                       const sacme_http_request_t *req,
                                       apr_interval_time_t timeout,
                                       sacme_http_chunk_fn *fn, void *baton,
                                       apr_pool_t *p,
                                       sacme_http_response_t **resp,
                                       sacme_result_t *res);

/* Whether the URL is plain http to a literal loopback address (127.0.0.0/8
 * or [::1]): the only plain http allow_loopback_http lets through. */
int sacme_http_is_loopback_http(apr_pool_t *p, const char *url);

/* A header value (the first if repeated), or NULL. */
const char *sacme_http_header(const sacme_http_response_t *resp,
                              const char *name);

/* The media type of the response without parameters, lower case, or "". */
const char *sacme_http_media_type(const sacme_http_response_t *resp,
                                  apr_pool_t *p);

/* URLs of Link headers with the given rel (RFC 8288), resolved against
 * base_url; an empty array when none. */
apr_array_header_t *sacme_http_links(const sacme_http_response_t *resp,
                                     const char *rel, const char *base_url,
                                     apr_pool_t *p);

/* Whether two absolute URLs have the same origin: scheme and host compared
 * without regard to case, ports with the scheme's default filled in
 * (https 443, http 80), userinfo ignored. A URL without scheme or host has
 * no origin and matches nothing. */
int sacme_http_same_origin(apr_pool_t *p, const char *a, const char *b);

/* Resolves a possibly relative URL reference against a base URL. */
const char *sacme_http_resolve(apr_pool_t *p, const char *base,
                               const char *ref);

#endif /* SACME_HTTP_H */
