/* tls-alpn-01 (RFC 8737): the certificate a server presents to a CA that
 * connects with ALPN "acme-tls/1" and the identifier as SNI, and the
 * mapping of the SNI name the CA sends for an IP identifier (RFC 8738 §6)
 * back to the address.
 */
#ifndef SACME_ALPN_H
#define SACME_ALPN_H

#include "sacme.h"
#include "sacme_result.h"

/* The ALPN protocol name of the challenge (RFC 8737 §6.2). */
#define SACME_ALPN_PROTOCOL "acme-tls/1"

/* id-pe-acmeIdentifier (RFC 8737 §6.1). */
#define SACME_ALPN_OID "1.3.6.1.5.5.7.1.31"

/* Makes the challenge certificate for the identifier name (ip: an IP
 * address as written in the order, else a DNS name) and its key
 * authorization: self-signed with a fresh P-256 key, the one SAN naming
 * the identifier (dNSName, or iPAddress for an IP), and the critical
 * acmeIdentifier extension holding SHA-256(key_authz). *pem holds the
 * certificate followed by its private key, both PEM: one file, so a
 * reader never pairs a certificate with another attempt's key. */
apr_status_t sacme_alpn_make(apr_pool_t *p, const char *name, int ip,
                             const char *key_authz, char **pem, sacme_result_t *res);

/* The IP address (in the text form inet_ntop gives) an SNI name of a
 * reverse-DNS form stands for: "4.3.2.1.in-addr.arpa" -> "1.2.3.4", the 32
 * nibbles of ".ip6.arpa" -> an IPv6 address; NULL for any other name.
 * Case-insensitive, a trailing dot allowed. */
const char *sacme_alpn_sni_ip(apr_pool_t *p, const char *sni);

/* Whether a and b are IP addresses and the same one, however written
 * ("2001:DB8:0::10" and "2001:db8::10"). */
int sacme_alpn_same_ip(const char *a, const char *b);

#endif /* SACME_ALPN_H */
