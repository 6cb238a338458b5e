/* fuzz_ct_merkle: Merkle audit proofs (ct_merkle.c), as ctauditscts checks them.
 *
 * The input describes a tree: byte 0 the number of leaves (1..254), bytes 1-2 the leaf index,
 * byte 3 a tampering kind, bytes 4-5 its parameter, the rest salts the leaf contents. The
 * harness builds the tree and the audit path itself (RFC 6962 section 2.1, the recursive
 * definitions) and asserts that ct_merkle_verify_path accepts the genuine proof and refuses
 * it after any tampering: a changed leaf, path element or root, a path element more or
 * less, another leaf index (all node hashes differ, so no other index can verify).
 * Inputs starting with 0xff (0xfe: as a precertificate entry) instead give ct_merkle_leaf_hash an SCT (the rest) for a fixed
 * certificate: whatever it accepts must be one well-formed SCT.
 */
#include <unistd.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "ct_merkle.h"
#include "ct_helpers.h"

#define MAX_LEAVES 256

static X509 *cert, *issuer;

static void init(void)
{
    EVP_PKEY *ca_key = th_ec_key(), *key = th_ec_key();
    issuer = th_cert(ca_key, ca_key, NULL, "Fuzz CA", 1);
    cert = th_cert(key, ca_key, issuer, "fuzz.example.org", 0);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    if (fuzz_seeds_wanted()) {
        static const unsigned char t[][6] = {
            { 7, 0, 3, 0, 0, 0 }, { 8, 0, 5, 1, 0, 1 }, { 1, 0, 0, 0, 0, 0 },
            { 13, 0, 12, 2, 0, 3 }, { 200, 0, 99, 3, 0, 0 }, { 5, 0, 4, 4, 0, 2 },
            { 16, 0, 15, 5, 0, 0 }, { 17, 0, 16, 6, 0, 9 } };
        apr_pool_t *p = fuzz_root();
        ct_blob_t sct = th_sct(p, key = th_ec_key(), cert, NULL, 1700000000000ULL, NULL, 0);
        char name[32];
        size_t i;
        for (i = 0; i < sizeof(t) / sizeof(t[0]); ++i) {
            snprintf(name, sizeof(name), "tree-%zu", i);
            fuzz_seed(name, -1, t[i], sizeof(t[i]));
        }
        fuzz_seed("leaf-hash-sct", 0xff, sct.data, sct.len);
        _exit(0);
    }
}

static void leaf_hash(unsigned char out[CT_HASH_LEN], unsigned i, const uint8_t *salt, size_t n)
{
    unsigned char buf[1 + 4 + 64];
    size_t k = n > 64 ? 64 : n;
    buf[0] = 0x00;
    buf[1] = (unsigned char)(i >> 24);
    buf[2] = (unsigned char)(i >> 16);
    buf[3] = (unsigned char)(i >> 8);
    buf[4] = (unsigned char)i;
    memcpy(buf + 5, salt, k);
    EVP_Digest(buf, 5 + k, out, NULL, EVP_sha256(), NULL);
}

/* Largest power of two smaller than n (n > 1). */
static unsigned split_point(unsigned n)
{
    unsigned k = 1;
    while (k * 2 < n) k *= 2;
    return k;
}

/* MTH(D[lo:lo+n]) */
static void mth(unsigned char out[CT_HASH_LEN], unsigned char (*leaves)[CT_HASH_LEN],
                unsigned lo, unsigned n)
{
    unsigned char l[CT_HASH_LEN], r[CT_HASH_LEN];
    unsigned k;

    if (n == 1) {
        memcpy(out, leaves[lo], CT_HASH_LEN);
        return;
    }
    k = split_point(n);
    mth(l, leaves, lo, k);
    mth(r, leaves, lo + k, n - k);
    ct_merkle_node_hash(out, l, r);
}

/* PATH(m, D[lo:lo+n]), appended to path (elements allocated in p), bottom first. */
static void audit_path(apr_array_header_t *path, unsigned m, unsigned char (*leaves)[CT_HASH_LEN],
                       unsigned lo, unsigned n, apr_pool_t *p)
{
    unsigned char *h;
    unsigned k;

    if (n == 1) return;
    k = split_point(n);
    h = apr_palloc(p, CT_HASH_LEN);
    if (m < k) {
        audit_path(path, m, leaves, lo, k, p);
        mth(h, leaves, lo + k, n - k);
    }
    else {
        audit_path(path, m - k, leaves, lo + k, n - k, p);
        mth(h, leaves, lo, k);
    }
    APR_ARRAY_PUSH(path, const unsigned char *) = h;
}

static void check_tree(const uint8_t *d, size_t n, apr_pool_t *p)
{
    static unsigned char leaves[MAX_LEAVES][CT_HASH_LEN];
    unsigned char root[CT_HASH_LEN], leaf[CT_HASH_LEN], *h;
    unsigned size, index, kind, param, i, other;
    apr_array_header_t *path, *bad;

    if (n < 6) return;
    size = (unsigned)d[0] + 1;
    index = (((unsigned)d[1] << 8) | d[2]) % size;
    kind = d[3] % 7;
    param = ((unsigned)d[4] << 8) | d[5];
    for (i = 0; i < size; ++i) leaf_hash(leaves[i], i, d + 6, n - 6);
    mth(root, leaves, 0, size);
    path = apr_array_make(p, 10, sizeof(const unsigned char *));
    audit_path(path, index, leaves, 0, size, p);
    memcpy(leaf, leaves[index], CT_HASH_LEN);

    FUZZ_ASSERT(ct_merkle_verify_path(leaf, index, size, path, root) == 1);
    bad = apr_array_copy(p, path);
    switch (kind) {
    case 0:                                        /* the leaf */
        leaf[param % CT_HASH_LEN] ^= (unsigned char)(1 + (param >> 8) % 255);
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index, size, path, root));
        break;
    case 1:                                        /* one path element */
        if (!bad->nelts) break;
        i = param % (unsigned)bad->nelts;
        h = apr_pmemdup(p, APR_ARRAY_IDX(bad, i, unsigned char *), CT_HASH_LEN);
        h[(param >> 4) % CT_HASH_LEN] ^= 0x01;
        APR_ARRAY_IDX(bad, i, unsigned char *) = h;
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index, size, bad, root));
        break;
    case 2:                                        /* the root */
        root[param % CT_HASH_LEN] ^= 0x80;
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index, size, path, root));
        break;
    case 3:                                        /* a path element less */
        if (!bad->nelts) break;
        apr_array_pop(bad);
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index, size, bad, root));
        break;
    case 4:                                        /* a path element more */
        APR_ARRAY_PUSH(bad, const unsigned char *) = leaves[param % size];
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index, size, bad, root));
        break;
    case 5:                                        /* another index */
        other = param % size;
        if (other != index)
            FUZZ_ASSERT(!ct_merkle_verify_path(leaf, other, size, path, root));
        FUZZ_ASSERT(!ct_merkle_verify_path(leaf, index + size, size, path, root));
        break;
    default:                                       /* a proof of another leaf */
        other = param % size;
        if (other != index) {
            bad = apr_array_make(p, 10, sizeof(const unsigned char *));
            audit_path(bad, other, leaves, 0, size, p);
            FUZZ_ASSERT(!ct_merkle_verify_path(leaf, other, size, bad, root));
            FUZZ_ASSERT(ct_merkle_verify_path(leaves[other], other, size, bad, root) == 1);
        }
        break;
    }
}

static void check_leaf_hash(const uint8_t *d, size_t n, int precert)
{
    unsigned char out[CT_HASH_LEN], again[CT_HASH_LEN];
    ct_blob_t sct;

    sct.data = d;
    sct.len = n;
    if (ct_merkle_leaf_hash(out, &sct, cert, precert ? issuer : NULL, precert) != APR_SUCCESS)
        return;
    FUZZ_ASSERT(ct_sct_parse(NULL, sct.data, sct.len) == APR_SUCCESS);
    FUZZ_ASSERT(ct_merkle_leaf_hash(again, &sct, cert, precert ? issuer : NULL, precert)
                == APR_SUCCESS && !memcmp(out, again, CT_HASH_LEN));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!cert) {
        fuzz_init_begin();
        fuzz_root();
        init();
        fuzz_init_end();
    }
    p = fuzz_run_pool();
    if (size && data[0] >= 0xfe) check_leaf_hash(data + 1, size - 1, data[0] == 0xfe);
    else check_tree(data, size, p);
    fuzz_run_end(p);
    return 0;
}
