/* The store's mirror (sacme_store.h): the driver's changes told to a
 * cluster, and the changes a cluster sends written back. */
#include <openssl/crypto.h>

#include "sacme_store_int.h"
#include "sacme_acct.h"
#include "sacme_json.h"

/* The key authorization of an http-01 answer: "<token>.<thumbprint>". */
#define MAX_KEY_AUTHZ 1024
#define MAX_KEY (64 * 1024)
#define MAX_ACCOUNT_JSON (64 * 1024)

/* What a file of a driver's part holds, and so how it is checked and
 * written when a change to it arrives. */
typedef enum {
    KIND_STATE,                /* JSON state (sacme_store_state_save) */
    KIND_KEY,                  /* staging/<name>/privkey.pem */
    KIND_CHAIN,                /* staging/<name>/fullchain.pem */
    KIND_TOKEN,                /* challenges/<name>/<token>: a key authorization */
    KIND_ALPN,                 /* challenges/<name>/tls-alpn-01.pem */
    KIND_ACCT_KEY,             /* accounts/<id>/account.key, account.key.new */
    KIND_ACCT_JSON             /* accounts/<id>/account.json */
} kind_t;

/* A change's file, once known. */
typedef struct {
    sacme_sgroup_t group;
    kind_t kind;
    int state;                 /* KIND_STATE: which */
    apr_size_t max;            /* the most it may hold */
    int secret;
} target_t;

static const struct {
    sacme_sgroup_t group;
    const char *part;
} DRIVER_PARTS[] = {
    { SACME_SG_STAGING,    SACME_GROUP_STAGING },
    { SACME_SG_REQUESTS,   SACME_GROUP_REQUESTS },
    { SACME_SG_CHALLENGES, SACME_GROUP_CHALLENGES },
    { SACME_SG_ACCOUNTS,   SACME_GROUP_ACCOUNTS },
};

static const char *part_of(sacme_sgroup_t group)
{
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(DRIVER_PARTS); ++i) {
        if (DRIVER_PARTS[i].group == group) {
            return DRIVER_PARTS[i].part;
        }
    }
    return NULL;
}

/* An http-01 token, or a key authorization (with dot: "<token>.<thumbprint>"):
 * base64url (RFC 8555 §8.1, §8.3), nothing a path or a response could
 * misread. */
static int b64url_text(const char *s, apr_size_t len, int dot)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        const char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || (dot && c == '.'))) {
            return 0;
        }
    }
    return len > 0;
}

/* Which file of the store c names, or APR_EINVAL: only the driver's files
 * listed in sacme_store.h, under names fit for one path component. A name
 * starting with '-' is no domain, account or identifier (the webhook
 * spools are named so, and are not shared). */
static apr_status_t classify(const sacme_store_change_t *c, target_t *t,
                             sacme_result_t *res)
{
    size_t i;
    int found = 0;

    if (!c || !c->part || !c->name || !c->file) {
        return sacme_result_set(res, APR_EINVAL, "a change to the store needs a part, "
                                "a name and a file");
    }
    for (i = 0; i < SACME_ARRAY_LEN(DRIVER_PARTS) && !found; ++i) {
        if (!strcmp(c->part, DRIVER_PARTS[i].part)) {
            t->group = DRIVER_PARTS[i].group;
            found = 1;
        }
    }
    if (!found) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is no part of the store that is "
                                "shared: only %s, %s, %s and %s are", c->part,
                                SACME_GROUP_STAGING, SACME_GROUP_REQUESTS,
                                SACME_GROUP_CHALLENGES, SACME_GROUP_ACCOUNTS);
    }
    if (!sacme_sdir_name_ok(c->name) || c->name[0] == '-'
        || !sacme_sdir_name_ok(c->file)) {
        return sacme_result_set(res, APR_EINVAL, "%s: '%s/%s' is not a usable name in the "
                                "store", c->part, c->name, c->file);
    }
    t->secret = 0;
    t->state = sacme_store_state_in(t->group, c->name, c->file, &t->max);
    if (t->state >= 0) {
        t->kind = KIND_STATE;
        return APR_SUCCESS;
    }
    if (t->group == SACME_SG_STAGING && !strcmp(c->file, SACME_FILE_KEY)) {
        *t = (target_t){ t->group, KIND_KEY, -1, MAX_KEY, 1 };
    }
    else if (t->group == SACME_SG_STAGING && !strcmp(c->file, SACME_FILE_CHAIN)) {
        *t = (target_t){ t->group, KIND_CHAIN, -1, SACME_MAX_RESPONSE, 0 };
    }
    else if (t->group == SACME_SG_CHALLENGES && !strcmp(c->file, SACME_FILE_ALPN)) {
        *t = (target_t){ t->group, KIND_ALPN, -1, SACME_MAX_ALPN_PEM, 1 };
    }
    else if (t->group == SACME_SG_CHALLENGES && b64url_text(c->file, strlen(c->file), 0)) {
        *t = (target_t){ t->group, KIND_TOKEN, -1, MAX_KEY_AUTHZ, 0 };
    }
    else if (t->group == SACME_SG_ACCOUNTS && (!strcmp(c->file, SACME_ACCT_KEY_FILE)
                                              || !strcmp(c->file, SACME_ACCT_KEY_NEW_FILE))) {
        *t = (target_t){ t->group, KIND_ACCT_KEY, -1, MAX_KEY, 1 };
    }
    else if (t->group == SACME_SG_ACCOUNTS && !strcmp(c->file, SACME_ACCT_JSON_FILE)) {
        *t = (target_t){ t->group, KIND_ACCT_JSON, -1, MAX_ACCOUNT_JSON, 0 };
    }
    else {
        return sacme_result_set(res, APR_EINVAL, "%s/%s/%s is no file of the store that "
                                "is shared", c->part, c->name, c->file);
    }
    return APR_SUCCESS;
}

/* --- telling ------------------------------------------------------------------ */

void sacme_store_set_mirror(sacme_store_t *store, const sacme_store_mirror_t *mirror)
{
    store->mirror = mirror;
}

const sacme_store_t *sacme_store_muted(const sacme_store_t *store, apr_pool_t *p)
{
    sacme_store_t *quiet;

    if (!store->mirror) {
        return store;
    }
    quiet = apr_pmemdup(p, store, sizeof(*store));
    quiet->mirror = NULL;
    return quiet;
}

/* The watch on a directory of a driver's part. */
typedef struct {
    sacme_sdir_watch_t watch;  /* first: what the directory calls back with */
    const sacme_store_mirror_t *mirror;
    sacme_sgroup_t group;
    const char *name;          /* NULL: the part itself (requests/) */
} store_watch_t;

static void watch_changed(const sacme_sdir_watch_t *watch, const char *file,
                          const void *data, apr_size_t len)
{
    const store_watch_t *w = (const store_watch_t *)watch;
    sacme_store_change_t c;
    char stem[SACME_NAME_MAX + 1];
    const char *dot = strrchr(file, '.');
    target_t t;

    /* Not shared: the entries that are no domain (the webhook spools, the
     * cluster's own view of itself), and temporaries. */
    if ((w->name && w->name[0] == '-') || sacme_sdir_is_temporary(file)) {
        return;
    }
    c.part = part_of(w->group);
    c.name = w->name;
    c.file = file;
    if (!c.name) {
        /* requests/<name>.json */
        apr_cpystrn(stem, file, dot ? (apr_size_t)(dot - file) + 1 : sizeof(stem));
        c.name = stem;
    }
    c.data = data;
    c.len = data ? len : 0;
    c.secret = classify(&c, &t, NULL) == APR_SUCCESS ? t.secret : 0;
    w->mirror->changed(w->mirror->baton, &c);
}

void sacme_store_watch(const sacme_store_t *store, apr_pool_t *p, sacme_sgroup_t group,
                       const char *name, sacme_sdir_t *dir)
{
    store_watch_t *w;

    if (!store->mirror || !part_of(group)) {
        return;
    }
    w = apr_palloc(p, sizeof(*w));
    w->watch.changed = watch_changed;
    w->mirror = store->mirror;
    w->group = group;
    w->name = name ? apr_pstrdup(p, name) : NULL;
    dir->watch = &w->watch;
}

const char *sacme_store_change_path(apr_pool_t *p, const sacme_store_change_t *c)
{
    if (!strcmp(c->part, SACME_GROUP_REQUESTS)) {
        return apr_pstrcat(p, c->part, "/", c->file, NULL);
    }
    return apr_pstrcat(p, c->part, "/", c->name, "/", c->file, NULL);
}

apr_status_t sacme_store_change_parse(apr_pool_t *p, const char *path,
                                      sacme_store_change_t *c, sacme_result_t *res)
{
    const char *s1 = path ? strchr(path, '/') : NULL, *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    const char *dot;
    target_t t;

    if (!s1) {
        return sacme_result_set(res, APR_EINVAL, "'%s' is no file of the store that is "
                                "shared", path ? path : "(none)");
    }
    c->part = apr_pstrndup(p, path, (apr_size_t)(s1 - path));
    if (!strcmp(c->part, SACME_GROUP_REQUESTS) && !s2) {
        c->file = apr_pstrdup(p, s1 + 1);
        dot = strrchr(c->file, '.');
        c->name = dot ? apr_pstrndup(p, c->file, (apr_size_t)(dot - c->file)) : c->file;
    }
    else if (s2 && strcmp(c->part, SACME_GROUP_REQUESTS)) {
        c->name = apr_pstrndup(p, s1 + 1, (apr_size_t)(s2 - s1 - 1));
        c->file = apr_pstrdup(p, s2 + 1);
    }
    else {
        return sacme_result_set(res, APR_EINVAL, "'%s' is no file of the store that is "
                                "shared", path);
    }
    if (classify(c, &t, res) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    c->secret = t.secret;
    return APR_SUCCESS;
}

/* --- applying ----------------------------------------------------------------- */

/* An account file: the account's directory is made as the driver would,
 * the file written there as sacme_acct writes it (0600, durably). */
static apr_status_t apply_account(const sacme_store_t *store, apr_pool_t *p,
                                  const sacme_store_change_t *c, const char *text,
                                  sacme_result_t *res)
{
    sacme_sdir_t *dir;
    apr_status_t rv = sacme_store_open_in(store, p, SACME_SG_ACCOUNTS, c->name, text != NULL,
                                          &dir, res);

    if (!text) {
        return rv != APR_SUCCESS ? APR_SUCCESS              /* nothing there */
               : sacme_sdir_remove(dir, c->file, res);
    }
    return rv != APR_SUCCESS ? rv
           : sacme_sdir_write(dir, c->file, text, c->len, SACME_MODE_KEY,
                              SACME_SDIR_DURABLE, p, res);
}

/* Removes the file through the store's own function for it. */
static apr_status_t apply_removal(const sacme_store_t *store, apr_pool_t *p,
                                  const sacme_store_change_t *c, const target_t *t,
                                  sacme_result_t *res)
{
    switch (t->kind) {
    case KIND_STATE:
        return sacme_store_state_remove(store, p, (sacme_state_t)t->state, c->name, res);
    case KIND_KEY:
    case KIND_CHAIN:
        sacme_store_unstage(store, p, c->name,
                            t->kind == KIND_KEY ? SACME_UNSTAGE_KEY : SACME_UNSTAGE_CHAIN);
        return APR_SUCCESS;
    case KIND_TOKEN:
        return sacme_store_challenge_remove(store, p, c->name, c->file, res);
    case KIND_ALPN:
        return sacme_store_alpn_remove(store, p, c->name, res);
    default:
        return apply_account(store, p, c, NULL, res);
    }
}

/* Checks text as what the file holds and writes it through the store's
 * own function for it. */
static apr_status_t apply_write(const sacme_store_t *store, apr_pool_t *p,
                                const sacme_store_change_t *c, const target_t *t,
                                const char *text, sacme_result_t *res)
{
    sacme_key_t *key;
    sacme_chain_t *chain;
    json_t *j;
    apr_status_t rv;

    switch (t->kind) {
    case KIND_STATE:
    case KIND_ACCT_JSON:
        if (!(j = sacme_json_parse(p, text, c->len, 0, res)) || !json_is_object(j)) {
            return sacme_result_set(res, APR_EINVAL, "not a JSON object");
        }
        return t->kind == KIND_ACCT_JSON ? apply_account(store, p, c, text, res)
               : sacme_store_state_save(store, p, (sacme_state_t)t->state, c->name, j, res);
    case KIND_KEY:
        return (rv = sacme_key_from_pem(p, text, c->len, &key, res)) != APR_SUCCESS ? rv
               : sacme_store_stage_key(store, p, c->name, key, res);
    case KIND_CHAIN:
        return (rv = sacme_chain_parse(p, text, c->len, &chain, res)) != APR_SUCCESS ? rv
               : sacme_store_stage_chain(store, p, c->name, chain, res);
    case KIND_TOKEN:
        return !b64url_text(text, c->len, 1)
               ? sacme_result_set(res, APR_EINVAL, "not a key authorization")
               : sacme_store_challenge_put(store, p, c->name, c->file, text, res);
    case KIND_ALPN:
        /* the challenge certificate and its key, in one PEM text */
        if ((rv = sacme_key_from_pem(p, text, c->len, &key, res)) != APR_SUCCESS
            || (rv = sacme_chain_parse_leaf(p, text, c->len, &chain, res)) != APR_SUCCESS) {
            return rv;
        }
        return sacme_store_alpn_put(store, p, c->name, text, res);
    case KIND_ACCT_KEY:
        return (rv = sacme_key_from_pem(p, text, c->len, &key, res)) != APR_SUCCESS ? rv
               : apply_account(store, p, c, text, res);
    }
    return APR_EINVAL;
}

apr_status_t sacme_store_apply(const sacme_store_t *store, apr_pool_t *p,
                               const sacme_store_change_t *c, sacme_result_t *res)
{
    const sacme_store_t *quiet = sacme_store_muted(store, p);
    char *text = NULL;
    apr_status_t rv;
    target_t t;

    if ((rv = classify(c, &t, res)) != APR_SUCCESS) {
        return rv;
    }
    if (c->data && c->len > t.max) {
        return sacme_result_set(res, APR_ENOSPC, "%s: %" APR_SIZE_T_FMT " bytes are more "
                                "than the %" APR_SIZE_T_FMT " the store takes there",
                                sacme_store_change_path(p, c), c->len, t.max);
    }
    /* A copy that ends where the store's readers expect it to: a NUL
     * inside would make the parsed value and the file written differ. */
    if (c->data) {
        text = apr_pstrmemdup(p, c->data, c->len);
        if (strlen(text) != c->len) {
            rv = sacme_result_set(res, APR_EINVAL, "a NUL byte inside");
        }
    }
    if (rv == APR_SUCCESS) {
        rv = text ? apply_write(quiet, p, c, &t, text, res)
                  : apply_removal(quiet, p, c, &t, res);
    }
    if (text && t.secret) {
        OPENSSL_cleanse(text, c->len);
    }
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "refusing the change to %s from the cluster",
                            sacme_store_change_path(p, c));
    }
    return rv;
}

/* --- listing ------------------------------------------------------------------ */

/* Tells fn of one file of dir as a change (its whole content). A file that
 * is not one sacme_store_apply would take (a temporary, an unknown name) is
 * passed over; so is one that cannot be read now (it is being replaced: the
 * write that replaces it is told anyway). */
static apr_status_t each_file(const sacme_sdir_t *dir, sacme_store_change_t *c,
                              apr_pool_t *p, sacme_store_each_fn *fn, void *baton)
{
    target_t t;
    char *data;
    apr_size_t len;
    apr_status_t rv = APR_SUCCESS;

    if (sacme_sdir_is_temporary(c->file) || classify(c, &t, NULL) != APR_SUCCESS
        || sacme_sdir_read(dir, c->file, t.max, 0, p, &data, &len, NULL) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    c->data = data;
    c->len = len;
    c->secret = t.secret;
    rv = fn(baton, c);
    if (t.secret) {
        OPENSSL_cleanse(data, len);
    }
    return rv;
}

apr_status_t sacme_store_each(const sacme_store_t *store, apr_pool_t *p,
                              sacme_store_each_fn *fn, void *baton, sacme_result_t *res)
{
    size_t i;
    int j, k;

    for (i = 0; i < SACME_ARRAY_LEN(DRIVER_PARTS); ++i) {
        apr_array_header_t *names, *files;
        sacme_sdir_t *part, *sub;
        sacme_store_change_t c;
        apr_pool_t *ip;
        apr_status_t rv;

        if (sacme_store_open_group(store, p, DRIVER_PARTS[i].group, &part, NULL)
                != APR_SUCCESS) {
            continue;                           /* none yet */
        }
        if ((rv = sacme_sdir_list(part, p, 100000, &names, res)) != APR_SUCCESS) {
            return rv;
        }
        for (j = 0; j < names->nelts; ++j) {
            const char *name = APR_ARRAY_IDX(names, j, const char *);

            apr_pool_create(&ip, p);
            memset(&c, 0, sizeof(c));
            c.part = DRIVER_PARTS[i].part;
            rv = APR_SUCCESS;
            if (DRIVER_PARTS[i].group == SACME_SG_REQUESTS) {
                const char *dot = strrchr(name, '.');
                c.file = name;
                c.name = dot ? apr_pstrndup(ip, name, (apr_size_t)(dot - name)) : name;
                rv = each_file(part, &c, ip, fn, baton);
            }
            else if (name[0] != '-' && sacme_sdir_name_ok(name)
                     && sacme_sdir_open(part, name, 0, 0, SACME_SDIR_ANY_OWNER, ip, &sub,
                                        NULL) == APR_SUCCESS
                     && sacme_sdir_list(sub, ip, 1000, &files, NULL) == APR_SUCCESS) {
                for (k = 0; k < files->nelts && rv == APR_SUCCESS; ++k) {
                    c.name = name;
                    c.file = APR_ARRAY_IDX(files, k, const char *);
                    rv = each_file(sub, &c, ip, fn, baton);
                }
            }
            apr_pool_destroy(ip);
            if (rv != APR_SUCCESS) {
                sacme_result_prefix(res, "at %s/%s", DRIVER_PARTS[i].part, name);
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}
