/* sacme_order.c: to be written. */
#include "sacme.h"
