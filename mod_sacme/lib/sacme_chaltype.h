/* The challenge types mod_sacme can answer, as lists in order of
 * preference (SacmeChallenge): their names, checks and text. */
#ifndef SACME_CHALTYPE_H
#define SACME_CHALTYPE_H

#include "sacme.h"

#define SACME_CHAL_HTTP01    "http-01"
#define SACME_CHAL_TLSALPN01 "tls-alpn-01"
#define SACME_CHAL_DNS01     "dns-01"

/* The canonical name of a type this server can answer (any case given),
 * or NULL. */
const char *sacme_chaltype_known(const char *name);

/* Whether types (const char *, may be NULL) holds type. */
int sacme_chaltype_has(const apr_array_header_t *types, const char *type);

/* "http-01 tls-alpn-01" for messages and status; "none" for an empty or
 * NULL list. */
const char *sacme_chaltype_str(apr_pool_t *p, const apr_array_header_t *types);

/* What a domain answers, as sacme_chaltype_str writes it: "none" for
 * pre-validated names, http-01 (the engine's default) for no list. */
const char *sacme_chaltype_of(apr_pool_t *p, int none, const apr_array_header_t *types);

/* The list parsed from words separated by spaces or commas (as
 * sacme_chaltype_str writes it and managed.json keeps it), unknown words
 * left out; NULL when nothing is left ("none"). */
apr_array_header_t *sacme_chaltype_parse(apr_pool_t *p, const char *text);

#endif /* SACME_CHALTYPE_H */
