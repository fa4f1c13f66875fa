/* Atomic, durable file writes and bounded reads.
 *
 * A write goes to a temp file next to the target (same filesystem, so the
 * rename is atomic), with the final mode set before the first byte, is
 * fsync'ed, renamed over the target, and the directory is fsync'ed so the
 * rename itself survives a power loss. acme-client's fileproc does the same
 * minus the directory sync; mod_md's freplace does neither. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_portable.h>

#include "sacme_file.h"

static apr_status_t fail(sacme_result_t *res, apr_status_t rv,
                         const char *what, const char *path)
{
    char ebuf[256];
    return sacme_result_set(res, rv, "%s %s: %s", what, path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
}

/* fsync a directory so a rename in it is durable. */
static apr_status_t sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fsync(fd) != 0 && errno != EINVAL) {   /* some fs refuse dir fsync */
        rv = APR_FROM_OS_ERROR(errno);
    }
    close(fd);
    return rv;
}

static const char *dir_of(apr_pool_t *p, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        return ".";
    }
    if (slash == path) {
        return "/";
    }
    return apr_pstrndup(p, path, (apr_size_t)(slash - path));
}

/* APR's permission flags as a mode_t (their bits are not octal). */
static mode_t mode_of(apr_fileperms_t perms)
{
    static const struct { apr_fileperms_t apr; mode_t mode; } BITS[] = {
        { APR_FPROT_UREAD, S_IRUSR }, { APR_FPROT_UWRITE, S_IWUSR },
        { APR_FPROT_UEXECUTE, S_IXUSR }, { APR_FPROT_GREAD, S_IRGRP },
        { APR_FPROT_GWRITE, S_IWGRP }, { APR_FPROT_GEXECUTE, S_IXGRP },
        { APR_FPROT_WREAD, S_IROTH }, { APR_FPROT_WWRITE, S_IWOTH },
        { APR_FPROT_WEXECUTE, S_IXOTH },
    };
    mode_t mode = 0;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(BITS); ++i) {
        if (perms & BITS[i].apr) {
            mode |= BITS[i].mode;
        }
    }
    return mode;
}

static apr_status_t write_atomic(const char *path, const void *data,
                                 apr_size_t len, apr_fileperms_t perms, int durable,
                                 apr_pool_t *p, sacme_result_t *res)
{
    char *tmp = apr_pstrcat(p, path, ".tmp.XXXXXX", NULL);
    apr_file_t *f = NULL;
    apr_os_file_t fd;
    apr_status_t rv;
    apr_size_t written;

    /* APR_FOPEN_EXCL through mkstemp: never follows a planted symlink. */
    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p);
    if (rv != APR_SUCCESS) {
        return fail(res, rv, "cannot create a temporary file for", path);
    }
    /* On the descriptor, not the name: a name can be swapped for a link
     * between mkstemp and a chmod by path. */
    if ((rv = apr_os_file_get(&fd, f)) != APR_SUCCESS
        || (fchmod(fd, mode_of(perms)) != 0 && (rv = APR_FROM_OS_ERROR(errno)))) {
        fail(res, rv, "cannot set the mode of", tmp);
        goto leave;
    }
    rv = apr_file_write_full(f, data, len, &written);
    if (rv != APR_SUCCESS) {
        fail(res, rv, "cannot write", tmp);
        goto leave;
    }
    if (durable && (rv = apr_file_sync(f)) != APR_SUCCESS) {
        fail(res, rv, "cannot sync", tmp);
        goto leave;
    }
    rv = apr_file_close(f);
    f = NULL;
    if (rv != APR_SUCCESS) {
        fail(res, rv, "cannot close", tmp);
        goto leave;
    }
    if ((rv = apr_file_rename(tmp, path, p)) != APR_SUCCESS) {
        fail(res, rv, "cannot rename into place", path);
        goto leave;
    }
    tmp = NULL;
    if (durable && (rv = sync_dir(dir_of(p, path))) != APR_SUCCESS) {
        fail(res, rv, "cannot sync the directory of", path);
    }
leave:
    if (f) {
        apr_file_close(f);
    }
    if (tmp) {
        apr_file_remove(tmp, p);
    }
    return rv;
}

apr_status_t sacme_file_write_atomic(const char *path, const void *data,
                                     apr_size_t len, apr_fileperms_t perms,
                                     apr_pool_t *p, sacme_result_t *res)
{
    return write_atomic(path, data, len, perms, 1, p, res);
}

apr_status_t sacme_file_write_ephemeral(const char *path, const void *data,
                                        apr_size_t len, apr_fileperms_t perms,
                                        apr_pool_t *p, sacme_result_t *res)
{
    return write_atomic(path, data, len, perms, 0, p, res);
}

apr_status_t sacme_file_read(const char *path, apr_size_t max_size,
                             apr_pool_t *p, char **data, apr_size_t *len,
                             sacme_result_t *res)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t n;
    char *buf;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) {
        return fail(res, rv, "cannot open", path);
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        return fail(res, rv, "cannot stat", path);
    }
    if (fi.filetype != APR_REG) {
        apr_file_close(f);
        return sacme_result_set(res, APR_EINVAL, "%s is not a regular file", path);
    }
    if (fi.size < 0 || (apr_uint64_t)fi.size > max_size) {
        apr_file_close(f);
        return sacme_result_set(res, APR_ENOSPC,
                                "%s is larger than the %" APR_SIZE_T_FMT
                                " bytes allowed", path, max_size);
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    rv = apr_file_read_full(f, buf, n, NULL);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !(rv == APR_EOF && n == 0)) {
        return fail(res, rv, "cannot read", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t sacme_file_mkdirs(const char *path, apr_fileperms_t perms,
                               apr_pool_t *p, sacme_result_t *res)
{
    apr_status_t rv = apr_dir_make_recursive(path, perms, p);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return fail(res, rv, "cannot create directory", path);
    }
    return APR_SUCCESS;
}

int sacme_file_exists(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
}

apr_status_t sacme_file_write_new(const char *path, const void *data,
                                  apr_size_t len, apr_fileperms_t perms,
                                  apr_pool_t *p, sacme_result_t *res)
{
    const char *bytes = data;
    apr_status_t rv = APR_SUCCESS;
    ssize_t n;
    int fd;

    /* The mode at creation (umask may only take bits away), then fchmod
     * for exactly perms before the first byte. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              mode_of(perms));
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        if (APR_STATUS_IS_EEXIST(rv)) {
            return sacme_result_set(res, rv, "%s exists already; it is left as it "
                                    "is (remove it, or name another file)", path);
        }
        return fail(res, rv, "cannot create", path);
    }
    if (fchmod(fd, mode_of(perms)) != 0) {
        rv = fail(res, APR_FROM_OS_ERROR(errno), "cannot set the mode of", path);
    }
    while (rv == APR_SUCCESS && len > 0) {
        n = write(fd, bytes, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rv = fail(res, n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL,
                      "cannot write", path);
            break;
        }
        bytes += n;
        len -= (apr_size_t)n;
    }
    if (rv == APR_SUCCESS && fsync(fd) != 0) {
        rv = fail(res, APR_FROM_OS_ERROR(errno), "cannot sync", path);
    }
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = fail(res, APR_FROM_OS_ERROR(errno), "cannot close", path);
    }
    if (rv != APR_SUCCESS) {
        unlink(path);
    }
    else {
        sync_dir(dir_of(p, path));
    }
    return rv;
}

const char *sacme_file_secret_exposure(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        return NULL;
    }
    if (st.st_uid != 0) {
        return "not owned by root";
    }
    return (st.st_mode & 077) ? "readable or writable by group or others" : NULL;
}
