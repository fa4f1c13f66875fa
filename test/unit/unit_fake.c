/* The scripted fake HTTP transport of the unit tests (see unit_fake.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "unit.h"
#include "unit_fake.h"
#include "sacme_b64.h"
#include "sacme_json.h"

static apr_status_t fake_perform(sacme_http_t *http, const sacme_http_request_t *req,
                                 apr_pool_t *p, sacme_http_response_t **presp,
                                 sacme_result_t *res)
{
    unit_fake_t *fake = http->baton;
    const unit_scripted_t *s;
    sacme_http_response_t *resp;
    char *hdrs, *line, *state;
    int i;

    ck_assert_msg(fake->next < fake->n, "unexpected request %s %s", req->method, req->url);
    ck_assert_int_lt(fake->next, UNIT_FAKE_MAX);
    fake->methods[fake->next] = apr_pstrdup(unit_pool, req->method);
    fake->urls[fake->next] = apr_pstrdup(unit_pool, req->url);
    fake->bodies[fake->next] = req->body ? apr_pstrndup(unit_pool, req->body, req->body_len)
                                         : NULL;
    fake->content_types[fake->next] = req->content_type
                                          ? apr_pstrdup(unit_pool, req->content_type) : NULL;
    fake->headers[fake->next] = "";
    for (i = 0; req->headers && req->headers[i]; ++i) {
        fake->headers[fake->next] = apr_pstrcat(unit_pool, fake->headers[fake->next],
                                                req->headers[i], "\n", NULL);
    }
    s = &fake->script[fake->next++];
    if (s->status == 0) {
        return sacme_result_set(res, APR_ECONNREFUSED, "%s %s: Connection refused",
                                req->method, req->url);
    }
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = s->status;
    resp->headers = apr_table_make(p, 5);
    hdrs = apr_pstrdup(p, s->headers ? s->headers : "");
    for (line = apr_strtok(hdrs, "\n", &state); line; line = apr_strtok(NULL, "\n", &state)) {
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            apr_table_add(resp->headers, line, colon + 2);
        }
    }
    resp->body = s->body ? s->body : "";
    resp->body_len = strlen(resp->body);
    *presp = resp;
    (void)res;
    return APR_SUCCESS;
}

static const sacme_http_impl_t FAKE_IMPL = { "fake", fake_perform, NULL };

sacme_http_t *unit_fake_http(unit_fake_t *fake, const unit_scripted_t *script, int n)
{
    memset(fake, 0, sizeof(*fake));
    fake->script = script;
    fake->n = n;
    return sacme_http_create(unit_pool, &FAKE_IMPL, fake, NULL);
}

json_t *unit_jws_member(const char *body, const char *member)
{
    json_t *jws = sacme_json_parse(unit_pool, body, strlen(body), 0, NULL);
    unsigned char *raw;
    apr_size_t len;

    ck_assert_ptr_nonnull(jws);
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(jws, member),
                                         &raw, &len), APR_SUCCESS);
    return len ? sacme_json_parse(unit_pool, (const char *)raw, len, 0, NULL) : NULL;
}
