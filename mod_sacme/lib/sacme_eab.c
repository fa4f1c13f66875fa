/* External Account Binding: an HMAC-signed JWS over the account key's JWK.
 *
 * The HMAC key is the one secret here that an admin types in by hand, so
 * errors explain what is wrong with it in words and positions, never by
 * quoting it: error details end up in logs and on the status page. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sacme_eab.h"
#include "sacme_b64.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_jws.h"

static const struct {
    const char *name;
    const char *digest;
} HMAC_ALGS[] = {
    [SACME_HMAC_HS256] = { "HS256", "SHA256" },
    [SACME_HMAC_HS384] = { "HS384", "SHA384" },
    [SACME_HMAC_HS512] = { "HS512", "SHA512" },
};

static int alg_valid(sacme_hmac_alg_t alg)
{
    return (unsigned)alg < SACME_ARRAY_LEN(HMAC_ALGS);
}

apr_status_t sacme_hmac_alg_parse(const char *s, sacme_hmac_alg_t *alg)
{
    apr_size_t i;

    for (i = 0; s && i < SACME_ARRAY_LEN(HMAC_ALGS); ++i) {
        if (!strcasecmp(s, HMAC_ALGS[i].name)) {
            *alg = (sacme_hmac_alg_t)i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *sacme_hmac_alg_name(sacme_hmac_alg_t alg)
{
    return alg_valid(alg) ? HMAC_ALGS[alg].name : NULL;
}

/* Wipes the decoded key when its pool goes, so it does not linger in freed
 * pool memory that later allocations (or a core dump) would expose. */
static apr_status_t hmac_cleanse(void *data)
{
    sacme_eab_t *eab = data;

    if (eab->hmac && eab->hmac_len > 0) {
        OPENSSL_cleanse((void *)eab->hmac, eab->hmac_len);
    }
    return APR_SUCCESS;
}

/* Why the lenient decoder refused a key, in words that never contain any of
 * the key's characters: at most positions and counts. */
static const char *why_not_base64(apr_pool_t *p, const char *s)
{
    apr_size_t start = 0, end = strlen(s), i, n;
    int url = 0, std = 0;

    while (start < end && isspace((unsigned char)s[start])) {
        ++start;
    }
    while (end > start && isspace((unsigned char)s[end - 1])) {
        --end;
    }
    if (start == end) {
        return "is empty";
    }
    n = end;
    while (n > start && s[n - 1] == '=') {
        --n;
    }
    for (i = start; i < end; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '-' || c == '_') {
            url = 1;
        }
        else if (c == '+' || c == '/') {
            std = 1;
        }
        else if (c == '=') {
            if (i < n) {
                return apr_psprintf(p, "has '=' padding inside it (at character %"
                                    APR_SIZE_T_FMT "), padding may only end it",
                                    i - start + 1);
            }
        }
        else if (!isalnum(c) || c >= 0x80) {
            return apr_psprintf(p, "contains a character that is not base64 (at "
                                "character %" APR_SIZE_T_FMT ")", i - start + 1);
        }
    }
    if (url && std) {
        return "mixes the base64url ('-', '_') and standard base64 ('+', '/') "
               "alphabets";
    }
    if ((n - start) % 4 == 1 || end - n > 2
        || (end > n && (end - start) % 4 != 0)) {
        return apr_psprintf(p, "has %" APR_SIZE_T_FMT " characters (%" APR_SIZE_T_FMT
                            " without padding), a length no key encodes to;"
                            " was it truncated?", end - start, n - start);
    }
    return "does not decode: its last character has bits set that no encoder "
           "produces; was it truncated or mistyped?";
}

apr_status_t sacme_eab_make(apr_pool_t *p, const char *kid,
                            const char *hmac_b64, sacme_hmac_alg_t alg,
                            sacme_eab_t **peab, sacme_result_t *res)
{
    sacme_eab_t *eab;
    unsigned char *key;
    apr_size_t key_len;

    if (!kid || !*kid) {
        return sacme_result_set(res, APR_EINVAL,
                                "the EAB key identifier (kid) is empty");
    }
    if (!alg_valid(alg)) {
        return sacme_result_set(res, APR_EINVAL, "unknown EAB HMAC algorithm %d",
                                (int)alg);
    }
    if (!hmac_b64) {
        return sacme_result_set(res, APR_EINVAL, "the EAB HMAC key is empty");
    }
    if (sacme_b64_decode_lenient(p, hmac_b64, &key, &key_len) != APR_SUCCESS) {
        return sacme_result_set(res, APR_EINVAL,
                                "the EAB HMAC key for kid '%s' is not base64url or "
                                "base64: it %s", kid, why_not_base64(p, hmac_b64));
    }
    if (key_len < SACME_EAB_MIN_HMAC) {
        OPENSSL_cleanse(key, key_len);
        return sacme_result_set(res, APR_EINVAL,
                                "the EAB HMAC key for kid '%s' is %" APR_SIZE_T_FMT
                                " bytes long once decoded, less than the %d a CA "
                                "gives; copy the whole key", kid, key_len,
                                SACME_EAB_MIN_HMAC);
    }
    eab = apr_pcalloc(p, sizeof(*eab));
    eab->kid = apr_pstrdup(p, kid);
    eab->hmac = key;
    eab->hmac_len = key_len;
    eab->alg = alg;
    apr_pool_cleanup_register(p, eab, hmac_cleanse, apr_pool_cleanup_null);
    *peab = eab;
    return APR_SUCCESS;
}

sacme_eab_t *sacme_eab_kid_only(apr_pool_t *p, const char *kid)
{
    sacme_eab_t *eab = apr_pcalloc(p, sizeof(*eab));

    eab->kid = apr_pstrdup(p, kid);
    return eab;
}

sacme_eab_t *sacme_eab_copy(apr_pool_t *p, const sacme_eab_t *from)
{
    sacme_eab_t *eab;

    if (!from) {
        return NULL;
    }
    eab = apr_pcalloc(p, sizeof(*eab));
    eab->kid = apr_pstrdup(p, from->kid);
    eab->alg = from->alg;
    eab->file = from->file ? apr_pstrdup(p, from->file) : NULL;
    if (from->hmac && from->hmac_len > 0) {
        eab->hmac = apr_pmemdup(p, from->hmac, from->hmac_len);
        eab->hmac_len = from->hmac_len;
    }
    apr_pool_cleanup_register(p, eab, hmac_cleanse, apr_pool_cleanup_null);
    return eab;
}

void sacme_eab_wipe(sacme_eab_t *eab)
{
    if (!eab) {
        return;
    }
    hmac_cleanse(eab);
    eab->hmac = NULL;
    eab->hmac_len = 0;
}

apr_status_t sacme_eab_check_key(const sacme_eab_t *eab, sacme_result_t *res)
{
    if (eab && eab->hmac && eab->hmac_len > 0) {
        return APR_SUCCESS;
    }
    /* Only the driver wipes a key it still has a configuration for: once its
     * account is there. Registering again needs the key read anew, which is
     * what a restart does; a crash here would only hide that. */
    return sacme_result_set(res, SACME_ECONFIG,
                            "the EAB HMAC key (key id '%s') was already used in "
                            "this driver run and is wiped from memory, so no new "
                            "account can be registered with it now; a graceful "
                            "restart of httpd (apachectl graceful) reads it "
                            "again%s%s", eab && eab->kid ? eab->kid : "?",
                            eab && eab->file ? " from " : "",
                            eab && eab->file ? eab->file : "");
}

/* jansson's allocator while an EAB file is parsed. jansson copies every
 * string it parses into blocks of its own (and keeps the lexer's text in a
 * buffer it grows and frees), and frees them without zeroing: the HMAC key
 * would stay behind in freed heap memory, where a later allocation or a
 * core dump shows it. Each block carries its size in front, so that freeing
 * it can cleanse all of it. */
typedef union {
    size_t size;
    max_align_t align;              /* blocks stay aligned as malloc's are */
} zblock_t;

static void *zeroing_malloc(size_t size)
{
    zblock_t *b;

    if (size > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + size))) {
        return NULL;
    }
    b->size = size;
    return b + 1;
}

static void zeroing_free(void *ptr)
{
    zblock_t *b;

    if (!ptr) {
        return;
    }
    b = (zblock_t *)ptr - 1;
    OPENSSL_cleanse(ptr, b->size);
    free(b);
}

apr_status_t sacme_secret_json_parse(const char *what, const char *shape,
                                     const char *data, apr_size_t len,
                                     sacme_secret_json_fn *fn, void *baton,
                                     sacme_result_t *res)
{
    json_malloc_t saved_malloc;
    json_free_t saved_free;
    json_error_t err;
    json_t *j;
    apr_status_t rv;

    if (len == 0) {
        return sacme_result_set(res, APR_EINVAL, "%s is empty; it must hold %s",
                                what, shape);
    }
    if (sacme_json_depth(data, len) > SACME_MAX_JSON_DEPTH) {
        return sacme_result_set(res, APR_EINVAL, "%s is nested too deeply; it must "
                                "hold %s", what, shape);
    }
    /* The zeroing allocator from before the parse until after the JSON is
     * freed. Swapping jansson's allocator is process-wide, and it is safe
     * here because: (1) the callers run single-threaded (the root parent
     * reading its configuration, the driver before it starts its threads,
     * sacmectl), so no other code allocates or frees a jansson object
     * meanwhile; (2) every object allocated in the window is freed in the
     * window (fn copies what it keeps into pools), so no block of one
     * allocator ever reaches the other's free function. */
    json_get_alloc_funcs(&saved_malloc, &saved_free);
    json_set_alloc_funcs(zeroing_malloc, zeroing_free);
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    /* Positions only: jansson's error text quotes the input near the error,
     * which may be the secret. */
    if (!j) {
        rv = sacme_result_set(res, APR_EINVAL, "%s is not valid JSON (error at "
                              "line %d, column %d); it must hold %s", what, err.line,
                              err.column, shape);
    }
    else {
        rv = fn(baton, j, res);
    }
    json_decref(j);
    json_set_alloc_funcs(saved_malloc, saved_free);
    OPENSSL_cleanse(&err, sizeof(err));
    return rv;
}

typedef struct {
    apr_pool_t *p;
    const char *path;
    sacme_eab_t **peab;
} eab_parse_t;

/* Takes the EAB out of the parsed file: only kid and the decoded key leave
 * it, copied into the pool. */
static apr_status_t eab_from_json(void *baton, const json_t *j, sacme_result_t *res)
{
    eab_parse_t *e = baton;
    json_t *alg_j;
    const char *kid, *hmac;
    sacme_hmac_alg_t alg = SACME_HMAC_HS256;
    apr_status_t rv;

    if (!(kid = sacme_json_str(j, "kid")) || !*kid
        || !(hmac = sacme_json_str(j, "hmac"))) {
        return sacme_result_set(res, APR_EINVAL, "the EAB file %s needs the string "
                                "members \"kid\" and \"hmac\"", e->path);
    }
    if ((alg_j = json_object_get(j, "alg"))
        && sacme_hmac_alg_parse(json_string_value(alg_j), &alg) != APR_SUCCESS) {
        return sacme_result_set(res, APR_EINVAL, "the EAB file %s has an \"alg\" "
                                "other than HS256, HS384 or HS512", e->path);
    }
    if ((rv = sacme_eab_make(e->p, kid, hmac, alg, e->peab, res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "the EAB file %s", e->path);
    }
    return rv;
}

static apr_status_t parse_eab(apr_pool_t *p, const char *path, const char *data,
                              apr_size_t len, sacme_eab_t **peab, sacme_result_t *res)
{
    eab_parse_t e = { p, path, peab };

    return sacme_secret_json_parse(apr_psprintf(p, "the EAB file %s", path),
                                   "{\"kid\": ..., \"hmac\": ...}", data, len,
                                   eab_from_json, &e, res);
}

apr_status_t sacme_eab_read_file(apr_pool_t *p, const char *path,
                                 sacme_eab_t **peab, sacme_result_t *res)
{
    apr_pool_t *tmp;
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    *peab = NULL;
    apr_pool_create(&tmp, p);
    rv = sacme_file_read(path, SACME_EAB_FILE_MAX, tmp, &data, &len, res);
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "the EAB file");
    }
    else {
        rv = parse_eab(p, path, data, len, peab, res);
        OPENSSL_cleanse(data, len);
    }
    apr_pool_destroy(tmp);
    if (rv == APR_SUCCESS) {
        (*peab)->file = apr_pstrdup(p, path);
    }
    return rv;
}

apr_status_t sacme_eab_sign_input(apr_pool_t *p, sacme_hmac_alg_t alg,
                                  const unsigned char *key, apr_size_t key_len,
                                  const char *signing_input,
                                  const char **sig_b64, sacme_result_t *res)
{
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    apr_status_t rv = APR_EGENERAL;

    if (!alg_valid(alg)) {
        return sacme_result_set(res, APR_EINVAL, "unknown EAB HMAC algorithm %d",
                                (int)alg);
    }
    if (!key || key_len == 0 || !signing_input) {
        return sacme_result_set(res, APR_EINVAL, "EAB: no HMAC key or nothing to sign");
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)HMAC_ALGS[alg].digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    /* The key goes straight from the caller's buffer into OpenSSL's context,
     * which cleanses it on free: no copy of ours to forget. */
    if (!ctx
        || !EVP_MAC_init(ctx, key, key_len, params)
        || !EVP_MAC_update(ctx, (const unsigned char *)signing_input,
                           strlen(signing_input))
        || !EVP_MAC_final(ctx, md, &mdlen, sizeof(md))) {
        /* Deliberately no OpenSSL error text: nothing that could echo key
         * material belongs in a result. */
        sacme_result_set(res, rv, "EAB: computing the %s MAC failed",
                         HMAC_ALGS[alg].name);
        goto leave;
    }
    *sig_b64 = sacme_b64url_encode(p, md, mdlen);
    rv = APR_SUCCESS;
leave:
    OPENSSL_cleanse(md, sizeof(md));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rv;
}

apr_status_t sacme_eab_jws(apr_pool_t *p, const sacme_eab_t *eab,
                           const sacme_key_t *account_key,
                           const char *new_account_url, json_t **jws,
                           sacme_result_t *res)
{
    json_t *jwk, *prot;
    const char *hdr, *jwk_s, *prot_b64, *payload_b64, *sig;
    apr_status_t rv;

    if (!eab || !new_account_url) {
        return sacme_result_set(res, APR_EINVAL, "EAB: no binding or no newAccount URL");
    }
    if (!alg_valid(eab->alg)) {
        return sacme_result_set(res, APR_EINVAL, "unknown EAB HMAC algorithm %d",
                                (int)eab->alg);
    }
    if ((rv = sacme_eab_check_key(eab, res)) != APR_SUCCESS) {
        return rv;
    }
    jwk = sacme_jwk_make(account_key, p);
    if (!jwk || !(jwk_s = sacme_json_dump(p, jwk))) {
        return sacme_result_set(res, APR_EINVAL,
                                "EAB: the account key has no JWK form");
    }
    /* RFC 8555 §7.3.4: exactly alg, kid and url; no nonce. */
    prot = json_pack("{s:s, s:s, s:s}", "alg", HMAC_ALGS[eab->alg].name,
                     "kid", eab->kid, "url", new_account_url);
    hdr = prot ? sacme_json_dump(p, prot) : NULL;
    json_decref(prot);
    if (!hdr) {
        return sacme_result_set(res, APR_ENOMEM, "EAB: cannot build the header");
    }
    prot_b64 = sacme_b64url_encode(p, (const unsigned char *)hdr, strlen(hdr));
    payload_b64 = sacme_b64url_encode(p, (const unsigned char *)jwk_s, strlen(jwk_s));
    rv = sacme_eab_sign_input(p, eab->alg, eab->hmac, eab->hmac_len,
                              apr_pstrcat(p, prot_b64, ".", payload_b64, NULL),
                              &sig, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *jws = sacme_json_own(p, json_pack("{s:s, s:s, s:s}", "protected", prot_b64,
                                       "payload", payload_b64, "signature", sig));
    if (!*jws) {
        return sacme_result_set(res, APR_ENOMEM, "EAB: cannot build the JWS");
    }
    return APR_SUCCESS;
}
