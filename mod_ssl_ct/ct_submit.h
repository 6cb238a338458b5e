/* ct_submit.h: obtaining an SCT for a certificate chain from a log.
 *
 * Owns: RFC 6962 4.1 add-chain over HTTP(S) (bounded time and body size), plain GETs to a
 * log for auditing (same bounds), both through the client both modules share (md_http), the
 * conversion of the JSON answer into a TLS-encoded SCT, and running an external CTLogClient
 * with the argument list of the original module (bounded time).
 * Never: includes httpd headers, logs, writes anything but the response file named by the
 * caller (and only through the external client), trusts the log's answer before it parsed.
 */
#ifndef CT_SUBMIT_H
#define CT_SUBMIT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "ct_util.h"

#define CT_SUBMIT_MAX_BODY   (64 * 1024)

/* Convert an add-chain JSON answer into a TLS-encoded v1 SCT. *perr says what is wrong. */
apr_status_t ct_submit_json_to_sct(ct_blob_t *sct, const char *json, apr_size_t len,
                                   apr_pool_t *p, const char **perr);

/* POST <url>/ct/v1/add-chain with the DER certs (ct_blob_t, leaf first). timeout_s bounds
 * the whole exchange; ca_file (may be NULL) are the roots for https logs. */
apr_status_t ct_submit_add_chain(ct_blob_t *sct, const char *url,
                                 const apr_array_header_t *chain, long timeout_s,
                                 const char *ca_file, apr_pool_t *p, const char **perr);

/* GET url (body at most CT_SUBMIT_MAX_BODY bytes). *pstatus gets the HTTP status, *pbody
 * the NUL-terminated body. APR_SUCCESS whenever an HTTP answer came back. */
apr_status_t ct_submit_http_get(int *pstatus, char **pbody, apr_size_t *plen, const char *url,
                                long timeout_s, apr_pool_t *p, const char **perr);

/* The argv of the upstream-compatible CTLogClient call (NULL-terminated). */
const char *const *ct_submit_client_argv(apr_pool_t *p, const char *client, const char *url,
                                         const char *certs_pem, const char *out_file,
                                         const char *key_file);

/* Run argv, wait at most timeout_s (then kill it). APR_SUCCESS on exit 0. */
apr_status_t ct_submit_run(const char *const *argv, long timeout_s, apr_pool_t *p,
                           const char **perr);

#endif
