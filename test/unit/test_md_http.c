/* test_md_http.c: the bounded libcurl client both modules share (common/md_http.c), against
 * a peer on a loopback port the kernel picks: what is sent (method, headers, body), what is
 * read (status, headers, body), and the bounds (size, time, abort, proxy). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "md_http.h"
#include "md_version.h"
#include "ct_helpers.h"
#include "http_peer.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(md_http_global_init(), APR_SUCCESS);
    unsetenv("http_proxy"); unsetenv("HTTP_PROXY"); unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY"); unsetenv("all_proxy"); unsetenv("ALL_PROXY");
    unsetenv("no_proxy"); unsetenv("NO_PROXY");
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const char *url_of(http_peer_t *pe, const char *path)
{
    return apr_psprintf(pool, "http://127.0.0.1:%d%s", pe->port, path);
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    http_peer_t *pe = http_peer_start(pool, NULL, HTTP_PEER_REPLY, "");
    int port = pe->port;
    http_peer_stop(pe);
    return port;
}

static md_http_t *client(md_http_opts_t *opts)
{
    md_http_t *http;
    ck_assert_int_eq(md_http_create(&http, opts, pool), APR_SUCCESS);
    return http;
}

START_TEST(post_sends_headers_and_body_reads_the_answer)
{
    http_peer_t *pe = http_peer_start(pool, NULL, HTTP_PEER_REPLY,
                                      "HTTP/1.1 201 Created\r\nLocation: /acct/1\r\n"
                                      "Replay-Nonce:  n1 \r\nContent-Length: 5\r\n"
                                      "Connection: close\r\n\r\nhello");
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL, *body = "{\"a\":1}";

    memset(&opts, 0, sizeof(opts));
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "POST", url_of(pe, "/new-acct"),
                                     "application/jose+json", "application/json", body,
                                     strlen(body), pool, &err), APR_SUCCESS);
    http_peer_stop(pe);
    ck_assert_int_eq(resp->status, 201);
    ck_assert_str_eq(resp->body, "hello");
    ck_assert_uint_eq(resp->body_len, 5);
    ck_assert_str_eq(apr_table_get(resp->headers, "location"), "/acct/1");
    ck_assert_str_eq(apr_table_get(resp->headers, "Replay-Nonce"), "n1");
    ck_assert_ptr_nonnull(strstr(pe->request, "POST /new-acct HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->request, "\r\nContent-Type: application/jose+json\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->request, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->request, "\r\nUser-Agent: mod_md/" MD_VERSION "\r\n"));
    ck_assert_ptr_null(strstr(pe->request, "Expect:"));
    ck_assert_str_eq(pe->request + pe->request_len - strlen(body), body);
}
END_TEST

START_TEST(get_with_another_user_agent)
{
    http_peer_t *pe = http_peer_start(pool, NULL, HTTP_PEER_REPLY,
                                      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;

    memset(&opts, 0, sizeof(opts));
    opts.user_agent = "mod_ssl_ct";
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/ct/v1/get-sth"),
                                     NULL, NULL, NULL, 0, pool, &err), APR_SUCCESS);
    http_peer_stop(pe);
    ck_assert_int_eq(resp->status, 404);         /* an HTTP answer, whatever its status */
    ck_assert_str_eq(resp->body, "");
    ck_assert_ptr_nonnull(strstr(pe->request, "GET /ct/v1/get-sth HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->request, "\r\nUser-Agent: mod_ssl_ct\r\n"));
}
END_TEST

START_TEST(answer_larger_than_the_limit_is_refused)
{
    char *big = apr_pcalloc(pool, 3001);
    http_peer_t *pe;
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;

    memset(big, 'x', 3000);
    pe = http_peer_start(pool, NULL, HTTP_PEER_REPLY,
                         apr_psprintf(pool, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n%s", big));
    memset(&opts, 0, sizeof(opts));
    opts.max_body = 1000;
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/big"), NULL, NULL,
                                     NULL, 0, pool, &err), APR_ENOSPC);
    ck_assert_ptr_nonnull(strstr(err, "larger than 1000 bytes"));
    ck_assert_ptr_nonnull(strstr(err, url_of(pe, "/big")));
    /* within the limit, the same answer is taken */
    opts.max_body = 3000;
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/big"), NULL, NULL,
                                     NULL, 0, pool, &err), APR_SUCCESS);
    ck_assert_uint_eq(resp->body_len, 3000);
    http_peer_stop(pe);
}
END_TEST

/* A request to a peer that never answers, within 5 s: the status and the error text. */
static apr_status_t silent_request(md_http_opts_t *opts, const char **perr)
{
    http_peer_t *pe = http_peer_start(pool, NULL, HTTP_PEER_HANG, NULL);
    md_http_response_t *resp;
    apr_time_t start = apr_time_now();
    apr_status_t rv = md_http_request(&resp, client(opts), "GET", url_of(pe, "/"), NULL, NULL,
                                      NULL, 0, pool, perr);
    http_peer_stop(pe);
    ck_assert(apr_time_now() - start < apr_time_from_sec(5));
    ck_assert_ptr_nonnull(strstr(*perr, url_of(pe, "/")));
    return rv;
}

START_TEST(silent_peer_times_out_or_is_aborted)
{
    volatile int aborting = 1;
    md_http_opts_t opts;
    const char *err = NULL;

    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = 300;
    ck_assert_int_eq(silent_request(&opts, &err), APR_TIMEUP);
    /* the server shutting down stops a request in flight long before its timeout */
    opts.timeout_ms = 10000;
    opts.abort_flag = &aborting;
    ck_assert_int_eq(silent_request(&opts, &err), APR_EINTR);
    ck_assert_ptr_nonnull(strstr(err, "aborted"));
}
END_TEST

START_TEST(refused_connection_is_explained)
{
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL, *url = apr_psprintf(pool, "http://127.0.0.1:%d/dir", dead_port());

    memset(&opts, 0, sizeof(opts));
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url, NULL, NULL, NULL, 0, pool,
                                     &err), APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err, url));
    /* only http and https */
    ck_assert_int_ne(md_http_request(&resp, client(&opts), "GET", "file:///etc/passwd", NULL, NULL,
                                     NULL, 0, pool, &err), APR_SUCCESS);
}
END_TEST

/* The proxy: MDHttpProxy's is used and named in errors; the environment's only with
 * env_proxy (mod_ssl_ct), never for mod_md. */
START_TEST(proxy_configured_or_from_the_environment)
{
    http_peer_t *pe = http_peer_start(pool, NULL, HTTP_PEER_REPLY,
                                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL, *dead = apr_psprintf(pool, "http://127.0.0.1:%d", dead_port());

    memset(&opts, 0, sizeof(opts));
    opts.proxy_url = dead;
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/"), NULL, NULL,
                                     NULL, 0, pool, &err), APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(err, "through the proxy"));
    ck_assert_ptr_nonnull(strstr(err, dead));

    setenv("http_proxy", dead, 1);
    memset(&opts, 0, sizeof(opts));
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/"), NULL, NULL,
                                     NULL, 0, pool, &err), APR_SUCCESS);
    ck_assert_str_eq(resp->body, "ok");
    opts.env_proxy = 1;
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/"), NULL, NULL,
                                     NULL, 0, pool, &err), APR_ECONNREFUSED);
    unsetenv("http_proxy");
    http_peer_stop(pe);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { post_sends_headers_and_body_reads_the_answer,
                             get_with_another_user_agent, answer_larger_than_the_limit_is_refused,
                             silent_peer_times_out_or_is_aborted, refused_connection_is_explained,
                             proxy_configured_or_from_the_environment, NULL };
    return th_run("md_http", setup, teardown, tests);
}
