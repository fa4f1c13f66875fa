/* The cluster directives (issue 15): SacmeCluster, SacmeClusterName,
 * SacmeClusterNode, SacmeClusterTLS, SacmeClusterKey, SacmeClusterLease,
 * and their start-up checks. Server-wide only: a cluster shares every
 * domain of the server. */
#include "mod_sacme_private.h"
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_sacme_config.h"
#include "sacme_etcd.h"
#include "sacme_seal.h"
#include "sacme_window.h"

#define LEASE_DEFAULT apr_time_from_sec(15)
#define LEASE_MIN     apr_time_from_sec(5)
#define LEASE_MAX     apr_time_from_sec(300)

/* Letters, digits, '.', '-', '_': a key segment in etcd and a word in
 * log lines and status. */
static int id_ok(const char *s)
{
    const char *c;

    if (!*s || strlen(s) > 64) {
        return 0;
    }
    for (c = s; *c; ++c) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
            return 0;
        }
    }
    return 1;
}

/* SacmeCluster etcd URL [URL ...] */
const char *sacme_cmd_cluster(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    sacme_result_t *res;
    int i;

    (void)dc;
    if (!conf) {
        return err;
    }
    if (argc < 2 || strcmp(argv[0], "etcd")) {
        return "SacmeCluster: give 'etcd' and the client URLs of the etcd members "
               "(https://HOST:2379 ...; http:// only to 127.0.0.1 or [::1])";
    }
    res = sacme_result_make(cmd->temp_pool);
    conf->cluster_urls = apr_array_make(cmd->pool, argc - 1, sizeof(const char *));
    for (i = 1; i < argc; ++i) {
        if (sacme_etcd_check_endpoint(cmd->temp_pool, argv[i], res) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "SacmeCluster: %s",
                                sacme_result_message(res, cmd->temp_pool));
        }
        APR_ARRAY_PUSH(conf->cluster_urls, const char *) = argv[i];
    }
    return NULL;
}

/* SacmeClusterName NAME, SacmeClusterNode NAME */
const char *sacme_cmd_cluster_id(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    int node = !strcasecmp(cmd->cmd->name, "SacmeClusterNode");

    (void)dc;
    if (!conf) {
        return err;
    }
    if (!id_ok(value)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a name of letters, digits, "
                            "'.', '-' and '_' (at most 64)", cmd->cmd->name, value);
    }
    *(node ? &conf->cluster_node : &conf->cluster_name) = apr_pstrdup(cmd->pool, value);
    return NULL;
}

/* SacmeClusterTLS CA-FILE [CERT-FILE KEY-FILE] */
const char *sacme_cmd_cluster_tls(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    int i;

    (void)dc;
    if (!conf) {
        return err;
    }
    if (argc != 1 && argc != 3) {
        return "SacmeClusterTLS: give the CA file that etcd's certificates chain "
               "to, and optionally this node's client certificate and key files";
    }
    for (i = 0; i < argc; ++i) {
        const char *path = ap_server_root_relative(cmd->pool, argv[i]);
        if (!path || access(path, R_OK) != 0) {
            return apr_psprintf(cmd->pool, "SacmeClusterTLS: cannot read '%s'", argv[i]);
        }
        *(i == 0 ? &conf->cluster_ca : i == 1 ? &conf->cluster_cert
                                              : &conf->cluster_key_file_tls) = path;
    }
    return NULL;
}

/* SacmeClusterKey file:PATH */
const char *sacme_cmd_cluster_key(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);

    (void)dc;
    return conf ? sacme_conf_file_only(cmd, value, "a root-only file (0600) holding "
                                       "the cluster's 256-bit key as `openssl rand "
                                       "-base64 32` writes it", &conf->cluster_key_path)
                : err;
}

/* SacmeClusterLease DURATION */
const char *sacme_cmd_cluster_lease(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);
    apr_interval_time_t d;

    (void)dc;
    if (!conf) {
        return err;
    }
    if (sacme_duration_parse_max(value, LEASE_MAX, &d) != APR_SUCCESS || d < LEASE_MIN) {
        return apr_psprintf(cmd->pool, "SacmeClusterLease: '%s' is not a duration "
                            "from 5s to 5m (default 15s)", value);
    }
    conf->cluster_lease = d;
    return NULL;
}

int sacme_conf_cluster(sacme_conf_t *conf, apr_pool_t *p, server_rec *s)
{
    const char *given = conf->cluster_name ? "SacmeClusterName"
                        : conf->cluster_node ? "SacmeClusterNode"
                        : conf->cluster_ca ? "SacmeClusterTLS"
                        : conf->cluster_key_path ? "SacmeClusterKey"
                        : conf->cluster_lease ? "SacmeClusterLease" : NULL;
    sacme_seal_key_t *key;
    sacme_result_t *res;
    char host[256];
    int i;

    if (!conf->cluster_urls) {
        if (given) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10590)
                         "%s is given without SacmeCluster: name the etcd members "
                         "with 'SacmeCluster etcd URL...', or remove it", given);
            return !OK;
        }
        return OK;
    }
    if (!conf->cluster_key_path) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10591)
                     "SacmeCluster needs SacmeClusterKey file:PATH: the account key "
                     "and every private key are sealed with it before they reach "
                     "etcd. Make one with 'openssl rand -base64 32 > PATH; chmod 600 "
                     "PATH' and give every node the same file");
        return !OK;
    }
    /* Read only to check it here: the driver reads it again for itself. */
    res = sacme_result_make(p);
    if (sacme_seal_key_read(p, conf->cluster_key_path, 0, &key, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10592)
                     "SacmeClusterKey: %s", sacme_result_message(res, p));
        return !OK;
    }
    conf->cluster_key_id = apr_pstrdup(p, sacme_seal_key_id(key));
    sacme_seal_key_wipe(key);
    for (i = 0; i < conf->cluster_urls->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(conf->cluster_urls, i, const char *);
        if (!strncasecmp(url, "https:", 6) && !conf->cluster_ca) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10593)
                         "SacmeCluster %s: give the CA file of etcd's certificates "
                         "with SacmeClusterTLS (its members' certificates are "
                         "verified)", url);
            return !OK;
        }
    }
    if (!conf->cluster_name) {
        conf->cluster_name = "default";
    }
    if (!conf->cluster_node) {
        if (gethostname(host, sizeof(host)) != 0 || (host[sizeof(host) - 1] = 0,
                                                     !id_ok(host))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10594)
                         "this host's name cannot name its node in the cluster: "
                         "set SacmeClusterNode");
            return !OK;
        }
        conf->cluster_node = apr_pstrdup(p, host);
    }
    if (!conf->cluster_lease) {
        conf->cluster_lease = LEASE_DEFAULT;
    }
    return OK;
}
