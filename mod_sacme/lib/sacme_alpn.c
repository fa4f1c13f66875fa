/* The tls-alpn-01 challenge certificate (RFC 8737 §3) and the reverse-DNS
 * SNI names of IP identifiers (RFC 8738 §6).
 *
 * The certificate only has to convince the CA's validation: the CA checks
 * that exactly one SAN names the identifier and that the critical
 * acmeIdentifier extension holds the digest of the key authorization. It
 * is trusted by nobody and lives as long as one authorization, so a fresh
 * key per attempt costs nothing and leaves nothing worth stealing.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <apr_strings.h>

#include "sacme_alpn.h"
#include "sacme_chain.h"
#include "sacme_key.h"
#include "sacme_ossl.h"
#include "sacme_selfsigned.h"

#define ALPN_ORG   "mod_sacme tls-alpn-01 challenge"
/* Longer than any validation takes, short enough to be worthless. */
#define ALPN_VALID apr_time_from_sec(7 * 24 * 3600)

static int ip_bytes(const char *text, unsigned char *addr);

/* The one SAN: the identifier, as the CA compares it. */
static int add_san(X509 *x, const char *name, int ip)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    unsigned char addr[16];
    ASN1_STRING *value = NULL;
    int len = 0, ok = 0;

    if (ip) {
        len = ip_bytes(name, addr);
        if (len && (value = ASN1_OCTET_STRING_new())) {
            ok = ASN1_OCTET_STRING_set(value, addr, len);
        }
    }
    else if ((value = ASN1_IA5STRING_new())) {
        ok = ASN1_STRING_set(value, name, (int)strlen(name));
    }
    if (ok && gens && gn) {
        GENERAL_NAME_set0_value(gn, ip ? GEN_IPADD : GEN_DNS, value);
        value = NULL;
        ok = sk_GENERAL_NAME_push(gens, gn) > 0;
        if (ok) {
            gn = NULL;
            ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
        }
    }
    else {
        ok = 0;
    }
    ASN1_STRING_free(value);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* id-pe-acmeIdentifier, critical, its value the DER of an OCTET STRING
 * holding SHA-256(key_authz) (RFC 8737 §3: the extension's extnValue
 * wraps that DER once more, which X509_EXTENSION does). */
static int add_acme_identifier(X509 *x, const char *key_authz)
{
    unsigned char digest[SHA256_DIGEST_LENGTH], der[2 + SHA256_DIGEST_LENGTH];
    ASN1_OBJECT *oid = OBJ_txt2obj(SACME_ALPN_OID, 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = 0;

    SHA256((const unsigned char *)key_authz, strlen(key_authz), digest);
    /* An OCTET STRING of 32 bytes: tag 0x04, short-form length 0x20. */
    der[0] = V_ASN1_OCTET_STRING;
    der[1] = SHA256_DIGEST_LENGTH;
    memcpy(der + 2, digest, SHA256_DIGEST_LENGTH);
    if (oid && value && ASN1_OCTET_STRING_set(value, der, sizeof(der))
        && (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value))) {
        ok = X509_add_ext(x, ext, -1);
    }
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    return ok;
}

apr_status_t sacme_alpn_make(apr_pool_t *p, const char *name, int ip,
                             const char *key_authz, char **pem, sacme_result_t *res)
{
    sacme_key_t *key;
    sacme_chain_t chain;
    const char *cert_pem, *key_pem;
    X509 *x;
    apr_status_t rv;

    if (!name || !*name || !key_authz || !*key_authz) {
        return sacme_result_set(res, APR_EINVAL, "a tls-alpn-01 certificate needs "
                                "an identifier and a key authorization");
    }
    ERR_clear_error();
    if ((rv = sacme_key_generate(p, SACME_KEY_P256, &key, res)) != APR_SUCCESS
        || (rv = sacme_selfsigned_begin(p, key, NULL, ALPN_ORG, ALPN_VALID, &x, res))
               != APR_SUCCESS) {
        return rv;
    }
    if (!add_san(x, name, ip) || !add_acme_identifier(x, key_authz)) {
        return sacme_result_set(res, APR_EINVAL, "cannot make the tls-alpn-01 "
                                "certificate for %s '%s': %s", ip ? "IP address" : "name",
                                name, sacme_ossl_errors(p));
    }
    if ((rv = sacme_selfsigned_sign(p, key, x, res)) != APR_SUCCESS) {
        return rv;
    }
    /* A chain that does not own x (the pool does): only for the encoder. */
    chain.certs = apr_array_make(p, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = x;
    if (!(cert_pem = sacme_chain_leaf_pem(&chain, p)) || !(key_pem = sacme_key_to_pem(key, p))) {
        return sacme_result_set(res, APR_EGENERAL, "cannot encode the tls-alpn-01 "
                                "certificate for %s: %s", name, sacme_ossl_errors(p));
    }
    *pem = apr_pstrcat(p, cert_pem, key_pem, NULL);
    return APR_SUCCESS;
}

/* One hexadecimal digit's value, or -1. */
static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The labels of a reverse name before its suffix, in reverse: for IPv4 four
 * decimal octets, for IPv6 32 single nibbles. Anything else is no IP. */
const char *sacme_alpn_sni_ip(apr_pool_t *p, const char *sni)
{
    static const char V4[] = ".in-addr.arpa", V6[] = ".ip6.arpa";
    unsigned char addr[16];
    char text[INET6_ADDRSTRLEN];
    apr_size_t len = sni ? strlen(sni) : 0;
    const char *s, *end;
    int i;

    if (len && sni[len - 1] == '.') {
        --len;
    }
    if (len > sizeof(V4) - 1 && !strncasecmp(sni + len - (sizeof(V4) - 1), V4,
                                             sizeof(V4) - 1)) {
        end = sni + len - (sizeof(V4) - 1);
        for (s = sni, i = 3; i >= 0; --i) {
            unsigned v = 0;
            const char *start = s;

            while (s < end && *s >= '0' && *s <= '9' && s - start < 3) {
                v = v * 10 + (unsigned)(*s++ - '0');
            }
            /* No empty label, no leading zero, no more than 255 */
            if (s == start || v > 255 || (*start == '0' && s - start > 1)
                || (i ? (s >= end || *s != '.') : s != end)) {
                return NULL;
            }
            addr[i] = (unsigned char)v;
            s += i ? 1 : 0;
        }
        return inet_ntop(AF_INET, addr, text, sizeof(text)) ? apr_pstrdup(p, text) : NULL;
    }
    if (len == 63 + sizeof(V6) - 1 && !strncasecmp(sni + 63, V6, sizeof(V6) - 1)) {
        memset(addr, 0, sizeof(addr));
        for (i = 0; i < 32; ++i) {
            int v = hex_value(sni[2 * i]);

            if (v < 0 || (i < 31 && sni[2 * i + 1] != '.')) {
                return NULL;
            }
            /* The first label is the lowest nibble of the last byte. */
            addr[15 - i / 2] |= (unsigned char)(i % 2 ? v << 4 : v);
        }
        return inet_ntop(AF_INET6, addr, text, sizeof(text)) ? apr_pstrdup(p, text) : NULL;
    }
    return NULL;
}

/* The address bytes of an IP literal, and their count (4, 16; 0: none). */
static int ip_bytes(const char *text, unsigned char *addr)
{
    return !text ? 0 : inet_pton(AF_INET, text, addr) == 1 ? 4
           : inet_pton(AF_INET6, text, addr) == 1 ? 16 : 0;
}

int sacme_alpn_same_ip(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int n = ip_bytes(a, x);

    return n && n == ip_bytes(b, y) && !memcmp(x, y, (size_t)n);
}
