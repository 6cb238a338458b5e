/* Unit tests of md_acme: RFC 3339 times (ARI windows), account.json, account matching. */
#include <string.h>
#include "md_unit.h"
#include "md_acme.h"

START_TEST(rfc3339_times)
{
    apr_time_t t = md_acme_parse_rfc3339("2025-01-02T03:04:05Z");
    ck_assert(t == md_util_time_parse("Thu, 02 Jan 2025 03:04:05 GMT"));
    ck_assert(md_acme_parse_rfc3339("2025-01-02T03:04:05.123456Z") == t);
    ck_assert(md_acme_parse_rfc3339("2025-01-02T05:04:05+02:00") == t);
    ck_assert(md_acme_parse_rfc3339("2025-01-02T01:04:05-02:00") == t);
    ck_assert(md_acme_parse_rfc3339("2025-01-02t03:04:05z") == t);
    ck_assert(md_acme_parse_rfc3339("2025-13-02T03:04:05Z") == 0);
    ck_assert(md_acme_parse_rfc3339("2025-01-02T03:04:05") == 0);     /* no zone */
    ck_assert(md_acme_parse_rfc3339("2025-01-02T03:04:05Zjunk") == 0);
    ck_assert(md_acme_parse_rfc3339("yesterday") == 0);
    ck_assert(md_acme_parse_rfc3339(NULL) == 0);
}
END_TEST

START_TEST(account_json_and_matching)
{
    md_acme_acct_t a, *b;
    apr_array_header_t *contacts = apr_array_make(pool, 2, sizeof(const char *)), *other;
    json_t *j;

    memset(&a, 0, sizeof(a));
    a.url = "https://ca/acct/1";
    a.ca_url = "https://ca/dir";
    a.eab_kid = "kid-1";
    a.contacts = contacts;
    APR_ARRAY_PUSH(contacts, const char *) = "mailto:a@example.org";
    APR_ARRAY_PUSH(contacts, const char *) = "mailto:b@example.org";
    j = md_acme_acct_to_json(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "ca-url")), "https://ca/dir");
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "valid");
    b = md_acme_acct_from_json(j, pool);
    json_decref(j);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->url, a.url);
    ck_assert_str_eq(b->eab_kid, "kid-1");
    other = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(other, const char *) = "mailto:b@example.org";
    APR_ARRAY_PUSH(other, const char *) = "mailto:a@example.org";
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, NULL));   /* bound: kid-1 only */
    ck_assert(md_acme_acct_matches(b, "https://ca/dir", other, "kid-1")); /* order does not matter */
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, "kid-2"));
    ck_assert(!md_acme_acct_matches(b, "https://other/dir", other, NULL));
    /* an MD without MDExternalAccountBinding never reuses an account bound to one */
    b->eab_kid = NULL;
    ck_assert(md_acme_acct_matches(b, "https://ca/dir", other, NULL));
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, "kid-1"));
    b->eab_kid = "kid-1";
    apr_array_pop(other);
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, "kid-1"));
    b->status = "deactivated";
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", contacts, "kid-1"));
    j = json_pack("{s:s}", "url", "x");                   /* no ca-url: not an account */
    ck_assert_ptr_null(md_acme_acct_from_json(j, pool));
    json_decref(j);
}
END_TEST

static Suite *acme_suite(void)
{
    Suite *s = suite_create("md_acme");
    TCase *tc = tcase_create("acme");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, rfc3339_times);
    tcase_add_test(tc, account_json_and_matching);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(acme_suite)
