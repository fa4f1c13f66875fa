/* A scripted fake HTTP transport behind the sacme_http_t seam: it answers
 * each request with the next scripted response and records what the client
 * sent. No network. */
#ifndef SACME_UNIT_FAKE_H
#define SACME_UNIT_FAKE_H

#include "sacme_http.h"

#define UNIT_FAKE_MAX 32

typedef struct {
    int status;
    const char *headers;     /* "Name: value\n..." */
    const char *body;
} unit_scripted_t;

typedef struct {
    const unit_scripted_t *script;
    int n, next;
    /* what the client sent */
    const char *methods[UNIT_FAKE_MAX];
    const char *urls[UNIT_FAKE_MAX];
    const char *bodies[UNIT_FAKE_MAX];
} unit_fake_t;

/* Resets fake to answer with the n responses of script, in order, and
 * returns a transport (in unit_pool) that uses it. A request beyond the
 * script fails the test. */
sacme_http_t *unit_fake_http(unit_fake_t *fake, const unit_scripted_t *script, int n);

#endif /* SACME_UNIT_FAKE_H */
