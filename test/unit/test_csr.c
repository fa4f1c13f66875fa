/* Unit tests: sacme_csr (to be written). */
#include "unit.h"

Suite *unit_suite_csr(void)
{
    Suite *s = suite_create("csr");
    return s;
}
