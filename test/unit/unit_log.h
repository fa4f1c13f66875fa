/* A log for the unit tests that keeps every line (with its level), safe to
 * write from several threads (the webhook sender logs from its own). */
#ifndef SACME_UNIT_LOG_H
#define SACME_UNIT_LOG_H

#include "sacme_log.h"

typedef struct unit_log_t unit_log_t;

/* A new capturing log (in unit_pool); *log is what the engine is given. */
unit_log_t *unit_log_make(sacme_log_t **log);

/* The first line containing needle (and its level when level is not
 * NULL), or NULL. */
const char *unit_logged(unit_log_t *cap, const char *needle, int *level);

/* How many lines contain needle. */
int unit_log_count(unit_log_t *cap, const char *needle);

#endif /* SACME_UNIT_LOG_H */
