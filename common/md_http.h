/* md_http.h: the HTTP client of both modules, on libcurl (mod_md: ACME, OCSP, tailscale;
 * mod_ssl_ct: add-chain and the log requests of ctauditscts).
 *
 * Owns: one request/response exchange with timeouts, the outgoing proxy (MDHttpProxy),
 * the trust roots for the CA (MDCACertificateFile) and the proxy, a hard limit on
 * the size of what a peer may send us, and HTTP over a local unix socket (tailscaled).
 * Never: interprets bodies (md_acme does), logs, or keeps state between requests other
 * than the reusable curl handle of one md_http_t (so an md_http_t belongs to one thread).
 */
#ifndef MD_HTTP_H
#define MD_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

#define MD_HTTP_MAX_BODY (1024 * 1024)

typedef struct md_http_t md_http_t;

typedef struct md_http_opts_t {
    const char *proxy_url;        /* MDHttpProxy, NULL: none */
    const char *ca_file;          /* MDCACertificateFile, NULL: system roots */
    const char *proxy_ca_file;    /* MDHttpProxyCACertificateFile */
    long connect_timeout_ms;      /* 0: 10s */
    long timeout_ms;              /* whole exchange, 0: 60s */
    apr_size_t max_body;          /* 0: MD_HTTP_MAX_BODY */
    const volatile int *abort_flag; /* when it becomes non-zero, requests in flight stop */
    const char *unix_socket;      /* connect to this unix socket instead of the URL's host
                                   * (which still names the Host header); no proxy then */
    const char *user_agent;       /* NULL: "mod_md/<version>" */
    int env_proxy;                /* without proxy_url: 1 takes the proxy of the environment
                                   * (http_proxy, https_proxy, no_proxy), 0 goes direct */
} md_http_opts_t;

typedef struct md_http_response_t {
    int status;
    apr_table_t *headers;         /* names as sent; lookups are case-insensitive */
    const char *body;             /* NUL-terminated */
    apr_size_t body_len;
} md_http_response_t;

/* Once per process, before any thread exists (libcurl's global init is not thread-safe). */
apr_status_t md_http_global_init(void);

apr_status_t md_http_create(md_http_t **phttp, const md_http_opts_t *opts, apr_pool_t *p);

/* Perform method on url. body may be NULL. On transport failure (no HTTP response at all)
 * returns an error and *perr says what happened, in words meant for the user:
 * APR_ENOSPC when the body exceeded max_body, APR_TIMEUP on timeout, APR_EINTR when
 * aborted through abort_flag, APR_ECONNREFUSED for anything else. */
apr_status_t md_http_request(md_http_response_t **presp, md_http_t *http, const char *method,
                             const char *url, const char *content_type, const char *accept,
                             const char *body, apr_size_t body_len, apr_pool_t *p,
                             const char **perr);

/* Tests and fuzz harnesses only: every request of this process goes to fn instead of the
 * network (fn NULL: libcurl again). fn answers like md_http_request; the limits of the
 * md_http_t still apply to what it returns. Set it before any request runs. */
typedef apr_status_t md_http_transport_fn(md_http_response_t **presp, const char *method,
                                          const char *url, const char *body, apr_size_t body_len,
                                          void *baton, apr_pool_t *p, const char **perr);
void md_http_set_transport(md_http_transport_fn *fn, void *baton);

#endif
