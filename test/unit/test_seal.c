/* Unit tests: sacme_seal (the cluster key file, sealing and opening). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_b64.h"
#include "sacme_file.h"
#include "sacme_seal.h"

/* The bytes 0..31, as `openssl rand -base64 32` would write them. */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
/* Its id: the first 8 bytes of HMAC-SHA256(key, "sacme key id"), computed
 * apart from this code (Python's hmac). */
#define KEY_ID "541817af02456949"
#define CONTEXT "/sacme/prod/staging/www.example.org/privkey.pem"

/* Sealed by Python's cryptography (AESGCM) for the key above, nonce
 * 100..111, context CONTEXT, following the documented format: a node of
 * another build must open what this one seals. */
#define VECTOR "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:" \
               "KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q"
#define VECTOR_PLAIN "a fixed vector\n"

static const char *key_file(const char *name, const char *text, mode_t mode)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);

    unit_write_text(path, text, SACME_FPROT_PRIVATE);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static sacme_seal_key_t *key_of(unsigned char first)
{
    unsigned char bytes[SACME_SEAL_KEY_LEN];
    sacme_seal_key_t *key = NULL;
    int i;

    for (i = 0; i < SACME_SEAL_KEY_LEN; ++i) {
        bytes[i] = (unsigned char)(first + i);
    }
    ck_assert_int_eq(sacme_seal_key_make(unit_pool, bytes, sizeof(bytes), &key, NULL),
                     APR_SUCCESS);
    return key;
}

static const char *seal(const sacme_seal_key_t *key, const char *context,
                        const char *plain)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *text = NULL;

    ck_assert_msg(sacme_seal(unit_pool, key, context, plain, strlen(plain), &text, res)
                  == APR_SUCCESS, "seal: %s", sacme_result_message(res, unit_pool));
    return text;
}

/* Opens text, expecting rv; the result's message. */
static const char *open_expect(const sacme_seal_key_t *key, const char *context,
                               const char *text, apr_status_t want, const char *plain)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    unsigned char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv = sacme_seal_open(unit_pool, key, context, text, &data, &len, res);

    ck_assert_msg(rv == want, "opening '%s': status %d, wanted %d (%s)", text, rv, want,
                  sacme_result_message(res, unit_pool));
    if (plain) {
        ck_assert_uint_eq(len, strlen(plain));
        ck_assert_str_eq((const char *)data, plain);
    }
    return sacme_result_message(res, unit_pool);
}

/* --- sealing ----------------------------------------------------------------- */

START_TEST(seal_round_trip)
{
    sacme_seal_key_t *key = key_of(0);
    const char *pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG\n"
                      "-----END PRIVATE KEY-----\n";
    const char *a = seal(key, CONTEXT, pem), *b = seal(key, CONTEXT, pem);

    ck_assert_str_eq(sacme_seal_key_id(key), KEY_ID);
    ck_assert_msg(!strncmp(a, "sacme-seal-1:" KEY_ID ":", 30), "%s", a);
    ck_assert(sacme_seal_is_sealed(a));
    ck_assert_ptr_null(strstr(a, "PRIVATE"));
    /* a fresh nonce each time: the same value seals to another text */
    ck_assert_str_ne(a, b);
    open_expect(key, CONTEXT, a, APR_SUCCESS, pem);
    open_expect(key, CONTEXT, b, APR_SUCCESS, pem);
    /* nothing at all is a value too */
    open_expect(key, CONTEXT, seal(key, CONTEXT, ""), APR_SUCCESS, "");
}
END_TEST

START_TEST(seal_opens_the_reference_vector)
{
    open_expect(key_of(0), CONTEXT, VECTOR, APR_SUCCESS, VECTOR_PLAIN);
}
END_TEST

/* text with one byte of field (2: nonce, 3: ciphertext and tag) flipped
 * at offset (from the end when negative), encoded again; with cut, that
 * field's last cut bytes dropped instead. */
static const char *changed(const char *text, int field, int offset, apr_size_t cut)
{
    char **parts = apr_palloc(unit_pool, 4 * sizeof(char *));
    char *copy = apr_pstrdup(unit_pool, text), *last;
    unsigned char *raw;
    apr_size_t len;
    int i;

    for (i = 0; i < 4; ++i) {
        parts[i] = apr_strtok(i ? NULL : copy, ":", &last);
        ck_assert_ptr_nonnull(parts[i]);
    }
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, parts[field], &raw, &len), APR_SUCCESS);
    if (cut) {
        len -= cut;
    }
    else {
        raw[offset < 0 ? (int)len + offset : offset] ^= 0x01;
    }
    parts[field] = (char *)sacme_b64url_encode(unit_pool, raw, len);
    return apr_pstrcat(unit_pool, parts[0], ":", parts[1], ":", parts[2], ":", parts[3],
                       NULL);
}

START_TEST(seal_refuses_a_changed_byte)
{
    sacme_seal_key_t *key = key_of(0);
    const char *text = seal(key, CONTEXT, "the account key");

    open_expect(key, CONTEXT, changed(text, 2, 0, 0), SACME_ESEAL, NULL);      /* nonce */
    open_expect(key, CONTEXT, changed(text, 2, -1, 0), SACME_ESEAL, NULL);
    open_expect(key, CONTEXT, changed(text, 3, 0, 0), SACME_ESEAL, NULL);      /* ciphertext */
    open_expect(key, CONTEXT, changed(text, 3, 5, 0), SACME_ESEAL, NULL);
    open_expect(key, CONTEXT, changed(text, 3, -16, 0), SACME_ESEAL, NULL);    /* tag */
    open_expect(key, CONTEXT, changed(text, 3, -1, 0), SACME_ESEAL, NULL);
    /* cut short: the tag is then taken from the ciphertext */
    open_expect(key, CONTEXT, changed(text, 3, 0, 3), SACME_ESEAL, NULL);
    /* and the text itself still opens */
    open_expect(key, CONTEXT, text, APR_SUCCESS, "the account key");
}
END_TEST

START_TEST(seal_refuses_another_context)
{
    sacme_seal_key_t *key = key_of(0);
    const char *text = seal(key, CONTEXT, "secret");
    const char *msg = open_expect(key, "/sacme/prod/staging/other.example/privkey.pem",
                                  text, SACME_ESEAL, NULL);

    ck_assert_msg(strstr(msg, "other.example/privkey.pem") && strstr(msg, "another name"),
                  "%s", msg);
    ck_assert_ptr_null(strstr(msg, "secret"));
    open_expect(key, "", text, SACME_ESEAL, NULL);
    open_expect(key, CONTEXT "x", text, SACME_ESEAL, NULL);
}
END_TEST

START_TEST(seal_refuses_another_key_by_its_id)
{
    sacme_seal_key_t *mine = key_of(0), *theirs = key_of(1);
    const char *text = seal(theirs, CONTEXT, "secret");
    const char *msg = open_expect(mine, CONTEXT, text, SACME_ESEALKEY, NULL);

    ck_assert_str_ne(sacme_seal_key_id(theirs), KEY_ID);
    ck_assert_msg(strstr(msg, sacme_seal_key_id(theirs)) && strstr(msg, KEY_ID)
                  && strstr(msg, "SacmeClusterKey") && strstr(msg, CONTEXT), "%s", msg);
}
END_TEST

/* The key id in the header is authenticated: a text relabelled with the
 * id of the key that opens it still does not open. */
START_TEST(seal_refuses_a_relabelled_key_id)
{
    sacme_seal_key_t *mine = key_of(0), *theirs = key_of(1);
    const char *text = seal(theirs, CONTEXT, "secret");
    char *relabelled = apr_pstrdup(unit_pool, text);

    memcpy(relabelled + 13, KEY_ID, SACME_SEAL_KEY_ID_LEN);
    open_expect(mine, CONTEXT, relabelled, SACME_ESEAL, NULL);
}
END_TEST

START_TEST(seal_refuses_malformed_texts)
{
    sacme_seal_key_t *key = key_of(0);
    static const char *const bad_forms[] = {
        "",
        "sacme-seal-1",
        "sacme-seal-1:",
        "-----BEGIN PRIVATE KEY-----",
        "sacme-seal-2:541817af02456949:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817AF02456949:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817af0245694:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v",
        "sacme-seal-1:541817af02456949ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
    };
    /* the header is right, a field is not */
    static const char *const bad_fields[] = {
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5vcA:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q=",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q:",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:KTu4Dw+MMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:KTu4DwGMMr5IBzyctRdg",    /* < tag */
        "sacme-seal-1:541817af02456949:ZGVmZ2hpamtsbW5v:",
        "sacme-seal-1:541817af02456949::KTu4DwGMMr5IBzyctRdgTXPQ5lteW19jsOhdfWmj8Q",
    };
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(bad_forms); ++i) {
        const char *msg = open_expect(key, CONTEXT, bad_forms[i], APR_EINVAL, NULL);
        ck_assert_msg(!sacme_seal_is_sealed(bad_forms[i]), "%s", bad_forms[i]);
        ck_assert_msg(strstr(msg, "not a sealed value"), "%s", msg);
    }
    for (i = 0; i < SACME_ARRAY_LEN(bad_fields); ++i) {
        open_expect(key, CONTEXT, bad_fields[i], APR_EINVAL, NULL);
    }
    ck_assert(!sacme_seal_is_sealed(NULL));
    open_expect(key, CONTEXT, NULL, APR_EINVAL, NULL);
}
END_TEST

START_TEST(seal_needs_a_key_and_a_context)
{
    sacme_seal_key_t *key = key_of(0);
    const char *text = seal(key, CONTEXT, "x");
    sacme_result_t *res = sacme_result_make(unit_pool);
    const char *out;

    ck_assert_int_eq(sacme_seal(unit_pool, key, NULL, "x", 1, &out, res), APR_EINVAL);
    ck_assert_int_eq(sacme_seal_key_make(unit_pool, (const unsigned char *)"short", 5,
                                         &key, res), APR_EINVAL);
    sacme_seal_key_wipe(key);
    sacme_seal_key_wipe(key);
    ck_assert_int_eq(sacme_seal(unit_pool, key, CONTEXT, "x", 1, &out, res), APR_EINVAL);
    open_expect(key, CONTEXT, text, APR_EINVAL, NULL);
    sacme_seal_key_wipe(NULL);
}
END_TEST

/* --- the key file ------------------------------------------------------------ */

static apr_status_t read_key(const char *path, sacme_seal_key_t **key, const char **msg)
{
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_status_t rv = sacme_seal_key_read(unit_pool, path, geteuid(), key, res);

    *msg = sacme_result_message(res, unit_pool);
    return rv;
}

static void assert_key_file_ok(const char *text)
{
    sacme_seal_key_t *key = NULL;
    const char *msg;

    ck_assert_msg(read_key(key_file("key", text, 0600), &key, &msg) == APR_SUCCESS,
                  "'%s': %s", text, msg);
    ck_assert_str_eq(sacme_seal_key_id(key), KEY_ID);
}

START_TEST(seal_key_file_good)
{
    assert_key_file_ok(KEY_B64 "\n");                                /* openssl's */
    assert_key_file_ok(KEY_B64);
    assert_key_file_ok(KEY_B64 "\r\n");
    assert_key_file_ok("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"); /* unpadded */
    /* read-only for its owner is fine too */
    {
        sacme_seal_key_t *key;
        const char *msg;
        ck_assert_int_eq(read_key(key_file("ro", KEY_B64 "\n", 0400), &key, &msg),
                         APR_SUCCESS);
    }
}
END_TEST

static void assert_key_file_refused(const char *path, apr_status_t want,
                                    const char *needle)
{
    sacme_seal_key_t *key = NULL;
    const char *msg;
    apr_status_t rv = read_key(path, &key, &msg);

    ck_assert_msg(rv == want, "%s: status %d, wanted %d: %s", path, rv, want, msg);
    ck_assert_ptr_null(key);
    ck_assert_msg(strstr(msg, path), "the message names no file: %s", msg);
    ck_assert_msg(strstr(msg, needle), "'%s' not in: %s", needle, msg);
    /* never a piece of the key */
    ck_assert_msg(!strstr(msg, "AAECAwQF") && !strstr(msg, "GBkaGxwd"), "%s", msg);
}

START_TEST(seal_key_file_wrong_content)
{
    static const char *const texts[] = {
        "",
        "\n",
        "AAECAwQFBgcICQoLDA0ODw==\n",                           /* 16 bytes */
        KEY_B64 KEY_B64 "\n",                                   /* two keys */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n",   /* 34 bytes */
        KEY_B64 "\n" KEY_B64 "\n",                              /* two lines */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x\n",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h+=\n",       /* mixed alphabets */
        "{\"key\": \"" KEY_B64 "\"}\n",
    };
    size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(texts); ++i) {
        assert_key_file_refused(key_file(apr_psprintf(unit_pool, "k%d", (int)i), texts[i],
                                         0600),
                                SACME_ECONFIG, "openssl rand -base64 32");
    }
    assert_key_file_refused(key_file("short", "AAECAwQFBgcICQoLDA0ODw==\n", 0600),
                            SACME_ECONFIG, "decodes to 16");
    {   /* a NUL inside */
        const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/nul", NULL);
        char text[] = KEY_B64 "\n";
        text[10] = '\0';
        ck_assert_int_eq(sacme_file_write_atomic(path, text, sizeof(text) - 1,
                                                 SACME_FPROT_PRIVATE, unit_pool, NULL),
                         APR_SUCCESS);
        assert_key_file_refused(path, SACME_ECONFIG, "one line of base64");
    }
    {   /* far too large */
        char big[2000];
        memset(big, 'A', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_key_file_refused(key_file("big", big, 0600), SACME_ECONFIG, "too large");
    }
}
END_TEST

START_TEST(seal_key_file_wrong_mode)
{
    assert_key_file_refused(key_file("g", KEY_B64 "\n", 0640), SACME_ECONFIG,
                            "chmod 0600");
    assert_key_file_refused(key_file("o", KEY_B64 "\n", 0604), SACME_ECONFIG, "0604");
    assert_key_file_refused(key_file("w", KEY_B64 "\n", 0620), SACME_ECONFIG,
                            "open to group or others");
}
END_TEST

START_TEST(seal_key_file_wrong_owner)
{
    const char *path = key_file("theirs", KEY_B64 "\n", 0600);
    sacme_result_t *res = sacme_result_make(unit_pool);
    sacme_seal_key_t *key = NULL;

    if (geteuid() != 0) {
        return;     /* only root can give a file away */
    }
    ck_assert_int_eq(chown(path, 65534, 65534), 0);
    assert_key_file_refused(path, SACME_ECONFIG, "owned by uid 65534");
    assert_key_file_refused(path, SACME_ECONFIG, "chown root:root");
    /* and root's file is refused where another owner is expected */
    ck_assert_int_eq(sacme_seal_key_read(unit_pool, key_file("root", KEY_B64, 0600), 1000,
                                         &key, res), SACME_ECONFIG);
    ck_assert_ptr_nonnull(strstr(sacme_result_message(res, unit_pool), "owned by uid 0"));
}
END_TEST

START_TEST(seal_key_file_not_a_plain_file)
{
    const char *target = key_file("target", KEY_B64 "\n", 0600);
    const char *soft = apr_pstrcat(unit_pool, unit_tmpdir(), "/soft", NULL);
    const char *hard = apr_pstrcat(unit_pool, unit_tmpdir(), "/hard", NULL);
    const char *dir = apr_pstrcat(unit_pool, unit_tmpdir(), "/dir", NULL);
    const char *missing = apr_pstrcat(unit_pool, unit_tmpdir(), "/missing", NULL);

    ck_assert_int_eq(symlink(target, soft), 0);
    assert_key_file_refused(soft, SACME_ECONFIG, "symbolic link");
    ck_assert_int_eq(link(target, hard), 0);
    assert_key_file_refused(hard, SACME_ECONFIG, "hard link");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    assert_key_file_refused(dir, SACME_ECONFIG, "not a regular file");
    assert_key_file_refused(missing, APR_ENOENT, "openssl rand -base64 32 > ");
}
END_TEST

Suite *unit_suite_seal(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("seal");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, seal_round_trip);
    tcase_add_test(tc, seal_opens_the_reference_vector);
    tcase_add_test(tc, seal_refuses_a_changed_byte);
    tcase_add_test(tc, seal_refuses_another_context);
    tcase_add_test(tc, seal_refuses_another_key_by_its_id);
    tcase_add_test(tc, seal_refuses_a_relabelled_key_id);
    tcase_add_test(tc, seal_refuses_malformed_texts);
    tcase_add_test(tc, seal_needs_a_key_and_a_context);
    suite_add_tcase(s, tc);

    tc = tcase_create("key file");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, seal_key_file_good);
    tcase_add_test(tc, seal_key_file_wrong_content);
    tcase_add_test(tc, seal_key_file_wrong_mode);
    tcase_add_test(tc, seal_key_file_wrong_owner);
    tcase_add_test(tc, seal_key_file_not_a_plain_file);
    suite_add_tcase(s, tc);
    return s;
}
