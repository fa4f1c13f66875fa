/* The webhook JSON round trip: an event whose strings come from outside
 * (a CA's detail, names, a revocation reason) serialised as the webhook
 * body must parse back to the same facts; the notify command's
 * environment is built from the same event.
 * Input: newline-separated event, domain, names (blank separated), serial,
 * error, detail, threshold, reason; the first byte also picks the dates. */
#include "fuzz.h"
#include "sacme_event.h"
#include "sacme_json.h"

#define FIELDS 8

/* A member carries exactly the field. A string that is not UTF-8 has no
 * JSON form (jansson refuses it) and the member is then left out. */
static void same(const json_t *j, const char *key, const char *want)
{
    const char *got = sacme_json_str(j, key);
    json_t *probe = want ? json_string(want) : NULL;

    if (want && !probe) {
        return;
    }
    json_decref(probe);
    if (want ? (!got || strcmp(got, want)) : !json_is_null(json_object_get(j, key))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    sacme_result_t *res = sacme_result_make(p);
    char *s = fuzz_str(data, size), *parts[FIELDS], *n, *save = NULL;
    int k = fuzz_split(s, parts, FIELDS);
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    sacme_event_t ev;
    json_t *j, *back;
    const char *body;

    memset(&ev, 0, sizeof(ev));
    ev.event = parts[0];
    ev.domain = k > 1 ? parts[1] : "example.org";
    if (k > 2) {
        for (n = apr_strtok(apr_pstrdup(p, parts[2]), " ", &save); n;
             n = apr_strtok(NULL, " ", &save)) {
            APR_ARRAY_PUSH(names, const char *) = n;
        }
        ev.names = names;
    }
    ev.serial = k > 3 ? parts[3] : NULL;
    ev.error = k > 4 ? parts[4] : NULL;
    ev.detail = k > 5 ? parts[5] : NULL;
    ev.threshold = k > 6 ? parts[6] : NULL;
    ev.reason = k > 7 ? parts[7] : NULL;
    ev.time = apr_time_from_sec(1700000000);
    if (size && (data[0] & 1)) {
        ev.not_after = apr_time_from_sec(1700000000 + 86400 * (data[0] >> 1));
        ev.has_days_left = 1;
        ev.days_left = data[0] >> 1;
    }

    (void)sacme_event_env(&ev, p);
    j = sacme_json_own(p, sacme_event_json(&ev, p));
    body = j ? sacme_json_dump(p, j) : NULL;
    back = body ? sacme_json_parse(p, body, strlen(body), 0, res) : NULL;
    /* jansson refuses strings that are not UTF-8: such an event has no
     * JSON form, which is fine; any other event must come back intact. */
    if (back) {
        if (!json_equal(j, back)) {
            abort();
        }
        same(back, "event", ev.event);
        same(back, "domain", ev.domain);
        same(back, "serial", ev.serial);
        same(back, "detail", ev.detail);
        same(back, "reason", ev.reason);
    }
    apr_pool_destroy(p);
    free(s);
    return 0;
}
