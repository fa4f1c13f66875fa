/* The HTTP seam, transport-neutral half: option defaults, dispatch to an
 * implementation, and reading what came back (headers, media type, RFC 8288
 * links, RFC 3986 reference resolution). Nothing here talks to the network;
 * sacme_http_curl.c does.
 */
#include <strings.h>

#include <arpa/inet.h>

#include <apr_lib.h>
#include <apr_uri.h>

#include "sacme_http.h"

#define DEFAULT_CONNECT_TIMEOUT apr_time_from_sec(30)
#define DEFAULT_TIMEOUT         apr_time_from_sec(60)

sacme_http_t *sacme_http_create(apr_pool_t *p, const sacme_http_impl_t *impl,
                                void *baton, const sacme_http_options_t *opts)
{
    sacme_http_t *http = apr_pcalloc(p, sizeof(*http));

    http->impl = impl;
    http->baton = baton;
    if (opts) {
        http->opts = *opts;
    }
    /* Defaults live here, once, so every transport (and every test double)
     * sees the same effective options in http->opts. */
    if (http->opts.connect_timeout <= 0) {
        http->opts.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    }
    if (http->opts.timeout <= 0) {
        http->opts.timeout = DEFAULT_TIMEOUT;
    }
    if (http->opts.max_response == 0) {
        http->opts.max_response = SACME_MAX_RESPONSE;
    }
    if (!http->opts.user_agent || !*http->opts.user_agent) {
        http->opts.user_agent = SACME_USER_AGENT;
    }
    if (http->opts.ca_file) {
        http->opts.ca_file = apr_pstrdup(p, http->opts.ca_file);
    }
    if (http->opts.client_cert_file) {
        http->opts.client_cert_file = apr_pstrdup(p, http->opts.client_cert_file);
    }
    if (http->opts.client_key_file) {
        http->opts.client_key_file = apr_pstrdup(p, http->opts.client_key_file);
    }
    return http;
}

apr_status_t sacme_http_perform(sacme_http_t *http,
                                const sacme_http_request_t *req, apr_pool_t *p,
                                sacme_http_response_t **resp,
                                sacme_result_t *res)
{
    apr_status_t rv;

    *resp = NULL;
    if (!http || !http->impl || !http->impl->perform) {
        return sacme_result_set(res, APR_EINVAL, "no HTTP transport configured");
    }
    if (!req || !req->method || !req->url || !*req->url) {
        return sacme_result_set(res, APR_EINVAL, "HTTP request without method or URL");
    }
    rv = http->impl->perform(http, req, p, resp, res);
    if (rv == APR_SUCCESS && !*resp) {
        /* A transport that claims success must hand back a response;
         * callers dereference it without checking. */
        return sacme_result_set(res, APR_EGENERAL, "%s %s: transport %s returned no response",
                                req->method, req->url, http->impl->name);
    }
    if (rv != APR_SUCCESS) {
        *resp = NULL;
    }
    return rv;
}

apr_status_t sacme_http_perform_stream(sacme_http_t *http,
                                       const sacme_http_request_t *req,
                                       apr_interval_time_t timeout,
                                       sacme_http_chunk_fn *fn, void *baton,
                                       apr_pool_t *p,
                                       sacme_http_response_t **resp,
                                       sacme_result_t *res)
{
    apr_status_t rv;

    *resp = NULL;
    if (!http || !http->impl || !http->impl->perform_stream) {
        return sacme_result_set(res, APR_ENOTIMPL, "%s %s: the HTTP transport "
                                "cannot stream a response",
                                req ? req->method : "?", req ? req->url : "?");
    }
    if (!req || !req->method || !req->url || !*req->url || !fn) {
        return sacme_result_set(res, APR_EINVAL, "HTTP request without method, URL "
                                "or consumer");
    }
    rv = http->impl->perform_stream(http, req, timeout, fn, baton, p, resp, res);
    if (rv == APR_SUCCESS && !*resp) {
        return sacme_result_set(res, APR_EGENERAL, "%s %s: transport %s returned no response",
                                req->method, req->url, http->impl->name);
    }
    if (rv != APR_SUCCESS) {
        *resp = NULL;
    }
    return rv;
}

int sacme_http_is_loopback_http(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    unsigned char addr[16];

    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme
        || strcasecmp(u.scheme, "http") || !u.hostname || u.user || u.password) {
        return 0;
    }
    /* Literal addresses only: a name could resolve anywhere, and what
     * resolves it (the hosts file, DNS) is not ours to trust. */
    if (inet_pton(AF_INET, u.hostname, addr) == 1) {
        return addr[0] == 127;
    }
    if (inet_pton(AF_INET6, u.hostname, addr) == 1) {
        static const unsigned char ONE[16] = { [15] = 1 };
        return !memcmp(addr, ONE, sizeof(ONE));
    }
    return 0;
}

const char *sacme_http_header(const sacme_http_response_t *resp,
                              const char *name)
{
    if (!resp || !resp->headers || !name) {
        return NULL;
    }
    return apr_table_get(resp->headers, name);
}

const char *sacme_http_media_type(const sacme_http_response_t *resp,
                                  apr_pool_t *p)
{
    const char *ct = sacme_http_header(resp, "Content-Type");
    const char *start, *end;
    char *mt, *c;

    if (!ct) {
        return "";
    }
    start = ct;
    while (*start == ' ' || *start == '\t') {
        ++start;
    }
    end = start;
    while (*end && *end != ';') {
        ++end;
    }
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
        --end;
    }
    mt = apr_pstrmemdup(p, start, (apr_size_t)(end - start));
    /* Media types compare case-insensitively (RFC 9110 §8.3.1); some CAs
     * send "application/PEM-certificate-chain". */
    for (c = mt; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return mt;
}

/* --- RFC 8288 Link parsing ------------------------------------------------- */

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    return s;
}

static int is_tchar(char c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Reads a token or a quoted-string at *ps into a pool string; NULL when
 * neither is there. Quoted-pairs are unescaped. The quoted-string is
 * measured before it is copied: sizing the copy by the rest of the header
 * made a header of n quoted values cost O(n * size) bytes of pool. */
static const char *read_value(const char **ps, apr_pool_t *p)
{
    const char *s = *ps, *start;

    if (*s == '"') {
        apr_size_t len = 0;
        char *buf, *o;

        for (start = ++s; *s && *s != '"'; ++s, ++len) {
            if (*s == '\\' && s[1]) {
                ++s;
            }
        }
        if (*s != '"') {
            return NULL;        /* unterminated */
        }
        buf = o = apr_palloc(p, len + 1);
        for (s = start; *s != '"'; ++s) {
            if (*s == '\\' && s[1]) {
                ++s;
            }
            *o++ = *s;
        }
        *o = '\0';
        *ps = s + 1;
        return buf;
    }
    for (start = s; is_tchar(*s); ++s) {
    }
    if (s == start) {
        return NULL;
    }
    *ps = s;
    return apr_pstrmemdup(p, start, (apr_size_t)(s - start));
}

/* Whether a space-separated list of relation types holds rel. Relation
 * types compare case-insensitively (RFC 8288 §2.1.1). */
static int rel_matches(const char *rels, const char *rel)
{
    apr_size_t n = strlen(rel);
    const char *s = rels, *end;

    while (*s) {
        while (*s == ' ' || *s == '\t') {
            ++s;
        }
        for (end = s; *end && *end != ' ' && *end != '\t'; ++end) {
        }
        if ((apr_size_t)(end - s) == n && n > 0 && !strncasecmp(s, rel, n)) {
            return 1;
        }
        s = end;
    }
    return 0;
}

/* Skips to just after the next top-level comma, or to the end: used to step
 * over a malformed link-value without losing the ones after it. */
static const char *skip_to_next_link(const char *s)
{
    int in_quote = 0, in_uri = 0;

    for (; *s; ++s) {
        if (in_quote) {
            if (*s == '\\' && s[1]) {
                ++s;
            }
            else if (*s == '"') {
                in_quote = 0;
            }
        }
        else if (in_uri) {
            in_uri = *s != '>';
        }
        else if (*s == '"') {
            in_quote = 1;
        }
        else if (*s == '<') {
            in_uri = 1;
        }
        else if (*s == ',') {
            return s + 1;
        }
    }
    return s;
}

typedef struct {
    const char *rel;
    const char *base;
    apr_array_header_t *urls;
    apr_pool_t *p;
} link_ctx_t;

/* Parses one Link field value: #link-value, where
 *   link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
 *   link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
 * Only the first "rel" of a link counts (RFC 8288 §3.3). "anchor" is
 * ignored: ACME links are always about the resource we fetched. */
static int collect_links(void *baton, const char *key, const char *value)
{
    link_ctx_t *ctx = baton;
    const char *s = value;

    (void)key;
    while (*s) {
        const char *uri_start, *uri_end, *rels = NULL;
        int ok = 1;

        s = skip_ows(s);
        if (*s == ',') {        /* empty list elements are allowed */
            ++s;
            continue;
        }
        if (!*s) {
            break;
        }
        if (*s != '<' || !(uri_end = strchr(s + 1, '>'))) {
            s = skip_to_next_link(s);
            continue;
        }
        uri_start = s + 1;
        s = uri_end + 1;
        for (;;) {
            const char *name_start, *val = NULL;
            apr_size_t name_len;

            s = skip_ows(s);
            if (*s != ';') {
                break;
            }
            s = skip_ows(s + 1);
            for (name_start = s; is_tchar(*s); ++s) {
            }
            name_len = (apr_size_t)(s - name_start);
            if (name_len == 0) {
                ok = 0;
                break;
            }
            s = skip_ows(s);
            if (*s == '=') {
                s = skip_ows(s + 1);
                if (!(val = read_value(&s, ctx->p))) {
                    ok = 0;
                    break;
                }
            }
            if (name_len == 3 && !strncasecmp(name_start, "rel", 3) && !rels) {
                rels = val ? val : "";
            }
        }
        s = skip_ows(s);
        if (!ok || (*s && *s != ',')) {
            s = skip_to_next_link(s);
            continue;
        }
        if (rels && rel_matches(rels, ctx->rel)) {
            const char *ref = apr_pstrmemdup(ctx->p, uri_start,
                                             (apr_size_t)(uri_end - uri_start));
            APR_ARRAY_PUSH(ctx->urls, const char *) =
                ctx->base ? sacme_http_resolve(ctx->p, ctx->base, ref) : ref;
        }
        if (*s == ',') {
            ++s;
        }
    }
    return 1;
}

apr_array_header_t *sacme_http_links(const sacme_http_response_t *resp,
                                     const char *rel, const char *base_url,
                                     apr_pool_t *p)
{
    link_ctx_t ctx;

    ctx.rel = rel;
    ctx.base = base_url;
    ctx.urls = apr_array_make(p, 2, sizeof(const char *));
    ctx.p = p;
    if (resp && resp->headers && rel && *rel) {
        /* Several Link fields are one comma-separated list (RFC 9110 §5.3). */
        apr_table_do(collect_links, &ctx, resp->headers, "Link", NULL);
    }
    return ctx.urls;
}

/* --- RFC 3986 reference resolution ----------------------------------------- */

typedef struct {
    const char *scheme;     /* without ":", or NULL */
    const char *authority;  /* without "//", or NULL */
    const char *path;       /* never NULL, may be "" */
    const char *query;      /* without "?", or NULL */
    const char *fragment;   /* without "#", or NULL */
} uri_parts_t;

/* Splits a URI reference into its five components (RFC 3986 §3, the regex
 * of appendix B). */
static void split_uri(apr_pool_t *p, const char *s, uri_parts_t *u)
{
    const char *c, *end;

    memset(u, 0, sizeof(*u));
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    for (c = s; apr_isalnum(*c) || *c == '+' || *c == '-' || *c == '.'; ++c) {
    }
    if (*c == ':' && c > s && apr_isalpha(*s)) {
        u->scheme = apr_pstrmemdup(p, s, (apr_size_t)(c - s));
        s = c + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        for (end = s; *end && *end != '/' && *end != '?' && *end != '#'; ++end) {
        }
        u->authority = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
        s = end;
    }
    for (end = s; *end && *end != '?' && *end != '#'; ++end) {
    }
    u->path = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
    s = end;
    if (*s == '?') {
        for (end = ++s; *end && *end != '#'; ++end) {
        }
        u->query = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
        s = end;
    }
    if (*s == '#') {
        u->fragment = apr_pstrdup(p, s + 1);
    }
}

/* The origin of an absolute URL as "scheme://host:port", lower-cased, the
 * default port filled in; NULL when the URL has no scheme or no host. */
static const char *origin_of(apr_pool_t *p, const char *url)
{
    uri_parts_t u;
    const char *host, *port = NULL, *at, *end;
    char *o, *c;

    split_uri(p, url, &u);
    if (!u.scheme || !u.authority) {
        return NULL;
    }
    host = (at = strrchr(u.authority, '@')) ? at + 1 : u.authority;
    if (*host == '[') {                     /* IPv6 literal: [::1]:443 */
        if (!(end = strchr(host, ']'))) {
            return NULL;
        }
        ++end;
        port = *end == ':' ? end + 1 : NULL;
    }
    else {
        end = strchr(host, ':');
        port = end ? end + 1 : NULL;
        end = end ? end : host + strlen(host);
    }
    if (end == host) {
        return NULL;
    }
    if (!port || !*port) {
        port = !strcasecmp(u.scheme, "https") ? "443"
               : !strcasecmp(u.scheme, "http") ? "80" : "";
    }
    o = apr_psprintf(p, "%s://%.*s:%s", u.scheme, (int)(end - host), host, port);
    for (c = o; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return o;
}

int sacme_http_same_origin(apr_pool_t *p, const char *a, const char *b)
{
    const char *oa = a ? origin_of(p, a) : NULL, *ob = b ? origin_of(p, b) : NULL;

    return oa && ob && !strcmp(oa, ob);
}

/* RFC 3986 §5.2.4, done on a segment stack instead of string surgery. */
static const char *remove_dot_segments(apr_pool_t *p, const char *path)
{
    apr_array_header_t *segs = apr_array_make(p, 8, sizeof(const char *));
    const char *s = path, *end;
    int absolute = *path == '/', trailing_slash = 0;
    char *out;
    apr_size_t len = 0, i;

    if (absolute) {
        ++s;
    }
    while (1) {
        for (end = s; *end && *end != '/'; ++end) {
        }
        trailing_slash = 0;
        if (end - s == 1 && s[0] == '.') {
            trailing_slash = 1;
        }
        else if (end - s == 2 && s[0] == '.' && s[1] == '.') {
            if (segs->nelts > 0) {
                apr_array_pop(segs);
            }
            trailing_slash = 1;
        }
        else {
            APR_ARRAY_PUSH(segs, const char *) =
                apr_pstrmemdup(p, s, (apr_size_t)(end - s));
        }
        if (!*end) {
            break;
        }
        s = end + 1;
    }
    for (i = 0; i < (apr_size_t)segs->nelts; ++i) {
        len += strlen(APR_ARRAY_IDX(segs, i, const char *)) + 1;
    }
    out = apr_palloc(p, len + 2);
    out[0] = '\0';
    len = 0;
    for (i = 0; i < (apr_size_t)segs->nelts; ++i) {
        const char *seg = APR_ARRAY_IDX(segs, i, const char *);
        apr_size_t n = strlen(seg);
        if (i > 0 || absolute) {
            out[len++] = '/';
        }
        memcpy(out + len, seg, n);
        len += n;
    }
    /* "a/b/.." and "a/." name a directory: keep the slash. */
    if (trailing_slash && (segs->nelts > 0 || absolute)) {
        out[len++] = '/';
    }
    out[len] = '\0';
    return out;
}

/* RFC 3986 §5.2.3: the reference's path relative to the base's directory. */
static const char *merge_paths(apr_pool_t *p, const uri_parts_t *base,
                               const char *ref_path)
{
    const char *slash;

    if (base->authority && !*base->path) {
        return apr_pstrcat(p, "/", ref_path, NULL);
    }
    slash = strrchr(base->path, '/');
    if (!slash) {
        return ref_path;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, base->path,
                                         (apr_size_t)(slash - base->path + 1)),
                       ref_path, NULL);
}

static const char *join_uri(apr_pool_t *p, const uri_parts_t *u)
{
    return apr_pstrcat(p,
                       u->scheme ? u->scheme : "", u->scheme ? ":" : "",
                       u->authority ? "//" : "", u->authority ? u->authority : "",
                       u->path,
                       u->query ? "?" : "", u->query ? u->query : "",
                       u->fragment ? "#" : "", u->fragment ? u->fragment : "",
                       NULL);
}

const char *sacme_http_resolve(apr_pool_t *p, const char *base,
                               const char *ref)
{
    uri_parts_t b, r, t;

    if (!ref) {
        return base;
    }
    if (!base || !*base) {
        return ref;
    }
    split_uri(p, base, &b);
    split_uri(p, ref, &r);
    memset(&t, 0, sizeof(t));
    /* RFC 3986 §5.2.2, strict: a scheme in the reference wins outright. */
    if (r.scheme) {
        t = r;
        t.path = remove_dot_segments(p, r.path);
    }
    else {
        if (r.authority) {
            t.authority = r.authority;
            t.path = remove_dot_segments(p, r.path);
            t.query = r.query;
        }
        else {
            if (!*r.path) {
                t.path = b.path;
                t.query = r.query ? r.query : b.query;
            }
            else {
                if (r.path[0] == '/') {
                    t.path = remove_dot_segments(p, r.path);
                }
                else {
                    t.path = remove_dot_segments(p, merge_paths(p, &b, r.path));
                }
                t.query = r.query;
            }
            t.authority = b.authority;
        }
        t.scheme = b.scheme;
        t.fragment = r.fragment;
    }
    return join_uri(p, &t);
}
