/* Requests from the admin to the running driver (sacme_request.h). */
#include "sacme_request.h"
#include "sacme_json.h"
#include "sacme_time.h"

static apr_status_t write_request(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, json_t *j, sacme_result_t *res)
{
    json_object_set_new(j, "requested", json_string(sacme_time_rfc3339(p, apr_time_now())));
    return sacme_store_state_save(store, p, SACME_STATE_REQUEST, name, j, res);
}

apr_status_t sacme_request_renew(const sacme_store_t *store, apr_pool_t *p,
                                 const char *domain, const char *reason,
                                 const char *detail, sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object());

    json_object_set_new(j, "action", json_string("renew"));
    json_object_set_new(j, "reason", json_string(reason));
    if (detail) {
        json_object_set_new(j, "revocation-reason", json_string(detail));
    }
    return write_request(store, p, domain, j, res);
}

apr_status_t sacme_request_account(const sacme_store_t *store, apr_pool_t *p,
                                   const char *reason, sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object());

    json_object_set_new(j, "action", json_string("reload-account"));
    json_object_set_new(j, "reason", json_string(reason));
    return write_request(store, p, SACME_REQUEST_ACCOUNT, j, res);
}

apr_status_t sacme_request_ari_check(const sacme_store_t *store, apr_pool_t *p,
                                     const apr_array_header_t *domains,
                                     sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object()), *names;
    int i;

    json_object_set_new(j, "action", json_string("ari-check"));
    if (domains && domains->nelts > 0) {
        names = json_array();
        for (i = 0; i < domains->nelts; ++i) {
            json_array_append_new(names, json_string(APR_ARRAY_IDX(domains, i,
                                                                   const char *)));
        }
        json_object_set_new(j, "domains", names);
    }
    return write_request(store, p, SACME_REQUEST_ARI, j, res);
}

json_t *sacme_request_get(const sacme_store_t *store, apr_pool_t *p, const char *domain)
{
    return sacme_store_state_load(store, p, SACME_STATE_REQUEST, domain, NULL);
}

apr_status_t sacme_request_done(const sacme_store_t *store, apr_pool_t *p,
                                const char *domain)
{
    return sacme_store_state_remove(store, p, SACME_STATE_REQUEST, domain, NULL);
}

apr_time_t sacme_request_stamp(const sacme_store_t *store, apr_pool_t *p)
{
    return sacme_store_requests_stamp(store, p);
}
