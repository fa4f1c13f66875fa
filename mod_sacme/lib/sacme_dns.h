/* A small DNS client for one question: which TXT values a name has, as one
 * given server sees them (SacmeDnsCheck: has the dns-01 record reached the
 * server the CA will ask?). Not a resolver: one server, no retries across
 * servers, no cache, no DNSSEC. Every length and count in an answer is
 * checked against the message before it is used.
 */
#ifndef SACME_DNS_H
#define SACME_DNS_H

#include <apr_network_io.h>
#include "sacme.h"

#define SACME_DNS_PORT      53
#define SACME_DNS_UDP_MAX   512         /* what we accept over UDP (no EDNS) */
#define SACME_DNS_TCP_MAX   65535       /* the most a TCP answer can be */

/* "IP", "IP:PORT" (IPv4), "IPv6" or "[IPv6]:PORT": a numeric address only
 * (the resolver to ask must not need a resolver). *host gets the address,
 * *port the port (53 when none is given). NULL when fine, else what is
 * wrong (p). */
const char *sacme_dns_parse_server(apr_pool_t *p, const char *spec,
                                   const char **host, apr_port_t *port);

/* The query for name's TXT records (class IN, recursion desired, so a
 * resolver answers as well as an authoritative server) with message id
 * id, into buf (at least 512 bytes). *len gets its length. APR_EINVAL for
 * a name that is not a DNS name (an empty label, a label over 63 bytes,
 * over 253 in all). */
apr_status_t sacme_dns_query_make(const char *name, apr_uint16_t id,
                                  unsigned char *buf, apr_size_t size,
                                  apr_size_t *len);

/* Reads an answer to that query: *values (const char *) gets the data of
 * every TXT record in the answer section (its character-strings joined),
 * empty for NXDOMAIN or no record. *truncated is set when the server
 * says the answer did not fit (ask again over TCP). An error (why, p) for
 * a message that is not the answer to our query (id, flags, question
 * count) or does not hold together, and for an error rcode (SERVFAIL,
 * REFUSED...). */
apr_status_t sacme_dns_answer_parse(apr_pool_t *p, const unsigned char *msg,
                                    apr_size_t len, apr_uint16_t id,
                                    apr_array_header_t **values, int *truncated,
                                    const char **why);

/* Asks host:port for name's TXT values: over UDP, again over TCP when the
 * answer was truncated; each exchange bounded by timeout. *values as
 * above. An error, with why, when the server does not answer or answers
 * with an error. */
apr_status_t sacme_dns_txt(apr_pool_t *p, const char *host, apr_port_t port,
                           const char *name, apr_interval_time_t timeout,
                           apr_array_header_t **values, const char **why);

#endif /* SACME_DNS_H */
