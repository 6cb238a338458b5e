/* md_ari.h: ACME Renewal Information (RFC 9773): what the CA suggests, and when we renew.
 *
 * Owns: the checked reading of a renewalInfo answer (suggestedWindow, explanationURL),
 * the choice of the renewal moment inside the window (RFC 9773 section 4.2: a uniformly
 * random time, kept while the CA keeps the window; a window in the past means now), the
 * schedule of the next question to the CA (Retry-After clamped, a default interval when
 * the CA gives none, doubling after failures) and the per-MD record of all that,
 * tmp/ari/<md>.json, which the status pages show. The record is a cache of the CA's
 * answers: losing it only means asking again; one about another certificate is ignored.
 * And the check that puts it together for the driver (md_ari_check): asking the CA, through
 * md_acme, only when the record allows it.
 * Never: speaks ACME or HTTP itself (md_acme does) or decides a renewal for other reasons
 * (md_drive does); a failed or odd answer is never a renewal by itself.
 */
#ifndef MD_ARI_H
#define MD_ARI_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "md_drive.h"
#include "md_store.h"

#define MD_ARI_DIR "ari"                 /* tmp/ari/<md>.json */
/* how often to ask when the CA sends no Retry-After (and the floor/ceiling of what it
 * may ask for: RFC 9773 section 4.3 suggests clamping to a minute .. a day) */
#define MD_ARI_DEFAULT_INTERVAL apr_time_from_sec(6 * 3600)
#define MD_ARI_MIN_INTERVAL apr_time_from_sec(60)
#define MD_ARI_MAX_INTERVAL apr_time_from_sec(24 * 3600)

/* What we know of the renewal information of one certificate. Times are 0 when unknown. */
typedef struct md_ari_t {
    const char *cert_id;          /* the certificate asked about: base64url(AKI).base64url(serial) */
    int supported;                /* the CA's directory has renewalInfo */
    apr_time_t start, end;        /* the suggested window of the last good answer */
    const char *explanation_url;  /* explanationURL of that answer, or NULL */
    apr_time_t renew_at;          /* our chosen moment inside the window */
    apr_time_t checked;           /* when we last asked */
    apr_time_t retry_after;       /* do not ask before then */
    int errors;                   /* consecutive failed questions */
    const char *error;            /* the last failure, NULL after an answer we could use */
} md_ari_t;

md_ari_t *md_ari_make(const char *cert_id, apr_pool_t *p);

/* Read a renewalInfo response body: *pstart and *pend from suggestedWindow (RFC 3339),
 * *pexplanation from explanationURL (NULL if absent). APR_EINVAL with *perr saying what
 * is wrong (no JSON object, no window, times invalid, end before start). */
apr_status_t md_ari_parse(apr_time_t *pstart, apr_time_t *pend, const char **pexplanation,
                          const char *body, apr_size_t len, apr_pool_t *p, const char **perr);

/* A moment in [start, end] for rnd in [0, 1). */
apr_time_t md_ari_choose(apr_time_t start, apr_time_t end, double rnd);

/* Record a good answer (window and explanation) received at now: the chosen moment is
 * kept when the window did not change, drawn anew (with rnd) when it did.
 * Returns 1 when the window changed (or is the first one). */
int md_ari_set_window(md_ari_t *ari, apr_time_t start, apr_time_t end, const char *explanation,
                      apr_time_t now, double rnd, apr_pool_t *p);
/* Record a failed question at now (the last good window stays in force). */
void md_ari_set_error(md_ari_t *ari, const char *error, apr_time_t now, apr_pool_t *p);

/* When to ask next (in whole seconds, rounded up): retry_after (the CA's, 0 if none)
 * clamped to [floor, MD_ARI_MAX_INTERVAL] from now; without one, 'normal' after a good
 * answer, floor doubled per consecutive error (capped at MD_ARI_DEFAULT_INTERVAL) after
 * failures. */
apr_time_t md_ari_next_check(apr_time_t now, apr_time_t retry_after, int errors,
                             apr_interval_time_t floor, apr_interval_time_t normal);

/* Is renewal due at now according to the record (a chosen moment that has come)? */
int md_ari_due(const md_ari_t *ari, apr_time_t now);

/* The record as stored and shown on md-status (times as RFC 1123 strings):
 * {cert-id, ca-supports-ari, suggested-window{start,end}?, explanation-url?, renew-at?,
 *  checked?, retry-after?, errors, error?}. New reference. */
json_t *md_ari_to_json(const md_ari_t *ari, apr_pool_t *p);
/* NULL when j is no usable record. */
md_ari_t *md_ari_from_json(json_t *j, apr_pool_t *p);

/* tmp/ari/<name>.json (written by the child, read by the status pages): APR_ENOENT when
 * there is none. */
const char *md_ari_path(md_store_t *store, const char *name, apr_pool_t *p);
apr_status_t md_ari_load(md_ari_t **pari, md_store_t *store, const char *name, apr_pool_t *p);
apr_status_t md_ari_save(const md_ari_t *ari, md_store_t *store, const char *name, apr_pool_t *p);

/* MDRenewViaARI: should the current certificate be renewed now according to the CA's
 * renewal information (RFC 9773)? The CA is asked only when the record in
 * tmp/ari/<md>.json allows it (its Retry-After has passed); every answer, good or bad,
 * is recorded there (above). *pdue is set when the chosen moment inside the suggested
 * window has come; *pnext is when to look again (0: the CA has no renewal information).
 * Failures are no renewal errors: they are recorded, logged once as a warning, and
 * MDRenewWindow keeps deciding. *pmsg says what happened (for the debug log). */
apr_status_t md_ari_check(md_drive_env_t *env, const md_t *md, const md_drive_certs_t *certs,
                          int *pdue, apr_time_t *pnext, const char **pmsg, apr_pool_t *p);

#endif
