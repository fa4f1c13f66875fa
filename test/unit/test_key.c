/* Unit tests: sacme_key (to be written). */
#include "unit.h"

Suite *unit_suite_key(void)
{
    Suite *s = suite_create("key");
    return s;
}
