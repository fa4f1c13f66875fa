/* Unit tests: sacme_store (layout, certificate sets, promotion of staged
 * sets, recovery of an interrupted promotion). The certificates are made
 * here, for keys the tests hold, with the names and validity each test
 * needs. */
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_store.h"
#include "sacme_trust.h"

#define DAY apr_time_from_sec(86400)
#define NAME "www.example.org"

/* --- certificates ------------------------------------------------------------ */

typedef struct {
    sacme_key_t *key;
    X509 *cert;
    sacme_trust_t *trust;    /* this CA alone as the anchor */
} test_ca_t;

static test_ca_t *make_ca(const char *cn)
{
    test_ca_t *ca = apr_pcalloc(unit_pool, sizeof(*ca));
    apr_time_t now = apr_time_now();
    sacme_chain_t chain;
    const char *pem;

    ca->key = unit_key(SACME_KEY_P256);
    ca->cert = unit_cert_issue(ca->key, cn, NULL, now - 400 * DAY, now + 4000 * DAY, NULL,
                               NULL, 1);
    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = ca->cert;
    pem = sacme_chain_pem(&chain, unit_pool);
    ck_assert_int_eq(sacme_trust_make(unit_pool, pem, strlen(pem), cn, 0, &ca->trust, NULL),
                     APR_SUCCESS);
    return ca;
}

/* A chain [leaf for key, CA] as PEM. */
static const char *chain_pem(const test_ca_t *ca, const sacme_key_t *key,
                             const apr_array_header_t *names, apr_time_t nb,
                             apr_time_t na)
{
    const char *cn = APR_ARRAY_IDX(names, 0, const char *);
    sacme_chain_t chain;

    chain.certs = apr_array_make(unit_pool, 2, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, cn, names, nb, na, ca->key,
                                                          ca->cert, 0);
    APR_ARRAY_PUSH(chain.certs, X509 *) = ca->cert;
    return sacme_chain_pem(&chain, unit_pool);
}

/* --- files ------------------------------------------------------------------- */

static sacme_store_t *new_store(void)
{
    sacme_store_t *store = sacme_store_make(unit_pool,
                                            apr_pstrcat(unit_pool, unit_tmpdir(),
                                                        "/store", NULL));
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_msg(sacme_store_setup(store, unit_pool, NULL, res) == APR_SUCCESS, "setup: %s",
                  sacme_result_message(res, unit_pool));
    return store;
}

/* The whole file, or NULL when it does not exist. */
static const char *slurp(const char *path)
{
    return sacme_file_exists(path, unit_pool) ? unit_read_text(path) : NULL;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static unsigned mode_of(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
    return (unsigned)(st.st_mode & 07777);
}

/* The entries of a directory (without . and ..), empty if it is missing. */
static apr_array_header_t *entries(const char *path)
{
    apr_array_header_t *a = apr_array_make(unit_pool, 4, sizeof(const char *));
    apr_dir_t *dir;
    apr_finfo_t fi;

    if (apr_dir_open(&dir, path, unit_pool) != APR_SUCCESS) {
        return a;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
            APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(unit_pool, fi.name);
        }
    }
    apr_dir_close(dir);
    return a;
}

/* Writes a key and a chain into group/name (the chain may be any text). */
static void put_set(const sacme_store_t *store, const char *group, const char *name,
                    const sacme_key_t *key, const char *chain)
{
    const char *dir = sacme_store_path(store, unit_pool, group, name, NULL);

    ck_assert_int_eq(sacme_file_mkdirs(dir, SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_key_save(key, apr_pstrcat(unit_pool, dir, "/" SACME_FILE_KEY,
                                                     NULL), unit_pool, NULL),
                     APR_SUCCESS);
    unit_write_text(apr_pstrcat(unit_pool, dir, "/" SACME_FILE_CHAIN, NULL), chain,
                    SACME_FPROT_PUBLIC);
}

static const char *file_in(const sacme_store_t *store, const char *group,
                           const char *name, const char *file)
{
    return sacme_store_path(store, unit_pool, group, name, file);
}

/* A good set for NAME, staged; returns its chain PEM. */
static const char *stage_good(const sacme_store_t *store, const test_ca_t *ca,
                              sacme_key_t *key)
{
    apr_time_t now = apr_time_now();
    const char *pem = chain_pem(ca, key, unit_names(NAME, NULL), now - DAY, now + 89 * DAY);

    put_set(store, SACME_GROUP_STAGING, NAME, key, pem);
    return pem;
}

/* Promoted, with ca as the trust anchor, as the parent does. */
static sacme_certset_t *promote_ok(const sacme_store_t *store, const test_ca_t *ca,
                                   const apr_array_header_t *names)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_certset_t *live = NULL;
    sacme_promote_t promoted = SACME_PROMOTE_FAILED;

    ck_assert_msg(sacme_store_promote(store, unit_pool, NAME, names, sacme_trust_verify_now,
                                      ca->trust, &promoted, &live, res) == APR_SUCCESS,
                  "promote: %s", sacme_result_message(res, unit_pool));
    ck_assert_int_eq(promoted, SACME_PROMOTE_DONE);
    ck_assert_ptr_nonnull(live);
    return live;
}

/* --- setup ------------------------------------------------------------------- */

START_TEST(test_store_setup_creates_groups)
{
    /* each part with its mode: the driver's private, the ones request
     * children read setgid to the web group, root's */
    static const struct { const char *name; unsigned mode; } groups[] = {
        { SACME_GROUP_ACCOUNTS, 0700 }, { SACME_GROUP_STAGING, 02750 },
        { SACME_GROUP_CHALLENGES, 02750 }, { SACME_GROUP_REQUESTS, 02750 },
        { SACME_GROUP_DOMAINS, 0755 }, { SACME_GROUP_ARCHIVE, 0700 },
        { SACME_GROUP_FALLBACK, 0755 },
    };
    /* a base whose parent does not exist yet either */
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/a/b/store", NULL));
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *vpath = sacme_store_path(store, unit_pool, "store.json", NULL, NULL);
    const char *before;
    json_t *j;
    apr_size_t i;
    mode_t um = umask(077);

    /* the modes are set, whatever the umask */
    ck_assert_msg(sacme_store_setup(store, unit_pool, NULL, res) == APR_SUCCESS, "%s",
                  sacme_result_message(res, unit_pool));
    umask(um);
    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); ++i) {
        const char *dir = sacme_store_path(store, unit_pool, groups[i].name, NULL, NULL);
        ck_assert_msg(is_dir(dir), "%s was not created", dir);
        ck_assert_msg(mode_of(dir) == groups[i].mode, "%s has mode %04o", dir, mode_of(dir));
    }
    ck_assert_str_eq(vpath, apr_pstrcat(unit_pool, store->base, "/store.json", NULL));
    j = sacme_json_read_file(unit_pool, vpath, 4096, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), SACME_STORE_VERSION);
    ck_assert_int_eq(SACME_STORE_VERSION, 1);

    /* again: fine, and the version file stays as it was */
    before = slurp(vpath);
    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, res), APR_SUCCESS);
    ck_assert_str_eq(slurp(vpath), before);
}
END_TEST

START_TEST(test_store_setup_refuses_newer_format)
{
    sacme_store_t *store = sacme_store_make(unit_pool, unit_tmpdir());
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *vpath = sacme_store_path(store, unit_pool, "store.json", NULL, NULL);
    const char *msg;

    unit_write_text(vpath, "{\"version\": 2}\n", SACME_FPROT_PUBLIC);
    ck_assert_int_ne(sacme_store_setup(store, unit_pool, NULL, res), APR_SUCCESS);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, "version") && strstr(msg, "2"), "message: %s", msg);
    /* the newer store is left alone */
    ck_assert_str_eq(slurp(vpath), "{\"version\": 2}\n");

    /* the current version is accepted */
    unit_write_text(vpath, "{\"version\": 1}\n", SACME_FPROT_PUBLIC);
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, res), APR_SUCCESS);

    /* an unreadable version file is an error, not silently replaced */
    unit_write_text(vpath, "{\"version\": ", SACME_FPROT_PUBLIC);
    sacme_result_reset(res);
    ck_assert_int_ne(sacme_store_setup(store, unit_pool, NULL, res), APR_SUCCESS);
    ck_assert_str_eq(slurp(vpath), "{\"version\": ");
}
END_TEST

/* The jitter seed: made once at setup, kept by later setups (a server's
 * renewals do not move at a restart), different for another store (the
 * servers of a fleet do not renew together), and added to a store.json
 * made before seeds existed. */
START_TEST(test_store_jitter_seed)
{
    sacme_store_t *a = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                               "/a", NULL));
    sacme_store_t *b = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                               "/b", NULL));
    const char *vpath = sacme_store_path(b, unit_pool, "store.json", NULL, NULL);
    apr_uint64_t seed;

    ck_assert(sacme_store_jitter_seed(a, unit_pool) == 0);    /* no store yet */
    ck_assert_int_eq(sacme_store_setup(a, unit_pool, NULL, NULL), APR_SUCCESS);
    seed = sacme_store_jitter_seed(a, unit_pool);
    ck_assert(seed != 0);
    ck_assert_int_eq(sacme_store_setup(a, unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert(sacme_store_jitter_seed(a, unit_pool) == seed);

    ck_assert_int_eq(sacme_store_setup(b, unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert(sacme_store_jitter_seed(b, unit_pool) != seed);

    /* an older store.json: given a seed, its version kept */
    unit_write_text(vpath, "{\"version\": 1}\n", SACME_FPROT_PUBLIC);
    ck_assert(sacme_store_jitter_seed(b, unit_pool) == 0);
    ck_assert_int_eq(sacme_store_setup(b, unit_pool, NULL, NULL), APR_SUCCESS);
    ck_assert(sacme_store_jitter_seed(b, unit_pool) != 0);
    ck_assert_ptr_nonnull(strstr(slurp(vpath), "\"version\": 1"));

    /* one that is not 16 hex digits is none */
    unit_write_text(vpath, "{\"version\": 1, \"jitter-seed\": \"12xz\"}\n",
                    SACME_FPROT_PUBLIC);
    ck_assert(sacme_store_jitter_seed(b, unit_pool) == 0);
    unit_write_text(vpath, "{\"version\": 1, \"jitter-seed\": \"00000000000000Ff\"}\n",
                    SACME_FPROT_PUBLIC);
    ck_assert(sacme_store_jitter_seed(b, unit_pool) == 255);
}
END_TEST

START_TEST(test_store_path)
{
    sacme_store_t *store = sacme_store_make(unit_pool, "/srv/store");

    ck_assert_str_eq(sacme_store_path(store, unit_pool, NULL, NULL, NULL), "/srv/store");
    ck_assert_str_eq(sacme_store_path(store, unit_pool, "domains", NULL, NULL),
                     "/srv/store/domains");
    ck_assert_str_eq(sacme_store_path(store, unit_pool, "domains", "a.example", NULL),
                     "/srv/store/domains/a.example");
    ck_assert_str_eq(sacme_store_path(store, unit_pool, "domains", "a.example",
                                      SACME_FILE_KEY),
                     "/srv/store/domains/a.example/privkey.pem");
}
END_TEST

/* --- accounts ---------------------------------------------------------------- */

START_TEST(test_store_account_dir)
{
    sacme_store_t *store = new_store();
    sacme_sdir_t *dir;
    const char *d[5];
    int i, k;

    d[0] = sacme_store_account_name(unit_pool, "https://acme.ca-one.test/dir", "kid-1");
    d[1] = sacme_store_account_name(unit_pool, "https://acme.ca-one.test/dir", "kid-2");
    d[2] = sacme_store_account_name(unit_pool, "https://acme.ca-two.test/dir", "kid-1");
    d[3] = sacme_store_account_name(unit_pool, "https://acme.ca-one.test/dir", NULL);
    d[4] = sacme_store_account_name(unit_pool, "https://acme.ca-one.test/v2/dir", "kid-1");
    for (i = 0; i < 5; ++i) {
        const char *base = d[i];
        ck_assert_msg(sacme_sdir_name_ok(base), "bad name %s", base);
        ck_assert_msg(strstr(base, i == 2 ? "acme.ca-two.test" : "acme.ca-one.test"),
                      "%s lacks the host", base);
        for (k = 0; k < i; ++k) {
            ck_assert_msg(strcmp(d[i], d[k]), "%d and %d share %s", i, k, d[i]);
        }
    }
    /* stable: same inputs, same directory */
    ck_assert_str_eq(sacme_store_account_name(unit_pool, "https://acme.ca-one.test/dir",
                                              "kid-1"), d[0]);
    /* opened (made 0700) under accounts/ */
    ck_assert(APR_STATUS_IS_ENOENT(sacme_store_account_open(store, unit_pool,
                                                            "https://acme.ca-one.test/dir",
                                                            "kid-1", 0, &dir, NULL)));
    ck_assert_int_eq(sacme_store_account_open(store, unit_pool,
                                              "https://acme.ca-one.test/dir", "kid-1", 1,
                                              &dir, NULL), APR_SUCCESS);
    ck_assert_str_eq(dir->path, sacme_store_path(store, unit_pool, SACME_GROUP_ACCOUNTS,
                                                 d[0], NULL));
    ck_assert_uint_eq(mode_of(dir->path), 0700);
}
END_TEST

/* Found by fuzzing (test/fuzz/corpus/directive/long-host): a host that is
 * itself a fine path component left no room for "-" and the hash, so the
 * account directory's name went over 255 bytes and could not be made. */
START_TEST(test_store_account_dir_long_host)
{
    sacme_store_t *store = new_store();
    sacme_sdir_t *dir;
    char host[250];
    const char *url, *name;

    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    url = apr_pstrcat(unit_pool, "https://", host, "/dir", NULL);
    name = sacme_store_account_name(unit_pool, url, "kid-1");
    ck_assert_msg(sacme_sdir_name_ok(name), "bad name %s (%lu bytes)", name,
                  (unsigned long)strlen(name));
    ck_assert_int_eq(sacme_store_account_open(store, unit_pool, url, "kid-1", 1,
                                              &dir, NULL), APR_SUCCESS);
    /* distinct CAs with such hosts still get distinct directories */
    ck_assert_str_ne(name, sacme_store_account_name(unit_pool,
                                                    apr_pstrcat(unit_pool, url, "2", NULL),
                                                    "kid-1"));
}
END_TEST

/* --- sets -------------------------------------------------------------------- */

START_TEST(test_store_load_missing)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_certset_t *set = NULL;
    sacme_chain_t *chain = NULL;
    sacme_key_t *key = unit_key(SACME_KEY_P256);

    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));
    ck_assert(APR_STATUS_IS_ENOENT(sacme_store_load_set(store, unit_pool, SACME_GROUP_DOMAINS,
                                                        NAME, &set, res)));
    ck_assert_ptr_null(set);
    ck_assert_ptr_nonnull(res->detail);
    sacme_result_reset(res);
    ck_assert(APR_STATUS_IS_ENOENT(sacme_store_load_chain(store, unit_pool,
                                                          SACME_GROUP_DOMAINS, NAME,
                                                          &chain, res)));
    ck_assert_ptr_null(chain);

    /* a key alone is not a set */
    ck_assert_int_eq(sacme_file_mkdirs(file_in(store, SACME_GROUP_DOMAINS, NAME, NULL),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_key_save(key, file_in(store, SACME_GROUP_DOMAINS, NAME,
                                                 SACME_FILE_KEY), unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));
    ck_assert(APR_STATUS_IS_ENOENT(sacme_store_load_set(store, unit_pool, SACME_GROUP_DOMAINS,
                                                        NAME, &set, res)));
    ck_assert_ptr_null(set);
}
END_TEST

START_TEST(test_store_load_set)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_certset_t *set = NULL;
    sacme_chain_t *chain = NULL;
    apr_time_t now = apr_time_now();
    const char *pem = chain_pem(ca, key, unit_names(NAME, NULL), now - DAY, now + 80 * DAY);

    put_set(store, SACME_GROUP_DOMAINS, NAME, key, pem);
    ck_assert(sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_STAGING, NAME));
    ck_assert_msg(sacme_store_load_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME, &set,
                                       res) == APR_SUCCESS,
                  "%s", sacme_result_message(res, unit_pool));
    ck_assert_ptr_nonnull(set);
    ck_assert_int_eq(sacme_key_type(set->key), SACME_KEY_P256);
    ck_assert(sacme_key_same_public(set->key, sacme_key_evp(key)));
    ck_assert_int_eq(set->chain->certs->nelts, 2);
    ck_assert_str_eq(sacme_chain_pem(set->chain, unit_pool), pem);

    ck_assert_int_eq(sacme_store_load_chain(store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                            &chain, res), APR_SUCCESS);
    ck_assert_str_eq(sacme_chain_pem(chain, unit_pool), pem);

    /* a chain file that is not a chain: an error naming the file */
    unit_write_text(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN),
                    "<html>502 Bad Gateway</html>\n", SACME_FPROT_PUBLIC);
    sacme_result_reset(res);
    chain = NULL;
    ck_assert_int_ne(sacme_store_load_chain(store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                            &chain, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), SACME_FILE_CHAIN));
}
END_TEST

START_TEST(test_store_remove)
{
    sacme_store_t *store = new_store();
    const char *path = file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB);
    json_t *j = sacme_json_own(unit_pool, json_object());

    ck_assert_int_eq(sacme_store_state_remove(store, unit_pool, SACME_STATE_JOB, NAME, NULL),
                     APR_SUCCESS);
    json_object_set_new(j, "errors", json_integer(2));
    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_JOB, NAME, j, NULL),
                     APR_SUCCESS);
    /* what request children read: the web group's, never others' */
    ck_assert_uint_eq(mode_of(path), 0640);
    ck_assert_int_eq(json_integer_value(json_object_get(
        sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME, NULL), "errors")), 2);
    ck_assert_int_eq(sacme_store_state_remove(store, unit_pool, SACME_STATE_JOB, NAME, NULL),
                     APR_SUCCESS);
    ck_assert(!sacme_file_exists(path, unit_pool));
    ck_assert_ptr_null(sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME, NULL));
}
END_TEST

/* --- leftovers ------------------------------------------------------------------ */

/* What a driver killed mid-write or mid-order leaves goes at the next
 * driver's start: temporary files (a key among them) in every part of the
 * driver's, and every published challenge answer; nothing else. */
START_TEST(test_store_sweep_leftovers)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_store_swept_t swept;
    sacme_sdir_t *acct, *spool, *spool2;
    json_t *j = sacme_json_own(unit_pool, json_object());
    const char *token1 = "tok1-aaaaaaaaaaaaaaaaaaaaaa", *token2 = "tok2-bbbbbbbbbbbbbbbbbbbbbb";
    const char *gone[5], *kept[6];
    int i;

    /* the driver's state as it would be */
    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_JOB, NAME, j, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_REQUEST, NAME, j,
                                            NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_store_account_open(store, unit_pool, "https://ca.test/dir", "kid",
                                              1, &acct, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_store_spool_open(store, unit_pool, NULL, &spool, NULL), APR_SUCCESS);
    /* a set's own receiver has a spool of its own, named by a digest: its
     * URL (whose query may be a token) is not in the name */
    ck_assert_int_eq(sacme_store_spool_open(store, unit_pool, "https://h.test/in?t=S3CR3T",
                                            &spool2, NULL), APR_SUCCESS);
    ck_assert_str_ne(spool2->path, spool->path);
    ck_assert_ptr_null(strstr(spool2->path, "S3CR3T"));
    ck_assert_ptr_nonnull(strstr(spool2->path, "/staging/-webhook-"));
    ck_assert_int_eq(sacme_store_challenge_put(store, unit_pool, NAME, token1, "ka1", NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_challenge_put(store, unit_pool, NAME, token2, "ka2", NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_challenge_put(store, unit_pool, "shop.example.org", token1,
                                               "ka3", NULL), APR_SUCCESS);

    /* what interrupted writes leave ("<name>.tmp.<16 hex>") */
    gone[0] = file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY ".tmp.0123456789abcdef");
    gone[1] = file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB ".tmp.fedcba9876543210");
    gone[2] = apr_pstrcat(unit_pool, spool->path, "/1-2-3.json.tmp.00112233445566aa", NULL);
    gone[3] = apr_pstrcat(unit_pool, acct->path, "/account.key.tmp.aaaaaaaaaaaaaaaa", NULL);
    gone[4] = file_in(store, SACME_GROUP_REQUESTS, NULL, NAME ".json.tmp.bbbbbbbbbbbbbbbb");
    /* and what is not such a file */
    kept[0] = file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_JOB);
    kept[1] = file_in(store, SACME_GROUP_STAGING, NAME, "notes.tmp.0123456789ABCDEF");
    kept[2] = file_in(store, SACME_GROUP_STAGING, NAME, "x.tmp.0123456789abcde");
    kept[3] = file_in(store, SACME_GROUP_REQUESTS, NULL, NAME ".json");
    kept[4] = apr_pstrcat(unit_pool, acct->path, "/account.json", NULL);
    kept[5] = apr_pstrcat(unit_pool, spool->path, "/1-2-3.json", NULL);
    for (i = 0; i < 5; ++i) {
        unit_write_text(gone[i], "-----BEGIN PRIVATE KEY-----\n", SACME_FPROT_PRIVATE);
    }
    for (i = 1; i < 6; ++i) {
        if (i != 3) {
            unit_write_text(kept[i], "{}", SACME_FPROT_PRIVATE);
        }
    }

    ck_assert_msg(sacme_store_sweep(store, unit_pool, &swept, res) == APR_SUCCESS, "%s",
                  sacme_result_message(res, unit_pool));
    ck_assert_int_eq(swept.temporaries, 5);
    ck_assert_int_eq(swept.challenges, 3);
    for (i = 0; i < 5; ++i) {
        ck_assert_msg(!sacme_file_exists(gone[i], unit_pool), "%s is still there", gone[i]);
    }
    for (i = 0; i < 6; ++i) {
        ck_assert_msg(sacme_file_exists(kept[i], unit_pool), "%s was removed", kept[i]);
    }
    /* the answers, and the directories they leave empty */
    ck_assert_int_eq(entries(sacme_store_path(store, unit_pool, SACME_GROUP_CHALLENGES, NULL,
                                              NULL))->nelts, 0);
    ck_assert(is_dir(sacme_store_path(store, unit_pool, SACME_GROUP_CHALLENGES, NULL, NULL)));
    /* the state itself is untouched */
    ck_assert_ptr_nonnull(sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME,
                                                 NULL));

    /* nothing more to do the second time */
    ck_assert_int_eq(sacme_store_sweep(store, unit_pool, &swept, NULL), APR_SUCCESS);
    ck_assert_int_eq(swept.temporaries + swept.challenges, 0);
}
END_TEST

/* The answers of the names the caller keeps (an order in progress may have
 * them fetched by the CA now) stay; the others go. */
static int keep_name(void *baton, const char *name)
{
    return !strcmp(name, (const char *)baton);
}

START_TEST(test_store_sweep_keeps_answers_of_orders_in_progress)
{
    sacme_store_t *store = new_store();
    sacme_store_swept_t swept;
    const char *token = "tok1-aaaaaaaaaaaaaaaaaaaaaa";
    char *data;
    apr_size_t len;

    ck_assert_int_eq(sacme_store_challenge_put(store, unit_pool, NAME, token, "ka1", NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_store_challenge_put(store, unit_pool, "shop.example.org", token,
                                               "ka2", NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_store_sweep_except(store, unit_pool, keep_name, (void *)NAME,
                                              &swept, NULL), APR_SUCCESS);
    ck_assert_int_eq(swept.challenges, 1);
    ck_assert_int_eq(sacme_store_challenge_get(store, unit_pool, NAME, token, 100, &data,
                                               &len, NULL), APR_SUCCESS);
    ck_assert_int_eq(len, 3);
    ck_assert(memcmp(data, "ka1", 3) == 0);
    ck_assert_int_ne(sacme_store_challenge_get(store, unit_pool, "shop.example.org", token,
                                               100, &data, &len, NULL), APR_SUCCESS);
}
END_TEST

START_TEST(test_store_temporary_names)
{
    ck_assert(sacme_sdir_is_temporary("privkey.pem.tmp.0123456789abcdef"));
    ck_assert(sacme_sdir_is_temporary("a.tmp.ffffffffffffffff"));
    ck_assert(!sacme_sdir_is_temporary(".tmp.0123456789abcdef"));
    ck_assert(!sacme_sdir_is_temporary("a.tmp.0123456789abcdeg"));
    ck_assert(!sacme_sdir_is_temporary("a.tmp.0123456789ABCDEF"));
    ck_assert(!sacme_sdir_is_temporary("a.tmp.0123456789abcdef0"));
    ck_assert(!sacme_sdir_is_temporary("a.tmq.0123456789abcdef"));
    ck_assert(!sacme_sdir_is_temporary("job.json"));
    ck_assert(!sacme_sdir_is_temporary(""));
    ck_assert(!sacme_sdir_is_temporary(NULL));
}
END_TEST

/* --- promotion ----------------------------------------------------------------- */

START_TEST(test_store_promote_first)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    const char *pem = stage_good(store, ca, key);
    const char *live_key = file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY);
    const char *live_chain = file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN);
    sacme_certset_t *live, *loaded;

    live = promote_ok(store, ca, unit_names(NAME, NULL));
    ck_assert_str_eq(sacme_store_live_file(store, unit_pool, NAME, SACME_FILE_KEY), live_key);
    ck_assert_str_eq(sacme_store_live_file(store, unit_pool, NAME, SACME_FILE_CHAIN),
                     live_chain);
    ck_assert(sacme_key_same_public(live->key, sacme_key_evp(key)));

    ck_assert_str_eq(slurp(live_chain), pem);
    ck_assert_uint_eq(mode_of(live_key), 0600);
    ck_assert_uint_eq(mode_of(live_chain), 0644);
    ck_assert_int_eq(sacme_store_load_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                          &loaded, NULL), APR_SUCCESS);
    ck_assert(sacme_key_same_public(loaded->key, sacme_key_evp(key)));

    /* staged files gone, nothing half-done left, nothing archived */
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY),
                                 unit_pool));
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_CHAIN),
                                 unit_pool));
    ck_assert(!sacme_file_exists(apr_pstrcat(unit_pool, file_in(store, SACME_GROUP_DOMAINS,
                                                                NAME, NULL), ".new", NULL),
                                 unit_pool));
    ck_assert_int_eq(entries(file_in(store, SACME_GROUP_ARCHIVE, NAME, NULL))->nelts, 0);
}
END_TEST

START_TEST(test_store_promote_archives_previous)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key1 = unit_key(SACME_KEY_P256), *key2 = unit_key(SACME_KEY_P256);
    const char *pem1, *pem2, *old_key, *adir, *a;
    apr_array_header_t *archived;
    sacme_certset_t *live;
    sacme_key_t *k;

    pem1 = stage_good(store, ca, key1);
    promote_ok(store, ca, unit_names(NAME, NULL));
    old_key = slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY));

    ck_assert_ptr_nonnull(strstr(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME,
                                               SACME_FILE_HISTORY)), "\"activations\": 1"));

    pem2 = stage_good(store, ca, key2);
    ck_assert_str_ne(pem1, pem2);
    live = promote_ok(store, ca, unit_names(NAME, NULL));
    /* the count of activations goes on with the new set (a renewal) */
    ck_assert_ptr_nonnull(strstr(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME,
                                               SACME_FILE_HISTORY)), "\"activations\": 2"));
    ck_assert_uint_eq(mode_of(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_HISTORY)),
                      0644);
    ck_assert(sacme_key_same_public(live->key, sacme_key_evp(key2)));
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN)), pem2);
    ck_assert_int_eq(sacme_key_load(unit_pool, file_in(store, SACME_GROUP_DOMAINS, NAME,
                                                       SACME_FILE_KEY), &k, NULL),
                     APR_SUCCESS);
    ck_assert(sacme_key_same_public(k, sacme_key_evp(key2)));
    ck_assert_uint_eq(mode_of(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY)),
                      0600);

    /* the previous set, whole, under archive/<name>/<stamp>/ */
    adir = file_in(store, SACME_GROUP_ARCHIVE, NAME, NULL);
    archived = entries(adir);
    ck_assert_int_eq(archived->nelts, 1);
    a = apr_pstrcat(unit_pool, adir, "/", APR_ARRAY_IDX(archived, 0, const char *), NULL);
    ck_assert(is_dir(a));
    ck_assert_str_eq(slurp(apr_pstrcat(unit_pool, a, "/" SACME_FILE_CHAIN, NULL)), pem1);
    ck_assert_str_eq(slurp(apr_pstrcat(unit_pool, a, "/" SACME_FILE_KEY, NULL)), old_key);
    ck_assert_uint_eq(mode_of(apr_pstrcat(unit_pool, a, "/" SACME_FILE_KEY, NULL)), 0600);

    /* a third one: two archived sets, distinct stamps */
    stage_good(store, ca, unit_key(SACME_KEY_P256));
    promote_ok(store, ca, unit_names(NAME, NULL));
    ck_assert_int_eq(entries(adir)->nelts, 2);
}
END_TEST

typedef enum {
    BAD_KEY, BAD_NAME, BAD_EXPIRED, BAD_GARBAGE, BAD_ISSUER, BAD_SELF_SIGNED, BAD_OTHER_CA,
    BAD_NO_TRUST
} bad_t;

/* Stages a bad set over an existing live one (if with_live) and checks
 * that promotion refuses it with a message containing needle, leaves the
 * live set byte for byte, and keeps a copy of the staged files under
 * archive/<name>/refused-*, root's (nothing is moved out of staging). */
static void promote_refused(bad_t bad, int with_live, const char *needle)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_array_header_t *names = unit_names(NAME, NULL), *refused;
    const char *live_key = file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY);
    const char *live_chain = file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN);
    const char *key_before = NULL, *chain_before = NULL, *pem, *staged_key, *msg;
    const char *adir = file_in(store, SACME_GROUP_ARCHIVE, NAME, NULL), *rdir = NULL;
    sacme_certset_t *live = NULL;
    sacme_trust_t *trust = ca->trust;
    apr_time_t now = apr_time_now();
    sacme_promote_t promoted = SACME_PROMOTE_FAILED;
    int i;

    if (with_live) {
        stage_good(store, ca, unit_key(SACME_KEY_P256));
        promote_ok(store, ca, names);
        key_before = slurp(live_key);
        chain_before = slurp(live_chain);
    }
    switch (bad) {
    case BAD_KEY:       /* the certificate is for another key */
        pem = chain_pem(ca, unit_key(SACME_KEY_P256), names, now - DAY, now + 89 * DAY);
        break;
    case BAD_NAME:      /* a second configured name is not covered */
        pem = chain_pem(ca, key, names, now - DAY, now + 89 * DAY);
        names = unit_names(NAME, "shop.example.org", NULL);
        break;
    case BAD_EXPIRED:
        pem = chain_pem(ca, key, names, now - 100 * DAY, now - DAY);
        break;
    case BAD_ISSUER: {  /* the second certificate did not issue the first */
        test_ca_t *other = make_ca("Some Other CA");
        sacme_chain_t chain;
        chain.certs = apr_array_make(unit_pool, 2, sizeof(X509 *));
        APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, NAME, names, now - DAY,
                                                              now + 89 * DAY, ca->key,
                                                              ca->cert, 0);
        APR_ARRAY_PUSH(chain.certs, X509 *) = other->cert;
        pem = sacme_chain_pem(&chain, unit_pool);
        break;
    }
    case BAD_SELF_SIGNED: {  /* well formed, but anyone can make it */
        sacme_chain_t chain;
        chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
        APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, NAME, names, now - DAY,
                                                              now + 89 * DAY, NULL, NULL, 0);
        pem = sacme_chain_pem(&chain, unit_pool);
        break;
    }
    case BAD_OTHER_CA:      /* a complete chain from a CA of one's own */
        pem = chain_pem(make_ca("Rogue CA"), key, names, now - DAY, now + 89 * DAY);
        break;
    case BAD_NO_TRUST:      /* a good set, but no anchors to verify it against */
        pem = chain_pem(ca, key, names, now - DAY, now + 89 * DAY);
        trust = NULL;
        break;
    default:
        pem = "<html><body>502 Bad Gateway</body></html>\n";
        break;
    }
    put_set(store, SACME_GROUP_STAGING, NAME, key, pem);
    staged_key = slurp(file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY));

    ck_assert_int_ne(sacme_store_promote(store, unit_pool, NAME, names, sacme_trust_verify_now,
                                         trust, &promoted, &live, res), APR_SUCCESS);
    ck_assert_int_eq(promoted, SACME_PROMOTE_REFUSED);
    ck_assert_int_ne(res->status, APR_SUCCESS);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);

    /* the live set is exactly what it was (or still absent) */
    if (with_live) {
        ck_assert_str_eq(slurp(live_key), key_before);
        ck_assert_str_eq(slurp(live_chain), chain_before);
        ck_assert_uint_eq(mode_of(live_key), 0600);
    }
    else {
        ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_DOMAINS, NAME, NULL),
                                     unit_pool));
    }
    ck_assert(!sacme_file_exists(apr_pstrcat(unit_pool, file_in(store, SACME_GROUP_DOMAINS,
                                                                NAME, NULL), ".new", NULL),
                                 unit_pool));

    /* the staged files are gone, their content kept in the archive */
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_KEY),
                                 unit_pool));
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_CHAIN),
                                 unit_pool));
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_STAGING, NAME));
    refused = entries(adir);
    ck_assert_int_eq(refused->nelts, 1);
    for (i = 0; i < refused->nelts; ++i) {
        const char *e = APR_ARRAY_IDX(refused, i, const char *);
        ck_assert_msg(!strncmp(e, "refused-", 8), "%s in the archive", e);
        rdir = apr_pstrcat(unit_pool, adir, "/", e, NULL);
    }
    ck_assert_msg(rdir != NULL, "no refused-* directory in %s", adir);
    ck_assert_uint_eq(mode_of(rdir), 0700);
    ck_assert(is_dir(rdir));
    ck_assert_str_eq(slurp(apr_pstrcat(unit_pool, rdir, "/" SACME_FILE_CHAIN, NULL)), pem);
    ck_assert_str_eq(slurp(apr_pstrcat(unit_pool, rdir, "/" SACME_FILE_KEY, NULL)), staged_key);
}

START_TEST(test_store_promote_refuses_key_mismatch)
{
    promote_refused(BAD_KEY, 1, "does not match");
}
END_TEST

START_TEST(test_store_promote_refuses_missing_name)
{
    promote_refused(BAD_NAME, 1, "shop.example.org");
}
END_TEST

START_TEST(test_store_promote_refuses_expired)
{
    promote_refused(BAD_EXPIRED, 1, "expired");
}
END_TEST

START_TEST(test_store_promote_refuses_garbage)
{
    promote_refused(BAD_GARBAGE, 1, SACME_FILE_CHAIN);
}
END_TEST

START_TEST(test_store_promote_refuses_wrong_issuer)
{
    promote_refused(BAD_ISSUER, 1, "not issued by");
}
END_TEST

START_TEST(test_store_promote_refuses_self_signed)
{
    promote_refused(BAD_SELF_SIGNED, 1, "self-signed");
}
END_TEST

START_TEST(test_store_promote_refuses_other_ca)
{
    promote_refused(BAD_OTHER_CA, 1, "does not reach a trusted root");
}
END_TEST

START_TEST(test_store_promote_refuses_without_trust)
{
    promote_refused(BAD_NO_TRUST, 1, "no trust anchors");
}
END_TEST

START_TEST(test_store_promote_refuses_without_live)
{
    promote_refused(BAD_KEY, 0, "does not match");
}
END_TEST

START_TEST(test_store_promote_after_refusal)
{
    /* a refused set does not block the next good one */
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    apr_time_t now = apr_time_now();
    const char *pem;
    sacme_promote_t promoted = SACME_PROMOTE_FAILED;
    sacme_certset_t *live = NULL;

    put_set(store, SACME_GROUP_STAGING, NAME, key,
            chain_pem(ca, key, unit_names(NAME, NULL), now - 100 * DAY, now - DAY));
    ck_assert_int_ne(sacme_store_promote(store, unit_pool, NAME, unit_names(NAME, NULL),
                                         sacme_trust_verify_now, ca->trust, &promoted, &live,
                                         NULL), APR_SUCCESS);
    pem = stage_good(store, ca, key);
    promote_ok(store, ca, unit_names(NAME, NULL));
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN)), pem);
}
END_TEST

START_TEST(test_store_promote_failure_keeps_staged)
{
    /* the store cannot take the set (here a file where domains/<name>.new
     * must be made): not a refusal, the set stays staged as it was, to be
     * promoted again once the store is fixed */
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_promote_t promoted = SACME_PROMOTE_DONE;
    const char *blocker = apr_pstrcat(unit_pool, store->base, "/" SACME_GROUP_DOMAINS "/",
                                      NAME, ".new", NULL);
    const char *id;

    stage_good(store, ca, key);
    id = sacme_store_staged_id(store, unit_pool, NAME, NULL);
    ck_assert_ptr_nonnull(id);
    unit_write_text(blocker, "in the way", SACME_FPROT_PUBLIC);
    ck_assert_int_ne(sacme_store_promote(store, unit_pool, NAME, unit_names(NAME, NULL),
                                         sacme_trust_verify_now, ca->trust, &promoted, NULL,
                                         res), APR_SUCCESS);
    ck_assert_int_eq(promoted, SACME_PROMOTE_FAILED);
    ck_assert_str_eq(sacme_store_staged_id(store, unit_pool, NAME, NULL), id);
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));

    /* fixed: the same set goes into service; nothing is staged any more */
    ck_assert_int_eq(unlink(blocker), 0);
    promote_ok(store, ca, unit_names(NAME, NULL));
    ck_assert_ptr_null(sacme_store_staged_id(store, unit_pool, NAME, NULL));
}
END_TEST

START_TEST(test_store_staged_id_changes_with_a_new_set)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    const char *first, *chain;

    ck_assert_ptr_null(sacme_store_staged_id(store, unit_pool, NAME, NULL));
    stage_good(store, ca, key);
    first = sacme_store_staged_id(store, unit_pool, NAME, NULL);
    ck_assert_ptr_nonnull(first);
    ck_assert_str_eq(sacme_store_staged_id(store, unit_pool, NAME, NULL), first);
    /* staged anew the driver's way: a new file renamed over the old one */
    chain = file_in(store, SACME_GROUP_STAGING, NAME, SACME_FILE_CHAIN);
    unit_write_text(apr_pstrcat(unit_pool, chain, ".x", NULL), slurp(chain),
                    SACME_FPROT_PUBLIC);
    ck_assert_int_eq(rename(apr_pstrcat(unit_pool, chain, ".x", NULL), chain), 0);
    ck_assert_str_ne(sacme_store_staged_id(store, unit_pool, NAME, NULL), first);
}
END_TEST

/* --- recovery ---------------------------------------------------------------- */

START_TEST(test_store_recover_installs_new)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256);
    apr_time_t now = apr_time_now();
    const char *pem = chain_pem(ca, key, unit_names(NAME, NULL), now - DAY, now + 89 * DAY);
    const char *newname = apr_pstrcat(unit_pool, NAME, ".new", NULL);
    const char *key_pem;
    sacme_certset_t *set;

    /* a crash after the old set went to the archive, before the new one
     * was moved into place */
    put_set(store, SACME_GROUP_DOMAINS, newname, key, pem);
    key_pem = slurp(file_in(store, SACME_GROUP_DOMAINS, newname, SACME_FILE_KEY));
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));

    sacme_store_recover(store, unit_pool, NAME);
    ck_assert(sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_DOMAINS, newname, NULL),
                                 unit_pool));
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN)), pem);
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY)),
                     key_pem);
    ck_assert_int_eq(sacme_store_load_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME, &set,
                                          NULL), APR_SUCCESS);
    ck_assert(sacme_key_same_public(set->key, sacme_key_evp(key)));

    /* nothing to do the second time */
    sacme_store_recover(store, unit_pool, NAME);
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN)), pem);
}
END_TEST

START_TEST(test_store_recover_drops_new)
{
    sacme_store_t *store = new_store();
    test_ca_t *ca = make_ca("Store Test CA");
    sacme_key_t *key = unit_key(SACME_KEY_P256), *other = unit_key(SACME_KEY_P256);
    apr_time_t now = apr_time_now();
    const char *newname = apr_pstrcat(unit_pool, NAME, ".new", NULL);
    const char *live_pem, *live_key;

    /* a crash while the new set was being written: the live set stays */
    put_set(store, SACME_GROUP_DOMAINS, NAME, key,
            chain_pem(ca, key, unit_names(NAME, NULL), now - DAY, now + 89 * DAY));
    put_set(store, SACME_GROUP_DOMAINS, newname, other,
            chain_pem(ca, other, unit_names(NAME, NULL), now - DAY, now + 89 * DAY));
    live_pem = slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN));
    live_key = slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY));

    sacme_store_recover(store, unit_pool, NAME);
    ck_assert(!sacme_file_exists(file_in(store, SACME_GROUP_DOMAINS, newname, NULL),
                                 unit_pool));
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_CHAIN)),
                     live_pem);
    ck_assert_str_eq(slurp(file_in(store, SACME_GROUP_DOMAINS, NAME, SACME_FILE_KEY)),
                     live_key);
}
END_TEST

START_TEST(test_store_recover_nothing)
{
    sacme_store_t *store = new_store();
    const char *domains = sacme_store_path(store, unit_pool, SACME_GROUP_DOMAINS, NULL, NULL);

    sacme_store_recover(store, unit_pool, NAME);
    ck_assert_int_eq(entries(domains)->nelts, 0);
}
END_TEST

/* What another process (sacmectl, the driver) sees of the store lock. */
static int other_process_can_lock(const sacme_store_t *store)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        apr_pool_t *p;
        apr_file_t *lock;
        apr_status_t rv;
        apr_pool_create(&p, NULL);
        rv = sacme_store_lock(store, p, 0, &lock, NULL);
        _exit(rv == APR_SUCCESS ? 0 : APR_STATUS_IS_EAGAIN(rv) ? 1 : 2);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_ne(WEXITSTATUS(status), 2);
    return WEXITSTATUS(status) == 0;
}

START_TEST(test_store_lock_excludes_other_processes)
{
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));
    apr_file_t *lock;
    struct stat st;

    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    /* the parent makes it, private: the User gets it, others cannot hold it */
    ck_assert_int_eq(stat(sacme_store_path(store, unit_pool, SACME_FILE_LOCK, NULL, NULL),
                          &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert(other_process_can_lock(store));
    ck_assert_int_eq(sacme_store_lock(store, unit_pool, 1, &lock, NULL), APR_SUCCESS);
    ck_assert(!other_process_can_lock(store));
    sacme_store_unlock(lock);
    ck_assert(other_process_can_lock(store));
}
END_TEST

Suite *unit_suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("layout");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_setup_creates_groups);
    tcase_add_test(tc, test_store_setup_refuses_newer_format);
    tcase_add_test(tc, test_store_jitter_seed);
    tcase_add_test(tc, test_store_path);
    tcase_add_test(tc, test_store_account_dir);
    tcase_add_test(tc, test_store_account_dir_long_host);
    tcase_add_test(tc, test_store_lock_excludes_other_processes);
    suite_add_tcase(s, tc);

    tc = tcase_create("sets");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_load_missing);
    tcase_add_test(tc, test_store_load_set);
    tcase_add_test(tc, test_store_remove);
    suite_add_tcase(s, tc);

    tc = tcase_create("leftovers");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_sweep_leftovers);
    tcase_add_test(tc, test_store_sweep_keeps_answers_of_orders_in_progress);
    tcase_add_test(tc, test_store_temporary_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("promote");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_promote_first);
    tcase_add_test(tc, test_store_promote_archives_previous);
    tcase_add_test(tc, test_store_promote_refuses_key_mismatch);
    tcase_add_test(tc, test_store_promote_refuses_missing_name);
    tcase_add_test(tc, test_store_promote_refuses_expired);
    tcase_add_test(tc, test_store_promote_refuses_garbage);
    tcase_add_test(tc, test_store_promote_refuses_wrong_issuer);
    tcase_add_test(tc, test_store_promote_refuses_self_signed);
    tcase_add_test(tc, test_store_promote_refuses_other_ca);
    tcase_add_test(tc, test_store_promote_refuses_without_trust);
    tcase_add_test(tc, test_store_promote_refuses_without_live);
    tcase_add_test(tc, test_store_promote_after_refusal);
    tcase_add_test(tc, test_store_promote_failure_keeps_staged);
    tcase_add_test(tc, test_store_staged_id_changes_with_a_new_set);
    suite_add_tcase(s, tc);

    tc = tcase_create("recover");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_recover_installs_new);
    tcase_add_test(tc, test_store_recover_drops_new);
    tcase_add_test(tc, test_store_recover_nothing);
    suite_add_tcase(s, tc);
    return s;
}
