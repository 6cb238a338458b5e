/* md_result.c: see md_result.h. */
#include <apr_strings.h>

#include "md_result.h"
#include "md_util.h"

static apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

md_result_t *md_result_make(apr_pool_t *p)
{
    md_result_t *r = apr_pcalloc(p, sizeof(*r));
    r->p = p;
    return r;
}

static void set_subproblems(md_result_t *r, json_t *sub)
{
    r->subproblems = sub ? json_incref(sub) : NULL;
    if (sub) apr_pool_cleanup_register(r->p, sub, json_release, apr_pool_cleanup_null);
}

void md_result_set(md_result_t *r, apr_status_t status, const char *detail)
{
    md_result_problem_set(r, status, NULL, detail, NULL);
}

void md_result_problem_set(md_result_t *r, apr_status_t status, const char *problem,
                           const char *detail, json_t *subproblems)
{
    r->status = status;
    r->problem = problem ? apr_pstrdup(r->p, problem) : NULL;
    r->detail = detail ? apr_pstrdup(r->p, detail) : NULL;
    set_subproblems(r, subproblems);
}

void md_result_activity(md_result_t *r, const char *activity)
{
    r->activity = activity ? apr_pstrdup(r->p, activity) : NULL;
    if (activity && r->on_activity) r->on_activity(r->baton, r->activity);
}

void md_result_assign(md_result_t *dst, const md_result_t *src)
{
    md_result_problem_set(dst, src->status, src->problem, src->detail, src->subproblems);
    dst->activity = src->activity ? apr_pstrdup(dst->p, src->activity) : NULL;
    dst->retry_after = src->retry_after;
    dst->ready_at = src->ready_at;
}

static const char *status_str(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];
    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

json_t *md_result_to_json(const md_result_t *r)
{
    json_t *j = json_pack("{s:i}", "status", (int)r->status);
    if (r->status != APR_SUCCESS)
        json_object_set_new(j, "status-description", json_string(status_str(r->p, r->status)));
    if (r->problem) json_object_set_new(j, "problem", json_string(r->problem));
    if (r->detail) json_object_set_new(j, "detail", json_string(r->detail));
    if (r->activity) json_object_set_new(j, "activity", json_string(r->activity));
    if (r->ready_at)
        json_object_set_new(j, "valid-from", json_string(md_util_time_format(r->p, r->ready_at)));
    if (r->subproblems) json_object_set(j, "subproblems", r->subproblems);
    return j;
}

const char *md_result_describe(const md_result_t *r, apr_pool_t *p)
{
    const char *s = r->detail ? r->detail : status_str(p, r->status);
    if (r->problem) s = apr_psprintf(p, "%s (%s)", s, r->problem);
    if (r->activity) s = apr_psprintf(p, "%s, while %s", s, r->activity);
    return s;
}
