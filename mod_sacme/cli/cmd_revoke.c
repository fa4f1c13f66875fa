/* sacmectl revoke DOMAIN [--reason R]: revokes the certificate in service
 * for DOMAIN at the CA (RFC 8555 §7.6, signed with the server's account,
 * whose key sacmectl reads as root) and asks the running server for a
 * replacement with a new key (a "revoked" request, sacme_request.h).
 */
#include "sacmectl.h"
#include "sacme_request.h"
#include "sacme_revoke.h"

enum { OPT_REASON = CLI_OPT_OWN };

static const apr_getopt_option_t OPTS[] = {
    { "reason", OPT_REASON, 1, "unspecified (default), keyCompromise, "
                               "affiliationChanged, superseded, cessationOfOperation" },
    CLI_STORE_OPTIONS
};

static int own_option(cli_t *cli, int code, const char *arg, void *baton)
{
    (void)cli;
    if (code != OPT_REASON) {
        return EXIT_USAGE;
    }
    *(const char **)baton = arg;
    return EXIT_OK;
}

/* The replacement must not reuse the revoked key. The driver makes a new
 * key for every order, but keeps the one of an order in progress: should
 * the staged key be the revoked one (a promotion interrupted half-way), it
 * goes, with its order and chain. */
static void drop_revoked_key(cli_t *cli, const sacme_domain_t *dom, X509 *leaf)
{
    const char *path = sacme_store_path(cli->store, cli->p, SACME_GROUP_STAGING,
                                        dom->name, SACME_FILE_KEY);
    sacme_key_t *key;

    if (sacme_key_load(cli->p, path, &key, NULL) == APR_SUCCESS
        && sacme_key_same_public(key, X509_get0_pubkey(leaf))) {
        sacme_store_remove(cli->store, cli->p, SACME_GROUP_STAGING, dom->name,
                           SACME_FILE_CHAIN);
        sacme_store_remove(cli->store, cli->p, SACME_GROUP_STAGING, dom->name,
                           SACME_FILE_ORDER);
        sacme_store_remove(cli->store, cli->p, SACME_GROUP_STAGING, dom->name,
                           SACME_FILE_KEY);
    }
}

int cmd_revoke(cli_t *cli, int argc, const char *const *argv)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_revoke_reason_t reason = SACME_REVOKE_UNSPECIFIED;
    const char *reason_arg = NULL;
    sacme_domain_t *dom;
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    sacme_acme_t *acme;
    json_t *out, *request;
    X509 *leaf;
    long pid;
    int already, running, rc;

    cli->synopsis = "revoke DOMAIN [--reason R] [--store DIR | --config FILE] [--json]";
    cli->opts = OPTS;
    if ((rc = cli_parse(cli, argc, argv, own_option, &reason_arg)) != EXIT_OK) {
        return rc;
    }
    if (reason_arg && sacme_revoke_reason_parse(reason_arg, &reason) != APR_SUCCESS) {
        return cli_error(cli, EXIT_USAGE, "unknown revocation reason '%s' (known: %s)",
                         reason_arg, sacme_revoke_reason_names());
    }
    if ((rc = cli_open_domain(cli, &dom)) != EXIT_OK) {
        return rc;
    }
    if (sacme_store_load_chain(cli->store, cli->p, SACME_GROUP_DOMAINS, dom->name,
                               &chain, res) != APR_SUCCESS) {
        if (APR_STATUS_IS_ENOENT(res->status)) {
            return cli_error(cli, EXIT_CONFIG, "%s has no certificate in service "
                             "(%s): nothing to revoke", dom->name,
                             sacme_store_path(cli->store, cli->p, SACME_GROUP_DOMAINS,
                                              dom->name, SACME_FILE_CHAIN));
        }
        return cli_fail(cli, res);
    }
    leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    if (sacme_cert_info(cli->p, leaf, &info) != APR_SUCCESS) {
        return cli_error(cli, EXIT_CONFIG, "cannot read the certificate of %s",
                         dom->name);
    }
    if ((rc = cli_account(cli, &acme, NULL)) != EXIT_OK) {
        return rc;
    }
    if (sacme_revoke(acme, leaf, reason, &already, cli->p, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    drop_revoked_key(cli, dom, leaf);
    if (sacme_request_renew(cli->store, cli->p, dom->name, "revoked",
                            sacme_revoke_reason_name(reason), res) != APR_SUCCESS) {
        sacme_result_prefix(res, "the certificate is revoked, but the request for a "
                            "new one failed (run: sacmectl renew --force %s)",
                            dom->name);
        return cli_fail(cli, res);
    }
    running = cli_driver_running(cli, &pid);
    if (cli->json) {
        out = sacme_json_own(cli->p, json_object());
        request = sacme_request_get(cli->store, cli->p, dom->name);
        json_object_set_new(out, "domain", json_string(dom->name));
        json_object_set_new(out, "serial", json_string(info->serial));
        json_object_set_new(out, "reason", json_string(sacme_revoke_reason_name(reason)));
        json_object_set_new(out, "already-revoked", json_boolean(already));
        json_object_set(out, "request", request ? request : json_null());
        json_object_set_new(out, "driver-pid", running ? json_integer(pid) : json_null());
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("%s: certificate %s %s at %s (reason %s).\n", dom->name, info->serial,
           already ? "was already revoked" : "revoked", cli->managed->server_url,
           sacme_revoke_reason_name(reason));
    printf("%s a replacement with a new key; it is activated at\n"
           "the next graceful restart (by itself with SacmeAutoRestart on). Until "
           "then the\nrevoked certificate is still served.\n",
           running ? "The running server orders now" : "The server orders, when httpd "
           "starts,");
    return EXIT_OK;
}
