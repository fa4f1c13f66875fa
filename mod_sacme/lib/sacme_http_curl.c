/* sacme_http_curl.c: to be written. */
#include "sacme.h"
