/* sacme_file.c: to be written. */
#include "sacme.h"
