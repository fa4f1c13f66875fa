/* sacme_time.c: to be written. */
#include "sacme.h"
