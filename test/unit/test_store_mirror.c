/* Unit tests: the store's mirror (sacme_store_set_mirror, sacme_store_apply,
 * sacme_store_change_path/parse): what the driver writes is told once per
 * change, and what a cluster sends is written back the same, or refused. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_acct_int.h"
#include "sacme_alpn.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_store.h"

#define DAY apr_time_from_sec(86400)
#define NAME "www.example.org"
#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define AUTHZ TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define CA_URL "https://ca.example/directory"

/* --- a mirror that records ---------------------------------------------------- */

typedef struct {
    apr_array_header_t *changes;   /* sacme_store_change_t, copied; emptied by told() */
    apr_array_header_t *all;       /* the same, emptied by apply_all() */
} recorder_t;

static void record(void *baton, const sacme_store_change_t *c)
{
    recorder_t *r = baton;
    sacme_store_change_t *copy = &APR_ARRAY_PUSH(r->changes, sacme_store_change_t);

    copy->part = apr_pstrdup(unit_pool, c->part);
    copy->name = apr_pstrdup(unit_pool, c->name);
    copy->file = apr_pstrdup(unit_pool, c->file);
    copy->data = c->data ? apr_pstrmemdup(unit_pool, c->data, c->len) : NULL;
    copy->len = c->len;
    copy->secret = c->secret;
    APR_ARRAY_PUSH(r->all, sacme_store_change_t) = *copy;
}

static sacme_store_t *new_store(const char *dir, recorder_t **rec)
{
    sacme_store_t *store = sacme_store_make(unit_pool,
                                            apr_pstrcat(unit_pool, unit_tmpdir(), "/",
                                                        dir, NULL));
    sacme_store_mirror_t *mirror = apr_pcalloc(unit_pool, sizeof(*mirror));
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_msg(sacme_store_setup(store, unit_pool, NULL, res) == APR_SUCCESS, "setup: %s",
                  sacme_result_message(res, unit_pool));
    *rec = apr_pcalloc(unit_pool, sizeof(**rec));
    (*rec)->changes = apr_array_make(unit_pool, 8, sizeof(sacme_store_change_t));
    (*rec)->all = apr_array_make(unit_pool, 8, sizeof(sacme_store_change_t));
    mirror->baton = *rec;
    mirror->changed = record;
    sacme_store_set_mirror(store, mirror);
    return store;
}

static const sacme_store_change_t *change_at(const recorder_t *rec, int i)
{
    return &APR_ARRAY_IDX(rec->changes, i, sacme_store_change_t);
}

/* The one change told since the last call (rec emptied), checked against
 * part/name/file and, for a write, against the file in the store. */
static const sacme_store_change_t *told(recorder_t *rec, const sacme_store_t *store,
                                        const char *part, const char *name,
                                        const char *file, int removed, int secret)
{
    const sacme_store_change_t *c;
    const char *path;

    ck_assert_int_eq(rec->changes->nelts, 1);
    c = change_at(rec, 0);
    apr_array_clear(rec->changes);
    ck_assert_str_eq(c->part, part);
    ck_assert_str_eq(c->name, name);
    ck_assert_str_eq(c->file, file);
    ck_assert_int_eq(c->secret, secret);
    path = apr_pstrcat(unit_pool, store->base, "/", sacme_store_change_path(unit_pool, c),
                       NULL);
    if (removed) {
        ck_assert_ptr_null(c->data);
        ck_assert_msg(!sacme_file_exists(path, unit_pool), "%s still there", path);
    }
    else {
        ck_assert_ptr_nonnull(c->data);
        ck_assert_uint_eq(c->len, strlen(c->data));
        ck_assert_str_eq(c->data, unit_read_text(path));
    }
    return c;
}

/* --- what to write -------------------------------------------------------------- */

typedef struct {
    sacme_key_t *key;
    sacme_chain_t *chain;
    const char *alpn;
} material_t;

static material_t *material(void)
{
    material_t *m = apr_pcalloc(unit_pool, sizeof(*m));
    apr_time_t now = apr_time_now();
    sacme_key_t *ca_key = unit_key(SACME_KEY_P256);
    X509 *ca = unit_cert_issue(ca_key, "Mirror Test CA", NULL, now - DAY, now + 400 * DAY,
                               NULL, NULL, 1);
    char *alpn;

    m->key = unit_key(SACME_KEY_P256);
    m->chain = apr_pcalloc(unit_pool, sizeof(*m->chain));
    m->chain->certs = apr_array_make(unit_pool, 2, sizeof(X509 *));
    APR_ARRAY_PUSH(m->chain->certs, X509 *) =
        unit_cert_issue(m->key, NAME, unit_names(NAME, NULL), now - DAY, now + 90 * DAY,
                        ca_key, ca, 0);
    APR_ARRAY_PUSH(m->chain->certs, X509 *) = ca;
    ck_assert_int_eq(sacme_alpn_make(unit_pool, NAME, 0, AUTHZ, &alpn, NULL), APR_SUCCESS);
    m->alpn = alpn;
    return m;
}

static json_t *obj(const char *k, const char *v)
{
    return sacme_json_own(unit_pool, json_pack("{s:s}", k, v));
}

static void ok(apr_status_t rv, const sacme_result_t *res)
{
    ck_assert_msg(rv == APR_SUCCESS, "%s", sacme_result_message(res, unit_pool));
}

/* Writes one of each kind the mirror tells, checking each told once. */
static void write_everything(sacme_store_t *store, recorder_t *rec, const material_t *m)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    static const sacme_state_t staged[] = { SACME_STATE_JOB, SACME_STATE_ORDER,
                                            SACME_STATE_ALERTS, SACME_STATE_ISSUED,
                                            SACME_STATE_ARI, SACME_STATE_DNS };
    static const char *const files[] = { SACME_FILE_JOB, SACME_FILE_ORDER, "alerts.json",
                                         "issued.json", "ari.json", "dns.json" };
    sacme_acct_files_t acct;
    sacme_sdir_t *dir;
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(staged); ++i) {
        ok(sacme_store_state_save(store, unit_pool, staged[i], NAME, obj("k", files[i]), res),
           res);
        told(rec, store, SACME_GROUP_STAGING, NAME, files[i], 0, 0);
    }
    ok(sacme_store_state_save(store, unit_pool, SACME_STATE_REQUEST, NAME,
                              obj("renew", "force"), res), res);
    told(rec, store, SACME_GROUP_REQUESTS, NAME, NAME ".json", 0, 0);
    ok(sacme_store_stage_key(store, unit_pool, NAME, m->key, res), res);
    told(rec, store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY, 0, 1);
    ok(sacme_store_stage_chain(store, unit_pool, NAME, m->chain, res), res);
    told(rec, store, SACME_GROUP_STAGING, NAME, SACME_FILE_CHAIN, 0, 0);
    ok(sacme_store_challenge_put(store, unit_pool, NAME, TOKEN, AUTHZ, res), res);
    told(rec, store, SACME_GROUP_CHALLENGES, NAME, TOKEN, 0, 0);
    ok(sacme_store_alpn_put(store, unit_pool, NAME, m->alpn, res), res);
    told(rec, store, SACME_GROUP_CHALLENGES, NAME, SACME_FILE_ALPN, 0, 1);

    /* the account, as sacme_acct writes it */
    ok(sacme_store_account_open(store, unit_pool, CA_URL, NULL, 1, &dir, res), res);
    sacme_acct_files_init(&acct, dir, unit_pool);
    ok(sacme_acct_write_key(&acct, m->key, SACME_ACCT_KEY_FILE, unit_pool, res), res);
    told(rec, store, SACME_GROUP_ACCOUNTS, sacme_store_account_name(unit_pool, CA_URL, NULL),
         SACME_ACCT_KEY_FILE, 0, 1);
    ok(sacme_acct_write_key(&acct, m->key, SACME_ACCT_KEY_NEW_FILE, unit_pool, res), res);
    told(rec, store, SACME_GROUP_ACCOUNTS, sacme_store_account_name(unit_pool, CA_URL, NULL),
         SACME_ACCT_KEY_NEW_FILE, 0, 1);
    ok(sacme_acct_write_stored(&acct, obj("url", "https://ca.example/acct/1"), unit_pool,
                               res), res);
    told(rec, store, SACME_GROUP_ACCOUNTS, sacme_store_account_name(unit_pool, CA_URL, NULL),
         SACME_ACCT_JSON_FILE, 0, 0);
}

/* Removes what write_everything wrote, checking each removal told once. */
static void remove_everything(sacme_store_t *store, recorder_t *rec)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_sdir_t *dir;

    ok(sacme_store_state_remove(store, unit_pool, SACME_STATE_JOB, NAME, res), res);
    told(rec, store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB, 1, 0);
    ok(sacme_store_state_remove(store, unit_pool, SACME_STATE_REQUEST, NAME, res), res);
    told(rec, store, SACME_GROUP_REQUESTS, NAME, NAME ".json", 1, 0);
    ok(sacme_store_challenge_remove(store, unit_pool, NAME, TOKEN, res), res);
    told(rec, store, SACME_GROUP_CHALLENGES, NAME, TOKEN, 1, 0);
    ok(sacme_store_alpn_remove(store, unit_pool, NAME, res), res);
    told(rec, store, SACME_GROUP_CHALLENGES, NAME, SACME_FILE_ALPN, 1, 1);
    ok(sacme_store_account_open(store, unit_pool, CA_URL, NULL, 0, &dir, res), res);
    ok(sacme_sdir_remove(dir, SACME_ACCT_KEY_NEW_FILE, res), res);
    told(rec, store, SACME_GROUP_ACCOUNTS, sacme_store_account_name(unit_pool, CA_URL, NULL),
         SACME_ACCT_KEY_NEW_FILE, 1, 1);
    /* the set and the order: three files, three removals, chain first */
    sacme_store_unstage(store, unit_pool, NAME,
                        SACME_UNSTAGE_CHAIN | SACME_UNSTAGE_KEY | SACME_UNSTAGE_ORDER);
    ck_assert_int_eq(rec->changes->nelts, 3);
    ck_assert_str_eq(change_at(rec, 0)->file, SACME_FILE_CHAIN);
    ck_assert_str_eq(change_at(rec, 1)->file, SACME_FILE_KEY);
    ck_assert_str_eq(change_at(rec, 2)->file, SACME_FILE_ORDER);
    ck_assert(!change_at(rec, 0)->data && !change_at(rec, 1)->data && !change_at(rec, 2)->data);
    apr_array_clear(rec->changes);
}

/* --- telling --------------------------------------------------------------------- */

typedef struct {
    apr_hash_t *seen;              /* "<path>" -> data */
    int secrets;
} walk_t;

static apr_status_t walked(void *baton, const sacme_store_change_t *c)
{
    walk_t *w = baton;

    ck_assert_ptr_nonnull(c->data);
    apr_hash_set(w->seen, apr_pstrdup(unit_pool, sacme_store_change_path(unit_pool, c)),
                 APR_HASH_KEY_STRING, apr_pstrmemdup(unit_pool, c->data, c->len));
    w->secrets += c->secret;
    return APR_SUCCESS;
}

/* The whole store, as a leader puts it into a cluster's empty copy: every
 * file the mirror tells of, with its content, and nothing that is not the
 * cluster's (the cluster's own view, a webhook spool, a temporary). */
START_TEST(mirror_each_lists_what_would_be_told)
{
    recorder_t *rec;
    sacme_store_t *store = new_store("a", &rec);
    sacme_result_t *res = sacme_result_make(unit_pool);
    walk_t w = { apr_hash_make(unit_pool), 0 };
    sacme_sdir_t *spool;
    int i;

    write_everything(store, rec, material());
    ok(sacme_store_state_save(store, unit_pool, SACME_STATE_CLUSTER, SACME_CLUSTER_ENTRY,
                              obj("role", "leader"), res), res);
    ck_assert_int_eq(rec->changes->nelts, 0);          /* not told either */
    ok(sacme_store_spool_open(store, unit_pool, NULL, &spool, res), res);
    ok(sacme_sdir_write(spool, "event-1.json", "{}", 2, 0600, 0, unit_pool, res), res);
    unit_write_text(apr_pstrcat(unit_pool, store->base, "/staging/" NAME "/job.json.tmp."
                                "0123456789abcdef", NULL), "{}", 0640);
    apr_array_clear(rec->changes);

    ok(sacme_store_each(store, unit_pool, walked, &w, res), res);
    ck_assert_int_eq(apr_hash_count(w.seen), rec->all->nelts);
    for (i = 0; i < rec->all->nelts; ++i) {
        const sacme_store_change_t *c = &APR_ARRAY_IDX(rec->all, i, sacme_store_change_t);
        const char *data = apr_hash_get(w.seen, sacme_store_change_path(unit_pool, c),
                                        APR_HASH_KEY_STRING);
        ck_assert_msg(data != NULL, "%s not listed", sacme_store_change_path(unit_pool, c));
        ck_assert_str_eq(data, c->data);
    }
    ck_assert_int_eq(w.secrets, 4);     /* key, alpn, account key and its successor */
}
END_TEST

START_TEST(mirror_told_each_write_and_removal)
{
    recorder_t *rec;
    sacme_store_t *store = new_store("a", &rec);

    write_everything(store, rec, material());
    remove_everything(store, rec);
}
END_TEST

START_TEST(mirror_not_told_of_root_parts_sweeps_or_promotion)
{
    recorder_t *rec;
    sacme_store_t *store = new_store("a", &rec);
    sacme_result_t *res = sacme_result_make(unit_pool);
    material_t *m = material();
    sacme_promote_t outcome;
    sacme_sdir_t *spool;

    ok(sacme_store_state_save(store, unit_pool, SACME_STATE_MANAGED, NULL, obj("a", "b"),
                              res), res);
    ok(sacme_store_state_save(store, unit_pool, SACME_STATE_VERSION, NULL,
                              sacme_json_own(unit_pool, json_pack("{s:i}", "version", 1)),
                              res), res);
    ok(sacme_store_pid_save(store, unit_pool, 42, res), res);
    ok(sacme_store_spool_open(store, unit_pool, NULL, &spool, res), res);
    ok(sacme_sdir_write(spool, "event-1.json", "{}", 2, 0600, 0, unit_pool, res), res);
    ck_assert_int_eq(rec->changes->nelts, 0);

    /* promotion: each node promotes its own copy */
    ok(sacme_store_stage_key(store, unit_pool, NAME, m->key, res), res);
    ok(sacme_store_stage_chain(store, unit_pool, NAME, m->chain, res), res);
    apr_array_clear(rec->changes);
    ok(sacme_store_promote(store, unit_pool, NAME, unit_names(NAME, NULL), NULL, NULL,
                           &outcome, NULL, res), res);
    ck_assert_int_eq(outcome, SACME_PROMOTE_DONE);
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_STAGING, NAME));
    ck_assert_int_eq(rec->changes->nelts, 0);

    /* a sweep at the driver's start removes local leftovers only */
    ok(sacme_store_challenge_put(store, unit_pool, NAME, TOKEN, AUTHZ, res), res);
    apr_array_clear(rec->changes);
    ok(sacme_store_sweep(store, unit_pool, NULL, res), res);
    ck_assert(!sacme_file_exists(sacme_store_path(store, unit_pool, SACME_GROUP_CHALLENGES,
                                                  NAME, TOKEN), unit_pool));
    ck_assert_int_eq(rec->changes->nelts, 0);
}
END_TEST

/* --- applying --------------------------------------------------------------------- */

static unsigned mode_of(const char *path)
{
    struct stat st;

    ck_assert_msg(lstat(path, &st) == 0, "%s missing", path);
    return (unsigned)(st.st_mode & 07777);
}

/* Applies every change rec holds (all) to to, and checks the file is then the
 * same in both stores (or gone from both). */
static void apply_all(recorder_t *rec, const sacme_store_t *from, const sacme_store_t *to)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    int i;

    for (i = 0; i < rec->all->nelts; ++i) {
        const sacme_store_change_t *c = &APR_ARRAY_IDX(rec->all, i, sacme_store_change_t);
        const char *rel = sacme_store_change_path(unit_pool, c);
        const char *a = apr_pstrcat(unit_pool, from->base, "/", rel, NULL);
        const char *b = apr_pstrcat(unit_pool, to->base, "/", rel, NULL);

        sacme_result_reset(res);
        ck_assert_msg(sacme_store_apply(to, unit_pool, c, res) == APR_SUCCESS, "%s: %s",
                      rel, sacme_result_message(res, unit_pool));
        if (!c->data) {
            ck_assert_msg(!sacme_file_exists(b, unit_pool), "%s still there", b);
            continue;
        }
        ck_assert_str_eq(unit_read_text(b), unit_read_text(a));
        ck_assert_msg(mode_of(b) == mode_of(a), "%s: mode %o, not %o", rel, mode_of(b),
                      mode_of(a));
    }
    apr_array_clear(rec->all);
}

START_TEST(mirror_apply_writes_the_same_files)
{
    recorder_t *rec_a, *rec_b;
    sacme_store_t *a = new_store("a", &rec_a), *b = new_store("b", &rec_b);

    write_everything(a, rec_a, material());
    ck_assert_int_eq(rec_a->all->nelts, 14);
    apply_all(rec_a, a, b);
    /* b's own mirror stayed muted throughout */
    ck_assert_int_eq(rec_b->all->nelts, 0);

    remove_everything(a, rec_a);
    ck_assert_int_eq(rec_a->all->nelts, 8);
    apply_all(rec_a, a, b);
    ck_assert_int_eq(rec_b->all->nelts, 0);
    /* what was not removed is still there */
    ck_assert(sacme_file_exists(sacme_store_path(b, unit_pool, SACME_GROUP_STAGING, NAME,
                                                 "dns.json"), unit_pool));
    ck_assert(sacme_file_exists(sacme_store_path(b, unit_pool, SACME_GROUP_ACCOUNTS,
                                                 sacme_store_account_name(unit_pool, CA_URL,
                                                                          NULL),
                                                 SACME_ACCT_KEY_FILE), unit_pool));
}
END_TEST

/* Applies a change that must be refused with want, and checks nothing
 * was written anywhere in the temporary directory. */
static void refused(const sacme_store_t *store, const char *part, const char *name,
                    const char *file, const char *data, apr_size_t len, apr_status_t want)
{
    sacme_store_change_t c = { part, name, file, data, data ? len : 0, 0 };
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv = sacme_store_apply(store, unit_pool, &c, res);

    ck_assert_msg(rv == want, "%s/%s/%s: status %d, wanted %d (%s)", part ? part : "-",
                  name ? name : "-", file ? file : "-", rv, want,
                  sacme_result_message(res, unit_pool));
}

/* How many entries lie below path, at any depth. */
static int count_entries(const char *path)
{
    apr_dir_t *dir;
    apr_finfo_t fi;
    int n = 0;

    if (apr_dir_open(&dir, path, unit_pool) != APR_SUCCESS) {
        return 0;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
            continue;
        }
        ++n;
        if (fi.filetype == APR_DIR) {
            n += count_entries(apr_pstrcat(unit_pool, path, "/", fi.name, NULL));
        }
    }
    apr_dir_close(dir);
    return n;
}

START_TEST(mirror_apply_refuses_what_is_not_the_drivers)
{
    recorder_t *rec;
    sacme_store_t *store = new_store("b", &rec);
    material_t *m = material();
    const char *json = "{\"a\": 1}";
    const char *pem = sacme_key_to_pem(m->key, unit_pool);
    const int before = count_entries(unit_tmpdir());
    char *big = apr_palloc(unit_pool, 300 * 1024 + 1);
    static const char *const bad_names[] = {
        "..", "../x", "a/b", ".hidden", "", "-webhook", "x\ny",
    };
    size_t i;

    memset(big, 'A', 300 * 1024);
    big[300 * 1024] = '\0';
    /* root's parts, and parts that do not exist */
    refused(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY, pem, strlen(pem), APR_EINVAL);
    refused(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_HISTORY, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_ARCHIVE, NAME, SACME_FILE_KEY, pem, strlen(pem), APR_EINVAL);
    refused(store, SACME_GROUP_FALLBACK, NAME, SACME_FILE_KEY, pem, strlen(pem), APR_EINVAL);
    refused(store, "..", NAME, SACME_FILE_JOB, json, 8, APR_EINVAL);
    refused(store, "", NAME, SACME_FILE_JOB, json, 8, APR_EINVAL);
    refused(store, NULL, NAME, SACME_FILE_JOB, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NULL, SACME_FILE_JOB, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, NULL, json, 8, APR_EINVAL);
    /* names that would lead elsewhere, in every part */
    for (i = 0; i < SACME_ARRAY_LEN(bad_names); ++i) {
        refused(store, SACME_GROUP_STAGING, bad_names[i], SACME_FILE_JOB, json, 8,
                APR_EINVAL);
        refused(store, SACME_GROUP_STAGING, NAME, bad_names[i], json, 8, APR_EINVAL);
        refused(store, SACME_GROUP_CHALLENGES, bad_names[i], TOKEN, AUTHZ, strlen(AUTHZ),
                APR_EINVAL);
        if (bad_names[i][0] != '-') {   /* a token may start with one */
            refused(store, SACME_GROUP_CHALLENGES, NAME, bad_names[i], AUTHZ,
                    strlen(AUTHZ), APR_EINVAL);
        }
        refused(store, SACME_GROUP_ACCOUNTS, bad_names[i], SACME_ACCT_JSON_FILE, json, 8,
                APR_EINVAL);
        refused(store, SACME_GROUP_REQUESTS, bad_names[i],
                apr_pstrcat(unit_pool, bad_names[i], ".json", NULL), json, 8, APR_EINVAL);
    }
    /* files the driver's parts do not hold */
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_HISTORY, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, "run.sh", json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, "job.json.tmp.0123456789abcdef", json, 8,
            APR_EINVAL);
    refused(store, SACME_GROUP_REQUESTS, NAME, "other.example.json", json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_REQUESTS, NAME, NAME, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_CHALLENGES, NAME, "token.with.dots", AUTHZ, strlen(AUTHZ),
            APR_EINVAL);
    refused(store, SACME_GROUP_ACCOUNTS, "ca.example-0123456789abcdef", "notes.txt", json, 8,
            APR_EINVAL);
    /* more than the store takes */
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB, big, strlen(big), APR_ENOSPC);
    refused(store, SACME_GROUP_STAGING, NAME, "issued.json", big, 17 * 1024, APR_ENOSPC);
    refused(store, SACME_GROUP_CHALLENGES, NAME, TOKEN, big, 1025, APR_ENOSPC);
    refused(store, SACME_GROUP_CHALLENGES, NAME, SACME_FILE_ALPN, big, 17 * 1024,
            APR_ENOSPC);
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY, big, 65 * 1024, APR_ENOSPC);
    refused(store, SACME_GROUP_ACCOUNTS, "acct", SACME_ACCT_JSON_FILE, big, 65 * 1024,
            APR_ENOSPC);
    /* content that is not what the file holds */
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB, "not json", 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB, "[1, 2]", 6, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB, "{\"a\": 1}\0x", 10,
            APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_STAGING, NAME, SACME_FILE_CHAIN, pem, strlen(pem),
            APR_EINVAL);
    refused(store, SACME_GROUP_CHALLENGES, NAME, TOKEN, "<script>", 8, APR_EINVAL);
    refused(store, SACME_GROUP_CHALLENGES, NAME, TOKEN, AUTHZ "\n", strlen(AUTHZ) + 1,
            APR_EINVAL);
    refused(store, SACME_GROUP_CHALLENGES, NAME, TOKEN, "", 0, APR_EINVAL);
    refused(store, SACME_GROUP_CHALLENGES, NAME, SACME_FILE_ALPN, pem, strlen(pem),
            APR_EINVAL);
    refused(store, SACME_GROUP_ACCOUNTS, "acct", SACME_ACCT_KEY_FILE, json, 8, APR_EINVAL);
    refused(store, SACME_GROUP_ACCOUNTS, "acct", SACME_ACCT_JSON_FILE, "[]", 2, APR_EINVAL);
    /* nothing was written, in the store or beside it */
    ck_assert_int_eq(count_entries(unit_tmpdir()), before);
    ck_assert_int_eq(rec->all->nelts, 0);
}
END_TEST

START_TEST(mirror_change_paths)
{
    static const char *const good[] = {
        "staging/" NAME "/privkey.pem", "staging/" NAME "/fullchain.pem",
        "staging/" NAME "/order.json", "staging/" NAME "/dns.json",
        "staging/" NAME "+dns-01/job.json",
        "requests/" NAME ".json",
        "challenges/" NAME "/" TOKEN, "challenges/" NAME "/tls-alpn-01.pem",
        "accounts/ca.example-0123456789abcdef/account.key",
        "accounts/ca.example-0123456789abcdef/account.key.new",
        "accounts/ca.example-0123456789abcdef/account.json",
    };
    static const char *const bad[] = {
        "", "staging", "staging/" NAME, "staging/" NAME "/", "staging/../privkey.pem",
        "staging/" NAME "/a/privkey.pem", "/staging/" NAME "/privkey.pem",
        "requests/" NAME, "requests/a/" NAME ".json", "domains/" NAME "/privkey.pem",
        "store.json", "managed.json", "challenges/" NAME "/a.b",
        "accounts/x/account.key.old",
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_store_change_t c;
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(good); ++i) {
        memset(&c, 0, sizeof(c));
        ck_assert_msg(sacme_store_change_parse(unit_pool, good[i], &c, res) == APR_SUCCESS,
                      "%s: %s", good[i], sacme_result_message(res, unit_pool));
        ck_assert_str_eq(sacme_store_change_path(unit_pool, &c), good[i]);
    }
    ck_assert_int_eq(sacme_store_change_parse(unit_pool, good[0], &c, res), APR_SUCCESS);
    ck_assert_str_eq(c.part, SACME_GROUP_STAGING);
    ck_assert_str_eq(c.name, NAME);
    ck_assert_str_eq(c.file, SACME_FILE_KEY);
    ck_assert_int_eq(c.secret, 1);
    ck_assert_int_eq(sacme_store_change_parse(unit_pool, "requests/" NAME ".json", &c, res),
                     APR_SUCCESS);
    ck_assert_str_eq(c.name, NAME);
    ck_assert_int_eq(c.secret, 0);
    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_store_change_parse(unit_pool, bad[i], &c, NULL) == APR_EINVAL,
                      "'%s' taken", bad[i]);
    }
    ck_assert_int_eq(sacme_store_change_parse(unit_pool, NULL, &c, NULL), APR_EINVAL);
}
END_TEST

Suite *unit_suite_store_mirror(void)
{
    Suite *s = suite_create("store_mirror");
    TCase *tc = tcase_create("mirror");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, mirror_told_each_write_and_removal);
    tcase_add_test(tc, mirror_not_told_of_root_parts_sweeps_or_promotion);
    tcase_add_test(tc, mirror_apply_writes_the_same_files);
    tcase_add_test(tc, mirror_apply_refuses_what_is_not_the_drivers);
    tcase_add_test(tc, mirror_change_paths);
    tcase_add_test(tc, mirror_each_lists_what_would_be_told);
    suite_add_tcase(s, tc);
    return s;
}
