/* md_lock.h: a lease lock in the store, for servers that share one store (a cluster).
 *
 * Owns: one lock file per resource, e.g. tmp/<md>.lock, holding JSON {host, node, pid, token,
 * acquired, expires}. It is created with link() (never seen half-written, and of several
 * servers racing exactly one gets it). The holder refreshes the lease well before it expires;
 * another server takes the lock over when the lease has run out (the holder stopped
 * refreshing: killed, frozen, gone), at once when the holder is a dead process on this host,
 * and when the file is garbage that nobody has touched for a lease.
 * Never: waits (callers poll), relies on flock() (shared file systems may lack it), or
 * includes httpd headers.
 */
#ifndef MD_LOCK_H
#define MD_LOCK_H

#include <apr_pools.h>
#include <apr_time.h>

/* How long a lease lasts without a refresh, and how often a holder refreshes it. */
#define MD_LOCK_LEASE apr_time_from_sec(30)
#define MD_LOCK_REFRESH apr_time_from_sec(5)

typedef struct md_lock_t md_lock_t;

/* Take the lock at path for 'node' (this server, e.g. "host:/etc/apache2") without waiting.
 * APR_SUCCESS: held until md_lock_release() or until p is cleared; *pmsg then tells what was
 * taken over, if anything (a stale or garbage lock), else NULL. APR_EBUSY: another holder's
 * lease is valid, *pmsg says whose and until when. Other errors: *pmsg says what failed. */
apr_status_t md_lock_acquire(md_lock_t **plock, const char *path, const char *node,
                             apr_interval_time_t lease, apr_pool_t *p, const char **pmsg);

/* Was the lock taken over from a process of the same node that no longer exists (e.g. a child
 * of an earlier generation that ended during a restart)? That is routine, not news. */
int md_lock_from_self(const md_lock_t *lock);

/* Extend the lease when a refresh is due (MD_LOCK_REFRESH since the last one; force: now).
 * APR_EBUSY when the lock is no longer ours (taken over: our lease ran out). Allocates from
 * ptemp only, so it may run in another thread than the lock holder's work. */
apr_status_t md_lock_refresh(md_lock_t *lock, int force, apr_pool_t *ptemp);

/* Is the lock file still ours? */
int md_lock_is_held(md_lock_t *lock, apr_pool_t *ptemp);

/* Remove the lock file if it is still ours. */
void md_lock_release(md_lock_t *lock);

#endif
