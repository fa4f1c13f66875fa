/* ACME accounts: find again, or register (with EAB), and persist. */
#include "sacme_acct.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_time.h"

typedef struct {
    const char *key_path;
    const char *json_path;
    json_t *stored;             /* account.json as read, or NULL */
} acct_files_t;

static apr_status_t save_account(sacme_acme_t *acme, const sacme_acct_opts_t *opts,
                                 const acct_files_t *files, apr_pool_t *p,
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
    return sacme_json_write_file(j, files->json_path, SACME_FPROT_PUBLIC, p, res);
}

/* onlyReturnExisting (RFC 8555 §7.3.1): costs no EAB, creates nothing. */
static apr_status_t find_existing(sacme_acme_t *acme, apr_pool_t *p,
                                  sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;
    apr_status_t rv;

    json_object_set_new(payload, "onlyReturnExisting", json_true());
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

static apr_status_t check_can_register(sacme_acme_t *acme,
                                       const sacme_acct_opts_t *opts,
                                       sacme_result_t *res)
{
    if (acme->dir->eab_required && !opts->eab) {
        return sacme_result_set(res, SACME_ECONFIG,
            "the CA at %s requires External Account Binding "
            "(externalAccountRequired) to register an account, and no EAB "
            "credentials are configured: set the key id and HMAC key from your "
            "CA account with SacmeEAB (sacmectl: --eab-kid and --eab-hmac)",
            acme->url);
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
    acct_files_t files;
    apr_status_t rv;
    sacme_key_t *key = NULL;
    const char *stored_server;

    if (registered) {
        *registered = 0;
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&p, acme->p);
    files.key_path = apr_pstrcat(p, opts->dir, "/" SACME_ACCT_KEY_FILE, NULL);
    files.json_path = apr_pstrcat(p, opts->dir, "/" SACME_ACCT_JSON_FILE, NULL);
    files.stored = NULL;

    rv = sacme_file_mkdirs(opts->dir, SACME_FPROT_DIR_PRIVATE, p, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (sacme_file_exists(files.json_path, p)) {
        files.stored = sacme_json_read_file(p, files.json_path, 64 * 1024, res);
        if (!files.stored) {
            rv = res ? res->status : APR_EINVAL;
            goto leave;
        }
        stored_server = sacme_json_str(files.stored, "server");
        if (stored_server && strcmp(stored_server, acme->url)) {
            /* An account belongs to one CA; mixing them would register anew
             * and leave the other CA's account key orphaned. */
            rv = sacme_result_set(res, SACME_ECONFIG,
                                  "the account in %s belongs to %s, not to %s: use "
                                  "a separate account directory per CA",
                                  opts->dir, stored_server, acme->url);
            goto leave;
        }
    }

    /*1: a stored key: ask the CA whether it knows it */
    if (sacme_file_exists(files.key_path, p)) {
        rv = sacme_key_load(acme->p, files.key_path, &key, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        acme->account_key = key;
        rv = find_existing(acme, p, res);
        if (rv == APR_SUCCESS) {
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
        if (!res || !res->problem
            || strcmp(sacme_problem_short(res->problem), "accountDoesNotExist")) {
            sacme_result_prefix(res, "looking up the account of %s", files.key_path);
            goto leave;
        }
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
        rv = sacme_key_save(key, files.key_path, p, res);
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
