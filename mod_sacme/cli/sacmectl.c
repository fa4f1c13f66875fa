/* sacmectl: the admin tool over the mod_sacme engine.
 *
 *   sacmectl issue ...          obtain a certificate without httpd
 *   sacmectl list | show        what the running server manages, and its state
 *   sacmectl renew --force      have the running server renew a domain now
 *   sacmectl revoke             revoke a domain's certificate and replace it
 *   sacmectl account ...        show, deactivate or roll over the account
 *   sacmectl ari check          have the running server ask the CA's renewal information now
 *   sacmectl scm ...            Sectigo SCM's ACME accounts through its REST API
 *
 * The commands over a server work through its store (SacmeStoreDir): they
 * read what the server wrote, talk to the CA with the server's account, and
 * leave requests the running server picks up within a second. They never
 * signal httpd: activation stays the server's (graceful restart).
 *
 * Exit codes: 0 ok, 1 usage, 2 configuration or state (the admin must change
 * something), 3 the CA refused or answered nonsense, 4 the CA could not be
 * reached (network, TLS, timeout).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <curl/curl.h>

#include "sacmectl.h"

static const struct {
    const char *name;
    cli_run_fn *run;
    const char *summary;
} COMMANDS[] = {
    { "issue",   cmd_issue,   "obtain a certificate into a directory, without httpd" },
    { "list",    cmd_list,    "the managed domains: names, key type, expiry, state" },
    { "show",    cmd_show,    "everything about one managed domain" },
    { "renew",   cmd_renew,   "--force DOMAIN: the running server renews it now" },
    { "revoke",  cmd_revoke,  "DOMAIN [--reason R]: revoke its certificate, get a new one" },
    { "account", cmd_account, "show | deactivate --yes | rollover: the ACME account" },
    { "ari",     cmd_ari,     "check [DOMAIN ...]: the running server asks the CA's renewal information now" },
    { "scm",     cmd_scm,     "account | domains | sync: Sectigo SCM's ACME accounts (REST API)" },
};

static void usage(FILE *out)
{
    apr_size_t i;

    fprintf(out, "usage: sacmectl COMMAND [options] (sacmectl COMMAND --help)\n\n"
                 "commands:\n");
    for (i = 0; i < SACME_ARRAY_LEN(COMMANDS); ++i) {
        fprintf(out, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    }
    fprintf(out, "\nexit codes: 0 ok, 1 usage, 2 configuration or state to change, "
                 "3 the CA refused, 4 the CA could not be reached,\n"
                 "5 a local error (store or file unreadable, unwritable, unsafe)\n");
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    cli_t cli;
    apr_size_t i;
    int rc = EXIT_USAGE;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    /* libcurl runs with CURLOPT_NOSIGNAL (thread safety), so a peer closing
     * the connection would kill us with SIGPIPE unless we ignore it. */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apr_pool_create(&p, NULL);

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    for (i = 0; i < SACME_ARRAY_LEN(COMMANDS); ++i) {
        if (!strcmp(argv[1], COMMANDS[i].name)) {
            cli_init(&cli, p, COMMANDS[i].name);
            rc = COMMANDS[i].run(&cli, argc - 1, argv + 1);
            break;
        }
    }
    if (i == SACME_ARRAY_LEN(COMMANDS)) {
        fprintf(stderr, "sacmectl: unknown command '%s'\n", argv[1]);
        usage(stderr);
    }
    apr_pool_destroy(p);
    curl_global_cleanup();
    return rc;
}
