/* Unit tests: sacme_file (to be written). */
#include "unit.h"

Suite *unit_suite_file(void)
{
    Suite *s = suite_create("file");
    return s;
}
