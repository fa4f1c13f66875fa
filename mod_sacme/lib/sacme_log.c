/* Logging seam: format once, hand to the host's callback. */
#include <stdarg.h>
#include <stdio.h>

#include "sacme_log.h"

int sacme_log_is_level(const sacme_log_t *log, sacme_log_level_t level)
{
    return log && log->fn && level <= log->max;
}

void sacme_log(const sacme_log_t *log, sacme_log_level_t level,
               apr_status_t rv, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (!sacme_log_is_level(log, level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log->fn(log->baton, level, rv, buf);
}
