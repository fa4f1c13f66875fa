/* The store: layout, certificate sets, promotion of staged sets. */
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_uri.h>
#include <openssl/sha.h>

#include "sacme_store.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_time.h"

static const char *const GROUPS[] = {
    SACME_GROUP_ACCOUNTS, SACME_GROUP_STAGING, SACME_GROUP_CHALLENGES,
    SACME_GROUP_DOMAINS, SACME_GROUP_ARCHIVE, SACME_GROUP_FALLBACK,
    SACME_GROUP_REQUESTS,
};

sacme_store_t *sacme_store_make(apr_pool_t *p, const char *base)
{
    sacme_store_t *store = apr_pcalloc(p, sizeof(*store));
    store->base = apr_pstrdup(p, base);
    return store;
}

const char *sacme_store_path(const sacme_store_t *store, apr_pool_t *p,
                             const char *group, const char *name,
                             const char *file)
{
    return apr_pstrcat(p, store->base,
                       group ? "/" : "", group ? group : "",
                       name ? "/" : "", name ? name : "",
                       file ? "/" : "", file ? file : "", NULL);
}

/* 0600: an fcntl lock needs a descriptor open for writing, and only root
 * and the httpd User (who owns it) may take it. */
static apr_status_t open_lock(const sacme_store_t *store, apr_pool_t *p,
                              apr_file_t **f, sacme_result_t *res)
{
    const char *path = sacme_store_path(store, p, SACME_FILE_LOCK, NULL, NULL);
    apr_status_t rv = apr_file_open(f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                    SACME_FPROT_PRIVATE, p);

    if (rv != APR_SUCCESS) {
        char ebuf[256];
        return sacme_result_set(res, rv, "cannot open the store lock %s: %s", path,
                                apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    return APR_SUCCESS;
}

apr_status_t sacme_store_lock(const sacme_store_t *store, apr_pool_t *p,
                              int wait, apr_file_t **lock, sacme_result_t *res)
{
    apr_file_t *f;
    apr_status_t rv;

    if ((rv = open_lock(store, p, &f, res)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_lock(f, APR_FLOCK_EXCLUSIVE | (wait ? 0 : APR_FLOCK_NONBLOCK));
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return sacme_result_set(res, APR_EAGAIN, "the store lock %s is held",
                                    sacme_store_path(store, p, SACME_FILE_LOCK,
                                                     NULL, NULL));
        }
        return sacme_result_set(res, rv, "cannot lock %s",
                                sacme_store_path(store, p, SACME_FILE_LOCK, NULL, NULL));
    }
    *lock = f;
    return APR_SUCCESS;
}

void sacme_store_unlock(apr_file_t *lock)
{
    if (lock) {
        apr_file_unlock(lock);
        apr_file_close(lock);
    }
}

apr_status_t sacme_store_setup(const sacme_store_t *store, apr_pool_t *p,
                               sacme_result_t *res)
{
    const char *vpath = sacme_store_path(store, p, "store.json", NULL, NULL);
    apr_status_t rv;
    apr_size_t i;
    json_t *j;

    /* The version first: a store of a newer format is left untouched. */
    if (sacme_file_exists(vpath, p)) {
        json_t *v;
        if (!(j = sacme_json_read_file(p, vpath, 4096, res))) {
            return res ? res->status : APR_EINVAL;
        }
        v = json_object_get(j, "version");
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > SACME_STORE_VERSION) {
            return sacme_result_set(res, APR_EINVAL,
                                    "the store %s has format version %s, which this "
                                    "mod_sacme (format %d) does not understand",
                                    store->base, v ? sacme_json_dump(p, v) : "(none)",
                                    SACME_STORE_VERSION);
        }
    }
    rv = sacme_file_mkdirs(store->base, SACME_FPROT_DIR_PUBLIC, p, res);
    for (i = 0; rv == APR_SUCCESS && i < SACME_ARRAY_LEN(GROUPS); ++i) {
        rv = sacme_file_mkdirs(sacme_store_path(store, p, GROUPS[i], NULL, NULL),
                               SACME_FPROT_DIR_PUBLIC, p, res);
    }
    /* The lock file exists before the driver runs: as the httpd User it
     * cannot create files in the base directory. */
    if (rv == APR_SUCCESS) {
        apr_file_t *f;
        if ((rv = open_lock(store, p, &f, res)) == APR_SUCCESS) {
            apr_file_close(f);
        }
    }
    if (rv != APR_SUCCESS || sacme_file_exists(vpath, p)) {
        return rv;
    }
    j = sacme_json_own(p, json_object());
    json_object_set_new(j, "version", json_integer(SACME_STORE_VERSION));
    return sacme_json_write_file(j, vpath, SACME_FPROT_PUBLIC, p, res);
}

const char *sacme_store_account_dir(const sacme_store_t *store, apr_pool_t *p,
                                    const char *server_url, const char *kid)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *id = apr_pstrcat(p, server_url, "\n", kid ? kid : "", NULL);
    apr_uri_t uri;
    const char *host = "ca";
    char hex[17];
    int i;

    /* The hash keeps one account per (CA, kid) apart; the host keeps the
     * directory name readable for an admin. */
    SHA256((const unsigned char *)id, strlen(id), md);
    for (i = 0; i < 8; ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    if (apr_uri_parse(p, server_url, &uri) == APR_SUCCESS && uri.hostname) {
        host = uri.hostname;
    }
    return sacme_store_path(store, p, SACME_GROUP_ACCOUNTS,
                            apr_pstrcat(p, host, "-", hex, NULL), NULL);
}

int sacme_store_has_set(const sacme_store_t *store, apr_pool_t *p,
                        const char *group, const char *name)
{
    return sacme_file_exists(sacme_store_path(store, p, group, name, SACME_FILE_KEY), p)
        && sacme_file_exists(sacme_store_path(store, p, group, name, SACME_FILE_CHAIN), p);
}

static apr_status_t load_chain(const sacme_store_t *store, apr_pool_t *p,
                               const char *group, const char *name, int leaf_only,
                               sacme_chain_t **chain, sacme_result_t *res)
{
    const char *path = sacme_store_path(store, p, group, name, SACME_FILE_CHAIN);
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_file_read(path, SACME_MAX_RESPONSE, p, &data, &len, res);
    if (rv == APR_SUCCESS) {
        rv = leaf_only ? sacme_chain_parse_leaf(p, data, len, chain, res)
                       : sacme_chain_parse(p, data, len, chain, res);
        if (rv != APR_SUCCESS) {
            sacme_result_prefix(res, "%s", path);
        }
    }
    return rv;
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

apr_status_t sacme_store_load_set(const sacme_store_t *store, apr_pool_t *p,
                                  const char *group, const char *name,
                                  sacme_certset_t **pset, sacme_result_t *res)
{
    sacme_certset_t *set = apr_pcalloc(p, sizeof(*set));
    apr_status_t rv;

    set->key_file = sacme_store_path(store, p, group, name, SACME_FILE_KEY);
    set->chain_file = sacme_store_path(store, p, group, name, SACME_FILE_CHAIN);
    if (!sacme_file_exists(set->key_file, p) || !sacme_file_exists(set->chain_file, p)) {
        return sacme_result_set(res, APR_ENOENT, "no certificate set in %s",
                                sacme_store_path(store, p, group, name, NULL));
    }
    rv = sacme_key_load(p, set->key_file, &set->key, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_store_load_chain(store, p, group, name, &set->chain, res);
    }
    if (rv == APR_SUCCESS) {
        *pset = set;
    }
    return rv;
}

apr_status_t sacme_store_remove(const sacme_store_t *store, apr_pool_t *p,
                                const char *group, const char *name,
                                const char *file)
{
    const char *path = sacme_store_path(store, p, group, name, file);
    apr_status_t rv = apr_file_remove(path, p);
    return (rv == APR_SUCCESS || APR_STATUS_IS_ENOENT(rv)) ? APR_SUCCESS : rv;
}

/* Writes a set into dir as fresh files of this process (root, when the
 * parent promotes): the key first, so a chain never exists without it. */
static apr_status_t write_set(apr_pool_t *p, const char *dir,
                              const sacme_certset_t *set, sacme_result_t *res)
{
    const char *key_pem = sacme_key_to_pem(set->key, p);
    const char *chain_pem = sacme_chain_pem(set->chain, p);
    apr_status_t rv;

    rv = sacme_file_mkdirs(dir, SACME_FPROT_DIR_PUBLIC, p, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_file_write_atomic(apr_pstrcat(p, dir, "/" SACME_FILE_KEY, NULL),
                                     key_pem, strlen(key_pem), SACME_FPROT_PRIVATE,
                                     p, res);
    }
    if (rv == APR_SUCCESS) {
        rv = sacme_file_write_atomic(apr_pstrcat(p, dir, "/" SACME_FILE_CHAIN, NULL),
                                     chain_pem, strlen(chain_pem), SACME_FPROT_PUBLIC,
                                     p, res);
    }
    return rv;
}

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

static void drop_staged(const sacme_store_t *store, apr_pool_t *p, const char *name)
{
    sacme_store_remove(store, p, SACME_GROUP_STAGING, name, SACME_FILE_CHAIN);
    sacme_store_remove(store, p, SACME_GROUP_STAGING, name, SACME_FILE_KEY);
}

/* The new set carries the count of activations, one more than the set it
 * replaces: the status page's renewal counter survives restarts, and the
 * archive (root's alone) need not be listed to tell it. */
static apr_status_t count_activation(apr_pool_t *p, const char *live_dir,
                                     const char *new_dir, sacme_result_t *res)
{
    const char *old = apr_pstrcat(p, live_dir, "/" SACME_FILE_HISTORY, NULL);
    json_t *h = sacme_file_exists(old, p) ? sacme_json_read_file(p, old, 4096, NULL) : NULL;
    json_int_t n = json_integer_value(json_object_get(h, "activations"));
    json_t *j = sacme_json_own(p, json_object());

    json_object_set_new(j, "activations", json_integer(n + 1));
    json_object_set_new(j, "activated", json_string(sacme_time_rfc3339(p, apr_time_now())));
    return sacme_json_write_file(j, apr_pstrcat(p, new_dir, "/" SACME_FILE_HISTORY, NULL),
                                 SACME_FPROT_PUBLIC, p, res);
}

apr_status_t sacme_store_promote(const sacme_store_t *store, apr_pool_t *p,
                                 const char *name,
                                 const apr_array_header_t *names,
                                 const sacme_trust_t *trust,
                                 int *promoted, sacme_certset_t **live,
                                 sacme_result_t *res)
{
    sacme_certset_t *set;
    const char *live_dir = sacme_store_path(store, p, SACME_GROUP_DOMAINS, name, NULL);
    const char *new_dir = apr_pstrcat(p, live_dir, ".new", NULL);
    apr_status_t rv;

    *promoted = 0;
    rv = sacme_store_load_set(store, p, SACME_GROUP_STAGING, name, &set, res);
    if (rv == APR_SUCCESS) {
        rv = sacme_chain_check(set->chain, set->key, names, apr_time_now(), res);
    }
    if (rv == APR_SUCCESS) {
        rv = sacme_trust_verify(trust, set->chain, apr_time_now(), res);
    }
    if (rv != APR_SUCCESS) {
        /* Keep the evidence, out of the way of the next attempt. */
        const char *refused = sacme_store_path(store, p, SACME_GROUP_STAGING, name,
                                               apr_pstrcat(p, "refused-", stamp(p), NULL));
        if (sacme_file_mkdirs(refused, SACME_FPROT_DIR_PRIVATE, p, NULL) == APR_SUCCESS) {
            apr_file_rename(sacme_store_path(store, p, SACME_GROUP_STAGING, name,
                                             SACME_FILE_CHAIN),
                            apr_pstrcat(p, refused, "/" SACME_FILE_CHAIN, NULL), p);
            apr_file_rename(sacme_store_path(store, p, SACME_GROUP_STAGING, name,
                                             SACME_FILE_KEY),
                            apr_pstrcat(p, refused, "/" SACME_FILE_KEY, NULL), p);
        }
        drop_staged(store, p, name);
        return rv;
    }
    /* New set complete in domains/<name>.new, then two renames: the old set
     * to the archive, the new one into place. A crash between them leaves
     * <name>.new, which sacme_store_recover() finishes. */
    rv = write_set(p, new_dir, set, res);
    if (rv == APR_SUCCESS) {
        rv = count_activation(p, live_dir, new_dir, res);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (sacme_file_exists(live_dir, p)) {
        const char *adir = sacme_store_path(store, p, SACME_GROUP_ARCHIVE, name, NULL);
        rv = sacme_file_mkdirs(adir, SACME_FPROT_DIR_PRIVATE, p, res);
        if (rv == APR_SUCCESS) {
            rv = apr_file_rename(live_dir, apr_pstrcat(p, adir, "/", stamp(p), NULL), p);
            if (rv != APR_SUCCESS) {
                sacme_result_set(res, rv, "cannot archive %s", live_dir);
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = apr_file_rename(new_dir, live_dir, p);
    if (rv != APR_SUCCESS) {
        return sacme_result_set(res, rv, "cannot move %s into place", new_dir);
    }
    drop_staged(store, p, name);
    set->key_file = apr_pstrcat(p, live_dir, "/" SACME_FILE_KEY, NULL);
    set->chain_file = apr_pstrcat(p, live_dir, "/" SACME_FILE_CHAIN, NULL);
    *promoted = 1;
    if (live) {
        *live = set;
    }
    return APR_SUCCESS;
}

void sacme_store_recover(const sacme_store_t *store, apr_pool_t *p,
                         const char *name)
{
    const char *live_dir = sacme_store_path(store, p, SACME_GROUP_DOMAINS, name, NULL);
    const char *new_dir = apr_pstrcat(p, live_dir, ".new", NULL);

    if (!sacme_file_exists(new_dir, p)) {
        return;
    }
    if (!sacme_file_exists(live_dir, p)
        && sacme_store_has_set(store, p, SACME_GROUP_DOMAINS,
                               apr_pstrcat(p, name, ".new", NULL))) {
        apr_file_rename(new_dir, live_dir, p);
        return;
    }
    apr_file_remove(apr_pstrcat(p, new_dir, "/" SACME_FILE_KEY, NULL), p);
    apr_file_remove(apr_pstrcat(p, new_dir, "/" SACME_FILE_CHAIN, NULL), p);
    apr_dir_remove(new_dir, p);
}
