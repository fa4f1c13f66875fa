/* sacme_acct.c: to be written. */
#include "sacme.h"
