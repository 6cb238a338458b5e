/* test_ct_store.c: SCT store files and collation (ct_store.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "ct_store.h"
#include "ct_helpers.h"

static apr_pool_t *pool;
static const char *dir;
static EVP_PKEY *ca_key, *log_key, *log2_key;
static X509 *ca, *leaf;
static ct_logs_t *logs;

static void setup(void)
{
    const char *f[6] = { "-", NULL, "-", "-", "-", "-" }, *err;
    apr_array_header_t *rows;
    ct_log_t *log;

    apr_pool_create(&pool, NULL);
    dir = th_tmpdir(pool);
    ca_key = th_ec_key();
    log_key = th_ec_key();
    log2_key = th_ec_key();
    ca = th_cert(ca_key, ca_key, NULL, "CA", 1);
    leaf = th_cert(ca_key, ca_key, ca, "leaf", 0);
    rows = apr_array_make(pool, 2, sizeof(ct_log_t *));
    f[1] = th_write_pubkey(pool, log_key, dir, "log1.pem");
    ck_assert_int_eq(ct_log_from_fields(&log, f, NULL, pool, &err), APR_SUCCESS);
    APR_ARRAY_PUSH(rows, ct_log_t *) = log;
    f[1] = th_write_pubkey(pool, log2_key, dir, "log2.pem");
    f[2] = "1";
    ck_assert_int_eq(ct_log_from_fields(&log, f, NULL, pool, &err), APR_SUCCESS);
    APR_ARRAY_PUSH(rows, ct_log_t *) = log;
    ck_assert_int_eq(ct_logs_make(&logs, rows, NULL, dir, pool, &err), APR_SUCCESS);
}

static void teardown(void)
{
    X509_free(ca); X509_free(leaf);
    EVP_PKEY_free(ca_key); EVP_PKEY_free(log_key); EVP_PKEY_free(log2_key);
    apr_pool_destroy(pool);
}

START_TEST(atomic_write)
{
    const char *path = apr_pstrcat(pool, dir, "/collated", NULL);
    unsigned char *data;
    apr_size_t len;
    struct stat st;

    ck_assert_int_eq(md_file_write_atomic(path, "abc", 3, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_file_write_atomic(path, "defg", 4, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(ct_store_read_file(&data, &len, path, 100, pool), APR_SUCCESS);
    ck_assert_uint_eq(len, 4);
    ck_assert(!memcmp(data, "defg", 4));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(ct_store_read_file(&data, &len, path, 3, pool), APR_EINVAL);
    /* no temp file left behind */
    {
        apr_array_header_t *files;
        ck_assert_int_eq(ct_store_read_scts(&files, dir, NULL, NULL, NULL, pool), APR_SUCCESS);
        ck_assert_int_eq(files->nelts, 0);
    }
}
END_TEST

START_TEST(auto_names)
{
    ck_assert_str_eq(ct_store_auto_name(pool, "http://127.0.0.1:8080/log/"),
                     "AUTO_127.0.0.1_8080_-log-.sct");
    ck_assert_str_eq(ct_store_auto_name(pool, "https://ct.example.com"),
                     "AUTO_ct.example.com_443_-.sct");
    ck_assert_str_eq(ct_store_auto_name(pool, "http://a/b?c*d|e"), "AUTO_a_80_-b-c-d-e.sct");
}
END_TEST

START_TEST(read_scts_skips_bad_files)
{
    apr_uint64_t now = ct_now_ms() - 1000;
    ct_blob_t s = th_sct(pool, log_key, leaf, NULL, now, NULL, 0);
    const unsigned char ext[] = { 1, 2, 3 };
    ct_blob_t se = th_sct(pool, log_key, leaf, NULL, now, ext, 3);
    const char *sd = apr_pstrcat(pool, dir, "/scts", NULL);
    apr_array_header_t *files, *errs = apr_array_make(pool, 4, sizeof(const char *));
    unsigned char *big = calloc(1, 70000);

    mkdir(sd, 0755);
    th_write(apr_pstrcat(pool, sd, "/a.sct", NULL), s.data, s.len);
    th_write(apr_pstrcat(pool, sd, "/b-ext.sct", NULL), se.data, se.len);
    th_write(apr_pstrcat(pool, sd, "/c-trunc.sct", NULL), s.data, s.len - 3);
    th_write(apr_pstrcat(pool, sd, "/d-empty.sct", NULL), "", 0);
    th_write(apr_pstrcat(pool, sd, "/e-big.sct", NULL), big, 70000);
    th_write(apr_pstrcat(pool, sd, "/f-garbage.sct", NULL), "garbage garbage garbage garbage "
             "garbage garbage garbage", 55);
    th_write(apr_pstrcat(pool, sd, "/AUTO_x_80_-.sct", NULL), s.data, s.len);
    th_write(apr_pstrcat(pool, sd, "/notes.txt", NULL), "x", 1);
    free(big);
    ck_assert_int_eq(ct_store_read_scts(&files, sd, NULL, "AUTO_", errs, pool), APR_SUCCESS);
    ck_assert_int_eq(files->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(files, 0, ct_sct_file_t).name, "a.sct");
    ck_assert_str_eq(APR_ARRAY_IDX(files, 1, ct_sct_file_t).name, "b-ext.sct");
    ck_assert_int_eq(errs->nelts, 4);
    ck_assert_int_eq(ct_store_read_scts(&files, sd, "AUTO_", NULL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(files->nelts, 1);
    ck_assert_int_eq(ct_store_read_scts(&files, apr_pstrcat(pool, dir, "/none", NULL), NULL,
                                        NULL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(files->nelts, 0);
}
END_TEST

START_TEST(collate_filters_and_caps)
{
    apr_uint64_t now = ct_now_ms();
    apr_array_header_t *in = apr_array_make(pool, 8, sizeof(ct_blob_t)), *out;
    apr_array_header_t *errs = apr_array_make(pool, 4, sizeof(const char *));
    EVP_PKEY *unknown = th_ec_key();
    ct_blob_t good = th_sct(pool, log_key, leaf, NULL, now - 5000, NULL, 0);
    ct_blob_t good2 = th_sct(pool, log_key, leaf, NULL, now - 6000, NULL, 0);
    ct_blob_t fresh = th_sct(pool, log_key, leaf, NULL, now - 100, NULL, 0);
    ct_blob_t distrusted = th_sct(pool, log2_key, leaf, NULL, now - 5000, NULL, 0);
    ct_blob_t future = th_sct(pool, log_key, leaf, NULL, now + 600000, NULL, 0);
    ct_blob_t other = th_sct(pool, unknown, leaf, NULL, now - 5000, NULL, 0);
    ct_blob_t list;
    unsigned char *bad = apr_pmemdup(pool, good2.data, good2.len);
    ct_blob_t badsig = { bad, good2.len };
    int count;

    bad[good2.len - 1] ^= 0xff;
    *(ct_blob_t *)apr_array_push(in) = good;
    *(ct_blob_t *)apr_array_push(in) = distrusted;
    *(ct_blob_t *)apr_array_push(in) = future;
    *(ct_blob_t *)apr_array_push(in) = badsig;
    *(ct_blob_t *)apr_array_push(in) = good;       /* duplicate */
    *(ct_blob_t *)apr_array_push(in) = other;      /* unknown log: admin's choice, kept */
    *(ct_blob_t *)apr_array_push(in) = good2;
    *(ct_blob_t *)apr_array_push(in) = fresh;      /* held back, silently */
    ck_assert_int_eq(ct_store_collate(&list, &count, in, logs, leaf, now, 100, errs, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(errs->nelts, 3);
    ck_assert_int_eq(ct_sct_list_split(&out, list.data, list.len, pool), APR_SUCCESS);
    ck_assert_uint_eq(APR_ARRAY_IDX(out, 0, ct_blob_t).len, good.len);
    ck_assert(!memcmp(APR_ARRAY_IDX(out, 0, ct_blob_t).data, good.data, good.len));
    ck_assert_int_eq(ct_store_collate(&list, &count, in, logs, leaf, now, 1, NULL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    apr_array_clear(in);
    *(ct_blob_t *)apr_array_push(in) = distrusted;
    ck_assert_int_eq(ct_store_collate(&list, &count, in, logs, leaf, now, 100, NULL, pool),
                     APR_ENOENT);
    ck_assert_int_eq(count, 0);
    EVP_PKEY_free(unknown);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { atomic_write, auto_names, read_scts_skips_bad_files, collate_filters_and_caps, NULL };
    return th_run("ct_store", setup, teardown, tests);
}
