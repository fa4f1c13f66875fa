/* Runs every unit suite; exit status is the number of failures (0 = pass). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include "unit.h"
#include "sacme_file.h"
#include "sacme_sdir.h"

apr_pool_t *unit_pool;
static const char *tmpdir;

void unit_setup(void)
{
    apr_pool_create(&unit_pool, NULL);
    tmpdir = NULL;
}

static void rm_tree(const char *path, apr_pool_t *p)
{
    apr_dir_t *dir;
    apr_finfo_t fi;

    if (apr_dir_open(&dir, path, p) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        const char *child;
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
            continue;
        }
        child = apr_pstrcat(p, path, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR) {
            rm_tree(child, p);
        }
        else {
            apr_file_remove(child, p);
        }
    }
    apr_dir_close(dir);
    apr_dir_remove(path, p);
}

void unit_teardown(void)
{
    if (tmpdir) {
        rm_tree(tmpdir, unit_pool);
        tmpdir = NULL;
    }
    apr_pool_destroy(unit_pool);
    unit_pool = NULL;
}

const char *unit_tmpdir(void)
{
    char *templ;

    if (!tmpdir) {
        const char *base = getenv("TMPDIR");
        templ = apr_pstrcat(unit_pool, base ? base : "/tmp", "/sacme-unit-XXXXXX", NULL);
        ck_assert_ptr_nonnull(mkdtemp(templ));
        tmpdir = templ;
    }
    return tmpdir;
}

const char *unit_fixture(const char *name)
{
    return apr_pstrcat(unit_pool, SACME_FIXTURES, "/", name, NULL);
}

const char *unit_fixture_read(const char *name, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;
    const char *path = unit_fixture(name);

    ck_assert_msg(apr_file_open(&f, path, APR_FOPEN_READ, 0, unit_pool) == APR_SUCCESS,
                  "fixture %s missing", path);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(unit_pool, n + 1);
    ck_assert_int_eq(apr_file_read_full(f, buf, n, NULL), APR_SUCCESS);
    buf[n] = '\0';
    apr_file_close(f);
    if (len) {
        *len = n;
    }
    return buf;
}

apr_array_header_t *unit_names(const char *first, ...)
{
    apr_array_header_t *a = apr_array_make(unit_pool, 4, sizeof(const char *));
    const char *s;
    va_list ap;

    va_start(ap, first);
    for (s = first; s; s = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(a, const char *) = s;
    }
    va_end(ap);
    return a;
}

const char *unit_read_text(const char *path)
{
    char *data;
    apr_size_t len;

    ck_assert_msg(sacme_file_read(path, 1024 * 1024, unit_pool, &data, &len, NULL)
                  == APR_SUCCESS, "cannot read %s", path);
    return data;
}

void unit_write_text(const char *path, const char *text, apr_fileperms_t perms)
{
    ck_assert_msg(sacme_file_write_atomic(path, text, strlen(text), perms, unit_pool, NULL)
                  == APR_SUCCESS, "cannot write %s", path);
}

const struct sacme_sdir_t *unit_sdir(const char *path)
{
    sacme_sdir_t *dir = NULL;
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_msg(sacme_file_mkdirs(path, SACME_FPROT_DIR_PRIVATE, unit_pool, res)
                  == APR_SUCCESS, "cannot make %s", path);
    ck_assert_msg(sacme_sdir_open_path(unit_pool, path, 0, 0, &dir, res) == APR_SUCCESS,
                  "cannot open %s: %s", path, sacme_result_message(res, unit_pool));
    return dir;
}

int main(int argc, const char *const *argv)
{
    SRunner *sr;
    int failed;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);

#define SACME_ADD_SUITE(name) \
    if (!sr) sr = srunner_create(unit_suite_##name()); \
    else srunner_add_suite(sr, unit_suite_##name());
    sr = NULL;
    SACME_SUITES(SACME_ADD_SUITE)
#undef SACME_ADD_SUITE

    /* Fork mode isolates crashes per test; CK_FORK=no helps debugging. */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
