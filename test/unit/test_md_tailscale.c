/* Unit tests of md_tailscale: which configurations are accepted, the reading of tailscaled's
 * key+chain answer (and every way it can be wrong), the exchange over a real unix socket
 * with a small in-process daemon (errors, hangs, aborts), and a whole md_drive_renew run
 * that stages the answer like an ACME result. */
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <apr_thread_proc.h>
#include <openssl/pem.h>

#include "md_unit.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_activate.h"
#include "md_status.h"
#include "md_tailscale.h"
#include "http_peer.h"

#define DAY apr_time_from_sec(86400)

static md_t *make_md(const char *name, const char *name2)
{
    md_t *md = unit_md(name2 ? apr_pstrcat(pool, name, " ", name2, NULL) : name);
    md->ca_proto = "tailscale";
    md->ca_urls = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->ca_urls, const char *) = MD_TAILSCALE_DEFAULT_URL;
    return md;
}

static const md_pkey_spec_t ec_spec = { MD_PKEY_EC, 0, "secp256r1" };
static const md_pkey_spec_t rsa_spec = { MD_PKEY_RSA, 2048, NULL };

static const char *cert_pem(X509 *x)
{
    apr_array_header_t *c = apr_array_make(pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(c, X509 *) = x;
    return md_chain_to_pem(c, pool);
}

/* The key in the "traditional" form tailscaled (Go's x509.MarshalECPrivateKey) writes. */
static const char *key_pem_traditional(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *s;
    ck_assert(PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL) == 1);
    len = BIO_get_mem_data(bio, &data);
    s = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    return s;
}

static const char *key_pem(EVP_PKEY *k)
{
    const char *pem;
    ck_assert_int_eq(md_pkey_to_pem(&pem, k, NULL, 0, pool), APR_SUCCESS);
    return pem;
}

/* key + leaf for names, valid for 'valid' (negative: expired), + a second certificate
 * standing in for the intermediate. */
static const char *make_pair(const md_pkey_spec_t *spec, const char *n1, const char *n2,
                             apr_interval_time_t valid, int traditional, X509 **pleaf)
{
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));
    EVP_PKEY *k, *ik;
    X509 *leaf, *inter;

    APR_ARRAY_PUSH(names, const char *) = n1;
    if (n2) APR_ARRAY_PUSH(names, const char *) = n2;
    ck_assert_int_eq(md_pkey_gen(&k, spec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&leaf, n1, names, k, valid, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_gen(&ik, &ec_spec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&inter, "intermediate", names, ik, 90 * DAY, pool), APR_SUCCESS);
    if (pleaf) *pleaf = leaf;
    return apr_pstrcat(pool, traditional ? key_pem_traditional(k) : key_pem(k), cert_pem(leaf),
                       cert_pem(inter), NULL);
}

static apr_status_t parse(const char *body, const md_t *md, const char **perr)
{
    EVP_PKEY *k;
    apr_array_header_t *chain;
    *perr = NULL;
    return md_tailscale_parse_pair(&k, &chain, body, strlen(body), md, apr_time_now(), pool, perr);
}

/* Remove a directory this test made, with everything in it. */
static void rm_rf(const char *path)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, path, pool) != APR_SUCCESS) return;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *sub = apr_pstrcat(pool, path, "/", fi.name, NULL);
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) continue;
        if (fi.filetype == APR_DIR) rm_rf(sub);
        else apr_file_remove(sub, pool);
    }
    apr_dir_close(d);
    apr_dir_remove(path, pool);
}

/* ---- configuration ---- */

START_TEST(socket_urls)
{
    const char *err = NULL;

    ck_assert_str_eq(md_tailscale_socket_path("file://localhost/var/run/tailscale/tailscaled.sock",
                                              pool, &err), "/var/run/tailscale/tailscaled.sock");
    ck_assert_str_eq(md_tailscale_socket_path("file:///run/ts.sock", pool, &err), "/run/ts.sock");
    ck_assert_str_eq(md_tailscale_socket_path("FILE://LOCALHOST/run/ts.sock", pool, &err), "/run/ts.sock");
    ck_assert_ptr_null(md_tailscale_socket_path("file://other.host/run/ts.sock", pool, &err));
    ck_assert_ptr_nonnull(strstr(err, "other.host"));
    ck_assert_ptr_null(md_tailscale_socket_path("https://acme.example/dir", pool, &err));
    ck_assert_ptr_nonnull(strstr(err, "https://acme.example/dir"));
    ck_assert_ptr_null(md_tailscale_socket_path("file://localhost/", pool, &err));
    ck_assert_ptr_null(md_tailscale_socket_path("file://localhost/run/dir/", pool, &err));
    ck_assert_ptr_null(md_tailscale_socket_path("file://localhost/run/ts.sock?x=1", pool, &err));
    ck_assert_ptr_null(md_tailscale_socket_path("letsencrypt", pool, &err));
}
END_TEST

START_TEST(config_rules)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    apr_array_header_t *specs;
    char *two[] = { "secp256r1", "rsa2048" }, *one[] = { "secp384r1" };
    const char *err;

    ck_assert_ptr_null(md_tailscale_check_md(md, pool));
    /* a global https CA inherited by a tailscale MD */
    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = "https://acme-v02.api.letsencrypt.org/directory";
    err = md_tailscale_check_md(md, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "MDCertificateAuthority 'https://acme-v02"));
    ck_assert_ptr_nonnull(strstr(err, "tailscale"));
    ck_assert_ptr_nonnull(strstr(err, "node.tail1.ts.net"));
    /* two sockets */
    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = MD_TAILSCALE_DEFAULT_URL;
    APR_ARRAY_PUSH(md->ca_urls, const char *) = "file://localhost/other.sock";
    ck_assert_ptr_nonnull(strstr(md_tailscale_check_md(md, pool), "exactly one"));
    md->ca_urls->nelts = 1;
    /* key specs: one is fine (it names the files), two cannot be served */
    ck_assert_ptr_null(md_pkey_specs_parse(pool, 1, one, &specs));
    md->pkey_specs = specs;
    ck_assert_ptr_null(md_tailscale_check_md(md, pool));
    ck_assert_ptr_null(md_pkey_specs_parse(pool, 2, two, &specs));
    md->pkey_specs = specs;
    err = md_tailscale_check_md(md, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "MDPrivateKeys"));
    /* ACME with a socket URL */
    md->pkey_specs = NULL;
    md->ca_proto = "ACME";
    err = md_tailscale_check_md(md, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, MD_TAILSCALE_DEFAULT_URL));
    ck_assert_ptr_nonnull(strstr(err, "MDCertificateProtocol tailscale"));
    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = "https://acme.example/dir";
    ck_assert_ptr_null(md_tailscale_check_md(md, pool));
    ck_assert(md_tailscale_is_proto("TailScale"));
    ck_assert(!md_tailscale_is_proto("ACME"));
    ck_assert(!md_tailscale_is_proto(NULL));
}
END_TEST

/* ---- the answer ---- */

START_TEST(good_pairs)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    EVP_PKEY *k;
    apr_array_header_t *chain;
    const char *err = NULL, *body;
    X509 *leaf;

    /* tailscaled's form: EC key, traditional PEM, then leaf and intermediate */
    body = make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, &leaf);
    ck_assert(!strncmp(body, "-----BEGIN EC PRIVATE KEY-----", 30));
    ck_assert_int_eq(md_tailscale_parse_pair(&k, &chain, body, strlen(body), md, apr_time_now(),
                                             pool, &err), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    ck_assert(X509_cmp(APR_ARRAY_IDX(chain, 0, X509 *), leaf) == 0);
    ck_assert(md_cert_matches_key(leaf, k));
    /* PKCS#8 and RSA are fine too */
    ck_assert_int_eq(parse(make_pair(&rsa_spec, "node.tail1.ts.net", NULL, 90 * DAY, 0, NULL), md, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(parse(make_pair(&rsa_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, NULL), md, &err),
                     APR_SUCCESS);
    /* CRLF line ends */
    {
        const char *s = make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, NULL);
        char *crlf = apr_palloc(pool, strlen(s) * 2 + 1), *o = crlf;
        for (; *s; ++s) {
            if (*s == '\n') *o++ = '\r';
            *o++ = *s;
        }
        *o = '\0';
        ck_assert_int_eq(parse(crlf, md, &err), APR_SUCCESS);
    }
}
END_TEST

START_TEST(bad_answers)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    md_t *md2 = make_md("node.tail1.ts.net", "www.example.org");
    const char *err = NULL, *good = make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, NULL);
    const char *other = make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, NULL);
    const char *key_end = strstr(good, "-----END EC PRIVATE KEY-----\n") + 29;
    const char *okey_end = strstr(other, "-----END EC PRIVATE KEY-----\n") + 29;
    const char *key = apr_pstrndup(pool, good, (apr_size_t)(key_end - good));
    const char *certs = key_end;
    EVP_PKEY *k;
    const char *enc;

    ck_assert_int_eq(parse("", md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not PEM"));
    ck_assert_int_eq(parse("<html>internal error</html>", md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not PEM"));
    /* cut off in the middle of the last certificate, and in the middle of a BEGIN line */
    ck_assert_int_eq(parse(apr_pstrndup(pool, good, strlen(good) - 200), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_int_eq(parse(apr_pstrcat(pool, good, "-----BEGIN CERT", NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    /* base64 garbage inside a block */
    ck_assert_int_eq(parse(apr_pstrcat(pool, key, "-----BEGIN CERTIFICATE-----\n!!!!\n"
                                       "-----END CERTIFICATE-----\n", NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    /* one without the other */
    ck_assert_int_eq(parse(certs, md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no private key"));
    ck_assert_int_eq(parse(key, md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no certificate"));
    /* the key of another pair */
    ck_assert_int_eq(parse(apr_pstrcat(pool, apr_pstrndup(pool, other, (apr_size_t)(okey_end - other)),
                                       certs, NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not belong"));
    ck_assert_int_eq(parse(apr_pstrcat(pool, key, key, certs, NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "more than one private key"));
    /* names: the MD has one the certificate lacks */
    ck_assert_int_eq(parse(good, md2, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not cover www.example.org"));
    ck_assert_ptr_nonnull(strstr(err, "is for node.tail1.ts.net"));
    ck_assert_int_eq(parse(make_pair(&ec_spec, "other.tail1.ts.net", NULL, 90 * DAY, 1, NULL), md, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not cover node.tail1.ts.net"));
    /* expired */
    ck_assert_int_eq(parse(make_pair(&ec_spec, "node.tail1.ts.net", NULL, -DAY, 1, NULL), md, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "expired"));
    /* an encrypted key is of no use */
    ck_assert_int_eq(md_pkey_gen(&k, &ec_spec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_to_pem(&enc, k, (const unsigned char *)"secret", 6, pool), APR_SUCCESS);
    ck_assert_int_eq(parse(apr_pstrcat(pool, enc, certs, NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "encrypted"));
    /* something else in PEM */
    ck_assert_int_eq(parse(apr_pstrcat(pool, good, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
                                       NULL), md, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "X509 CRL"));
}
END_TEST

/* ---- a tailscaled on a unix socket ---- */

static http_peer_t *fake_ts_start(http_peer_mode_t mode, int status, const char *body)
{
    const char *reply = NULL;

    if (body)
        reply = apr_psprintf(pool, "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %lu"
                             "\r\nConnection: close\r\n\r\n%s", status, (unsigned long)strlen(body), body);
    return http_peer_start(pool, "tailscaled.sock", mode, reply);
}

static const char *url_of(http_peer_t *ts)
{
    return apr_pstrcat(pool, "file://localhost", ts->path, NULL);
}

static apr_status_t obtain(http_peer_t *ts, const md_t *md, long timeout_ms, const volatile int *abort_flag,
                           md_result_t **presult)
{
    md_http_opts_t http;
    EVP_PKEY *k;
    apr_array_header_t *chain;
    memset(&http, 0, sizeof(http));
    http.timeout_ms = timeout_ms;
    http.abort_flag = abort_flag;
    *presult = md_result_make(pool);
    return md_tailscale_obtain(&k, &chain, md, url_of(ts), &http, *presult, pool);
}

START_TEST(obtain_over_the_socket)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    http_peer_t *ts = fake_ts_start(HTTP_PEER_REPLY, 200, make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, NULL));
    md_result_t *r;

    ck_assert_int_eq(obtain(ts, md, 5000, NULL, &r), APR_SUCCESS);
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(ts->request, "GET /localapi/v0/cert/node.tail1.ts.net?type=pair HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(ts->request, "\r\nHost: local-tailscaled.sock\r\n"));
    ck_assert_ptr_nonnull(strstr(r->activity, ts->path));
}
END_TEST

START_TEST(daemon_errors_are_explained)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    http_peer_t *ts;
    md_result_t *r;
    const char *file;

    /* tailscaled's refusal: status and text reach the user */
    ts = fake_ts_start(HTTP_PEER_REPLY, 404, "invalid domain \"node.tail1.ts.net\"; must be one of "
                       "[\"other.tail1.ts.net\"]\n");
    ck_assert_int_eq(obtain(ts, md, 5000, NULL, &r), APR_ENOENT);
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(r->detail, "HTTP status 404"));
    ck_assert_ptr_nonnull(strstr(r->detail, "must be one of [\"other.tail1.ts.net\"]"));
    ck_assert_ptr_nonnull(strstr(md_result_describe(r, pool), "asking tailscaled"));
    /* 200 with garbage */
    ts = fake_ts_start(HTTP_PEER_REPLY, 200, "certificate coming soon");
    ck_assert_int_eq(obtain(ts, md, 5000, NULL, &r), APR_EINVAL);
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(r->detail, "unusable: it is not PEM"));
    /* the connection is closed without an answer */
    ts = fake_ts_start(HTTP_PEER_CLOSE, 0, NULL);
    ck_assert_int_ne(obtain(ts, md, 5000, NULL, &r), APR_SUCCESS);
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(r->detail, "no answer from tailscaled"));
    /* no daemon at all */
    ts = fake_ts_start(HTTP_PEER_CLOSE, 0, NULL);
    http_peer_stop(ts);
    ck_assert_int_eq(obtain(ts, md, 5000, NULL, &r), APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(r->detail, "does not exist"));
    ck_assert_ptr_nonnull(strstr(r->detail, ts->path));
    /* a file that is no socket */
    file = apr_pstrcat(pool, tmp_dir(), "/plain", NULL);
    ck_assert_int_eq(md_util_file_write_atomic(file, "x", 1, 0x0644, pool), APR_SUCCESS);
    ts->path = file;
    ck_assert_int_ne(obtain(ts, md, 5000, NULL, &r), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(r->detail, "is not a unix socket"));
    unlink(file);
    rmdir(apr_pstrndup(pool, file, strlen(file) - strlen("/plain")));
}
END_TEST

START_TEST(hanging_daemon_times_out)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    http_peer_t *ts = fake_ts_start(HTTP_PEER_HANG, 0, NULL);
    apr_time_t start = apr_time_now();
    md_result_t *r;

    ck_assert_int_eq(obtain(ts, md, 500, NULL, &r), APR_TIMEUP);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_sec(3));
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(r->detail, "did not answer within 500ms"));
}
END_TEST

static volatile int abort_flag;

static void *APR_THREAD_FUNC set_abort_later(apr_thread_t *t, void *data)
{
    (void)t; (void)data;
    apr_sleep(apr_time_from_msec(300));
    abort_flag = 1;
    return NULL;
}

START_TEST(hanging_daemon_aborted_at_shutdown)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    http_peer_t *ts = fake_ts_start(HTTP_PEER_HANG, 0, NULL);
    apr_time_t start = apr_time_now();
    apr_thread_t *t;
    apr_status_t trv;
    md_result_t *r;

    abort_flag = 0;
    ck_assert_int_eq(apr_thread_create(&t, NULL, set_abort_later, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(obtain(ts, md, 60000, &abort_flag, &r), APR_EINTR);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_sec(3));
    apr_thread_join(&trv, t);
    http_peer_stop(ts);
    ck_assert_ptr_nonnull(strstr(r->detail, "aborted"));
}
END_TEST

/* ---- a whole renewal run through md_drive ---- */

static md_drive_env_t *drive_env(md_store_t **pstore)
{
    md_drive_env_t *env = apr_pcalloc(pool, sizeof(*env));
    const char *err = NULL;
    ck_assert_int_eq(md_store_open(pstore, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(*pstore, pool), APR_SUCCESS);
    env->store = *pstore;
    env->http.timeout_ms = 5000;
    env->retry_delay = apr_time_from_sec(5);
    env->retry_failover = 13;
    return env;
}

START_TEST(renewal_stages_like_acme)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    md_store_t *store;
    md_drive_env_t *env = drive_env(&store);
    X509 *leaf;
    http_peer_t *ts = fake_ts_start(HTTP_PEER_REPLY, 200, make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, &leaf));
    md_job_t *job;
    apr_array_header_t *chain;
    EVP_PKEY *k;

    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = url_of(ts);
    job = md_job_load(store, md->name, pool);
    ck_assert_int_eq(md_drive_renew(env, md, job, NULL, pool), APR_SUCCESS);
    http_peer_stop(ts);
    /* staging/ holds what an ACME run leaves: key (encrypted), chain, md.json, job.json */
    ck_assert_int_eq(md_chain_load(&chain, md_store_path(store, MD_SG_STAGING, md->name, "pubcert.pem", pool),
                                   pool), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    ck_assert(X509_cmp(APR_ARRAY_IDX(chain, 0, X509 *), leaf) == 0);
    ck_assert_int_eq(md_store_load_pkey(store, MD_SG_STAGING, md->name, "privkey.pem", &k, pool), APR_SUCCESS);
    ck_assert(md_cert_matches_key(leaf, k));
    ck_assert(md_util_file_exists(md_store_path(store, MD_SG_STAGING, md->name, "md.json", pool), pool));
    job = md_job_load(store, md->name, pool);
    ck_assert(job->finished);
    ck_assert_int_eq(job->errors, 0);
    /* on success renewal.last is {status: 0, valid-from}, as with the reference */
    ck_assert_int_eq(job->last->status, APR_SUCCESS);
    ck_assert(job->last->ready_at > 0);
    ck_assert_int_eq(md_job_log_last(job, "certificate") > 0, 1);
    /* and the parent activates it like any staged set */
    {
        const char *msg = NULL;
        ck_assert_int_eq(md_activate_staged(store, md, 0, pool, &msg), APR_SUCCESS);
        ck_assert_ptr_nonnull(strstr(msg, "activated"));
        ck_assert(md_util_file_exists(md_store_path(store, MD_SG_DOMAINS, md->name, "pubcert.pem", pool), pool));
    }
    rm_rf(store->base);
}
END_TEST

START_TEST(renewal_errors_stage_nothing)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    md_store_t *store;
    md_drive_env_t *env = drive_env(&store);
    http_peer_t *ts = fake_ts_start(HTTP_PEER_REPLY, 403, "access denied: cert access denied\n");
    md_job_t *job;

    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = url_of(ts);
    job = md_job_load(store, md->name, pool);
    ck_assert_int_ne(md_drive_renew(env, md, job, NULL, pool), APR_SUCCESS);
    http_peer_stop(ts);
    job = md_job_load(store, md->name, pool);
    ck_assert(!job->finished);
    ck_assert_int_eq(job->errors, 1);
    ck_assert_int_gt(job->next_run, apr_time_now());
    ck_assert_ptr_nonnull(strstr(job->last->detail, "HTTP status 403"));
    ck_assert_ptr_nonnull(strstr(job->last->detail, "cert access denied"));
    ck_assert(!md_util_file_exists(md_store_path(store, MD_SG_STAGING, md->name, "pubcert.pem", pool), pool));
    ck_assert(!md_util_file_exists(md_store_path(store, MD_SG_STAGING, md->name, "privkey.pem", pool), pool));
    rm_rf(store->base);
}
END_TEST

START_TEST(same_certificate_again_is_no_renewal)
{
    md_t *md = make_md("node.tail1.ts.net", NULL);
    md_store_t *store;
    md_drive_env_t *env = drive_env(&store);
    X509 *leaf;
    http_peer_t *ts = fake_ts_start(HTTP_PEER_REPLY, 200, make_pair(&ec_spec, "node.tail1.ts.net", NULL, 90 * DAY, 1, &leaf));
    md_job_t *job;

    /* the parent found this very certificate in use */
    md->rt_certs = apr_pcalloc(pool, sizeof(*md->rt_certs));
    md->rt_certs[0] = md_status_cert_info(leaf, NULL, pool);
    APR_ARRAY_IDX(md->ca_urls, 0, const char *) = url_of(ts);
    job = md_job_load(store, md->name, pool);
    ck_assert_int_eq(md_drive_renew(env, md, job, NULL, pool), APR_EAGAIN);
    http_peer_stop(ts);
    job = md_job_load(store, md->name, pool);
    ck_assert(!job->finished);
    ck_assert_ptr_nonnull(strstr(job->last->detail, "has not renewed it yet"));
    ck_assert(!md_util_file_exists(md_store_path(store, MD_SG_STAGING, md->name, "pubcert.pem", pool), pool));
    rm_rf(store->base);
}
END_TEST

static Suite *tailscale_suite(void)
{
    Suite *s = suite_create("md_tailscale");
    TCase *tc = tcase_create("tailscale");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, socket_urls);
    tcase_add_test(tc, config_rules);
    tcase_add_test(tc, good_pairs);
    tcase_add_test(tc, bad_answers);
    tcase_add_test(tc, obtain_over_the_socket);
    tcase_add_test(tc, daemon_errors_are_explained);
    tcase_add_test(tc, hanging_daemon_times_out);
    tcase_add_test(tc, hanging_daemon_aborted_at_shutdown);
    tcase_add_test(tc, renewal_stages_like_acme);
    tcase_add_test(tc, renewal_errors_stage_nothing);
    tcase_add_test(tc, same_certificate_again_is_no_renewal);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(tailscale_suite)
