/* Unit tests of the engine (libcheck). One suite per engine file; the
 * runner in unit_main.c collects them. Tests link against libsacme only. */
#ifndef SACME_UNIT_H
#define SACME_UNIT_H

#include <check.h>
#include <apr_file_info.h>
#include <apr_pools.h>
#include <apr_tables.h>

/* A pool per test, created in setup and destroyed in teardown. */
extern apr_pool_t *unit_pool;
void unit_setup(void);
void unit_teardown(void);

/* Path of a fixture file under test/fixtures. */
const char *unit_fixture(const char *name);

/* Reads a fixture completely (NUL-terminated); fails the test if missing. */
const char *unit_fixture_read(const char *name, apr_size_t *len);

/* A fresh empty directory for the test, removed by unit_teardown. */
const char *unit_tmpdir(void);

/* The strings given, NULL-terminated, as an array (of const char *). */
apr_array_header_t *unit_names(const char *first, ...);

/* Reads a whole file of at most 1 MiB (NUL-terminated); fails the test if
 * it cannot. */
const char *unit_read_text(const char *path);

/* Writes text to path (atomically, with perms); fails the test if it
 * cannot. */
void unit_write_text(const char *path, const char *text, apr_fileperms_t perms);

/* Makes path (0700, with its parents) and opens it as a safe directory;
 * fails the test if it cannot. */
struct sacme_sdir_t;
const struct sacme_sdir_t *unit_sdir(const char *path);

#define SACME_SUITES(X) \
    X(b64) X(json) X(time) X(file) X(key) X(jws) X(eab) X(csr) X(chain) \
    X(trust) X(problem) X(directory) X(http) X(acme) X(hook) X(selfsigned) X(window) \
    X(store) X(drive) X(status) X(warn) X(webhook) X(acct) X(revoke) X(httpdconf) \
    X(managed) X(sdir) X(eab_secret) X(proxy) X(static) X(name) X(ari) \
    X(alpn) X(dns) X(drive_dns) X(cluster) X(seal) X(store_mirror) X(etcd) X(scm) \
    X(scm_check)

#define SACME_DECLARE_SUITE(name) Suite *unit_suite_##name(void);
SACME_SUITES(SACME_DECLARE_SUITE)

#endif /* SACME_UNIT_H */
