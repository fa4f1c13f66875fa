/* Private declarations of the httpd glue (never included by lib/). */
#ifndef MOD_SACME_PRIVATE_H
#define MOD_SACME_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "sacme.h"
#include "sacme_log.h"

/* mod_sacme.c gets the log index from AP_DECLARE_MODULE; every other glue
 * file from here. */
#if defined(APLOG_USE_MODULE) && !defined(SACME_MODULE_MAIN)
APLOG_USE_MODULE(sacme);
#endif

extern module AP_MODULE_DECLARE_DATA sacme_module;

/* The HTTP-01 responder (post_read_request), mod_sacme_challenge.c. */
int sacme_challenge_answer(request_rec *r);

/* The configuration of the running generation (set by post_config, NULL
 * when nothing is managed), mod_sacme.c. */
struct sacme_conf_t *sacme_live_conf(void);

/* Triggers the graceful restart that activates what is staged, unless
 * SacmeAutoRestart is off or every staged set is held back after a failed
 * activation; by_driver: the driver exited for a set it staged (else the
 * monitor looked). Works in a pool of its own under pool. Returns whether
 * it triggered the restart. mod_sacme.c. */
int sacme_restart_for_staged(server_rec *s, apr_pool_t *pool, int by_driver);

/* The sacme-status handler and the server-status section,
 * mod_sacme_status.c. */
void sacme_status_register_hooks(void);

#endif /* MOD_SACME_PRIVATE_H */
