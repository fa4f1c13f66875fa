/* Waiting on an APR queue without being dropped by a wakeup. */
#ifndef SACME_QUEUE_H
#define SACME_QUEUE_H

#include <apr_queue.h>

#include "sacme.h"

/* apr_queue_pop, waiting on through APR_EINTR: apr_queue_pop returns that
 * whenever a waiter wakes to an empty queue (another consumer took the item
 * first, or the wakeup was spurious), and a thread whose loop ends at the
 * first non-success is gone for good, silently: a worker of the driver
 * lost that way is a domain less driven at a time, until none is. Only a
 * terminated queue (apr_queue_term: APR_EOF) or a real error ends the
 * wait. */
apr_status_t sacme_queue_pop(apr_queue_t *queue, void **item);

#endif /* SACME_QUEUE_H */
