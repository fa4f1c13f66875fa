/* The status of the managed domains, for admins and monitoring:
 *
 *   - the handler "sacme-status" (SetHandler sacme-status): JSON of every
 *     domain, /<name> for one, ?format=prometheus for Prometheus;
 *   - a section in mod_status's server-status page (HTML, and ?auto).
 *
 * Both run in the request children (as the User) and read the store on
 * every request: it is small, and a copy cached across requests could show
 * a generation that is gone. Nothing is exposed unless the admin maps the
 * handler or server-status; the model holds no secret (sacme_status.h).
 */
#include "mod_sacme_private.h"
#include <apr_optional_hooks.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include <stdlib.h>

#include "mod_sacme_config.h"
#include "sacme_json.h"
#include "sacme_status.h"

#define HANDLER "sacme-status"

/* The model of the running generation: every domain, or only dom. */
static json_t *status_of(request_rec *r, const sacme_conf_t *conf,
                         const sacme_domain_t *dom)
{
    const sacme_store_t *store;
    apr_array_header_t *one;

    if (!conf || !conf->store) {
        return sacme_status_all(NULL, NULL, apr_time_now(), r->pool);
    }
    store = conf->store;
    if (!dom) {
        return sacme_status_all(store, conf->domains, apr_time_now(), r->pool);
    }
    one = apr_array_make(r->pool, 1, sizeof(const sacme_domain_t *));
    APR_ARRAY_PUSH(one, const sacme_domain_t *) = dom;
    return sacme_status_all(store, one, apr_time_now(), r->pool);
}

/* --- the handler --------------------------------------------------------------- */

static int send_text(request_rec *r, int status, const char *type, const char *text)
{
    r->status = status;
    ap_set_content_type(r, type);
    /* a status is stale the moment it is written */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, (apr_off_t)strlen(text));
    if (!r->header_only) {
        ap_rputs(text, r);
    }
    return OK;
}

/* Indented for a human reading it with curl; keys stay in the model's order. */
static int send_json(request_rec *r, int status, const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));
    const char *body = apr_pstrcat(r->pool, text ? text : "null", "\n", NULL);

    free(text);
    return send_text(r, status, "application/json", body);
}

static int send_error(request_rec *r, int status, const char *msg)
{
    json_t *j = sacme_json_own(r->pool, json_object());

    json_object_set_new(j, "error", json_string(msg));
    return send_json(r, status, j);
}

/* The value of format= in the query, "json" without one. */
static const char *format_of(request_rec *r)
{
    char *args = r->args ? apr_pstrdup(r->pool, r->args) : NULL, *pair, *last;
    const char *format = "json";

    for (pair = args ? apr_strtok(args, "&", &last) : NULL; pair;
         pair = apr_strtok(NULL, "&", &last)) {
        if (!strncmp(pair, "format=", 7)) {
            format = pair + 7;
        }
    }
    return format;
}

static int status_handler(request_rec *r)
{
    const sacme_conf_t *conf;
    const sacme_domain_t *dom = NULL;
    const char *format, *name;
    char *trimmed;
    json_t *all;
    apr_size_t n;

    if (!r->handler || strcmp(r->handler, HANDLER)) {
        return DECLINED;
    }
    /* read-only: anything but GET (and HEAD, which httpd counts as GET) */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    conf = sacme_live_conf();
    format = format_of(r);
    if (strcmp(format, "json") && strcmp(format, "prometheus")) {
        return send_error(r, HTTP_BAD_REQUEST,
                          apr_psprintf(r->pool, "unknown format '%s' (json, prometheus)",
                                       format));
    }
    /* /<location>/<name>[/]: one domain, by any of its names */
    name = r->path_info ? r->path_info : "";
    while (*name == '/') {
        ++name;
    }
    trimmed = apr_pstrdup(r->pool, name);
    for (n = strlen(trimmed); n > 0 && trimmed[n - 1] == '/'; --n) {
        trimmed[n - 1] = '\0';
    }
    if (*trimmed && !(conf && (dom = sacme_conf_domain_of(conf, trimmed)))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, SACME_LOGNO(10060)
                      "status of '%s' asked for: not a managed name", trimmed);
        return send_error(r, HTTP_NOT_FOUND,
                          apr_psprintf(r->pool, "'%s' is not a managed name", trimmed));
    }
    all = status_of(r, conf, dom);
    if (!strcmp(format, "prometheus")) {
        return send_text(r, HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                         sacme_status_prometheus(all, r->pool));
    }
    if (dom) {
        return send_json(r, HTTP_OK, json_array_get(sacme_json_arr(all, "domains"), 0));
    }
    return send_json(r, HTTP_OK, all);
}

/* --- server-status -------------------------------------------------------------- */

static const char *esc(request_rec *r, const char *s)
{
    return s ? ap_escape_html(r->pool, s) : "";
}

static const char *joined(request_rec *r, const json_t *arr)
{
    const char *s = "";
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v) {
        s = apr_pstrcat(r->pool, s, *s ? " " : "", json_string_value(v), NULL);
    }
    return s;
}

/* "problem: detail (next attempt ...)", or "" without an error. */
static const char *last_error(request_rec *r, const json_t *dom)
{
    const json_t *err = sacme_json_obj(dom, "error");
    const char *problem, *next = sacme_json_str(dom, "next-attempt");

    if (!err) {
        return "";
    }
    problem = sacme_json_str(err, "problem");
    return apr_pstrcat(r->pool, problem ? problem : "", problem ? ": " : "",
                       sacme_json_str(err, "detail") ? sacme_json_str(err, "detail") : "",
                       next ? " (next attempt " : "", next ? next : "", next ? ")" : "",
                       NULL);
}

static const char *days_text(request_rec *r, const json_t *dom)
{
    const json_t *days = json_object_get(dom, "days-left");

    return json_is_integer(days)
           ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(days))
           : "";
}

/* The next renewal and where its time comes from: "2027-01-24T17:03:11Z
 * (ari)". */
static const char *renewal_text(request_rec *r, const json_t *dom)
{
    const char *at = sacme_json_str(dom, "renew-at");
    const char *source = sacme_json_str(dom, "renew-source");

    return at && source ? apr_psprintf(r->pool, "%s (%s)", at, source) : at;
}

/* The cluster line: this node's role, the leader, the members and how
 * fresh this node's copy is (SacmeCluster). */
static void html_cluster(request_rec *r, const json_t *c)
{
    const char *since;

    if (!c) {
        return;
    }
    since = sacme_json_str(c, "unreachable_since");
    ap_rprintf(r, "<p class=\"sacme-cluster\">Cluster %s: this node (%s) is %s; "
               "leader: %s; members: %s; last sync: %s%s%s</p>\n",
               esc(r, sacme_json_str(c, "name")), esc(r, sacme_json_str(c, "node")),
               esc(r, sacme_json_str(c, "role")),
               esc(r, sacme_json_str(c, "leader") ? sacme_json_str(c, "leader") : "none"),
               esc(r, joined(r, sacme_json_arr(c, "members"))),
               esc(r, sacme_json_str(c, "last_sync") ? sacme_json_str(c, "last_sync")
                                                     : "never"),
               since ? "; <strong>etcd out of reach since " : "",
               since ? apr_pstrcat(r->pool, esc(r, since), "</strong>", NULL) : "");
}

static void html_section(request_rec *r, const json_t *all, int table)
{
    const json_t *dom;
    size_t i;

    ap_rputs("<hr />\n<h2>mod_sacme: managed certificates</h2>\n", r);
    if (table) {
        ap_rputs("<table border=\"1\" class=\"sacme-status\">\n<tr><th>Domain</th>"
                 "<th>Names</th><th>Key types</th><th>State</th><th>Valid until</th>"
                 "<th>Days left</th><th>Next renewal</th><th>CA</th><th>Last error</th>"
                 "</tr>\n", r);
    }
    else {
        ap_rputs("<dl class=\"sacme-status\">\n", r);
    }
    json_array_foreach(sacme_json_arr(all, "domains"), i, dom) {
        const char *cells[] = {
            sacme_json_str(dom, "name"), joined(r, sacme_json_arr(dom, "names")),
            joined(r, sacme_json_arr(dom, "key-types")), sacme_json_str(dom, "state"),
            sacme_json_str(dom, "valid-until"), days_text(r, dom),
            renewal_text(r, dom), sacme_json_str(dom, "ca"),
            last_error(r, dom)
        };
        apr_size_t c;

        if (!table) {
            ap_rprintf(r, "<dt>%s</dt><dd>%s, valid until %s, renewal at %s %s</dd>\n",
                       esc(r, cells[0]), esc(r, cells[3]), esc(r, cells[4]),
                       esc(r, cells[6]), esc(r, cells[8]));
            continue;
        }
        ap_rputs("<tr>", r);
        for (c = 0; c < SACME_ARRAY_LEN(cells); ++c) {
            ap_rprintf(r, "<td>%s</td>", esc(r, cells[c]));
        }
        ap_rputs("</tr>\n", r);
    }
    ap_rputs(table ? "</table>\n" : "</dl>\n", r);
    html_cluster(r, sacme_json_obj(all, "cluster"));
}

static int status_hook(request_rec *r, int flags)
{
    const sacme_conf_t *conf = sacme_live_conf();
    json_t *all;

    if (!conf || conf->domains->nelts == 0) {
        return OK;
    }
    all = status_of(r, conf, NULL);
    if (flags & AP_STATUS_SHORT) {
        ap_rputs(sacme_status_auto(all, r->pool), r);
    }
    else {
        html_section(r, all, !(flags & AP_STATUS_NOTABLE));
    }
    return OK;
}

void sacme_status_register_hooks(void)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Registered whether or not mod_status is loaded: the hook only runs
     * when it is. */
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
