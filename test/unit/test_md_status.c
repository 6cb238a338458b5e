/* Unit tests of md_status: cert facts per key type, renew-at, renewal, errors, masking. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_status.h"

static md_store_t *store;
static md_t *md;

static void setup(void)
{
    apr_array_header_t *n;
    const char *err = NULL;
    pool_setup();
    n = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(n, const char *) = "a.example.org";
    md = md_create(pool, n);
    md_merge(md, md_create_defaults(pool));
    md->watched = 1;
    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(store, pool), APR_SUCCESS);
}

static X509 *install_cert(md_store_group_t group, int days)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k;
    X509 *x;
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(X509 *));
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, md->name, md->domains, k, apr_time_from_sec(days * 86400), pool),
                     APR_SUCCESS);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    ck_assert_int_eq(md_store_save_data(store, group, md->name, "pubcert.pem", md_chain_to_pem(chain, pool),
                                        pool), APR_SUCCESS);
    return x;
}

START_TEST(no_cert_renews_now)
{
    json_t *j = md_status_md_json(md, store, 0, pool);
    ck_assert_int_eq(json_object_size(json_object_get(j, "cert")), 0);
    ck_assert(json_is_true(json_object_get(j, "renew")));
    ck_assert(json_is_true(json_object_get(j, "watched")));
    ck_assert_ptr_null(json_object_get(j, "renewal"));
    ck_assert_ptr_null(json_object_get(j, "error"));
    json_decref(j);
}
END_TEST

START_TEST(cert_facts_and_renew_at)
{
    X509 *x = install_cert(MD_SG_DOMAINS, 90);
    json_t *j = md_status_md_json(md, store, 0, pool), *rsa;
    apr_time_t renew_at;
    rsa = json_object_get(json_object_get(j, "cert"), "rsa");
    ck_assert_ptr_nonnull(rsa);
    ck_assert_str_eq(json_string_value(json_object_get(rsa, "sha256-fingerprint")), md_cert_sha256_hex(x, pool));
    ck_assert_str_eq(json_string_value(json_object_get(rsa, "serial")), md_cert_serial_hex(x, pool));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "cert"), "valid"));
    renew_at = md_util_time_parse(json_string_value(json_object_get(j, "renew-at")));
    /* 33% of ~90 days before the end: about 60 days from now */
    ck_assert(renew_at > apr_time_now() + apr_time_from_sec(59 * 86400));
    ck_assert(renew_at < apr_time_now() + apr_time_from_sec(61 * 86400));
    ck_assert_ptr_null(json_object_get(j, "renew"));
    json_decref(j);
}
END_TEST

START_TEST(renewal_and_errors)
{
    json_t *job = json_pack("{s:s,s:b,s:i,s:{s:[]}}", "name", md->name, "finished", 1, "errors", 0,
                            "log", "entries"), *j;
    ck_assert_int_eq(md_store_save_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, job, pool), APR_SUCCESS);
    install_cert(MD_SG_STAGING, 90);
    j = md_status_md_json(md, store, 0, pool);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "renewal"), "finished")));
    ck_assert_ptr_null(json_object_get(json_object_get(j, "renewal"), "log"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(j, "renewal"), "cert"), "rsa"));
    json_decref(j);
    j = md_status_md_json(md, store, 1, pool);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "renewal"), "log"));
    json_decref(j);
    /* a truncated job.json: the MD still renders, with the error */
    ck_assert_int_eq(md_store_save_data(store, MD_SG_STAGING, md->name, MD_FN_JOB, "{\"name\": \"a", pool),
                     APR_SUCCESS);
    j = md_status_md_json(md, store, 0, pool);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "not valid JSON"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "a.example.org");
    json_decref(j);
    json_decref(job);
}
END_TEST

START_TEST(unreadable_challenge_key_is_named)
{
    /* another server of a cluster placed a tls-alpn-01 challenge whose key this server's child
     * cannot read (another user as the file server sees it): md-status says so */
    json_t *job = json_pack("{s:s,s:b,s:i}", "name", md->name, "finished", 0, "errors", 0);
    const char *key;
    int fds[2], status;
    char buf[2048];
    ssize_t n;
    pid_t pid;

    ck_assert_int_eq(md_store_save_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, job, pool), APR_SUCCESS);
    json_decref(job);
    ck_assert_ptr_null(md_status_challenge_problem(store, "a.example.org", pool));   /* none runs */
    ck_assert_int_eq(md_store_save_data(store, MD_SG_CHALLENGES, "a.example.org",
                                        "acme-tls-alpn-01-privkey.pem", "KEY", pool), APR_SUCCESS);
    key = md_store_path(store, MD_SG_CHALLENGES, "a.example.org", "acme-tls-alpn-01-privkey.pem", pool);
    ck_assert_ptr_null(md_status_challenge_problem(store, "a.example.org", pool));   /* ours */
    ck_assert_int_eq(chmod(store->base, 0755), 0);
    ck_assert_int_eq(pipe(fds), 0);
    if ((pid = fork()) == 0) {
        json_t *j;
        const char *problem;
        /* as another user: nobody when we are root, else the key's mode keeps us out */
        if (geteuid() == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
        }
        else if (chmod(key, 0) != 0) _exit(3);
        j = md_status_md_json(md, store, 0, pool);
        problem = json_string_value(json_object_get(json_object_get(j, "renewal"), "challenge-problem"));
        if (!problem) _exit(4);
        if (write(fds[1], problem, strlen(problem)) < 0) _exit(5);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, key));
    ck_assert_ptr_nonnull(strstr(buf, "permission denied"));
    ck_assert_ptr_nonnull(strstr(buf, "same child user id"));
}
END_TEST

START_TEST(eab_hmac_masked)
{
    json_t *j;
    char *s;
    md->eab_kid = "kid";
    md->eab_hmac = "c2VjcmV0";
    j = md_status_md_json(md, store, 0, pool);
    s = json_dumps(j, 0);
    ck_assert_ptr_null(strstr(s, "c2VjcmV0"));
    ck_assert_ptr_nonnull(strstr(s, "***"));
    free(s);
    json_decref(j);
}
END_TEST

START_TEST(server_status_and_metrics)
{
    apr_array_header_t *mds = apr_array_make(pool, 2, sizeof(md_t *));
    apr_array_header_t *n = apr_array_make(pool, 1, sizeof(const char *));
    md_t *other;
    const char *html, *auto_lines, *metrics;
    X509 *x;

    APR_ARRAY_PUSH(n, const char *) = "0first.example.org";
    other = md_create(pool, n);
    md_merge(other, md_create_defaults(pool));
    other->state = MD_S_INCOMPLETE;
    x = install_cert(MD_SG_DOMAINS, 90);
    md->state = MD_S_COMPLETE;
    APR_ARRAY_PUSH(mds, md_t *) = md;
    APR_ARRAY_PUSH(mds, md_t *) = other;
    html = md_status_html(mds, store, "crt.sh", "https://crt.sh?q=", pool);
    ck_assert_ptr_nonnull(strstr(html, md_cert_sha256_hex(x, pool)));
    /* alphabetical: 0first before a. */
    ck_assert(strstr(html, "0first.example.org") < strstr(html, "<td>a.example.org"));
    auto_lines = md_status_auto(mds, store, "crt.sh", "https://crt.sh?q=", pool);
    ck_assert_ptr_nonnull(strstr(auto_lines, "ManagedCertificatesTotal: 2\n"));
    ck_assert_ptr_nonnull(strstr(auto_lines, "ManagedCertificatesOK: 1\n"));
    ck_assert_ptr_nonnull(strstr(auto_lines, "ManagedCertificatesRenew: 1\n"));
    metrics = md_status_metrics(mds, store, pool);
    ck_assert_ptr_nonnull(strstr(metrics, "mod_md_managed_domains 2\n"));
    ck_assert_ptr_nonnull(strstr(metrics, apr_psprintf(pool,
        "mod_md_certificate_not_after_timestamp_seconds{md=\"a.example.org\",key_type=\"rsa\"} %"
        APR_TIME_T_FMT "\n", apr_time_sec(md_cert_not_after(x)))));
    ck_assert_ptr_nonnull(strstr(metrics, "mod_md_domain_state{md=\"0first.example.org\",state=\"incomplete\"} 1"));
}
END_TEST

START_TEST(html_is_escaped)
{
    apr_array_header_t *mds = apr_array_make(pool, 1, sizeof(md_t *));
    json_t *job = json_pack("{s:s,s:i,s:{s:s}}", "name", md->name, "errors", 3,
                            "last", "detail", "<script>alert(1)</script>");
    const char *html;
    ck_assert_int_eq(md_store_save_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, job, pool), APR_SUCCESS);
    APR_ARRAY_PUSH(mds, md_t *) = md;
    html = md_status_html(mds, store, "crt.sh", "https://crt.sh?q=", pool);
    ck_assert_ptr_null(strstr(html, "<script>"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;"));
    ck_assert_ptr_nonnull(strstr(md_status_auto(mds, store, NULL, NULL, pool), "ManagedCertificatesErrored: 1"));
    json_decref(job);
}
END_TEST

static void save_job(json_t *job)
{
    ck_assert_int_eq(md_store_save_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, job, pool), APR_SUCCESS);
    json_decref(job);
}

START_TEST(find_by_name_or_domain)
{
    apr_array_header_t *mds = apr_array_make(pool, 2, sizeof(md_t *));
    apr_array_header_t *n = apr_array_make(pool, 2, sizeof(const char *));
    md_t *wild;
    APR_ARRAY_PUSH(n, const char *) = "example.net";
    APR_ARRAY_PUSH(n, const char *) = "*.example.net";
    wild = md_create(pool, n);
    APR_ARRAY_PUSH(mds, md_t *) = md;
    APR_ARRAY_PUSH(mds, md_t *) = wild;
    ck_assert_ptr_eq(md_status_find(mds, "a.example.org"), md);
    ck_assert_ptr_eq(md_status_find(mds, "example.net"), wild);
    ck_assert_ptr_eq(md_status_find(mds, "*.example.net"), wild);
    ck_assert_ptr_eq(md_status_find(mds, "www.example.net"), wild);     /* through the wildcard */
    ck_assert_ptr_null(md_status_find(mds, "a.b.example.net"));         /* one label only */
    ck_assert_ptr_null(md_status_find(mds, "example.com"));
}
END_TEST

START_TEST(renew_whatever_the_mode)
{
    json_t *j;
    md->renew_mode = MD_RENEW_MANUAL;
    md->state = MD_S_INCOMPLETE;
    j = md_status_md_json(md, store, 0, pool);
    ck_assert(json_is_true(json_object_get(j, "renew")));      /* no certificate: due */
    json_decref(j);
    /* a job that is not due any more (certificate outside its window) is not shown */
    install_cert(MD_SG_DOMAINS, 90);
    md->state = MD_S_COMPLETE;
    save_job(json_pack("{s:s,s:i}", "name", md->name, "errors", 0));
    j = md_status_md_json(md, store, 0, pool);
    ck_assert_ptr_null(json_object_get(j, "renew"));
    ck_assert_ptr_null(json_object_get(j, "renewal"));
    json_decref(j);
}
END_TEST

START_TEST(static_files_by_position)
{
    X509 *x = install_cert(MD_SG_DOMAINS, 90);
    json_t *j, *cs;
    md->cert_files = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->cert_files, const char *) =
        md_store_path(store, MD_SG_DOMAINS, md->name, "pubcert.pem", pool);
    md->state = MD_S_COMPLETE;
    j = md_status_md_json(md, store, 0, pool);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "cert"), "0"),
                                                       "sha256-fingerprint")), md_cert_sha256_hex(x, pool));
    json_decref(j);
    /* certificate-status: per key spec name, empty here; the common validity on top */
    cs = md_status_cert_status_json(md, store, pool);
    ck_assert_int_eq(json_object_size(json_object_get(cs, "rsa")), 0);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(cs, "valid"), "until"));
    ck_assert_ptr_null(json_object_get(cs, "renewal"));
    json_decref(cs);
}
END_TEST

START_TEST(cert_status_while_renewing)
{
    json_t *cs;
    X509 *x;
    md->state = MD_S_INCOMPLETE;
    save_job(json_pack("{s:s,s:i}", "name", md->name, "errors", 1));
    cs = md_status_cert_status_json(md, store, pool);
    /* nothing served, nothing staged: empty objects, as the reference answers */
    ck_assert_int_eq(json_object_size(json_object_get(cs, "rsa")), 0);
    ck_assert_int_eq(json_object_size(json_object_get(json_object_get(cs, "renewal"), "cert")), 0);
    ck_assert_ptr_null(json_object_get(cs, "valid"));
    json_decref(cs);
    x = install_cert(MD_SG_STAGING, 90);
    cs = md_status_cert_status_json(md, store, pool);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
                         json_object_get(cs, "renewal"), "cert"), "rsa"), "sha256-fingerprint")),
                     md_cert_sha256_hex(x, pool));
    json_decref(cs);
}
END_TEST

START_TEST(auto_lines_per_md)
{
    apr_array_header_t *mds = apr_array_make(pool, 1, sizeof(md_t *));
    const char *s;
    X509 *x;
    md->ca_urls = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "https://ca.example.net/dir";
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "https://other.example.net/dir";
    APR_ARRAY_PUSH(mds, md_t *) = md;
    md->state = MD_S_INCOMPLETE;
    s = md_status_auto(mds, store, "crt.sh", "https://crt.sh?q=", pool);
    ck_assert_ptr_nonnull(strstr(s, "ManagedDomain[0]Domain: a.example.org\n"
                                    "ManagedDomain[0]Names[0]: a.example.org\n"
                                    "ManagedDomain[0]Status: incomplete\n"
                                    "ManagedDomain[0]CAName: ca.example.net\n"
                                    "ManagedDomain[0]CAURL: https://ca.example.net/dir\n"
                                    "ManagedDomain[0]CAName1: other.example.net\n"
                                    "ManagedDomain[0]CAURL1: https://other.example.net/dir\n"
                                    "ManagedDomain[0]Activity: Pending\n"));
    ck_assert_ptr_nonnull(strstr(s, "ManagedCertificatesOK: 0\nManagedCertificatesRenew: 1\n"));
    /* a failed renewal: the reference's lines, the status as APR says it */
    save_job(json_pack("{s:s,s:i,s:{s:i,s:s}}", "name", md->name, "errors", 2,
                                                  "last", "status", 111, "detail", "no way"));
    s = md_status_auto(mds, store, NULL, NULL, pool);
    ck_assert_ptr_nonnull(strstr(s, "ManagedCertificatesErrored: 1\n"));
    ck_assert_ptr_nonnull(strstr(s, "ManagedDomain[0]ActivityLastStatus: Connection refused\n"
                                    "ManagedDomain[0]ActivityLastProblem: (null)\n"
                                    "ManagedDomain[0]ActivityFinished: no\n"
                                    "ManagedDomain[0]ActivityLastDetail: no way\n"));
    ck_assert_ptr_null(strstr(s, "Ongoing"));      /* only when nothing else is said */
    /* served and not due: OK, the seconds until renewal, where to check it */
    ck_assert_int_eq(apr_file_remove(md_store_path(store, MD_SG_STAGING, md->name, MD_FN_JOB, pool), pool),
                     APR_SUCCESS);
    x = install_cert(MD_SG_DOMAINS, 90);
    md->state = MD_S_COMPLETE;
    s = md_status_auto(mds, store, "crt.sh", "https://crt.sh?q=", pool);
    ck_assert_ptr_nonnull(strstr(s, "ManagedCertificatesOK: 1\nManagedCertificatesRenew: 0\n"));
    ck_assert_ptr_nonnull(strstr(s, "ManagedDomain[0]Status: good\n"));
    ck_assert_ptr_nonnull(strstr(s, apr_psprintf(pool, "ManagedDomain[0]CheckAtType: rsa\n"
                                                 "ManagedDomain[0]CheckAtName: crt.sh\n"
                                                 "ManagedDomain[0]CheckAtURL: https://crt.sh?q=%s\n",
                                                 md_cert_sha256_hex(x, pool))));
    ck_assert_ptr_nonnull(strstr(s, "ManagedDomain[0]ActivityRenew: "));
}
END_TEST

static int collect(const char *buf, size_t len, void *baton)
{
    apr_array_header_t *out = baton;
    APR_ARRAY_PUSH(out, const char *) = apr_pstrmemdup(out->pool, buf, len);
    return 0;
}

START_TEST(streamed_list_is_one_json_document)
{
    apr_array_header_t *mds = apr_array_make(pool, 2, sizeof(md_t *));
    apr_array_header_t *out = apr_array_make(pool, 10, sizeof(const char *));
    json_t *doc, *list;
    json_error_t err;
    APR_ARRAY_PUSH(mds, md_t *) = md;
    APR_ARRAY_PUSH(mds, md_t *) = md;
    ck_assert_int_eq(md_status_all_write(mds, store, collect, out, pool), 0);
    doc = json_loads(apr_array_pstrcat(pool, out, '\0'), 0, &err);
    ck_assert_msg(doc != NULL, "%s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), MD_VERSION);
    list = json_object_get(doc, "managed-domains");
    ck_assert_int_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "name")), "a.example.org");
    json_decref(doc);
    apr_array_clear(mds);
    apr_array_clear(out);
    ck_assert_int_eq(md_status_all_write(mds, store, collect, out, pool), 0);
    doc = json_loads(apr_array_pstrcat(pool, out, '\0'), 0, &err);
    ck_assert_ptr_null(json_object_get(doc, "managed-domains"));      /* as the reference */
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), MD_VERSION);
    json_decref(doc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_status");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, pool_teardown);
    tcase_add_test(tc, no_cert_renews_now);
    tcase_add_test(tc, unreadable_challenge_key_is_named);
    tcase_add_test(tc, cert_facts_and_renew_at);
    tcase_add_test(tc, renewal_and_errors);
    tcase_add_test(tc, eab_hmac_masked);
    tcase_add_test(tc, server_status_and_metrics);
    tcase_add_test(tc, find_by_name_or_domain);
    tcase_add_test(tc, renew_whatever_the_mode);
    tcase_add_test(tc, static_files_by_position);
    tcase_add_test(tc, cert_status_while_renewing);
    tcase_add_test(tc, auto_lines_per_md);
    tcase_add_test(tc, html_is_escaped);
    tcase_add_test(tc, streamed_list_is_one_json_document);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
