/* The cluster key and sealing: what a cluster of servers keeps in etcd
 * that must stay secret there (certificate keys, the account key, the
 * tls-alpn-01 key) is sealed with one key every node holds, so that etcd,
 * its backups and whoever can read them see only ciphertext.
 *
 * The key: 32 random bytes in a file of one line, standard base64 (as
 * `openssl rand -base64 32` writes it), readable by its owner only.
 *
 * A sealed value is text, so that it travels in JSON and in etcd as is:
 *
 *   sacme-seal-1:<key id>:<nonce>:<ciphertext and tag>
 *
 * AES-256-GCM (OpenSSL EVP), a random 96-bit nonce per seal, a 128-bit tag,
 * nonce and ciphertext in base64url. The key id is a fingerprint of the key
 * (16 hex digits, not a secret: it tells nothing of the key), so a node with
 * another key says "sealed with key X, this node has Y" instead of a mere
 * failure. The caller's context (the etcd key name) is authenticated with
 * the value, together with the format and the key id: a sealed value copied
 * to another name does not open there.
 *
 * Random nonces are safe up to some 2^32 seals under one key; a cluster
 * seals a few values per certificate issued.
 */
#ifndef SACME_SEAL_H
#define SACME_SEAL_H

#include <sys/types.h>

#include "sacme.h"
#include "sacme_result.h"

/* A sealed text that does not open with this key: changed, cut, or sealed
 * for another name (context). Nothing in it can be trusted. */
#define SACME_ESEAL (APR_OS_START_USERERR + 50)

/* A sealed text made with another cluster key (its key id is not ours):
 * the nodes' key files differ, an admin's matter. */
#define SACME_ESEALKEY (APR_OS_START_USERERR + 51)

#define SACME_SEAL_KEY_LEN 32          /* bytes: AES-256 */
#define SACME_SEAL_KEY_ID_LEN 16       /* hex digits of the key id */
#define SACME_SEAL_PREFIX "sacme-seal-1"

/* The largest value sealed or opened (a PEM key or chain is far less). */
#define SACME_SEAL_MAX (1024 * 1024)

typedef struct sacme_seal_key_t sacme_seal_key_t;

/* A key from its 32 bytes (copied); the copy is cleansed when p goes. */
apr_status_t sacme_seal_key_make(apr_pool_t *p, const unsigned char *bytes,
                                 apr_size_t len, sacme_seal_key_t **key,
                                 sacme_result_t *res);

/* Reads the key file at path: a regular file (not a symbolic link) of one
 * link, owned by owner (root in a server; a test passes its own uid),
 * with no permission for group or others, holding one line of base64 that
 * decodes to exactly 32 bytes. Errors name the file and say how to fix it,
 * never quoting its content. No copy of the key is left but the key's own,
 * cleansed when p goes. */
apr_status_t sacme_seal_key_read(apr_pool_t *p, const char *path, uid_t owner,
                                 sacme_seal_key_t **key, sacme_result_t *res);

/* The key's id: SACME_SEAL_KEY_ID_LEN hex digits. */
const char *sacme_seal_key_id(const sacme_seal_key_t *key);

/* Forgets the key now (cleansed); safe to call twice and with NULL. A key
 * wiped cannot seal or open (APR_EINVAL). */
void sacme_seal_key_wipe(sacme_seal_key_t *key);

/* Seals len bytes of data for context (the name the value is stored
 * under; not secret, not stored): *text, NUL-terminated, in p. */
apr_status_t sacme_seal(apr_pool_t *p, const sacme_seal_key_t *key, const char *context,
                        const void *data, apr_size_t len, const char **text,
                        sacme_result_t *res);

/* Opens a sealed text stored under context. *data (NUL-terminated, *len
 * bytes without the NUL) is in p and cleansed when p goes. Failures:
 * APR_EINVAL for a text that is not a sealed value of this format,
 * SACME_ESEALKEY for one sealed with another key (res names both ids),
 * SACME_ESEAL for one that does not authenticate. */
apr_status_t sacme_seal_open(apr_pool_t *p, const sacme_seal_key_t *key,
                             const char *context, const char *text,
                             unsigned char **data, apr_size_t *len,
                             sacme_result_t *res);

/* True when text has the form of a sealed value (any key), without
 * opening it. */
int sacme_seal_is_sealed(const char *text);

#endif /* SACME_SEAL_H */
