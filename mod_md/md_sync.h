/* md_sync.h: bring one MD's store entry in line with its configuration, at start-up.
 *
 * Owns: the decision, per MD, of which certificate and key files mod_ssl gets (its static
 * MDCertificateFile/MDCertificateKeyFile, the certificates in domains/<md>/, or a self-signed
 * fallback for each key type without a usable one), its state and state description, the
 * certificate facts its status pages show (rt_certs), and (re)writing domains/<md>/md.json
 * when it differs from the configuration or cannot be read.
 * Never: logs (the result says what happened, the glue logs it), activates staged sets
 * (md_activate does, before), renews, or includes httpd headers.
 */
#ifndef MD_SYNC_H
#define MD_SYNC_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "md.h"
#include "md_store.h"

/* What md_sync_md found and did, for the log. Strings live in the ptemp of the call. */
typedef struct md_sync_result_t {
    apr_status_t status;          /* APR_SUCCESS, else as returned: the MD cannot be served */
    apr_status_t stored_status;   /* not APR_SUCCESS: md.json was unusable (a missing one is
                                   * not) and is written anew from the configuration */
    const char *stored_error;     /* ... and this says why */
    apr_array_header_t *problems; /* const char *: a file in domains/<md>/ that exists but
                                   * cannot be used ("<path> is missing", "<path> holds no
                                   * readable certificate"), one per key type at most; a
                                   * fallback is served for that key type */
    int md_written;               /* md.json was (re)written */
    const char *unwritable;       /* failure: the path of md.json that could not be written */
    const char *fallback_error;   /* failure: why no fallback certificate could be made */
} md_sync_result_t;

/* Bring md's entry in store's domains/ in line with md (as configured) and decide what mod_ssl
 * gets, in md (allocated from pconf): rt_cert_files and rt_key_files (one pair per key type,
 * in the order of its key specs, or its static files), rt_fallback (some of them are
 * fallbacks: the MD is not complete), state and state_descr ("certificate(<key type>) is
 * missing"), rt_error (a store problem for the status page), rt_certs (facts of the served
 * certificates, when complete) and ca_account (from the stored md.json).
 * A certificate is usable when its key file exists, it covers md's names and has not expired;
 * a key type without one gets a fallback, the others keep theirs.
 * A dry run (the first configuration pass at start-up, whose result httpd throws away) reads
 * and writes nothing but fallbacks: it only decides the files.
 * Returns result->status: APR_SUCCESS, or the error of writing md.json (result->unwritable)
 * or of making a fallback (result->fallback_error). */
apr_status_t md_sync_md(md_sync_result_t *result, md_t *md, md_store_t *store, int dry_run,
                        apr_pool_t *pconf, apr_pool_t *ptemp);

#endif
