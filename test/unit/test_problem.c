/* Unit tests: sacme_problem (to be written). */
#include "unit.h"

Suite *unit_suite_problem(void)
{
    Suite *s = suite_create("problem");
    return s;
}
