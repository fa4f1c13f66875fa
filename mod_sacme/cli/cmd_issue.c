/* sacmectl issue: obtain a certificate from an ACME CA into a directory,
 * without httpd (the engine's whole job, end to end). Its options and
 * output are the same as before the lifecycle commands existed: scripts
 * and the engine tests depend on them. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <apr_getopt.h>
#include <apr_strings.h>

#include "sacmectl.h"
#include "sacme_acct.h"
#include "sacme_chain.h"
#include "sacme_eab.h"
#include "sacme_file.h"
#include "sacme_http.h"
#include "sacme_issue.h"
#include "sacme_json.h"
#include "sacme_order.h"
#include "sacme_time.h"
#include "sacme_window.h"

enum {
    OPT_SERVER = 256, OPT_CA_FILE, OPT_EAB_KID, OPT_EAB_HMAC, OPT_EAB_ALG,
    OPT_EAB_FILE, OPT_CONTACT, OPT_AGREE, OPT_ACCT_DIR, OPT_ACCT_KEY_TYPE, OPT_KEY_TYPE,
    OPT_CHALLENGE, OPT_JSON, OPT_OUT, OPT_TIMEOUT, OPT_WEBROOT, OPT_PROXY,
    OPT_PROXY_AUTH
};

static const apr_getopt_option_t ISSUE_OPTS[] = {
    { "server",           OPT_SERVER,        1, "ACME directory URL" },
    { "ca-file",          OPT_CA_FILE,       1, "PEM file of CAs to trust for the ACME server's TLS" },
    { "proxy",            OPT_PROXY,         1, "http:// or https:// proxy for every connection to the CA "
                                                 "(as SacmeHttpProxy; the *_proxy environment is never used)" },
    { "proxy-auth-file",  OPT_PROXY_AUTH,    1, "file of one line user:password for --proxy" },
    { "eab-kid",          OPT_EAB_KID,       1, "External Account Binding key id" },
    { "eab-hmac",         OPT_EAB_HMAC,      1, "External Account Binding HMAC key (base64url or base64); "
                                                 "'-' reads it from standard input (one line), keeping it out of ps" },
    { "eab-alg",          OPT_EAB_ALG,       1, "HS256 (default), HS384 or HS512" },
    { "eab-file",         OPT_EAB_FILE,      1, "JSON file {\"kid\", \"hmac\", optional \"alg\"} with the EAB "
                                                 "credentials (as SacmeEAB file:), instead of --eab-kid/--eab-hmac" },
    { "contact",          OPT_CONTACT,       1, "contact e-mail for the account (repeatable)" },
    { "agree-tos",        OPT_AGREE,         0, "accept the CA's terms of service" },
    { "account-dir",      OPT_ACCT_DIR,      1, "directory of the account key and URL" },
    { "account-key-type", OPT_ACCT_KEY_TYPE, 1, "key type of a new account key (default p256)" },
    { "key-type",         OPT_KEY_TYPE,      1, "certificate key type (default p256)" },
    { "challenge",        OPT_CHALLENGE,     1, "http-01 (default) or none (pre-validated names)" },
    { "webroot",          OPT_WEBROOT,       1, "http-01: the DocumentRoot that serves every NAME on port 80; the "
                                                 "answers go to DIR/.well-known/acme-challenge/ while the CA checks" },
    { "json",             OPT_JSON,          0, "print the outcome as JSON" },
    { "out",              OPT_OUT,           1, "directory for privkey.pem, cert.pem, chain.pem, fullchain.pem" },
    { "timeout",          OPT_TIMEOUT,       1, "seconds to wait for the whole issuance (default 600)" },
    { "verbose",          'v',               0, "log the protocol exchange" },
    { "help",             'h',               0, "this help" },
    { NULL, 0, 0, NULL }
};

typedef struct {
    const char *server, *ca_file, *eab_kid, *eab_hmac, *eab_alg, *eab_file, *acct_dir;
    const char *out, *challenge, *webroot, *proxy, *proxy_auth;
    apr_array_header_t *contacts, *names;
    int agree, json, verbose;
    apr_interval_time_t timeout;
    sacme_key_type_t acct_key_type, key_type;
} issue_args_t;

static void issue_usage(FILE *out)
{
    const apr_getopt_option_t *o;

    fprintf(out, "usage: sacmectl issue --server URL --account-dir DIR --out DIR "
                 "[options] NAME [NAME...]\n\noptions of issue:\n");
    for (o = ISSUE_OPTS; o->name; ++o) {
        fprintf(out, "  --%-18s %s%s\n", o->name, o->has_arg ? "ARG  " : "",
                o->description);
    }
}

static int parse_issue(int argc, const char *const *argv, apr_pool_t *p,
                       issue_args_t *args)
{
    apr_getopt_t *opt;
    apr_status_t rv;
    const char *arg;
    int code, i;

    memset(args, 0, sizeof(*args));
    args->contacts = apr_array_make(p, 2, sizeof(const char *));
    args->names = apr_array_make(p, 4, sizeof(const char *));
    args->key_type = SACME_KEY_DEFAULT;
    args->acct_key_type = SACME_KEY_DEFAULT;
    args->challenge = "http-01";
    args->timeout = apr_time_from_sec(600);

    apr_getopt_init(&opt, p, argc, argv);
    while ((rv = apr_getopt_long(opt, ISSUE_OPTS, &code, &arg)) == APR_SUCCESS) {
        switch (code) {
        case OPT_SERVER:   args->server = arg; break;
        case OPT_CA_FILE:  args->ca_file = arg; break;
        case OPT_EAB_KID:  args->eab_kid = arg; break;
        case OPT_EAB_HMAC: args->eab_hmac = arg; break;
        case OPT_EAB_ALG:  args->eab_alg = arg; break;
        case OPT_EAB_FILE: args->eab_file = arg; break;
        case OPT_CONTACT:  APR_ARRAY_PUSH(args->contacts, const char *) = arg; break;
        case OPT_AGREE:    args->agree = 1; break;
        case OPT_ACCT_DIR: args->acct_dir = arg; break;
        case OPT_OUT:      args->out = arg; break;
        case OPT_JSON:     args->json = 1; break;
        case OPT_CHALLENGE: args->challenge = arg; break;
        case OPT_WEBROOT:  args->webroot = arg; break;
        case OPT_PROXY:    args->proxy = arg; break;
        case OPT_PROXY_AUTH: args->proxy_auth = arg; break;
        case 'v':          args->verbose = 1; break;
        case 'h':          issue_usage(stdout); exit(EXIT_OK);
        case OPT_TIMEOUT: {
            /* Whole seconds, at most SACME_MAX_ISSUE_TIMEOUT: a larger value
             * is a typo, and it is added to now for the deadline. */
            char *end;
            apr_int64_t secs;
            errno = 0;
            secs = apr_strtoi64(arg, &end, 10);
            if (errno || end == arg || *end || secs <= 0
                || secs > apr_time_sec(SACME_MAX_ISSUE_TIMEOUT)) {
                fprintf(stderr, "sacmectl: --timeout needs a number of seconds from 1 "
                        "to %" APR_INT64_T_FMT "\n", apr_time_sec(SACME_MAX_ISSUE_TIMEOUT));
                return EXIT_USAGE;
            }
            args->timeout = apr_time_from_sec(secs);
            break;
        }
        case OPT_KEY_TYPE:
        case OPT_ACCT_KEY_TYPE:
            if (sacme_key_type_parse(arg, code == OPT_KEY_TYPE ? &args->key_type
                                     : &args->acct_key_type) != APR_SUCCESS) {
                fprintf(stderr, "sacmectl: unknown key type '%s' (known: %s)\n",
                        arg, sacme_key_type_names());
                return EXIT_CONFIG;
            }
            break;
        }
    }
    if (rv != APR_EOF) {
        issue_usage(stderr);
        return EXIT_USAGE;
    }
    for (i = opt->ind; i < argc; ++i) {
        APR_ARRAY_PUSH(args->names, const char *) = argv[i];
    }
    if (!args->server || !args->acct_dir || !args->out || args->names->nelts == 0) {
        fprintf(stderr, "sacmectl: issue needs --server, --account-dir, --out and "
                        "at least one NAME\n");
        issue_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(args->challenge, "http-01") && strcmp(args->challenge, "none")) {
        fprintf(stderr, "sacmectl: --challenge must be http-01 or none\n");
        return EXIT_USAGE;
    }
    /* Nothing else would publish the answer: the CA would find nothing. */
    if (!strcmp(args->challenge, "http-01") && !args->webroot) {
        fprintf(stderr, "sacmectl: --challenge http-01 needs --webroot DIR, the "
                        "DocumentRoot of the web server that answers for every NAME on "
                        "port 80 (or --challenge none for names pre-validated at the "
                        "CA); the server under mod_sacme answers by itself\n");
        return EXIT_USAGE;
    }
    if (args->webroot && strcmp(args->challenge, "http-01")) {
        fprintf(stderr, "sacmectl: --webroot goes with --challenge http-01\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* --eab-hmac -: the key from standard input, so that it never appears on a
 * command line (ps, /proc/PID/cmdline, shell history). One line, read with
 * read(2) rather than stdio, whose buffer would keep a copy; on a terminal
 * without echo. buf gets the line without surrounding whitespace. */
#define HMAC_STDIN_MAX 1024

static apr_status_t hmac_from_stdin(char *buf, apr_size_t size, sacme_result_t *res)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    apr_size_t n = 0, start = 0;
    int too_long = 0, err;
    ssize_t got;
    char c = 0;

    if (tty) {
        fprintf(stderr, "EAB HMAC key: ");
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    while ((got = read(STDIN_FILENO, &c, 1)) == 1 || (got < 0 && errno == EINTR)) {
        if (got < 0) {
            continue;
        }
        if (c == '\n') {
            break;
        }
        if (n + 1 >= size) {
            too_long = 1;
            break;
        }
        buf[n++] = c;
    }
    err = errno;
    OPENSSL_cleanse(&c, sizeof(c));
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1])) {
        --n;
    }
    while (start < n && isspace((unsigned char)buf[start])) {
        ++start;
    }
    memmove(buf, buf + start, n - start);
    buf[n - start] = '\0';
    if (too_long) {
        return sacme_result_set(res, SACME_ECONFIG, "--eab-hmac -: the line on "
                                "standard input is longer than the %d bytes an "
                                "HMAC key may have", HMAC_STDIN_MAX - 1);
    }
    if (got < 0) {
        return sacme_result_set(res, SACME_ECONFIG, "--eab-hmac -: cannot read "
                                "standard input: %s", strerror(err));
    }
    if (!buf[0]) {
        return sacme_result_set(res, SACME_ECONFIG, "--eab-hmac -: no HMAC key on "
                                "standard input (give it as one line)");
    }
    return APR_SUCCESS;
}

/* The EAB from --eab-file, or --eab-kid with --eab-hmac (given, or '-'),
 * or none. Returns an exit code. */
static int eab_from_args(cli_t *cli, const issue_args_t *args, apr_pool_t *p,
                         sacme_eab_t **eab, sacme_result_t *res)
{
    sacme_hmac_alg_t alg = SACME_HMAC_HS256;
    char buf[HMAC_STDIN_MAX];
    const char *hmac = args->eab_hmac;
    apr_status_t rv;

    *eab = NULL;
    if (args->eab_file) {
        if (args->eab_kid || args->eab_hmac || args->eab_alg) {
            return cli_error(cli, EXIT_USAGE, "--eab-file gives the key id, the HMAC "
                             "key and the algorithm: leave out --eab-kid, --eab-hmac "
                             "and --eab-alg");
        }
        if (sacme_eab_read_file(p, args->eab_file, eab, res) != APR_SUCCESS) {
            res->status = SACME_ECONFIG;
            return cli_fail(cli, res);
        }
        return EXIT_OK;
    }
    if ((args->eab_kid != NULL) != (args->eab_hmac != NULL)) {
        return cli_error(cli, EXIT_CONFIG, "--eab-kid and --eab-hmac go together");
    }
    if (!args->eab_kid) {
        return EXIT_OK;
    }
    if (args->eab_alg && sacme_hmac_alg_parse(args->eab_alg, &alg) != APR_SUCCESS) {
        return cli_error(cli, EXIT_CONFIG, "--eab-alg must be HS256, HS384 or HS512");
    }
    if (!strcmp(hmac, "-")) {
        if (hmac_from_stdin(buf, sizeof(buf), res) != APR_SUCCESS) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return cli_fail(cli, res);
        }
        hmac = buf;
    }
    rv = sacme_eab_make(p, args->eab_kid, hmac, alg, eab, res);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rv != APR_SUCCESS) {
        res->status = SACME_ECONFIG;
        return cli_fail(cli, res);
    }
    return EXIT_OK;
}

static apr_status_t write_outputs(const issue_args_t *args, const sacme_key_t *key,
                                  const sacme_chain_t *chain, apr_pool_t *p,
                                  json_t *files, sacme_result_t *res)
{
    struct { const char *name, *data; apr_fileperms_t perms; } out[4];
    const char *pem = sacme_key_to_pem(key, p);
    apr_status_t rv;
    apr_size_t i;

    out[0].name = "privkey";   out[0].data = pem;   out[0].perms = SACME_FPROT_PRIVATE;
    out[1].name = "cert";      out[1].data = sacme_chain_leaf_pem(chain, p);    out[1].perms = SACME_FPROT_PUBLIC;
    out[2].name = "chain";     out[2].data = sacme_chain_issuers_pem(chain, p); out[2].perms = SACME_FPROT_PUBLIC;
    out[3].name = "fullchain"; out[3].data = sacme_chain_pem(chain, p);         out[3].perms = SACME_FPROT_PUBLIC;

    rv = sacme_file_mkdirs(args->out, SACME_FPROT_DIR_PUBLIC, p, res);
    for (i = 0; rv == APR_SUCCESS && i < SACME_ARRAY_LEN(out); ++i) {
        const char *path = apr_pstrcat(p, args->out, "/", out[i].name, ".pem", NULL);
        rv = sacme_file_write_atomic(path, out[i].data, strlen(out[i].data),
                                     out[i].perms, p, res);
        json_object_set_new(files, out[i].name, json_string(path));
    }
    return rv;
}

static json_t *cert_json(apr_pool_t *p, X509 *leaf)
{
    sacme_cert_info_t *info;
    json_t *j = json_object(), *sans = json_array();
    int i;

    if (sacme_cert_info(p, leaf, &info) != APR_SUCCESS) {
        return j;
    }
    json_object_set_new(j, "subject", json_string(info->subject));
    json_object_set_new(j, "issuer", json_string(info->issuer));
    json_object_set_new(j, "serial", json_string(info->serial));
    for (i = 0; i < info->sans->nelts; ++i) {
        json_array_append_new(sans, json_string(APR_ARRAY_IDX(info->sans, i, const char *)));
    }
    json_object_set_new(j, "sans", sans);
    json_object_set_new(j, "not-before", json_string(sacme_time_rfc3339(p, info->not_before)));
    json_object_set_new(j, "not-after", json_string(sacme_time_rfc3339(p, info->not_after)));
    json_object_set_new(j, "sha256", json_string(info->sha256));
    return j;
}

static void print_human(const json_t *out)
{
    json_t *acct = json_object_get(out, "account");
    json_t *cert = json_object_get(out, "certificate");
    json_t *files = json_object_get(out, "files");
    json_t *v;
    size_t i;

    printf("account:     %s (%s)\n", sacme_json_str(acct, "url"),
           sacme_json_str(acct, "status"));
    printf("subject:     %s\n", sacme_json_str(cert, "subject"));
    printf("names:      ");
    json_array_foreach(json_object_get(cert, "sans"), i, v) {
        printf(" %s", json_string_value(v));
    }
    printf("\nissuer:      %s\n", sacme_json_str(cert, "issuer"));
    printf("serial:      %s\n", sacme_json_str(cert, "serial"));
    printf("valid:       %s to %s\n", sacme_json_str(cert, "not-before"),
           sacme_json_str(cert, "not-after"));
    printf("files:       %s (key, 0600), %s\n", sacme_json_str(files, "privkey"),
           sacme_json_str(files, "fullchain"));
}

/* --webroot: each answer is a file the web server serves as it is, at
 * DIR/.well-known/acme-challenge/<token> (readable by all, as the web
 * server's user needs), removed once the CA has checked it. The token
 * comes from the CA: only base64url is made a file name. */
static apr_status_t webroot_publish(void *baton, int setup, const sacme_chal_pub_t *pub,
                                    apr_pool_t *p, sacme_result_t *res)
{
    const char *webroot = baton;
    const char *dir, *path;
    apr_status_t rv;

    if (strcmp(pub->type, "http-01") || !sacme_token_ok(pub->token)) {
        return sacme_result_set(res, APR_EINVAL, "the CA's %s challenge for %s cannot "
                                "be answered with --webroot", pub->type, pub->name);
    }
    dir = apr_pstrcat(p, webroot, "/.well-known/acme-challenge", NULL);
    path = apr_pstrcat(p, dir, "/", pub->token, NULL);
    if (setup) {
        rv = sacme_file_mkdirs(dir, SACME_FPROT_DIR_PUBLIC, p, res);
        if (rv == APR_SUCCESS) {
            rv = sacme_file_write_ephemeral(path, pub->key_authz, strlen(pub->key_authz),
                                            SACME_FPROT_PUBLIC, p, res);
        }
        return rv;
    }
    rv = apr_file_remove(path, p);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

/* The account directory (made 0700 with its parents when missing): opened
 * once, every account file is then reached through it, never by path. */
static apr_status_t open_account_dir(apr_pool_t *p, const char *path,
                                     const sacme_sdir_t **dir, sacme_result_t *res)
{
    const char *slash = strrchr(path, '/');
    sacme_sdir_t *d;
    apr_status_t rv;

    if (slash && slash != path) {
        rv = sacme_file_mkdirs(apr_pstrndup(p, path, (apr_size_t)(slash - path)),
                               SACME_FPROT_DIR_PRIVATE, p, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = sacme_sdir_open_path(p, path, 1, 0700, &d, res);
    if (rv == APR_SUCCESS) {
        *dir = d;
    }
    return rv;
}

int cmd_issue(cli_t *cli, int argc, const char *const *argv)
{
    apr_pool_t *p = cli->p;
    issue_args_t args;
    sacme_result_t *res = sacme_result_make(p);
    sacme_log_t log = { cli_log_stderr, NULL, SACME_LOG_NOTICE };
    sacme_http_options_t hopts;
    sacme_http_t *http;
    sacme_acme_t *acme;
    sacme_acct_opts_t aopts;
    sacme_issue_opts_t iopts;
    sacme_eab_t *eab = NULL;
    sacme_key_t *key;
    sacme_chain_t *chain;
    json_t *out, *acct, *files;
    apr_status_t rv;
    int rc, registered;

    if ((rc = parse_issue(argc, argv, p, &args)) != EXIT_OK) {
        return rc;
    }
    cli->json = args.json;
    if (args.verbose) {
        log.max = SACME_LOG_DEBUG;
    }
    if (args.json) {
        log.max = SACME_LOG_WARNING;   /* keep stderr quiet for scripts */
    }
    if ((rc = eab_from_args(cli, &args, p, &eab, res)) != EXIT_OK) {
        return rc;
    }

    memset(&hopts, 0, sizeof(hopts));
    hopts.ca_file = args.ca_file;
    if (cli_http_proxy(p, args.proxy, args.proxy_auth, &hopts, res) != APR_SUCCESS
        || sacme_http_curl_create(p, &hopts, &http, res) != APR_SUCCESS
        || sacme_acme_create(p, args.server, http, &log, &acme, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }

    memset(&aopts, 0, sizeof(aopts));
    if (open_account_dir(p, args.acct_dir, &aopts.dir, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    aopts.contacts = args.contacts;
    aopts.tos_agreed = args.agree;
    aopts.eab = eab;
    aopts.key_type = args.acct_key_type;
    rv = sacme_acct_ensure(acme, &aopts, &registered, res);
    /* Spent or not needed: the account is there, or this run ends. */
    sacme_eab_wipe(eab);
    if (rv != APR_SUCCESS) {
        return cli_fail(cli, res);
    }

    if (sacme_key_generate(p, args.key_type, &key, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    memset(&iopts, 0, sizeof(iopts));
    iopts.names = args.names;
    iopts.cert_key = key;
    iopts.timeout = args.timeout;
    /* none: the names must be pre-validated at the CA; a pending
     * authorization is an error that says so, not a timeout. */
    iopts.challenge_none = !strcmp(args.challenge, "none");
    if (args.webroot) {
        iopts.challenge_fn = webroot_publish;
        iopts.challenge_baton = (void *)args.webroot;
    }
    if (sacme_issue(acme, &iopts, p, &chain, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }

    out = sacme_json_own(p, json_object());
    acct = json_object();
    json_object_set_new(acct, "url", json_string(acme->account_url));
    json_object_set_new(acct, "status", json_string(registered ? "registered" : "found"));
    json_object_set_new(out, "account", acct);
    json_object_set_new(out, "certificate",
                        cert_json(p, APR_ARRAY_IDX(chain->certs, 0, X509 *)));
    files = json_object();
    json_object_set_new(out, "files", files);
    if (write_outputs(&args, key, chain, p, files, res) != APR_SUCCESS) {
        return cli_fail(cli, res);
    }
    if (args.json) {
        printf("%s\n", sacme_json_dump(p, out));
    }
    else {
        print_human(out);
    }
    return EXIT_OK;
}
