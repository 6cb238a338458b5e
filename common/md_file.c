/* md_file.c: see md_file.h. */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "md_file.h"

/* The file is created (mkostemp: O_CREAT | O_EXCL) with mode 0600: a private key written with
 * perms 0600 is never readable by anyone else, not even for a moment, whatever the umask.
 * Wider perms (certificates, JSON, SCTs) are set on the open file before anything is
 * written. close() is checked: on NFS and some FUSE file systems it is where a failed
 * write-back shows. */
apr_status_t md_file_write_temp(const char **ptmp, const char *path, const void *data,
                                apr_size_t len, apr_fileperms_t perms, apr_pool_t *p)
{
    char *tmp = apr_pstrcat(p, path, ".tmp.XXXXXX", NULL);
    /* APR's perms are the octal digits as hex nibbles (0x0644) */
    mode_t mode = (mode_t)((((perms >> 8) & 7) << 6) | (((perms >> 4) & 7) << 3) | (perms & 7));
    const char *d = data;
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd;

    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) return APR_FROM_OS_ERROR(errno);
    if (fstat(fd, &st) != 0 || ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0))
        rv = APR_FROM_OS_ERROR(errno);
    while (rv == APR_SUCCESS && len > 0) {
        ssize_t n = write(fd, d, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rv = n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
        else {
            d += n;
            len -= (apr_size_t)n;
        }
    }
    if (rv == APR_SUCCESS && fsync(fd) != 0) rv = APR_FROM_OS_ERROR(errno);
    if (close(fd) != 0 && rv == APR_SUCCESS) rv = APR_FROM_OS_ERROR(errno);
    if (rv != APR_SUCCESS) unlink(tmp);
    *ptmp = tmp;
    return rv;
}

apr_status_t md_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                  apr_fileperms_t perms, apr_pool_t *p)
{
    const char *tmp;
    apr_status_t rv = md_file_write_temp(&tmp, path, data, len, perms, p);

    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_rename(tmp, path, p);
    if (rv != APR_SUCCESS) apr_file_remove(tmp, p);
    return rv;
}

apr_status_t md_file_read(char **pdata, apr_size_t *plen, const char *path,
                          apr_size_t max_len, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t n;
    char *buf;

    *pdata = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && (fi.size < 0 || (apr_size_t)fi.size > max_len)) rv = APR_EINVAL;
    if (rv == APR_SUCCESS) {
        buf = apr_palloc(p, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &n);
        if (rv == APR_EOF && n == 0 && fi.size == 0) rv = APR_SUCCESS;
        if (rv == APR_SUCCESS) {
            buf[n] = '\0';
            *pdata = buf;
            if (plen) *plen = n;
        }
    }
    apr_file_close(f);
    return rv;
}
