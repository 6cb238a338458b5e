/* Unit tests of md_job: job.json round trip, the log (newest first, bounded). */
#include <string.h>
#include "md_unit.h"
#include "md_job.h"
#include "md_drive.h"

START_TEST(job_round_trip)
{
    md_job_t *job = md_job_make("a.example.org", pool), *back;
    json_t *j;
    apr_time_t t = apr_time_from_sec(apr_time_sec(apr_time_now()));

    job->finished = 1;
    job->errors = 3;
    job->next_run = t;
    job->last_run = t - apr_time_from_sec(60);
    md_result_set(job->last, APR_ETIMEDOUT, "the CA did not answer");
    md_result_activity(job->last, "contacting the CA");
    md_job_log_append(job, "starting", APR_SUCCESS, NULL);
    md_job_log_append(job, "error", APR_ETIMEDOUT, "the CA did not answer");
    j = md_job_to_json(job, pool);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "a.example.org");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "next-run")));
    back = md_job_from_json(j, "a.example.org", pool);
    json_decref(j);
    ck_assert_int_eq(back->finished, 1);
    ck_assert_int_eq(back->errors, 3);
    ck_assert(back->next_run == t);
    ck_assert(back->last_run == t - apr_time_from_sec(60));
    ck_assert_int_eq(back->last->status, APR_ETIMEDOUT);
    ck_assert_str_eq(back->last->detail, "the CA did not answer");
    ck_assert_str_eq(back->last->activity, "contacting the CA");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(back->log, 0), "type")), "error");
}
END_TEST

START_TEST(log_is_bounded_and_newest_first)
{
    md_job_t *job = md_job_make("a", pool);
    int i;
    for (i = 0; i < MD_JOB_LOG_MAX + 20; ++i)
        md_job_log_append(job, i == 5 ? "special" : "tick", APR_SUCCESS, apr_itoa(pool, i));
    ck_assert_int_eq(json_array_size(job->log), MD_JOB_LOG_MAX);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(job->log, 0), "detail")),
                     apr_itoa(pool, MD_JOB_LOG_MAX + 19));
    ck_assert(md_job_log_last(job, "tick") > 0);
    ck_assert(md_job_log_last(job, "special") == 0);      /* pushed out */
}
END_TEST

START_TEST(hostile_job_json_gives_a_fresh_job)
{
    json_t *j = json_pack("{s:s,s:i,s:s,s:{s:i}}", "finished", "yes", "errors", -7,
                          "next-run", "tomorrow", "log", "entries", 3);
    md_job_t *job = md_job_from_json(j, "a", pool);
    ck_assert_int_eq(job->finished, 0);
    ck_assert_int_eq(job->errors, 0);
    ck_assert(job->next_run == 0);
    ck_assert_int_eq(json_array_size(job->log), 0);
    json_decref(j);
}
END_TEST

/* Counters read from disk are clamped: the next failure cannot overflow them. */
START_TEST(counters_from_disk_are_clamped)
{
    json_t *j = json_pack("{s:I,s:{s:I}}", "errors", (json_int_t)2147483647,
                          "last", "status", (json_int_t)1 << 40);
    md_job_t *job = md_job_from_json(j, "a", pool);
    apr_interval_time_t d;

    ck_assert_int_le(job->errors, MD_COUNTER_MAX);
    ck_assert_int_gt(job->errors, 0);
    job->errors++;                                          /* what a failed run does */
    ck_assert_int_gt(job->errors, 0);
    d = md_drive_retry_delay(apr_time_from_sec(5), job->errors, 0.5);
    ck_assert(d > 0 && d <= MD_DRIVE_RETRY_CAP);
    ck_assert_int_ge(job->last->status, 0);
    json_decref(j);
    j = json_pack("{s:I}", "errors", (json_int_t)1 << 40);    /* would wrap to 0 as an int */
    job = md_job_from_json(j, "a", pool);
    ck_assert_int_eq(job->errors, MD_COUNTER_MAX);
    json_decref(j);
}
END_TEST

static Suite *job_suite(void)
{
    Suite *s = suite_create("md_job");
    TCase *tc = tcase_create("job");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, job_round_trip);
    tcase_add_test(tc, log_is_bounded_and_newest_first);
    tcase_add_test(tc, hostile_job_json_gives_a_fresh_job);
    tcase_add_test(tc, counters_from_disk_are_clamped);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(job_suite)
