/* The admin's changes to an account: fetch (POST-as-GET), deactivation
 * (RFC 8555 §7.3.6), key rollover (§7.3.5). */
#include "sacme_acct_int.h"
#include "sacme_json.h"
#include "sacme_jws.h"
#include "sacme_time.h"

apr_status_t sacme_acct_fetch(sacme_acme_t *acme, apr_pool_t *p,
                              sacme_acct_info_t **pinfo, sacme_result_t *res)
{
    sacme_acme_response_t *resp;
    sacme_acct_info_t *info;
    json_t *v;
    size_t i;
    apr_status_t rv;

    rv = sacme_acme_post(acme, acme->account_url, NULL, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "fetching the account %s", acme->account_url);
        return rv;
    }
    if (!json_is_object(resp->json)) {
        return sacme_result_set(res, APR_EINVAL, "the CA answered the account %s "
                                "without an account object", acme->account_url);
    }
    info = apr_pcalloc(p, sizeof(*info));
    info->status = sacme_json_str(resp->json, "status");
    info->orders = sacme_json_str(resp->json, "orders");
    info->contacts = apr_array_make(p, 2, sizeof(const char *));
    json_array_foreach(sacme_json_arr(resp->json, "contact"), i, v) {
        if (json_is_string(v)) {
            APR_ARRAY_PUSH(info->contacts, const char *) =
                apr_pstrdup(p, json_string_value(v));
        }
    }
    *pinfo = info;
    return APR_SUCCESS;
}

apr_status_t sacme_acct_deactivate(sacme_acme_t *acme, const sacme_sdir_t *dir,
                                   const char *by, sacme_result_t *res)
{
    apr_pool_t *p;
    sacme_acct_files_t files;
    json_t *payload, *changes;
    sacme_acme_response_t *resp;
    const char *status;
    apr_status_t rv;

    apr_pool_create(&p, acme->p);
    if ((rv = sacme_acct_files_changeable(&files, dir, p, res)) != APR_SUCCESS) {
        goto leave;
    }
    payload = sacme_json_own(p, json_object());
    json_object_set_new(payload, "status", json_string(SACME_ACCT_DEACTIVATED));
    rv = sacme_acme_post(acme, acme->account_url, payload, 0, p, &resp, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "deactivating the account %s", acme->account_url);
        goto leave;
    }
    status = sacme_json_str(resp->json, "status");
    if (status && strcmp(status, SACME_ACCT_DEACTIVATED)) {
        rv = sacme_result_set(res, APR_EINVAL, "the CA answered the deactivation of "
                              "%s with status '%s'", acme->account_url, status);
        goto leave;
    }
    changes = json_object();
    json_object_set_new(changes, "status", json_string(SACME_ACCT_DEACTIVATED));
    json_object_set_new(changes, "deactivated",
                        json_string(sacme_time_rfc3339(p, apr_time_now())));
    if (by) {
        json_object_set_new(changes, "deactivated-by", json_string(by));
    }
    rv = sacme_acct_update_stored(&files, changes, p, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the CA deactivated the account %s, but recording "
                            "it failed", acme->account_url);
        goto leave;
    }
    sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10071)
              "account %s deactivated at %s%s%s", acme->account_url, acme->url,
              by ? " by " : "", by ? by : "");
leave:
    apr_pool_destroy(p);
    return rv;
}

/* The keyChange request (RFC 8555 §7.3.5): an inner JWS signed by the new
 * key, with the new JWK in its header and no nonce, saying which account
 * and which old key; sent as the payload of an ordinary request signed by
 * the old key. */
static apr_status_t key_change(sacme_acme_t *acme, const sacme_key_t *next,
                               apr_pool_t *p, sacme_result_t *res)
{
    json_t *header = sacme_json_own(p, json_object());
    json_t *inner_payload = sacme_json_own(p, json_object()), *inner;
    sacme_acme_response_t *resp;
    const char *data;
    apr_status_t rv;

    json_object_set_new(header, "jwk", json_incref(sacme_jwk_make(next, p)));
    json_object_set_new(header, "url", json_string(acme->dir->key_change));
    json_object_set_new(inner_payload, "account", json_string(acme->account_url));
    json_object_set_new(inner_payload, "oldKey",
                        json_incref(sacme_jwk_make(acme->account_key, p)));
    data = sacme_json_dump(p, inner_payload);
    rv = sacme_jws_make(p, next, header, data, strlen(data), &inner, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_acme_post(acme, acme->dir->key_change, inner, 0, p, &resp, res);
    }
    return rv;
}

apr_status_t sacme_acct_rollover(sacme_acme_t *acme, const sacme_sdir_t *dir,
                                 sacme_key_type_t type, sacme_result_t *res)
{
    apr_pool_t *p;
    sacme_acct_files_t files;
    sacme_key_t *next;
    sacme_result_t *check;
    apr_status_t rv;
    int found;

    if (!res) {
        res = sacme_result_make(acme->p);
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!acme->dir->key_change) {
        return sacme_result_set(res, APR_ENOTIMPL, "the CA at %s offers no account key "
                                "rollover (no keyChange in its directory)", acme->url);
    }
    apr_pool_create(&p, acme->p);
    if ((rv = sacme_acct_files_changeable(&files, dir, p, res)) != APR_SUCCESS) {
        goto leave;
    }
    if (type == SACME_KEY_NONE) {
        type = sacme_key_type(acme->account_key);
    }
    rv = sacme_key_generate(acme->p, type, &next, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_acct_write_key(&files, next, SACME_ACCT_KEY_NEW_FILE, p, res);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = key_change(acme, next, p, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_acct_commit_key(acme, &files, next, p, res);
        goto done;
    }
    /* A failure is not proof that the CA kept the old key: a lost answer, or
     * a retry of a request the CA had carried out, looks just the same. Ask
     * before removing anything. */
    check = sacme_result_make(p);
    if (sacme_acct_lookup_stored(acme, &files, p, &found, check) != APR_SUCCESS) {
        sacme_result_prefix(res, "rolling the account key over (%s is kept: the "
                            "next use of the account asks the CA which key it holds)",
                            files.new_path);
        goto leave;
    }
    if (!found || !sacme_key_same_public(next, sacme_key_evp(acme->account_key))) {
        sacme_result_prefix(res, "rolling the account key over");
        goto leave;
    }
    rv = APR_SUCCESS;
done:
    if (rv == APR_SUCCESS) {
        sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10070)
                  "account %s: key rolled over to a new %s key (%s)", acme->account_url,
                  sacme_key_type_name(sacme_key_type(next)), files.key_path);
    }
leave:
    apr_pool_destroy(p);
    return rv;
}
