/* Unit tests: sacme_drive. The decision (sacme_drive_check) only reads the
 * store, so it is tested against sets made here for keys the tests hold;
 * the failure path of sacme_drive_run runs against a scripted fake HTTP
 * transport (no network). */
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_cert.h"
#include "unit_fake.h"
#include "unit_log.h"
#include "sacme_b64.h"
#include "sacme_acme.h"
#include "sacme_drive.h"
#include "sacme_drive_ari.h"
#include "sacme_time.h"
#include "sacme_request.h"
#include "sacme_file.h"
#include "sacme_json.h"

#define DAY apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)
#define NAME "www.example.org"
#define DIR_URL "https://ca.test/dir"

/* An HMAC key no file of the store may ever contain: its base64url form is
 * what the admin configures, HMAC_RAW the decoded bytes. */
#define HMAC_RAW "Quokka-EAB-secret-7f3a91"
#define HMAC_B64 "UXVva2thLUVBQi1zZWNyZXQtN2YzYTkx"
#define EAB_KID  "kid-drive-test"

/* --- certificates ------------------------------------------------------------ */

/* A one-certificate chain: a self-signed leaf, as PEM. */
static const char *leaf_pem(const sacme_key_t *key, const apr_array_header_t *names,
                            apr_time_t nb, apr_time_t na)
{
    const char *cn = APR_ARRAY_IDX(names, 0, const char *);
    sacme_chain_t chain;

    chain.certs = apr_array_make(unit_pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain.certs, X509 *) = unit_cert_issue(key, cn, names, nb, na, NULL, NULL,
                                                          0);
    return sacme_chain_pem(&chain, unit_pool);
}

/* --- store ------------------------------------------------------------------- */

static const char *file_in(const sacme_store_t *store, const char *group,
                           const char *file)
{
    return sacme_store_path(store, unit_pool, group, NAME, file);
}

/* Writes text to path, making its directory first. */
static void write_text(const char *path, const char *text)
{
    ck_assert_int_eq(sacme_file_mkdirs(apr_pstrndup(unit_pool, path,
                                                    (apr_size_t)(strrchr(path, '/') - path)),
                                       SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    unit_write_text(path, text, SACME_FPROT_PUBLIC);
}

/* A set in group/NAME: a key of type and a self-signed certificate for it. */
static sacme_key_t *put_set(const sacme_store_t *store, const char *group,
                            sacme_key_type_t type, const apr_array_header_t *names,
                            apr_time_t nb, apr_time_t na)
{
    sacme_key_t *key = unit_key(type);

    write_text(file_in(store, group, SACME_FILE_CHAIN), leaf_pem(key, names, nb, na));
    ck_assert_int_eq(sacme_key_save(key, file_in(store, group, SACME_FILE_KEY), unit_pool,
                                    NULL), APR_SUCCESS);
    return key;
}

/* A driver on a fresh store, without network; the domain NAME with names,
 * a P-256 key and a 33% window. */
static sacme_driver_t *new_driver(sacme_domain_t *dom)
{
    sacme_driver_t *d = apr_pcalloc(unit_pool, sizeof(*d));
    sacme_store_t *store = sacme_store_make(unit_pool, apr_pstrcat(unit_pool, unit_tmpdir(),
                                                                   "/store", NULL));

    ck_assert_int_eq(sacme_store_setup(store, unit_pool, NULL, NULL), APR_SUCCESS);
    d->p = unit_pool;
    d->store = store;
    d->ca = sacme_ca_make(unit_pool, DIR_URL, NULL);
    d->retry_delay = apr_time_from_sec(60);
    d->retry_max = apr_time_from_sec(86400);
    d->check_interval = 12 * HOUR;
    memset(dom, 0, sizeof(*dom));
    dom->name = NAME;
    dom->names = unit_names(NAME, "shop.example.org", NULL);
    dom->key_type = SACME_KEY_P256;
    dom->renew_window.percent = 33;
    dom->ari_off = 1;            /* the local window; ARI has tests of its own */
    return d;
}

static sacme_why_t check(sacme_driver_t *d, const sacme_domain_t *dom, apr_time_t now,
                         apr_time_t *next)
{
    *next = 0;
    return sacme_drive_check(d, dom, now, next, unit_pool);
}

/* --- deciding ---------------------------------------------------------------- */

START_TEST(test_drive_no_cert)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* due now: looked at again now, whoever asks (the worker after a run
     * included), not after the idle interval */
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NO_CERT);
    ck_assert(next == now);

    /* a chain that does not parse is no certificate either */
    write_text(file_in(d->store, SACME_GROUP_DOMAINS, SACME_FILE_CHAIN), "garbage\n");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NO_CERT);
}
END_TEST

/* A check interval of centuries (as the engine took before the directive
 * had a limit, and as an unchecked caller could still pass) saturates: the
 * next look is far ahead, never wrapped into the past, which would make
 * the domain due at once, again and again. */
START_TEST(test_drive_check_interval_saturates)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    d->check_interval = APR_INT64_MAX;
    /* a staged set waits for the restart: the idle interval applies */
    put_set(d->store, SACME_GROUP_STAGING, SACME_KEY_P256, dom.names,
            now - apr_time_from_sec(60), now + 90 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_STAGED);
    ck_assert(next > now);
    ck_assert(next == APR_INT64_MAX);
}
END_TEST

START_TEST(test_drive_fresh)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_sec(apr_time_now()) * APR_USEC_PER_SEC, next;
    apr_time_t nb = now - apr_time_from_sec(60), na = nb + 90 * DAY;
    apr_interval_time_t len = (na - nb) / 100 * 33;
    apr_time_t start = na - len;

    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names, nb, na);

    /* looked at again when the window opens (less this name's jitter, at
     * most a tenth of the window), not after the idle check interval */
    d->check_interval = 400 * DAY;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert_msg(next <= start + apr_time_from_sec(1) && next >= start - len / 10 - apr_time_from_sec(1),
                  "next check %" APR_TIME_T_FMT " s after now, window opens %"
                  APR_TIME_T_FMT " s after now", apr_time_sec(next - now),
                  apr_time_sec(start - now));
    /* the same answer every time: the jitter is stable */
    {
        apr_time_t again;
        ck_assert_int_eq(check(d, &dom, now, &again), SACME_WHY_NONE);
        ck_assert(again == next);
    }

    /* an idle check comes first when it is sooner */
    d->check_interval = 12 * HOUR;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(next == now + 12 * HOUR);

    /* names compare without case */
    dom.names = unit_names("WWW.Example.ORG", "shop.example.org", NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
}
END_TEST

START_TEST(test_drive_jitter_spreads)
{
    /* domains with certificates of the same validity are not all looked at
     * in the same instant, and each stays inside its bound */
    static const char *const names[] = {
        "a.example.org", "b.example.org", "c.example.org", "d.example.org",
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_sec(apr_time_now()) * APR_USEC_PER_SEC, next[4];
    apr_time_t nb = now - apr_time_from_sec(60), na = nb + 90 * DAY;
    apr_interval_time_t len = (na - nb) / 100 * 33;
    int i, distinct = 0;

    d->check_interval = 400 * DAY;
    for (i = 0; i < 4; ++i) {
        sacme_key_t *key = unit_key(SACME_KEY_P256);
        dom.name = names[i];
        dom.names = unit_names(names[i], NULL);
        write_text(sacme_store_path(d->store, unit_pool, SACME_GROUP_DOMAINS, names[i],
                                    SACME_FILE_CHAIN), leaf_pem(key, dom.names, nb, na));
        ck_assert_int_eq(check(d, &dom, now, &next[i]), SACME_WHY_NONE);
        ck_assert(next[i] <= na - len + apr_time_from_sec(1));
        ck_assert(next[i] >= na - len - len / 10 - apr_time_from_sec(1));
        distinct += (i == 0 || next[i] != next[0]);
    }
    ck_assert_int_gt(distinct, 1);
}
END_TEST

/* A window longer than half the lifetime (a 6-day certificate, "30d"):
 * the certificate just put in service is not due (it was, at once, and the
 * server ordered and restarted every minute); it is looked at again at
 * half its life, and the admin is told once, not at every look. */
START_TEST(test_drive_window_clamped)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_log_t *log;
    unit_log_t *cap = unit_log_make(&log);
    apr_time_t now = apr_time_sec(apr_time_now()) * APR_USEC_PER_SEC, next, again;
    apr_time_t nb = now - apr_time_from_sec(60), na = nb + 6 * DAY, half = nb + 3 * DAY;
    const char *line;
    int level = 0;

    d->log = log;
    d->check_interval = 400 * DAY;
    ck_assert_int_eq(sacme_window_parse("30d", &dom.renew_window), APR_SUCCESS);
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names, nb, na);

    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    /* at half the life, the jitter (a tenth of the half) going later */
    ck_assert_msg(next >= half && next < half + 3 * DAY / 10,
                  "next look %" APR_TIME_T_FMT " s after half", apr_time_sec(next - half));
    line = unit_logged(cap, "SACME10390: ", &level);
    ck_assert_msg(line != NULL, "the clamp is not logged");
    ck_assert_int_eq(level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(line, NAME ": SacmeRenewWindow 30d is longer than half"));
    ck_assert_ptr_nonnull(strstr(line, "renewing it 3.0 days before expiry"));

    /* looked at again and again: told once */
    ck_assert_int_eq(check(d, &dom, now + HOUR, &again), SACME_WHY_NONE);
    ck_assert(again == next);
    ck_assert_int_eq(check(d, &dom, next, &again), SACME_WHY_RENEW);
    ck_assert_int_eq(unit_log_count(cap, "SACME10390"), 1);

    /* the unit of another key type is told on its own */
    dom.name = "www.example.org+rsa2048";
    write_text(sacme_store_path(d->store, unit_pool, SACME_GROUP_DOMAINS, dom.name,
                                SACME_FILE_CHAIN),
               leaf_pem(unit_key(SACME_KEY_P256), dom.names, nb, na));
    ck_assert_int_eq(check(d, &dom, now, &again), SACME_WHY_NONE);
    ck_assert_int_eq(unit_log_count(cap, "SACME10390"), 2);

    /* a window that fits says nothing */
    dom.name = NAME;
    d->clamp_told = NULL;
    ck_assert_int_eq(sacme_window_parse("2d", &dom.renew_window), APR_SUCCESS);
    ck_assert_int_eq(check(d, &dom, now, &again), SACME_WHY_NONE);
    ck_assert_int_eq(unit_log_count(cap, "SACME10390"), 2);
}
END_TEST

START_TEST(test_drive_names)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* the live certificate predates the second name */
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, unit_names(NAME, NULL),
            now - DAY, now + 89 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NAMES);

    /* a name dropped from the configuration needs nothing */
    dom.names = unit_names(NAME, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
}
END_TEST

START_TEST(test_drive_key_type)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_RSA2048, dom.names,
            now - DAY, now + 89 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_KEY_TYPE);
    /* the same certificate is fine for a domain that wants RSA 2048 */
    dom.key_type = SACME_KEY_RSA2048;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    /* and not for one that wants P-384 */
    dom.key_type = SACME_KEY_P384;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_KEY_TYPE);
}
END_TEST

/* The serial of the certificate of the set in group/NAME. */
static const char *serial_of(const sacme_store_t *store, const char *group)
{
    sacme_chain_t *chain;
    sacme_cert_info_t *info;

    ck_assert_int_eq(sacme_store_load_leaf(store, unit_pool, group, NAME, &chain, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(sacme_cert_info(unit_pool, APR_ARRAY_IDX(chain->certs, 0, X509 *),
                                     &info), APR_SUCCESS);
    return info->serial;
}

static void put_issued(sacme_driver_t *d, const char *serial, const char *configured)
{
    write_text(file_in(d->store, SACME_GROUP_STAGING, "issued.json"),
               apr_psprintf(unit_pool, "{\"serial\": \"%s\", \"profile\": null, "
                            "\"configured-profile\": \"%s\"}", serial, configured));
}

/* SacmeProfile: the certificate does not tell, issued.json does, for the
 * serial it names. */
START_TEST(test_drive_profile)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names,
            now - DAY, now + 89 * DAY);
    /* nothing recorded, nothing configured */
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    dom.profile = "shortlived";
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_PROFILE);
    /* ordered for it (from a CA without profiles: none was sent) */
    put_issued(d, serial_of(d->store, SACME_GROUP_DOMAINS), "shortlived");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    dom.profile = "tlsserver";
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_PROFILE);
    dom.profile = NULL;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_PROFILE);

    /* a staged set for the profile configured waits; one for another is
     * dropped */
    put_set(d->store, SACME_GROUP_STAGING, SACME_KEY_P256, dom.names,
            now - HOUR, now + 90 * DAY);
    put_issued(d, serial_of(d->store, SACME_GROUP_STAGING), "tlsserver");
    dom.profile = "tlsserver";
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_STAGED);
    dom.profile = "shortlived";
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_PROFILE);
    ck_assert(!sacme_store_has_set(d->store, unit_pool, SACME_GROUP_STAGING, NAME));
}
END_TEST

START_TEST(test_drive_renew)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* 10 of 90 days left, the window is the last third */
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names,
            now - 80 * DAY, now + 10 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_RENEW);

    /* with a 5-day window, the same certificate is not due yet */
    dom.renew_window.percent = 0;
    dom.renew_window.duration = 5 * DAY;
    d->check_interval = 400 * DAY;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(next > now + 4 * DAY && next <= now + 5 * DAY + apr_time_from_sec(1));
}
END_TEST

START_TEST(test_drive_staged)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* an old live certificate in its window, and a fitting staged set */
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names,
            now - 80 * DAY, now + 10 * DAY);
    put_set(d->store, SACME_GROUP_STAGING, SACME_KEY_P256, dom.names,
            now - HOUR, now + 90 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_STAGED);
    ck_assert(next > now);
    /* waiting is not consuming: the set is still there */
    ck_assert(sacme_store_has_set(d->store, unit_pool, SACME_GROUP_STAGING, NAME));
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_STAGED);
}
END_TEST

START_TEST(test_drive_staged_names_changed)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;
    const char *staged_chain;

    /* the live set fits; the staged one was made before a name was added */
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names,
            now - DAY, now + 89 * DAY);
    put_set(d->store, SACME_GROUP_STAGING, SACME_KEY_P256, unit_names(NAME, NULL),
            now - HOUR, now + 90 * DAY);
    staged_chain = file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_CHAIN);

    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(!sacme_file_exists(staged_chain, unit_pool));
    ck_assert(!sacme_store_has_set(d->store, unit_pool, SACME_GROUP_STAGING, NAME));
    /* the live set is untouched */
    ck_assert(sacme_store_has_set(d->store, unit_pool, SACME_GROUP_DOMAINS, NAME));
}
END_TEST

START_TEST(test_drive_staged_key_type_changed)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* no live set; the staged one has a P-384 key, P-256 is configured now */
    put_set(d->store, SACME_GROUP_STAGING, SACME_KEY_P384, dom.names,
            now - HOUR, now + 90 * DAY);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NO_CERT);
    ck_assert(!sacme_file_exists(file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_CHAIN),
                                 unit_pool));
}
END_TEST

START_TEST(test_drive_backoff)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;
    apr_int64_t at = apr_time_sec(now) + 2 * 3600;

    /* no certificate at all, but the last attempt failed: wait for the
     * time job.json names, even past the idle check interval */
    d->check_interval = HOUR;
    write_text(file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_JOB),
               apr_psprintf(unit_pool, "{\"errors\": 3, \"next-attempt\": %" APR_INT64_T_FMT
                            "}", at));
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(next == apr_time_from_sec(at));

    /* an order in progress waits too */
    write_text(file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_ORDER),
               "{\"url\": \"https://ca.test/order/1\"}");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(next == apr_time_from_sec(at));

    /* once the time has come, the work is there again */
    ck_assert_int_eq(check(d, &dom, apr_time_from_sec(at + 1), &next), SACME_WHY_RESUME);
    sacme_store_unstage(d->store, unit_pool, NAME, SACME_UNSTAGE_ORDER);
    ck_assert_int_eq(check(d, &dom, apr_time_from_sec(at + 1), &next), SACME_WHY_NO_CERT);
}
END_TEST

/* An admin's request goes past the error backoff once; when the attempt
 * made for it failed too (job.json newer than the request), the backoff
 * holds again, so a refused request is not retried at every pass. */
START_TEST(test_drive_request_passes_backoff_once)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;
    apr_int64_t at = apr_time_sec(now) + 2 * 3600;
    const char *job = file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_JOB);

    write_text(job, apr_psprintf(unit_pool, "{\"errors\": 1, \"next-attempt\": %"
                                 APR_INT64_T_FMT ", \"updated\": \"2020-01-01T00:00:00Z\"}",
                                 at));
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(sacme_request_renew(d->store, unit_pool, NAME, "forced", NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_REQUESTED);

    /* the attempt for it failed after the request was made */
    write_text(job, apr_psprintf(unit_pool, "{\"errors\": 2, \"next-attempt\": %"
                                 APR_INT64_T_FMT ", \"updated\": \"2999-01-01T00:00:00Z\"}",
                                 at));
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert(next == apr_time_from_sec(at));
    /* its time come, the request is still there to be done */
    ck_assert_int_eq(check(d, &dom, apr_time_from_sec(at + 1), &next), SACME_WHY_REQUESTED);
}
END_TEST

START_TEST(test_drive_resume)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_now(), next;

    /* an order in progress is resumed, even over a live set that is due */
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names,
            now - 80 * DAY, now + 10 * DAY);
    write_text(file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_ORDER),
               "{\"url\": \"https://ca.test/order/1\", \"server\": \"" DIR_URL "\"}");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_RESUME);
}
END_TEST

START_TEST(test_drive_why_str)
{
    static const sacme_why_t all[] = {
        SACME_WHY_NONE, SACME_WHY_STAGED, SACME_WHY_NO_CERT, SACME_WHY_NAMES,
        SACME_WHY_KEY_TYPE, SACME_WHY_RENEW, SACME_WHY_RESUME, SACME_WHY_REQUESTED,
        SACME_WHY_PROFILE,
    };
    apr_size_t i, k;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); ++i) {
        const char *s = sacme_why_str(all[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_gt((int)strlen(s), 0);
        for (k = 0; k < i; ++k) {
            ck_assert_str_ne(s, sacme_why_str(all[k]));
        }
    }
}
END_TEST

/* --- running: the failure path ------------------------------------------------- */

typedef struct {
    apr_array_header_t *lines;   /* const char * */
    apr_array_header_t *levels;  /* int */
    apr_array_header_t *rvs;     /* apr_status_t: what httpd would print first */
} captured_t;

static void capture(void *baton, sacme_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    captured_t *c = baton;

    APR_ARRAY_PUSH(c->lines, const char *) = apr_pstrdup(unit_pool, msg);
    APR_ARRAY_PUSH(c->levels, int) = (int)level;
    APR_ARRAY_PUSH(c->rvs, apr_status_t) = rv;
}

/* The status given with the first captured line containing needle (the
 * line must be there). */
static apr_status_t logged_rv(const captured_t *c, const char *needle)
{
    int i;

    for (i = 0; i < c->lines->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(c->lines, i, const char *), needle)) {
            return APR_ARRAY_IDX(c->rvs, i, apr_status_t);
        }
    }
    ck_abort_msg("no line with %s logged", needle);
    return APR_EGENERAL;
}

/* The first captured line containing needle, or NULL. */
static const char *logged(const captured_t *c, const char *needle, int *level)
{
    int i;

    for (i = 0; i < c->lines->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(c->lines, i, const char *), needle)) {
            if (level) {
                *level = APR_ARRAY_IDX(c->levels, i, int);
            }
            return APR_ARRAY_IDX(c->lines, i, const char *);
        }
    }
    return NULL;
}

/* How many captured lines contain needle. */
static int count_logged(const captured_t *c, const char *needle)
{
    int i, n = 0;

    for (i = 0; i < c->lines->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(c->lines, i, const char *), needle) != NULL;
    }
    return n;
}

/* Wires a driver to the fake CA, an EAB with the distinctive HMAC key, and
 * a log that keeps every line. */
static void go_fake(sacme_driver_t *d, unit_fake_t *fake, const unit_scripted_t *script, int n,
                    captured_t *cap)
{
    sacme_log_t *log = apr_pcalloc(unit_pool, sizeof(*log));
    sacme_eab_t *eab = NULL;

    d->http = unit_fake_http(fake, script, n);
    ck_assert_int_eq(sacme_eab_make(unit_pool, EAB_KID, HMAC_B64, SACME_HMAC_HS256, &eab,
                                    NULL), APR_SUCCESS);
    ck_assert_uint_eq(eab->hmac_len, strlen(HMAC_RAW));
    ck_assert(!memcmp(eab->hmac, HMAC_RAW, eab->hmac_len));
    d->ca->eab = eab;
    cap->lines = apr_array_make(unit_pool, 8, sizeof(const char *));
    cap->levels = apr_array_make(unit_pool, 8, sizeof(int));
    cap->rvs = apr_array_make(unit_pool, 8, sizeof(apr_status_t));
    log->fn = capture;
    log->baton = cap;
    log->max = SACME_LOG_TRACE;
    d->log = log;
}

static json_t *read_job(const sacme_driver_t *d)
{
    json_t *job = sacme_json_read_file(unit_pool, file_in(d->store, SACME_GROUP_STAGING,
                                                          SACME_FILE_JOB), 65536, NULL);
    ck_assert_ptr_nonnull(job);
    return job;
}

static apr_int64_t job_int(const json_t *job, const char *key)
{
    json_t *v = json_object_get(job, key);

    ck_assert_msg(json_is_integer(v), "job.json has no integer %s", key);
    return (apr_int64_t)json_integer_value(v);
}

static int contains(const char *data, apr_size_t len, const char *needle)
{
    apr_size_t n = strlen(needle), i;

    for (i = 0; i + n <= len; ++i) {
        if (!memcmp(data + i, needle, n)) {
            return 1;
        }
    }
    return 0;
}

/* Fails if any file under dir holds the HMAC key, raw or encoded. Returns
 * the number of files looked at. */
static int assert_no_secret(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int files = 0;

    if (apr_dir_open(&d, dir, unit_pool) != APR_SUCCESS) {
        return 0;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *path;
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
            continue;
        }
        path = apr_pstrcat(unit_pool, dir, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR) {
            files += assert_no_secret(path);
        }
        else if (fi.filetype == APR_REG) {
            char *data;
            apr_size_t len;
            ck_assert_int_eq(sacme_file_read(path, 4 * 1024 * 1024, unit_pool, &data, &len,
                                             NULL), APR_SUCCESS);
            ck_assert_msg(!contains(data, len, HMAC_RAW), "%s holds the HMAC key", path);
            ck_assert_msg(!contains(data, len, HMAC_B64), "%s holds the HMAC key", path);
            ++files;
        }
    }
    apr_dir_close(d);
    return files;
}

static void assert_log_has_no_secret(const captured_t *cap)
{
    ck_assert_ptr_null(logged(cap, HMAC_RAW, NULL));
    ck_assert_ptr_null(logged(cap, HMAC_B64, NULL));
}

START_TEST(test_drive_run_failure_backs_off)
{
    /* each run: the request and its two quick retries, all failing */
    static const unit_scripted_t script[] = {
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    json_t *job, *last;
    apr_time_t before, after, next;
    apr_int64_t first;
    const char *line;
    int level = 0;

    go_fake(d, &fake, script, 6, &cap);

    before = apr_time_now();
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    after = apr_time_now();
    ck_assert_int_eq(fake.next, 1 + SACME_MAX_QUICK_RETRIES);
    ck_assert_str_eq(fake.methods[0], "GET");
    ck_assert_str_eq(fake.urls[0], DIR_URL);

    job = read_job(d);
    ck_assert_int_eq(job_int(job, "errors"), 1);
    first = job_int(job, "next-attempt");
    /* the retry delay, give or take the 10% jitter */
    ck_assert_int_ge(first, apr_time_sec(before) + 54);
    ck_assert_int_le(first, apr_time_sec(after) + 67);
    last = json_object_get(job, "last");
    ck_assert_msg(json_is_object(last), "job.json lacks the last result");
    ck_assert_int_ne(json_integer_value(json_object_get(last, "status")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(last, "http-status")), 500);
    ck_assert_ptr_nonnull(sacme_json_str(last, "detail"));
    ck_assert_ptr_nonnull(strstr(sacme_json_str(last, "detail"), "directory"));
    ck_assert_ptr_nonnull(strstr(sacme_json_str(last, "detail"), "500"));

    line = logged(&cap, "SACME10024: ", &level);
    ck_assert_msg(line != NULL, "no SACME10024 line logged");
    ck_assert_int_eq(level, SACME_LOG_ERR);
    ck_assert_ptr_nonnull(strstr(line, NAME));
    ck_assert_ptr_nonnull(strstr(line, "500"));
    /* the CA's 500 speaks for itself: no "(NN)...: " prefix before the tag
     * (issue 11, defect 18) */
    ck_assert_int_eq(logged_rv(&cap, "SACME10024: "), 0);

    /* the decision honours the backoff */
    ck_assert_int_eq(check(d, &dom, after, &next), SACME_WHY_NONE);
    ck_assert(next == apr_time_from_sec(first));

    /* a second failure: two errors, twice the delay */
    sacme_result_reset(res);
    before = apr_time_now();
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    after = apr_time_now();
    ck_assert_int_eq(fake.next, 2 * (1 + SACME_MAX_QUICK_RETRIES));
    job = read_job(d);
    ck_assert_int_eq(job_int(job, "errors"), 2);
    ck_assert_int_ge(job_int(job, "next-attempt"), apr_time_sec(before) + 108);
    ck_assert_int_le(job_int(job, "next-attempt"), apr_time_sec(after) + 133);
    ck_assert_int_gt(job_int(job, "next-attempt"), first);

    /* nothing was staged, no secret anywhere */
    ck_assert(!sacme_store_has_set(d->store, unit_pool, SACME_GROUP_STAGING, NAME));
    ck_assert_int_gt(assert_no_secret(d->store->base), 0);
    assert_log_has_no_secret(&cap);
}
END_TEST

/* job.json cannot be written (here: a directory is in its place, which
 * stops the rename for root too): the backoff holds all the same, from the
 * driver's memory, and the log says so with the write error. Before, the
 * next look fell back to the check interval (12 h). */
START_TEST(test_drive_run_unsaved_job_keeps_backoff)
{
    static const unit_scripted_t script[] = {
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
        { 500, "Content-Type: text/html\n", "<html>internal error</html>" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *job_path;
    unit_fake_t fake;
    captured_t cap;
    apr_time_t before, after, next, first;
    const char *line;
    int level = 0;

    go_fake(d, &fake, script, 9, &cap);
    job_path = file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_JOB);
    ck_assert_int_eq(sacme_file_mkdirs(job_path, SACME_FPROT_DIR_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);

    before = apr_time_now();
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    after = apr_time_now();
    ck_assert_ptr_nonnull(logged(&cap, "SACME10024: ", NULL));
    line = logged(&cap, "SACME10200: ", &level);
    ck_assert_msg(line != NULL, "no SACME10200 line logged");
    ck_assert_int_eq(level, SACME_LOG_ERR);
    ck_assert_ptr_nonnull(strstr(line, NAME));
    ck_assert_ptr_nonnull(strstr(line, SACME_FILE_JOB));
    ck_assert_ptr_nonnull(strstr(line, "memory"));

    /* the next look is the backoff (60 s +-10%), not the 12 h interval */
    ck_assert_int_eq(check(d, &dom, after, &next), SACME_WHY_NONE);
    ck_assert_int_ge(next, before + apr_time_from_sec(54));
    ck_assert_int_le(next, after + apr_time_from_sec(67));
    first = next;
    /* and once it has passed, the domain is due again */
    ck_assert_int_eq(check(d, &dom, next + 1, &next), SACME_WHY_NO_CERT);

    /* a second failure still counts: twice the delay */
    sacme_result_reset(res);
    before = apr_time_now();
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    after = apr_time_now();
    ck_assert_int_eq(check(d, &dom, after, &next), SACME_WHY_NONE);
    ck_assert_int_ge(next, before + apr_time_from_sec(108));
    ck_assert_int_le(next, after + apr_time_from_sec(133));
    ck_assert_int_gt(next, first);

    /* once job.json can be written again, it is the truth again */
    ck_assert_int_eq(apr_dir_remove(job_path, unit_pool), APR_SUCCESS);
    ck_assert_int_eq(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool,
                                     sacme_result_make(unit_pool)) != APR_SUCCESS, 1);
    ck_assert_int_eq(job_int(read_job(d), "errors"), 3);
}
END_TEST

START_TEST(test_drive_run_backoff_capped)
{
    static const unit_scripted_t script[] = {
        { 503, "Content-Type: text/plain\n", "maintenance" },
        { 503, "Content-Type: text/plain\n", "maintenance" },
        { 503, "Content-Type: text/plain\n", "maintenance" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    json_t *job;
    apr_time_t before, after;

    go_fake(d, &fake, script, 3, &cap);
    d->retry_max = apr_time_from_sec(600);
    /* many failures before, the last one long ago */
    write_text(file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_JOB),
               "{\"errors\": 9, \"next-attempt\": 1000}");
    before = apr_time_now();
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    after = apr_time_now();
    job = read_job(d);
    ck_assert_int_eq(job_int(job, "errors"), 10);
    ck_assert_int_ge(job_int(job, "next-attempt"), apr_time_sec(before) + 600);
    ck_assert_int_le(job_int(job, "next-attempt"), apr_time_sec(after) + 601);
}
END_TEST

START_TEST(test_drive_run_config_error_waits_long)
{
    /* the CA requires EAB and none is configured: no use retrying soon */
    static const unit_scripted_t script[] = {
        { 200, "Content-Type: application/json\nReplay-Nonce: n1\n",
          "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
          "\"newOrder\":\"https://ca.test/order\",\"meta\":{\"externalAccountRequired\":true}}" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    json_t *job;
    apr_time_t before;

    go_fake(d, &fake, script, 1, &cap);
    d->ca->eab = NULL;
    before = apr_time_now();
    ck_assert_int_eq(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     SACME_ECONFIG);
    job = read_job(d);
    ck_assert_int_eq(job_int(job, "errors"), 1);
    ck_assert_int_ge(job_int(job, "next-attempt"), apr_time_sec(before) + 3600);
    ck_assert_ptr_nonnull(sacme_json_str(json_object_get(job, "last"), "detail"));
    ck_assert_ptr_nonnull(strstr(sacme_json_str(json_object_get(job, "last"), "detail"),
                                 "External Account Binding"));
    ck_assert_ptr_nonnull(logged(&cap, "SACME10024: ", NULL));
    /* SACME_ECONFIG means nothing to apr_strerror: not printed */
    ck_assert_int_eq(logged_rv(&cap, "SACME10024: "), 0);
}
END_TEST

START_TEST(test_drive_run_eab_secret_stays_out_of_store)
{
    /* the directory answers, registration (with EAB) fails at the CA */
    static const unit_scripted_t script[] = {
        { 200, "Content-Type: application/json\nReplay-Nonce: n1\n",
          "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
          "\"newOrder\":\"https://ca.test/order\",\"meta\":{\"externalAccountRequired\":true}}" },
        { 500, "Content-Type: application/problem+json\nReplay-Nonce: n2\n",
          "{\"type\":\"urn:ietf:params:acme:error:serverInternal\","
          "\"detail\":\"the EAB service is down\"}" },
        { 500, "Content-Type: application/problem+json\nReplay-Nonce: n3\n",
          "{\"type\":\"urn:ietf:params:acme:error:serverInternal\","
          "\"detail\":\"the EAB service is down\"}" },
        { 500, "Content-Type: application/problem+json\nReplay-Nonce: n4\n",
          "{\"type\":\"urn:ietf:params:acme:error:serverInternal\","
          "\"detail\":\"the EAB service is down\"}" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    json_t *job, *body, *payload;
    const char *detail;

    go_fake(d, &fake, script, 4, &cap);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, 2 + SACME_MAX_QUICK_RETRIES);
    ck_assert_str_eq(fake.urls[1], "https://ca.test/acct");

    /* the binding was sent (so the key was in use)... */
    body = sacme_json_parse(unit_pool, fake.bodies[1], strlen(fake.bodies[1]), 0, NULL);
    ck_assert_ptr_nonnull(body);
    {
        unsigned char *raw;
        apr_size_t len;
        ck_assert_int_eq(sacme_b64url_decode(unit_pool, sacme_json_str(body, "payload"),
                                             &raw, &len), APR_SUCCESS);
        payload = sacme_json_parse(unit_pool, (const char *)raw, len, 0, NULL);
    }
    ck_assert_ptr_nonnull(json_object_get(payload, "externalAccountBinding"));

    /* ...and recorded as a failure, with the CA's words */
    job = read_job(d);
    ck_assert_int_eq(job_int(job, "errors"), 1);
    detail = sacme_json_str(json_object_get(job, "last"), "detail");
    ck_assert_ptr_nonnull(detail);
    ck_assert_ptr_nonnull(strstr(detail, "the EAB service is down"));
    ck_assert_str_eq(sacme_json_str(json_object_get(job, "last"), "problem"),
                     "urn:ietf:params:acme:error:serverInternal");

    /* the account key was kept for the next attempt; the HMAC key is nowhere */
    ck_assert(sacme_file_exists(apr_pstrcat(unit_pool,
                                            sacme_store_path(d->store, unit_pool,
                                                             SACME_GROUP_ACCOUNTS,
                                                             sacme_store_account_name(
                                                                 unit_pool, DIR_URL, EAB_KID),
                                                             NULL),
                                            "/account.key", NULL), unit_pool));
    ck_assert_int_gt(assert_no_secret(d->store->base), 1);
    ck_assert_ptr_nonnull(logged(&cap, "SACME10024: ", NULL));
    /* an ACME problem is the cause, not the APR status it was mapped to */
    ck_assert_int_ne(res->status, 0);
    ck_assert_int_eq(logged_rv(&cap, "SACME10024: "), 0);
    assert_log_has_no_secret(&cap);
    ck_assert(strstr(sacme_result_message(res, unit_pool), HMAC_RAW) == NULL);
    ck_assert(strstr(sacme_result_message(res, unit_pool), HMAC_B64) == NULL);
}
END_TEST

/* The driver forgets the EAB key once the account is there; a registration
 * needed later in the same run fails with what to do, and sends nothing. */
START_TEST(test_drive_run_wipes_eab_once_registered)
{
    static const unit_scripted_t script[] = {
        { 200, "Content-Type: application/json\nReplay-Nonce: n1\n",
          "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
          "\"newOrder\":\"https://ca.test/order\",\"meta\":{\"externalAccountRequired\":true}}" },
        { 201, "Content-Type: application/json\nReplay-Nonce: n2\n"
               "Location: https://ca.test/acct/1\n", "{\"status\":\"valid\"}" },
        { 403, "Content-Type: application/problem+json\nReplay-Nonce: n3\n",
          "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
          "\"detail\":\"not today\"}" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    const unsigned char *bytes;
    const char *line, *dir;
    apr_size_t len, i;
    int level = 0, sent;

    go_fake(d, &fake, script, 3, &cap);
    bytes = d->ca->eab->hmac;
    len = d->ca->eab->hmac_len;
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, 3);
    ck_assert_str_eq(fake.urls[2], "https://ca.test/order");
    ck_assert_ptr_nonnull(logged(&cap, "SACME10007: ", NULL));

    /* registered: the key is gone from memory, the kid stays */
    ck_assert_ptr_null(d->ca->eab->hmac);
    ck_assert_uint_eq(d->ca->eab->hmac_len, 0);
    ck_assert_str_eq(d->ca->eab->kid, EAB_KID);
    for (i = 0; i < len; ++i) {
        ck_assert_msg(bytes[i] == 0, "byte %d of the key survived", (int)i);
    }
    line = logged(&cap, "SACME10143: ", &level);
    ck_assert_msg(line != NULL, "the wipe is not logged");
    ck_assert_int_eq(level, SACME_LOG_INFO);
    ck_assert_ptr_nonnull(strstr(line, EAB_KID));
    assert_log_has_no_secret(&cap);

    /* the account directory removed behind the driver's back: registering
     * again would need the key; it says so, and asks the CA nothing */
    dir = sacme_store_path(d->store, unit_pool, SACME_GROUP_ACCOUNTS,
                           sacme_store_account_name(unit_pool, DIR_URL, EAB_KID), NULL);
    ck_assert_int_eq(apr_file_remove(apr_pstrcat(unit_pool, dir, "/account.key", NULL),
                                     unit_pool), APR_SUCCESS);
    apr_file_remove(apr_pstrcat(unit_pool, dir, "/account.json", NULL), unit_pool);
    d->ca->account_url = NULL;
    d->ca->account_key = NULL;
    sent = fake.next;
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     SACME_ECONFIG);
    ck_assert_int_eq(fake.next, sent);
    ck_assert_ptr_nonnull(strstr(res->detail, "already used"));
    ck_assert_ptr_nonnull(strstr(res->detail, "graceful"));
    ck_assert(!sacme_file_exists(apr_pstrcat(unit_pool, dir, "/account.key", NULL),
                                 unit_pool));
}
END_TEST

/* The directory, a registration, and a new order that is ready at once
 * (authorizations already valid): the fake CA's first three answers. */
#define DIR_ANSWER \
    { 200, "Content-Type: application/json\nReplay-Nonce: n1\n", \
      "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\"," \
      "\"newOrder\":\"https://ca.test/order\"}" }
#define ACCOUNT_ANSWER \
    { 201, "Content-Type: application/json\nReplay-Nonce: n2\n" \
           "Location: https://ca.test/acct/1\n", "{\"status\":\"valid\"}" }
#define READY_ORDER(n, finalize) \
    { 201, "Content-Type: application/json\nReplay-Nonce: o" #n "\n" \
           "Location: https://ca.test/order/" #n "\n", \
      "{\"status\":\"ready\",\"identifiers\":[],\"authorizations\":[]," \
      "\"finalize\":\"" finalize "\"}" }

/* Issue 11, defect 6: after badPublicKey or badCSR the staged key (and the
 * order made for it) are dropped, so the next attempt makes a new key
 * instead of being refused forever. Any other refusal keeps both. */
START_TEST(test_drive_run_refused_key_is_dropped)
{
    static const unit_scripted_t script[] = {
        DIR_ANSWER,
        ACCOUNT_ANSWER,
        READY_ORDER(1, "https://ca.test/order/1/finalize"),
        { 400, "Content-Type: application/problem+json\nReplay-Nonce: n3\n",
          "{\"type\":\"urn:ietf:params:acme:error:badPublicKey\","
          "\"detail\":\"key is on the blocklist\"}" },
        /* the next attempt: a new order, a CSR of a new key, refused again */
        READY_ORDER(2, "https://ca.test/order/2/finalize"),
        { 400, "Content-Type: application/problem+json\nReplay-Nonce: n4\n",
          "{\"type\":\"urn:ietf:params:acme:error:badCSR\","
          "\"detail\":\"CSR is unacceptable\"}" },
        /* then a refusal that is not about the key: it stays */
        READY_ORDER(3, "https://ca.test/order/3/finalize"),
        { 403, "Content-Type: application/problem+json\nReplay-Nonce: n5\n",
          "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
          "\"detail\":\"not this name\"}" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *key_file = file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_KEY);
    const char *order_file = file_in(d->store, SACME_GROUP_STAGING, SACME_FILE_ORDER);
    unit_fake_t fake;
    captured_t cap;
    const char *line;

    go_fake(d, &fake, script, (int)SACME_ARRAY_LEN(script), &cap);

    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, 4);
    ck_assert_str_eq(fake.urls[3], "https://ca.test/order/1/finalize");
    ck_assert_str_eq(res->problem, "urn:ietf:params:acme:error:badPublicKey");
    ck_assert_msg(!sacme_file_exists(key_file, unit_pool),
                  "the refused key is still staged");
    ck_assert_msg(!sacme_file_exists(order_file, unit_pool),
                  "the order of the refused key is still recorded");
    line = logged(&cap, "SACME10190: ", NULL);
    ck_assert_msg(line != NULL, "dropping the key is not logged");
    ck_assert_ptr_nonnull(strstr(line, "badPublicKey"));
    ck_assert_ptr_nonnull(logged(&cap, "SACME10024: ", NULL));

    /* the next attempt orders anew (not the old order) with a new key */
    sacme_result_reset(res);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, 6);
    ck_assert_str_eq(fake.urls[4], "https://ca.test/order");
    ck_assert_str_eq(res->problem, "urn:ietf:params:acme:error:badCSR");
    ck_assert(!sacme_file_exists(key_file, unit_pool));
    ck_assert(!sacme_file_exists(order_file, unit_pool));

    /* another refusal: the key and the order are kept for the next attempt */
    sacme_result_reset(res);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, 8);
    ck_assert_str_eq(res->problem, "urn:ietf:params:acme:error:rejectedIdentifier");
    ck_assert(sacme_file_exists(key_file, unit_pool));
    ck_assert_int_eq(count_logged(&cap, "SACME10190: "), 2);
}
END_TEST

/* Issue 11, defect 11: a URL of the CA's answers that leaves the
 * directory's origin (another host, port or scheme) is neither signed for
 * nor sent to; the failure names it, with its own tag. */
START_TEST(test_drive_run_foreign_url_refused)
{
    static const char *const foreign[] = {
        "https://evil.test/order/1/finalize",       /* another host */
        "https://ca.test:8443/order/2/finalize",    /* another port */
        "http://ca.test/order/3/finalize",          /* another scheme */
    };
    static const unit_scripted_t script[] = {
        DIR_ANSWER,
        ACCOUNT_ANSWER,
        READY_ORDER(1, "https://evil.test/order/1/finalize"),
        READY_ORDER(2, "https://ca.test:8443/order/2/finalize"),
        READY_ORDER(3, "http://ca.test/order/3/finalize"),
        /* the same origin, spelt differently, is the same origin */
        READY_ORDER(4, "HTTPS://CA.test:443/order/4/finalize"),
        { 403, "Content-Type: application/problem+json\nReplay-Nonce: n5\n",
          "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
          "\"detail\":\"not this name\"}" },
    };
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    sacme_result_t *res = sacme_result_make(unit_pool);
    unit_fake_t fake;
    captured_t cap;
    apr_size_t i;
    int sent = 3;

    go_fake(d, &fake, script, (int)SACME_ARRAY_LEN(script), &cap);
    for (i = 0; i < SACME_ARRAY_LEN(foreign); ++i) {
        const char *line;

        sacme_result_reset(res);
        ck_assert_int_eq(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                         SACME_EFOREIGN);
        /* the order was made; nothing went to the foreign URL */
        ck_assert_int_eq(fake.next, sent);
        ck_assert_str_eq(fake.urls[sent - 1], "https://ca.test/order");
        ck_assert_msg(strstr(res->detail, foreign[i]) != NULL,
                      "the failure does not name %s: %s", foreign[i], res->detail);
        line = logged(&cap, foreign[i], NULL);
        ck_assert_ptr_nonnull(line);
        ck_assert_ptr_nonnull(strstr(line, "SACME10191: "));
        ck_assert_int_eq(logged_rv(&cap, "SACME10024: "), 0);
        /* start over with a new order (an order URL on the CA's origin is
         * resumed otherwise) */
        sacme_store_unstage(d->store, unit_pool, NAME, SACME_UNSTAGE_ORDER);
        ++sent;
    }
    sacme_result_reset(res);
    ck_assert_int_ne(sacme_drive_run(d, &dom, SACME_WHY_NO_CERT, unit_pool, res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake.next, sent + 1);
    ck_assert_str_eq(fake.urls[sent], "HTTPS://CA.test:443/order/4/finalize");
    ck_assert_str_eq(res->problem, "urn:ietf:params:acme:error:rejectedIdentifier");
}
END_TEST

/* --- ARI (the CA's renewal information) -------------------------------------- */

/* The serial of the live certificate. */
static const char *live_serial(sacme_driver_t *d)
{
    sacme_chain_t *chain;
    sacme_cert_info_t *info;

    ck_assert_int_eq(sacme_store_load_leaf(d->store, unit_pool, SACME_GROUP_DOMAINS, NAME,
                                           &chain, NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_cert_info(unit_pool, APR_ARRAY_IDX(chain->certs, 0, X509 *),
                                     &info), APR_SUCCESS);
    return info->serial;
}

static void put_ari(sacme_driver_t *d, const char *serial, apr_time_t renew_at,
                    apr_time_t next_poll, const char *error)
{
    json_t *j = sacme_json_own(unit_pool, json_object());

    json_object_set_new(j, "serial", json_string(serial));
    if (renew_at) {
        json_object_set_new(j, "renew-at",
                            json_string(sacme_time_rfc3339(unit_pool, renew_at)));
    }
    json_object_set_new(j, "next-poll", json_string(sacme_time_rfc3339(unit_pool, next_poll)));
    if (error) {
        json_object_set_new(j, "error", json_string(error));
    }
    ck_assert_int_eq(sacme_store_state_save(d->store, unit_pool, SACME_STATE_ARI, NAME, j,
                                            NULL), APR_SUCCESS);
}

/* A live certificate never polled is polled first; what the CA said then
 * decides, and the next poll is a time to look again; a record about
 * another certificate is stale. */
START_TEST(test_drive_ari_decides)
{
    sacme_domain_t dom;
    sacme_driver_t *d = new_driver(&dom);
    apr_time_t now = apr_time_sec(apr_time_now()) * APR_USEC_PER_SEC, next;
    apr_time_t nb = now - apr_time_from_sec(60), na = nb + 90 * DAY;
    sacme_renewal_t ren;
    const char *serial;

    dom.ari_off = 0;
    put_set(d->store, SACME_GROUP_DOMAINS, SACME_KEY_P256, dom.names, nb, na);
    serial = live_serial(d);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_ARI);

    /* the CA's time, later than the local window; the poll comes first */
    put_ari(d, serial, now + 80 * DAY, now + 6 * HOUR, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(next, now + 6 * HOUR);
    sacme_drive_renewal(d->store, &dom, &(sacme_cert_info_t){
                            .serial = serial, .not_before = nb, .not_after = na },
                        now, unit_pool, &ren);
    ck_assert_str_eq(ren.source, "ari");
    ck_assert_int_eq(ren.renew_at, now + 80 * DAY);
    ck_assert_int_eq(check(d, &dom, now + 6 * HOUR, &next), SACME_WHY_ARI);

    /* the CA's time, sooner than the next poll */
    put_ari(d, serial, now + HOUR, now + 6 * HOUR, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(next, now + HOUR);

    /* a window in the past: due at once */
    put_ari(d, serial, now - HOUR, now + 6 * HOUR, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_RENEW);

    /* the last poll failed, and no answer ever gave a time: the local
     * window, and the poll's time */
    put_ari(d, serial, 0, now + HOUR, "HTTP 500");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    ck_assert_int_eq(next, now + HOUR);

    /* a failed poll keeps the time an earlier answer gave (record_failure
     * carries it over): the CA's word still holds, here due at once */
    put_ari(d, serial, now - HOUR, now + HOUR, "HTTP 500");
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_RENEW);

    /* a time after the expiry is not followed */
    put_ari(d, serial, na + DAY, now + 6 * HOUR, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
    sacme_drive_renewal(d->store, &dom, &(sacme_cert_info_t){
                            .serial = serial, .not_before = nb, .not_after = na },
                        now, unit_pool, &ren);
    ck_assert_str_eq(ren.source, "window");
    ck_assert(ren.renew_at < na);

    /* about another certificate: polled again */
    put_ari(d, "01", now + 80 * DAY, now + 6 * HOUR, NULL);
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_ARI);

    /* SacmeARI off: never polled, the record is not used */
    put_ari(d, serial, now - HOUR, now - HOUR, NULL);
    dom.ari_off = 1;
    ck_assert_int_eq(check(d, &dom, now, &next), SACME_WHY_NONE);
}
END_TEST

Suite *unit_suite_drive(void)
{
    Suite *s = suite_create("drive");
    TCase *tc = tcase_create("check");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_drive_no_cert);
    tcase_add_test(tc, test_drive_check_interval_saturates);
    tcase_add_test(tc, test_drive_fresh);
    tcase_add_test(tc, test_drive_jitter_spreads);
    tcase_add_test(tc, test_drive_window_clamped);
    tcase_add_test(tc, test_drive_names);
    tcase_add_test(tc, test_drive_key_type);
    tcase_add_test(tc, test_drive_profile);
    tcase_add_test(tc, test_drive_renew);
    tcase_add_test(tc, test_drive_ari_decides);
    tcase_add_test(tc, test_drive_staged);
    tcase_add_test(tc, test_drive_staged_names_changed);
    tcase_add_test(tc, test_drive_staged_key_type_changed);
    tcase_add_test(tc, test_drive_backoff);
    tcase_add_test(tc, test_drive_request_passes_backoff_once);
    tcase_add_test(tc, test_drive_resume);
    tcase_add_test(tc, test_drive_why_str);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    /* failures include the quick retries of transient faults (about 2 s each) */
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_drive_run_failure_backs_off);
    tcase_add_test(tc, test_drive_run_unsaved_job_keeps_backoff);
    tcase_add_test(tc, test_drive_run_backoff_capped);
    tcase_add_test(tc, test_drive_run_config_error_waits_long);
    tcase_add_test(tc, test_drive_run_eab_secret_stays_out_of_store);
    tcase_add_test(tc, test_drive_run_wipes_eab_once_registered);
    tcase_add_test(tc, test_drive_run_refused_key_is_dropped);
    tcase_add_test(tc, test_drive_run_foreign_url_refused);
    suite_add_tcase(s, tc);
    return s;
}
