/* test_ct_submit.c: add-chain answers and the CTLogClient command line (ct_submit.c); the
 * exchanges with a log through the shared client, answered by md_http_set_transport. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "ct_submit.h"
#include "md_http.h"
#include "ct_helpers.h"

static apr_pool_t *pool;
static void setup(void) { apr_pool_create(&pool, NULL); }
static void teardown(void) { apr_pool_destroy(pool); }

static const char *b64(const unsigned char *d, apr_size_t len)
{
    unsigned char *out = apr_palloc(pool, 4 * (len / 3 + 1) + 1);
    EVP_EncodeBlock(out, d, (int)len);
    return (const char *)out;
}

START_TEST(json_answer_to_sct)
{
    EVP_PKEY *k = th_ec_key();
    X509 *c = th_cert(k, k, NULL, "x", 0);
    const unsigned char ext[] = { 9, 8, 7 };
    ct_blob_t s = th_sct(pool, k, c, NULL, 1700000000123ULL, ext, 3), out;
    const unsigned char *sig = s.data + 1 + 32 + 8 + 2 + 3;
    const char *json, *err = NULL;

    json = apr_psprintf(pool, "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":1700000000123,"
                        "\"extensions\":\"%s\",\"signature\":\"%s\"}", b64(s.data + 1, 32),
                        b64(ext, 3), b64(sig, s.len - (apr_size_t)(sig - s.data)));
    ck_assert_int_eq(ct_submit_json_to_sct(&out, json, strlen(json), pool, &err), APR_SUCCESS);
    ck_assert_uint_eq(out.len, s.len);
    ck_assert(!memcmp(out.data, s.data, s.len));

    ck_assert_int_ne(ct_submit_json_to_sct(&out, "{", 1, pool, &err), APR_SUCCESS);
    ck_assert_int_ne(ct_submit_json_to_sct(&out, "[1]", 3, pool, &err), APR_SUCCESS);
    json = apr_psprintf(pool, "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":1,"
                        "\"extensions\":\"\",\"signature\":\"%s\"}", b64(s.data + 1, 20),
                        b64(sig, s.len - (apr_size_t)(sig - s.data)));
    ck_assert_int_ne(ct_submit_json_to_sct(&out, json, strlen(json), pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "id"));
    json = apr_psprintf(pool, "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":1,"
                        "\"extensions\":\"\",\"signature\":\"AAAA!!!\"}", b64(s.data + 1, 32));
    ck_assert_int_ne(ct_submit_json_to_sct(&out, json, strlen(json), pool, &err), APR_SUCCESS);
    /* a signature whose inner length lies */
    json = apr_psprintf(pool, "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":1,"
                        "\"extensions\":\"\",\"signature\":\"%s\"}", b64(s.data + 1, 32),
                        b64((const unsigned char *)"\x04\x03\x00\x09" "abc", 7));
    ck_assert_int_ne(ct_submit_json_to_sct(&out, json, strlen(json), pool, &err), APR_SUCCESS);
    json = "{\"sct_version\":1}";
    ck_assert_int_ne(ct_submit_json_to_sct(&out, json, strlen(json), pool, &err), APR_SUCCESS);
    X509_free(c);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(client_argv)
{
    const char *const *argv = ct_submit_client_argv(pool, "/usr/bin/ct", "http://log/",
                                                    "/s/servercerts.pem", "/s/AUTO_log_80_-.sct",
                                                    "/k.pem");
    ck_assert_str_eq(argv[0], "/usr/bin/ct");
    ck_assert_str_eq(argv[1], "--ct_server=http://log/");
    ck_assert_str_eq(argv[2], "--logtostderr=true");
    ck_assert_str_eq(argv[3], "--ct_server_submission=/s/servercerts.pem");
    ck_assert_str_eq(argv[4], "--ct_server_response_out=/s/AUTO_log_80_-.sct");
    ck_assert_str_eq(argv[5], "--ct_server_public_key=/k.pem");
    ck_assert_str_eq(argv[6], "upload");
    ck_assert_ptr_null(argv[7]);
}
END_TEST

START_TEST(run_client)
{
    const char *err = NULL;
    const char *ok[] = { "/bin/true", NULL }, *bad[] = { "/bin/false", NULL };
    const char *hang[] = { "/bin/sleep", "30", NULL };
    apr_time_t start = apr_time_now();

    ck_assert_int_eq(ct_submit_run(ok, 5, pool, &err), APR_SUCCESS);
    ck_assert_int_ne(ct_submit_run(bad, 5, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(ct_submit_run(hang, 1, pool, &err), APR_TIMEUP);
    ck_assert_int_lt(apr_time_sec(apr_time_now() - start), 10);
}
END_TEST

/* ---- a log answering through md_http's test transport ---- */
static int log_status;
static const char *log_answer, *seen_method, *seen_url, *seen_body;
static apr_size_t log_answer_len;

static apr_status_t scripted_log(md_http_response_t **presp, const char *method, const char *url,
                                 const char *body, apr_size_t body_len, void *baton,
                                 apr_pool_t *p, const char **perr)
{
    md_http_response_t *r = apr_pcalloc(p, sizeof(*r));
    (void)baton; (void)perr;
    seen_method = apr_pstrdup(pool, method);
    seen_url = apr_pstrdup(pool, url);
    seen_body = body ? apr_pstrmemdup(pool, body, body_len) : NULL;
    r->status = log_status;
    r->headers = apr_table_make(p, 1);
    r->body = log_answer;
    r->body_len = log_answer_len;
    *presp = r;
    return APR_SUCCESS;
}

START_TEST(add_chain_and_get_through_the_shared_client)
{
    EVP_PKEY *k = th_ec_key();
    X509 *c = th_cert(k, k, NULL, "x", 0);
    ct_blob_t s = th_sct(pool, k, c, NULL, 1700000000123ULL, NULL, 0), out;
    const unsigned char *sig = s.data + 1 + 32 + 8 + 2;
    apr_array_header_t *chain = apr_array_make(pool, 1, sizeof(ct_blob_t));
    const char *err = NULL;
    char *body, *big = apr_pcalloc(pool, CT_SUBMIT_MAX_BODY + 2);
    apr_size_t len;
    int status;

    APR_ARRAY_PUSH(chain, ct_blob_t) = s;        /* any bytes: the log is scripted */
    md_http_set_transport(scripted_log, NULL);
    log_status = 200;
    log_answer = apr_psprintf(pool, "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":"
                              "1700000000123,\"extensions\":\"\",\"signature\":\"%s\"}",
                              b64(s.data + 1, 32), b64(sig, s.len - (apr_size_t)(sig - s.data)));
    log_answer_len = strlen(log_answer);
    ck_assert_int_eq(ct_submit_add_chain(&out, "http://log.test/a", chain, 5, NULL, pool, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(seen_method, "POST");
    ck_assert_str_eq(seen_url, "http://log.test/a/ct/v1/add-chain");
    ck_assert_str_eq(seen_body, apr_psprintf(pool, "{\"chain\":[\"%s\"]}", b64(s.data, s.len)));
    ck_assert_uint_eq(out.len, s.len);
    ck_assert(!memcmp(out.data, s.data, s.len));
    /* an HTTP error status is named with the endpoint */
    log_status = 400;
    ck_assert_int_eq(ct_submit_add_chain(&out, "http://log.test/", chain, 5, NULL, pool, &err),
                     APR_EGENERAL);
    ck_assert_str_eq(err, "http://log.test/ct/v1/add-chain: HTTP status 400");
    /* an answer larger than CT_SUBMIT_MAX_BODY is refused, by add-chain and by GET */
    memset(big, '{', CT_SUBMIT_MAX_BODY + 1);
    log_status = 200;
    log_answer = big;
    log_answer_len = CT_SUBMIT_MAX_BODY + 1;
    ck_assert_int_eq(ct_submit_add_chain(&out, "http://log.test/", chain, 5, NULL, pool, &err),
                     APR_EGENERAL);
    ck_assert_ptr_nonnull(strstr(err, "larger than"));
    ck_assert_int_eq(ct_submit_http_get(&status, &body, &len, "http://log.test/ct/v1/get-sth", 5,
                                        pool, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "larger than"));
    /* within it, GET hands back status and body, whatever the status */
    log_status = 404;
    log_answer_len = CT_SUBMIT_MAX_BODY;
    ck_assert_int_eq(ct_submit_http_get(&status, &body, &len, "http://log.test/ct/v1/get-sth", 5,
                                        pool, &err), APR_SUCCESS);
    ck_assert_str_eq(seen_method, "GET");
    ck_assert_int_eq(status, 404);
    ck_assert_uint_eq(len, CT_SUBMIT_MAX_BODY);
    ck_assert_uint_eq(strlen(body), CT_SUBMIT_MAX_BODY);
    md_http_set_transport(NULL, NULL);
    X509_free(c);
    EVP_PKEY_free(k);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { json_answer_to_sct, client_argv, run_client,
                             add_chain_and_get_through_the_shared_client, NULL };
    return th_run("ct_submit", setup, teardown, tests);
}
