/* Unit tests: sacme_json (to be written). */
#include "unit.h"

Suite *unit_suite_json(void)
{
    Suite *s = suite_create("json");
    return s;
}
