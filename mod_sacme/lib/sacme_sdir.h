/* Safe directories: file operations that a less privileged account cannot
 * turn against the process doing them.
 *
 * The store has directories that the driving process (an unprivileged
 * account) writes, and root works in them too (activation, sacmectl). A
 * path-based open, chmod, chown or rename there is a race that account can
 * win with a symbolic link or a hard link planted at the right moment. So
 * every operation here goes through an open directory descriptor:
 *
 *   - directories are opened with O_DIRECTORY|O_NOFOLLOW and checked with
 *     fstat before anything inside is trusted: the expected owner, a
 *     directory, not writable by group or others;
 *   - files are opened with O_NOFOLLOW|O_NONBLOCK (a FIFO cannot block us)
 *     and refused unless they are regular, have one link (a hard link to a
 *     file elsewhere is never read or replaced), belong to the directory's
 *     owner and are not writable by group or others;
 *   - writes go to a temporary file created O_EXCL inside the open
 *     directory, get their owner (fchown) and mode (fchmod) on the open
 *     descriptor, and are renamed (renameat) over the target: a symbolic
 *     link in the way is replaced, never followed;
 *   - removal is unlinkat, which never follows a link either.
 *
 * A refusal is SACME_EUNSAFE with a message naming the path, what is wrong
 * and what to do.
 */
#ifndef SACME_SDIR_H
#define SACME_SDIR_H

#include <sys/stat.h>
#include <sys/types.h>

#include "sacme.h"
#include "sacme_result.h"

/* A file or directory was refused: wrong owner, type, mode or links. */
#define SACME_EUNSAFE (APR_OS_START_USERERR + 10)

/* No owner expectation given: the directory's own owner is expected of
 * what lies inside. */
#define SACME_SDIR_ANY_OWNER ((uid_t)-1)

/* An observer of one directory handle: told of each file written or
 * removed through it, after the write or removal succeeded (data NULL:
 * removed). Not of what is done through another handle of the same
 * directory, nor in directories opened below it. The store sets one where
 * a cluster must learn of the driver's changes (sacme_store_set_mirror). */
typedef struct sacme_sdir_watch_t sacme_sdir_watch_t;
struct sacme_sdir_watch_t {
    void (*changed)(const sacme_sdir_watch_t *watch, const char *name,
                    const void *data, apr_size_t len);
};

typedef struct sacme_sdir_t {
    int fd;                    /* closed with the pool the handle lives in */
    const char *path;          /* for messages only; never opened again */
    uid_t uid;                 /* the directory's owner: what lies inside */
    gid_t gid;                 /* must be theirs; its group, for new files */
    mode_t mode;               /* permission bits as found */
    const sacme_sdir_watch_t *watch;   /* NULL (as opened): none */
} sacme_sdir_t;

/* Flags of sacme_sdir_read / sacme_sdir_write. */
#define SACME_SDIR_PRIVATE 0x1 /* read: refuse any group/other bit (a key) */
#define SACME_SDIR_DURABLE 0x2 /* write: fsync the file and the directory */

/* Opens an absolute directory path the caller trusts (the store's base,
 * whose parents the start-up checks vetted, or a directory an admin named).
 * The last component must not be a link; the directory must belong to root
 * or to this process's user and not be writable by group or others. With
 * create, a missing last component is made with mode (its parent must
 * exist). */
apr_status_t sacme_sdir_open_path(apr_pool_t *p, const char *path, int create,
                                  mode_t mode, sacme_sdir_t **dir,
                                  sacme_result_t *res);

/* Opens parent/name. It must belong to owner (SACME_SDIR_ANY_OWNER: to the
 * parent's owner) and not be writable by group or others. With create, a
 * missing directory is made with mode and given to owner (or the parent's
 * owner) and the parent's group. */
apr_status_t sacme_sdir_open(const sacme_sdir_t *parent, const char *name,
                             int create, mode_t mode, uid_t owner,
                             apr_pool_t *p, sacme_sdir_t **dir,
                             sacme_result_t *res);

/* Reads dir/name, at most max bytes (APR_ENOSPC beyond), NUL-terminated.
 * Missing: APR_ENOENT (res set). Anything but a regular file of one link,
 * of the directory's owner, not writable by others: SACME_EUNSAFE. */
apr_status_t sacme_sdir_read(const sacme_sdir_t *dir, const char *name,
                             apr_size_t max, int flags, apr_pool_t *p,
                             char **data, apr_size_t *len, sacme_result_t *res);

/* Replaces dir/name atomically with data: the file belongs to the
 * directory's owner and group and has mode from before its first byte. */
apr_status_t sacme_sdir_write(const sacme_sdir_t *dir, const char *name,
                              const void *data, apr_size_t len, mode_t mode,
                              int flags, apr_pool_t *p, sacme_result_t *res);

/* True when name is one of sacme_sdir_write's temporary files
 * ("<name>.tmp.<16 hex>"): left behind only by a process killed in the
 * middle of a write, never a file anyone reads. */
int sacme_sdir_is_temporary(const char *name);

/* Removes dir/name (a file, or a link itself); missing is fine. */
apr_status_t sacme_sdir_remove(const sacme_sdir_t *dir, const char *name,
                               sacme_result_t *res);

/* Removes the empty directory dir/name; missing is fine. */
apr_status_t sacme_sdir_rmdir(const sacme_sdir_t *dir, const char *name,
                              sacme_result_t *res);

/* Renames dir/from to to/name_to (both directories already vetted). */
apr_status_t sacme_sdir_rename(const sacme_sdir_t *dir, const char *from,
                               const sacme_sdir_t *to, const char *name_to,
                               sacme_result_t *res);

/* lstat of dir/name (a link is seen as a link): 0 when it exists. */
int sacme_sdir_stat(const sacme_sdir_t *dir, const char *name, struct stat *st);

/* True when dir/name is a regular file (a link does not count). */
int sacme_sdir_has_file(const sacme_sdir_t *dir, const char *name);

/* The names in dir (not "." and ".."), at most max of them. */
apr_status_t sacme_sdir_list(const sacme_sdir_t *dir, apr_pool_t *p, int max,
                             apr_array_header_t **names, sacme_result_t *res);

/* Gives dir itself to uid:gid with mode (fchown/fchmod on its descriptor). */
apr_status_t sacme_sdir_own(sacme_sdir_t *dir, uid_t uid, gid_t gid, mode_t mode,
                            sacme_result_t *res);

/* Gives everything below dir (depth levels down) to dir's owner, as it is
 * now: files and directories only, each checked on its own descriptor (a
 * link is removed, a file of several links refused, never followed). For
 * root taking a directory over from one account for another. */
apr_status_t sacme_sdir_own_tree(const sacme_sdir_t *dir, int depth, apr_pool_t *p,
                                 sacme_result_t *res);

/* The longest path component (NAME_MAX of Linux file systems). */
#define SACME_NAME_MAX 255

/* A name fit for a single path component: not empty, no '/', not "." or
 * "..", not starting with '.', no control characters, at most
 * SACME_NAME_MAX bytes. */
int sacme_sdir_name_ok(const char *name);

/* Checks a directory path before it is trusted (the store's location):
 * every directory on it and on the path it resolves to must belong to root
 * or to this process's user and must not be writable by group or others,
 * except a root-owned directory with the sticky bit (like /tmp), where
 * nobody else can remove or rename what is not theirs. The path may not
 * exist yet: its existing part is checked. *bad gets the first offending
 * directory. */
apr_status_t sacme_sdir_check_path(apr_pool_t *p, const char *path,
                                   const char **bad, sacme_result_t *res);

#endif /* SACME_SDIR_H */
