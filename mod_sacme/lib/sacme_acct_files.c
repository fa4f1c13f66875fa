/* The account directory: account.key, account.key.new, account.json
 * (sacme_acct_int.h). */
#include <stdlib.h>

#include "sacme_acct_int.h"
#include "sacme_json.h"
#include "sacme_time.h"

#define MAX_KEY (64 * 1024)

void sacme_acct_files_init(sacme_acct_files_t *files, const sacme_sdir_t *dir,
                           apr_pool_t *p)
{
    files->dir = dir;
    files->key_path = apr_pstrcat(p, dir->path, "/" SACME_ACCT_KEY_FILE, NULL);
    files->new_path = apr_pstrcat(p, dir->path, "/" SACME_ACCT_KEY_NEW_FILE, NULL);
    files->json_path = apr_pstrcat(p, dir->path, "/" SACME_ACCT_JSON_FILE, NULL);
    files->stored = NULL;
}

apr_status_t sacme_acct_write_key(const sacme_acct_files_t *files,
                                  const sacme_key_t *key, const char *file,
                                  apr_pool_t *p, sacme_result_t *res)
{
    const char *pem = sacme_key_to_pem(key, p);
    apr_status_t rv = sacme_sdir_write(files->dir, file, pem, strlen(pem), 0600,
                                       SACME_SDIR_DURABLE, p, res);

    memset((char *)pem, 0, strlen(pem));
    return rv;
}

apr_status_t sacme_acct_read_key(const sacme_acct_files_t *files, const char *file,
                                 apr_pool_t *p, sacme_key_t **key, sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_sdir_read(files->dir, file, MAX_KEY, SACME_SDIR_PRIVATE, p, &data, &len,
                         res);
    if (rv == APR_SUCCESS) {
        rv = sacme_key_from_pem(p, data, len, key, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "%s/%s", files->dir->path, file);
        }
        memset(data, 0, len);
    }
    return rv;
}

apr_status_t sacme_acct_write_stored(const sacme_acct_files_t *files,
                                     const json_t *j, apr_pool_t *p,
                                     sacme_result_t *res)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    apr_status_t rv;

    if (!s) {
        return sacme_result_set(res, APR_ENOMEM, "cannot serialise %s", files->json_path);
    }
    rv = sacme_sdir_write(files->dir, SACME_ACCT_JSON_FILE, s, strlen(s), 0600,
                          SACME_SDIR_DURABLE, p, res);
    free(s);
    return rv;
}

apr_status_t sacme_acct_update_stored(sacme_acct_files_t *files, json_t *changes,
                                      apr_pool_t *p, sacme_result_t *res)
{
    json_t *j = json_is_object(files->stored) ? json_deep_copy(files->stored)
                                              : json_object();

    json_object_update(j, changes);
    json_decref(changes);
    json_object_set_new(j, "updated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    files->stored = sacme_json_own(p, j);
    return sacme_acct_write_stored(files, j, p, res);
}

apr_status_t sacme_acct_read_stored(sacme_acct_files_t *files, apr_pool_t *p,
                                    sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    if (!sacme_sdir_has_file(files->dir, SACME_ACCT_JSON_FILE)) {
        return APR_SUCCESS;
    }
    rv = sacme_sdir_read(files->dir, SACME_ACCT_JSON_FILE, 64 * 1024, 0, p, &data, &len,
                         res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    files->stored = sacme_json_parse(p, data, len, 0, res);
    if (!files->stored) {
        sacme_result_prefix(res, "%s", files->json_path);
        return res ? res->status : APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* An account belongs to one CA; mixing them would register anew and leave
 * the other CA's account key orphaned. */
apr_status_t sacme_acct_check_server(const sacme_acme_t *acme,
                                     const sacme_acct_files_t *files,
                                     sacme_result_t *res)
{
    const char *stored_server = sacme_json_str(files->stored, "server");

    if (stored_server && strcmp(stored_server, acme->url)) {
        return sacme_result_set(res, SACME_ECONFIG,
                                "the account in %s belongs to %s, not to %s: use "
                                "a separate account directory per CA",
                                files->dir->path, stored_server, acme->url);
    }
    return APR_SUCCESS;
}

int sacme_acct_stored_deactivated(const sacme_acct_files_t *files)
{
    const char *status = sacme_json_str(files->stored, "status");
    return status && !strcmp(status, SACME_ACCT_DEACTIVATED);
}

/* A deactivated account cannot come back (RFC 8555 §7.3.6), and a CA that
 * no longer knows its key must not make us register a new account in its
 * place behind the admin's back: the admin decides, with new credentials. */
apr_status_t sacme_acct_refuse_deactivated(const sacme_acct_files_t *files,
                                           sacme_result_t *res)
{
    const char *by = sacme_json_str(files->stored, "deactivated-by");
    const char *when = sacme_json_str(files->stored, "deactivated");
    const char *url = sacme_json_str(files->stored, "url");

    return sacme_result_set(res, SACME_ECONFIG,
        "the ACME account %s was deactivated%s%s%s%s%s; a deactivated account "
        "cannot be used again, and no new one is registered in its place "
        "automatically. To start over, remove the account directory %s and "
        "configure new EAB credentials from your CA (SacmeEAB), then restart "
        "httpd", url ? url : "(no URL)", when ? " on " : "", when ? when : "",
        by ? " by '" : "", by ? by : "", by ? "'" : "", files->dir->path);
}

apr_status_t sacme_acct_files_changeable(sacme_acct_files_t *files,
                                         const sacme_sdir_t *dir,
                                         apr_pool_t *p, sacme_result_t *res)
{
    apr_status_t rv;

    sacme_acct_files_init(files, dir, p);
    if ((rv = sacme_acct_read_stored(files, p, res)) != APR_SUCCESS) {
        return rv;
    }
    return sacme_acct_stored_deactivated(files)
           ? sacme_acct_refuse_deactivated(files, res) : APR_SUCCESS;
}
