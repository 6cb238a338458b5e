/* ct_sct_verify.h: the online verification of one SCT against the configured logs.
 *
 * Owns: the verdict on an SCT (known log, trusted, in the log's time range, not from the
 * future, signature verified by OpenSSL's SCT_validate against the logs' CTLOG_STORE).
 * Never: decodes SCT framing itself (ct_sct does), includes httpd headers, logs.
 */
#ifndef CT_SCT_VERIFY_H
#define CT_SCT_VERIFY_H

#include <openssl/ct.h>
#include <openssl/x509.h>

#include "ct_sct.h"
#include "ct_log.h"

/* The outcome of checking one SCT online. */
typedef enum {
    CT_SCT_VALID = 0,          /* known log, trusted, in range, signature verified */
    CT_SCT_UNVERIFIED,         /* known log, trusted, in range, but no key to verify with */
    CT_SCT_UNKNOWN_LOG,        /* log id not in the configuration */
    CT_SCT_DISTRUSTED,         /* log marked distrusted */
    CT_SCT_OUT_OF_RANGE,       /* timestamp outside the log's min/max */
    CT_SCT_FUTURE,             /* timestamp later than now */
    CT_SCT_BAD_SIGNATURE,      /* signature does not verify */
    CT_SCT_MALFORMED
} ct_sct_status_t;

const char *ct_sct_status_str(ct_sct_status_t st);

/* Verify one SCT (OpenSSL object, its source/entry type set) for cert. issuer is needed for
 * precertificate (embedded) SCTs; without it those SCTs fail as CT_SCT_BAD_SIGNATURE. */
ct_sct_status_t ct_sct_verify(SCT *sct, X509 *cert, X509 *issuer,
                              const ct_logs_t *logs, apr_uint64_t now_ms);

/* Same for a TLS-encoded SCT, with the given source (SCT_SOURCE_TLS_EXTENSION, ...). */
ct_sct_status_t ct_sct_verify_blob(const ct_blob_t *sct, sct_source_t source, X509 *cert,
                                   X509 *issuer, const ct_logs_t *logs,
                                   apr_uint64_t now_ms);

#endif
