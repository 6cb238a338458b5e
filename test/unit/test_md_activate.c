/* Unit tests of md_activate: the activation of staged sets (all-or-nothing, archive,
 * accounts, discarded sets), the rename takeover, legacy file names, stale challenges. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_acme.h"
#include "md_job.h"
#include "md_activate.h"
#include "md_util.h"

#define DAY apr_time_from_sec(86400)

/* A store with a staged set for md (certificate for 'names'), and an old domains/ set. */
static md_store_t *staged_store(md_t *md, const apr_array_header_t *names, int finished,
                                const char *acct_url)
{
    md_store_t *s;
    const char *err = NULL;
    EVP_PKEY *k;
    X509 *x;
    md_job_t *job = md_job_make(md->name, pool);
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(s, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_md(s, MD_SG_DOMAINS, md, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_DOMAINS, md->name, "fallback-pubcert.pem", "old", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_DOMAINS, md->name, "pubcert.pem", "old cert", pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_gen(&k, md_pkey_spec_get(md, 0), pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, names, k, 30 * DAY, pool), APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    ck_assert_int_eq(md_store_save_pkey(s, MD_SG_STAGING, md->name, "privkey.pem", k, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_STAGING, md->name, "pubcert.pem",
                                        md_chain_to_pem(chain, pool), pool), APR_SUCCESS);
    if (acct_url) {
        md_acme_acct_t a;
        EVP_PKEY *ak;
        md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
        memset(&a, 0, sizeof(a));
        a.url = acct_url;
        a.ca_url = "https://ca.example/dir";
        a.contacts = apr_array_make(pool, 1, sizeof(const char *));
        ck_assert_int_eq(md_pkey_gen(&ak, &ec, pool), APR_SUCCESS);
        ck_assert_int_eq(md_pkey_to_pem(&a.key_pem, ak, s->key, s->key_len, pool), APR_SUCCESS);
        ck_assert_int_eq(md_acme_acct_save(&a, s, MD_SG_STAGING, md->name, pool), APR_SUCCESS);
    }
    ck_assert_int_eq(md_store_save_md(s, MD_SG_STAGING, md, pool), APR_SUCCESS);
    job->finished = finished;
    ck_assert_int_eq(md_job_save(job, s, pool), APR_SUCCESS);
    return s;
}

START_TEST(activation_moves_set_and_archives)
{
    md_t *md = unit_md("a.example.org");
    md_store_t *s = staged_store(md, md->domains, 1, "https://ca.example/acct/7");
    const char *msg = NULL;
    char *data;
    apr_size_t len;
    apr_array_header_t *chain;

    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "activated"));
    ck_assert_int_eq(md_chain_load(&chain, md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.pem", pool), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_DOMAINS, md->name, "privkey.pem", pool),
                                       100000, pool), APR_SUCCESS);
    ck_assert_ptr_null(strstr(data, "ENCRYPTED"));               /* mod_ssl reads it */
    /* the fallback is not carried over next to the real certificate (as with the reference) */
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_DOMAINS, md->name, "fallback-pubcert.pem", pool), pool));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_DOMAINS, md->name, "job.json", pool), pool));
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_ARCHIVE, "a.example.org.1", "pubcert.pem", pool),
                                       1000, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "old cert");
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "job.json", pool), pool));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_ACCOUNTS, "ACME-ca.example-0000", "account.json", pool), pool));
    ck_assert_str_eq(md->ca_account, "ACME-ca.example-0000");
}
END_TEST

START_TEST(activation_reuses_account_dir)
{
    md_t *md = unit_md("a.example.org");
    md_store_t *s = staged_store(md, md->domains, 1, "https://ca.example/acct/7");
    const char *msg = NULL;
    md_job_t *job;
    EVP_PKEY *k;
    X509 *x;
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));

    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    /* a second renewal with the same account: no second account directory */
    ck_assert_int_eq(md_pkey_gen(&k, md_pkey_spec_get(md, 0), pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, md->domains, k, 30 * DAY, pool), APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    md_store_save_pkey(s, MD_SG_STAGING, md->name, "privkey.pem", k, pool);
    md_store_save_data(s, MD_SG_STAGING, md->name, "pubcert.pem", md_chain_to_pem(chain, pool), pool);
    {
        md_acme_acct_t *a;
        ck_assert_int_eq(md_acme_acct_load(&a, s, MD_SG_ACCOUNTS, "ACME-ca.example-0000", pool), APR_SUCCESS);
        ck_assert_int_eq(md_acme_acct_save(a, s, MD_SG_STAGING, md->name, pool), APR_SUCCESS);
    }
    md_store_save_md(s, MD_SG_STAGING, md, pool);
    job = md_job_make(md->name, pool);
    job->finished = 1;
    md_job_save(job, s, pool);
    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_ACCOUNTS, "ACME-ca.example-0001", "account.json", pool), pool));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_ARCHIVE, "a.example.org.2", "md.json", pool), pool));
}
END_TEST

START_TEST(activation_of_an_active_set_does_nothing)
{
    md_t *md = unit_md("a.example.org");
    md_store_t *s = staged_store(md, md->domains, 1, NULL);
    const char *msg = NULL;
    char *cert, *staging;
    EVP_PKEY *k;
    md_job_t *job;

    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "is activated"));
    /* the same set staged again: as another server finds it that looks at the store before
     * the first one removed staging/ */
    ck_assert_int_eq(md_util_file_read(&cert, NULL, md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.pem", pool),
                                       100000, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_load_pkey(s, MD_SG_DOMAINS, md->name, "privkey.pem", &k, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_pkey(s, MD_SG_STAGING, md->name, "privkey.pem", k, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_STAGING, md->name, "pubcert.pem", cert, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_md(s, MD_SG_STAGING, md, pool), APR_SUCCESS);
    job = md_job_make(md->name, pool);
    job->finished = 1;
    ck_assert_int_eq(md_job_save(job, s, pool), APR_SUCCESS);
    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "already active"));
    /* nothing archived a second time, the active set untouched, staging/ cleared */
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_ARCHIVE, "a.example.org.1", "pubcert.pem", pool), pool));
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_ARCHIVE, "a.example.org.2", "pubcert.pem", pool), pool));
    ck_assert_int_eq(md_util_file_read(&staging, NULL, md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.pem", pool),
                                       100000, pool), APR_SUCCESS);
    ck_assert_str_eq(staging, cert);
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "job.json", pool), pool));
    /* nothing staged: nothing to say */
    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(activation_refuses_incomplete_or_wrong_sets)
{
    md_t *md = unit_md("a.example.org");
    apr_array_header_t *other = apr_array_make(pool, 1, sizeof(const char *));
    md_store_t *s;
    const char *msg = NULL;
    char *data;
    apr_size_t len;

    /* not finished: nothing happens */
    s = staged_store(md, md->domains, 0, NULL);
    ck_assert_int_eq(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(msg);
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "pubcert.pem", pool), pool));
    /* wrong names: discarded, domains/ untouched */
    APR_ARRAY_PUSH(other, const char *) = "b.example.org";
    s = staged_store(md, other, 1, NULL);
    ck_assert_int_ne(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "discarded"));
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.pem", pool),
                                       1000, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "old cert");
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "pubcert.pem", pool), pool));
    /* a staged md.json that cannot be read: the set is discarded, not activated half-read */
    s = staged_store(md, md->domains, 1, NULL);
    ck_assert_int_eq(md_util_file_write_atomic(md_store_path(s, MD_SG_STAGING, md->name, MD_FN_MD, pool),
                                               "{ not json", 10, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_ne(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "md.json"));
    ck_assert_str_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.pem", pool),
                                       1000, pool) == APR_SUCCESS ? data : "", "old cert");
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "job.json", pool), pool));
    /* activation delay not yet over: kept for later */
    s = staged_store(md, md->domains, 1, NULL);
    ck_assert_int_eq(md_activate_staged(s, md, 2 * DAY, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "MDActivationDelay"));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, "pubcert.pem", pool), pool));
}
END_TEST

/* The parent (root) discards a staged set that does not fit. staging/<md> is writable by
 * the child's user, who may swap it for a link to a folder elsewhere: the parent removes
 * the link, and nothing in that folder. */
START_TEST(discard_does_not_follow_a_swapped_staging_dir)
{
    md_t *md = unit_md("a.example.org");
    apr_array_header_t *other = apr_array_make(pool, 1, sizeof(const char *));
    const char *out = tmp_dir(), *msg = NULL, *staged, *cmd;
    struct stat st;
    md_store_t *s;

    APR_ARRAY_PUSH(other, const char *) = "b.example.org";       /* a set that is discarded */
    s = staged_store(md, other, 1, NULL);
    staged = md_store_path(s, MD_SG_STAGING, md->name, NULL, pool);
    /* the outside folder: a copy of the staged set, and a file of its own */
    cmd = apr_psprintf(pool, "cp -a %s/. %s/ && echo keep > %s/precious", staged, out, out);
    ck_assert_int_eq(system(cmd), 0);
    cmd = apr_psprintf(pool, "rm -rf %s", staged);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(symlink(out, staged), 0);
    ck_assert_int_ne(md_activate_staged(s, md, 0, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "discarded"));
    ck_assert_int_ne(lstat(staged, &st), 0);                      /* the link is gone */
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/precious", NULL), pool));
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/pubcert.pem", NULL), pool));
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/job.json", NULL), pool));
}
END_TEST

START_TEST(challenges_of_no_md_are_purged)
{
    apr_array_header_t *mds = apr_array_make(pool, 2, sizeof(md_t *));
    md_store_t *s;
    const char *err = NULL;
    md_t *wild = unit_md("*.w.example.org");

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    APR_ARRAY_PUSH(mds, md_t *) = unit_md("a.example.org");
    APR_ARRAY_PUSH(mds, md_t *) = wild;
    md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", "t.k", pool);
    md_store_save_data(s, MD_SG_CHALLENGES, "w.example.org", "acme-http-01.txt", "t.k", pool);
    md_store_save_data(s, MD_SG_CHALLENGES, "gone.example.org", "acme-http-01.txt", "t.k", pool);
    ck_assert_int_eq(md_activate_purge_challenges(s, mds, pool), 1);
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", pool), pool));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_CHALLENGES, "w.example.org", "acme-http-01.txt", pool), pool));
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_CHALLENGES, "gone.example.org", NULL, pool), pool));
    ck_assert_int_eq(md_activate_purge_challenges(s, mds, pool), 0);
}
END_TEST

START_TEST(renamed_md_takes_over_the_stored_one)
{
    md_t *old = unit_md("a.example.org b.example.org"), *renamed = unit_md("b.example.org a.example.org");
    md_t *other = unit_md("c.example.org");
    apr_array_header_t *mds = apr_array_make(pool, 2, sizeof(md_t *));
    md_store_t *s;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_md(s, MD_SG_DOMAINS, old, pool), APR_SUCCESS);
    md_store_save_data(s, MD_SG_DOMAINS, old->name, "pubcert.pem", "old cert", pool);
    /* the first configuration pass already made a fallback for the new name */
    md_store_save_data(s, MD_SG_DOMAINS, renamed->name, "fallback-pubcert.pem", "fb", pool);
    APR_ARRAY_PUSH(mds, md_t *) = renamed;
    APR_ARRAY_PUSH(mds, md_t *) = other;
    ck_assert_ptr_null(md_activate_takeover(s, md_activate_unassigned(s, mds, pool), other,
                                            pool));                          /* shares no name */
    ck_assert_str_eq(md_activate_takeover(s, md_activate_unassigned(s, mds, pool), renamed, pool),
                     "a.example.org");
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_DOMAINS, renamed->name,
                                                                  "pubcert.pem", pool), 100, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "old cert");
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_DOMAINS, old->name, NULL, pool), pool));
    /* once it has its own md.json, nothing more is taken */
    ck_assert_int_eq(md_store_save_md(s, MD_SG_DOMAINS, renamed, pool), APR_SUCCESS);
    ck_assert_ptr_null(md_activate_takeover(s, md_activate_unassigned(s, mds, pool), renamed, pool));
    /* a stored MD that is still configured is never taken */
    APR_ARRAY_PUSH(mds, md_t *) = old;
    ck_assert_int_eq(md_store_save_md(s, MD_SG_DOMAINS, old, pool), APR_SUCCESS);
    ck_assert_ptr_null(md_activate_takeover(s, md_activate_unassigned(s, mds, pool),
                                            unit_md("x.example.org a.example.org"), pool));
}
END_TEST

START_TEST(legacy_curve_file_names_are_renamed)
{
    md_t *md = unit_md("l.example.org");
    md_pkey_spec_t *p256 = apr_pcalloc(pool, sizeof(*p256));
    md_store_t *s;
    const char *err = NULL;

    p256->type = MD_PKEY_EC;
    p256->curve = "P-256";
    md->pkey_specs = apr_array_make(pool, 1, sizeof(md_pkey_spec_t *));
    APR_ARRAY_PUSH(md->pkey_specs, md_pkey_spec_t *) = p256;
    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    md_store_save_data(s, MD_SG_DOMAINS, md->name, "pubcert.secp256r1.pem", "cert", pool);
    md_store_save_data(s, MD_SG_DOMAINS, md->name, "privkey.secp256r1.pem", "key", pool);
    ck_assert_int_eq(md_activate_rename_legacy(s, md, pool), 2);
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_DOMAINS, md->name, "pubcert.p-256.pem", pool), pool));
    ck_assert(md_util_file_exists(md_store_path(s, MD_SG_DOMAINS, md->name, "privkey.p-256.pem", pool), pool));
    ck_assert_int_eq(md_activate_rename_legacy(s, md, pool), 0);
}
END_TEST

static Suite *activate_suite(void)
{
    Suite *s = suite_create("md_activate");
    TCase *tc = tcase_create("activate");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, activation_moves_set_and_archives);
    tcase_add_test(tc, activation_reuses_account_dir);
    tcase_add_test(tc, activation_of_an_active_set_does_nothing);
    tcase_add_test(tc, activation_refuses_incomplete_or_wrong_sets);
    tcase_add_test(tc, discard_does_not_follow_a_swapped_staging_dir);
    tcase_add_test(tc, challenges_of_no_md_are_purged);
    tcase_add_test(tc, renamed_md_takes_over_the_stored_one);
    tcase_add_test(tc, legacy_curve_file_names_are_renamed);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(activate_suite)
