/* md_util.c: see md_util.h. Pure helpers, no global state. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_date.h>
#include <arpa/inet.h>
#include <apr_random.h>
#include <apr_uri.h>

#include <openssl/evp.h>

#include "md_util.h"

#define MD_SEC(n) ((apr_interval_time_t)(n) * APR_USEC_PER_SEC)

const char *md_util_plain_unit(const char *directive)
{
    static const char *const units[][2] = {
        { "MDRenewWindow", MD_UNIT_DAYS },          { "MDWarnWindow", MD_UNIT_DAYS },
        { "MDStaplingRenewWindow", MD_UNIT_DAYS },  { "MDStaplingKeepResponse", MD_UNIT_DAYS },
        { "MDActivationDelay", MD_UNIT_DAYS },      { "MDRetryDelay", MD_UNIT_SECONDS },
        { "MDCheckInterval", MD_UNIT_SECONDS },     { "MDInitialDelay", MD_UNIT_SECONDS },
        { "MDStoreLocks", MD_UNIT_SECONDS },
    };
    size_t i;
    for (i = 0; directive && i < sizeof(units) / sizeof(units[0]); ++i) {
        if (!strcasecmp(directive, units[i][0])) return units[i][1];
    }
    return NULL;
}

/* The reference reads numbers with strtoll(): leading blanks and a sign are fine, and so
 * is a blank after the unit; a blank between number and unit is not. */
const char *md_util_parse_duration(const char *s, const char *def_unit,
                                   apr_interval_time_t *pduration)
{
    static const struct { const char *name; apr_interval_time_t usec; } units[] = {
        { "ms", 1000 }, { "mi", MD_SEC(60) }, { "s", MD_SEC(1) }, { "h", MD_SEC(3600) },
        { "d", MD_SEC(86400) },
    };
    const char *digits = s;
    char *end;
    long long n, limit;
    size_t ulen, i;

    if (!s || !*s) return "empty duration";
    while (isspace((unsigned char)*digits)) ++digits;
    if (*digits == '+' || *digits == '-') ++digits;
    if (!isdigit((unsigned char)*digits)) return "a duration must start with a number";
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno) return "number out of range";
    if (!*end) end = (char *)def_unit;
    for (ulen = strlen(end); ulen && isspace((unsigned char)end[ulen - 1]); --ulen) ;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        if (ulen == strlen(units[i].name) && !strncasecmp(end, units[i].name, ulen)) break;
    }
    if (i == sizeof(units) / sizeof(units[0])) return "unknown unit (use d, h, mi, s or ms)";
    /* 100 years is more than any certificate or delay we deal with: longer ones are cut to
     * that (the reference takes them too) */
    limit = MD_SEC(100LL * 365 * 86400) / units[i].usec;
    if (n > limit) n = limit;
    else if (n < -limit) n = -limit;
    *pduration = (apr_interval_time_t)n * units[i].usec;
    return NULL;
}

/* As the reference: blanks, a sign and digits (even none) read by strtol, then '%'; what
 * follows the '%' is ignored. */
const char *md_util_parse_percent(const char *s, long *pn)
{
    const char *digits = s;
    char *end;
    long n;

    while (isspace((unsigned char)*digits)) ++digits;
    if (*digits == '+' || *digits == '-') ++digits;
    while (isdigit((unsigned char)*digits)) ++digits;
    if (*digits != '%') return "not a percentage";
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno) return "number out of range";
    if (n < 0) return MD_PERCENT_NEGATIVE;
    *pn = n;
    return NULL;
}

const char *md_util_parse_timeslice(const char *s, md_timeslice_t *ts)
{
    const char *why = md_util_parse_duration(s, MD_UNIT_DAYS, &ts->len), *pwhy;
    long n;

    if (!why) {
        ts->norm = 0;
        return NULL;
    }
    if (!s) return why;
    if ((pwhy = md_util_parse_percent(s, &n)) != NULL)
        return strcmp(pwhy, "not a percentage") ? pwhy : why;
    if (n >= 100) return MD_TIMESLICE_TOO_LONG;
    ts->norm = 100;
    ts->len = n;
    return NULL;
}

const char *md_util_duration_format(apr_pool_t *p, apr_interval_time_t d)
{
    if (d % 1000) return apr_psprintf(p, "%" APR_INT64_T_FMT "us", (apr_int64_t)d);
    if (d % MD_SEC(1)) return apr_psprintf(p, "%" APR_INT64_T_FMT "ms", (apr_int64_t)(d / 1000));
    d /= MD_SEC(1);
    if (d && d % 86400 == 0) return apr_psprintf(p, "%" APR_INT64_T_FMT "d", (apr_int64_t)(d / 86400));
    if (d && d % 3600 == 0) return apr_psprintf(p, "%" APR_INT64_T_FMT "h", (apr_int64_t)(d / 3600));
    if (d && d % 60 == 0) return apr_psprintf(p, "%" APR_INT64_T_FMT "mi", (apr_int64_t)(d / 60));
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", (apr_int64_t)d);
}

const char *md_util_timeslice_format(apr_pool_t *p, const md_timeslice_t *ts)
{
    if (ts->norm > 0)
        return apr_psprintf(p, "%" APR_INT64_T_FMT "%%", (apr_int64_t)(ts->len * 100 / ts->norm));
    if (ts->len == 0) return "0d";             /* as the reference writes it into md.json */
    return md_util_duration_format(p, ts->len);
}

apr_interval_time_t md_timeslice_span(const md_timeslice_t *ts, apr_time_t start, apr_time_t end)
{
    apr_interval_time_t life = end > start ? end - start : 0;
    if (ts->norm > 0) return (apr_interval_time_t)((double)life * (double)ts->len / (double)ts->norm);
    return ts->len;
}

/* The checks and words of the reference for CA, proxy and terms-of-service URLs, in its
 * order: blanks, parse, scheme, anything after the scheme, then for http(s) the port and
 * the host name. Ports are whole numbers from 1 to 65535. */
const char *md_util_uri_problem(apr_pool_t *p, const char *s)
{
    apr_uri_t uri;
    const char *c;

    for (c = s; *c; ++c) {
        if (isspace((unsigned char)*c)) return "whitespace in uri";
    }
    if (apr_uri_parse(p, s, &uri) != APR_SUCCESS) return "not an uri";
    if (!uri.scheme) return "missing uri scheme";
    if (!s[strlen(uri.scheme) + 1]) return "missing uri identifier";
    if (strcmp(uri.scheme, "http") && strcmp(uri.scheme, "https")) return NULL;
    if (uri.port_str) {
        long port = 0;
        for (c = uri.port_str; *c && isdigit((unsigned char)*c) && port <= 65535; ++c)
            port = port * 10 + (*c - '0');
        if (!*uri.port_str || *c || port < 1 || port > 65535) return "invalid port";
    }
    if (!uri.hostname) return "missing hostname";
    for (c = uri.hostname; *c; ++c) {
        if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '.') || (c[0] == '.' && c[1] == '.'))
            return "invalid hostname";
    }
    return NULL;
}

int md_util_is_wildcard(const char *name)
{
    return name && name[0] == '*' && name[1] == '.';
}

int md_util_is_ip(const char *s)
{
    struct in6_addr a6;
    struct in_addr a4;
    return s && (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1);
}

const char *md_util_ip_canonical(apr_pool_t *p, const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char buf[INET6_ADDRSTRLEN];
    apr_size_t n = s ? strlen(s) : 0;

    if (n > 2 && s[0] == '[' && s[n - 1] == ']') s = apr_pstrmemdup(p, s + 1, n - 2);
    if (inet_pton(AF_INET, s, addr) == 1)
        return apr_pstrdup(p, inet_ntop(AF_INET, addr, buf, sizeof(buf)));
    if (inet_pton(AF_INET6, s, addr) == 1)
        return apr_pstrdup(p, inet_ntop(AF_INET6, addr, buf, sizeof(buf)));
    return NULL;
}

const char *md_util_ip_from_reverse(apr_pool_t *p, const char *name)
{
    static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
    apr_size_t n = name ? strlen(name) : 0;
    const char *end;

    if (n > sizeof(v4) - 1 && !strcasecmp(name + n - (sizeof(v4) - 1), v4)) {
        /* "4.3.2.1.in-addr.arpa" -> 1.2.3.4 */
        char *labels[4], *copy = apr_pstrmemdup(p, name, n - (sizeof(v4) - 1)), *last;
        int k = 0;
        for (end = apr_strtok(copy, ".", &last); end && k < 4; end = apr_strtok(NULL, ".", &last))
            labels[k++] = (char *)end;
        if (k != 4 || end) return NULL;
        return md_util_ip_canonical(p, apr_pstrcat(p, labels[3], ".", labels[2], ".", labels[1],
                                                   ".", labels[0], NULL));
    }
    if (n == 63 + sizeof(v6) - 1 && !strcasecmp(name + 63, v6)) {
        /* 32 nibbles, least significant first, each followed by a dot */
        char hex[40], *h = hex;
        int i;
        for (i = 31; i >= 0; --i) {
            if (!isxdigit((unsigned char)name[2 * i]) || name[2 * i + 1] != '.') return NULL;
            *h++ = name[2 * i];
            if (i % 4 == 0 && i) *h++ = ':';
        }
        *h = '\0';
        return md_util_ip_canonical(p, hex);
    }
    return NULL;
}

const char *md_util_name_problem(apr_pool_t *p, const char *name)
{
    const char *last;

    if (md_util_ip_canonical(p, name)) return NULL;       /* "[::1]" too: stored as ::1 */
    if (strchr(name, ':') || strchr(name, '%'))
        return "not a valid IP address (IPv6 addresses are written like 2001:db8::1, without "
               "a zone)";
    last = strrchr(name, '.');
    last = last ? last + 1 : name;
    if (*last && strspn(last, "0123456789") == strlen(last))
        return md_util_is_wildcard(name) ? "a wildcard cannot cover IP addresses"
                                         : "not a valid IP address (nor a DNS name: no top-level "
                                           "domain is numeric)";
    if (!md_util_is_dns_name(name, 1)) return "not a valid DNS name";
    return NULL;
}

int md_util_is_dns_name(const char *name, int allow_wildcard)
{
    const char *s = name;
    size_t label = 0, total;
    int dots = 0;

    if (!s || !*s) return 0;
    if (md_util_is_wildcard(s)) {
        if (!allow_wildcard) return 0;
        s += 2;
    }
    total = strlen(s);
    if (total == 0 || total > 253) return 0;
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0 || s[-1] == '-') return 0;
            label = 0;
            ++dots;
        }
        else if (isalnum(c) || c == '-' || c == '_') {
            if (label == 0 && c == '-') return 0;
            if (++label > 63) return 0;
        }
        else {
            return 0;
        }
    }
    /* a trailing dot is tolerated (absolute name), a trailing '-' is not */
    if (label && s[-1] == '-') return 0;
    return 1;
}

char *md_util_str_tolower(apr_pool_t *p, const char *s)
{
    char *r = apr_pstrdup(p, s), *c;
    for (c = r; *c; ++c) *c = (char)tolower((unsigned char)*c);
    return r;
}

int md_util_array_index(const apr_array_header_t *a, const char *s)
{
    int i;
    for (i = 0; a && i < a->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(a, i, const char *), s)) return i;
    }
    return -1;
}

int md_util_json_int(json_t *obj, const char *key, int lo, int hi, int def)
{
    json_t *v = json_object_get(obj, key);
    json_int_t n;

    if (!json_is_integer(v)) return def;
    n = json_integer_value(v);
    return n < lo ? lo : n > hi ? hi : (int)n;
}

int md_util_array_add_unique(apr_array_header_t *a, const char *s)
{
    if (md_util_array_index(a, s) >= 0) return 0;
    APR_ARRAY_PUSH(a, const char *) = md_util_str_tolower(a->pool, s);
    return 1;
}

int md_util_link_refused(apr_status_t rv)
{
    /* EPERM: SMB/CIFS and SFTP servers that deny hard links; ENOTSUP/ENOSYS: file systems
     * without them (FUSE); EXDEV: bind mounts and overlays; EMLINK: link count limits */
    return rv == APR_FROM_OS_ERROR(EPERM) || rv == APR_FROM_OS_ERROR(ENOTSUP)
           || rv == APR_FROM_OS_ERROR(EOPNOTSUPP) || rv == APR_FROM_OS_ERROR(ENOSYS)
           || rv == APR_FROM_OS_ERROR(EXDEV) || rv == APR_FROM_OS_ERROR(EMLINK);
}

apr_status_t md_util_file_create_atomic(const char *path, const void *data, apr_size_t len,
                                        apr_fileperms_t perms, apr_pool_t *p)
{
    const char *tmp;
    apr_status_t rv = md_file_write_temp(&tmp, path, data, len, perms, p);

    if (rv != APR_SUCCESS) return rv;
    /* link() fails when path exists, also on NFS, and path appears with all its content */
    rv = link(tmp, path) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    apr_file_remove(tmp, p);
    if (md_util_link_refused(rv)) rv = md_util_file_create_excl(path, data, len, perms, p);
    return rv;
}

apr_status_t md_util_file_create_excl(const char *path, const void *data, apr_size_t len,
                                      apr_fileperms_t perms, apr_pool_t *p)
{
    apr_file_t *f;
    apr_size_t written;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_CREATE | APR_FOPEN_EXCL | APR_FOPEN_WRITE
                       | APR_FOPEN_BINARY, perms, p);
    /* SFTP (version 3) has no "exists" status: sshfs reports a refused exclusive create of
     * an existing file as EPERM */
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv) && !APR_STATUS_IS_ENOENT(rv)) {
        apr_finfo_t fi;
        if (apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS) rv = APR_EEXIST;
    }
    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_write_full(f, data, len, &written);
    if (rv == APR_SUCCESS) rv = apr_file_sync(f);
    if (rv == APR_SUCCESS) rv = apr_file_close(f);
    else apr_file_close(f);
    if (rv != APR_SUCCESS) apr_file_remove(path, p);     /* ours, and unusable */
    return rv;
}

apr_status_t md_util_mkdirs(const char *path, apr_fileperms_t perms, apr_pool_t *p)
{
    apr_status_t rv = apr_dir_make_recursive(path, perms, p);
    return APR_STATUS_IS_EEXIST(rv) ? APR_SUCCESS : rv;
}

#define REMOVE_MAX_DEPTH 32

static apr_status_t remove_at(int dfd, const char *name, int depth)
{
    apr_status_t rv = APR_SUCCESS;
    struct dirent *e;
    DIR *d;
    int fd;

    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return APR_SUCCESS;
    if (errno != EISDIR && errno != EPERM) return APR_FROM_OS_ERROR(errno);
    if (depth >= REMOVE_MAX_DEPTH) return APR_EINVAL;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* swapped for a link or a file since the unlinkat: remove that, never its target */
        if (errno != ELOOP && errno != ENOTDIR) return APR_FROM_OS_ERROR(errno);
        return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }
    if (!(d = fdopendir(fd))) {
        rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        return rv;
    }
    while ((e = readdir(d)) != NULL) {
        apr_status_t rv2;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        rv2 = remove_at(dirfd(d), e->d_name, depth + 1);
        if (rv == APR_SUCCESS) rv = rv2;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && rv == APR_SUCCESS)
        rv = APR_FROM_OS_ERROR(errno);
    return rv;
}

apr_status_t md_util_remove_tree(const char *root, const char *rel, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, rel), *last = NULL, *comp, *next;
    apr_status_t rv = APR_SUCCESS;
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0) return errno == ENOENT ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    comp = apr_strtok(copy, "/", &last);
    while (comp && rv == APR_SUCCESS) {
        next = apr_strtok(NULL, "/", &last);
        if (!strcmp(comp, "..") || !strcmp(comp, ".")) {
            rv = APR_EINVAL;
        }
        else if (!next) {
            rv = remove_at(dfd, comp, 0);
        }
        else {
            int fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) rv = errno == ENOENT ? APR_ENOENT : APR_FROM_OS_ERROR(errno);
            close(dfd);
            dfd = fd;
        }
        comp = next;
    }
    if (dfd >= 0) close(dfd);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

int md_util_file_exists(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS && fi.filetype == APR_REG;
}

const char *md_util_base64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, 4 * ((len + 2) / 3) + 1), *c;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

    while (n > 0 && out[n - 1] == '=') --n;
    out[n] = '\0';
    for (c = out; *c; ++c) {
        if (*c == '+') *c = '-';
        else if (*c == '/') *c = '_';
    }
    return out;
}

long md_util_base64url_decode(apr_pool_t *p, const char *s, unsigned char **pdata)
{
    size_t len = strlen(s), i, padded;
    char *std;
    unsigned char *out;
    int n;

    while (len && s[len - 1] == '=' && strlen(s) - len < 2) --len;   /* optional padding */
    padded = (len + 3) / 4 * 4;
    std = apr_palloc(p, padded + 1);
    for (i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!isalnum((unsigned char)c) && c != '+' && c != '/') return -1;
        std[i] = c;
    }
    if (len % 4 == 1) return -1;
    for (; i < padded; ++i) std[i] = '=';
    std[padded] = '\0';
    out = apr_palloc(p, padded / 4 * 3 + 1);
    n = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    if (n < 0) return -1;
    n -= (int)(padded - len);   /* EVP_DecodeBlock counts padding as zero bytes */
    *pdata = out;
    return n;
}

const char *md_util_time_format(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(buf, t);
    return buf;
}

apr_time_t md_util_time_parse(const char *s)
{
    return s ? apr_date_parse_rfc(s) : 0;
}

const char **md_util_cmdline_split(apr_pool_t *p, const char *line, int *pargc)
{
    apr_array_header_t *args = apr_array_make(p, 5, sizeof(const char *));
    const char *s = line;

    while (*s) {
        char *word, *w;
        char quote = 0;
        while (*s && isspace((unsigned char)*s)) ++s;
        if (!*s) break;
        w = word = apr_palloc(p, strlen(s) + 1);
        while (*s && (quote || !isspace((unsigned char)*s))) {
            if (quote && *s == quote) quote = 0;
            else if (!quote && (*s == '"' || *s == '\'')) quote = *s;
            else if (*s == '\\' && s[1] && quote != '\'') *w++ = *++s;
            else *w++ = *s;
            ++s;
        }
        *w = '\0';
        APR_ARRAY_PUSH(args, const char *) = word;
    }
    if (pargc) *pargc = args->nelts;
    APR_ARRAY_PUSH(args, const char *) = NULL;
    return (const char **)args->elts;
}
