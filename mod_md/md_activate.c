/* md_activate.c: see md_activate.h. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_uri.h>

#include "md_crypt.h"
#include "md_util.h"
#include "md_acme.h"
#include "md_job.h"
#include "md_activate.h"

/* Remove group/name. The parent (root) does this also in staging/, which the child's user
 * can change under our feet: nothing below the store root is followed out of it. */
static apr_status_t remove_dir(md_store_t *store, md_store_group_t group, const char *name,
                               apr_pool_t *p)
{
    return md_util_remove_tree(store->base, apr_pstrcat(p, md_store_group_name(group), "/",
                                                        name, NULL), p);
}

static int path_exists(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
}

/* Does a challenge directory name belong to one of the MDs? (a wildcard's answers are
 * kept under its base name) */
static int challenge_owned(const apr_array_header_t *mds, const char *name, apr_pool_t *p)
{
    const char *wild = apr_pstrcat(p, "*.", name, NULL);
    int i;
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mds, i, const md_t *);
        if (md_covers(md, name) || md_contains(md, wild)) return 1;
    }
    return 0;
}

int md_activate_purge_challenges(md_store_t *store, const apr_array_header_t *mds, apr_pool_t *p)
{
    const char *base = md_store_path(store, MD_SG_CHALLENGES, NULL, NULL, p);
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    if (apr_dir_open(&d, base, p) != APR_SUCCESS) return 0;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) continue;
        if (challenge_owned(mds, fi.name, p)) continue;
        if (fi.filetype == APR_DIR) remove_dir(store, MD_SG_CHALLENGES, fi.name, p);
        else apr_file_remove(apr_pstrcat(p, base, "/", fi.name, NULL), p);
        ++n;
    }
    apr_dir_close(d);
    return n;
}

apr_array_header_t *md_activate_unassigned(md_store_t *store, const apr_array_header_t *mds,
                                           apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    apr_hash_t *configured = apr_hash_make(p);
    apr_dir_t *d;
    apr_finfo_t fi;
    int i;

    for (i = 0; i < mds->nelts; ++i)
        apr_hash_set(configured, APR_ARRAY_IDX(mds, i, const md_t *)->name, APR_HASH_KEY_STRING, "");
    if (apr_dir_open(&d, md_store_path(store, MD_SG_DOMAINS, NULL, NULL, p), p) != APR_SUCCESS)
        return names;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        if (fi.filetype != APR_DIR || fi.name[0] == '.' || !md_store_name_is_safe(fi.name)
            || apr_hash_get(configured, fi.name, APR_HASH_KEY_STRING))
            continue;
        APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, fi.name);
    }
    apr_dir_close(d);
    return names;
}

const char *md_activate_takeover(md_store_t *store, apr_array_header_t *unassigned, const md_t *md,
                                 apr_pool_t *p)
{
    const char *taken = NULL, *err;
    md_t *stored;
    int i, j;

    /* a directory with only fallback files (made by the first configuration pass) does not
     * count: it gives way */
    if (!unassigned->nelts
        || path_exists(md_store_path(store, MD_SG_DOMAINS, md->name, MD_FN_MD, p), p))
        return NULL;
    for (i = 0; i < unassigned->nelts && !taken; ++i) {
        const char *name = APR_ARRAY_IDX(unassigned, i, const char *);
        if (!name || md_store_load_md(store, MD_SG_DOMAINS, name, &stored, p, &err) != APR_SUCCESS)
            continue;
        for (j = 0; j < stored->domains->nelts && !taken; ++j) {
            if (md_contains(md, APR_ARRAY_IDX(stored->domains, j, const char *))) {
                taken = name;
                APR_ARRAY_IDX(unassigned, i, const char *) = NULL;     /* taken once only */
            }
        }
    }
    if (!taken) return NULL;
    remove_dir(store, MD_SG_DOMAINS, md->name, p);
    if (apr_file_rename(md_store_path(store, MD_SG_DOMAINS, taken, NULL, p),
                        md_store_path(store, MD_SG_DOMAINS, md->name, NULL, p), p) != APR_SUCCESS)
        return NULL;
    return taken;
}

int md_activate_rename_legacy(md_store_t *store, const md_t *md, apr_pool_t *p)
{
    static const md_store_group_t groups[] = { MD_SG_DOMAINS, MD_SG_STAGING };
    static const char *const bases[] = { "privkey", "pubcert" };
    int i, g, b, n = 0;

    for (i = 0; i < md_pkey_spec_count(md); ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        md_pkey_spec_t legacy;
        if (spec->type != MD_PKEY_EC) continue;
        legacy = *spec;
        legacy.curve = md_pkey_curve_canonical(p, spec->curve);
        if (!legacy.curve || !strcmp(md_pkey_spec_suffix(p, &legacy), md_pkey_spec_suffix(p, spec)))
            continue;
        for (g = 0; g < 2; ++g) {
            for (b = 0; b < 2; ++b) {
                const char *now = md_store_path(store, groups[g], md->name,
                                                md_store_fname(p, bases[b], spec), p);
                const char *old = md_store_path(store, groups[g], md->name,
                                                md_store_fname(p, bases[b], &legacy), p);
                if (!path_exists(now, p) && path_exists(old, p)
                    && apr_file_rename(old, now, p) == APR_SUCCESS)
                    ++n;
            }
        }
    }
    return n;
}

/* accounts/ACME-<host>-NNNN for the staged account: an existing one with the same URL,
 * or a new directory. */
static apr_status_t install_account(const char **pid, md_store_t *store, const md_acme_acct_t *acct,
                                    apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_uri_t uri;
    const char *host;
    md_acme_acct_t *a;
    md_acme_acct_t copy;
    int i;

    if (apr_dir_open(&d, md_store_path(store, MD_SG_ACCOUNTS, NULL, NULL, p), p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
            if (fi.filetype != APR_DIR || fi.name[0] == '.') continue;
            if (md_acme_acct_load(&a, store, MD_SG_ACCOUNTS, fi.name, p) == APR_SUCCESS
                && !strcmp(a->url, acct->url)) {
                *pid = apr_pstrdup(p, fi.name);
                apr_dir_close(d);
                return APR_SUCCESS;
            }
        }
        apr_dir_close(d);
    }
    host = apr_uri_parse(p, acct->ca_url, &uri) == APR_SUCCESS && uri.hostname ? uri.hostname : "unknown";
    for (i = 0; i < 10000; ++i) {
        const char *id = apr_psprintf(p, "ACME-%s-%04d", host, i);
        if (!md_store_name_is_safe(id)) return APR_EINVAL;
        if (path_exists(md_store_path(store, MD_SG_ACCOUNTS, id, NULL, p), p)) continue;
        copy = *acct;
        copy.id = id;
        *pid = id;
        return md_acme_acct_save(&copy, store, MD_SG_ACCOUNTS, id, p);
    }
    return APR_EEXIST;
}

static apr_status_t copy_file(const char *from, const char *to, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = md_util_file_read(&data, &len, from, MD_JSON_MAX, p);
    if (rv == APR_SUCCESS) rv = md_util_file_write_atomic(to, data, len, 0x0600, p);
    return rv;
}

/* Is the staged set (its leaf per key spec in chains) what domains/ holds already? Then
 * another server sharing the store activated it; activating again would archive the active
 * set and put the same one in its place. */
static int staged_is_active(md_store_t *store, const md_t *md, apr_array_header_t *const *chains,
                            apr_pool_t *p)
{
    apr_array_header_t *active;
    int i, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        const char *path = md_store_path(store, MD_SG_DOMAINS, md->name,
                                         md_store_fname(p, "pubcert", md_pkey_spec_get(md, i)), p);
        if (md_chain_load(&active, path, p) != APR_SUCCESS || !active->nelts
            || X509_cmp(APR_ARRAY_IDX(active, 0, X509 *), APR_ARRAY_IDX(chains[i], 0, X509 *)))
            return 0;
    }
    return 1;
}

apr_status_t md_activate_staged(md_store_t *store, md_t *md, apr_interval_time_t activation_delay,
                               apr_pool_t *p, const char **pmsg)
{
    md_job_t *job = md_job_load(store, md->name, p);
    int i, n = md_pkey_spec_count(md);
    EVP_PKEY **keys = apr_pcalloc(p, sizeof(*keys) * (apr_size_t)n);
    apr_array_header_t **chains = apr_pcalloc(p, sizeof(*chains) * (apr_size_t)n);
    apr_time_t latest_nb = 0;
    const char *dom = md_store_path(store, MD_SG_DOMAINS, md->name, NULL, p);
    const char *newname = apr_pstrcat(p, md->name, ".activating", NULL);
    const char *newdir = md_store_path(store, MD_SG_DOMAINS, newname, NULL, p);
    const char *archived = NULL;
    md_acme_acct_t *acct;
    md_t *copy, *staged;
    const char *err = NULL;
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    json_t *j;

    *pmsg = NULL;
    if (!job->finished) return APR_SUCCESS;
    /* the staged md.json first: a set whose description cannot be read is not activated
     * half-read but discarded, and the MD renewed again */
    if ((rv = md_store_load_md(store, MD_SG_STAGING, md->name, &staged, p, &err)) != APR_SUCCESS) {
        *pmsg = apr_psprintf(p, "the staged md.json cannot be read (%s); the staged set is "
                             "discarded and a new one obtained", err ? err : "missing");
        goto discard;
    }
    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        X509 *leaf;
        rv = md_chain_load(&chains[i], md_store_path(store, MD_SG_STAGING, md->name,
                                                     md_store_fname(p, "pubcert", spec), p), p);
        if (rv == APR_SUCCESS)
            rv = md_store_load_pkey(store, MD_SG_STAGING, md->name, md_store_fname(p, "privkey", spec),
                                    &keys[i], p);
        if (rv != APR_SUCCESS) {
            *pmsg = apr_psprintf(p, "the staged set lacks the %s certificate or key (MDPrivateKeys "
                                 "changed?); it is discarded and a new one obtained",
                                 md_pkey_spec_name(p, spec));
            goto discard;
        }
        leaf = APR_ARRAY_IDX(chains[i], 0, X509 *);
        if (!md_cert_covers_domains(leaf, md->domains) || !md_cert_matches_key(leaf, keys[i])
            || md_cert_not_after(leaf) <= apr_time_now()) {
            *pmsg = apr_psprintf(p, "the staged %s certificate does not fit (names changed, key "
                                 "mismatch or expired); it is discarded and a new one obtained",
                                 md_pkey_spec_name(p, spec));
            goto discard;
        }
        if (md_cert_not_before(leaf) > latest_nb) latest_nb = md_cert_not_before(leaf);
    }
    if (staged_is_active(store, md, chains, p)) {
        remove_dir(store, MD_SG_STAGING, md->name, p);
        *pmsg = "the staged certificate is already active (another server sharing the store "
                "activated it)";
        return APR_SUCCESS;
    }
    if (activation_delay > 0 && latest_nb + activation_delay > apr_time_now()) {
        *pmsg = apr_psprintf(p, "a new certificate is staged; MDActivationDelay keeps it until %s",
                             md_util_time_format(p, latest_nb + activation_delay));
        return APR_SUCCESS;
    }

    /* build the complete new domains/<md> beside the old one */
    remove_dir(store, MD_SG_DOMAINS, newname, p);
    if ((rv = md_util_mkdirs(newdir, 0x0700, p)) != APR_SUCCESS) goto failed;
    if (apr_dir_open(&d, dom, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
            if (fi.filetype != APR_REG) continue;
            if (!strncmp(fi.name, "privkey", 7) || !strncmp(fi.name, "pubcert", 7)) continue;
            /* the fallback was only needed while there was no certificate */
            if (!strncmp(fi.name, "fallback-", 9)) continue;
            if ((rv = copy_file(apr_pstrcat(p, dom, "/", fi.name, NULL),
                                apr_pstrcat(p, newdir, "/", fi.name, NULL), p)) != APR_SUCCESS) {
                apr_dir_close(d);
                goto failed;
            }
        }
        apr_dir_close(d);
    }
    copy = md_clone(p, md);
    if (md_acme_acct_load(&acct, store, MD_SG_STAGING, md->name, p) == APR_SUCCESS) {
        const char *id;
        if ((rv = install_account(&id, store, acct, p)) != APR_SUCCESS) goto failed;
        copy->ca_account = id;
        md->ca_account = apr_pstrdup(store->p, id);
    }
    else if (staged->ca_account && md_store_name_is_safe(staged->ca_account)
             && path_exists(md_store_path(store, MD_SG_ACCOUNTS, staged->ca_account, NULL, p), p)) {
        copy->ca_account = staged->ca_account;
        md->ca_account = apr_pstrdup(store->p, staged->ca_account);
    }
    for (i = 0; i < n && rv == APR_SUCCESS; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        rv = md_store_save_pkey(store, MD_SG_DOMAINS, newname, md_store_fname(p, "privkey", spec), keys[i], p);
        if (rv == APR_SUCCESS)
            rv = md_store_save_data(store, MD_SG_DOMAINS, newname, md_store_fname(p, "pubcert", spec),
                                    md_chain_to_pem(chains[i], p), p);
    }
    if (rv != APR_SUCCESS) goto failed;
    j = md_to_json(copy, p);
    rv = md_store_save_json(store, MD_SG_DOMAINS, newname, MD_FN_MD, j, p);
    json_decref(j);
    if (rv != APR_SUCCESS) goto failed;
    job->finished = 0;
    md_job_log_append(job, "installed", APR_SUCCESS, "the staged certificate is now active");
    j = md_job_to_json(job, p);
    rv = md_store_save_json(store, MD_SG_DOMAINS, newname, MD_FN_JOB, j, p);
    json_decref(j);
    if (rv != APR_SUCCESS) goto failed;

    /* swap: old set to archive/<md>.N, new set in place; undo on failure */
    if (path_exists(dom, p)) {
        md_util_mkdirs(md_store_path(store, MD_SG_ARCHIVE, NULL, NULL, p), 0x0700, p);
        for (i = 1; i < 100000; ++i) {
            archived = md_store_path(store, MD_SG_ARCHIVE, apr_psprintf(p, "%s.%d", md->name, i), NULL, p);
            if (!path_exists(archived, p)) break;
        }
        if ((rv = apr_file_rename(dom, archived, p)) != APR_SUCCESS) goto failed;
    }
    if ((rv = apr_file_rename(newdir, dom, p)) != APR_SUCCESS) {
        if (archived) apr_file_rename(archived, dom, p);
        goto failed;
    }
    remove_dir(store, MD_SG_STAGING, md->name, p);
    *pmsg = apr_psprintf(p, "the staged certificate is activated%s%s", archived ? "; the previous "
                         "set is kept in " : "", archived ? archived : "");
    return APR_SUCCESS;

failed:
    remove_dir(store, MD_SG_DOMAINS, newname, p);
    *pmsg = apr_psprintf(p, "activating the staged certificate failed (%s); the previous "
                         "certificate stays in use", apr_strerror(rv, apr_palloc(p, 128), 128));
    return rv;

discard:
    remove_dir(store, MD_SG_STAGING, md->name, p);
    return APR_EINVAL;
}
