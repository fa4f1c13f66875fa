/* Internals shared by the store's files (sacme_store.c: layout, set-up,
 * state, challenges, accounts, lock; sacme_store_set.c: certificate sets
 * and their promotion). Not an API: include sacme_store.h instead. */
#ifndef SACME_STORE_INT_H
#define SACME_STORE_INT_H

#include "sacme_store.h"

typedef enum {
    SACME_SG_ACCOUNTS = 0,
    SACME_SG_STAGING,
    SACME_SG_CHALLENGES,
    SACME_SG_REQUESTS,
    SACME_SG_DOMAINS,
    SACME_SG_ARCHIVE,
    SACME_SG_FALLBACK,
    SACME_SG_COUNT
} sacme_sgroup_t;

/* Modes of what the parts hold: the driver's files that request children
 * read (status, challenges) carry the httpd Group through the setgid
 * directories; keys are the owner's alone. */
#define SACME_MODE_KEY      0600
#define SACME_MODE_SHARED   0640      /* in a driver part: owner + web group */
#define SACME_MODE_PUBLIC   0644      /* in root's parts */

/* The base directory, checked (root's or ours, not writable by others). */
apr_status_t sacme_store_open_base(const sacme_store_t *store, apr_pool_t *p,
                                   sacme_sdir_t **dir, sacme_result_t *res);

/* A part, checked against its owner (the driver's account or root). */
apr_status_t sacme_store_open_group(const sacme_store_t *store, apr_pool_t *p,
                                    sacme_sgroup_t group, sacme_sdir_t **dir,
                                    sacme_result_t *res);

/* group/name (made with create), owned like its part. */
apr_status_t sacme_store_open_in(const sacme_store_t *store, apr_pool_t *p,
                                 sacme_sgroup_t group, const char *name, int create,
                                 sacme_sdir_t **dir, sacme_result_t *res);

/* Gives dir, just opened as group/name (name NULL: the part itself), the
 * watch that tells the store's mirror of what is written and removed
 * there, when the store has a mirror and the part is the driver's. */
void sacme_store_watch(const sacme_store_t *store, apr_pool_t *p, sacme_sgroup_t group,
                       const char *name, sacme_sdir_t *dir);

/* The JSON state kept in group/name as file (for a state in the part
 * itself: "<name>.json"), and its bound; -1 when file is none. */
int sacme_store_state_in(sacme_sgroup_t group, const char *name, const char *file,
                         apr_size_t *max);

/* store, or a copy of it without the mirror (in p). */
const sacme_store_t *sacme_store_muted(const sacme_store_t *store, apr_pool_t *p);

/* SACME_GROUP_STAGING / SACME_GROUP_DOMAINS as a part, or -1. */
int sacme_store_set_group(const char *group);

#endif /* SACME_STORE_INT_H */
