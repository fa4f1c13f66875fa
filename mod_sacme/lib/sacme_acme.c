/* sacme_acme.c: to be written. */
#include "sacme.h"
