/* Unit tests: sacme_http (the transport-neutral helpers, with a recorded
 * transport) and sacme_http_curl (against a real local HTTPS server).
 *
 * The HTTPS server is in unit_tls_server.c: each curl test makes a throwaway
 * CA and a server certificate with OpenSSL, forks a server process listening
 * on 127.0.0.1 (ephemeral port) that answers canned responses chosen by
 * path, and kills it in the fixture's teardown. Nothing here turns
 * verification off: tests that expect success trust the throwaway CA
 * through ca_file.
 */
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <apr_allocator.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_tls_server.h"
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

static const sacme_http_impl_t fake_impl = { "fake", fake_perform, NULL };

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
    sacme_http_options_t o = { .ca_file = "/etc/ca.pem",
                               .connect_timeout = apr_time_from_sec(2),
                               .timeout = apr_time_from_sec(3),
                               .max_response = 1000, .user_agent = "test/1" };
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
    sacme_http_request_t req = { "GET", "https://ca.example/dir", NULL, NULL, 0, NULL };
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
    sacme_http_request_t req = { "GET", NULL, NULL, NULL, 0, NULL };
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

/* Issue 11, defect 10: every quoted value used to be copied into a buffer
 * sized by the rest of the header, so n quoted values in a header of s
 * bytes cost about n * s / 2 bytes of pool (here some 200 MB for 200 KiB).
 * The parse must stay within a small multiple of the header. The measure
 * is the growth of the process's address space (Linux: /proc/self/statm)
 * over the parse, in a pool of its own allocator: pool memory comes from
 * malloc or mmap, and either grows it; nothing else allocates meanwhile. */
#if defined(__linux__)
static apr_size_t vm_size(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return (apr_size_t)pages * (apr_size_t)sysconf(_SC_PAGESIZE);
}
#endif

START_TEST(links_large_header_linear)
{
#if defined(__linux__)
    enum { LINKS = 2000 };
    apr_size_t cap = 256 * 1024, len = 0, used;
    char *hdr = apr_palloc(unit_pool, cap);
    sacme_http_response_t *r;
    apr_allocator_t *alloc;
    apr_array_header_t *a;
    apr_pool_t *p;
    apr_size_t before;
    int i;

    len = (apr_size_t)snprintf(hdr, cap, "Link: ");
    for (i = 0; i < LINKS; ++i) {
        /* ~100 bytes a link, its title quoted with an escaped quote */
        len += (apr_size_t)snprintf(hdr + len, cap - len,
            "%s<https://ca.example/acme/chain/%05d>;rel=up;"
            "title=\"chain %05d of the \\\"test\\\" CA, padded out to size\"",
            i ? ", " : "", i, i);
        ck_assert_uint_lt(len, cap);
    }
    ck_assert_uint_gt(len, 190 * 1024);
    r = response_with(hdr, NULL);

    ck_assert_int_eq(apr_allocator_create(&alloc), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_ex(&p, NULL, NULL, alloc), APR_SUCCESS);
    apr_allocator_owner_set(alloc, p);
    before = vm_size();
    a = sacme_http_links(r, "up", NULL, p);
    used = vm_size() - before;

    ck_assert_int_eq(a->nelts, LINKS);
    ck_assert_str_eq(link_at(a, 0), "https://ca.example/acme/chain/00000");
    ck_assert_str_eq(link_at(a, LINKS - 1), "https://ca.example/acme/chain/01999");
    /* what the answer holds (2000 URLs, their array) plus the titles read:
     * well under 4 MiB even if an arena had to grow; the quadratic copy
     * needed hundreds */
    ck_assert_msg(used < 4 * 1024 * 1024, "parsing a %lu-byte Link header used %lu bytes",
                  (unsigned long)len, (unsigned long)used);
    apr_pool_destroy(p);
#endif
}
END_TEST

/* Issue 11, defect 11: what counts as the directory's origin. */
START_TEST(same_origin)
{
    static const struct { const char *a, *b; int same; } cases[] = {
        { "https://ca.example/dir", "https://ca.example/acme/order/1", 1 },
        { "https://ca.example/dir", "https://CA.Example:443/x?y#z", 1 },
        { "HTTPS://ca.example:443/dir", "https://ca.example/x", 1 },
        { "http://ca.example/dir", "http://ca.example:80/x", 1 },
        { "https://ca.example:14000/dir", "https://ca.example:14000/x", 1 },
        { "https://[::1]:14000/dir", "https://[::1]:14000/x", 1 },
        { "https://ca.example/dir", "https://user@ca.example/x", 1 },
        { "https://ca.example/dir", "https://evil.example/x", 0 },
        { "https://ca.example/dir", "https://ca.example.evil.example/x", 0 },
        { "https://ca.example/dir", "https://ca.example@evil.example/x", 0 },
        { "https://ca.example/dir", "http://ca.example/x", 0 },
        { "https://ca.example/dir", "https://ca.example:8443/x", 0 },
        { "https://ca.example:14000/dir", "https://ca.example/x", 0 },
        { "https://[::1]:14000/dir", "https://[::2]:14000/x", 0 },
        { "https://ca.example/dir", "/acme/order/1", 0 },
        { "https://ca.example/dir", "//ca.example/x", 0 },
        { "https://ca.example/dir", "", 0 },
        { "https://ca.example/dir", NULL, 0 },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        ck_assert_msg(sacme_http_same_origin(unit_pool, cases[i].a, cases[i].b)
                      == cases[i].same, "%s vs %s", cases[i].a,
                      cases[i].b ? cases[i].b : "NULL");
    }
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

static const char *url(const char *path)
{
    return apr_psprintf(unit_pool, "https://127.0.0.1:%d%s", unit_tls_port, path);
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

    unit_tls_server_start("DNS:localhost,IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    /* The announced length (11) exceeds max_response: no matter for HEAD. */
    h = client(unit_tls_ca_pem, 5, 0);
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
                                 "{\"payload\":\"\"}", 14, NULL };

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
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

    unit_tls_server_start("IP:127.0.0.1");
    /* A ca_file adds a trust anchor; it does not switch checking off. */
    h = client(unit_tls_other_pem, 0, 0);
    ck_assert_int_ne(fetch(h, "GET", "/ok", &resp, res), APR_SUCCESS);
    assert_contains(res->detail, "not issued by a trusted CA");
    assert_contains(res->hint, unit_tls_other_pem);
}
END_TEST

START_TEST(curl_name_mismatch)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    /* Trusted CA, but the certificate is for another name. */
    unit_tls_server_start("DNS:ca.example");
    h = client(unit_tls_ca_pem, 0, 0);
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
    unit_tls_server_start("IP:127.0.0.1");
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 1000, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 1000, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, apr_time_from_sec(1));
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
    unit_tls_port = ntohs(sa.sin_port);
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
    sacme_http_request_t req = { "GET", NULL, NULL, NULL, 0, NULL };

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
    req.url = apr_psprintf(unit_pool, "http://127.0.0.1:%d/ok", unit_tls_port);
    ck_assert_int_eq(sacme_http_perform(h, &req, unit_pool, &resp, res), APR_EINVAL);
    assert_contains(res->detail, "only https");
}
END_TEST

START_TEST(curl_redirect_not_followed)
{
    sacme_http_t *h;
    sacme_http_response_t *resp;
    sacme_result_t *res = sacme_result_make(unit_pool);

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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

    unit_tls_server_start("IP:127.0.0.1");
    h = client(unit_tls_ca_pem, 0, 0);
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
    tcase_add_test(tc, links_large_header_linear);
    tcase_add_test(tc, same_origin);
    tcase_add_test(tc, resolve_references);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tcc, unit_tls_setup, unit_tls_teardown);
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
