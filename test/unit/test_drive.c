/* Unit tests: sacme_drive (to be written). */
#include "unit.h"

Suite *unit_suite_drive(void)
{
    Suite *s = suite_create("drive");
    return s;
}
