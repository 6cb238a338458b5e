/* Unit tests of md_acme: RFC 3339 times (ARI windows), account.json, account matching,
 * Retry-After, and the directory's renewalInfo as read from a CA on a unix socket. */
#include <string.h>
#include "md_unit.h"
#include "md_acme.h"
#include "http_peer.h"

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

START_TEST(retry_after_is_capped_in_both_forms)
{
    md_http_response_t resp;
    apr_time_t now = apr_time_now(), t;
    apr_interval_time_t day = apr_time_from_sec(MD_ACME_RETRY_AFTER_MAX);

    memset(&resp, 0, sizeof(resp));
    resp.headers = apr_table_make(pool, 2);
    ck_assert(md_acme_retry_after(&resp) == 0);
    apr_table_set(resp.headers, "Retry-After", "120");
    t = md_acme_retry_after(&resp);
    ck_assert(t >= now + apr_time_from_sec(120) && t < now + apr_time_from_sec(130));
    apr_table_set(resp.headers, "Retry-After", "31536000");          /* a year in seconds */
    t = md_acme_retry_after(&resp);
    ck_assert(t >= now + day && t < now + day + apr_time_from_sec(10));
    /* a date a year ahead: capped at a day like the seconds form */
    apr_table_set(resp.headers, "Retry-After",
                  md_util_time_format(pool, now + apr_time_from_sec(365 * 86400)));
    t = md_acme_retry_after(&resp);
    ck_assert(t >= now + day && t < now + day + apr_time_from_sec(10));
    /* a date within the day is taken as it is (to the second) */
    apr_table_set(resp.headers, "Retry-After", md_util_time_format(pool, now + apr_time_from_sec(3600)));
    t = md_acme_retry_after(&resp);
    ck_assert(t > now + apr_time_from_sec(3598) && t <= now + apr_time_from_sec(3600));
    apr_table_set(resp.headers, "Retry-After", "Thu, 01 Jan 2099 00:00:00 GMT");
    ck_assert(md_acme_retry_after(&resp) <= apr_time_now() + day);
    apr_table_set(resp.headers, "Retry-After", "soon");
    ck_assert(md_acme_retry_after(&resp) == 0);
}
END_TEST

/* ---- a CA on a unix socket that answers every request with the same response ---- */

static http_peer_t *fake_ca_start(const char *body)
{
    return http_peer_start(pool, "ca.sock", HTTP_PEER_REPLY,
                           apr_psprintf(pool, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                        "Content-Length: %lu\r\nConnection: close\r\n\r\n%s",
                                        (unsigned long)strlen(body), body));
}

/* The directory of a CA whose renewalInfo member is the JSON value given (NULL: none). */
static md_acme_t *acme_with_renewal_info(http_peer_t **pca, const char *value)
{
    md_http_opts_t opts;
    md_acme_t *acme;
    const char *dir = apr_psprintf(pool, "{\"newNonce\": \"http://ca.test/nonce\", "
                                   "\"newAccount\": \"http://ca.test/acct\", "
                                   "\"newOrder\": \"http://ca.test/order\"%s%s}",
                                   value ? ", \"renewalInfo\": " : "", value ? value : "");

    *pca = fake_ca_start(dir);
    memset(&opts, 0, sizeof(opts));
    opts.unix_socket = (*pca)->path;
    opts.timeout_ms = 5000;
    ck_assert_int_eq(md_http_global_init(), APR_SUCCESS);
    ck_assert_int_eq(md_acme_create(&acme, "http://ca.test/dir", &opts, md_result_make(pool), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(md_acme_setup(acme), APR_SUCCESS);
    return acme;
}

START_TEST(renewal_info_empty_or_no_url_is_absent)
{
    static const char *const bad[] = { "\"\"", "\"/\"", "\"renewal-info\"", "\"ftp://ca.test/ari\"",
                                       "\"https://\"", "42", "null" };
    const char *body;
    apr_size_t len;
    apr_time_t retry;
    http_peer_t *ca;
    md_acme_t *acme;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        acme = acme_with_renewal_info(&ca, bad[i]);
        ck_assert_msg(acme->renewal_info == NULL, "renewalInfo %s taken as %s", bad[i], acme->renewal_info);
        /* without an endpoint, nothing is asked */
        ck_assert_int_eq(md_acme_ari_get(acme, "aaa.bbb", &body, &len, &retry, pool), APR_ENOTIMPL);
        ck_assert_int_eq(ca->requests, 1);
        http_peer_stop(ca);
    }
    /* a URL is used, with or without its trailing slash */
    acme = acme_with_renewal_info(&ca, "\"http://ca.test/ari/\"");
    ck_assert_str_eq(acme->renewal_info, "http://ca.test/ari/");
    ck_assert_int_eq(md_acme_ari_get(acme, "aaa.bbb", &body, &len, &retry, pool), APR_SUCCESS);
    ck_assert_int_eq(ca->requests, 2);
    http_peer_stop(ca);
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
    tcase_add_test(tc, retry_after_is_capped_in_both_forms);
    tcase_add_test(tc, renewal_info_empty_or_no_url_is_absent);
    tcase_add_test(tc, empty_location_is_no_account);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(acme_suite)
