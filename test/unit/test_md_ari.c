/* Unit tests of md_ari (RFC 9773 renewal information): reading the CA's answer, choosing the
 * renewal moment inside the window, the schedule of questions, the tmp/ari/<md>.json record, the
 * check that asks the CA only when the record allows; and the places where the driver and the
 * order use it (renew-at, the profile choice). */
#include <string.h>
#include "md_unit.h"
#include "md_acme_order.h"
#include "md_ari.h"
#include "md_drive.h"
#include "md_util.h"

#define SEC(n) apr_time_from_sec(n)
#define DAY SEC(86400)

static const char *rfc3339(apr_time_t t)
{
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(pool, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* whole seconds: what survives RFC 3339 and RFC 1123 */
static apr_time_t now_s(void)
{
    return SEC(apr_time_sec(apr_time_now()));
}

static apr_status_t parse(const char *body, apr_time_t *ps, apr_time_t *pe, const char **px,
                          const char **perr)
{
    *perr = NULL;
    return md_ari_parse(ps, pe, px, body, body ? strlen(body) : 0, pool, perr);
}

START_TEST(parse_good_answer)
{
    apr_time_t s, e, now = now_s();
    const char *x, *err;
    const char *body = apr_psprintf(pool, "{\"suggestedWindow\":{\"start\":\"%s\",\"end\":\"%s\"},"
                                    "\"explanationURL\":\"https://ca.example/incident\"}",
                                    rfc3339(now), rfc3339(now + DAY));

    ck_assert_int_eq(parse(body, &s, &e, &x, &err), APR_SUCCESS);
    ck_assert(s == now && e == now + DAY);
    ck_assert_str_eq(x, "https://ca.example/incident");
    /* without explanation; fractions and offsets as RFC 3339 allows */
    ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2025-01-02T03:04:05.5Z\","
                           "\"end\":\"2025-01-02T05:04:05+01:00\"}}", &s, &e, &x, &err), APR_SUCCESS);
    ck_assert_ptr_null(x);
    ck_assert(e - s == SEC(3600));
}
END_TEST

START_TEST(parse_bad_answers_say_why)
{
    apr_time_t s, e;
    const char *x, *err;

    ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"2025-01-03T00:00:00Z\","
                           "\"end\":\"2025-01-02T00:00:00Z\"}}", &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "inverted"));
    ck_assert(s == 0 && e == 0);
    ck_assert_int_eq(parse("{\"suggestedWindow\": {", &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no valid JSON"));
    ck_assert_int_eq(parse("[1,2]", &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no JSON object"));
    ck_assert_int_eq(parse("{\"window\":{}}", &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "suggestedWindow"));
    ck_assert_int_eq(parse("{\"suggestedWindow\":{\"start\":\"soon\",\"end\":\"2025-01-02T00:00:00Z\"}}",
                           &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "soon"));
    ck_assert_int_eq(parse("{\"suggestedWindow\":{\"end\":\"2025-01-02T00:00:00Z\"}}",
                           &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "missing"));
    ck_assert_int_eq(parse("", &s, &e, &x, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
}
END_TEST

START_TEST(choose_inside_window)
{
    apr_time_t s = now_s(), e = s + DAY;
    double r;

    ck_assert(md_ari_choose(s, e, 0.0) == s);
    ck_assert(md_ari_choose(s, e, 0.5) == s + DAY / 2);
    for (r = 0.0; r < 1.0; r += 0.01) {
        apr_time_t t = md_ari_choose(s, e, r);
        ck_assert(t >= s && t <= e);
    }
    ck_assert(md_ari_choose(s, e, 1.0) <= e);        /* out-of-range input stays inside */
    ck_assert(md_ari_choose(s, e, -3.0) == s);
    ck_assert(md_ari_choose(s, s, 0.7) == s);        /* a window of no length: its moment */
}
END_TEST

START_TEST(window_moves_and_due)
{
    apr_time_t now = now_s(), at;
    md_ari_t *ari = md_ari_make("aki.serial", pool);

    /* first answer: a future window; the moment is inside and not due */
    ck_assert(md_ari_set_window(ari, now + 10 * DAY, now + 12 * DAY, NULL, now, 0.25, pool));
    ck_assert(ari->renew_at == now + 10 * DAY + DAY / 2);
    ck_assert(!md_ari_due(ari, now));
    ck_assert(md_ari_due(ari, ari->renew_at));
    /* the same window again: the moment is kept whatever the dice say */
    at = ari->renew_at;
    ck_assert(!md_ari_set_window(ari, now + 10 * DAY, now + 12 * DAY, NULL, now + SEC(60), 0.9, pool));
    ck_assert(ari->renew_at == at);
    ck_assert(ari->checked == now + SEC(60));
    /* the CA moves the window into the past (e.g. before a mass revocation): due at once */
    ck_assert(md_ari_set_window(ari, now - DAY, now - SEC(3600), "https://ca.example/why", now, 0.5, pool));
    ck_assert(ari->renew_at >= now - DAY && ari->renew_at <= now - SEC(3600));
    ck_assert(md_ari_due(ari, now));
    ck_assert_str_eq(ari->explanation_url, "https://ca.example/why");
    /* an error keeps the last good window in force and counts */
    md_ari_set_error(ari, "the CA answered 500", now, pool);
    md_ari_set_error(ari, "the CA answered 500", now, pool);
    ck_assert_int_eq(ari->errors, 2);
    ck_assert(md_ari_due(ari, now));
    /* a good answer clears the error */
    md_ari_set_window(ari, now + DAY, now + 2 * DAY, NULL, now, 0.0, pool);
    ck_assert_int_eq(ari->errors, 0);
    ck_assert_ptr_null(ari->error);
    ck_assert_ptr_null(ari->explanation_url);
    ck_assert(!md_ari_due(ari, now));
    /* no window known, or a CA without ARI: never due */
    ck_assert(!md_ari_due(md_ari_make("x.y", pool), now));
    ck_assert(!md_ari_due(NULL, now));
}
END_TEST

START_TEST(next_check_schedule)
{
    apr_time_t now = now_s();
    apr_interval_time_t fl = SEC(60), normal = SEC(6 * 3600);

    /* the CA's Retry-After, clamped to [floor, a day] */
    ck_assert(md_ari_next_check(now, now + SEC(3600), 0, fl, normal) == now + SEC(3600));
    ck_assert(md_ari_next_check(now, now + SEC(5), 0, fl, normal) == now + fl);
    ck_assert(md_ari_next_check(now, now - SEC(5), 0, fl, normal) == now + fl);
    ck_assert(md_ari_next_check(now, now + 30 * DAY, 0, fl, normal) == now + MD_ARI_MAX_INTERVAL);
    /* Retry-After beats the error back-off */
    ck_assert(md_ari_next_check(now, now + SEC(7200), 3, fl, normal) == now + SEC(7200));
    /* without one: the normal interval, or the floor doubled per error up to it */
    ck_assert(md_ari_next_check(now, 0, 0, fl, normal) == now + normal);
    ck_assert(md_ari_next_check(now, 0, 1, fl, normal) == now + fl);
    ck_assert(md_ari_next_check(now, 0, 2, fl, normal) == now + 2 * fl);
    ck_assert(md_ari_next_check(now, 0, 4, fl, normal) == now + 8 * fl);
    ck_assert(md_ari_next_check(now, 0, 50, fl, normal) == now + normal);
    /* a 1 s MDCheckInterval (tests) makes a 1 s floor; failures still back off */
    ck_assert(md_ari_next_check(now, now + SEC(2), 0, SEC(1), SEC(1)) == now + SEC(2));
    ck_assert(md_ari_next_check(now, 0, 3, SEC(1), SEC(1)) == now + SEC(4));
    ck_assert(md_ari_next_check(now, 0, 40, SEC(1), SEC(1)) == now + MD_ARI_DEFAULT_INTERVAL);
    /* never before the CA's moment: fractions of a second round up */
    ck_assert(md_ari_next_check(now, now + SEC(100) + 500000, 0, fl, normal) == now + SEC(101));
    ck_assert(md_ari_next_check(now, 0, 0, 0, 0) == now + MD_ARI_MIN_INTERVAL);
}
END_TEST

START_TEST(error_count_from_disk_is_clamped)
{
    json_t *j = json_pack("{s:s,s:I}", "cert-id", "AAAA.BBBB", "errors", (json_int_t)2147483647);
    md_ari_t *ari = md_ari_from_json(j, pool);
    apr_time_t now = now_s(), next;

    ck_assert_ptr_nonnull(ari);
    ck_assert_int_le(ari->errors, MD_COUNTER_MAX);
    md_ari_set_error(ari, "bad answer", now, pool);
    ck_assert_int_gt(ari->errors, 0);
    ck_assert_int_le(ari->errors, MD_COUNTER_MAX);
    next = md_ari_next_check(now, 0, ari->errors, SEC(60), SEC(6 * 3600));
    ck_assert(next > now && next <= now + DAY + SEC(1));
    json_decref(j);
}
END_TEST

START_TEST(record_round_trip_and_store)
{
    apr_time_t now = now_s();
    md_ari_t *ari = md_ari_make("AAAA.BBBB", pool), *back;
    md_store_t *store;
    const char *err = NULL;
    json_t *j;

    md_ari_set_window(ari, now + DAY, now + 2 * DAY, "https://ca.example/x", now, 0.5, pool);
    ari->retry_after = now + SEC(3600);
    md_ari_set_error(ari, "bad answer", now + SEC(10), pool);
    j = md_ari_to_json(ari, pool);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "suggested-window"), "start")),
                     md_util_time_format(pool, now + DAY));
    ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "bad answer");
    back = md_ari_from_json(j, pool);
    json_decref(j);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->cert_id, "AAAA.BBBB");
    ck_assert(back->supported && back->start == ari->start && back->end == ari->end);
    ck_assert(back->renew_at == ari->renew_at && back->retry_after == ari->retry_after);
    ck_assert(back->checked == now + SEC(10) && back->errors == 1);
    ck_assert_str_eq(back->explanation_url, "https://ca.example/x");
    /* not a record */
    j = json_pack("{s:i}", "cert-id", 3);
    ck_assert_ptr_null(md_ari_from_json(j, pool));
    json_decref(j);

    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert(APR_STATUS_IS_ENOENT(md_ari_load(&back, store, "a.example.org", pool)));
    ck_assert_int_eq(md_ari_save(ari, store, "a.example.org", pool), APR_SUCCESS);
    ck_assert_str_eq(md_ari_path(store, "a.example.org", pool),
                     md_store_path(store, MD_SG_NONE, NULL, "tmp/ari/a.example.org.json", pool));
    ck_assert(md_util_file_exists(md_ari_path(store, "a.example.org", pool), pool));
    ck_assert_int_eq(md_ari_load(&back, store, "a.example.org", pool), APR_SUCCESS);
    ck_assert(back->renew_at == ari->renew_at);
}
END_TEST

START_TEST(renew_at_takes_the_earlier_ari_moment)
{
    md_t *md = unit_md("a.example.org");
    apr_time_t now = now_s();
    md_drive_certs_t c = { 1, now - 10 * DAY, now + 80 * DAY, "x.y", 0 }; /* window from day 60 */
    const char *why;

    ck_assert(md_util_parse_timeslice("30d", md->renew_window) == NULL);
    ck_assert(md_drive_renew_at(md, &c) == now + 50 * DAY);
    ck_assert(!md_drive_should_renew(md, &c, now, &why, pool));
    c.ari_renew_at = now - SEC(1);              /* the CA wants it now */
    ck_assert(md_drive_renew_at(md, &c) == now - SEC(1));
    ck_assert(md_drive_should_renew(md, &c, now, &why, pool));
    ck_assert_ptr_nonnull(strstr(why, "MDRenewViaARI"));
    c.ari_renew_at = now + 75 * DAY;            /* later than MDRenewWindow: the window wins */
    ck_assert(md_drive_renew_at(md, &c) == now + 50 * DAY);
    c.ari_renew_at = now - SEC(1);
    md->ari_renewals = 0;                       /* MDRenewViaARI off: ignored */
    ck_assert(md_drive_renew_at(md, &c) == now + 50 * DAY);
    ck_assert(!md_drive_should_renew(md, &c, now, &why, pool));
}
END_TEST

START_TEST(profile_choice)
{
    md_t *md = unit_md("a.example.org");
    md_acme_t acme;
    const char *prof, *notice;

    memset(&acme, 0, sizeof(acme));
    acme.p = pool;
    acme.url = "https://ca.example/dir";
    acme.result = md_result_make(pool);
    acme.profiles = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(acme.profiles, const char *) = "classic";
    APR_ARRAY_PUSH(acme.profiles, const char *) = "shortlived";

    /* no MDProfile: nothing sent, nothing said */
    ck_assert_int_eq(md_acme_order_profile(&prof, &notice, &acme, md, pool), APR_SUCCESS);
    ck_assert_ptr_null(prof);
    ck_assert_ptr_null(notice);
    /* offered: sent in the CA's spelling */
    md->profile = "ShortLived";
    ck_assert_int_eq(md_acme_order_profile(&prof, &notice, &acme, md, pool), APR_SUCCESS);
    ck_assert_str_eq(prof, "shortlived");
    ck_assert_ptr_null(notice);
    /* not offered, not mandatory: the CA's default, with a notice naming both */
    md->profile = "tlsserver";
    ck_assert_int_eq(md_acme_order_profile(&prof, &notice, &acme, md, pool), APR_SUCCESS);
    ck_assert_ptr_null(prof);
    ck_assert_ptr_nonnull(strstr(notice, "MDProfile tlsserver"));
    ck_assert_ptr_nonnull(strstr(notice, "https://ca.example/dir"));
    ck_assert_ptr_nonnull(strstr(notice, "classic,shortlived"));
    /* not offered, mandatory: an error naming the profile and the CA */
    md->profile_mandatory = 1;
    ck_assert_int_eq(md_acme_order_profile(&prof, &notice, &acme, md, pool), APR_EINVAL);
    ck_assert_ptr_null(prof);
    ck_assert_ptr_nonnull(strstr(acme.result->detail, "MDProfile tlsserver is mandatory"));
    ck_assert_ptr_nonnull(strstr(acme.result->detail, "https://ca.example/dir"));
    /* a CA without profiles at all */
    apr_array_clear(acme.profiles);
    md->profile_mandatory = 0;
    ck_assert_int_eq(md_acme_order_profile(&prof, &notice, &acme, md, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(notice, "offers no profiles"));
}
END_TEST

/* What the check told the driver's log (env->log). */
static int log_calls;
static const char *log_last;

static void count_log(void *baton, int level, const char *msg)
{
    (void)baton;
    (void)level;
    ++log_calls;
    log_last = apr_pstrdup(pool, msg);
}

/* md_ari_check asks the CA only when the record allows it: the CA here cannot be reached, so
 * an answer from the record shows that it was not asked, a recorded failure that it was. */
START_TEST(check_asks_the_ca_only_when_the_record_allows)
{
    md_t *md = unit_md("a.example.org");
    apr_time_t now = now_s(), next;
    md_drive_certs_t c = { 1, now - 10 * DAY, now + 80 * DAY, "AAAA.BBBB", 0 };
    md_drive_env_t env;
    md_ari_t *ari, *back;
    const char *err = NULL, *msg;
    int due;

    memset(&env, 0, sizeof(env));
    ck_assert_int_eq(md_store_open(&env.store, tmp_dir(), pool, &err), APR_SUCCESS);
    env.log = count_log;
    log_calls = 0;
    md->ca_urls = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "https://127.0.0.1:1/directory";
    /* nothing to ask about: no certificate id, or MDRenewViaARI off */
    c.ari_id = NULL;
    ck_assert_int_eq(md_ari_check(&env, md, &c, &due, &next, &msg, pool), APR_SUCCESS);
    ck_assert(!due && !next && !msg);
    c.ari_id = "AAAA.BBBB";
    md->ari_renewals = 0;
    ck_assert_int_eq(md_ari_check(&env, md, &c, &due, &next, &msg, pool), APR_SUCCESS);
    ck_assert(!due && !next && !msg);
    ck_assert(APR_STATUS_IS_ENOENT(md_ari_load(&back, env.store, md->name, pool)));
    md->ari_renewals = 1;
    /* a record whose moment has come and whose Retry-After has not: due, the CA not asked */
    ari = md_ari_make("AAAA.BBBB", pool);
    md_ari_set_window(ari, now - DAY, now - SEC(60), NULL, now - SEC(10), 0.5, pool);
    ari->retry_after = now + SEC(3600);
    ck_assert_int_eq(md_ari_save(ari, env.store, md->name, pool), APR_SUCCESS);
    ck_assert_int_eq(md_ari_check(&env, md, &c, &due, &next, &msg, pool), APR_SUCCESS);
    ck_assert(due);
    ck_assert(next == now + SEC(3600));
    ck_assert_ptr_nonnull(strstr(msg, "the CA suggests renewal between"));
    ck_assert_int_eq(log_calls, 0);
    /* a record about another certificate counts for nothing: the CA is asked, the failure
     * recorded and said once as a warning; MDRenewWindow keeps deciding */
    c.ari_id = "CCCC.DDDD";
    ck_assert_int_eq(md_ari_check(&env, md, &c, &due, &next, &msg, pool), APR_SUCCESS);
    ck_assert(!due);
    ck_assert(next == 0 || next > now);
    ck_assert_ptr_nonnull(strstr(msg, "renewal information: "));
    ck_assert_int_eq(md_ari_load(&back, env.store, md->name, pool), APR_SUCCESS);
    ck_assert_str_eq(back->cert_id, "CCCC.DDDD");
    ck_assert_int_eq(back->errors, 1);
    ck_assert(back->retry_after > now);
    ck_assert_int_eq(log_calls, 1);
    ck_assert_ptr_nonnull(strstr(log_last, "MDRenewWindow decides until the CA answers properly"));
}
END_TEST

static Suite *ari_suite(void)
{
    Suite *s = suite_create("md_ari");
    TCase *tc = tcase_create("ari");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, parse_good_answer);
    tcase_add_test(tc, parse_bad_answers_say_why);
    tcase_add_test(tc, choose_inside_window);
    tcase_add_test(tc, window_moves_and_due);
    tcase_add_test(tc, next_check_schedule);
    tcase_add_test(tc, record_round_trip_and_store);
    tcase_add_test(tc, error_count_from_disk_is_clamped);
    tcase_add_test(tc, renew_at_takes_the_earlier_ari_moment);
    tcase_add_test(tc, profile_choice);
    tcase_add_test(tc, check_asks_the_ca_only_when_the_record_allows);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(ari_suite)
