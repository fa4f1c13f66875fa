/* Private declarations of the httpd glue (never included by lib/). */
#ifndef MOD_SACME_PRIVATE_H
#define MOD_SACME_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_hash.h>

#include "sacme.h"
#include "sacme_log.h"

/* mod_sacme.c gets the log index from AP_DECLARE_MODULE; every other glue
 * file from here. */
#if defined(APLOG_USE_MODULE) && !defined(SACME_MODULE_MAIN)
APLOG_USE_MODULE(sacme);
#endif

extern module AP_MODULE_DECLARE_DATA sacme_module;

struct sacme_conf_t;
struct sacme_store_t;

/* The HTTP-01 responder (post_read_request), mod_sacme_challenge.c. */
#define SACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"
int sacme_challenge_answer(request_rec *r);

/* SacmeRequireHttps, mod_sacme_https.c: at post_config, after activation,
 * notes the domains whose plain HTTP requests are redirected (conf NULL:
 * none); then its hooks redirect and add HSTS in the children. */
void sacme_https_plan(const struct sacme_conf_t *conf, apr_pool_t *pconf,
                      apr_pool_t *ptemp);
void sacme_https_register_hooks(void);

/* The tls-alpn-01 responder, mod_sacme_alpn.c: at post_config, whether
 * any domain (of conf; NULL: none) may be validated so, and if so
 * "acme-tls/1" added to every server's Protocols; then its hooks answer
 * the CA's acme-tls/1 handshakes from the store in the children. */
void sacme_alpn_plan(const struct sacme_conf_t *conf, server_rec *s, apr_pool_t *pconf);
void sacme_alpn_register_hooks(void);

/* The managed domain a vhost serves (by its ServerName or an alias, a
 * wildcard name of a domain covering it; sacme_vhost_domain), in the
 * configuration of the running generation, or NULL; mod_sacme.c. */
struct sacme_domain_t *sacme_domain_of_server(server_rec *s);

/* The configuration of the running generation (set by post_config, NULL
 * when nothing is managed), mod_sacme.c. */
struct sacme_conf_t *sacme_live_conf(void);

/* Kept across restarts in the process pool (the module itself is unloaded
 * and reloaded): the sets held back (domain name -> held_t), when a staged
 * set was last announced with SacmeAutoRestart off, whether the start-up
 * warnings were given. */
typedef struct {
    apr_hash_t *held;                /* name -> held back set (mod_sacme_activate.c) */
    apr_time_t last_notice;
    int warned_driver_user;
} parent_state_t;
parent_state_t *sacme_parent_state(server_rec *s);

/* Activation, mod_sacme_activate.c. At post_config: promotes each staged
 * set that passes the checks (a refused one is moved aside, one the store
 * cannot take stays staged, held back); returns the domains activated now
 * (sacme_domain_t *, in pconf). */
apr_array_header_t *sacme_activate_staged(struct sacme_conf_t *conf,
                                          const struct sacme_store_t *store,
                                          apr_pool_t *pconf, apr_pool_t *ptemp,
                                          server_rec *s);

/* One round of the parent's monitor hook: a staged set the driver did not
 * announce, or a held one whose delay has passed, is activated by a
 * graceful restart (or, SacmeAutoRestart off, one is asked for). */
void sacme_monitor_round(apr_pool_t *p, server_rec *s);

/* Triggers the graceful restart that activates what is staged, unless
 * SacmeAutoRestart is off or every staged set is held back after a failed
 * activation; by_driver: the driver exited for a set it staged (else the
 * monitor looked). Works in a pool of its own under pool. Returns whether
 * it triggered the restart. */
int sacme_restart_for_staged(server_rec *s, apr_pool_t *pool, int by_driver);

/* The sacme-status handler and the server-status section,
 * mod_sacme_status.c. */
void sacme_status_register_hooks(void);

#endif /* MOD_SACME_PRIVATE_H */
