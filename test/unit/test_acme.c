/* Unit tests: sacme_acme (to be written). */
#include "unit.h"

Suite *unit_suite_acme(void)
{
    Suite *s = suite_create("acme");
    return s;
}
