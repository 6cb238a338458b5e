/* ct_store.c: SCT store files and collation; see ct_store.h. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <openssl/evp.h>

#include "ct_store.h"
#include "ct_sct_verify.h"

apr_status_t ct_store_read_file(unsigned char **pdata, apr_size_t *plen, const char *path,
                                apr_size_t max_len, apr_pool_t *p)
{
    char *data;
    apr_status_t rv = md_file_read(&data, plen, path, max_len, p);

    if (rv == APR_SUCCESS) *pdata = (unsigned char *)data;
    return rv;
}

const char *ct_store_cert_name(apr_pool_t *p, X509 *leaf)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!X509_digest(leaf, EVP_sha256(), md, &mdlen)) return NULL;
    return ct_hex(p, md, mdlen);
}

const char *ct_store_auto_name(apr_pool_t *p, const char *url)
{
    const char *rest = strstr(url, "://");
    const char *host, *port = NULL, *path;
    char *name, *c;
    int https = !strncasecmp(url, "https", 5);

    rest = rest ? rest + 3 : url;
    path = strchr(rest, '/');
    host = path ? apr_pstrmemdup(p, rest, (apr_size_t)(path - rest)) : rest;
    if (host[0] != '[' && (c = strchr(host, ':')) != NULL) {
        port = c + 1;
        host = apr_pstrmemdup(p, host, (apr_size_t)(c - host));
    }
    if (!port || !*port) port = https ? "443" : "80";
    if (!path || !*path) path = "/";
    name = apr_psprintf(p, "AUTO_%s_%s_%s.sct", host, port, path);
    for (c = name; *c; ++c) {
        if (strchr(":/\\*?<>\"|", *c)) *c = '-';
    }
    return name;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const ct_sct_file_t *)a)->name, ((const ct_sct_file_t *)b)->name);
}

apr_status_t ct_store_read_scts(apr_array_header_t **pfiles, const char *dir,
                                const char *prefix, const char *exclude_prefix,
                                apr_array_header_t *errs, apr_pool_t *p)
{
    apr_array_header_t *files = apr_array_make(p, 4, sizeof(ct_sct_file_t));
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;

    *pfiles = files;
    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv)) return APR_SUCCESS;
    if (rv != APR_SUCCESS) return rv;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_MTIME, d)
           == APR_SUCCESS) {
        apr_size_t nlen = strlen(fi.name);
        const char *path;
        unsigned char *data = NULL;
        apr_size_t len = 0;
        ct_sct_file_t *sf;

        if (fi.filetype != APR_REG && fi.filetype != APR_LNK) continue;
        if (nlen < 5 || strcmp(fi.name + nlen - 4, ".sct") || fi.name[0] == '.') continue;
        if (prefix && strncmp(fi.name, prefix, strlen(prefix))) continue;
        if (exclude_prefix && !strncmp(fi.name, exclude_prefix, strlen(exclude_prefix)))
            continue;
        path = apr_pstrcat(p, dir, "/", fi.name, NULL);
        rv = ct_store_read_file(&data, &len, path, CT_SCT_MAX_LEN, p);
        if (rv != APR_SUCCESS) {
            if (errs) APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                "%s: %s", path, rv == APR_EINVAL ? "larger than any SCT can be"
                                                 : "cannot be read");
            continue;
        }
        if (ct_sct_parse(NULL, data, len) != APR_SUCCESS) {
            if (errs) APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                "%s: not one TLS-encoded v1 SCT (%lu bytes), ignored", path,
                (unsigned long)len);
            continue;
        }
        sf = apr_array_push(files);
        sf->name = apr_pstrdup(p, fi.name);
        sf->sct.data = data;
        sf->sct.len = len;
        sf->mtime = fi.mtime;
    }
    apr_dir_close(d);
    qsort(files->elts, (size_t)files->nelts, sizeof(ct_sct_file_t), cmp_files);
    return APR_SUCCESS;
}

apr_status_t ct_store_collate(ct_blob_t *out, int *pcount, const apr_array_header_t *scts,
                              const ct_logs_t *logs, X509 *cert, apr_uint64_t now_ms,
                              int limit, apr_array_header_t *errs, apr_pool_t *p)
{
    apr_array_header_t *keep = apr_array_make(p, scts->nelts + 1, sizeof(ct_blob_t));
    int i, j;

    for (i = 0; i < scts->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(scts, i, ct_blob_t);
        ct_sct_info_t info;
        ct_sct_status_t st;
        int dup = 0;

        if (ct_sct_parse(&info, b->data, b->len) != APR_SUCCESS) {
            st = CT_SCT_MALFORMED;
        }
        else if (info.timestamp > now_ms) {
            st = CT_SCT_FUTURE;           /* whatever the log, known or not */
        }
        else if (info.timestamp + CT_STORE_MIN_AGE_MS > now_ms) {
            /* OpenSSL clients judge SCTs against a time in whole seconds: one issued in
             * this very second looks like it comes from the future. Send it a bit later. */
            continue;
        }
        else {
            st = ct_sct_verify_blob(b, SCT_SOURCE_TLS_EXTENSION, cert, NULL, logs, now_ms);
        }
        if (st != CT_SCT_VALID && st != CT_SCT_UNVERIFIED && st != CT_SCT_UNKNOWN_LOG) {
            if (errs) APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                "SCT from log %s not sent: %s",
                st == CT_SCT_MALFORMED ? "?" : ct_hex(p, info.log_id, CT_LOG_ID_LEN),
                ct_sct_status_str(st));
            continue;
        }
        for (j = 0; j < keep->nelts && !dup; ++j) {
            const ct_blob_t *k = &APR_ARRAY_IDX(keep, j, ct_blob_t);
            dup = (k->len == b->len && !memcmp(k->data, b->data, b->len));
        }
        if (!dup) *(ct_blob_t *)apr_array_push(keep) = *b;
    }
    if (limit >= 0 && keep->nelts > limit && errs) {
        APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
            "%d SCTs available, only %d sent (CTServerHelloSCTLimit)", keep->nelts, limit);
    }
    if (keep->nelts == 0) {
        out->data = NULL;
        out->len = 0;
        if (pcount) *pcount = 0;
        return APR_ENOENT;
    }
    return ct_sct_list_encode(out, keep, limit, pcount, p);
}
