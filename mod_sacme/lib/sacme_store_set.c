/* The store's certificate sets: staged by the driver, promoted by the
 * parent, served from root's part (sacme_store.h). */
#include <unistd.h>

#include "sacme_store_int.h"
#include "sacme_json.h"
#include "sacme_time.h"

#define MAX_KEY (64 * 1024)

static apr_status_t set_dir(const sacme_store_t *store, apr_pool_t *p, const char *group,
                            const char *name, int create, sacme_sdir_t **dir,
                            sacme_result_t *res)
{
    int g = sacme_store_set_group(group);

    if (g < 0) {
        return sacme_result_set(res, APR_EINVAL, "no certificate sets in '%s'",
                                group ? group : "(none)");
    }
    return sacme_store_open_in(store, p, (sacme_sgroup_t)g, name, create, dir, res);
}

int sacme_store_has_set(const sacme_store_t *store, apr_pool_t *p,
                        const char *group, const char *name)
{
    sacme_sdir_t *dir;

    return set_dir(store, p, group, name, 0, &dir, NULL) == APR_SUCCESS
        && sacme_sdir_has_file(dir, SACME_FILE_KEY)
        && sacme_sdir_has_file(dir, SACME_FILE_CHAIN);
}

static apr_status_t read_chain(const sacme_sdir_t *dir, apr_pool_t *p, int leaf_only,
                               sacme_chain_t **chain, sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_sdir_read(dir, SACME_FILE_CHAIN, SACME_MAX_RESPONSE, 0, p, &data, &len, res);
    if (rv == APR_SUCCESS) {
        rv = leaf_only ? sacme_chain_parse_leaf(p, data, len, chain, res)
                       : sacme_chain_parse(p, data, len, chain, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "%s/%s", dir->path, SACME_FILE_CHAIN);
        }
    }
    return rv;
}

static apr_status_t read_key(const sacme_sdir_t *dir, apr_pool_t *p, sacme_key_t **key,
                             sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_sdir_read(dir, SACME_FILE_KEY, MAX_KEY, SACME_SDIR_PRIVATE, p, &data, &len,
                         res);
    if (rv == APR_SUCCESS) {
        rv = sacme_key_from_pem(p, data, len, key, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "%s/%s", dir->path, SACME_FILE_KEY);
        }
        memset(data, 0, len);
    }
    return rv;
}

static apr_status_t load_chain(const sacme_store_t *store, apr_pool_t *p,
                               const char *group, const char *name, int leaf_only,
                               sacme_chain_t **chain, sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = set_dir(store, p, group, name, 0, &dir, res);

    return rv != APR_SUCCESS ? rv : read_chain(dir, p, leaf_only, chain, res);
}

apr_status_t sacme_store_load_chain(const sacme_store_t *store, apr_pool_t *p,
                                    const char *group, const char *name,
                                    sacme_chain_t **chain, sacme_result_t *res)
{
    return load_chain(store, p, group, name, 0, chain, res);
}

apr_status_t sacme_store_load_leaf(const sacme_store_t *store, apr_pool_t *p,
                                   const char *group, const char *name,
                                   sacme_chain_t **chain, sacme_result_t *res)
{
    return load_chain(store, p, group, name, 1, chain, res);
}

static apr_status_t read_set(const sacme_sdir_t *dir, apr_pool_t *p,
                             sacme_certset_t **pset, sacme_result_t *res)
{
    sacme_certset_t *set = apr_pcalloc(p, sizeof(*set));
    apr_status_t rv;

    if (!sacme_sdir_has_file(dir, SACME_FILE_KEY)
        && !sacme_sdir_has_file(dir, SACME_FILE_CHAIN)) {
        return sacme_result_set(res, APR_ENOENT, "no certificate set in %s", dir->path);
    }
    rv = read_key(dir, p, &set->key, res);
    if (rv == APR_SUCCESS) {
        rv = read_chain(dir, p, 0, &set->chain, res);
    }
    if (rv == APR_SUCCESS) {
        *pset = set;
    }
    return rv;
}

apr_status_t sacme_store_load_set(const sacme_store_t *store, apr_pool_t *p,
                                  const char *group, const char *name,
                                  sacme_certset_t **set, sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = set_dir(store, p, group, name, 0, &dir, res);

    return rv != APR_SUCCESS ? rv : read_set(dir, p, set, res);
}

apr_status_t sacme_store_staged_key(const sacme_store_t *store, apr_pool_t *p,
                                    const char *name, sacme_key_t **key,
                                    sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_STAGING, name, 0, &dir, res);

    return rv != APR_SUCCESS ? rv : read_key(dir, p, key, res);
}

apr_status_t sacme_store_stage_key(const sacme_store_t *store, apr_pool_t *p,
                                   const char *name, const sacme_key_t *key,
                                   sacme_result_t *res)
{
    sacme_sdir_t *dir;
    const char *pem;
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_STAGING, name, 1, &dir, res);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    pem = sacme_key_to_pem(key, p);
    rv = sacme_sdir_write(dir, SACME_FILE_KEY, pem, strlen(pem), SACME_MODE_KEY,
                          SACME_SDIR_DURABLE, p, res);
    memset((char *)pem, 0, strlen(pem));
    return rv;
}

apr_status_t sacme_store_stage_chain(const sacme_store_t *store, apr_pool_t *p,
                                     const char *name, const sacme_chain_t *chain,
                                     sacme_result_t *res)
{
    sacme_sdir_t *dir;
    const char *pem = sacme_chain_pem(chain, p);
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_STAGING, name, 1, &dir, res);

    return rv != APR_SUCCESS ? rv
           : sacme_sdir_write(dir, SACME_FILE_CHAIN, pem, strlen(pem), SACME_MODE_SHARED,
                              SACME_SDIR_DURABLE, p, res);
}

void sacme_store_unstage(const sacme_store_t *store, apr_pool_t *p, const char *name,
                         int what)
{
    sacme_sdir_t *dir;

    if (sacme_store_open_in(store, p, SACME_SG_STAGING, name, 0, &dir, NULL)
            != APR_SUCCESS) {
        return;
    }
    /* The chain first: without it, what is left is no set. */
    if (what & SACME_UNSTAGE_CHAIN) {
        sacme_sdir_remove(dir, SACME_FILE_CHAIN, NULL);
    }
    if (what & SACME_UNSTAGE_KEY) {
        sacme_sdir_remove(dir, SACME_FILE_KEY, NULL);
    }
    if (what & SACME_UNSTAGE_ORDER) {
        sacme_sdir_remove(dir, SACME_FILE_ORDER, NULL);
    }
}

const char *sacme_store_live_file(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, const char *file)
{
    return sacme_store_path(store, p, SACME_GROUP_DOMAINS, name, file);
}

/* --- promotion -------------------------------------------------------------- */

/* A name for archive and refused directories: sortable, unique enough. */
static const char *stamp(apr_pool_t *p)
{
    apr_time_exp_t t;
    char buf[32];
    apr_size_t n;

    apr_time_exp_gmt(&t, apr_time_now());
    apr_strftime(buf, &n, sizeof(buf), "%Y%m%dT%H%M%SZ", &t);
    return apr_psprintf(p, "%s-%06d", buf, t.tm_usec);
}

/* Writes a set into dir as fresh files of this process (root, when the
 * parent promotes): the key first, so a chain never exists without it. */
static apr_status_t write_set(const sacme_sdir_t *dir, apr_pool_t *p,
                              const sacme_certset_t *set, sacme_result_t *res)
{
    const char *key_pem = sacme_key_to_pem(set->key, p);
    const char *chain_pem = sacme_chain_pem(set->chain, p);
    apr_status_t rv;

    rv = sacme_sdir_write(dir, SACME_FILE_KEY, key_pem, strlen(key_pem), SACME_MODE_KEY,
                          SACME_SDIR_DURABLE, p, res);
    memset((char *)key_pem, 0, strlen(key_pem));
    if (rv == APR_SUCCESS) {
        rv = sacme_sdir_write(dir, SACME_FILE_CHAIN, chain_pem, strlen(chain_pem),
                              SACME_MODE_PUBLIC, SACME_SDIR_DURABLE, p, res);
    }
    return rv;
}

/* The new set carries the count of activations, one more than the set it
 * replaces: the status page's renewal counter survives restarts, and the
 * archive (root's alone) need not be listed to tell it. */
static apr_status_t count_activation(const sacme_store_t *store, apr_pool_t *p,
                                     const char *name, const sacme_sdir_t *new_dir,
                                     sacme_result_t *res)
{
    json_t *h = sacme_store_state_load(store, p, SACME_STATE_HISTORY, name, NULL);
    json_int_t n = json_integer_value(json_object_get(h, "activations"));
    json_t *j = sacme_json_own(p, json_object());
    char *s;
    apr_status_t rv;

    json_object_set_new(j, "activations", json_integer(n + 1));
    json_object_set_new(j, "activated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s) {
        return sacme_result_set(res, APR_ENOMEM, "cannot serialise the history of %s", name);
    }
    rv = sacme_sdir_write(new_dir, SACME_FILE_HISTORY, s, strlen(s), SACME_MODE_PUBLIC,
                          SACME_SDIR_DURABLE, p, res);
    free(s);
    return rv;
}

/* What a refused set held, kept by root where nobody else writes:
 * archive/<name>/refused-<time>/. Best effort: the refusal is what counts. */
static void keep_refused(const sacme_store_t *store, apr_pool_t *p, const char *name,
                         const sacme_sdir_t *staged)
{
    sacme_sdir_t *adir, *rdir;
    char *data;
    apr_size_t len;
    static const char *const files[] = { SACME_FILE_CHAIN, SACME_FILE_KEY };
    apr_size_t i;

    if (sacme_store_open_in(store, p, SACME_SG_ARCHIVE, name, 1, &adir, NULL)
            != APR_SUCCESS
        || sacme_sdir_open(adir, apr_pstrcat(p, "refused-", stamp(p), NULL), 1, 0700,
                           SACME_SDIR_ANY_OWNER, p, &rdir, NULL) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < SACME_ARRAY_LEN(files); ++i) {
        /* Read as the checks allow; a file refused for its owner or links
         * is not copied (its content may not even be the driver's). */
        if (sacme_sdir_read(staged, files[i], SACME_MAX_RESPONSE, 0, p, &data, &len, NULL)
                == APR_SUCCESS) {
            sacme_sdir_write(rdir, files[i], data, len, SACME_MODE_KEY, 0, p, NULL);
            memset(data, 0, len);
        }
    }
}

/* Swaps new_name in for name in domains/, the old set to the archive. */
static apr_status_t swap_in(const sacme_store_t *store, apr_pool_t *p,
                            const sacme_sdir_t *domains, const char *name,
                            const char *new_name, sacme_result_t *res)
{
    struct stat st;
    apr_status_t rv;

    if (sacme_sdir_stat(domains, name, &st) == 0) {
        sacme_sdir_t *adir;
        rv = sacme_store_open_in(store, p, SACME_SG_ARCHIVE, name, 1, &adir, res);
        if (rv == APR_SUCCESS) {
            rv = sacme_sdir_rename(domains, name, adir, stamp(p), res);
        }
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "cannot archive the set in service");
            return rv;
        }
    }
    rv = sacme_sdir_rename(domains, new_name, domains, name, res);
    if (rv == APR_SUCCESS && fsync(domains->fd) != 0) {
        /* renamed all the same; only its durability is in doubt */
        rv = APR_SUCCESS;
    }
    return rv;
}

apr_status_t sacme_store_promote(const sacme_store_t *store, apr_pool_t *p,
                                 const char *name,
                                 const apr_array_header_t *names,
                                 sacme_store_verify_fn *verify, void *baton,
                                 sacme_promote_t *outcome, sacme_certset_t **live,
                                 sacme_result_t *res)
{
    const char *new_name = apr_pstrcat(p, name, ".new", NULL);
    sacme_sdir_t *staged, *domains, *new_dir;
    sacme_certset_t *set = NULL;
    apr_status_t rv;

    /* Each node of a cluster promotes its own copy of the staged set: its
     * removal here is no news for the others. */
    store = sacme_store_muted(store, p);
    *outcome = SACME_PROMOTE_FAILED;
    rv = sacme_store_open_in(store, p, SACME_SG_STAGING, name, 0, &staged, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = read_set(staged, p, &set, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_chain_check(set->chain, set->key, names, apr_time_now(), res);
    }
    if (rv == APR_SUCCESS && verify) {
        rv = verify(baton, set->chain, res);
    }
    if (rv != APR_SUCCESS) {
        /* Out of the way of the next attempt, and of the monitor, which
         * would otherwise restart for it again and again. */
        keep_refused(store, p, name, staged);
        sacme_store_unstage(store, p, name, SACME_UNSTAGE_CHAIN | SACME_UNSTAGE_KEY);
        *outcome = SACME_PROMOTE_REFUSED;
        return rv;
    }
    /* New set complete in domains/<name>.new, written by this process from
     * what it read and checked, then two renames: the old set to the
     * archive, the new one into place. A crash between them leaves
     * <name>.new, which sacme_store_recover() finishes. */
    rv = sacme_store_open_group(store, p, SACME_SG_DOMAINS, &domains, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_sdir_open(domains, new_name, 1, 0755, SACME_SDIR_ANY_OWNER, p, &new_dir,
                             res);
    }
    if (rv == APR_SUCCESS) {
        rv = write_set(new_dir, p, set, res);
    }
    if (rv == APR_SUCCESS) {
        rv = count_activation(store, p, name, new_dir, res);
    }
    if (rv == APR_SUCCESS) {
        rv = swap_in(store, p, domains, name, new_name, res);
    }
    if (rv != APR_SUCCESS) {
        /* The store's failure, not the set's: it stays staged. */
        return rv;
    }
    sacme_store_unstage(store, p, name, SACME_UNSTAGE_CHAIN | SACME_UNSTAGE_KEY);
    *outcome = SACME_PROMOTE_DONE;
    if (live) {
        *live = set;
    }
    return APR_SUCCESS;
}

const char *sacme_store_staged_id(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, apr_time_t *staged_at)
{
    sacme_sdir_t *dir;
    struct stat st;

    if (!sacme_store_has_set(store, p, SACME_GROUP_STAGING, name)
        || sacme_store_open_in(store, p, SACME_SG_STAGING, name, 0, &dir, NULL)
               != APR_SUCCESS
        || sacme_sdir_stat(dir, SACME_FILE_CHAIN, &st) != 0) {
        return NULL;
    }
    if (staged_at) {
        *staged_at = apr_time_from_sec(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000;
    }
    return apr_psprintf(p, "%lu:%ld.%09ld:%ld", (unsigned long)st.st_ino,
                        (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
                        (long)st.st_size);
}

void sacme_store_recover(const sacme_store_t *store, apr_pool_t *p,
                         const char *name)
{
    const char *new_name = apr_pstrcat(p, name, ".new", NULL);
    sacme_sdir_t *domains, *new_dir;
    struct stat st;

    if (sacme_store_open_group(store, p, SACME_SG_DOMAINS, &domains, NULL) != APR_SUCCESS
        || sacme_sdir_stat(domains, new_name, &st) != 0) {
        return;
    }
    if (sacme_sdir_open(domains, new_name, 0, 0, SACME_SDIR_ANY_OWNER, p, &new_dir, NULL)
            != APR_SUCCESS) {
        return;
    }
    if (sacme_sdir_stat(domains, name, &st) != 0
        && sacme_sdir_has_file(new_dir, SACME_FILE_KEY)
        && sacme_sdir_has_file(new_dir, SACME_FILE_CHAIN)) {
        sacme_sdir_rename(domains, new_name, domains, name, NULL);
        return;
    }
    sacme_sdir_remove(new_dir, SACME_FILE_KEY, NULL);
    sacme_sdir_remove(new_dir, SACME_FILE_CHAIN, NULL);
    sacme_sdir_remove(new_dir, SACME_FILE_HISTORY, NULL);
    sacme_sdir_rmdir(domains, new_name, NULL);
}
