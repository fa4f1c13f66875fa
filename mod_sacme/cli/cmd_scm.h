/* sacmectl scm: what cmd_scm.c (options, the client, failures, domains,
 * sync) shares with cmd_scm_account.c (account create, list, show). */
#ifndef CMD_SCM_H
#define CMD_SCM_H

#include "sacmectl.h"
#include "sacme_scm.h"

enum {
    OPT_CREDENTIALS = CLI_OPT_OWN, OPT_TIMEOUT, OPT_RETRIES, OPT_NAME, OPT_ORG,
    OPT_ACME_SERVER, OPT_DEPARTMENT, OPT_EAB_FILE, OPT_ACCOUNT, OPT_WAIT
};

/* The options of every scm command, to end a command's option table. */
#define SCM_OPTIONS \
    { "credentials", OPT_CREDENTIALS, 1, "the SCM credentials file (default " \
                                         SACME_SCM_CREDENTIALS_DEFAULT ")" }, \
    { "timeout", OPT_TIMEOUT, 1, "seconds for each request to SCM (default 30)" }, \
    { "retries", OPT_RETRIES, 1, "retries after a 5xx or no answer (default 2)" }, \
    { "json",    CLI_OPT_JSON, 0, "print the outcome (and errors) as one JSON object" }, \
    { "verbose", 'v',          0, "tell each retry" }, \
    { "help",    'h',          0, "this help" }, \
    { NULL, 0, 0, NULL }

typedef struct scm_args_t {
    const char *credentials;
    long timeout, retries;
    const char *name, *acme_server, *eab_file;
    long org_id, department, account, wait;
    sacme_scm_creds_t *creds;
    sacme_scm_t *scm;
} scm_args_t;

/* Parses the command line of one scm command (argv from its last word
 * on) with opts, reads the credentials and makes the client. Returns an
 * exit code. */
int scm_start(cli_t *cli, scm_args_t *a, const char *cmd, const char *synopsis,
              const apr_getopt_option_t *opts, int argc, const char *const *argv);

/* The organization: --org-id, else the credentials' organizationId; 0
 * (after reporting EXIT_USAGE in *rc) when neither gives one. */
long scm_org(cli_t *cli, const scm_args_t *a, int *rc);

/* Reports a failed SCM call; returns its exit code by class. */
int scm_fail(cli_t *cli, const sacme_result_t *res);

/* A positive id from text, or 0. */
long scm_parse_id(const char *text);

/* An account's domains, ", "-joined ("(none)" when it has none). */
const char *scm_domains_text(apr_pool_t *p, const json_t *account);

int scm_account(cli_t *cli, int argc, const char *const *argv);

#endif /* CMD_SCM_H */
