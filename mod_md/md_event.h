/* md_event.h: the commands mod_md runs (MDNotifyCmd, MDMessageCmd, the dns-01 command).
 *
 * Owns: running a configured command line without a shell, with extra arguments, and the
 * reference's words for its failure ("DIRECTIVE CMD failed with exit code N.").
 * Never: decides when to run them (md_drive does), logs.
 */
#ifndef MD_EVENT_H
#define MD_EVENT_H

#include <apr_pools.h>

/* Run cmdline (split into argv, no shell) with extra arguments appended.
 * *pexit gets the exit code (-1 when it could not run or was killed). */
apr_status_t md_event_run_cmd(const char *cmdline, const char *const *extra, int *pexit,
                              apr_pool_t *p, const char **perr);
/* The reference's words for a failed MDNotifyCmd / MDMessageCmd, kept so that operators
 * find them: "DIRECTIVE CMD failed with exit code N." (N 255 when it could not be run,
 * what the forked child would have exited with). */
const char *md_event_cmd_failed(const char *directive, const char *cmdline, int code,
                                apr_pool_t *p);
/* cmdline EVENT NAME: on failure *pdetail gets the reference's words, *pwhy also why it
 * could not run. */
apr_status_t md_event_run(const char *cmdline, const char *event, const char *name,
                          apr_pool_t *p, const char **pdetail, const char **pwhy);
/* cmdline EVENT NAME (MDMessageCmd; nothing when cmdline is NULL). Non-success when it could
 * not run or exited non-zero, *perr saying so in the reference's words ("MDMessageCmd CMD
 * failed with exit code N.") and why it could not run. */
apr_status_t md_event_send(const char *cmdline, const char *event, const char *name,
                           apr_pool_t *p, const char **perr);

#endif
