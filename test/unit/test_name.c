/* Unit tests: sacme_name (which managed name serves a host name). */
#include <string.h>

#include "unit.h"
#include "sacme_name.h"

static const char EXACT[] = "exact", WILD[] = "wild", OTHER[] = "other";

/* The names of three domains: a wildcard domain, an exact name under it,
 * and a plain one (values stand for the domains). */
static apr_hash_t *names(void)
{
    apr_hash_t *h = apr_hash_make(unit_pool);

    apr_hash_set(h, "*.w.example.test", APR_HASH_KEY_STRING, WILD);
    apr_hash_set(h, "c.w.example.test", APR_HASH_KEY_STRING, EXACT);
    apr_hash_set(h, "example.test", APR_HASH_KEY_STRING, OTHER);
    return h;
}

START_TEST(exact_names_and_one_label_wildcards)
{
    static const struct {
        const char *host;
        const char *value;
        sacme_name_match_t how;
    } cases[] = {
        { "c.w.example.test", EXACT, SACME_NAME_EXACT },   /* exact beats wildcard */
        { "C.W.Example.TEST", EXACT, SACME_NAME_EXACT },   /* DNS is case-blind */
        { "a.w.example.test", WILD, SACME_NAME_WILDCARD },
        { "B.w.EXAMPLE.test", WILD, SACME_NAME_WILDCARD },
        { "x-1_y.w.example.test", WILD, SACME_NAME_WILDCARD },
        { "*.w.example.test", WILD, SACME_NAME_EXACT },    /* a wildcard vhost name */
        { "example.test", OTHER, SACME_NAME_EXACT },
        { "w.example.test", NULL, SACME_NAME_NONE },       /* no empty label */
        { "x.a.w.example.test", NULL, SACME_NAME_NONE },   /* one label only */
        { "*.a.w.example.test", NULL, SACME_NAME_NONE },   /* wildcards never expand */
        { ".w.example.test", NULL, SACME_NAME_NONE },
        { "a..w.example.test", NULL, SACME_NAME_NONE },
        { "a.w.example.test.", NULL, SACME_NAME_NONE },
        { ".c.w.example.test", NULL, SACME_NAME_NONE },
        { "c.w.example.test.", NULL, SACME_NAME_NONE },
        { "a b.w.example.test", NULL, SACME_NAME_NONE },
        { "a/b.w.example.test", NULL, SACME_NAME_NONE },
        { "a*.w.example.test", NULL, SACME_NAME_NONE },
        { "a.w.example.test:443", NULL, SACME_NAME_NONE },
        { "www.example.test", NULL, SACME_NAME_NONE },
        { "", NULL, SACME_NAME_NONE },
        { ".", NULL, SACME_NAME_NONE },
        { NULL, NULL, SACME_NAME_NONE },
    };
    apr_hash_t *h = names();
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        sacme_name_match_t how = (sacme_name_match_t)-1;
        const char *got = sacme_name_lookup(h, cases[i].host, 1, &how);
        ck_assert_msg(got == cases[i].value && how == cases[i].how,
                      "%s: got %s (%d), expected %s (%d)",
                      cases[i].host ? cases[i].host : "(null)", got ? got : "nothing",
                      (int)how, cases[i].value ? cases[i].value : "nothing",
                      (int)cases[i].how);
    }
}
END_TEST

START_TEST(exact_only_never_uses_a_wildcard)
{
    apr_hash_t *h = names();
    sacme_name_match_t how;

    ck_assert_ptr_null(sacme_name_lookup(h, "a.w.example.test", 0, &how));
    ck_assert_int_eq(how, SACME_NAME_NONE);
    ck_assert_ptr_eq(sacme_name_lookup(h, "C.w.example.test", 0, &how), EXACT);
    ck_assert_int_eq(how, SACME_NAME_EXACT);
    ck_assert_ptr_eq(sacme_name_lookup(h, "*.w.example.test", 0, NULL), WILD);
}
END_TEST

START_TEST(names_longer_than_dns_allows_never_match)
{
    apr_hash_t *h = apr_hash_make(unit_pool);
    char host[300];

    /* a first label of 247 characters under "w.test": 254 in all */
    memset(host, 'a', sizeof(host));
    host[247] = '.';
    strcpy(host + 248, "w.test");
    apr_hash_set(h, "*.w.test", APR_HASH_KEY_STRING, WILD);
    apr_hash_set(h, host, APR_HASH_KEY_STRING, EXACT);
    ck_assert_uint_eq(strlen(host), 254);
    ck_assert_ptr_null(sacme_name_lookup(h, host, 1, NULL));
    /* one character less is still a name */
    ck_assert_ptr_eq(sacme_name_lookup(h, host + 1, 1, NULL), WILD);
}
END_TEST

/* RFC 8738 names: an address is looked up by its canonical text, however
 * it is written (a Host header brackets IPv6), and never under a wildcard. */
START_TEST(ip_addresses_by_canonical_text)
{
    static const struct {
        const char *text;
        int brackets;
        const char *canonical;
    } cases[] = {
        { "192.0.2.10", 0, "192.0.2.10" },
        { "2001:DB8:0:0::10", 0, "2001:db8::10" },
        { "0:0:0:0:0:0:0:1", 0, "::1" },
        { "[0:0::1]", 1, "::1" },
        { "[::1]", 0, NULL },              /* brackets only where allowed */
        { "[192.0.2.10]", 1, NULL },       /* IPv4 is never bracketed */
        { "[::1", 1, NULL },
        { "[]", 1, NULL },
        { "192.0.2.256", 0, NULL },
        { "127.1", 0, NULL },              /* no short forms */
        { "0x7f.0.0.1", 0, NULL },
        { "fe80::1%eth0", 0, NULL },       /* no zone */
        { "192.0.2.10:80", 0, NULL },
        { "example.test", 0, NULL },
        { "", 0, NULL },
        { NULL, 1, NULL },
    };
    char buf[SACME_IP_TEXT_MAX];
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        const char *got = sacme_name_ip_canonical(cases[i].text, cases[i].brackets, buf);
        ck_assert_msg(cases[i].canonical ? got && !strcmp(got, cases[i].canonical) : !got,
                      "%s: got %s", cases[i].text ? cases[i].text : "(null)",
                      got ? got : "nothing");
    }
    ck_assert(sacme_name_is_ip("2001:db8::10"));
    ck_assert(!sacme_name_is_ip("[2001:db8::10]"));
    ck_assert(!sacme_name_is_ip("www.example.test"));
}
END_TEST

START_TEST(ip_lookup)
{
    apr_hash_t *h = apr_hash_make(unit_pool);
    sacme_name_match_t how;

    apr_hash_set(h, "127.0.0.1", APR_HASH_KEY_STRING, EXACT);
    apr_hash_set(h, "::1", APR_HASH_KEY_STRING, OTHER);
    apr_hash_set(h, "*.0.0.2", APR_HASH_KEY_STRING, WILD);
    ck_assert_ptr_eq(sacme_name_lookup(h, "127.0.0.1", 1, &how), EXACT);
    ck_assert_int_eq(how, SACME_NAME_EXACT);
    ck_assert_ptr_eq(sacme_name_lookup(h, "[::1]", 0, NULL), OTHER);
    ck_assert_ptr_eq(sacme_name_lookup(h, "0::0:1", 1, NULL), OTHER);
    ck_assert_ptr_eq(sacme_name_lookup(h, "[0:0:0:0:0:0:0:1]", 1, NULL), OTHER);
    /* an address is no host under a wildcard */
    ck_assert_ptr_null(sacme_name_lookup(h, "127.0.0.2", 1, &how));
    ck_assert_int_eq(how, SACME_NAME_NONE);
}
END_TEST

Suite *unit_suite_name(void)
{
    Suite *s = suite_create("name");
    TCase *tc = tcase_create("name");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, exact_names_and_one_label_wildcards);
    tcase_add_test(tc, exact_only_never_uses_a_wildcard);
    tcase_add_test(tc, names_longer_than_dns_allows_never_match);
    tcase_add_test(tc, ip_addresses_by_canonical_text);
    tcase_add_test(tc, ip_lookup);
    suite_add_tcase(s, tc);
    return s;
}
