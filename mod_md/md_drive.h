/* md_drive.h: renewing managed domains: when and how.
 *
 * Owns: the renewal decision for an MD (no certificate, inside MDRenewWindow, MDRenewMode),
 * the retry schedule (MDRetryDelay doubling with jitter, capped at a day) and the CA
 * failover (MDRetryFailover), one complete renewal run (ACME: account, one order per key
 * spec; tailscale: key and chain from the local daemon, md_tailscale), staged the same way
 * for both (staging/<md>/ written so that job.json marks it complete last), when the
 * MDMessageCmd / MDNotifyCmd events are sent (md_event runs them).
 * Never: includes httpd headers; runs in a child (which cannot read accounts/ or domains/: it
 * gets what it needs in memory); what the parent does with staged sets is md_activate's.
 */
#ifndef MD_DRIVE_H
#define MD_DRIVE_H

#include <apr_pools.h>
#include <apr_thread_mutex.h>

#include "md.h"
#include "md_acme.h"
#include "md_http.h"
#include "md_job.h"
#include "md_lock.h"
#include "md_store.h"

#define MD_DRIVE_RETRY_CAP apr_time_from_sec(24 * 3600)

/* renewal.last "problem" after a failed MDNotifyCmd / MDMessageCmd: the reference's log ids,
 * which monitoring written for it matches on */
#define MD_DRIVE_PROBLEM_NOTIFY_CMD "urn:org:apache:httpd:log:AH10108:"
#define MD_DRIVE_PROBLEM_MESSAGE_CMD "urn:org:apache:httpd:log:AH10109:"

/* Known accounts, shared by the renewals of one process. */
typedef struct md_drive_accounts_t {
    apr_pool_t *p;                    /* unmanaged: used under the mutex only */
    apr_thread_mutex_t *mutex;
    apr_array_header_t *list;         /* md_acme_acct_t* (key_pem encrypted) */
} md_drive_accounts_t;

/* Levels of the driver's reports, as syslog (and httpd's APLOG_*) number them. */
#define MD_LOG_ERR     3
#define MD_LOG_WARN    4
#define MD_LOG_NOTICE  5
#define MD_LOG_INFO    6
#define MD_LOG_DEBUG   7

typedef struct md_drive_env_t {
    md_store_t *store;
    md_http_opts_t http;              /* proxy, CA file, abort flag */
    int can_http, can_https;
    const char *message_cmd;          /* MDMessageCmd */
    const char *notify_cmd;           /* MDNotifyCmd */
    apr_interval_time_t retry_delay;  /* MDRetryDelay */
    apr_interval_time_t check_interval; /* MDCheckInterval: next look after a veto; ARI
                                         * questions are spaced by it when it is shorter
                                         * than their defaults */
    int retry_failover;               /* MDRetryFailover */
    const char *node;                 /* this server, as named in lock files and job logs */
    md_drive_accounts_t *accounts;
    const volatile int *abort_flag;
    /* where the driver reports (the glue logs): level is one of MD_LOG_* */
    void (*log)(void *baton, int level, const char *msg);
    void *log_baton;
} md_drive_env_t;

/* Facts about an MD's current certificates, computed by the parent. */
typedef struct md_drive_certs_t {
    int complete;                     /* a usable certificate for every key spec */
    apr_time_t not_before;            /* latest notBefore of them */
    apr_time_t not_after;             /* earliest notAfter of them */
    const char *ari_id;               /* RFC 9773 certificate id (of the first), or NULL */
    apr_time_t ari_renew_at;          /* the moment chosen in the CA's ARI window, 0 if none */
} md_drive_certs_t;

/* When renewal of these certificates starts: not_after minus MDRenewWindow (a share of the
 * lifetime or a duration), or the ARI moment when that is earlier (MDRenewViaARI); 0 when
 * they are not complete (renew now). */
apr_time_t md_drive_renew_at(const md_t *md, const md_drive_certs_t *certs);
/* Should md be renewed at 'now'? *preason says why (or why not). */
int md_drive_should_renew(const md_t *md, const md_drive_certs_t *certs, apr_time_t now,
                          const char **preason, apr_pool_t *p);
/* Is md inside its MDWarnWindow? */
int md_drive_in_warn_window(const md_t *md, const md_drive_certs_t *certs, apr_time_t now);

/* Delay before the next attempt after 'errors' consecutive failures (>= 1): base doubled
 * per error, jittered by +-25%, at most a day. jitter in [0,1). */
apr_interval_time_t md_drive_retry_delay(apr_interval_time_t base, int errors, double jitter);
/* Is this ACME problem about our input (names, contact, CSR, a missing account binding),
 * which the CA will refuse again until the configuration changes? Such a failure is
 * retried after a day, not with the MDRetryDelay schedule (as the reference does). */
int md_drive_problem_is_input(const char *problem);
/* The CA URL to use after 'errors' consecutive failures: switches every 'failover' errors. */
const char *md_drive_ca_url(const md_t *md, int errors, int failover);

/* MDMessageCmd EVENT MDNAME, logged in the job. Returns non-success when the command
 * failed to run or exited non-zero; the failure is then also job->last (problem
 * MD_DRIVE_PROBLEM_MESSAGE_CMD), except for the 'errored' event, which keeps the
 * renewal's failure there. */
apr_status_t md_drive_message(md_drive_env_t *env, md_job_t *job, const char *event,
                              apr_pool_t *p);

/* Take the renewal lock of an MD without waiting: tmp/<name>.lock, a lease lock (md_lock.h)
 * respected by every server sharing the store and by the previous generation's child
 * during a graceful restart. APR_EBUSY (with *pmsg saying who holds it) when the renewal
 * runs elsewhere. The holder refreshes it (md_lock_refresh) while the renewal runs; a
 * renewal whose job->lock is lost stops before writing into staging/. */
apr_status_t md_drive_lock_md(md_lock_t **plock, md_store_t *store, const char *name,
                              const char *node, apr_pool_t *p, const char **pmsg);

/* One renewal run for md: obtain a certificate per key spec and stage the set.
 * The job is updated (result, log, errors, next-run) and saved. replaces: ARI id of the
 * certificate this one replaces (sent when the CA supports ARI), or NULL. */
apr_status_t md_drive_renew(md_drive_env_t *env, const md_t *md, md_job_t *job,
                            const char *replaces, apr_pool_t *p);

/* The 'renewed' announcements of a staged set (MDNotifyCmd NAME, then MDMessageCmd renewed
 * NAME) when they have not succeeded yet: a failure is a job error recorded in job->last
 * (problems MD_DRIVE_PROBLEM_NOTIFY_CMD / _MESSAGE_CMD) and tried again at job->next_run;
 * the staged set stays valid. The job is saved. md_drive_renew calls it after staging. */
apr_status_t md_drive_renotify(md_drive_env_t *env, const md_t *md, md_job_t *job, apr_pool_t *p);

/* A uniformly distributed number in [0, 1): the jitter of retries, the ARI moment. */
double md_drive_random_unit(void);

/* Load every account of accounts/ (parent) or of staging/ * / (child) into the list. */
void md_drive_accounts_load(md_drive_accounts_t *accts, md_store_t *store, md_store_group_t group,
                            apr_pool_t *p);

#endif
