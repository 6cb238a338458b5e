/* md_status.h: what the status pages say about managed domains.
 *
 * Owns: the md-status JSON document (docs/design.md, "Status pages"): per MD its
 * md.json keys, the certificates per key type, renew-at, the renewal job, errors; the
 * server-status section (HTML table and the ?auto lines); the Prometheus metrics text.
 * Secrets (the EAB hmac) never leave here unmasked. Work per request is a read of the
 * MD's job.json and tmp/ari/<md>.json at most: certificate facts are computed once at
 * start-up, and the ARI window is what the renewal driver recorded (never asked here).
 * Never: writes to the store or knows about httpd requests.
 */
#ifndef MD_STATUS_H
#define MD_STATUS_H

#include "md.h"
#include "md_store.h"

/* Facts about one certificate as shown on status pages. */
typedef struct md_cert_info_t {
    const char *spec_name;      /* "rsa", "secp256r1", ... */
    apr_time_t valid_from;
    apr_time_t valid_until;
    const char *serial;
    const char *sha256;
    const char *issuer;
    const char *issuer_uri;     /* CA Issuers URL from the AIA extension, or NULL */
    const char *ari_cert_id;    /* RFC 9773: base64url(AKI keyid) "." base64url(serial) */
    const char *profile;        /* ACME profile it was ordered with (from job.json), or NULL */
} md_cert_info_t;

/* Optional facts about one certificate added by another part of mod_md (the stapling glue
 * adds "ocsp"): called for each certificate object of the status document with its MD and the
 * certificate's lower-case hex SHA-256 fingerprint. NULL to remove. */
typedef void md_status_cert_cb(json_t *cert_json, const md_t *md, const char *sha256, void *baton,
                               apr_pool_t *p);
void md_status_set_cert_cb(md_status_cert_cb *cb, void *baton);

/* Read the certificates of an MD per key spec (static files, or pubcert*.pem of the group,
 * with the ACME profile recorded in that group's job.json); entries without a usable cert
 * are NULL. infos must have md_pkey_spec_count() slots. Returns the number found. */
int md_status_load_certs(md_cert_info_t **infos, const md_t *md, md_store_t *store,
                         md_store_group_t group, apr_pool_t *p);
md_cert_info_t *md_status_cert_info(X509 *cert, const char *spec_name, apr_pool_t *p);

/* The MD that /md-status/NAME shows: the one named name, else the one with name among its
 * domain names, wildcards included ("www.example.org" finds "*.example.org"); NULL if none. */
const md_t *md_status_find(const apr_array_header_t *mds, const char *name);
/* The md-status JSON of one MD. with_log adds the job log. New reference. */
json_t *md_status_md_json(const md_t *md, md_store_t *store, int with_log, apr_pool_t *p);
/* {"version":..., "managed-domains":[...]} for all MDs (md_t*) by name, written piecewise through
 * write (jansson's dump callback type), one MD at a time, so that memory stays small with
 * thousands of MDs. Returns 0 or -1. */
int md_status_all_write(const apr_array_header_t *mds, md_store_t *store,
                        json_dump_callback_t write, void *baton, apr_pool_t *p);
/* Why this process cannot answer the tls-alpn-01 challenge for domain from the store (its
 * key there, written by another server of a cluster, is not readable: another user), or NULL.
 * md-status shows it as "challenge-problem" of a renewal that runs. */
const char *md_status_challenge_problem(md_store_t *store, const char *domain, apr_pool_t *p);
/* The JSON of /.httpd/certificate-status for one MD. New reference. */
json_t *md_status_cert_status_json(const md_t *md, md_store_t *store, apr_pool_t *p);

/* server-status: HTML table (MDs in alphabetical order) and the ?auto lines: the
 * ManagedCertificates* counters (not exclusive: an MD counts as OK when its certificate is
 * served, Renew when renewal is due, Errored or Ready by its renewal job) and then per MD
 * "ManagedDomain[i]<Column>: value" lines as the reference prints them. */
const char *md_status_html(const apr_array_header_t *mds, md_store_t *store,
                           const char *check_name, const char *check_url, apr_pool_t *p);
const char *md_status_auto(const apr_array_header_t *mds, md_store_t *store,
                           const char *check_name, const char *check_url, apr_pool_t *p);
/* Prometheus text exposition format (version 0.0.4); the renewal failures and the driver's
 * last check come from md_metrics' records in the store (store may be NULL). */
const char *md_status_metrics(const apr_array_header_t *mds, md_store_t *store, apr_pool_t *p);
/* The OCSP response stapled for a certificate of md (lower-case hex SHA-256 fingerprint), for the
 * metrics: the stapling glue sets it. Returns 1 with the response's status ("good",
 * "revoked", "unknown") and end of validity (nextUpdate), 0 when it has none. NULL to remove. */
typedef int md_status_staple_cb(const md_t *md, const char *sha256, const char **pstatus,
                                apr_time_t *pvalid_until, void *baton);
void md_status_set_staple_cb(md_status_staple_cb *cb, void *baton);

#endif
