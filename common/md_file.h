/* md_file.h: whole-file writes and reads shared by mod_md and mod_ssl_ct.
 *
 * Owns: the one atomic write of the project (temp file next to the target, created 0600 and
 * given its final mode before any byte is written, written, fsynced, closed, renamed over the
 * target) and the bounded read of a whole file.
 * Never: includes httpd headers, logs, leaves a temp file behind after a failure, or lets a
 * reader see a half-written target.
 */
#ifndef MD_FILE_H
#define MD_FILE_H

#include <apr_pools.h>
#include <apr_file_io.h>

/* Write data to path atomically: temp file in the same directory with perms (0x0600 for
 * secrets: never readable by others, whatever the umask), write, fsync, close, rename.
 * Any failing step (close and rename included) is returned and removes the temp file; the
 * old content of path is then untouched. */
apr_status_t md_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                  apr_fileperms_t perms, apr_pool_t *p);

/* The first half of md_file_write_atomic: data into a new temp file next to path (written,
 * fsynced, closed, with perms), named in *ptmp, for the caller to rename or link into place.
 * On failure no temp file is left. */
apr_status_t md_file_write_temp(const char **ptmp, const char *path, const void *data,
                                apr_size_t len, apr_fileperms_t perms, apr_pool_t *p);

/* Read a whole file of at most max_len bytes (APR_EINVAL when larger) as a NUL-terminated
 * buffer; *pdata is NULL on failure. plen may be NULL. */
apr_status_t md_file_read(char **pdata, apr_size_t *plen, const char *path,
                          apr_size_t max_len, apr_pool_t *p);

#endif
