/* sacmectl scm account create | list | show: SCM's ACME accounts.
 *
 * create replaces the portal's "Create ACME Account" and the copying of
 * the EAB key id and HMAC into the client: the pair goes straight into a
 * new root-only file for SacmeEAB file:, and the HMAC is printed nowhere.
 * An account's macKey is never shown, in --json neither
 * (sacme_scm_account_public).
 */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cmd_scm.h"
#include "sacme_file.h"

/* How long create waits by default for SCM to show the new account with
 * its EAB pair (an SCM that creates in the background). */
#define WAIT_DEFAULT 60

static const apr_getopt_option_t CREATE_OPTS[] = {
    { "name",        OPT_NAME,        1, "the account's name (Sectigo suggests one "
                                         "account per server)" },
    { "org-id",      OPT_ORG,         1, "the organization's id (default: "
                                         "organizationId of the credentials)" },
    { "department",  OPT_DEPARTMENT,  1, "a department's id: the account is created "
                                         "in the department" },
    { "acme-server", OPT_ACME_SERVER, 1, "the ACME directory URL SCM offers "
                                         "(what SacmeServer names)" },
    { "eab-file",    OPT_EAB_FILE,    1, "the new file for SacmeEAB file: (must not "
                                         "exist)" },
    { "wait",        OPT_WAIT,        1, "seconds to wait for SCM to show the new "
                                         "account (default 60)" },
    SCM_OPTIONS
};

static const apr_getopt_option_t LIST_OPTS[] = {
    { "org-id", OPT_ORG, 1, "the organization's id (default: organizationId of the "
                            "credentials)" },
    SCM_OPTIONS
};

static const apr_getopt_option_t SHOW_OPTS[] = {
    SCM_OPTIONS
};

/* Polls the new account until SCM shows it with its EAB pair, for at most
 * wait seconds. */
static int wait_for(cli_t *cli, scm_args_t *a, long id, json_t **acct)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    apr_time_t until = apr_time_now() + apr_time_from_sec(a->wait);

    for (;;) {
        sacme_result_reset(res);
        if (sacme_scm_account_get(a->scm, id, cli->p, acct, res) == APR_SUCCESS) {
            if (sacme_json_str(*acct, "macId") && sacme_json_str(*acct, "macKey")) {
                return EXIT_OK;
            }
        }
        else if (sacme_scm_class(res) != SACME_SCM_NOT_FOUND) {
            sacme_result_prefix(res, "SCM created ACME account %ld, but reading it "
                                "back failed", id);
            return scm_fail(cli, res);
        }
        if (apr_time_now() >= until) {
            return cli_error(cli, EXIT_CA, "SCM created ACME account %ld but has not "
                             "shown it with its EAB key within %ld s; nothing was "
                             "written to %s. Once sacmectl scm account show %ld shows "
                             "it, its EAB key id and HMAC are in SCM's portal (ACME > "
                             "Accounts > Details); or wait longer next time (--wait)",
                             id, a->wait, a->eab_file, id);
        }
        apr_sleep(apr_time_from_msec(500));
    }
}

/* Writes {"kid", "hmac"} to the new EAB file; the text is cleansed after. */
static int write_eab(cli_t *cli, scm_args_t *a, long id, const json_t *acct)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    json_t *j = json_pack("{s:s, s:s}", "kid", sacme_json_str(acct, "macId"),
                          "hmac", sacme_json_str(acct, "macKey"));
    char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
    apr_status_t rv;

    json_decref(j);
    if (!text) {
        return cli_error(cli, EXIT_LOCAL, "out of memory writing the EAB file");
    }
    rv = sacme_file_write_new(a->eab_file, text, strlen(text), SACME_FPROT_PRIVATE,
                              cli->p, res);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (rv != APR_SUCCESS) {
        return cli_error(cli, EXIT_LOCAL, "SCM created ACME account %ld, but its EAB "
                         "file could not be written: %s. Its EAB key id and HMAC are "
                         "in SCM's portal (ACME > Accounts > Details)", id, res->detail);
    }
    return EXIT_OK;
}

static int create(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_scm_new_account_t na;
    scm_args_t a;
    json_t *acct, *out;
    long id;
    int rc, found;

    memset(&a, 0, sizeof(a));
    if ((rc = scm_start(cli, &a, "scm account create",
                        "scm account create --name NAME --org-id ID --acme-server URL "
                        "[--department ID] --eab-file PATH [--json]",
                        CREATE_OPTS, argc, argv)) != EXIT_OK) {
        return rc;
    }
    if (!a.name || !a.acme_server || !a.eab_file || cli->args->nelts) {
        return cli_error(cli, EXIT_USAGE, "scm account create needs --name, --acme-server "
                         "and --eab-file (see sacmectl scm account create --help)");
    }
    if (!a.wait) {
        a.wait = WAIT_DEFAULT;
    }
    memset(&na, 0, sizeof(na));
    /* A department is enough: it is where the account is made. */
    if (!a.department && !(na.org_id = scm_org(cli, &a, &rc))) {
        return rc;
    }
    /* Refused before anything is created: the file is never replaced. */
    if (sacme_file_exists(a.eab_file, cli->p)) {
        return cli_error(cli, EXIT_LOCAL, "the EAB file %s exists already; it is left "
                         "as it is and no account was created (remove it, or name "
                         "another with --eab-file)", a.eab_file);
    }
    na.name = a.name;
    na.acme_server = a.acme_server;
    na.department_id = a.department;
    if (sacme_scm_account_create(a.scm, &na, cli->p, &id, &found, res) != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    if (found && !cli->json) {
        fprintf(stderr, "sacmectl: SCM did not answer the create, but made the account: "
                "found it by its name (id %ld)\n", id);
    }
    if ((rc = wait_for(cli, &a, id, &acct)) != EXIT_OK
        || (rc = write_eab(cli, &a, id, acct)) != EXIT_OK) {
        return rc;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "sacmectl: warning: %s is owned by this user, not root: httpd "
                "warns about it (chown root:root %s)\n", a.eab_file, a.eab_file);
    }
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        json_object_set_new(out, "id", json_integer(id));
        json_object_set_new(out, "name", json_string(a.name));
        json_object_set_new(out, "organization-id",
                            json_integer(a.department ? a.department : na.org_id));
        json_object_set_new(out, "acme-server", json_string(a.acme_server));
        json_object_set_new(out, "eab-kid", json_string(sacme_json_str(acct, "macId")));
        json_object_set_new(out, "eab-file", json_string(a.eab_file));
        json_object_set_new(out, "found-by-name", json_boolean(found));
        json_object_set_new(out, "directive",
                            json_string(apr_pstrcat(cli->p, "SacmeEAB file:", a.eab_file,
                                                    NULL)));
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("Created SCM ACME account %ld '%s' (EAB key id %s).\n"
           "Its EAB key id and HMAC are in %s (mode 0600).\n"
           "Add to the Apache configuration, next to SacmeServer %s:\n\n"
           "    SacmeEAB file:%s\n\n"
           "then add the server's names to the account (sacmectl scm sync, after the\n"
           "first start; or sacmectl scm domains add --account %ld NAME...).\n",
           id, a.name, sacme_json_str(acct, "macId"), a.eab_file, a.acme_server,
           a.eab_file, id);
    return EXIT_OK;
}

static void print_account(const json_t *acct, apr_pool_t *p)
{
    printf("id:              %ld\n", sacme_scm_account_id(acct));
    printf("name:            %s\n", sacme_json_str(acct, "name")
           ? sacme_json_str(acct, "name") : "");
    printf("ACME server:     %s\n", sacme_json_str(acct, "acmeServer")
           ? sacme_json_str(acct, "acmeServer") : "");
    printf("validation type: %s\n", sacme_json_str(acct, "certValidationType")
           ? sacme_json_str(acct, "certValidationType") : "");
    printf("status:          %s\n", sacme_json_str(acct, "status")
           ? sacme_json_str(acct, "status") : "");
    printf("EAB key id:      %s\n", sacme_json_str(acct, "macId")
           ? sacme_json_str(acct, "macId") : "");
    printf("domains:         %s\n", scm_domains_text(p, acct));
}

static int list(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    scm_args_t a;
    json_t *accts, *pub, *out, *acct;
    long org;
    size_t i;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = scm_start(cli, &a, "scm account list", "scm account list [--org-id ID] "
                        "[--json]", LIST_OPTS, argc, argv)) != EXIT_OK) {
        return rc;
    }
    if (!(org = scm_org(cli, &a, &rc))) {
        return rc;
    }
    if (sacme_scm_accounts_list(a.scm, org, NULL, cli->p, &accts, res) != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    pub = sacme_json_own(cli->p, json_array());
    json_array_foreach(accts, i, acct) {
        json_array_append(pub, sacme_scm_account_public(cli->p, acct));
    }
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        json_object_set_new(out, "organization-id", json_integer(org));
        json_object_set(out, "accounts", pub);
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    if (!json_array_size(pub)) {
        printf("No ACME account in SCM organization %ld.\n", org);
        return EXIT_OK;
    }
    printf("%-8s %-24s %-4s %-9s %-40s %-24s %s\n", "ID", "NAME", "TYPE", "STATUS",
           "ACME SERVER", "EAB KEY ID", "DOMAINS");
    json_array_foreach(pub, i, acct) {
        printf("%-8ld %-24s %-4s %-9s %-40s %-24s %s\n", sacme_scm_account_id(acct),
               sacme_json_str(acct, "name") ? sacme_json_str(acct, "name") : "",
               sacme_json_str(acct, "certValidationType")
               ? sacme_json_str(acct, "certValidationType") : "",
               sacme_json_str(acct, "status") ? sacme_json_str(acct, "status") : "",
               sacme_json_str(acct, "acmeServer") ? sacme_json_str(acct, "acmeServer")
                                                 : "",
               sacme_json_str(acct, "macId") ? sacme_json_str(acct, "macId") : "",
               scm_domains_text(cli->p, acct));
    }
    return EXIT_OK;
}

static int show(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    scm_args_t a;
    json_t *acct, *out;
    long id;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = scm_start(cli, &a, "scm account show", "scm account show ID [--json]",
                        SHOW_OPTS, argc, argv)) != EXIT_OK) {
        return rc;
    }
    if (cli->args->nelts != 1
        || !(id = scm_parse_id(APR_ARRAY_IDX(cli->args, 0, const char *)))) {
        return cli_error(cli, EXIT_USAGE, "scm account show needs one account ID (a "
                         "number; sacmectl scm account list shows them)");
    }
    if (sacme_scm_account_get(a.scm, id, cli->p, &acct, res) != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    acct = sacme_scm_account_public(cli->p, acct);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        json_object_set(out, "account", acct);
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    print_account(acct, cli->p);
    return EXIT_OK;
}

int scm_account(cli_t *cli, int argc, const char *const *argv)
{
    const char *act = argc > 1 ? argv[1] : "";

    if (!strcmp(act, "create")) {
        return create(cli, argc - 1, argv + 1);
    }
    if (!strcmp(act, "list")) {
        return list(cli, argc - 1, argv + 1);
    }
    if (!strcmp(act, "show")) {
        return show(cli, argc - 1, argv + 1);
    }
    return cli_error(cli, EXIT_USAGE, "scm account needs create, list or show (see "
                     "sacmectl scm --help)");
}
