/* Waiting on an APR queue (sacme_queue.h). */
#include "sacme_queue.h"

apr_status_t sacme_queue_pop(apr_queue_t *queue, void **item)
{
    apr_status_t rv;

    do {
        rv = apr_queue_pop(queue, item);
    } while (APR_STATUS_IS_EINTR(rv));
    return rv;
}
