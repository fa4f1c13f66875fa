/* ACME accounts: find again, or register (with EAB), and persist; load
 * the stored account for the admin commands. */
#include "sacme_acct_int.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_time.h"

static apr_status_t save_account(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                                 const sacme_acct_files_t *files, apr_pool_t *p,
                                 sacme_result_t *res)
{
    json_t *j = sacme_json_own(p, json_object()), *contacts = json_array();
    int i;

    json_object_set_new(j, "url", json_string(acme->account_url));
    json_object_set_new(j, "server", json_string(acme->url));
    json_object_set_new(j, "key-type", json_string(
        sacme_key_type_name(sacme_key_type(acme->account_key))));
    /* The EAB key id identifies the binding; the HMAC key is a secret and
     * never leaves memory. */
    if (opts->eab) {
        json_object_set_new(j, "eab-kid", json_string(opts->eab->kid));
    }
    else if (sacme_json_str(files->stored, "eab-kid")) {
        json_object_set_new(j, "eab-kid",
                            json_string(sacme_json_str(files->stored, "eab-kid")));
    }
    for (i = 0; opts->contacts && i < opts->contacts->nelts; ++i) {
        json_array_append_new(contacts, json_string(
            APR_ARRAY_IDX(opts->contacts, i, const char *)));
    }
    json_object_set_new(j, "contact", contacts);
    json_object_set_new(j, "updated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    return sacme_acct_write_stored(files, j, p, res);
}

/* onlyReturnExisting (RFC 8555 §7.3.1): costs no EAB, creates nothing. */
static apr_status_t find_existing(sacme_acme_t *acme, apr_pool_t *p,
                                  sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;
    apr_status_t rv;

    json_object_set_new(payload, "onlyReturnExisting", json_true());
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_acme_post(acme, acme->dir->new_account, payload, 1, p, &resp, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!resp->location) {
        return sacme_result_set(res, APR_EINVAL,
                                "the CA found the account but gave no account URL "
                                "(no Location header)");
    }
    acme->account_url = apr_pstrdup(acme->p, resp->location);
    return APR_SUCCESS;
}

/* find_existing, with "the CA does not know this key" (*found = 0) told
 * apart from a failure to ask. */
static apr_status_t ask(sacme_acme_t *acme, apr_pool_t *p, int *found,
                        sacme_result_t *res)
{
    apr_status_t rv = find_existing(acme, p, res);

    *found = rv == APR_SUCCESS;
    if (rv != APR_SUCCESS && res->problem
        && !strcmp(sacme_problem_short(res->problem), "accountDoesNotExist")) {
        sacme_result_reset(res);
        return APR_SUCCESS;
    }
    return rv;
}

/* account.key is replaced atomically and durably, and only then is
 * account.key.new removed: a crash in between leaves two copies of the right
 * key, never none. */
apr_status_t sacme_acct_commit_key(sacme_acme_t *acme, sacme_acct_files_t *files,
                                   sacme_key_t *next, apr_pool_t *p,
                                   sacme_result_t *res)
{
    json_t *changes = json_object();
    apr_status_t rv;

    acme->account_key = next;
    rv = sacme_acct_write_key(files, next, SACME_ACCT_KEY_FILE, p, res);
    if (rv != APR_SUCCESS) {
        json_decref(changes);
        sacme_result_prefix(res, "the CA has the new account key, which is kept in "
                                 "%s only", files->new_path);
        return rv;
    }
    sacme_sdir_remove(files->dir, SACME_ACCT_KEY_NEW_FILE, NULL);
    json_object_set_new(changes, "key-type",
                        json_string(sacme_key_type_name(sacme_key_type(next))));
    if (acme->account_url) {
        json_object_set_new(changes, "url", json_string(acme->account_url));
    }
    return sacme_acct_update_stored(files, changes, p, res);
}

/* The current key is asked first: it is the one the CA has unless the
 * rollover got through. */
apr_status_t sacme_acct_lookup_stored(sacme_acme_t *acme, sacme_acct_files_t *files,
                                      apr_pool_t *p, int *found, sacme_result_t *res)
{
    sacme_key_t *cur, *next = NULL;
    apr_status_t rv;

    rv = sacme_acct_read_key(files, SACME_ACCT_KEY_FILE, acme->p, &cur, res);
    if (rv == APR_SUCCESS && sacme_sdir_has_file(files->dir, SACME_ACCT_KEY_NEW_FILE)) {
        rv = sacme_acct_read_key(files, SACME_ACCT_KEY_NEW_FILE, acme->p, &next, res);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    acme->account_key = cur;
    rv = ask(acme, p, found, res);
    if (rv != APR_SUCCESS || !next) {
        return rv;
    }
    if (*found) {
        sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10072)
                  "%s: the CA still has the current account key, so the key rollover "
                  "that was interrupted did not happen; removing %s", files->dir->path,
                  SACME_ACCT_KEY_NEW_FILE);
        sacme_sdir_remove(files->dir, SACME_ACCT_KEY_NEW_FILE, NULL);
        return APR_SUCCESS;
    }
    acme->account_key = next;
    rv = ask(acme, p, found, res);
    if (rv != APR_SUCCESS || !*found) {
        acme->account_key = cur;
        if (rv == APR_SUCCESS) {
            sacme_log(acme->log, SACME_LOG_WARNING, 0, SACME_LOGNO(10074)
                      "%s: the CA knows neither the account key nor the one of an "
                      "interrupted rollover; removing %s", files->dir->path,
                      SACME_ACCT_KEY_NEW_FILE);
            sacme_sdir_remove(files->dir, SACME_ACCT_KEY_NEW_FILE, NULL);
        }
        return rv;
    }
    sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10073)
              "%s: the CA has the key of an interrupted rollover; it becomes %s",
              files->dir->path, SACME_ACCT_KEY_FILE);
    return sacme_acct_commit_key(acme, files, next, p, res);
}

static apr_status_t check_can_register(sacme_acme_t *acme,
                                       const sacme_acct_opts_t *opts,
                                       sacme_result_t *res)
{
    apr_status_t rv;

    if (acme->dir->eab_required && !opts->eab) {
        return sacme_result_set(res, SACME_ECONFIG,
            "the CA at %s requires External Account Binding "
            "(externalAccountRequired) to register an account, and no EAB "
            "credentials are configured: set the key id and HMAC key from your "
            "CA account with SacmeEAB (sacmectl: --eab-file, or --eab-kid "
            "and --eab-hmac)",
            acme->url);
    }
    /* Before a key is made and saved: a wiped EAB key cannot register. */
    if (opts->eab && (rv = sacme_eab_check_key(opts->eab, res)) != APR_SUCCESS) {
        return rv;
    }
    if (acme->dir->terms_of_service && !opts->tos_agreed) {
        return sacme_result_set(res, SACME_ECONFIG,
            "the CA at %s asks to accept its terms of service (%s) before "
            "registering an account: read them, then set 'SacmeAgreement "
            "accepted' (sacmectl: --agree-tos)",
            acme->url, acme->dir->terms_of_service);
    }
    return APR_SUCCESS;
}

static apr_status_t do_register(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                                apr_pool_t *p, sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;
    apr_status_t rv;
    int i;

    if (opts->contacts && opts->contacts->nelts) {
        json_t *contacts = json_array();
        for (i = 0; i < opts->contacts->nelts; ++i) {
            const char *c = APR_ARRAY_IDX(opts->contacts, i, const char *);
            json_array_append_new(contacts, json_string(
                strncmp(c, "mailto:", 7) ? apr_pstrcat(p, "mailto:", c, NULL) : c));
        }
        json_object_set_new(payload, "contact", contacts);
    }
    /* Sent whenever the admin agreed, even if the directory lists no terms:
     * Sectigo's enterprise directory has none and still expects it. */
    if (opts->tos_agreed) {
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    }
    if (opts->eab) {
        json_t *eab;
        rv = sacme_eab_jws(p, opts->eab, acme->account_key,
                           acme->dir->new_account, &eab, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_object_set_new(payload, "externalAccountBinding", json_incref(eab));
    }
    rv = sacme_acme_post(acme, acme->dir->new_account, payload, 1, p, &resp, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "registering an account at %s%s%s", acme->url,
                            opts->eab ? " with EAB key id " : "",
                            opts->eab ? opts->eab->kid : "");
        return rv;
    }
    if (!resp->location) {
        return sacme_result_set(res, APR_EINVAL,
                                "the CA registered the account but gave no account "
                                "URL (no Location header)");
    }
    acme->account_url = apr_pstrdup(acme->p, resp->location);
    return APR_SUCCESS;
}

apr_status_t sacme_acct_ensure(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                               int *registered, sacme_result_t *res)
{
    apr_pool_t *p;
    sacme_acct_files_t files;
    apr_status_t rv;
    sacme_key_t *key = NULL;
    int found;

    if (registered) {
        *registered = 0;
    }
    if (!res) {
        res = sacme_result_make(acme->p);   /* the decisions below read it */
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&p, acme->p);
    sacme_acct_files_init(&files, opts->dir, p);

    rv = sacme_acct_read_stored(&files, p, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_acct_check_server(acme, &files, res);
    }
    /*0: a deactivated account stays deactivated */
    if (rv == APR_SUCCESS && sacme_acct_stored_deactivated(&files)) {
        rv = sacme_acct_refuse_deactivated(&files, res);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }

    /*1: a stored key: ask the CA whether it knows it */
    if (sacme_sdir_has_file(files.dir, SACME_ACCT_KEY_FILE)) {
        rv = sacme_acct_lookup_stored(acme, &files, p, &found, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "looking up the account of %s", files.key_path);
            goto leave;
        }
        if (found) {
            sacme_log(acme->log, SACME_LOG_INFO, 0, SACME_LOGNO(10005)
                      "account %s found at %s with the stored key",
                      acme->account_url, acme->url);
            if (!files.stored
                || strcmp(sacme_json_str(files.stored, "url") ?
                          sacme_json_str(files.stored, "url") : "",
                          acme->account_url)) {
                rv = save_account(acme, opts, &files, p, res);
            }
            goto leave;
        }
        key = acme->account_key;
        sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10006)
                  "the CA at %s does not know the account key in %s; "
                  "registering it as a new account", acme->url, files.key_path);
    }

    /*2: register, saving the key first so a crash cannot lose it */
    if ((rv = check_can_register(acme, opts, res)) != APR_SUCCESS) {
        goto leave;
    }
    if (!key) {
        rv = sacme_key_generate(acme->p, opts->key_type != SACME_KEY_NONE ?
                                opts->key_type : SACME_KEY_DEFAULT, &key, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        rv = sacme_acct_write_key(&files, key, SACME_ACCT_KEY_FILE, p, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        acme->account_key = key;
    }
    rv = do_register(acme, opts, p, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = save_account(acme, opts, &files, p, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10007)
              "account %s registered at %s%s%s; keep %s safe: it is the only "
              "way back to this account", acme->account_url, acme->url,
              opts->eab ? " with EAB key id " : "", opts->eab ? opts->eab->kid : "",
              files.key_path);
    if (registered) {
        *registered = 1;
    }
leave:
    apr_pool_destroy(p);
    return rv;
}

apr_status_t sacme_acct_load(sacme_acme_t *acme, const sacme_sdir_t *dir, apr_pool_t *p,
                             json_t **stored, sacme_result_t *res)
{
    sacme_acct_files_t files;
    const char *url;
    apr_status_t rv;
    int found;

    if (!res) {
        res = sacme_result_make(p);
    }
    if (stored) {
        *stored = NULL;
    }
    sacme_acct_files_init(&files, dir, p);
    if (!sacme_sdir_has_file(files.dir, SACME_ACCT_KEY_FILE)) {
        return sacme_result_set(res, APR_ENOENT,
                                "there is no ACME account in %s yet: the server "
                                "registers it when it first needs a certificate",
                                dir->path);
    }
    if ((rv = sacme_acct_read_stored(&files, p, res)) != APR_SUCCESS
        || (rv = sacme_acct_check_server(acme, &files, res)) != APR_SUCCESS) {
        return rv;
    }
    url = sacme_json_str(files.stored, "url");
    if (url && !sacme_sdir_has_file(files.dir, SACME_ACCT_KEY_NEW_FILE)) {
        /* The usual case: key and URL from the store, nothing asked. */
        rv = sacme_acct_read_key(&files, SACME_ACCT_KEY_FILE, acme->p, &acme->account_key,
                                 res);
        acme->account_url = apr_pstrdup(acme->p, url);
    }
    else {
        /* No URL recorded, or a rollover to settle: only the CA can tell. */
        rv = sacme_acct_lookup_stored(acme, &files, p, &found, res);
        if (rv == APR_SUCCESS && !found) {
            rv = sacme_result_set(res, APR_ENOENT, "the CA at %s knows no account "
                                  "with the key in %s", acme->url, files.key_path);
        }
        if (rv == APR_SUCCESS && (!url || strcmp(url, acme->account_url))) {
            json_t *changes = json_object();
            json_object_set_new(changes, "url", json_string(acme->account_url));
            rv = sacme_acct_update_stored(&files, changes, p, res);
        }
    }
    if (rv == APR_SUCCESS && stored) {
        *stored = files.stored;
    }
    return rv;
}

int sacme_acct_is_deactivated(const sacme_sdir_t *dir, apr_pool_t *p)
{
    sacme_acct_files_t files;

    sacme_acct_files_init(&files, dir, p);
    return sacme_acct_read_stored(&files, p, NULL) == APR_SUCCESS
        && sacme_acct_stored_deactivated(&files);
}
