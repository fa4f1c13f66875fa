/* Directive values as an admin writes them in httpd.conf (and sacmectl on
 * its command line): durations, renewal windows (durations or
 * percentages), warning thresholds, key types, HMAC algorithm names, store
 * path components, challenge tokens, the webhook URL's log form and the
 * account directory named after SacmeServer's URL.
 * Input: the value; for SacmeWarnWindow the value split at blanks. */
#include "fuzz.h"
#include "sacme_window.h"
#include "sacme_warn.h"
#include "sacme_key.h"
#include "sacme_eab.h"
#include "sacme_sdir.h"
#include "sacme_order.h"
#include "sacme_webhook.h"
#include "sacme_store.h"

#define MAX_ARGS (SACME_WARN_MAX + 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size), *w, *save = NULL;
    apr_interval_time_t d;
    sacme_window_t win;
    sacme_key_type_t kt;
    sacme_hmac_alg_t alg;
    sacme_warn_t warn;
    const char *argv[MAX_ARGS];
    const char *why = NULL;
    int argc = 0, i;

    if (sacme_duration_parse(s, &d) == APR_SUCCESS && d < 0) {
        abort();   /* negative durations are refused */
    }
    memset(&win, 0, sizeof(win));
    if (sacme_window_parse(s, &win) == APR_SUCCESS) {
        sacme_window_t again;
        const char *txt = sacme_window_str(p, &win);

        if (win.percent < 0 || win.percent > 100 || win.duration < 0) {
            abort();
        }
        /* The text form is documented to parse back to the same window. */
        memset(&again, 0, sizeof(again));
        if (sacme_window_parse(txt, &again) != APR_SUCCESS
            || again.percent != win.percent
            || apr_time_sec(again.duration) != apr_time_sec(win.duration)) {
            abort();
        }
        (void)sacme_window_start(&win, apr_time_from_sec(1700000000),
                                 apr_time_from_sec(1700000000 + 90 * 86400));
        (void)sacme_window_jitter(&win, apr_time_from_sec(1700000000),
                                  apr_time_from_sec(1700000000 + 90 * 86400),
                                  "example.org", 0, 0.1);
    }
    if (sacme_key_type_parse(s, &kt) == APR_SUCCESS) {
        (void)sacme_key_type_name(kt);
        (void)sacme_key_type_alg(kt);
    }
    if (sacme_hmac_alg_parse(s, &alg) == APR_SUCCESS) {
        (void)sacme_hmac_alg_name(alg);
    }
    (void)sacme_sdir_name_ok(s);
    (void)sacme_token_ok(s);
    (void)sacme_webhook_url_for_log(p, s);
    /* The account directory's name comes from the CA's URL: whatever the
     * URL, it must stay one path component. */
    if (!sacme_sdir_name_ok(sacme_store_account_name(p, s, NULL))) {
        abort();
    }

    /* SacmeWarnWindow takes several arguments: split a copy at blanks. */
    w = apr_pstrdup(p, s);
    for (w = apr_strtok(w, " \t", &save); w && argc < MAX_ARGS;
         w = apr_strtok(NULL, " \t", &save)) {
        argv[argc++] = w;
    }
    memset(&warn, 0, sizeof(warn));
    if (sacme_warn_parse(argc, argv, &warn, p, &why) == APR_SUCCESS) {
        if (warn.n < 0 || warn.n > SACME_WARN_MAX) {
            abort();
        }
        for (i = 0; i < warn.n; ++i) {
            (void)sacme_warn_str(p, &warn, i);
            (void)sacme_warn_effective(&warn, i, apr_time_from_sec(7 * 86400));
        }
        (void)sacme_warn_list(p, &warn);
    }
    apr_pool_destroy(p);
    free(s);
    return 0;
}
