/* Unit tests of md_metrics (the renewal driver's records) and of the md-metrics text that
 * md_status builds from them: one 0/1 series per state, counters, staple facts. */
#include <string.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_metrics.h"
#include "md_status.h"

static md_store_t *store;
static md_t *md;

static void setup(void)
{
    const char *err = NULL;
    pool_setup();
    md = unit_md("a.example.org");
    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(store, pool), APR_SUCCESS);
}

static const char *metrics_of(md_t *m)
{
    apr_array_header_t *mds = apr_array_make(pool, 1, sizeof(md_t *));
    APR_ARRAY_PUSH(mds, md_t *) = m;
    return md_status_metrics(mds, store, pool);
}

static X509 *install_cert(int days)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));
    EVP_PKEY *k;
    X509 *x;
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, md->domains, k,
                                       apr_time_from_sec(days * 86400), pool), APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    ck_assert_int_eq(md_store_save_data(store, MD_SG_DOMAINS, md->name, "pubcert.pem",
                                        md_chain_to_pem(chain, pool), pool), APR_SUCCESS);
    return x;
}

START_TEST(failures_count_up_and_survive)
{
    ck_assert_int_eq(md_metrics_failures(store, md->name, pool), 0);
    ck_assert_int_eq(md_metrics_count_failure(store, md->name, pool), APR_SUCCESS);
    ck_assert_int_eq(md_metrics_count_failure(store, md->name, pool), APR_SUCCESS);
    ck_assert_int_eq(md_metrics_failures(store, md->name, pool), 2);
    ck_assert_int_eq(md_metrics_failures(store, "b.example.org", pool), 0);
    /* a job's success (errors back to 0) does not touch the counter */
    ck_assert_ptr_nonnull(strstr(metrics_of(md), "mod_md_renewal_failures_total{md=\"a.example.org\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(metrics_of(md), "# TYPE mod_md_renewal_failures_total counter\n"));
}
END_TEST

START_TEST(unreadable_record_counts_from_zero)
{
    ck_assert_int_eq(md_store_save_data(store, MD_SG_TMP, MD_METRICS_DIR,
                                        "renewal-a.example.org.json", "not json", pool), APR_SUCCESS);
    ck_assert_int_eq(md_metrics_failures(store, md->name, pool), 0);
    ck_assert_int_eq(md_metrics_count_failure(store, md->name, pool), APR_SUCCESS);
    ck_assert_int_eq(md_metrics_failures(store, md->name, pool), 1);
}
END_TEST

START_TEST(driver_check_absent_until_noted)
{
    apr_time_t when = apr_time_from_sec(1700000000);
    ck_assert_ptr_null(strstr(metrics_of(md), "\nmod_md_driver_last_check_timestamp_seconds "));
    ck_assert_int_eq(md_metrics_last_check(store, pool), 0);
    ck_assert_int_eq(md_metrics_note_check(store, when, pool), APR_SUCCESS);
    ck_assert_int_eq(md_metrics_last_check(store, pool), when);
    ck_assert_ptr_nonnull(strstr(metrics_of(md), "\nmod_md_driver_last_check_timestamp_seconds 1700000000\n"));
}
END_TEST

START_TEST(state_is_one_series_per_state)
{
    const char *m;
    md->state = MD_S_ERROR;
    m = metrics_of(md);
    ck_assert_ptr_nonnull(strstr(m, "mod_md_domain_state{md=\"a.example.org\",state=\"error\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(m, "mod_md_domain_state{md=\"a.example.org\",state=\"complete\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "mod_md_domain_state{md=\"a.example.org\",state=\"incomplete\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "mod_md_domain_state{md=\"a.example.org\",state=\"missing-information\"} 0\n"));
    ck_assert_ptr_null(strstr(m, "} 4\n"));
}
END_TEST

static int staple_calls;
static int fake_staple(const md_t *of, const char *sha256, const char **pstatus, apr_time_t *puntil, void *baton)
{
    (void)of;
    ++staple_calls;
    if (strcmp(sha256, baton)) return 0;
    *pstatus = "revoked";
    *puntil = apr_time_from_sec(1800000000);
    return 1;
}

START_TEST(staple_facts_per_certificate)
{
    X509 *x = install_cert(30);
    const char *m;

    m = metrics_of(md);         /* no stapling: the families are there, without samples */
    ck_assert_ptr_nonnull(strstr(m, "# TYPE mod_md_ocsp_staple_next_update_timestamp_seconds gauge\n"));
    ck_assert_ptr_null(strstr(m, "mod_md_ocsp_staple_next_update_timestamp_seconds{"));
    md_status_set_staple_cb(fake_staple, (void *)md_cert_sha256_hex(x, pool));
    m = metrics_of(md);
    md_status_set_staple_cb(NULL, NULL);
    ck_assert_int_eq(staple_calls, 1);
    ck_assert_ptr_nonnull(strstr(m, "mod_md_ocsp_staple_next_update_timestamp_seconds"
                                    "{md=\"a.example.org\",key_type=\"rsa\"} 1800000000\n"));
    ck_assert_ptr_nonnull(strstr(m, "mod_md_ocsp_staple_status{md=\"a.example.org\",key_type=\"rsa\",status=\"revoked\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(m, "mod_md_ocsp_staple_status{md=\"a.example.org\",key_type=\"rsa\",status=\"good\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, apr_psprintf(pool,
        "mod_md_certificate_not_after_timestamp_seconds{md=\"a.example.org\",key_type=\"rsa\"} %"
        APR_TIME_T_FMT "\n", apr_time_sec(md_cert_not_after(x)))));
}
END_TEST

START_TEST(every_family_has_help_and_type)
{
    const char *m = metrics_of(md), *line;
    int help = 0, type = 0;
    for (line = m; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (!strncmp(line, "# HELP mod_md_", 14)) ++help;
        else if (!strncmp(line, "# TYPE mod_md_", 14)) ++type;
    }
    ck_assert_int_eq(help, 11);
    ck_assert_int_eq(type, 11);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_metrics");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, pool_teardown);
    tcase_add_test(tc, failures_count_up_and_survive);
    tcase_add_test(tc, unreadable_record_counts_from_zero);
    tcase_add_test(tc, driver_check_absent_until_noted);
    tcase_add_test(tc, state_is_one_series_per_state);
    tcase_add_test(tc, staple_facts_per_certificate);
    tcase_add_test(tc, every_family_has_help_and_type);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
