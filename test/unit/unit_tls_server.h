/* The canned HTTPS server of the curl tests. unit_tls_server_start makes a
 * throwaway CA and a server certificate with OpenSSL, forks a server
 * process listening on 127.0.0.1 (ephemeral port) that answers canned
 * responses chosen by path (/ok, /echo, /interim, /redirect, /unavailable,
 * /exact, /big-announced, /big-close, /big-chunked, /huge-headers,
 * /truncate, /reset, /hang; anything else 404), and the fixture's teardown
 * kills it. */
#ifndef SACME_UNIT_TLS_SERVER_H
#define SACME_UNIT_TLS_SERVER_H

/* The server's port (a test may set it to point url() elsewhere). */
extern int unit_tls_port;
/* A PEM file of the CA that issued the server's certificate. */
extern const char *unit_tls_ca_pem;
/* A PEM file of an unrelated CA. */
extern const char *unit_tls_other_pem;

/* Starts the server with a certificate for san (an OpenSSL subjectAltName
 * value such as "IP:127.0.0.1"), issued by a fresh CA. */
void unit_tls_server_start(const char *san);

/* The checked fixture of tests that use the server: unit_setup() and
 * unit_teardown() plus starting clean and killing the server. */
void unit_tls_setup(void);
void unit_tls_teardown(void);

#endif /* SACME_UNIT_TLS_SERVER_H */
