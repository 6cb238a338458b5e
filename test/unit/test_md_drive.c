/* Unit tests of md_drive: renewal decision, retry schedule, CA failover, commands without
 * a shell, lost renewal locks, announcements. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_event.h"
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
    char *log;

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
    log = json_dumps(job->log, 0);
    ck_assert_ptr_nonnull(strstr(log, "message-errored"));
    free(log);
    ck_assert_int_ne(md_event_send("/bin/false", "installed", "m.example.org", pool, &err), APR_SUCCESS);
    ck_assert_str_eq(err, "MDMessageCmd /bin/false failed with exit code 1.");
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
    tcase_add_test(tc, renewal_that_lost_its_lock_writes_nothing);
    tcase_add_test(tc, message_cmd_failure_is_recorded_as_the_reference_does);
    tcase_add_test(tc, input_problems_wait_a_day);
    tcase_add_test(tc, failed_announcement_is_a_job_error_and_retried);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(drive_suite)
