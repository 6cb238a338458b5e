/* md_util.h: small helpers of the mod_md core that every other unit uses.
 *
 * Owns: parsing of durations and time slices ("33%", "21d"), DNS name checks,
 * exclusive file creation (the atomic write and read are common/md_file.h's), base64url,
 * RFC 1123 dates, command line splitting.
 * Never: includes httpd headers, logs (it returns errors, the caller explains them).
 */
#ifndef MD_UTIL_H
#define MD_UTIL_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_tables.h>
#include <apr_file_io.h>
#include <jansson.h>

#include "md_file.h"

/* A share of a lifetime (norm > 0: len/norm of it) or an absolute duration (norm == 0). */
typedef struct md_timeslice_t {
    apr_interval_time_t norm;
    apr_interval_time_t len;
} md_timeslice_t;

/* The unit of a plain number. As in the reference mod_md, the windows and delays that concern
 * certificates and staples (MDRenewWindow, MDWarnWindow, MDStaplingRenewWindow,
 * MDStaplingKeepResponse, MDActivationDelay, and the windows in md.json) count in days; the
 * driver's timers (MDRetryDelay, MDCheckInterval, MDInitialDelay, MDStoreLocks) in seconds. */
#define MD_UNIT_DAYS    "d"
#define MD_UNIT_SECONDS "s"
/* The unit of a plain number in the value of the directive named (case-insensitive): one of
 * MD_UNIT_*, or NULL for a directive that takes no duration. */
const char *md_util_plain_unit(const char *directive);

/* Parse "Nd", "Nh", "Nmi", "Ns", "Nms" or a plain number N counted in def_unit (MD_UNIT_*).
 * As the reference: N may be signed and preceded by blanks, the unit followed by blanks.
 * The caller decides whether a negative duration makes sense. NULL on success, else the
 * reason. */
const char *md_util_parse_duration(const char *s, const char *def_unit,
                                   apr_interval_time_t *pduration);
/* Parse "N%" (N >= 0, anything after the '%' ignored, as the reference reads it) into *pn.
 * NULL on success, else the reason (MD_PERCENT_NEGATIVE for N < 0). */
const char *md_util_parse_percent(const char *s, long *pn);
/* The reason md_util_parse_percent gives for a negative share (the reference's words). */
#define MD_PERCENT_NEGATIVE "percent must be less than 100"
/* Parse a duration (a plain number is days) or "N%" (0 <= N < 100: a window of the whole
 * lifetime or more would renew at once, forever). */
const char *md_util_parse_timeslice(const char *s, md_timeslice_t *ts);
/* The reason md_util_parse_timeslice gives for 100% or more (the reference's words). */
#define MD_TIMESLICE_TOO_LONG "a length of 100% or more is not allowed."
/* Format a time slice back the way it was given: "33%", "21d", "90s", "12h"... */
const char *md_util_timeslice_format(apr_pool_t *p, const md_timeslice_t *ts);
/* The part of [start, end) that the slice covers, counted back from end. */
apr_interval_time_t md_timeslice_span(const md_timeslice_t *ts, apr_time_t start, apr_time_t end);
/* Format a duration compactly: "12h", "30s", "1500ms". */
const char *md_util_duration_format(apr_pool_t *p, apr_interval_time_t d);

/* Is name a syntactically valid DNS name (letters, digits, '-', dots, 1..253 chars)?
 * A leading "*." is accepted when allow_wildcard is set. */
int md_util_is_dns_name(const char *name, int allow_wildcard);
int md_util_is_wildcard(const char *name);
/* Is s a literal IPv4 or IPv6 address? */
int md_util_is_ip(const char *s);
/* The canonical text of an IPv4 or IPv6 literal (RFC 5952 for IPv6; "[...]" accepted), or
 * NULL when s is no IP address. */
const char *md_util_ip_canonical(apr_pool_t *p, const char *s);
/* The address named by a reverse-DNS name ("1.0.0.127.in-addr.arpa", "...ip6.arpa"), as
 * used for IP identifiers in tls-alpn-01 (RFC 8738 section 6), or NULL. */
const char *md_util_ip_from_reverse(apr_pool_t *p, const char *name);
/* Why name cannot be a name of a managed domain (DNS name, wildcard, IP address), or NULL. */
const char *md_util_name_problem(apr_pool_t *p, const char *name);
/* Counters kept on disk (errors of a job or of ARI questions) never exceed this: a corrupt
 * or hostile file cannot make the next increment overflow. */
#define MD_COUNTER_MAX 1000000
/* The integer member key of obj, clamped into [lo, hi]; def when it is missing or no
 * integer. For every integer read from a file (job.json, tmp/ari records, md.json). */
int md_util_json_int(json_t *obj, const char *key, int lo, int hi, int def);

/* Lower-cased copy. */
char *md_util_str_tolower(apr_pool_t *p, const char *s);
/* Index of s (case-insensitive) in a const char* array, or -1. */
int md_util_array_index(const apr_array_header_t *a, const char *s);
/* Add s (lower-cased) when not already present; returns 1 when added. */
int md_util_array_add_unique(apr_array_header_t *a, const char *s);

/* Write data to path atomically, read a whole file: mod_md's names of the functions both
 * modules share (common/md_file.h). */
#define md_util_file_write_atomic md_file_write_atomic
#define md_util_file_read md_file_read
/* Create path with data unless it exists (then APR_EEXIST): temp file, fsync, link(), so it
 * is never seen half-written. Of several processes racing for path, exactly one succeeds.
 * Where the file system refuses hard links (md_util_link_refused) it falls back to
 * md_util_file_create_excl: still one winner, but readers may see the file empty at first. */
apr_status_t md_util_file_create_atomic(const char *path, const void *data, apr_size_t len,
                                        apr_fileperms_t perms, apr_pool_t *p);
/* Create path with O_CREAT|O_EXCL (APR_EEXIST when it exists, also where the file system
 * says otherwise, as sshfs does with EPERM), write data, fsync. */
apr_status_t md_util_file_create_excl(const char *path, const void *data, apr_size_t len,
                                      apr_fileperms_t perms, apr_pool_t *p);
/* Is rv link()'s refusal by the file system (EPERM, ENOTSUP, ENOSYS, EXDEV, EMLINK), as
 * opposed to a conflict (EEXIST) or a missing directory? */
int md_util_link_refused(apr_status_t rv);
/* mkdir -p with the given permissions for directories created. */
apr_status_t md_util_mkdirs(const char *path, apr_fileperms_t perms, apr_pool_t *p);
int md_util_file_exists(const char *path, apr_pool_t *p);
/* Remove root/rel and everything below it, without following a symbolic link anywhere
 * below root (a directory swapped for a link to elsewhere loses the link, nothing else):
 * every step is fd-relative (openat/unlinkat, O_NOFOLLOW | O_DIRECTORY). root itself may
 * be a link. APR_SUCCESS also when rel does not exist. */
apr_status_t md_util_remove_tree(const char *root, const char *rel, apr_pool_t *p);

/* base64url without padding. Decode also takes standard base64 ('+', '/') and '=' padding
 * (EAB keys are handed out in either form); it returns -1 on invalid input, else the length. */
const char *md_util_base64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);
long md_util_base64url_decode(apr_pool_t *p, const char *s, unsigned char **pdata);

/* Why s is no absolute URI as mod_md takes it for a CA, a proxy or terms of service, in the
 * reference's words ("missing uri scheme", "invalid port", ...), or NULL. */
const char *md_util_uri_problem(apr_pool_t *p, const char *s);

/* RFC 1123 ("Tue, 24 Nov 2026 12:41:22 GMT"); parse returns 0 when invalid. */
const char *md_util_time_format(apr_pool_t *p, apr_time_t t);
apr_time_t md_util_time_parse(const char *s);

/* Split a command line into argv the way the shell would for plain words and quotes,
 * without ever running a shell. */
const char **md_util_cmdline_split(apr_pool_t *p, const char *line, int *pargc);

#endif
