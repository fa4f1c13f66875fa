/* sacmectl renew --force DOMAIN: the running server renews the domain now.
 *
 * Renewal is the server's job and is automatic, so the command only leaves
 * a request in the store (sacme_request.h): the driver notices it within a
 * second, orders a new certificate at once (past any error backoff) and
 * removes the request once the new set is staged. Activation is the usual
 * graceful restart. Without --force the command explains this and does
 * nothing.
 */
#include "sacmectl.h"
#include "sacme_acct.h"
#include "sacme_request.h"

enum { OPT_FORCE = CLI_OPT_OWN };

static const apr_getopt_option_t OPTS[] = {
    { "force", OPT_FORCE, 0, "renew now, whatever the time left on the certificate" },
    CLI_STORE_OPTIONS
};

static int own_option(cli_t *cli, int code, const char *arg, void *baton)
{
    (void)cli;
    (void)arg;
    if (code != OPT_FORCE) {
        return EXIT_USAGE;
    }
    *(int *)baton = 1;
    return EXIT_OK;
}

int cmd_renew(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_domain_t *dom, *unit;
    json_t *out, *request;
    const char *name;
    long pid;
    int force = 0, running, staged, rc;

    cli->synopsis = "renew --force DOMAIN [--store DIR | --config FILE] [--json]";
    cli->opts = OPTS;
    if ((rc = cli_parse(cli, argc, argv, own_option, &force)) != EXIT_OK) {
        return rc;
    }
    name = cli->args->nelts ? APR_ARRAY_IDX(cli->args, 0, const char *) : "DOMAIN";
    if (!force) {
        return cli_error(cli, EXIT_USAGE,
            "renewal is automatic: the running server renews every domain when "
            "its renewal window (SacmeRenewWindow) is reached, retries failures by "
            "itself, and activates the new certificate at a graceful restart; "
            "'sacmectl show %s' tells when. To renew now anyway: sacmectl renew "
            "--force %s", name, name);
    }
    if ((rc = cli_open_domain(cli, &dom)) != EXIT_OK) {
        return rc;
    }
    /* A request the driver would never take (it orders nothing for it). */
    if (dom->cert_file) {
        return cli_error(cli, EXIT_CONFIG,
            "%s is served the certificate of SacmeCertificateFile %s, which "
            "mod_sacme does not renew: put a renewed pair in its place and "
            "restart httpd gracefully, or remove SacmeCertificateFile and "
            "SacmeCertificateKeyFile from its <SacmeDomainSet> to let mod_sacme "
            "order it", dom->name, dom->cert_file);
    }
    /* Every key type's certificate of the domain (dual keys). */
    for (unit = dom; unit; unit = unit->next_key) {
        if (cli_request_renew(cli, unit->name, "forced", NULL, res) != APR_SUCCESS) {
            return cli_fail(cli, res);
        }
    }
    if (cli_domain_ca(cli, dom, NULL) == EXIT_OK
        && sacme_store_account_open(cli->store, cli->p, cli->ca->url,
                                    cli->ca->eab ? cli->ca->eab->kid : NULL, 0,
                                    &cli->acct_dir, NULL) == APR_SUCCESS
        && sacme_acct_is_deactivated(cli->acct_dir, cli->p)) {
        fprintf(stderr, "sacmectl: warning: the ACME account is deactivated: the "
                        "server's attempt will fail (see sacmectl account show)\n");
    }
    running = cli_driver_running(cli, &pid);
    /* The driver leaves a domain alone while a set waits for activation. */
    staged = sacme_store_has_set(cli->store, cli->p, SACME_GROUP_STAGING, dom->name);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        request = sacme_request_get(cli->store, cli->p, dom->name);
        json_object_set_new(out, "domain", json_string(dom->name));
        json_object_set(out, "request", request ? request : json_null());
        json_object_set_new(out, "driver-pid", running ? json_integer(pid) : json_null());
        json_object_set_new(out, "staged", json_boolean(staged));
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("%s: renewal requested.\n", dom->name);
    if (staged) {
        printf("A new certificate is already staged and waits for a graceful restart; "
               "the\nrenewal starts once it is activated.\n");
    }
    if (running) {
        printf("The running server (driver process %ld) orders the new certificate "
               "now and\nactivates it at its next graceful restart (by itself with "
               "SacmeAutoRestart on).\nFollow it with: sacmectl show %s\n", pid,
               dom->name);
    }
    else {
        printf("No running server uses %s (no live driver process): the renewal "
               "starts\nwhen httpd starts.\n", cli->store->base);
    }
    return EXIT_OK;
}
