/* ct_store.h: the SCT store on disk (docs/mod_ssl_ct.md) and the collation of SCT lists.
 *
 * Owns: CTSCTStorage/<lower-hex SHA-256 of leaf DER>/ with servercerts.pem, logs,
 * AUTO_<log>.sct, admin *.sct files and collated (each written with md_file_write_atomic);
 * reading directories of .sct files with per-file checks; turning a set of SCTs into the
 * list that is sent (filtered by the log configuration, deduplicated, capped).
 * Never: includes httpd headers, logs, deletes or overwrites a good file with a bad one.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_file_info.h>
#include <openssl/x509.h>
#include "ct_log.h"
#include "md_file.h"

#define CT_STORE_CERTS   "servercerts.pem"
#define CT_STORE_LOGS    "logs"
#define CT_STORE_LIST    "collated"
/* SCTs younger than this are held back (see ct_store_collate) */
#define CT_STORE_MIN_AGE_MS 2000

/* An SCT read from a file. */
typedef struct ct_sct_file_t {
    const char *name;              /* file name, without directory */
    ct_blob_t sct;
    apr_time_t mtime;
} ct_sct_file_t;

/* Read a whole file of at most max_len bytes (APR_EINVAL when larger) as bytes: md_file_read
 * (common/md_file.h) typed for SCTs. Files are written with md_file_write_atomic. */
apr_status_t ct_store_read_file(unsigned char **pdata, apr_size_t *plen, const char *path,
                                apr_size_t max_len, apr_pool_t *p);

/* Directory name of a certificate: lower-hex SHA-256 of its DER. */
const char *ct_store_cert_name(apr_pool_t *p, X509 *leaf);

/* "AUTO_<host>_<port>_<path>.sct" for a log URL; : / \ * ? < > " | become '-'. */
const char *ct_store_auto_name(apr_pool_t *p, const char *url);

/* Read every "*.sct" file in dir (sorted by name; with prefix only those starting with it,
 * with exclude_prefix none starting with it). Files that are empty, larger than an SCT can
 * be, or not one well-formed v1 SCT are skipped; a line saying why is pushed on errs.
 * A missing or empty directory gives an empty array. */
apr_status_t ct_store_read_scts(apr_array_header_t **pfiles, const char *dir,
                                const char *prefix, const char *exclude_prefix,
                                apr_array_header_t *errs, apr_pool_t *p);

/* Build the list to send: from scts (ct_blob_t, in order of preference) keep those whose
 * log is trusted, whose timestamp is not in the future and inside the log's range, and
 * whose signature verifies when the log key is known (cert is the leaf; issuer may be NULL),
 * and that are at least CT_STORE_MIN_AGE_MS old (younger ones are left for a later call);
 * SCTs of logs we do not know are kept (admins may add SCTs of any log). Duplicates
 * (same bytes) are dropped, at most limit are kept. APR_ENOENT when none is left.
 * Each SCT left out adds a line to errs. */
apr_status_t ct_store_collate(ct_blob_t *out, int *pcount, const apr_array_header_t *scts,
                              const ct_logs_t *logs, X509 *cert, apr_uint64_t now_ms,
                              int limit, apr_array_header_t *errs, apr_pool_t *p);

#endif
