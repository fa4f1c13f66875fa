/* Finding the store from an httpd configuration file (sacme_httpdconf.h). */
#include <glob.h>
#include <strings.h>

#include <apr_file_info.h>

#include "sacme_httpdconf.h"
#include "sacme_file.h"

#define MAX_CONF_SIZE    (4 * 1024 * 1024)
#define MAX_INCLUDE_DEPTH 16     /* a file that includes itself stops here */

typedef struct {
    apr_pool_t *p;
    const char *root;            /* the ServerRoot in force */
    const char *store;           /* the last SacmeStoreDir, resolved */
} scan_t;

static apr_status_t scan_file(scan_t *sc, const char *path, int depth,
                              sacme_result_t *res);

static const char *relative_to_root(scan_t *sc, const char *path)
{
    return path[0] == '/' ? path : apr_pstrcat(sc->p, sc->root, "/", path, NULL);
}

/* The argument of a directive: trimmed, without surrounding quotes. */
static char *argument(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        *--end = '\0';
    }
    if (end - s >= 2 && (*s == '"' || *s == '\'') && end[-1] == *s) {
        end[-1] = '\0';
        ++s;
    }
    return s;
}

/* Include of a file, a directory (every file in it) or a wildcard. */
static apr_status_t include(scan_t *sc, const char *pattern, int depth,
                            sacme_result_t *res)
{
    apr_finfo_t fi;
    glob_t g;
    apr_status_t rv = APR_SUCCESS;
    size_t i;

    pattern = relative_to_root(sc, pattern);
    if (apr_stat(&fi, pattern, APR_FINFO_TYPE, sc->p) == APR_SUCCESS
        && fi.filetype == APR_DIR) {
        pattern = apr_pstrcat(sc->p, pattern, "/*", NULL);
    }
    if (glob(pattern, 0, NULL, &g) != 0) {
        return APR_SUCCESS;          /* nothing matches: nothing to read */
    }
    for (i = 0; rv == APR_SUCCESS && i < g.gl_pathc; ++i) {
        if (apr_stat(&fi, g.gl_pathv[i], APR_FINFO_TYPE, sc->p) == APR_SUCCESS
            && fi.filetype == APR_REG) {
            rv = scan_file(sc, apr_pstrdup(sc->p, g.gl_pathv[i]), depth + 1, res);
        }
    }
    globfree(&g);
    return rv;
}

static apr_status_t scan_line(scan_t *sc, char *line, int depth, sacme_result_t *res)
{
    char *name, *arg;

    while (*line == ' ' || *line == '\t') {
        ++line;
    }
    if (!*line || *line == '#') {
        return APR_SUCCESS;
    }
    name = line;
    arg = line + strcspn(line, " \t");
    if (*arg) {
        *arg++ = '\0';
    }
    arg = argument(arg);
    if (!*arg) {
        return APR_SUCCESS;
    }
    if (!strcasecmp(name, "ServerRoot")) {
        sc->root = apr_pstrdup(sc->p, arg);
    }
    else if (!strcasecmp(name, "SacmeStoreDir")) {
        sc->store = relative_to_root(sc, apr_pstrdup(sc->p, arg));
    }
    else if (!strcasecmp(name, "Include") || !strcasecmp(name, "IncludeOptional")) {
        return include(sc, arg, depth, res);
    }
    return APR_SUCCESS;
}

/* A backslash at the end of a line continues it: join the pieces. */
static void join_continued(char *s)
{
    char *w = s, *r = s;

    while (*r) {
        if (r[0] == '\\' && r[1] == '\n') {
            r += 2;
        }
        else if (r[0] == '\\' && r[1] == '\r' && r[2] == '\n') {
            r += 3;
        }
        else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static apr_status_t scan_file(scan_t *sc, const char *path, int depth,
                              sacme_result_t *res)
{
    char *data, *line, *next;
    apr_size_t len;
    apr_status_t rv;

    if (depth > MAX_INCLUDE_DEPTH) {
        return sacme_result_set(res, APR_EINVAL, "%s: Include nested more than %d "
                                "deep (does a file include itself?)", path,
                                MAX_INCLUDE_DEPTH);
    }
    /* An included file that went away is skipped, the main file must be
     * there. */
    rv = sacme_file_read(path, MAX_CONF_SIZE, sc->p, &data, &len, depth ? NULL : res);
    if (rv != APR_SUCCESS) {
        return depth ? APR_SUCCESS : rv;
    }
    join_continued(data);
    for (line = data; line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        if ((rv = scan_line(sc, line, depth, res)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t sacme_httpdconf_store(const char *conf_file, apr_pool_t *p,
                                   const char **store_dir, sacme_result_t *res)
{
    scan_t sc;
    apr_status_t rv;

    sc.p = p;
    sc.root = SACME_HTTPD_DEFAULT_ROOT;
    sc.store = NULL;
    rv = scan_file(&sc, conf_file, 0, res);
    if (rv == APR_SUCCESS) {
        *store_dir = sc.store ? sc.store : apr_pstrcat(p, sc.root, "/sacme", NULL);
    }
    return rv;
}
