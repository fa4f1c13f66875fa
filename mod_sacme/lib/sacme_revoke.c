/* Certificate revocation with the account key (sacme_revoke.h). */
#include <strings.h>

#include "sacme_revoke.h"
#include "sacme_b64.h"
#include "sacme_chain.h"
#include "sacme_json.h"
#include "sacme_problem.h"

static const struct {
    sacme_revoke_reason_t code;
    const char *name;
} REASONS[] = {
    { SACME_REVOKE_UNSPECIFIED,        "unspecified" },
    { SACME_REVOKE_KEY_COMPROMISE,     "keyCompromise" },
    { SACME_REVOKE_AFFILIATION_CHANGED, "affiliationChanged" },
    { SACME_REVOKE_SUPERSEDED,         "superseded" },
    { SACME_REVOKE_CESSATION,          "cessationOfOperation" },
};

apr_status_t sacme_revoke_reason_parse(const char *s, sacme_revoke_reason_t *reason)
{
    apr_size_t i;
    char num[8];

    for (i = 0; s && i < SACME_ARRAY_LEN(REASONS); ++i) {
        apr_snprintf(num, sizeof(num), "%d", (int)REASONS[i].code);
        if (!strcasecmp(s, REASONS[i].name) || !strcmp(s, num)) {
            *reason = REASONS[i].code;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *sacme_revoke_reason_name(sacme_revoke_reason_t reason)
{
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(REASONS); ++i) {
        if (REASONS[i].code == reason) {
            return REASONS[i].name;
        }
    }
    return NULL;
}

const char *sacme_revoke_reason_names(void)
{
    return "unspecified, keyCompromise, affiliationChanged, superseded, "
           "cessationOfOperation";
}

apr_status_t sacme_revoke(sacme_acme_t *acme, X509 *cert,
                          sacme_revoke_reason_t reason, int *already,
                          apr_pool_t *p, sacme_result_t *res)
{
    json_t *payload = sacme_json_own(p, json_object());
    sacme_acme_response_t *resp;
    sacme_cert_info_t *info = NULL;
    unsigned char *der = NULL;
    apr_status_t rv;
    int len;

    if (already) {
        *already = 0;
    }
    if (!res) {
        res = sacme_result_make(p);      /* the outcome is read below */
    }
    if ((rv = sacme_acme_setup(acme, res)) != APR_SUCCESS) {
        return rv;
    }
    if (!acme->dir->revoke_cert) {
        return sacme_result_set(res, APR_ENOTIMPL, "the CA at %s offers no revocation "
                                "(no revokeCert in its directory)", acme->url);
    }
    if (!sacme_revoke_reason_name(reason)) {
        return sacme_result_set(res, APR_EINVAL, "revocation reason %d is not one a "
                                "subscriber may give (%s)", (int)reason,
                                sacme_revoke_reason_names());
    }
    if ((len = i2d_X509(cert, &der)) <= 0) {
        return sacme_result_set(res, APR_EINVAL, "cannot encode the certificate");
    }
    json_object_set_new(payload, "certificate",
                        json_string(sacme_b64url_encode(p, der, (apr_size_t)len)));
    OPENSSL_free(der);
    if (reason != SACME_REVOKE_UNSPECIFIED) {
        json_object_set_new(payload, "reason", json_integer(reason));
    }
    sacme_cert_info(p, cert, &info);
    rv = sacme_acme_post(acme, acme->dir->revoke_cert, payload, 0, p, &resp, res);
    if (rv != APR_SUCCESS && res->problem
        && !strcmp(sacme_problem_short(res->problem), "alreadyRevoked")) {
        sacme_result_reset(res);
        if (already) {
            *already = 1;
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        sacme_result_prefix(res, "revoking the certificate with serial %s",
                            info ? info->serial : "?");
        return rv;
    }
    sacme_log(acme->log, SACME_LOG_NOTICE, 0, SACME_LOGNO(10075)
              "certificate with serial %s revoked at %s (reason %s)",
              info ? info->serial : "?", acme->url, sacme_revoke_reason_name(reason));
    return APR_SUCCESS;
}
