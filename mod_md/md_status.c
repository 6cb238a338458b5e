/* md_status.c: see md_status.h. */
#include <apr_strings.h>

#include "md_crypt.h"
#include "md_status.h"

static md_status_cert_cb *cert_cb;
static void *cert_cb_baton;

void md_status_set_cert_cb(md_status_cert_cb *cb, void *baton)
{
    cert_cb = cb;
    cert_cb_baton = baton;
}

int md_status_load_certs(md_cert_info_t **infos, const md_t *md, md_store_t *store,
                         md_store_group_t group, apr_pool_t *p)
{
    int i, found = 0, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        const char *path = md_store_path(store, group, md->name, md_store_fname(p, "pubcert", spec), p);
        /* an MD with static certificate files shows those (in its domains) */
        if (group == MD_SG_DOMAINS && md->cert_files && i < md->cert_files->nelts)
            path = APR_ARRAY_IDX(md->cert_files, i, const char *);
        apr_array_header_t *chain;
        md_cert_info_t *ci;
        X509 *x;

        infos[i] = NULL;
        if (md_chain_load(&chain, path, p) != APR_SUCCESS) continue;
        x = APR_ARRAY_IDX(chain, 0, X509 *);
        ci = apr_pcalloc(p, sizeof(*ci));
        ci->spec_name = md_pkey_spec_name(p, spec);
        ci->valid_from = md_cert_not_before(x);
        ci->valid_until = md_cert_not_after(x);
        ci->serial = md_cert_serial_hex(x, p);
        ci->sha256 = md_cert_sha256_hex(x, p);
        ci->issuer = md_cert_issuer_name(x, p);
        infos[i] = ci;
        ++found;
    }
    return found;
}

apr_time_t md_status_renew_at(const md_t *md, md_cert_info_t *const *infos)
{
    apr_time_t at = 0;
    int i, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        apr_time_t t;
        if (!infos[i]) return 0;
        t = infos[i]->valid_until;
        if (md->renew_window)
            t -= md_timeslice_span(md->renew_window, infos[i]->valid_from, infos[i]->valid_until);
        if (!at || t < at) at = t;
    }
    return at;
}

static json_t *valid_json(apr_time_t from, apr_time_t until, apr_pool_t *p)
{
    return json_pack("{s:s,s:s}", "from", md_util_time_format(p, from),
                     "until", md_util_time_format(p, until));
}

static json_t *certs_json(const md_t *md, md_cert_info_t *const *infos, apr_pool_t *p)
{
    json_t *j = json_object();
    apr_time_t from = 0, until = 0;
    int i, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        const md_cert_info_t *ci = infos[i];
        json_t *cj;
        if (!ci) continue;
        cj = json_pack("{s:s,s:o,s:s,s:s}", "issuer-name", ci->issuer,
                       "valid", valid_json(ci->valid_from, ci->valid_until, p),
                       "serial", ci->serial, "sha256-fingerprint", ci->sha256);
        if (cert_cb) cert_cb(cj, ci->sha256, cert_cb_baton, p);
        json_object_set_new(j, ci->spec_name, cj);
        if (!from || ci->valid_from > from) from = ci->valid_from;
        if (!until || ci->valid_until < until) until = ci->valid_until;
    }
    if (until) json_object_set_new(j, "valid", valid_json(from, until, p));
    return j;
}

json_t *md_status_md_json(const md_t *md, md_store_t *store, int with_log, apr_pool_t *p)
{
    int n = md_pkey_spec_count(md);
    md_cert_info_t **infos = apr_pcalloc(p, sizeof(*infos) * (apr_size_t)n);
    json_t *j = md_to_json(md, p), *job, *eab;
    const char *err = NULL;
    int found;
    apr_time_t renew_at;
    apr_status_t rv;

    if ((eab = json_object_get(j, "eab")) != NULL)
        json_object_set_new(eab, "hmac", json_string("***"));
    found = md_status_load_certs(infos, md, store, MD_SG_DOMAINS, p);
    json_object_set_new(j, "cert", certs_json(md, infos, p));
    renew_at = found == n ? md_status_renew_at(md, infos) : apr_time_now();
    json_object_set_new(j, "renew-at", json_string(md_util_time_format(p, renew_at)));
    json_object_set_new(j, "watched", json_boolean(md->watched));
    if (md->watched && renew_at <= apr_time_now() && md->renew_mode != MD_RENEW_MANUAL
        && !(md->cert_files && md->cert_files->nelts && md->renew_mode != MD_RENEW_ALWAYS))
        json_object_set_new(j, "renew", json_true());
    rv = md_store_load_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, &job, p, &err);
    if (rv == APR_SUCCESS) {
        json_t *renewal = json_deep_copy(job);
        md_cert_info_t **staged = apr_pcalloc(p, sizeof(*staged) * (apr_size_t)n);
        if (!with_log) json_object_del(renewal, "log");
        md_status_load_certs(staged, md, store, MD_SG_STAGING, p);
        json_object_set_new(renewal, "cert", certs_json(md, staged, p));
        json_object_set_new(j, "renewal", renewal);
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        json_object_set_new(j, "error", json_string(err));
    }
    if (md->rt_error && !json_object_get(j, "error"))
        json_object_set_new(j, "error", json_string(md->rt_error));
    return j;
}

json_t *md_status_all_json(const apr_array_header_t *mds, md_store_t *store, apr_pool_t *p)
{
    json_t *list = json_array();
    int i;

    for (i = 0; i < mds->nelts; ++i) {
        apr_pool_t *ptemp;
        apr_pool_create(&ptemp, p);
        json_array_append_new(list, md_status_md_json(APR_ARRAY_IDX(mds, i, const md_t *), store, 0, ptemp));
        apr_pool_destroy(ptemp);
    }
    return json_pack("{s:s,s:o}", "version", MD_VERSION, "managed-domains", list);
}
