/* sacme_b64.c: to be written. */
#include "sacme.h"
