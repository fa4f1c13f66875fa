/* External Account Binding (RFC 8555 §7.3.4): the account key's JWK signed
 * with a MAC key the CA issued out of band (Sectigo SCM's "HMAC key").
 *
 * The HMAC key is a secret: it lives in memory only, in the process that
 * needs it and only while it needs it; no function here logs it, and
 * sacme_eab_t never serialises it.
 */
#ifndef SACME_EAB_H
#define SACME_EAB_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_key.h"
#include "sacme_result.h"

typedef enum {
    SACME_HMAC_HS256 = 0,   /* the default, what every CA accepts */
    SACME_HMAC_HS384,
    SACME_HMAC_HS512
} sacme_hmac_alg_t;

typedef struct sacme_eab_t {
    const char *kid;              /* key identifier, as issued */
    const unsigned char *hmac;    /* decoded MAC key bytes; NULL once wiped
                                     (or never read: a configuration that
                                     keeps only where the key is) */
    apr_size_t hmac_len;
    sacme_hmac_alg_t alg;
    const char *file;             /* the file it was read from, or NULL */
} sacme_eab_t;

/* Bound on an EAB file: a few hundred bytes in practice. */
#define SACME_EAB_FILE_MAX (64 * 1024)

/* "HS256" / "HS384" / "HS512" (case-insensitive). */
apr_status_t sacme_hmac_alg_parse(const char *s, sacme_hmac_alg_t *alg);
const char *sacme_hmac_alg_name(sacme_hmac_alg_t alg);

/* The shortest HMAC key accepted, in bytes once decoded. CAs hand out 32
 * bytes or more; a shorter one is a key cut short when copied (or a key id
 * pasted in its place), and an HMAC key that short is guessable. */
#define SACME_EAB_MIN_HMAC 16

/* Builds an EAB from the strings an admin configures: the HMAC key is
 * decoded leniently (base64url or base64, padded or not). On a key that does
 * not decode or decodes to fewer than SACME_EAB_MIN_HMAC bytes, APR_EINVAL
 * with a message that never repeats the key. */
apr_status_t sacme_eab_make(apr_pool_t *p, const char *kid,
                            const char *hmac_b64, sacme_hmac_alg_t alg,
                            sacme_eab_t **eab, sacme_result_t *res);

/* Reads an EAB file, the JSON object {"kid": ..., "hmac": ..., optional
 * "alg": "HS256"|"HS384"|"HS512"}, into an EAB allocated from p (its file
 * member is path). Leaves no copy of the HMAC key behind but the decoded
 * bytes in the result: the file's bytes are cleansed, and jansson parses
 * with an allocator that cleanses every block it frees. Errors name the
 * file and say what is wrong (by position for bad JSON), never quoting the
 * content. Not thread-safe: it swaps jansson's allocator for the duration,
 * so it may only run while no other thread uses jansson (at configuration
 * time, in a process before it starts threads, in sacmectl). */
apr_status_t sacme_eab_read_file(apr_pool_t *p, const char *path,
                                 sacme_eab_t **eab, sacme_result_t *res);

/* Parses len bytes of JSON that hold a secret (an EAB file, the SCM
 * credentials) with jansson's allocator swapped for one that cleanses
 * every block it frees, and hands the parsed value to fn, which copies
 * what it keeps into pools (and registers cleanses for secrets). what
 * names the file in messages ("the EAB file PATH"), shape says what it
 * must hold; errors give positions, never the content. Not thread-safe,
 * like sacme_eab_read_file. Returns fn's status, or APR_EINVAL. */
typedef apr_status_t sacme_secret_json_fn(void *baton, const json_t *j,
                                          sacme_result_t *res);
apr_status_t sacme_secret_json_parse(const char *what, const char *shape,
                                     const char *data, apr_size_t len,
                                     sacme_secret_json_fn *fn, void *baton,
                                     sacme_result_t *res);

/* An EAB that names the key id only (which account), without a key. */
sacme_eab_t *sacme_eab_kid_only(apr_pool_t *p, const char *kid);

/* A copy of eab in p with its own copy of the key bytes (wiped when p
 * goes, or by sacme_eab_wipe). */
sacme_eab_t *sacme_eab_copy(apr_pool_t *p, const sacme_eab_t *eab);

/* Cleanses the key bytes and forgets them (hmac NULL, hmac_len 0); the
 * kid, alg and file stay. Safe to call twice, and with NULL. */
void sacme_eab_wipe(sacme_eab_t *eab);

/* APR_SUCCESS if eab still holds its HMAC key; otherwise SACME_ECONFIG with
 * a message that says it was used and wiped in this run and how to get it
 * read again. */
apr_status_t sacme_eab_check_key(const sacme_eab_t *eab, sacme_result_t *res);

/* HMAC signature (base64url) over a JWS signing input. */
apr_status_t sacme_eab_sign_input(apr_pool_t *p, sacme_hmac_alg_t alg,
                                  const unsigned char *key, apr_size_t key_len,
                                  const char *signing_input,
                                  const char **sig_b64, sacme_result_t *res);

/* The externalAccountBinding member of a newAccount payload: a flattened JWS
 * with protected {"alg","kid","url"} over the account key's JWK. A wiped
 * key fails as sacme_eab_check_key says. */
apr_status_t sacme_eab_jws(apr_pool_t *p, const sacme_eab_t *eab,
                           const sacme_key_t *account_key,
                           const char *new_account_url, json_t **jws,
                           sacme_result_t *res);

#endif /* SACME_EAB_H */
