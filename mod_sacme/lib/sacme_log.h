/* Logging seam: the engine never writes to stderr or a log file itself; the
 * host (httpd glue, sacmectl, tests) installs a callback per instance.
 *
 * Messages carry a tag "SACMEnnnnn: " (see docs/log-message-tags/) so admins
 * can search for them and tests can assert on them.
 */
#ifndef SACME_LOG_H
#define SACME_LOG_H

#include "sacme.h"

/* Levels follow syslog numbering, like APLOG_*, so the glue maps 1:1. */
typedef enum {
    SACME_LOG_ERR     = 3,
    SACME_LOG_WARNING = 4,
    SACME_LOG_NOTICE  = 5,
    SACME_LOG_INFO    = 6,
    SACME_LOG_DEBUG   = 7,
    SACME_LOG_TRACE   = 8
} sacme_log_level_t;

/* SACME_LOGNO(00042) expands to "SACME00042: ". */
#define SACME_LOGNO(n) "SACME" #n ": "

typedef void sacme_log_fn(void *baton, sacme_log_level_t level,
                          apr_status_t rv, const char *msg);

typedef struct sacme_log_t {
    sacme_log_fn *fn;          /* NULL: discard everything */
    void *baton;
    sacme_log_level_t max;     /* messages above this level are dropped */
} sacme_log_t;

/* Formats and delivers one message; a NULL log discards it. Messages are
 * truncated at 2 KiB. */
void sacme_log(const sacme_log_t *log, sacme_log_level_t level,
               apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True when a message of this level would be delivered (saves formatting). */
int sacme_log_is_level(const sacme_log_t *log, sacme_log_level_t level);

#endif /* SACME_LOG_H */
