/* SacmeHttpProxy's URL check and credentials file (sacme_proxy.c). */
#include <string.h>

#include "unit.h"
#include "sacme_proxy.h"

START_TEST(test_proxy_urls)
{
    static const struct {
        const char *url;
        int ok;
        const char *says;       /* in the message of a refused one */
    } cases[] = {
        { "http://proxy.example:3128", 1, NULL },
        { "HTTPS://proxy.example:8443/", 1, NULL },
        { "http://proxy.example", 1, NULL },
        { "http://[::1]:3128", 1, NULL },
        { "ftp://proxy.example:3128", 0, "not an http:// or https://" },
        { "socks5://proxy.example:1080", 0, "not an http:// or https://" },
        { "proxy.example:3128", 0, "not an http:// or https://" },
        { "http://:3128", 0, "names no host" },
        { "http://proxy.example:0", 0, "no valid port" },
        { "http://proxy.example:65536", 0, "no valid port" },
        { "http://proxy.example:", 0, "no valid port" },
        { "http://proxy.example:31a8", 0, "not a URL" },
        { "http://proxy.example:3128/x", 0, "path" },
        { "http://proxy.example:3128?x", 0, "query" },
        { "", 0, "empty" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        sacme_result_t *res = sacme_result_make(unit_pool);
        apr_status_t rv = sacme_proxy_check_url(unit_pool, cases[i].url, res);
        ck_assert_msg((rv == APR_SUCCESS) == cases[i].ok, "%s: %s", cases[i].url,
                      cases[i].ok ? sacme_result_message(res, unit_pool) : "accepted");
        if (!cases[i].ok) {
            ck_assert_msg(strstr(res->detail, cases[i].says), "%s: %s", cases[i].url,
                          res->detail);
        }
    }
}
END_TEST

/* Credentials in the URL: refused without being repeated. */
START_TEST(test_proxy_url_credentials_not_quoted)
{
    sacme_result_t *res = sacme_result_make(unit_pool);

    ck_assert_int_eq(sacme_proxy_check_url(unit_pool, "http://al:Secr3t@proxy:3128", res),
                     APR_EINVAL);
    ck_assert_ptr_null(strstr(sacme_result_message(res, unit_pool), "Secr3t"));
    ck_assert_ptr_nonnull(strstr(res->detail, "file:PATH"));
}
END_TEST

static const char *auth_file(const char *text)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/proxy.auth", NULL);
    unit_write_text(path, text, 0600);
    return path;
}

START_TEST(test_proxy_auth_file)
{
    static const struct {
        const char *text;
        const char *userpwd;    /* NULL: refused */
        const char *says;
    } cases[] = {
        { "sacme:pa55:word\n", "sacme:pa55:word", NULL },
        { "sacme:pa55\r\n", "sacme:pa55", NULL },
        { "sacme:", "sacme:", NULL },
        { "", NULL, "is empty" },
        { "\n", NULL, "is empty" },
        { "sacmepa55\n", NULL, "no ':'" },
        { ":pa55\n", NULL, "empty user name" },
        { "sacme:pa55\nmore\n", NULL, "more than one line" },
        { "sacme:pa\t55\n", NULL, "control character" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        sacme_result_t *res = sacme_result_make(unit_pool);
        const char *path = auth_file(cases[i].text);
        char *userpwd;
        apr_status_t rv = sacme_proxy_read_auth(unit_pool, path, &userpwd, res);
        if (cases[i].userpwd) {
            ck_assert_msg(rv == APR_SUCCESS, "%s", sacme_result_message(res, unit_pool));
            ck_assert_str_eq(userpwd, cases[i].userpwd);
        }
        else {
            ck_assert_int_eq(rv, APR_EINVAL);
            ck_assert_ptr_null(userpwd);
            ck_assert_msg(strstr(res->detail, cases[i].says), "%s", res->detail);
            ck_assert_ptr_nonnull(strstr(res->detail, path));
            ck_assert_ptr_null(strstr(res->detail, "pa55"));
        }
    }
}
END_TEST

START_TEST(test_proxy_auth_file_missing)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    char *userpwd;

    ck_assert_int_ne(sacme_proxy_read_auth(unit_pool, "/nonexistent/proxy.auth",
                                           &userpwd, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool),
                                 "/nonexistent/proxy.auth"));
}
END_TEST

Suite *unit_suite_proxy(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("proxy");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_proxy_urls);
    tcase_add_test(tc, test_proxy_url_credentials_not_quoted);
    tcase_add_test(tc, test_proxy_auth_file);
    tcase_add_test(tc, test_proxy_auth_file_missing);
    suite_add_tcase(s, tc);
    return s;
}
