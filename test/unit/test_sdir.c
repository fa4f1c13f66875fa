/* Unit tests: sacme_sdir (safe directories) and the store's refusals of
 * what a less privileged account could plant: symbolic links, hard links,
 * FIFOs, files and directories of another owner or a loose mode. Each
 * refusal must leave the planted target untouched.
 *
 * The owner checks need a second account: as root the tests give files to
 * nobody (65534); run unprivileged, those cases are exercised through the
 * mode and link checks only, which need no second account. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_sdir.h"
#include "sacme_store.h"

#define NAME "www.example.org"
#define OTHER_UID 65534

static const char *victim_text = "root's secret\n";

/* A file outside the store that an attacker would like to read or change:
 * 0600, known content. */
static const char *victim(void)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/victim", NULL);
    unit_write_text(path, victim_text, SACME_FPROT_PRIVATE);
    return path;
}

static void assert_victim_untouched(const char *path)
{
    struct stat st;

    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_str_eq(unit_read_text(path), victim_text);
}

static sacme_sdir_t *open_dir(const char *path)
{
    return (sacme_sdir_t *)unit_sdir(path);
}

static sacme_store_t *new_store(void)
{
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_msg(sacme_store_setup(store, unit_pool, NULL, res) == APR_SUCCESS, "%s",
                  sacme_result_message(res, unit_pool));
    return store;
}

static const char *staged(const sacme_store_t *store, const char *file)
{
    const char *dir = sacme_store_path(store, unit_pool, SACME_GROUP_STAGING, NAME, NULL);

    ck_assert_int_eq(sacme_file_mkdirs(dir, SACME_FPROT_DIR_PRIVATE, unit_pool, NULL),
                     APR_SUCCESS);
    return file ? apr_pstrcat(unit_pool, dir, "/", file, NULL) : dir;
}

/* --- reading ------------------------------------------------------------------ */

START_TEST(test_sdir_reads_a_plain_file)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    sacme_sdir_t *dir = open_dir(path);
    char *data;
    apr_size_t len;

    unit_write_text(apr_pstrcat(unit_pool, path, "/f", NULL), "hello", SACME_FPROT_PUBLIC);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(data, "hello");
    ck_assert_uint_eq(len, 5);
    /* bounded */
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 4, 0, unit_pool, &data, &len, NULL),
                     APR_ENOSPC);
    /* missing */
    ck_assert(APR_STATUS_IS_ENOENT(sacme_sdir_read(dir, "none", 100, 0, unit_pool, &data,
                                                   &len, NULL)));
    /* names that could leave the directory are not even tried */
    ck_assert_int_eq(sacme_sdir_read(dir, "../victim", 100, 0, unit_pool, &data, &len,
                                     NULL), APR_EINVAL);
    ck_assert_int_eq(sacme_sdir_read(dir, "..", 100, 0, unit_pool, &data, &len, NULL),
                     APR_EINVAL);
}
END_TEST

START_TEST(test_sdir_refuses_symlink)
{
    const char *v = victim();
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    sacme_sdir_t *dir = open_dir(path);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data = NULL;
    apr_size_t len;

    ck_assert_int_eq(symlink(v, apr_pstrcat(unit_pool, path, "/f", NULL)), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, res),
                     SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "symbolic link"));
    ck_assert_ptr_nonnull(strstr(res->detail, path));
    ck_assert_ptr_null(data);
    assert_victim_untouched(v);
}
END_TEST

START_TEST(test_sdir_refuses_hard_link)
{
    const char *v = victim();
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    sacme_sdir_t *dir = open_dir(path);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    ck_assert_int_eq(link(v, apr_pstrcat(unit_pool, path, "/f", NULL)), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, res),
                     SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "hard link"));
    /* a write over it replaces the name, never the victim's content */
    ck_assert_int_eq(sacme_sdir_write(dir, "f", "new", 3, 0644, 0, unit_pool, NULL),
                     APR_SUCCESS);
    assert_victim_untouched(v);
}
END_TEST

START_TEST(test_sdir_refuses_fifo_without_blocking)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    sacme_sdir_t *dir = open_dir(path);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    ck_assert_int_eq(mkfifo(apr_pstrcat(unit_pool, path, "/f", NULL), 0600), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, res),
                     SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "not a regular file"));
}
END_TEST

START_TEST(test_sdir_refuses_loose_modes)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    const char *f = apr_pstrcat(unit_pool, path, "/f", NULL);
    sacme_sdir_t *dir = open_dir(path);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    unit_write_text(f, "x", SACME_FPROT_PUBLIC);
    ck_assert_int_eq(chmod(f, 0666), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, res),
                     SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "0666"));
    /* a key must be its owner's alone */
    ck_assert_int_eq(chmod(f, 0640), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, NULL),
                     APR_SUCCESS);
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, SACME_SDIR_PRIVATE, unit_pool, &data,
                                     &len, res), SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "read"));
}
END_TEST

START_TEST(test_sdir_refuses_other_owner)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    const char *f = apr_pstrcat(unit_pool, path, "/f", NULL);
    sacme_sdir_t *dir = open_dir(path);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    if (geteuid() != 0) {
        return;         /* giving a file away needs root (see the file's head) */
    }
    unit_write_text(f, "x", SACME_FPROT_PUBLIC);
    ck_assert_int_eq(chown(f, OTHER_UID, OTHER_UID), 0);
    ck_assert_int_eq(sacme_sdir_read(dir, "f", 100, 0, unit_pool, &data, &len, res),
                     SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "owned by uid 65534"));
}
END_TEST

/* --- directories -------------------------------------------------------------- */

START_TEST(test_sdir_open_refuses_symlinked_and_loose_dirs)
{
    const char *top = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    const char *elsewhere = apr_pstrcat(unit_pool, unit_tmpdir(), "/elsewhere", NULL);
    sacme_sdir_t *dir = open_dir(top), *sub;
    sacme_result_t *res = sacme_result_make(unit_pool);
    struct stat st;

    ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
    ck_assert_int_eq(symlink(elsewhere, apr_pstrcat(unit_pool, top, "/link", NULL)), 0);
    ck_assert_int_eq(sacme_sdir_open(dir, "link", 1, 0700, SACME_SDIR_ANY_OWNER, unit_pool,
                                     &sub, res), SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "symbolic link"));
    /* nothing was made through the link */
    ck_assert_int_eq(lstat(apr_pstrcat(unit_pool, top, "/link", NULL), &st), 0);
    ck_assert(S_ISLNK(st.st_mode));

    ck_assert_int_eq(mkdir(apr_pstrcat(unit_pool, top, "/open", NULL), 0700), 0);
    ck_assert_int_eq(chmod(apr_pstrcat(unit_pool, top, "/open", NULL), 0777), 0);
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_sdir_open(dir, "open", 0, 0, SACME_SDIR_ANY_OWNER, unit_pool,
                                     &sub, res), SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "writable by group or others"));

    unit_write_text(apr_pstrcat(unit_pool, top, "/file", NULL), "x", SACME_FPROT_PUBLIC);
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_sdir_open(dir, "file", 0, 0, SACME_SDIR_ANY_OWNER, unit_pool,
                                     &sub, res), SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "not a directory"));

    /* made when missing, with the mode asked for */
    ck_assert_int_eq(sacme_sdir_open(dir, "new", 1, 0750, SACME_SDIR_ANY_OWNER, unit_pool,
                                     &sub, NULL), APR_SUCCESS);
    ck_assert_int_eq(stat(sub->path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0750);
}
END_TEST

START_TEST(test_sdir_write_replaces_a_planted_link)
{
    const char *v = victim();
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    const char *f = apr_pstrcat(unit_pool, path, "/f", NULL);
    sacme_sdir_t *dir = open_dir(path);
    struct stat st;

    ck_assert_int_eq(symlink(v, f), 0);
    ck_assert_int_eq(sacme_sdir_write(dir, "f", "mine", 4, 0640, SACME_SDIR_DURABLE,
                                      unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(lstat(f, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
    ck_assert_str_eq(unit_read_text(f), "mine");
    assert_victim_untouched(v);
    /* removal takes the name away, never what a link points to */
    ck_assert_int_eq(unlink(f), 0);
    ck_assert_int_eq(symlink(v, f), 0);
    ck_assert_int_eq(sacme_sdir_remove(dir, "f", NULL), APR_SUCCESS);
    ck_assert_int_ne(lstat(f, &st), 0);
    assert_victim_untouched(v);
}
END_TEST

START_TEST(test_sdir_root_writes_as_the_directory_owner)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/d", NULL);
    sacme_sdir_t *dir;
    struct stat st;

    if (geteuid() != 0) {
        return;         /* only root writes into another account's directory */
    }
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(chown(path, OTHER_UID, OTHER_UID), 0);
    /* opened as that account's directory, as the store opens the driver's */
    ck_assert_int_eq(sacme_sdir_open(open_dir(unit_tmpdir()), "d", 0, 0, OTHER_UID,
                                     unit_pool, &dir, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_sdir_write(dir, "req.json", "{}", 2, 0640, 0, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(apr_pstrcat(unit_pool, path, "/req.json", NULL), &st), 0);
    ck_assert_uint_eq(st.st_uid, OTHER_UID);
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
}
END_TEST

START_TEST(test_sdir_check_path)
{
    const char *top = apr_pstrcat(unit_pool, unit_tmpdir(), "/p", NULL);
    const char *bad = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(mkdir(top, 0755), 0);
    ck_assert_int_eq(sacme_sdir_check_path(unit_pool, apr_pstrcat(unit_pool, top,
                                                                  "/store", NULL),
                                           &bad, res), APR_SUCCESS);
    /* a parent writable by others: the store could be swapped under root */
    ck_assert_int_eq(chmod(top, 0777), 0);
    ck_assert_int_eq(sacme_sdir_check_path(unit_pool, apr_pstrcat(unit_pool, top,
                                                                  "/store", NULL),
                                           &bad, res), SACME_EUNSAFE);
    ck_assert_str_eq(bad, top);
    ck_assert_ptr_nonnull(strstr(res->detail, top));
    ck_assert_ptr_nonnull(strstr(res->detail, "not writable by group or others"));
    /* the store itself too */
    ck_assert_int_eq(chmod(top, 0755), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(unit_pool, top, "/store", NULL), 0775), 0);
    ck_assert_int_eq(chmod(apr_pstrcat(unit_pool, top, "/store", NULL), 0775), 0);
    ck_assert_int_eq(sacme_sdir_check_path(unit_pool, apr_pstrcat(unit_pool, top,
                                                                  "/store", NULL),
                                           &bad, res), SACME_EUNSAFE);
    /* a root-owned sticky directory above it (like /tmp) is fine: nobody
     * else can rename what is not theirs there */
    if (geteuid() == 0) {
        ck_assert_int_eq(chmod(apr_pstrcat(unit_pool, top, "/store", NULL), 0755), 0);
        ck_assert_int_eq(chmod(top, 01777), 0);
        ck_assert_int_eq(sacme_sdir_check_path(unit_pool, apr_pstrcat(unit_pool, top,
                                                                      "/store", NULL),
                                               &bad, NULL), APR_SUCCESS);
        /* but not as the store itself */
        ck_assert_int_eq(sacme_sdir_check_path(unit_pool, top, &bad, NULL), SACME_EUNSAFE);
        ck_assert_int_eq(chmod(top, 0755), 0);
    }
    ck_assert_int_eq(sacme_sdir_check_path(unit_pool, "relative/store", &bad, NULL),
                     APR_EINVAL);
}
END_TEST

/* --- the store's refusals ---------------------------------------------------------- */

START_TEST(test_store_refuses_planted_state)
{
    const char *v = victim();
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    json_t *j = sacme_json_own(unit_pool, json_object());

    /* a job.json that is a link to a file of root's: never read, and a save
     * replaces the link */
    ck_assert_int_eq(symlink(v, staged(store, SACME_FILE_JOB)), 0);
    ck_assert_ptr_null(sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME, res));
    ck_assert_int_eq(res->status, SACME_EUNSAFE);
    json_object_set_new(j, "errors", json_integer(1));
    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_JOB, NAME, j, NULL),
                     APR_SUCCESS);
    assert_victim_untouched(v);
    ck_assert_int_eq(sacme_store_state_remove(store, unit_pool, SACME_STATE_JOB, NAME, NULL),
                     APR_SUCCESS);
    assert_victim_untouched(v);
}
END_TEST

START_TEST(test_store_refuses_symlinked_domain_dir)
{
    const char *v = victim();
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *elsewhere = apr_pstrcat(unit_pool, unit_tmpdir(), "/elsewhere", NULL);
    json_t *j = sacme_json_own(unit_pool, json_object());
    char *data;
    apr_size_t len;

    /* staging/<name> pointing at a directory of root's: nothing is read
     * from it, written into it or removed from it */
    ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
    unit_write_text(apr_pstrcat(unit_pool, elsewhere, "/" SACME_FILE_CHAIN, NULL), "x",
                    SACME_FPROT_PUBLIC);
    ck_assert_int_eq(symlink(elsewhere, sacme_store_path(store, unit_pool,
                                                         SACME_GROUP_STAGING, NAME, NULL)),
                     0);
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_STAGING, NAME));
    ck_assert_int_ne(sacme_store_state_save(store, unit_pool, SACME_STATE_JOB, NAME, j, res),
                     APR_SUCCESS);
    ck_assert_int_eq(res->status, SACME_EUNSAFE);
    sacme_store_unstage(store, unit_pool, NAME, SACME_UNSTAGE_CHAIN | SACME_UNSTAGE_KEY);
    ck_assert_int_eq(access(apr_pstrcat(unit_pool, elsewhere, "/" SACME_FILE_CHAIN, NULL),
                            F_OK), 0);
    ck_assert_int_ne(access(apr_pstrcat(unit_pool, elsewhere, "/" SACME_FILE_JOB, NULL),
                            F_OK), 0);
    /* a challenge directory likewise */
    ck_assert_int_eq(symlink(elsewhere, sacme_store_path(store, unit_pool,
                                                         SACME_GROUP_CHALLENGES, NAME, NULL)),
                     0);
    ck_assert_int_ne(sacme_store_challenge_put(store, unit_pool, NAME, "tok", "authz", NULL),
                     APR_SUCCESS);
    ck_assert_int_ne(sacme_store_challenge_get(store, unit_pool, NAME, SACME_FILE_CHAIN, 100,
                                               &data, &len, NULL), APR_SUCCESS);
    assert_victim_untouched(v);
}
END_TEST

START_TEST(test_store_promote_refuses_planted_links)
{
    const char *v = victim();
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_promote_t promoted = SACME_PROMOTE_FAILED;

    /* a staged "key" that is a hard link to root's file: refused, and
     * neither read into the archive nor harmed */
    ck_assert_int_eq(link(v, staged(store, SACME_FILE_KEY)), 0);
    unit_write_text(staged(store, SACME_FILE_CHAIN), "not a chain", SACME_FPROT_PUBLIC);
    ck_assert_int_ne(sacme_store_promote(store, unit_pool, NAME, unit_names(NAME, NULL),
                                         NULL, NULL, &promoted, NULL, res), APR_SUCCESS);
    ck_assert_int_eq(promoted, SACME_PROMOTE_REFUSED);
    ck_assert_int_eq(res->status, SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "hard link"));
    ck_assert_int_ne(access(staged(store, SACME_FILE_KEY), F_OK), 0);
    assert_victim_untouched(v);

    /* a symbolic link likewise */
    ck_assert_int_eq(symlink(v, staged(store, SACME_FILE_KEY)), 0);
    unit_write_text(staged(store, SACME_FILE_CHAIN), "not a chain", SACME_FPROT_PUBLIC);
    sacme_result_reset(res);
    ck_assert_int_ne(sacme_store_promote(store, unit_pool, NAME, unit_names(NAME, NULL),
                                         NULL, NULL, &promoted, NULL, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(res->detail, "symbolic link"));
    assert_victim_untouched(v);
    ck_assert(!sacme_store_has_set(store, unit_pool, SACME_GROUP_DOMAINS, NAME));
}
END_TEST

START_TEST(test_store_refuses_a_part_of_another_owner)
{
    sacme_store_t *store = new_store();
    sacme_result_t *res = sacme_result_make(unit_pool);

    if (geteuid() != 0) {
        return;         /* see the file's head */
    }
    /* the store expects its driver's parts to be nobody's */
    sacme_store_set_owners(store, OTHER_UID, OTHER_UID, OTHER_UID);
    ck_assert_ptr_null(sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME, res));
    ck_assert_int_eq(res->status, SACME_EUNSAFE);
    ck_assert_ptr_nonnull(strstr(res->detail, "not by uid 65534"));
    ck_assert_int_eq(sacme_store_state_save(store, unit_pool, SACME_STATE_JOB, NAME,
                                            sacme_json_own(unit_pool, json_object()), NULL),
                     SACME_EUNSAFE);
    /* set-up gives the parts to it, with their contents */
    {
        int taken = 0;
        struct stat st;
        sacme_store_t *mine = sacme_store_make(unit_pool, store->base);
        ck_assert_int_eq(sacme_store_state_save(mine, unit_pool, SACME_STATE_JOB, NAME,
                                                sacme_json_own(unit_pool, json_object()),
                                                NULL), APR_SUCCESS);
        ck_assert_int_eq(sacme_store_setup(store, unit_pool, &taken, NULL), APR_SUCCESS);
        ck_assert_int_eq(taken, 1);
        ck_assert_int_eq(stat(sacme_store_path(store, unit_pool, SACME_GROUP_STAGING, NAME,
                                               SACME_FILE_JOB), &st), 0);
        ck_assert_uint_eq(st.st_uid, OTHER_UID);
        ck_assert_ptr_nonnull(sacme_store_state_load(store, unit_pool, SACME_STATE_JOB, NAME,
                                                     NULL));
        /* root's parts stay root's */
        ck_assert_int_eq(stat(sacme_store_path(store, unit_pool, SACME_GROUP_DOMAINS, NULL,
                                               NULL), &st), 0);
        ck_assert_uint_eq(st.st_uid, 0);
    }
}
END_TEST

Suite *unit_suite_sdir(void)
{
    Suite *s = suite_create("sdir");
    TCase *tc = tcase_create("files");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_sdir_reads_a_plain_file);
    tcase_add_test(tc, test_sdir_refuses_symlink);
    tcase_add_test(tc, test_sdir_refuses_hard_link);
    tcase_add_test(tc, test_sdir_refuses_fifo_without_blocking);
    tcase_add_test(tc, test_sdir_refuses_loose_modes);
    tcase_add_test(tc, test_sdir_refuses_other_owner);
    tcase_add_test(tc, test_sdir_open_refuses_symlinked_and_loose_dirs);
    tcase_add_test(tc, test_sdir_write_replaces_a_planted_link);
    tcase_add_test(tc, test_sdir_root_writes_as_the_directory_owner);
    tcase_add_test(tc, test_sdir_check_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_store_refuses_planted_state);
    tcase_add_test(tc, test_store_refuses_symlinked_domain_dir);
    tcase_add_test(tc, test_store_promote_refuses_planted_links);
    tcase_add_test(tc, test_store_refuses_a_part_of_another_owner);
    suite_add_tcase(s, tc);
    return s;
}
