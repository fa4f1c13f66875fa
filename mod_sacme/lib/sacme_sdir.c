/* Safe directories (sacme_sdir.h): descriptors, not paths. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_general.h>

#include "sacme_sdir.h"

#define BAD_WRITE (S_IWGRP | S_IWOTH)

/* sacme_sdir_write's temporary files: "<name>" TMP_MARK "<TMP_HEX hex>". */
#define TMP_MARK ".tmp."
#define TMP_HEX  16

static apr_status_t os_fail(sacme_result_t *res, int err, const char *what,
                            const char *path)
{
    char ebuf[256];
    apr_status_t rv = APR_FROM_OS_ERROR(err);

    return sacme_result_set(res, rv, "%s %s: %s", what, path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
}

static apr_status_t unsafe(sacme_result_t *res, const char *path, const char *why)
{
    return sacme_result_set(res, SACME_EUNSAFE,
                            "refusing %s: %s; it was not made by mod_sacme: remove it "
                            "(and find out who put it there)", path, why);
}

static apr_status_t close_fd(void *data)
{
    sacme_sdir_t *dir = data;

    if (dir->fd >= 0) {
        close(dir->fd);
        dir->fd = -1;
    }
    return APR_SUCCESS;
}

static const char *join(apr_pool_t *p, const sacme_sdir_t *dir, const char *name)
{
    return apr_pstrcat(p, dir->path, "/", name, NULL);
}

int sacme_sdir_name_ok(const char *name)
{
    const unsigned char *c;

    if (!name || !*name || *name == '.' || strlen(name) > SACME_NAME_MAX) {
        return 0;
    }
    for (c = (const unsigned char *)name; *c; ++c) {
        if (*c == '/' || *c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* What is wrong with a directory found at path, or NULL. */
static const char *dir_problem(apr_pool_t *p, const struct stat *st, uid_t owner)
{
    if (!S_ISDIR(st->st_mode)) {
        return "not a directory";
    }
    if (st->st_uid != owner) {
        return apr_psprintf(p, "owned by uid %ld, not by uid %ld", (long)st->st_uid,
                            (long)owner);
    }
    if (st->st_mode & BAD_WRITE) {
        return apr_psprintf(p, "writable by group or others (mode %04o)",
                            (unsigned)(st->st_mode & 07777));
    }
    return NULL;
}

static sacme_sdir_t *wrap(apr_pool_t *p, int fd, const char *path, const struct stat *st)
{
    sacme_sdir_t *dir = apr_pcalloc(p, sizeof(*dir));

    dir->fd = fd;
    dir->path = apr_pstrdup(p, path);
    dir->uid = st->st_uid;
    dir->gid = st->st_gid;
    dir->mode = st->st_mode & 07777;
    apr_pool_cleanup_register(p, dir, close_fd, apr_pool_cleanup_null);
    return dir;
}

/* Why a directory did not open. O_DIRECTORY|O_NOFOLLOW on a link to a
 * directory fails with ENOTDIR, not ELOOP: is_link tells the two apart. */
static apr_status_t open_failed(sacme_result_t *res, int err, const char *path,
                                int is_link)
{
    if (err == ELOOP || ((err == ENOTDIR) && is_link)) {
        return unsafe(res, path, "it is a symbolic link");
    }
    if (err == ENOTDIR) {
        return unsafe(res, path, "not a directory");
    }
    return os_fail(res, err, "cannot open", path);
}

apr_status_t sacme_sdir_open_path(apr_pool_t *p, const char *path, int create,
                                  mode_t mode, sacme_sdir_t **dir,
                                  sacme_result_t *res)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    struct stat st;
    const char *why;
    int fd = open(path, flags);

    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(path, mode) != 0 && errno != EEXIST) {
            return os_fail(res, errno, "cannot create directory", path);
        }
        fd = open(path, flags);
    }
    if (fd < 0) {
        int err = errno;
        return open_failed(res, err, path, lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    }
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return os_fail(res, err, "cannot stat", path);
    }
    why = dir_problem(p, &st, st.st_uid == 0 ? 0 : geteuid());
    if (why) {
        close(fd);
        return unsafe(res, path, why);
    }
    *dir = wrap(p, fd, path, &st);
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_open(const sacme_sdir_t *parent, const char *name,
                             int create, mode_t mode, uid_t owner,
                             apr_pool_t *p, sacme_sdir_t **dir,
                             sacme_result_t *res)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    const char *path = join(p, parent, name);
    uid_t want = owner == SACME_SDIR_ANY_OWNER ? parent->uid : owner;
    struct stat st;
    const char *why;
    int fd, made = 0;

    if (!sacme_sdir_name_ok(name)) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is not a usable name in %s",
                                name, parent->path);
    }
    fd = openat(parent->fd, name, flags);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(parent->fd, name, mode) != 0 && errno != EEXIST) {
            return os_fail(res, errno, "cannot create directory", path);
        }
        made = 1;
        fd = openat(parent->fd, name, flags);
    }
    if (fd < 0) {
        int err = errno;
        return open_failed(res, err, path,
                           fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
                           && S_ISLNK(st.st_mode));
    }
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return os_fail(res, err, "cannot stat", path);
    }
    /* Made just now by root for another account (the driver's areas):
     * given away on the descriptor, before anyone else can use it. */
    if (made && st.st_uid != want && geteuid() == 0) {
        if (fchown(fd, want, parent->gid) != 0 || fstat(fd, &st) != 0) {
            int err = errno;
            close(fd);
            return os_fail(res, err, "cannot give away", path);
        }
    }
    /* A umask narrower than the mode asked for (the web group must reach
     * challenges). The setgid bit a parent passed on is kept; a process
     * outside the directory's group would lose it here, which is why the
     * driver runs with a umask that never gets this far. */
    if (made && (st.st_mode & 0777) != (mode & 0777)) {
        if (fchmod(fd, (mode & 0777) | (st.st_mode & S_ISGID)) != 0
            || fstat(fd, &st) != 0) {
            int err = errno;
            close(fd);
            return os_fail(res, err, "cannot set the mode of", path);
        }
    }
    why = dir_problem(p, &st, want);
    if (why) {
        close(fd);
        return unsafe(res, path, why);
    }
    *dir = wrap(p, fd, path, &st);
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_read(const sacme_sdir_t *dir, const char *name,
                             apr_size_t max, int flags, apr_pool_t *p,
                             char **data, apr_size_t *len, sacme_result_t *res)
{
    const char *path = join(p, dir, name);
    struct stat st;
    apr_size_t n, got = 0;
    char *buf;
    int fd;

    if (!sacme_sdir_name_ok(name)) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is not a usable name in %s",
                                name, dir->path);
    }
    /* O_NONBLOCK: a FIFO planted here must not hang the reader. */
    fd = openat(dir->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ELOOP ? unsafe(res, path, "it is a symbolic link")
                              : os_fail(res, errno, "cannot open", path);
    }
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return os_fail(res, err, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != dir->uid
        || (st.st_mode & BAD_WRITE)
        || ((flags & SACME_SDIR_PRIVATE) && (st.st_mode & 077))) {
        const char *why =
            !S_ISREG(st.st_mode) ? "not a regular file"
            : st.st_nlink != 1 ? "it has more than one link (a hard link)"
            : st.st_uid != dir->uid ? apr_psprintf(p, "owned by uid %ld, not by uid %ld "
                                                   "(the directory's owner)",
                                                   (long)st.st_uid, (long)dir->uid)
            : apr_psprintf(p, "its mode %04o lets others %s it",
                           (unsigned)(st.st_mode & 07777),
                           (st.st_mode & BAD_WRITE) ? "write" : "read");
        close(fd);
        return unsafe(res, path, why);
    }
    if ((apr_uint64_t)st.st_size > max) {
        close(fd);
        return sacme_result_set(res, APR_ENOSPC, "%s is larger than the %" APR_SIZE_T_FMT
                                " bytes allowed", path, max);
    }
    n = (apr_size_t)st.st_size;
    buf = apr_palloc(p, n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            int err = r < 0 ? errno : EIO;
            close(fd);
            return os_fail(res, err, "cannot read", path);
        }
        got += (apr_size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return APR_SUCCESS;
}

static apr_status_t write_all(int fd, const void *data, apr_size_t len)
{
    const char *c = data;

    while (len > 0) {
        ssize_t w = write(fd, c, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return APR_FROM_OS_ERROR(w < 0 ? errno : EIO);
        }
        c += w;
        len -= (apr_size_t)w;
    }
    return APR_SUCCESS;
}

/* One attempt of sacme_sdir_write; *vanished: the temporary file was gone
 * when it was to be renamed into place. */
static apr_status_t write_once(const sacme_sdir_t *dir, const char *name,
                               const void *data, apr_size_t len, mode_t mode,
                               int flags, apr_pool_t *p, int *vanished,
                               sacme_result_t *res)
{
    const char *path = join(p, dir, name), *tmp = NULL;
    unsigned char rnd[8];
    apr_status_t rv;
    int fd = -1, tries;

    if (!sacme_sdir_name_ok(name)) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is not a usable name in %s",
                                name, dir->path);
    }
    /* O_EXCL|O_NOFOLLOW: never opens what someone else placed there. */
    for (tries = 0; fd < 0 && tries < 5; ++tries) {
        if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
            apr_time_t t = apr_time_now() ^ (apr_time_t)getpid();
            memcpy(rnd, &t, sizeof(rnd));
        }
        /* This form is what sacme_sdir_is_temporary recognises. */
        tmp = apr_psprintf(p, "%s" TMP_MARK "%02x%02x%02x%02x%02x%02x%02x%02x", name, rnd[0],
                           rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        fd = openat(dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    S_IRUSR | S_IWUSR);
        if (fd < 0 && errno != EEXIST) {
            break;
        }
    }
    if (fd < 0) {
        return os_fail(res, errno, "cannot create a temporary file for", path);
    }
    rv = APR_SUCCESS;
    /* Root writing into another account's directory (sacmectl into the
     * driver's areas): the file is theirs, as if they had written it. */
    if (geteuid() != dir->uid && fchown(fd, dir->uid, dir->gid) != 0) {
        rv = os_fail(res, errno, "cannot give away", path);
    }
    if (rv == APR_SUCCESS && fchmod(fd, mode) != 0) {
        rv = os_fail(res, errno, "cannot set the mode of", path);
    }
    if (rv == APR_SUCCESS && (rv = write_all(fd, data, len)) != APR_SUCCESS) {
        /* The OS's word (a full filesystem, a quota) is what the admin acts on. */
        char ebuf[256];
        sacme_result_set(res, rv, "cannot write %s: %s", path,
                         apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (rv == APR_SUCCESS && (flags & SACME_SDIR_DURABLE) && fsync(fd) != 0) {
        rv = os_fail(res, errno, "cannot sync", path);
    }
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = os_fail(res, errno, "cannot close", path);
    }
    if (rv == APR_SUCCESS && renameat(dir->fd, tmp, dir->fd, name) != 0) {
        *vanished = errno == ENOENT;
        rv = os_fail(res, errno, "cannot rename into place", path);
    }
    if (rv != APR_SUCCESS) {
        unlinkat(dir->fd, tmp, 0);
        return rv;
    }
    /* Some file systems refuse to sync a directory (EINVAL): nothing to do. */
    if ((flags & SACME_SDIR_DURABLE) && fsync(dir->fd) != 0 && errno != EINVAL) {
        return os_fail(res, errno, "cannot sync the directory of", path);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_write(const sacme_sdir_t *dir, const char *name,
                              const void *data, apr_size_t len, mode_t mode,
                              int flags, apr_pool_t *p, sacme_result_t *res)
{
    apr_status_t rv;
    int tries = 0, vanished;

    /* A driver that starts removes the temporary files it finds in its
     * parts of the store (sacme_store_sweep), those of interrupted writes;
     * the one of a process writing there at that moment (sacmectl, root)
     * goes too, and its rename fails: such a write is made again. */
    do {
        vanished = 0;
        if (tries && res) {
            sacme_result_reset(res);
        }
        rv = write_once(dir, name, data, len, mode, flags, p, &vanished, res);
    } while (rv != APR_SUCCESS && vanished && ++tries < 3);
    if (rv == APR_SUCCESS && dir->watch) {
        dir->watch->changed(dir->watch, name, data, len);
    }
    return rv;
}

int sacme_sdir_is_temporary(const char *name)
{
    size_t n = name ? strlen(name) : 0, i;
    const size_t tail = sizeof(TMP_MARK) - 1 + TMP_HEX;

    /* The exact form sacme_sdir_write makes: a name before the mark, and
     * lowercase hex after it. */
    if (n <= tail || strncmp(name + n - tail, TMP_MARK, sizeof(TMP_MARK) - 1)) {
        return 0;
    }
    for (i = n - TMP_HEX; i < n; ++i) {
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* The same as os_fail for dir/name, without a pool. */
static apr_status_t os_fail_in(sacme_result_t *res, int err, const char *what,
                               const sacme_sdir_t *dir, const char *name)
{
    char ebuf[256];
    apr_status_t rv = APR_FROM_OS_ERROR(err);

    return sacme_result_set(res, rv, "%s %s/%s: %s", what, dir->path, name,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
}

apr_status_t sacme_sdir_remove(const sacme_sdir_t *dir, const char *name,
                               sacme_result_t *res)
{
    if (unlinkat(dir->fd, name, 0) != 0 && errno != ENOENT) {
        return os_fail_in(res, errno, "cannot remove", dir, name);
    }
    if (dir->watch) {
        dir->watch->changed(dir->watch, name, NULL, 0);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_rmdir(const sacme_sdir_t *dir, const char *name,
                              sacme_result_t *res)
{
    if (unlinkat(dir->fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return os_fail_in(res, errno, "cannot remove the directory", dir, name);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_rename(const sacme_sdir_t *dir, const char *from,
                               const sacme_sdir_t *to, const char *name_to,
                               sacme_result_t *res)
{
    if (renameat(dir->fd, from, to->fd, name_to) != 0) {
        return os_fail_in(res, errno, "cannot rename", dir, from);
    }
    return APR_SUCCESS;
}

int sacme_sdir_stat(const sacme_sdir_t *dir, const char *name, struct stat *st)
{
    return fstatat(dir->fd, name, st, AT_SYMLINK_NOFOLLOW);
}

int sacme_sdir_has_file(const sacme_sdir_t *dir, const char *name)
{
    struct stat st;

    return sacme_sdir_stat(dir, name, &st) == 0 && S_ISREG(st.st_mode);
}

apr_status_t sacme_sdir_list(const sacme_sdir_t *dir, apr_pool_t *p, int max,
                             apr_array_header_t **names, sacme_result_t *res)
{
    int fd = dup(dir->fd);
    struct dirent *e;
    DIR *d;

    if (fd < 0 || !(d = fdopendir(fd))) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
        }
        return os_fail(res, err, "cannot list", dir->path);
    }
    /* The dup shares the offset with dir->fd: start from the top. */
    rewinddir(d);
    *names = apr_array_make(p, 8, sizeof(const char *));
    while ((e = readdir(d)) && (*names)->nelts < max) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        APR_ARRAY_PUSH(*names, const char *) = apr_pstrdup(p, e->d_name);
    }
    closedir(d);
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_own(sacme_sdir_t *dir, uid_t uid, gid_t gid, mode_t mode,
                            sacme_result_t *res)
{
    struct stat st;

    if (fchown(dir->fd, uid, gid) != 0 || fchmod(dir->fd, mode) != 0
        || fstat(dir->fd, &st) != 0) {
        return os_fail(res, errno, "cannot set the owner and mode of", dir->path);
    }
    dir->uid = st.st_uid;
    dir->gid = st.st_gid;
    dir->mode = st.st_mode & 07777;
    return APR_SUCCESS;
}

/* One entry of a tree being taken over: a directory is given and walked,
 * a file of one link given, a link or anything else removed. */
static apr_status_t own_entry(const sacme_sdir_t *dir, const char *name, int depth,
                              apr_pool_t *p, sacme_result_t *res)
{
    const char *path = join(p, dir, name);
    struct stat st;
    int fd;

    if (sacme_sdir_stat(dir, name, &st) != 0) {
        return APR_SUCCESS;             /* gone meanwhile */
    }
    if (S_ISDIR(st.st_mode)) {
        sacme_sdir_t *sub;
        apr_status_t rv;

        if (depth <= 0) {
            return unsafe(res, path, "a directory deeper than mod_sacme makes them");
        }
        fd = openat(dir->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            return open_failed(res, errno, path, 0);
        }
        if (fstat(fd, &st) != 0 || fchown(fd, dir->uid, dir->gid) != 0
            || fchmod(fd, (st.st_mode & 0750) | (dir->mode & S_ISGID)) != 0
            || fstat(fd, &st) != 0) {
            int err = errno;
            close(fd);
            return os_fail(res, err, "cannot take over", path);
        }
        sub = wrap(p, fd, path, &st);
        rv = sacme_sdir_own_tree(sub, depth - 1, p, res);
        close_fd(sub);
        return rv;
    }
    if (!S_ISREG(st.st_mode)) {
        return sacme_sdir_remove(dir, name, res);
    }
    fd = openat(dir->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return open_failed(res, errno, path, 0);
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(fd);
        return unsafe(res, path, "not a regular file of one link");
    }
    if (fchown(fd, dir->uid, dir->gid) != 0
        || fchmod(fd, st.st_mode & 0640) != 0) {
        int err = errno;
        close(fd);
        return os_fail(res, err, "cannot take over", path);
    }
    close(fd);
    return APR_SUCCESS;
}

apr_status_t sacme_sdir_own_tree(const sacme_sdir_t *dir, int depth, apr_pool_t *p,
                                 sacme_result_t *res)
{
    apr_array_header_t *names;
    apr_status_t rv, first = APR_SUCCESS;
    int i;

    if ((rv = sacme_sdir_list(dir, p, 100000, &names, res)) != APR_SUCCESS) {
        return rv;
    }
    /* Everything is tried: one bad entry does not keep the rest from
     * their owner; the first failure is reported. */
    for (i = 0; i < names->nelts; ++i) {
        sacme_result_t *one = sacme_result_make(p);
        rv = own_entry(dir, APR_ARRAY_IDX(names, i, const char *), depth, p, one);
        if (rv != APR_SUCCESS && first == APR_SUCCESS) {
            first = rv;
            sacme_result_set(res, rv, "%s", sacme_result_message(one, p));
        }
    }
    return first;
}

/* A directory on the way to the store: root's or ours, and nobody else
 * may change it, except a root-owned sticky one (like /tmp) above the
 * store, where entries can only be moved by their owners. */
static int trusted_dir(const struct stat *st, int ancestor)
{
    if (!S_ISDIR(st->st_mode) || (st->st_uid != 0 && st->st_uid != geteuid())) {
        return 0;
    }
    if (!(st->st_mode & BAD_WRITE)) {
        return 1;
    }
    return ancestor && st->st_uid == 0 && (st->st_mode & S_ISVTX);
}

static apr_status_t check_prefixes(apr_pool_t *p, const char *path, const char **bad,
                                   sacme_result_t *res)
{
    char *copy = apr_pstrdup(p, path);
    char *slash = copy;
    struct stat st;

    for (;;) {
        char saved;
        int last;

        slash = strchr(slash + 1, '/');
        last = slash == NULL;
        saved = last ? '\0' : *slash;
        if (!last) {
            *slash = '\0';
        }
        if (stat(*copy ? copy : "/", &st) != 0) {
            if (errno == ENOENT) {
                return APR_SUCCESS;     /* the rest is made by root later */
            }
            *bad = apr_pstrdup(p, *copy ? copy : "/");
            return os_fail(res, errno, "cannot check", *bad);
        }
        if (!trusted_dir(&st, !last)) {
            *bad = apr_pstrdup(p, *copy ? copy : "/");
            return sacme_result_set(res, SACME_EUNSAFE,
                "%s (on the way to %s) is %s (owner uid %ld, mode %04o): another "
                "account could replace what root trusts there; make it owned by "
                "root and not writable by group or others", *bad, path,
                S_ISDIR(st.st_mode) ? "not safe" : "not a directory",
                (long)st.st_uid, (unsigned)(st.st_mode & 07777));
        }
        if (last) {
            return APR_SUCCESS;
        }
        *slash = saved;
    }
}

apr_status_t sacme_sdir_check_path(apr_pool_t *p, const char *path,
                                   const char **bad, sacme_result_t *res)
{
    char resolved[PATH_MAX];
    apr_status_t rv;

    *bad = NULL;
    if (!path || path[0] != '/') {
        *bad = path ? path : "(none)";
        return sacme_result_set(res, APR_EINVAL, "%s is not an absolute path", *bad);
    }
    rv = check_prefixes(p, path, bad, res);
    /* The directories a link on the way leads to count as much. */
    if (rv == APR_SUCCESS && realpath(path, resolved) && strcmp(resolved, path)) {
        rv = check_prefixes(p, resolved, bad, res);
    }
    return rv;
}
