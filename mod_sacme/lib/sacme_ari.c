/* ACME Renewal Information (sacme_ari.h). */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sacme_ari.h"
#include "sacme_b64.h"
#include "sacme_json.h"
#include "sacme_problem.h"
#include "sacme_time.h"

apr_status_t sacme_ari_cert_id(apr_pool_t *p, X509 *cert, const char **id,
                               sacme_result_t *res)
{
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    unsigned char *bytes;
    BIGNUM *bn;
    int n, lead;

    if (!aki || ASN1_STRING_length(aki) <= 0) {
        return sacme_result_set(res, SACME_EPROTO, "the certificate has no Authority "
                                "Key Identifier: it has no ARI certID");
    }
    if (!serial || !(bn = ASN1_INTEGER_to_BN(serial, NULL))) {
        return sacme_result_set(res, SACME_EPROTO, "the certificate's serial number "
                                "cannot be read");
    }
    if (BN_is_negative(bn)) {
        BN_free(bn);
        return sacme_result_set(res, SACME_EPROTO, "the certificate's serial number "
                                "is negative: it has no ARI certID");
    }
    /* The DER content octets of a positive INTEGER: big-endian, minimal,
     * with a 0x00 in front when the top bit is set (and 0 is one 0x00). */
    n = BN_num_bytes(bn);
    lead = n == 0 || BN_is_bit_set(bn, n * 8 - 1);
    bytes = apr_pcalloc(p, (apr_size_t)(n + lead));
    BN_bn2bin(bn, bytes + lead);
    BN_free(bn);
    *id = apr_pstrcat(p, sacme_b64url_encode(p, ASN1_STRING_get0_data(aki),
                                             (apr_size_t)ASN1_STRING_length(aki)),
                      ".", sacme_b64url_encode(p, bytes, (apr_size_t)(n + lead)), NULL);
    return APR_SUCCESS;
}

/* An explanationURL fit for a log line and a status page: http(s), no
 * spaces or control characters, not absurdly long. */
static int url_ok(const char *s)
{
    const char *c;

    if (!s || strlen(s) > 1024
        || (strncmp(s, "https://", 8) && strncmp(s, "http://", 7))) {
        return 0;
    }
    for (c = s; *c; ++c) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

apr_status_t sacme_ari_parse(apr_pool_t *p, const char *body, apr_size_t len,
                             sacme_ari_info_t *info, sacme_result_t *res)
{
    json_t *j = sacme_json_parse(p, body, len, 0, res), *w;
    const char *start, *end, *url;

    memset(info, 0, sizeof(*info));
    if (!j) {
        sacme_result_prefix(res, "the renewalInfo answer is not JSON");
        if (res) {
            res->status = SACME_EPROTO;
        }
        return SACME_EPROTO;
    }
    if (!(w = sacme_json_obj(j, "suggestedWindow"))) {
        return sacme_result_set(res, SACME_EPROTO, "the renewalInfo answer has no "
                                "suggestedWindow object");
    }
    start = sacme_json_str(w, "start");
    end = sacme_json_str(w, "end");
    info->start = sacme_time_rfc3339_parse(start);
    info->end = sacme_time_rfc3339_parse(end);
    if (!info->start || !info->end) {
        return sacme_result_set(res, SACME_EPROTO, "the renewalInfo answer's "
                                "suggestedWindow has no valid start and end (RFC 3339 "
                                "times): start '%.40s', end '%.40s'",
                                start ? start : "missing", end ? end : "missing");
    }
    if (info->end < info->start) {
        return sacme_result_set(res, SACME_EPROTO, "the renewalInfo answer's "
                                "suggestedWindow ends (%s) before it starts (%s)",
                                end, start);
    }
    url = sacme_json_str(j, "explanationURL");
    info->explanation_url = url_ok(url) ? apr_pstrdup(p, url) : NULL;
    return APR_SUCCESS;
}

apr_time_t sacme_ari_pick_with(const sacme_ari_info_t *info, apr_uint64_t r)
{
    apr_uint64_t span = (apr_uint64_t)(info->end - info->start);

    if (info->end <= info->start) {
        return info->start;
    }
    /* span + 1 cannot overflow: both ends are real times. The modulo's
     * bias is below span / 2^64: nothing for windows of days. */
    return info->start + (apr_time_t)(r % (span + 1));
}

apr_time_t sacme_ari_pick(const sacme_ari_info_t *info)
{
    apr_uint64_t r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
        /* Never fails once OpenSSL is seeded; a middle is still inside. */
        r = (apr_uint64_t)(info->end - info->start) / 2;
    }
    return sacme_ari_pick_with(info, r);
}

apr_time_t sacme_ari_next_poll(apr_time_t retry_after, apr_time_t now)
{
    if (!retry_after) {
        return sacme_time_add(now, SACME_ARI_POLL_DEFAULT);
    }
    return sacme_time_add(now, sacme_time_clamp(retry_after - now, SACME_ARI_POLL_MIN,
                                                SACME_ARI_POLL_MAX));
}

apr_status_t sacme_ari_fetch(sacme_acme_t *acme, const char *cert_id, apr_pool_t *p,
                             sacme_ari_answer_t *ans, sacme_result_t *res)
{
    sacme_http_request_t req = { .method = "GET" };
    sacme_http_response_t *resp;
    const char *base;
    apr_status_t rv;
    int had_dir = acme->dir != NULL;

    memset(ans, 0, sizeof(*ans));
    ans->error_kind = "unreachable";
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    /* The driver's client keeps the directory it read first; a CA may have
     * added renewalInfo since. Before saying it has none, its directory is
     * read again (once per poll, and a CA without ARI is polled daily or at
     * the admin's word: no load). Not when it was read just now. A failed
     * read keeps the old directory, and with it the answer "none". */
    if (!acme->dir->renewal_info && had_dir) {
        sacme_acme_refresh_directory(acme, NULL);
    }
    if (!(base = acme->dir->renewal_info)) {
        ans->error_kind = "unsupported";
        return sacme_result_set(res, APR_ENOTIMPL, "the CA's directory has no "
                                "renewalInfo");
    }
    /* Never sent elsewhere than the CA, like every other request. */
    if (!sacme_http_same_origin(p, base, acme->url)) {
        ans->error_kind = "foreign";
        return sacme_result_set(res, SACME_EFOREIGN, "the CA's renewalInfo URL %s is "
                                "not on the directory's origin", base);
    }
    req.url = apr_pstrcat(p, base, base[strlen(base) - 1] == '/' ? "" : "/", cert_id,
                          NULL);
    if ((rv = sacme_http_perform(acme->http, &req, p, &resp, res)) != APR_SUCCESS) {
        sacme_result_prefix(res, "renewalInfo %s", req.url);
        return rv;
    }
    ans->status = resp->status;
    ans->retry_after = sacme_time_retry_after(sacme_http_header(resp, "Retry-After"),
                                              apr_time_now());
    if (resp->status != 200) {
        ans->error_kind = resp->status == 404 ? "http-404"
                          : resp->status >= 500 ? "http-5xx"
                          : apr_psprintf(p, "http-%d", resp->status);
        sacme_result_set(res, SACME_EPROTO, "renewalInfo %s answered HTTP %d",
                         req.url, resp->status);
        if (res) {
            res->http_status = resp->status;
        }
        return SACME_EPROTO;
    }
    if ((rv = sacme_ari_parse(p, resp->body, resp->body_len, &ans->info, res))
            != APR_SUCCESS) {
        ans->error_kind = ans->info.start && ans->info.end ? "window" : "malformed";
        sacme_result_prefix(res, "renewalInfo %s", req.url);
        return rv;
    }
    ans->error_kind = NULL;
    return APR_SUCCESS;
}

int sacme_ari_replaces_refused(const sacme_result_t *res)
{
    const char *type = res && res->problem ? sacme_problem_short(res->problem) : NULL;

    if (!type) {
        return 0;
    }
    return !strcmp(type, "alreadyReplaced") || !strcmp(type, "conflict")
           || (!strcmp(type, "malformed") && res->detail
               && strstr(res->detail, "replaces"));
}
