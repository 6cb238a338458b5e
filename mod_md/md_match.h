/* md_match.h: which virtual host belongs to which managed domain.
 *
 * Owns: the rules of the manual for matching MDs to hosts by ServerName/ServerAlias
 * (MDMembers auto/manual, MDMatchNames, wildcards), adding the names of matching hosts in
 * auto mode, and the conflicts that make a configuration invalid.
 * Never: looks at httpd structures; the glue hands in plain name lists. Linear in the
 * number of names (hash lookups), so 10,000 MDs cost no more than 10,000 lookups.
 */
#ifndef MD_MATCH_H
#define MD_MATCH_H

#include <apr_hash.h>
#include "md.h"

typedef struct md_vhost_t {
    const char *id;                   /* for messages, e.g. "example.org:443 (httpd.conf:12)" */
    apr_array_header_t *names;        /* ServerName first, then ServerAlias values */
    int acme_tls_1;                   /* "Protocols ... acme-tls/1" on this host */
    int is_https;                     /* listens on the https port */
    md_t *md;                         /* result: the MD this host belongs to, or NULL */
    void *baton;                      /* the caller's server_rec */
} md_vhost_t;

/* Check the MDs among themselves: valid names, no name in two MDs, and fill name2md.
 * Returns NULL or the error. Wildcard names are valid DNS names here. */
const char *md_match_check_mds(apr_array_header_t *mds, apr_hash_t **pname2md, apr_pool_t *p);

/* The MD that contains name, directly or through a wildcard entry, or NULL. */
md_t *md_match_lookup(apr_hash_t *name2md, const char *name, apr_pool_t *p);

/* Assign vhosts to MDs. Warnings (non fatal) are appended to warnings as strings.
 * Returns NULL or the error that makes the configuration invalid. */
const char *md_match_vhosts(apr_array_header_t *mds, apr_hash_t *name2md,
                            apr_array_header_t *vhosts, int servernames_only,
                            apr_array_header_t *warnings, apr_pool_t *p);

#endif
