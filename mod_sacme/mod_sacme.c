/* mod_sacme: TLS certificates from ACME (RFC 8555) CAs, inside httpd.
 *
 * This file holds the module record and the hook registration. The ACME
 * engine lives in lib/ and knows nothing of httpd; the glue around it grows
 * here (directives, challenge responder, watchdog child, status).
 */
#define SACME_MODULE_MAIN
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_mmn.h>

#include "mod_sacme_private.h"

/* Bootstrap plan of post_config:
 *   1. skip the dry-run pass httpd makes before the real one (nothing to do);
 *   2. say which version is loaded, so an admin can match log lines to docs.
 * Later steps (store, staging promotion, certificate hand-over) come with the
 * module issue. */
static int sacme_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    /*1*/
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    /*2*/
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 SACME_LOGNO(10001) "mod_sacme %s loaded", SACME_VERSION);
    return OK;
}

static void sacme_register_hooks(apr_pool_t *pool)
{
    ap_hook_post_config(sacme_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(sacme) = {
    STANDARD20_MODULE_STUFF,
    NULL,                   /* per-directory config creator */
    NULL,                   /* per-directory config merger */
    NULL,                   /* per-server config creator */
    NULL,                   /* per-server config merger */
    NULL,                   /* directives */
    sacme_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
