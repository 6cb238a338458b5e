/* md_job.h: the renewal job of one MD (job.json).
 *
 * Owns: the job.json format of docs/store.md in staging/<md>/: run times, error count,
 * the last result (md_result.h) and a log, newest first, of at most MD_JOB_LOG_MAX entries.
 * Never: decides when to renew (md_drive does) or talks to the CA.
 */
#ifndef MD_JOB_H
#define MD_JOB_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "md_result.h"
#include "md_store.h"

#define MD_JOB_LOG_MAX 128

typedef struct md_job_t {
    apr_pool_t *p;
    const char *name;
    int finished;                 /* a complete set waits in staging/ */
    int notified;                 /* 'renewed' was announced */
    int notified_renewed;
    apr_time_t next_run;
    apr_time_t last_run;
    apr_time_t valid_from;        /* staged set activates from then (MDActivationDelay) */
    int errors;                   /* consecutive failed runs */
    const char *profile;          /* ACME profile the staged certificates were ordered with */
    md_result_t *last;
    json_t *log;                  /* array, newest first; owned */
    struct md_lock_t *lock;       /* the renewal lock it runs under, or NULL; while set,
                                   * the job is saved only when the lock is still held */
} md_job_t;

md_job_t *md_job_make(const char *name, apr_pool_t *p);
/* Load staging/<name>/job.json; a missing or corrupt file gives a fresh job. */
md_job_t *md_job_load(md_store_t *store, const char *name, apr_pool_t *p);
apr_status_t md_job_save(md_job_t *job, md_store_t *store, apr_pool_t *p);
json_t *md_job_to_json(const md_job_t *job, apr_pool_t *p);
md_job_t *md_job_from_json(json_t *j, const char *name, apr_pool_t *p);

/* Add a log entry {when, type, status?, detail?} at the front; keeps at most MD_JOB_LOG_MAX. */
void md_job_log_append(md_job_t *job, const char *type, apr_status_t status, const char *detail);
/* Time of the newest log entry of this type, 0 if none. */
apr_time_t md_job_log_last(const md_job_t *job, const char *type);

#endif
