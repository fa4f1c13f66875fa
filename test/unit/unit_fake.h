/* A scripted fake HTTP transport behind the sacme_http_t seam: it answers
 * each request with the next scripted response and records what the client
 * sent. No network. */
#ifndef SACME_UNIT_FAKE_H
#define SACME_UNIT_FAKE_H

#include <jansson.h>
#include "sacme_http.h"

#define UNIT_FAKE_MAX 32

typedef struct {
    int status;              /* 0: no answer (the transport fails, connection refused) */
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
    const char *content_types[UNIT_FAKE_MAX];
    const char *headers[UNIT_FAKE_MAX];  /* the extra header lines, each
                                            ending in '\n' ("" for none) */
} unit_fake_t;

/* Resets fake to answer with the n responses of script, in order, and
 * returns a transport (in unit_pool) that uses it. A request beyond the
 * script fails the test. */
sacme_http_t *unit_fake_http(unit_fake_t *fake, const unit_scripted_t *script, int n);

/* A member ("protected" or "payload") of a JWS the client sent (body is
 * the JWS as JSON text), base64url-decoded and parsed; NULL when empty
 * (the payload of a POST-as-GET). Fails the test on a malformed JWS. */
json_t *unit_jws_member(const char *body, const char *member);

#endif /* SACME_UNIT_FAKE_H */
