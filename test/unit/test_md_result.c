/* Unit tests of md_result: its description for the log and its JSON form (job.json "last"). */
#include "md_unit.h"
#include "md_result.h"

START_TEST(result_describes_problem_and_activity)
{
    md_result_t *r = md_result_make(pool);
    json_t *j;

    md_result_activity(r, "creating an order");
    md_result_problem_set(r, APR_EINVAL, "urn:ietf:params:acme:error:rejectedIdentifier",
                          "no such name", NULL);
    ck_assert_str_eq(md_result_describe(r, pool),
                     "no such name (urn:ietf:params:acme:error:rejectedIdentifier), while creating an order");
    j = md_result_to_json(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), APR_EINVAL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "problem")),
                     "urn:ietf:params:acme:error:rejectedIdentifier");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "status-description")));
    json_decref(j);
    /* success as the reference writes it: status and valid-from, no description */
    md_result_set(r, APR_SUCCESS, NULL);
    md_result_activity(r, NULL);
    r->ready_at = apr_time_from_sec(86400);
    j = md_result_to_json(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 0);
    ck_assert_ptr_null(json_object_get(j, "status-description"));
    ck_assert_ptr_null(json_object_get(j, "detail"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "valid-from")), "Fri, 02 Jan 1970 00:00:00 GMT");
    json_decref(j);
}
END_TEST

static Suite *result_suite(void)
{
    Suite *s = suite_create("md_result");
    TCase *tc = tcase_create("result");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, result_describes_problem_and_activity);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(result_suite)
