/* ct_audit.h: the record format of CTAuditStorage files (docs/design.md, "Audit files").
 *
 * Owns: encoding one server's data (key, certificate chain leaf first, SCTs) as records and
 * decoding a whole audit file back, stopping cleanly at a truncated or garbled record.
 * All integers are big-endian:
 *   u16 1 (server start) | u16 2 (key) u16 len key | { u16 3 (cert) u24 len DER }
 *   | { u16 4 (sct) u16 len SCT }
 * Never: includes httpd headers, logs, reads past the buffer.
 */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "ct_util.h"

#define CT_AUDIT_SERVER_START 1
#define CT_AUDIT_KEY_START    2
#define CT_AUDIT_CERT_START   3
#define CT_AUDIT_SCT_START    4

typedef struct ct_audit_entry_t {
    const char *key;
    apr_size_t key_len;            /* set by decode: a key read back may hold any byte */
    apr_array_header_t *certs;     /* of ct_blob_t, DER, leaf first */
    apr_array_header_t *scts;      /* of ct_blob_t, TLS-encoded SCTs */
} ct_audit_entry_t;

/* Encode one entry. APR_EINVAL when a field is too long for its length prefix. */
apr_status_t ct_audit_encode(ct_blob_t *out, const ct_audit_entry_t *e, apr_pool_t *p);

/* n bytes of s for printing (record keys, names from certificates): control characters,
 * bytes >= 0x7f and '\\' as \\xNN. */
const char *ct_audit_printable(apr_pool_t *p, const char *s, apr_size_t n);

/* Decode all entries of a buffer into *pentries (ct_audit_entry_t). On a truncated or
 * garbled tail, the complete entries before it are returned and the status is
 * APR_INCOMPLETE (truncated) or APR_EINVAL (garbage); *pgood_len is the length of the
 * part that decoded cleanly. One rule for every cut, whatever its length: the entry the
 * data ends in is dropped (an entry is complete only when the data ends exactly after it
 * or the next entry's start record follows in full). */
apr_status_t ct_audit_decode(apr_array_header_t **pentries, apr_size_t *pgood_len,
                             const unsigned char *data, apr_size_t len, apr_pool_t *p);

#endif
