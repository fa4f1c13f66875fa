/* The status JSON round trip: a status document (what sacme_status_all
 * writes and sacmectl and the status page read back) rendered as the
 * Prometheus exposition and the ?auto lines, whatever its members hold;
 * and the expiry alerts' state file (alerts.json) read back by the
 * warning logic. */
#include "fuzz.h"
#include "sacme_json.h"
#include "sacme_status.h"
#include "sacme_warn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    json_t *j = sacme_json_parse(p, (const char *)data, size, 0, res);

    if (j) {
        sacme_warn_t w;
        apr_time_t nb = apr_time_from_sec(1700000000);
        apr_time_t na = nb + apr_time_from_sec(90 * 86400), next = 0;
        int due[SACME_WARN_MAX], i;
        const char *serial = sacme_json_str(j, "serial");
        json_t *marked;

        (void)sacme_status_prometheus(j, p);
        (void)sacme_status_auto(j, p);

        sacme_warn_default(&w);
        if (!serial) {
            serial = "01";
        }
        for (i = 0; i < w.n; ++i) {
            (void)sacme_warn_was_raised(j, serial, &w, i);
        }
        (void)sacme_warn_pending(&w, j, serial, nb, na, nb + apr_time_from_sec(60 * 86400),
                                 na - apr_time_from_sec(86400), due, &next);
        marked = sacme_json_own(p, sacme_warn_mark(j, serial, &w, 0,
                                                   na - apr_time_from_sec(86400), p));
        if (marked && !sacme_warn_was_raised(marked, serial, &w, 0)) {
            abort();   /* what was marked must read back as raised */
        }
    }
    apr_pool_destroy(p);
    return 0;
}
