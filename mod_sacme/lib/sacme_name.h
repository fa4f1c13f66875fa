/* Which managed name serves a host name: the name itself, or the wildcard
 * that covers it. Used for the vhosts mod_ssl asks certificates for, and
 * for the Host of a request (SacmeRequireHttps); the HTTP-01 responder asks
 * for exact names only, so that no wildcard is ever answered over HTTP.
 */
#ifndef SACME_NAME_H
#define SACME_NAME_H

#include <apr_hash.h>

#include "sacme.h"

/* How sacme_name_lookup found a host. */
typedef enum {
    SACME_NAME_NONE = 0,
    SACME_NAME_EXACT,        /* the host is one of the names */
    SACME_NAME_WILDCARD      /* a wildcard name covers it */
} sacme_name_match_t;

/* The value names (lower-case name -> value) holds for host. An exact
 * entry (case-insensitive) comes first; then, when wildcards is set, the
 * entry of "*." followed by host without its left-most label: RFC 6125
 * 6.4.3, a wildcard stands for exactly one whole label, so "*.w.example"
 * covers "a.w.example" but neither "w.example" nor "x.a.w.example", and a
 * wildcard host ("*.a.w.example") is only ever its own exact entry. NULL
 * when none, and for a host that is no DNS name: empty, longer than 253
 * characters, with an empty label (a leading, trailing or doubled dot), or
 * with a first label of anything but letters, digits, '-' and '_' where a
 * wildcard would have to stand for it. An IP address (also in brackets)
 * is looked up by its canonical text (sacme_name_ip_canonical), and never
 * under a wildcard. how (may be NULL) says which. */
void *sacme_name_lookup(apr_hash_t *names, const char *host, int wildcards,
                        sacme_name_match_t *how);

/* The longest canonical IP text (an IPv6 address with an IPv4 tail), with
 * its NUL: INET6_ADDRSTRLEN without needing the socket headers here. */
#define SACME_IP_TEXT_MAX 46

/* The address bytes of an IP address written as RFC 8738 identifiers
 * write it (see sacme_name_is_ip) into addr (16 bytes): returns 4 or 16,
 * or 0 when name is no IP address. */
int sacme_name_ip_addr(const char *name, unsigned char *addr);

/* Whether name is an IP address as RFC 8738 identifiers write it: a plain
 * IPv4 dotted quad or IPv6 literal (no brackets, no zone, no port). */
int sacme_name_is_ip(const char *name);

/* The canonical text of the IP address in text (RFC 5952 for IPv6:
 * lower case, the longest run of zeros compressed), written to buf
 * (SACME_IP_TEXT_MAX bytes); with brackets allowed, "[::1]" is read as
 * well (a Host header or a ServerName). Returns buf, or NULL when text is
 * no IP address. Two spellings of one address ("2001:DB8:0::1",
 * "2001:db8::1") get the same text, so it can be looked up and compared
 * as a string. */
const char *sacme_name_ip_canonical(const char *text, int brackets, char *buf);

#endif /* SACME_NAME_H */
