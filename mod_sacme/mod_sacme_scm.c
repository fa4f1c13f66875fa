/* SacmeSCM file:PATH — the credentials of Sectigo SCM's REST API, so that
 * the driver can say, when the CA refuses names, whether they are in the
 * ACME account's domain list (lib/sacme_scm_check.h). The same file serves
 * `sacmectl scm` (docs/scm.md). The directive, its check, and the
 * driver's client.
 */
#include "mod_sacme_private.h"
#include "mod_sacme_driver.h"
#include "sacme_file.h"
#include "sacme_scm.h"
#include "sacme_scm_check.h"

/* How long the driver gives SCM per request: a worker waits for it before
 * it records the failure. */
#define SCM_DRIVER_TIMEOUT apr_time_from_sec(15)

const char *sacme_cmd_scm(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = sacme_conf_single(cmd, &err);

    (void)dc;
    return conf ? sacme_conf_file_only(cmd, value, "the SCM API credentials file "
                                       "(root, 0600) that 'sacmectl scm' uses too: "
                                       "{\"url\", \"login\", \"password\", "
                                       "\"customerUri\", \"organizationId\"}",
                                       &conf->scm_file)
                : err;
}

int sacme_conf_scm(sacme_conf_t *conf, apr_pool_t *p, server_rec *s)
{
    sacme_result_t *res;
    sacme_scm_creds_t *creds;
    apr_pool_t *tmp;

    if (!conf->scm_file) {
        return OK;
    }
    /* Read here only to check it (and to keep the organization): the
     * password stays out of the configuration every request child
     * inherits; the driver reads the file again for itself. */
    res = sacme_result_make(p);
    apr_pool_create(&tmp, p);
    if (sacme_scm_creds_load(tmp, conf->scm_file, &creds, res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10624)
                     "SacmeSCM: %s", sacme_result_message(res, p));
        apr_pool_destroy(tmp);
        return !OK;
    }
    if (!creds->org_id) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SACME_LOGNO(10625)
                     "SacmeSCM: %s has no \"organizationId\": when the CA refuses "
                     "a name, the driver cannot find the ACME account in SCM to "
                     "say whether the name is in its domains; add the id of the "
                     "account's organization", conf->scm_file);
    }
    apr_pool_destroy(tmp);
    return OK;
}

sacme_scm_check_t *sacme_driver_scm(const sacme_conf_t *conf, server_rec *s,
                                    const sacme_http_options_t *hopts, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_http_options_t o;
    sacme_scm_options_t so;
    sacme_scm_creds_t *creds;
    sacme_http_t *http;
    sacme_scm_t *scm;
    sacme_scm_check_t *check;
    char *pem = NULL;

    if (!conf->scm_file) {
        return NULL;
    }
    /* The SCM instance is no ACME CA: its trust is the credentials file's
     * own, not SacmeCACertificate; the way out (SacmeHttpProxy) is the
     * same. Files are read now, while still root. */
    memset(&o, 0, sizeof(o));
    o.proxy = hopts->proxy;
    o.proxy_userpwd = hopts->proxy_userpwd;
    o.timeout = SCM_DRIVER_TIMEOUT;
    o.connect_timeout = SCM_DRIVER_TIMEOUT;
    if (sacme_scm_creds_load(p, conf->scm_file, &creds, res) != APR_SUCCESS
        || (creds->trust
            && sacme_file_read(creds->trust, SACME_MAX_RESPONSE, p, &pem,
                               &o.ca_pem_len, res) != APR_SUCCESS)
        || (o.ca_file = creds->trust, o.ca_pem = pem,
            sacme_http_curl_create(p, &o, &http, res) != APR_SUCCESS)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), s,
                     SACME_LOGNO(10626) "SacmeSCM: the driver cannot use %s, so it "
                     "will not ask SCM about names the CA refuses (everything else "
                     "goes on): %s", conf->scm_file, sacme_result_message(res, p));
        return NULL;
    }
    memset(&so, 0, sizeof(so));
    so.timeout = SCM_DRIVER_TIMEOUT;
    so.http = http;
    if (sacme_scm_make(p, creds, &so, &scm, res) != APR_SUCCESS
        || sacme_scm_check_make(p, scm, creds->org_id, conf->scm_file, &check,
                                res) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, sacme_result_log_status(res), s,
                     SACME_LOGNO(10627) "SacmeSCM: the driver cannot set up its SCM "
                     "client, so it will not ask SCM about names the CA refuses: %s",
                     sacme_result_message(res, p));
        return NULL;
    }
    return check;
}
