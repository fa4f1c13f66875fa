/* Expiry alert thresholds: parsing, scaling, severity, and the once-only
 * bookkeeping (see sacme_warn.h for the rules). */
#include "sacme_warn.h"
#include "sacme_json.h"
#include "sacme_time.h"
#include "sacme_window.h"

/* A set of thresholds fits certificates living this many times its largest
 * threshold; shorter lives scale it down (see sacme_warn.h). */
#define LIFETIME_PER_LARGEST 3

void sacme_warn_default(sacme_warn_t *w)
{
    w->n = 3;
    w->thresholds[0] = apr_time_from_sec(30 * 86400);
    w->thresholds[1] = apr_time_from_sec(14 * 86400);
    w->thresholds[2] = apr_time_from_sec(7 * 86400);
}

apr_status_t sacme_warn_parse(int argc, const char *const *argv, sacme_warn_t *w,
                              apr_pool_t *p, const char **why)
{
    sacme_warn_t out;
    int i, j;

    if (argc < 1) {
        *why = "give at least one duration (30d 14d 7d)";
        return APR_EINVAL;
    }
    if (argc > SACME_WARN_MAX) {
        *why = apr_psprintf(p, "%d thresholds, more than the %d allowed", argc,
                            SACME_WARN_MAX);
        return APR_EINVAL;
    }
    out.n = 0;
    for (i = 0; i < argc; ++i) {
        apr_interval_time_t t;

        if (sacme_duration_parse(argv[i], &t) != APR_SUCCESS || t <= 0) {
            *why = apr_psprintf(p, "'%s' is not a duration (30d, 12h, 90m, 45s)", argv[i]);
            return APR_EINVAL;
        }
        /* A threshold of decades is a typo, and the bound keeps the
         * scaling arithmetic far from overflow. */
        if (t > SACME_WARN_LIMIT) {
            *why = apr_psprintf(p, "'%s' is more than ten years", argv[i]);
            return APR_EINVAL;
        }
        /* Insertion, largest first; the same threshold twice would alert
         * twice at one moment. */
        for (j = out.n; j > 0 && out.thresholds[j - 1] < t; --j) {
            out.thresholds[j] = out.thresholds[j - 1];
        }
        if (j > 0 && out.thresholds[j - 1] == t) {
            *why = apr_psprintf(p, "'%s' is given twice", argv[i]);
            return APR_EINVAL;
        }
        out.thresholds[j] = t;
        ++out.n;
    }
    *w = out;
    return APR_SUCCESS;
}

const char *sacme_warn_str(apr_pool_t *p, const sacme_warn_t *w, int i)
{
    sacme_window_t as_window = { 0, w->thresholds[i] };

    return sacme_window_str(p, &as_window);
}

const char *sacme_warn_list(apr_pool_t *p, const sacme_warn_t *w)
{
    const char *s = "";
    int i;

    for (i = 0; i < w->n; ++i) {
        s = apr_pstrcat(p, s, i ? " " : "", sacme_warn_str(p, w, i), NULL);
    }
    return s;
}

json_t *sacme_warn_json(const sacme_warn_t *w, apr_pool_t *p)
{
    json_t *a = json_array();
    int i;

    for (i = 0; i < w->n; ++i) {
        json_array_append_new(a, json_string(sacme_warn_str(p, w, i)));
    }
    return a;
}

apr_status_t sacme_warn_from_json(const json_t *j, sacme_warn_t *w, apr_pool_t *p)
{
    const char *argv[SACME_WARN_MAX], *why;
    size_t i, n = json_array_size(j);

    if (!json_is_array(j) || n > SACME_WARN_MAX) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; ++i) {
        if (!(argv[i] = json_string_value(json_array_get(j, i)))) {
            return APR_EINVAL;
        }
    }
    if (n == 0) {
        w->n = 0;               /* "none": parse refuses an empty list */
        return APR_SUCCESS;
    }
    return sacme_warn_parse((int)n, argv, w, p, &why);
}

apr_interval_time_t sacme_warn_effective(const sacme_warn_t *w, int i,
                                         apr_interval_time_t lifetime)
{
    apr_interval_time_t t = w->thresholds[i];
    double fits = (double)w->thresholds[0] * LIFETIME_PER_LARGEST;

    if (lifetime <= 0) {
        return t;
    }
    /* In double: lifetime * threshold does not fit 64 bits for long-lived
     * certificates, and microseconds do not matter here. */
    if ((double)lifetime < fits) {
        t = (apr_interval_time_t)((double)t * (double)lifetime / fits + 0.5);
    }
    return t;
}

sacme_log_level_t sacme_warn_level(const sacme_warn_t *w, int i)
{
    if (w->n == 1) {
        return SACME_LOG_WARNING;
    }
    if (i == w->n - 1) {
        return SACME_LOG_ERR;
    }
    return i == 0 ? SACME_LOG_NOTICE : SACME_LOG_WARNING;
}

apr_time_t sacme_warn_due_at(const sacme_warn_t *w, int i, apr_time_t not_before,
                             apr_time_t not_after, apr_time_t renew_at)
{
    apr_time_t crossing = not_after - sacme_warn_effective(w, i, not_after - not_before);
    apr_time_t after_renewal = renew_at + SACME_WARN_GRACE;

    return crossing > after_renewal ? crossing : after_renewal;
}

int sacme_warn_was_raised(const json_t *state, const char *serial,
                          const sacme_warn_t *w, int i)
{
    const char *had = sacme_json_str(state, "serial");
    json_t *raised = sacme_json_arr(state, "raised"), *e;
    size_t k;

    if (!serial || !had || strcmp(had, serial)) {
        return 0;
    }
    /* By the configured threshold, not the effective one: what scaling
     * makes of it is fixed for one certificate anyway. */
    json_array_foreach(raised, k, e) {
        if (json_integer_value(json_object_get(e, "seconds"))
            == (json_int_t)apr_time_sec(w->thresholds[i])) {
            return 1;
        }
    }
    return 0;
}

int sacme_warn_pending(const sacme_warn_t *w, const json_t *state, const char *serial,
                       apr_time_t not_before, apr_time_t not_after,
                       apr_time_t renew_at, apr_time_t now, int *due,
                       apr_time_t *next)
{
    int i, n = 0;

    *next = 0;
    for (i = 0; i < w->n; ++i) {
        apr_time_t at;

        if (sacme_warn_was_raised(state, serial, w, i)) {
            continue;
        }
        at = sacme_warn_due_at(w, i, not_before, not_after, renew_at);
        if (at <= now) {
            due[n++] = i;
        }
        else if (!*next || at < *next) {
            *next = at;
        }
    }
    return n;
}

json_t *sacme_warn_mark(const json_t *state, const char *serial, const sacme_warn_t *w,
                        int i, apr_time_t now, apr_pool_t *p)
{
    const char *had = sacme_json_str(state, "serial");
    json_t *out = json_is_object(state) ? json_deep_copy(state) : json_object();
    json_t *raised, *e = json_object();

    if (!had || strcmp(had, serial)) {
        /* Another certificate: what was raised for the old one is over. */
        json_object_set_new(out, "serial", json_string(serial));
        json_object_set_new(out, "raised", json_array());
    }
    raised = json_object_get(out, "raised");
    if (!json_is_array(raised)) {
        raised = json_array();
        json_object_set_new(out, "raised", raised);
    }
    json_object_set_new(e, "threshold", json_string(sacme_warn_str(p, w, i)));
    json_object_set_new(e, "seconds", json_integer((json_int_t)apr_time_sec(w->thresholds[i])));
    json_object_set_new(e, "at", json_string(sacme_time_rfc3339(p, now)));
    json_array_append_new(raised, e);
    return out;
}
