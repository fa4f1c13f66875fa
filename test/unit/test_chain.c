/* Unit tests: sacme_chain (to be written). */
#include "unit.h"

Suite *unit_suite_chain(void)
{
    Suite *s = suite_create("chain");
    return s;
}
