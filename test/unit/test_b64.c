/* Unit tests: sacme_b64 (base64url for JOSE, lenient decoding for keys). */
#include <string.h>

#include "unit.h"
#include "sacme_b64.h"

/* RFC 4648 §10 vectors, in the URL alphabet without padding (§5, §3.2). */
static const struct {
    const char *plain;
    const char *b64url;
} RFC4648[] = {
    { "",       ""         },
    { "f",      "Zg"       },
    { "fo",     "Zm8"      },
    { "foo",    "Zm9v"     },
    { "foob",   "Zm9vYg"   },
    { "fooba",  "Zm9vYmE"  },
    { "foobar", "Zm9vYmFy" },
};

START_TEST(encode_rfc4648)
{
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(RFC4648); ++i) {
        const char *got = sacme_b64url_encode(unit_pool,
                                              (const unsigned char *)RFC4648[i].plain,
                                              strlen(RFC4648[i].plain));
        ck_assert_str_eq(got, RFC4648[i].b64url);
    }
}
END_TEST

START_TEST(encode_url_alphabet)
{
    /* 0xfb 0xff encodes to "+/8=" in standard base64. */
    static const unsigned char data[] = { 0xfb, 0xff };
    ck_assert_str_eq(sacme_b64url_encode(unit_pool, data, sizeof(data)), "-_8");
}
END_TEST

START_TEST(decode_strict_rfc4648)
{
    apr_size_t i, len;
    unsigned char *out;

    for (i = 0; i < SACME_ARRAY_LEN(RFC4648); ++i) {
        ck_assert_int_eq(sacme_b64url_decode(unit_pool, RFC4648[i].b64url, &out, &len),
                         APR_SUCCESS);
        ck_assert_uint_eq(len, strlen(RFC4648[i].plain));
        ck_assert_mem_eq(out, RFC4648[i].plain, len);
        ck_assert_int_eq(out[len], '\0');
    }
}
END_TEST

START_TEST(decode_strict_refuses)
{
    static const char *const bad[] = {
        "Zg==",         /* JOSE forbids padding */
        "Zm8=",
        "-_8=",
        "+/8",          /* standard alphabet */
        "Zm9+",
        "Zm9/",
        "Zm9v Yg",      /* whitespace */
        " Zm9v",
        "Zm9vY",        /* 4k+1 characters */
        "Zh",           /* non-zero trailing bits */
        "Zm9!",
    };
    apr_size_t i, len;
    unsigned char *out;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_b64url_decode(unit_pool, bad[i], &out, &len) == APR_EINVAL,
                      "strict decode accepted '%s'", bad[i]);
    }
    ck_assert_int_eq(sacme_b64url_decode(unit_pool, NULL, &out, &len), APR_EINVAL);
}
END_TEST

/* Decodes s leniently and compares with the expected bytes. */
static void lenient_is(const char *s, const void *want, apr_size_t want_len)
{
    unsigned char *out;
    apr_size_t len;

    ck_assert_msg(sacme_b64_decode_lenient(unit_pool, s, &out, &len) == APR_SUCCESS,
                  "lenient decode refused '%s'", s);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(out, want, len);
}

START_TEST(decode_lenient_accepts)
{
    static const unsigned char fb[] = { 0xfb, 0xff };

    lenient_is("Zm9vYg", "foob", 4);            /* base64url, unpadded */
    lenient_is("Zm9vYg==", "foob", 4);          /* padded */
    lenient_is("Zm9vYmE=", "fooba", 5);
    lenient_is("Zm9vYmFy", "foobar", 6);
    lenient_is("-_8", fb, 2);                   /* url alphabet */
    lenient_is("-_8=", fb, 2);
    lenient_is("+/8=", fb, 2);                  /* standard alphabet */
    lenient_is("+/8", fb, 2);
    lenient_is("  Zm9vYg==\n", "foob", 4);      /* surrounding whitespace */
    lenient_is("\tZm9vYmFy \r\n", "foobar", 6);
}
END_TEST

START_TEST(decode_lenient_refuses)
{
    static const char *const bad[] = {
        "",             /* empty */
        "   ",
        "==",
        "-+AA",         /* mixed alphabets */
        "ab_c/d",
        "Zg==Zm8",      /* padding in the middle */
        "Zm=9v",
        "Zm9vY",        /* 4k+1 characters */
        "Zm9vY===",
        "Zg=",          /* incomplete padding */
        "Zm8==",        /* too much padding */
        "Zg===",
        "Zh",           /* non-zero trailing bits */
        "Zh==",
        "Zm9",
        "Zm 9v",        /* whitespace inside */
        "Zm9v!",
    };
    apr_size_t i, len;
    unsigned char *out;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        ck_assert_msg(sacme_b64_decode_lenient(unit_pool, bad[i], &out, &len) == APR_EINVAL,
                      "lenient decode accepted '%s'", bad[i]);
    }
    ck_assert_int_eq(sacme_b64_decode_lenient(unit_pool, NULL, &out, &len), APR_EINVAL);
}
END_TEST

START_TEST(round_trip)
{
    unsigned char data[70];
    apr_uint32_t seed = 0x5ac3e;
    apr_size_t n, i, len;

    /* A fixed LCG: reproducible "random" bytes, so a failure can be rerun. */
    for (i = 0; i < sizeof(data); ++i) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (unsigned char)(seed >> 16);
    }
    for (n = 0; n <= sizeof(data); ++n) {
        const char *enc = sacme_b64url_encode(unit_pool, data, n);
        unsigned char *out;

        ck_assert_uint_eq(strlen(enc), (n * 4 + 2) / 3);
        ck_assert_ptr_null(strpbrk(enc, "+/="));
        ck_assert_int_eq(sacme_b64url_decode(unit_pool, enc, &out, &len), APR_SUCCESS);
        ck_assert_uint_eq(len, n);
        if (n > 0) {
            ck_assert_mem_eq(out, data, n);
            ck_assert_int_eq(sacme_b64_decode_lenient(unit_pool, enc, &out, &len),
                             APR_SUCCESS);
            ck_assert_uint_eq(len, n);
            ck_assert_mem_eq(out, data, n);
        }
    }
}
END_TEST

Suite *unit_suite_b64(void)
{
    Suite *s = suite_create("b64");
    TCase *tc = tcase_create("b64");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, encode_rfc4648);
    tcase_add_test(tc, encode_url_alphabet);
    tcase_add_test(tc, decode_strict_rfc4648);
    tcase_add_test(tc, decode_strict_refuses);
    tcase_add_test(tc, decode_lenient_accepts);
    tcase_add_test(tc, decode_lenient_refuses);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return s;
}
