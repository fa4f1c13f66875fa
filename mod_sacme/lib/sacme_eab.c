/* sacme_eab.c: to be written. */
#include "sacme.h"
