/* ct_sct_verify.c: the policy checks around OpenSSL's SCT_validate; see ct_sct_verify.h.
 *
 * Trust, time range and future timestamps depend on our log configuration, so they are
 * decided here before OpenSSL checks the signature.
 */
#include "ct_sct_verify.h"

const char *ct_sct_status_str(ct_sct_status_t st)
{
    switch (st) {
    case CT_SCT_VALID: return "valid";
    case CT_SCT_UNVERIFIED: return "unverified (no log key)";
    case CT_SCT_UNKNOWN_LOG: return "unknown log";
    case CT_SCT_DISTRUSTED: return "log distrusted";
    case CT_SCT_OUT_OF_RANGE: return "timestamp outside the log's valid range";
    case CT_SCT_FUTURE: return "timestamp in the future";
    case CT_SCT_BAD_SIGNATURE: return "invalid signature";
    default: return "malformed";
    }
}

ct_sct_status_t ct_sct_verify(SCT *sct, X509 *cert, X509 *issuer,
                              const ct_logs_t *logs, apr_uint64_t now_ms)
{
    unsigned char *id = NULL;
    const ct_log_t *log;
    CT_POLICY_EVAL_CTX *ctx = NULL;
    apr_uint64_t ts;
    ct_sct_status_t st;

    if (SCT_get_version(sct) != SCT_VERSION_V1
        || SCT_get0_log_id(sct, &id) != CT_LOG_ID_LEN) {
        return CT_SCT_MALFORMED;
    }
    log = logs ? ct_logs_find(logs, id) : NULL;
    if (log == NULL) return CT_SCT_UNKNOWN_LOG;
    if (log->distrusted) return CT_SCT_DISTRUSTED;
    ts = SCT_get_timestamp(sct);
    if (ts > now_ms) return CT_SCT_FUTURE;
    if ((log->min_ts != CT_LOG_TS_UNSET && ts < log->min_ts)
        || (log->max_ts != CT_LOG_TS_UNSET && ts > log->max_ts)) {
        return CT_SCT_OUT_OF_RANGE;
    }
    if (log->pkey == NULL || logs->store == NULL) return CT_SCT_UNVERIFIED;
    if (cert == NULL) return CT_SCT_BAD_SIGNATURE;
    /* The algorithm bytes are not signed, and OpenSSL verifies with the log's key whatever
     * they say: an SCT must name the algorithm of its log's key (RFC 6962 section 2.1.4). */
    if (SCT_get_signature_nid(sct) != (EVP_PKEY_is_a(log->pkey, "EC") ? NID_ecdsa_with_SHA256
                                       : EVP_PKEY_is_a(log->pkey, "RSA") ? NID_sha256WithRSAEncryption
                                       : NID_undef)
        || SCT_get_signature_nid(sct) == NID_undef) {
        return CT_SCT_BAD_SIGNATURE;
    }

    ctx = CT_POLICY_EVAL_CTX_new();
    if (ctx == NULL) return CT_SCT_MALFORMED;
    st = CT_SCT_BAD_SIGNATURE;
    if (!CT_POLICY_EVAL_CTX_set1_cert(ctx, cert)) goto out;
    if (issuer && !CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer)) goto out;
    CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, logs->store);
    /* our own check above already refused future timestamps; give OpenSSL headroom so
     * that a clock tick between the two checks does not flip the result */
    CT_POLICY_EVAL_CTX_set_time(ctx, now_ms + 1000);
    if (SCT_get_log_entry_type(sct) == CT_LOG_ENTRY_TYPE_PRECERT && issuer == NULL) goto out;
    if (SCT_validate(sct, ctx) == 1
        && SCT_get_validation_status(sct) == SCT_VALIDATION_STATUS_VALID) {
        st = CT_SCT_VALID;
    }
out:
    CT_POLICY_EVAL_CTX_free(ctx);
    return st;
}

ct_sct_status_t ct_sct_verify_blob(const ct_blob_t *blob, sct_source_t source, X509 *cert,
                                   X509 *issuer, const ct_logs_t *logs,
                                   apr_uint64_t now_ms)
{
    const unsigned char *pp = blob->data;
    SCT *sct;
    ct_sct_status_t st;

    if (ct_sct_parse(NULL, blob->data, blob->len) != APR_SUCCESS) return CT_SCT_MALFORMED;
    sct = o2i_SCT(NULL, &pp, blob->len);
    if (sct == NULL) return CT_SCT_MALFORMED;
    if (!SCT_set_source(sct, source)) {
        SCT_free(sct);
        return CT_SCT_MALFORMED;
    }
    st = ct_sct_verify(sct, cert, issuer, logs, now_ms);
    SCT_free(sct);
    return st;
}
