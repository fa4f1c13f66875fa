/* sacme-etcd-probe: the engine's etcd client (sacme_etcd.h) from the
 * command line, for the end-to-end tests (test/e2e/test_etcd_client.py)
 * against a real etcd cluster. Not installed.
 *
 *   sacme-etcd-probe [-c CA] [-C CERT -K KEY] -e URL[,URL...] COMMAND ARGS
 *     get KEY | range PREFIX | put KEY VALUE [LEASE] | delete KEY
 *     delete-prefix PREFIX | grant TTL | keepalive ID | revoke ID
 *     put-if-absent KEY VALUE | put-if-mod KEY VALUE MOD_REVISION
 *     campaign KEY VALUE TTL WAIT_S HOLD_S
 *         a leader election: a lease of TTL s, then "put KEY if absent"
 *         bound to it, tried every 0.2 s for up to WAIT_S s; the winner
 *         prints its line, keeps the lease alive for HOLD_S s (or until
 *         SIGTERM), then revokes it. SIGKILL leaves it to lapse.
 *     node PREFIX NODE TTL_S RUN_S
 *         a cluster member (sacme_cluster.h over sacme_cluster_etcd.h):
 *         ticks every 0.2 s for RUN_S s (or until SIGTERM, then resigns),
 *         printing {"mono-ms", "leading", "role", "leader"} at the start
 *         and whenever whether it may lead changes. mono-ms is the
 *         machine's monotonic clock, comparable between two probes.
 *     sync-write DIR KEYFILE PREFIX DOMAIN
 *         a store at DIR (set up) whose changes go to the cluster's copy
 *         (sacme_cluster_sync.h) under PREFIX, sealed with KEYFILE: stages
 *         a key for DOMAIN, saves its order.json, publishes two http-01
 *         answers and withdraws one; prints {"unpushed": N}.
 *     sync-pull DIR KEYFILE PREFIX
 *         a store at DIR (set up) given the cluster's copy; prints
 *         {"applied": N, "revision": R}.
 *     sync-follow DIR KEYFILE PREFIX START TIMEOUT_S
 *         follows the copy from START, printing {"applied": N, "next": R}.
 *     watch PREFIX START COUNT TIMEOUT_S
 *         prints a line "ready" once the stream is up, then every change
 *         until COUNT of them (0: no limit) or the time is up.
 *
 * Every answer is one JSON object per line on stdout; a failure is
 * {"error": ..., "status": N, "compacted": bool} and exit status 1.
 * The client's log goes to stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "sacme_cluster_etcd.h"
#include "sacme_cluster_sync.h"
#include "sacme_key.h"
#include "sacme_etcd.h"
#include "sacme_json.h"
#include "sacme_time.h"

static volatile sig_atomic_t terminated;

static void on_term(int sig)
{
    (void)sig;
    terminated = 1;
}

static void print(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static int fail(const sacme_result_t *res, apr_pool_t *p)
{
    print(json_pack("{s:s, s:i, s:b}", "error", sacme_result_message(res, p),
                    "status", (int)res->status,
                    "compacted", res->status == SACME_ETCD_ECOMPACTED));
    return 1;
}

static void on_log(void *baton, sacme_log_level_t level, apr_status_t rv, const char *msg)
{
    (void)baton; (void)rv;
    fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

static json_t *kv_json(const sacme_etcd_kv_t *kv)
{
    return json_pack("{s:s, s:s%, s:I, s:I, s:I}", "key", kv->key,
                     "value", kv->value, kv->value_len,
                     "mod_revision", (json_int_t)kv->mod_revision,
                     "create_revision", (json_int_t)kv->create_revision,
                     "lease", (json_int_t)kv->lease);
}

typedef struct {
    int count, seen, ready;
} watch_state_t;

static int on_event(void *baton, const sacme_etcd_event_t *ev)
{
    watch_state_t *st = baton;

    if (!st->ready) {
        /* The stream is up once anything (an idle tick, an event) comes. */
        st->ready = 1;
        print(json_pack("{s:b}", "ready", 1));
    }
    if (ev) {
        json_t *j = kv_json(ev->kv);
        json_object_set_new(j, "type", json_string(ev->type == SACME_ETCD_PUT
                                                   ? "put" : "delete"));
        print(j);
        ++st->seen;
    }
    return terminated || (st->count > 0 && st->seen >= st->count);
}

static int campaign(sacme_etcd_t *etcd, char **argv, apr_pool_t *p, sacme_result_t *res)
{
    const char *key = argv[0], *value = argv[1];
    apr_int64_t ttl = apr_atoi64(argv[2]), lease, granted, left;
    apr_time_t wait_until = apr_time_now() + apr_time_from_sec(atoi(argv[3]));
    apr_time_t hold_until;
    sacme_etcd_kv_t *holder = NULL;
    int won = 0;

    apr_time_t renew_at;

    if (sacme_etcd_lease_grant(etcd, ttl, p, &lease, &granted, res) != APR_SUCCESS) {
        return fail(res, p);
    }
    renew_at = apr_time_now() + apr_time_from_sec(granted > 3 ? granted / 3 : 1);
    for (;;) {
        if (sacme_etcd_put_if_absent(etcd, key, value, strlen(value), lease, p, &won,
                                     &holder, res) != APR_SUCCESS) {
            return fail(res, p);
        }
        if (won || apr_time_now() >= wait_until || terminated) {
            break;
        }
        apr_sleep(apr_time_from_msec(200));
        if (apr_time_now() >= renew_at) {
            /* a candidate's lease must outlive its wait */
            if (sacme_etcd_lease_keepalive(etcd, lease, p, &left, res) != APR_SUCCESS) {
                return fail(res, p);
            }
            renew_at = apr_time_now() + apr_time_from_sec(granted > 3 ? granted / 3 : 1);
        }
    }
    print(json_pack("{s:b, s:I, s:s}", "won", won, "lease", (json_int_t)lease,
                    "holder", won ? value : holder ? holder->value : ""));
    if (!won) {
        sacme_etcd_lease_revoke(etcd, lease, p, res);
        return 0;
    }
    hold_until = apr_time_now() + apr_time_from_sec(atoi(argv[4]));
    while (!terminated && apr_time_now() < hold_until) {
        apr_sleep(apr_time_from_sec(granted > 3 ? granted / 3 : 1));
        if (sacme_etcd_lease_keepalive(etcd, lease, p, &left, res) != APR_SUCCESS) {
            return fail(res, p);
        }
    }
    if (sacme_etcd_lease_revoke(etcd, lease, p, res) != APR_SUCCESS) {
        return fail(res, p);
    }
    print(json_pack("{s:b}", "resigned", 1));
    return 0;
}

static void print_node(const sacme_cluster_t *c, apr_time_t now, int leading)
{
    print(json_pack("{s:I, s:b, s:s, s:s?}", "mono-ms", (json_int_t)(now / 1000),
                    "leading", leading, "role", sacme_role_str(c->role),
                    "leader", c->leader));
}

static int node(sacme_etcd_t *etcd, char **argv, apr_pool_t *p)
{
    sacme_cluster_t *c = sacme_cluster_make(p, &sacme_cluster_etcd_kv, etcd, argv[0],
                                            argv[1], apr_time_from_sec(atoi(argv[2])));
    apr_time_t end = sacme_time_mono() + apr_time_from_sec(atoi(argv[3])), now;
    int leading, was = -1;
    apr_pool_t *round;

    apr_pool_create(&round, p);
    while (!terminated && (now = sacme_time_mono()) < end) {
        apr_pool_clear(round);
        sacme_cluster_tick(c, now, sacme_result_make(round));
        leading = sacme_cluster_leading(c, sacme_time_mono());
        if (leading != was) {
            print_node(c, sacme_time_mono(), leading);
            was = leading;
        }
        apr_sleep(apr_time_from_msec(200));
    }
    sacme_cluster_resign(c);
    print(json_pack("{s:b}", "resigned", 1));
    return 0;
}

#define SYNC_TOKEN_1 "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define SYNC_TOKEN_2 "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

/* The store at dir, set up, and the cluster's copy of it. */
static int sync_open(sacme_etcd_t *etcd, char **argv, apr_pool_t *p, sacme_store_t **store,
                     sacme_sync_t **sync, sacme_result_t *res)
{
    sacme_seal_key_t *key;

    *store = sacme_store_make(p, argv[0]);
    if (sacme_store_setup(*store, p, NULL, res) != APR_SUCCESS
        || sacme_seal_key_read(p, argv[1], getuid(), &key, res) != APR_SUCCESS
        || sacme_sync_make(p, etcd, argv[2], key, NULL, sync, res) != APR_SUCCESS) {
        return 0;
    }
    return 1;
}

static int sync_cmd(sacme_etcd_t *etcd, const char *cmd, char **argv, apr_pool_t *p,
                    sacme_result_t *res)
{
    sacme_store_t *store;
    sacme_sync_t *sync;
    sacme_key_t *key;
    apr_int64_t rev = 0;
    int applied = 0;

    if (!sync_open(etcd, argv, p, &store, &sync, res)) {
        return fail(res, p);
    }
    if (!strcmp(cmd, "sync-write")) {
        json_t *order = sacme_json_own(p, json_pack("{s:s}", "url", "https://ca/order/1"));
        sacme_store_set_mirror(store, &sync->mirror);
        if (sacme_key_generate(p, SACME_KEY_P256, &key, res) != APR_SUCCESS
            || sacme_store_stage_key(store, p, argv[3], key, res) != APR_SUCCESS
            || sacme_store_state_save(store, p, SACME_STATE_ORDER, argv[3], order, res)
               != APR_SUCCESS
            || sacme_store_challenge_put(store, p, argv[3], SYNC_TOKEN_1,
                                         SYNC_TOKEN_1 ".thumb", res) != APR_SUCCESS
            || sacme_store_challenge_put(store, p, argv[3], SYNC_TOKEN_2,
                                         SYNC_TOKEN_2 ".thumb", res) != APR_SUCCESS
            || sacme_store_challenge_remove(store, p, argv[3], SYNC_TOKEN_2, res)
               != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:i}", "unpushed", (int)sync->unpushed));
        return 0;
    }
    if (!strcmp(cmd, "sync-pull")) {
        if (sacme_sync_pull(sync, store, p, &rev, &applied, res) != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:i, s:I}", "applied", applied, "revision", (json_int_t)rev));
        return 0;
    }
    if (sacme_sync_follow(sync, etcd, store, apr_atoi64(argv[3]),
                          apr_time_from_sec(atoi(argv[4])), p, &rev, &applied, res)
        != APR_SUCCESS) {
        return fail(res, p);
    }
    print(json_pack("{s:i, s:I}", "applied", applied, "next", (json_int_t)rev));
    return 0;
}

static int run(sacme_etcd_t *etcd, const char *cmd, int argc, char **argv, apr_pool_t *p)
{
    sacme_result_t *res = sacme_result_make(p);
    sacme_etcd_kv_t *kv = NULL;
    apr_int64_t rev = 0, n = 0, id = 0;
    int done = 0;

#define NEED(k) do { if (argc < (k)) { fprintf(stderr, "%s: too few arguments\n", cmd); \
                                        return 2; } } while (0)
    if (!strcmp(cmd, "get")) {
        NEED(1);
        if (sacme_etcd_get(etcd, argv[0], p, &kv, &rev, res) != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:o, s:I}", "kv", kv ? kv_json(kv) : json_null(),
                        "revision", (json_int_t)rev));
    }
    else if (!strcmp(cmd, "range")) {
        apr_array_header_t *kvs;
        json_t *arr = json_array();
        int i;
        NEED(1);
        if (sacme_etcd_range_prefix(etcd, argv[0], p, &kvs, &rev, res) != APR_SUCCESS) {
            json_decref(arr);
            return fail(res, p);
        }
        for (i = 0; i < kvs->nelts; ++i) {
            json_array_append_new(arr, kv_json(APR_ARRAY_IDX(kvs, i, sacme_etcd_kv_t *)));
        }
        print(json_pack("{s:o, s:I}", "kvs", arr, "revision", (json_int_t)rev));
    }
    else if (!strcmp(cmd, "put")) {
        NEED(2);
        if (sacme_etcd_put(etcd, argv[0], argv[1], strlen(argv[1]),
                           argc > 2 ? apr_atoi64(argv[2]) : 0, p, &rev, res)
            != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:I}", "revision", (json_int_t)rev));
    }
    else if (!strcmp(cmd, "delete") || !strcmp(cmd, "delete-prefix")) {
        apr_status_t rv;
        NEED(1);
        rv = !strcmp(cmd, "delete") ? sacme_etcd_delete(etcd, argv[0], p, &n, res)
                                    : sacme_etcd_delete_prefix(etcd, argv[0], p, &n, res);
        if (rv != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:I}", "deleted", (json_int_t)n));
    }
    else if (!strcmp(cmd, "put-if-absent") || !strcmp(cmd, "put-if-mod")) {
        apr_status_t rv;
        NEED(2);
        if (!strcmp(cmd, "put-if-absent")) {
            rv = sacme_etcd_put_if_absent(etcd, argv[0], argv[1], strlen(argv[1]), 0, p,
                                          &done, &kv, res);
        }
        else {
            NEED(3);
            rv = sacme_etcd_put_if_mod_revision(etcd, argv[0], argv[1], strlen(argv[1]),
                                                0, apr_atoi64(argv[2]), p, &done, &kv,
                                                res);
        }
        if (rv != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:b, s:o}", "done", done, "current",
                        kv ? kv_json(kv) : json_null()));
    }
    else if (!strcmp(cmd, "grant")) {
        NEED(1);
        if (sacme_etcd_lease_grant(etcd, apr_atoi64(argv[0]), p, &id, &n, res)
            != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:I, s:I}", "id", (json_int_t)id, "ttl", (json_int_t)n));
    }
    else if (!strcmp(cmd, "keepalive")) {
        NEED(1);
        if (sacme_etcd_lease_keepalive(etcd, apr_atoi64(argv[0]), p, &n, res)
            != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:I}", "ttl", (json_int_t)n));
    }
    else if (!strcmp(cmd, "revoke")) {
        NEED(1);
        if (sacme_etcd_lease_revoke(etcd, apr_atoi64(argv[0]), p, res) != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:b}", "revoked", 1));
    }
    else if (!strcmp(cmd, "campaign")) {
        NEED(5);
        return campaign(etcd, argv, p, res);
    }
    else if (!strcmp(cmd, "sync-write") || !strcmp(cmd, "sync-pull")
             || !strcmp(cmd, "sync-follow")) {
        NEED(!strcmp(cmd, "sync-pull") ? 3 : !strcmp(cmd, "sync-write") ? 4 : 5);
        return sync_cmd(etcd, cmd, argv, p, res);
    }
    else if (!strcmp(cmd, "node")) {
        NEED(4);
        return node(etcd, argv, p);
    }
    else if (!strcmp(cmd, "watch")) {
        watch_state_t st = { 0, 0, 0 };
        NEED(4);
        st.count = atoi(argv[2]);
        if (sacme_etcd_watch(etcd, argv[0], apr_atoi64(argv[1]),
                             apr_time_from_sec(atoi(argv[3])), on_event, &st, p, &rev,
                             res) != APR_SUCCESS) {
            return fail(res, p);
        }
        print(json_pack("{s:I, s:i}", "next", (json_int_t)rev, "seen", st.seen));
    }
    else {
        fprintf(stderr, "unknown command %s\n", cmd);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    sacme_http_options_t opts;
    apr_array_header_t *endpoints;
    sacme_etcd_t *etcd;
    sacme_result_t *res;
    sacme_log_t log = { on_log, NULL, SACME_LOG_DEBUG };
    const char *eps = NULL;
    char *tok, *state;
    int c, rc;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&p, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    memset(&opts, 0, sizeof(opts));
    while ((c = getopt(argc, argv, "+c:C:K:e:")) != -1) {
        switch (c) {
        case 'c': opts.ca_file = optarg; break;
        case 'C': opts.client_cert_file = optarg; break;
        case 'K': opts.client_key_file = optarg; break;
        case 'e': eps = optarg; break;
        default: return 2;
        }
    }
    if (!eps || optind >= argc) {
        fprintf(stderr, "usage: %s [-c CA] [-C CERT -K KEY] -e URL[,URL...] COMMAND "
                "ARGS (see the source)\n", argv[0]);
        return 2;
    }
    endpoints = apr_array_make(p, 3, sizeof(const char *));
    for (tok = apr_strtok(apr_pstrdup(p, eps), ",", &state); tok;
         tok = apr_strtok(NULL, ",", &state)) {
        APR_ARRAY_PUSH(endpoints, const char *) = tok;
    }
    res = sacme_result_make(p);
    if (sacme_etcd_make(p, endpoints, &opts, &log, &etcd, res) != APR_SUCCESS) {
        rc = fail(res, p);
    }
    else {
        rc = run(etcd, argv[optind], argc - optind - 1, argv + optind + 1, p);
    }
    /* The libcurl handle goes with the pool (the sanitizer build checks). */
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
