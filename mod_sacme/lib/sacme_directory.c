/* sacme_directory.c: to be written. */
#include "sacme.h"
