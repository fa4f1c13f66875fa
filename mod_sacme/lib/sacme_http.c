/* sacme_http.c: to be written. */
#include "sacme.h"
