/* md_match.c: see md_match.h. */
#include <string.h>
#include <apr_strings.h>

#include "md_match.h"

const char *md_match_check_mds(apr_array_header_t *mds, apr_hash_t **pname2md, apr_pool_t *p)
{
    apr_hash_t *name2md = apr_hash_make(p);
    int i, j;

    for (i = 0; i < mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mds, i, md_t *);
        for (j = 0; j < md->domains->nelts; ++j) {
            const char *name = APR_ARRAY_IDX(md->domains, j, const char *);
            /* names are not judged here: the CA decides what it certifies */
            md_t *other = apr_hash_get(name2md, name, APR_HASH_KEY_STRING);
            if (other && other != md)
                return apr_psprintf(p, "two Managed Domains have an overlap in domain '%s', first "
                                    "definition in %s(line %u), second in %s(line %u): MDomain %s "
                                    "and MDomain %s; a name can belong to one managed domain only",
                                    name, other->defn_name ? other->defn_name : "unknown",
                                    other->defn_line, md->defn_name ? md->defn_name : "unknown",
                                    md->defn_line, other->name, md->name);
            apr_hash_set(name2md, name, APR_HASH_KEY_STRING, md);
        }
    }
    *pname2md = name2md;
    return NULL;
}

md_t *md_match_lookup(apr_hash_t *name2md, const char *name, apr_pool_t *p)
{
    const char *lc = md_util_str_tolower(p, name), *dot;
    md_t *md = apr_hash_get(name2md, lc, APR_HASH_KEY_STRING);
    if (!md && (dot = strchr(lc, '.')) != NULL && !md_util_is_wildcard(lc))
        md = apr_hash_get(name2md, apr_pstrcat(p, "*", dot, NULL), APR_HASH_KEY_STRING);
    return md;
}

const char *md_match_vhosts(apr_array_header_t *mds, apr_hash_t *name2md,
                            apr_array_header_t *vhosts, int servernames_only,
                            apr_array_header_t *warnings, apr_pool_t *p)
{
    int i, j;

    (void)mds;
    for (i = 0; i < vhosts->nelts; ++i) {
        md_vhost_t *vh = APR_ARRAY_IDX(vhosts, i, md_vhost_t *);
        int n = servernames_only ? (vh->names->nelts ? 1 : 0) : vh->names->nelts;
        const char *first_name = NULL;

        vh->md = NULL;
        for (j = 0; j < n; ++j) {
            const char *name = APR_ARRAY_IDX(vh->names, j, const char *);
            md_t *md = md_match_lookup(name2md, name, p);
            if (!md) continue;
            if (vh->md && vh->md != md) {
                /* the first name that matches wins, as with the reference */
                if (warnings)
                    APR_ARRAY_PUSH(warnings, const char *) =
                        apr_psprintf(p, "virtual host %s has the name '%s' of MDomain %s and the "
                                     "name '%s' of MDomain %s: it belongs to MDomain %s, whose "
                                     "certificate does not cover '%s'", vh->id, first_name,
                                     vh->md->name, name, md->name, vh->md->name, name);
                continue;
            }
            vh->md = md;
            if (!first_name) first_name = name;
        }
        if (!vh->md) continue;
        vh->md->watched = 1;
        for (j = 0; j < vh->names->nelts; ++j) {
            const char *name = APR_ARRAY_IDX(vh->names, j, const char *);
            md_t *owner = md_match_lookup(name2md, name, p);
            if (owner == vh->md) continue;
            if (owner) {
                if (warnings && (servernames_only || j >= n))
                    APR_ARRAY_PUSH(warnings, const char *) =
                        apr_psprintf(p, "virtual host %s belongs to MDomain %s but its name '%s' "
                                     "is part of MDomain %s: the certificate of %s does not "
                                     "cover it", vh->id, vh->md->name, name, owner->name,
                                     vh->md->name);
                continue;
            }
            if (vh->md->transitive > 0) {
                if (md_util_is_dns_name(name, 1) || md_util_is_ip(name)) {
                    md_util_array_add_unique(vh->md->domains, name);
                    apr_hash_set(name2md, md_util_str_tolower(p, name), APR_HASH_KEY_STRING, vh->md);
                }
            }
            else if (warnings) {
                APR_ARRAY_PUSH(warnings, const char *) =
                    apr_psprintf(p, "virtual host %s belongs to MDomain %s (MDMembers manual) but "
                                 "its name '%s' is not in it: the certificate will not cover it",
                                 vh->id, vh->md->name, name);
            }
        }
        if (vh->acme_tls_1) {
            if (!vh->md->acme_tls_1_domains)
                vh->md->acme_tls_1_domains = apr_array_make(p, 3, sizeof(const char *));
            for (j = 0; j < vh->names->nelts; ++j) {
                const char *name = APR_ARRAY_IDX(vh->names, j, const char *);
                if (md_contains(vh->md, name)) md_util_array_add_unique(vh->md->acme_tls_1_domains, name);
            }
        }
    }
    return NULL;
}
