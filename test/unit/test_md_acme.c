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
    ck_assert(md_acme_acct_matches(b, "https://ca/dir", other, NULL));    /* order does not matter */
    ck_assert(md_acme_acct_matches(b, "https://ca/dir", other, "kid-1"));
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, "kid-2"));
    ck_assert(!md_acme_acct_matches(b, "https://other/dir", other, NULL));
    apr_array_pop(other);
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", other, NULL));
    b->status = "deactivated";
    ck_assert(!md_acme_acct_matches(b, "https://ca/dir", contacts, NULL));
    j = json_pack("{s:s}", "url", "x");                   /* no ca-url: not an account */
    ck_assert_ptr_null(md_acme_acct_from_json(j, pool));
    json_decref(j);
}
END_TEST

/* A scripted CA (md_http_set_transport): the answers in order, each "STATUS|LOCATION|BODY". */
static const char *const *script;

static apr_status_t scripted_ca(md_http_response_t **presp, const char *method, const char *url,
                                const char *body, apr_size_t body_len, void *baton, apr_pool_t *p,
                                const char **perr)
{
    md_http_response_t *r = apr_pcalloc(p, sizeof(*r));
    char *copy, *loc, *text;

    (void)method; (void)body; (void)body_len; (void)baton;
    if (!*script) {
        *perr = apr_psprintf(p, "%s: connection refused", url);
        return APR_ECONNREFUSED;
    }
    copy = apr_pstrdup(p, *script++);
    loc = strchr(copy, '|');
    *loc++ = '\0';
    text = strchr(loc, '|');
    *text++ = '\0';
    r->status = atoi(copy);
    r->headers = apr_table_make(p, 3);
    apr_table_set(r->headers, "Replay-Nonce", "nonce");
    apr_table_set(r->headers, "Content-Type", "application/json");
    if (strcmp(loc, "-")) apr_table_set(r->headers, "Location", loc);
    r->body = text;
    r->body_len = strlen(text);
    *presp = r;
    return APR_SUCCESS;
}

/* found by fuzz/fuzz_md_acme: an empty Location header became the account URL (and an
 * order's URL), so that every later request went to "" */
START_TEST(empty_location_is_no_account)
{
    static const char *const answers[] = {
        "200|-|{\"newNonce\": \"https://ca/n\", \"newAccount\": \"https://ca/a\", \"newOrder\": \"https://ca/o\"}",
        "200|-|",
        "201||{\"status\": \"valid\"}",
        NULL };
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    md_result_t *result = md_result_make(pool);
    md_acme_t *acme;
    md_t *md;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    md = md_create(pool, names);
    md_merge(md, md_create_defaults(pool));
    script = answers;
    md_http_set_transport(scripted_ca, NULL);
    ck_assert_int_eq(md_acme_create(&acme, "https://ca/dir", NULL, result, pool), APR_SUCCESS);
    ck_assert_int_eq(md_acme_setup(acme), APR_SUCCESS);
    ck_assert_int_eq(md_acme_acct_register(acme, md, pool), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(result->detail, "no Location header"));
    ck_assert_ptr_null(acme->acct);
    md_http_set_transport(NULL, NULL);
}
END_TEST

static Suite *acme_suite(void)
{
    Suite *s = suite_create("md_acme");
    TCase *tc = tcase_create("acme");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, rfc3339_times);
    tcase_add_test(tc, account_json_and_matching);
    tcase_add_test(tc, empty_location_is_no_account);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(acme_suite)
