/* md_job.c: see md_job.h. */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include "md_util.h"
#include "md_job.h"
#include "md_lock.h"

static apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

md_job_t *md_job_make(const char *name, apr_pool_t *p)
{
    md_job_t *job = apr_pcalloc(p, sizeof(*job));
    job->p = p;
    job->name = apr_pstrdup(p, name);
    job->last = md_result_make(p);
    job->log = json_array();
    apr_pool_cleanup_register(p, job->log, json_release, apr_pool_cleanup_null);
    return job;
}

static void put_time(json_t *j, const char *key, apr_time_t t, apr_pool_t *p)
{
    if (t) json_object_set_new(j, key, json_string(md_util_time_format(p, t)));
}

json_t *md_job_to_json(const md_job_t *job, apr_pool_t *p)
{
    json_t *j = json_pack("{s:s,s:b,s:b,s:b,s:i}", "name", job->name, "finished", job->finished,
                          "notified", job->notified, "notified-renewed", job->notified_renewed,
                          "errors", job->errors);
    put_time(j, "next-run", job->next_run, p);
    put_time(j, "last-run", job->last_run, p);
    put_time(j, "valid-from", job->valid_from, p);
    if (job->profile) json_object_set_new(j, "profile", json_string(job->profile));
    if (job->last->status != APR_SUCCESS || job->last->detail || job->last->activity
        || job->last->ready_at)
        json_object_set_new(j, "last", md_result_to_json(job->last));
    json_object_set_new(j, "log", json_pack("{s:O}", "entries", job->log));
    return j;
}

static apr_time_t get_time(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? md_util_time_parse(s) : 0;
}

md_job_t *md_job_from_json(json_t *j, const char *name, apr_pool_t *p)
{
    md_job_t *job = md_job_make(name, p);
    json_t *last, *entries;
    size_t i;

    if (!json_is_object(j)) return job;
    job->finished = json_is_true(json_object_get(j, "finished"));
    job->notified = json_is_true(json_object_get(j, "notified"));
    job->notified_renewed = json_is_true(json_object_get(j, "notified-renewed"));
    job->errors = md_util_json_int(j, "errors", 0, MD_COUNTER_MAX, 0);
    job->next_run = get_time(j, "next-run");
    job->last_run = get_time(j, "last-run");
    job->valid_from = get_time(j, "valid-from");
    if (json_string_value(json_object_get(j, "profile")))
        job->profile = apr_pstrdup(p, json_string_value(json_object_get(j, "profile")));
    last = json_object_get(j, "last");
    if (json_is_object(last)) {
        md_result_problem_set(job->last, md_util_json_int(last, "status", 0, INT_MAX, 0),
                              json_string_value(json_object_get(last, "problem")),
                              json_string_value(json_object_get(last, "detail")),
                              json_object_get(last, "subproblems"));
        md_result_activity(job->last, json_string_value(json_object_get(last, "activity")));
        job->last->ready_at = get_time(last, "valid-from");
    }
    entries = json_object_get(json_object_get(j, "log"), "entries");
    for (i = 0; json_is_array(entries) && i < json_array_size(entries) && i < MD_JOB_LOG_MAX; ++i) {
        json_t *e = json_array_get(entries, i);
        if (json_is_object(e)) json_array_append(job->log, e);
    }
    return job;
}

md_job_t *md_job_load(md_store_t *store, const char *name, apr_pool_t *p)
{
    json_t *j;
    const char *err = NULL;
    if (md_store_load_json(store, MD_SG_STAGING, name, MD_FN_JOB, &j, p, &err) != APR_SUCCESS)
        return md_job_make(name, p);
    return md_job_from_json(j, name, p);
}

apr_status_t md_job_save(md_job_t *job, md_store_t *store, apr_pool_t *p)
{
    json_t *j;
    apr_status_t rv;

    /* a job whose renewal lock went to another server leaves job.json to that server */
    if (job->lock && !md_lock_is_held(job->lock, p)) return APR_EBUSY;
    j = md_job_to_json(job, p);
    rv = md_store_save_json(store, MD_SG_STAGING, job->name, MD_FN_JOB, j, p);
    json_decref(j);
    return rv;
}

void md_job_log_append(md_job_t *job, const char *type, apr_status_t status, const char *detail)
{
    json_t *e = json_pack("{s:s,s:s}", "when", md_util_time_format(job->p, apr_time_now()), "type", type);
    if (status != APR_SUCCESS) json_object_set_new(e, "status", json_integer(status));
    if (detail) json_object_set_new(e, "detail", json_string(detail));
    json_array_insert_new(job->log, 0, e);
    while (json_array_size(job->log) > MD_JOB_LOG_MAX)
        json_array_remove(job->log, json_array_size(job->log) - 1);
}

apr_time_t md_job_log_last(const md_job_t *job, const char *type)
{
    size_t i;
    for (i = 0; i < json_array_size(job->log); ++i) {
        json_t *e = json_array_get(job->log, i);
        const char *t = json_string_value(json_object_get(e, "type"));
        if (t && !strcmp(t, type)) {
            const char *w = json_string_value(json_object_get(e, "when"));
            return w ? md_util_time_parse(w) : 0;
        }
    }
    return 0;
}
