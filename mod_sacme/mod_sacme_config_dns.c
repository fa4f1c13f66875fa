/* The dns-01 directives: SacmeDnsCmd, SacmeDnsTimeout, SacmeDnsCheck (each
 * global or in a <SacmeDomainSet>), and the start-up refusal of dns-01
 * without a command. Also the check of a command's argv that SacmeNotifyCmd
 * shares. */
#include "mod_sacme_private.h"
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_log.h>

#include "mod_sacme_config.h"
#include "sacme_chaltype.h"
#include "sacme_dns.h"
#include "sacme_time.h"

#define DNS_TIMEOUT_DEFAULT apr_time_from_sec(120)
#define DNS_TIMEOUT_MAX     apr_time_from_sec(3600)   /* 1h: a worker waits that long */

const char *sacme_conf_command(cmd_parms *cmd, const char *directive, int argc,
                               char *const argv[], const char ***out)
{
    apr_finfo_t fi;
    struct stat st;
    const char **cmdv;
    int i;

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: give the command (an absolute path) and "
                            "its arguments", directive);
    }
    if (argv[0][0] != '/') {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute path; commands "
                            "run without a shell and without a PATH search",
                            directive, argv[0]);
    }
    if (apr_stat(&fi, argv[0], APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a file", directive, argv[0]);
    }
    /* Else every use would fail at exec, long after start. The driver runs
     * it as another user, but root's access() passes for a file without
     * any execute bit, so the bits are checked too. */
    if (stat(argv[0], &st) != 0 || !(st.st_mode & 0111) || access(argv[0], X_OK) != 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not executable (chmod +x it)",
                            directive, argv[0]);
    }
    cmdv = apr_pcalloc(cmd->pool, sizeof(char *) * (size_t)(argc + 1));
    for (i = 0; i < argc; ++i) {
        cmdv[i] = argv[i];
    }
    *out = cmdv;
    return NULL;
}

const char *sacme_cmd_dns_cmd(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);

    (void)dc;
    if (!conf) {
        return err;
    }
    return sacme_conf_command(cmd, "SacmeDnsCmd", argc, argv, &conf->cur->dns_cmd);
}

const char *sacme_cmd_dns_timeout(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    apr_interval_time_t d = 0;
    apr_status_t rv;

    (void)dc;
    if (!conf) {
        return err;
    }
    rv = sacme_duration_parse_max(value, DNS_TIMEOUT_MAX, &d);
    if (rv == APR_ERANGE) {
        return apr_psprintf(cmd->pool, "SacmeDnsTimeout: '%s' is longer than the most "
                            "it may be, 1h (a worker waits that long)", value);
    }
    if (rv != APR_SUCCESS || d <= 0) {
        return apr_psprintf(cmd->pool, "SacmeDnsTimeout: '%s' is not a duration "
                            "(120s, 5m)", value);
    }
    conf->cur->dns_timeout = d;
    return NULL;
}

const char *sacme_cmd_dns_check(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err, *host;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    apr_port_t port;

    (void)dc;
    if (!conf) {
        return err;
    }
    if ((err = sacme_dns_parse_server(cmd->temp_pool, value, &host, &port))) {
        return apr_psprintf(cmd->pool, "SacmeDnsCheck: %s; give the IP address of the "
                            "DNS server to ask, with :PORT if not 53", err);
    }
    conf->cur->dns_check = value;
    return NULL;
}

void sacme_conf_dns_resolve(sacme_domain_t *dom, const sacme_dconf_t *set,
                            const sacme_dconf_t *dflt)
{
    dom->dns_cmd = PICK(set, dflt, dns_cmd)->dns_cmd;
    dom->dns_timeout = PICK(set, dflt, dns_timeout)->dns_timeout;
    if (!dom->dns_timeout) {
        dom->dns_timeout = DNS_TIMEOUT_DEFAULT;
    }
    dom->dns_check = PICK(set, dflt, dns_check)->dns_check;
}

int sacme_conf_dns(sacme_conf_t *conf, server_rec *s)
{
    int i;

    for (i = 0; i < conf->domains->nelts; ++i) {
        const sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        if (!dom->cert_file && !dom->challenge_none && sacme_chaltype_has(dom->challenges, SACME_CHAL_DNS01) && !dom->dns_cmd) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10480)
                         "SacmeChallenge: %s may be proven with dns-01, but no "
                         "SacmeDnsCmd sets up its TXT records: give SacmeDnsCmd "
                         "/absolute/path [ARG ...] (docs/dns.md), or remove dns-01 "
                         "from its SacmeChallenge", dom->name);
            return !OK;
        }
    }
    return OK;
}
