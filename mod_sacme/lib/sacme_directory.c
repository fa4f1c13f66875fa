/* The ACME directory object. */
#include "sacme_directory.h"
#include "sacme_json.h"

static apr_array_header_t *strings_of(apr_pool_t *p, const json_t *arr)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) {
        if (json_is_string(v)) {
            APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(p, json_string_value(v));
        }
    }
    return a;
}

static const char *str_dup(apr_pool_t *p, const json_t *obj, const char *key)
{
    const char *s = sacme_json_str(obj, key);
    return s ? apr_pstrdup(p, s) : NULL;
}

apr_status_t sacme_directory_parse(apr_pool_t *p, const char *body,
                                   apr_size_t len, sacme_directory_t **pdir,
                                   sacme_result_t *res)
{
    sacme_directory_t *dir;
    json_t *j, *meta, *profiles;
    const char *missing = NULL;

    j = sacme_json_parse(p, body, len, 0, res);
    if (!j) {
        sacme_result_prefix(res, "the directory is not JSON (is the server URL "
                            "the ACME directory URL?)");
        if (res) {
            res->status = SACME_EPROTO;
        }
        return SACME_EPROTO;
    }
    if (!json_is_object(j)) {
        return sacme_result_set(res, SACME_EPROTO,
                                "the directory is not a JSON object (is the server "
                                "URL the ACME directory URL?)");
    }
    dir = apr_pcalloc(p, sizeof(*dir));
    dir->new_nonce = str_dup(p, j, "newNonce");
    dir->new_account = str_dup(p, j, "newAccount");
    dir->new_order = str_dup(p, j, "newOrder");
    dir->revoke_cert = str_dup(p, j, "revokeCert");
    dir->key_change = str_dup(p, j, "keyChange");
    dir->new_authz = str_dup(p, j, "newAuthz");
    dir->renewal_info = str_dup(p, j, "renewalInfo");

    if (!dir->new_nonce) missing = "newNonce";
    else if (!dir->new_account) missing = "newAccount";
    else if (!dir->new_order) missing = "newOrder";
    if (missing) {
        return sacme_result_set(res, SACME_EPROTO,
                                "the directory has no '%s' URL (is the server URL "
                                "the ACME directory URL?)", missing);
    }

    meta = sacme_json_obj(j, "meta");
    dir->terms_of_service = str_dup(p, meta, "termsOfService");
    dir->website = str_dup(p, meta, "website");
    dir->eab_required = sacme_json_bool(meta, "externalAccountRequired");
    dir->caa_identities = strings_of(p, sacme_json_arr(meta, "caaIdentities"));
    dir->profiles = apr_array_make(p, 4, sizeof(const char *));
    profiles = sacme_json_obj(meta, "profiles");
    if (profiles) {
        const char *name;
        json_t *v;
        json_object_foreach(profiles, name, v) {
            APR_ARRAY_PUSH(dir->profiles, const char *) = apr_pstrdup(p, name);
        }
    }
    *pdir = dir;
    return APR_SUCCESS;
}

int sacme_directory_has_profile(const sacme_directory_t *dir, const char *name)
{
    int i;

    for (i = 0; dir->profiles && i < dir->profiles->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(dir->profiles, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}
