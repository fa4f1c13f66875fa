/* The driving process: a dedicated child of the httpd parent that talks to
 * the CA, as the httpd User. */
#ifndef MOD_SACME_DRIVER_H
#define MOD_SACME_DRIVER_H

#include <httpd.h>
#include "mod_sacme_config.h"

/* Forks the driving process for this generation of the configuration
 * (called by the parent in post_config). It is restarted when it dies and
 * stopped when the configuration pool goes (restart, stop). installed holds
 * the domains (sacme_domain_t *) activated at this start, for their
 * "installed" events. */
apr_status_t sacme_driver_start(server_rec *s, apr_pool_t *pconf,
                                sacme_conf_t *conf, apr_array_header_t *installed);

/* Restarts a driver whose restart was delayed (it died right after
 * starting); called from the parent's monitor hook. */
void sacme_driver_maintain(void);

#endif /* MOD_SACME_DRIVER_H */
