/* ct_merkle.c: Merkle leaf hashes and audit paths; see ct_merkle.h. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <openssl/objects.h>

#include "ct_merkle.h"
#include "ct_sct.h"

void ct_merkle_node_hash(unsigned char out[CT_HASH_LEN], const unsigned char *left,
                         const unsigned char *right)
{
    unsigned char buf[1 + 2 * CT_HASH_LEN];

    buf[0] = 0x01;
    memcpy(buf + 1, left, CT_HASH_LEN);
    memcpy(buf + 1 + CT_HASH_LEN, right, CT_HASH_LEN);
    EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL);
}

/* The TBSCertificate a precertificate SCT signs: the final cert's TBS without the SCT list
 * extension (RFC 6962 3.2). */
static int precert_tbs(X509 *cert, unsigned char **pder)
{
    X509 *dup = X509_dup(cert);
    int idx, len = -1;

    if (dup == NULL) return -1;
    while ((idx = X509_get_ext_by_NID(dup, NID_ct_precert_scts, -1)) >= 0) {
        X509_EXTENSION_free(X509_delete_ext(dup, idx));
    }
    len = i2d_re_X509_tbs(dup, pder);
    X509_free(dup);
    return len;
}

apr_status_t ct_merkle_leaf_hash(unsigned char out[CT_HASH_LEN], const ct_blob_t *sct,
                                 X509 *cert, X509 *issuer, int precert)
{
    ct_sct_info_t info;
    unsigned char *der = NULL, *spki = NULL, ikh[CT_HASH_LEN];
    const unsigned char *ext;
    unsigned char hdr[1 + 1 + 1 + 8 + 2];
    int len, slen, i;
    EVP_MD_CTX *md = NULL;
    apr_status_t rv = APR_EINVAL;
    unsigned char l3[3], l2[2];

    if (ct_sct_parse(&info, sct->data, sct->len) != APR_SUCCESS) return APR_EINVAL;
    if (precert) {
        if (issuer == NULL) return APR_EINVAL;
        len = precert_tbs(cert, &der);
        slen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
        if (slen <= 0 || !EVP_Digest(spki, (size_t)slen, ikh, NULL, EVP_sha256(), NULL))
            goto out;
    }
    else {
        len = i2d_X509(cert, &der);
    }
    if (len <= 0 || len > 0xffffff) goto out;
    hdr[0] = 0x00;                        /* leaf hash prefix */
    hdr[1] = 0;                           /* version v1 */
    hdr[2] = 0;                           /* timestamped_entry */
    for (i = 0; i < 8; ++i) hdr[3 + i] = (unsigned char)(info.timestamp >> (56 - 8 * i));
    hdr[11] = 0;
    hdr[12] = precert ? 1 : 0;            /* entry type */
    l3[0] = (unsigned char)(len >> 16);
    l3[1] = (unsigned char)(len >> 8);
    l3[2] = (unsigned char)len;
    /* the SCT's extensions sit right after log id and timestamp */
    ext = sct->data + 1 + CT_LOG_ID_LEN + 8;
    md = EVP_MD_CTX_new();
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)
        || !EVP_DigestUpdate(md, hdr, sizeof(hdr))
        || (precert && !EVP_DigestUpdate(md, ikh, sizeof(ikh)))
        || !EVP_DigestUpdate(md, l3, 3) || !EVP_DigestUpdate(md, der, (size_t)len)) goto out;
    l2[0] = ext[0];
    l2[1] = ext[1];
    if (!EVP_DigestUpdate(md, l2, 2) || !EVP_DigestUpdate(md, ext + 2, info.ext_len)
        || !EVP_DigestFinal_ex(md, out, NULL)) goto out;
    rv = APR_SUCCESS;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    OPENSSL_free(spki);
    return rv;
}

int ct_merkle_verify_path(const unsigned char leaf[CT_HASH_LEN], apr_uint64_t leaf_index,
                          apr_uint64_t tree_size, const apr_array_header_t *path,
                          const unsigned char root[CT_HASH_LEN])
{
    apr_uint64_t fn = leaf_index, sn;
    unsigned char r[CT_HASH_LEN];
    int i;

    if (tree_size == 0 || leaf_index >= tree_size) return 0;
    sn = tree_size - 1;
    memcpy(r, leaf, CT_HASH_LEN);
    for (i = 0; i < path->nelts; ++i) {
        const unsigned char *pth = APR_ARRAY_IDX(path, i, const unsigned char *);
        if (sn == 0) return 0;
        if ((fn & 1) || fn == sn) {
            ct_merkle_node_hash(r, pth, r);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        }
        else {
            ct_merkle_node_hash(r, r, pth);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && !memcmp(r, root, CT_HASH_LEN);
}
