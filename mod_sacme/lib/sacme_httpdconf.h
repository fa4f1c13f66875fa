/* Where the store of an httpd configuration is, for sacmectl --config.
 *
 * sacmectl cannot run httpd's own parser (and must not load modules), so it
 * reads just enough: ServerRoot and SacmeStoreDir lines, following Include
 * and IncludeOptional (wildcards and directories, relative to the
 * ServerRoot). Comments and continuation lines are understood; sections
 * (<IfModule>, <IfDefine>), Define and ${VARIABLES} are not evaluated, so
 * a SacmeStoreDir anywhere counts. Like httpd, the last ServerRoot and
 * SacmeStoreDir read win, and a relative SacmeStoreDir is taken relative to
 * the ServerRoot in force where it appears.
 */
#ifndef SACME_HTTPDCONF_H
#define SACME_HTTPDCONF_H

#include "sacme.h"
#include "sacme_result.h"

/* httpd's compiled-in ServerRoot on Debian, used when the file sets none. */
#define SACME_HTTPD_DEFAULT_ROOT "/etc/apache2"

/* The store directory a server started with conf_file uses: its
 * SacmeStoreDir, or "sacme" in its ServerRoot. An unreadable conf_file is
 * an error; included files that do not exist are skipped (the server
 * would refuse to start with them anyway). */
apr_status_t sacme_httpdconf_store(const char *conf_file, apr_pool_t *p,
                                   const char **store_dir, sacme_result_t *res);

#endif /* SACME_HTTPDCONF_H */
