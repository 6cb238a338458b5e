/* md_ocsp.h: OCSP responses for stapling, without httpd.
 *
 * Owns: what a stapled certificate is (leaf, issuer, SHA-1 cert id, responder URL from the
 * AIA extension), building OCSP requests, verifying responses (signature by the issuer or
 * by a delegated responder that the issuer certified for OCSP signing, matching cert id,
 * sane thisUpdate/nextUpdate), the refresh time under MDStaplingRenewWindow, the backoff
 * after errors, the store format ocsp/<md-or-"other">/ocsp-<sha1 hex>.json and its pruning
 * (MDStaplingKeepResponse), the fetch (over md_http), and the shared-memory table through which
 * one process publishes responses that all others read without locks.
 * Never: includes httpd headers, logs, or trusts a response it has not verified itself
 * (responses read back from the store are verified again).
 */
#ifndef MD_OCSP_H
#define MD_OCSP_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_shm.h>
#include <apr_hash.h>
#include <jansson.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "md_http.h"
#include "md_util.h"
#include "md_store.h"

/* Largest DER response we fetch, store or staple. Real responses are 0.5-4 KB. */
#define MD_OCSP_DER_MAX 16384
/* Store directory of certificates that no MD manages (MDStapleOthers). */
#define MD_OCSP_OTHER "other"
/* Clock skew tolerated on thisUpdate/nextUpdate. */
#define MD_OCSP_LEEWAY apr_time_from_sec(300)
/* Validity assumed for responses without nextUpdate ("newer info available any time"). */
#define MD_OCSP_NO_NEXT_UPDATE_VALID apr_time_from_sec(12 * 3600)

typedef enum {
    MD_OCSP_GOOD = 0,
    MD_OCSP_REVOKED = 1,
    MD_OCSP_UNKNOWN = 2,
} md_ocsp_status_t;

const char *md_ocsp_status_str(md_ocsp_status_t status);
/* -1 when s is none of "good", "revoked", "unknown". */
int md_ocsp_status_parse(const char *s);

/* A certificate to staple. Objects are freed with the pool. */
typedef struct md_ocsp_cert_t {
    X509 *cert;
    X509 *issuer;
    OCSP_CERTID *id;            /* SHA-1 hashes of issuer name and key, as responders expect */
    const char *sha1_hex;       /* of the certificate DER: names the store file */
    const char *sha256_hex;     /* of the certificate DER: as on the status page */
    const char *responder;      /* first OCSP URL of the AIA extension, NULL if none */
} md_ocsp_cert_t;

/* From PEM holding the certificate followed by its chain (at least the issuer). The issuer
 * is the first chain certificate that signed the leaf. *perr says what is wrong. */
apr_status_t md_ocsp_cert_from_pem(md_ocsp_cert_t **pc, const char *pem, apr_size_t len,
                                   apr_pool_t *p, const char **perr);
apr_status_t md_ocsp_cert_make(md_ocsp_cert_t **pc, X509 *cert, X509 *issuer,
                               apr_pool_t *p, const char **perr);
/* The same for a leaf and the certificates that came with it (the issuer among them). */
apr_status_t md_ocsp_cert_from_chain(md_ocsp_cert_t **pc, X509 *leaf, const STACK_OF(X509) *chain,
                                     apr_pool_t *p, const char **perr);

/* DER of an OCSP request for the certificate (no nonce: responses stay cacheable). */
apr_status_t md_ocsp_req_der(unsigned char **pder, apr_size_t *plen, const md_ocsp_cert_t *c,
                             apr_pool_t *p);

/* A verified response. */
typedef struct md_ocsp_resp_t {
    const unsigned char *der;
    apr_size_t der_len;
    md_ocsp_status_t status;
    apr_time_t valid_from;      /* thisUpdate */
    apr_time_t valid_until;     /* nextUpdate (or thisUpdate + MD_OCSP_NO_NEXT_UPDATE_VALID) */
} md_ocsp_resp_t;

/* Verify a DER response for c at time now: successful response, signature by c's issuer
 * or a delegated responder (certified by the issuer, with the OCSP-signing EKU), a single
 * response for c's cert id, thisUpdate not after now + MD_OCSP_LEEWAY, nextUpdate after
 * thisUpdate and after now (not expired). On failure *perr explains, APR_EINVAL returned. */
apr_status_t md_ocsp_resp_verify(md_ocsp_resp_t **presp, const md_ocsp_cert_t *c,
                                 const unsigned char *der, apr_size_t len, apr_time_t now,
                                 apr_pool_t *p, const char **perr);

/* When to fetch a fresh response: valid_until minus the window (a share of the response's
 * validity or an absolute duration), never after valid_until. */
apr_time_t md_ocsp_renew_at(const md_ocsp_resp_t *resp, const md_timeslice_t *window);
/* Delay before the next attempt after 'errors' consecutive failures (>= 1): base doubled per
 * error, capped at 'cap'. */
apr_interval_time_t md_ocsp_backoff(apr_interval_time_t base, int errors, apr_interval_time_t cap);

/* Store format: {"response": base64url DER, "status": ..., "valid": {"from","until"}}. */
json_t *md_ocsp_resp_to_json(const md_ocsp_resp_t *resp, apr_pool_t *p);
/* File name "ocsp-<sha1 hex>.json" of a certificate. */
const char *md_ocsp_fname(const md_ocsp_cert_t *c, apr_pool_t *p);
/* Save atomically in ocsp/<dir>/. */
apr_status_t md_ocsp_store_save(md_store_t *store, const char *dir, const md_ocsp_cert_t *c,
                                const md_ocsp_resp_t *resp, apr_pool_t *p);
/* Load ocsp/<dir>/ocsp-<sha1>.json and verify the response again (at now). APR_ENOENT when
 * missing, APR_EINVAL with *perr when corrupt or no longer valid. */
apr_status_t md_ocsp_store_load(md_ocsp_resp_t **presp, md_store_t *store, const char *dir,
                                const md_ocsp_cert_t *c, apr_time_t now, apr_pool_t *p,
                                const char **perr);
/* Remove ocsp/<dir>/ocsp-*.json files not written for longer than keep, except the paths in
 * keep_paths (may be NULL; keys are full paths). Returns the number removed in *premoved. */
apr_status_t md_ocsp_store_prune(md_store_t *store, apr_interval_time_t keep,
                                 apr_hash_t *keep_paths, apr_time_t now, int *premoved,
                                 apr_pool_t *p);

/* POST the request to url (application/ocsp-request) with md_http and the given options
 * (proxy, trust roots, timeouts; the size limit is MD_OCSP_DER_MAX). The body of a 200
 * answer is returned; anything else is an error explained in *perr. */
apr_status_t md_ocsp_fetch(unsigned char **pder, apr_size_t *plen, const char *url,
                           const md_http_opts_t *opts, const unsigned char *req,
                           apr_size_t req_len, apr_pool_t *p, const char **perr);

/* ---- the shared table ----
 * One slot per stapled certificate in shared memory, written by one process (the watchdog)
 * and read by all handshakes of all children. A sequence counter per slot (odd while a
 * write is in progress) lets readers copy a consistent response without any lock: they
 * retry when the counter moved during their copy. Readers never block writers. */
typedef struct md_ocsp_table_t md_ocsp_table_t;

typedef struct md_ocsp_slot_info_t {
    int has_resp;
    md_ocsp_status_t status;
    apr_time_t valid_from;
    apr_time_t valid_until;
    apr_time_t renew_at;        /* next planned fetch */
    apr_time_t last_update;     /* last time a response was fetched (0: loaded from the store) */
    int errors;                 /* consecutive failed fetches */
    int last_status;            /* apr_status_t of the last attempt (0: success) */
    apr_time_t last_run;        /* time of the last attempt */
    char last_error[256];
    char cert_sha1[41];         /* the certificate the slot is for (hex of its DER), "" if none */
    char cert_sha256[65];
    char responder[512];        /* its responder URL (status pages) */
} md_ocsp_slot_info_t;

/* Record c as the certificate of a slot's info (NULL: none). */
void md_ocsp_slot_info_set_cert(md_ocsp_slot_info_t *info, const md_ocsp_cert_t *c);

/* Create a table of n slots in anonymous shared memory (inherited by forked children),
 * destroyed with the pool. */
apr_status_t md_ocsp_table_create(md_ocsp_table_t **ptable, int n, apr_pool_t *p);
/* A table in private memory, for tests and single-process use. */
md_ocsp_table_t *md_ocsp_table_create_local(int n, apr_pool_t *p);
int md_ocsp_table_size(const md_ocsp_table_t *t);
/* Publish a response (resp may be NULL to only update info). info->has_resp and the
 * response facts are taken from resp when given. */
void md_ocsp_table_put(md_ocsp_table_t *t, int slot, const md_ocsp_resp_t *resp,
                       const md_ocsp_slot_info_t *info);
/* Copy the slot's DER into buf (of MD_OCSP_DER_MAX bytes) when it holds a response that is
 * valid at now and, unless cert_sha1 is NULL, is for that certificate (hex SHA-1 of its DER, any case,
 * compared with the slot's cert_sha1 in the same consistent read); returns its length, 0 when
 * none. Lock-free. */
apr_size_t md_ocsp_table_get_der(md_ocsp_table_t *t, int slot, unsigned char *buf, apr_time_t now,
                                 const char *cert_sha1);
/* A consistent copy of the slot's facts. */
void md_ocsp_table_get_info(md_ocsp_table_t *t, int slot, md_ocsp_slot_info_t *info);

#endif
