/* sacme_problem.c: to be written. */
#include "sacme.h"
