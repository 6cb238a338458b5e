/* ct_sct.c: SCT and SCT list codec; see ct_sct.h.
 *
 * Decoding is done by OpenSSL (o2i_SCT); this unit adds what OpenSSL leaves to the caller:
 * the exact framing of lists, the exact length of each SCT (a re-encode must give back the
 * same bytes, so trailing garbage is refused).
 */
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "ct_sct.h"

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
