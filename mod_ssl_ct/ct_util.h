/* ct_util.h: the small pieces every ct_* unit shares.
 *
 * Owns: the byte-string type, the log id length, the clock in ms and hex formatting.
 * Never: depends on another ct_* unit, includes httpd headers.
 */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <apr_pools.h>

/* A log id is the SHA-256 of the log's DER public key. */
#define CT_LOG_ID_LEN        32

/* A byte string living in some pool. */
typedef struct ct_blob_t {
    const unsigned char *data;
    apr_size_t len;
} ct_blob_t;

/* Current time in ms since the epoch. */
apr_uint64_t ct_now_ms(void);

/* Lower-case hex of data (2*len chars). */
const char *ct_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len);

#endif
