/* Internals shared by the account files (sacme_acct.c: finding and
 * registering; sacme_acct_change.c: the admin's changes; sacme_acct_files.c:
 * the account directory). Not an API: include sacme_acct.h instead.
 */
#ifndef SACME_ACCT_INT_H
#define SACME_ACCT_INT_H

#include "sacme_acct.h"

/* The files of one account directory, and account.json as last read. */
typedef struct sacme_acct_files_t {
    const sacme_sdir_t *dir;    /* every file is opened through it */
    const char *key_path;       /* the files' paths, for messages */
    const char *new_path;       /* account.key.new */
    const char *json_path;
    json_t *stored;             /* account.json, or NULL when there is none */
} sacme_acct_files_t;

void sacme_acct_files_init(sacme_acct_files_t *files, const sacme_sdir_t *dir,
                           apr_pool_t *p);

/* Reads account.json into files->stored (missing is fine). */
apr_status_t sacme_acct_read_stored(sacme_acct_files_t *files, apr_pool_t *p,
                                    sacme_result_t *res);

/* Writes account.json / a key file (file: SACME_ACCT_KEY_FILE or
 * SACME_ACCT_KEY_NEW_FILE) of the directory atomically and durably, owned
 * by the directory's owner (sacmectl runs as root in a directory of the
 * driver's account). */
apr_status_t sacme_acct_write_stored(const sacme_acct_files_t *files,
                                     const json_t *j, apr_pool_t *p,
                                     sacme_result_t *res);
apr_status_t sacme_acct_write_key(const sacme_acct_files_t *files,
                                  const sacme_key_t *key, const char *file,
                                  apr_pool_t *p, sacme_result_t *res);

/* Reads a key file of the directory (0600, its owner's, no link). */
apr_status_t sacme_acct_read_key(const sacme_acct_files_t *files, const char *file,
                                 apr_pool_t *p, sacme_key_t **key, sacme_result_t *res);

/* Sets the members of changes (consumed) in account.json, keeping the
 * others, and stamps "updated". */
apr_status_t sacme_acct_update_stored(sacme_acct_files_t *files, json_t *changes,
                                      apr_pool_t *p, sacme_result_t *res);

/* SACME_ECONFIG when account.json belongs to another CA than acme's. */
apr_status_t sacme_acct_check_server(const sacme_acme_t *acme,
                                     const sacme_acct_files_t *files,
                                     sacme_result_t *res);

/* account.json says "deactivated"; and the error that says what to do. */
int sacme_acct_stored_deactivated(const sacme_acct_files_t *files);
apr_status_t sacme_acct_refuse_deactivated(const sacme_acct_files_t *files,
                                           sacme_result_t *res);

/* sacme_acct_files_init and sacme_acct_read_stored for a change to the
 * account: one recorded as deactivated is refused (it can change no more). */
apr_status_t sacme_acct_files_changeable(sacme_acct_files_t *files,
                                         const sacme_sdir_t *dir,
                                         apr_pool_t *p, sacme_result_t *res);

/* Looks up the account of the stored key with onlyReturnExisting (sets
 * acme->account_key and, when found, acme->account_url). After an
 * interrupted rollover (account.key.new exists) the CA holds the current key
 * or the new one: the current one is asked first, then the new one, and
 * account.key ends up as the one the CA knows. *found = 0: the CA knows
 * none of them (acme->account_key is then the current key). res must not
 * be NULL. */
apr_status_t sacme_acct_lookup_stored(sacme_acme_t *acme, sacme_acct_files_t *files,
                                      apr_pool_t *p, int *found, sacme_result_t *res);

/* The CA took next: it becomes account.key and acme's key, then
 * account.key.new is removed and account.json updated. */
apr_status_t sacme_acct_commit_key(sacme_acme_t *acme, sacme_acct_files_t *files,
                                   sacme_key_t *next, apr_pool_t *p,
                                   sacme_result_t *res);

#endif /* SACME_ACCT_INT_H */
