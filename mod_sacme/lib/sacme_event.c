/* An event's environment and JSON forms (see sacme_event.h). */
#include "sacme_event.h"
#include "sacme_json.h"
#include "sacme_time.h"

static const char *joined_names(const sacme_event_t *ev, apr_pool_t *p)
{
    const char *s = "";
    int i;

    for (i = 0; ev->names && i < ev->names->nelts; ++i) {
        s = apr_pstrcat(p, s, i ? " " : "", APR_ARRAY_IDX(ev->names, i, const char *),
                        NULL);
    }
    return s;
}

static void set_if(apr_table_t *env, const char *name, const char *value)
{
    if (value) {
        apr_table_set(env, name, value);
    }
}

apr_table_t *sacme_event_env(const sacme_event_t *ev, apr_pool_t *p)
{
    apr_table_t *env = apr_table_make(p, 8);

    apr_table_set(env, "SACME_NAMES", joined_names(ev, p));
    set_if(env, "SACME_DETAIL", ev->detail);
    set_if(env, "SACME_ERROR", ev->error);
    set_if(env, "SACME_SERIAL", ev->serial);
    set_if(env, "SACME_NOT_AFTER",
           ev->not_after ? sacme_time_rfc3339(p, ev->not_after) : NULL);
    set_if(env, "SACME_DAYS_LEFT",
           ev->has_days_left ? apr_itoa(p, ev->days_left) : NULL);
    set_if(env, "SACME_THRESHOLD", ev->threshold);
    set_if(env, "SACME_REASON", ev->reason);
    return env;
}

json_t *sacme_event_json(const sacme_event_t *ev, apr_pool_t *p)
{
    json_t *j = json_object(), *names = json_array();
    int i;

    for (i = 0; ev->names && i < ev->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(ev->names, i,
                                                               const char *)));
    }
    json_object_set_new(j, "event", sacme_json_str_or_null(ev->event));
    json_object_set_new(j, "domain", sacme_json_str_or_null(ev->domain));
    json_object_set_new(j, "names", names);
    json_object_set_new(j, "time", json_string(sacme_time_rfc3339(
                                       p, ev->time ? ev->time : apr_time_now())));
    json_object_set_new(j, "serial", sacme_json_str_or_null(ev->serial));
    json_object_set_new(j, "not-after", sacme_json_str_or_null(
                            ev->not_after ? sacme_time_rfc3339(p, ev->not_after) : NULL));
    json_object_set_new(j, "error", sacme_json_str_or_null(ev->error));
    json_object_set_new(j, "detail", sacme_json_str_or_null(ev->detail));
    json_object_set_new(j, "threshold", sacme_json_str_or_null(ev->threshold));
    json_object_set_new(j, "days-left", ev->has_days_left ? json_integer(ev->days_left)
                                                          : json_null());
    json_object_set_new(j, "reason", sacme_json_str_or_null(ev->reason));
    return j;
}
