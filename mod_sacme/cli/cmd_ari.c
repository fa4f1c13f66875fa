/* sacmectl ari check [DOMAIN ...]: "the CA told us to check now".
 *
 * The running server asks the CA's renewal information (ARI, RFC 9773) of
 * the certificates of the domains named (of every domain without names)
 * at once rather than at their next poll, and acts on the answer: a window
 * in the past renews now. Like renew --force, the command only leaves a
 * request in the store (sacme_request.h); the driver notices it within a
 * second.
 */
#include "sacmectl.h"
#include "sacme_request.h"

static const apr_getopt_option_t OPTS[] = {
    CLI_STORE_OPTIONS
};

int cmd_ari(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    apr_array_header_t *names = apr_array_make(cli->p, 4, sizeof(const char *));
    const char *sub = argc > 1 ? argv[1] : "";
    apr_file_t *lock;
    json_t *out, *list;
    long pid;
    int i, rc, running;

    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        printf("usage: sacmectl ari check [DOMAIN ...] [--store DIR | --config FILE] "
               "[--json]\n(sacmectl ari check --help)\n");
        return EXIT_OK;
    }
    if (strcmp(sub, "check")) {
        return cli_error(cli, EXIT_USAGE, "ari needs check (see sacmectl ari --help)");
    }
    cli->cmd = "ari check";
    cli->synopsis = "ari check [DOMAIN ...] [--store DIR | --config FILE] [--json]";
    cli->opts = OPTS;
    if ((rc = cli_parse(cli, argc - 1, argv + 1, NULL, NULL)) != EXIT_OK
        || (rc = cli_open(cli)) != EXIT_OK) {
        return rc;
    }
    for (i = 0; i < cli->args->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(cli->args, i, const char *);
        sacme_domain_t *dom = sacme_managed_find(cli->managed, name);
        if (!dom) {
            return cli_error(cli, EXIT_CONFIG, "%s is not a managed domain of %s "
                             "(sacmectl list shows them)", name, cli->store->base);
        }
        if (dom->cert_file) {
            return cli_error(cli, EXIT_CONFIG, "%s is served the certificate of "
                             "SacmeCertificateFile %s, which mod_sacme does not renew: "
                             "there is no renewal information to ask", dom->name,
                             dom->cert_file);
        }
        APR_ARRAY_PUSH(names, const char *) = dom->name;
    }
    if (sacme_store_lock(cli->store, cli->p, 1, &lock, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    if (sacme_request_ari_check(cli->store, cli->p, names, res) != APR_SUCCESS) {
        sacme_store_unlock(lock);
        return cli_fail(cli, res);
    }
    sacme_store_unlock(lock);
    running = cli_driver_running(cli, &pid);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        list = json_array();
        for (i = 0; i < names->nelts; ++i) {
            json_array_append_new(list, json_string(APR_ARRAY_IDX(names, i, const char *)));
        }
        json_object_set_new(out, "domains", names->nelts ? list : (json_decref(list),
                                                                    json_null()));
        json_object_set_new(out, "driver-pid", running ? json_integer(pid) : json_null());
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("ARI check requested for %s.\n", names->nelts ? "the domains named"
                                                         : "every domain");
    if (running) {
        printf("The running server (driver process %ld) asks the CA now and acts on "
               "its answer:\na window in the past renews at once. Follow it with: "
               "sacmectl show DOMAIN\n(renew-at and renew-source), or the SACME10400 "
               "lines of the error log.\n", pid);
    }
    else {
        printf("No running server uses %s (no live driver process): the CA is asked "
               "when httpd starts.\n", cli->store->base);
    }
    return EXIT_OK;
}
