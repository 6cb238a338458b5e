/* md_sync.c: see md_sync.h. */
#include <string.h>

#include <apr_strings.h>

#include "md_status.h"
#include "md_sync.h"
#include "md_util.h"

/* Is there a usable certificate for this key spec in domains/<md>/? A file that exists but
 * cannot be used is reported in *pproblem (shown on the status page). */
static int cert_usable(md_store_t *store, const md_t *md, const md_pkey_spec_t *spec,
                       const char **pcert, const char **pkey, const char **pproblem, apr_pool_t *p)
{
    const char *cf = md_store_path(store, MD_SG_DOMAINS, md->name, md_store_fname(p, "pubcert", spec), p);
    const char *kf = md_store_path(store, MD_SG_DOMAINS, md->name, md_store_fname(p, "privkey", spec), p);
    md_cert_facts_t facts;
    apr_status_t rv;

    rv = md_store_cert_facts(store, cf, md->domains, &facts, p);
    if (APR_STATUS_IS_ENOENT(rv)) return 0;
    if (rv != APR_SUCCESS) {
        *pproblem = apr_psprintf(p, "%s holds no readable certificate", cf);
        return 0;
    }
    if (!md_util_file_exists(kf, p)) {
        *pproblem = apr_psprintf(p, "%s is missing", kf);
        return 0;
    }
    if (!facts.covers) return 0;                                /* names changed: renew */
    if (facts.not_after < apr_time_now()) return 0;             /* expired: renew */
    *pcert = cf;
    *pkey = kf;
    return 1;
}

/* Replace the files of the key types without a usable certificate by fallbacks. */
static apr_status_t use_fallbacks(md_sync_result_t *result, md_t *md, md_store_t *store,
                                  const int *usable, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_array_header_t *real_cf = apr_array_copy(ptemp, md->rt_cert_files);
    apr_array_header_t *real_kf = apr_array_copy(ptemp, md->rt_key_files);
    const char *cf, *kf, *err = NULL;
    int i, k, n = md_pkey_spec_count(md);
    apr_status_t rv;

    apr_array_clear(md->rt_cert_files);
    apr_array_clear(md->rt_key_files);
    for (i = 0, k = 0; i < n; ++i) {
        if (usable[i] && k < real_cf->nelts) {
            APR_ARRAY_PUSH(md->rt_cert_files, const char *) = APR_ARRAY_IDX(real_cf, k, const char *);
            APR_ARRAY_PUSH(md->rt_key_files, const char *) = APR_ARRAY_IDX(real_kf, k, const char *);
            ++k;
            continue;
        }
        rv = md_store_ensure_fallback(store, md, md_pkey_spec_get(md, i), &cf, &kf, pconf, &err);
        if (rv != APR_SUCCESS) {
            result->fallback_error = err;
            return rv;
        }
        APR_ARRAY_PUSH(md->rt_cert_files, const char *) = cf;
        APR_ARRAY_PUSH(md->rt_key_files, const char *) = kf;
    }
    md->rt_fallback = 1;
    return APR_SUCCESS;
}

static apr_status_t sync_md(md_sync_result_t *result, md_t *md, md_store_t *store, int dry_run,
                            apr_pool_t *pconf, apr_pool_t *ptemp)
{
    md_t *stored = NULL;
    const char *err = NULL, *cf, *kf;
    const char *missing = NULL;
    int i, n = md_pkey_spec_count(md);
    int *usable = apr_pcalloc(ptemp, sizeof(*usable) * (apr_size_t)n);
    apr_status_t rv;

    rv = dry_run ? APR_ENOENT : md_store_load_md(store, MD_SG_DOMAINS, md->name, &stored, ptemp, &err);
    if (rv == APR_SUCCESS) {
        md->ca_account = stored->ca_account ? apr_pstrdup(pconf, stored->ca_account) : NULL;
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        result->stored_status = rv;
        result->stored_error = err;
        md->rt_error = apr_psprintf(pconf, "stored md.json was unusable and has been rewritten: %s", err);
        stored = NULL;
    }

    md->rt_cert_files = apr_array_make(pconf, n, sizeof(const char *));
    md->rt_key_files = apr_array_make(pconf, n, sizeof(const char *));
    if (md->cert_files && md->cert_files->nelts) {
        apr_array_cat(md->rt_cert_files, md->cert_files);
        apr_array_cat(md->rt_key_files, md->pkey_files);
    }
    else {
        for (i = 0; i < n; ++i) {
            const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
            const char *problem = NULL;
            if (!cert_usable(store, md, spec, &cf, &kf, &problem, ptemp)) {
                if (problem) {
                    md->rt_error = apr_pstrdup(pconf, problem);
                    APR_ARRAY_PUSH(result->problems, const char *) = problem;
                }
                if (!missing) missing = md_pkey_spec_name(ptemp, spec);
                continue;
            }
            APR_ARRAY_PUSH(md->rt_cert_files, const char *) = apr_pstrdup(pconf, cf);
            APR_ARRAY_PUSH(md->rt_key_files, const char *) = apr_pstrdup(pconf, kf);
            usable[i] = 1;
        }
    }
    if (missing) {
        md->state = MD_S_INCOMPLETE;
        md->state_descr = apr_psprintf(pconf, "certificate(%s) is missing", missing);
    }
    else {
        md->state = MD_S_COMPLETE;
        md->state_descr = NULL;
    }

    if (!dry_run && (!stored || !md_equal_json(md, stored, ptemp))) {
        rv = md_store_save_md(store, MD_SG_DOMAINS, md, ptemp);
        if (rv != APR_SUCCESS) {
            result->unwritable = md_store_path(store, MD_SG_DOMAINS, md->name, MD_FN_MD, ptemp);
            return rv;
        }
        result->md_written = 1;
    }

    /* status pages show these facts without touching the disk per request */
    md->rt_certs = apr_pcalloc(pconf, sizeof(*md->rt_certs) * (apr_size_t)n);
    if (md->state == MD_S_COMPLETE && !dry_run)
        md_status_load_certs(md->rt_certs, md, store, MD_SG_DOMAINS, pconf);

    md->rt_fallback = 0;
    /* mod_ssl gets fallbacks for the missing key types only: a key type added to an MD keeps
     * its other, valid certificates in service meanwhile (as with the reference) */
    if (md->state != MD_S_COMPLETE) return use_fallbacks(result, md, store, usable, pconf, ptemp);
    return APR_SUCCESS;
}

apr_status_t md_sync_md(md_sync_result_t *result, md_t *md, md_store_t *store, int dry_run,
                        apr_pool_t *pconf, apr_pool_t *ptemp)
{
    memset(result, 0, sizeof(*result));
    result->problems = apr_array_make(ptemp, 2, sizeof(const char *));
    result->status = sync_md(result, md, store, dry_run, pconf, ptemp);
    return result->status;
}
