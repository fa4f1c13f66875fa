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
 *     none blocked (a script whose pipe closes would otherwise go on
 *     writing, a "kill -USR1" in it would do nothing): the fork and exec
 *     of sacme_spawn, shared with the DNS commands.
 * A runner is used by one thread (the watchdog's); it has no locks.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "sacme_hook.h"
#include "sacme_spawn.h"

#define DEFAULT_TIMEOUT apr_time_from_sec(30)
#define KILL_GRACE      apr_time_from_sec(1)      /* SIGTERM .. SIGKILL */
#define DRAIN_SLEEP     apr_time_from_msec(20)
#define ENV_PREFIX      "SACME_"

typedef struct hook_run_t hook_run_t;
struct hook_run_t {
    hook_run_t *next;
    apr_pool_t *p;              /* everything of this run; gone when reaped */
    apr_proc_t proc;
    const char *cmd, *event, *domain;
    apr_time_t term_at;         /* when SIGTERM is due */
    apr_time_t kill_at;         /* when SIGKILL is due; 0 before SIGTERM */
    int killed;                 /* SIGKILL sent */
    sacme_spawn_out_t out;      /* stdout and stderr, one pipe */
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

/* The output for the log line: ", output: ..." or nothing. */
static const char *output_text(hook_run_t *run)
{
    const char *text = sacme_spawn_text(&run->out, run->p);

    return *text ? apr_pstrcat(run->p, ", output: ", text, NULL) : "";
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
        sacme_spawn_read(&run->out);
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
        sacme_spawn_read(&run->out);
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
    apr_array_header_t *argv, *envp;
    const apr_array_header_t *extra;
    const apr_table_entry_t *e;
    const char *why = NULL;
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
    APR_ARRAY_PUSH(envp, const char *) = SACME_SPAWN_PATH;
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

    /* stdout and stderr share one pipe: the log line shows them in the
     * order they were written. */
    rv = sacme_spawn(rp, (const char *const *)argv->elts,
                     (const char *const *)envp->elts, 0, &run->out, NULL,
                     &run->proc, &why);
    if (rv != APR_SUCCESS) {
        goto fail;
    }
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
