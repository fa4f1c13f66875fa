/* Starting the admin's commands (SacmeNotifyCmd, SacmeDnsCmd) and keeping
 * their output: the fork and exec both share, and a runner that waits for
 * a command's end within a timeout.
 *
 * Every command gets the same start (DESIGN §8.7): the argv as configured,
 * no shell and no PATH search (argv[0] is an absolute path), an
 * environment built from nothing, stdin from /dev/null, every signal at
 * its default disposition and an empty signal mask (the driver ignores
 * SIGPIPE and httpd's restart signals, and a thread may block others:
 * both would be inherited through exec). APR's process creation has no
 * hook between fork and exec for the signals, so the fork and exec are
 * ours. Safe from any thread: between fork and exec the child makes only
 * async-signal-safe calls.
 */
#ifndef SACME_SPAWN_H
#define SACME_SPAWN_H

#include <apr_file_io.h>
#include <apr_thread_proc.h>
#include "sacme.h"

/* What of a command's output is kept for a log line. */
#define SACME_SPAWN_KEEP 4096

/* One output pipe of a command: its read end (non-blocking; NULL once at
 * EOF), the first SACME_SPAWN_KEEP bytes, and how many more were read and
 * dropped so the command never blocks on a full pipe. */
typedef struct sacme_spawn_out_t {
    apr_file_t *f;
    apr_size_t len;
    apr_size_t dropped;
    char buf[SACME_SPAWN_KEEP];
} sacme_spawn_out_t;

/* Reads what the command wrote so far, without blocking and at most a
 * bounded amount per call (a command writing endlessly cannot hold the
 * caller); closes the pipe at EOF. */
void sacme_spawn_read(sacme_spawn_out_t *o);

/* The output kept, as one log-safe line: control characters (newlines,
 * escape sequences) become spaces, so a command cannot forge log lines;
 * trailing white space is cut; "[N more bytes not shown]" follows when
 * output was dropped. "" when there was none. */
const char *sacme_spawn_text(const sacme_spawn_out_t *o, apr_pool_t *p);

/* True when the output kept holds anything but white space (or output was
 * dropped). */
int sacme_spawn_has_text(const sacme_spawn_out_t *o);

/* Starts argv[0] (an absolute path; argv NULL-terminated) with envp
 * (NULL-terminated "NAME=value"), stdin /dev/null, stdout into a new pipe
 * whose read end goes to out->f, and stderr into a pipe of its own when
 * err is given (err->f), else into out's. With new_group the command leads
 * a process group of its own, so sacme_spawn_kill_group reaches what it
 * started too. Both read ends are kept from other commands started
 * meanwhile. On failure *why (p) says what went wrong; nothing runs then.
 * A program that cannot be executed is an error here (access(X_OK)), not
 * an exit status later; should exec fail all the same, the reason goes to
 * stderr and the exit status is 255. */
apr_status_t sacme_spawn(apr_pool_t *p, const char *const *argv,
                         const char *const *envp, int new_group,
                         sacme_spawn_out_t *out, sacme_spawn_out_t *err,
                         apr_proc_t *proc, const char **why);

/* SIGKILL to the command's process group (sacme_spawn with new_group). */
void sacme_spawn_kill_group(const apr_proc_t *proc);

/* How a command run by sacme_spawn_run ended. */
typedef struct sacme_spawn_end_t {
    int timed_out;             /* killed (its process group) at the timeout */
    int signal;                /* ended by this signal (0: none) */
    int code;                  /* its exit status, when it exited */
    const char *out;           /* its stdout, sacme_spawn_text */
    const char *err;           /* its stderr, sacme_spawn_text */
    int err_seen;              /* stderr held more than white space */
} sacme_spawn_end_t;

/* Runs argv in a process group of its own with only
 * PATH=/usr/sbin:/usr/bin:/sbin:/bin in its environment, and waits for its
 * end, at most timeout; then the process group is killed. stdout and
 * stderr are kept apart (sacme_spawn_out_t each). Returns APR_SUCCESS when
 * it ran (however it ended: see *end), else an error with *why. Blocks the
 * calling thread only. */
apr_status_t sacme_spawn_run(apr_pool_t *p, const char *const *argv,
                             apr_interval_time_t timeout, sacme_spawn_end_t *end,
                             const char **why);

/* The environment of every command: nothing of ours but a PATH. */
#define SACME_SPAWN_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

#endif /* SACME_SPAWN_H */
