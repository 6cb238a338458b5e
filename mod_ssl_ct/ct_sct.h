/* ct_sct.h: Signed Certificate Timestamps, one at a time and as TLS-encoded lists.
 *
 * Owns: the checked decoding of single SCTs and SCT lists (RFC 6962 3.2/3.3) on top of
 * OpenSSL's CT codec and re-encoding of lists with a cap (verification: ct_sct_verify.h).
 * Never: trusts a length it has not checked against the buffer, parses what OpenSSL parses,
 * includes httpd headers, logs (results and reasons go back to the caller).
 */
#ifndef CT_SCT_H
#define CT_SCT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/ct.h>
#include <openssl/x509.h>

#include "ct_util.h"

/* An SCT is u16-length-prefixed inside a list, so it can never be longer than this. */
#define CT_SCT_MAX_LEN       65535
/* version(1) + log_id(32) + timestamp(8) + ext len(2) + hash(1) + sig alg(1) + sig len(2) */
#define CT_SCT_MIN_LEN       47

/* The fields of an SCT that callers need without keeping an OpenSSL object around. */
typedef struct ct_sct_info_t {
    unsigned char log_id[CT_LOG_ID_LEN];
    apr_uint64_t timestamp;            /* ms since the epoch */
    apr_size_t ext_len;
} ct_sct_info_t;

/* Decode one TLS-encoded v1 SCT that must span exactly len bytes. APR_EINVAL when it is
 * truncated, has trailing bytes, is not v1 or is otherwise malformed. info may be NULL. */
apr_status_t ct_sct_parse(ct_sct_info_t *info, const unsigned char *data, apr_size_t len);

/* Split a TLS-encoded SCT list (u16 total, then u16-prefixed SCTs) into blobs pointing
 * into data. Every element is checked with ct_sct_parse; APR_EINVAL for any defect. */
apr_status_t ct_sct_list_split(apr_array_header_t **pscts, const unsigned char *data,
                               apr_size_t len, apr_pool_t *p);

/* Encode at most limit SCTs (limit < 0: no cap) as a TLS SCT list. Elements that would make
 * the list exceed 65535 bytes are left out. *pcount gets the number encoded (may be NULL). */
apr_status_t ct_sct_list_encode(ct_blob_t *out, const apr_array_header_t *scts, int limit,
                                int *pcount, apr_pool_t *p);

#endif
