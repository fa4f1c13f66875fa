/* Notify commands: start now, reap later, never block.
 *
 * The contract is the one uacme's hooks have (DESIGN §8.7): argv plus
 * environment, no shell, a timeout, the exit code reported. On top of that:
 *   - the environment is built from scratch, because httpd's (or
 *     sacmectl's) may hold secrets an admin's script has no business with;
 *   - stdout and stderr share one pipe that is read without blocking at
 *     every poll, so a chatty command never stalls on a full pipe and the
 *     watchdog never stalls on a quiet one;
 *   - the end is found with a non-blocking wait, so a slow command delays
 *     no order;
 *   - the command starts with every signal at its default disposition and
 *     none blocked: the driver ignores SIGPIPE and httpd's restart signals,
 *     and a thread may block others, and both would be inherited through
 *     exec (a script whose pipe closes would go on writing, a "kill -USR1"
 *     in it would do nothing). APR's process creation has no hook between
 *     fork and exec for that, so the fork and exec are ours.
 * A runner is used by one thread (the watchdog's); it has no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_portable.h>

#include "sacme_hook.h"

#define DEFAULT_TIMEOUT apr_time_from_sec(30)
#define KILL_GRACE      apr_time_from_sec(1)      /* SIGTERM .. SIGKILL */
#define OUTPUT_KEEP     4096                      /* bytes of output logged */
#define READ_BUDGET     (256 * 1024)              /* per command and poll */
#define DRAIN_SLEEP     apr_time_from_msec(20)
#define HOOK_PATH       "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define ENV_PREFIX      "SACME_"

typedef struct hook_run_t hook_run_t;
struct hook_run_t {
    hook_run_t *next;
    apr_pool_t *p;              /* everything of this run; gone when reaped */
    apr_proc_t proc;
    apr_file_t *out;            /* read end of the output pipe; NULL after EOF */
    const char *cmd, *event, *domain;
    apr_time_t term_at;         /* when SIGTERM is due */
    apr_time_t kill_at;         /* when SIGKILL is due; 0 before SIGTERM */
    int killed;                 /* SIGKILL sent */
    apr_size_t len;             /* bytes kept in buf */
    apr_size_t dropped;         /* bytes read beyond buf */
    char buf[OUTPUT_KEEP];
};

struct sacme_hooks_t {
    apr_pool_t *p;
    const sacme_log_t *log;
    apr_interval_time_t timeout;
    hook_run_t *running;
    int count;
};

sacme_hooks_t *sacme_hooks_make(apr_pool_t *p, const sacme_log_t *log,
                                apr_interval_time_t timeout)
{
    sacme_hooks_t *hooks = apr_pcalloc(p, sizeof(*hooks));

    hooks->p = p;
    hooks->log = log;
    hooks->timeout = timeout > 0 ? timeout : DEFAULT_TIMEOUT;
    return hooks;
}

/* sacme_log() cuts messages at 2 KiB, but the 4 KiB of output an admin's
 * script printed is the part worth reading; deliver the long form to the
 * host's callback directly (httpd's own limit is 8 KiB). */
static void log_long(const sacme_hooks_t *hooks, sacme_log_level_t level,
                     apr_status_t rv, apr_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void log_long(const sacme_hooks_t *hooks, sacme_log_level_t level,
                     apr_status_t rv, apr_pool_t *p, const char *fmt, ...)
{
    const char *msg;
    va_list ap;

    if (!sacme_log_is_level(hooks->log, level)) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    hooks->log->fn(hooks->log->baton, level, rv, msg);
}

/* Appends text to buf (at *n, of size sz), as far as it fits. */
static void child_append(char *buf, size_t *n, size_t sz, const char *text)
{
    while (*text && *n + 1 < sz) {
        buf[(*n)++] = *text++;
    }
}

/* The child's half, from fork to exec. The driver has threads, whose locks
 * (malloc's among them) may be held by a thread that does not exist here:
 * only async-signal-safe calls, with what the parent prepared (dfl, none).
 * When exec fails, the reason goes to stderr, which is the output pipe, so
 * it ends up in the log line of the exit (code 255). */
static void exec_child(const char *prog, char *const *argv, char *const *envp,
                       int in, int out, const struct sigaction *dfl,
                       const sigset_t *none)
{
    char line[512], num[16];
    size_t n = 0, k = 0;
    int sig, in2, out2, err;
    ssize_t ignored;

    /* Handlers would be reset by exec anyway; an ignored signal would not. */
    for (sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            (void)sigaction(sig, dfl, NULL);    /* EINVAL for the libc's own: fine */
        }
    }
    /* Copies above 2 first: stdin or stdout of ours may be closed, so the
     * pipe or /dev/null may sit on 0..2 themselves. */
    in2 = fcntl(in, F_DUPFD_CLOEXEC, 3);
    out2 = fcntl(out, F_DUPFD_CLOEXEC, 3);
    if (in2 < 0 || out2 < 0 || dup2(in2, STDIN_FILENO) < 0
        || dup2(out2, STDOUT_FILENO) < 0 || dup2(out2, STDERR_FILENO) < 0) {
        _exit(255);
    }
    /* Last: a signal that was pending meets its default action now. */
    (void)sigprocmask(SIG_SETMASK, none, NULL);
    execve(prog, argv, envp);

    err = errno;
    child_append(line, &n, sizeof(line), "exec of '");
    child_append(line, &n, sizeof(line), prog);
    child_append(line, &n, sizeof(line), "' failed: ");
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    /* a table lookup, unlike strerror (no locale, no allocation) */
    if (strerrordesc_np(err)) {
        child_append(line, &n, sizeof(line), strerrordesc_np(err));
        child_append(line, &n, sizeof(line), " ");
    }
#endif
    child_append(line, &n, sizeof(line), "(errno ");
    do {
        num[k++] = (char)('0' + err % 10);
        err /= 10;
    } while (err > 0 && k < sizeof(num));
    while (k > 0 && n + 1 < sizeof(line)) {
        line[n++] = num[--k];
    }
    child_append(line, &n, sizeof(line), ")\n");
    ignored = write(STDERR_FILENO, line, n);
    (void)ignored;
    _exit(255);
}

/* Only SACME_* names made of letters, digits and '_': the environment is a
 * contract, and a name with '=' would smuggle in another variable. The two
 * fixed ones are ours. */
static int env_name_ok(const char *name)
{
    const char *c;

    if (!name || strncmp(name, ENV_PREFIX, sizeof(ENV_PREFIX) - 1) != 0
        || name[sizeof(ENV_PREFIX) - 1] == '\0'
        || !strcmp(name, "SACME_EVENT") || !strcmp(name, "SACME_DOMAIN")) {
        return 0;
    }
    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && *c != '_') {
            return 0;
        }
    }
    return 1;
}

/* Reads what the command wrote so far, without blocking: the first
 * OUTPUT_KEEP bytes are kept, the rest is read and dropped so that the
 * command never blocks on a full pipe. Bounded per call so that a command
 * writing endlessly cannot hold the poll. */
static void read_output(hook_run_t *run)
{
    char sink[4096];
    apr_size_t n, total = 0;
    apr_status_t rv;
    char *dst;

    while (run->out && total < READ_BUDGET) {
        if (run->len < sizeof(run->buf)) {
            dst = run->buf + run->len;
            n = sizeof(run->buf) - run->len;
        }
        else {
            dst = sink;
            n = sizeof(sink);
        }
        rv = apr_file_read(run->out, dst, &n);
        if (rv == APR_SUCCESS && n > 0) {
            if (dst == sink) {
                run->dropped += n;
            }
            else {
                run->len += n;
            }
            total += n;
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        /* EOF, or an error that will not go away: nothing more to read. */
        apr_file_close(run->out);
        run->out = NULL;
    }
}

/* The output as one log-safe line: control characters (newlines, escape
 * sequences) become spaces, so a script cannot forge log lines. */
static const char *output_text(hook_run_t *run)
{
    char *s;
    apr_size_t i, n = run->len;

    while (n > 0 && apr_isspace(run->buf[n - 1])) {
        --n;
    }
    if (n == 0 && run->dropped == 0) {
        return "";
    }
    s = apr_pstrmemdup(run->p, run->buf, n);
    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            s[i] = ' ';
        }
    }
    if (run->dropped) {
        return apr_psprintf(run->p, ", output: %s [%" APR_SIZE_T_FMT
                            " more bytes not shown]", s, run->dropped);
    }
    return apr_pstrcat(run->p, ", output: ", s, NULL);
}

/* SIGTERM at the deadline, SIGKILL a second later if that did not help. */
static void enforce_timeout(hook_run_t *run, apr_time_t now)
{
    if (!run->kill_at && now >= run->term_at) {
        apr_proc_kill(&run->proc, SIGTERM);
        run->kill_at = now + KILL_GRACE;
    }
    else if (run->kill_at && !run->killed && now >= run->kill_at) {
        apr_proc_kill(&run->proc, SIGKILL);
        run->killed = 1;
    }
}

static void log_end(sacme_hooks_t *hooks, hook_run_t *run, apr_status_t rv,
                    int code, apr_exit_why_e why)
{
    const char *out = output_text(run);
    char ebuf[256];

    if (run->kill_at) {
        log_long(hooks, SACME_LOG_WARNING, 0, run->p, SACME_LOGNO(10052)
                 "notify command %s for event %s of %s killed after the %d s "
                 "timeout%s", run->cmd, run->event, run->domain,
                 (int)((hooks->timeout + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC),
                 out);
    }
    else if (rv != APR_CHILD_DONE) {
        /* Someone else reaped it (SIGCHLD ignored by the host, say): it is
         * gone, but how it ended is not ours to know. */
        log_long(hooks, SACME_LOG_WARNING, rv, run->p, SACME_LOGNO(10055)
                 "notify command %s for event %s of %s ended, exit status "
                 "unknown: %s%s", run->cmd, run->event, run->domain,
                 apr_strerror(rv, ebuf, sizeof(ebuf)), out);
    }
    else if (why & APR_PROC_SIGNAL) {
        log_long(hooks, SACME_LOG_WARNING, 0, run->p, SACME_LOGNO(10054)
                 "notify command %s for event %s of %s ended by signal %d%s",
                 run->cmd, run->event, run->domain, code, out);
    }
    else {
        log_long(hooks, code ? SACME_LOG_WARNING : SACME_LOG_INFO, 0, run->p,
                 SACME_LOGNO(10051) "notify command %s for event %s of %s "
                 "exited with %d%s", run->cmd, run->event, run->domain, code, out);
    }
}

int sacme_hooks_poll(sacme_hooks_t *hooks)
{
    hook_run_t **link = &hooks->running, *run;
    apr_time_t now = apr_time_now();
    apr_exit_why_e why;
    apr_status_t rv;
    int code;

    while ((run = *link) != NULL) {
        read_output(run);
        code = 0;
        why = APR_PROC_EXIT;
        rv = apr_proc_wait(&run->proc, &code, &why, APR_NOWAIT);
        /* ECHILD: reaped by someone else, it is gone. Anything else (a
         * stopped child gives APR_EGENERAL) still holds a process that the
         * timeout will deal with. */
        if (rv != APR_CHILD_DONE && rv != APR_FROM_OS_ERROR(ECHILD)) {
            enforce_timeout(run, now);
            link = &run->next;
            continue;
        }
        /* What it wrote before it ended is in the pipe now. A grandchild
         * left behind may keep the pipe open, so no waiting for EOF. */
        read_output(run);
        log_end(hooks, run, rv, code, why);
        *link = run->next;
        --hooks->count;
        apr_pool_destroy(run->p);
    }
    return hooks->count;
}

void sacme_hooks_drain(sacme_hooks_t *hooks)
{
    /* Ends because every command either exits or is killed at its
     * deadline. */
    while (sacme_hooks_poll(hooks) > 0) {
        apr_sleep(DRAIN_SLEEP);
    }
}

static apr_status_t start_failed(sacme_hooks_t *hooks, const char *cmd,
                                 apr_status_t rv, sacme_result_t *res,
                                 const char *why)
{
    sacme_log(hooks->log, SACME_LOG_ERR, rv, SACME_LOGNO(10053)
              "cannot start notify command %s: %s", cmd, why);
    return sacme_result_set(res, rv, "cannot start notify command %s: %s", cmd, why);
}

apr_status_t sacme_hooks_start(sacme_hooks_t *hooks, const char *const *cmd,
                               const char *event, const char *domain,
                               apr_table_t *env, sacme_result_t *res)
{
    apr_pool_t *rp;
    hook_run_t *run;
    apr_file_t *wr = NULL, *devnull = NULL;
    apr_os_file_t wr_fd, devnull_fd;
    struct sigaction dfl;
    sigset_t none;
    pid_t pid;
    apr_array_header_t *argv, *envp;
    const apr_array_header_t *extra;
    const apr_table_entry_t *e;
    const char *why = NULL;
    char ebuf[256];
    apr_status_t rv;
    int i;

    if (!cmd || !cmd[0] || !*cmd[0] || !event) {
        return start_failed(hooks, cmd && cmd[0] ? cmd[0] : "(none)", APR_EINVAL,
                            res, "no command or event given");
    }
    /* No PATH search: which program runs must not depend on the
     * environment, and a relative name would depend on the cwd. */
    if (cmd[0][0] != '/') {
        return start_failed(hooks, cmd[0], APR_EINVAL, res,
                            "not an absolute path (commands are run without a "
                            "shell or PATH search)");
    }
    if (!domain) {
        domain = "";
    }

    rv = apr_pool_create(&rp, hooks->p);
    if (rv != APR_SUCCESS) {
        return start_failed(hooks, cmd[0], rv, res, "cannot create a pool");
    }
    run = apr_pcalloc(rp, sizeof(*run));
    run->p = rp;
    run->cmd = apr_pstrdup(rp, cmd[0]);
    run->event = apr_pstrdup(rp, event);
    run->domain = apr_pstrdup(rp, domain);

    argv = apr_array_make(rp, 8, sizeof(const char *));
    for (i = 0; cmd[i]; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = cmd[i];
    }
    APR_ARRAY_PUSH(argv, const char *) = run->event;
    APR_ARRAY_PUSH(argv, const char *) = run->domain;
    APR_ARRAY_PUSH(argv, const char *) = NULL;

    /* Built from nothing: no variable of ours is inherited. */
    envp = apr_array_make(rp, 8, sizeof(const char *));
    APR_ARRAY_PUSH(envp, const char *) = HOOK_PATH;
    APR_ARRAY_PUSH(envp, const char *) = apr_pstrcat(rp, "SACME_EVENT=", event, NULL);
    APR_ARRAY_PUSH(envp, const char *) = apr_pstrcat(rp, "SACME_DOMAIN=", domain, NULL);
    extra = env ? apr_table_elts(env) : NULL;
    for (i = 0; extra && i < extra->nelts; ++i) {
        e = &APR_ARRAY_IDX(extra, i, apr_table_entry_t);
        if (!e->key) {
            continue;           /* deleted entry */
        }
        if (!env_name_ok(e->key)) {
            why = apr_psprintf(rp, "environment variable '%s' is not an extra "
                               "SACME_* name", e->key);
            rv = APR_EINVAL;
            goto fail;
        }
        APR_ARRAY_PUSH(envp, const char *) =
            apr_pstrcat(rp, e->key, "=", e->val ? e->val : "", NULL);
    }
    APR_ARRAY_PUSH(envp, const char *) = NULL;

    /* Non-blocking for us, blocking for the command (which expects a
     * normal stdout). Neither end may leak into other commands started
     * while this one runs, or their pipes would not see EOF. */
    if ((rv = apr_file_pipe_create_ex(&run->out, &wr, APR_WRITE_BLOCK, rp))
            != APR_SUCCESS
        || (rv = apr_file_inherit_unset(run->out)) != APR_SUCCESS
        || (rv = apr_file_inherit_unset(wr)) != APR_SUCCESS) {
        why = "cannot create the output pipe";
        goto fail;
    }
    /* stdin from /dev/null: a command reading stdin gets EOF rather than
     * whatever our own stdin is (a terminal, for sacmectl). */
    rv = apr_file_open(&devnull, "/dev/null", APR_FOPEN_READ, APR_FPROT_OS_DEFAULT,
                       rp);
    if (rv != APR_SUCCESS) {
        why = "cannot open /dev/null";
        goto fail;
    }
    /* access(X_OK) before the fork: a missing or non-executable file is an
     * error here, with its reason, not an exit code 255 later. */
    if (access(run->cmd, X_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        why = apr_pstrdup(rp, apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto fail;
    }
    if ((rv = apr_os_file_get(&wr_fd, wr)) != APR_SUCCESS
        || (rv = apr_os_file_get(&devnull_fd, devnull)) != APR_SUCCESS) {
        why = "cannot set up the process attributes";
        goto fail;
    }
    /* Everything the child needs is made before the fork (see exec_child). */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigemptyset(&none);
    pid = fork();
    if (pid == 0) {
        exec_child(run->cmd, (char *const *)argv->elts, (char *const *)envp->elts,
                   devnull_fd, wr_fd, &dfl, &none);
    }
    rv = pid < 0 ? APR_FROM_OS_ERROR(errno) : APR_SUCCESS;
    /* The child has its copies; ours would keep the pipe open and hide the
     * command's EOF. */
    apr_file_close(wr);
    wr = NULL;
    apr_file_close(devnull);
    devnull = NULL;
    if (rv != APR_SUCCESS) {
        why = apr_pstrdup(rp, apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto fail;
    }
    run->proc.pid = pid;
    /* Should the runner's pool go away with the command still running
     * (shutdown), APR terminates it rather than leaving it behind. */
    apr_pool_note_subprocess(rp, &run->proc, APR_KILL_AFTER_TIMEOUT);

    run->term_at = apr_time_now() + hooks->timeout;
    run->next = hooks->running;
    hooks->running = run;
    ++hooks->count;
    sacme_log(hooks->log, SACME_LOG_DEBUG, 0, SACME_LOGNO(10050)
              "notify command %s for event %s of %s started (pid %d)",
              run->cmd, run->event, run->domain, (int)run->proc.pid);
    return APR_SUCCESS;

fail:
    /* why lives in rp or on the stack: report before rp goes. */
    rv = start_failed(hooks, cmd[0], rv, res, why);
    apr_pool_destroy(rp);
    return rv;
}
