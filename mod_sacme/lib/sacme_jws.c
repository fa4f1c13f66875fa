/* sacme_jws.c: to be written. */
#include "sacme.h"
