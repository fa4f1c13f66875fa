/* Unit tests: sacme_time (to be written). */
#include "unit.h"

Suite *unit_suite_time(void)
{
    Suite *s = suite_create("time");
    return s;
}
