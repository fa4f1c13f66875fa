/* managed.json: what the running configuration manages, for sacmectl.
 *
 * The root parent writes it at every (re)start, so that the admin tool,
 * which cannot parse httpd's configuration, knows the CA, the account and
 * the domains with their names, key type and windows. It never holds a
 * secret: the EAB HMAC stays in httpd's memory, only the key id is here;
 * of the proxy only the URL and the path of its credentials file.
 */
#ifndef SACME_MANAGED_H
#define SACME_MANAGED_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_drive.h"
#include "sacme_result.h"
#include "sacme_store.h"

#define SACME_FILE_MANAGED "managed.json"

typedef struct sacme_managed_t {
    apr_array_header_t *cas;      /* sacme_ca_t *: every CA and account the
                                     domains use (url and the EAB key id only;
                                     each domain's cas point into it) */
    const char *ca_file;          /* NULL: the system's trust store only */
    const char *proxy_url;        /* SacmeHttpProxy (no credentials), or NULL */
    const char *proxy_auth_file;  /* where its credentials are (never them), or
                                     NULL */
    apr_array_header_t *domains;  /* sacme_domain_t * */
    long driver_uid, driver_gid;  /* the owners of the store's parts, as the */
    long web_gid;                 /* store has them (read: -1 when absent) */
} sacme_managed_t;

/* Writes the snapshot atomically into the store's base directory, with
 * the store's owners (sacme_store_set_owners): sacmectl expects the
 * driver's parts to belong to them. */
apr_status_t sacme_managed_write(const sacme_store_t *store, apr_pool_t *p,
                                 const sacme_managed_t *m, sacme_result_t *res);

/* Reads it back; domains are rebuilt as sacme_domain_t with their names,
 * key type, challenge setting, renewal window, profile and CAs. APR_ENOENT with a
 * hint when httpd never ran with this store. A file of a version before
 * several CAs (one "server" and "eab-kid") gives every domain that CA. */
apr_status_t sacme_managed_read(const sacme_store_t *store, apr_pool_t *p,
                                sacme_managed_t **m, sacme_result_t *res);

/* The managed domain named name (its primary name or any of its names,
 * case-insensitive), or NULL. Never the entry of a further key type: those
 * are reached through the domain's next_key. */
sacme_domain_t *sacme_managed_find(const sacme_managed_t *m, const char *name);

#endif /* SACME_MANAGED_H */
