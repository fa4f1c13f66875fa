/* sacme_csr.c: to be written. */
#include "sacme.h"
