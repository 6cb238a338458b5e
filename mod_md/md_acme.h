/* md_acme.h: the ACME protocol client (RFC 8555): directory, nonces, signed requests,
 * problem documents, and accounts.
 *
 * Owns: the conversation with one CA: the directory, the Replay-Nonce chain (a badNonce
 * answer is retried transparently), Retry-After, every error turned into the md_result_t
 * of the operation, and the account: its key, its registration (terms of service,
 * contacts, external account binding) and its account.json form.
 * Never: touches domains/ or decides what to order (md_acme_order.c and md_drive do);
 * trusts a value of the CA before checking its type.
 */
#ifndef MD_ACME_H
#define MD_ACME_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "md.h"
#include "md_http.h"
#include "md_job.h"
#include "md_store.h"

#define MD_ACME_PROBLEM_PREFIX "urn:ietf:params:acme:error:"
#define MD_FN_ACCOUNT "account.json"
#define MD_FN_ACCOUNT_KEY "account.pem"

/* An ACME account: account.json plus its key (account.pem, encrypted in the store). */
typedef struct md_acme_acct_t {
    const char *id;               /* directory name under accounts/, NULL while only staged */
    const char *url;              /* the account URL (JWS "kid") */
    const char *ca_url;           /* directory URL of the CA */
    apr_array_header_t *contacts; /* const char* */
    const char *agreement;        /* terms-of-service URL agreed to */
    const char *status;           /* "valid", "deactivated", "revoked" */
    const char *eab_kid;          /* the external account binding it was created with */
    const char *key_pem;          /* the key as stored (encrypted PEM) */
    EVP_PKEY *key;                /* decrypted, when in use */
} md_acme_acct_t;

json_t *md_acme_acct_to_json(const md_acme_acct_t *acct);
md_acme_acct_t *md_acme_acct_from_json(json_t *j, apr_pool_t *p);
/* Does the account belong to this CA and (same set of) contacts, and, when eab_kid is
 * given, was it bound with that key id? */
int md_acme_acct_matches(const md_acme_acct_t *acct, const char *ca_url,
                         const apr_array_header_t *contacts, const char *eab_kid);
/* Load group/name/{account.json,account.pem}; key_pem filled, key not decrypted. */
apr_status_t md_acme_acct_load(md_acme_acct_t **pacct, md_store_t *store, md_store_group_t group,
                               const char *name, apr_pool_t *p);
apr_status_t md_acme_acct_save(const md_acme_acct_t *acct, md_store_t *store,
                               md_store_group_t group, const char *name, apr_pool_t *p);

typedef struct md_acme_t {
    apr_pool_t *p;
    const char *url;              /* directory URL */
    md_http_t *http;
    md_result_t *result;          /* where failures are explained */
    const char *new_nonce;
    const char *new_account;
    const char *new_order;
    const char *tos;              /* meta.termsOfService */
    int eab_required;             /* meta.externalAccountRequired */
    apr_array_header_t *profiles; /* names in meta.profiles (const char*), empty if none */
    const char *renewal_info;     /* ARI base URL (RFC 9773), NULL if the CA has none (or an
                                   * empty or non-URL one) */
    const char *nonce;            /* the next Replay-Nonce to use */
    md_acme_acct_t *acct;         /* the account signing requests (key set) */
    int max_nonce_retries;
} md_acme_t;

apr_status_t md_acme_create(md_acme_t **pacme, const char *url, const md_http_opts_t *opts,
                            md_result_t *result, apr_pool_t *p);
/* GET the directory. */
apr_status_t md_acme_setup(md_acme_t *acme);

/* A signed POST to url. payload NULL is POST-as-GET. The response JSON (object) goes to
 * *pjson when requested and the response is JSON; non-JSON bodies stay in (*presp)->body.
 * HTTP errors become a result with the CA's problem document. */
apr_status_t md_acme_post(md_acme_t *acme, const char *url, json_t *payload, const char *accept,
                          md_http_response_t **presp, json_t **pjson, apr_pool_t *p);

/* Create a new account for md (contacts, agreement, EAB) with a fresh key; it becomes
 * acme->acct. The caller stores it. */
apr_status_t md_acme_acct_register(md_acme_t *acme, const md_t *md, apr_pool_t *p);
/* Use acct (decrypting its key with the store key) after checking with the CA that it is
 * still valid. APR_ENOENT when the CA no longer knows it or it is not valid. */
apr_status_t md_acme_acct_use(md_acme_t *acme, md_acme_acct_t *acct, md_store_t *store, apr_pool_t *p);

/* ARI (RFC 9773): GET renewalInfo/CERT-ID, the CA's renewal information (unsigned).
 * APR_ENOTIMPL when the CA offers none. On success *pbody and *plen hold the answer (to be read
 * with md_ari_parse()); *pretry_after is the CA's Retry-After (0 if none), also on an HTTP
 * error, which sets the result like every other failure. */
apr_status_t md_acme_ari_get(md_acme_t *acme, const char *cert_id, const char **pbody,
                            apr_size_t *plen, apr_time_t *pretry_after, apr_pool_t *p);
/* An RFC 3339 time ("2025-01-02T03:04:05Z", fractions and offsets allowed), 0 if invalid. */
apr_time_t md_acme_parse_rfc3339(const char *s);

/* Checked access to CA JSON: a string member, or NULL after setting the result. */
const char *md_acme_json_str(md_acme_t *acme, json_t *j, const char *key, const char *what);
/* Parse a Retry-After header (seconds or HTTP date) into an absolute time, 0 if absent.
 * Either form is capped at MD_ACME_RETRY_AFTER_MAX seconds from now. */
#define MD_ACME_RETRY_AFTER_MAX 86400
apr_time_t md_acme_retry_after(const md_http_response_t *resp);

#endif
