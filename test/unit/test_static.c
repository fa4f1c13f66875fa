/* Unit tests: sacme_static (which names a certificate's DNS name covers). */
#include "unit.h"
#include "sacme_static.h"

START_TEST(names_covered_exactly_and_by_one_label_wildcards)
{
    static const struct {
        const char *san, *host;
        int covered;
    } cases[] = {
        { "shop.example.com", "shop.example.com", 1 },
        { "Shop.Example.COM", "shop.example.com", 1 },   /* DNS is case-blind */
        { "shop.example.com", "www.example.com", 0 },
        { "*.example.com", "shop.example.com", 1 },
        { "*.EXAMPLE.com", "Shop.example.com", 1 },
        { "*.example.com", "example.com", 0 },            /* no empty label */
        { "*.example.com", "a.b.example.com", 0 },        /* one label only */
        { "*.example.com", ".example.com", 0 },
        { "*.example.com", "*.example.com", 1 },          /* the same wildcard */
        { "*.example.com", "*.b.example.com", 0 },
        { "shop.example.com", "*.example.com", 0 },
        { "f*.example.com", "foo.example.com", 0 },       /* partial labels: never */
        { "*example.com", "shopexample.com", 0 },
        { "*.com", "example.com", 1 },  /* the CA's business, not ours */
        { "127.0.0.1", "127.0.0.1", 1 },                  /* an iPAddress SAN's text */
        { "*.0.0.1", "127.0.0.1", 0 },                    /* no address under a wildcard */
        { "*.db8::1", "2001:db8::1", 0 },
    };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(cases); ++i) {
        ck_assert_msg(sacme_static_name_covered(cases[i].san, cases[i].host)
                      == cases[i].covered, "%s for %s: expected %d", cases[i].san,
                      cases[i].host, cases[i].covered);
    }
}
END_TEST

Suite *unit_suite_static(void)
{
    Suite *s = suite_create("static");
    TCase *tc = tcase_create("static");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, names_covered_exactly_and_by_one_label_wildcards);
    suite_add_tcase(s, tc);
    return s;
}
