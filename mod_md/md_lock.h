/* md_lock.h: a lease lock in the store, for servers that share one store (a cluster).
 *
 * Owns: one lock file per resource, e.g. tmp/<md>.lock, holding JSON {host, node, pid, token,
 * acquired, expires}. It is created with link() (never seen half-written, and of several
 * servers racing exactly one gets it), or with O_CREAT|O_EXCL where the file system refuses
 * hard links (then written, fsynced and read back: the holder is who finds its own token);
 * md_lock_probe finds out which, per store, at start-up, and what flock() is worth there.
 * The holder refreshes the lease well before it expires;
 * another server takes the lock over when the lease has run out (the holder stopped
 * refreshing: killed, frozen, gone), at once when the holder is a dead process on this host,
 * and when the file is garbage that nobody has touched for a lease.
 * Also store.lock, the flock() that keeps the servers of one node (restarts at the same moment,
 * activation in the parent) out of each other's way in the store: a guard of one node only.
 * Never: waits (callers poll; md_lock_acquire_wait and md_lock_store_file are such callers),
 * relies on flock() across nodes (shared file systems lack it or keep it local to one node),
 * or includes httpd headers.
 */
#ifndef MD_LOCK_H
#define MD_LOCK_H

#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_time.h>

/* How long a lease lasts without a refresh, and how often a holder refreshes it. */
#define MD_LOCK_LEASE apr_time_from_sec(30)
#define MD_LOCK_REFRESH apr_time_from_sec(5)

typedef struct md_lock_t md_lock_t;

/* How lock files are created. LINK: a complete temp file is link()ed to the lock's name (it
 * falls back to EXCL by itself should link() be refused after all). EXCL: the lock's name is
 * opened with O_CREAT|O_EXCL, written and fsynced; for a moment others see it empty. */
typedef enum {
    MD_LOCK_CREATE_LINK = 0,
    MD_LOCK_CREATE_EXCL = 1
} md_lock_create_t;

/* What the file system of a store offers, as found by md_lock_probe. */
typedef struct md_lock_fs_t {
    md_lock_create_t create;
    const char *link_refused;   /* EXCL: why link() did not do (its error), else NULL */
    const char *fs_type;        /* from /proc/self/mountinfo ("ext4", "fuse.sshfs", "nfs4"), or "unknown" */
    int flock_works;            /* flock() keeps a second open file description out, here */
    int flock_nodes;            /* ... and the file system may forward it to other nodes (NFS with
                                 * lock manager or v4, SMB, cluster file systems). Not relied upon. */
} md_lock_fs_t;

/* Find out, in directory dir (writable), how lock files are created there and what flock()
 * does. Creates and removes two small files. *perr says what failed otherwise. */
apr_status_t md_lock_probe(md_lock_fs_t *fs, const char *dir, apr_pool_t *p, const char **perr);
/* The start-up log line: "lock files are created with link(); flock() ...". */
const char *md_lock_fs_describe(const md_lock_fs_t *fs, apr_pool_t *p);
/* May flock() on a file system of this type (as in /proc/self/mountinfo, with its mount and
 * super options) reach other nodes? The rule behind md_lock_fs_t.flock_nodes. */
int md_lock_fs_flock_nodes(const char *fs_type, const char *options);

/* Take the lock at path for 'node' (this server, e.g. "host:/etc/apache2") without waiting,
 * creating the lock file as 'how' says (md_lock_probe).
 * APR_SUCCESS: held until md_lock_release() or until p is cleared; *pmsg then tells what was
 * taken over, if anything (a stale or garbage lock), else NULL. APR_EBUSY: another holder's
 * lease is valid, *pmsg says whose and until when. Other errors: *pmsg says what failed. */
apr_status_t md_lock_acquire(md_lock_t **plock, const char *path, const char *node,
                             apr_interval_time_t lease, md_lock_create_t how, apr_pool_t *p,
                             const char **pmsg);
/* md_lock_acquire, tried again every 100 ms while busy, for at most 'wait'. */
apr_status_t md_lock_acquire_wait(md_lock_t **plock, const char *path, const char *node,
                                  apr_interval_time_t lease, md_lock_create_t how,
                                  apr_interval_time_t wait, apr_pool_t *p, const char **pmsg);

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

/* The file in a store's directory whose flock() the servers of one node take. */
#define MD_LOCK_STORE_FILE "store.lock"

/* Lock <store_dir>/store.lock exclusively (creating it), tried again every 20 ms for at most
 * 'wait' (0: tried once). APR_SUCCESS: *pfile holds the lock until md_lock_store_file_release
 * or until p is cleared. An APR_STATUS_IS_EAGAIN status: another holder kept it all along.
 * Other errors: the file cannot be opened or locked (a file system without locks). *pfile is
 * NULL unless the lock is held. */
apr_status_t md_lock_store_file(apr_file_t **pfile, const char *store_dir,
                                apr_interval_time_t wait, apr_pool_t *p);
/* Unlock and close what md_lock_store_file gave; NULL does nothing. */
void md_lock_store_file_release(apr_file_t *file);

#endif
