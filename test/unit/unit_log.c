/* The capturing log of the unit tests (see unit_log.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "unit.h"
#include "unit_log.h"

struct unit_log_t {
    sacme_log_t log;
    apr_thread_mutex_t *lock;
    apr_array_header_t *lines;     /* const char * */
    apr_array_header_t *levels;    /* int */
};

static void capture(void *baton, sacme_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    unit_log_t *cap = baton;

    (void)rv;
    apr_thread_mutex_lock(cap->lock);
    APR_ARRAY_PUSH(cap->lines, const char *) = apr_pstrdup(unit_pool, msg);
    APR_ARRAY_PUSH(cap->levels, int) = (int)level;
    apr_thread_mutex_unlock(cap->lock);
}

unit_log_t *unit_log_make(sacme_log_t **log)
{
    unit_log_t *cap = apr_pcalloc(unit_pool, sizeof(*cap));

    ck_assert_int_eq(apr_thread_mutex_create(&cap->lock, APR_THREAD_MUTEX_DEFAULT,
                                             unit_pool), APR_SUCCESS);
    cap->lines = apr_array_make(unit_pool, 8, sizeof(const char *));
    cap->levels = apr_array_make(unit_pool, 8, sizeof(int));
    cap->log.fn = capture;
    cap->log.baton = cap;
    cap->log.max = SACME_LOG_TRACE;
    *log = &cap->log;
    return cap;
}

/* Looks through the lines with needle: the count, and the first one. */
static int scan(unit_log_t *cap, const char *needle, const char **first, int *level)
{
    int i, n = 0;

    apr_thread_mutex_lock(cap->lock);
    for (i = 0; i < cap->lines->nelts; ++i) {
        const char *line = APR_ARRAY_IDX(cap->lines, i, const char *);
        if (strstr(line, needle) && n++ == 0) {
            *first = line;
            if (level) {
                *level = APR_ARRAY_IDX(cap->levels, i, int);
            }
        }
    }
    apr_thread_mutex_unlock(cap->lock);
    return n;
}

const char *unit_logged(unit_log_t *cap, const char *needle, int *level)
{
    const char *first = NULL;

    scan(cap, needle, &first, level);
    return first;
}

int unit_log_count(unit_log_t *cap, const char *needle)
{
    const char *first = NULL;

    return scan(cap, needle, &first, NULL);
}
