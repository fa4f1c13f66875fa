/* mod_sacme engine: common definitions.
 *
 * Everything under mod_sacme/lib/ builds on APR, APR-util, OpenSSL 3, libcurl
 * and jansson only. No httpd header may be included here (make check enforces
 * it): the same engine runs inside httpd, in sacmectl and in the unit tests.
 */
#ifndef SACME_H
#define SACME_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <apr_strings.h>
#include <apr_time.h>

#define SACME_VERSION "0.1.0"
#define SACME_USER_AGENT "mod_sacme/" SACME_VERSION

/* Bounds on everything the CA sends us (DESIGN §8.8). */
#define SACME_MAX_RESPONSE      (1024 * 1024)  /* bytes of one HTTP body */
#define SACME_MAX_JSON_DEPTH    32             /* nesting of arrays/objects */
#define SACME_MAX_CHAIN         10             /* certificates in one chain */
#define SACME_MAX_NAMES         100            /* identifiers in one order */
#define SACME_MAX_NONCE_RETRIES 25             /* badNonce retries per request:
                                                  a CA rejecting half its nonces
                                                  runs out of 25 once in 2^26 */
#define SACME_MAX_NONCE_ATTEMPTS 3             /* attempts in a row ended by
                                                  badNonce alone that are
                                                  retried without backoff */
#define SACME_MAX_QUICK_RETRIES 2              /* retries of a transient fault
                                                  (reset, truncation, 5xx) */

/* A configuration the engine cannot work with (a missing EAB when the CA
 * requires one, terms not accepted, an account directory of another CA):
 * the admin must change something; retrying will not help. */
#define SACME_ECONFIG (APR_OS_START_USERERR + 1)

/* (+2 to +4 are sacme_issue.h's.) A certificate chain that reaches no trust
 * anchor (sacme_trust.h): not activated, not staged. Like SACME_ECONFIG it
 * needs the admin (SacmeTrustedRoots), so it is retried as rarely. */
#define SACME_EUNTRUSTED (APR_OS_START_USERERR + 5)

/* The CA answered something the protocol does not allow, or this client
 * cannot use, and gave no problem document to say why (no Replay-Nonce, an
 * order without status, a body that is not JSON, no challenge of a type we
 * answer). The fault is the CA's answer, not an OS call:
 * its log line must not start with "(22)Invalid argument". Retried like
 * any other failure. */
#define SACME_EPROTO (APR_OS_START_USERERR + 6)

/* Counts the elements of a static array. */
#define SACME_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* SACME_H */
