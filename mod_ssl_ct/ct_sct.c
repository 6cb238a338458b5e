/* ct_sct.c: SCT and SCT list codec and online verification; see ct_sct.h.
 *
 * Decoding is done by OpenSSL (o2i_SCT); this unit adds what OpenSSL leaves to the caller:
 * the exact framing of lists, the exact length of each SCT (a re-encode must give back the
 * same bytes, so trailing garbage is refused), and the policy checks around SCT_validate
 * (trust, time range, future timestamps) that depend on our log configuration.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/crypto.h>

#include "ct_sct.h"
#include "ct_log.h"

apr_uint64_t ct_now_ms(void)
{
    return (apr_uint64_t)(apr_time_now() / 1000);
}

const char *ct_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, 2 * len + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 0x0f];
    }
    s[2 * len] = '\0';
    return s;
}

static unsigned int get_u16(const unsigned char *d)
{
    return ((unsigned int)d[0] << 8) | d[1];
}

apr_status_t ct_sct_parse(ct_sct_info_t *info, const unsigned char *data, apr_size_t len)
{
    const unsigned char *pp = data;
    unsigned char *reenc = NULL, *id = NULL, *ext = NULL;
    SCT *sct = NULL;
    int n;
    apr_status_t rv = APR_EINVAL;

    if (len < CT_SCT_MIN_LEN || len > CT_SCT_MAX_LEN || data[0] != SCT_VERSION_V1) goto out;
    sct = o2i_SCT(NULL, &pp, len);
    if (sct == NULL || SCT_get_version(sct) != SCT_VERSION_V1) goto out;
    /* o2i_SCT consumes the whole buffer for v1; a re-encode must reproduce it exactly,
     * which refuses trailing bytes hidden behind the signature length. */
    n = i2o_SCT(sct, &reenc);
    if (n <= 0 || (apr_size_t)n != len || memcmp(reenc, data, len) != 0) goto out;
    if (SCT_get0_log_id(sct, &id) != CT_LOG_ID_LEN) goto out;
    if (info) {
        memcpy(info->log_id, id, CT_LOG_ID_LEN);
        info->timestamp = SCT_get_timestamp(sct);
        info->ext_len = SCT_get0_extensions(sct, &ext);
    }
    rv = APR_SUCCESS;
out:
    OPENSSL_free(reenc);
    SCT_free(sct);
    return rv;
}

apr_status_t ct_sct_list_split(apr_array_header_t **pscts, const unsigned char *data,
                               apr_size_t len, apr_pool_t *p)
{
    apr_array_header_t *scts = apr_array_make(p, 4, sizeof(ct_blob_t));
    apr_size_t pos = 2, total;

    *pscts = NULL;
    if (len < 2) return APR_EINVAL;
    total = get_u16(data);
    if (total + 2 != len || total == 0) return APR_EINVAL;
    while (pos < len) {
        apr_size_t slen;
        ct_blob_t *b;

        if (len - pos < 2) return APR_EINVAL;
        slen = get_u16(data + pos);
        pos += 2;
        if (slen > len - pos) return APR_EINVAL;
        if (ct_sct_parse(NULL, data + pos, slen) != APR_SUCCESS) return APR_EINVAL;
        b = apr_array_push(scts);
        b->data = data + pos;
        b->len = slen;
        pos += slen;
    }
    *pscts = scts;
    return APR_SUCCESS;
}

apr_status_t ct_sct_list_encode(ct_blob_t *out, const apr_array_header_t *scts, int limit,
                                int *pcount, apr_pool_t *p)
{
    apr_size_t total = 0;
    unsigned char *buf;
    int i, count = 0;

    buf = apr_palloc(p, 2 + CT_SCT_MAX_LEN);
    for (i = 0; i < scts->nelts && (limit < 0 || count < limit); ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(scts, i, ct_blob_t);
        if (b->len == 0 || b->len > CT_SCT_MAX_LEN || total + 2 + b->len > CT_SCT_MAX_LEN) {
            continue;
        }
        buf[2 + total] = (unsigned char)(b->len >> 8);
        buf[2 + total + 1] = (unsigned char)(b->len & 0xff);
        memcpy(buf + 2 + total + 2, b->data, b->len);
        total += 2 + b->len;
        ++count;
    }
    buf[0] = (unsigned char)(total >> 8);
    buf[1] = (unsigned char)(total & 0xff);
    out->data = buf;
    out->len = total + 2;
    if (pcount) *pcount = count;
    return count > 0 ? APR_SUCCESS : APR_ENOENT;
}

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
                              const struct ct_logs_t *logs, apr_uint64_t now_ms)
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
                                   X509 *issuer, const struct ct_logs_t *logs,
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
