/* A thin, pool-bound layer over jansson: parsing with bounds, ownership tied
 * to a pool, and typed getters that return NULL instead of crashing on a
 * CA's unexpected JSON. JSON is always built with jansson, never printf.
 */
#ifndef SACME_JSON_H
#define SACME_JSON_H

#include <jansson.h>
#include <apr_file_info.h>
#include "sacme.h"
#include "sacme_result.h"

/* Ties a jansson reference to the pool: json_decref() runs at pool cleanup.
 * Returns j for chaining. NULL is passed through. */
json_t *sacme_json_own(apr_pool_t *p, json_t *j);

/* A new string, or JSON null for NULL (for members that are always there). */
json_t *sacme_json_str_or_null(const char *s);

/* Parses len bytes of JSON. Refuses nesting deeper than max_depth (0 means
 * SACME_MAX_JSON_DEPTH) before jansson sees it, and anything that is not a
 * single JSON value. The result is owned by p. On failure returns NULL and
 * sets res (APR_EINVAL) with the reason and a short excerpt of the input. */
json_t *sacme_json_parse(apr_pool_t *p, const char *data, apr_size_t len,
                         int max_depth, sacme_result_t *res);

/* Nesting depth of the JSON text (arrays and objects, strings skipped). */
int sacme_json_depth(const char *data, apr_size_t len);

/* Getters: NULL / 0 when the key is missing or of another type. */
const char *sacme_json_str(const json_t *obj, const char *key);
json_t *sacme_json_obj(const json_t *obj, const char *key);
json_t *sacme_json_arr(const json_t *obj, const char *key);
int sacme_json_bool(const json_t *obj, const char *key);

/* Whether a record kept for one certificate (issued.json, ari.json: its
 * "serial" member, hex) is about the certificate of serial: a record of
 * the certificate before must not be taken for the one in service. */
int sacme_json_about_serial(const json_t *record, const char *serial);

/* Compact serialisation with sorted keys (stable, and exactly the form RFC
 * 7638 needs for thumbprints). The string is allocated from p. */
const char *sacme_json_dump(apr_pool_t *p, const json_t *j);

/* Reads and parses a JSON file of at most max_size bytes. */
json_t *sacme_json_read_file(apr_pool_t *p, const char *path,
                             apr_size_t max_size, sacme_result_t *res);

/* Writes j atomically and durably (sacme_file_write_atomic) with mode perms. */
apr_status_t sacme_json_write_file(const json_t *j, const char *path,
                                   apr_fileperms_t perms, apr_pool_t *p,
                                   sacme_result_t *res);

#endif /* SACME_JSON_H */
