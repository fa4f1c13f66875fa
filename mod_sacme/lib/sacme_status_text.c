/* Text renderings of the status model (sacme_status.h): Prometheus'
 * exposition format and the "Key: value" lines of server-status?auto.
 * Both read only sacme_status_all()'s JSON, so every form shows the same. */
#include <stdarg.h>
#include <string.h>

#include "sacme_status.h"
#include "sacme_json.h"
#include "sacme_time.h"

/* --- output ---------------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;      /* const char *, joined at the end */
} text_t;

static void put(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(t->parts, const char *) = apr_pvsprintf(t->p, fmt, ap);
    va_end(ap);
}

static text_t *text_make(apr_pool_t *p)
{
    text_t *t = apr_palloc(p, sizeof(*t));

    t->p = p;
    t->parts = apr_array_make(p, 64, sizeof(const char *));
    return t;
}

static const char *text_join(const text_t *t)
{
    return apr_array_pstrcat(t->p, t->parts, 0);
}

/* A string of the model or "" (the model writes null for what is unknown). */
static const char *str(const json_t *obj, const char *key)
{
    const char *s = sacme_json_str(obj, key);
    return s ? s : "";
}

/* An integer of the model, 0 when missing (APR's formats want int64). */
static apr_int64_t integer(const json_t *obj, const char *key)
{
    return (apr_int64_t)json_integer_value(json_object_get(obj, key));
}

/* Seconds since the epoch of an RFC 3339 field, 0 when null. */
static apr_int64_t epoch(const json_t *obj, const char *key)
{
    const char *s = sacme_json_str(obj, key);
    return s ? (apr_int64_t)apr_time_sec(sacme_time_rfc3339_parse(s)) : 0;
}

static const char *const STATES[] = {
    SACME_STATE_OK, SACME_STATE_RENEWING, SACME_STATE_PENDING_ACTIVATION, SACME_STATE_ERROR
};

/* --- Prometheus ------------------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped (format 0.0.4). */
static const char *label(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *o = out;

    for (; *s; ++s) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

typedef void metric_fn(text_t *t, const char *metric, const char *field,
                       const json_t *dom);

/* A number of the model: an integer as it is, a time (RFC 3339) as
 * seconds since the epoch, anything else 0. */
static apr_int64_t number(const json_t *obj, const char *key)
{
    return json_is_string(json_object_get(obj, key)) ? epoch(obj, key) : integer(obj, key);
}

/* One sample per live certificate. */
static void cert_number(text_t *t, const char *metric, const char *field,
                        const json_t *dom)
{
    size_t i;
    const json_t *c;

    json_array_foreach(sacme_json_arr(dom, "certificates"), i, c) {
        put(t, "%s{domain=\"%s\",key_type=\"%s\"} %" APR_INT64_T_FMT "\n", metric,
            label(t->p, str(dom, "name")), label(t->p, str(c, "key-type")),
            number(c, field));
    }
}

/* When each live certificate is renewed, with where that time comes from
 * (ari, window, forced, revoked) as a label; none for one never renewed
 * here (a certificate from a file). */
static void cert_renew(text_t *t, const char *metric, const char *field,
                       const json_t *dom)
{
    size_t i;
    const json_t *c;

    json_array_foreach(sacme_json_arr(dom, "certificates"), i, c) {
        if (sacme_json_str(c, field)) {
            put(t, "%s{domain=\"%s\",key_type=\"%s\",source=\"%s\"} %" APR_INT64_T_FMT
                "\n", metric, label(t->p, str(dom, "name")),
                label(t->p, str(c, "key-type")), label(t->p, str(c, "renew-source")),
                epoch(c, field));
        }
    }
}

/* Always 1: the labels carry what identifies the certificate. */
static void cert_info(text_t *t, const char *metric, const char *field,
                      const json_t *dom)
{
    size_t i;
    const json_t *c;

    (void)field;
    json_array_foreach(sacme_json_arr(dom, "certificates"), i, c) {
        put(t, "%s{domain=\"%s\",key_type=\"%s\",serial=\"%s\",sha256=\"%s\","
            "issuer=\"%s\"} 1\n", metric, label(t->p, str(dom, "name")),
            label(t->p, str(c, "key-type")), label(t->p, str(c, "serial")),
            label(t->p, str(c, "sha256")), label(t->p, str(c, "issuer")));
    }
}

/* One sample per state, 1 for the current one: alerts can match on the
 * state label without knowing the others. */
static void dom_state(text_t *t, const char *metric, const char *field,
                      const json_t *dom)
{
    const char *state = str(dom, field);
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(STATES); ++i) {
        put(t, "%s{domain=\"%s\",state=\"%s\"} %d\n", metric,
            label(t->p, str(dom, "name")), STATES[i], !strcmp(state, STATES[i]));
    }
}

/* A time of the domain; no sample while it is null. */
static void dom_seconds(text_t *t, const char *metric, const char *field,
                        const json_t *dom)
{
    if (sacme_json_str(dom, field)) {
        put(t, "%s{domain=\"%s\"} %" APR_INT64_T_FMT "\n", metric,
            label(t->p, str(dom, "name")), epoch(dom, field));
    }
}

/* 1 when the domain has the object (an order, a request), else 0. */
static void dom_present(text_t *t, const char *metric, const char *field,
                        const json_t *dom)
{
    put(t, "%s{domain=\"%s\"} %d\n", metric, label(t->p, str(dom, "name")),
        json_is_object(json_object_get(dom, field)));
}

static void dom_errors(text_t *t, const char *metric, const char *field,
                       const json_t *dom)
{
    put(t, "%s{domain=\"%s\"} %" APR_INT64_T_FMT "\n", metric,
        label(t->p, str(dom, "name")),
        integer(sacme_json_obj(dom, field), "errors"));
}

static const struct {
    const char *name;
    const char *help;
    metric_fn *fn;
    const char *field;
    const char *type;            /* gauge or counter */
} METRICS[] = {
    { "sacme_domain_state", "State of the managed domain (1 for the current state).",
      dom_state, "state", "gauge" },
    { "sacme_certificate_info", "The live certificate of a domain and key type.",
      cert_info, NULL, "gauge" },
    { "sacme_certificate_not_before_seconds",
      "Start of the live certificate's validity, seconds since the epoch.",
      cert_number, "not-before", "gauge" },
    { "sacme_certificate_not_after_seconds",
      "End of the live certificate's validity, seconds since the epoch.",
      cert_number, "not-after", "gauge" },
    { "sacme_certificate_days_left",
      "Whole days until the live certificate expires (negative once expired).",
      cert_number, "days-left", "gauge" },
    { "sacme_certificate_renewals_total",
      "Certificates of this domain and key type activated after the first one.",
      cert_number, "renewals", "counter" },
    { "sacme_domain_renew_at_seconds",
      "When the renewal of the domain's certificate is due, seconds since the epoch.",
      dom_seconds, "renew-at", "gauge" },
    { "sacme_certificate_renew_at_seconds",
      "When the live certificate is renewed, seconds since the epoch; source: ari "
      "(the CA's renewal information), window (SacmeRenewWindow), forced, revoked.",
      cert_renew, "renew-at", "gauge" },
    { "sacme_domain_next_attempt_seconds",
      "When the driver tries again after an error or polls a waiting order.",
      dom_seconds, "next-attempt", "gauge" },
    { "sacme_domain_errors",
      "Failed attempts in a row (0 when the last attempt did not fail).",
      dom_errors, "error", "gauge" },
    { "sacme_order_in_progress", "1 while an ACME order of the domain is in progress.",
      dom_present, "order", "gauge" },
    { "sacme_domain_request_pending",
      "1 while an admin's request (sacmectl renew/revoke) waits to be done.",
      dom_present, "request", "gauge" },
};

/* The cluster this node is in (SacmeCluster), when it is in one. */
static void cluster_metrics(text_t *t, const json_t *c)
{
    const char *labels;

    if (!c) {
        return;
    }
    labels = apr_psprintf(t->p, "cluster=\"%s\",node=\"%s\"", label(t->p, str(c, "name")),
                          label(t->p, str(c, "node")));
    put(t, "# HELP sacme_cluster_leader 1 when this node leads its cluster (drives "
        "the certificates), 0 when it follows or is out of it\n"
        "# TYPE sacme_cluster_leader gauge\n"
        "sacme_cluster_leader{%s,leader=\"%s\"} %d\n", labels,
        label(t->p, str(c, "leader")), !strcmp(str(c, "role"), "leader"));
    put(t, "# HELP sacme_cluster_members The live members of the cluster, as last seen\n"
        "# TYPE sacme_cluster_members gauge\n"
        "sacme_cluster_members{%s} %lu\n", labels,
        (unsigned long)json_array_size(sacme_json_arr(c, "members")));
    put(t, "# HELP sacme_cluster_last_sync_timestamp_seconds When this node last took "
        "the cluster's copy (0: never)\n"
        "# TYPE sacme_cluster_last_sync_timestamp_seconds gauge\n"
        "sacme_cluster_last_sync_timestamp_seconds{%s} %" APR_INT64_T_FMT "\n", labels,
        epoch(c, "last_sync"));
    put(t, "# HELP sacme_cluster_unreachable_since_timestamp_seconds Since when etcd "
        "is out of reach (0: it is reachable)\n"
        "# TYPE sacme_cluster_unreachable_since_timestamp_seconds gauge\n"
        "sacme_cluster_unreachable_since_timestamp_seconds{%s} %" APR_INT64_T_FMT "\n",
        labels, epoch(c, "unreachable_since"));
}

const char *sacme_status_prometheus(const json_t *all, apr_pool_t *p)
{
    text_t *t = text_make(p);
    const json_t *domains = sacme_json_arr(all, "domains"), *dom;
    apr_size_t m;
    size_t i;

    /* Grouped by metric: the format wants each metric's samples together,
     * after its one HELP and TYPE line. */
    for (m = 0; m < SACME_ARRAY_LEN(METRICS); ++m) {
        put(t, "# HELP %s %s\n# TYPE %s %s\n", METRICS[m].name, METRICS[m].help,
            METRICS[m].name, METRICS[m].type);
        json_array_foreach(domains, i, dom) {
            METRICS[m].fn(t, METRICS[m].name, METRICS[m].field, dom);
        }
    }
    cluster_metrics(t, sacme_json_obj(all, "cluster"));
    return text_join(t);
}

/* --- server-status?auto ------------------------------------------------------------ */

/* One line per value: control characters (a CA's detail may hold a
 * newline) would break the "Key: value" form. */
static const char *one_line(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o;

    for (o = out; *o; ++o) {
        if ((unsigned char)*o < 0x20 || *o == 0x7f) {
            *o = ' ';
        }
    }
    return out;
}

static const char *joined(apr_pool_t *p, const json_t *arr)
{
    const char *s = "";
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v) {
        if (json_is_string(v)) {
            s = apr_pstrcat(p, s, *s ? " " : "", json_string_value(v), NULL);
        }
    }
    return s;
}

/* "pending-activation" -> "PendingActivation" for the count keys. */
static const char *camel(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) + 1), *o = out;
    int up = 1;

    for (; *s; ++s) {
        if (*s == '-') {
            up = 1;
            continue;
        }
        *o++ = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
        up = 0;
    }
    *o = '\0';
    return out;
}

static void auto_line(text_t *t, const char *name, const char *key, const char *value)
{
    if (value && *value) {
        put(t, "SacmeDomain-%s-%s: %s\n", name, key, one_line(t->p, value));
    }
}

const char *sacme_status_auto(const json_t *all, apr_pool_t *p)
{
    text_t *t = text_make(p);
    const json_t *domains = sacme_json_arr(all, "domains"), *dom, *err, *cluster;
    apr_size_t s;
    size_t i;

    put(t, "SacmeDomains: %lu\n", (unsigned long)json_array_size(domains));
    for (s = 0; s < SACME_ARRAY_LEN(STATES); ++s) {
        unsigned long n = 0;
        json_array_foreach(domains, i, dom) {
            n += !strcmp(str(dom, "state"), STATES[s]);
        }
        put(t, "SacmeDomains%s: %lu\n", camel(p, STATES[s]), n);
    }
    json_array_foreach(domains, i, dom) {
        const char *name = one_line(p, str(dom, "name"));
        int days = json_is_integer(json_object_get(dom, "days-left"));

        err = sacme_json_obj(dom, "error");
        auto_line(t, name, "State", str(dom, "state"));
        auto_line(t, name, "Names", joined(p, sacme_json_arr(dom, "names")));
        auto_line(t, name, "KeyTypes", joined(p, sacme_json_arr(dom, "key-types")));
        auto_line(t, name, "ValidUntil", sacme_json_str(dom, "valid-until"));
        auto_line(t, name, "DaysLeft",
                  days ? apr_psprintf(p, "%" APR_INT64_T_FMT, integer(dom, "days-left"))
                       : NULL);
        auto_line(t, name, "RenewAt", sacme_json_str(dom, "renew-at"));
        auto_line(t, name, "RenewSource", sacme_json_str(dom, "renew-source"));
        auto_line(t, name, "ExplanationURL", sacme_json_str(dom, "explanation-url"));
        auto_line(t, name, "CA", sacme_json_str(dom, "ca"));
        auto_line(t, name, "Profile", sacme_json_str(dom, "profile"));
        auto_line(t, name, "Errors", apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                  integer(err, "errors")));
        auto_line(t, name, "ErrorProblem", sacme_json_str(err, "problem"));
        auto_line(t, name, "Error", sacme_json_str(err, "detail"));
        auto_line(t, name, "NextAttempt", sacme_json_str(dom, "next-attempt"));
    }
    if ((cluster = sacme_json_obj(all, "cluster")) != NULL) {
        put(t, "SacmeClusterName: %s\n", one_line(p, str(cluster, "name")));
        put(t, "SacmeClusterNode: %s\n", one_line(p, str(cluster, "node")));
        put(t, "SacmeClusterRole: %s\n", one_line(p, str(cluster, "role")));
        put(t, "SacmeClusterLeader: %s\n", one_line(p, str(cluster, "leader")));
        put(t, "SacmeClusterMembers: %s\n",
            one_line(p, joined(p, sacme_json_arr(cluster, "members"))));
        put(t, "SacmeClusterLastSync: %s\n", one_line(p, str(cluster, "last_sync")));
        put(t, "SacmeClusterUnreachableSince: %s\n",
            one_line(p, str(cluster, "unreachable_since")));
    }
    return text_join(t);
}
