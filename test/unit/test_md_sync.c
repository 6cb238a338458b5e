/* Unit tests of md_sync: which files mod_ssl gets for an MD at start-up, its state, what the
 * glue is told to log, and md.json in the store. Real store in a temp dir, real certificates
 * and keys made with OpenSSL. */
#include <string.h>
#include <sys/stat.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_store.h"
#include "md_sync.h"
#include "md_util.h"

#define DAY apr_time_from_sec(86400)

static md_store_t *store;
static md_t *md;
static md_pkey_spec_t rsa = { MD_PKEY_RSA, 2048, NULL };
static md_pkey_spec_t p256 = { MD_PKEY_EC, 0, "P-256" };

static void setup(void)
{
    const char *err = NULL;
    pool_setup();
    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(store, pool), APR_SUCCESS);
    md = unit_md("a.example.org www.a.example.org");
    md->pkey_specs = apr_array_make(pool, 2, sizeof(md_pkey_spec_t *));
    APR_ARRAY_PUSH(md->pkey_specs, md_pkey_spec_t *) = &rsa;
    APR_ARRAY_PUSH(md->pkey_specs, md_pkey_spec_t *) = &p256;
}

static const char *domain_file(const char *base, const md_pkey_spec_t *spec)
{
    return md_store_path(store, MD_SG_DOMAINS, md->name, md_store_fname(pool, base, spec), pool);
}

/* Put a certificate for names (space separated), valid for 'valid' from now (negative:
 * expired), and (with_key) its key into domains/<md>/ under the file names of spec. */
static void install(const md_pkey_spec_t *spec, const char *names, apr_interval_time_t valid,
                    int with_key)
{
    apr_array_header_t *domains = unit_md(names)->domains;
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));
    EVP_PKEY *k;
    X509 *x;

    ck_assert_int_eq(md_pkey_gen(&k, spec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, domains, k, valid, pool), APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    ck_assert_int_eq(md_store_save_data(store, MD_SG_DOMAINS, md->name,
                                        md_store_fname(pool, "pubcert", spec),
                                        md_chain_to_pem(chain, pool), pool), APR_SUCCESS);
    if (with_key)
        ck_assert_int_eq(md_store_save_pkey(store, MD_SG_DOMAINS, md->name,
                                            md_store_fname(pool, "privkey", spec), k, pool),
                         APR_SUCCESS);
}

static const char *served_cert(int i)
{
    return APR_ARRAY_IDX(md->rt_cert_files, i, const char *);
}

static const char *served_key(int i)
{
    return APR_ARRAY_IDX(md->rt_key_files, i, const char *);
}

static const char *md_json_path(void)
{
    return md_store_path(store, MD_SG_DOMAINS, md->name, MD_FN_MD, pool);
}

START_TEST(usable_certificates_are_served)
{
    md_sync_result_t r;
    apr_hash_t *cache = apr_hash_make(pool);

    install(&rsa, "a.example.org www.a.example.org", 90 * DAY, 1);
    install(&p256, "a.example.org www.a.example.org", 90 * DAY, 1);
    md_store_set_facts_cache(store, cache);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(r.status, APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_COMPLETE);
    ck_assert_ptr_null(md->state_descr);
    ck_assert_int_eq(md->rt_fallback, 0);
    ck_assert_ptr_null(md->rt_error);
    ck_assert_int_eq(md->rt_cert_files->nelts, 2);
    ck_assert_str_eq(served_cert(0), domain_file("pubcert", &rsa));
    ck_assert_str_eq(served_key(0), domain_file("privkey", &rsa));
    ck_assert_str_eq(served_cert(1), domain_file("pubcert", &p256));
    ck_assert_str_eq(served_key(1), domain_file("privkey", &p256));
    ck_assert_int_eq(r.problems->nelts, 0);
    ck_assert_int_eq(r.stored_status, APR_SUCCESS);
    ck_assert_ptr_null(r.unwritable);
    ck_assert_ptr_null(r.fallback_error);
    /* the status page's facts of both certificates, and the facts cache was used */
    ck_assert_ptr_nonnull(md->rt_certs[0]);
    ck_assert_ptr_nonnull(md->rt_certs[1]);
    ck_assert_int_ge(apr_hash_count(cache), 2);
    /* md.json was missing: written from the configuration */
    ck_assert(r.md_written);
    ck_assert(md_util_file_exists(md_json_path(), pool));
    /* the next start with the same configuration leaves it alone */
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert(!r.md_written);
    ck_assert_int_eq(md->state, MD_S_COMPLETE);
}
END_TEST

START_TEST(missing_key_type_gets_a_fallback_only)
{
    md_sync_result_t r;

    install(&rsa, "a.example.org www.a.example.org", 90 * DAY, 1);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_INCOMPLETE);
    ck_assert_str_eq(md->state_descr, "certificate(P-256) is missing");
    ck_assert_int_eq(md->rt_fallback, 1);
    ck_assert_int_eq(md->rt_cert_files->nelts, 2);
    /* the RSA certificate stays in service, P-256 gets a self-signed fallback */
    ck_assert_str_eq(served_cert(0), domain_file("pubcert", &rsa));
    ck_assert_str_eq(served_key(0), domain_file("privkey", &rsa));
    ck_assert_str_eq(served_cert(1), domain_file("fallback-pubcert", &p256));
    ck_assert_str_eq(served_key(1), domain_file("fallback-privkey", &p256));
    ck_assert(md_util_file_exists(served_cert(1), pool));
    ck_assert(md_util_file_exists(served_key(1), pool));
    ck_assert(!md_util_file_exists(domain_file("fallback-pubcert", &rsa), pool));
    /* a missing certificate is a renewal to do, not a problem to report */
    ck_assert_int_eq(r.problems->nelts, 0);
    ck_assert_ptr_null(md->rt_error);
    ck_assert_ptr_null(md->rt_certs[0]);
}
END_TEST

START_TEST(expired_or_uncovering_certificate_is_renewed)
{
    md_sync_result_t r;

    md->pkey_specs->nelts = 1;                        /* RSA only */
    install(&rsa, "a.example.org www.a.example.org", -DAY, 1);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_INCOMPLETE);
    ck_assert_str_eq(md->state_descr, "certificate(rsa) is missing");
    ck_assert_int_eq(md->rt_fallback, 1);
    ck_assert_str_eq(served_cert(0), domain_file("fallback-pubcert", &rsa));
    ck_assert_int_eq(r.problems->nelts, 0);

    /* valid, but a name was added to the MD since */
    install(&rsa, "a.example.org", 90 * DAY, 1);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_INCOMPLETE);
    ck_assert_str_eq(served_cert(0), domain_file("fallback-pubcert", &rsa));
    ck_assert_int_eq(r.problems->nelts, 0);

    /* and once it covers them all, it is served */
    install(&rsa, "a.example.org www.a.example.org", 90 * DAY, 1);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_COMPLETE);
    ck_assert_int_eq(md->rt_fallback, 0);
    ck_assert_str_eq(served_cert(0), domain_file("pubcert", &rsa));
}
END_TEST

START_TEST(unusable_files_are_problems)
{
    md_sync_result_t r;
    const char *expect;

    /* a certificate file that holds no certificate */
    install(&rsa, "a.example.org www.a.example.org", 90 * DAY, 1);
    ck_assert_int_eq(md_store_save_data(store, MD_SG_DOMAINS, md->name, "pubcert.pem",
                                        "-----BEGIN CERTIFICATE-----\ngarbage\n", pool), APR_SUCCESS);
    /* a certificate without its key */
    install(&p256, "a.example.org www.a.example.org", 90 * DAY, 0);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(r.problems->nelts, 2);
    expect = apr_psprintf(pool, "%s holds no readable certificate", domain_file("pubcert", &rsa));
    ck_assert_str_eq(APR_ARRAY_IDX(r.problems, 0, const char *), expect);
    expect = apr_psprintf(pool, "%s is missing", domain_file("privkey", &p256));
    ck_assert_str_eq(APR_ARRAY_IDX(r.problems, 1, const char *), expect);
    /* the status page shows the last one; both key types are served fallbacks */
    ck_assert_str_eq(md->rt_error, expect);
    ck_assert_int_eq(md->state, MD_S_INCOMPLETE);
    ck_assert_str_eq(md->state_descr, "certificate(rsa) is missing");
    ck_assert_str_eq(served_cert(0), domain_file("fallback-pubcert", &rsa));
    ck_assert_str_eq(served_cert(1), domain_file("fallback-pubcert", &p256));
}
END_TEST

START_TEST(dry_run_decides_files_only)
{
    md_sync_result_t r;
    apr_array_header_t *before;
    apr_dir_t *d;
    apr_finfo_t fi;
    int count = 0;

    install(&rsa, "a.example.org www.a.example.org", 90 * DAY, 1);
    install(&p256, "a.example.org www.a.example.org", 90 * DAY, 1);
    ck_assert_int_eq(md_sync_md(&r, md, store, 1, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_COMPLETE);
    ck_assert_str_eq(served_cert(1), domain_file("pubcert", &p256));
    ck_assert(!r.md_written);
    ck_assert(!md_util_file_exists(md_json_path(), pool));
    ck_assert_ptr_null(md->rt_certs[0]);              /* facts are read in the real pass */
    before = md->rt_cert_files;
    /* nothing but the four files installed */
    ck_assert_int_eq(apr_dir_open(&d, md_store_path(store, MD_SG_DOMAINS, md->name, NULL, pool),
                                  pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) ++count;
    apr_dir_close(d);
    ck_assert_int_eq(count, 4);
    /* the real pass decides the same files */
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_str_eq(served_cert(0), APR_ARRAY_IDX(before, 0, const char *));
    ck_assert_str_eq(served_cert(1), APR_ARRAY_IDX(before, 1, const char *));
    ck_assert(md_util_file_exists(md_json_path(), pool));
}
END_TEST

START_TEST(unusable_md_json_is_rewritten)
{
    md_sync_result_t r;
    md_t *stored;
    const char *err = NULL;

    /* an account recorded by an earlier start is kept */
    md->ca_account = "ACME-localhost-0000";
    ck_assert_int_eq(md_store_save_md(store, MD_SG_DOMAINS, md, pool), APR_SUCCESS);
    md->ca_account = NULL;
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_str_eq(md->ca_account, "ACME-localhost-0000");
    ck_assert_int_eq(r.stored_status, APR_SUCCESS);

    ck_assert_int_eq(md_util_file_write_atomic(md_json_path(), "{\"name\": ", 9, 0x0600, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_ne(r.stored_status, APR_SUCCESS);
    ck_assert_ptr_nonnull(r.stored_error);
    ck_assert(r.md_written);
    ck_assert_str_eq(md->rt_error, apr_psprintf(pool, "stored md.json was unusable and has been "
                                                "rewritten: %s", r.stored_error));
    ck_assert_int_eq(md_store_load_md(store, MD_SG_DOMAINS, md->name, &stored, pool, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(stored->name, "a.example.org");
    ck_assert_int_eq(stored->domains->nelts, 2);
}
END_TEST

START_TEST(unwritable_md_json_fails)
{
    md_sync_result_t r;
    const char *path = md_json_path();

    /* md.json is a directory with something in it: it can neither be read nor replaced */
    ck_assert_int_eq(apr_dir_make_recursive(apr_pstrcat(pool, path, "/x", NULL),
                                            APR_FPROT_OS_DEFAULT, pool), APR_SUCCESS);
    ck_assert_int_ne(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_ne(r.status, APR_SUCCESS);
    ck_assert_int_ne(r.stored_status, APR_SUCCESS);
    ck_assert_str_eq(r.unwritable, path);
    ck_assert_ptr_null(r.fallback_error);
}
END_TEST

START_TEST(static_files_are_served_as_configured)
{
    md_sync_result_t r;

    md->cert_files = apr_array_make(pool, 1, sizeof(const char *));
    md->pkey_files = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->cert_files, const char *) = "/etc/ssl/a.pem";
    APR_ARRAY_PUSH(md->pkey_files, const char *) = "/etc/ssl/a.key";
    ck_assert_int_eq(md_sync_md(&r, md, store, 0, pool, pool), APR_SUCCESS);
    ck_assert_int_eq(md->state, MD_S_COMPLETE);
    ck_assert_int_eq(md->rt_fallback, 0);
    ck_assert_int_eq(md->rt_cert_files->nelts, 1);
    ck_assert_str_eq(served_cert(0), "/etc/ssl/a.pem");
    ck_assert_str_eq(served_key(0), "/etc/ssl/a.key");
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("md_sync");
    TCase *tc = tcase_create("sync");
    tcase_add_checked_fixture(tc, setup, pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, usable_certificates_are_served);
    tcase_add_test(tc, missing_key_type_gets_a_fallback_only);
    tcase_add_test(tc, expired_or_uncovering_certificate_is_renewed);
    tcase_add_test(tc, unusable_files_are_problems);
    tcase_add_test(tc, dry_run_decides_files_only);
    tcase_add_test(tc, unusable_md_json_is_rewritten);
    tcase_add_test(tc, unwritable_md_json_fails);
    tcase_add_test(tc, static_files_are_served_as_configured);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(sync_suite)
