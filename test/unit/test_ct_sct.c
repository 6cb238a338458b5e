/* test_ct_sct.c: SCT codec and verification (ct_sct.c), against SCTs signed by the test. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "ct_sct.h"
#include "ct_log.h"
#include "ct_helpers.h"

static apr_pool_t *pool;
static EVP_PKEY *ca_key, *leaf_key, *log_key, *other_key;
static X509 *ca, *leaf;
static ct_logs_t *logs;
static const char *dir;

static void setup(void)
{
    apr_array_header_t *rows;
    const char *f[6] = { "-", NULL, "-", "-", "-", "-" }, *err = NULL;
    ct_log_t *log;

    apr_pool_create(&pool, NULL);
    dir = th_tmpdir(pool);
    ca_key = th_ec_key();
    leaf_key = th_ec_key();
    log_key = th_ec_key();
    other_key = th_ec_key();
    ca = th_cert(ca_key, ca_key, NULL, "Test CA", 1);
    leaf = th_cert(leaf_key, ca_key, ca, "leaf.example", 0);
    f[1] = th_write_pubkey(pool, log_key, dir, "log.pem");
    ck_assert_int_eq(ct_log_from_fields(&log, f, NULL, pool, &err), APR_SUCCESS);
    rows = apr_array_make(pool, 1, sizeof(ct_log_t *));
    APR_ARRAY_PUSH(rows, ct_log_t *) = log;
    ck_assert_int_eq(ct_logs_make(&logs, rows, NULL, dir, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(logs->store);
}

static void teardown(void)
{
    X509_free(ca); X509_free(leaf);
    EVP_PKEY_free(ca_key); EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(log_key); EVP_PKEY_free(other_key);
    apr_pool_destroy(pool);
}

START_TEST(parse_valid_and_extensions)
{
    apr_uint64_t now = ct_now_ms() - 1000;
    const unsigned char ext[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    ct_blob_t s1 = th_sct(pool, log_key, leaf, NULL, now, NULL, 0);
    ct_blob_t s2 = th_sct(pool, log_key, leaf, NULL, now, ext, sizeof(ext));
    ct_sct_info_t info;

    ck_assert_int_eq(ct_sct_parse(&info, s1.data, s1.len), APR_SUCCESS);
    ck_assert_uint_eq(info.timestamp, now);
    ck_assert_uint_eq(info.ext_len, 0);
    ck_assert_int_eq(ct_sct_parse(&info, s2.data, s2.len), APR_SUCCESS);
    ck_assert_uint_eq(info.ext_len, sizeof(ext));
    /* an SCT with extensions is verified like any other */
    ck_assert_int_eq(ct_sct_verify_blob(&s2, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs,
                                        ct_now_ms()), CT_SCT_VALID);
}
END_TEST

START_TEST(parse_truncated_trailing_garbage)
{
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, ct_now_ms() - 1000, NULL, 0);
    unsigned char *big = malloc(s.len + 1);
    apr_size_t i;

    for (i = 0; i < s.len; ++i) {
        ck_assert_int_eq(ct_sct_parse(NULL, s.data, i), APR_EINVAL);
    }
    memcpy(big, s.data, s.len);
    big[s.len] = 0;
    ck_assert_int_eq(ct_sct_parse(NULL, big, s.len + 1), APR_EINVAL);
    big[0] = 1;   /* not v1 */
    ck_assert_int_eq(ct_sct_parse(NULL, big, s.len), APR_EINVAL);
    free(big);
    big = calloc(1, 70000);
    ck_assert_int_eq(ct_sct_parse(NULL, big, 70000), APR_EINVAL);
    for (i = 0; i < 1000; ++i) big[i] = (unsigned char)(i * 37 + 11);
    big[0] = 0;
    ck_assert_int_eq(ct_sct_parse(NULL, big, 200), APR_EINVAL);
    free(big);
}
END_TEST

START_TEST(list_roundtrip_and_bounds)
{
    apr_array_header_t *in = apr_array_make(pool, 3, sizeof(ct_blob_t)), *out;
    ct_blob_t list;
    int count, i;
    apr_size_t n;

    for (i = 0; i < 3; ++i) {
        *(ct_blob_t *)apr_array_push(in) = th_sct(pool, log_key, leaf, NULL,
                                                  ct_now_ms() - 1000 - i, NULL, 0);
    }
    ck_assert_int_eq(ct_sct_list_encode(&list, in, -1, &count, pool), APR_SUCCESS);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(ct_sct_list_split(&out, list.data, list.len, pool), APR_SUCCESS);
    ck_assert_int_eq(out->nelts, 3);
    for (i = 0; i < 3; ++i) {
        ct_blob_t *a = &APR_ARRAY_IDX(in, i, ct_blob_t), *b = &APR_ARRAY_IDX(out, i, ct_blob_t);
        ck_assert_uint_eq(a->len, b->len);
        ck_assert(!memcmp(a->data, b->data, a->len));
    }
    /* every truncation is refused, never over-read (ASan watches) */
    for (n = 0; n < list.len; ++n) {
        unsigned char *cp = malloc(n ? n : 1);
        memcpy(cp, list.data, n);
        ck_assert_int_eq(ct_sct_list_split(&out, cp, n, pool), APR_EINVAL);
        free(cp);
    }
    /* cap */
    ck_assert_int_eq(ct_sct_list_encode(&list, in, 2, &count, pool), APR_SUCCESS);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(ct_sct_list_split(&out, list.data, list.len, pool), APR_SUCCESS);
    ck_assert_int_eq(out->nelts, 2);
    /* inner length lying about its size */
    {
        unsigned char *cp = apr_pmemdup(pool, list.data, list.len);
        cp[3] = (unsigned char)(cp[3] + 1);
        ck_assert_int_eq(ct_sct_list_split(&out, cp, list.len, pool), APR_EINVAL);
    }
    /* an empty list is not a list */
    {
        const unsigned char empty[] = { 0, 0 };
        ck_assert_int_eq(ct_sct_list_split(&out, empty, 2, pool), APR_EINVAL);
    }
}
END_TEST

START_TEST(list_over_64k_is_capped)
{
    apr_array_header_t *in = apr_array_make(pool, 1000, sizeof(ct_blob_t)), *out;
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, ct_now_ms() - 1000, NULL, 0), list;
    int count, i;

    for (i = 0; i < 1000; ++i) *(ct_blob_t *)apr_array_push(in) = s;
    ck_assert_int_eq(ct_sct_list_encode(&list, in, -1, &count, pool), APR_SUCCESS);
    ck_assert_int_lt(count, 1000);
    ck_assert_uint_le(list.len, 65537);
    ck_assert_int_eq(ct_sct_list_split(&out, list.data, list.len, pool), APR_SUCCESS);
    ck_assert_int_eq(out->nelts, count);
}
END_TEST

START_TEST(verify_x509_entry)
{
    apr_uint64_t now = ct_now_ms();
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, now - 5000, NULL, 0);
    ct_blob_t other = th_sct(pool, other_key, leaf, NULL, now - 5000, NULL, 0);
    ct_blob_t future = th_sct(pool, log_key, leaf, NULL, now + 3600000, NULL, 0);
    X509 *leaf2 = th_cert(leaf_key, ca_key, ca, "other.example", 0);
    unsigned char *bad = apr_pmemdup(pool, s.data, s.len);
    ct_blob_t badb = { bad, s.len };

    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_VALID);
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_OCSP_STAPLED_RESPONSE, leaf, NULL, logs,
                                        now), CT_SCT_VALID);
    /* the SCT of another certificate */
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf2, NULL, logs, now),
                     CT_SCT_BAD_SIGNATURE);
    /* a log we do not know */
    ck_assert_int_eq(ct_sct_verify_blob(&other, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs,
                                        now), CT_SCT_UNKNOWN_LOG);
    ck_assert_int_eq(ct_sct_verify_blob(&future, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs,
                                        now), CT_SCT_FUTURE);
    /* flip a bit of the timestamp: signature no longer matches */
    bad[1 + 32 + 7] ^= 0x01;
    ck_assert_int_eq(ct_sct_verify_blob(&badb, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_BAD_SIGNATURE);
    X509_free(leaf2);
}
END_TEST

START_TEST(verify_policy)
{
    apr_uint64_t now = ct_now_ms();
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, now - 5000, NULL, 0);
    ct_log_t *log = APR_ARRAY_IDX(logs->logs, 0, ct_log_t *);

    log->distrusted = 1;
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_DISTRUSTED);
    log->distrusted = 0;
    log->min_ts = now - 1000;
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_OUT_OF_RANGE);
    log->min_ts = CT_LOG_TS_UNSET;
    log->max_ts = now - 10000;
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_OUT_OF_RANGE);
    log->max_ts = CT_LOG_TS_UNSET;
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_VALID);
}
END_TEST

/* found by fuzz/fuzz_ct_sct: the unsigned algorithm bytes could say RSA (or anything OpenSSL
 * knows) for an EC log and the SCT still verified */
START_TEST(verify_algorithm_must_match_the_log_key)
{
    apr_uint64_t now = ct_now_ms();
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, now - 5000, NULL, 0);
    unsigned char *bad = apr_pmemdup(pool, s.data, s.len);
    ct_blob_t badb = { bad, s.len };

    ck_assert_int_eq(bad[1 + 32 + 8 + 2], 4);           /* sha256 */
    ck_assert_int_eq(bad[1 + 32 + 8 + 2 + 1], 3);       /* ecdsa */
    bad[1 + 32 + 8 + 2 + 1] = 1;                        /* rsa */
    ck_assert_int_eq(ct_sct_verify_blob(&badb, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_BAD_SIGNATURE);
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, now),
                     CT_SCT_VALID);
}
END_TEST

START_TEST(verify_precert_entry)
{
    apr_uint64_t now = ct_now_ms();
    X509 *l = th_cert(leaf_key, ca_key, ca, "embedded.example", 0);
    ct_blob_t s = th_sct(pool, log_key, l, ca, now - 5000, NULL, 0), list;
    apr_array_header_t *a = apr_array_make(pool, 1, sizeof(ct_blob_t));

    *(ct_blob_t *)apr_array_push(a) = s;
    ck_assert_int_eq(ct_sct_list_encode(&list, a, -1, NULL, pool), APR_SUCCESS);
    th_embed(l, ca_key, &list);
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_X509V3_EXTENSION, l, ca, logs, now),
                     CT_SCT_VALID);
    /* no issuer: a precert SCT cannot be checked, so it does not count as valid */
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_X509V3_EXTENSION, l, NULL, logs, now),
                     CT_SCT_BAD_SIGNATURE);
    /* wrong issuer key hash */
    {
        X509 *ca2 = th_cert(other_key, other_key, NULL, "Test CA", 1);
        ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_X509V3_EXTENSION, l, ca2, logs, now),
                         CT_SCT_BAD_SIGNATURE);
        X509_free(ca2);
    }
    /* the same SCT presented as if it were over the whole cert fails */
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, l, ca, logs, now),
                     CT_SCT_BAD_SIGNATURE);
    X509_free(l);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { parse_valid_and_extensions, parse_truncated_trailing_garbage, list_roundtrip_and_bounds, list_over_64k_is_capped, verify_x509_entry, verify_policy, verify_precert_entry,
                             verify_algorithm_must_match_the_log_key, NULL };
    return th_run("ct_sct", setup, teardown, tests);
}
