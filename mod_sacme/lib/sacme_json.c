/* Pool-bound jansson with bounds on what we parse. */
#include <ctype.h>
#include <strings.h>

#include "sacme_json.h"
#include "sacme_file.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

int sacme_json_about_serial(const json_t *record, const char *serial)
{
    const char *was = sacme_json_str(record, "serial");

    return serial && was && !strcasecmp(serial, was);
}

json_t *sacme_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *sacme_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

int sacme_json_depth(const char *data, apr_size_t len)
{
    int depth = 0, max = 0, in_str = 0;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        char c = data[i];
        if (in_str) {
            if (c == '\\') {
                ++i;            /* skip the escaped character */
            }
            else if (c == '"') {
                in_str = 0;
            }
        }
        else if (c == '"') {
            in_str = 1;
        }
        else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
            }
        }
        else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return max;
}

/* A printable excerpt of untrusted input for error messages. */
static const char *excerpt(apr_pool_t *p, const char *data, apr_size_t len)
{
    apr_size_t n = len < 80 ? len : 80, i;
    char *s = apr_palloc(p, n + 4);

    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)data[i];
        s[i] = (isprint(c) && c < 0x7f) ? (char)c : '.';
    }
    if (n < len) {
        memcpy(s + n, "...", 3);
        n += 3;
    }
    s[n] = '\0';
    return s;
}

json_t *sacme_json_parse(apr_pool_t *p, const char *data, apr_size_t len,
                         int max_depth, sacme_result_t *res)
{
    json_error_t err;
    json_t *j;
    int depth;

    if (max_depth <= 0) {
        max_depth = SACME_MAX_JSON_DEPTH;
    }
    if (!data || len == 0) {
        sacme_result_set(res, APR_EINVAL, "expected JSON, got an empty body");
        return NULL;
    }
    depth = sacme_json_depth(data, len);
    if (depth > max_depth) {
        sacme_result_set(res, APR_EINVAL,
                         "JSON nested %d levels deep, more than the %d allowed",
                         depth, max_depth);
        return NULL;
    }
    j = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        /* jansson's text may quote raw input bytes: clean it like the
         * excerpt so no control character from the CA reaches a log. */
        sacme_result_set(res, APR_EINVAL, "invalid JSON (%s at offset %d): '%s'",
                         excerpt(p, err.text, strlen(err.text)), err.position,
                         excerpt(p, data, len));
        return NULL;
    }
    return sacme_json_own(p, j);
}

const char *sacme_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *sacme_json_obj(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_object(v) ? v : NULL;
}

json_t *sacme_json_arr(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_array(v) ? v : NULL;
}

int sacme_json_bool(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_true(v);
}

const char *sacme_json_dump(apr_pool_t *p, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    const char *copy;

    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    free(s);
    return copy;
}

json_t *sacme_json_read_file(apr_pool_t *p, const char *path,
                             apr_size_t max_size, sacme_result_t *res)
{
    char *data;
    apr_size_t len;
    json_t *j;

    if (sacme_file_read(path, max_size, p, &data, &len, res) != APR_SUCCESS) {
        return NULL;
    }
    j = sacme_json_parse(p, data, len, 0, res);
    if (!j) {
        sacme_result_prefix(res, "%s", path);
    }
    return j;
}

apr_status_t sacme_json_write_file(const json_t *j, const char *path,
                                   apr_fileperms_t perms, apr_pool_t *p,
                                   sacme_result_t *res)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    apr_status_t rv;

    if (!s) {
        return sacme_result_set(res, APR_ENOMEM, "cannot serialise JSON for %s", path);
    }
    rv = sacme_file_write_atomic(path, s, strlen(s), perms, p, res);
    free(s);
    return rv;
}
