/* test_md_http.c: the bounded libcurl client both modules share (common/md_http.c), against
 * a peer on a loopback port the kernel picks: what is sent (method, headers, body), what is
 * read (status, headers, body), and the bounds (size, time, abort, proxy). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "md_http.h"
#include "md_version.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(md_http_global_init(), APR_SUCCESS);
    unsetenv("http_proxy"); unsetenv("HTTP_PROXY"); unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY"); unsetenv("all_proxy"); unsetenv("ALL_PROXY");
    unsetenv("no_proxy"); unsetenv("NO_PROXY");
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* ---- a peer that reads one request per connection and answers with reply (or, silent,
 *      keeps the connection open without a word until stopped) ---- */
typedef struct {
    int fd, port, silent;
    const char *reply;
    volatile int stop;
    char req[16384];
    volatile size_t req_len;
    apr_thread_t *thread;
} peer_t;

static void *APR_THREAD_FUNC peer_run(apr_thread_t *t, void *data)
{
    peer_t *pe = data;
    (void)t;

    while (!pe->stop) {
        struct pollfd pfd = { pe->fd, POLLIN, 0 };
        size_t got = 0, off = 0, len = strlen(pe->reply);
        const char *end, *cl;
        int c;

        if (poll(&pfd, 1, 50) <= 0 || (c = accept(pe->fd, NULL, NULL)) < 0) continue;
        pe->req[0] = '\0';
        for (;;) {       /* the head, then Content-Length bytes of body */
            ssize_t n;
            if ((end = strstr(pe->req, "\r\n\r\n")) != NULL) {
                size_t want = (size_t)(end + 4 - pe->req);
                if ((cl = strstr(pe->req, "Content-Length: ")) != NULL && cl < end)
                    want += (size_t)atol(cl + 16);
                if (got >= want) break;
            }
            if (got >= sizeof(pe->req) - 1 || (n = read(c, pe->req + got, sizeof(pe->req) - 1 - got)) <= 0)
                break;
            got += (size_t)n;
            pe->req[got] = '\0';
        }
        pe->req_len = got;
        while (pe->silent && !pe->stop) usleep(10000);
        while (!pe->silent && off < len) {
            ssize_t n = write(c, pe->reply + off, len - off);
            if (n <= 0) break;
            off += (size_t)n;
        }
        close(c);
    }
    return NULL;
}

static peer_t *peer_start(const char *reply, int silent)
{
    peer_t *pe = apr_pcalloc(pool, sizeof(*pe));
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);

    pe->reply = reply ? reply : "";
    pe->silent = silent;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pe->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(pe->fd, 0);
    ck_assert_int_eq(bind(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(pe->fd, (struct sockaddr *)&sa, &salen), 0);
    pe->port = ntohs(sa.sin_port);
    ck_assert_int_eq(listen(pe->fd, 4), 0);
    ck_assert_int_eq(apr_thread_create(&pe->thread, NULL, peer_run, pe, pool), APR_SUCCESS);
    return pe;
}

static void peer_stop(peer_t *pe)
{
    apr_status_t trv;
    pe->stop = 1;
    apr_thread_join(&trv, pe->thread);
    close(pe->fd);
}

static const char *url_of(peer_t *pe, const char *path)
{
    return apr_psprintf(pool, "http://127.0.0.1:%d%s", pe->port, path);
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    peer_t *pe = peer_start("", 0);
    int port = pe->port;
    peer_stop(pe);
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
    peer_t *pe = peer_start("HTTP/1.1 201 Created\r\nLocation: /acct/1\r\nReplay-Nonce:  n1 \r\n"
                            "Content-Length: 5\r\nConnection: close\r\n\r\nhello", 0);
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL, *body = "{\"a\":1}";

    memset(&opts, 0, sizeof(opts));
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "POST", url_of(pe, "/new-acct"),
                                     "application/jose+json", "application/json", body,
                                     strlen(body), pool, &err), APR_SUCCESS);
    peer_stop(pe);
    ck_assert_int_eq(resp->status, 201);
    ck_assert_str_eq(resp->body, "hello");
    ck_assert_uint_eq(resp->body_len, 5);
    ck_assert_str_eq(apr_table_get(resp->headers, "location"), "/acct/1");
    ck_assert_str_eq(apr_table_get(resp->headers, "Replay-Nonce"), "n1");
    ck_assert_ptr_nonnull(strstr(pe->req, "POST /new-acct HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->req, "\r\nContent-Type: application/jose+json\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->req, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->req, "\r\nUser-Agent: mod_md/" MD_VERSION "\r\n"));
    ck_assert_ptr_null(strstr(pe->req, "Expect:"));
    ck_assert_str_eq(pe->req + pe->req_len - strlen(body), body);
}
END_TEST

START_TEST(get_with_another_user_agent)
{
    peer_t *pe = peer_start("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0);
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;

    memset(&opts, 0, sizeof(opts));
    opts.user_agent = "mod_ssl_ct";
    ck_assert_int_eq(md_http_request(&resp, client(&opts), "GET", url_of(pe, "/ct/v1/get-sth"),
                                     NULL, NULL, NULL, 0, pool, &err), APR_SUCCESS);
    peer_stop(pe);
    ck_assert_int_eq(resp->status, 404);         /* an HTTP answer, whatever its status */
    ck_assert_str_eq(resp->body, "");
    ck_assert_ptr_nonnull(strstr(pe->req, "GET /ct/v1/get-sth HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(pe->req, "\r\nUser-Agent: mod_ssl_ct\r\n"));
}
END_TEST

START_TEST(answer_larger_than_the_limit_is_refused)
{
    char *big = apr_pcalloc(pool, 3001);
    peer_t *pe;
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;

    memset(big, 'x', 3000);
    pe = peer_start(apr_psprintf(pool, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n%s", big), 0);
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
    peer_stop(pe);
}
END_TEST

START_TEST(silent_peer_times_out)
{
    peer_t *pe = peer_start(NULL, 1);
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;
    apr_time_t start = apr_time_now();
    apr_status_t rv;

    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = 300;
    rv = md_http_request(&resp, client(&opts), "GET", url_of(pe, "/"), NULL, NULL, NULL, 0,
                         pool, &err);
    peer_stop(pe);
    ck_assert_int_eq(rv, APR_TIMEUP);
    ck_assert(apr_time_now() - start < apr_time_from_sec(3));
    ck_assert_ptr_nonnull(strstr(err, url_of(pe, "/")));
}
END_TEST

START_TEST(abort_flag_stops_a_request)
{
    peer_t *pe = peer_start(NULL, 1);
    volatile int aborting = 1;
    md_http_opts_t opts;
    md_http_response_t *resp;
    const char *err = NULL;
    apr_time_t start = apr_time_now();
    apr_status_t rv;

    memset(&opts, 0, sizeof(opts));
    opts.abort_flag = &aborting;
    opts.timeout_ms = 10000;
    rv = md_http_request(&resp, client(&opts), "GET", url_of(pe, "/"), NULL, NULL, NULL, 0,
                         pool, &err);
    peer_stop(pe);
    ck_assert_int_eq(rv, APR_EINTR);
    ck_assert(apr_time_now() - start < apr_time_from_sec(5));
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
    peer_t *pe = peer_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
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
    peer_stop(pe);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_http");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, post_sends_headers_and_body_reads_the_answer);
    tcase_add_test(tc, get_with_another_user_agent);
    tcase_add_test(tc, answer_larger_than_the_limit_is_refused);
    tcase_add_test(tc, silent_peer_times_out);
    tcase_add_test(tc, abort_flag_stops_a_request);
    tcase_add_test(tc, refused_connection_is_explained);
    tcase_add_test(tc, proxy_configured_or_from_the_environment);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
