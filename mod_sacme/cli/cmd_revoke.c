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
    sacme_key_t *key;

    if (sacme_store_staged_key(cli->store, cli->p, dom->name, &key, NULL) == APR_SUCCESS
        && sacme_key_same_public(key, X509_get0_pubkey(leaf))) {
        sacme_store_unstage(cli->store, cli->p, dom->name, SACME_UNSTAGE_CHAIN
                            | SACME_UNSTAGE_ORDER | SACME_UNSTAGE_KEY);
    }
}

/* Revokes the certificate in service of one key type's unit and asks for
 * its replacement; adds {key-type, serial, already-revoked} to done. A unit
 * without a certificate is skipped (*revoked stays 0). */
static int revoke_unit(cli_t *cli, sacme_acme_t **acme, const sacme_domain_t *unit,
                       sacme_revoke_reason_t reason, json_t *done, int *revoked)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_chain_t *chain;
    sacme_cert_info_t *info;
    json_t *one;
    X509 *leaf;
    int already, rc;

    *revoked = 0;
    if (sacme_store_load_chain(cli->store, cli->p, SACME_GROUP_DOMAINS, unit->name,
                               &chain, res) != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(res->status) ? EXIT_OK : cli_fail(cli, res);
    }
    leaf = APR_ARRAY_IDX(chain->certs, 0, X509 *);
    if (sacme_cert_info(cli->p, leaf, &info) != APR_SUCCESS) {
        return cli_error(cli, EXIT_CONFIG, "cannot read the certificate of %s",
                         unit->name);
    }
    /* The account of the CA that issued it: another CA would refuse */
    if ((rc = cli_domain_ca(cli, unit, info->serial)) != EXIT_OK) {
        return rc;
    }
    if ((rc = cli_account(cli, acme, NULL)) != EXIT_OK) {
        return rc;
    }
    if (sacme_revoke(*acme, leaf, reason, &already, cli->p, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    drop_revoked_key(cli, unit, leaf);
    if (cli_request_renew(cli, unit->name, "revoked", sacme_revoke_reason_name(reason),
                          res) != APR_SUCCESS) {
        sacme_result_prefix(res, "the certificate is revoked, but the request for a "
                            "new one failed (run: sacmectl renew --force %s)",
                            unit->primary ? unit->primary->name : unit->name);
        return cli_fail(cli, res);
    }
    one = json_object();
    json_object_set_new(one, "key-type", json_string(sacme_key_type_name(unit->key_type)));
    json_object_set_new(one, "serial", json_string(info->serial));
    json_object_set_new(one, "already-revoked", json_boolean(already));
    json_array_append_new(done, one);
    if (!cli->json) {
        printf("%s: %s certificate %s %s at %s (reason %s).\n", unit->name,
               sacme_key_type_name(unit->key_type), info->serial,
               already ? "was already revoked" : "revoked", cli->ca->url,
               sacme_revoke_reason_name(reason));
    }
    *revoked = 1;
    return EXIT_OK;
}

int cmd_revoke(cli_t *cli, int argc, const char *const *argv)
{
    sacme_revoke_reason_t reason = SACME_REVOKE_UNSPECIFIED;
    const char *reason_arg = NULL;
    sacme_domain_t *dom, *unit;
    sacme_acme_t *acme = NULL;
    json_t *out, *done, *first, *request;
    long pid;
    int running, rc, revoked, any = 0;

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
    done = sacme_json_own(cli->p, json_array());
    /* Every key type's certificate of the domain (dual keys): the names are
     * the same, so a reason such as keyCompromise concerns them all. */
    for (unit = dom; unit; unit = unit->next_key) {
        if ((rc = revoke_unit(cli, &acme, unit, reason, done, &revoked)) != EXIT_OK) {
            return rc;
        }
        any |= revoked;
    }
    if (!any) {
        return cli_error(cli, EXIT_CONFIG, "%s has no certificate in service "
                         "(%s): nothing to revoke", dom->name,
                         sacme_store_live_file(cli->store, cli->p, dom->name,
                                               SACME_FILE_CHAIN));
    }
    running = cli_driver_running(cli, &pid);
    if (cli->json) {
        first = json_array_get(done, 0);
        out = sacme_json_own(cli->p, json_object());
        json_object_set_new(out, "domain", json_string(dom->name));
        json_object_set(out, "serial", json_object_get(first, "serial"));
        json_object_set_new(out, "reason", json_string(sacme_revoke_reason_name(reason)));
        json_object_set(out, "already-revoked", json_object_get(first, "already-revoked"));
        json_object_set(out, "certificates", done);
        request = sacme_request_get(cli->store, cli->p, dom->name);
        json_object_set(out, "request", request ? request : json_null());
        json_object_set_new(out, "driver-pid", running ? json_integer(pid) : json_null());
        cli_print_json(cli, out);
        return EXIT_OK;
    }
    printf("%s a replacement with a new key; it is activated at\n"
           "the next graceful restart (by itself with SacmeAutoRestart on). Until "
           "then the\nrevoked certificate is still served.\n",
           running ? "The running server orders now" : "The server orders, when httpd "
           "starts,");
    return EXIT_OK;
}
