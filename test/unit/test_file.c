/* Unit tests: sacme_file (atomic writes, bounded reads, mkdirs). */
#include <string.h>
#include <sys/stat.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include "unit.h"
#include "sacme_file.h"

/* Number of entries in dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    ck_assert_int_eq(apr_dir_open(&d, dir, unit_pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
            ++n;
        }
    }
    apr_dir_close(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static const char *read_all(const char *path, apr_size_t *len)
{
    char *data;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_file_read(path, 1024 * 1024, unit_pool, &data, len, res),
                     APR_SUCCESS);
    return data;
}

START_TEST(write_mode_0600)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/key.pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t len;

    ck_assert_int_eq(sacme_file_write_atomic(path, "secret", 6,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_uint_eq(mode_of(path), 0600);
    ck_assert_str_eq(read_all(path, &len), "secret");
    ck_assert_uint_eq(len, 6);
}
END_TEST

START_TEST(write_mode_0644)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/cert.pem", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_file_write_atomic(path, "public", 6,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE
                                             | APR_FPROT_GREAD | APR_FPROT_WREAD,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_uint_eq(mode_of(path), 0644);
}
END_TEST

START_TEST(write_overwrites_and_leaves_no_temp)
{
    const char *dir = unit_tmpdir();
    const char *path = apr_pstrcat(unit_pool, dir, "/state.json", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_size_t len;

    ck_assert_int_eq(sacme_file_write_atomic(path, "first version, longer", 21,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE
                                             | APR_FPROT_GREAD | APR_FPROT_WREAD,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_write_atomic(path, "second", 6,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_str_eq(read_all(path, &len), "second");
    ck_assert_uint_eq(len, 6);
    /* The new mode applies, not the old file's. */
    ck_assert_uint_eq(mode_of(path), 0600);
    ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

START_TEST(write_binary_and_empty)
{
    static const unsigned char bin[] = { 0, 1, 2, 0xff, 0, 'x' };
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/bin", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    ck_assert_int_eq(sacme_file_write_atomic(path, bin, sizeof(bin),
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_read(path, 100, unit_pool, &data, &len, res), APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(bin));
    ck_assert_mem_eq(data, bin, len);

    ck_assert_int_eq(sacme_file_write_atomic(path, "", 0,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_read(path, 100, unit_pool, &data, &len, res), APR_SUCCESS);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(data[0], '\0');
}
END_TEST

START_TEST(write_missing_dir_fails_cleanly)
{
    const char *dir = unit_tmpdir();
    const char *sub = apr_pstrcat(unit_pool, dir, "/nope", NULL);
    const char *path = apr_pstrcat(unit_pool, sub, "/file", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_ne(sacme_file_write_atomic(path, "x", 1,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_ne(res->status, APR_SUCCESS);
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
    ck_assert(!sacme_file_exists(sub, unit_pool));
    ck_assert_int_eq(count_entries(dir), 0);
}
END_TEST

START_TEST(read_limit)
{
    char buf[100];
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/big", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    memset(buf, 'a', sizeof(buf));
    ck_assert_int_eq(sacme_file_write_atomic(path, buf, sizeof(buf),
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_read(path, 99, unit_pool, &data, &len, res), APR_ENOSPC);
    ck_assert_int_eq(res->status, APR_ENOSPC);
    ck_assert_ptr_nonnull(strstr(res->detail, path));

    ck_assert_int_eq(sacme_file_read(path, 100, unit_pool, &data, &len, res), APR_SUCCESS);
    ck_assert_uint_eq(len, 100);
    ck_assert_int_eq(data[100], '\0');
    ck_assert_uint_eq(strlen(data), 100);
}
END_TEST

START_TEST(read_missing)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/absent.json", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = sacme_file_read(path, 100, unit_pool, &data, &len, res);
    ck_assert(APR_STATUS_IS_ENOENT(rv));
    ck_assert(APR_STATUS_IS_ENOENT(res->status));
    ck_assert_ptr_nonnull(res->detail);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
}
END_TEST

START_TEST(read_directory_refused)
{
    const char *dir = unit_tmpdir();
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *data;
    apr_size_t len;

    ck_assert_int_ne(sacme_file_read(dir, 100, unit_pool, &data, &len, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(res->detail);
}
END_TEST

START_TEST(mkdirs_nested_and_existing)
{
    const char *base = unit_tmpdir();
    const char *deep = apr_pstrcat(unit_pool, base, "/a/b/c", NULL);
    const char *file = apr_pstrcat(unit_pool, base, "/a/plain", NULL);
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_finfo_t fi;

    ck_assert_int_eq(sacme_file_mkdirs(deep, APR_FPROT_OS_DEFAULT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_stat(&fi, deep, APR_FINFO_TYPE, unit_pool), APR_SUCCESS);
    ck_assert_int_eq(fi.filetype, APR_DIR);
    ck_assert(sacme_file_exists(deep, unit_pool));

    /* Again: an existing directory is fine. */
    ck_assert_int_eq(sacme_file_mkdirs(deep, APR_FPROT_OS_DEFAULT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_file_mkdirs(base, APR_FPROT_OS_DEFAULT, unit_pool, res),
                     APR_SUCCESS);

    /* A plain file in the way is an error naming the path. */
    ck_assert_int_eq(sacme_file_write_atomic(file, "x", 1,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                             unit_pool, res), APR_SUCCESS);
    ck_assert_int_ne(sacme_file_mkdirs(apr_pstrcat(unit_pool, file, "/sub", NULL),
                                       APR_FPROT_OS_DEFAULT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(res->detail, file));
}
END_TEST

Suite *unit_suite_file(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("file");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, write_mode_0600);
    tcase_add_test(tc, write_mode_0644);
    tcase_add_test(tc, write_overwrites_and_leaves_no_temp);
    tcase_add_test(tc, write_binary_and_empty);
    tcase_add_test(tc, write_missing_dir_fails_cleanly);
    tcase_add_test(tc, read_limit);
    tcase_add_test(tc, read_missing);
    tcase_add_test(tc, read_directory_refused);
    tcase_add_test(tc, mkdirs_nested_and_existing);
    suite_add_tcase(s, tc);
    return s;
}
