/* The store: layout, owners, set-up, JSON state, challenges, accounts, the
 * lock (sacme_store.h). Certificate sets are in sacme_store_set.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_uri.h>
#include <openssl/sha.h>

#include "sacme_store_int.h"
#include "sacme_ca.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_rand.h"

/* Each part: its name, whether the driver's account owns it, its mode and
 * the mode of a domain's (or account's) directory in it. The driver's
 * parts that request children read are setgid to the httpd Group, so what
 * the driver makes inside carries that group without a chown. */
static const struct {
    const char *name;
    int driver;
    mode_t mode;
    mode_t sub_mode;
} PARTS[SACME_SG_COUNT] = {
    [SACME_SG_ACCOUNTS]   = { SACME_GROUP_ACCOUNTS,   1, 0700,  0700 },
    [SACME_SG_STAGING]    = { SACME_GROUP_STAGING,    1, 02750, 0750 },
    [SACME_SG_CHALLENGES] = { SACME_GROUP_CHALLENGES, 1, 02750, 0750 },
    [SACME_SG_REQUESTS]   = { SACME_GROUP_REQUESTS,   1, 02750, 0750 },
    [SACME_SG_DOMAINS]    = { SACME_GROUP_DOMAINS,    0, 0755,  0755 },
    [SACME_SG_ARCHIVE]    = { SACME_GROUP_ARCHIVE,    0, 0700,  0700 },
    [SACME_SG_FALLBACK]   = { SACME_GROUP_FALLBACK,   0, 0755,  0755 },
};

/* JSON state: where it lives, its bound and its mode. */
#define IN_BASE (-1)
static const struct {
    int group;                 /* a part, or IN_BASE */
    const char *file;          /* NULL: "<name>.json" in the part itself */
    apr_size_t max;
    mode_t mode;
} STATES[] = {
    [SACME_STATE_JOB]     = { SACME_SG_STAGING,  SACME_FILE_JOB,   256 * 1024, SACME_MODE_SHARED },
    [SACME_STATE_ORDER]   = { SACME_SG_STAGING,  SACME_FILE_ORDER, 256 * 1024, SACME_MODE_SHARED },
    [SACME_STATE_ALERTS]  = { SACME_SG_STAGING,  "alerts.json",    256 * 1024, SACME_MODE_SHARED },
    [SACME_STATE_ISSUED]  = { SACME_SG_STAGING,  "issued.json",    16 * 1024,  SACME_MODE_SHARED },
    [SACME_STATE_REQUEST] = { SACME_SG_REQUESTS, NULL,             16 * 1024,  SACME_MODE_SHARED },
    [SACME_STATE_HISTORY] = { SACME_SG_DOMAINS,  SACME_FILE_HISTORY, 4096,     SACME_MODE_PUBLIC },
    [SACME_STATE_MANAGED] = { IN_BASE,           "managed.json", 16 * 1024 * 1024, SACME_MODE_PUBLIC },
    [SACME_STATE_VERSION] = { IN_BASE,           "store.json",     4096,       SACME_MODE_PUBLIC },
    [SACME_STATE_ARI]     = { SACME_SG_STAGING,  "ari.json",       16 * 1024,  SACME_MODE_SHARED },
    [SACME_STATE_DNS]     = { SACME_SG_STAGING,  "dns.json",       256 * 1024, SACME_MODE_SHARED },
    [SACME_STATE_CLUSTER] = { SACME_SG_STAGING,  "cluster.json",   256 * 1024, SACME_MODE_SHARED },
};

sacme_store_t *sacme_store_make(apr_pool_t *p, const char *base)
{
    sacme_store_t *store = apr_pcalloc(p, sizeof(*store));

    store->base = apr_pstrdup(p, base);
    store->driver_uid = geteuid();
    store->driver_gid = getegid();
    store->web_gid = getegid();
    return store;
}

void sacme_store_set_owners(sacme_store_t *store, uid_t driver_uid, gid_t driver_gid,
                            gid_t web_gid)
{
    store->driver_uid = driver_uid;
    store->driver_gid = driver_gid;
    store->web_gid = web_gid;
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

/* --- opening the parts ------------------------------------------------------ */

apr_status_t sacme_store_open_base(const sacme_store_t *store, apr_pool_t *p,
                                   sacme_sdir_t **dir, sacme_result_t *res)
{
    return sacme_sdir_open_path(p, store->base, 0, 0, dir, res);
}

static uid_t part_owner(const sacme_store_t *store, sacme_sgroup_t group)
{
    return PARTS[group].driver ? store->driver_uid : SACME_SDIR_ANY_OWNER;
}

apr_status_t sacme_store_open_group(const sacme_store_t *store, apr_pool_t *p,
                                    sacme_sgroup_t group, sacme_sdir_t **dir,
                                    sacme_result_t *res)
{
    sacme_sdir_t *base;
    apr_status_t rv = sacme_store_open_base(store, p, &base, res);

    if (rv == APR_SUCCESS) {
        rv = sacme_sdir_open(base, PARTS[group].name, 0, 0, part_owner(store, group),
                             p, dir, res);
    }
    return rv;
}

apr_status_t sacme_store_open_in(const sacme_store_t *store, apr_pool_t *p,
                                 sacme_sgroup_t group, const char *name, int create,
                                 sacme_sdir_t **dir, sacme_result_t *res)
{
    sacme_sdir_t *g;
    apr_status_t rv = sacme_store_open_group(store, p, group, &g, res);

    if (rv == APR_SUCCESS) {
        rv = sacme_sdir_open(g, name, create, PARTS[group].sub_mode,
                             SACME_SDIR_ANY_OWNER, p, dir, res);
    }
    if (rv == APR_SUCCESS) {
        sacme_store_watch(store, p, group, name, *dir);
    }
    return rv;
}

int sacme_store_set_group(const char *group)
{
    if (group && !strcmp(group, SACME_GROUP_STAGING)) {
        return SACME_SG_STAGING;
    }
    if (group && !strcmp(group, SACME_GROUP_DOMAINS)) {
        return SACME_SG_DOMAINS;
    }
    return -1;
}

/* --- set-up ----------------------------------------------------------------- */

/* Gives a part its owner, group and mode. A part of another account (the
 * driver's account changed: SacmeDriverUser set or removed) is taken over
 * with everything in it, each entry on its own descriptor. */
static apr_status_t setup_part(const sacme_store_t *store, apr_pool_t *p,
                               sacme_sdir_t *base, sacme_sgroup_t g, int *taken,
                               sacme_result_t *res)
{
    const int root = geteuid() == 0;
    uid_t uid = PARTS[g].driver ? store->driver_uid : base->uid;
    gid_t gid = !PARTS[g].driver ? base->gid
                : g == SACME_SG_ACCOUNTS ? store->driver_gid : store->web_gid;
    sacme_sdir_t *d;
    struct stat st;
    apr_status_t rv;
    int take = 0;

    if (sacme_sdir_stat(base, PARTS[g].name, &st) != 0) {
        rv = sacme_sdir_open(base, PARTS[g].name, 1, PARTS[g].mode & 0777, uid, p, &d,
                             res);
    }
    else if (root && S_ISDIR(st.st_mode) && st.st_uid != uid) {
        rv = sacme_sdir_open(base, PARTS[g].name, 0, 0, st.st_uid, p, &d, res);
        take = 1;
    }
    else {
        rv = sacme_sdir_open(base, PARTS[g].name, 0, 0, uid, p, &d, res);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (root || d->uid == geteuid()) {
        rv = sacme_sdir_own(d, root ? uid : d->uid, root ? gid : d->gid,
                            PARTS[g].mode, res);
    }
    if (rv == APR_SUCCESS && take) {
        /* accounts/<id>/, staging/<d>/refused-<t>/ (older stores): three
         * levels at most. */
        rv = sacme_sdir_own_tree(d, 3, p, res);
        *taken = 1;
    }
    return rv;
}

/* The lock file exists before the driver runs, its: as the driver it
 * could not create files in the base directory. */
static apr_status_t setup_lock(const sacme_store_t *store, sacme_sdir_t *base,
                               sacme_result_t *res)
{
    int fd = openat(base->fd, SACME_FILE_LOCK,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return sacme_result_set(res, APR_FROM_OS_ERROR(errno), "cannot open the store "
                                "lock %s/%s%s", store->base, SACME_FILE_LOCK,
                                errno == ELOOP ? ": it is a symbolic link" : "");
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        rv = sacme_result_set(res, SACME_EUNSAFE, "refusing the store lock %s/%s: not a "
                              "regular file of one link; remove it", store->base,
                              SACME_FILE_LOCK);
    }
    else if (geteuid() == 0 && (fchown(fd, store->driver_uid, store->driver_gid) != 0
                                || fchmod(fd, 0600) != 0)) {
        rv = sacme_result_set(res, APR_FROM_OS_ERROR(errno), "cannot give the store lock "
                              "%s/%s to the driver's account", store->base,
                              SACME_FILE_LOCK);
    }
    close(fd);
    return rv;
}

/* The jitter seed in store.json: 16 hex digits, random, made once. */
#define SEED_KEY "jitter-seed"

/* Gives j a seed when it has none; whether it did. */
static int add_seed(json_t *j)
{
    char hex[17];

    if (json_is_string(json_object_get(j, SEED_KEY))) {
        return 0;
    }
    apr_snprintf(hex, sizeof(hex), "%016" APR_UINT64_T_HEX_FMT, sacme_rand_u64());
    json_object_set_new(j, SEED_KEY, json_string(hex));
    return 1;
}

apr_uint64_t sacme_store_jitter_seed(const sacme_store_t *store, apr_pool_t *p)
{
    json_t *j = sacme_store_state_load(store, p, SACME_STATE_VERSION, NULL, NULL);
    const char *hex = sacme_json_str(j, SEED_KEY);
    apr_uint64_t seed = 0;
    const char *c;

    if (!hex || strlen(hex) != 16) {
        return 0;
    }
    for (c = hex; *c; ++c) {
        if (!apr_isxdigit(*c)) {
            return 0;
        }
        seed = seed << 4 | (apr_uint64_t)(apr_isdigit(*c) ? *c - '0'
                                                          : apr_tolower(*c) - 'a' + 10);
    }
    return seed;
}

apr_status_t sacme_store_setup(const sacme_store_t *store, apr_pool_t *p,
                               int *taken_over, sacme_result_t *res)
{
    const char *parent = apr_pstrndup(p, store->base, (apr_size_t)(
                             strrchr(store->base, '/') ? strrchr(store->base, '/')
                                                         - store->base : 0));
    sacme_sdir_t *base;
    apr_status_t rv;
    json_t *j, *v;
    int i, taken = 0;

    if (*parent && (rv = sacme_file_mkdirs(parent, SACME_FPROT_DIR_PUBLIC, p, res))
                       != APR_SUCCESS) {
        return rv;
    }
    if ((rv = sacme_sdir_open_path(p, store->base, 1, 0755, &base, res)) != APR_SUCCESS) {
        return rv;
    }
    /* The version first: a store of a newer format is left untouched. */
    if (sacme_sdir_stat(base, STATES[SACME_STATE_VERSION].file, &(struct stat){0}) == 0) {
        if (!(j = sacme_store_state_load(store, p, SACME_STATE_VERSION, NULL, res))) {
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
    for (i = 0; i < SACME_SG_COUNT; ++i) {
        if ((rv = setup_part(store, p, base, (sacme_sgroup_t)i, &taken, res))
                != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = setup_lock(store, base, res)) != APR_SUCCESS) {
        return rv;
    }
    if (sacme_sdir_stat(base, STATES[SACME_STATE_VERSION].file, &(struct stat){0}) != 0) {
        j = sacme_json_own(p, json_object());
        json_object_set_new(j, "version", json_integer(SACME_STORE_VERSION));
        add_seed(j);
        rv = sacme_store_state_save(store, p, SACME_STATE_VERSION, NULL, j, res);
    }
    else if ((j = sacme_store_state_load(store, p, SACME_STATE_VERSION, NULL, NULL))
             && add_seed(j)) {
        /* A store made before the seed existed gets one now. Not being
         * able to write it is no reason to stop: without a seed the
         * jitter is the name's alone, as it was. */
        sacme_store_state_save(store, p, SACME_STATE_VERSION, NULL, j, NULL);
    }
    if (taken_over) {
        *taken_over = taken;
    }
    return rv;
}

/* --- JSON state ------------------------------------------------------------- */

static apr_status_t state_dir(const sacme_store_t *store, apr_pool_t *p,
                              sacme_state_t which, const char *name, int create,
                              sacme_sdir_t **dir, const char **file, sacme_result_t *res)
{
    int g = STATES[which].group;

    if (g == IN_BASE) {
        *file = STATES[which].file;
        return sacme_store_open_base(store, p, dir, res);
    }
    if (!sacme_sdir_name_ok(name) && !(name && name[0] == '-' && name[1])) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is not a usable name in the store",
                                name ? name : "(none)");
    }
    if (!STATES[which].file) {
        apr_status_t rv = sacme_store_open_group(store, p, (sacme_sgroup_t)g, dir, res);
        *file = apr_pstrcat(p, name, ".json", NULL);
        if (rv == APR_SUCCESS) {
            sacme_store_watch(store, p, (sacme_sgroup_t)g, NULL, *dir);
        }
        return rv;
    }
    *file = STATES[which].file;
    return sacme_store_open_in(store, p, (sacme_sgroup_t)g, name, create, dir, res);
}

int sacme_store_state_in(sacme_sgroup_t group, const char *name, const char *file,
                         apr_size_t *max)
{
    const size_t n = strlen(name);
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(STATES); ++i) {
        if (STATES[i].group != (int)group) {
            continue;
        }
        if (STATES[i].file ? !strcmp(file, STATES[i].file)
                           : !strncmp(file, name, n) && !strcmp(file + n, ".json")) {
            *max = STATES[i].max;
            return (int)i;
        }
    }
    return -1;
}

json_t *sacme_store_state_load(const sacme_store_t *store, apr_pool_t *p,
                               sacme_state_t which, const char *name,
                               sacme_result_t *res)
{
    sacme_sdir_t *dir;
    const char *file;
    char *data;
    apr_size_t len;
    json_t *j;

    if (state_dir(store, p, which, name, 0, &dir, &file, res) != APR_SUCCESS
        || sacme_sdir_read(dir, file, STATES[which].max, 0, p, &data, &len, res)
               != APR_SUCCESS) {
        return NULL;
    }
    if (!(j = sacme_json_parse(p, data, len, 0, res))) {
        sacme_result_prefix(res, "%s/%s", dir->path, file);
    }
    return j;
}

apr_status_t sacme_store_state_save(const sacme_store_t *store, apr_pool_t *p,
                                    sacme_state_t which, const char *name,
                                    const json_t *j, sacme_result_t *res)
{
    sacme_sdir_t *dir;
    const char *file;
    apr_status_t rv;
    char *s;

    if ((rv = state_dir(store, p, which, name, 1, &dir, &file, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!(s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS))) {
        return sacme_result_set(res, APR_ENOMEM, "cannot serialise %s/%s", dir->path, file);
    }
    rv = sacme_sdir_write(dir, file, s, strlen(s), STATES[which].mode, SACME_SDIR_DURABLE,
                          p, res);
    free(s);
    return rv;
}

apr_status_t sacme_store_state_remove(const sacme_store_t *store, apr_pool_t *p,
                                      sacme_state_t which, const char *name,
                                      sacme_result_t *res)
{
    sacme_sdir_t *dir;
    const char *file;
    sacme_result_t *scratch = sacme_result_make(p);

    if (state_dir(store, p, which, name, 0, &dir, &file, scratch) != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(scratch->status) ? APR_SUCCESS
               : sacme_result_set(res, scratch->status, "%s",
                                  sacme_result_message(scratch, p));
    }
    return sacme_sdir_remove(dir, file, res);
}

apr_status_t sacme_store_state_names(const sacme_store_t *store, apr_pool_t *p,
                                     sacme_state_t which, int max,
                                     apr_array_header_t **names, sacme_result_t *res)
{
    apr_array_header_t *all;
    sacme_sdir_t *g, *dir;
    apr_status_t rv;
    int i;

    *names = apr_array_make(p, 4, sizeof(const char *));
    if (STATES[which].group != SACME_SG_STAGING || !STATES[which].file) {
        return sacme_result_set(res, APR_EINVAL, "not a state of staging/");
    }
    if ((rv = sacme_store_open_group(store, p, SACME_SG_STAGING, &g, res)) != APR_SUCCESS
        || (rv = sacme_sdir_list(g, p, 100000, &all, res)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < all->nelts && (*names)->nelts < max; ++i) {
        const char *name = APR_ARRAY_IDX(all, i, const char *);
        /* '-': the webhook spools, no domain's */
        if (name[0] == '-' || !sacme_sdir_name_ok(name) || sacme_sdir_is_temporary(name)
            || sacme_store_open_in(store, p, SACME_SG_STAGING, name, 0, &dir, NULL)
                   != APR_SUCCESS) {
            continue;
        }
        if (sacme_sdir_has_file(dir, STATES[which].file)) {
            APR_ARRAY_PUSH(*names, const char *) = name;
        }
    }
    return APR_SUCCESS;
}

apr_time_t sacme_store_requests_stamp(const sacme_store_t *store, apr_pool_t *p)
{
    sacme_sdir_t *dir;
    struct stat st;

    if (sacme_store_open_group(store, p, SACME_SG_REQUESTS, &dir, NULL) != APR_SUCCESS
        || fstat(dir->fd, &st) != 0) {
        return 0;
    }
    return apr_time_from_sec(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000;
}

/* --- challenges ------------------------------------------------------------- */

apr_status_t sacme_store_challenge_put(const sacme_store_t *store, apr_pool_t *p,
                                       const char *name, const char *token,
                                       const char *key_authz, sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_CHALLENGES, name, 1, &dir,
                                          res);

    return rv != APR_SUCCESS ? rv
           : sacme_sdir_write(dir, token, key_authz, strlen(key_authz), SACME_MODE_SHARED,
                              0, p, res);
}

apr_status_t sacme_store_challenge_remove(const sacme_store_t *store, apr_pool_t *p,
                                          const char *name, const char *token,
                                          sacme_result_t *res)
{
    sacme_sdir_t *dir;

    if (sacme_store_open_in(store, p, SACME_SG_CHALLENGES, name, 0, &dir, NULL)
            != APR_SUCCESS) {
        return APR_SUCCESS;             /* nothing published there */
    }
    return sacme_sdir_remove(dir, token, res);
}

apr_status_t sacme_store_challenge_get(const sacme_store_t *store, apr_pool_t *p,
                                       const char *name, const char *token,
                                       apr_size_t max, char **data, apr_size_t *len,
                                       sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_CHALLENGES, name, 0, &dir,
                                          res);

    return rv != APR_SUCCESS ? rv : sacme_sdir_read(dir, token, max, 0, p, data, len, res);
}

/* The tls-alpn-01 answer is written like an http-01 one (the same
 * directory, mode and reasons to skip the fsync), under a fixed name. */
apr_status_t sacme_store_alpn_put(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, const char *pem,
                                  sacme_result_t *res)
{
    return sacme_store_challenge_put(store, p, name, SACME_FILE_ALPN, pem, res);
}

apr_status_t sacme_store_alpn_remove(const sacme_store_t *store, apr_pool_t *p,
                                     const char *name, sacme_result_t *res)
{
    return sacme_store_challenge_remove(store, p, name, SACME_FILE_ALPN, res);
}

apr_status_t sacme_store_alpn_get(const sacme_store_t *store, apr_pool_t *p,
                                  const char *name, char **pem, sacme_result_t *res)
{
    sacme_result_t *scratch = sacme_result_make(p);
    apr_size_t len;
    apr_status_t rv = sacme_store_challenge_get(store, p, name, SACME_FILE_ALPN,
                                                SACME_MAX_ALPN_PEM, pem, &len, scratch);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        sacme_result_set(res, rv, "%s", sacme_result_message(scratch, p));
    }
    return rv;
}

/* --- leftovers -------------------------------------------------------------- */

/* Keeps the first failure of a sweep in res; the sweep goes on. */
static void sweep_note(apr_status_t rv, const sacme_result_t *one, apr_status_t *first,
                       sacme_result_t *res, apr_pool_t *p)
{
    if (rv != APR_SUCCESS && *first == APR_SUCCESS) {
        *first = rv;
        sacme_result_set(res, rv, "%s", sacme_result_message(one, p));
    }
}

/* Removes from dir its temporary files, or with all every file (a
 * directory inside is left alone: nothing of ours nests there). */
static void sweep_dir(const sacme_sdir_t *dir, int all, apr_pool_t *p, int *count,
                      apr_status_t *first, sacme_result_t *res)
{
    sacme_result_t *one = sacme_result_make(p);
    apr_array_header_t *names;
    struct stat st;
    apr_status_t rv;
    int i;

    if ((rv = sacme_sdir_list(dir, p, 100000, &names, one)) != APR_SUCCESS) {
        sweep_note(rv, one, first, res, p);
        return;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if ((!all && !sacme_sdir_is_temporary(name)) || sacme_sdir_stat(dir, name, &st) != 0
            || S_ISDIR(st.st_mode)) {
            continue;
        }
        sacme_result_reset(one);
        rv = sacme_sdir_remove(dir, name, one);
        if (rv == APR_SUCCESS) {
            ++*count;
        }
        sweep_note(rv, one, first, res, p);
    }
}

apr_status_t sacme_store_sweep(const sacme_store_t *store, apr_pool_t *p,
                               sacme_store_swept_t *swept, sacme_result_t *res)
{
    return sacme_store_sweep_except(store, p, NULL, NULL, swept, res);
}

apr_status_t sacme_store_sweep_except(const sacme_store_t *store, apr_pool_t *p,
                                      sacme_store_keep_fn *keep, void *baton,
                                      sacme_store_swept_t *swept, sacme_result_t *res)
{
    /* The driver's parts and how deep its files lie in each. */
    static const struct {
        sacme_sgroup_t group;
        int nested;            /* in <part>/<name>/, else in <part>/ */
    } PLACES[] = {
        { SACME_SG_ACCOUNTS,   1 },
        { SACME_SG_STAGING,    1 },
        { SACME_SG_CHALLENGES, 1 },
        { SACME_SG_REQUESTS,   0 },
    };
    sacme_store_swept_t count = { 0, 0 };
    sacme_result_t *one = sacme_result_make(p);
    apr_status_t rv, first = APR_SUCCESS;
    apr_file_t *lock = NULL;
    apr_pool_t *sp;
    size_t k;
    int i;

    /* sacmectl changes the account under the store lock: a temporary file
     * of its write in progress is not a leftover. Without the lock the
     * accounts are left alone this time. */
    if ((rv = sacme_store_lock(store, p, 1, &lock, one)) != APR_SUCCESS) {
        sweep_note(rv, one, &first, res, p);
        lock = NULL;
    }
    for (k = 0; k < sizeof(PLACES) / sizeof(PLACES[0]); ++k) {
        const int challenges = PLACES[k].group == SACME_SG_CHALLENGES;
        apr_array_header_t *names;
        sacme_sdir_t *g;

        sacme_result_reset(one);
        if (PLACES[k].group == SACME_SG_ACCOUNTS && !lock) {
            continue;
        }
        if ((rv = sacme_store_open_group(store, p, PLACES[k].group, &g, one))
                != APR_SUCCESS) {
            sweep_note(rv, one, &first, res, p);
            continue;
        }
        /* Where the parts' own entries could have been written */
        sweep_dir(g, 0, p, &count.temporaries, &first, res);
        if (!PLACES[k].nested
            || (rv = sacme_sdir_list(g, p, 100000, &names, one)) != APR_SUCCESS) {
            sweep_note(PLACES[k].nested ? rv : APR_SUCCESS, one, &first, res, p);
            continue;
        }
        for (i = 0; i < names->nelts; ++i) {
            const char *name = APR_ARRAY_IDX(names, i, const char *);
            struct stat st;
            sacme_sdir_t *sub;

            if (sacme_sdir_stat(g, name, &st) != 0 || !S_ISDIR(st.st_mode)
                || (challenges && keep && keep(baton, name))) {
                continue;
            }
            /* One pool per directory: a store of many domains costs one
             * descriptor at a time. */
            apr_pool_create(&sp, p);
            sacme_result_reset(one);
            rv = sacme_sdir_open(g, name, 0, 0, SACME_SDIR_ANY_OWNER, sp, &sub, one);
            if (rv == APR_SUCCESS) {
                sweep_dir(sub, challenges, sp,
                          challenges ? &count.challenges : &count.temporaries, &first,
                          res);
                /* An answer directory left empty goes too; one that is not
                 * (something else lies there) stays, quietly. */
                if (challenges) {
                    sacme_sdir_rmdir(g, name, NULL);
                }
            }
            sweep_note(rv, one, &first, res, p);
            apr_pool_destroy(sp);
        }
    }
    sacme_store_unlock(lock);
    if (swept) {
        *swept = count;
    }
    return first;
}

/* --- accounts, spool, fallback, pid ----------------------------------------- */

/* The first 8 bytes of text's SHA-256, in hex: 16 characters that tell
 * texts apart in a directory name. */
#define SHORT_ID_LEN 16

static const char *short_id(apr_pool_t *p, const char *text)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char *hex = apr_palloc(p, SHORT_ID_LEN + 1);
    int i;

    SHA256((const unsigned char *)text, strlen(text), md);
    for (i = 0; i < SHORT_ID_LEN / 2; ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return hex;
}

const char *sacme_store_account_name(apr_pool_t *p, const char *server_url,
                                     const char *kid)
{
    apr_uri_t uri;
    const char *host = "ca";

    /* The hash keeps one account per (CA, kid) apart; the host keeps the
     * directory name readable for an admin. The host must leave room for
     * "-" and the hash: a name over 255 bytes is no directory name
     * (ENAMETOOLONG), found by fuzzing. */
    if (apr_uri_parse(p, server_url, &uri) == APR_SUCCESS && uri.hostname
        && sacme_sdir_name_ok(uri.hostname)
        && strlen(uri.hostname) + 1 + SHORT_ID_LEN <= SACME_NAME_MAX) {
        host = uri.hostname;
    }
    return apr_pstrcat(p, host, "-", short_id(p, sacme_ca_account_id(p, server_url, kid)),
                       NULL);
}

const char *sacme_store_account_path(const sacme_store_t *store, apr_pool_t *p,
                                     const char *server_url, const char *kid)
{
    return sacme_store_path(store, p, SACME_GROUP_ACCOUNTS,
                            sacme_store_account_name(p, server_url, kid), NULL);
}

apr_status_t sacme_store_account_open(const sacme_store_t *store, apr_pool_t *p,
                                      const char *server_url, const char *kid,
                                      int create, sacme_sdir_t **dir,
                                      sacme_result_t *res)
{
    return sacme_store_open_in(store, p, SACME_SG_ACCOUNTS,
                               sacme_store_account_name(p, server_url, kid), create,
                               dir, res);
}

apr_status_t sacme_store_spool_open(const sacme_store_t *store, apr_pool_t *p,
                                    const char *url, sacme_sdir_t **dir,
                                    sacme_result_t *res)
{
    sacme_sdir_t *g;
    apr_status_t rv = sacme_store_open_group(store, p, SACME_SG_STAGING, &g, res);
    /* by a digest: a URL's path and query may be its secret, and never
     * make a valid directory name anyway */
    const char *name = url ? apr_pstrcat(p, "-webhook-",
                                         short_id(p, url), NULL)
                           : "-webhook";

    /* "-webhook": no domain name starts with a '-'. Private: events may
     * carry error details an admin would not show the web user. */
    return rv != APR_SUCCESS ? rv
           : sacme_sdir_open(g, name, 1, 0700, SACME_SDIR_ANY_OWNER, p, dir, res);
}

const char *sacme_store_fallback_dir(const sacme_store_t *store, apr_pool_t *p)
{
    return sacme_store_path(store, p, SACME_GROUP_FALLBACK, NULL, NULL);
}

apr_status_t sacme_store_pid_save(const sacme_store_t *store, apr_pool_t *p,
                                  long pid, sacme_result_t *res)
{
    sacme_sdir_t *base;
    const char *text = apr_psprintf(p, "%ld\n", pid);
    apr_status_t rv = sacme_store_open_base(store, p, &base, res);

    return rv != APR_SUCCESS ? rv
           : sacme_sdir_write(base, SACME_FILE_PID, text, strlen(text), SACME_MODE_PUBLIC,
                              0, p, res);
}

long sacme_store_pid_load(const sacme_store_t *store, apr_pool_t *p)
{
    sacme_sdir_t *base;
    char *data;
    apr_size_t len;

    if (sacme_store_open_base(store, p, &base, NULL) != APR_SUCCESS
        || sacme_sdir_read(base, SACME_FILE_PID, 64, 0, p, &data, &len, NULL)
               != APR_SUCCESS) {
        return 0;
    }
    return strtol(data, NULL, 10);
}

/* --- the lock --------------------------------------------------------------- */

static apr_status_t close_lock(void *data)
{
    return apr_file_close(data);
}

apr_status_t sacme_store_lock(const sacme_store_t *store, apr_pool_t *p,
                              int wait, apr_file_t **lock, sacme_result_t *res)
{
    const char *path = sacme_store_path(store, p, SACME_FILE_LOCK, NULL, NULL);
    sacme_sdir_t *base;
    apr_os_file_t fd;
    apr_file_t *f;
    struct stat st;
    apr_status_t rv;
    int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

    if ((rv = sacme_store_open_base(store, p, &base, res)) != APR_SUCCESS) {
        return rv;
    }
    /* Made by sacme_store_setup; only a store that is all ours (tests,
     * a server not started as root) may have it made here. */
    if (base->uid == geteuid() && store->driver_uid == geteuid()) {
        flags |= O_CREAT;
    }
    fd = openat(base->fd, SACME_FILE_LOCK, flags, 0600);
    if (fd < 0) {
        char ebuf[256];
        rv = APR_FROM_OS_ERROR(errno);
        return sacme_result_set(res, rv, "cannot open the store lock %s: %s", path,
                                apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1
        || st.st_uid != store->driver_uid) {
        close(fd);
        return sacme_result_set(res, SACME_EUNSAFE, "refusing the store lock %s: not a "
                                "regular file of one link owned by the driver's account; "
                                "remove it and restart httpd", path);
    }
    apr_os_file_put(&f, &fd, APR_FOPEN_READ | APR_FOPEN_WRITE, p);
    rv = apr_file_lock(f, APR_FLOCK_EXCLUSIVE | (wait ? 0 : APR_FLOCK_NONBLOCK));
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return sacme_result_set(res, APR_EAGAIN, "the store lock %s is held", path);
        }
        return sacme_result_set(res, rv, "cannot lock %s", path);
    }
    /* A descriptor put into APR has no cleanup of its own: released with
     * p unless sacme_store_unlock() comes first. */
    apr_pool_cleanup_register(p, f, close_lock, apr_pool_cleanup_null);
    *lock = f;
    return APR_SUCCESS;
}

void sacme_store_unlock(apr_file_t *lock)
{
    if (lock) {
        apr_file_unlock(lock);
        apr_pool_cleanup_run(apr_file_pool_get(lock), lock, close_lock);
    }
}
