/* Starting the admin's commands and keeping their output (sacme_spawn.h).
 * Shared by the notify commands (sacme_hook.c: start now, reap later) and
 * the DNS commands (sacme_drive_dns.c: wait for the end, bounded). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_strings.h>

#include "sacme_spawn.h"

#define READ_BUDGET  (256 * 1024)            /* per pipe and call */
#define WAIT_SLICE   20                      /* ms between looks at the end */

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
 * When exec fails, the reason goes to stderr, which is an output pipe, so
 * it ends up in the log line of the exit (code 255). */
static void exec_child(const char *prog, char *const *argv, char *const *envp,
                       int in, int out, int err, int new_group,
                       const struct sigaction *dfl, const sigset_t *none)
{
    char line[512], num[16];
    size_t n = 0, k = 0;
    int sig, in2, out2, err2, e;
    ssize_t ignored;

    /* Its own group, so a timeout kills what it started as well. */
    if (new_group && setpgid(0, 0) != 0) {
        _exit(255);
    }
    /* Handlers would be reset by exec anyway; an ignored signal would not. */
    for (sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            (void)sigaction(sig, dfl, NULL);    /* EINVAL for the libc's own: fine */
        }
    }
    /* Copies above 2 first: stdin or stdout of ours may be closed, so a
     * pipe or /dev/null may sit on 0..2 themselves. */
    in2 = fcntl(in, F_DUPFD_CLOEXEC, 3);
    out2 = fcntl(out, F_DUPFD_CLOEXEC, 3);
    err2 = fcntl(err, F_DUPFD_CLOEXEC, 3);
    if (in2 < 0 || out2 < 0 || err2 < 0 || dup2(in2, STDIN_FILENO) < 0
        || dup2(out2, STDOUT_FILENO) < 0 || dup2(err2, STDERR_FILENO) < 0) {
        _exit(255);
    }
    /* Last: a signal that was pending meets its default action now. */
    (void)sigprocmask(SIG_SETMASK, none, NULL);
    execve(prog, argv, envp);

    e = errno;
    child_append(line, &n, sizeof(line), "exec of '");
    child_append(line, &n, sizeof(line), prog);
    child_append(line, &n, sizeof(line), "' failed: ");
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    /* a table lookup, unlike strerror (no locale, no allocation) */
    if (strerrordesc_np(e)) {
        child_append(line, &n, sizeof(line), strerrordesc_np(e));
        child_append(line, &n, sizeof(line), " ");
    }
#endif
    child_append(line, &n, sizeof(line), "(errno ");
    do {
        num[k++] = (char)('0' + e % 10);
        e /= 10;
    } while (e > 0 && k < sizeof(num));
    while (k > 0 && n + 1 < sizeof(line)) {
        line[n++] = num[--k];
    }
    child_append(line, &n, sizeof(line), ")\n");
    ignored = write(STDERR_FILENO, line, n);
    (void)ignored;
    _exit(255);
}

void sacme_spawn_read(sacme_spawn_out_t *o)
{
    char sink[4096];
    apr_size_t n, total = 0;
    apr_status_t rv;
    char *dst;

    while (o->f && total < READ_BUDGET) {
        if (o->len < sizeof(o->buf)) {
            dst = o->buf + o->len;
            n = sizeof(o->buf) - o->len;
        }
        else {
            dst = sink;
            n = sizeof(sink);
        }
        rv = apr_file_read(o->f, dst, &n);
        if (rv == APR_SUCCESS && n > 0) {
            if (dst == sink) {
                o->dropped += n;
            }
            else {
                o->len += n;
            }
            total += n;
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        /* EOF, or an error that will not go away: nothing more to read. */
        apr_file_close(o->f);
        o->f = NULL;
    }
}

int sacme_spawn_has_text(const sacme_spawn_out_t *o)
{
    apr_size_t i;

    if (o->dropped) {
        return 1;
    }
    for (i = 0; i < o->len; ++i) {
        if (!apr_isspace(o->buf[i])) {
            return 1;
        }
    }
    return 0;
}

const char *sacme_spawn_text(const sacme_spawn_out_t *o, apr_pool_t *p)
{
    char *s;
    apr_size_t i, n = o->len;

    while (n > 0 && apr_isspace(o->buf[n - 1])) {
        --n;
    }
    if (n == 0 && o->dropped == 0) {
        return "";
    }
    s = apr_pstrmemdup(p, o->buf, n);
    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            s[i] = ' ';
        }
    }
    if (o->dropped) {
        return apr_psprintf(p, "%s [%" APR_SIZE_T_FMT " more bytes not shown]", s,
                            o->dropped);
    }
    return s;
}

/* A pipe whose read end (ours) does not block and whose write end (the
 * command's) does; neither may leak into other commands started while
 * this one runs, or their pipes would not see EOF. */
static apr_status_t make_pipe(apr_file_t **rd, apr_file_t **wr, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = apr_file_pipe_create_ex(rd, wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_file_inherit_unset(*rd)) != APR_SUCCESS
        || (rv = apr_file_inherit_unset(*wr)) != APR_SUCCESS) {
        apr_file_close(*rd);
        apr_file_close(*wr);
        *rd = *wr = NULL;
    }
    return rv;
}

apr_status_t sacme_spawn(apr_pool_t *p, const char *const *argv,
                         const char *const *envp, int new_group,
                         sacme_spawn_out_t *out, sacme_spawn_out_t *err,
                         apr_proc_t *proc, const char **why)
{
    apr_file_t *out_wr = NULL, *err_wr = NULL, *devnull = NULL;
    apr_os_file_t out_fd, err_fd, devnull_fd;
    struct sigaction dfl;
    sigset_t none;
    pid_t pid;
    char ebuf[256];
    apr_status_t rv;

    out->f = NULL;
    if (err) {
        err->f = NULL;
    }
    if (!argv || !argv[0] || argv[0][0] != '/') {
        *why = "not an absolute path (commands are run without a shell or PATH "
               "search)";
        return APR_EINVAL;
    }
    /* access(X_OK) before the fork: a missing or non-executable file is an
     * error here, with its reason, not an exit code 255 later. */
    if (access(argv[0], X_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_pstrdup(p, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return rv;
    }
    if ((rv = make_pipe(&out->f, &out_wr, p)) != APR_SUCCESS
        || (err && (rv = make_pipe(&err->f, &err_wr, p)) != APR_SUCCESS)) {
        *why = "cannot create an output pipe";
        goto fail;
    }
    /* stdin from /dev/null: a command reading stdin gets EOF rather than
     * whatever our own stdin is (a terminal, for sacmectl). */
    rv = apr_file_open(&devnull, "/dev/null", APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *why = "cannot open /dev/null";
        goto fail;
    }
    if ((rv = apr_os_file_get(&out_fd, out_wr)) != APR_SUCCESS
        || (rv = apr_os_file_get(&err_fd, err_wr ? err_wr : out_wr)) != APR_SUCCESS
        || (rv = apr_os_file_get(&devnull_fd, devnull)) != APR_SUCCESS) {
        *why = "cannot set up the process attributes";
        goto fail;
    }
    /* Everything the child needs is made before the fork (see exec_child). */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigemptyset(&none);
    pid = fork();
    if (pid == 0) {
        exec_child(argv[0], (char *const *)argv, (char *const *)envp, devnull_fd,
                   out_fd, err_fd, new_group, &dfl, &none);
    }
    if (pid < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_pstrdup(p, apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto fail;
    }
    /* Set here as well as in the child: whichever runs first, the group
     * exists before anyone signals it. EACCES once the child has exec'ed
     * means it did it itself. */
    if (new_group) {
        (void)setpgid(pid, pid);
    }
    /* The child has its copies; ours would keep the pipes open and hide
     * the command's EOF. */
    apr_file_close(out_wr);
    if (err_wr) {
        apr_file_close(err_wr);
    }
    apr_file_close(devnull);
    memset(proc, 0, sizeof(*proc));
    proc->pid = pid;
    return APR_SUCCESS;

fail:
    if (out_wr) {
        apr_file_close(out_wr);
    }
    if (err_wr) {
        apr_file_close(err_wr);
    }
    if (devnull) {
        apr_file_close(devnull);
    }
    if (out->f) {
        apr_file_close(out->f);
        out->f = NULL;
    }
    if (err && err->f) {
        apr_file_close(err->f);
        err->f = NULL;
    }
    return rv;
}

void sacme_spawn_kill_group(const apr_proc_t *proc)
{
    if (proc->pid > 0) {
        (void)kill(-proc->pid, SIGKILL);
    }
}

/* Waits up to ms for either pipe to have something (or close). */
static void wait_output(sacme_spawn_out_t *out, sacme_spawn_out_t *err, int ms)
{
    struct pollfd fds[2];
    apr_os_file_t fd;
    nfds_t n = 0;

    if (out->f && apr_os_file_get(&fd, out->f) == APR_SUCCESS) {
        fds[n].fd = fd;
        fds[n++].events = POLLIN;
    }
    if (err->f && apr_os_file_get(&fd, err->f) == APR_SUCCESS) {
        fds[n].fd = fd;
        fds[n++].events = POLLIN;
    }
    if (n == 0) {
        apr_sleep(apr_time_from_msec(ms));
        return;
    }
    (void)poll(fds, n, ms);
}

apr_status_t sacme_spawn_run(apr_pool_t *p, const char *const *argv,
                             apr_interval_time_t timeout, sacme_spawn_end_t *end,
                             const char **why)
{
    static const char *const envp[] = { SACME_SPAWN_PATH, NULL };
    sacme_spawn_out_t *out = apr_pcalloc(p, sizeof(*out));
    sacme_spawn_out_t *err = apr_pcalloc(p, sizeof(*err));
    apr_time_t deadline = apr_time_now() + timeout;
    apr_exit_why_e how;
    apr_proc_t proc;
    apr_status_t rv;
    int code;

    memset(end, 0, sizeof(*end));
    rv = sacme_spawn(p, argv, envp, 1, out, err, &proc, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        sacme_spawn_read(out);
        sacme_spawn_read(err);
        code = 0;
        how = APR_PROC_EXIT;
        rv = apr_proc_wait(&proc, &code, &how, APR_NOWAIT);
        if (rv == APR_CHILD_DONE) {
            break;
        }
        if (rv == APR_FROM_OS_ERROR(ECHILD)) {
            /* reaped by someone else (SIGCHLD ignored by the host): it is
             * gone, how it ended is unknown */
            end->code = -1;
            break;
        }
        /* Anything else (a stopped child gives APR_EGENERAL) still holds
         * a process, which the deadline deals with. */
        if (apr_time_now() >= deadline) {
            /* the whole group: a script's children hold the pipes too */
            sacme_spawn_kill_group(&proc);
            end->timed_out = 1;
            rv = apr_proc_wait(&proc, &code, &how, APR_WAIT);
            break;
        }
        wait_output(out, err, WAIT_SLICE);
    }
    /* What it wrote before it ended is in the pipes now. A child left
     * behind may keep a pipe open, so no waiting for EOF. */
    sacme_spawn_read(out);
    sacme_spawn_read(err);
    if (!end->timed_out && rv == APR_CHILD_DONE) {
        if (how & APR_PROC_SIGNAL) {
            end->signal = code;
        }
        else {
            end->code = code;
        }
    }
    end->out = sacme_spawn_text(out, p);
    end->err = sacme_spawn_text(err, p);
    end->err_seen = sacme_spawn_has_text(err);
    if (out->f) {
        apr_file_close(out->f);
    }
    if (err->f) {
        apr_file_close(err->f);
    }
    return APR_SUCCESS;
}
