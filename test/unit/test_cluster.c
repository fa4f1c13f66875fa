/* sacme_cluster: leadership, membership and acknowledgements over a
 * key-value store kept in memory here, with leases that expire on a clock
 * the test moves (what etcd does with its own). */
#include <apr_hash.h>
#include <apr_strings.h>

#include "unit.h"
#include "sacme_cluster.h"

#define SEC(n) apr_time_from_sec(n)

typedef struct {
    apr_pool_t *p;
    apr_hash_t *values;        /* key -> value */
    apr_hash_t *bound;         /* key -> lease id (apr_int64_t *) */
    apr_hash_t *leases;        /* id -> expiry (apr_time_t *) */
    apr_int64_t next_id;
    apr_time_t now;            /* the store's clock */
    int down;                  /* every call fails */
    int calls;
} fake_kv_t;

static void expire(fake_kv_t *kv)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(kv->p, kv->bound); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        apr_int64_t *id = apr_hash_this_val(hi);
        apr_time_t *until = apr_hash_get(kv->leases, id, sizeof(*id));
        if (!until || *until <= kv->now) {
            apr_hash_set(kv->values, key, APR_HASH_KEY_STRING, NULL);
            apr_hash_set(kv->bound, key, APR_HASH_KEY_STRING, NULL);
        }
    }
}

static apr_status_t down(fake_kv_t *kv, sacme_result_t *res)
{
    ++kv->calls;
    expire(kv);
    return kv->down ? sacme_result_set(res, APR_ECONNREFUSED, "store down") : APR_SUCCESS;
}

static apr_status_t f_grant(void *b, apr_interval_time_t ttl, apr_int64_t *id,
                            sacme_result_t *res)
{
    fake_kv_t *kv = b;
    apr_int64_t *k;
    apr_time_t *until;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    k = apr_palloc(kv->p, sizeof(*k));
    until = apr_palloc(kv->p, sizeof(*until));
    *k = ++kv->next_id;
    *until = kv->now + ttl;
    apr_hash_set(kv->leases, k, sizeof(*k), until);
    *id = *k;
    return APR_SUCCESS;
}

static apr_status_t f_keepalive(void *b, apr_int64_t id, apr_interval_time_t *left,
                                sacme_result_t *res)
{
    fake_kv_t *kv = b;
    apr_time_t *until;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    until = apr_hash_get(kv->leases, &id, sizeof(id));
    if (!until || *until <= kv->now) {
        *left = 0;
        return APR_SUCCESS;
    }
    *until = kv->now + SEC(15);
    *left = SEC(15);
    return APR_SUCCESS;
}

static apr_status_t f_revoke(void *b, apr_int64_t id, sacme_result_t *res)
{
    fake_kv_t *kv = b;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    apr_hash_set(kv->leases, &id, sizeof(id), NULL);
    expire(kv);
    return APR_SUCCESS;
}

static void bind_key(fake_kv_t *kv, const char *key, const char *value, apr_int64_t lease)
{
    const char *k = apr_pstrdup(kv->p, key);

    apr_hash_set(kv->values, k, APR_HASH_KEY_STRING, apr_pstrdup(kv->p, value));
    if (lease) {
        apr_int64_t *id = apr_palloc(kv->p, sizeof(*id));
        *id = lease;
        apr_hash_set(kv->bound, k, APR_HASH_KEY_STRING, id);
    }
}

static apr_status_t f_create(void *b, const char *key, const char *value,
                             apr_int64_t lease, apr_pool_t *p, int *created,
                             const char **holder, sacme_result_t *res)
{
    fake_kv_t *kv = b;
    const char *had;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    had = apr_hash_get(kv->values, key, APR_HASH_KEY_STRING);
    *created = !had;
    if (had) {
        *holder = apr_pstrdup(p, had);
        return APR_SUCCESS;
    }
    bind_key(kv, key, value, lease);
    return APR_SUCCESS;
}

static apr_status_t f_get(void *b, const char *key, apr_pool_t *p, const char **value,
                          sacme_result_t *res)
{
    fake_kv_t *kv = b;
    const char *v;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    v = apr_hash_get(kv->values, key, APR_HASH_KEY_STRING);
    if (!v) {
        return APR_ENOENT;
    }
    *value = apr_pstrdup(p, v);
    return APR_SUCCESS;
}

static apr_status_t f_put(void *b, const char *key, const char *value, apr_int64_t lease,
                          sacme_result_t *res)
{
    fake_kv_t *kv = b;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    bind_key(kv, key, value, lease);
    return APR_SUCCESS;
}

static apr_status_t f_del(void *b, const char *key, sacme_result_t *res)
{
    fake_kv_t *kv = b;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    apr_hash_set(kv->values, key, APR_HASH_KEY_STRING, NULL);
    apr_hash_set(kv->bound, key, APR_HASH_KEY_STRING, NULL);
    return APR_SUCCESS;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const sacme_kv_pair_t *)a)->key, ((const sacme_kv_pair_t *)b)->key);
}

static apr_status_t f_list(void *b, const char *prefix, apr_pool_t *p,
                           apr_array_header_t **pairs, sacme_result_t *res)
{
    fake_kv_t *kv = b;
    apr_hash_index_t *hi;

    if (down(kv, res)) {
        return APR_ECONNREFUSED;
    }
    *pairs = apr_array_make(p, 4, sizeof(sacme_kv_pair_t));
    for (hi = apr_hash_first(p, kv->values); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        if (!strncmp(key, prefix, strlen(prefix))) {
            sacme_kv_pair_t *pair = apr_array_push(*pairs);
            pair->key = apr_pstrdup(p, key);
            pair->value = apr_pstrdup(p, apr_hash_this_val(hi));
        }
    }
    qsort((*pairs)->elts, (size_t)(*pairs)->nelts, sizeof(sacme_kv_pair_t), by_key);
    return APR_SUCCESS;
}

static const sacme_kv_impl_t fake_impl = {
    f_grant, f_keepalive, f_revoke, f_create, f_get, f_put, f_del, f_list
};

static fake_kv_t *fake_kv(void)
{
    fake_kv_t *kv = apr_pcalloc(unit_pool, sizeof(*kv));

    kv->p = unit_pool;
    kv->values = apr_hash_make(unit_pool);
    kv->bound = apr_hash_make(unit_pool);
    kv->leases = apr_hash_make(unit_pool);
    return kv;
}

static sacme_cluster_t *node(fake_kv_t *kv, const char *id)
{
    return sacme_cluster_make(unit_pool, &fake_impl, kv, "/sacme/web", id, SEC(15));
}

/* Both nodes see the same clock here: the store's and theirs agree. */
static void tick(fake_kv_t *kv, sacme_cluster_t *c, apr_time_t at)
{
    kv->now = at;
    sacme_cluster_tick(c, at, NULL);
}

/* One leader among the nodes; the others follow it and know who leads. */
START_TEST(one_leader)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a"), *b = node(kv, "b");
    apr_array_header_t *members;

    tick(kv, a, SEC(100));
    tick(kv, b, SEC(100));
    ck_assert_int_eq(a->role, SACME_ROLE_LEADER);
    ck_assert_int_eq(b->role, SACME_ROLE_FOLLOWER);
    ck_assert_str_eq(b->leader, "a");
    ck_assert(sacme_cluster_leading(a, SEC(101)));
    ck_assert(!sacme_cluster_leading(b, SEC(101)));
    ck_assert_str_eq(apr_hash_get(kv->values, "/sacme/web/leader", APR_HASH_KEY_STRING), "a");

    ck_assert_int_eq(sacme_cluster_members(a, unit_pool, &members, NULL), APR_SUCCESS);
    ck_assert_int_eq(members->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(members, 0, const char *), "a");
    ck_assert_str_eq(APR_ARRAY_IDX(members, 1, const char *), "b");
}
END_TEST

/* A leader that cannot reach the store stops leading before its lease can
 * have run out at the store; another node takes over only after that. */
START_TEST(leader_cut_off_stops_before_its_lease_ends)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a"), *b = node(kv, "b");
    apr_time_t t = SEC(100), last_safe = 0, taken = 0;

    tick(kv, a, t);
    tick(kv, b, t);
    ck_assert(sacme_cluster_leading(a, t));
    /* a is cut off: its calls fail, b's do not (a's view only) */
    for (t = SEC(100); t <= SEC(140); t += SEC(1)) {
        kv->down = 1;
        tick(kv, a, t);
        kv->down = 0;
        if (sacme_cluster_leading(a, t)) {
            last_safe = t;
        }
        tick(kv, b, t);
        if (!taken && b->role == SACME_ROLE_LEADER) {
            taken = t;
        }
    }
    ck_assert_int_ne(taken, 0);
    ck_assert(last_safe < taken);
    /* the margin: a stopped at least a second before the store let go */
    ck_assert(last_safe + SEC(1) < SEC(100) + SEC(15));
    ck_assert_int_eq(a->role, SACME_ROLE_NONE);
    ck_assert(a->lost_at == SEC(100));
}
END_TEST

/* Keep-alives keep a leader leading as long as it reaches the store. */
START_TEST(keepalive_keeps_leading)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a");
    apr_time_t t;
    int calls;

    for (t = SEC(100); t <= SEC(200); t += SEC(1)) {
        tick(kv, a, t);
        ck_assert(sacme_cluster_leading(a, t));
    }
    /* renewed every third of the lease, not at every tick */
    calls = kv->calls;
    tick(kv, a, t);
    ck_assert_int_le(kv->calls - calls, 2);
    ck_assert_int_eq(kv->next_id, 1);
}
END_TEST

/* A clean stop hands the leadership over at once. */
START_TEST(resign_hands_over_at_once)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a"), *b = node(kv, "b");

    tick(kv, a, SEC(100));
    tick(kv, b, SEC(100));
    sacme_cluster_resign(a);
    ck_assert(!sacme_cluster_leading(a, SEC(100)));
    tick(kv, b, SEC(101));
    ck_assert_int_eq(b->role, SACME_ROLE_LEADER);
}
END_TEST

/* The key of a previous process of the same node (same id, older lease) is
 * not taken for this one's: it leads only once that lease is gone. */
START_TEST(own_id_under_an_old_lease_is_not_leadership)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *old = node(kv, "a"), *again = node(kv, "a");

    tick(kv, old, SEC(100));
    ck_assert_int_eq(old->role, SACME_ROLE_LEADER);
    tick(kv, again, SEC(101));      /* the old process died without a word */
    ck_assert_int_eq(again->role, SACME_ROLE_FOLLOWER);
    ck_assert(!sacme_cluster_leading(again, SEC(101)));
    tick(kv, again, SEC(116));      /* the old lease ran out at the store */
    ck_assert_int_eq(again->role, SACME_ROLE_LEADER);
}
END_TEST

/* A lease the store let go (a long pause) is replaced, membership included. */
START_TEST(lapsed_lease_is_replaced)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a");
    apr_array_header_t *members;

    tick(kv, a, SEC(100));
    tick(kv, a, SEC(200));
    ck_assert_int_eq(kv->next_id, 2);
    ck_assert(sacme_cluster_leading(a, SEC(200)));
    ck_assert_int_eq(sacme_cluster_members(a, unit_pool, &members, NULL), APR_SUCCESS);
    ck_assert_int_eq(members->nelts, 1);
}
END_TEST

/* Acknowledgements: who has mirrored an answer, and a dead member's go
 * with its lease. */
START_TEST(acknowledgements)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a"), *b = node(kv, "b"), *c = node(kv, "c");
    apr_array_header_t *members;
    const char *missing;

    tick(kv, a, SEC(100));
    tick(kv, b, SEC(100));
    tick(kv, c, SEC(100));
    ck_assert_int_eq(sacme_cluster_members(a, unit_pool, &members, NULL), APR_SUCCESS);
    ck_assert_int_eq(members->nelts, 3);
    missing = sacme_cluster_unacked(a, members, "x.test", "tok", unit_pool, NULL);
    ck_assert_str_eq(missing, "a, b, c");
    ck_assert_int_eq(sacme_cluster_ack(a, "x.test", "tok", NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_cluster_ack(c, "x.test", "tok", NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_cluster_ack(b, "x.test", "other", NULL), APR_SUCCESS);
    missing = sacme_cluster_unacked(a, members, "x.test", "tok", unit_pool, NULL);
    ck_assert_str_eq(missing, "b");
    ck_assert_int_eq(sacme_cluster_ack(b, "x.test", "tok", NULL), APR_SUCCESS);
    ck_assert_ptr_null(sacme_cluster_unacked(a, members, "x.test", "tok", unit_pool, NULL));

    ck_assert_int_eq(sacme_cluster_ack_clear(a, "x.test", "tok", NULL), APR_SUCCESS);
    ck_assert_str_eq(sacme_cluster_unacked(a, members, "x.test", "tok", unit_pool, NULL),
                     "a, b, c");
    /* the other token's acknowledgement is untouched */
    ck_assert_ptr_null(sacme_cluster_unacked(a, unit_names("b", NULL), "x.test", "other",
                                             unit_pool, NULL));
    /* c dies: its membership goes with its lease */
    tick(kv, a, SEC(120));
    tick(kv, b, SEC(120));
    ck_assert_int_eq(sacme_cluster_members(a, unit_pool, &members, NULL), APR_SUCCESS);
    ck_assert_int_eq(members->nelts, 2);
}
END_TEST

START_TEST(prefix_and_roles)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = sacme_cluster_make(unit_pool, &fake_impl, kv, "/sacme/x/", "a",
                                            SEC(1));

    ck_assert_str_eq(a->prefix, "/sacme/x/");
    ck_assert_int_eq(a->ttl, SEC(3));           /* at least 3 s */
    ck_assert_str_eq(sacme_role_str(SACME_ROLE_LEADER), "leader");
    ck_assert_str_eq(sacme_role_str(SACME_ROLE_NONE), "none");
    ck_assert_int_ne(sacme_cluster_ack(a, "x.test", "t", NULL), APR_SUCCESS);
}
END_TEST

/* A node ticks every second for months: the leader's name, the same at
 * every tick, is not copied again each time (it was, into the cluster's
 * pool, which is never cleared). */
START_TEST(ticking_does_not_copy_the_leader_again)
{
    fake_kv_t *kv = fake_kv();
    sacme_cluster_t *a = node(kv, "a"), *b = node(kv, "b");
    const char *seen_a, *seen_b;
    int i;

    tick(kv, a, SEC(100));
    tick(kv, b, SEC(100));
    seen_a = a->leader;
    seen_b = b->leader;
    ck_assert_str_eq(seen_b, "a");
    for (i = 1; i <= 50; ++i) {
        tick(kv, a, SEC(100) + SEC(i));
        tick(kv, b, SEC(100) + SEC(i));
    }
    ck_assert_ptr_eq(a->leader, seen_a);
    ck_assert_ptr_eq(b->leader, seen_b);
    ck_assert_str_eq(b->leader, "a");
}
END_TEST

Suite *unit_suite_cluster(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, one_leader);
    tcase_add_test(tc, leader_cut_off_stops_before_its_lease_ends);
    tcase_add_test(tc, keepalive_keeps_leading);
    tcase_add_test(tc, resign_hands_over_at_once);
    tcase_add_test(tc, own_id_under_an_old_lease_is_not_leadership);
    tcase_add_test(tc, lapsed_lease_is_replaced);
    tcase_add_test(tc, acknowledgements);
    tcase_add_test(tc, prefix_and_roles);
    tcase_add_test(tc, ticking_does_not_copy_the_leader_again);
    suite_add_tcase(s, tc);
    return s;
}
