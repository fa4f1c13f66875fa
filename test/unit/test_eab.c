/* Unit tests: sacme_eab (to be written). */
#include "unit.h"

Suite *unit_suite_eab(void)
{
    Suite *s = suite_create("eab");
    return s;
}
