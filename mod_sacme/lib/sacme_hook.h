/* External commands run on events (SacmeNotifyCmd), with a fixed contract:
 * argv = the admin's command and arguments, then the event and the domain;
 * SACME_* environment variables with the details; no shell; a timeout after
 * which the command is killed; never waited for in a way that blocks other
 * work (start now, reap later).
 */
#ifndef SACME_HOOK_H
#define SACME_HOOK_H

#include <apr_thread_proc.h>
#include "sacme.h"
#include "sacme_log.h"
#include "sacme_result.h"

typedef struct sacme_hooks_t sacme_hooks_t;

/* A runner for commands; all state lives in p. timeout 0 means 30 s. */
sacme_hooks_t *sacme_hooks_make(apr_pool_t *p, const sacme_log_t *log,
                                apr_interval_time_t timeout);

/* Starts cmd (argv[0] an absolute path, NULL-terminated argv of the admin's
 * command and arguments) with "event" and "domain" appended, and the
 * environment: PATH=/usr/sbin:/usr/bin:/sbin:/bin, SACME_EVENT, SACME_DOMAIN,
 * plus env (a table of extra SACME_* variables, may be NULL). Returns at
 * once; the process is reaped by sacme_hooks_poll. A command that cannot be
 * started is logged and returned as an error. stdin is /dev/null; stdout and
 * stderr go to a pipe whose first 4 KiB are logged at INFO when it ends.
 * The command starts with every signal at its default disposition and an
 * empty signal mask, whatever the caller ignores or blocks. */
apr_status_t sacme_hooks_start(sacme_hooks_t *hooks, const char *const *cmd,
                               const char *event, const char *domain,
                               apr_table_t *env, sacme_result_t *res);

/* Reaps finished commands and kills those past the timeout (SIGTERM, then
 * SIGKILL a second later). Logs each end: exit code, signal, or timeout.
 * Returns how many are still running. Never blocks. */
int sacme_hooks_poll(sacme_hooks_t *hooks);

/* Waits (polling) until all commands ended or were killed. */
void sacme_hooks_drain(sacme_hooks_t *hooks);

#endif /* SACME_HOOK_H */
