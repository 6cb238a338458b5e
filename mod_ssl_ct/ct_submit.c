/* ct_submit.c: add-chain over the shared HTTP client (md_http) + jansson, and the external
 * CTLogClient; see ct_submit.h. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "ct_submit.h"
#include "ct_sct.h"
#include "md_http.h"

static long b64_decode(apr_pool_t *p, const char *s, unsigned char **pout)
{
    size_t slen = strlen(s);
    unsigned char *buf;
    int n, pad = 0;

    if (slen % 4) return -1;
    if (slen == 0) { *pout = NULL; return 0; }
    buf = apr_palloc(p, slen / 4 * 3 + 1);
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)slen);
    if (n < 0) return -1;
    if (s[slen - 1] == '=') ++pad;
    if (slen > 1 && s[slen - 2] == '=') ++pad;
    *pout = buf;
    return n - pad;
}

apr_status_t ct_submit_json_to_sct(ct_blob_t *sct, const char *json, apr_size_t len,
                                   apr_pool_t *p, const char **perr)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *ver, *id, *ts, *ext, *sig;
    unsigned char *idb = NULL, *extb = NULL, *sigb = NULL, *buf;
    long idlen, extlen = 0, siglen;
    json_int_t t;
    apr_size_t pos = 0;
    apr_status_t rv = APR_EINVAL;
    int i;

    if (root == NULL || !json_is_object(root)) {
        *perr = apr_psprintf(p, "log answer is not a JSON object: %s", jerr.text);
        goto out;
    }
    ver = json_object_get(root, "sct_version");
    id = json_object_get(root, "id");
    ts = json_object_get(root, "timestamp");
    ext = json_object_get(root, "extensions");
    sig = json_object_get(root, "signature");
    if (!json_is_integer(ver) || json_integer_value(ver) != 0) {
        *perr = "log answer: sct_version missing or not 0";
        goto out;
    }
    if (!json_is_string(id) || (idlen = b64_decode(p, json_string_value(id), &idb))
        != CT_LOG_ID_LEN) {
        *perr = "log answer: id is not the base64 of 32 bytes";
        goto out;
    }
    if (!json_is_integer(ts) || (t = json_integer_value(ts)) < 0) {
        *perr = "log answer: timestamp missing or negative";
        goto out;
    }
    if (ext && !json_is_null(ext)) {
        if (!json_is_string(ext) || (extlen = b64_decode(p, json_string_value(ext), &extb)) < 0
            || extlen > 0xffff) {
            *perr = "log answer: extensions is not valid base64";
            goto out;
        }
    }
    if (!json_is_string(sig) || (siglen = b64_decode(p, json_string_value(sig), &sigb)) < 4
        || siglen > CT_SCT_MAX_LEN) {
        *perr = "log answer: signature missing or not valid base64";
        goto out;
    }
    if (1 + CT_LOG_ID_LEN + 8 + 2 + (apr_size_t)extlen + (apr_size_t)siglen > CT_SCT_MAX_LEN) {
        *perr = "log answer: SCT too large";
        goto out;
    }
    buf = apr_palloc(p, 1 + CT_LOG_ID_LEN + 8 + 2 + (apr_size_t)extlen + (apr_size_t)siglen);
    buf[pos++] = 0;
    memcpy(buf + pos, idb, CT_LOG_ID_LEN);
    pos += CT_LOG_ID_LEN;
    for (i = 7; i >= 0; --i) buf[pos++] = (unsigned char)((apr_uint64_t)t >> (8 * i));
    buf[pos++] = (unsigned char)(extlen >> 8);
    buf[pos++] = (unsigned char)extlen;
    if (extlen) memcpy(buf + pos, extb, (apr_size_t)extlen);
    pos += (apr_size_t)extlen;
    memcpy(buf + pos, sigb, (apr_size_t)siglen);
    pos += (apr_size_t)siglen;
    if (ct_sct_parse(NULL, buf, pos) != APR_SUCCESS) {
        *perr = "log answer does not make a well-formed SCT (bad digitally-signed struct)";
        goto out;
    }
    sct->data = buf;
    sct->len = pos;
    rv = APR_SUCCESS;
out:
    json_decref(root);
    return rv;
}

/* One exchange with a log through the shared client (common/md_http.h): the bounds of
 * ct_submit.h, the proxy of the environment (as libcurl takes it), and a handle that does
 * not outlive the call. */
static apr_status_t log_request(md_http_response_t **presp, const char *method, const char *url,
                                const char *body, long timeout_s, const char *ca_file,
                                apr_pool_t *p, const char **perr)
{
    md_http_opts_t opts;
    md_http_t *http;
    apr_pool_t *hp;
    apr_status_t rv;

    memset(&opts, 0, sizeof(opts));
    opts.ca_file = ca_file;
    opts.connect_timeout_ms = (timeout_s < 5 ? timeout_s : 5) * 1000;
    opts.timeout_ms = timeout_s * 1000;
    opts.max_body = CT_SUBMIT_MAX_BODY;
    opts.user_agent = "mod_ssl_ct";
    opts.env_proxy = 1;
    if ((rv = apr_pool_create(&hp, p)) != APR_SUCCESS) {
        *perr = "out of memory";
        return rv;
    }
    rv = md_http_create(&http, &opts, hp);
    if (rv == APR_SUCCESS)
        rv = md_http_request(presp, http, method, url, body ? "application/json" : NULL, NULL,
                             body, body ? strlen(body) : 0, p, perr);
    else *perr = "out of memory";
    apr_pool_destroy(hp);
    return rv;
}

apr_status_t ct_submit_add_chain(ct_blob_t *sct, const char *url,
                                 const apr_array_header_t *chain, long timeout_s,
                                 const char *ca_file, apr_pool_t *p, const char **perr)
{
    json_t *req = json_object(), *arr = json_array();
    char *body = NULL;
    const char *endpoint;
    md_http_response_t *resp;
    apr_status_t rv = APR_EGENERAL;
    int i;

    for (i = 0; i < chain->nelts; ++i) {
        const ct_blob_t *c = &APR_ARRAY_IDX(chain, i, ct_blob_t);
        unsigned char *b64 = apr_palloc(p, 4 * (c->len / 3 + 1) + 1);
        EVP_EncodeBlock(b64, c->data, (int)c->len);
        json_array_append_new(arr, json_string((const char *)b64));
    }
    json_object_set_new(req, "chain", arr);
    body = json_dumps(req, JSON_COMPACT);
    endpoint = apr_pstrcat(p, url, url[strlen(url) - 1] == '/' ? "" : "/", "ct/v1/add-chain",
                           NULL);
    if (!body) {
        *perr = "out of memory";
        goto out;
    }
    rv = log_request(&resp, "POST", endpoint, body, timeout_s, ca_file, p, perr);
    if (rv != APR_SUCCESS) {
        if (!APR_STATUS_IS_TIMEUP(rv)) rv = APR_EGENERAL;
        goto out;
    }
    if (resp->status != 200) {
        *perr = apr_psprintf(p, "%s: HTTP status %d", endpoint, resp->status);
        rv = APR_EGENERAL;
        goto out;
    }
    rv = ct_submit_json_to_sct(sct, resp->body, resp->body_len, p, perr);
    if (rv != APR_SUCCESS) *perr = apr_psprintf(p, "%s: %s", endpoint, *perr);
out:
    free(body);
    json_decref(req);
    return rv;
}

apr_status_t ct_submit_http_get(int *pstatus, char **pbody, apr_size_t *plen, const char *url,
                                long timeout_s, apr_pool_t *p, const char **perr)
{
    md_http_response_t *resp;
    apr_status_t rv = log_request(&resp, "GET", url, NULL, timeout_s, NULL, p, perr);

    if (rv != APR_SUCCESS) return APR_STATUS_IS_ENOSPC(rv) ? APR_EINVAL : APR_EGENERAL;
    *pstatus = resp->status;
    *pbody = apr_pstrmemdup(p, resp->body, resp->body_len);
    *plen = resp->body_len;
    return APR_SUCCESS;
}

const char *const *ct_submit_client_argv(apr_pool_t *p, const char *client, const char *url,
                                         const char *certs_pem, const char *out_file,
                                         const char *key_file)
{
    const char **argv = apr_pcalloc(p, 9 * sizeof(char *));
    int n = 0;

    argv[n++] = client;
    argv[n++] = apr_pstrcat(p, "--ct_server=", url, NULL);
    argv[n++] = "--logtostderr=true";
    argv[n++] = apr_pstrcat(p, "--ct_server_submission=", certs_pem, NULL);
    argv[n++] = apr_pstrcat(p, "--ct_server_response_out=", out_file, NULL);
    if (key_file) argv[n++] = apr_pstrcat(p, "--ct_server_public_key=", key_file, NULL);
    argv[n++] = "upload";
    argv[n] = NULL;
    return argv;
}

apr_status_t ct_submit_run(const char *const *argv, long timeout_s, apr_pool_t *p,
                           const char **perr)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_exit_why_e why;
    int code = 0;
    apr_time_t end = apr_time_now() + apr_time_from_sec(timeout_s);
    apr_status_t rv;

    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_NO_PIPE, APR_NO_PIPE))
           != APR_SUCCESS
        || (rv = apr_proc_create(&proc, argv[0], argv, NULL, attr, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot run %s", argv[0]);
        return rv;
    }
    for (;;) {
        rv = apr_proc_wait(&proc, &code, &why, APR_NOWAIT);
        if (rv == APR_CHILD_DONE) break;
        if (apr_time_now() > end) {
            apr_proc_kill(&proc, 9);
            apr_proc_wait(&proc, &code, &why, APR_WAIT);
            *perr = apr_psprintf(p, "%s did not finish within %lds, killed", argv[0],
                                 timeout_s);
            return APR_TIMEUP;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    if (why != APR_PROC_EXIT || code != 0) {
        *perr = apr_psprintf(p, "%s failed (%s %d)", argv[0],
                             why == APR_PROC_EXIT ? "exit" : "signal", code);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
