/* base64url for JOSE, and a lenient decoder for pasted keys.
 *
 * Written by hand rather than with apr_base64 because JOSE needs the URL
 * alphabet without padding, and admin input needs both alphabets. */
#include <ctype.h>

#include "sacme_b64.h"

static const char URL_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *sacme_b64url_encode(apr_pool_t *p, const unsigned char *data,
                                apr_size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        apr_uint32_t v = ((apr_uint32_t)data[i] << 16)
                       | ((apr_uint32_t)data[i + 1] << 8) | data[i + 2];
        *o++ = URL_ALPHABET[(v >> 18) & 0x3f];
        *o++ = URL_ALPHABET[(v >> 12) & 0x3f];
        *o++ = URL_ALPHABET[(v >> 6) & 0x3f];
        *o++ = URL_ALPHABET[v & 0x3f];
    }
    if (len - i == 1) {
        apr_uint32_t v = (apr_uint32_t)data[i] << 16;
        *o++ = URL_ALPHABET[(v >> 18) & 0x3f];
        *o++ = URL_ALPHABET[(v >> 12) & 0x3f];
    }
    else if (len - i == 2) {
        apr_uint32_t v = ((apr_uint32_t)data[i] << 16) | ((apr_uint32_t)data[i + 1] << 8);
        *o++ = URL_ALPHABET[(v >> 18) & 0x3f];
        *o++ = URL_ALPHABET[(v >> 12) & 0x3f];
        *o++ = URL_ALPHABET[(v >> 6) & 0x3f];
    }
    *o = '\0';
    return out;
}

/* Alphabet flags: which of the two alphabets a character belongs to. */
enum { ALPHA_COMMON = 1, ALPHA_URL = 2, ALPHA_STD = 4 };

static int char_value(char c, int *alphabet)
{
    if (c >= 'A' && c <= 'Z') { *alphabet = ALPHA_COMMON; return c - 'A'; }
    if (c >= 'a' && c <= 'z') { *alphabet = ALPHA_COMMON; return c - 'a' + 26; }
    if (c >= '0' && c <= '9') { *alphabet = ALPHA_COMMON; return c - '0' + 52; }
    if (c == '-') { *alphabet = ALPHA_URL; return 62; }
    if (c == '_') { *alphabet = ALPHA_URL; return 63; }
    if (c == '+') { *alphabet = ALPHA_STD; return 62; }
    if (c == '/') { *alphabet = ALPHA_STD; return 63; }
    return -1;
}

/* Decodes n significant characters (no padding) allowing the alphabets in
 * allowed. Unused trailing bits must be zero, so every input has exactly one
 * decoding. */
static apr_status_t decode(apr_pool_t *p, const char *s, apr_size_t n,
                           int allowed, unsigned char **out, apr_size_t *outlen)
{
    unsigned char *buf, *o;
    apr_uint32_t acc = 0;
    int bits = 0, seen = 0;
    apr_size_t i;

    if (n % 4 == 1) {
        return APR_EINVAL;      /* no length of bytes encodes to 4k+1 chars */
    }
    buf = o = apr_palloc(p, n * 3 / 4 + 1);
    for (i = 0; i < n; ++i) {
        int alphabet, v = char_value(s[i], &alphabet);
        if (v < 0 || !(alphabet & allowed)) {
            goto invalid;
        }
        seen |= alphabet;
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    if ((seen & ALPHA_URL) && (seen & ALPHA_STD)) {
        goto invalid;           /* "-" and "+" in one key: not a key, a typo */
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        goto invalid;
    }
    *o = '\0';
    *out = buf;
    *outlen = (apr_size_t)(o - buf);
    return APR_SUCCESS;

invalid:
    /* The input may be a secret (an EAB HMAC key): leave no half-decoded
     * copy behind in the pool. */
    memset(buf, 0, n * 3 / 4 + 1);
    return APR_EINVAL;
}

apr_status_t sacme_b64url_decode(apr_pool_t *p, const char *s,
                                 unsigned char **out, apr_size_t *outlen)
{
    if (!s) {
        return APR_EINVAL;
    }
    return decode(p, s, strlen(s), ALPHA_COMMON | ALPHA_URL, out, outlen);
}

apr_status_t sacme_b64_decode_lenient(apr_pool_t *p, const char *s,
                                      unsigned char **out, apr_size_t *outlen)
{
    apr_size_t start = 0, end, n, pad = 0;

    if (!s) {
        return APR_EINVAL;
    }
    end = strlen(s);
    while (start < end && isspace((unsigned char)s[start])) {
        ++start;
    }
    while (end > start && isspace((unsigned char)s[end - 1])) {
        --end;
    }
    /* Padding is optional, but if present it must be complete and final. */
    n = end - start;
    while (n > 0 && s[start + n - 1] == '=') {
        --n;
        ++pad;
    }
    if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0)) {
        return APR_EINVAL;
    }
    if (n == 0) {
        return APR_EINVAL;
    }
    return decode(p, s + start, n, ALPHA_COMMON | ALPHA_URL | ALPHA_STD, out, outlen);
}
