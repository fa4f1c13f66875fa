/* Unit tests: the EAB key as a secret in memory (sacme_eab_read_file,
 * sacme_eab_copy, sacme_eab_wipe, sacme_eab_check_key). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_b64.h"
#include "sacme_eab.h"
#include "sacme_file.h"
#include "sacme_json.h"

/* 40 characters that decode to 30 bytes; a leak is any 6-character run. */
#define SECRET "S3cr3tValueThatMustNeverLeak0123456789AB"
#define NEW_ACCOUNT "https://ca.example/acme/new-acct"

static const char *eab_file(const char *text)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/eab.json", NULL);

    unit_write_text(path, text, SACME_FPROT_PRIVATE);
    return path;
}

static const unsigned char *decoded(apr_size_t *len)
{
    unsigned char *raw;

    ck_assert_int_eq(sacme_b64url_decode(unit_pool, SECRET, &raw, len), APR_SUCCESS);
    return raw;
}

static void assert_no_piece_of_secret(const char *text)
{
    apr_size_t i;

    for (i = 0; i + 6 <= strlen(SECRET); ++i) {
        const char *piece = apr_pstrndup(unit_pool, SECRET + i, 6);
        ck_assert_msg(!strstr(text, piece), "the message leaks the key: %s", text);
    }
}

START_TEST(read_file_fields)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    const char *path = eab_file("{\"kid\": \"kid-7\", \"hmac\": \"" SECRET "\", "
                                "\"alg\": \"HS384\"}\n");
    apr_size_t len;
    const unsigned char *raw = decoded(&len);

    ck_assert_int_eq(sacme_eab_read_file(unit_pool, path, &eab, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(eab);
    ck_assert_str_eq(eab->kid, "kid-7");
    ck_assert_int_eq(eab->alg, SACME_HMAC_HS384);
    ck_assert_str_eq(eab->file, path);
    ck_assert_uint_eq(eab->hmac_len, len);
    ck_assert_mem_eq(eab->hmac, raw, len);
}
END_TEST

START_TEST(read_file_default_alg_and_lenient_key)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    unsigned char key[32];
    const char *text;

    /* no "alg"; the key padded ("=") and surrounded by blanks, as pasted
     * from a portal; a member the reader does not know */
    memset(key, 0xab, sizeof(key));
    text = apr_psprintf(unit_pool, "{\"hmac\": \"  %s=\\n\", \"kid\": \"k\", "
                        "\"comment\": {\"from\": \"SCM\"}}",
                        sacme_b64url_encode(unit_pool, key, sizeof(key)));
    ck_assert_int_eq(sacme_eab_read_file(unit_pool, eab_file(text), &eab, res),
                     APR_SUCCESS);
    ck_assert_str_eq(eab->kid, "k");
    ck_assert_int_eq(eab->alg, SACME_HMAC_HS256);
    ck_assert_uint_eq(eab->hmac_len, sizeof(key));
    ck_assert_mem_eq(eab->hmac, key, sizeof(key));
}
END_TEST

/* A refused file: APR_EINVAL-like failure, no EAB, a message that names the
 * file and says why (contains why), and no piece of the key. */
static void check_refused(const char *text, const char *why)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = (sacme_eab_t *)1;
    const char *path = eab_file(text), *msg;

    ck_assert_msg(sacme_eab_read_file(unit_pool, path, &eab, res) != APR_SUCCESS,
                  "accepted: %s", text);
    ck_assert_ptr_null(eab);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_msg(strstr(msg, "EAB file") && strstr(msg, path),
                  "the message does not name the EAB file: %s", msg);
    ck_assert_msg(strstr(msg, why), "the message '%s' does not say '%s'", msg, why);
    assert_no_piece_of_secret(msg);
}

START_TEST(read_file_refuses_without_leaking)
{
    check_refused("{\"kid\": \"k\", \"hmac\": \"" SECRET, "not valid JSON");
    check_refused("{\"kid\": \"k\", \"hmac\": " SECRET "}", "not valid JSON");
    check_refused("{\"kid\": \"k\", \"hmac\": \"" SECRET "\"} " SECRET, "not valid JSON");
    check_refused("[\"" SECRET "\"]", "\"kid\" and \"hmac\"");
    check_refused("\"" SECRET "\"", "not valid JSON");
    check_refused("{\"hmac\": \"" SECRET "\"}", "\"kid\" and \"hmac\"");
    check_refused("{\"kid\": \"\", \"hmac\": \"" SECRET "\"}", "\"kid\" and \"hmac\"");
    check_refused("{\"kid\": \"k\"}", "\"kid\" and \"hmac\"");
    check_refused("{\"kid\": \"k\", \"hmac\": 42}", "\"kid\" and \"hmac\"");
    check_refused("{\"kid\": \"k\", \"hmac\": \"" SECRET "\", \"alg\": \"RS256\"}",
                  "\"alg\"");
    check_refused("{\"kid\": \"k\", \"hmac\": \"" SECRET "\", \"alg\": 256}", "\"alg\"");
    check_refused("{\"kid\": \"k\", \"hmac\": \"S3cr3tValue!hatMustNeverLeak0123456789AB\"}",
                  "not base64");
    check_refused("{\"kid\": \"k\", \"hmac\": \"" SECRET "\", \"hmac\": \"" SECRET "\"}",
                  "not valid JSON");
    check_refused("", "empty");
}
END_TEST

START_TEST(read_file_missing_or_not_a_file)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    const char *missing = apr_pstrcat(unit_pool, unit_tmpdir(), "/none.json", NULL);
    const char *head = "{\"kid\":\"k\",\"hmac\":\"" SECRET "\"}";
    char *big;

    ck_assert_int_ne(sacme_eab_read_file(unit_pool, missing, &eab, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), missing));
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), "EAB file"));
    ck_assert_int_ne(sacme_eab_read_file(unit_pool, unit_tmpdir(), &eab, res), APR_SUCCESS);
    ck_assert_ptr_null(eab);

    /* bounded: a file larger than any EAB file is not read */
    big = apr_palloc(unit_pool, SACME_EAB_FILE_MAX + 2);
    memset(big, ' ', SACME_EAB_FILE_MAX + 1);
    big[SACME_EAB_FILE_MAX + 1] = '\0';
    memcpy(big, head, strlen(head));
    ck_assert_int_ne(sacme_eab_read_file(unit_pool, eab_file(big), &eab, res), APR_SUCCESS);
    assert_no_piece_of_secret(sacme_result_message(res, unit_pool));
}
END_TEST

/* An allocator of the test's own, to see that the reader swaps jansson's
 * allocator only while it parses and puts back whatever was there. */
static int counted;

static void *counting_malloc(size_t n)
{
    ++counted;
    return malloc(n);
}

static void counting_free(void *ptr)
{
    free(ptr);
}

START_TEST(read_file_restores_the_allocator)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    json_malloc_t m, saved_m;
    json_free_t f, saved_f;
    json_t *before, *after;
    const char *good = eab_file("{\"kid\": \"k\", \"hmac\": \"" SECRET "\"}");
    int n;

    json_get_alloc_funcs(&saved_m, &saved_f);
    json_set_alloc_funcs(counting_malloc, counting_free);
    counted = 0;
    before = json_string("allocated before");
    ck_assert_int_gt(counted, 0);
    n = counted;
    ck_assert_int_eq(sacme_eab_read_file(unit_pool, good, &eab, res), APR_SUCCESS);
    /* the parse did not use the caller's allocator: it had its own */
    ck_assert_int_eq(counted, n);
    ck_assert_int_ne(sacme_eab_read_file(unit_pool, eab_file("{\"kid\": 1"), &eab, res),
                     APR_SUCCESS);
    ck_assert_int_eq(counted, n);
    json_get_alloc_funcs(&m, &f);
    ck_assert(m == counting_malloc && f == counting_free);
    /* and both sides free what they allocated */
    after = json_string("allocated after");
    ck_assert_int_gt(counted, n);
    json_decref(before);
    json_decref(after);
    json_set_alloc_funcs(saved_m, saved_f);
}
END_TEST

START_TEST(wipe_zeroes_and_forgets)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    sacme_key_t *key;
    json_t *jws = NULL;
    const unsigned char *bytes;
    apr_size_t len, i;
    const char *msg;

    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-w", SECRET, SACME_HMAC_HS512, &eab,
                                    res), APR_SUCCESS);
    ck_assert_int_eq(sacme_eab_check_key(eab, res), APR_SUCCESS);
    bytes = eab->hmac;
    len = eab->hmac_len;
    ck_assert_uint_eq(len, 30);
    sacme_eab_wipe(eab);
    /* the bytes are still the pool's: they read as zeros now */
    for (i = 0; i < len; ++i) {
        ck_assert_msg(bytes[i] == 0, "byte %d of the key survived the wipe", (int)i);
    }
    ck_assert_ptr_null(eab->hmac);
    ck_assert_uint_eq(eab->hmac_len, 0);
    ck_assert_str_eq(eab->kid, "kid-w");
    ck_assert_int_eq(eab->alg, SACME_HMAC_HS512);
    sacme_eab_wipe(eab);                 /* twice, and NULL: no harm */
    sacme_eab_wipe(NULL);

    /* a registration with it now fails cleanly, saying what to do */
    ck_assert_int_eq(sacme_eab_check_key(eab, res), SACME_ECONFIG);
    ck_assert_int_eq(sacme_key_generate(unit_pool, SACME_KEY_P256, &key, res), APR_SUCCESS);
    sacme_result_reset(res);
    ck_assert_int_eq(sacme_eab_jws(unit_pool, eab, key, NEW_ACCOUNT, &jws, res),
                     SACME_ECONFIG);
    ck_assert_ptr_null(jws);
    msg = sacme_result_message(res, unit_pool);
    ck_assert_ptr_nonnull(strstr(msg, "kid-w"));
    ck_assert_ptr_nonnull(strstr(msg, "already used"));
    ck_assert_ptr_nonnull(strstr(msg, "graceful"));
}
END_TEST

START_TEST(wiped_key_from_file_names_the_file)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL;
    const char *path = eab_file("{\"kid\": \"kid-f\", \"hmac\": \"" SECRET "\"}");

    ck_assert_int_eq(sacme_eab_read_file(unit_pool, path, &eab, res), APR_SUCCESS);
    sacme_eab_wipe(eab);
    ck_assert_int_eq(sacme_eab_check_key(eab, res), SACME_ECONFIG);
    ck_assert_ptr_nonnull(strstr(res->detail, path));
    ck_assert_ptr_nonnull(strstr(res->detail, "kid-f"));
}
END_TEST

START_TEST(copy_is_independent)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_eab_t *eab = NULL, *copy;
    apr_size_t len;
    const unsigned char *raw = decoded(&len);

    ck_assert_ptr_null(sacme_eab_copy(unit_pool, NULL));
    ck_assert_int_eq(sacme_eab_make(unit_pool, "kid-c", SECRET, SACME_HMAC_HS384, &eab,
                                    res), APR_SUCCESS);
    copy = sacme_eab_copy(unit_pool, eab);
    ck_assert_ptr_ne(copy->hmac, eab->hmac);
    ck_assert_str_eq(copy->kid, "kid-c");
    ck_assert_int_eq(copy->alg, SACME_HMAC_HS384);
    ck_assert_uint_eq(copy->hmac_len, len);
    ck_assert_mem_eq(copy->hmac, raw, len);
    sacme_eab_wipe(copy);
    ck_assert_mem_eq(eab->hmac, raw, len);
}
END_TEST

Suite *unit_suite_eab_secret(void)
{
    Suite *s = suite_create("eab_secret");
    TCase *tc = tcase_create("eab_secret");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, read_file_fields);
    tcase_add_test(tc, read_file_default_alg_and_lenient_key);
    tcase_add_test(tc, read_file_refuses_without_leaking);
    tcase_add_test(tc, read_file_missing_or_not_a_file);
    tcase_add_test(tc, read_file_restores_the_allocator);
    tcase_add_test(tc, wipe_zeroes_and_forgets);
    tcase_add_test(tc, wiped_key_from_file_names_the_file);
    tcase_add_test(tc, copy_is_independent);
    suite_add_tcase(s, tc);
    return s;
}
