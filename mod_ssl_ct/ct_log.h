/* ct_log.h: the configuration of known CT logs.
 *
 * Owns: one log row (id, public key, trust, valid time range, URL) from the six fields of
 * CTStaticLogConfig or from a row of the SQLite log DB (schema in docs/ctlogconfig.1), the log
 * id computed from a key, the merge of static and DB rows, and an OpenSSL CTLOG_STORE of
 * every log with a key so that SCT verification is done by OpenSSL.
 * Never: includes httpd headers, logs; a DB that cannot be read leaves the caller's previous
 * configuration untouched (the caller decides to keep it).
 */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/ct.h>
#include "ct_util.h"

#define CT_LOG_TS_UNSET ((apr_uint64_t)-1)

typedef struct ct_log_t {
    int has_id;
    unsigned char id[CT_LOG_ID_LEN];
    const char *key_file;          /* absolute path or NULL */
    EVP_PKEY *pkey;                /* loaded key or NULL; owned by the ct_logs_t/pool */
    int distrusted;
    apr_uint64_t min_ts;           /* CT_LOG_TS_UNSET when not configured */
    apr_uint64_t max_ts;
    const char *url;               /* NULL when not configured */
    int db_record;                 /* > 0: row id in the DB this came from */
} ct_log_t;

typedef struct ct_logs_t {
    apr_array_header_t *logs;      /* of ct_log_t*, merged */
    CTLOG_STORE *store;            /* logs with a key; freed with the pool */
    apr_pool_t *pool;
} ct_logs_t;

/* Parse "64 hex digits" (either case) into id. APR_EINVAL otherwise. */
apr_status_t ct_log_id_parse(unsigned char id[CT_LOG_ID_LEN], const char *hex);
/* Upper-case 64 hex digits. */
const char *ct_log_id_format(apr_pool_t *p, const unsigned char id[CT_LOG_ID_LEN]);
/* SHA-256 of the DER SubjectPublicKeyInfo. */
apr_status_t ct_log_id_from_key(unsigned char id[CT_LOG_ID_LEN], EVP_PKEY *pkey);

/* Load a PEM public key. On failure *perr says why (missing, not a public key, ...).
 * The key is freed when p is cleared. */
apr_status_t ct_log_key_load(EVP_PKEY **ppkey, const char *path, apr_pool_t *p,
                             const char **perr);

/* Parse a decimal ms timestamp or "-" (CT_LOG_TS_UNSET). */
apr_status_t ct_log_ts_parse(apr_uint64_t *pts, const char *s);

/* The six CTStaticLogConfig fields; relative key paths are resolved against root.
 * *perr names the bad field and value. */
apr_status_t ct_log_from_fields(ct_log_t **plog, const char *const fields[6], const char *root,
                                apr_pool_t *p, const char **perr);

/* Read every row of the loginfo table. Wrong schema, unreadable, locked (after a short
 * busy wait) or corrupt DB: an error with *perr set, *plogs untouched. */
apr_status_t ct_log_db_read(apr_array_header_t **plogs, const char *db_path, apr_pool_t *p,
                            const char **perr);

/* Merge static rows and DB rows (either may be NULL) into a usable configuration: rows with
 * the same id are combined (a distrust anywhere wins; static fields win over DB fields),
 * keys are loaded, ids derived from keys, and an OpenSSL log store built in tmpdir.
 * Everything is copied into p: the rows may live in a shorter pool.
 * Rows whose key cannot be loaded are kept without key; *pwarn lists them. */
apr_status_t ct_logs_make(ct_logs_t **plogs, const apr_array_header_t *static_logs,
                          const apr_array_header_t *db_logs, const char *tmpdir,
                          apr_pool_t *p, const char **pwarn);

const ct_log_t *ct_logs_find(const ct_logs_t *logs, const unsigned char id[CT_LOG_ID_LEN]);

/* Is the log trusted and now_ms inside its configured range? */
int ct_log_usable(const ct_log_t *log, apr_uint64_t now_ms);

#endif
