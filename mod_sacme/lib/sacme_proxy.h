/* An outbound HTTP proxy (SacmeHttpProxy): its URL and the credentials file.
 *
 * The URL never holds credentials: they are a secret and the URL is shown
 * in messages, on the status page and in managed.json. They live in a file
 * of one line, "user:password", read by the process that needs them and
 * cleansed from memory when its pool goes. No function here quotes the
 * file's content in a message.
 */
#ifndef SACME_PROXY_H
#define SACME_PROXY_H

#include "sacme.h"
#include "sacme_result.h"

/* Bound on a credentials file: one short line in practice. */
#define SACME_PROXY_AUTH_MAX 4096

/* Checks a proxy URL: http:// or https://, a host, an optional port from 1
 * to 65535, no path beyond "/", no query or fragment, and no user or
 * password in it. On failure APR_EINVAL with res saying what is wrong; a
 * URL holding credentials is not quoted. */
apr_status_t sacme_proxy_check_url(apr_pool_t *p, const char *url,
                                   sacme_result_t *res);

/* Reads a credentials file (one line "user:password", a final newline
 * allowed) into *userpwd, allocated from p and cleansed when p is
 * destroyed; the bytes read are cleansed at once. Errors name the file and
 * what is wrong with it, never its content. */
apr_status_t sacme_proxy_read_auth(apr_pool_t *p, const char *path,
                                   char **userpwd, sacme_result_t *res);

#endif /* SACME_PROXY_H */
