/* Unit tests: sacme_jws (to be written). */
#include "unit.h"

Suite *unit_suite_jws(void)
{
    Suite *s = suite_create("jws");
    return s;
}
