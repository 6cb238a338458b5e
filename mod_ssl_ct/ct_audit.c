/* ct_audit.c: audit record codec; see ct_audit.h. */
#include <string.h>
#include <apr_strings.h>
#include "ct_audit.h"

static void put_u16(unsigned char *d, apr_size_t v)
{
    d[0] = (unsigned char)(v >> 8);
    d[1] = (unsigned char)v;
}

apr_status_t ct_audit_encode(ct_blob_t *out, const ct_audit_entry_t *e, apr_pool_t *p)
{
    apr_size_t klen = strlen(e->key), total = 2 + 4 + klen, pos = 0;
    unsigned char *buf;
    int i;

    if (klen > 0xffff) return APR_EINVAL;
    for (i = 0; e->certs && i < e->certs->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(e->certs, i, ct_blob_t);
        if (b->len > 0xffffff) return APR_EINVAL;
        total += 5 + b->len;
    }
    for (i = 0; e->scts && i < e->scts->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(e->scts, i, ct_blob_t);
        if (b->len > 0xffff) return APR_EINVAL;
        total += 4 + b->len;
    }
    buf = apr_palloc(p, total);
    put_u16(buf + pos, CT_AUDIT_SERVER_START); pos += 2;
    put_u16(buf + pos, CT_AUDIT_KEY_START); pos += 2;
    put_u16(buf + pos, klen); pos += 2;
    memcpy(buf + pos, e->key, klen); pos += klen;
    for (i = 0; e->certs && i < e->certs->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(e->certs, i, ct_blob_t);
        put_u16(buf + pos, CT_AUDIT_CERT_START); pos += 2;
        buf[pos++] = (unsigned char)(b->len >> 16);
        put_u16(buf + pos, b->len & 0xffff); pos += 2;
        memcpy(buf + pos, b->data, b->len); pos += b->len;
    }
    for (i = 0; e->scts && i < e->scts->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(e->scts, i, ct_blob_t);
        put_u16(buf + pos, CT_AUDIT_SCT_START); pos += 2;
        put_u16(buf + pos, b->len); pos += 2;
        memcpy(buf + pos, b->data, b->len); pos += b->len;
    }
    out->data = buf;
    out->len = pos;
    return APR_SUCCESS;
}

const char *ct_audit_printable(apr_pool_t *p, const char *s, apr_size_t n)
{
    apr_size_t i, o = 0;
    char *out = apr_palloc(p, 4 * n + 1);

    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            apr_snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        }
        else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

apr_status_t ct_audit_decode(apr_array_header_t **pentries, apr_size_t *pgood_len,
                             const unsigned char *d, apr_size_t len, apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 4, sizeof(ct_audit_entry_t));
    ct_audit_entry_t *cur = NULL;
    apr_size_t pos = 0, good = 0;
    apr_status_t rv = APR_SUCCESS;

    *pentries = entries;
    while (pos < len) {
        unsigned int type;
        apr_size_t n;
        ct_blob_t *b;

        if (len - pos < 2) {
            /* cut inside a record type: whether it began the next entry or another record
             * of the current one cannot be told, so the current entry goes like any other
             * that the data ends in (one rule for every cut: drop and report) */
            rv = APR_INCOMPLETE;
            break;
        }
        type = ((unsigned int)d[pos] << 8) | d[pos + 1];
        pos += 2;
        if (type == CT_AUDIT_SERVER_START) {
            if (cur) good = pos - 2;
            cur = NULL;
            /* the key record must follow at once */
            if (len - pos < 4) { rv = APR_INCOMPLETE; break; }
            if ((((unsigned int)d[pos] << 8) | d[pos + 1]) != CT_AUDIT_KEY_START) {
                rv = APR_EINVAL;
                break;
            }
            n = ((apr_size_t)d[pos + 2] << 8) | d[pos + 3];
            pos += 4;
            if (len - pos < n) { rv = APR_INCOMPLETE; break; }
            if (memchr(d + pos, '\0', n)) { rv = APR_EINVAL; break; }   /* keys are text */
            cur = apr_array_push(entries);
            cur->key = apr_pstrmemdup(p, (const char *)d + pos, n);
            cur->key_len = n;
            cur->certs = apr_array_make(p, 2, sizeof(ct_blob_t));
            cur->scts = apr_array_make(p, 2, sizeof(ct_blob_t));
            pos += n;
            continue;
        }
        if (cur == NULL || (type != CT_AUDIT_CERT_START && type != CT_AUDIT_SCT_START)) {
            rv = APR_EINVAL;
            break;
        }
        if (type == CT_AUDIT_CERT_START) {
            if (len - pos < 3) { rv = APR_INCOMPLETE; break; }
            n = ((apr_size_t)d[pos] << 16) | ((apr_size_t)d[pos + 1] << 8) | d[pos + 2];
            pos += 3;
        }
        else {
            if (len - pos < 2) { rv = APR_INCOMPLETE; break; }
            n = ((apr_size_t)d[pos] << 8) | d[pos + 1];
            pos += 2;
        }
        if (len - pos < n) { rv = APR_INCOMPLETE; break; }
        b = apr_array_push(type == CT_AUDIT_CERT_START ? cur->certs : cur->scts);
        b->data = d + pos;
        b->len = n;
        pos += n;
    }
    if (rv == APR_SUCCESS) {
        good = len;
    }
    else if (cur) {
        /* the entry being read when the data ended or broke is not complete: drop it */
        entries->nelts--;
    }
    if (pgood_len) *pgood_len = good;
    return rv;
}
