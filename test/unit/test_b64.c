/* Unit tests: sacme_b64 (to be written). */
#include "unit.h"

Suite *unit_suite_b64(void)
{
    Suite *s = suite_create("b64");
    return s;
}
