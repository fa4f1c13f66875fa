/* The cluster key and sealing (sacme_seal.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sacme_seal.h"
#include "sacme_b64.h"
#include "sacme_ossl.h"

#define NONCE_LEN 12                   /* 96 bits: GCM's own nonce size */
#define TAG_LEN 16

/* A key file is one line of 44 characters; room for a CR LF and a
 * little more, so that "too long" is not taken for "wrong length". */
#define KEY_FILE_MAX 256

/* The text the key id is the MAC of: the id tells keys apart, and a MAC
 * under the key (unlike a plain hash of it) gives nothing to test guesses
 * of other secrets against. */
#define KEY_ID_LABEL "sacme key id"

struct sacme_seal_key_t {
    unsigned char bytes[SACME_SEAL_KEY_LEN];
    char id[SACME_SEAL_KEY_ID_LEN + 1];
    int wiped;
};

/* --- the key ----------------------------------------------------------------- */

static apr_status_t wipe_key(void *data)
{
    sacme_seal_key_wipe(data);
    return APR_SUCCESS;
}

void sacme_seal_key_wipe(sacme_seal_key_t *key)
{
    if (key) {
        OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
        key->wiped = 1;
    }
}

apr_status_t sacme_seal_key_make(apr_pool_t *p, const unsigned char *bytes,
                                 apr_size_t len, sacme_seal_key_t **pkey,
                                 sacme_result_t *res)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    sacme_seal_key_t *key;
    int i;

    if (!bytes || len != SACME_SEAL_KEY_LEN) {
        return sacme_result_set(res, APR_EINVAL, "a cluster key has %d bytes, not %"
                                APR_SIZE_T_FMT, SACME_SEAL_KEY_LEN, bytes ? len : 0);
    }
    key = apr_pcalloc(p, sizeof(*key));
    memcpy(key->bytes, bytes, SACME_SEAL_KEY_LEN);
    apr_pool_cleanup_register(p, key, wipe_key, apr_pool_cleanup_null);
    if (!HMAC(EVP_sha256(), key->bytes, SACME_SEAL_KEY_LEN,
              (const unsigned char *)KEY_ID_LABEL, strlen(KEY_ID_LABEL), md, &mdlen)
        || mdlen < SACME_SEAL_KEY_ID_LEN / 2) {
        return sacme_result_set(res, APR_EGENERAL, "cannot compute the cluster key's id");
    }
    for (i = 0; i < SACME_SEAL_KEY_ID_LEN / 2; ++i) {
        apr_snprintf(key->id + 2 * i, 3, "%02x", md[i]);
    }
    OPENSSL_cleanse(md, sizeof(md));
    *pkey = key;
    return APR_SUCCESS;
}

const char *sacme_seal_key_id(const sacme_seal_key_t *key)
{
    return key->id;
}

/* What to run to give the key file the owner and mode it needs. */
static const char *key_file_fix(apr_pool_t *p, const char *path, uid_t owner)
{
    return owner == 0
        ? apr_psprintf(p, "make it root's and readable by root only ('chown root:root "
                       "%s; chmod 0600 %s')", path, path)
        : apr_psprintf(p, "make it uid %ld's and readable by it only ('chown %ld %s; "
                       "chmod 0600 %s')", (long)owner, (long)owner, path, path);
}

/* Opens the key file and checks what it is before a byte is read: a file
 * anyone else could read, write or swap is no secret shared by the
 * cluster's nodes alone. */
static apr_status_t open_key_file(apr_pool_t *p, const char *path, uid_t owner,
                                  int *pfd, sacme_result_t *res)
{
    struct stat st;
    const char *why = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        char ebuf[256];
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        if (errno == ELOOP) {
            return sacme_result_set(res, SACME_ECONFIG, "the cluster key file %s is a "
                                    "symbolic link: name the file itself", path);
        }
        return sacme_result_set(res, rv, "cannot open the cluster key file %s: %s; make "
                                "it with 'openssl rand -base64 32 > %s' (once, then copy "
                                "it to every node) and %s", path,
                                apr_strerror(rv, ebuf, sizeof(ebuf)), path,
                                key_file_fix(p, path, owner));
    }
    if (fstat(fd, &st) != 0) {
        char ebuf[256];
        why = apr_psprintf(p, "a file that cannot be examined (%s)",
                           apr_strerror(APR_FROM_OS_ERROR(errno), ebuf, sizeof(ebuf)));
    }
    else if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
    }
    else if (st.st_nlink != 1) {
        why = "a file of more than one link (a hard link)";
    }
    else if (st.st_uid != owner) {
        why = apr_psprintf(p, "owned by uid %ld", (long)st.st_uid);
    }
    else if (st.st_mode & 077) {
        why = apr_psprintf(p, "of mode %04o, open to group or others",
                           (unsigned)(st.st_mode & 07777));
    }
    else if (st.st_size > KEY_FILE_MAX) {
        why = "too large for a key (it holds one line of base64)";
    }
    if (why) {
        close(fd);
        return sacme_result_set(res, SACME_ECONFIG, "refusing the cluster key file %s: "
                                "it is %s; %s", path, why, key_file_fix(p, path, owner));
    }
    *pfd = fd;
    return APR_SUCCESS;
}

apr_status_t sacme_seal_key_read(apr_pool_t *p, const char *path, uid_t owner,
                                 sacme_seal_key_t **key, sacme_result_t *res)
{
    char buf[KEY_FILE_MAX + 2];
    unsigned char *raw = NULL;
    apr_size_t got = 0, rawlen = 0;
    apr_pool_t *tmp;
    apr_status_t rv;
    int fd = -1;

    if ((rv = open_key_file(p, path, owner, &fd, res)) != APR_SUCCESS) {
        return rv;
    }
    /* One read past the bound tells a file that grew since the check. */
    while (got < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            char ebuf[256];
            rv = APR_FROM_OS_ERROR(errno);
            sacme_result_set(res, rv, "cannot read the cluster key file %s: %s", path,
                             apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        if (r <= 0) {
            break;
        }
        got += (apr_size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    apr_pool_create(&tmp, p);
    /* Surrounding white space (the line's end) is allowed; anything else
     * around or within the base64 is not. The message never quotes it. */
    if (rv == APR_SUCCESS
        && (got > KEY_FILE_MAX || strlen(buf) != got
            || sacme_b64_decode_lenient(tmp, buf, &raw, &rawlen) != APR_SUCCESS
            || rawlen != SACME_SEAL_KEY_LEN)) {
        rv = sacme_result_set(res, SACME_ECONFIG, "the cluster key file %s does not hold "
                              "a key: it must hold one line of base64 that decodes to "
                              "exactly %d bytes%s, as 'openssl rand -base64 32' writes it",
                              path, SACME_SEAL_KEY_LEN,
                              raw && rawlen != SACME_SEAL_KEY_LEN
                              ? apr_psprintf(p, " (it decodes to %" APR_SIZE_T_FMT ")",
                                             rawlen) : "");
    }
    if (rv == APR_SUCCESS) {
        rv = sacme_seal_key_make(p, raw, rawlen, key, res);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    if (raw) {
        OPENSSL_cleanse(raw, rawlen);
    }
    apr_pool_destroy(tmp);
    return rv;
}

/* --- sealing ----------------------------------------------------------------- */

/* What GCM authenticates besides the value: the format and the key id of
 * the text's header (a header edited to another version or key id no
 * longer opens), and the caller's context. */
static const char *aad_of(apr_pool_t *p, const char *key_id, const char *context)
{
    return apr_pstrcat(p, SACME_SEAL_PREFIX ":", key_id, ":", context, NULL);
}

static apr_status_t usable(const sacme_seal_key_t *key, const char *context,
                           apr_size_t len, sacme_result_t *res)
{
    if (!key || key->wiped) {
        return sacme_result_set(res, APR_EINVAL, "no cluster key (none read, or wiped)");
    }
    if (!context) {
        return sacme_result_set(res, APR_EINVAL, "sealing needs the name of the value");
    }
    if (len > SACME_SEAL_MAX) {
        return sacme_result_set(res, APR_ENOSPC, "%s: %" APR_SIZE_T_FMT " bytes are more "
                                "than the %d a sealed value may hold", context, len,
                                SACME_SEAL_MAX);
    }
    return APR_SUCCESS;
}

apr_status_t sacme_seal(apr_pool_t *p, const sacme_seal_key_t *key, const char *context,
                        const void *data, apr_size_t len, const char **text,
                        sacme_result_t *res)
{
    const char *aad;
    unsigned char nonce[NONCE_LEN], *out;
    EVP_CIPHER_CTX *ctx;
    apr_status_t rv;
    int aad_n = 0, n = 0, fin = 0;

    if ((rv = usable(key, context, len, res)) != APR_SUCCESS) {
        return rv;
    }
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return sacme_result_set(res, APR_EGENERAL, "%s: no random nonce to seal with",
                                context);
    }
    aad = aad_of(p, key->id, context);
    out = apr_palloc(p, len + TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx
        || !EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key->bytes, nonce, NULL)
        || !EVP_EncryptUpdate(ctx, NULL, &aad_n, (const unsigned char *)aad,
                              (int)strlen(aad))
        || (len && !EVP_EncryptUpdate(ctx, out, &n, data, (int)len))
        || !EVP_EncryptFinal_ex(ctx, out + n, &fin)
        || (apr_size_t)(n + fin) != len
        || !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + len)) {
        rv = sacme_result_set(res, APR_EGENERAL, "%s: sealing failed in OpenSSL", context);
    }
    else {
        *text = apr_pstrcat(p, SACME_SEAL_PREFIX ":", key->id, ":",
                            sacme_b64url_encode(p, nonce, sizeof(nonce)), ":",
                            sacme_b64url_encode(p, out, len + TAG_LEN), NULL);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

/* The parts of a sealed text: its key id (SACME_SEAL_KEY_ID_LEN
 * characters), its nonce (*nonce_len characters) and its ciphertext (to the
 * end); 0 when it has not the form. */
static int split(const char *text, const char **id, const char **nonce,
                 apr_size_t *nonce_len, const char **ct)
{
    const size_t plen = sizeof(SACME_SEAL_PREFIX) - 1;
    const char *c;
    size_t i;

    if (!text || strncmp(text, SACME_SEAL_PREFIX ":", plen + 1)) {
        return 0;
    }
    *id = text + plen + 1;
    for (i = 0; i < SACME_SEAL_KEY_ID_LEN; ++i) {
        const char x = (*id)[i];
        if (!((x >= '0' && x <= '9') || (x >= 'a' && x <= 'f'))) {
            return 0;
        }
    }
    if ((*id)[SACME_SEAL_KEY_ID_LEN] != ':') {
        return 0;
    }
    *nonce = *id + SACME_SEAL_KEY_ID_LEN + 1;
    if (!(c = strchr(*nonce, ':'))) {
        return 0;
    }
    *nonce_len = (apr_size_t)(c - *nonce);
    *ct = c + 1;
    return 1;
}

int sacme_seal_is_sealed(const char *text)
{
    const char *id, *nonce, *ct;
    apr_size_t nonce_len;

    return split(text, &id, &nonce, &nonce_len, &ct);
}

apr_status_t sacme_seal_open(apr_pool_t *p, const sacme_seal_key_t *key,
                             const char *context, const char *text,
                             unsigned char **data, apr_size_t *len,
                             sacme_result_t *res)
{
    const char *id, *nonce_b64, *ct_b64, *aad;
    unsigned char *nonce, *ct, *out;
    apr_size_t nonce_b64_len, nonce_len, ct_len, plain_len;
    EVP_CIPHER_CTX *ctx;
    apr_status_t rv;
    int aad_n = 0, n = 0, fin = 0;

    if ((rv = usable(key, context, 0, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!split(text, &id, &nonce_b64, &nonce_b64_len, &ct_b64)
        || strlen(ct_b64) > (SACME_SEAL_MAX + TAG_LEN) / 3 * 4 + 4
        || sacme_b64url_decode(p, apr_pstrndup(p, nonce_b64, nonce_b64_len), &nonce,
                               &nonce_len) != APR_SUCCESS
        || nonce_len != NONCE_LEN
        || sacme_b64url_decode(p, ct_b64, &ct, &ct_len) != APR_SUCCESS
        || ct_len < TAG_LEN) {
        return sacme_result_set(res, APR_EINVAL, "%s: not a sealed value of the form "
                                SACME_SEAL_PREFIX ":<key id>:<nonce>:<ciphertext>",
                                context);
    }
    id = apr_pstrndup(p, id, SACME_SEAL_KEY_ID_LEN);
    if (strcmp(id, key->id)) {
        return sacme_result_set(res, SACME_ESEALKEY, "%s was sealed with the cluster key "
                                "of id %s; this node's key has id %s: every node of the "
                                "cluster needs the same key file (SacmeClusterKey)",
                                context, id, key->id);
    }
    plain_len = ct_len - TAG_LEN;
    out = apr_pcalloc(p, plain_len + 1);
    sacme_ossl_cleanse_later(p, out, plain_len + 1);
    aad = aad_of(p, id, context);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx
        || !EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key->bytes, nonce, NULL)
        || !EVP_DecryptUpdate(ctx, NULL, &aad_n, (const unsigned char *)aad,
                              (int)strlen(aad))
        || (plain_len && !EVP_DecryptUpdate(ctx, out, &n, ct, (int)plain_len))
        || !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, ct + plain_len)) {
        rv = sacme_result_set(res, APR_EGENERAL, "%s: opening failed in OpenSSL", context);
    }
    else if (EVP_DecryptFinal_ex(ctx, out + n, &fin) <= 0) {
        /* Nothing of what was decrypted may be used: it is unauthenticated. */
        rv = sacme_result_set(res, SACME_ESEAL, "%s does not open with the cluster key "
                              "(id %s): it was changed, cut, or sealed for another name; "
                              "it cannot be used", context, key->id);
    }
    EVP_CIPHER_CTX_free(ctx);
    if (rv != APR_SUCCESS) {
        OPENSSL_cleanse(out, plain_len + 1);
        return rv;
    }
    out[plain_len] = '\0';
    *data = out;
    *len = plain_len;
    return APR_SUCCESS;
}
