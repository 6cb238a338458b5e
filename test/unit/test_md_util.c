/* Unit tests of md_util: durations, time slices, DNS names, files, base64url, dates. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "md_unit.h"
#include "md_util.h"

START_TEST(duration_units)
{
    apr_interval_time_t d;
    ck_assert_ptr_null(md_util_parse_duration("30", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(30));
    ck_assert_ptr_null(md_util_parse_duration("30", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(30 * 86400));
    ck_assert_ptr_null(md_util_parse_duration("30s", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(30));
    ck_assert_ptr_null(md_util_parse_duration("500ms", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, 500000);
    ck_assert_ptr_null(md_util_parse_duration("10mi", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(600));
    ck_assert_ptr_null(md_util_parse_duration("12h", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(12 * 3600));
    ck_assert_ptr_null(md_util_parse_duration("21d", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(21 * 86400));
}
END_TEST

/* What the reference takes too: blanks before the number and after the unit, a sign, and
 * durations beyond 100 years (cut to 100 years). */
START_TEST(duration_lenient_like_the_reference)
{
    apr_interval_time_t d;
    ck_assert_ptr_null(md_util_parse_duration("-5", MD_UNIT_DAYS, &d));
    ck_assert_int_eq(d, -apr_time_from_sec(5 * 86400));
    ck_assert_ptr_null(md_util_parse_duration(" 5d", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(5 * 86400));
    ck_assert_ptr_null(md_util_parse_duration("5d ", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(5 * 86400));
    ck_assert_ptr_null(md_util_parse_duration("+5", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(5));
    ck_assert_ptr_null(md_util_parse_duration("010", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(10));
    ck_assert_ptr_null(md_util_parse_duration("36501000d", MD_UNIT_SECONDS, &d));
    ck_assert_int_eq(d, apr_time_from_sec(100LL * 365 * 86400));
}
END_TEST

/* "N%" as the reference reads it; windows refuse 100% and more in its words. */
START_TEST(percent_like_the_reference)
{
    md_timeslice_t ts;
    long n;
    ck_assert_ptr_null(md_util_parse_percent("50%", &n));
    ck_assert_int_eq(n, 50);
    ck_assert_ptr_null(md_util_parse_percent("200%", &n));
    ck_assert_int_eq(n, 200);
    ck_assert_ptr_null(md_util_parse_percent("%", &n));
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(md_util_parse_percent("5%%", &n));
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(md_util_parse_percent("-5%", &n), MD_PERCENT_NEGATIVE);
    ck_assert_ptr_nonnull(md_util_parse_percent("5.5%", &n));
    ck_assert_ptr_nonnull(md_util_parse_percent("5x%", &n));
    ck_assert_str_eq(md_util_parse_timeslice("-5%", &ts), MD_PERCENT_NEGATIVE);
    ck_assert_ptr_null(md_util_parse_timeslice(" 5%", &ts));
    ck_assert_int_eq(ts.norm, 100);
    ck_assert_int_eq(ts.len, 5);
    ck_assert_ptr_null(md_util_parse_timeslice("-5", &ts));
    ck_assert_int_eq(ts.norm, 0);
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "-5d");
}
END_TEST

/* URLs of CAs, proxies and terms of service: the reference's checks and words. */
START_TEST(uri_problems)
{
    static const char *const good[] = {
        "https://acme.example.org/dir", "https://127.0.0.1:14000/dir", "HTTP://x", "https://",
        "https:///dir", "ftp://x.org/dir", "mailto:a@b", "urn:x", "file:///run/x.sock",
        "https://x.org:65535/", "http://user@x/", "https://-x.org/", "https://x.org./",
        "HTTPS://[::1]/", "https://x.org:00080/",
    };
    static const char *const bad[][2] = {
        { "not-a-ca", "missing uri scheme" }, { "https://a b/", "whitespace in uri" },
        { "https:", "missing uri identifier" }, { "http:foo", "missing hostname" },
        { "https:/x", "missing hostname" }, { "1http://x", "not an uri" },
        { "https://x.org:abc/", "not an uri" }, { "https://x.org:-1/", "invalid port" },
        { "https://x.org:0/", "invalid port" }, { "https://x.org:65536/", "invalid port" },
        { "https://x.org:/", "invalid port" }, { "https://x.org:+5/", "invalid port" },
        { "https://x_y.org/", "invalid hostname" }, { "https://x..org/", "invalid hostname" },
        { "https://[::1]/dir", "invalid hostname" }, { "https://a_b:0/", "invalid port" },
    };
    size_t i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i)
        ck_assert_msg(md_util_uri_problem(pool, good[i]) == NULL, "refused '%s': %s", good[i],
                      md_util_uri_problem(pool, good[i]));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *why = md_util_uri_problem(pool, bad[i][0]);
        ck_assert_msg(why && !strcmp(why, bad[i][1]), "'%s': '%s', expected '%s'", bad[i][0],
                      why ? why : "(accepted)", bad[i][1]);
    }
}
END_TEST

START_TEST(duration_invalid)
{
    apr_interval_time_t d = 7;
    const char *bad[] = { "", "abc", "10x", "5 d", "d", "1e3", "99999999999999999999d", "5 ", "--5",
                          "+", "-d", "0x10", "1.5d" };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(md_util_parse_duration(bad[i], MD_UNIT_SECONDS, &d) != NULL, "accepted '%s'", bad[i]);
    ck_assert_int_eq(d, 7);
}
END_TEST

/* The unit of a plain number, directive by directive (compat item 0: the reference's units). */
START_TEST(plain_number_unit_per_directive)
{
    static const struct { const char *name; apr_interval_time_t plain30; } dirs[] = {
        { "MDRenewWindow", 30 * 86400 },       { "MDWarnWindow", 30 * 86400 },
        { "MDStaplingRenewWindow", 30 * 86400 }, { "MDStaplingKeepResponse", 30 * 86400 },
        { "MDActivationDelay", 30 * 86400 },   { "MDRetryDelay", 30 },
        { "MDCheckInterval", 30 },             { "MDInitialDelay", 30 },
        { "MDStoreLocks", 30 },
    };
    apr_interval_time_t d;
    size_t i;
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); ++i) {
        const char *unit = md_util_plain_unit(dirs[i].name);
        ck_assert_msg(unit != NULL, "%s has no plain unit", dirs[i].name);
        ck_assert_ptr_null(md_util_parse_duration("30", unit, &d));
        ck_assert_msg(d == apr_time_from_sec(dirs[i].plain30), "%s 30 is %" APR_INT64_T_FMT "us",
                      dirs[i].name, (apr_int64_t)d);
        ck_assert_ptr_null(md_util_parse_duration("30s", unit, &d));   /* a unit always wins */
        ck_assert_int_eq(d, apr_time_from_sec(30));
    }
    ck_assert_str_eq(md_util_plain_unit("mdrenewwindow"), MD_UNIT_DAYS);
    ck_assert_ptr_null(md_util_plain_unit("MDomain"));
}
END_TEST

START_TEST(timeslice_parse_and_format)
{
    md_timeslice_t ts;
    ck_assert_ptr_null(md_util_parse_timeslice("33%", &ts));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "33%");
    ck_assert_ptr_null(md_util_parse_timeslice("0%", &ts));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "0%");
    ck_assert_ptr_null(md_util_parse_timeslice("99%", &ts));
    /* a window of the whole lifetime would renew at once, forever: refused as the reference does */
    ck_assert_str_eq(md_util_parse_timeslice("100%", &ts), MD_TIMESLICE_TOO_LONG);
    ck_assert_str_eq(md_util_parse_timeslice("101%", &ts), MD_TIMESLICE_TOO_LONG);
    ck_assert_ptr_nonnull(md_util_parse_timeslice("-1%", &ts));
    ck_assert_ptr_nonnull(md_util_parse_timeslice("x%", &ts));
    ck_assert_ptr_nonnull(md_util_parse_timeslice("5.5%", &ts));
    ck_assert_ptr_null(md_util_parse_timeslice("21d", &ts));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "21d");
    ck_assert_ptr_null(md_util_parse_timeslice("90s", &ts));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "90s");
    /* a plain number is days, as with the reference: MDRenewWindow 30 is 30 days */
    ck_assert_ptr_null(md_util_parse_timeslice("120", &ts));
    ck_assert_int_eq(ts.len, apr_time_from_sec(120 * 86400));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "120d");
    ck_assert_ptr_null(md_util_parse_timeslice("0", &ts));
    ck_assert_str_eq(md_util_timeslice_format(pool, &ts), "0d");
}
END_TEST

START_TEST(timeslice_span_short_lived)
{
    /* a 6-day certificate with 33% renew window renews ~2 days before the end */
    md_timeslice_t ts = { 100, 33 }, abs = { 0, apr_time_from_sec(86400) };
    apr_time_t start = apr_time_from_sec(1000000), end = start + apr_time_from_sec(6 * 86400);
    apr_interval_time_t span = md_timeslice_span(&ts, start, end);
    ck_assert_int_eq(apr_time_sec(span), 6 * 86400 * 33 / 100);
    ck_assert_int_eq(md_timeslice_span(&abs, start, end), apr_time_from_sec(86400));
    ck_assert_int_eq(md_timeslice_span(&ts, end, start), 0);
}
END_TEST

START_TEST(dns_names)
{
    ck_assert(md_util_is_dns_name("example.org", 0));
    ck_assert(md_util_is_dns_name("a-b.example.org", 0));
    ck_assert(md_util_is_dns_name("localhost", 0));
    ck_assert(md_util_is_dns_name("xn--bcher-kva.example", 0));
    ck_assert(!md_util_is_dns_name("", 0));
    ck_assert(!md_util_is_dns_name("-a.example.org", 0));
    ck_assert(!md_util_is_dns_name("a-.example.org", 0));
    ck_assert(!md_util_is_dns_name("a..example.org", 0));
    ck_assert(!md_util_is_dns_name(".example.org", 0));
    ck_assert(!md_util_is_dns_name("a b.org", 0));
    ck_assert(!md_util_is_dns_name("bad!.org", 0));
    ck_assert(!md_util_is_dns_name("a/b.org", 0));
    ck_assert(!md_util_is_dns_name("*.example.org", 0));
    ck_assert(md_util_is_dns_name("*.example.org", 1));
    ck_assert(!md_util_is_dns_name("a.*.example.org", 1));
    ck_assert(!md_util_is_dns_name("*", 1));
    {
        char label[80];
        memset(label, 'a', 64);
        label[64] = '\0';
        ck_assert(!md_util_is_dns_name(label, 0));
        label[63] = '\0';
        ck_assert(md_util_is_dns_name(label, 0));
    }
    ck_assert(md_util_is_ip("127.0.0.1"));
    ck_assert(md_util_is_ip("::1"));
    ck_assert(!md_util_is_ip("example.org"));
}
END_TEST

START_TEST(base64url_roundtrip)
{
    const unsigned char raw[] = { 0xfb, 0xff, 0x00, 0x3e, 0x3f };
    unsigned char *out;
    long n;
    const char *enc = md_util_base64url_encode(pool, raw, sizeof(raw));
    ck_assert_str_eq(enc, "-_8APj8");
    n = md_util_base64url_decode(pool, enc, &out);
    ck_assert_int_eq(n, 5);
    ck_assert(!memcmp(out, raw, 5));
    ck_assert_int_eq(md_util_base64url_decode(pool, "a!b", &out), -1);
    ck_assert_int_eq(md_util_base64url_decode(pool, "abcde", &out), -1);
    ck_assert_int_eq(md_util_base64url_decode(pool, "", &out), 0);
}
END_TEST

/* EAB keys come as base64url or as standard base64 with padding (compat item 8). */
START_TEST(base64_standard_and_url)
{
    const unsigned char raw[] = { 0xfb, 0xff, 0x00, 0x3e, 0x3f };
    unsigned char *out;
    ck_assert_int_eq(md_util_base64url_decode(pool, "+/8APj8=", &out), 5);
    ck_assert(!memcmp(out, raw, 5));
    ck_assert_int_eq(md_util_base64url_decode(pool, "+/8APj8", &out), 5);
    ck_assert(!memcmp(out, raw, 5));
    ck_assert_int_eq(md_util_base64url_decode(pool, "YWJjZA==", &out), 4);
    ck_assert(!memcmp(out, "abcd", 4));
    ck_assert_int_eq(md_util_base64url_decode(pool, "YWJjZA=", &out), 4);
    ck_assert_int_eq(md_util_base64url_decode(pool, "YWJjZA", &out), 4);
    ck_assert_int_eq(md_util_base64url_decode(pool, "YW=Jj", &out), -1);
    ck_assert_int_eq(md_util_base64url_decode(pool, "YWJjZA===", &out), -1);
    ck_assert_int_eq(md_util_base64url_decode(pool, "!!!notb64", &out), -1);
    ck_assert_int_eq(md_util_base64url_decode(pool, "Y", &out), -1);
}
END_TEST

START_TEST(rfc1123_dates)
{
    apr_time_t t = apr_time_from_sec(1567095995);   /* Thu, 29 Aug 2019 16:26:35 GMT */
    const char *s = md_util_time_format(pool, t);
    ck_assert_str_eq(s, "Thu, 29 Aug 2019 16:26:35 GMT");
    ck_assert_int_eq(md_util_time_parse(s), t);
    ck_assert_int_eq(md_util_time_parse("not a date"), 0);
}
END_TEST

START_TEST(cmdline_split)
{
    int argc;
    const char **argv = md_util_cmdline_split(pool, " /bin/cmd  a 'b c' \"d e\" f\\ g ", &argc);
    ck_assert_int_eq(argc, 5);
    ck_assert_str_eq(argv[0], "/bin/cmd");
    ck_assert_str_eq(argv[2], "b c");
    ck_assert_str_eq(argv[3], "d e");
    ck_assert_str_eq(argv[4], "f g");
    ck_assert_ptr_null(argv[5]);
    argv = md_util_cmdline_split(pool, "x; rm -rf /", &argc);
    ck_assert_int_eq(argc, 4);             /* no shell: ';' is just part of a word */
    ck_assert_str_eq(argv[0], "x;");
}
END_TEST

START_TEST(ip_names)
{
    ck_assert_str_eq(md_util_ip_canonical(pool, "127.0.0.1"), "127.0.0.1");
    ck_assert_str_eq(md_util_ip_canonical(pool, "0:0:0:0:0:0:0:1"), "::1");
    ck_assert_str_eq(md_util_ip_canonical(pool, "[2001:DB8::1]"), "2001:db8::1");
    ck_assert_ptr_null(md_util_ip_canonical(pool, "example.org"));
    ck_assert_ptr_null(md_util_ip_canonical(pool, "300.1.2.3"));

    ck_assert_str_eq(md_util_ip_from_reverse(pool, "1.0.0.127.in-addr.arpa"), "127.0.0.1");
    ck_assert_str_eq(md_util_ip_from_reverse(pool, "1.0.0.127.IN-ADDR.ARPA"), "127.0.0.1");
    ck_assert_str_eq(md_util_ip_from_reverse(pool,
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"), "2001:db8::1");
    ck_assert_str_eq(md_util_ip_from_reverse(pool,
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"), "::1");
    ck_assert_ptr_null(md_util_ip_from_reverse(pool, "0.127.in-addr.arpa"));
    ck_assert_ptr_null(md_util_ip_from_reverse(pool, "1.2.3.4.5.in-addr.arpa"));
    ck_assert_ptr_null(md_util_ip_from_reverse(pool, "1.0.0.999.in-addr.arpa"));
    ck_assert_ptr_null(md_util_ip_from_reverse(pool, "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"));
    ck_assert_ptr_null(md_util_ip_from_reverse(pool, "example.org"));

    ck_assert_ptr_null(md_util_name_problem(pool, "example.org"));
    ck_assert_ptr_null(md_util_name_problem(pool, "*.example.org"));
    ck_assert_ptr_null(md_util_name_problem(pool, "192.0.2.7"));
    ck_assert_ptr_null(md_util_name_problem(pool, "2001:db8::7"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "300.1.2.3"), "not a valid IP address"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "1.2.3.4.5"), "not a valid IP address"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "*.192.0.2.7"), "wildcard"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "fe80::1%eth0"), "IPv6"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "2001:db8:::1"), "IPv6"));
    ck_assert_ptr_null(md_util_name_problem(pool, "[::1]"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "[example.org]"), "DNS name"));
    ck_assert_ptr_nonnull(strstr(md_util_name_problem(pool, "exa mple.org"), "DNS name"));
}
END_TEST

static void put(const char *path)
{
    ck_assert_int_eq(md_util_file_write_atomic(path, "x", 1, 0x0644, pool), APR_SUCCESS);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A tree is removed without following links below the root: a directory swapped for a link
 * to an outside folder loses the link, the outside folder keeps everything. */
START_TEST(remove_tree_never_leaves_the_root)
{
    const char *root = tmp_dir(), *out = tmp_dir();
    const char *md = apr_pstrcat(pool, root, "/staging/a.org", NULL);

    ck_assert_int_eq(md_util_mkdirs(apr_pstrcat(pool, md, "/sub/deeper", NULL), 0x0755, pool), APR_SUCCESS);
    put(apr_pstrcat(pool, md, "/job.json", NULL));
    put(apr_pstrcat(pool, md, "/sub/deeper/f", NULL));
    put(apr_pstrcat(pool, out, "/precious", NULL));
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, out, "/dir", NULL), 0755), 0);
    put(apr_pstrcat(pool, out, "/dir/precious", NULL));
    /* a link inside the tree, to a directory and to a file outside */
    ck_assert_int_eq(symlink(out, apr_pstrcat(pool, md, "/sub/link", NULL)), 0);
    ck_assert_int_eq(symlink(apr_pstrcat(pool, out, "/precious", NULL),
                             apr_pstrcat(pool, md, "/filelink", NULL)), 0);
    ck_assert_int_eq(md_util_remove_tree(root, "staging/a.org", pool), APR_SUCCESS);
    ck_assert(!exists(md));
    ck_assert(exists(apr_pstrcat(pool, root, "/staging", NULL)));
    ck_assert(exists(apr_pstrcat(pool, out, "/precious", NULL)));
    ck_assert(exists(apr_pstrcat(pool, out, "/dir/precious", NULL)));

    /* the tree itself swapped for a link to the outside folder */
    ck_assert_int_eq(symlink(out, md), 0);
    ck_assert_int_eq(md_util_remove_tree(root, "staging/a.org", pool), APR_SUCCESS);
    ck_assert(!exists(md));
    ck_assert(exists(apr_pstrcat(pool, out, "/precious", NULL)));
    ck_assert(exists(apr_pstrcat(pool, out, "/dir/precious", NULL)));

    /* a link in the middle of the path is not followed either */
    ck_assert_int_eq(rename(apr_pstrcat(pool, root, "/staging", NULL), apr_pstrcat(pool, root, "/s2", NULL)), 0);
    ck_assert_int_eq(symlink(out, apr_pstrcat(pool, root, "/staging", NULL)), 0);
    ck_assert_int_ne(md_util_remove_tree(root, "staging/dir", pool), APR_SUCCESS);
    ck_assert(exists(apr_pstrcat(pool, out, "/dir/precious", NULL)));
    ck_assert_int_ne(md_util_remove_tree(root, "s2/../staging/dir", pool), APR_SUCCESS);
    ck_assert(exists(apr_pstrcat(pool, out, "/dir/precious", NULL)));
    /* missing: nothing to do */
    ck_assert_int_eq(md_util_remove_tree(root, "s2/none", pool), APR_SUCCESS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_util");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, ip_names);
    tcase_add_test(tc, duration_units);
    tcase_add_test(tc, remove_tree_never_leaves_the_root);
    tcase_add_test(tc, duration_invalid);
    tcase_add_test(tc, duration_lenient_like_the_reference);
    tcase_add_test(tc, percent_like_the_reference);
    tcase_add_test(tc, uri_problems);
    tcase_add_test(tc, plain_number_unit_per_directive);
    tcase_add_test(tc, timeslice_parse_and_format);
    tcase_add_test(tc, timeslice_span_short_lived);
    tcase_add_test(tc, dns_names);
    tcase_add_test(tc, base64url_roundtrip);
    tcase_add_test(tc, base64_standard_and_url);
    tcase_add_test(tc, rfc1123_dates);
    tcase_add_test(tc, cmdline_split);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
