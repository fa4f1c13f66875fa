/* Trust anchors for the certificates mod_sacme activates.
 *
 * A staged set that passed sacme_chain_check is well formed, but anyone who
 * can write the staging area (code running as the httpd User) can make one:
 * a self-signed pair, or a chain from a CA of their own. Only a chain that
 * reaches a trust anchor is activated (and staged by the driver): the
 * system's CA certificates (OpenSSL's default locations; on Debian
 * /etc/ssl/certs) plus the certificates of the admin's SacmeTrustedRoots
 * file, for private CAs (Sectigo SCM private ACME) and test CAs (Pebble).
 *
 * Every certificate of the admin's file is an anchor, an intermediate too
 * (X509_V_FLAG_PARTIAL_CHAIN): an admin who names a private CA's issuing
 * certificate trusts what it issues, whether or not its root is known.
 *
 * A trust is built once and then only read: sacme_trust_verify may be
 * called from several threads at once (each call has its own verification
 * context; OpenSSL locks the shared store).
 */
#ifndef SACME_TRUST_H
#define SACME_TRUST_H

#include "sacme.h"
#include "sacme_chain.h"
#include "sacme_result.h"

typedef struct sacme_trust_t sacme_trust_t;

/* Also trust the system's CA certificates (X509_STORE_set_default_paths:
 * the default file and hashed directory, or SSL_CERT_FILE/SSL_CERT_DIR). */
#define SACME_TRUST_SYSTEM 0x1

/* Builds a trust from the certificates of pem (len bytes, at most
 * SACME_MAX_RESPONSE; NULL/0: none) and, with SACME_TRUST_SYSTEM in flags,
 * the system's. name says where pem came from, for messages (the file of
 * SacmeTrustedRoots). The content is given, not a path: the file may be
 * readable by root only, and the driver reads it before dropping
 * privileges. Text around the PEM blocks is allowed, as in CA bundles;
 * a block that is not a certificate or does not parse, or a pem without
 * any certificate, is SACME_ECONFIG with the reason. Freed with p. */
apr_status_t sacme_trust_make(apr_pool_t *p, const char *pem, apr_size_t len,
                              const char *name, int flags, sacme_trust_t **trust,
                              sacme_result_t *res);

/* How many certificates the admin's pem gave. */
int sacme_trust_count(const sacme_trust_t *trust);

/* Does chain (its leaf, with the rest as untrusted intermediates) reach an
 * anchor of trust, for a TLS server, at time now? A leaf whose notBefore
 * is a few minutes ahead of now passes, as in sacme_chain_check (the CA's
 * clock may run ahead). On failure SACME_EUNTRUSTED with OpenSSL's reason
 * and the depth of the certificate it concerns; when the issuer is not
 * known, the hint says to add the CA's root to SacmeTrustedRoots. A NULL
 * trust fails too: there is no unchecked activation. */
apr_status_t sacme_trust_verify(const sacme_trust_t *trust, const sacme_chain_t *chain,
                                apr_time_t now, sacme_result_t *res);

/* The same at the current time, in the form of sacme_store_promote's
 * verify hook (sacme_store_verify_fn), with the trust as its baton. */
apr_status_t sacme_trust_verify_now(void *trust, const sacme_chain_t *chain,
                                    sacme_result_t *res);

#endif /* SACME_TRUST_H */
