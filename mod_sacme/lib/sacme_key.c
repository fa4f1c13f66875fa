/* sacme_key.c: to be written. */
#include "sacme.h"
