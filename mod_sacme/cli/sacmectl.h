/* sacmectl: what the command files share (cli_common.c).
 *
 * Every command over a running server's store takes --store DIR or
 * --config FILE to find it, --json for scripts (errors as JSON too), and
 * exits with one of the codes below.
 */
#ifndef SACMECTL_H
#define SACMECTL_H

#include <stdio.h>

#include <apr_file_io.h>
#include <apr_getopt.h>
#include <jansson.h>

#include "sacme.h"
#include "sacme_acme.h"
#include "sacme_drive.h"
#include "sacme_http.h"
#include "sacme_json.h"
#include "sacme_log.h"
#include "sacme_managed.h"
#include "sacme_result.h"
#include "sacme_store.h"

/* Exit codes: what the admin has to do about the outcome. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,      /* the command line is wrong, or asks for confirmation */
    EXIT_CONFIG = 2,     /* configuration or state the admin must change */
    EXIT_CA = 3,         /* the CA refused (or answered nonsense) */
    EXIT_NET = 4,        /* the CA could not be reached: network, TLS, timeout */
    EXIT_LOCAL = 5       /* this machine failed us: a file or the store could not
                            be read or written (permissions, disk full, read-only,
                            an unsafe file); nothing to do with the CA */
};

/* Without --store or --config: Debian's httpd configuration when there
 * is one (its SacmeStoreDir: the package's /var/lib/apache2/sacme, or
 * sacme in its ServerRoot), else the store in Debian's ServerRoot. */
#define CLI_DEFAULT_CONFIG "/etc/apache2/apache2.conf"
#define CLI_DEFAULT_STORE "/etc/apache2/sacme"

/* Option codes shared by the store commands; a command's own start at
 * CLI_OPT_OWN. */
enum {
    CLI_OPT_STORE = 256, CLI_OPT_CONFIG, CLI_OPT_JSON, CLI_OPT_OWN
};

/* The options of every store command, to end a command's option table. */
#define CLI_STORE_OPTIONS \
    { "store",   CLI_OPT_STORE,  1, "the store directory (SacmeStoreDir)" }, \
    { "config",  CLI_OPT_CONFIG, 1, "the httpd configuration file to find the store in" }, \
    { "json",    CLI_OPT_JSON,   0, "print the outcome (and errors) as one JSON object" }, \
    { "verbose", 'v',            0, "log the exchange with the CA" }, \
    { "help",    'h',            0, "this help" }, \
    { NULL, 0, 0, NULL }

typedef struct cli_t {
    apr_pool_t *p;
    const char *cmd;                 /* "revoke", "account rollover", ... */
    const char *synopsis;            /* for usage messages */
    const apr_getopt_option_t *opts;
    int json;
    const char *store_dir;           /* --store */
    const char *config;              /* --config */
    sacme_log_t log;                 /* to stderr */
    apr_array_header_t *args;        /* const char *: the positional arguments */
    sacme_store_t *store;            /* after cli_open() */
    sacme_managed_t *managed;
    const sacme_ca_t *ca;            /* the CA and account cli_account() uses
                                        (cli_pick_ca, cli_domain_ca) */
    const char *acct_path;           /* its account directory, for messages */
    sacme_sdir_t *acct_dir;          /* after cli_account(): the account's */
} cli_t;

/* A command: run gets argv from the command's name on. */
typedef int cli_run_fn(cli_t *cli, int argc, const char *const *argv);

void cli_init(cli_t *cli, apr_pool_t *p, const char *cmd);

/* Parses argv with cli->opts (which the command sets, with cli->synopsis):
 * options anywhere, positional arguments into cli->args. The shared
 * options are handled here; for the command's own, own() is called (it
 * returns EXIT_OK or an exit code). -h prints the command's help and
 * exits. Returns EXIT_OK or an exit code. */
int cli_parse(cli_t *cli, int argc, const char *const *argv,
              int (*own)(cli_t *cli, int code, const char *arg, void *baton),
              void *baton);

/* The help of a command: synopsis, options, how the store is found. */
void cli_usage(const cli_t *cli, FILE *out);

/* Its first part: the synopsis and the options. */
void cli_usage_options(const cli_t *cli, FILE *out);

/* Finds the store (--store, --config, CLI_DEFAULT_CONFIG if it exists,
 * or CLI_DEFAULT_STORE) and reads
 * managed.json. Returns an exit code. */
int cli_open(cli_t *cli);

/* In a cluster (SacmeCluster), whether this node leads, as its driver last
 * saw it: EXIT_OK, or EXIT_CONFIG saying where to run the command (for
 * what changes the account the cluster shares). Outside one, EXIT_OK. */
int cli_on_leader(cli_t *cli);

/* For a command on one domain: exactly one DOMAIN argument (any of the
 * domain's names), the store opened, the managed domain found. An unknown
 * name is EXIT_CONFIG with the list of managed domains. Returns an exit
 * code. */
int cli_open_domain(cli_t *cli, sacme_domain_t **dom);

/* Chooses the account commands work on (cli->ca): the one of the CA at
 * server (NULL: not given), or the first CA of the domain named domain
 * (NULL: not given), or the only one there is. Several, and neither
 * given: EXIT_USAGE listing them. Returns an exit code. */
int cli_pick_ca(cli_t *cli, const char *server, const char *domain);

/* The CA and account of a domain's certificate (cli->ca): the one that
 * issued the certificate of serial (issued.json), else the domain's
 * first. Returns an exit code. */
int cli_domain_ca(cli_t *cli, const sacme_domain_t *dom, const char *serial);

/* A CA client for cli->ca (with managed.json's CA file and proxy), with
 * the account of the store loaded (sacme_acct_load). *stored (may be NULL)
 * gets account.json. Returns an exit code. */
int cli_account(cli_t *cli, sacme_acme_t **acme, json_t **stored);

/* Sets hopts' proxy: url (NULL: none, and the *_proxy environment is not
 * followed either) and the credentials read from auth_file (NULL: none),
 * the same checks as SacmeHttpProxy's. */
apr_status_t cli_http_proxy(apr_pool_t *p, const char *url, const char *auth_file,
                            sacme_http_options_t *hopts, sacme_result_t *res);

/* Takes the store lock (sacme_store_lock), saying so when the running
 * server holds it and we wait. Returns an exit code. */
int cli_lock(cli_t *cli, apr_file_t **lock);

/* Writes a renewal request (sacme_request_renew) under the store lock:
 * a driver starting meanwhile sweeps requests/ for leftovers under that
 * lock, and must not take the temporary file of this write for one. */
apr_status_t cli_request_renew(cli_t *cli, const char *domain, const char *reason,
                               const char *detail, sacme_result_t *res);

/* True when the store's driver process is alive (driver.pid). */
int cli_driver_running(cli_t *cli, long *pid);

/* Reports a failure: the message on stderr and, with --json, as
 * {"error": {...}} on stdout. Returns the exit code for it. */
int cli_fail(cli_t *cli, const sacme_result_t *res);
int cli_exit_code(const sacme_result_t *res);

/* A failure the command itself finds: rc is the exit code. */
int cli_error(cli_t *cli, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints j (owned by the caller) as the command's JSON outcome. */
void cli_print_json(cli_t *cli, const json_t *j);

/* The log callback of sacmectl: messages to stderr. */
void cli_log_stderr(void *baton, sacme_log_level_t level, apr_status_t rv,
                    const char *msg);

/* The commands (cmd_*.c). */
cli_run_fn cmd_issue, cmd_list, cmd_show, cmd_renew, cmd_revoke, cmd_account, cmd_ari,
           cmd_scm;

#endif /* SACMECTL_H */
