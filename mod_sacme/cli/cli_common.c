/* sacmectl: finding the store, the CA client and the account, errors and
 * output (sacmectl.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

#include <apr_strings.h>

#include "sacmectl.h"
#include "sacme_acct.h"
#include "sacme_file.h"
#include "sacme_http.h"
#include "sacme_httpdconf.h"
#include "sacme_json.h"
#include "sacme_proxy.h"
#include "sacme_request.h"
#include "sacme_sdir.h"

void cli_log_stderr(void *baton, sacme_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    (void)baton;
    (void)rv;
    fprintf(stderr, "sacmectl: %s%s\n",
            level <= SACME_LOG_WARNING ? "warning: " : "", msg);
}

void cli_init(cli_t *cli, apr_pool_t *p, const char *cmd)
{
    memset(cli, 0, sizeof(*cli));
    cli->p = p;
    cli->cmd = cmd;
    cli->args = apr_array_make(p, 2, sizeof(const char *));
    cli->log.fn = cli_log_stderr;
    /* The outcome is the command's own output; the engine's notices would
     * say it twice. -v shows the whole exchange. */
    cli->log.max = SACME_LOG_WARNING;
}

void cli_usage_options(const cli_t *cli, FILE *out)
{
    const apr_getopt_option_t *o;

    fprintf(out, "usage: sacmectl %s\n\noptions:\n", cli->synopsis);
    for (o = cli->opts; o->optch; ++o) {
        fprintf(out, "  %-22s %s\n",
                apr_psprintf(cli->p, "%s--%s%s", o->optch < 256 ?
                             apr_psprintf(cli->p, "-%c, ", o->optch) : "",
                             o->name, o->has_arg ? " ARG" : ""),
                o->description);
    }
}

void cli_usage(const cli_t *cli, FILE *out)
{
    cli_usage_options(cli, out);
    fprintf(out,
        "\nThe store is the directory of SacmeStoreDir. Without --store, --config\n"
        "FILE reads it from an httpd configuration: the ServerRoot and\n"
        "SacmeStoreDir lines, following Include and IncludeOptional; nothing\n"
        "else (no <IfDefine>, Define or ${VARIABLES}). Neither option: the store\n"
        "of %s, or without that file %s.\n", CLI_DEFAULT_CONFIG, CLI_DEFAULT_STORE);
}

int cli_parse(cli_t *cli, int argc, const char *const *argv,
              int (*own)(cli_t *cli, int code, const char *arg, void *baton),
              void *baton)
{
    apr_getopt_t *opt;
    apr_status_t rv;
    const char *arg;
    int code, rc, i;

    apr_getopt_init(&opt, cli->p, argc, argv);
    opt->interleave = 1;            /* "revoke example.com --reason ..." */
    while ((rv = apr_getopt_long(opt, cli->opts, &code, &arg)) == APR_SUCCESS) {
        switch (code) {
        case CLI_OPT_STORE:  cli->store_dir = arg; break;
        case CLI_OPT_CONFIG: cli->config = arg; break;
        case CLI_OPT_JSON:   cli->json = 1; break;
        case 'v':            cli->log.max = SACME_LOG_DEBUG; break;
        case 'h':            cli_usage(cli, stdout); exit(EXIT_OK);
        default:
            rc = own ? own(cli, code, arg, baton) : EXIT_USAGE;
            if (rc != EXIT_OK) {
                return rc;
            }
        }
    }
    if (rv != APR_EOF) {
        return cli_error(cli, EXIT_USAGE, "invalid command line (see sacmectl %s --help)",
                         cli->cmd);
    }
    for (i = opt->ind; i < argc; ++i) {
        APR_ARRAY_PUSH(cli->args, const char *) = opt->argv[i];
    }
    if (cli->store_dir && cli->config) {
        return cli_error(cli, EXIT_USAGE, "give --store or --config, not both");
    }
    return EXIT_OK;
}

/* Errors of this machine, not of the CA: a script must not be told "the CA
 * refused" (and perhaps wait out a rate limit) when the disk is full. */
static int is_local_error(apr_status_t rv)
{
    switch (rv) {
    case SACME_EUNSAFE:
    case APR_FROM_OS_ERROR(EACCES):
    case APR_FROM_OS_ERROR(EPERM):
    case APR_FROM_OS_ERROR(ENOSPC):
#ifdef EDQUOT
    case APR_FROM_OS_ERROR(EDQUOT):
#endif
    case APR_FROM_OS_ERROR(EROFS):
    case APR_FROM_OS_ERROR(EIO):
    case APR_FROM_OS_ERROR(ENOTDIR):
    case APR_FROM_OS_ERROR(EISDIR):
    case APR_FROM_OS_ERROR(EEXIST):
    case APR_FROM_OS_ERROR(ELOOP):
    case APR_FROM_OS_ERROR(EMFILE):
    case APR_FROM_OS_ERROR(ENFILE):
    case APR_FROM_OS_ERROR(EFBIG):
    case APR_FROM_OS_ERROR(EBUSY):
    case APR_FROM_OS_ERROR(EXDEV):
        return 1;
    default:
        return 0;
    }
}

int cli_exit_code(const sacme_result_t *res)
{
    apr_status_t rv = res->status;

    if (rv == SACME_ECONFIG) {
        return EXIT_CONFIG;
    }
    if (res->problem || res->http_status) {
        return EXIT_CA;
    }
    if (APR_STATUS_IS_ECONNREFUSED(rv) || APR_STATUS_IS_TIMEUP(rv)
        || APR_STATUS_IS_ETIMEDOUT(rv) || APR_STATUS_IS_ECONNRESET(rv)
        || APR_STATUS_IS_ECONNABORTED(rv) || APR_STATUS_IS_EHOSTUNREACH(rv)
        || APR_STATUS_IS_ENETUNREACH(rv) || rv == APR_EGENERAL) {
        return EXIT_NET;
    }
    /* A file that is not there (no store, no account yet) is state the
     * admin must create, as documented for EXIT_CONFIG. */
    if (APR_STATUS_IS_ENOENT(rv)) {
        return EXIT_CONFIG;
    }
    if (is_local_error(rv)) {
        return EXIT_LOCAL;
    }
    /* What remains is the CA's answer we could not use (SACME_EPROTO for a
     * malformed response, above all). */
    return EXIT_CA;
}

static int report(cli_t *cli, const sacme_result_t *res, const char *msg, int rc)
{
    fprintf(stderr, "sacmectl: error: %s\n", msg);
    if (cli->json) {
        json_t *out = json_object(), *err = sacme_result_to_json(res);
        json_object_set_new(err, "message", json_string(msg));
        if (!res->problem) {
            json_object_set_new(err, "problem", json_null());
        }
        json_object_set_new(err, "exit-code", json_integer(rc));
        json_object_set_new(out, "error", err);
        printf("%s\n", sacme_json_dump(cli->p, out));
        json_decref(out);
    }
    return rc;
}

int cli_fail(cli_t *cli, const sacme_result_t *res)
{
    return report(cli, res, sacme_result_message(res, cli->p), cli_exit_code(res));
}

int cli_error(cli_t *cli, int rc, const char *fmt, ...)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(cli->p, fmt, ap);
    va_end(ap);
    sacme_result_set(res, rc == EXIT_CONFIG ? SACME_ECONFIG : APR_EINVAL, "%s", msg);
    return report(cli, res, msg, rc);
}

void cli_print_json(cli_t *cli, const json_t *j)
{
    printf("%s\n", sacme_json_dump(cli->p, j));
}

int cli_open(cli_t *cli)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    const char *dir = cli->store_dir;

    /* What an admin of Debian's apache2 expects with no option: the store
     * the running configuration names (the package moves it out of /etc). */
    if (!dir && !cli->config && sacme_file_exists(CLI_DEFAULT_CONFIG, cli->p)) {
        cli->config = CLI_DEFAULT_CONFIG;
    }
    if (!dir && cli->config) {
        if (sacme_httpdconf_store(cli->config, cli->p, &dir, res) != APR_SUCCESS) {
            sacme_result_prefix(res, "finding the store in %s", cli->config);
            res->status = SACME_ECONFIG;
            return cli_fail(cli, res);
        }
    }
    if (!dir) {
        dir = CLI_DEFAULT_STORE;
    }
    cli->store = sacme_store_make(cli->p, dir);
    if (sacme_managed_read(cli->store, cli->p, &cli->managed, res) != APR_SUCCESS) {
        /* The wrong store, or none yet, is the admin's to fix; a store
         * that cannot be read (permissions, an unsafe file, I/O) keeps its
         * cause, for a local error's exit code. */
        if (!is_local_error(res->status)) {
            res->status = SACME_ECONFIG;
        }
        return cli_fail(cli, res);
    }
    /* The driver's parts are expected to be its account's: a part of any
     * other owner is refused, not written into. */
    if (cli->managed->driver_uid >= 0) {
        sacme_store_set_owners(cli->store, (uid_t)cli->managed->driver_uid,
                               (gid_t)cli->managed->driver_gid,
                               (gid_t)cli->managed->web_gid);
    }
    return EXIT_OK;
}

int cli_on_leader(cli_t *cli)
{
    json_t *c = sacme_store_state_load(cli->store, cli->p, SACME_STATE_CLUSTER,
                                       SACME_CLUSTER_ENTRY, NULL);
    const char *role = c ? sacme_json_str(c, "role") : NULL;

    if (!role || !strcmp(role, "leader")) {
        return EXIT_OK;
    }
    return cli_error(cli, EXIT_CONFIG, "this node (%s) is not the leader of cluster %s "
                     "(it is %s; the leader is %s): the account the cluster shares is "
                     "changed on the leader only, whose driver passes the change to the "
                     "other nodes. Run '%s' there (sacmectl list shows which node leads)",
                     sacme_json_str(c, "node") ? sacme_json_str(c, "node") : "?",
                     sacme_json_str(c, "name") ? sacme_json_str(c, "name") : "?", role,
                     sacme_json_str(c, "leader") ? sacme_json_str(c, "leader") : "none now",
                     cli->cmd);
}

int cli_open_domain(cli_t *cli, sacme_domain_t **dom)
{
    const char *name, *known = "";
    int i, rc;

    if (cli->args->nelts != 1) {
        return cli_error(cli, EXIT_USAGE, "%s needs one DOMAIN (see sacmectl %s --help)",
                         cli->cmd, cli->cmd);
    }
    if ((rc = cli_open(cli)) != EXIT_OK) {
        return rc;
    }
    name = APR_ARRAY_IDX(cli->args, 0, const char *);
    if ((*dom = sacme_managed_find(cli->managed, name))) {
        return EXIT_OK;
    }
    for (i = 0; i < cli->managed->domains->nelts; ++i) {
        known = apr_pstrcat(cli->p, known, i ? ", " : "",
                            APR_ARRAY_IDX(cli->managed->domains, i,
                                          sacme_domain_t *)->name, NULL);
    }
    return cli_error(cli, EXIT_CONFIG, "%s is not a managed domain of %s (managed: %s)",
                     name, cli->store->base, *known ? known : "none");
}

apr_status_t cli_http_proxy(apr_pool_t *p, const char *url, const char *auth_file,
                            sacme_http_options_t *hopts, sacme_result_t *res)
{
    char *userpwd;
    apr_status_t rv;

    if (!url) {
        if (auth_file) {
            return sacme_result_set(res, SACME_ECONFIG, "proxy credentials (%s) "
                                    "without a proxy URL", auth_file);
        }
        return APR_SUCCESS;
    }
    if ((rv = sacme_proxy_check_url(p, url, res)) != APR_SUCCESS) {
        res->status = SACME_ECONFIG;
        sacme_result_prefix(res, "proxy");
        return rv;
    }
    hopts->proxy = url;
    if (auth_file) {
        if ((rv = sacme_proxy_read_auth(p, auth_file, &userpwd, res)) != APR_SUCCESS) {
            return rv;
        }
        hopts->proxy_userpwd = userpwd;
    }
    return APR_SUCCESS;
}

static void use_ca(cli_t *cli, const sacme_ca_t *ca)
{
    cli->ca = ca;
    cli->acct_path = sacme_store_account_path(cli->store, cli->p, ca->url,
                                              ca->eab ? ca->eab->kid : NULL);
}

/* "URL (EAB key id K)" of every account, one per line, for messages. */
static const char *ca_lines(cli_t *cli)
{
    const char *out = "";
    int i;

    for (i = 0; i < cli->managed->cas->nelts; ++i) {
        const sacme_ca_t *ca = APR_ARRAY_IDX(cli->managed->cas, i, sacme_ca_t *);
        out = apr_pstrcat(cli->p, out, "\n  ", ca->url, ca->eab ? " (EAB key id " : "",
                          ca->eab ? ca->eab->kid : "", ca->eab ? ")" : "", NULL);
    }
    return out;
}

int cli_pick_ca(cli_t *cli, const char *server, const char *domain)
{
    const apr_array_header_t *cas = cli->managed->cas;
    const sacme_ca_t *found = NULL;
    sacme_domain_t *dom;
    int i, n = 0;

    if (domain) {
        dom = sacme_managed_find(cli->managed, domain);
        if (!dom) {
            return cli_error(cli, EXIT_CONFIG, "%s is not a managed domain of %s",
                             domain, cli->store->base);
        }
        if (!dom->cas || !dom->cas->nelts) {
            return cli_error(cli, EXIT_CONFIG, "%s is served a certificate from a file "
                             "and uses no CA", dom->name);
        }
        use_ca(cli, APR_ARRAY_IDX(dom->cas, 0, sacme_ca_t *));
        return EXIT_OK;
    }
    for (i = 0; i < cas->nelts; ++i) {
        const sacme_ca_t *ca = APR_ARRAY_IDX(cas, i, sacme_ca_t *);
        if (!server || !strcmp(server, ca->url)) {
            found = ca;
            ++n;
        }
    }
    if (n == 1) {
        use_ca(cli, found);
        return EXIT_OK;
    }
    if (n == 0 && server) {
        return cli_error(cli, EXIT_CONFIG, "no managed domain uses the CA %s; the "
                         "accounts of %s are at:%s", server, cli->store->base,
                         ca_lines(cli));
    }
    if (n == 0) {
        return cli_error(cli, EXIT_CONFIG, "%s/%s names no CA: no domain of this "
                         "server is ordered from one (restart httpd with this version "
                         "of mod_sacme if it should)", cli->store->base,
                         SACME_FILE_MANAGED);
    }
    return cli_error(cli, EXIT_USAGE, "this server uses several accounts; name one "
                     "with --server URL or --domain NAME (its domain's first CA):%s",
                     ca_lines(cli));
}

int cli_domain_ca(cli_t *cli, const sacme_domain_t *dom, const char *serial)
{
    json_t *issued = sacme_store_state_load(cli->store, cli->p, SACME_STATE_ISSUED,
                                            dom->name, NULL);
    const char *url = sacme_json_str(issued, "server");
    const char *kid = sacme_json_str(issued, "eab-kid");
    int i;

    if (url && sacme_json_about_serial(issued, serial)) {
        for (i = 0; i < cli->managed->cas->nelts; ++i) {
            const sacme_ca_t *ca = APR_ARRAY_IDX(cli->managed->cas, i, sacme_ca_t *);
            const char *ca_kid = ca->eab ? ca->eab->kid : NULL;
            if (!strcmp(ca->url, url) && ((!kid && !ca_kid)
                                         || (kid && ca_kid && !strcmp(kid, ca_kid)))) {
                use_ca(cli, ca);
                return EXIT_OK;
            }
        }
        /* the CA is no longer configured: its account is still in the store */
        use_ca(cli, sacme_ca_make(cli->p, url, kid ? sacme_eab_kid_only(cli->p, kid)
                                                   : NULL));
        return EXIT_OK;
    }
    if (!dom->cas || !dom->cas->nelts) {
        return cli_pick_ca(cli, NULL, NULL);
    }
    use_ca(cli, APR_ARRAY_IDX(dom->cas, 0, sacme_ca_t *));
    return EXIT_OK;
}

int cli_account(cli_t *cli, sacme_acme_t **pacme, json_t **stored)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    sacme_http_options_t hopts;
    sacme_http_t *http;
    sacme_acme_t *acme;

    if (!cli->ca) {
        int rc = cli_pick_ca(cli, NULL, NULL);
        if (rc != EXIT_OK) {
            return rc;
        }
    }
    memset(&hopts, 0, sizeof(hopts));
    hopts.ca_file = cli->managed->ca_file;   /* trust added, never checks removed */
    /* The server's proxy: its credentials file is root's, as sacmectl is. */
    if (cli_http_proxy(cli->p, cli->managed->proxy_url,
                       cli->managed->proxy_auth_file, &hopts, res) != APR_SUCCESS
        || sacme_http_curl_create(cli->p, &hopts, &http, res) != APR_SUCCESS
        || sacme_acme_create(cli->p, cli->ca->url, http, &cli->log,
                             &acme, res) != APR_SUCCESS
        || sacme_store_account_open(cli->store, cli->p, cli->ca->url,
                                    cli->ca->eab ? cli->ca->eab->kid : NULL, 0,
                                    &cli->acct_dir, res) != APR_SUCCESS
        || sacme_acct_load(acme, cli->acct_dir, cli->p, stored, res) != APR_SUCCESS) {
        if (APR_STATUS_IS_ENOENT(res->status)) {
            res->status = SACME_ECONFIG;
        }
        return cli_fail(cli, res);
    }
    *pacme = acme;
    return EXIT_OK;
}

int cli_lock(cli_t *cli, apr_file_t **lock)
{
    sacme_result_t *res = sacme_result_make(cli->p);
    apr_status_t rv = sacme_store_lock(cli->store, cli->p, 0, lock, res);

    if (APR_STATUS_IS_EAGAIN(rv)) {
        /* The driver holds it while it sets the account up: seconds. */
        if (!cli->json) {
            fprintf(stderr, "sacmectl: the running server is using the account; "
                            "waiting for it\n");
        }
        sacme_result_reset(res);
        rv = sacme_store_lock(cli->store, cli->p, 1, lock, res);
    }
    return rv == APR_SUCCESS ? EXIT_OK : cli_fail(cli, res);
}

apr_status_t cli_request_renew(cli_t *cli, const char *domain, const char *reason,
                               const char *detail, sacme_result_t *res)
{
    apr_file_t *lock;
    apr_status_t rv;

    /* The driver holds the lock for a sweep or an account change: moments,
     * so wait for it without a word. */
    if ((rv = sacme_store_lock(cli->store, cli->p, 1, &lock, res)) != APR_SUCCESS) {
        return rv;
    }
    rv = sacme_request_renew(cli->store, cli->p, domain, reason, detail, res);
    sacme_store_unlock(lock);
    return rv;
}

int cli_driver_running(cli_t *cli, long *pid)
{
    *pid = sacme_store_pid_load(cli->store, cli->p);
    return *pid > 0 && (kill((pid_t)*pid, 0) == 0 || errno == EPERM);
}
