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

/* The sacme-status handler and the server-status section,
 * mod_sacme_status.c. */
void sacme_status_register_hooks(void);

#endif /* MOD_SACME_PRIVATE_H */
