/* md_status.h: what the status pages say about managed domains, as JSON.
 *
 * Owns: the md-status document (SPEC.md section 2, "Status output"): per MD its md.json
 * keys, the certificates per key type, renew-at, the renewal job, errors. Secrets (the
 * EAB hmac) never leave here unmasked.
 * Never: writes to the store or knows about httpd requests.
 */
#ifndef MD_STATUS_H
#define MD_STATUS_H

#include "md.h"
#include "md_store.h"

/* Facts about one certificate file as shown on status pages. */
typedef struct md_cert_info_t {
    const char *spec_name;      /* "rsa", "secp256r1", ... */
    apr_time_t valid_from;
    apr_time_t valid_until;
    const char *serial;
    const char *sha256;
    const char *issuer;
} md_cert_info_t;

/* Optional facts about one certificate added by another part of mod_md (the stapling glue
 * adds "ocsp"): called for each certificate object of the status document with the
 * certificate's lower-case hex SHA-256 fingerprint. NULL to remove. */
typedef void md_status_cert_cb(json_t *cert_json, const char *sha256, void *baton,
                               apr_pool_t *p);
void md_status_set_cert_cb(md_status_cert_cb *cb, void *baton);

/* Read domains/<md>/pubcert*.pem (or the MD's MDCertificateFile) per key spec; entries without a cert are NULL.
 * Returns the number of certificates found. */
int md_status_load_certs(md_cert_info_t **infos, const md_t *md, md_store_t *store,
                         md_store_group_t group, apr_pool_t *p);

/* When renewal should start: the earliest, over all certificates, of
 * not_after - renew_window (0 when there is no certificate: renew now). */
apr_time_t md_status_renew_at(const md_t *md, md_cert_info_t *const *infos);

/* The md-status JSON of one MD. with_log adds the job log. New reference. */
json_t *md_status_md_json(const md_t *md, md_store_t *store, int with_log, apr_pool_t *p);
/* {"version":..., "managed-domains":[...]} for all MDs (md_t*). New reference. */
json_t *md_status_all_json(const apr_array_header_t *mds, md_store_t *store, apr_pool_t *p);

#endif
