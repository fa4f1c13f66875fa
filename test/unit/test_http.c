/* Unit tests: sacme_http (to be written). */
#include "unit.h"

Suite *unit_suite_http(void)
{
    Suite *s = suite_create("http");
    return s;
}
