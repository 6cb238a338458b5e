/* Unit tests of md_status: cert facts per key type, renew-at, renewal, errors, masking. */
#include <string.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_status.h"

static md_store_t *store;
static md_t *md;

static void setup(void)
{
    apr_array_header_t *n;
    const char *err = NULL;
    pool_setup();
    n = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(n, const char *) = "a.example.org";
    md = md_create(pool, n);
    md_merge(md, md_create_defaults(pool));
    md->watched = 1;
    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(store, pool), APR_SUCCESS);
}

static X509 *install_cert(md_store_group_t group, int days)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k;
    X509 *x;
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, md->domains, k, apr_time_from_sec(days * 86400), pool),
                     APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    ck_assert_int_eq(md_store_save_data(store, group, md->name, "pubcert.pem", md_chain_to_pem(chain, pool),
                                        pool), APR_SUCCESS);
    return x;
}

START_TEST(no_cert_renews_now)
{
    json_t *j = md_status_md_json(md, store, 0, pool);
    ck_assert_int_eq(json_object_size(json_object_get(j, "cert")), 0);
    ck_assert(json_is_true(json_object_get(j, "renew")));
    ck_assert(json_is_true(json_object_get(j, "watched")));
    ck_assert_ptr_null(json_object_get(j, "renewal"));
    ck_assert_ptr_null(json_object_get(j, "error"));
    json_decref(j);
}
END_TEST

START_TEST(cert_facts_and_renew_at)
{
    X509 *x = install_cert(MD_SG_DOMAINS, 90);
    json_t *j = md_status_md_json(md, store, 0, pool), *rsa;
    apr_time_t renew_at;
    rsa = json_object_get(json_object_get(j, "cert"), "rsa");
    ck_assert_ptr_nonnull(rsa);
    ck_assert_str_eq(json_string_value(json_object_get(rsa, "sha256-fingerprint")), md_cert_sha256_hex(x, pool));
    ck_assert_str_eq(json_string_value(json_object_get(rsa, "serial")), md_cert_serial_hex(x, pool));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "cert"), "valid"));
    renew_at = md_util_time_parse(json_string_value(json_object_get(j, "renew-at")));
    /* 33% of ~90 days before the end: about 60 days from now */
    ck_assert(renew_at > apr_time_now() + apr_time_from_sec(59 * 86400));
    ck_assert(renew_at < apr_time_now() + apr_time_from_sec(61 * 86400));
    ck_assert_ptr_null(json_object_get(j, "renew"));
    json_decref(j);
}
END_TEST

START_TEST(renewal_and_errors)
{
    json_t *job = json_pack("{s:s,s:b,s:i,s:{s:[]}}", "name", md->name, "finished", 1, "errors", 0,
                            "log", "entries"), *j;
    ck_assert_int_eq(md_store_save_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, job, pool), APR_SUCCESS);
    install_cert(MD_SG_STAGING, 90);
    j = md_status_md_json(md, store, 0, pool);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "renewal"), "finished")));
    ck_assert_ptr_null(json_object_get(json_object_get(j, "renewal"), "log"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(j, "renewal"), "cert"), "rsa"));
    json_decref(j);
    j = md_status_md_json(md, store, 1, pool);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "renewal"), "log"));
    json_decref(j);
    /* a truncated job.json: the MD still renders, with the error */
    ck_assert_int_eq(md_store_save_data(store, MD_SG_STAGING, md->name, MD_FN_JOB, "{\"name\": \"a", pool),
                     APR_SUCCESS);
    j = md_status_md_json(md, store, 0, pool);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "not valid JSON"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "a.example.org");
    json_decref(j);
    json_decref(job);
}
END_TEST

START_TEST(eab_hmac_masked)
{
    json_t *j;
    char *s;
    md->eab_kid = "kid";
    md->eab_hmac = "c2VjcmV0";
    j = md_status_md_json(md, store, 0, pool);
    s = json_dumps(j, 0);
    ck_assert_ptr_null(strstr(s, "c2VjcmV0"));
    ck_assert_ptr_nonnull(strstr(s, "***"));
    free(s);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_status");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, pool_teardown);
    tcase_add_test(tc, no_cert_renews_now);
    tcase_add_test(tc, cert_facts_and_renew_at);
    tcase_add_test(tc, renewal_and_errors);
    tcase_add_test(tc, eab_hmac_masked);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
