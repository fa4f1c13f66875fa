/* Unit tests: sacme_directory (to be written). */
#include "unit.h"

Suite *unit_suite_directory(void)
{
    Suite *s = suite_create("directory");
    return s;
}
