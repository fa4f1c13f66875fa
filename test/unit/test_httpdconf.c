/* Unit tests: finding the store from an httpd configuration file
 * (sacmectl --config). */
#include <string.h>

#include "unit.h"
#include "sacme_file.h"
#include "sacme_httpdconf.h"

static const char *conf_file(const char *name, const char *text)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);
    unit_write_text(path, text, SACME_FPROT_PUBLIC);
    return path;
}

static const char *store_of(const char *path)
{
    const char *store = NULL;
    ck_assert_int_eq(sacme_httpdconf_store(path, unit_pool, &store, NULL), APR_SUCCESS);
    return store;
}

START_TEST(store_dir_relative_to_server_root)
{
    const char *root = unit_tmpdir();
    const char *path = conf_file("httpd.conf", apr_pstrcat(unit_pool,
        "# SacmeStoreDir /not/this\n"
        "ServerRoot \"", root, "\"\n"
        "Listen 80\n"
        "  sacmestoredir   state/acme  \n", NULL));

    ck_assert_str_eq(store_of(path), apr_pstrcat(unit_pool, root, "/state/acme", NULL));
}
END_TEST

START_TEST(defaults_server_root_sacme)
{
    const char *root = unit_tmpdir();

    ck_assert_str_eq(store_of(conf_file("a.conf", apr_pstrcat(unit_pool, "ServerRoot ",
                                                              root, "\n", NULL))),
                     apr_pstrcat(unit_pool, root, "/sacme", NULL));
    /* no ServerRoot: Debian's compiled-in /etc/apache2 */
    ck_assert_str_eq(store_of(conf_file("b.conf", "Listen 80\n")), "/etc/apache2/sacme");
    /* an absolute SacmeStoreDir stands by itself */
    ck_assert_str_eq(store_of(conf_file("c.conf", "SacmeStoreDir '/srv/acme store'\n")),
                     "/srv/acme store");
}
END_TEST

START_TEST(includes_are_followed_and_the_last_wins)
{
    const char *root = unit_tmpdir();
    const char *path;

    ck_assert_int_eq(sacme_file_mkdirs(apr_pstrcat(unit_pool, root, "/mods-enabled", NULL),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_file_mkdirs(apr_pstrcat(unit_pool, root, "/conf.d", NULL),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL), APR_SUCCESS);
    conf_file("mods-enabled/ssl.conf", "SSLRandomSeed startup builtin\n");
    conf_file("mods-enabled/sacme.conf", "SacmeStoreDir first\n");
    conf_file("conf.d/zz.conf", "SacmeServer https://ca.test/dir\n"
                                "SacmeStore\\\nDir second\n");
    path = conf_file("apache2.conf", apr_pstrcat(unit_pool,
        "ServerRoot ", root, "\n"
        "IncludeOptional mods-enabled/*.conf\n"
        "IncludeOptional sites-enabled/*.conf\n"      /* matches nothing */
        "Include conf.d\n", NULL));                    /* a directory */
    ck_assert_str_eq(store_of(path), apr_pstrcat(unit_pool, root, "/second", NULL));
}
END_TEST

START_TEST(self_include_and_missing_file_are_errors)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *store;
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/loop.conf", NULL);

    unit_write_text(path, apr_pstrcat(unit_pool, "Include ", path, "\n", NULL),
                    SACME_FPROT_PUBLIC);
    ck_assert_int_ne(sacme_httpdconf_store(path, unit_pool, &store, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(res->detail, "Include"));
    ck_assert(APR_STATUS_IS_ENOENT(sacme_httpdconf_store(
        apr_pstrcat(unit_pool, unit_tmpdir(), "/none.conf", NULL), unit_pool, &store, NULL)));
}
END_TEST

Suite *unit_suite_httpdconf(void)
{
    Suite *s = suite_create("httpdconf");
    TCase *tc = tcase_create("httpdconf");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, store_dir_relative_to_server_root);
    tcase_add_test(tc, defaults_server_root_sacme);
    tcase_add_test(tc, includes_are_followed_and_the_last_wins);
    tcase_add_test(tc, self_include_and_missing_file_are_errors);
    suite_add_tcase(s, tc);
    return s;
}
