/* Unit tests: sacme_store (to be written). */
#include "unit.h"

Suite *unit_suite_store(void)
{
    Suite *s = suite_create("store");
    return s;
}
