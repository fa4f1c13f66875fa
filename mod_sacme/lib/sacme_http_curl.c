/* The libcurl transport: the only file that includes curl.h.
 *
 * One easy handle per sacme_http_t, reused for every request so that the
 * connection to the CA stays open across the many small exchanges of an
 * order (keep-alive), and cleaned up with the pool. A handle serves one
 * request at a time: give each thread its own sacme_http_t.
 *
 * What this transport promises the engine:
 *  - TLS is always verified (peer and host name); a ca_file (read into
 *    memory when the client is created) adds a trust
 *    anchor for private CAs and tests, nothing turns verification off;
 *  - only https: ACME requires it (RFC 8555 §6.1), and a plain-http URL in a
 *    directory must not silently downgrade us. The one exception is asked
 *    for explicitly (allow_loopback_http, the etcd client's): plain http to
 *    a literal loopback address, checked on every request;
 *  - redirects are not followed: ACME never uses them, and following one
 *    would POST signed requests to a place the CA did not name;
 *  - the body is bounded by max_response, the headers by MAX_HEADER_BYTES;
 *  - every failure carries the method, the URL and curl's own words.
 *
 * Hosts must ignore SIGPIPE (httpd's children do): with CURLOPT_NOSIGNAL,
 * which threads need, libcurl no longer does that for us, and a CA closing
 * a kept-alive connection would otherwise kill the process.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/x509_vfy.h>
#include <apr_file_io.h>

#include "sacme_http.h"
#include "sacme_file.h"

/* All header lines of one response together; a CA sends well under 4 KiB. */
#define MAX_HEADER_BYTES (64 * 1024)

typedef struct {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_blob ca_blob;    /* the CA file's content, when one is given */
    struct curl_blob cert_blob;  /* the client certificate, when one is given */
    struct curl_blob key_blob;   /* and its key */
} curl_baton_t;

/* State of one exchange, handed to the callbacks. */
typedef struct {
    apr_pool_t *p;
    apr_table_t *headers;
    apr_size_t header_bytes;
    int headers_too_big;
    char *body;
    apr_size_t body_len;
    apr_size_t body_cap;
    apr_size_t max_body;
    int body_too_big;
    CURL *curl;
    sacme_http_chunk_fn *fn;     /* streaming: the consumer of a 2xx body */
    void *fn_baton;
    int stopped;                 /* the consumer ended the exchange */
} exchange_t;

/* curl_global_init() runs once per process, from the first create. It is not
 * thread-safe against other libraries initialising OpenSSL at the same time
 * (libcurl before 7.84 not even against itself), so a host should call
 * curl_global_init() itself early, while still single-threaded; the call
 * here then only bumps curl's reference count. curl_global_cleanup() is
 * never called: other code in the process (mod_md, for one) may use curl. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static apr_status_t baton_cleanup(void *data)
{
    curl_baton_t *b = data;

    if (b->curl) {
        curl_easy_cleanup(b->curl);
        b->curl = NULL;
    }
    return APR_SUCCESS;
}

/* Whether the response being received is a success that goes to the
 * stream's consumer (the status is known once the headers are in). */
static int streams_now(exchange_t *x)
{
    long code = 0;

    if (!x->fn) {
        return 0;
    }
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    exchange_t *x = userp;
    size_t n = size * nmemb;

    if (streams_now(x)) {
        if (x->fn(x->fn_baton, data, n)) {
            x->stopped = 1;
            return 0;
        }
        return n;
    }
    if (n > x->max_body - x->body_len) {
        /* Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
        x->body_too_big = 1;
        return 0;
    }
    if (x->body_len + n + 1 > x->body_cap) {
        apr_size_t cap = x->body_cap ? x->body_cap : 4096;
        char *nb;
        while (cap < x->body_len + n + 1) {
            cap *= 2;
        }
        if (cap > x->max_body + 1) {
            cap = x->max_body + 1;
        }
        nb = apr_palloc(x->p, cap);
        if (x->body_len) {
            memcpy(nb, x->body, x->body_len);
        }
        x->body = nb;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, n);
    x->body_len += n;
    return n;
}

/* curl calls this about once a second while a transfer idles: the
 * stream's consumer gets its chance to stop. */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    exchange_t *x = userp;

    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    if (streams_now(x) && x->fn(x->fn_baton, NULL, 0)) {
        x->stopped = 1;
        return 1;
    }
    return 0;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
    exchange_t *x = userp;
    size_t n = size * nitems;
    const char *end = data + n, *colon, *v;
    const char *name;

    x->header_bytes += n;
    if (x->header_bytes > MAX_HEADER_BYTES) {
        x->headers_too_big = 1;
        return 0;
    }
    while (end > data && (end[-1] == '\r' || end[-1] == '\n'
                          || end[-1] == ' ' || end[-1] == '\t')) {
        --end;
    }
    if (end == data) {
        return n;               /* the blank line that ends the headers */
    }
    if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
        /* A new status line: what came before belonged to an interim (1xx)
         * response or to a redirect; we report the final response only. */
        apr_table_clear(x->headers);
        return n;
    }
    if (*data == ' ' || *data == '\t') {
        /* Obsolete line folding (RFC 9110 §5.5): continue the last field. */
        const apr_array_header_t *arr = apr_table_elts(x->headers);
        if (arr->nelts > 0) {
            apr_table_entry_t *last =
                &APR_ARRAY_IDX(arr, arr->nelts - 1, apr_table_entry_t);
            while (data < end && (*data == ' ' || *data == '\t')) {
                ++data;
            }
            last->val = apr_pstrcat(x->p, last->val, " ",
                                    apr_pstrmemdup(x->p, data, (apr_size_t)(end - data)),
                                    NULL);
        }
        return n;
    }
    colon = memchr(data, ':', (apr_size_t)(end - data));
    if (!colon || colon == data) {
        return n;               /* not a field line: ignore it */
    }
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t')) {
        ++v;
    }
    while (colon > data && (colon[-1] == ' ' || colon[-1] == '\t')) {
        --colon;
    }
    name = apr_pstrmemdup(x->p, data, (apr_size_t)(colon - data));
    /* add, not set: Link, for one, comes several times. */
    apr_table_addn(x->headers, name,
                   apr_pstrmemdup(x->p, v, (apr_size_t)(end - v)));
    return n;
}

static apr_status_t status_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return APR_ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return APR_EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_FILESIZE_EXCEEDED:
        return APR_ENOSPC;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return APR_ECONNRESET;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return APR_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return APR_ENOMEM;
    default:
        return APR_EGENERAL;
    }
}

/* Whether a verification result means "issued by a CA we do not trust",
 * the one case where configuring a CA file is the remedy. Other failures
 * (wrong host name, expired) are explained well by curl's own words. The
 * values are OpenSSL's, which is the TLS library we build against. */
static int is_untrusted_issuer(long verify)
{
    switch (verify) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return 1;
    default:
        return 0;
    }
}

/* Adds to a failure through a proxy which proxy it went through (the URL
 * holds no credentials) and what the proxy did: refused the tunnel (a
 * matter of configuration: credentials, the proxy's rules), showed a
 * certificate that does not verify (an https proxy), or did not answer.
 * Returns the status of res. */
static apr_status_t proxy_failure(sacme_result_t *res, const sacme_http_t *http,
                                  const curl_baton_t *b, CURLcode rc)
{
    long code = 0, verify = 0;
    /* 407 is what RFC 9110 has a proxy answer; some (tinyproxy) say 401. */
    int auth;

    curl_easy_getinfo(b->curl, CURLINFO_HTTP_CONNECTCODE, &code);
    if (!strncasecmp(http->opts.proxy, "https:", 6)) {
        curl_easy_getinfo(b->curl, CURLINFO_PROXY_SSL_VERIFYRESULT, &verify);
    }
    auth = code == 407 || code == 401;
    res->detail = apr_psprintf(res->p, "%s (through the proxy %s%s)", res->detail,
                               http->opts.proxy,
                               auth ? ", which asks for valid credentials"
                               : verify ? ", whose TLS certificate does not verify"
                               : "");
    if (auth) {
        res->hint = http->opts.proxy_userpwd
            ? "the proxy does not accept the user:password of SacmeHttpProxy's "
              "credentials file; correct the file, then restart httpd gracefully"
            : "give the proxy's credentials in a file: 'SacmeHttpProxy URL "
              "file:PATH', the file holding one line user:password";
    }
    else if (code >= 300) {
        res->hint = apr_psprintf(res->p, "the proxy refused to open a tunnel to "
                                 "the server (response %ld); it must allow "
                                 "CONNECT to the server's host and port", code);
    }
    else if (verify) {
        res->hint = is_untrusted_issuer(verify)
            ? "the proxy's certificate is verified with the same trust as the "
              "ACME server's: the system's CAs and SacmeCACertificate; add the "
              "CA that issued it to the SacmeCACertificate file"
            : "the proxy's certificate must be valid now and name the host of "
              "SacmeHttpProxy's URL";
    }
    else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_PROXY
             || rc == CURLE_OPERATION_TIMEDOUT) {
        res->hint = "check that the proxy of SacmeHttpProxy runs and is "
                    "reachable from this host";
    }
    if (code >= 300) {
        /* The proxy's answer, not a broken connection: not retried at once
         * (it would only answer the same), and no OS error in the log. A
         * fixed file counts from the next attempt or restart. */
        res->status = APR_EACCES;
        res->http_status = (int)code;
    }
    return res->status;
}

/* Fills res for a failed exchange, in the admin's terms. */
static apr_status_t fail(sacme_result_t *res, const sacme_http_request_t *req,
                         const sacme_http_t *http, const curl_baton_t *b,
                         CURLcode rc, const exchange_t *x)
{
    const char *why = b->errbuf[0] ? b->errbuf : curl_easy_strerror(rc);
    apr_status_t rv;
    long verify = 0;

    if (x->body_too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        return sacme_result_set(res, APR_ENOSPC,
                                "response from %s exceeds the %" APR_SIZE_T_FMT
                                " byte limit", req->url, http->opts.max_response);
    }
    if (x->headers_too_big) {
        return sacme_result_set(res, APR_ENOSPC,
                                "response headers from %s exceed the %d byte limit",
                                req->url, MAX_HEADER_BYTES);
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        return sacme_result_set(res, APR_EINVAL,
                                "%s %s: only https URLs are allowed (%s)",
                                req->method, req->url, why);
    }
    rv = sacme_result_set(res, status_of(rc), "%s %s: %s",
                          req->method, req->url, why);
    if (rc == CURLE_PEER_FAILED_VERIFICATION && res) {
        curl_easy_getinfo(b->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
        if (is_untrusted_issuer(verify)) {
            res->detail = apr_pstrcat(res->p, res->detail,
                                      " (the server's TLS certificate is not "
                                      "issued by a trusted CA)", NULL);
            res->hint = http->opts.ca_file
                ? apr_psprintf(res->p, "the CA file %s does not hold the CA that "
                               "issued this server's certificate",
                               http->opts.ca_file)
                : "if the ACME server uses a private CA, configure a CA file "
                  "holding that CA's certificate";
        }
    }
    else if (rc == CURLE_SSL_CACERT_BADFILE && res) {
        res->hint = "the CA file must hold PEM certificates";
    }
    if (http->opts.proxy && res) {
        rv = proxy_failure(res, http, b, rc);
    }
    return rv;
}

/* The one plain-http exception: allowed by the options, and to a literal
 * loopback address as curl itself parses the URL (the parser that decides
 * where the connection goes is the one that is checked). */
static int loopback_http_allowed(const sacme_http_t *http, const char *url)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL;
    unsigned char addr[16];
    int ok = 0;

    if (!http->opts.allow_loopback_http || !(u = curl_url())) {
        return 0;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && !strcasecmp(scheme, "http")) {
        if (inet_pton(AF_INET, host, addr) == 1) {
            ok = addr[0] == 127;
        }
        else if (host[0] == '[' && strlen(host) < 48) {
            char inner[48];
            apr_cpystrn(inner, host + 1, sizeof(inner));
            inner[strcspn(inner, "]")] = '\0';
            ok = inet_pton(AF_INET6, inner, addr) == 1
                 && !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static apr_status_t exchange(sacme_http_t *http, const sacme_http_request_t *req,
                             apr_interval_time_t timeout,
                             sacme_http_chunk_fn *fn, void *fn_baton,
                             apr_pool_t *p, sacme_http_response_t **resp,
                             sacme_result_t *res)
{
    curl_baton_t *b = http->baton;
    CURL *c = b->curl;
    struct curl_slist *hdrs = NULL, *tmp;
    exchange_t x;
    CURLcode rc;
    long code = 0;
    int is_head = 0, i;
    sacme_http_response_t *r;

    memset(&x, 0, sizeof(x));
    x.p = p;
    x.headers = apr_table_make(p, 16);
    x.max_body = http->opts.max_response;
    x.curl = c;
    x.fn = fn;
    x.fn_baton = fn_baton;

    if (strncasecmp(req->url, "https:", 6) && !loopback_http_allowed(http, req->url)) {
        /* curl, allowing http for the loopback exception, would go on. */
        return sacme_result_set(res, APR_EINVAL,
                                http->opts.allow_loopback_http
                                ? "%s %s: only https URLs, or plain http to a "
                                  "loopback address (127.0.0.1, [::1]), are allowed"
                                : "%s %s: only https URLs are allowed",
                                req->method, req->url);
    }

    /* The handle keeps the options of the previous request: set every
     * per-request option each time, for each method. */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    if (!strcmp(req->method, "GET")) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    else if (!strcmp(req->method, "HEAD")) {
        is_head = 1;
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    else if (!strcmp(req->method, "POST") || !strcmp(req->method, "DELETE")) {
        /* DELETE as a POST with another verb: SCM's DELETE of an account's
         * domains carries a body. */
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (req->method[0] == 'D') {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        if (req->content_type) {
            hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "Content-Type: ",
                                                       req->content_type, NULL));
            if (!hdrs) {
                return sacme_result_set(res, APR_ENOMEM, "%s %s: out of memory",
                                        req->method, req->url);
            }
        }
    }
    else {
        return sacme_result_set(res, APR_ENOTIMPL, "%s %s: method not supported",
                                req->method, req->url);
    }
    for (i = 0; req->headers && req->headers[i]; ++i) {
        if (!(tmp = curl_slist_append(hdrs, req->headers[i]))) {
            curl_slist_free_all(hdrs);
            return sacme_result_set(res, APR_ENOMEM, "%s %s: out of memory",
                                    req->method, req->url);
        }
        hdrs = tmp;
    }
    /* An empty "Expect:" stops curl from asking for 100-continue on POST:
     * ACME bodies are small, and the wait would only add a round trip. */
    tmp = curl_slist_append(hdrs, "Expect:");
    if (!tmp) {
        curl_slist_free_all(hdrs);
        return sacme_result_set(res, APR_ENOMEM, "%s %s: out of memory",
                                req->method, req->url);
    }
    hdrs = tmp;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    /* Refuse an announced oversized body before reading it. A HEAD response
     * announces the size of a body it never sends: no limit there. */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     is_head ? (curl_off_t)0 : (curl_off_t)http->opts.max_response);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (fn) {
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(timeout));
    }
    b->errbuf[0] = '\0';

    rc = curl_easy_perform(c);

    /* The list and the exchange die here: leave no pointer to them behind. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    if (fn) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(http->opts.timeout));
    }
    curl_slist_free_all(hdrs);

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK && fn && code >= 200 && code < 300
        && (x.stopped || rc == CURLE_OPERATION_TIMEDOUT)) {
        /* A stream its consumer ended, or that ran its time: done. */
        rc = CURLE_OK;
    }
    if (rc != CURLE_OK) {
        return fail(res, req, http, b, rc, &x);
    }

    r = apr_pcalloc(p, sizeof(*r));
    r->status = (int)code;
    r->headers = x.headers;
    if (x.body) {
        x.body[x.body_len] = '\0';
        r->body = x.body;
        r->body_len = x.body_len;
    }
    else {
        r->body = "";
        r->body_len = 0;
    }
    *resp = r;
    return APR_SUCCESS;
}

static apr_status_t curl_perform(sacme_http_t *http,
                                 const sacme_http_request_t *req,
                                 apr_pool_t *p, sacme_http_response_t **resp,
                                 sacme_result_t *res)
{
    return exchange(http, req, 0, NULL, NULL, p, resp, res);
}

static apr_status_t curl_perform_stream(sacme_http_t *http,
                                        const sacme_http_request_t *req,
                                        apr_interval_time_t timeout,
                                        sacme_http_chunk_fn *fn, void *baton,
                                        apr_pool_t *p, sacme_http_response_t **resp,
                                        sacme_result_t *res)
{
    return exchange(http, req, timeout > 0 ? timeout : http->opts.timeout,
                    fn, baton, p, resp, res);
}

static const sacme_http_impl_t curl_impl = { "curl", curl_perform, curl_perform_stream };

/* Reads a PEM file the transport presents or trusts into a blob, now: a
 * typo in the path is reported as such, and the file may be readable by
 * root only (read before privileges are dropped). */
static apr_status_t read_blob(const char *path, const char *what, apr_pool_t *p,
                              struct curl_blob *blob, sacme_result_t *res)
{
    char *pem;
    apr_size_t len;
    apr_status_t rv = sacme_file_read(path, SACME_MAX_RESPONSE, p, &pem, &len, res);

    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "%s", what);
        return rv;
    }
    blob->data = pem;
    blob->len = len;
    blob->flags = CURL_BLOB_NOCOPY;
    return APR_SUCCESS;
}

/* Sets an option that must take; the ones guarding security most of all. */
#define SETOPT_OR_FAIL(opt, val) \
    do { \
        if ((rc = curl_easy_setopt(b->curl, opt, val)) != CURLE_OK) { \
            what = #opt; \
            goto failed; \
        } \
    } while (0)

apr_status_t sacme_http_curl_create(apr_pool_t *p,
                                    const sacme_http_options_t *opts,
                                    sacme_http_t **http,
                                    sacme_result_t *res)
{
    curl_baton_t *b;
    sacme_http_t *h;
    CURLcode rc;
    const char *what = NULL;

    *http = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        return sacme_result_set(res, APR_EGENERAL, "cannot initialise libcurl: %s",
                                curl_easy_strerror(global_rc));
    }

    b = apr_pcalloc(p, sizeof(*b));
    h = sacme_http_create(p, &curl_impl, b, opts);

    if (h->opts.ca_pem) {
        /* Already read by the host, e.g. by root before a process dropped
         * privileges; shared, not copied (it outlives the handle). */
        b->ca_blob.data = (void *)h->opts.ca_pem;
        b->ca_blob.len = h->opts.ca_pem_len;
        b->ca_blob.flags = CURL_BLOB_NOCOPY;
    }
    else if (h->opts.ca_file) {
        /* Read now, into memory: a typo in the path is reported as such and
         * not as a TLS failure at the first request, and the file may be
         * readable by root only - the driving process reads it before it
         * drops privileges. */
        apr_status_t rv = read_blob(h->opts.ca_file, "CA file", p, &b->ca_blob, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (h->opts.client_cert_file || h->opts.client_key_file) {
        apr_status_t rv;
        if (!h->opts.client_cert_file || !h->opts.client_key_file) {
            return sacme_result_set(res, APR_EINVAL, "a TLS client certificate "
                                    "needs both the certificate and the key file");
        }
        if ((rv = read_blob(h->opts.client_cert_file, "client certificate file", p,
                            &b->cert_blob, res)) != APR_SUCCESS
            || (rv = read_blob(h->opts.client_key_file, "client key file", p,
                               &b->key_blob, res)) != APR_SUCCESS) {
            return rv;
        }
    }

    b->curl = curl_easy_init();
    if (!b->curl) {
        return sacme_result_set(res, APR_ENOMEM, "cannot create a libcurl handle");
    }
    apr_pool_cleanup_register(p, b, baton_cleanup, apr_pool_cleanup_null);

    /* Verification: always on. CAINFO replaces curl's default bundle file;
     * a CA path compiled into libcurl (Debian: /etc/ssl/certs) stays in use,
     * so public CAs remain trusted beside the private one. */
    SETOPT_OR_FAIL(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT_OR_FAIL(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT_OR_FAIL(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (b->ca_blob.data) {
        SETOPT_OR_FAIL(CURLOPT_CAINFO_BLOB, &b->ca_blob);
    }
    if (b->cert_blob.data) {
        SETOPT_OR_FAIL(CURLOPT_SSLCERT_BLOB, &b->cert_blob);
        SETOPT_OR_FAIL(CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT_OR_FAIL(CURLOPT_SSLKEY_BLOB, &b->key_blob);
        SETOPT_OR_FAIL(CURLOPT_SSLKEYTYPE, "PEM");
    }
    /* http too only for the loopback exception, which exchange() checks
     * for every request; redirects stay https-only (none are followed). */
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT_OR_FAIL(CURLOPT_PROTOCOLS_STR,
                   h->opts.allow_loopback_http ? "https,http" : "https");
    SETOPT_OR_FAIL(CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
    SETOPT_OR_FAIL(CURLOPT_PROTOCOLS, h->opts.allow_loopback_http
                   ? (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP) : (long)CURLPROTO_HTTPS);
    SETOPT_OR_FAIL(CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
    SETOPT_OR_FAIL(CURLOPT_FOLLOWLOCATION, 0L);

    /* Signals do not mix with threads: no SIGALRM for DNS timeouts. */
    SETOPT_OR_FAIL(CURLOPT_NOSIGNAL, 1L);
    SETOPT_OR_FAIL(CURLOPT_CONNECTTIMEOUT_MS,
                   (long)apr_time_as_msec(h->opts.connect_timeout));
    SETOPT_OR_FAIL(CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(h->opts.timeout));
    SETOPT_OR_FAIL(CURLOPT_USERAGENT, h->opts.user_agent);
    SETOPT_OR_FAIL(CURLOPT_ERRORBUFFER, b->errbuf);
    /* The proxy: the configured one or none. libcurl would otherwise take
     * https_proxy, all_proxy and no_proxy from the environment of whatever
     * started httpd (a login shell, a service manager): an empty proxy and
     * an empty exception list turn that off, so connections go where the
     * configuration says and nowhere else. */
    SETOPT_OR_FAIL(CURLOPT_PROXY, h->opts.proxy ? h->opts.proxy : "");
    SETOPT_OR_FAIL(CURLOPT_NOPROXY, "");
    if (h->opts.proxy) {
        /* Always a CONNECT tunnel, inside which TLS to the server runs end
         * to end: the proxy sees host and port, never a request. An https
         * proxy's own certificate is verified with the same trust. */
        SETOPT_OR_FAIL(CURLOPT_HTTPPROXYTUNNEL, 1L);
        SETOPT_OR_FAIL(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
        SETOPT_OR_FAIL(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
        if (b->ca_blob.data) {
            SETOPT_OR_FAIL(CURLOPT_PROXY_CAINFO_BLOB, &b->ca_blob);
        }
        if (h->opts.proxy_userpwd) {
            /* Basic, sent with the first CONNECT (libcurl's default);
             * libcurl keeps its own copy of the string. */
            SETOPT_OR_FAIL(CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
            SETOPT_OR_FAIL(CURLOPT_PROXYUSERPWD, h->opts.proxy_userpwd);
        }
    }
    SETOPT_OR_FAIL(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT_OR_FAIL(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT_OR_FAIL(CURLOPT_XFERINFOFUNCTION, on_progress);
    /* No CURLOPT_ACCEPT_ENCODING: ACME bodies are small, and a compressed
     * one only adds a decompression bomb to guard against. */

    *http = h;
    return APR_SUCCESS;

failed:
    return sacme_result_set(res, APR_ENOTIMPL,
                            "libcurl %s refuses %s: %s", curl_version(), what,
                            curl_easy_strerror(rc));
}
