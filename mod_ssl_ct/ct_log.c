/* ct_log.c: log configuration rows, the SQLite log DB and the merged log set; see ct_log.h.
 *
 * OpenSSL offers no call to add a log to a CTLOG_STORE from memory, only a loader for its
 * own config file format; ct_logs_make writes such a file (mode 0600, in the caller's
 * private directory), loads it and removes it. That keeps SCT signature checks in OpenSSL.
 */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "ct_log.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

apr_status_t ct_log_id_parse(unsigned char id[CT_LOG_ID_LEN], const char *hex)
{
    int i;

    if (hex == NULL || strlen(hex) != 2 * CT_LOG_ID_LEN) return APR_EINVAL;
    for (i = 0; i < CT_LOG_ID_LEN; ++i) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return APR_EINVAL;
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    return APR_SUCCESS;
}

const char *ct_log_id_format(apr_pool_t *p, const unsigned char id[CT_LOG_ID_LEN])
{
    char *s = apr_pstrdup(p, ct_hex(p, id, CT_LOG_ID_LEN));
    char *c;

    for (c = s; *c; ++c) {
        if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
    }
    return s;
}

apr_status_t ct_log_id_from_key(unsigned char id[CT_LOG_ID_LEN], EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    unsigned int mdlen = 0;
    int len = i2d_PUBKEY(pkey, &der);
    apr_status_t rv = APR_EGENERAL;

    if (len > 0 && EVP_Digest(der, (size_t)len, id, &mdlen, EVP_sha256(), NULL)
        && mdlen == CT_LOG_ID_LEN) {
        rv = APR_SUCCESS;
    }
    OPENSSL_free(der);
    return rv;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

apr_status_t ct_log_key_load(EVP_PKEY **ppkey, const char *path, apr_pool_t *p,
                             const char **perr)
{
    FILE *f;
    EVP_PKEY *pkey;

    *ppkey = NULL;
    f = fopen(path, "r");
    if (f == NULL) {
        *perr = apr_psprintf(p, "cannot open public key file %s: %s", path, strerror(errno));
        return APR_ENOENT;
    }
    pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        *perr = apr_psprintf(p, "%s does not hold a PEM public key", path);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    *ppkey = pkey;
    return APR_SUCCESS;
}

apr_status_t ct_log_ts_parse(apr_uint64_t *pts, const char *s)
{
    char *end;
    unsigned long long v;

    if (s == NULL || !strcmp(s, "-")) {
        *pts = CT_LOG_TS_UNSET;
        return APR_SUCCESS;
    }
    if (*s < '0' || *s > '9') return APR_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v >= (unsigned long long)CT_LOG_TS_UNSET) return APR_EINVAL;
    *pts = (apr_uint64_t)v;
    return APR_SUCCESS;
}

static ct_log_t *log_new(apr_pool_t *p)
{
    ct_log_t *log = apr_pcalloc(p, sizeof(*log));
    log->min_ts = log->max_ts = CT_LOG_TS_UNSET;
    return log;
}

apr_status_t ct_log_from_fields(ct_log_t **plog, const char *const f[6], const char *root,
                                apr_pool_t *p, const char **perr)
{
    ct_log_t *log = log_new(p);

    *plog = NULL;
    if (strcmp(f[0], "-")) {
        if (ct_log_id_parse(log->id, f[0]) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "log id '%s' is not 64 hex digits", f[0]);
            return APR_EINVAL;
        }
        log->has_id = 1;
    }
    if (strcmp(f[1], "-")) {
        unsigned char kid[CT_LOG_ID_LEN];
        const char *path = f[1];

        if (path[0] != '/' && root) path = apr_pstrcat(p, root, "/", path, NULL);
        if (ct_log_key_load(&log->pkey, path, p, perr) != APR_SUCCESS) return APR_EINVAL;
        if (ct_log_id_from_key(kid, log->pkey) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "cannot compute the log id of %s", path);
            return APR_EINVAL;
        }
        if (log->has_id && memcmp(kid, log->id, CT_LOG_ID_LEN)) {
            *perr = apr_psprintf(p, "log id '%s' does not match the key in %s (its id is %s)",
                                 f[0], path, ct_log_id_format(p, kid));
            return APR_EINVAL;
        }
        memcpy(log->id, kid, CT_LOG_ID_LEN);
        log->has_id = 1;
        log->key_file = path;
    }
    if (!strcmp(f[2], "1")) log->distrusted = 1;
    else if (strcmp(f[2], "0") && strcmp(f[2], "-")) {
        *perr = apr_psprintf(p, "trust field '%s' must be 1 (distrusted), 0 or -", f[2]);
        return APR_EINVAL;
    }
    if (ct_log_ts_parse(&log->min_ts, f[3]) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "min-timestamp '%s' is not a number of ms or -", f[3]);
        return APR_EINVAL;
    }
    if (ct_log_ts_parse(&log->max_ts, f[4]) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "max-timestamp '%s' is not a number of ms or -", f[4]);
        return APR_EINVAL;
    }
    if (log->min_ts != CT_LOG_TS_UNSET && log->max_ts != CT_LOG_TS_UNSET
        && log->min_ts > log->max_ts) {
        *perr = apr_psprintf(p, "min-timestamp %s is after max-timestamp %s", f[3], f[4]);
        return APR_EINVAL;
    }
    if (strcmp(f[5], "-")) {
        if (strncasecmp(f[5], "http://", 7) && strncasecmp(f[5], "https://", 8)) {
            *perr = apr_psprintf(p, "log URL '%s' is not an http:// or https:// URL", f[5]);
            return APR_EINVAL;
        }
        log->url = apr_pstrdup(p, f[5]);
    }
    if (!log->has_id && !log->url) {
        *perr = "a log needs at least a log id, a public key or a URL";
        return APR_EINVAL;
    }
    *plog = log;
    return APR_SUCCESS;
}

apr_status_t ct_log_db_read(apr_array_header_t **plogs, const char *db_path, apr_pool_t *p,
                            const char **perr)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    apr_array_header_t *logs;
    apr_status_t rv = APR_EGENERAL;
    int rc;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        *perr = apr_psprintf(p, "cannot open log DB %s: %s", db_path,
                             db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 500);
    if (sqlite3_prepare_v2(db, "SELECT id, log_id, public_key, distrusted, "
                           "min_valid_timestamp, max_valid_timestamp, url FROM loginfo "
                           "ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        rc = sqlite3_errcode(db);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            *perr = apr_psprintf(p, "log DB %s is locked by another process", db_path);
        }
        else {
            *perr = apr_psprintf(p, "log DB %s is not a CT log config DB (create it with "
                                 "ctlogconfig): %s", db_path, sqlite3_errmsg(db));
        }
        goto out;
    }
    logs = apr_array_make(p, 4, sizeof(ct_log_t *));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ct_log_t *log = log_new(p);
        const char *s;

        log->db_record = sqlite3_column_int(st, 0);
        s = (const char *)sqlite3_column_text(st, 1);
        if (s && *s) {
            if (ct_log_id_parse(log->id, s) != APR_SUCCESS) {
                *perr = apr_psprintf(p, "log DB %s, record %d: log id '%s' is not 64 hex "
                                     "digits", db_path, log->db_record, s);
                goto out;
            }
            log->has_id = 1;
        }
        s = (const char *)sqlite3_column_text(st, 2);
        if (s && *s) log->key_file = apr_pstrdup(p, s);
        log->distrusted = sqlite3_column_int(st, 3) == 1;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            log->min_ts = (apr_uint64_t)sqlite3_column_int64(st, 4);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            log->max_ts = (apr_uint64_t)sqlite3_column_int64(st, 5);
        s = (const char *)sqlite3_column_text(st, 6);
        if (s && *s) log->url = apr_pstrdup(p, s);
        APR_ARRAY_PUSH(logs, ct_log_t *) = log;
    }
    if (rc != SQLITE_DONE) {
        *perr = apr_psprintf(p, "reading log DB %s failed: %s", db_path, sqlite3_errmsg(db));
        goto out;
    }
    *plogs = logs;
    rv = APR_SUCCESS;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rv;
}

const ct_log_t *ct_logs_find(const ct_logs_t *logs, const unsigned char id[CT_LOG_ID_LEN])
{
    int i;

    for (i = 0; i < logs->logs->nelts; ++i) {
        const ct_log_t *log = APR_ARRAY_IDX(logs->logs, i, const ct_log_t *);
        if (log->has_id && !memcmp(log->id, id, CT_LOG_ID_LEN)) return log;
    }
    return NULL;
}

int ct_log_usable(const ct_log_t *log, apr_uint64_t now_ms)
{
    if (log->distrusted) return 0;
    if (log->min_ts != CT_LOG_TS_UNSET && now_ms < log->min_ts) return 0;
    if (log->max_ts != CT_LOG_TS_UNSET && now_ms > log->max_ts) return 0;
    return 1;
}

static ct_log_t *find_mutable(apr_array_header_t *a, const unsigned char *id)
{
    int i;

    for (i = 0; i < a->nelts; ++i) {
        ct_log_t *log = APR_ARRAY_IDX(a, i, ct_log_t *);
        if (log->has_id && !memcmp(log->id, id, CT_LOG_ID_LEN)) return log;
    }
    return NULL;
}

/* Fold src into the merged set: static rows come first, so fields already set win. */
static void merge_row(apr_array_header_t *merged, const ct_log_t *src, apr_pool_t *p)
{
    ct_log_t *dst = src->has_id ? find_mutable(merged, src->id) : NULL;

    if (dst == NULL) {
        dst = apr_pmemdup(p, src, sizeof(*src));
        APR_ARRAY_PUSH(merged, ct_log_t *) = dst;
        return;
    }
    dst->distrusted |= src->distrusted;
    if (!dst->key_file) { dst->key_file = src->key_file; dst->pkey = src->pkey; }
    if (dst->min_ts == CT_LOG_TS_UNSET) dst->min_ts = src->min_ts;
    if (dst->max_ts == CT_LOG_TS_UNSET) dst->max_ts = src->max_ts;
    if (!dst->url) dst->url = src->url;
}

static apr_status_t store_cleanup(void *data)
{
    CTLOG_STORE_free(data);
    return APR_SUCCESS;
}

static apr_status_t build_store(ct_logs_t *logs, const char *tmpdir, apr_pool_t *p)
{
    apr_file_t *f;
    char *path = apr_pstrcat(p, tmpdir ? tmpdir : "/tmp", "/ctlogs-XXXXXX", NULL);
    const char *names = NULL, *sections = "";
    apr_status_t rv;
    int i, n = 0;

    for (i = 0; i < logs->logs->nelts; ++i) {
        ct_log_t *log = APR_ARRAY_IDX(logs->logs, i, ct_log_t *);
        unsigned char *der = NULL, *b64;
        int len;

        if (!log->pkey) continue;
        len = i2d_PUBKEY(log->pkey, &der);
        if (len <= 0) continue;
        b64 = apr_palloc(p, 4 * ((size_t)len / 3 + 1) + 1);
        EVP_EncodeBlock(b64, der, len);
        OPENSSL_free(der);
        names = names ? apr_psprintf(p, "%s,log%d", names, n) : apr_psprintf(p, "log%d", n);
        sections = apr_psprintf(p, "%s[log%d]\ndescription = %s\nkey = %s\n", sections, n,
                                ct_log_id_format(p, log->id), b64);
        ++n;
    }
    if (n == 0) return APR_SUCCESS;
    rv = apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p);
    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_printf(f, "enabled_logs = %s\n%s", names, sections) > 0
         ? APR_SUCCESS : APR_EGENERAL;
    apr_file_close(f);
    if (rv == APR_SUCCESS) {
        logs->store = CTLOG_STORE_new();
        if (logs->store == NULL || !CTLOG_STORE_load_file(logs->store, path)) {
            CTLOG_STORE_free(logs->store);
            logs->store = NULL;
            rv = APR_EGENERAL;
        }
        else {
            apr_pool_cleanup_register(p, logs->store, store_cleanup, apr_pool_cleanup_null);
        }
    }
    apr_file_remove(path, p);
    return rv;
}

apr_status_t ct_logs_make(ct_logs_t **plogs, const apr_array_header_t *static_logs,
                          const apr_array_header_t *db_logs, const char *tmpdir,
                          apr_pool_t *p, const char **pwarn)
{
    ct_logs_t *logs = apr_pcalloc(p, sizeof(*logs));
    apr_array_header_t *rows = apr_array_make(p, 8, sizeof(ct_log_t *));
    const char *warn = NULL;
    int i;

    logs->pool = p;
    logs->logs = apr_array_make(p, 8, sizeof(ct_log_t *));
    if (static_logs) apr_array_cat(rows, static_logs);
    if (db_logs) apr_array_cat(rows, db_logs);
    for (i = 0; i < rows->nelts; ++i) {
        ct_log_t *row = apr_pmemdup(p, APR_ARRAY_IDX(rows, i, ct_log_t *), sizeof(ct_log_t));

        /* the result lives in p alone, whatever pool the rows came from */
        if (row->url) row->url = apr_pstrdup(p, row->url);
        if (row->key_file) row->key_file = apr_pstrdup(p, row->key_file);

        if (row->key_file && !row->pkey) {
            const char *err = NULL;
            unsigned char kid[CT_LOG_ID_LEN];

            if (ct_log_key_load(&row->pkey, row->key_file, p, &err) != APR_SUCCESS
                || ct_log_id_from_key(kid, row->pkey) != APR_SUCCESS) {
                warn = apr_psprintf(p, "%s%s%s", warn ? warn : "", warn ? "; " : "",
                                    err ? err : "bad key");
                row->pkey = NULL;
            }
            else if (row->has_id && memcmp(kid, row->id, CT_LOG_ID_LEN)) {
                warn = apr_psprintf(p, "%s%slog id %s does not match key %s", warn ? warn : "",
                                    warn ? "; " : "", ct_log_id_format(p, row->id),
                                    row->key_file);
                continue;
            }
            else {
                memcpy(row->id, kid, CT_LOG_ID_LEN);
                row->has_id = 1;
            }
        }
        merge_row(logs->logs, row, p);
    }
    if (build_store(logs, tmpdir, p) != APR_SUCCESS) {
        warn = apr_psprintf(p, "%s%scannot build the OpenSSL log store", warn ? warn : "",
                            warn ? "; " : "");
    }
    if (pwarn) *pwarn = warn;
    *plogs = logs;
    return APR_SUCCESS;
}
