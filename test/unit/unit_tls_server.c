/* The canned HTTPS server of the curl tests (see unit_tls_server.h): a
 * throwaway PKI made with OpenSSL and a forked server on 127.0.0.1 that
 * answers canned responses chosen by path. */
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

#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_tls_server.h"

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
int unit_tls_port;
const char *unit_tls_ca_pem;
const char *unit_tls_other_pem;

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
                 conn_no, req_no, unit_tls_port, conn_no, req_no, sizeof(body) - 1);
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
 * certificate is written to unit_tls_ca_pem. */
void unit_tls_server_start(const char *san)
{
    tls_id_t ca = make_id("sacme test CA", NULL, NULL);
    tls_id_t other = make_id("sacme other CA", NULL, NULL);
    tls_id_t leaf = make_id("sacme test server", &ca, san);
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    SSL_CTX *ctx;
    int lfd, one = 1;

    unit_tls_ca_pem = write_pem("ca.pem", ca.cert);
    unit_tls_other_pem = write_pem("other-ca.pem", other.cert);

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
    unit_tls_port = ntohs(sa.sin_port);

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

void unit_tls_setup(void)
{
    /* Hosts ignore SIGPIPE (httpd does); with CURLOPT_NOSIGNAL, libcurl
     * leaves that to them. */
    signal(SIGPIPE, SIG_IGN);
    unit_setup();
    server_pid = 0;
}

void unit_tls_teardown(void)
{
    if (server_pid > 0) {
        kill(-server_pid, SIGKILL);
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    unit_teardown();
}
