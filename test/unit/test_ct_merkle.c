/* test_ct_merkle.c: RFC 6962 2.1 audit paths and leaf hashes (ct_merkle.c). The tree and its
 * paths are computed here by the RFC's recursive definitions, independently of the unit. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "ct_merkle.h"
#include "ct_helpers.h"

static apr_pool_t *pool;
static void setup(void) { apr_pool_create(&pool, NULL); }
static void teardown(void) { apr_pool_destroy(pool); }

static unsigned char leaves[16][32];

static void mth(unsigned char out[32], int lo, int n)
{
    unsigned char l[32], r[32];
    int k = 1;

    if (n == 1) { memcpy(out, leaves[lo], 32); return; }
    while (k * 2 < n) k *= 2;
    mth(l, lo, k);
    mth(r, lo + k, n - k);
    ct_merkle_node_hash(out, l, r);
}

/* PATH(m, D[lo..lo+n)) of RFC 6962 2.1.1 */
static void path(apr_array_header_t *a, int m, int lo, int n)
{
    int k = 1;
    unsigned char *h;

    if (n <= 1) return;
    while (k * 2 < n) k *= 2;
    h = apr_palloc(pool, 32);
    if (m < k) {
        path(a, m, lo, k);
        mth(h, lo + k, n - k);
    }
    else {
        path(a, m - k, lo + k, n - k);
        mth(h, lo, k);
    }
    APR_ARRAY_PUSH(a, const unsigned char *) = h;
}

START_TEST(paths_for_all_sizes)
{
    int n, m, i;

    for (i = 0; i < 16; ++i) {
        unsigned char in[2] = { 0, (unsigned char)i };
        EVP_Digest(in, 2, leaves[i], NULL, EVP_sha256(), NULL);
    }
    for (n = 1; n <= 16; ++n) {
        unsigned char root[32];
        mth(root, 0, n);
        for (m = 0; m < n; ++m) {
            apr_array_header_t *a = apr_array_make(pool, 8, sizeof(const unsigned char *));
            unsigned char bad[32];
            path(a, m, 0, n);
            ck_assert_msg(ct_merkle_verify_path(leaves[m], (apr_uint64_t)m, (apr_uint64_t)n, a,
                                                root), "leaf %d of %d", m, n);
            /* wrong index, wrong size, wrong leaf, tampered path */
            if (n > 1) {
                ck_assert(!ct_merkle_verify_path(leaves[m], (apr_uint64_t)((m + 1) % n),
                                                 (apr_uint64_t)n, a, root));
                memcpy(bad, APR_ARRAY_IDX(a, 0, const unsigned char *), 32);
                bad[0] ^= 1;
                APR_ARRAY_IDX(a, 0, const unsigned char *) = bad;
                ck_assert(!ct_merkle_verify_path(leaves[m], (apr_uint64_t)m, (apr_uint64_t)n,
                                                 a, root));
            }
            ck_assert(!ct_merkle_verify_path(leaves[(m + 1) % 16], (apr_uint64_t)m,
                                             (apr_uint64_t)n, a, root));
            ck_assert(!ct_merkle_verify_path(leaves[m], (apr_uint64_t)m, (apr_uint64_t)n + 1,
                                             a, root));
        }
    }
}
END_TEST

START_TEST(leaf_hash_x509)
{
    EVP_PKEY *k = th_ec_key(), *logk = th_ec_key();
    X509 *c = th_cert(k, k, NULL, "x", 0);
    const unsigned char ext[] = { 7, 7 };
    ct_blob_t s = th_sct(pool, logk, c, NULL, 0x0102030405060708ULL, ext, 2);
    unsigned char *der = NULL, *buf, *q, want[32], got[32];
    int len = i2d_X509(c, &der);

    buf = q = malloc((size_t)len + 32);
    *q++ = 0; *q++ = 0; *q++ = 0;
    memcpy(q, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); q += 8;
    *q++ = 0; *q++ = 0;
    *q++ = (unsigned char)(len >> 16); *q++ = (unsigned char)(len >> 8); *q++ = (unsigned char)len;
    memcpy(q, der, (size_t)len); q += len;
    *q++ = 0; *q++ = 2; *q++ = 7; *q++ = 7;
    EVP_Digest(buf, (size_t)(q - buf), want, NULL, EVP_sha256(), NULL);
    ck_assert_int_eq(ct_merkle_leaf_hash(got, &s, c, NULL, 0), APR_SUCCESS);
    ck_assert(!memcmp(want, got, 32));
    ck_assert_int_eq(ct_merkle_leaf_hash(got, &s, c, NULL, 1), APR_EINVAL);
    free(buf);
    OPENSSL_free(der);
    X509_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_free(logk);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { paths_for_all_sizes, leaf_hash_x509, NULL };
    return th_run("ct_merkle", setup, teardown, tests);
}
