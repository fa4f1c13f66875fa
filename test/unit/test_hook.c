/* Unit tests: sacme_hook (notify commands), with small shell scripts the
 * tests write into their temp directory. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "sacme_file.h"
#include "sacme_hook.h"

/* Every message the runner logs, in order. */
typedef struct {
    sacme_log_level_t level;
    const char *msg;
} logged_t;

static apr_array_header_t *logged;

static void capture(void *baton, sacme_log_level_t level, apr_status_t rv,
                    const char *msg)
{
    logged_t *l = &APR_ARRAY_PUSH(logged, logged_t);

    (void)baton;
    (void)rv;
    l->level = level;
    l->msg = apr_pstrdup(unit_pool, msg);
}

static sacme_log_t test_log = { capture, NULL, SACME_LOG_TRACE };

static void hook_setup(void)
{
    unit_setup();
    logged = apr_array_make(unit_pool, 8, sizeof(logged_t));
}

/* The first message with this tag ("SACME10051"), or NULL. */
static const logged_t *find_log(const char *tag)
{
    int i;

    for (i = 0; i < logged->nelts; ++i) {
        const logged_t *l = &APR_ARRAY_IDX(logged, i, logged_t);
        if (!strncmp(l->msg, tag, strlen(tag))) {
            return l;
        }
    }
    return NULL;
}

static int count_log(const char *tag)
{
    int i, n = 0;

    for (i = 0; i < logged->nelts; ++i) {
        if (!strncmp(APR_ARRAY_IDX(logged, i, logged_t).msg, tag, strlen(tag))) {
            ++n;
        }
    }
    return n;
}

static const logged_t *must_log(const char *tag)
{
    const logged_t *l = find_log(tag);

    ck_assert_msg(l != NULL, "no %s logged (%d messages)", tag, logged->nelts);
    return l;
}

/* Writes an executable script into the test's temp dir. */
static const char *script(const char *name, const char *body)
{
    const char *path = apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);
    const char *text = apr_pstrcat(unit_pool, "#!/bin/sh\n", body, NULL);

    unit_write_text(path, text, SACME_FPROT_PUBLIC);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}

static const char *tmp_path(const char *name)
{
    return apr_pstrcat(unit_pool, unit_tmpdir(), "/", name, NULL);
}

/* Kills a process a script left behind (its pid in a file). */
static void kill_left_behind(const char *pidfile)
{
    const char *text = unit_read_text(pidfile);
    long pid = strtol(text, NULL, 10);

    if (pid > 1) {
        kill((pid_t)pid, SIGKILL);
    }
}

START_TEST(argv_order)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *out = tmp_path("argv.txt");
    const char *path = script("args.sh",
                              apr_pstrcat(unit_pool,
                                          "for a in \"$0\" \"$@\"; do "
                                          "printf '[%s]' \"$a\"; done > '", out,
                                          "'\necho hello\n", NULL));
    const char *cmd[] = { path, "one", "two words", "$HOME;x", NULL };
    sacme_result_t *res = sacme_result_make(unit_pool);
    const logged_t *l;

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "example.org", NULL,
                                       res), APR_SUCCESS);
    l = must_log("SACME10050");
    ck_assert_int_eq(l->level, SACME_LOG_DEBUG);
    ck_assert_ptr_nonnull(strstr(l->msg, "(pid "));
    ck_assert_ptr_nonnull(strstr(l->msg, "event renewed of example.org"));
    sacme_hooks_drain(hooks);
    ck_assert_int_eq(sacme_hooks_poll(hooks), 0);

    /* No shell in between: arguments arrive as given, nothing expanded. */
    ck_assert_str_eq(unit_read_text(out),
                     apr_pstrcat(unit_pool, "[", path, "][one][two words]"
                                 "[$HOME;x][renewed][example.org]", NULL));
    l = must_log("SACME10051");
    ck_assert_int_eq(l->level, SACME_LOG_INFO);
    ck_assert_ptr_nonnull(strstr(l->msg, "exited with 0"));
    ck_assert_ptr_nonnull(strstr(l->msg, "output: hello"));
    ck_assert_ptr_nonnull(strstr(l->msg, path));
}
END_TEST

START_TEST(environment_explicit)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *out = tmp_path("env.txt");
    const char *path = script("env.sh", apr_pstrcat(unit_pool,
                                                    "/usr/bin/env > '", out, "'\n",
                                                    NULL));
    const char *cmd[] = { path, NULL };
    apr_table_t *env = apr_table_make(unit_pool, 2);
    const char *text, *line;
    char *copy, *last;

    /* Secrets in our environment must not reach the command. */
    setenv("SACME_TEST_SECRET", "hunter2", 1);
    setenv("HOME", "/root/secret-home", 1);
    apr_table_set(env, "SACME_CERT_FILE", "/srv/cert.pem");
    apr_table_set(env, "SACME_NAMES", "a.example b.example");

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", env,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    ck_assert_ptr_nonnull(strstr(must_log("SACME10051")->msg, "exited with 0"));

    text = unit_read_text(out);
    ck_assert_ptr_nonnull(strstr(text, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
    ck_assert_ptr_nonnull(strstr(text, "SACME_EVENT=renewed\n"));
    ck_assert_ptr_nonnull(strstr(text, "SACME_DOMAIN=a.example\n"));
    ck_assert_ptr_nonnull(strstr(text, "SACME_CERT_FILE=/srv/cert.pem\n"));
    ck_assert_ptr_nonnull(strstr(text, "SACME_NAMES=a.example b.example\n"));
    ck_assert_ptr_null(strstr(text, "SACME_TEST_SECRET"));
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_null(strstr(text, "secret-home"));

    /* Nothing but ours, and what sh itself adds (PWD, ...). */
    copy = apr_pstrdup(unit_pool, text);
    for (line = apr_strtok(copy, "\n", &last); line;
         line = apr_strtok(NULL, "\n", &last)) {
        ck_assert_msg(!strncmp(line, "PATH=", 5) || !strncmp(line, "SACME_", 6)
                      || !strncmp(line, "PWD=", 4) || !strncmp(line, "OLDPWD=", 7)
                      || !strncmp(line, "SHLVL=", 6) || !strncmp(line, "_=", 2),
                      "unexpected variable: %s", line);
    }
}
END_TEST

START_TEST(environment_refused)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *marker = tmp_path("ran");
    const char *path = script("touch.sh", apr_pstrcat(unit_pool, ": > '", marker,
                                                      "'\n", NULL));
    const char *cmd[] = { path, NULL };
    static const char *const bad[] = {
        "PATH", "LD_PRELOAD", "SACME_", "SACME_A=B", "SACME_EVENT", "SACME_DOMAIN",
        "sacme_x",
    };
    sacme_result_t *res = sacme_result_make(unit_pool);
    apr_table_t *env;
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(bad); ++i) {
        env = apr_table_make(unit_pool, 1);
        apr_table_set(env, bad[i], "x");
        ck_assert_msg(sacme_hooks_start(hooks, cmd, "renewed", "a.example", env, res)
                      == APR_EINVAL, "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(res->detail, bad[i]));
    }
    ck_assert_int_eq(sacme_hooks_poll(hooks), 0);
    ck_assert(!sacme_file_exists(marker, unit_pool));
    ck_assert_int_eq(count_log("SACME10053"), (int)SACME_ARRAY_LEN(bad));
}
END_TEST

START_TEST(relative_path_refused)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *rel[] = { "bin/notify", NULL };
    const char *bare[] = { "true", NULL };
    const char *none[] = { NULL };
    sacme_result_t *res = sacme_result_make(unit_pool);
    const logged_t *l;

    ck_assert_int_eq(sacme_hooks_start(hooks, rel, "renewed", "a.example", NULL, res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res->detail, "absolute path"));
    l = must_log("SACME10053");
    ck_assert_int_eq(l->level, SACME_LOG_ERR);
    ck_assert_ptr_nonnull(strstr(l->msg, "cannot start notify command bin/notify: "));
    ck_assert_ptr_nonnull(strstr(l->msg, "absolute path"));

    ck_assert_int_eq(sacme_hooks_start(hooks, bare, "renewed", "a.example", NULL, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_hooks_start(hooks, none, "renewed", "a.example", NULL, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_hooks_start(hooks, NULL, "renewed", "a.example", NULL, res),
                     APR_EINVAL);
    ck_assert_int_eq(sacme_hooks_poll(hooks), 0);
    ck_assert_int_eq(count_log("SACME10050"), 0);
}
END_TEST

START_TEST(missing_or_not_executable)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *missing[] = { NULL, NULL };
    const char *plain[] = { NULL, NULL };
    sacme_result_t *res = sacme_result_make(unit_pool);
    const logged_t *l;

    missing[0] = tmp_path("no-such-command");
    ck_assert_int_eq(sacme_hooks_start(hooks, missing, "renewed", "a.example", NULL,
                                       res), APR_ENOENT);
    l = must_log("SACME10053");
    ck_assert_int_eq(l->level, SACME_LOG_ERR);
    ck_assert_ptr_nonnull(strstr(l->msg, missing[0]));
    ck_assert_ptr_nonnull(strstr(res->detail, missing[0]));

    /* Exists, but mode 0644. */
    plain[0] = tmp_path("plain.sh");
    ck_assert_int_eq(sacme_file_write_atomic(plain[0], "#!/bin/sh\n", 10,
                                             SACME_FPROT_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    if (geteuid() != 0) {       /* root may execute anything */
        ck_assert_int_eq(sacme_hooks_start(hooks, plain, "renewed", "a.example",
                                           NULL, res), APR_EACCES);
        ck_assert_int_eq(count_log("SACME10053"), 2);
    }
    ck_assert_int_eq(sacme_hooks_poll(hooks), 0);
}
END_TEST

START_TEST(exec_failure_reported)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *path = tmp_path("no-shebang");
    const char *cmd[] = { path, NULL };
    const logged_t *l;

    /* Executable, but no "#!" and not a binary: exec fails after the fork,
     * and the reason ends up in the log through the output pipe. */
    ck_assert_int_eq(sacme_file_write_atomic(path, "\x01\x02\x03\x04junk", 8,
                                             SACME_FPROT_PUBLIC, unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(chmod(path, 0755), 0);
    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    l = must_log("SACME10051");
    ck_assert_int_eq(l->level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(l->msg, "exited with 255"));
    ck_assert_ptr_nonnull(strstr(l->msg, "exec of"));
}
END_TEST

START_TEST(exit_code_reported)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *path = script("fail.sh",
                              "echo 'reload failed' >&2\n"
                              "printf 'tab\\there\\033[31mred\\r\\nnext line\\n'\n"
                              "exit 3\n");
    const char *cmd[] = { path, NULL };
    const logged_t *l;

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    l = must_log("SACME10051");
    ck_assert_int_eq(l->level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(l->msg, "notify command "));
    ck_assert_ptr_nonnull(strstr(l->msg, " for event renewed of a.example exited "
                                         "with 3"));
    /* stderr and stdout in one stream, control characters as spaces: a
     * script cannot forge a second log line or colour the terminal. */
    ck_assert_ptr_nonnull(strstr(l->msg, "reload failed tab here [31mred  next "
                                         "line"));
    ck_assert_ptr_null(strchr(l->msg, '\n'));
    ck_assert_ptr_null(strchr(l->msg, '\033'));
    ck_assert_int_eq(count_log("SACME10051"), 1);
}
END_TEST

START_TEST(killed_after_timeout)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log,
                                            apr_time_from_sec(1));
    const char *pidfile = tmp_path("sleep.pid");
    /* The sleep is a grandchild that keeps the output pipe open after the
     * shell is killed: the runner must not wait for EOF. */
    const char *path = script("slow.sh", apr_pstrcat(unit_pool,
                                                     "echo starting\n"
                                                     "sleep 30 & echo $! > '",
                                                     pidfile, "'\nwait\n", NULL));
    const char *cmd[] = { path, NULL };
    apr_time_t t0, t;
    const logged_t *l;

    t0 = apr_time_now();
    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    /* Polling does not wait for the command. */
    ck_assert_int_eq(sacme_hooks_poll(hooks), 1);
    apr_sleep(apr_time_from_msec(300));
    t = apr_time_now();
    ck_assert_int_eq(sacme_hooks_poll(hooks), 1);
    ck_assert_int_lt(apr_time_now() - t, apr_time_from_msec(200));

    sacme_hooks_drain(hooks);
    t = apr_time_now() - t0;
    ck_assert_int_ge(t, apr_time_from_sec(1));
    ck_assert_int_lt(t, apr_time_from_sec(5));
    kill_left_behind(pidfile);

    l = must_log("SACME10052");
    ck_assert_int_eq(l->level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(l->msg, "killed after the 1 s timeout"));
    ck_assert_ptr_nonnull(strstr(l->msg, "output: starting"));
    ck_assert_ptr_null(find_log("SACME10051"));
}
END_TEST

START_TEST(sigkill_when_sigterm_ignored)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log,
                                            apr_time_from_sec(1));
    const char *pidfile = tmp_path("sleep.pid");
    const char *path = script("stubborn.sh", apr_pstrcat(unit_pool,
                                                         "trap '' TERM\n"
                                                         "sleep 30 & echo $! > '",
                                                         pidfile, "'\nwait\n"
                                                         "sleep 30\n", NULL));
    const char *cmd[] = { path, NULL };
    apr_time_t t0, t;

    t0 = apr_time_now();
    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    t = apr_time_now() - t0;
    kill_left_behind(pidfile);
    /* 1 s to SIGTERM, which is ignored, then 1 s to SIGKILL. */
    ck_assert_int_ge(t, apr_time_from_sec(2));
    ck_assert_int_lt(t, apr_time_from_sec(6));
    ck_assert_ptr_nonnull(strstr(must_log("SACME10052")->msg,
                                 "killed after the 1 s timeout"));
}
END_TEST

START_TEST(signal_reported)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *path = script("selfkill.sh", "kill -KILL $$\n");
    const char *cmd[] = { path, NULL };
    const logged_t *l;

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    l = must_log("SACME10054");
    ck_assert_int_eq(l->level, SACME_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(l->msg, "ended by signal 9"));
}
END_TEST

START_TEST(large_output_does_not_block)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log,
                                            apr_time_from_sec(20));
    /* 1 MiB on stdout and 64 KiB on stderr, far beyond a pipe's buffer. */
    const char *path = script("chatty.sh",
                              "head -c 1048576 /dev/zero | tr '\\000' 'x'\n"
                              "head -c 65536 /dev/zero | tr '\\000' 'y' >&2\n"
                              "exit 0\n");
    const char *cmd[] = { path, NULL };
    const logged_t *l;
    const char *out;

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    ck_assert_ptr_null(find_log("SACME10052"));
    l = must_log("SACME10051");
    ck_assert_int_eq(l->level, SACME_LOG_INFO);
    ck_assert_ptr_nonnull(strstr(l->msg, "exited with 0"));
    /* The first 4 KiB, then how much was left out. */
    out = strstr(l->msg, "output: ");
    ck_assert_ptr_nonnull(out);
    out += strlen("output: ");
    ck_assert_uint_eq(strspn(out, "x"), 4096);
    ck_assert_ptr_nonnull(strstr(out, " [1110016 more bytes not shown]"));
    ck_assert_uint_lt(strlen(l->msg), 4096 + 512);
}
END_TEST

START_TEST(drain_waits_for_all)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *dir = unit_tmpdir();
    const char *path = script("slowish.sh",
                              apr_pstrcat(unit_pool, "sleep 0.3\n"
                                          ": > '", dir, "'/done-\"$3\"\n"
                                          "echo \"index $1\"\n", NULL));
    static const char *const domains[] = { "a.example", "b.example", "c.example" };
    const char *cmd[] = { path, NULL, NULL };
    apr_size_t i;

    for (i = 0; i < SACME_ARRAY_LEN(domains); ++i) {
        cmd[1] = apr_itoa(unit_pool, (int)i);
        ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", domains[i], NULL,
                                           NULL), APR_SUCCESS);
    }
    ck_assert_int_eq(sacme_hooks_poll(hooks), 3);
    sacme_hooks_drain(hooks);
    ck_assert_int_eq(sacme_hooks_poll(hooks), 0);
    for (i = 0; i < SACME_ARRAY_LEN(domains); ++i) {
        ck_assert_msg(sacme_file_exists(apr_pstrcat(unit_pool, dir, "/done-",
                                                    domains[i], NULL), unit_pool),
                      "%s: %s", domains[i],
                      APR_ARRAY_IDX(logged, logged->nelts - 1, logged_t).msg);
    }
    ck_assert_int_eq(count_log("SACME10050"), 3);
    ck_assert_int_eq(count_log("SACME10051"), 3);
    ck_assert_ptr_nonnull(strstr(must_log("SACME10051")->msg, "output: index "));

    /* A drain with nothing running returns at once. */
    sacme_hooks_drain(hooks);
}
END_TEST

START_TEST(stdin_is_dev_null)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log,
                                            apr_time_from_sec(10));
    const char *path = script("reader.sh", "cat; echo \"read:$?\"\n");
    const char *cmd[] = { path, NULL };

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    ck_assert_ptr_nonnull(strstr(must_log("SACME10051")->msg, "output: read:0"));
}
END_TEST

/* The signals of a /proc status line ("SigIgn:\t<hex>") that a program
 * can set: 1..31 and SIGRTMIN..SIGRTMAX. The two between are the C
 * library's own (glibc's sigaction refuses them); whatever started the
 * test run may have them ignored, out of anyone's reach. */
static unsigned long long signal_bits(const char *text, const char *name)
{
    const char *at = strstr(text, name);
    unsigned long long bits, mask = 0;
    int sig;

    ck_assert_msg(at != NULL, "no %s line in: %s", name, text);
    bits = strtoull(at + strlen(name), NULL, 16);
    for (sig = 1; sig <= 64; ++sig) {
        if (sig < 32 || (sig >= SIGRTMIN && sig <= SIGRTMAX)) {
            mask |= 1ULL << (sig - 1);
        }
    }
    return bits & mask;
}

/* A command starts with no signal ignored and none blocked, whatever the
 * process that starts it ignores (the driver: SIGPIPE, SIGUSR1 for httpd's
 * graceful restart, SIGWINCH) or blocks (a thread's mask): both would pass
 * through exec. The command reports its own /proc status lines: the
 * script execs grep, which reads its own (a grep that read the shell's
 * status from a child could catch the shell blocking every signal for the
 * moment it waits for that child, as dash does). */
START_TEST(signals_reset_for_the_command)
{
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &test_log, 0);
    const char *out = tmp_path("signals.txt");
    const char *path = script("signals.sh",
                              apr_pstrcat(unit_pool, "exec grep -E '^Sig(Ign|Blk):' "
                                          "/proc/self/status > '", out, "'\n", NULL));
    const char *cmd[] = { path, NULL };
    const int ignored[] = { SIGPIPE, SIGUSR1, SIGWINCH };
    struct sigaction ign, old[3];
    sigset_t block, old_mask;
    const char *text;
    apr_status_t rv;
    int i;

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    for (i = 0; i < 3; ++i) {
        ck_assert_int_eq(sigaction(ignored[i], &ign, &old[i]), 0);
    }
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGHUP);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);

    rv = sacme_hooks_start(hooks, cmd, "renewed", "a.example", NULL, NULL);

    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    for (i = 0; i < 3; ++i) {
        sigaction(ignored[i], &old[i], NULL);
    }
    ck_assert_int_eq(rv, APR_SUCCESS);
    sacme_hooks_drain(hooks);
    ck_assert_ptr_nonnull(strstr(must_log("SACME10051")->msg, "exited with 0"));
    text = unit_read_text(out);
    ck_assert_msg(signal_bits(text, "SigIgn:") == 0,
                  "the command inherited ignored signals: %s", text);
    ck_assert_msg(signal_bits(text, "SigBlk:") == 0,
                  "the command inherited blocked signals: %s", text);
}
END_TEST

START_TEST(log_levels_respected)
{
    sacme_log_t quiet = { capture, NULL, SACME_LOG_NOTICE };
    sacme_hooks_t *hooks = sacme_hooks_make(unit_pool, &quiet, 0);
    const char *ok = script("ok.sh", "exit 0\n");
    const char *bad = script("bad.sh", "exit 1\n");
    const char *cmd_ok[] = { ok, NULL }, *cmd_bad[] = { bad, NULL };

    ck_assert_int_eq(sacme_hooks_start(hooks, cmd_ok, "renewed", "a.example", NULL,
                                       NULL), APR_SUCCESS);
    ck_assert_int_eq(sacme_hooks_start(hooks, cmd_bad, "renewed", "b.example", NULL,
                                       NULL), APR_SUCCESS);
    sacme_hooks_drain(hooks);
    /* Only the failure passes a NOTICE threshold. */
    ck_assert_int_eq(logged->nelts, 1);
    ck_assert_ptr_nonnull(strstr(must_log("SACME10051")->msg, "b.example exited "
                                 "with 1"));
}
END_TEST

Suite *unit_suite_hook(void)
{
    Suite *s = suite_create("hook");
    TCase *tc = tcase_create("hook");

    tcase_add_checked_fixture(tc, hook_setup, unit_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, argv_order);
    tcase_add_test(tc, environment_explicit);
    tcase_add_test(tc, environment_refused);
    tcase_add_test(tc, relative_path_refused);
    tcase_add_test(tc, missing_or_not_executable);
    tcase_add_test(tc, exec_failure_reported);
    tcase_add_test(tc, exit_code_reported);
    tcase_add_test(tc, killed_after_timeout);
    tcase_add_test(tc, sigkill_when_sigterm_ignored);
    tcase_add_test(tc, signal_reported);
    tcase_add_test(tc, large_output_does_not_block);
    tcase_add_test(tc, drain_waits_for_all);
    tcase_add_test(tc, stdin_is_dev_null);
    tcase_add_test(tc, log_levels_respected);
    tcase_add_test(tc, signals_reset_for_the_command);
    suite_add_tcase(s, tc);
    return s;
}
