/* One TXT question to one DNS server (sacme_dns.h): RFC 1035 messages,
 * built and read here with every bound checked, over APR sockets. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <apr_network_io.h>
#include <apr_strings.h>

#include "sacme_dns.h"
#include "sacme_rand.h"

#define TYPE_TXT     16
#define CLASS_IN     1
#define HEADER_LEN   12
#define MAX_NAME     253
#define MAX_LABEL    63
#define MAX_TXT      4096        /* bytes of one record's text kept */

const char *sacme_dns_parse_server(apr_pool_t *p, const char *spec,
                                   const char **host, apr_port_t *port)
{
    unsigned char addr[16];
    const char *h = spec, *colon, *port_text = NULL;
    char *end;
    long n;

    if (!spec || !*spec) {
        return "no address given";
    }
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || (close[1] && close[1] != ':') || (close[1] == ':' && !close[2])) {
            return apr_psprintf(p, "'%s' is not [IPv6]:PORT", spec);
        }
        h = apr_pstrmemdup(p, spec + 1, (apr_size_t)(close - spec - 1));
        port_text = close[1] ? close + 2 : NULL;
        if (inet_pton(AF_INET6, h, addr) != 1) {
            return apr_psprintf(p, "'%s' is not an IPv6 address", h);
        }
    }
    else if ((colon = strchr(spec, ':')) && strchr(colon + 1, ':')) {
        /* two colons: an IPv6 address without a port */
        if (inet_pton(AF_INET6, spec, addr) != 1) {
            return apr_psprintf(p, "'%s' is not an IP address (write an IPv6 "
                                "address with a port as [ADDRESS]:PORT)", spec);
        }
    }
    else {
        if (colon) {
            h = apr_pstrmemdup(p, spec, (apr_size_t)(colon - spec));
            port_text = colon + 1;
        }
        if (inet_pton(AF_INET, h, addr) != 1) {
            return apr_psprintf(p, "'%s' is not an IP address (a host name would "
                                "need a resolver to find the resolver)", h);
        }
    }
    *port = SACME_DNS_PORT;
    if (port_text) {
        n = strtol(port_text, &end, 10);
        if (!*port_text || *end || n < 1 || n > 65535 || port_text[0] == '+'
            || port_text[0] == '-') {
            return apr_psprintf(p, "'%s' is not a port (1..65535)", port_text);
        }
        *port = (apr_port_t)n;
    }
    *host = h;
    return NULL;
}

static void put16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

static unsigned get16(const unsigned char *b)
{
    return ((unsigned)b[0] << 8) | b[1];
}

apr_status_t sacme_dns_query_make(const char *name, apr_uint16_t id,
                                  unsigned char *buf, apr_size_t size,
                                  apr_size_t *len)
{
    apr_size_t n = HEADER_LEN, total = strlen(name);
    const char *label = name, *dot;

    if (total && name[total - 1] == '.') {
        --total;                    /* the root's dot is implied */
    }
    if (total == 0 || total > MAX_NAME || size < HEADER_LEN + total + 2 + 4) {
        return APR_EINVAL;
    }
    memset(buf, 0, HEADER_LEN);
    put16(buf, id);
    buf[2] = 0x01;                  /* RD: a resolver may recurse for us */
    put16(buf + 4, 1);              /* one question */
    while (label < name + total) {
        apr_size_t l;
        dot = memchr(label, '.', (apr_size_t)(name + total - label));
        l = dot ? (apr_size_t)(dot - label) : (apr_size_t)(name + total - label);
        if (l == 0 || l > MAX_LABEL) {
            return APR_EINVAL;
        }
        buf[n++] = (unsigned char)l;
        memcpy(buf + n, label, l);
        n += l;
        label += l + (dot ? 1 : 0);
        if (dot && label == name + total) {
            return APR_EINVAL;      /* "a..": an empty last label */
        }
    }
    buf[n++] = 0;
    put16(buf + n, TYPE_TXT);
    put16(buf + n + 2, CLASS_IN);
    *len = n + 4;
    return APR_SUCCESS;
}

/* Steps over a (possibly compressed) name at *off; 0 when it does not fit
 * the message. The name itself is not needed: the answer section of our
 * one question is all about it (or about where its CNAMEs lead). */
static int skip_name(const unsigned char *msg, apr_size_t len, apr_size_t *off)
{
    apr_size_t o = *off;

    for (;;) {
        unsigned l;
        if (o >= len) {
            return 0;
        }
        l = msg[o];
        if ((l & 0xc0) == 0xc0) {
            if (o + 2 > len) {
                return 0;
            }
            *off = o + 2;           /* a pointer ends the name here */
            return 1;
        }
        if (l & 0xc0) {
            return 0;               /* the reserved label types */
        }
        if (l == 0) {
            *off = o + 1;
            return 1;
        }
        o += 1 + l;
    }
}

static const char *rcode_text(unsigned rcode)
{
    switch (rcode) {
    case 1: return "FORMERR (the server could not read the query)";
    case 2: return "SERVFAIL (the server failed to answer)";
    case 4: return "NOTIMP";
    case 5: return "REFUSED (the server does not answer us)";
    default: return "an error";
    }
}

/* A TXT record's data: one or more character-strings, joined. */
static const char *txt_data(apr_pool_t *p, const unsigned char *rd, apr_size_t n)
{
    char *out = apr_palloc(p, (n < MAX_TXT ? n : MAX_TXT) + 1);
    apr_size_t i = 0, o = 0;

    while (i < n) {
        apr_size_t l = rd[i++], keep;
        if (l > n - i) {
            return NULL;
        }
        keep = l < MAX_TXT - o ? l : MAX_TXT - o;   /* a long one is never ours */
        memcpy(out + o, rd + i, keep);
        o += keep;
        i += l;
    }
    out[o] = '\0';
    return out;
}

apr_status_t sacme_dns_answer_parse(apr_pool_t *p, const unsigned char *msg,
                                    apr_size_t len, apr_uint16_t id,
                                    apr_array_header_t **values, int *truncated,
                                    const char **why)
{
    apr_size_t off = HEADER_LEN;
    unsigned qd, an, rcode, i;

    *values = apr_array_make(p, 2, sizeof(const char *));
    *truncated = 0;
    if (len < HEADER_LEN) {
        *why = "the answer is shorter than a DNS header";
        return APR_EGENERAL;
    }
    if (get16(msg) != id || !(msg[2] & 0x80) || ((msg[2] >> 3) & 0x0f) != 0) {
        *why = "the message is not the answer to our query (id, QR or opcode)";
        return APR_EGENERAL;
    }
    if (msg[2] & 0x02) {
        *truncated = 1;
        return APR_SUCCESS;
    }
    rcode = msg[3] & 0x0f;
    if (rcode == 3) {
        return APR_SUCCESS;         /* NXDOMAIN: no record (yet) */
    }
    if (rcode != 0) {
        *why = apr_psprintf(p, "the server answered %s", rcode_text(rcode));
        return APR_EGENERAL;
    }
    qd = get16(msg + 4);
    an = get16(msg + 6);
    if (qd != 1) {
        *why = "the answer does not repeat our one question";
        return APR_EGENERAL;
    }
    if (!skip_name(msg, len, &off) || off + 4 > len) {
        *why = "the answer's question section is cut short";
        return APR_EGENERAL;
    }
    off += 4;
    for (i = 0; i < an; ++i) {
        unsigned type, klass;
        apr_size_t rdlen;
        if (!skip_name(msg, len, &off) || off + 10 > len) {
            *why = "an answer record is cut short";
            return APR_EGENERAL;
        }
        type = get16(msg + off);
        klass = get16(msg + off + 2);
        rdlen = get16(msg + off + 8);
        off += 10;
        if (rdlen > len - off) {
            *why = "an answer record's data runs past the message";
            return APR_EGENERAL;
        }
        if (type == TYPE_TXT && klass == CLASS_IN) {
            const char *text = txt_data(p, msg + off, rdlen);
            if (!text) {
                *why = "a TXT record's strings run past its data";
                return APR_EGENERAL;
            }
            APR_ARRAY_PUSH(*values, const char *) = text;
        }
        off += rdlen;               /* a CNAME on the way: its target's TXT follows */
    }
    return APR_SUCCESS;
}

/* Reads exactly n bytes (TCP). */
static apr_status_t recv_all(apr_socket_t *s, unsigned char *buf, apr_size_t n)
{
    apr_size_t got = 0, k;
    apr_status_t rv;

    while (got < n) {
        k = n - got;
        rv = apr_socket_recv(s, (char *)buf + got, &k);
        if (k > 0) {
            got += k;
            continue;
        }
        return rv != APR_SUCCESS ? rv : APR_EOF;
    }
    return APR_SUCCESS;
}

static apr_status_t send_all(apr_socket_t *s, const unsigned char *buf, apr_size_t n)
{
    apr_size_t sent = 0, k;
    apr_status_t rv;

    while (sent < n) {
        k = n - sent;
        rv = apr_socket_send(s, (const char *)buf + sent, &k);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        sent += k;
    }
    return APR_SUCCESS;
}

/* One exchange; *answer and *alen get what came back. A connected UDP
 * socket takes datagrams only from the server asked. */
static apr_status_t exchange(apr_pool_t *p, apr_sockaddr_t *sa, int tcp,
                             const unsigned char *q, apr_size_t qlen,
                             apr_interval_time_t timeout, unsigned char **answer,
                             apr_size_t *alen, const char **why)
{
    apr_socket_t *s = NULL;
    unsigned char lenbuf[2], *buf;
    apr_size_t n;
    apr_status_t rv;
    char ebuf[128];

    rv = apr_socket_create(&s, sa->family, tcp ? SOCK_STREAM : SOCK_DGRAM,
                           tcp ? APR_PROTO_TCP : APR_PROTO_UDP, p);
    if (rv == APR_SUCCESS) {
        rv = apr_socket_timeout_set(s, timeout);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_connect(s, sa);
    }
    if (rv != APR_SUCCESS) {
        goto fail;
    }
    if (tcp) {
        put16(lenbuf, (unsigned)qlen);
        if ((rv = send_all(s, lenbuf, 2)) != APR_SUCCESS
            || (rv = send_all(s, q, qlen)) != APR_SUCCESS
            || (rv = recv_all(s, lenbuf, 2)) != APR_SUCCESS) {
            goto fail;
        }
        n = get16(lenbuf);
        buf = apr_palloc(p, n ? n : 1);
        if ((rv = recv_all(s, buf, n)) != APR_SUCCESS) {
            goto fail;
        }
    }
    else {
        if ((rv = send_all(s, q, qlen)) != APR_SUCCESS) {
            goto fail;
        }
        buf = apr_palloc(p, SACME_DNS_UDP_MAX);
        n = SACME_DNS_UDP_MAX;
        if ((rv = apr_socket_recv(s, (char *)buf, &n)) != APR_SUCCESS) {
            goto fail;
        }
    }
    apr_socket_close(s);
    *answer = buf;
    *alen = n;
    return APR_SUCCESS;

fail:
    *why = apr_psprintf(p, "no answer over %s: %s", tcp ? "TCP" : "UDP",
                        APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)
                        ? "timed out" : apr_strerror(rv, ebuf, sizeof(ebuf)));
    if (s) {
        apr_socket_close(s);
    }
    return rv;
}

apr_status_t sacme_dns_txt(apr_pool_t *p, const char *host, apr_port_t port,
                           const char *name, apr_interval_time_t timeout,
                           apr_array_header_t **values, const char **why)
{
    unsigned char q[SACME_DNS_UDP_MAX], *answer;
    apr_size_t qlen, alen;
    apr_sockaddr_t *sa;
    apr_uint16_t id = (apr_uint16_t)sacme_rand_u64();
    apr_status_t rv;
    int tcp, truncated;

    if (sacme_dns_query_make(name, id, q, sizeof(q), &qlen) != APR_SUCCESS) {
        *why = apr_psprintf(p, "'%s' is not a DNS name", name);
        return APR_EINVAL;
    }
    rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, APR_IPV4_ADDR_OK, p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "'%s' is not an address", host);
        return rv;
    }
    for (tcp = 0; tcp < 2; ++tcp) {
        rv = exchange(p, sa, tcp, q, qlen, timeout, &answer, &alen, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = sacme_dns_answer_parse(p, answer, alen, id, values, &truncated, why);
        if (rv != APR_SUCCESS || !truncated) {
            return rv;
        }
    }
    *why = "the answer was truncated over TCP too";
    return APR_EGENERAL;
}
