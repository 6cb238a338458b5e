/* md_metrics.c: see md_metrics.h. */
#include <apr_strings.h>
#include <jansson.h>

#include "md_metrics.h"

static const char *renewal_fname(const char *md_name, apr_pool_t *p)
{
    return apr_pstrcat(p, "renewal-", md_name, ".json", NULL);
}

static json_int_t load_int(md_store_t *store, const char *fname, const char *key, apr_pool_t *p)
{
    json_t *j;
    json_int_t v;

    if (md_store_load_json(store, MD_SG_TMP, MD_METRICS_DIR, fname, &j, p, NULL) != APR_SUCCESS)
        return 0;
    v = json_integer_value(json_object_get(j, key));     /* j goes with the pool */
    return v > 0 ? v : 0;
}

static apr_status_t save_int(md_store_t *store, const char *fname, const char *key,
                             json_int_t v, apr_pool_t *p)
{
    json_t *j = json_pack("{s:I}", key, v);
    apr_status_t rv = md_store_save_json(store, MD_SG_TMP, MD_METRICS_DIR, fname, j, p);
    json_decref(j);
    return rv;
}

apr_status_t md_metrics_count_failure(md_store_t *store, const char *md_name, apr_pool_t *p)
{
    const char *fname = renewal_fname(md_name, p);
    return save_int(store, fname, "renewal-failures",
                    load_int(store, fname, "renewal-failures", p) + 1, p);
}

apr_int64_t md_metrics_failures(md_store_t *store, const char *md_name, apr_pool_t *p)
{
    return (apr_int64_t)load_int(store, renewal_fname(md_name, p), "renewal-failures", p);
}

apr_status_t md_metrics_note_check(md_store_t *store, apr_time_t when, apr_pool_t *p)
{
    return save_int(store, "driver.json", "last-check", (json_int_t)apr_time_sec(when), p);
}

apr_time_t md_metrics_last_check(md_store_t *store, apr_pool_t *p)
{
    return apr_time_from_sec(load_int(store, "driver.json", "last-check", p));
}
