/* sacme_chain.c: to be written. */
#include "sacme.h"
