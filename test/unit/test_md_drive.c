/* Unit tests of md_drive: renewal decision, retry schedule, CA failover, commands without
 * a shell, and the activation of staged sets (all-or-nothing, archive, accounts). */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_event.h"
#include "md_activate.h"
#include "md_util.h"

#define DAY apr_time_from_sec(86400)

START_TEST(renew_decision)
{
    md_t *md = unit_md("a.example.org");
    apr_time_t now = apr_time_now();
    md_drive_certs_t c = { 1, now - 60 * DAY, now + 30 * DAY };  /* 90 days, 30 left */
    const char *why;

    ck_assert(md_drive_should_renew(md, NULL, now, &why, pool));       /* no cert */
    ck_assert_ptr_nonnull(strstr(why, "no certificate"));
    ck_assert(!md_drive_should_renew(md, &c, now - 2 * DAY, &why, pool)); /* 33% = 29.7d */
    ck_assert(md_drive_should_renew(md, &c, now + 1 * DAY, &why, pool));
    ck_assert_ptr_nonnull(strstr(why, "MDRenewWindow"));
    md->renew_mode = MD_RENEW_MANUAL;
    ck_assert(!md_drive_should_renew(md, NULL, now, &why, pool));
    md->renew_mode = MD_RENEW_AUTO;
    md->watched = 0;
    ck_assert(!md_drive_should_renew(md, NULL, now, &why, pool));
    md->renew_mode = MD_RENEW_ALWAYS;
    ck_assert(md_drive_should_renew(md, NULL, now, &why, pool));
}
END_TEST

START_TEST(six_day_certificates)
{
    md_t *md = unit_md("a.example.org");
    apr_time_t nb = apr_time_now();
    md_drive_certs_t c = { 1, nb, nb + 6 * DAY };
    const char *why;

    /* 33% of 6 days: renew from day 4.02 on, warn (10%) from day 5.4 on */
    ck_assert(!md_drive_should_renew(md, &c, nb + 4 * DAY - apr_time_from_sec(3600), &why, pool));
    ck_assert(md_drive_should_renew(md, &c, nb + 4 * DAY + apr_time_from_sec(3600), &why, pool));
    ck_assert(!md_drive_in_warn_window(md, &c, nb + 5 * DAY));
    ck_assert(md_drive_in_warn_window(md, &c, nb + 5 * DAY + apr_time_from_sec(12 * 3600)));
    /* an absolute window longer than the lifetime: always due */
    ck_assert(md_util_parse_timeslice("10d", md->renew_window) == NULL);
    ck_assert(md_drive_should_renew(md, &c, nb, &why, pool));
}
END_TEST

START_TEST(retry_delay_doubles_with_jitter_and_cap)
{
    apr_interval_time_t base = apr_time_from_sec(5);
    ck_assert(md_drive_retry_delay(base, 1, 0.5) == base);
    ck_assert(md_drive_retry_delay(base, 2, 0.5) == 2 * base);
    ck_assert(md_drive_retry_delay(base, 4, 0.5) == 8 * base);
    ck_assert(md_drive_retry_delay(base, 1, 0.0) == base * 3 / 4);
    ck_assert(md_drive_retry_delay(base, 1, 0.999) < base * 5 / 4);
    ck_assert(md_drive_retry_delay(base, 40, 0.999) == MD_DRIVE_RETRY_CAP);
    ck_assert(md_drive_retry_delay(base, 1000, 0.5) == MD_DRIVE_RETRY_CAP);
}
END_TEST

START_TEST(failover_rotates_ca_urls)
{
    md_t *md = unit_md("a.example.org");
    md->ca_urls = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "https://one/dir";
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "https://two/dir";
    ck_assert_str_eq(md_drive_ca_url(md, 0, 13), "https://one/dir");
    ck_assert_str_eq(md_drive_ca_url(md, 12, 13), "https://one/dir");
    ck_assert_str_eq(md_drive_ca_url(md, 13, 13), "https://two/dir");
    ck_assert_str_eq(md_drive_ca_url(md, 26, 13), "https://one/dir");
    ck_assert_str_eq(md_drive_ca_url(md, 3, 1), "https://two/dir");
}
END_TEST

START_TEST(commands_run_without_shell)
{
    const char *err = NULL, *dir = tmp_dir(), *out = apr_pstrcat(pool, dir, "/out", NULL);
    const char *extra[] = { apr_pstrcat(pool, dir, "/x y", NULL), NULL };
    int code;

    ck_assert_int_eq(md_event_run_cmd("/bin/false", NULL, &code, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(code, 1);
    /* ';' and '$(...)' reach the program as they are: no shell interprets them */
    ck_assert_int_eq(md_event_run_cmd(apr_psprintf(pool, "/usr/bin/touch '%s;$(id)'", out),
                                      NULL, &code, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(code, 0);
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, ";$(id)", NULL), pool));
    /* extra arguments (like the MD name) stay single arguments, spaces and all */
    ck_assert_int_eq(md_event_run_cmd("/usr/bin/touch", extra, &code, pool, &err), APR_SUCCESS);
    ck_assert(md_util_file_exists(apr_pstrcat(pool, dir, "/x y", NULL), pool));
    ck_assert_int_ne(md_event_run_cmd("/nonexistent/cmd", NULL, &code, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cmd"));
}
END_TEST

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

START_TEST(renewal_that_lost_its_lock_writes_nothing)
{
    /* another server took the renewal lock over: this renewal stops before it touches
     * staging/ or job.json and counts no error */
    md_t *md = unit_md("lost.example.org");
    md_drive_env_t env;
    md_store_t *s;
    md_lock_t *lock;
    md_job_t *job;
    const char *err = NULL, *msg, *lockpath;
    char *data;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(s, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_STAGING, md->name, "pubcert.pem", "theirs", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(md_drive_lock_md(&lock, s, md->name, "here:/etc/apache2", pool, &msg), APR_SUCCESS);
    lockpath = md_store_path(s, MD_SG_TMP, NULL, "lost.example.org.lock", pool);
    ck_assert_int_eq(md_util_file_write_atomic(lockpath, "{\"node\": \"there\"}", 17, 0x0644, pool),
                     APR_SUCCESS);
    memset(&env, 0, sizeof(env));
    env.store = s;
    env.retry_delay = apr_time_from_sec(5);
    job = md_job_make(md->name, pool);
    job->lock = lock;
    ck_assert_int_ne(md_drive_renew(&env, md, job, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(job->errors, 0);
    ck_assert_int_eq(job->finished, 0);
    ck_assert(!md_util_file_exists(md_store_path(s, MD_SG_STAGING, md->name, MD_FN_JOB, pool), pool));
    ck_assert_int_eq(md_util_file_read(&data, NULL, md_store_path(s, MD_SG_STAGING, md->name,
                                                                  "pubcert.pem", pool), 100, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, "theirs");
    ck_assert_str_eq(job->last->detail ? job->last->detail : "", "");   /* nothing recorded */
}
END_TEST

START_TEST(message_cmd_failure_is_recorded_as_the_reference_does)
{
    md_drive_env_t env;
    md_store_t *s;
    md_job_t *job = md_job_make("m.example.org", pool);
    const char *err = NULL;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    memset(&env, 0, sizeof(env));
    env.store = s;
    env.message_cmd = "/bin/false";
    job->last->ready_at = apr_time_from_sec(1000);
    ck_assert_int_ne(md_drive_message(&env, job, "renewed", pool), APR_SUCCESS);
    ck_assert_str_eq(job->last->problem, MD_DRIVE_PROBLEM_MESSAGE_CMD);
    ck_assert_str_eq(job->last->problem, "urn:org:apache:httpd:log:AH10109:");
    ck_assert_str_eq(job->last->detail, "MDMessageCmd /bin/false failed with exit code 1.");
    ck_assert(job->last->ready_at == apr_time_from_sec(1000));     /* the staged set stays valid */
    /* a command that cannot run: exit code 255, as the forked child of the reference */
    env.message_cmd = "/nonexistent/cmd";
    ck_assert_int_ne(md_drive_message(&env, job, "expiring", pool), APR_SUCCESS);
    ck_assert_str_eq(job->last->detail, "MDMessageCmd /nonexistent/cmd failed with exit code 255.");
    /* 'errored' keeps the renewal's own failure in last */
    md_result_problem_set(job->last, APR_EINVAL, "urn:ietf:params:acme:error:rejectedIdentifier",
                          "no", NULL);
    ck_assert_int_ne(md_drive_message(&env, job, "errored", pool), APR_SUCCESS);
    ck_assert_str_eq(job->last->problem, "urn:ietf:params:acme:error:rejectedIdentifier");
    ck_assert_ptr_nonnull(strstr(json_dumps(job->log, 0), "message-errored"));
    ck_assert_int_ne(md_event_send("/bin/false", "installed", "m.example.org", pool, &err), APR_SUCCESS);
    ck_assert_str_eq(err, "MDMessageCmd /bin/false failed with exit code 1.");
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

START_TEST(failed_announcement_is_a_job_error_and_retried)
{
    md_t *md = unit_md("n.example.org");
    md_drive_env_t env;
    md_store_t *s;
    md_job_t *job = md_job_make(md->name, pool);
    const char *err = NULL;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    memset(&env, 0, sizeof(env));
    env.store = s;
    env.retry_delay = apr_time_from_sec(5);
    env.notify_cmd = "/bin/false";
    job->finished = 1;
    job->last->ready_at = apr_time_from_sec(1000);
    ck_assert_int_ne(md_drive_renotify(&env, md, job, pool), APR_SUCCESS);
    ck_assert_int_eq(job->errors, 1);
    ck_assert(!job->notified_renewed);
    ck_assert(job->next_run > apr_time_now());
    ck_assert_str_eq(job->last->problem, "urn:org:apache:httpd:log:AH10108:");
    ck_assert_str_eq(job->last->detail, "MDNotifyCmd /bin/false failed with exit code 1.");
    ck_assert(job->last->ready_at == apr_time_from_sec(1000));
    /* fixed: the next try announces it and clears the error */
    env.notify_cmd = "/bin/true";
    ck_assert_int_eq(md_drive_renotify(&env, md, job, pool), APR_SUCCESS);
    ck_assert(job->notified_renewed);
    ck_assert_int_eq(job->errors, 0);
    ck_assert_int_eq(md_job_load(s, md->name, pool)->notified_renewed, 1);
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

START_TEST(input_problems_wait_a_day)
{
    ck_assert(md_drive_problem_is_input("urn:ietf:params:acme:error:rejectedIdentifier"));
    ck_assert(md_drive_problem_is_input("urn:ietf:params:acme:error:externalAccountRequired"));
    ck_assert(!md_drive_problem_is_input("urn:ietf:params:acme:error:rateLimited"));
    ck_assert(!md_drive_problem_is_input("urn:ietf:params:acme:error:connection"));
    ck_assert(!md_drive_problem_is_input("challenge-mismatch"));
    ck_assert(!md_drive_problem_is_input(NULL));
}
END_TEST

static Suite *drive_suite(void)
{
    Suite *s = suite_create("md_drive");
    TCase *tc = tcase_create("drive");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, renew_decision);
    tcase_add_test(tc, six_day_certificates);
    tcase_add_test(tc, retry_delay_doubles_with_jitter_and_cap);
    tcase_add_test(tc, failover_rotates_ca_urls);
    tcase_add_test(tc, commands_run_without_shell);
    tcase_add_test(tc, activation_moves_set_and_archives);
    tcase_add_test(tc, activation_reuses_account_dir);
    tcase_add_test(tc, activation_of_an_active_set_does_nothing);
    tcase_add_test(tc, activation_refuses_incomplete_or_wrong_sets);
    tcase_add_test(tc, renewal_that_lost_its_lock_writes_nothing);
    tcase_add_test(tc, message_cmd_failure_is_recorded_as_the_reference_does);
    tcase_add_test(tc, challenges_of_no_md_are_purged);
    tcase_add_test(tc, discard_does_not_follow_a_swapped_staging_dir);
    tcase_add_test(tc, renamed_md_takes_over_the_stored_one);
    tcase_add_test(tc, input_problems_wait_a_day);
    tcase_add_test(tc, legacy_curve_file_names_are_renamed);
    tcase_add_test(tc, failed_announcement_is_a_job_error_and_retried);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(drive_suite)
