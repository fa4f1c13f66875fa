/* sacmectl list | show DOMAIN: what the server manages and the state of each
 * domain, from the store alone (the status model of sacme_status.h, the
 * same the status page shows). Nothing is asked of the CA.
 */
#include <string.h>

#include "sacmectl.h"
#include "sacme_status.h"

static const apr_getopt_option_t OPTS[] = { CLI_STORE_OPTIONS };

static const char *str(const json_t *j, const char *key, const char *none)
{
    const char *s = sacme_json_str(j, key);
    return s ? s : none;
}

static const char *joined(cli_t *cli, const json_t *array, const char *sep)
{
    const char *out = "";
    json_t *v;
    size_t i;

    json_array_foreach(array, i, v) {
        if (json_is_string(v)) {
            out = apr_pstrcat(cli->p, out, i ? sep : "", json_string_value(v), NULL);
        }
    }
    return *out ? out : "-";
}

static const char *days(cli_t *cli, const json_t *j)
{
    json_t *d = json_object_get(j, "days-left");
    return json_is_integer(d) ? apr_psprintf(cli->p, "%" APR_INT64_T_FMT,
                                             (apr_int64_t)json_integer_value(d)) : "-";
}

/* One line per domain, like `certbot certificates` but in columns. */
/* Where a renewal time comes from, in words (renew-source). */
static const char *renew_source_words(const char *source)
{
    if (!strcmp(source, "ari")) {
        return "ari: the CA's renewal information";
    }
    if (!strcmp(source, "window")) {
        return "window: SacmeRenewWindow";
    }
    if (!strcmp(source, "forced")) {
        return "forced: sacmectl renew --force";
    }
    if (!strcmp(source, "revoked")) {
        return "revoked: sacmectl revoke";
    }
    return source;
}

static void print_table(cli_t *cli, const json_t *all)
{
    static const char *const head[] = { "DOMAIN", "STATE", "KEY", "EXPIRES", "DAYS",
                                        "CA", "RENEW-AT", "FROM", "NAMES" };
    enum { COLS = 9 };
    json_t *doms = json_object_get(all, "domains"), *d;
    apr_array_header_t *rows = apr_array_make(cli->p, 8, sizeof(const char **));
    int width[COLS], c;
    size_t i;

    for (c = 0; c < COLS; ++c) {
        width[c] = (int)strlen(head[c]);
    }
    APR_ARRAY_PUSH(rows, const char *const *) = head;
    json_array_foreach(doms, i, d) {
        const char **row = apr_pcalloc(cli->p, COLS * sizeof(*row));
        row[0] = str(d, "name", "?");
        row[1] = str(d, "state", "?");
        row[2] = joined(cli, json_object_get(d, "key-types"), ",");
        row[3] = str(d, "valid-until", "-");
        row[4] = days(cli, d);
        row[5] = str(d, "ca", "-");           /* the next attempt's */
        row[6] = str(d, "renew-at", "-");
        row[7] = str(d, "renew-source", "-");  /* ari, window, forced, revoked */
        row[8] = joined(cli, json_object_get(d, "names"), " ");
        for (c = 0; c < COLS; ++c) {
            if ((int)strlen(row[c]) > width[c]) {
                width[c] = (int)strlen(row[c]);
            }
        }
        APR_ARRAY_PUSH(rows, const char **) = row;
    }
    for (i = 0; i < (size_t)rows->nelts; ++i) {
        const char *const *row = APR_ARRAY_IDX(rows, i, const char *const *);
        for (c = 0; c < COLS - 1; ++c) {
            printf("%-*s  ", width[c], row[c]);
        }
        printf("%s\n", row[COLS - 1]);
    }
    if (!json_array_size(doms)) {
        printf("(no managed domain)\n");
    }
}

/* The cluster as this node's driver last saw it (SacmeCluster): this
 * node's role, the leader, the members, and each node's serial in service,
 * of every domain (dom NULL) or of one, marked where it is not this
 * node's. */
static void print_cluster(cli_t *cli, const json_t *c, const char *dom)
{
    const json_t *node, *mine = sacme_json_obj(c, "serials");
    const char *id;

    if (!c) {
        return;
    }
    printf("%scluster:       %s; this node (%s) is %s; leader: %s\n", dom ? "" : "\n",
           str(c, "name", "?"), str(c, "node", "?"), str(c, "role", "?"),
           str(c, "leader", "none"));
    printf("members:       %s\n", joined(cli, json_object_get(c, "members"), " "));
    printf("last sync:     %s%s%s\n", str(c, "last_sync", "never"),
           sacme_json_str(c, "unreachable_since") ? "; etcd out of reach since " : "",
           str(c, "unreachable_since", ""));
    json_object_foreach((json_t *)sacme_json_obj(c, "nodes"), id, node) {
        const json_t *serials = sacme_json_obj(node, "serials");
        const char *name, *serial;
        json_t *v;

        if (dom) {
            serial = sacme_json_str(serials, dom);
            printf("  %-12s %s%s\n", id, serial ? serial : "none in service",
                   serial && sacme_json_str(mine, dom)
                   && strcmp(serial, sacme_json_str(mine, dom)) ? " (differs from this "
                   "node's)" : "");
            continue;
        }
        printf("  %-12s (%s, seen %s)\n", id, str(node, "role", "?"),
               str(node, "seen", "?"));
        json_object_foreach((json_t *)serials, name, v) {
            printf("    %-30s %s\n", name, json_string_value(v) ? json_string_value(v)
                                                               : "?");
        }
    }
}

int cmd_list(cli_t *cli, int argc, const char *const *argv)
{
    json_t *all;
    int rc;

    cli->synopsis = "list [--store DIR | --config FILE] [--json]";
    cli->opts = OPTS;
    if ((rc = cli_parse(cli, argc, argv, NULL, NULL)) != EXIT_OK) {
        return rc;
    }
    if (cli->args->nelts) {
        return cli_error(cli, EXIT_USAGE, "list takes no argument (to see one domain: "
                         "sacmectl show %s)", APR_ARRAY_IDX(cli->args, 0, const char *));
    }
    if ((rc = cli_open(cli)) != EXIT_OK) {
        return rc;
    }
    all = sacme_status_all(cli->store, cli->managed->domains, apr_time_now(), cli->p);
    if (cli->json) {
        cli_print_json(cli, all);
    }
    else {
        print_table(cli, all);
        print_cluster(cli, sacme_json_obj(all, "cluster"), NULL);
    }
    return EXIT_OK;
}

static void print_domain(cli_t *cli, const json_t *d)
{
    json_t *c, *v;
    size_t i;

    printf("domain:        %s\n", str(d, "name", "?"));
    printf("names:         %s\n", joined(cli, json_object_get(d, "names"), " "));
    printf("key types:     %s\n", joined(cli, json_object_get(d, "key-types"), " "));
    if (sacme_json_str(d, "profile")) {
        printf("profile:       %s\n", sacme_json_str(d, "profile"));
    }
    if (sacme_json_str(d, "challenges")) {
        printf("challenges:    %s\n", sacme_json_str(d, "challenges"));
    }
    printf("state:         %s\n", str(d, "state", "?"));
    json_array_foreach(json_object_get(d, "cas"), i, c) {
        /* in failover order; the next attempt goes to the one marked */
        printf("%s%s%s%s%s%s\n", i ? "               " : "CA:            ",
               str(c, "server", "?"), sacme_json_str(c, "eab-kid") ? " (EAB key id " : "",
               str(c, "eab-kid", ""), sacme_json_str(c, "eab-kid") ? ")" : "",
               json_array_size(json_object_get(d, "cas")) > 1
               && !strcmp(str(c, "server", ""), str(d, "ca", "")) ? " <- in use" : "");
    }
    json_array_foreach(json_object_get(d, "certificates"), i, c) {
        if (sacme_json_str(c, "file")) {     /* SacmeCertificateFile */
            printf("certificate:   from the file %s (source: file), serial %s\n",
                   str(c, "file", "?"), str(c, "serial", "?"));
        }
        else {
            printf("certificate:   %s, serial %s\n", str(c, "key-type", "?"),
                   str(c, "serial", "?"));
        }
        printf("  valid:       %s to %s (%s days left)\n", str(c, "not-before", "?"),
               str(c, "not-after", "?"), days(cli, c));
        printf("  issuer:      %s\n", str(c, "issuer", "?"));
        if (sacme_json_str(c, "ca")) {
            printf("  from CA:     %s\n", sacme_json_str(c, "ca"));
        }
        if (sacme_json_str(c, "profile")) {
            printf("  profile:     %s\n", sacme_json_str(c, "profile"));
        }
        printf("  names:       %s\n", joined(cli, json_object_get(c, "names"), " "));
        printf("  sha256:      %s\n", str(c, "sha256", "?"));
        if (sacme_json_str(c, "renew-at")) {
            printf("  renewal at:  %s (%s)\n", str(c, "renew-at", "?"),
                   renew_source_words(str(c, "renew-source", "")));
        }
        if (sacme_json_str(c, "explanation-url")) {
            printf("  CA explains: %s\n", sacme_json_str(c, "explanation-url"));
        }
    }
    if (!json_array_size(json_object_get(d, "certificates"))) {
        printf("certificate:   none in service yet\n");
    }
    printf("renewal at:    %s%s%s%s\n",
           strcmp(str(d, "source", ""), "file")
               ? str(d, "renew-at", "-")
               : "never (mod_sacme does not renew SacmeCertificateFile)",
           sacme_json_str(d, "renew-source") ? " (" : "",
           sacme_json_str(d, "renew-source")
               ? renew_source_words(sacme_json_str(d, "renew-source")) : "",
           sacme_json_str(d, "renew-source") ? ")" : "");
    if ((v = sacme_json_obj(d, "staged"))) {
        printf("staged:        serial %s, valid until %s: activated at the next "
               "graceful restart\n", str(v, "serial", "?"), str(v, "not-after", "?"));
    }
    if ((v = sacme_json_obj(d, "order"))) {
        printf("order:         %s%s%s\n", str(v, "url", "?"),
               sacme_json_str(v, "waiting") ? ", waiting: " : "",
               str(v, "waiting", ""));
    }
    if ((v = sacme_json_obj(d, "error"))) {
        printf("last error:    %s\n", str(v, "detail", "?"));
        if (sacme_json_str(v, "problem")) {
            printf("  problem:     %s\n", sacme_json_str(v, "problem"));
        }
        if (sacme_json_str(v, "hint")) {
            printf("  hint:        %s\n", sacme_json_str(v, "hint"));
        }
    }
    if (sacme_json_str(d, "next-attempt")) {
        printf("next attempt:  %s\n", sacme_json_str(d, "next-attempt"));
    }
    if ((v = sacme_json_obj(d, "request"))) {
        printf("request:       %s (%s), made %s\n", str(v, "action", "?"),
               str(v, "reason", "?"), str(v, "requested", "?"));
    }
}

int cmd_show(cli_t *cli, int argc, const char *const *argv)
{
    sacme_domain_t *dom;
    json_t *d, *cluster;
    int rc;

    cli->synopsis = "show DOMAIN [--store DIR | --config FILE] [--json]";
    cli->opts = OPTS;
    if ((rc = cli_parse(cli, argc, argv, NULL, NULL)) != EXIT_OK) {
        return rc;
    }
    if ((rc = cli_open_domain(cli, &dom)) != EXIT_OK) {
        return rc;
    }
    d = sacme_status_domain(cli->store, dom, apr_time_now(), cli->p);
    cluster = sacme_store_state_load(cli->store, cli->p, SACME_STATE_CLUSTER,
                                     SACME_CLUSTER_ENTRY, NULL);
    if (cli->json) {
        if (cluster) {
            json_object_set(d, "cluster", cluster);
        }
        cli_print_json(cli, d);
    }
    else {
        print_domain(cli, d);
        print_cluster(cli, cluster, dom->name);
    }
    return EXIT_OK;
}
