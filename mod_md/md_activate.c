/* md_activate.c: see md_activate.h. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "md_crypt.h"
#include "md_util.h"
#include "md_acme.h"
#include "md_job.h"
#include "md_activate.h"

/* Does a challenge directory name belong to one of the MDs (md_t*)? (a wildcard's answers
 * are kept under its base name) */
static int challenge_owned(void *baton, const char *name, apr_pool_t *p)
{
    const apr_array_header_t *mds = baton;
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
    return md_store_purge_group(store, MD_SG_CHALLENGES, challenge_owned, (void *)mds, p);
}

typedef struct {
    apr_array_header_t *names;
    apr_hash_t *configured;
} unassigned_t;

static int add_unassigned(void *baton, const char *name, apr_pool_t *p)
{
    unassigned_t *u = baton;
    (void)p;
    if (!apr_hash_get(u->configured, name, APR_HASH_KEY_STRING))
        APR_ARRAY_PUSH(u->names, const char *) = name;
    return 1;
}

apr_array_header_t *md_activate_unassigned(md_store_t *store, const apr_array_header_t *mds,
                                           apr_pool_t *p)
{
    unassigned_t u;
    int i;

    u.names = apr_array_make(p, 2, sizeof(const char *));
    u.configured = apr_hash_make(p);
    for (i = 0; i < mds->nelts; ++i)
        apr_hash_set(u.configured, APR_ARRAY_IDX(mds, i, const md_t *)->name, APR_HASH_KEY_STRING, "");
    md_store_iter_names(add_unassigned, &u, store, MD_SG_DOMAINS, p);
    return u.names;
}

const char *md_activate_takeover(md_store_t *store, apr_array_header_t *unassigned, const md_t *md,
                                 apr_pool_t *p)
{
    const char *taken = NULL, *err;
    md_t *stored;
    int i, j;

    /* a directory with only fallback files (made by the first configuration pass) does not
     * count: it gives way */
    if (!unassigned->nelts || md_store_exists(store, MD_SG_DOMAINS, md->name, MD_FN_MD, p))
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
    if (!taken || md_store_move(store, MD_SG_DOMAINS, taken, MD_SG_DOMAINS, md->name, 0, NULL, p)
                  != APR_SUCCESS)
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
                const char *now = md_store_fname(p, bases[b], spec);
                const char *old = md_store_fname(p, bases[b], &legacy);
                if (!md_store_exists(store, groups[g], md->name, now, p)
                    && md_store_exists(store, groups[g], md->name, old, p)
                    && md_store_rename(store, groups[g], md->name, old, now, p) == APR_SUCCESS)
                    ++n;
            }
        }
    }
    return n;
}

typedef struct {
    md_store_t *store;
    const char *url;
    const char *id;              /* found: accounts/<id> has the url */
} acct_find_t;

static int find_account(void *baton, const char *name, apr_pool_t *p)
{
    acct_find_t *f = baton;
    md_acme_acct_t *a;
    if (md_acme_acct_load(&a, f->store, MD_SG_ACCOUNTS, name, p) == APR_SUCCESS
        && !strcmp(a->url, f->url))
        f->id = name;
    return !f->id;
}

/* accounts/ACME-<host>-NNNN for the staged account: an existing one with the same URL,
 * or a new directory. */
static apr_status_t install_account(const char **pid, md_store_t *store, const md_acme_acct_t *acct,
                                    apr_pool_t *p)
{
    acct_find_t f = { store, acct->url, NULL };
    md_acme_acct_t copy;
    apr_status_t rv;

    md_store_iter_names(find_account, &f, store, MD_SG_ACCOUNTS, p);
    if (f.id) {
        *pid = f.id;
        return APR_SUCCESS;
    }
    if ((rv = md_store_account_id_alloc(pid, store, acct->ca_url, p)) != APR_SUCCESS) return rv;
    copy = *acct;
    copy.id = *pid;
    if ((rv = md_acme_acct_save(&copy, store, MD_SG_ACCOUNTS, *pid, p)) != APR_SUCCESS)
        md_store_purge(store, MD_SG_ACCOUNTS, *pid, p);
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
    const char *newname = apr_pstrcat(p, md->name, ".activating", NULL);
    const char *archived = NULL;
    apr_array_header_t *files;
    md_acme_acct_t *acct;
    md_t *copy, *staged;
    const char *err = NULL;
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
        md_store_purge(store, MD_SG_STAGING, md->name, p);
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
    md_store_purge(store, MD_SG_DOMAINS, newname, p);
    md_store_list_files(&files, store, MD_SG_DOMAINS, md->name, p);    /* none: a first set */
    for (i = 0; i < files->nelts; ++i) {
        const char *fname = APR_ARRAY_IDX(files, i, const char *);
        if (!strncmp(fname, "privkey", 7) || !strncmp(fname, "pubcert", 7)) continue;
        /* the fallback was only needed while there was no certificate */
        if (!strncmp(fname, "fallback-", 9)) continue;
        if ((rv = md_store_copy(store, MD_SG_DOMAINS, md->name, MD_SG_DOMAINS, newname, fname, p))
            != APR_SUCCESS)
            goto failed;
    }
    copy = md_clone(p, md);
    if (md_acme_acct_load(&acct, store, MD_SG_STAGING, md->name, p) == APR_SUCCESS) {
        const char *id;
        if ((rv = install_account(&id, store, acct, p)) != APR_SUCCESS) goto failed;
        copy->ca_account = id;
        md->ca_account = apr_pstrdup(store->p, id);
    }
    else if (staged->ca_account && md_store_name_is_safe(staged->ca_account)
             && md_store_exists(store, MD_SG_ACCOUNTS, staged->ca_account, NULL, p)) {
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

    /* swap: old set to archive/<md>.N, new set in place; undone on failure */
    if ((rv = md_store_move(store, MD_SG_DOMAINS, newname, MD_SG_DOMAINS, md->name, 1, &archived, p))
        != APR_SUCCESS)
        goto failed;
    md_store_purge(store, MD_SG_STAGING, md->name, p);
    *pmsg = apr_psprintf(p, "the staged certificate is activated%s%s", archived ? "; the previous "
                         "set is kept in " : "", archived ? archived : "");
    return APR_SUCCESS;

failed:
    md_store_purge(store, MD_SG_DOMAINS, newname, p);
    *pmsg = apr_psprintf(p, "activating the staged certificate failed (%s); the previous "
                         "certificate stays in use", apr_strerror(rv, apr_palloc(p, 128), 128));
    return rv;

discard:
    md_store_purge(store, MD_SG_STAGING, md->name, p);
    return APR_EINVAL;
}
