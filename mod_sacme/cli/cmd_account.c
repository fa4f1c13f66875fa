/* sacmectl account show | deactivate --yes | rollover [--key-type T]: the
 * ACME account the server uses (the one in managed.json's account
 * directory).
 *
 * Changes are made under the store lock, so the driver never looks the
 * account up half-way through one, and are followed by an account request
 * (sacme_request_account) that makes the running driver drop its copy of
 * the account and read the store again.
 */
#include "sacmectl.h"
#include "sacme_acct.h"
#include "sacme_jws.h"
#include "sacme_request.h"

enum { OPT_YES = CLI_OPT_OWN, OPT_KEY_TYPE, OPT_SERVER, OPT_DOMAIN };

/* With several CAs or accounts (<SacmeDomainSet>, failover), which one. */
#define WHICH_OPTIONS \
    { "server", OPT_SERVER, 1, "the account at this CA (its ACME directory URL), " \
                               "when the server uses several" }, \
    { "domain", OPT_DOMAIN, 1, "the account of this domain's (first) CA, when " \
                               "the server uses several" }

static const apr_getopt_option_t SHOW_OPTS[] = { WHICH_OPTIONS, CLI_STORE_OPTIONS };

static const apr_getopt_option_t DEACTIVATE_OPTS[] = {
    { "yes", OPT_YES, 0, "really deactivate the account (there is no way back)" },
    WHICH_OPTIONS,
    CLI_STORE_OPTIONS
};

static const apr_getopt_option_t ROLLOVER_OPTS[] = {
    { "key-type", OPT_KEY_TYPE, 1, "type of the new key (default: the current "
                                   "one's; p256, p384, rsa2048, rsa3072, rsa4096)" },
    WHICH_OPTIONS,
    CLI_STORE_OPTIONS
};

typedef struct {
    int yes;
    sacme_key_type_t key_type;
    const char *server;              /* --server */
    const char *domain;              /* --domain */
} account_args_t;

static int own_option(cli_t *cli, int code, const char *arg, void *baton)
{
    account_args_t *a = baton;

    if (code == OPT_SERVER || code == OPT_DOMAIN) {
        if (a->server || a->domain) {
            return cli_error(cli, EXIT_USAGE, "give --server or --domain once");
        }
        *(code == OPT_SERVER ? &a->server : &a->domain) = arg;
        return EXIT_OK;
    }

    if (code == OPT_YES) {
        a->yes = 1;
        return EXIT_OK;
    }
    if (code == OPT_KEY_TYPE) {
        if (sacme_key_type_parse(arg, &a->key_type) != APR_SUCCESS) {
            return cli_error(cli, EXIT_USAGE, "unknown key type '%s' (known: %s)", arg,
                             sacme_key_type_names());
        }
        return EXIT_OK;
    }
    return EXIT_USAGE;
}

/* What the store says of the account: no secret is in it (the EAB HMAC
 * never reaches the store, and the key is summed up by its thumbprint). */
static json_t *account_json(cli_t *cli, const sacme_acme_t *acme, const json_t *stored)
{
    json_t *j = sacme_json_own(cli->p, json_object());
    const char *status = sacme_json_str(stored, "status");

    json_object_set_new(j, "url", json_string(acme->account_url));
    json_object_set_new(j, "server", json_string(acme->url));
    json_object_set_new(j, "directory", json_string(cli->acct_path));
    json_object_set_new(j, "key-type", json_string(
        sacme_key_type_name(sacme_key_type(acme->account_key))));
    json_object_set_new(j, "thumbprint",
                        json_string(sacme_jwk_thumbprint(acme->account_key, cli->p)));
    json_object_set_new(j, "eab-kid", sacme_json_str(stored, "eab-kid")
                        ? json_string(sacme_json_str(stored, "eab-kid")) : json_null());
    json_object_set_new(j, "stored-status", json_string(status ? status : "valid"));
    return j;
}

static void print_account(const json_t *j)
{
    json_t *v;
    size_t i;

    printf("account:      %s\n", sacme_json_str(j, "url"));
    printf("CA:           %s\n", sacme_json_str(j, "server"));
    printf("status:       %s\n", sacme_json_str(j, "status") ?
           sacme_json_str(j, "status") : sacme_json_str(j, "stored-status"));
    printf("contacts:    ");
    json_array_foreach(json_object_get(j, "contact"), i, v) {
        printf(" %s", json_string_value(v));
    }
    printf("%s\n", json_array_size(json_object_get(j, "contact")) ? "" : " (none)");
    printf("key:          %s, JWK thumbprint %s\n", sacme_json_str(j, "key-type"),
           sacme_json_str(j, "thumbprint"));
    printf("EAB key id:   %s\n", sacme_json_str(j, "eab-kid") ?
           sacme_json_str(j, "eab-kid") : "(none)");
    printf("directory:    %s\n", sacme_json_str(j, "directory"));
}

static int account_show(cli_t *cli)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_acct_info_t *info;
    sacme_acme_t *acme;
    apr_file_t *lock;
    json_t *stored, *out, *contacts;
    int rc, i;

    /* Loading may settle an interrupted rollover, which writes. */
    if ((rc = cli_lock(cli, &lock)) != EXIT_OK
        || (rc = cli_account(cli, &acme, &stored)) != EXIT_OK) {
        return rc;
    }
    sacme_store_unlock(lock);
    out = account_json(cli, acme, stored);
    if (sacme_acct_fetch(acme, cli->p, &info, res) != APR_SUCCESS) {
        /* A CA refuses every request of a deactivated account: that is
         * the answer expected, not an error. */
        if (!sacme_acct_is_deactivated(cli->acct_dir, cli->p)
            || cli_exit_code(res) != EXIT_CA) {
            return cli_fail(cli, res);
        }
        json_object_set_new(out, "status", json_string(SACME_ACCT_DEACTIVATED));
        json_object_set_new(out, "ca-answer", json_string(sacme_result_message(res,
                                                                               cli->p)));
    }
    else {
        json_object_set_new(out, "status", info->status ? json_string(info->status)
                                                        : json_null());
        contacts = json_array();
        for (i = 0; i < info->contacts->nelts; ++i) {
            json_array_append_new(contacts, json_string(
                APR_ARRAY_IDX(info->contacts, i, const char *)));
        }
        json_object_set_new(out, "contact", contacts);
        json_object_set_new(out, "orders", info->orders ? json_string(info->orders)
                                                        : json_null());
    }
    if (cli->json) {
        cli_print_json(cli, out);
    }
    else {
        print_account(out);
    }
    return EXIT_OK;
}

/* The changes: what sacme_acct does, with the arguments of the command. */
typedef apr_status_t change_fn(cli_t *cli, sacme_acme_t *acme, const account_args_t *a,
                               sacme_result_t *res);

static apr_status_t deactivate(cli_t *cli, sacme_acme_t *acme, const account_args_t *a,
                               sacme_result_t *res)
{
    (void)a;
    return sacme_acct_deactivate(acme, cli->acct_dir,
                                 "sacmectl account deactivate", res);
}

static apr_status_t rollover(cli_t *cli, sacme_acme_t *acme, const account_args_t *a,
                             sacme_result_t *res)
{
    return sacme_acct_rollover(acme, cli->acct_dir, a->key_type, res);
}

/* A change under the store lock (the driver never looks the account up
 * half-way through it), then the account request that makes the running
 * driver drop its copy. *out describes the account as it was loaded. */
static int change(cli_t *cli, change_fn *fn, const account_args_t *a, const char *reason,
                  sacme_acme_t **acme, json_t **out)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    apr_file_t *lock;
    json_t *stored;
    int rc;

    if ((rc = cli_lock(cli, &lock)) != EXIT_OK
        || (rc = cli_account(cli, acme, &stored)) != EXIT_OK) {
        return rc;
    }
    *out = account_json(cli, *acme, stored);
    if (fn(cli, *acme, a, res) != APR_SUCCESS) {
        rc = cli_fail(cli, res);
    }
    else if (sacme_request_account(cli->store, cli->p, reason, res) != APR_SUCCESS) {
        sacme_result_prefix(res, "the account changed, but telling the running "
                            "server failed (a graceful restart makes it read the "
                            "account again)");
        rc = cli_fail(cli, res);
    }
    sacme_store_unlock(lock);
    return rc;
}

static int account_deactivate(cli_t *cli, const account_args_t *a)
{
    sacme_acme_t *acme;
    json_t *out;
    int rc;

    if (!a->yes) {
        return cli_error(cli, EXIT_USAGE,
            "this deactivates the ACME account of %s at %s for good: the CA then "
            "refuses every request of it (no new certificate, no renewal, no "
            "revocation with it), and the server does not register a new one by "
            "itself. Certificates already issued stay valid. Add --yes to do it",
            cli->store->base, cli->ca->url);
    }
    if ((rc = change(cli, deactivate, a, "deactivated", &acme, &out)) != EXIT_OK) {
        return rc;
    }
    json_object_set_new(out, "status", json_string(SACME_ACCT_DEACTIVATED));
    if (cli->json) {
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("account %s deactivated at %s.\n"
           "The server obtains no certificate with it any more. To start over: "
           "remove\n%s and configure new EAB credentials (SacmeEAB), then restart "
           "httpd.\n", acme->account_url, acme->url, cli->acct_path);
    return EXIT_OK;
}

static int account_rollover(cli_t *cli, const account_args_t *a)
{
    sacme_acme_t *acme;
    json_t *out, *old;
    int rc;

    if ((rc = change(cli, rollover, a, "rollover", &acme, &old)) != EXIT_OK) {
        return rc;
    }
    out = account_json(cli, acme, NULL);
    json_object_set(out, "old-thumbprint", json_object_get(old, "thumbprint"));
    json_object_set(out, "eab-kid", json_object_get(old, "eab-kid"));
    if (cli->json) {
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("account %s: new %s key, JWK thumbprint %s (was %s).\n"
           "The running server uses it from its next request to the CA.\n",
           acme->account_url, sacme_json_str(out, "key-type"),
           sacme_json_str(out, "thumbprint"), sacme_json_str(out, "old-thumbprint"));
    return EXIT_OK;
}

int cmd_account(cli_t *cli, int argc, const char *const *argv)
{
    account_args_t a = { 0, SACME_KEY_NONE, NULL, NULL };
    const char *sub = argc > 1 ? argv[1] : "";
    int rc;

    if (!strcmp(sub, "show")) {
        cli->synopsis = "account show [--server URL | --domain NAME] [--store DIR | "
                        "--config FILE] [--json]";
        cli->opts = SHOW_OPTS;
    }
    else if (!strcmp(sub, "deactivate")) {
        cli->synopsis = "account deactivate --yes [--server URL | --domain NAME] "
                        "[--store DIR | --config FILE] [--json]";
        cli->opts = DEACTIVATE_OPTS;
    }
    else if (!strcmp(sub, "rollover")) {
        cli->synopsis = "account rollover [--key-type T] [--server URL | --domain NAME] "
                        "[--store DIR | --config FILE] [--json]";
        cli->opts = ROLLOVER_OPTS;
    }
    else if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        printf("usage: sacmectl account show | deactivate --yes | rollover "
               "[--key-type T]\n       [--server URL | --domain NAME] "
               "[--store DIR | --config FILE] [--json]\n"
               "(sacmectl account SUBCOMMAND --help for each)\n");
        return EXIT_OK;
    }
    else {
        return cli_error(cli, EXIT_USAGE, "account needs show, deactivate --yes or "
                         "rollover (see sacmectl account --help)");
    }
    cli->cmd = apr_pstrcat(cli->p, "account ", sub, NULL);
    if ((rc = cli_parse(cli, argc - 1, argv + 1, own_option, &a)) != EXIT_OK) {
        return rc;
    }
    if (cli->args->nelts) {
        return cli_error(cli, EXIT_USAGE, "%s takes no argument ('%s')", cli->cmd,
                         APR_ARRAY_IDX(cli->args, 0, const char *));
    }
    if ((rc = cli_open(cli)) != EXIT_OK
        || (rc = cli_pick_ca(cli, a.server, a.domain)) != EXIT_OK) {
        return rc;
    }
    if (!strcmp(sub, "show")) {
        return account_show(cli);
    }
    if ((rc = cli_on_leader(cli)) != EXIT_OK) {
        return rc;
    }
    return !strcmp(sub, "deactivate") ? account_deactivate(cli, &a)
                                      : account_rollover(cli, &a);
}
