/* base64url (RFC 4648 §5) as JOSE uses it, and a lenient decoder for keys
 * that admins paste from a CA's portal (EAB HMAC keys come padded, unpadded,
 * base64url or standard base64 depending on the CA).
 */
#ifndef SACME_B64_H
#define SACME_B64_H

#include "sacme.h"

/* base64url without padding. */
const char *sacme_b64url_encode(apr_pool_t *p, const unsigned char *data,
                                apr_size_t len);

/* Strict base64url without padding, as JOSE requires (RFC 7515 §2).
 * Returns APR_EINVAL on any other character. *out is NUL-terminated. */
apr_status_t sacme_b64url_decode(apr_pool_t *p, const char *s,
                                 unsigned char **out, apr_size_t *outlen);

/* Lenient: accepts base64url and standard base64, with or without '='
 * padding, and ignores surrounding whitespace. Mixed alphabets within one
 * string, padding in the middle and impossible lengths are APR_EINVAL. */
apr_status_t sacme_b64_decode_lenient(apr_pool_t *p, const char *s,
                                      unsigned char **out, apr_size_t *outlen);

#endif /* SACME_B64_H */
