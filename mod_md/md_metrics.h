/* md_metrics.h: what the renewal driver records for the metrics page (md-metrics).
 *
 * Owns two kinds of store files in tmp/metrics/:
 *  - renewal-<md>.json {"renewal-failures": N}: failed renewal runs of the MD, a counter
 *    that only grows (kept across renewals, restarts and activations; a job's "errors"
 *    count restarts at 0 after every success, so it cannot serve as a counter);
 *  - driver.json {"last-check": seconds since the epoch}: when the renewal driver last
 *    decided for the MDs due whether to renew them. Its age tells that the driver runs.
 * Files are written atomically by md_store. One renewal of an MD runs at a time (its
 * thread, under the renewal lock when the store is shared), so the read-modify-write of an
 * MD's counter does not race.
 * Never: decides anything. Callers treat a failure to record as not fatal.
 */
#ifndef MD_METRICS_H
#define MD_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

#include "md_store.h"

#define MD_METRICS_DIR "metrics"

/* One more failed renewal run of md_name. */
apr_status_t md_metrics_count_failure(md_store_t *store, const char *md_name, apr_pool_t *p);
/* Failed renewal runs of md_name recorded so far (0 when none or unreadable). */
apr_int64_t md_metrics_failures(md_store_t *store, const char *md_name, apr_pool_t *p);

/* The driver checked the MDs at 'when'. */
apr_status_t md_metrics_note_check(md_store_t *store, apr_time_t when, apr_pool_t *p);
/* When the driver last checked (0 when never or unreadable). */
apr_time_t md_metrics_last_check(md_store_t *store, apr_pool_t *p);

#endif
