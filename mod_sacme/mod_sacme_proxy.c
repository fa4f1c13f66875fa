/* SacmeHttpProxy URL [file:PATH]: the outbound proxy for every connection
 * to the CA and to SacmeNotifyURL.
 *
 * The URL is checked here so that `apachectl -t` names a malformed one. The
 * credentials file is read here too, while httpd is still root, only to
 * check it, and wiped at once: the configuration keeps its path, never the
 * password, for every request child inherits this memory. The driving
 * process reads the file itself when it starts, like SacmeEAB file:. */

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "sacme_proxy.h"

static const char *check_auth_file(cmd_parms *cmd, const char *path)
{
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    const char *err = NULL;
    apr_pool_t *tmp;
    char *userpwd;
    const char *exposed;

    apr_pool_create(&tmp, cmd->temp_pool);
    if (sacme_proxy_read_auth(tmp, path, &userpwd, res) != APR_SUCCESS) {
        err = apr_psprintf(cmd->pool, "SacmeHttpProxy: %s",
                           sacme_result_message(res, cmd->temp_pool));
    }
    /* A warning, not an error, as for the EAB file: the password works, but
     * whoever can read the file can use the proxy in the server's name. */
    else if ((exposed = sacme_conf_secret_exposure(path)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, SACME_LOGNO(10290)
                     "SacmeHttpProxy: the credentials file %s is %s: it holds the "
                     "proxy's password; make it root's and readable by root only "
                     "('chown root:root %s; chmod 0600 %s')", path, exposed, path, path);
    }
    apr_pool_destroy(tmp);      /* cleanses what was read */
    return err;
}

const char *sacme_conf_http_proxy(cmd_parms *cmd, sacme_conf_t *conf,
                                  const char *url, const char *auth)
{
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    const char *path, *err;

    if (sacme_proxy_check_url(cmd->temp_pool, url, res) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeHttpProxy: %s",
                            sacme_result_message(res, cmd->temp_pool));
    }
    if (auth) {
        if (strncmp(auth, "file:", 5)) {
            return "SacmeHttpProxy: the second argument must be file:PATH, the "
                   "file holding the proxy's credentials as user:password "
                   "(credentials are never written in the configuration)";
        }
        path = ap_server_root_relative(cmd->pool, auth + 5);
        if (!path || !auth[5]) {
            return "SacmeHttpProxy: 'file:' needs a valid path of the credentials file";
        }
        if ((err = check_auth_file(cmd, path))) {
            return err;
        }
        conf->proxy_auth_file = path;
    }
    conf->proxy_url = url;
    return NULL;
}

int sacme_driver_proxy(const sacme_conf_t *conf, server_rec *s, apr_pool_t *p,
                       sacme_http_options_t *hopts)
{
    sacme_result_t *res = sacme_result_make(p);
    char *userpwd;

    hopts->proxy = conf->proxy_url;
    if (!conf->proxy_auth_file) {
        return 1;
    }
    if (sacme_proxy_read_auth(p, conf->proxy_auth_file, &userpwd, res)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), s,
                     SACME_LOGNO(10291)
                     "SacmeHttpProxy: the driver cannot read the proxy's "
                     "credentials, so it does not drive: %s. Restore %s (one line "
                     "user:password, mode 0600, owned by root), then run "
                     "'apachectl -t' and 'apachectl graceful'",
                     sacme_result_message(res, p), conf->proxy_auth_file);
        return 0;
    }
    hopts->proxy_userpwd = userpwd;
    return 1;
}
