/* sacmectl scm: Sectigo Certificate Manager's ACME accounts through its
 * REST API (sacme_scm.h), instead of the portal steps of Sectigo's guides.
 *
 *   scm account create|list|show      cmd_scm_account.c
 *   scm domains add|remove --account ID NAME...
 *   scm sync [--account ID]           the managed names into the account
 *
 * The credentials (login, password, customerUri) come from a root-only
 * file, never from the command line, where every user's ps would show
 * them. Exit codes by the class of the failure (scm_fail).
 */
#include <stdlib.h>

#include "cmd_scm.h"

long scm_parse_id(const char *text)
{
    char *end;
    long v;

    if (!text || !*text) {
        return 0;
    }
    v = strtol(text, &end, 10);
    return (*end || v <= 0) ? 0 : v;
}

static int own_option(cli_t *cli, int code, const char *arg, void *baton)
{
    scm_args_t *a = baton;
    long *num = NULL;

    switch (code) {
    case OPT_CREDENTIALS: a->credentials = arg; return EXIT_OK;
    case OPT_NAME:        a->name = arg; return EXIT_OK;
    case OPT_ACME_SERVER: a->acme_server = arg; return EXIT_OK;
    case OPT_EAB_FILE:    a->eab_file = arg; return EXIT_OK;
    case OPT_TIMEOUT:     num = &a->timeout; break;
    case OPT_RETRIES:     num = &a->retries; break;
    case OPT_ORG:         num = &a->org_id; break;
    case OPT_DEPARTMENT:  num = &a->department; break;
    case OPT_ACCOUNT:     num = &a->account; break;
    case OPT_WAIT:        num = &a->wait; break;
    default:              return EXIT_USAGE;
    }
    /* --retries 0 is a number too */
    if (code == OPT_RETRIES && arg && !strcmp(arg, "0")) {
        *num = -1;
        return EXIT_OK;
    }
    if (!(*num = scm_parse_id(arg))) {
        return cli_error(cli, EXIT_USAGE, "'%s' is not a positive number (see "
                         "sacmectl %s --help)", arg ? arg : "", cli->cmd);
    }
    return EXIT_OK;
}

int scm_fail(cli_t *cli, const sacme_result_t *res)
{
    sacme_scm_class_t c = sacme_scm_class(res);
    int rc;
    json_t *out, *err;

    switch (c) {
    case SACME_SCM_AUTH:
    case SACME_SCM_LOCAL:
        rc = EXIT_CONFIG;
        break;
    case SACME_SCM_SERVER:
    case SACME_SCM_NETWORK:
        rc = EXIT_NET;
        break;
    default:
        rc = EXIT_CA;
    }
    fprintf(stderr, "sacmectl: error: %s\n", res->detail);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        err = json_object();
        json_object_set_new(err, "message", json_string(res->detail));
        json_object_set_new(err, "class", json_string(sacme_scm_class_name(c)));
        json_object_set_new(err, "exit-code", json_integer(rc));
        json_object_set_new(err, "http-status", res->http_status
                            ? json_integer(res->http_status) : json_null());
        json_object_set_new(err, "retry-after", res->retry_after
                            ? json_integer((json_int_t)apr_time_sec(res->retry_after))
                            : json_null());
        json_object_set_new(out, "error", err);
        cli_print_json(cli, out);
    }
    return rc;
}

#define EXIT_CODES_HELP \
    "exit codes: 0 ok; 1 usage; 2 the credentials or their file (wrong login,\n" \
    "password or customerUri; a missing, unsafe or malformed file); 3 SCM refused\n" \
    "(validation, unknown organization, duplicate name, not found, rate limited,\n" \
    "names not added) or answered nonsense; 4 SCM could not be reached (network,\n" \
    "TLS, timeout, 5xx after the retries); 5 the EAB file (exists, cannot be\n" \
    "written)\n"

/* The help of one scm command: cli_usage's option list, with what the scm
 * commands share instead of the store paragraph (sync adds it). */
static void scm_help(const cli_t *cli)
{
    cli_usage_options(cli, stdout);
    printf("\nSCM's API URL, login, password and customerUri come from the credentials\n"
           "file (root's, mode 0600; never from the command line). See docs/scm.md.\n");
    if (!strcmp(cli->cmd, "scm sync")) {
        printf("The managed names are read from managed.json of the store: --store DIR,\n"
               "or --config FILE (its ServerRoot and SacmeStoreDir), or that of %s,\n"
               "or %s.\n", CLI_DEFAULT_CONFIG, CLI_DEFAULT_STORE);
    }
    printf("\n" EXIT_CODES_HELP);
}

int scm_start(cli_t *cli, scm_args_t *a, const char *cmd, const char *synopsis,
              const apr_getopt_option_t *opts, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_scm_options_t sopts;
    int rc, i;

    cli->cmd = cmd;
    cli->synopsis = synopsis;
    cli->opts = opts;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            scm_help(cli);
            exit(EXIT_OK);          /* as cli_parse does for -h */
        }
    }
    if ((rc = cli_parse(cli, argc, argv, own_option, a)) != EXIT_OK) {
        return rc;
    }
    if (sacme_scm_creds_load(cli->p, a->credentials ? a->credentials
                             : SACME_SCM_CREDENTIALS_DEFAULT, &a->creds, res)
        != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    memset(&sopts, 0, sizeof(sopts));
    sopts.timeout = apr_time_from_sec(a->timeout);
    sopts.retries = (int)a->retries;
    sopts.log = &cli->log;
    if (sacme_scm_make(cli->p, a->creds, &sopts, &a->scm, res) != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    return EXIT_OK;
}

long scm_org(cli_t *cli, const scm_args_t *a, int *rc)
{
    long org = a->org_id ? a->org_id : a->creds->org_id;

    if (!org) {
        *rc = cli_error(cli, EXIT_USAGE, "which SCM organization? give --org-id ID, or "
                        "\"organizationId\" in %s", a->creds->file);
    }
    return org;
}

const char *scm_domains_text(apr_pool_t *p, const json_t *account)
{
    const char *out = "";
    const json_t *d;
    const char *n;
    size_t i;

    json_array_foreach(json_object_get(account, "domains"), i, d) {
        n = json_is_string(d) ? json_string_value(d) : sacme_json_str(d, "name");
        if (n) {
            out = apr_pstrcat(p, out, *out ? ", " : "", n, NULL);
        }
    }
    return *out ? out : "(none)";
}

/* What a name SCM did not add usually means, and who fixes it. */
#define NOT_ADDED_WHY \
    "SCM did not add it: usually the name (or a domain above it) is not " \
    "delegated to the account's organization or department, or the delegation " \
    "still awaits approval or DCV in SCM (Domains in SCM's portal)"
#define NOT_REMOVED_WHY \
    "SCM did not remove it: the account does not have that name (sacmectl scm " \
    "account show ID lists its domains)"

static json_t *str_array(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;

    for (i = 0; i < a->nelts; ++i) {
        json_array_append_new(j, json_string(APR_ARRAY_IDX(a, i, const char *)));
    }
    return j;
}

/* names minus the ones in left (case-insensitive). */
static apr_array_header_t *taken(apr_pool_t *p, const apr_array_header_t *names,
                                 const apr_array_header_t *left)
{
    apr_array_header_t *out = apr_array_make(p, names->nelts, sizeof(const char *));
    int i, j, gone;

    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        for (gone = 0, j = 0; j < left->nelts && !gone; ++j) {
            gone = !strcasecmp(n, APR_ARRAY_IDX(left, j, const char *));
        }
        if (!gone) {
            APR_ARRAY_PUSH(out, const char *) = n;
        }
    }
    return out;
}

static const apr_getopt_option_t DOMAINS_OPTS[] = {
    { "account", OPT_ACCOUNT, 1, "the id of the ACME account in SCM" },
    SCM_OPTIONS
};

static int domains(cli_t *cli, int add, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    scm_args_t a;
    apr_array_header_t *left, *done;
    json_t *out;
    int rc, i;

    memset(&a, 0, sizeof(a));
    if ((rc = scm_start(cli, &a, add ? "scm domains add" : "scm domains remove",
                        add ? "scm domains add --account ID NAME... [--json]"
                            : "scm domains remove --account ID NAME... [--json]",
                        DOMAINS_OPTS, argc, argv)) != EXIT_OK) {
        return rc;
    }
    if (!a.account || !cli->args->nelts) {
        return cli_error(cli, EXIT_USAGE, "%s needs --account ID and at least one NAME",
                         cli->cmd);
    }
    if (sacme_scm_domains_change(a.scm, a.account, add, cli->args, cli->p, &left, res)
        != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    done = taken(cli->p, cli->args, left);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        json_object_set_new(out, "account", json_integer(a.account));
        json_object_set_new(out, add ? "added" : "removed", str_array(done));
        json_object_set_new(out, add ? "not-added" : "not-removed", str_array(left));
        json_object_set_new(out, "reason", left->nelts
                            ? json_string(add ? NOT_ADDED_WHY : NOT_REMOVED_WHY)
                            : json_null());
        cli_print_json(cli, out);
    }
    else {
        for (i = 0; i < done->nelts; ++i) {
            printf("%s %s\n", add ? "added:    " : "removed:    ",
                   APR_ARRAY_IDX(done, i, const char *));
        }
        for (i = 0; i < left->nelts; ++i) {
            printf("%s %s: %s\n", add ? "NOT added:" : "NOT removed:",
                   APR_ARRAY_IDX(left, i, const char *),
                   add ? NOT_ADDED_WHY : NOT_REMOVED_WHY);
        }
    }
    if (left->nelts) {
        fprintf(stderr, "sacmectl: error: SCM did not %s %d of the %d names of ACME "
                "account %ld\n", add ? "add" : "remove", left->nelts, cli->args->nelts,
                a.account);
        return EXIT_CA;
    }
    return EXIT_OK;
}

/* --- sync --- */

static const apr_getopt_option_t SYNC_OPTS[] = {
    { "account", OPT_ACCOUNT, 1, "the ACME account in SCM (default: the one whose "
                                 "macId is the CA's EAB key id in managed.json)" },
    { "org-id",  OPT_ORG,     1, "the organization to look the account up in "
                                 "(default: organizationId of the credentials)" },
    { "store",   CLI_OPT_STORE,  1, "the store directory (SacmeStoreDir)" },
    { "config",  CLI_OPT_CONFIG, 1, "the httpd configuration file to find the store in" },
    SCM_OPTIONS
};

/* The names of the managed domains that use ca (NULL: any CA), each once. */
static apr_array_header_t *managed_names(cli_t *cli, const sacme_ca_t *ca)
{
    apr_array_header_t *out = apr_array_make(cli->p, 8, sizeof(const char *));
    int i, j, k, uses, seen;

    for (i = 0; i < cli->managed->domains->nelts; ++i) {
        const sacme_domain_t *d = APR_ARRAY_IDX(cli->managed->domains, i,
                                                sacme_domain_t *);
        if (d->cert_file || !d->cas) {
            continue;
        }
        for (uses = !ca, j = 0; j < d->cas->nelts && !uses; ++j) {
            uses = APR_ARRAY_IDX(d->cas, j, sacme_ca_t *) == ca;
        }
        for (j = 0; uses && j < d->names->nelts; ++j) {
            const char *n = APR_ARRAY_IDX(d->names, j, const char *);
            for (seen = 0, k = 0; k < out->nelts && !seen; ++k) {
                seen = !strcasecmp(n, APR_ARRAY_IDX(out, k, const char *));
            }
            if (!seen) {
                APR_ARRAY_PUSH(out, const char *) = n;
            }
        }
    }
    return out;
}

/* Adds the names the account lacks; prints and returns an exit code. */
static int sync_account(cli_t *cli, scm_args_t *a, const json_t *acct,
                        const apr_array_header_t *names, json_t *out)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    apr_array_header_t *have = apr_array_make(cli->p, 8, sizeof(const char *));
    apr_array_header_t *missing = apr_array_make(cli->p, 8, sizeof(const char *));
    apr_array_header_t *left, *added;
    const char *type = sacme_json_str(acct, "certValidationType");
    long id = sacme_scm_account_id(acct);
    json_t *j;
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        APR_ARRAY_PUSH(sacme_scm_account_has_domain(acct, n, NULL) ? have : missing,
                       const char *) = n;
    }
    left = apr_array_make(cli->p, 1, sizeof(const char *));
    if (missing->nelts && sacme_scm_domains_change(a->scm, id, 1, missing, cli->p,
                                                   &left, res) != APR_SUCCESS) {
        return scm_fail(cli, res);
    }
    added = taken(cli->p, missing, left);
    j = json_object();
    json_object_set_new(j, "account", json_integer(id));
    json_object_set_new(j, "name", sacme_json_str_or_null(sacme_json_str(acct, "name")));
    json_object_set_new(j, "validation-type", sacme_json_str_or_null(type));
    json_object_set_new(j, "present", str_array(have));
    json_object_set_new(j, "added", str_array(added));
    json_object_set_new(j, "not-added", str_array(left));
    json_array_append_new(json_object_get(out, "accounts"), j);
    if (!cli->json) {
        printf("SCM ACME account %ld (%s, %s):\n", id, sacme_json_str(acct, "name")
               ? sacme_json_str(acct, "name") : "?", type ? type : "?");
        for (i = 0; i < have->nelts; ++i) {
            printf("  in the account already: %s\n", APR_ARRAY_IDX(have, i, const char *));
        }
        for (i = 0; i < added->nelts; ++i) {
            printf("  added:                  %s\n", APR_ARRAY_IDX(added, i, const char *));
        }
        for (i = 0; i < left->nelts; ++i) {
            printf("  NOT added:              %s\n", APR_ARRAY_IDX(left, i, const char *));
        }
        if (left->nelts) {
            printf("Still for an admin in SCM: %s; then run sacmectl scm sync again.\n",
                   NOT_ADDED_WHY);
        }
        if (added->nelts || left->nelts) {
            printf("Before the CA issues for a name, SCM may still want its delegation "
                   "approved (Domains > Approve Delegations) and, for a public CA, its "
                   "DCV passed%s.\n", type && strcmp(type, "DV")
                   ? apr_psprintf(cli->p, "; this account is %s: each name must belong "
                                  "to the account's validated organization (a CA "
                                  "refusal saying it is not linked to the same "
                                  "preauthorized organization means it does not)", type)
                   : "");
        }
    }
    return left->nelts ? EXIT_CA : EXIT_OK;
}

static int scm_sync(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    scm_args_t a;
    json_t *acct, *out;
    long org = 0;
    int rc, i, n = 0, worst = EXIT_OK;

    memset(&a, 0, sizeof(a));
    if ((rc = scm_start(cli, &a, "scm sync",
                        "scm sync [--config FILE | --store DIR] [--account ID | --org-id "
                        "ID] [--json]", SYNC_OPTS, argc, argv)) != EXIT_OK
        || (rc = cli_open(cli)) != EXIT_OK) {
        return rc;
    }
    out = sacme_json_own(cli->p, json_object());
    json_object_set_new(out, "accounts", json_array());
    if (a.account) {
        if (sacme_scm_account_get(a.scm, a.account, cli->p, &acct, res) != APR_SUCCESS) {
            return scm_fail(cli, res);
        }
        worst = sync_account(cli, &a, acct, managed_names(cli, NULL), out);
        n = 1;
    }
    else {
        for (i = 0; i < cli->managed->cas->nelts; ++i) {
            const sacme_ca_t *ca = APR_ARRAY_IDX(cli->managed->cas, i, sacme_ca_t *);
            if (!ca->eab || !ca->eab->kid) {
                continue;
            }
            if (!org && !(org = scm_org(cli, &a, &rc))) {
                return rc;
            }
            sacme_result_reset(res);
            if (sacme_scm_account_by_kid(a.scm, org, ca->eab->kid, cli->p, &acct, res)
                != APR_SUCCESS) {
                return scm_fail(cli, res);
            }
            rc = sync_account(cli, &a, acct, managed_names(cli, ca), out);
            worst = worst != EXIT_OK ? worst : rc;
            ++n;
        }
        if (!n) {
            return cli_error(cli, EXIT_CONFIG, "no CA of %s is used with an EAB key id "
                             "(SacmeEAB), so no SCM account can be found by it: name "
                             "the account with --account ID", cli->store->base);
        }
    }
    if (cli->json) {
        cli_print_json(cli, out);
    }
    return worst;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: sacmectl scm COMMAND [options] (sacmectl scm COMMAND --help)\n\n"
        "  account create --name NAME --org-id ID --acme-server URL [--department ID]\n"
        "                 --eab-file PATH   create an ACME account in SCM, write its\n"
        "                                   EAB key id and HMAC to a new file for SacmeEAB\n"
        "  account list [--org-id ID]       the organization's ACME accounts\n"
        "  account show ID                  one account: name, server, type, status, domains\n"
        "  domains add|remove --account ID NAME...\n"
        "                                   change the account's domains\n"
        "  sync [--config FILE] [--account ID]\n"
        "                                   add the managed names the account lacks\n\n"
        "Every command reads SCM's API URL, login, password and customerUri from\n"
        "--credentials FILE (default %s), a JSON file that must be\n"
        "root's with mode 0600. See docs/scm.md.\n\n"
        EXIT_CODES_HELP, SACME_SCM_CREDENTIALS_DEFAULT);
}

int cmd_scm(cli_t *cli, int argc, const char *const *argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    const char *act = argc > 2 ? argv[2] : "";

    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "account")) {
        return scm_account(cli, argc - 1, argv + 1);
    }
    if (!strcmp(sub, "domains") && (!strcmp(act, "add") || !strcmp(act, "remove"))) {
        return domains(cli, act[0] == 'a', argc - 2, argv + 2);
    }
    if (!strcmp(sub, "sync")) {
        return scm_sync(cli, argc - 1, argv + 1);
    }
    usage(stderr);
    return cli_error(cli, EXIT_USAGE, "scm needs account create|list|show, domains "
                     "add|remove or sync");
}
