/* Unit tests: sacme_dns (the TXT question of SacmeDnsCheck: the resolver's
 * address, the query, the bounded reading of answers) and sacme_spawn_run
 * (the DNS command's run: exit, stderr, timeout with its process group). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "sacme_dns.h"
#include "sacme_file.h"
#include "sacme_spawn.h"

/* --- the resolver's address ---------------------------------------------------- */

START_TEST(server_addresses)
{
    const char *host = NULL;
    apr_port_t port = 0;

    ck_assert_ptr_null(sacme_dns_parse_server(unit_pool, "192.0.2.53", &host, &port));
    ck_assert_str_eq(host, "192.0.2.53");
    ck_assert_int_eq(port, 53);
    ck_assert_ptr_null(sacme_dns_parse_server(unit_pool, "127.0.0.1:5353", &host, &port));
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 5353);
    ck_assert_ptr_null(sacme_dns_parse_server(unit_pool, "2001:db8::53", &host, &port));
    ck_assert_str_eq(host, "2001:db8::53");
    ck_assert_int_eq(port, 53);
    ck_assert_ptr_null(sacme_dns_parse_server(unit_pool, "[::1]:8053", &host, &port));
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 8053);
}
END_TEST

START_TEST(server_addresses_refused)
{
    static const char *const bad[] = {
        "", "ns1.example.com", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:53x", "127.0.0.1:-1", "[::1", "[::1]x", "[::1]:", "[1.2.3.4]:53",
        "256.1.1.1", "1.2.3", "::g",
    };
    const char *host;
    apr_port_t port;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(sacme_dns_parse_server(unit_pool, bad[i], &host, &port) != NULL,
                      "'%s' was taken", bad[i]);
    }
}
END_TEST

/* --- the query ----------------------------------------------------------------- */

START_TEST(query_wire_form)
{
    static const unsigned char want[] = {
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        15, '_', 'a', 'c', 'm', 'e', '-', 'c', 'h', 'a', 'l', 'l', 'e', 'n', 'g', 'e',
        2, 'e', 'x', 4, 't', 'e', 's', 't', 0,
        0, 16, 0, 1,
    };
    unsigned char buf[512];
    apr_size_t len = 0;

    ck_assert_int_eq(sacme_dns_query_make("_acme-challenge.ex.test", 0x1234, buf,
                                          sizeof(buf), &len), APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_int_eq(memcmp(buf, want, len), 0);
    /* a trailing dot is the same name */
    ck_assert_int_eq(sacme_dns_query_make("_acme-challenge.ex.test.", 0x1234, buf,
                                          sizeof(buf), &len), APR_SUCCESS);
    ck_assert_int_eq(memcmp(buf, want, len), 0);
}
END_TEST

START_TEST(query_bad_names)
{
    unsigned char buf[512];
    apr_size_t len;
    char *long_label = apr_pcalloc(unit_pool, 80);

    memset(long_label, 'a', 64);
    ck_assert_int_eq(sacme_dns_query_make("", 1, buf, sizeof(buf), &len), APR_EINVAL);
    ck_assert_int_eq(sacme_dns_query_make("a..b", 1, buf, sizeof(buf), &len), APR_EINVAL);
    ck_assert_int_eq(sacme_dns_query_make(".a", 1, buf, sizeof(buf), &len), APR_EINVAL);
    ck_assert_int_eq(sacme_dns_query_make("a..", 1, buf, sizeof(buf), &len), APR_EINVAL);
    ck_assert_int_eq(sacme_dns_query_make(long_label, 1, buf, sizeof(buf), &len),
                     APR_EINVAL);
}
END_TEST

/* --- answers ------------------------------------------------------------------- */

/* An answer to query id 0x1234 for x.test TXT: header flags, then records
 * given as raw bytes after the question. */
static apr_size_t answer(unsigned char *buf, unsigned flags, unsigned ancount,
                         const unsigned char *records, apr_size_t rlen)
{
    static const unsigned char question[] = {
        1, 'x', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
    };
    apr_size_t n = 0;

    buf[n++] = 0x12; buf[n++] = 0x34;
    buf[n++] = (unsigned char)(flags >> 8); buf[n++] = (unsigned char)flags;
    buf[n++] = 0; buf[n++] = 1;
    buf[n++] = (unsigned char)(ancount >> 8); buf[n++] = (unsigned char)ancount;
    memset(buf + n, 0, 4);
    n += 4;
    memcpy(buf + n, question, sizeof(question));
    n += sizeof(question);
    if (rlen) {
        memcpy(buf + n, records, rlen);
    }
    return n + rlen;
}

START_TEST(answer_two_values_and_a_cname)
{
    /* a CNAME to y.test (compressed owner), then two TXT records of it,
     * one of them in two character-strings */
    static const unsigned char recs[] = {
        0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 8, 1, 'y', 4, 't', 'e', 's', 't', 0,
        1, 'y', 0xc0, 14, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, 'a', 'b', 'c',
        1, 'y', 0xc0, 14, 0, 16, 0, 1, 0, 0, 0, 60, 0, 7, 2, 'd', 'e', 3, 'f', 'g', 'h',
    };
    unsigned char buf[512];
    apr_size_t n = answer(buf, 0x8180, 3, recs, sizeof(recs));
    apr_array_header_t *values;
    const char *why = NULL;
    int truncated = 1;

    ck_assert_int_eq(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_int_eq(truncated, 0);
    ck_assert_int_eq(values->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(values, 0, const char *), "abc");
    ck_assert_str_eq(APR_ARRAY_IDX(values, 1, const char *), "defgh");
}
END_TEST

START_TEST(answer_nxdomain_truncated_and_errors)
{
    unsigned char buf[512];
    apr_array_header_t *values;
    const char *why = NULL;
    int truncated;
    apr_size_t n;

    n = answer(buf, 0x8183, 0, NULL, 0);                  /* NXDOMAIN */
    ck_assert_int_eq(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_int_eq(values->nelts, 0);

    n = answer(buf, 0x8380, 0, NULL, 0);                  /* TC */
    ck_assert_int_eq(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_int_eq(truncated, 1);

    n = answer(buf, 0x8185, 0, NULL, 0);                  /* REFUSED */
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "REFUSED"));

    n = answer(buf, 0x8180, 0, NULL, 0);                  /* another id */
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x4321, &values,
                                            &truncated, &why), APR_SUCCESS);
    n = answer(buf, 0x0100, 0, NULL, 0);                  /* a query, not an answer */
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, 5, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
}
END_TEST

START_TEST(answer_lengths_checked)
{
    /* rdlength past the end; a string past its record; a name running off
     * the message; more records announced than there are */
    static const unsigned char past_end[] = {
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 40, 3, 'a', 'b', 'c',
    };
    static const unsigned char string_past[] = {
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 9, 'a', 'b', 'c',
    };
    static const unsigned char name_off[] = { 5, 'a', 'b' };
    static const unsigned char one[] = {
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, 'a', 'b', 'c',
    };
    unsigned char buf[512];
    apr_array_header_t *values;
    const char *why;
    int truncated;
    apr_size_t n;

    n = answer(buf, 0x8180, 1, past_end, sizeof(past_end));
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    n = answer(buf, 0x8180, 1, string_past, sizeof(string_past));
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    n = answer(buf, 0x8180, 1, name_off, sizeof(name_off));
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    n = answer(buf, 0x8180, 2, one, sizeof(one));
    ck_assert_int_ne(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    n = answer(buf, 0x8180, 1, one, sizeof(one));
    ck_assert_int_eq(sacme_dns_answer_parse(unit_pool, buf, n, 0x1234, &values,
                                            &truncated, &why), APR_SUCCESS);
    ck_assert_int_eq(values->nelts, 1);
}
END_TEST

/* --- running a command to its end ------------------------------------------------ */

static const char *script(const char *name, const char *body)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);

    unit_write_text(path, apr_pstrcat(unit_pool, "#!/bin/sh\n", body, NULL),
                    SACME_FPROT_PUBLIC);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}

START_TEST(run_exit_and_outputs_apart)
{
    const char *path = script("run.sh", "echo \"out:$1:$#:$HOME:$PATH\"\n"
                              "printf 'err one\\nerr two\\n' >&2\nexit 3\n");
    const char *argv[] = { path, "a b", "c", NULL };
    sacme_spawn_end_t end;
    const char *why = NULL;

    ck_assert_int_eq(sacme_spawn_run(unit_pool, argv, apr_time_from_sec(20), &end,
                                     &why), APR_SUCCESS);
    ck_assert_int_eq(end.timed_out, 0);
    ck_assert_int_eq(end.signal, 0);
    ck_assert_int_eq(end.code, 3);
    /* nothing inherited but PATH; arguments as given */
    ck_assert_str_eq(end.out, "out:a b:2::/usr/sbin:/usr/bin:/sbin:/bin");
    ck_assert_str_eq(end.err, "err one err two");
    ck_assert_int_eq(end.err_seen, 1);
}
END_TEST

START_TEST(run_quiet_success)
{
    const char *path = script("ok.sh", "echo fine\necho >&2\n");
    const char *argv[] = { path, NULL };
    sacme_spawn_end_t end;
    const char *why;

    ck_assert_int_eq(sacme_spawn_run(unit_pool, argv, apr_time_from_sec(20), &end,
                                     &why), APR_SUCCESS);
    ck_assert_int_eq(end.code, 0);
    ck_assert_int_eq(end.err_seen, 0);          /* a blank line is nothing */
    ck_assert_str_eq(end.out, "fine");
}
END_TEST

/* A process that has ended and waits for its parent to reap it. */
static int is_zombie(long pid)
{
    char path[64], text[256];
    FILE *f;
    size_t n;

    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r"))) {
        return 1;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, ") Z ") != NULL;
}

START_TEST(run_timeout_kills_the_group)
{
    /* the script's child holds the pipes and would outlive a kill of the
     * script alone */
    const char *pidfile = apr_pstrcat(unit_pool, unit_tmpdir(), "/child.pid", NULL);
    const char *path = script("hang.sh", apr_pstrcat(unit_pool,
                              "sleep 300 &\necho $! > '", pidfile, "'\n"
                              "echo waiting\nwait\n", NULL));
    const char *argv[] = { path, NULL };
    sacme_spawn_end_t end;
    const char *why;
    apr_time_t start = apr_time_now();
    long child;
    int i;

    ck_assert_int_eq(sacme_spawn_run(unit_pool, argv, apr_time_from_msec(700), &end,
                                     &why), APR_SUCCESS);
    ck_assert_int_eq(end.timed_out, 1);
    ck_assert_str_eq(end.out, "waiting");
    ck_assert(apr_time_now() - start < apr_time_from_sec(30));
    child = strtol(unit_read_text(pidfile), NULL, 10);
    ck_assert(child > 1);
    /* the sleep got SIGKILL with its group (it is a zombie, or gone, once
     * reaped by init) */
    for (i = 0; i < 100 && kill((pid_t)child, 0) == 0; ++i) {
        if (is_zombie(child)) {
            break;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    ck_assert_msg(i < 100, "the command's child survived the timeout");
}
END_TEST

START_TEST(run_missing_program)
{
    const char *argv[] = { "/nonexistent/dns-hook", "setup", NULL };
    const char *rel[] = { "dns-hook", NULL };
    sacme_spawn_end_t end;
    const char *why = NULL;

    ck_assert_int_ne(sacme_spawn_run(unit_pool, argv, apr_time_from_sec(5), &end, &why),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_ne(sacme_spawn_run(unit_pool, rel, apr_time_from_sec(5), &end, &why),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "absolute"));
}
END_TEST

Suite *unit_suite_dns(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("dns");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, server_addresses);
    tcase_add_test(tc, server_addresses_refused);
    tcase_add_test(tc, query_wire_form);
    tcase_add_test(tc, query_bad_names);
    tcase_add_test(tc, answer_two_values_and_a_cname);
    tcase_add_test(tc, answer_nxdomain_truncated_and_errors);
    tcase_add_test(tc, answer_lengths_checked);
    tcase_add_test(tc, run_exit_and_outputs_apart);
    tcase_add_test(tc, run_quiet_success);
    tcase_add_test(tc, run_timeout_kills_the_group);
    tcase_add_test(tc, run_missing_program);
    suite_add_tcase(s, tc);
    return s;
}
