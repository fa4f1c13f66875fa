/* Unit tests: sacme_http (the transport-neutral helpers, with a recorded
 * transport) and sacme_http_curl (against a real local HTTPS server).
 *
 * The HTTPS server is part of this file: each curl test makes a throwaway CA
 * and a server certificate with OpenSSL, forks a server process listening on
 * 127.0.0.1 (ephemeral port) that answers canned responses chosen by path,
 * and kills it in the fixture's teardown. Nothing here turns verification
 * off: tests that expect success trust the throwaway CA through ca_file.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "sacme_http.h"

/* ======================================================================
 * Helpers with a recorded transport
 * ====================================================================== */

typedef struct {
    sacme_http_response_t *canned;
    const sacme_http_request_t *seen;
    apr_status_t rv;
} fake_t;

static apr_status_t fake_perform(sacme_http_t *http, const sacme_http_request_t *req,
                                 apr_pool_t *p, sacme_http_response_t **resp,
                                 sacme_result_t *res)
{
    fake_t *f = http->baton;

    f->seen = req;
    if (f->rv != APR_SUCCESS) {
        return sacme_result_set(res, f->rv, "recorded failure");
    }
    *resp = f->canned;
    return APR_SUCCESS;
}

static const sacme_http_impl_t fake_impl = { "fake", fake_perform };

/* A response with the given header lines ("Name: value"), NULL-terminated. */
static sacme_http_response_t *response_with(const char *first, ...)
{
    sacme_http_response_t *r = apr_pcalloc(unit_pool, sizeof(*r));
    const char *line;
    va_list ap;

    r->status = 200;
    r->headers = apr_table_make(unit_pool, 8);
    r->body = "";
    va_start(ap, first);
    for (line = first; line; line = va_arg(ap, const char *)) {
        const char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        apr_table_add(r->headers, apr_pstrmemdup(unit_pool, line, (apr_size_t)(colon - line)),
                      colon + 2);
    }
    va_end(ap);
    return r;
}

static const char *link_at(const apr_array_header_t *a, int i)
{
    ck_assert_int_gt(a->nelts, i);
    return APR_ARRAY_IDX(a, i, const char *);
}

START_TEST(create_fills_defaults)
{
    sacme_http_t *h = sacme_http_create(unit_pool, &fake_impl, NULL, NULL);

    ck_assert_int_eq(h->opts.connect_timeout, apr_time_from_sec(30));
    ck_assert_int_eq(h->opts.timeout, apr_time_from_sec(60));
    ck_assert_uint_eq(h->opts.max_response, SACME_MAX_RESPONSE);
    ck_assert_str_eq(h->opts.user_agent, SACME_USER_AGENT);
    ck_assert_ptr_null(h->opts.ca_file);
}
END_TEST

START_TEST(create_keeps_given_options)
{
    sacme_http_options_t o = { "/etc/ca.pem", apr_time_from_sec(2), apr_time_from_sec(3),
                               1000, "test/1" };
    sacme_http_t *h = sacme_http_create(unit_pool, &fake_impl, NULL, &o);

    ck_assert_str_eq(h->opts.ca_file, "/etc/ca.pem");
    ck_assert_int_eq(h->opts.connect_timeout, apr_time_from_sec(2));
    ck_assert_int_eq(h->opts.timeout, apr_time_from_sec(3));
    ck_assert_uint_eq(h->opts.max_response, 1000);
    ck_assert_str_eq(h->opts.user_agent, "test/1");
}
END_TEST

START_TEST(perform_dispatches)
{
    fake_t f = { NULL, NULL, APR_SUCCESS };
    sacme_http_t *h = sacme_http_create(unit_pool, &fake_impl, &f, NULL);
    sacme_http_request_t req = { "GET", "https://ca.example/dir", NULL, NULL, 0 };
    sacme_http_response_t *resp = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    f.canned = response_with("Replay-Nonce: abc", NULL);
    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_SUCCESS);
    ck_assert_ptr_eq(resp, f.canned);
    ck_assert_ptr_eq(f.seen, &req);

    f.rv = APR_TIMEUP;
    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_TIMEUP);
    ck_assert_ptr_null(resp);
    ck_assert_str_eq(res->detail, "recorded failure");
}
END_TEST

START_TEST(perform_refuses_bad_requests)
{
    fake_t f = { NULL, NULL, APR_SUCCESS };
    sacme_http_t *h = sacme_http_create(unit_pool, &fake_impl, &f, NULL);
    sacme_http_request_t req = { "GET", NULL, NULL, NULL, 0 };
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_EINVAL);
    ck_assert_ptr_null(f.seen);
    /* A transport that "succeeds" without a response is a failure. */
    req.url = "https://ca.example/dir";
    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_EGENERAL);
    ck_assert_ptr_null(resp);
}
END_TEST

START_TEST(header_first_of_repeated)
{
    sacme_http_response_t *r = response_with("Link: <a>;rel=up", "link: <b>;rel=up",
                                             "Replay-Nonce: n1", NULL);

    ck_assert_str_eq(sacme_http_header(r, "Link"), "<a>;rel=up");
    ck_assert_str_eq(sacme_http_header(r, "replay-nonce"), "n1");
    ck_assert_ptr_null(sacme_http_header(r, "Location"));
    ck_assert_ptr_null(sacme_http_header(NULL, "Location"));
}
END_TEST

START_TEST(media_type)
{
    ck_assert_str_eq(sacme_http_media_type(response_with(
        "Content-Type: application/json", NULL), unit_pool), "application/json");
    ck_assert_str_eq(sacme_http_media_type(response_with(
        "Content-Type:  Application/PEM-Certificate-Chain ; charset=utf-8", NULL), unit_pool),
        "application/pem-certificate-chain");
    ck_assert_str_eq(sacme_http_media_type(response_with(
        "Content-Type: application/problem+json;charset=utf-8", NULL), unit_pool),
        "application/problem+json");
    ck_assert_str_eq(sacme_http_media_type(response_with(NULL), unit_pool), "");
}
END_TEST

START_TEST(links_several_in_one_header)
{
    sacme_http_response_t *r = response_with(
        "Link: <https://ca.example/cert/1/alt/1>;rel=\"alternate\", "
        "<https://ca.example/dir>;rel=\"index\", <https://ca.example/cert/1/alt/2>; rel=alternate",
        NULL);
    apr_array_header_t *a = sacme_http_links(r, "alternate", "https://ca.example/x", unit_pool);

    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/cert/1/alt/1");
    ck_assert_str_eq(link_at(a, 1), "https://ca.example/cert/1/alt/2");
    a = sacme_http_links(r, "index", "https://ca.example/x", unit_pool);
    ck_assert_int_eq(a->nelts, 1);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/dir");
}
END_TEST

START_TEST(links_several_headers_relative)
{
    sacme_http_response_t *r = response_with(
        "Link: </acme/issuer-cert>;rel=\"up\"",
        "Replay-Nonce: n",
        "Link: <../chain/2>;rel=\"up\"",
        "Link: <https://other.example/dir>;rel=\"index\"",
        NULL);
    apr_array_header_t *a = sacme_http_links(r, "up", "https://ca.example/acme/cert/1", unit_pool);

    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/acme/issuer-cert");
    ck_assert_str_eq(link_at(a, 1), "https://ca.example/acme/chain/2");
}
END_TEST

START_TEST(links_multiple_rels_and_case)
{
    sacme_http_response_t *r = response_with(
        "Link: <https://ca.example/a>; rel=\"up alternate\"; title=\"x, y; z\", "
        "<https://ca.example/b>;REL=\"UP\", <https://ca.example/c>;rel=\"upper\", "
        "<https://ca.example/d>;rel=\"index\";rel=\"up\"",
        NULL);
    apr_array_header_t *a = sacme_http_links(r, "up", NULL, unit_pool);

    /* "upper" is not "up", and only the first rel of a link counts. */
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/a");
    ck_assert_str_eq(link_at(a, 1), "https://ca.example/b");
    a = sacme_http_links(r, "alternate", NULL, unit_pool);
    ck_assert_int_eq(a->nelts, 1);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/a");
}
END_TEST

START_TEST(links_malformed_skipped)
{
    sacme_http_response_t *r = response_with(
        "Link: garbage;rel=up, <https://ca.example/ok1>;rel=up",
        "Link: <https://ca.example/bad>;rel=\"up, <https://ca.example/no>;rel=up",
        "Link: <https://ca.example/bad2>;=x;rel=up, , <https://ca.example/ok2>;rel=up",
        "Link: <https://ca.example/norel>",
        NULL);
    apr_array_header_t *a = sacme_http_links(r, "up", NULL, unit_pool);

    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/ok1");
    ck_assert_str_eq(link_at(a, 1), "https://ca.example/ok2");
    ck_assert_int_eq(sacme_http_links(response_with(NULL), "up", NULL, unit_pool)->nelts, 0);
    ck_assert_int_eq(sacme_http_links(NULL, "up", NULL, unit_pool)->nelts, 0);
}
END_TEST

START_TEST(resolve_references)
{
    /* RFC 3986 §5.4 examples, plus the forms CAs send. */
    static const char *const cases[][2] = {
        { "g:h", "g:h" },
        { "g", "http://a/b/c/g" },
        { "./g", "http://a/b/c/g" },
        { "g/", "http://a/b/c/g/" },
        { "/g", "http://a/g" },
        { "//g", "http://g" },
        { "?y", "http://a/b/c/d;p?y" },
        { "g?y", "http://a/b/c/g?y" },
        { "#s", "http://a/b/c/d;p?q#s" },
        { "g#s", "http://a/b/c/g#s" },
        { ";x", "http://a/b/c/;x" },
        { "", "http://a/b/c/d;p?q" },
        { ".", "http://a/b/c/" },
        { "./", "http://a/b/c/" },
        { "..", "http://a/b/" },
        { "../", "http://a/b/" },
        { "../g", "http://a/b/g" },
        { "../..", "http://a/" },
        { "../../", "http://a/" },
        { "../../g", "http://a/g" },
        { "../../../g", "http://a/g" },
        { "/./g", "http://a/g" },
        { "/../g", "http://a/g" },
        { "g.", "http://a/b/c/g." },
        { "..g", "http://a/b/c/..g" },
        { "./g/.", "http://a/b/c/g/" },
        { "g/../h", "http://a/b/c/h" },
        { "g;x=1/../y", "http://a/b/c/y" },
        { "https://ca.example/acme/new-order", "https://ca.example/acme/new-order" },
    };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        const char *got = sacme_http_resolve(unit_pool, "http://a/b/c/d;p?q", cases[i][0]);
        ck_assert_msg(!strcmp(got, cases[i][1]), "'%s' resolved to '%s', expected '%s'",
                      cases[i][0], got, cases[i][1]);
    }
    ck_assert_str_eq(sacme_http_resolve(unit_pool, "https://ca.example:8443", "dir"),
                     "https://ca.example:8443/dir");
    ck_assert_str_eq(sacme_http_resolve(unit_pool, "https://ca.example:8443/acme/dir?x=1",
                                        "/acme/order/7"),
                     "https://ca.example:8443/acme/order/7");
    ck_assert_str_eq(sacme_http_resolve(unit_pool, "https://ca.example/acme/dir",
                                        "?cursor=2"),
                     "https://ca.example/acme/dir?cursor=2");
    ck_assert_str_eq(sacme_http_resolve(unit_pool, NULL, "/x"), "/x");
}
END_TEST

/* ======================================================================
 * A throwaway PKI
 * ====================================================================== */

typedef struct {
    EVP_PKEY *key;
    X509 *cert;
} tls_id_t;

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

static void free_id(tls_id_t *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
}

/* A CA (issuer NULL: self-signed) or a server certificate for san;
 * free_id() releases it. */
static tls_id_t make_id(const char *cn, const tls_id_t *issuer, const char *san)
{
    static long serial = 1;
    tls_id_t id;
    X509_NAME *name;

    id.key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(id.key);
    id.cert = X509_new();
    ck_assert_ptr_nonnull(id.cert);
    X509_set_version(id.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(id.cert), 3600);
    X509_set_pubkey(id.cert, id.key);
    name = X509_get_subject_name(id.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(id.cert, issuer ? X509_get_subject_name(issuer->cert) : name);
    add_ext(id.cert, id.cert, NID_subject_key_identifier, "hash");
    if (issuer) {
        add_ext(id.cert, issuer->cert, NID_authority_key_identifier, "keyid:always");
        add_ext(id.cert, issuer->cert, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(id.cert, issuer->cert, NID_key_usage, "critical,digitalSignature");
        add_ext(id.cert, issuer->cert, NID_ext_key_usage, "serverAuth");
        add_ext(id.cert, issuer->cert, NID_subject_alt_name, san);
    }
    else {
        add_ext(id.cert, id.cert, NID_authority_key_identifier, "keyid:always");
        add_ext(id.cert, id.cert, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(id.cert, id.cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    ck_assert_int_gt(X509_sign(id.cert, issuer ? issuer->key : id.key, EVP_sha256()), 0);
    return id;
}

static const char *write_pem(const char *name, X509 *cert)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, cert), 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* ======================================================================
 * The canned HTTPS server
 * ====================================================================== */

static pid_t server_pid;
static int server_port;
static const char *ca_pem;      /* the CA that issued the server's certificate */
static const char *other_pem;   /* an unrelated CA */

typedef struct {
    char method[16];
    char path[256];
    char content_type[128];
    char user_agent[128];
    int has_expect;
    char body[4096];
    size_t body_len;
} request_t;

/* Reads one request; 0 at end of connection or on anything unexpected. */
static int read_request(SSL *ssl, request_t *rq)
{
    char buf[8192];
    size_t len = 0, clen = 0, have;
    char *end = NULL, *line, *next;

    memset(rq, 0, sizeof(*rq));
    while (!end) {
        int n;
        if (len >= sizeof(buf) - 1) {
            return 0;
        }
        n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
        if (n <= 0) {
            return 0;
        }
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    if (sscanf(buf, "%15s %255s", rq->method, rq->path) != 2) {
        return 0;
    }
    for (line = strstr(buf, "\r\n"); line; line = next) {
        line += 2;
        next = strstr(line, "\r\n");
        if (next) {
            *next = '\0';
        }
        if (!strncasecmp(line, "Content-Length:", 15)) {
            clen = (size_t)strtoul(line + 15, NULL, 10);
        }
        else if (!strncasecmp(line, "Content-Type:", 13)) {
            snprintf(rq->content_type, sizeof(rq->content_type), "%s", line + 14);
        }
        else if (!strncasecmp(line, "User-Agent:", 11)) {
            snprintf(rq->user_agent, sizeof(rq->user_agent), "%s", line + 12);
        }
        else if (!strncasecmp(line, "Expect:", 7)) {
            rq->has_expect = 1;
        }
    }
    if (clen >= sizeof(rq->body)) {
        return 0;
    }
    have = len - (size_t)(end + 4 - buf);
    memcpy(rq->body, end + 4, have);
    while (have < clen) {
        int n = SSL_read(ssl, rq->body + have, (int)(clen - have));
        if (n <= 0) {
            return 0;
        }
        have += (size_t)n;
    }
    rq->body_len = clen;
    return 1;
}

static void send_str(SSL *ssl, const char *s, size_t len)
{
    if (len > 0 && SSL_write(ssl, s, (int)len) <= 0) {
        _exit(0);
    }
}

static void send_fmt(SSL *ssl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void send_fmt(SSL *ssl, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    send_str(ssl, buf, (size_t)n);
}

static void send_x(SSL *ssl, size_t n)
{
    char buf[500];

    memset(buf, 'x', sizeof(buf));
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        send_str(ssl, buf, k);
        n -= k;
    }
}

/* Answers one request; 0 when the connection is to be closed after it. */
static int respond(SSL *ssl, int fd, const request_t *rq, int conn_no, int req_no)
{
    int head = !strcmp(rq->method, "HEAD");

    if (!strcmp(rq->path, "/ok")) {
        static const char body[] = "{\"ok\":true}";
        send_fmt(ssl, "HTTP/1.1 200 OK\r\n"
                 "Content-Type: application/json; charset=utf-8\r\n"
                 "Replay-Nonce: nonce-%d-%d\r\n"
                 "Link: </dir>;rel=\"index\"\r\n"
                 "Link: <alt/1>;rel=\"alternate\", <https://127.0.0.1:%d/alt/2>; rel=\"up alternate\"\r\n"
                 "X-Conn: %d\r\n"
                 "X-Req: %d\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 conn_no, req_no, server_port, conn_no, req_no, sizeof(body) - 1);
        if (!head) {
            send_str(ssl, body, sizeof(body) - 1);
        }
        return 1;
    }
    if (!strcmp(rq->path, "/echo")) {
        char body[8192];
        int n = snprintf(body, sizeof(body), "method=%s ct=%s ua=%s expect=%s body=%.*s",
                         rq->method, rq->content_type, rq->user_agent,
                         rq->has_expect ? "yes" : "no", (int)rq->body_len, rq->body);
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\n\r\n%s", n, body);
        return 1;
    }
    if (!strcmp(rq->path, "/interim")) {
        send_fmt(ssl, "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok");
        return 1;
    }
    if (!strcmp(rq->path, "/redirect")) {
        send_fmt(ssl, "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n");
        return 1;
    }
    if (!strcmp(rq->path, "/unavailable")) {
        send_fmt(ssl, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n"
                 "Content-Type: application/problem+json\r\nContent-Length: 2\r\n\r\n{}");
        return 1;
    }
    if (!strcmp(rq->path, "/exact")) {
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        send_x(ssl, 1000);
        return 1;
    }
    if (!strcmp(rq->path, "/big-announced")) {
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
        send_x(ssl, 5000);
        return 1;
    }
    if (!strcmp(rq->path, "/big-close")) {
        /* No length: the body ends when the connection does. */
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        send_x(ssl, 5000);
        return 0;
    }
    if (!strcmp(rq->path, "/big-chunked")) {
        int i;
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (i = 0; i < 10; ++i) {
            send_fmt(ssl, "1f4\r\n");
            send_x(ssl, 500);
            send_fmt(ssl, "\r\n");
        }
        send_fmt(ssl, "0\r\n\r\n");
        return 1;
    }
    if (!strcmp(rq->path, "/huge-headers")) {
        int i;
        send_fmt(ssl, "HTTP/1.1 200 OK\r\n");
        for (i = 0; i < 100; ++i) {
            send_fmt(ssl, "X-Filler-%d: ", i);
            send_x(ssl, 1000);
            send_fmt(ssl, "\r\n");
        }
        send_fmt(ssl, "Content-Length: 0\r\n\r\n");
        return 1;
    }
    if (!strcmp(rq->path, "/truncate")) {
        send_fmt(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        return 0;
    }
    if (!strcmp(rq->path, "/reset")) {
        /* Linger 0: close() sends a TCP RST instead of an orderly FIN. */
        struct linger lg = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        _exit(0);
    }
    if (!strcmp(rq->path, "/hang")) {
        for (;;) {
            pause();
        }
    }
    send_fmt(ssl, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return 1;
}

static void die_with_parent(void)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    /* Whatever happens to the test, no server outlives it by much. */
    alarm(30);
}

static void serve_connection(SSL_CTX *ctx, int fd, int conn_no)
{
    SSL *ssl = SSL_new(ctx);
    request_t rq;
    int req_no;

    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        for (req_no = 1; read_request(ssl, &rq); ++req_no) {
            if (!respond(ssl, fd, &rq, conn_no, req_no)) {
                break;
            }
        }
        SSL_shutdown(ssl);
    }
    close(fd);
    _exit(0);
}

/* Starts the server with a certificate for san, issued by a fresh CA whose
 * certificate is written to ca_pem. */
static void start_server(const char *san)
{
    tls_id_t ca = make_id("sacme test CA", NULL, NULL);
    tls_id_t other = make_id("sacme other CA", NULL, NULL);
    tls_id_t leaf = make_id("sacme test server", &ca, san);
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    SSL_CTX *ctx;
    int lfd, one = 1;

    ca_pem = write_pem("ca.pem", ca.cert);
    other_pem = write_pem("other-ca.pem", other.cert);

    ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, leaf.cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, leaf.key), 1);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    server_port = ntohs(sa.sin_port);

    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        int conn_no = 0;
        setpgid(0, 0);
        die_with_parent();
        /* Reap connection handlers automatically. */
        signal(SIGCHLD, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) {
                if (errno == EINTR) {
                    continue;
                }
                _exit(1);
            }
            ++conn_no;
            /* One process per connection: a client's idle keep-alive
             * connection must not block the next client. */
            if (fork() == 0) {
                close(lfd);
                die_with_parent();
                serve_connection(ctx, fd, conn_no);
            }
            close(fd);
        }
    }
    setpgid(server_pid, server_pid);
    close(lfd);
    SSL_CTX_free(ctx);
    free_id(&leaf);
    free_id(&other);
    free_id(&ca);
}

static void curl_setup(void)
{
    /* Hosts ignore SIGPIPE (httpd does); with CURLOPT_NOSIGNAL, libcurl
     * leaves that to them. */
    signal(SIGPIPE, SIG_IGN);
    unit_setup();
    server_pid = 0;
}

static void curl_teardown(void)
{
    if (server_pid > 0) {
        kill(-server_pid, SIGKILL);
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    unit_teardown();
}

static const char *url(const char *path)
{
    return apr_psprintf(unit_pool, "https://127.0.0.1:%d%s", server_port, path);
}

static sacme_http_t *client(const char *ca_file, apr_size_t max_response,
                            apr_interval_time_t timeout)
{
    sacme_http_options_t o;
    sacme_http_t *h = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    memset(&o, 0, sizeof(o));
    o.ca_file = ca_file;
    o.max_response = max_response;
    o.timeout = timeout;
    ck_assert_msg(sacme_http_curl_create(unit_pool, &o, &h, res) == APR_SUCCESS,
                  "create: %s", res->detail);
    return h;
}

/* Performs method on path; returns the status, the response in *resp. */
static apr_status_t fetch(sacme_http_t *h, const char *method, const char *path,
                          sacme_http_response_t **resp, sacme_result_t *res)
{
    sacme_http_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url(path);
    return sacme_http_perform(h, &req, unit_pool, resp, res);
}

static void assert_contains(const char *s, const char *part)
{
    ck_assert_msg(s && strstr(s, part), "'%s' does not contain '%s'", s ? s : "(null)", part);
}

START_TEST(curl_get_verified)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_array_header_t *links;

    start_server("DNS:localhost,IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_msg(fetch(h, "GET", "/ok", &resp, res) == APR_SUCCESS, "%s", res->detail);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(resp->body, "{\"ok\":true}");
    ck_assert_uint_eq(resp->body_len, 11);
    ck_assert_str_eq(sacme_http_header(resp, "Replay-Nonce"), "nonce-1-1");
    ck_assert_str_eq(sacme_http_media_type(resp, unit_pool), "application/json");

    /* Repeated Link headers are all kept, and relative ones resolve. */
    links = sacme_http_links(resp, "index", url("/ok"), unit_pool);
    ck_assert_int_eq(links->nelts, 1);
    ck_assert_str_eq(link_at(links, 0), url("/dir"));
    links = sacme_http_links(resp, "alternate", url("/cert/1"), unit_pool);
    ck_assert_int_eq(links->nelts, 2);
    ck_assert_str_eq(link_at(links, 0), url("/cert/alt/1"));
    ck_assert_str_eq(link_at(links, 1), url("/alt/2"));
}
END_TEST

START_TEST(curl_keeps_connection)
{
    sacme_http_t *h;
    sacme_http_response_t *r1, *r2, *r3;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_eq(fetch(h, "GET", "/ok", &r1, res), APR_SUCCESS);
    ck_assert_int_eq(fetch(h, "HEAD", "/ok", &r2, res), APR_SUCCESS);
    ck_assert_int_eq(fetch(h, "GET", "/ok", &r3, res), APR_SUCCESS);
    /* Same connection, successive requests on it. */
    ck_assert_str_eq(sacme_http_header(r1, "X-Conn"), "1");
    ck_assert_str_eq(sacme_http_header(r3, "X-Conn"), "1");
    ck_assert_str_eq(sacme_http_header(r3, "X-Req"), "3");
    /* Each response has its own headers and body. */
    ck_assert_str_eq(sacme_http_header(r1, "Replay-Nonce"), "nonce-1-1");
    ck_assert_str_eq(sacme_http_header(r3, "Replay-Nonce"), "nonce-1-3");
    ck_assert_str_eq(r3->body, "{\"ok\":true}");
}
END_TEST

START_TEST(curl_head_has_no_body)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    /* The announced length (11) exceeds max_response: no matter for HEAD. */
    h = client(ca_pem, 5, 0);
    ck_assert_msg(fetch(h, "HEAD", "/ok", &resp, res) == APR_SUCCESS, "%s", res->detail);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_uint_eq(resp->body_len, 0);
    ck_assert_str_eq(resp->body, "");
    ck_assert_str_eq(sacme_http_header(resp, "Replay-Nonce"), "nonce-1-1");
}
END_TEST

START_TEST(curl_post_body)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_http_request_t req = { "POST", NULL, "application/jose+json",
                                 "{\"payload\":\"\"}", 14 };

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    req.url = url("/echo");
    ck_assert_msg(sacme_http_perform(h, &req, unit_pool, &resp, res) == APR_SUCCESS,
                  "%s", res->detail);
    ck_assert_str_eq(resp->body, "method=POST ct=application/jose+json ua=" SACME_USER_AGENT
                     " expect=no body={\"payload\":\"\"}");
    /* A GET after a POST on the same handle is a GET again. */
    ck_assert_int_eq(fetch(h, "GET", "/echo", &resp, res), APR_SUCCESS);
    assert_contains(resp->body, "method=GET ");
}
END_TEST

START_TEST(curl_untrusted_without_ca_file)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv;

    start_server("IP:127.0.0.1");
    /* The system store does not know the throwaway CA. */
    h = client(NULL, 0, 0);
    rv = fetch(h, "GET", "/ok", &resp, res);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_ptr_null(resp);
    assert_contains(res->detail, apr_pstrcat(unit_pool, "GET ", url("/ok"), ": ", NULL));
    assert_contains(res->detail, "certificate");
    assert_contains(res->detail, "not issued by a trusted CA");
    assert_contains(res->hint, "CA file");
}
END_TEST

START_TEST(curl_untrusted_with_other_ca_file)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    /* A ca_file adds a trust anchor; it does not switch checking off. */
    h = client(other_pem, 0, 0);
    ck_assert_int_ne(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
    assert_contains(res->detail, "not issued by a trusted CA");
    assert_contains(res->hint, other_pem);
}
END_TEST

START_TEST(curl_name_mismatch)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    /* Trusted CA, but the certificate is for another name. */
    start_server("DNS:ca.example");
    h = client(ca_pem, 0, 0);
    ck_assert_int_ne(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
    assert_contains(res->detail, url("/ok"));
    assert_contains(res->detail, "host name");
    /* The CA file is fine: no hint to change it. */
    ck_assert_ptr_null(res->hint);
}
END_TEST

START_TEST(curl_bad_ca_file)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/junk.pem", NULL);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs("not a certificate\n", f);
    fclose(f);
    start_server("IP:127.0.0.1");
    h = client(path, 0, 0);
    ck_assert_int_ne(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
    assert_contains(res->detail, url("/ok"));
    ck_assert_ptr_nonnull(res->hint);
}
END_TEST

START_TEST(curl_missing_ca_file)
{
    sacme_http_options_t o;
    sacme_http_t *h = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/nope.pem", NULL);

    memset(&o, 0, sizeof(o));
    o.ca_file = path;
    ck_assert(APR_STATUS_IS_ENOENT(sacme_http_curl_create(unit_pool, &o, &h, res)));
    ck_assert_ptr_null(h);
    assert_contains(res->detail, path);
}
END_TEST

START_TEST(curl_defaults)
{
    sacme_http_t *h = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_http_curl_create(unit_pool, NULL, &h, res), APR_SUCCESS);
    ck_assert_str_eq(h->impl->name, "curl");
    ck_assert_int_eq(h->opts.connect_timeout, apr_time_from_sec(30));
    ck_assert_int_eq(h->opts.timeout, apr_time_from_sec(60));
    ck_assert_uint_eq(h->opts.max_response, SACME_MAX_RESPONSE);
    ck_assert_str_eq(h->opts.user_agent, SACME_USER_AGENT);
}
END_TEST

START_TEST(curl_body_at_limit)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 1000, 0);
    ck_assert_msg(fetch(h, "GET", "/exact", &resp, res) == APR_SUCCESS, "%s", res->detail);
    ck_assert_uint_eq(resp->body_len, 1000);
    ck_assert_uint_eq(strlen(resp->body), 1000);
}
END_TEST

START_TEST(curl_body_over_limit)
{
    static const char *const paths[] = { "/big-announced", "/big-close", "/big-chunked" };
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t i;

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 1000, 0);
    for (i = 0; i < SACME_ARRAY_LEN(paths); ++i) {
        apr_status_t rv = fetch(h, "GET", paths[i], &resp, res);
        ck_assert_msg(rv == APR_ENOSPC, "%s: %d %s", paths[i], rv, res->detail);
        ck_assert_ptr_null(resp);
        assert_contains(res->detail, apr_pstrcat(unit_pool, "response from ", url(paths[i]),
                                                 " exceeds the 1000 byte limit", NULL));
    }
    /* The handle is still good afterwards. */
    ck_assert_int_eq(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
}
END_TEST

START_TEST(curl_headers_over_limit)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_eq(fetch(h, "GET", "/huge-headers", &resp, res), APR_ENOSPC);
    ck_assert_ptr_null(resp);
    assert_contains(res->detail, "response headers from");
}
END_TEST

START_TEST(curl_truncated_body)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv;

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    rv = fetch(h, "GET", "/truncate", &resp, res);
    ck_assert_msg(rv != APR_SUCCESS, "a truncated body was taken for a response");
    ck_assert_ptr_null(resp);
    assert_contains(res->detail, url("/truncate"));
}
END_TEST

START_TEST(curl_connection_reset)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_ne(fetch(h, "GET", "/reset", &resp, res), APR_SUCCESS);
    ck_assert_ptr_null(resp);
    assert_contains(res->detail, url("/reset"));
    /* A new connection serves the next request. */
    ck_assert_int_eq(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
}
END_TEST

START_TEST(curl_timeout)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv;

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, apr_time_from_sec(1));
    rv = fetch(h, "GET", "/hang", &resp, res);
    ck_assert_msg(APR_STATUS_IS_TIMEUP(rv), "%d %s", rv, res->detail);
    assert_contains(res->detail, url("/hang"));
}
END_TEST

START_TEST(curl_connection_refused)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    apr_status_t rv;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A port that is bound but not listening refuses connections, and
     * nobody else can take it while we hold it. */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
    server_port = ntohs(sa.sin_port);
    h = client(NULL, 0, 0);
    rv = fetch(h, "GET", "/ok", &resp, res);
    ck_assert_msg(rv == APR_ECONNREFUSED, "%d %s", rv, res->detail);
    assert_contains(res->detail, url("/ok"));
    close(fd);
}
END_TEST

START_TEST(curl_https_only)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_http_request_t req = { "GET", NULL, NULL, NULL, 0 };

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    req.url = apr_psprintf(unit_pool, "http://127.0.0.1:%d/ok", server_port);
    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_EINVAL);
    assert_contains(res->detail, "only https");
}
END_TEST

START_TEST(curl_redirect_not_followed)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_eq(fetch(h, "GET", "/redirect", &resp, res), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_str_eq(sacme_http_header(resp, "Location"), "/ok");
    ck_assert_uint_eq(resp->body_len, 0);
}
END_TEST

START_TEST(curl_interim_headers_dropped)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_eq(fetch(h, "GET", "/interim", &resp, res), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(resp->body, "ok");
    ck_assert_ptr_null(sacme_http_header(resp, "X-Interim"));
    ck_assert_str_eq(sacme_http_header(resp, "X-Final"), "yes");
}
END_TEST

START_TEST(curl_error_status_is_a_response)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    start_server("IP:127.0.0.1");
    h = client(ca_pem, 0, 0);
    ck_assert_int_eq(fetch(h, "GET", "/unavailable", &resp, res), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 503);
    ck_assert_str_eq(sacme_http_header(resp, "Retry-After"), "30");
    ck_assert_str_eq(sacme_http_media_type(resp, unit_pool), "application/problem+json");
    ck_assert_int_eq(fetch(h, "GET", "/missing", &resp, res), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 404);
}
END_TEST

Suite *unit_suite_http(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("helpers");
    TCase *tcc = tcase_create("curl");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, create_fills_defaults);
    tcase_add_test(tc, create_keeps_given_options);
    tcase_add_test(tc, perform_dispatches);
    tcase_add_test(tc, perform_refuses_bad_requests);
    tcase_add_test(tc, header_first_of_repeated);
    tcase_add_test(tc, media_type);
    tcase_add_test(tc, links_several_in_one_header);
    tcase_add_test(tc, links_several_headers_relative);
    tcase_add_test(tc, links_multiple_rels_and_case);
    tcase_add_test(tc, links_malformed_skipped);
    tcase_add_test(tc, resolve_references);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tcc, curl_setup, curl_teardown);
    /* Generous: sanitizer builds are slow; the timeout test waits 1 s. */
    tcase_set_timeout(tcc, 30);
    tcase_add_test(tcc, curl_get_verified);
    tcase_add_test(tcc, curl_keeps_connection);
    tcase_add_test(tcc, curl_head_has_no_body);
    tcase_add_test(tcc, curl_post_body);
    tcase_add_test(tcc, curl_untrusted_without_ca_file);
    tcase_add_test(tcc, curl_untrusted_with_other_ca_file);
    tcase_add_test(tcc, curl_name_mismatch);
    tcase_add_test(tcc, curl_missing_ca_file);
    tcase_add_test(tcc, curl_bad_ca_file);
    tcase_add_test(tcc, curl_defaults);
    tcase_add_test(tcc, curl_body_at_limit);
    tcase_add_test(tcc, curl_body_over_limit);
    tcase_add_test(tcc, curl_headers_over_limit);
    tcase_add_test(tcc, curl_truncated_body);
    tcase_add_test(tcc, curl_connection_reset);
    tcase_add_test(tcc, curl_timeout);
    tcase_add_test(tcc, curl_connection_refused);
    tcase_add_test(tcc, curl_https_only);
    tcase_add_test(tcc, curl_redirect_not_followed);
    tcase_add_test(tcc, curl_interim_headers_dropped);
    tcase_add_test(tcc, curl_error_status_is_a_response);
    suite_add_tcase(s, tcc);
    return s;
}
