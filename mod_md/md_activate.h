/* md_activate.h: what the parent does with the store at start (and the hot activation
 * helper later): staged sets go live, renamed MDs take over, old names are brought in line.
 *
 * Owns: what goes live: a staged set checked and made into the new domains/<md> (moved into
 * place all or nothing, the previous set archived, by md_store_move), the account installed
 * with it, the rename takeover, legacy file names, stale challenges. Runs with the parent's
 * privileges: never follows a path below the store root out of it (md_store_purge).
 * Never: orders certificates (md_drive does), takes locks (callers exclude each other).
 */
#ifndef MD_ACTIVATE_H
#define MD_ACTIVATE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "md.h"
#include "md_store.h"

/* Parent, at start: the names of the MDs in domains/ that none of mds (md_t*) has, read once
 * for every md_activate_takeover() of this start (usually none). */
apr_array_header_t *md_activate_unassigned(md_store_t *store, const apr_array_header_t *mds,
                                           apr_pool_t *p);
/* Parent, at start: an MD whose name changed (md has no domains/<name>/md.json, a stored MD of
 * 'unassigned' shares a domain name with it) takes over that MD's directory, certificates,
 * keys and account, instead of ordering anew: domains/<old> becomes domains/<md->name>
 * (md.json is rewritten by the sync that follows); the old name leaves 'unassigned'.
 * Returns the old name, or NULL when nothing was taken over. */
const char *md_activate_takeover(md_store_t *store, apr_array_header_t *unassigned, const md_t *md,
                                 apr_pool_t *p);

/* Parent, at start: key and certificate files of an EC key type written under OpenSSL's
 * curve name by earlier versions (privkey.secp256r1.pem for MDPrivateKeys P-256) get the
 * name the reference uses (privkey.p-256.pem), in domains/ and staging/, so that they are
 * kept. Returns how many files were renamed. */
int md_activate_rename_legacy(md_store_t *store, const md_t *md, apr_pool_t *p);

/* Parent, at start: remove every challenges/<name> that belongs to none of mds (md_t*):
 * left by an MD no longer configured, or by a run that ended mid-order. Returns how many. */
int md_activate_purge_challenges(md_store_t *store, const apr_array_header_t *mds, apr_pool_t *p);

/* Parent, at start: move a complete staged set of md into domains/ when one is there and
 * its activation delay has passed. A staged set that domains/ holds already (another server
 * sharing the store activated it) is only removed from staging/: activation is idempotent.
 * Callers exclude each other across servers with a lease lock (md_lock) around it.
 * *pmsg describes what happened (NULL: nothing staged).
 * Returns non-success only when a staged set was there and could not be activated. */
apr_status_t md_activate_staged(md_store_t *store, md_t *md, apr_interval_time_t activation_delay,
                               apr_pool_t *p, const char **pmsg);

#endif
