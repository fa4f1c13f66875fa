/* Requests from the admin to the running driver (sacme_request.h). */
#include <apr_file_info.h>

#include "sacme_request.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_time.h"

static const char *request_path(const sacme_store_t *store, apr_pool_t *p,
                                const char *domain)
{
    return sacme_store_path(store, p, SACME_GROUP_REQUESTS,
                            apr_pstrcat(p, domain, ".json", NULL), NULL);
}

static apr_status_t write_request(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, json_t *j, sacme_result_t *res)
{
    apr_status_t rv;

    rv = sacme_file_mkdirs(sacme_store_path(store, p, SACME_GROUP_REQUESTS, NULL, NULL),
                           SACME_FPROT_DIR_PUBLIC, p, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    json_object_set_new(j, "requested", json_string(sacme_time_rfc3339(p, apr_time_now())));
    return sacme_json_write_file(j, request_path(store, p, name), SACME_FPROT_PUBLIC,
                                 p, res);
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

json_t *sacme_request_get(const sacme_store_t *store, apr_pool_t *p, const char *domain)
{
    const char *path = request_path(store, p, domain);

    return sacme_file_exists(path, p) ? sacme_json_read_file(p, path, 16 * 1024, NULL)
                                      : NULL;
}

apr_status_t sacme_request_done(const sacme_store_t *store, apr_pool_t *p,
                                const char *domain)
{
    apr_status_t rv = apr_file_remove(request_path(store, p, domain), p);

    return (rv == APR_SUCCESS || APR_STATUS_IS_ENOENT(rv)) ? APR_SUCCESS : rv;
}

apr_time_t sacme_request_stamp(const sacme_store_t *store, apr_pool_t *p)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, sacme_store_path(store, p, SACME_GROUP_REQUESTS, NULL, NULL),
                 APR_FINFO_MTIME, p) != APR_SUCCESS) {
        return 0;
    }
    return fi.mtime;
}
