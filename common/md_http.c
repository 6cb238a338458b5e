/* md_http.c: the bounded libcurl client of both modules; see md_http.h. */
#include <string.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "md_http.h"
#include "md_version.h"

struct md_http_t {
    apr_pool_t *p;
    md_http_opts_t opts;
    CURL *curl;
};

/* What one exchange collects; lives in the request's pool. */
typedef struct {
    apr_pool_t *p;
    apr_table_t *headers;
    char *body;
    apr_size_t len, cap, max;
    int too_large;
} exchange_t;

/* md_http_set_transport(): the scripted peer of a test, NULL in production */
static md_http_transport_fn *transport;
static void *transport_baton;

void md_http_set_transport(md_http_transport_fn *fn, void *baton)
{
    transport = fn;
    transport_baton = baton;
}

apr_status_t md_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t curl_cleanup(void *data)
{
    curl_easy_cleanup(data);
    return APR_SUCCESS;
}

apr_status_t md_http_create(md_http_t **phttp, const md_http_opts_t *opts, apr_pool_t *p)
{
    md_http_t *http = apr_pcalloc(p, sizeof(*http));

    http->p = p;
    if (opts) http->opts = *opts;
    if (!http->opts.connect_timeout_ms) http->opts.connect_timeout_ms = 10000;
    if (!http->opts.timeout_ms) http->opts.timeout_ms = 60000;
    if (!http->opts.max_body) http->opts.max_body = MD_HTTP_MAX_BODY;
    http->curl = curl_easy_init();
    if (!http->curl) return APR_ENOMEM;
    apr_pool_cleanup_register(p, http->curl, curl_cleanup, apr_pool_cleanup_null);
    *phttp = http;
    return APR_SUCCESS;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    exchange_t *x = baton;
    size_t n = size * nmemb;

    if (x->len + n > x->max) {
        x->too_large = 1;
        return 0;              /* makes curl fail the transfer with a write error */
    }
    if (x->len + n + 1 > x->cap) {
        apr_size_t cap = x->cap ? x->cap : 4096;
        char *nb;
        while (cap < x->len + n + 1) cap *= 2;
        nb = apr_palloc(x->p, cap);
        if (x->len) memcpy(nb, x->body, x->len);
        x->body = nb;
        x->cap = cap;
    }
    memcpy(x->body + x->len, data, n);
    x->len += n;
    x->body[x->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    exchange_t *x = baton;
    size_t n = size * nmemb;
    const char *colon = memchr(data, ':', n);

    if (!strncmp(data, "HTTP/", 5)) apr_table_clear(x->headers);  /* a new response (redirect, 100) */
    else if (colon) {
        const char *v = colon + 1, *end = data + n;
        while (v < end && (*v == ' ' || *v == '\t')) ++v;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) --end;
        apr_table_addn(x->headers, apr_pstrndup(x->p, data, (apr_size_t)(colon - data)),
                       apr_pstrndup(x->p, v, (apr_size_t)(end - v)));
    }
    return n;
}

static int on_progress(void *baton, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const volatile int *abort_flag = baton;
    (void)dt; (void)dn; (void)ut; (void)un;
    return abort_flag && *abort_flag ? 1 : 0;
}

apr_status_t md_http_request(md_http_response_t **presp, md_http_t *http, const char *method,
                             const char *url, const char *content_type, const char *accept,
                             const char *body, apr_size_t body_len, apr_pool_t *p,
                             const char **perr)
{
    CURL *c = http->curl;
    struct curl_slist *hdrs = NULL;
    exchange_t x;
    md_http_response_t *resp;
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURLcode cc;
    apr_status_t rv = APR_SUCCESS;

    if (transport) {
        rv = transport(presp, method, url, body, body_len, transport_baton, p, perr);
        if (rv == APR_SUCCESS && (*presp)->body_len > http->opts.max_body) {
            *perr = apr_psprintf(p, "%s %s: the response is larger than %lu bytes, refused",
                                 method, url, (unsigned long)http->opts.max_body);
            rv = APR_ENOSPC;
        }
        return rv;
    }
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.headers = apr_table_make(p, 10);
    x.max = http->opts.max_body;
    errbuf[0] = '\0';

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, http->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, http->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT,
                     http->opts.user_agent ? http->opts.user_agent : "mod_md/" MD_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (http->opts.abort_flag) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)http->opts.abort_flag);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (http->opts.ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, http->opts.ca_file);
    if (http->opts.unix_socket) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, http->opts.unix_socket);
        curl_easy_setopt(c, CURLOPT_PROXY, "");   /* a local socket is never proxied */
    }
    else if (http->opts.proxy_url) {
        curl_easy_setopt(c, CURLOPT_PROXY, http->opts.proxy_url);
        if (http->opts.proxy_ca_file) curl_easy_setopt(c, CURLOPT_PROXY_CAINFO, http->opts.proxy_ca_file);
    }
    else if (!http->opts.env_proxy) {
        curl_easy_setopt(c, CURLOPT_PROXY, "");   /* no proxy from the environment either */
    }
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
    else if (strcmp(method, "GET")) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (content_type) hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "Content-Type: ", content_type, NULL));
    if (accept) hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "Accept: ", accept, NULL));
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    cc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        if (x.too_large)
            *perr = apr_psprintf(p, "%s %s: the response is larger than %lu bytes, refused",
                                 method, url, (unsigned long)x.max);
        else if (cc == CURLE_ABORTED_BY_CALLBACK)
            *perr = apr_psprintf(p, "%s %s: aborted (server shutting down)", method, url);
        else if (http->opts.unix_socket)
            *perr = apr_psprintf(p, "%s %s over the unix socket %s: %s", method, url,
                                 http->opts.unix_socket, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else if (http->opts.proxy_url)
            *perr = apr_psprintf(p, "%s %s through the proxy %s (MDHttpProxy): %s", method, url,
                                 http->opts.proxy_url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
            *perr = apr_psprintf(p, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rv = x.too_large ? APR_ENOSPC : cc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP
             : cc == CURLE_ABORTED_BY_CALLBACK ? APR_EINTR : APR_ECONNREFUSED;
        goto leave;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = (int)status;
    resp->headers = x.headers;
    resp->body = x.body ? x.body : "";
    resp->body_len = x.len;
    *presp = resp;
leave:
    return rv;
}
