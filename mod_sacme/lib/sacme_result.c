/* Results: status plus the words an admin needs. */
#include <stdarg.h>

#include "sacme_result.h"

sacme_result_t *sacme_result_make(apr_pool_t *p)
{
    sacme_result_t *r = apr_pcalloc(p, sizeof(*r));
    r->p = p;
    return r;
}

void sacme_result_reset(sacme_result_t *r)
{
    apr_pool_t *p = r->p;
    memset(r, 0, sizeof(*r));
    r->p = p;
}

apr_status_t sacme_result_set(sacme_result_t *r, apr_status_t rv,
                              const char *fmt, ...)
{
    va_list ap;

    if (!r) {
        return rv;
    }
    sacme_result_reset(r);
    r->status = rv;
    if (fmt) {
        va_start(ap, fmt);
        r->detail = apr_pvsprintf(r->p, fmt, ap);
        va_end(ap);
    }
    return rv;
}

void sacme_result_prefix(sacme_result_t *r, const char *fmt, ...)
{
    va_list ap;
    const char *ctx;

    if (!r) {
        return;
    }
    va_start(ap, fmt);
    ctx = apr_pvsprintf(r->p, fmt, ap);
    va_end(ap);
    r->detail = r->detail ? apr_pstrcat(r->p, ctx, ": ", r->detail, NULL) : ctx;
}

apr_status_t sacme_result_log_status(const sacme_result_t *r)
{
    if (!r || r->problem || r->http_status) {
        return 0;
    }
    /* SACME_E* (and any other code of a user range) mean nothing to
     * apr_strerror: "APR does not understand this error code". */
    if (r->status >= APR_OS_START_USERERR) {
        return 0;
    }
    return r->status;
}

const char *sacme_result_message(const sacme_result_t *r, apr_pool_t *p)
{
    const char *msg;
    char ebuf[256];

    if (r->detail) {
        msg = r->detail;
    }
    else if (r->status != APR_SUCCESS) {
        msg = apr_pstrdup(p, apr_strerror(r->status, ebuf, sizeof(ebuf)));
    }
    else {
        msg = "ok";
    }
    if (r->problem) {
        msg = apr_pstrcat(p, msg, " [", r->problem, "]", NULL);
    }
    if (r->subproblems) {
        msg = apr_pstrcat(p, msg, "; ", r->subproblems, NULL);
    }
    if (r->hint) {
        msg = apr_pstrcat(p, msg, " (hint: ", r->hint, ")", NULL);
    }
    return msg;
}

json_t *sacme_result_to_json(const sacme_result_t *r)
{
    json_t *j = json_object();
    char ebuf[256];

    json_object_set_new(j, "status", json_integer(r->status));
    if (r->status != APR_SUCCESS) {
        json_object_set_new(j, "status-text",
                            json_string(apr_strerror(r->status, ebuf, sizeof(ebuf))));
    }
    if (r->problem) {
        json_object_set_new(j, "problem", json_string(r->problem));
    }
    if (r->detail) {
        json_object_set_new(j, "detail", json_string(r->detail));
    }
    if (r->subproblems) {
        json_object_set_new(j, "subproblems", json_string(r->subproblems));
    }
    if (r->hint) {
        json_object_set_new(j, "hint", json_string(r->hint));
    }
    if (r->http_status) {
        json_object_set_new(j, "http-status", json_integer(r->http_status));
    }
    if (r->retry_after) {
        json_object_set_new(j, "retry-after",
                            json_integer((json_int_t)apr_time_sec(r->retry_after)));
    }
    return j;
}
