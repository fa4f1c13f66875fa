/* The account directory: account.key, account.key.new, account.json
 * (sacme_acct_int.h). */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sacme_acct_int.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_time.h"

void sacme_acct_files_init(sacme_acct_files_t *files, const char *dir,
                           apr_pool_t *p)
{
    files->dir = dir;
    files->key_path = apr_pstrcat(p, dir, "/" SACME_ACCT_KEY_FILE, NULL);
    files->new_path = apr_pstrcat(p, dir, "/" SACME_ACCT_KEY_NEW_FILE, NULL);
    files->json_path = apr_pstrcat(p, dir, "/" SACME_ACCT_JSON_FILE, NULL);
    files->stored = NULL;
}

/* sacmectl runs as root in an account directory the driver (the httpd
 * User) owns: a file it replaces there must stay the User's, or the driver
 * could no longer read its own account key. */
static apr_status_t keep_owner(const sacme_acct_files_t *files, const char *path,
                               sacme_result_t *res)
{
    struct stat st;

    if (geteuid() != 0 || stat(files->dir, &st) != 0 || st.st_uid == 0) {
        return APR_SUCCESS;
    }
    if (chown(path, st.st_uid, st.st_gid) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        return sacme_result_set(res, rv, "cannot give %s to the owner of %s",
                                path, files->dir);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_acct_write_key(const sacme_acct_files_t *files,
                                  const sacme_key_t *key, const char *path,
                                  apr_pool_t *p, sacme_result_t *res)
{
    apr_status_t rv = sacme_key_save(key, path, p, res);
    return rv == APR_SUCCESS ? keep_owner(files, path, res) : rv;
}

apr_status_t sacme_acct_write_stored(const sacme_acct_files_t *files,
                                     const json_t *j, apr_pool_t *p,
                                     sacme_result_t *res)
{
    apr_status_t rv = sacme_json_write_file(j, files->json_path, SACME_FPROT_PUBLIC,
                                            p, res);
    return rv == APR_SUCCESS ? keep_owner(files, files->json_path, res) : rv;
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
    if (!sacme_file_exists(files->json_path, p)) {
        return APR_SUCCESS;
    }
    files->stored = sacme_json_read_file(p, files->json_path, 64 * 1024, res);
    return files->stored ? APR_SUCCESS : (res ? res->status : APR_EINVAL);
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
                                files->dir, stored_server, acme->url);
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
        by ? " by '" : "", by ? by : "", by ? "'" : "", files->dir);
}

apr_status_t sacme_acct_files_changeable(sacme_acct_files_t *files, const char *dir,
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
