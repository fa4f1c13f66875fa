/* Host names against the names of managed domains (RFC 6125 wildcards),
 * and IP addresses (RFC 8738) in their canonical text. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "sacme_name.h"

#define MAX_DNS_NAME 253

/* Lower-cases host into buf (MAX_DNS_NAME + 2 bytes: room for the '*' that
 * replaces the first label) if it is a name of non-empty labels; returns
 * its length, or 0. */
static apr_size_t normalize(const char *host, char *buf)
{
    apr_size_t n, i;

    if (!host || (n = strlen(host)) == 0 || n > MAX_DNS_NAME) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (host[i] == '.' && (i == 0 || host[i - 1] == '.' || i == n - 1)) {
            return 0;
        }
        buf[i] = (char)tolower((unsigned char)host[i]);
    }
    buf[n] = '\0';
    return n;
}

/* The length of a first label a wildcard may stand for, or 0. Only the
 * characters of host names (and '_', which httpd lets through): a '*' here
 * means a wildcard host, which no other wildcard covers. */
static apr_size_t first_label(const char *name)
{
    apr_size_t i;

    for (i = 0; name[i] && name[i] != '.'; ++i) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_') {
            return 0;
        }
    }
    return name[i] == '.' ? i : 0;
}

const char *sacme_name_ip_canonical(const char *text, int brackets, char *buf)
{
    unsigned char addr[16];
    char inner[SACME_IP_TEXT_MAX];
    apr_size_t n;

    if (!text) {
        return NULL;
    }
    if (brackets && text[0] == '[') {
        /* only IPv6 is ever bracketed (RFC 3986 IP-literal) */
        n = strlen(text);
        if (n < 3 || n - 2 >= sizeof(inner) || text[n - 1] != ']') {
            return NULL;
        }
        memcpy(inner, text + 1, n - 2);
        inner[n - 2] = '\0';
        return inet_pton(AF_INET6, inner, addr) == 1
               && inet_ntop(AF_INET6, addr, buf, SACME_IP_TEXT_MAX) ? buf : NULL;
    }
    /* inet_pton is strict: no "1.2.3.4x", no octal or short IPv4 forms,
     * no zone ("fe80::1%eth0"), which keeps "is this an IP" unambiguous */
    if (inet_pton(AF_INET, text, addr) == 1) {
        return inet_ntop(AF_INET, addr, buf, SACME_IP_TEXT_MAX) ? buf : NULL;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        return inet_ntop(AF_INET6, addr, buf, SACME_IP_TEXT_MAX) ? buf : NULL;
    }
    return NULL;
}

int sacme_name_ip_addr(const char *name, unsigned char *addr)
{
    if (!name) {
        return 0;
    }
    if (inet_pton(AF_INET, name, addr) == 1) {
        return 4;
    }
    return inet_pton(AF_INET6, name, addr) == 1 ? 16 : 0;
}

int sacme_name_is_ip(const char *name)
{
    char buf[SACME_IP_TEXT_MAX];

    return sacme_name_ip_canonical(name, 0, buf) != NULL;
}

void *sacme_name_lookup(apr_hash_t *names, const char *host, int wildcards,
                        sacme_name_match_t *how)
{
    char buf[MAX_DNS_NAME + 2];
    apr_size_t n, label;
    void *value = NULL;
    sacme_name_match_t found = SACME_NAME_NONE;
    const char *ip = sacme_name_ip_canonical(host, 1, buf);

    if (ip) {
        /* an address is only ever itself: "127.0.0.1" is no name under
         * "*.0.0.1" */
        n = strlen(ip);
        wildcards = 0;
    }
    else {
        n = normalize(host, buf);
    }
    if (n && (value = apr_hash_get(names, buf, (apr_ssize_t)n))) {
        found = SACME_NAME_EXACT;
    }
    else if (n && wildcards && (label = first_label(buf)) > 0) {
        /* "a.w.example" -> "*.w.example", in place */
        buf[label - 1] = '*';
        if ((value = apr_hash_get(names, buf + label - 1, (apr_ssize_t)(n - label + 1)))) {
            found = SACME_NAME_WILDCARD;
        }
    }
    if (how) {
        *how = found;
    }
    return value;
}
