/* md_json.c: see md_json.h. */
#include <string.h>

#include <apr_strings.h>

#include "md_util.h"
#include "md_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

apr_status_t md_json_read_file(json_t **pjson, const char *path, apr_pool_t *p, const char **perr)
{
    char *data;
    apr_size_t len;
    json_error_t err;
    json_t *j;
    apr_status_t rv = md_util_file_read(&data, &len, path, MD_JSON_MAX, p);

    *pjson = NULL;
    if (rv != APR_SUCCESS) {
        if (perr) *perr = apr_psprintf(p, "cannot read %s: %s", path,
                                       APR_STATUS_IS_EINVAL(rv) ? "file too large"
                                       : apr_strerror(rv, apr_palloc(p, 128), 128));
        return rv;
    }
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        if (perr) *perr = apr_psprintf(p, "%s is not valid JSON (line %d, column %d: %s)",
                                       path, err.line, err.column, err.text);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    *pjson = j;
    return APR_SUCCESS;
}

apr_status_t md_json_write_file(json_t *json, const char *path, apr_fileperms_t perms, apr_pool_t *p)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    apr_status_t rv;
    if (!s) return APR_ENOMEM;
    rv = md_util_file_write_atomic(path, s, strlen(s), perms, p);
    free(s);
    return rv;
}
