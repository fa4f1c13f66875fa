/* sacme_issue.c: to be written. */
#include "sacme.h"
