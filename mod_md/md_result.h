/* md_result.h: the result of one operation of the core (an ACME step, a renewal, ...).
 *
 * Owns: md_result_t (status, ACME problem URN, detail, activity, subproblems) which every
 * step of a renewal fills so that a failure is explained in one place, its JSON form (the
 * "last" of job.json, docs/store.md) and its one-line description for the error log.
 * Never: logs, touches the store or includes httpd headers.
 */
#ifndef MD_RESULT_H
#define MD_RESULT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

typedef struct md_result_t {
    apr_pool_t *p;
    apr_status_t status;
    const char *problem;          /* ACME problem type URN, or NULL */
    const char *detail;           /* what went wrong, for the user */
    const char *activity;         /* what we were doing */
    json_t *subproblems;          /* owned (reference held), or NULL */
    apr_time_t retry_after;       /* the CA asked us to wait until then, 0 if not */
    apr_time_t ready_at;          /* a staged set is usable from then ("valid-from"), or 0 */
    /* told about every new activity (the renewal logs them as progress), may be NULL */
    void (*on_activity)(void *baton, const char *activity);
    void *baton;
} md_result_t;

md_result_t *md_result_make(apr_pool_t *p);
void md_result_set(md_result_t *r, apr_status_t status, const char *detail);
void md_result_problem_set(md_result_t *r, apr_status_t status, const char *problem,
                           const char *detail, json_t *subproblems);
void md_result_activity(md_result_t *r, const char *activity);
/* Copy of src's fields into dst (dst's pool). */
void md_result_assign(md_result_t *dst, const md_result_t *src);
/* {status, status-description (when not success), problem?, detail?, activity?, valid-from?,
 * subproblems?} as the reference writes it: new reference. */
json_t *md_result_to_json(const md_result_t *r);
/* One line for the error log: "detail (problem) while activity". */
const char *md_result_describe(const md_result_t *r, apr_pool_t *p);

#endif
