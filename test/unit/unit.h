/* Unit tests of the engine (libcheck). One suite per engine file; the
 * runner in unit_main.c collects them. Tests link against libsacme only. */
#ifndef SACME_UNIT_H
#define SACME_UNIT_H

#include <check.h>
#include <apr_pools.h>

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

#define SACME_SUITES(X) \
    X(b64) X(json) X(time) X(file) X(key) X(jws) X(eab) X(csr) X(chain) \
    X(problem) X(directory) X(http) X(acme) X(hook) X(selfsigned) X(window) \
    X(store) X(drive)

#define SACME_DECLARE_SUITE(name) Suite *unit_suite_##name(void);
SACME_SUITES(SACME_DECLARE_SUITE)

#endif /* SACME_UNIT_H */
