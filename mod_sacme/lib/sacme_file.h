/* Files the engine owns: every write is atomic and durable (temp file in the
 * target directory, fsync, rename, fsync of the directory), so a crash or a
 * full disk leaves either the old content or the new, never a torn file.
 */
#ifndef SACME_FILE_H
#define SACME_FILE_H

#include <apr_file_io.h>
#include "sacme.h"
#include "sacme_result.h"

/* Replaces path with data. perms are applied to the temp file before any
 * byte is written, so a key is never readable by others, not even briefly.
 * On failure the old file is untouched and the temp file removed. */
apr_status_t sacme_file_write_atomic(const char *path, const void *data,
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

/* True when path exists (any type). */
int sacme_file_exists(const char *path, apr_pool_t *p);

#endif /* SACME_FILE_H */
