/* Files the engine owns: every write is atomic and durable (temp file in the
 * target directory, fsync, rename, fsync of the directory), so a crash or a
 * full disk leaves either the old content or the new, never a torn file.
 */
#ifndef SACME_FILE_H
#define SACME_FILE_H

#include <apr_file_io.h>
#include "sacme.h"
#include "sacme_result.h"

/* Modes in APR's flag form (apr_fileperms_t bits are NOT octal: passing
 * 0600 would give a wrong mode). Use these. */
#define SACME_FPROT_PRIVATE (APR_FPROT_UREAD | APR_FPROT_UWRITE)            /* 0600 */
#define SACME_FPROT_PUBLIC  (SACME_FPROT_PRIVATE | APR_FPROT_GREAD \
                             | APR_FPROT_WREAD)                             /* 0644 */
#define SACME_FPROT_DIR_PRIVATE (SACME_FPROT_PRIVATE | APR_FPROT_UEXECUTE)  /* 0700 */
#define SACME_FPROT_DIR_PUBLIC  (SACME_FPROT_DIR_PRIVATE | APR_FPROT_GREAD \
                                 | APR_FPROT_GEXECUTE | APR_FPROT_WREAD \
                                 | APR_FPROT_WEXECUTE)                      /* 0755 */

/* Replaces path with data. perms are applied to the temp file before any
 * byte is written, so a key is never readable by others, not even briefly.
 * On failure the old file is untouched and the temp file removed. */
apr_status_t sacme_file_write_atomic(const char *path, const void *data,
                                     apr_size_t len, apr_fileperms_t perms,
                                     apr_pool_t *p, sacme_result_t *res);

/* The same replacement without the two fsyncs: for files that are written
 * again after a crash anyway (challenge responses), where the wait for the
 * disk is pure latency on the way to the CA's validation. */
apr_status_t sacme_file_write_ephemeral(const char *path, const void *data,
                                        apr_size_t len, apr_fileperms_t perms,
                                        apr_pool_t *p, sacme_result_t *res);

/* Reads a whole file of at most max_size bytes (APR_ENOSPC beyond); the
 * buffer is NUL-terminated. A missing file is APR_ENOENT with res set. */
apr_status_t sacme_file_read(const char *path, apr_size_t max_size,
                             apr_pool_t *p, char **data, apr_size_t *len,
                             sacme_result_t *res);

/* Creates the directory and missing parents with perms; an existing
 * directory is fine (its mode is left alone). */
apr_status_t sacme_file_mkdirs(const char *path, apr_fileperms_t perms,
                               apr_pool_t *p, sacme_result_t *res);

/* Creates path as a new file (never replacing one: O_EXCL, and no symlink
 * followed) with perms set before the first byte, writes data and syncs
 * it. An existing path is APR_EEXIST with a message naming it; on any
 * other failure the half-written file is removed. For a secret handed to
 * the admin once (the EAB file of `sacmectl scm account create`). */
apr_status_t sacme_file_write_new(const char *path, const void *data,
                                  apr_size_t len, apr_fileperms_t perms,
                                  apr_pool_t *p, sacme_result_t *res);

/* How a file that holds a secret (EAB key, proxy or SCM password) is
 * exposed: "not owned by root", "readable or writable by group or
 * others", or NULL when it is root's alone (or cannot be looked at). */
const char *sacme_file_secret_exposure(const char *path);

/* True when path exists (any type). */
int sacme_file_exists(const char *path, apr_pool_t *p);

#endif /* SACME_FILE_H */
