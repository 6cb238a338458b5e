/* test_ct_sct_verify.c: the verdict on one SCT (ct_sct_verify.c), against SCTs signed by the test. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "ct_sct_verify.h"
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

START_TEST(verify_sct_with_extensions)
{
    const unsigned char ext[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, ct_now_ms() - 1000, ext, sizeof(ext));

    /* an SCT with extensions is verified like any other */
    ck_assert_int_eq(ct_sct_verify_blob(&s, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs,
                                        ct_now_ms()), CT_SCT_VALID);
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

int main(void)
{
    const TTest *tests[] = { verify_x509_entry, verify_sct_with_extensions, verify_policy, verify_precert_entry,
                             verify_algorithm_must_match_the_log_key, NULL };
    return th_run("ct_sct_verify", setup, teardown, tests);
}
